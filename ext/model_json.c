/*
** model_json.c: a model and its statistics as a JSON object
** (ml_model_json).  Free of SQLite.
*/
#include <math.h>
#include <string.h>

#include "dist.h"
#include "formula.h"
#include "glm.h"
#include "lsq.h"
#include "model.h"
#include "strbuf.h"

static void json_key_num(ml_sb *b, const char *key, double v) {
  ml_sb_printf(b, ",\"%s\":", key);
  ml_sb_json_number(b, v);
}

/* What the model is: kind, family, provenance, counts and options. */
static void json_about(ml_sb *b, const ml_model *m) {
  int glm = m->family != ML_FAMILY_GAUSSIAN;
  ml_sb_printf(b, "{\"kind\":\"%s\",\"format_version\":%d",
               glm ? "generalized_linear_model" : "linear_regression", m->format);
  if (glm) {
    ml_sb_printf(b, ",\"family\":\"%s\",\"link\":\"%s\"", ml_family_name(m->family),
                 ml_link_name(m->link));
    if (m->offset) {
      ml_sb_puts(b, ",\"offset\":");
      ml_sb_json_string(b, m->offset, strlen(m->offset));
    }
    if (m->ylevels[0]) {
      ml_sb_puts(b, ",\"target_levels\":[");
      ml_sb_json_string(b, m->ylevels[0], strlen(m->ylevels[0]));
      ml_sb_puts(b, ",");
      ml_sb_json_string(b, m->ylevels[1], strlen(m->ylevels[1]));
      ml_sb_puts(b, "]");
    }
  }
  if (m->version) {
    ml_sb_puts(b, ",\"sqlml_version\":");
    ml_sb_json_string(b, m->version, strlen(m->version));
  }
  if (m->target) {
    ml_sb_puts(b, ",\"target\":");
    ml_sb_json_string(b, m->target, strlen(m->target));
  }
  if (m->formula) { /* the formula as R deparses it, and the scale predictions are on */
    const char *f = ml_formula_text(m->formula), *scale = ml_formula_var_label(m->formula, 0);
    ml_sb_puts(b, ",\"formula\":");
    ml_sb_json_string(b, f, strlen(f));
    ml_sb_puts(b, ",\"response_scale\":");
    ml_sb_json_string(b, scale, strlen(scale));
  }
  ml_sb_printf(b, ",\"n\":%lld,\"n_skipped\":%lld,\"intercept\":%s,\"refined\":%s",
               (long long)m->n, (long long)m->n_skipped,
               (m->flags & ML_MODEL_INTERCEPT) ? "true" : "false",
               (m->flags & ML_MODEL_REFINED) ? "true" : "false");
  ml_sb_printf(b, ",\"weighted\":%s", (m->flags & ML_MODEL_WEIGHTED) ? "true" : "false");
}

/* The fit's options and how it reads values. */
static void json_options(ml_sb *b, const ml_model *m) {
  /* The fitted rows' fingerprint (rowhash.h): a merge's is the sum of its
  ** parts', so it names the union of sharded rows whatever their order. */
  if (m->has_rows_hash)
    ml_sb_printf(b, ",\"rows_fingerprint\":\"%016llx\"", (unsigned long long)m->rows_hash);
  if (m->l2 > 0) json_key_num(b, "l2", m->l2);
  if (m->robust) {
    static const char *names[] = {"", "HC0", "HC1", "HC2", "HC3"};
    ml_sb_printf(b, ",\"robust\":\"%s\",\"robust_computed\":%s", names[m->robust],
                 m->hc ? "true" : "false");
  }
  if (m->flags & ML_MODEL_UNSEEN_ZERO) ml_sb_puts(b, ",\"unseen\":\"zero\"");
  if (m->reads) {
    ml_sb_puts(b, ",\"na_values\":[");
    for (int i = 0; i < m->na.n; i++) {
      if (i) ml_sb_puts(b, ",");
      ml_sb_json_string(b, m->na.text[i], strlen(m->na.text[i]));
    }
    ml_sb_puts(b, "]");
  }
}

static void json_feature(ml_sb *b, const ml_feature *f) {
  ml_sb_puts(b, "{\"name\":");
  ml_sb_json_string(b, f->name, strlen(f->name));
  ml_sb_printf(b, ",\"type\":\"%s\"", f->type == ML_FEAT_NUMERIC ? "numeric" : "categorical");
  if (f->type == ML_FEAT_CATEGORICAL) {
    ml_sb_puts(b, ",\"levels\":[");
    for (int l = 0; l < f->nlevels; l++) {
      if (l) ml_sb_puts(b, ",");
      ml_sb_json_string(b, f->levels[l], strlen(f->levels[l]));
    }
    ml_sb_printf(b, "],\"reference\":");
    if (f->full) ml_sb_puts(b, "null");
    else ml_sb_json_string(b, f->levels[0], strlen(f->levels[0]));
    if (f->has_impute) ml_sb_puts(b, ",\"null_level\":true");
    if (f->num_levels) ml_sb_puts(b, ",\"numeric_levels\":true");
  } else if (f->has_impute) {
    json_key_num(b, "impute", f->impute);
  }
  ml_sb_puts(b, "}");
}

/* The coefficients with intervals at tq standard errors. */
static void json_coefficients(ml_sb *b, const ml_model *m, const ml_lsq_stats *st, double tq) {
  int glm = m->family != ML_FAMILY_GAUSSIAN;
  ml_sb_puts(b, "],\"coefficients\":[");
  for (int j = 0; j < m->p; j++) {
    char *term = NULL;
    if (ml_model_term_name(m, j, &term)) {
      b->oom = 1;
      break;
    }
    ml_sb_puts(b, j ? ",{\"term\":" : "{\"term\":");
    ml_sb_json_string(b, term, strlen(term));
    ml_free(term);
    json_key_num(b, "estimate", m->aliased[j] ? NAN : m->beta[j]);
    json_key_num(b, "std_error", st->se[j]);
    json_key_num(b, glm ? "z_value" : "t_stat", st->tstat[j]);
    json_key_num(b, "p_value", st->pvalue[j]);
    json_key_num(b, "conf_low", m->aliased[j] ? NAN : m->beta[j] - tq * st->se[j]);
    json_key_num(b, "conf_high", m->aliased[j] ? NAN : m->beta[j] + tq * st->se[j]);
    ml_sb_printf(b, ",\"aliased\":%s}", m->aliased[j] ? "true" : "false");
  }
  ml_sb_puts(b, "]");
}

/* The fit's measures: a GLM's deviances, or least squares' R², F, ... */
static void json_fit(ml_sb *b, const ml_model *m, const ml_lsq_stats *st) {
  if (m->family != ML_FAMILY_GAUSSIAN) {
    json_key_num(b, "deviance", m->deviance);
    json_key_num(b, "null_deviance", m->null_deviance);
    ml_sb_printf(b, ",\"df_null\":%lld", (long long)m->df_null);
    json_key_num(b, "aic", m->aic);
    ml_sb_printf(b, ",\"dispersion\":1,\"iterations\":%d,\"converged\":%s", m->iterations,
                 m->converged ? "true" : "false");
    return;
  }
  json_key_num(b, "sigma", st->sigma);
  json_key_num(b, "r2", st->r2);
  json_key_num(b, "adj_r2", st->adj_r2);
  json_key_num(b, "f_stat", st->f);
  json_key_num(b, "f_p_value", st->f_pvalue);
  json_key_num(b, "rss", st->rss);
  json_key_num(b, "tss", st->tss);
  json_key_num(b, "loglik", st->loglik);
  json_key_num(b, "aic", st->aic);
  json_key_num(b, "bic", st->bic);
  json_key_num(b, "condition_number", st->cond);
}

static void json_covariance(ml_sb *b, const ml_model *m, const ml_lsq_stats *st) {
  if (!st->cov) { /* past ML_MAX_TERMS terms: p^2 numbers are not made (docs/reference.md) */
    ml_sb_puts(b, ",\"covariance\":null}");
    return;
  }
  ml_sb_puts(b, ",\"covariance\":[");
  for (int i = 0; i < m->p; i++) {
    ml_sb_puts(b, i ? ",[" : "[");
    for (int j = 0; j < m->p; j++) {
      if (j) ml_sb_puts(b, ",");
      ml_sb_json_number(b, st->cov[i + (int64_t)j * m->p]);
    }
    ml_sb_puts(b, "]");
  }
  ml_sb_puts(b, "]}");
}

int ml_model_json(const ml_model *m, double level, char **out, size_t *len) {
  ml_lsq_stats st;
  int rc = ml_model_stats(m, &st);
  if (rc) return rc;
  /* A GLM's intervals are Wald's on the normal (R's confint.default). */
  double tq = m->family != ML_FAMILY_GAUSSIAN ? ml_qnorm(0.5 + level / 2)
                                              : ml_qt(0.5 + level / 2, st.df_resid);
  ml_sb b;
  ml_sb_init(&b);
  json_about(&b, m);
  json_options(&b, m);
  ml_sb_printf(&b, ",\"rank\":%d", st.rank);
  json_key_num(&b, "df_model", st.df_model);
  json_key_num(&b, "df_resid", st.df_resid);
  ml_sb_puts(&b, ",\"features\":[");
  for (int j = 0; j < m->k; j++) {
    if (j) ml_sb_puts(&b, ",");
    json_feature(&b, &m->feat[j]);
  }
  json_coefficients(&b, m, &st, tq);
  json_fit(&b, m, &st);
  json_key_num(&b, "tolerance", m->tol);
  json_key_num(&b, "level", level);
  json_covariance(&b, m, &st);
  ml_lsq_stats_free(&st);
  *out = ml_sb_finish(&b, len);
  return *out ? ML_OK : ML_NOMEM;
}
