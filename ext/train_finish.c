/*
** train_finish.c: what ml_train makes of a fitted model before storing it:
** the metrics, the data hash, the warnings, and the parts of the summary.
*/
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
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

/* ||R [b; -1]||^2: the residual sum of squares of b over the rows of R. */
double rss_of(const double *R, int p, const double *b) {
  int m = p + 1;
  long double s = 0;
  for (int i = 0; i < m; i++) {
    long double r = -R[i + (int64_t)p * m];
    for (int j = i; j < p; j++) r += (long double)R[i + (int64_t)j * m] * b[j];
    s += r * r;
  }
  return (double)s;
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

