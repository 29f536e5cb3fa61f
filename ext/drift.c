/*
** drift.c: what a model saw of each feature, and how a new batch differs.
**
**   SELECT * FROM ml_feature_info('price');
**   SELECT * FROM ml_drift('price@production', 'SELECT * FROM houses WHERE listed >= ''2026-11-01''');
**
** ml_feature_info lists the profile ml_train took of the training rows
** (section prof, profile.h).  ml_drift reads a batch once and compares each
** feature with it (the figures and the threshold are in profile.h), then
** adds a row '*' with one figure for all: the Mahalanobis distance of the
** batch's design means from the training means under the training rows'
** covariance, both read from the model's R factor.
*/
#include <string.h>

#include "design.h"
#include "guard.h"
#include "lsq.h"
#include "profile.h"
#include "sqlq.h"
#include "strbuf.h"
#include "tvf.h"

/* ---- ml_feature_info ---- */

enum { FI_FEATURE, FI_TYPE, FI_N, FI_NULLS, FI_MEAN, FI_SD, FI_MIN, FI_MAX, FI_LEVELS, FI_BINS,
       FI_NCOL };

static double sd_of(int64_t n, double m2) { return n > 1 ? sqrt(m2 / (double)(n - 1)) : NAN; }

/* {"level": count, ...} of a categorical feature. */
static char *levels_json(const ml_feature *f, const ml_catprof *c) {
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_puts(&b, "{");
  for (int l = 0; l < f->nlevels; l++) {
    if (l) ml_sb_puts(&b, ",");
    ml_sb_json_string(&b, f->levels[l], strlen(f->levels[l]));
    ml_sb_printf(&b, ":%lld", (long long)c->count[l]);
  }
  ml_sb_puts(&b, "}");
  return ml_sb_finish(&b, NULL);
}

/* {"edges":[...],"shares":[...]}: the PSI bins of a numeric feature. */
static char *bins_json(const ml_numprof *s) {
  double edges[ML_PROF_PSI_BINS + 1], share[ML_PROF_PSI_BINS];
  int nb = ml_numprof_psi_bins(s, edges, share);
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_puts(&b, "{\"edges\":[");
  for (int i = 0; i <= nb; i++) {
    if (i) ml_sb_puts(&b, ",");
    ml_sb_json_number(&b, edges[i]);
  }
  ml_sb_puts(&b, "],\"shares\":[");
  for (int i = 0; i < nb; i++) {
    if (i) ml_sb_puts(&b, ",");
    ml_sb_json_number(&b, share[i]);
  }
  ml_sb_puts(&b, "]}");
  return ml_sb_finish(&b, NULL);
}

static int info_row(ml_rows *r, const ml_model *m, int j) {
  const ml_feature *f = &m->feat[j];
  const ml_profile *p = m->profile;
  int rc = ml_rows_add(r);
  if (!rc) rc = ml_rows_text(r, FI_FEATURE, f->name);
  if (!rc) rc = ml_rows_text(r, FI_TYPE, f->type == ML_FEAT_NUMERIC ? "numeric" : "categorical");
  if (rc) return rc;
  if (f->type == ML_FEAT_NUMERIC) {
    const ml_numprof *s = &p->num[j];
    ml_rows_int(r, FI_N, s->n);
    ml_rows_int(r, FI_NULLS, s->nulls);
    ml_rows_num(r, FI_MEAN, s->n ? s->mean : NAN);
    ml_rows_num(r, FI_SD, sd_of(s->n, s->m2));
    ml_rows_num(r, FI_MIN, s->n ? s->min : NAN);
    ml_rows_num(r, FI_MAX, s->n ? s->max : NAN);
    return s->n ? ml_rows_take(r, FI_BINS, bins_json(s)) : SQLITE_OK;
  }
  const ml_catprof *c = &p->cat[j];
  int64_t n = 0;
  for (int l = 0; l < c->nlevels; l++) n += c->count[l];
  ml_rows_int(r, FI_N, n);
  ml_rows_int(r, FI_NULLS, c->nulls);
  return ml_rows_take(r, FI_LEVELS, levels_json(f, c));
}

static const char no_profile[] =
    "%s(): the model keeps no profile of its features (ml_train makes one since sqlml 0.3; "
    "ml_fit models have none)";

static int info_fill(sqlite3 *db, int argc, sqlite3_value **argv, ml_rows *r, char **err) {
  (void)argc;
  ml_model *m;
  int rc = ml_model_from_value(db, "ml_feature_info", argv[0], &m, err);
  if (rc) return rc;
  if (!m->profile) {
    *err = sqlite3_mprintf(no_profile, "ml_feature_info");
    rc = SQLITE_ERROR;
  }
  for (int j = 0; !rc && j < m->k; j++) rc = info_row(r, m, j);
  ml_model_free(m);
  return rc;
}

static const ml_tvf_spec info_spec = {
    "ml_feature_info",
    "CREATE TABLE x(feature TEXT, type TEXT, n INTEGER, nulls INTEGER, mean REAL, sd REAL, "
    "min REAL, max REAL, levels TEXT, bins TEXT, model HIDDEN)",
    FI_NCOL, 1, 1, info_fill};

/* ---- ml_drift ---- */

enum { DR_FEATURE, DR_TYPE, DR_N, DR_NULLS, DR_MEAN, DR_SD, DR_SMD, DR_SD_RATIO, DR_OUTSIDE,
       DR_UNSEEN, DR_PSI, DR_DRIFTED, DR_MAHALANOBIS, DR_NCOL };

/* A batch's figures for one feature. */
typedef struct batch {
  int64_t n, nulls, outside, unseen;
  double mean, m2;
  int nb;                                 /* numeric: PSI bins of the training */
  double edges[ML_PROF_PSI_BINS + 1], share[ML_PROF_PSI_BINS];
  int64_t count[ML_PROF_PSI_BINS];
  int64_t *level;                         /* categorical: per level */
} batch;

typedef struct drift {
  const ml_model *m;
  batch *b;  /* k */
} drift;

static void add_number(batch *b, double x) {
  b->n++;
  double d = x - b->mean;
  b->mean += d / (double)b->n;
  b->m2 += d * (x - b->mean);
  if (x < b->edges[0] || x > b->edges[b->nb]) b->outside++;
  int i = 0;
  while (i < b->nb - 1 && x >= b->edges[i + 1]) i++;
  b->count[i]++;
}

/* One value of feature j; SQLITE_OK, or an error with *err. */
static int add_value(drift *d, int j, sqlite3_value *v, int64_t row, char **err) {
  const ml_model *m = d->m;
  const ml_feature *f = &m->feat[j];
  batch *b = &d->b[j];
  const ml_na *na = m->reads ? &m->na : NULL;
  int t = sqlite3_value_type(v);
  if (t == SQLITE_NULL || (na && ml_read_is_na(v, na))) {
    b->nulls++;
    return SQLITE_OK;
  }
  if (f->type == ML_FEAT_CATEGORICAL && t != SQLITE_BLOB) {
    char canon[ML_NUMBER_TEXT_MAX];
    int l;
    if (!ml_feature_level(f, v, canon, &l)) return SQLITE_NOMEM;
    b->n++;
    if (l < 0) b->unseen++;
    else b->level[l]++;
    return SQLITE_OK;
  }
  double x;
  int text, kind = m->reads ? ml_read_num(v, na, 1, &x, &text) : ml_value_num(v, &x);
  if (kind == ML_V_NOMEM) return SQLITE_NOMEM;
  if (kind != ML_V_NUM) {
    *err = sqlite3_mprintf("ml_drift(): feature %s is %s in row %lld of the batch; expected %s",
                           f->name, t == SQLITE_BLOB ? "a blob" : "not a number", (long long)row,
                           f->type == ML_FEAT_NUMERIC ? "a number" : "a level");
    return SQLITE_ERROR;
  }
  add_number(b, x);
  return SQLITE_OK;
}

static int drift_init(drift *d, const ml_model *m) {
  d->m = m;
  d->b = sqlite3_malloc64(sizeof(batch) * (sqlite3_uint64)m->k + 1);
  if (!d->b) return SQLITE_NOMEM;
  memset(d->b, 0, sizeof(batch) * (size_t)m->k);
  for (int j = 0; j < m->k; j++) {
    const ml_feature *f = &m->feat[j];
    batch *b = &d->b[j];
    if (f->type == ML_FEAT_NUMERIC) {
      b->nb = ml_numprof_psi_bins(&m->profile->num[j], b->edges, b->share);
      continue;
    }
    b->level = sqlite3_malloc64(sizeof(int64_t) * (sqlite3_uint64)f->nlevels + 8);
    if (!b->level) return SQLITE_NOMEM;
    memset(b->level, 0, sizeof(int64_t) * (size_t)f->nlevels);
  }
  return SQLITE_OK;
}

static void drift_free(drift *d) {
  for (int j = 0; d->b && j < d->m->k; j++) sqlite3_free(d->b[j].level);
  sqlite3_free(d->b);
}

/* SELECT "f1", "f2", ... FROM the source. */
static int scan(sqlite3 *db, drift *d, sqlite3_value *source, char **err) {
  const ml_model *m = d->m;
  if (sqlite3_value_type(source) != SQLITE_TEXT) {
    *err = sqlite3_mprintf("ml_drift(): argument 2 must be a table, a view or a query");
    return SQLITE_ERROR;
  }
  const char *text = (const char *)sqlite3_value_text(source);
  sqlite3_stmt *st = NULL;
  int rc = ml_model_columns_stmt(db, "ml_drift", m, text, &st, err);
  if (rc) return rc;
  if (ml_nest_enter()) {
    sqlite3_finalize(st);
    *err = sqlite3_mprintf("ml_drift(): " ML_NEST_MSG);
    return SQLITE_ERROR;
  }
  int64_t row = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    row++;
    for (int j = 0; j < m->k && rc == SQLITE_ROW; j++) {
      int r = add_value(d, j, sqlite3_column_value(st, j), row, err);
      if (r) rc = r;
    }
    if (rc != SQLITE_ROW) break;
  }
  ml_nest_leave();
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static double psi_numeric(const batch *b) {
  double psi = 0;
  for (int i = 0; i < b->nb; i++)
    psi += ml_psi_term(b->n ? (double)b->count[i] / (double)b->n : 0, b->share[i]);
  return psi;
}

static double psi_categorical(const batch *b, const ml_feature *f, const ml_catprof *c) {
  int64_t nt = 0;
  for (int l = 0; l < f->nlevels; l++) nt += c->count[l];
  double psi = ml_psi_term(b->n ? (double)b->unseen / (double)b->n : 0, 0);
  for (int l = 0; l < f->nlevels; l++)
    psi += ml_psi_term(b->n ? (double)b->level[l] / (double)b->n : 0,
                       nt ? (double)c->count[l] / (double)nt : 0);
  return psi;
}

static int drift_row(ml_rows *r, const drift *d, int j) {
  const ml_feature *f = &d->m->feat[j];
  const batch *b = &d->b[j];
  int rc = ml_rows_add(r);
  if (!rc) rc = ml_rows_text(r, DR_FEATURE, f->name);
  if (!rc) rc = ml_rows_text(r, DR_TYPE, f->type == ML_FEAT_NUMERIC ? "numeric" : "categorical");
  if (rc) return rc;
  ml_rows_int(r, DR_N, b->n);
  ml_rows_int(r, DR_NULLS, b->nulls);
  double psi;
  if (f->type == ML_FEAT_NUMERIC) {
    const ml_numprof *s = &d->m->profile->num[j];
    double sd_t = sd_of(s->n, s->m2), sd_b = sd_of(b->n, b->m2);
    ml_rows_num(r, DR_MEAN, b->n ? b->mean : NAN);
    ml_rows_num(r, DR_SD, sd_b);
    ml_rows_num(r, DR_SMD, b->n && sd_t > 0 ? (b->mean - s->mean) / sd_t : NAN);
    ml_rows_num(r, DR_SD_RATIO, sd_t > 0 ? sd_b / sd_t : NAN);
    ml_rows_num(r, DR_OUTSIDE, b->n ? (double)b->outside / (double)b->n : NAN);
    psi = psi_numeric(b);
  } else {
    ml_rows_num(r, DR_UNSEEN, b->n ? (double)b->unseen / (double)b->n : NAN);
    psi = psi_categorical(b, f, &d->m->profile->cat[j]);
  }
  ml_rows_num(r, DR_PSI, b->n ? psi : NAN);
  if (b->n) ml_rows_int(r, DR_DRIFTED, psi > ML_PROF_DRIFT_PSI);
  return SQLITE_OK;
}

/*
** The batch's mean of each design column (a numeric feature's mean, a
** level's share among the feature's values), minus the training's, into
** x[1..p); 0, or 1 when the batch has no value of some feature.
*/
static int mean_shift(const drift *d, const double *train_mean, double *x) {
  const ml_model *m = d->m;
  int t = 1;
  for (int j = 0; j < m->k; j++) {
    const ml_feature *f = &m->feat[j];
    const batch *b = &d->b[j];
    if (b->n == 0) return 1;
    if (f->type == ML_FEAT_NUMERIC) {
      x[t] = b->mean - train_mean[t];
      t++;
      continue;
    }
    for (int l = f->full ? 0 : 1; l < f->nlevels; l++, t++)
      x[t] = (double)b->level[l] / (double)b->n - train_mean[t];
    if (f->has_impute) {
      x[t] = -train_mean[t];
      t++;
    }
  }
  return 0;
}

/*
** sqrt(d' S^-1 d) into *out, S = R22'R22 / (n - 1) the covariance of the
** training design columns (without the intercept) from the factor of the
** kept columns, d the shift of means.  NaN for a model without an
** intercept, a GLM, a formula model, or a batch missing a feature.  SQLITE_OK
** or SQLITE_NOMEM.
*/
static int mahalanobis(drift *d, ml_model *m, double *out) {
  *out = NAN;
  /* A formula's design columns are its terms, not one per feature value. */
  if (!(m->flags & ML_MODEL_INTERCEPT) || m->family || m->formula || m->n < 2) return SQLITE_OK;
  if (!m->R) return SQLITE_OK; /* kept with a block of more terms than a dense factor holds */
  int rc = ml_model_prepare_intervals(m);
  if (rc) return rc == ML_NOMEM ? SQLITE_NOMEM : SQLITE_OK;
  int q = m->p + 1, r = m->rank;
  double *mean = sqlite3_malloc64(16 * (sqlite3_uint64)q), *x = mean ? mean + q : NULL;
  if (!mean) return SQLITE_NOMEM;
  /* Row 0 of R: sqrt(n) times each column's mean. */
  for (int j = 0; j < m->p; j++) mean[j] = m->R[(int64_t)j * q] / m->R[0];
  if (!mean_shift(d, mean, x)) {
    double *z = mean; /* reuse: the kept columns' shifts, then R22^-T of them (W) */
    int kept = 0;
    for (int j = 1; j < m->p; j++)
      if (!m->aliased[j]) z[kept++] = x[j];
    long double ss = 0;
    for (int i = 0; i < kept; i++) {
      long double s = z[i];
      for (int l = 0; l < i; l++) s -= (long double)m->W[(l + 1) + (int64_t)(i + 1) * q] * z[l];
      double diag = m->W[(i + 1) + (int64_t)(i + 1) * q];
      z[i] = diag != 0 ? (double)(s / diag) : 0;
      ss += (long double)z[i] * z[i];
    }
    if (kept == r - 1) *out = sqrt((double)ss * (double)(m->n - 1));
  }
  sqlite3_free(mean);
  return SQLITE_OK;
}

static int drift_fill(sqlite3 *db, int argc, sqlite3_value **argv, ml_rows *r, char **err) {
  (void)argc;
  ml_model *m;
  drift d = {0};
  int rc = ml_model_from_value(db, "ml_drift", argv[0], &m, err);
  if (rc) return rc;
  if (!m->profile) {
    *err = sqlite3_mprintf(no_profile, "ml_drift");
    rc = SQLITE_ERROR;
  }
  if (!rc) rc = drift_init(&d, m);
  if (!rc) rc = scan(db, &d, argv[1], err);
  for (int j = 0; !rc && j < m->k; j++) rc = drift_row(r, &d, j);
  if (!rc) rc = ml_rows_add(r);
  if (!rc) rc = ml_rows_text(r, DR_FEATURE, "*");
  if (!rc) rc = ml_rows_text(r, DR_TYPE, "all");
  double dist;
  if (!rc) rc = mahalanobis(&d, m, &dist);
  if (!rc) ml_rows_num(r, DR_MAHALANOBIS, dist);
  if (!rc) ml_rows_int(r, DR_N, d.b[0].n + d.b[0].nulls);
  drift_free(&d);
  ml_model_free(m);
  return rc;
}

static const ml_tvf_spec drift_spec = {
    "ml_drift",
    "CREATE TABLE x(feature TEXT, type TEXT, n INTEGER, nulls INTEGER, mean REAL, sd REAL, "
    "smd REAL, sd_ratio REAL, outside_range REAL, unseen REAL, psi REAL, drifted INTEGER, "
    "mahalanobis REAL, model HIDDEN, source HIDDEN)",
    DR_NCOL, 2, 2, drift_fill};

int ml_drift_register(sqlite3 *db) {
  int rc = ml_tvf_register(db, &info_spec);
  return rc == SQLITE_OK ? ml_tvf_register(db, &drift_spec) : rc;
}
