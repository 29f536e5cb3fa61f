/*
** evaluate.c: ml_evaluate, the metrics of a model on new data.
**
**   SELECT ml_evaluate('house_price', 'SELECT * FROM houses_2026');
**   SELECT ml_evaluate('house_price@2', 'houses_2026', 'price');
**
** The source (table, view or read-only query) must have the model's feature
** columns, by name, and the target (the model's, unless given).  Returns
** JSON: n, n_skipped (rows with a NULL, counted and not evaluated), r2, rmse,
** mae, mape (over rows whose target is not 0), explained_variance, max_error,
** all as scikit-learn's metrics of the same names define them.  One pass;
** means and sums of squares by Welford's method, so large offsets do not
** cancel.
**
** A binomial model is measured by log_loss, accuracy (class 1 when the
** probability is above 0.5), brier and deviance; a poisson model by
** deviance and mean_deviance (scikit-learn's mean_poisson_deviance); both
** over the model's offset column too, when it has one.
*/
#include <float.h>
#include <string.h>

#include "auc.h"
#include "design.h"
#include "glm.h"
#include "guard.h"
#include "sqlq.h"
#include "strbuf.h"

typedef struct moments {
  sqlite3_int64 n;
  long double mean, m2;
} moments;

static void moments_add(moments *w, double v) {
  w->n++;
  long double d = v - w->mean;
  w->mean += d / w->n;
  w->m2 += d * (v - w->mean);
}

void ml_evaluate_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const ml_model *m = ml_model_arg(ctx, "ml_evaluate", argv, 0);
  if (!m) return;
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
    ml_error(ctx, "ml_evaluate(): argument 2 must be a table, a view or a query");
    return;
  }
  const char *source = (const char *)sqlite3_value_text(argv[1]);
  const char *target = argc > 2 && sqlite3_value_type(argv[2]) == SQLITE_TEXT
                           ? (const char *)sqlite3_value_text(argv[2])
                           : m->target;
  if (!target) {
    ml_error(ctx, "ml_evaluate(): the model does not name its target; give it as argument 3");
    return;
  }
  char *err = NULL, **cols = NULL, *sql = NULL;
  int ncol = 0, nested = 0;
  sqlite3_stmt *st = NULL;
  sqlite3_value **vals = NULL;
  double *x = NULL;
  ml_source src;
  ml_auc auc; /* binomial: every row's (probability, y) for the exact AUC (auc.h) */
  ml_auc_init(&auc, ML_AUC_MAX_ROWS, 0);
  int rc = ml_source_open(db, "ml_evaluate()", source, NULL, &src, &err);
  if (rc != SQLITE_OK && !err && rc != SQLITE_NOMEM) {
    ml_result_db_error(ctx, "ml_evaluate", db, rc);
    goto done;
  }
  if (rc) goto fail;
  cols = ml_source_columns(db, "ml_evaluate", src.from, source, &ncol, &err, NULL);
  if (!cols) goto fail;
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_puts(&b, "SELECT ");
  for (int j = -1; j < m->k; j++) {
    const char *c = j < 0 ? target : m->feat[j].name;
    if (ml_find_name(cols, ncol, c) < 0) {
      err = sqlite3_mprintf("ml_evaluate(): the source '%s' has no column '%s' (%s)", source, c,
                            j < 0 ? "the target" : "a feature of the model");
      ml_sb_reset(&b);
      goto fail;
    }
    char *q = sqlite3_mprintf("%s\"%w\"", j < 0 ? "" : ", ", c);
    if (q) ml_sb_puts(&b, q);
    else b.oom = 1;
    sqlite3_free(q);
  }
  if (m->offset) {
    if (ml_find_name(cols, ncol, m->offset) < 0) {
      err = sqlite3_mprintf("ml_evaluate(): the source '%s' has no column '%s' (the model's offset)",
                            source, m->offset);
      ml_sb_reset(&b);
      goto fail;
    }
    char *q = sqlite3_mprintf(", \"%w\"", m->offset);
    if (q) ml_sb_puts(&b, q);
    else b.oom = 1;
    sqlite3_free(q);
  }
  ml_sb_puts(&b, " FROM ");
  ml_sb_puts(&b, src.from);
  sql = ml_sb_finish(&b, NULL);
  vals = sqlite3_malloc64(sizeof(sqlite3_value *) * (sqlite3_uint64)m->k);
  x = sqlite3_malloc64(8 * (sqlite3_uint64)m->p);
  if (!sql || !vals || !x) goto fail;
  rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) {
    ml_result_db_error(ctx, "ml_evaluate", db, rc);
    goto done;
  }
  moments wy = {0, 0, 0}, we = {0, 0, 0};
  long double sae = 0, sape = 0, sse = 0;
  sqlite3_int64 nape = 0, skipped = 0, row = 0;
  double maxe = 0;
  int f = m->family;
  long double gdev = 0, glogloss = 0, gcorrect = 0, gbrier = 0;
  if (ml_nest_enter()) {
    ml_error(ctx, "ml_evaluate(): " ML_NEST_MSG);
    goto done;
  }
  nested = 1;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    row++;
    sqlite3_value *yv = sqlite3_column_value(st, 0);
    double y = 0;
    /* The target read as the model reads its features (design.h). */
    int text, kind = m->reads ? ml_read_num(yv, &m->na, 1, &y, &text) : ml_value_num(yv, &y);
    if (m->ylevels[0] && kind == ML_V_TEXT) {
      /* A binomial target of text levels: the second is 1. */
      const char *z = (const char *)sqlite3_value_text(yv);
      int l = !z ? -1 : strcmp(z, m->ylevels[0]) == 0 ? 0 : strcmp(z, m->ylevels[1]) == 0 ? 1 : -1;
      if (l < 0) {
        ml_error(ctx, "ml_evaluate(): the target '%s' is '%s' in row %lld, not one of the model's "
                      "levels '%s' and '%s'", target, z ? z : "", (long long)row, m->ylevels[0],
                 m->ylevels[1]);
        goto done;
      }
      y = l;
      kind = ML_V_NUM;
    }
    if (kind == ML_V_NOMEM) {
      sqlite3_result_error_nomem(ctx);
      goto done;
    }
    if (kind != ML_V_NUM && kind != ML_V_NULL) {
      char what[140];
      sqlite3_snprintf(sizeof what, what, "column '%.100s'", target);
      ml_value_error(ctx, "ml_evaluate", what, kind, yv, row);
      goto done;
    }
    for (int j = 0; j < m->k; j++) vals[j] = sqlite3_column_value(st, 1 + j);
    int r = ml_design_row(ctx, "ml_evaluate", m, vals, x);
    if (r < 0) goto done;
    double off = 0;
    int okind = m->offset ? ml_value_num(sqlite3_column_value(st, 1 + m->k), &off) : ML_V_NUM;
    if (okind != ML_V_NUM && okind != ML_V_NULL) {
      char what[140];
      sqlite3_snprintf(sizeof what, what, "column '%.100s'", m->offset);
      ml_value_error(ctx, "ml_evaluate", what, okind, sqlite3_column_value(st, 1 + m->k), row);
      goto done;
    }
    if (r == ML_V_NULL || kind == ML_V_NULL || okind == ML_V_NULL) {
      skipped++;
      continue;
    }
    if (f != ML_FAMILY_GAUSSIAN) {
      if (ml_glm_check_y(f, y, 1, 0) == ML_GLM_Y_OUT) {
        ml_error(ctx, "ml_evaluate(): the target '%s' is %!.17g in row %lld, outside what family "
                      "\"%s\" takes (%s)", target, y, (long long)row, ml_family_name(f),
                 f == ML_FAMILY_BINOMIAL ? "0 or 1" : "a count >= 0");
        goto done;
      }
      double lin = 0;
      for (int j = 0; j < m->p; j++) lin += m->beta[j] * x[j];
      double mu = ml_glm_linkinv(f, lin + off);
      moments_add(&wy, y);
      gdev += ml_glm_dev_resid(f, y, mu, 1);
      if (f == ML_FAMILY_BINOMIAL) {
        double pc = fmin(fmax(mu, DBL_EPSILON), 1 - DBL_EPSILON);
        glogloss -= y == 1 ? log(pc) : log1p(-pc);
        gcorrect += (mu > 0.5 ? 1.0 : 0.0) == y;
        gbrier += (y - mu) * (y - mu);
        if (ml_auc_add(&auc, mu, y, 1)) goto fail;
      }
      continue;
    }
    long double e = y;
    for (int j = 0; j < m->p; j++) e -= (long double)m->beta[j] * x[j];
    double ae = fabs((double)e);
    moments_add(&wy, y);
    moments_add(&we, (double)e);
    sse += e * e;
    sae += ae;
    if (ae > maxe) maxe = ae;
    if (y != 0) {
      sape += ae / fabs(y);
      nape++;
    }
  }
  ml_nest_leave();
  nested = 0;
  if (rc != SQLITE_DONE) {
    ml_result_db_error(ctx, "ml_evaluate", db, rc);
    goto done;
  }
  sqlite3_int64 n = wy.n;
  if (f != ML_FAMILY_GAUSSIAN) {
    ml_sb_printf(&b, "{\"n\":%lld,\"n_skipped\":%lld", (long long)n, (long long)skipped);
    if (f == ML_FAMILY_BINOMIAL) {
      ml_sb_puts(&b, ",\"log_loss\":");
      ml_sb_json_number(&b, n > 0 ? (double)(glogloss / n) : NAN);
      ml_sb_puts(&b, ",\"accuracy\":");
      ml_sb_json_number(&b, n > 0 ? (double)(gcorrect / n) : NAN);
      ml_sb_puts(&b, ",\"brier\":");
      ml_sb_json_number(&b, n > 0 ? (double)(gbrier / n) : NAN);
      ml_auc_json(&b, &auc);
    }
    ml_sb_puts(&b, ",\"deviance\":");
    ml_sb_json_number(&b, n > 0 ? (double)gdev : NAN);
    if (f == ML_FAMILY_POISSON) {
      ml_sb_puts(&b, ",\"mean_deviance\":");
      ml_sb_json_number(&b, n > 0 ? (double)(gdev / n) : NAN);
    }
    ml_sb_puts(&b, "}");
    goto finish;
  }
  ml_sb_printf(&b, "{\"n\":%lld,\"n_skipped\":%lld,\"r2\":", (long long)n, (long long)skipped);
  ml_sb_json_number(&b, n > 0 && wy.m2 > 0 ? (double)(1 - sse / wy.m2) : NAN);
  ml_sb_puts(&b, ",\"rmse\":");
  ml_sb_json_number(&b, n > 0 ? sqrt((double)(sse / n)) : NAN);
  ml_sb_puts(&b, ",\"mae\":");
  ml_sb_json_number(&b, n > 0 ? (double)(sae / n) : NAN);
  ml_sb_puts(&b, ",\"mape\":");
  ml_sb_json_number(&b, nape > 0 ? (double)(sape / nape) : NAN);
  ml_sb_puts(&b, ",\"explained_variance\":");
  ml_sb_json_number(&b, n > 0 && wy.m2 > 0 ? (double)(1 - we.m2 / wy.m2) : NAN);
  ml_sb_puts(&b, ",\"max_error\":");
  ml_sb_json_number(&b, n > 0 ? maxe : NAN);
  ml_sb_puts(&b, "}");
finish:;
  size_t len;
  char *json = ml_sb_finish(&b, &len);
  if (!json) goto fail;
  sqlite3_result_text64(ctx, json, len, ml_free, SQLITE_UTF8);
  sqlite3_result_subtype(ctx, 'J');
  goto done;
fail:
  if (err) sqlite3_result_error(ctx, err, -1);
  else sqlite3_result_error_nomem(ctx);
done:
  if (nested) ml_nest_leave();
  ml_auc_free(&auc);
  sqlite3_finalize(st);
  sqlite3_free(err);
  ml_source_free(&src);
  ml_free(sql);
  ml_free_names(cols, ncol);
  sqlite3_free(vals);
  sqlite3_free(x);
}
