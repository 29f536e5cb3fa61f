/*
** train.c: ml_train, a named model fitted where the data lives and kept as a
** new version in the registry.
**
**   SELECT ml_train('house_price', 'houses', 'price', '["sqft","rooms"]',
**                   '{"test_size":0.2,"seed":42}');
**
** One pass reads the source.  Each row goes, by the split of ml_split_of, to
** the training factor or to the test rows' own factor R_t, whose test
** residual sum of squares for any coefficients b is ||R_t [b; -1]||^2: so the
** fit and both sets' r2 and rmse come from that one pass.  A second pass runs
** only to refine a fit whose error bound says it needs it (or when asked),
** and for the metrics that are not sums of squares (mae, max_error).
** The only write is one INSERT of the new version (after creating the
** registry tables if they are missing), numbered max + 1 inside that same
** statement: atomic by SQLite's own guarantee, so a failure anywhere leaves
** the registry as it was, and concurrent trainers get consecutive versions.
** No transaction is held while reading (a SAVEPOINT could not be rolled back
** after sqlite3_interrupt while the calling statement runs); a second pass
** checks that it read the very rows the first did, by their fingerprint.
*/
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include <float.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lapacke.h>

#include "json.h"
#include "lsq.h"
#include "registry.h"
#include "split.h"
#include "sqlq.h"
#include "strbuf.h"

/* Refine when the one-pass error bound exceeds this (see needs_refinement). */
#define REFINE_ABOVE 1e-13

typedef struct train_opts {
  double test_size;
  sqlite3_int64 seed;
  const char *key;   /* key column, "rowid", or NULL for the row itself */
  int intercept;
  int refine;        /* -1 auto, 0 never, 1 always */
  int full_metrics;
  int progress;
  double tol;
} train_opts;

/* Running mean and sum of squared deviations (Welford), for SST. */
typedef struct welford {
  sqlite3_int64 n;
  long double mean, m2;
} welford;

static void welford_add(welford *w, double y) {
  w->n++;
  long double d = y - w->mean;
  w->mean += d / w->n;
  w->m2 += d * (y - w->mean);
}

/* Sums for the non-quadratic metrics of one set. */
typedef struct abs_err {
  long double sum;
  double max;
} abs_err;

typedef struct trainer {
  sqlite3_context *ctx;
  sqlite3 *db;
  const char *name, *source, *target;
  char *from;             /* FROM item */
  char *table;            /* the source table's name; NULL for a query */
  int rowid;              /* the source has a rowid */
  char *rowid_alias;      /* its INTEGER PRIMARY KEY column, or NULL */
  char **feat;            /* feature names */
  int k;
  train_opts o;
  int has_key;            /* column 0 of the row statement is the key */
  sqlite3_stmt *rows;
  ml_lsq train, test;
  welford wtrain, wtest;
  sqlite3_int64 nread, nskipped, *nulls;  /* nulls[0] target, nulls[1..k] features */
  uint64_t hash[2];
  ml_model *m;
  double *x;              /* design row, p */
  sqlite3_value **vals;   /* a keyless row's values, k + 1 */
  long double *g;         /* refinement: X'r (p), r'r (g[p]); 16-byte aligned in gmem */
  void *gmem;
  abs_err etrain, etest;
  int refined;
  double rss_test;
  double last_progress;   /* monotonic seconds of the start or the last report */
} trainer;

/* ---- options ---- */

static int parse_options(trainer *t, const char *text) {
  train_opts *o = &t->o;
  o->test_size = 0.2;
  o->seed = 0;
  o->key = NULL;
  o->intercept = 1;
  o->refine = -1;
  o->full_metrics = 0;
  o->progress = 0;
  o->tol = ML_LSQ_TOL;
  if (!text) return 0;
  ml_json *j;
  char err[96];
  int rc = ml_json_parse(text, strlen(text), &j, err, sizeof err);
  if (rc == -2) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  if (rc) return ml_error(t->ctx, "ml_train(): options are not valid JSON: %s", err);
  rc = -1;
  if (j->type != ML_JSON_OBJECT) {
    ml_error(t->ctx, "ml_train(): options must be a JSON object, got %s", ml_json_type_name(j->type));
    goto out;
  }
  for (const ml_json *c = j->child; c; c = c->next) {
    const char *k = c->key;
    int is_bool = c->type == ML_JSON_TRUE || c->type == ML_JSON_FALSE;
    if (strcmp(k, "test_size") == 0) {
      if (c->type != ML_JSON_NUMBER || !(c->num >= 0 && c->num < 1)) {
        ml_error(t->ctx, "ml_train(): option test_size must be a number in [0, 1)");
        goto out;
      }
      o->test_size = c->num;
    } else if (strcmp(k, "seed") == 0) {
      if (c->type != ML_JSON_NUMBER || c->num != (double)(sqlite3_int64)c->num ||
          c->num < -9007199254740992.0 || c->num > 9007199254740992.0) {
        ml_error(t->ctx, "ml_train(): option seed must be an integer");
        goto out;
      }
      o->seed = (sqlite3_int64)c->num;
    } else if (strcmp(k, "key") == 0) {
      if (c->type != ML_JSON_STRING || !c->str[0]) {
        ml_error(t->ctx, "ml_train(): option key must be a column name");
        goto out;
      }
      o->key = sqlite3_mprintf("%s", c->str);
      if (!o->key) {
        sqlite3_result_error_nomem(t->ctx);
        goto out;
      }
    } else if (strcmp(k, "intercept") == 0 || strcmp(k, "progress") == 0) {
      if (!is_bool) {
        ml_error(t->ctx, "ml_train(): option %s must be true or false", k);
        goto out;
      }
      *(k[0] == 'i' ? &o->intercept : &o->progress) = c->type == ML_JSON_TRUE;
    } else if (strcmp(k, "refine") == 0) {
      if (is_bool) {
        o->refine = c->type == ML_JSON_TRUE;
      } else if (c->type == ML_JSON_STRING && strcmp(c->str, "auto") == 0) {
        o->refine = -1;
      } else {
        ml_error(t->ctx, "ml_train(): option refine must be true, false or \"auto\"");
        goto out;
      }
    } else if (strcmp(k, "metrics") == 0) {
      if (c->type != ML_JSON_STRING || (strcmp(c->str, "basic") && strcmp(c->str, "full"))) {
        ml_error(t->ctx, "ml_train(): option metrics must be \"basic\" or \"full\"");
        goto out;
      }
      o->full_metrics = strcmp(c->str, "full") == 0;
    } else if (strcmp(k, "tol") == 0) {
      if (c->type != ML_JSON_NUMBER || !(c->num >= 0 && c->num < 1)) {
        ml_error(t->ctx, "ml_train(): option tol must be a number in [0, 1)");
        goto out;
      }
      o->tol = c->num;
    } else {
      ml_error(t->ctx, "ml_train(): unknown option '%s' (known: test_size, seed, key, intercept, "
                       "refine, metrics, progress, tol)", k);
      goto out;
    }
  }
  rc = 0;
out:
  ml_json_free(j);
  return rc;
}

/* The options as stored: every value, defaults filled in. */
static void options_json(ml_sb *b, const trainer *t) {
  const train_opts *o = &t->o;
  ml_sb_puts(b, "{\"test_size\":");
  ml_sb_json_number(b, o->test_size);
  ml_sb_printf(b, ",\"seed\":%lld,\"key\":", (long long)o->seed);
  if (t->has_key) ml_sb_json_string(b, o->key ? o->key : "rowid", strlen(o->key ? o->key : "rowid"));
  else ml_sb_puts(b, "null");
  ml_sb_printf(b, ",\"intercept\":%s,\"refine\":%s,\"metrics\":\"%s\",\"tol\":",
               o->intercept ? "true" : "false",
               o->refine < 0 ? "\"auto\"" : o->refine ? "true" : "false",
               o->full_metrics ? "full" : "basic");
  ml_sb_json_number(b, o->tol);
  ml_sb_puts(b, "}");
}

/* ---- source, features, the row statement ---- */

/* Reads the feature list: a JSON array, or '*' (also when v is NULL or absent). */
static int parse_features(trainer *t, sqlite3_value *v, char **cols, int ncol) {
  const char *text = !v || sqlite3_value_type(v) == SQLITE_NULL ? "*" : (const char *)sqlite3_value_text(v);
  if (!text) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  if (strcmp(text, "*") == 0) {
    t->feat = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)(ncol + 1));
    if (!t->feat) {
      sqlite3_result_error_nomem(t->ctx);
      return -1;
    }
    for (int i = 0; i < ncol; i++) {
      if (sqlite3_stricmp(cols[i], t->target) == 0) continue;
      if (t->o.key && sqlite3_stricmp(cols[i], t->o.key) == 0) continue;
      if (t->rowid_alias && sqlite3_stricmp(cols[i], t->rowid_alias) == 0) continue;
      t->feat[t->k] = sqlite3_mprintf("%s", cols[i]);
      if (!t->feat[t->k]) {
        sqlite3_result_error_nomem(t->ctx);
        return -1;
      }
      t->k++;
    }
    if (t->k == 0) return ml_error(t->ctx, "ml_train(): the source has no column besides the target");
    return 0;
  }
  ml_json *j;
  char err[96];
  int rc = ml_json_parse(text, strlen(text), &j, err, sizeof err);
  if (rc == -2) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  if (rc) return ml_error(t->ctx, "ml_train(): features are not valid JSON: %s", err);
  rc = -1;
  if (j->type != ML_JSON_ARRAY || j->len == 0) {
    ml_error(t->ctx, "ml_train(): features must be a JSON array of column names, or '*'");
    goto out;
  }
  t->feat = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)j->len);
  if (!t->feat) {
    sqlite3_result_error_nomem(t->ctx);
    goto out;
  }
  for (const ml_json *c = j->child; c; c = c->next) {
    if (c->type != ML_JSON_STRING || !c->str[0]) {
      ml_error(t->ctx, "ml_train(): features must be a JSON array of column names, or '*'");
      goto out;
    }
    int at = ml_find_name(cols, ncol, c->str);
    if (at < 0) {
      ml_error(t->ctx, "ml_train(): the source '%s' has no column '%s'", t->source, c->str);
      goto out;
    }
    if (sqlite3_stricmp(c->str, t->target) == 0) {
      ml_error(t->ctx, "ml_train(): '%s' is the target; it cannot be a feature too", c->str);
      goto out;
    }
    if (ml_find_name(t->feat, t->k, c->str) >= 0) {
      ml_error(t->ctx, "ml_train(): feature '%s' is listed twice", c->str);
      goto out;
    }
    t->feat[t->k] = sqlite3_mprintf("%s", cols[at]);
    if (!t->feat[t->k]) {
      sqlite3_result_error_nomem(t->ctx);
      goto out;
    }
    t->k++;
  }
  if (t->k + t->o.intercept > ML_MAX_TERMS) {
    ml_error(t->ctx, "ml_train(): %d features is more than the %d a model can have", t->k,
             ML_MAX_TERMS - t->o.intercept);
    goto out;
  }
  rc = 0;
out:
  ml_json_free(j);
  return rc;
}

static int prepare_rows(trainer *t, char **cols, int ncol) {
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_puts(&b, "SELECT ");
  if (t->o.key && sqlite3_stricmp(t->o.key, "rowid") != 0) {
    if (ml_find_name(cols, ncol, t->o.key) < 0)
      return ml_error(t->ctx, "ml_train(): the source '%s' has no column '%s' (option key)",
                      t->source, t->o.key);
    t->has_key = 1;
  } else if (t->o.key || t->rowid) {
    if (!t->rowid)
      return ml_error(t->ctx, "ml_train(): the source '%s' has no rowid (option key)", t->source);
    t->has_key = 1;
  }
  if (t->has_key) {
    char *q = t->o.key && sqlite3_stricmp(t->o.key, "rowid") != 0 ? sqlite3_mprintf("\"%w\", ", t->o.key)
                                                                  : sqlite3_mprintf("rowid, ");
    if (q) ml_sb_puts(&b, q);
    else b.oom = 1;
    sqlite3_free(q);
  }
  for (int j = -1; j < t->k; j++) {
    char *q = sqlite3_mprintf("%s\"%w\"", j < 0 ? "" : ", ", j < 0 ? t->target : t->feat[j]);
    if (q) ml_sb_puts(&b, q);
    else b.oom = 1;
    sqlite3_free(q);
  }
  ml_sb_puts(&b, " FROM ");
  ml_sb_puts(&b, t->from);
  char *sql = ml_sb_finish(&b, NULL);
  if (!sql) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  int rc = sqlite3_prepare_v2(t->db, sql, -1, &t->rows, NULL);
  ml_free(sql);
  if (rc != SQLITE_OK) {
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return -1;
  }
  return 0;
}

/* ---- the passes ---- */

/*
** Reads the current row: y into *y, the design into t->x, its side into
** *side.  Returns ML_V_NUM for a usable row, ML_V_NULL for a skipped one, or
** -1 after reporting.
*/
static int read_row(trainer *t, double *y, int *side) {
  int c0 = t->has_key, ic = t->o.intercept, any_null = 0;
  if (ic) t->x[0] = 1;
  for (int j = -1; j < t->k; j++) {
    sqlite3_value *v = sqlite3_column_value(t->rows, c0 + 1 + j);
    double d;
    int kind = ml_value_num(v, &d);
    if (kind == ML_V_NUM) {
      if (j < 0) *y = d;
      else t->x[ic + j] = d;
    } else if (kind == ML_V_NULL) {
      any_null = 1;
    } else {
      char what[160];
      snprintf(what, sizeof what, "column '%.100s'", j < 0 ? t->target : t->feat[j]);
      ml_value_error(t->ctx, "ml_train", what, kind, v, t->nread);
      return -1;
    }
  }
  *side = ML_SIDE_TRAIN;
  if (any_null) return ML_V_NULL;
  if (t->o.test_size > 0) {
    double u;
    if (t->has_key) {
      if (ml_split_u(sqlite3_column_value(t->rows, 0), t->o.seed, &u))
        return ml_error(t->ctx, "ml_train(): the key '%s' is NULL in row %lld; the split needs "
                                "a key on every row", t->o.key ? t->o.key : "rowid",
                        (long long)t->nread);
    } else {
      /* The row is its own key: its target and features, in order. */
      for (int j = 0; j <= t->k; j++) t->vals[j] = sqlite3_column_value(t->rows, j);
      ml_split_u_row(t->vals, t->k + 1, t->o.seed, &u);
    }
    *side = ml_split_side(u, t->o.test_size, 0);
  }
  return ML_V_NUM;
}

static void hash_u64(uint64_t h[2], uint64_t v) {
  h[0] = (h[0] ^ v) * 0x9E3779B97F4A7C15ull;
  h[0] ^= h[0] >> 32;
  h[1] = (h[1] ^ (v + 0x632BE59BD9B4E019ull)) * 0xC2B2AE3D27D4EB4Full;
  h[1] ^= h[1] >> 29;
}

static void hash_double(uint64_t h[2], double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  hash_u64(h, u);
}

#define HASH_SEED0 0x6A09E667F3BCC908ull
#define HASH_SEED1 0xBB67AE8584CAA73Bull

/* Folds one training row, as the fit sees it, into the fingerprint. */
static void hash_row(uint64_t h[2], double y, const double *x, int p) {
  hash_double(h, y);
  for (int j = 0; j < p; j++) hash_double(h, x[j]);
}

/* Seconds on a clock that only moves forward (wall-clock steps cannot make
** two reports closer than a second). */
static double monotonic_seconds(void) {
  struct timespec ts;
#ifdef _WIN32
  timespec_get(&ts, TIME_UTC);
#else
  clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/*
** With the progress option, one line to stderr once a second has passed
** since the start or the last line: a run under a second says nothing.  The
** clock is read every 256 rows (a reading costs ~20 ns, a row from a table
** ~150 ns: the check is lost in the noise), so a source slower than 256 rows
** a second reports late, never early.
*/
static void progress(trainer *t, const char *what) {
  if (!t->o.progress || (t->nread & 0xFF)) return;
  double now = monotonic_seconds();
  if (now - t->last_progress < 1) return;
  t->last_progress = now;
  fprintf(stderr, "ml_train: %s: %lld rows read\n", what, (long long)t->nread);
}

static int put_row(ml_lsq *a, const double *x, double y) {
  for (int j = 0; j < a->p; j++) ml_lsq_put(a, j, x[j]);
  ml_lsq_put(a, a->p, y);
  return ml_lsq_commit(a);
}

static int pass_one(trainer *t) {
  int rc, p = t->train.p;
  if (t->o.progress) t->last_progress = monotonic_seconds();
  while ((rc = sqlite3_step(t->rows)) == SQLITE_ROW) {
    t->nread++;
    progress(t, "fitting");
    double y;
    int side, r = read_row(t, &y, &side);
    if (r < 0) return -1;
    if (r == ML_V_NULL) {
      t->nskipped++;
      for (int j = 0; j <= t->k; j++)
        if (sqlite3_column_type(t->rows, t->has_key + j) == SQLITE_NULL) t->nulls[j]++;
      continue;
    }
    if (side == ML_SIDE_TEST) {
      welford_add(&t->wtest, y);
      rc = put_row(&t->test, t->x, y);
    } else {
      welford_add(&t->wtrain, y);
      hash_row(t->hash, y, t->x, p);
      rc = put_row(&t->train, t->x, y);
    }
    if (rc) {
      ml_result_code(t->ctx, "ml_train", rc);
      return -1;
    }
  }
  if (rc != SQLITE_DONE) {
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return -1;
  }
  return 0;
}

/*
** Does the one-pass fit need a refinement step?  Its forward error bound on
** the column-scaled problem is u k (1 + k |r| / (|X| |b|)) (Golub & Van Loan,
** 5.3.8), with k the condition estimate (dtrcon) of the kept columns' factor
** scaled to unit columns.  Below REFINE_ABOVE a refinement step cannot move
** the coefficients in the digits anyone reads; above, it runs.
*/
static int needs_refinement(const ml_model *m) {
  int q = m->p + 1, r, need = 1;
  double *W = sqlite3_malloc64(8 * (sqlite3_uint64)q * (sqlite3_uint64)q);
  double *work = sqlite3_malloc64(8 * 3 * (sqlite3_uint64)q);
  lapack_int *iwork = sqlite3_malloc64(sizeof(lapack_int) * (sqlite3_uint64)q);
  unsigned char *al = sqlite3_malloc64((sqlite3_uint64)m->p);
  if (!W || !work || !iwork || !al) goto out;
  memcpy(al, m->aliased, (size_t)m->p);
  if (ml_lsq_reduce(m->R, q, -1, al, W, &r) || r == 0) goto out;
  double bn = 0, rcond;
  for (int j = 0, k = 0; j < m->p; j++) {
    if (m->aliased[j]) continue;
    double c = 0;
    for (int i = 0; i <= k; i++) c = hypot(c, W[i + (int64_t)k * q]);
    for (int i = 0; i <= k; i++) W[i + (int64_t)k * q] = c > 0 ? W[i + (int64_t)k * q] / c : 0;
    bn = hypot(bn, c * m->beta[j]);
    k++;
  }
  if (LAPACKE_dtrcon_work(LAPACK_COL_MAJOR, '1', 'U', 'N', r, W, q, &rcond, work, iwork) == 0 &&
      rcond > 0) {
    double kappa = 1 / rcond, rn = fabs(m->R[m->p + (int64_t)m->p * q]);
    double bound = DBL_EPSILON * kappa * (1 + kappa * rn / (sqrt((double)r) * (bn > 0 ? bn : 1)));
    need = bound > REFINE_ABOVE;
  }
out:
  sqlite3_free(W);
  sqlite3_free(work);
  sqlite3_free(iwork);
  sqlite3_free(al);
  return need;
}

static int pass_two(trainer *t, int refine) {
  int rc, p = t->m->p;
  sqlite3_int64 ntrain = 0, ntest = 0;
  const double *b = t->m->beta;
  uint64_t hash[2] = {HASH_SEED0, HASH_SEED1};
  t->nread = 0;
  sqlite3_reset(t->rows);
  while ((rc = sqlite3_step(t->rows)) == SQLITE_ROW) {
    t->nread++;
    progress(t, refine ? "refining" : "measuring");
    double y;
    int side, r = read_row(t, &y, &side);
    if (r < 0) return -1;
    if (r == ML_V_NULL) continue;
    long double e = y;
    for (int j = 0; j < p; j++) e -= (long double)b[j] * t->x[j];
    abs_err *ae = side == ML_SIDE_TEST ? &t->etest : &t->etrain;
    double ad = fabs((double)e);
    ae->sum += ad;
    if (ad > ae->max) ae->max = ad;
    if (side == ML_SIDE_TEST) {
      ntest++;
      continue;
    }
    ntrain++;
    hash_row(hash, y, t->x, p);
    if (refine) {
      for (int j = 0; j < p; j++) t->g[j] += e * t->x[j];
      t->g[p] += e * e;
    }
  }
  if (rc != SQLITE_DONE) {
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return -1;
  }
  if (ntrain != t->m->n || ntest != t->test.n || hash[0] != t->hash[0] || hash[1] != t->hash[1])
    return ml_error(t->ctx, "ml_train(): the source changed while it was read twice (another "
                            "connection wrote to it); train again");
  return 0;
}

/* One refinement step from t->g (see ml_refine in fit.c for the method). */
static int refine_step(trainer *t) {
  ml_model *m = t->m;
  int q = m->p + 1, rank;
  double *W = sqlite3_malloc64(8 * (sqlite3_uint64)q * (sqlite3_uint64)q);
  double *d = sqlite3_malloc64(8 * (sqlite3_uint64)q);
  int rc = -1;
  if (!W || !d) {
    sqlite3_result_error_nomem(t->ctx);
    goto out;
  }
  if (ml_lsq_reduce(m->R, q, -1, m->aliased, W, &rank)) {
    sqlite3_result_error_nomem(t->ctx);
    goto out;
  }
  for (int j = 0, k = 0; j < m->p; j++)
    if (!m->aliased[j]) d[k++] = (double)t->g[j];
  if (rank > 0 &&
      (LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'T', 'N', rank, 1, W, q, d, rank) < 0 ||
       LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'N', 'N', rank, 1, W, q, d, rank) < 0)) {
    ml_result_code(t->ctx, "ml_train", ML_ELAPACK);
    goto out;
  }
  long double rss = t->g[m->p], wd2 = 0;
  for (int j = 0, k = 0; j < m->p; j++)
    if (!m->aliased[j]) rss -= 2 * (long double)d[k++] * t->g[j];
  for (int i = 0; i < rank; i++) {
    long double wi = 0;
    for (int j = i; j < rank; j++) wi += (long double)W[i + (int64_t)j * q] * d[j];
    wd2 += wi * wi;
  }
  rss += wd2;
  for (int j = 0, k = 0; j < m->p; j++)
    if (!m->aliased[j]) m->beta[j] += d[k++];
  m->rss = rss > 0 ? (double)rss : 0;
  m->flags |= ML_MODEL_REFINED;
  t->refined = 1;
  rc = 0;
out:
  sqlite3_free(W);
  sqlite3_free(d);
  return rc;
}

/* ||R_t [b; -1]||^2: the test rows' residual sum of squares for b. */
static double test_rss(const ml_lsq *a, const double *b) {
  int m = a->m, p = a->p;
  long double s = 0;
  for (int i = 0; i < m; i++) {
    long double r = -a->R[i + (int64_t)p * m];
    for (int j = i; j < p; j++) r += (long double)a->R[i + (int64_t)j * m] * b[j];
    s += r * r;
  }
  return (double)s;
}

static void metrics_set(ml_sb *b, const char *name, sqlite3_int64 n, double rss, const welford *w,
                        const abs_err *ae, int full) {
  ml_sb_printf(b, "\"%s\":{\"n\":%lld,\"r2\":", name, (long long)n);
  ml_sb_json_number(b, n > 0 && w->m2 > 0 ? 1 - rss / (double)w->m2 : NAN);
  ml_sb_puts(b, ",\"rmse\":");
  ml_sb_json_number(b, n > 0 ? sqrt(rss / (double)n) : NAN);
  if (full) {
    ml_sb_puts(b, ",\"mae\":");
    ml_sb_json_number(b, n > 0 ? (double)(ae->sum / n) : NAN);
    ml_sb_puts(b, ",\"max_error\":");
    ml_sb_json_number(b, n > 0 ? ae->max : NAN);
  }
  ml_sb_puts(b, "}");
}

/* ---- storing ---- */

static char *utc_now(void) {
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

static int store(trainer *t, const unsigned char *blob, int64_t nblob, const char *features,
                 const char *options, const char *metrics, const char *hash, const char *created,
                 sqlite3_int64 *version) {
  int rc = ml_registry_ensure(t->db);
  if (rc != SQLITE_OK) return rc;
  sqlite3_stmt *st;
  rc = sqlite3_prepare_v2(t->db,
                          "INSERT INTO ml_model_versions(name, version, created_at, kind, source, "
                          "target, features, options, n_train, n_test, n_skipped, metrics, "
                          "data_hash, sqlml_version, model) "
                          "SELECT ?1, coalesce(max(version), 0) + 1, ?2, 'linear_regression', ?3, "
                          "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13 "
                          "FROM ml_model_versions WHERE name = ?1 RETURNING version",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, created, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, t->source, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, t->target, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, features, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, options, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, t->m->n);
  sqlite3_bind_int64(st, 8, t->test.n);
  sqlite3_bind_int64(st, 9, t->nskipped);
  sqlite3_bind_text(st, 10, metrics, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 11, hash, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 12, SQLML_VERSION, -1, SQLITE_STATIC);
  sqlite3_bind_blob64(st, 13, blob, (sqlite3_uint64)nblob, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *version = sqlite3_column_int64(st, 0);
    rc = sqlite3_step(st);
  }
  int frc = sqlite3_finalize(st);
  return rc == SQLITE_DONE ? frc : rc;
}

/* ---- ml_train ---- */

static void trainer_free(trainer *t) {
  sqlite3_finalize(t->rows);
  sqlite3_free(t->from);
  sqlite3_free(t->table);
  sqlite3_free(t->rowid_alias);
  ml_free_names(t->feat, t->k);
  sqlite3_free((char *)t->o.key);
  sqlite3_free(t->nulls);
  sqlite3_free(t->x);
  sqlite3_free(t->vals);
  sqlite3_free(t->gmem);
  ml_lsq_free(&t->train);
  ml_lsq_free(&t->test);
  ml_model_free(t->m);
}

static const char *text_or_null(sqlite3_value *v) {
  return sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
}

/* Everything after the arguments are read, inside the transaction. */
static int train(trainer *t, ml_sb *summary) {
  int rc, q, p = t->k + t->o.intercept;
  char *hash = NULL, *created = NULL, *features = NULL, *options = NULL, *metrics = NULL;
  unsigned char *blob = NULL;
  int64_t nblob;
  t->x = sqlite3_malloc64(8 * (sqlite3_uint64)p);
  t->vals = sqlite3_malloc64(sizeof(sqlite3_value *) * (sqlite3_uint64)(t->k + 1));
  t->nulls = sqlite3_malloc64(sizeof(sqlite3_int64) * (sqlite3_uint64)(t->k + 1));
  if (!t->x || !t->vals || !t->nulls || ml_lsq_init(&t->train, p) || ml_lsq_init(&t->test, p)) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  memset(t->nulls, 0, sizeof(sqlite3_int64) * (size_t)(t->k + 1));
  t->hash[0] = HASH_SEED0;
  t->hash[1] = HASH_SEED1;
  if (pass_one(t)) return -1;
  if (t->train.n == 0)
    return ml_error(t->ctx, "ml_train(): no rows to train on: %lld rows read, %lld skipped for a "
                            "NULL, %lld in the test set", (long long)t->nread,
                    (long long)t->nskipped, (long long)t->test.n);
  if (ml_lsq_fold(&t->train) || ml_lsq_fold(&t->test)) {
    ml_result_code(t->ctx, "ml_train", ML_ELAPACK);
    return -1;
  }
  t->m = ml_model_new(t->k, p);
  if (!t->m) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  ml_model *m = t->m;
  q = p + 1;
  memcpy(m->R, t->train.R, 8 * (size_t)q * (size_t)q);
  m->flags = t->o.intercept ? ML_MODEL_INTERCEPT : 0;
  m->n = t->train.n;
  m->n_skipped = t->nskipped;
  m->tol = t->o.tol;
  rc = ml_model_set_name(m, -1, t->target);
  for (int j = 0; j < t->k && !rc; j++) rc = ml_model_set_name(m, j, t->feat[j]);
  if (!rc) rc = ml_model_solve(m);
  if (rc) {
    ml_result_code(t->ctx, "ml_train", rc);
    return -1;
  }

  int refine = t->o.refine < 0 ? needs_refinement(m) : t->o.refine;
  if (refine || t->o.full_metrics) {
    t->gmem = sqlite3_malloc64(sizeof(long double) * (sqlite3_uint64)(p + 2));
    if (!t->gmem) {
      sqlite3_result_error_nomem(t->ctx);
      return -1;
    }
    /* SQLite's allocator aligns to 8 bytes; long double wants 16. */
    t->g = (long double *)(((uintptr_t)t->gmem + 15) & ~(uintptr_t)15);
    memset(t->g, 0, sizeof(long double) * (size_t)(p + 1));
    if (pass_two(t, refine)) return -1;
    if (refine && refine_step(t)) return -1;
  }
  double rss_train = t->refined ? m->rss : test_rss(&t->train, m->beta);
  t->rss_test = t->test.n ? test_rss(&t->test, m->beta) : NAN;

  /* The fingerprint: training values in scan order, then what decided the split. */
  hash_u64(t->hash, (uint64_t)m->n);
  hash_double(t->hash, t->o.test_size);
  hash_u64(t->hash, (uint64_t)t->o.seed);
  const char *kn = t->has_key ? (t->o.key ? t->o.key : "rowid") : "";
  for (const char *c = kn; *c; c++) hash_u64(t->hash, (unsigned char)*c);
  hash = sqlite3_mprintf("%016llx%016llx", (unsigned long long)t->hash[0],
                         (unsigned long long)t->hash[1]);
  created = utc_now();

  ml_sb b;
  ml_sb_init(&b);
  ml_sb_puts(&b, "[");
  for (int j = 0; j < t->k; j++) {
    if (j) ml_sb_puts(&b, ",");
    ml_sb_json_string(&b, t->feat[j], strlen(t->feat[j]));
  }
  ml_sb_puts(&b, "]");
  features = ml_sb_finish(&b, NULL);
  options_json(&b, t);
  options = ml_sb_finish(&b, NULL);
  ml_sb_puts(&b, "{");
  metrics_set(&b, "train", m->n, rss_train, &t->wtrain, &t->etrain, t->o.full_metrics);
  ml_sb_puts(&b, ",");
  metrics_set(&b, "test", t->test.n, t->rss_test, &t->wtest, &t->etest, t->o.full_metrics);
  ml_sb_puts(&b, "}");
  metrics = ml_sb_finish(&b, NULL);
  rc = -1;
  if (!hash || !created || !features || !options || !metrics ||
      ml_model_encode(m, SQLML_VERSION, &blob, &nblob)) {
    sqlite3_result_error_nomem(t->ctx);
    goto out;
  }
  sqlite3_int64 version = 0;
  int src = store(t, blob, nblob, features, options, metrics, hash, created, &version);
  if (src != SQLITE_OK) {
    ml_result_db_error(t->ctx, "ml_train", t->db, src);
    goto out;
  }
  ml_sb_puts(summary, "{\"model\":");
  ml_sb_json_string(summary, t->name, strlen(t->name));
  ml_sb_printf(summary, ",\"version\":%lld,\"n_train\":%lld,\"n_test\":%lld,\"n_skipped\":%lld",
               (long long)version, (long long)m->n, (long long)t->test.n, (long long)t->nskipped);
  ml_sb_puts(summary, ",\"nulls\":{");
  for (int j = -1; j < t->k; j++) {
    const char *c = j < 0 ? t->target : t->feat[j];
    if (j >= 0) ml_sb_puts(summary, ",");
    ml_sb_json_string(summary, c, strlen(c));
    ml_sb_printf(summary, ":%lld", (long long)t->nulls[j + 1]);
  }
  ml_sb_printf(summary, "},\"refined\":%s,\"metrics\":%s,\"data_hash\":\"%s\",\"created_at\":\"%s\"}",
               t->refined ? "true" : "false", metrics, hash, created);
  rc = 0;
out:
  sqlite3_free(hash);
  sqlite3_free(created);
  ml_free(features);
  ml_free(options);
  ml_free(metrics);
  ml_free(blob);
  return rc;
}

void ml_train_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  trainer t;
  memset(&t, 0, sizeof t);
  t.ctx = ctx;
  t.db = sqlite3_context_db_handle(ctx);
  char **cols = NULL, *err = NULL;
  int ncol = 0;
  ml_sb summary;
  ml_sb_init(&summary);
  if (argc < 3) {
    ml_error(ctx, "ml_train(): expected a name, a source and a target, got %d arguments", argc);
    return;
  }
  t.name = text_or_null(argv[0]);
  t.source = text_or_null(argv[1]);
  t.target = text_or_null(argv[2]);
  if ((err = ml_check_model_name("ml_train", t.name)) != NULL) goto fail;
  if (!t.source) {
    ml_error(ctx, "ml_train(): argument 2 must be a table, a view or a query");
    goto done;
  }
  if (!t.target || !t.target[0]) {
    ml_error(ctx, "ml_train(): argument 3 must be the name of the target column");
    goto done;
  }
  if (argc > 4 && sqlite3_value_type(argv[4]) != SQLITE_NULL && !text_or_null(argv[4])) {
    ml_error(ctx, "ml_train(): argument 5 must be a JSON object of options");
    goto done;
  }
  if (parse_options(&t, argc > 4 ? text_or_null(argv[4]) : NULL)) goto done;

  t.from = ml_source_sql(t.db, "ml_train", t.source, &t.table, &err);
  if (!t.from) goto fail;
  /* Without a key, '*' leaves out the rowid under its other name too. */
  t.rowid = ml_table_rowid(t.db, t.table, t.o.key ? NULL : &t.rowid_alias);
  cols = ml_source_columns(t.db, "ml_train", t.from, t.source, &ncol, &err);
  if (!cols) goto fail;
  if (ml_find_name(cols, ncol, t.target) < 0) {
    err = sqlite3_mprintf("ml_train(): the source '%s' has no column '%s' (the target)", t.source,
                          t.target);
    goto fail;
  }
  if (argc > 3 && sqlite3_value_type(argv[3]) != SQLITE_NULL && !text_or_null(argv[3])) {
    ml_error(ctx, "ml_train(): argument 4 must be a JSON array of feature names, or '*'");
    goto done;
  }
  if (parse_features(&t, argc > 3 ? argv[3] : NULL, cols, ncol)) goto done;
  if (prepare_rows(&t, cols, ncol)) goto done;
  if (train(&t, &summary)) goto done;
  sqlite3_finalize(t.rows);
  t.rows = NULL;
  size_t n;
  char *z = ml_sb_finish(&summary, &n);
  if (z) {
    sqlite3_result_text64(ctx, z, n, ml_free, SQLITE_UTF8);
    sqlite3_result_subtype(ctx, 'J');
  } else {
    sqlite3_result_error_nomem(ctx);
  }
  goto done;
fail:
  if (err) {
    sqlite3_result_error(ctx, err, -1);
    sqlite3_free(err);
  } else {
    sqlite3_result_error_nomem(ctx);
  }
done:
  sqlite3_finalize(t.rows);
  t.rows = NULL;
  ml_sb_reset(&summary);
  ml_free_names(cols, ncol);
  trainer_free(&t);
}
