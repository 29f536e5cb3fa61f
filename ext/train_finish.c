/*
** train_finish.c: what ml_train makes of a fitted model before storing it:
** the metrics, the data hash, the warnings, and the parts of the summary.
*/
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include "formula.h"
#include "incremental.h"
#include "train.h"

/* Appends a warning (printf-style) to the summary's "warnings". */
void warn(trainer *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *z = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  if (!z) {
    t->warn.oom = 1;
    return;
  }
  if (t->warn.n) ml_sb_puts(&t->warn, ",");
  ml_sb_json_string(&t->warn, z, strlen(z));
  sqlite3_free(z);
}

void metrics_set(ml_sb *b, const char *name, sqlite3_int64 n, double rss, const welford *w,
                        const abs_err *ae, int full) {
  ml_sb_printf(b, "\"%s\":{\"n\":%lld,\"r2\":", name, (long long)n);
  ml_sb_json_number(b, n > 0 && w->m2 > 0 ? 1 - rss / (double)w->m2 : NAN);
  ml_sb_puts(b, ",\"rmse\":");
  ml_sb_json_number(b, n > 0 ? sqrt(rss / (double)w->w) : NAN);
  if (full) {
    ml_sb_puts(b, ",\"mae\":");
    ml_sb_json_number(b, n > 0 ? (double)(ae->sum / w->w) : NAN);
    ml_sb_puts(b, ",\"max_error\":");
    ml_sb_json_number(b, n > 0 ? ae->max : NAN);
  }
  ml_sb_puts(b, "}");
}

/* ---- storing ---- */

char *utc_now(void) {
  time_t now = time(NULL);
  struct tm tm;
  char buf[32];
#ifdef _WIN32
  gmtime_s(&tm, &now);
#else
  gmtime_r(&now, &tm);
#endif
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return sqlite3_mprintf("%s", buf);
}

static void hash_text(uint64_t h[2], const char *z) {
  ml_hash_u64(h, strlen(z));
  for (; *z; z++) ml_hash_u64(h, (unsigned char)*z);
}

/*
** Folds into the data hash what, beside the values as read, makes the model
** what it is (docs/registry.md, data_hash): the target's name, each feature's name
** and kind as decided (numeric, levels by text, levels by number: so
** listing as categorical a column that already was changes nothing), the
** weight column, intercept, nulls, na_values (as a set), unseen, l2,
** robust and tol.  Not refine, metrics or progress: they change how the
** same model is computed or reported, not which.
*/
void hash_model(const trainer *t, uint64_t h[2]) {
  const ml_fitopts *o = &t->o.fit;
  hash_text(h, t->target);
  ml_hash_u64(h, (uint64_t)t->k);
  for (int j = 0; j < t->k; j++) {
    hash_text(h, t->feat[j]);
    ml_hash_u64(h, (uint64_t)t->kind[j]);
  }
  hash_text(h, t->o.weights ? t->o.weights : "");
  ml_hash_u64(h, (uint64_t)o->intercept);
  ml_hash_u64(h, (uint64_t)o->nulls);
  ml_hash_u64(h, (uint64_t)o->unseen_zero);
  ml_hash_double(h, o->l2);
  ml_hash_u64(h, (uint64_t)o->robust);
  ml_hash_double(h, o->tol);
  uint64_t na = 0; /* a sum of the texts' hashes: their order does not count */
  for (int i = 0; i < t->o.nna; i++) {
    uint64_t w[2] = {ML_HASH_SEED0, ML_HASH_SEED1};
    hash_text(w, t->o.na_values[i]);
    int dup = 0;
    for (int k = 0; k < i; k++) dup |= strcmp(t->o.na_values[k], t->o.na_values[i]) == 0;
    if (!dup) na += w[0];
  }
  ml_hash_u64(h, na);
  if (t->o.family != ML_FAMILY_GAUSSIAN) {
    ml_hash_u64(h, (uint64_t)t->o.family);
    hash_text(h, t->o.offset ? t->o.offset : "");
    ml_hash_u64(h, (uint64_t)t->o.max_iter);
    ml_hash_double(h, t->o.epsilon);
  }
  if (t->formula) hash_text(h, ml_formula_text(t->formula)); /* the terms, as written out */
}

/* Warnings of a fitted model: what could make it silently wrong. */
void model_warnings(trainer *t, const ml_model *m) {
  ml_sb b;
  ml_sb_init(&b);
  for (int j = -1; j < t->k; j++) {
    int text = j < 0 ? t->y_text : t->kind[j] == ML_TYPE_NUMERIC && t->fa.f[j].from_text > 0;
    if (text) ml_sb_printf(&b, "%s%s", b.n ? ", " : "", j < 0 ? t->target : t->feat[j]);
  }
  if (t->w_text) ml_sb_printf(&b, "%s%s", b.n ? ", " : "", t->o.weights);
  char *z = ml_sb_finish(&b, NULL);
  if (!z) t->warn.oom = 1;
  if (z && z[0])
    warn(t, "numbers read from text in %s (as .import --csv leaves them): check these are "
            "numbers, or list categories in option \"categorical\"", z);
  ml_free(z);
  for (int j = 0; j < t->k; j++) {
    const ml_feature *f = &m->feat[j];
    if (f->type == ML_FEAT_CATEGORICAL && f->nlevels > 10 && f->nlevels > 0.5 * (double)m->n)
      warn(t, "feature '%s' has %d levels in %lld training rows: nearly one per row, as an "
              "identifier or a name has; its terms can fit the rows without predicting anything",
           f->name, f->nlevels, (long long)m->n);
  }
  if (m->p > m->n)
    warn(t, "the model has %d terms but %lld training rows: it can fit them exactly, and terms "
            "beyond the rows are aliased", m->p, (long long)m->n);
  for (int j = 0; j < m->p; j++) {
    if (!m->aliased[j]) continue;
    char *term = NULL;
    if (ml_model_term_name(m, j, &term)) {
      t->warn.oom = 1;
      return;
    }
    ml_sb_printf(&b, "%s%s", b.n ? ", " : "", term);
    ml_free(term);
  }
  z = ml_sb_finish(&b, NULL);
  if (!z) t->warn.oom = 1;
  if (z && z[0])
    warn(t, "aliased (a linear combination of the terms before it; no estimate, as R's lm gives "
            "NA): %s", z);
  ml_free(z);
}

void json_names(ml_sb *b, const char *key, char **names, const int *keep, int n) {
  ml_sb_printf(b, ",\"%s\":[", key);
  for (int j = 0, first = 1; j < n; j++) {
    if (keep && !keep[j]) continue;
    if (!first) ml_sb_puts(b, ",");
    first = 0;
    ml_sb_json_string(b, names[j], strlen(names[j]));
  }
  ml_sb_puts(b, "]");
}


/* ---- the step train() calls ---- */

void train_result_free(train_result *r) {
  sqlite3_free(r->hash);
  sqlite3_free(r->created);
  ml_free(r->features);
  ml_free(r->options);
  ml_free(r->metrics);
  ml_free(r->blob);
  ml_free(r->pre);
  ml_free(r->post);
  ml_free(r->summary);
  memset(r, 0, sizeof *r);
}

/* The data hash: training values in scan order, then what decided the split. */
static char *data_hash(trainer *t) {
  uint64_t *h = t->fa.hash;
  ml_hash_u64(h, (uint64_t)t->m->n);
  ml_hash_double(h, t->o.test_size);
  ml_hash_u64(h, (uint64_t)t->o.seed);
  const char *kn = t->has_key ? (t->o.key ? t->o.key : "rowid") : "";
  for (const char *c = kn; *c; c++) ml_hash_u64(h, (unsigned char)*c);
  hash_model(t, h);
  return sqlite3_mprintf("%016llx%016llx", (unsigned long long)h[0], (unsigned long long)h[1]);
}

/* The registry row's texts: features, options and metrics, as JSON. */
static void record_texts(const trainer *t, train_result *r) {
  const ml_model *m = t->m;
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_puts(&b, "[");
  for (int j = 0; j < t->k; j++) {
    if (j) ml_sb_puts(&b, ",");
    ml_sb_json_string(&b, t->feat[j], strlen(t->feat[j]));
  }
  ml_sb_puts(&b, "]");
  r->features = ml_sb_finish(&b, NULL);
  options_json(&b, t);
  r->options = ml_sb_finish(&b, NULL);
  ml_sb_puts(&b, "{");
  if (t->o.family != ML_FAMILY_GAUSSIAN) {
    train_glm_metrics_set(&b, "train", m->n, &t->gm[0], m->family);
    ml_sb_puts(&b, ",");
    train_glm_metrics_set(&b, "test", t->fa.used[1], &t->gm[1], m->family);
  } else {
    int measure = t->o.full_metrics;
    double rss_train = m->rss, rss_test = NAN;
    if (!(m->flags & ML_MODEL_REFINED) && ml_model_rss(m, 0, &rss_train)) b.oom = 1;
    if (t->Rtest) rss_test = ml_factor_rss(t->Rtest, m->p, m->beta);
    else if (m->test_fac && ml_model_rss(m, 1, &rss_test)) b.oom = 1;
    metrics_set(&b, "train", m->n, rss_train, &t->wtrain, &t->etrain, measure);
    ml_sb_puts(&b, ",");
    metrics_set(&b, "test", t->fa.used[1], rss_test, &t->wtest, &t->etest, measure);
    if (t->o.fit.cv) {
      ml_sb_puts(&b, ",");
      cv_json(&b, &t->fa.cv);
    }
  }
  /* Kept with the version, so ml_models shows what it was built on. */
  if (t->o.incremental && !t->incr_reason)
    ml_sb_printf(&b, ",\"incremental\":{\"parent\":%lld,\"rows_read\":%lld}", (long long)t->parent,
                 (long long)t->nread);
  ml_sb_puts(&b, "}");
  r->metrics = ml_sb_finish(&b, NULL);
}

/* The summary's GLM keys: family, link, deviances, AIC, iterations, levels. */
static void summary_glm(ml_sb *post, const ml_model *m) {
  int rank = 0;
  for (int j = 0; j < m->p; j++) rank += !m->aliased[j];
  ml_sb_printf(post, ",\"family\":\"%s\",\"link\":\"%s\",\"deviance\":", ml_family_name(m->family),
               ml_link_name(m->link));
  ml_sb_json_number(post, m->deviance);
  ml_sb_puts(post, ",\"null_deviance\":");
  ml_sb_json_number(post, m->null_deviance);
  ml_sb_printf(post, ",\"df_null\":%lld,\"df_resid\":%lld,\"aic\":", (long long)m->df_null,
               (long long)(m->n - rank));
  ml_sb_json_number(post, m->aic);
  ml_sb_printf(post, ",\"iterations\":%d,\"converged\":%s", m->iterations,
               m->converged ? "true" : "false");
  if (m->ylevels[0]) {
    ml_sb_puts(post, ",\"target_levels\":[");
    ml_sb_json_string(post, m->ylevels[0], strlen(m->ylevels[0]));
    ml_sb_puts(post, ",");
    ml_sb_json_string(post, m->ylevels[1], strlen(m->ylevels[1]));
    ml_sb_puts(post, "]");
  }
}

/* The summary's columns read from text: the target, numeric features, the weight. */
static void summary_from_text(ml_sb *post, const trainer *t) {
  char *names[ML_MAX_TERMS + 2];
  int keep[ML_MAX_TERMS + 2], n = 0;
  names[n] = (char *)t->target;
  keep[n++] = t->y_text;
  for (int j = 0; j < t->k; j++) {
    names[n] = t->feat[j];
    keep[n++] = t->kind[j] == ML_TYPE_NUMERIC && t->fa.f[j].from_text > 0;
  }
  if (t->o.weights) {
    names[n] = t->o.weights;
    keep[n++] = t->w_text;
  }
  json_names(post, "read_from_text", names, keep, n);
}

/* The summary's NULLs by column, over every row read (incr_keep counted
** them; open: the caller closes the object). */
static void summary_nulls(ml_sb *post, const trainer *t) {
  ml_sb_puts(post, ",\"nulls\":{");
  for (int i = 0; i < t->m->nnulls_read; i++) {
    const char *name = incr_null_column(t, i, NULL);
    if (i) ml_sb_puts(post, ",");
    ml_sb_json_string(post, name, strlen(name));
    ml_sb_printf(post, ":%lld", (long long)t->m->nulls_read[i]);
  }
}

/*
** The summary, made before the version is stored, with the version number
** left to fill in: once the INSERT has committed, nothing may fail, or an
** error would be reported for a version that was kept.  r->pre and r->post
** go either side of the number, in r->summary's room.  0, or ML_NOMEM.
*/
static int summary(trainer *t, train_result *r) {
  const ml_model *m = t->m;
  ml_sb pre, post;
  ml_sb_init(&pre);
  ml_sb_init(&post);
  ml_sb_puts(&pre, "{\"model\":");
  ml_sb_json_string(&pre, t->name, strlen(t->name));
  ml_sb_puts(&pre, ",\"version\":");
  ml_sb_printf(&post, ",\"n_train\":%lld,\"n_test\":%lld,\"n_skipped\":%lld",
               (long long)m->n, (long long)t->fa.used[1],
               (long long)(t->fa.skipped + t->target_nulls + t->weight_nulls + t->offset_nulls));
  if (t->o.weights) ml_sb_printf(&post, ",\"n_zero_weight\":%lld", (long long)t->fa.zero_weight);
  ml_sb_printf(&post, ",\"terms\":%d", m->p);
  if (t->o.family != ML_FAMILY_GAUSSIAN) summary_glm(&post, m);
  json_names(&post, "features", t->feat, NULL, t->k);
  summary_from_text(&post, t);
  summary_nulls(&post, t);
  model_warnings(t, m);
  char *warnings = ml_sb_finish(&t->warn, NULL);
  if (warnings)
    ml_sb_printf(&post, "},\"nulls_policy\":\"%s\",\"refined\":%s,\"warnings\":[%s],\"metrics\":%s,"
                 "\"data_hash\":\"%s\",\"created_at\":\"%s\"}",
                 t->o.fit.nulls == ML_NULLS_MEAN ? "mean" : t->o.fit.nulls == ML_NULLS_ERROR ? "error" : "skip",
                 (m->flags & ML_MODEL_REFINED) ? "true" : "false", warnings, r->metrics, r->hash,
                 r->created);
  else post.oom = 1;
  ml_free(warnings);
  r->pre = ml_sb_finish(&pre, &r->npre);
  r->post = ml_sb_finish(&post, &r->npost);
  r->summary = r->pre && r->post ? ml_malloc(r->npre + 21 + r->npost + 1) : NULL;
  return r->summary ? 0 : ML_NOMEM;
}

/*
** What is stored and returned: the data hash, the time, the registry row's
** texts, the model's BLOB, the summary.  0, or -1 after reporting.
*/
/*
** The model keeps its test rows' factor (section tfac), so another model
** over the same columns can be scored on those rows without reading them
** (ml_compare, ml_promote).  Linear models only: a GLM's factor is of its
** last working weights, which a sum of squares of another model's
** residuals does not measure.  The factor moves to the model.
*/
static void keep_test_factor(trainer *t, ml_model *m) {
  if (m->family && m->test_fac) { /* the first step's, of working weights: not kept */
    ml_sfac_free(m->test_fac);
    ml_free(m->test_fac);
    m->test_fac = NULL;
  }
  if ((!t->Rtest && !m->test_fac) || m->family || t->fa.used[1] == 0) return;
  m->test_R = t->Rtest; /* a model kept with its block has its test_fac already */
  t->Rtest = NULL;
  m->test_n = t->fa.used[1];
  m->test_w = t->wtest.w;
  m->test_mean = t->wtest.mean;
  m->test_m2 = t->wtest.m2;
}

int train_finish(trainer *t, train_result *r) {
  /* The penalty cv chose is the model's: in the data hash and the stored options. */
  if (t->o.fit.cv) t->o.fit.l2 = t->m->l2;
  r->hash = data_hash(t);
  r->created = utc_now();
  record_texts(t, r);
  keep_test_factor(t, t->m);
  if (!r->hash || !r->created || !r->features || !r->options || !r->metrics ||
      ml_model_encode(t->m, SQLML_VERSION, &r->blob, &r->nblob) || summary(t, r)) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  return 0;
}
