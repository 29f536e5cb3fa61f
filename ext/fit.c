/*
** fit.c: fitting in place, as aggregates.
**
**   SELECT ml_fit(y, x1, ..., xk) FROM t;           -- model BLOB, with an intercept
**   SELECT ml_fit_opts('{"intercept":false}', y, x1, ..., xk) FROM t;
**   SELECT g, ml_fit(y, x1, x2) FROM t GROUP BY g;  -- one model per group
**   SELECT ml_merge(m) FROM fits;                   -- the fit of the union of the rows
**   SELECT ml_merge(a, b);
**   SELECT ml_refine(model, y, x1, ..., xk) FROM t; -- one step of iterative refinement
**
** Rows stream into the QR accumulator of lsq.c; a row with a NULL is skipped
** and counted.  Aggregate contexts hold only a pointer to state allocated
** apart: the context is merely 8-byte aligned, and the refinement state holds
** long double.
*/
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lapacke.h>

#include "json.h"
#include "lsq.h"
#include "sqlml_int.h"

static void error_fmt(sqlite3_context *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  if (msg) sqlite3_result_error(ctx, msg, -1);
  else sqlite3_result_error_nomem(ctx);
  sqlite3_free(msg);
}

void ml_result_model(sqlite3_context *ctx, const char *fname, const ml_model *m) {
  unsigned char *blob;
  int64_t len;
  int rc = ml_model_encode(m, SQLML_VERSION, &blob, &len);
  if (rc) {
    ml_result_code(ctx, fname, rc);
    return;
  }
  sqlite3_result_blob64(ctx, blob, (sqlite3_uint64)len, sqlite3_free);
}

/* ---- ml_fit, ml_fit_opts ---- */

typedef struct fit_state {
  const char *fname;
  ml_lsq acc;
  int k;            /* features */
  int intercept;
  double tol;
  int64_t rows;     /* rows seen */
  int64_t skipped;  /* rows with a NULL */
  char *opts;       /* ml_fit_opts: the options text, which must stay the same */
  int nopts;
  int failed;       /* an error was reported: skip the work in xFinal */
} fit_state;

static void fit_state_free(fit_state *s) {
  if (!s) return;
  ml_lsq_free(&s->acc);
  sqlite3_free(s->opts);
  sqlite3_free(s);
}

/* Reads ml_fit_opts' JSON options into s; 0 or -1 after reporting. */
static int fit_options(sqlite3_context *ctx, fit_state *s, sqlite3_value *v) {
  if (sqlite3_value_type(v) != SQLITE_TEXT) {
    error_fmt(ctx, "ml_fit_opts(): argument 1 must be a JSON object of options");
    return -1;
  }
  const char *z = (const char *)sqlite3_value_text(v);
  int n = sqlite3_value_bytes(v);
  s->opts = sqlite3_malloc(n + 1);
  if (!s->opts) {
    sqlite3_result_error_nomem(ctx);
    return -1;
  }
  memcpy(s->opts, z, (size_t)n + 1);
  s->nopts = n;
  ml_json *o = NULL;
  char err[96];
  int rc = ml_json_parse(z, (size_t)n, &o, err, sizeof err);
  if (rc == -2) {
    sqlite3_result_error_nomem(ctx);
    return -1;
  }
  if (rc) {
    error_fmt(ctx, "ml_fit_opts(): options are not valid JSON: %s", err);
    return -1;
  }
  rc = -1;
  if (o->type != ML_JSON_OBJECT) {
    error_fmt(ctx, "ml_fit_opts(): options must be a JSON object, got %s",
              ml_json_type_name(o->type));
    goto out;
  }
  for (const ml_json *c = o->child; c; c = c->next) {
    if (strcmp(c->key, "intercept") == 0) {
      if (c->type != ML_JSON_TRUE && c->type != ML_JSON_FALSE) {
        error_fmt(ctx, "ml_fit_opts(): option intercept must be true or false");
        goto out;
      }
      s->intercept = c->type == ML_JSON_TRUE;
    } else if (strcmp(c->key, "tol") == 0) {
      if (c->type != ML_JSON_NUMBER || !(c->num >= 0 && c->num < 1)) {
        error_fmt(ctx, "ml_fit_opts(): option tol must be a number in [0, 1)");
        goto out;
      }
      s->tol = c->num;
    } else {
      error_fmt(ctx, "ml_fit_opts(): unknown option '%s' (known: intercept, tol)", c->key);
      goto out;
    }
  }
  rc = 0;
out:
  ml_json_free(o);
  return rc;
}

/* The state of this group, created on its first row; NULL after reporting. */
static fit_state *fit_begin(sqlite3_context *ctx, const char *fname, int argc,
                            sqlite3_value **argv, int nopt) {
  fit_state **pp = sqlite3_aggregate_context(ctx, sizeof *pp);
  if (!pp) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  fit_state *s = *pp;
  if (s) {
    if (s->failed) return NULL;
    if (nopt && (sqlite3_value_bytes(argv[0]) != s->nopts ||
                 memcmp(sqlite3_value_text(argv[0]), s->opts, (size_t)s->nopts) != 0)) {
      error_fmt(ctx, "%s(): the options changed between rows; they must be the same", fname);
      s->failed = 1;
      return NULL;
    }
    return s;
  }
  int k = argc - nopt - 1;
  if (k < 1) {
    error_fmt(ctx, "%s(): expected %sa response and at least one feature, got %d arguments",
              fname, nopt ? "options, " : "", argc);
    return NULL;
  }
  s = sqlite3_malloc(sizeof *s);
  if (!s) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  memset(s, 0, sizeof *s);
  *pp = s;
  s->fname = fname;
  s->k = k;
  s->intercept = 1;
  s->tol = ML_LSQ_TOL;
  if (nopt && fit_options(ctx, s, argv[0])) {
    s->failed = 1;
    return NULL;
  }
  if (ml_lsq_init(&s->acc, k + s->intercept)) {
    s->failed = 1;
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  return s;
}

/* Adds one row: yx[0] is y, yx[1..k] the features (argument offset argoff). */
static void fit_row(sqlite3_context *ctx, fit_state *s, sqlite3_value **yx, int argoff) {
  ml_lsq *a = &s->acc;
  int ic = s->intercept, has_null = 0;
  s->rows++;
  for (int j = 0; j <= s->k; j++) {
    double v;
    int kind = ml_value_num(yx[j], &v);
    if (kind == ML_V_NUM) {
      ml_lsq_put(a, j ? ic + j - 1 : a->p, v);
    } else if (kind == ML_V_NULL) {
      has_null = 1;
    } else {
      char what[32];
      snprintf(what, sizeof what, "argument %d", argoff + j + 1);
      ml_value_error(ctx, s->fname, what, kind, yx[j], s->rows);
      s->failed = 1;
      return;
    }
  }
  if (has_null) {
    s->skipped++;
    return;
  }
  if (ic) ml_lsq_put(a, 0, 1.0);
  int rc = ml_lsq_commit(a);
  if (rc) {
    s->failed = 1;
    ml_result_code(ctx, s->fname, rc);
  }
}

void ml_fit_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  fit_state *s = fit_begin(ctx, "ml_fit", argc, argv, 0);
  if (s) fit_row(ctx, s, argv, 0);
}

void ml_fit_opts_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  fit_state *s = fit_begin(ctx, "ml_fit_opts", argc, argv, 1);
  if (s) fit_row(ctx, s, argv + 1, 1);
}

/* A model for the accumulated factor of s, solved; NULL after reporting. */
static ml_model *fit_model(sqlite3_context *ctx, fit_state *s) {
  int rc = ml_lsq_fold(&s->acc);
  ml_model *m = rc ? NULL : ml_model_new(s->k, s->acc.p);
  if (!m) {
    ml_result_code(ctx, s->fname, rc ? rc : ML_NOMEM);
    return NULL;
  }
  int q = s->acc.m;
  memcpy(m->R, s->acc.R, 8 * (size_t)q * (size_t)q);
  m->flags = s->intercept ? ML_MODEL_INTERCEPT : 0;
  m->n = s->acc.n;
  m->n_skipped = s->skipped;
  m->tol = s->tol;
  rc = ml_model_set_name(m, -1, "y");
  for (int j = 0; j < s->k && !rc; j++) {
    char name[16];
    snprintf(name, sizeof name, "x%d", j + 1);
    rc = ml_model_set_name(m, j, name);
  }
  if (!rc) rc = ml_model_solve(m);
  if (rc) {
    ml_model_free(m);
    ml_result_code(ctx, s->fname, rc);
    return NULL;
  }
  return m;
}

static void fit_final(sqlite3_context *ctx, const char *fname) {
  fit_state **pp = sqlite3_aggregate_context(ctx, 0);
  fit_state *s = pp ? *pp : NULL;
  if (!s) {
    error_fmt(ctx, "%s(): no rows to fit", fname);
    return;
  }
  if (!s->failed) {
    if (s->acc.n == 0) {
      error_fmt(ctx, "%s(): no usable rows: all %lld rows have a NULL response or feature",
                s->fname, (long long)s->rows);
    } else {
      ml_model *m = fit_model(ctx, s);
      if (m) ml_result_model(ctx, s->fname, m);
      ml_model_free(m);
    }
  }
  fit_state_free(s);
  *pp = NULL;
}

void ml_fit_final(sqlite3_context *ctx) { fit_final(ctx, "ml_fit"); }
void ml_fit_opts_final(sqlite3_context *ctx) { fit_final(ctx, "ml_fit_opts"); }

/* ---- ml_merge ---- */

typedef struct merge_state {
  ml_model *m;  /* the first model: its features and options describe the merge */
  ml_lsq acc;
  int failed;
} merge_state;

/* Folds model o into the state (taking o's features if it is the first). */
static int merge_in(sqlite3_context *ctx, const char *fname, merge_state *s, ml_model **o) {
  char err[160];
  if (!s->m) {
    if (ml_lsq_init(&s->acc, (*o)->p)) {
      sqlite3_result_error_nomem(ctx);
      return -1;
    }
    int q = (*o)->p + 1;
    memcpy(s->acc.R, (*o)->R, 8 * (size_t)q * (size_t)q);
    s->m = *o;
    *o = NULL;
    return 0;
  }
  if (!ml_model_compatible(s->m, *o, err, sizeof err)) {
    error_fmt(ctx, "%s(): cannot merge: %s", fname, err);
    return -1;
  }
  int rc = ml_lsq_merge(&s->acc, (*o)->R, (*o)->p + 1);
  if (rc) {
    ml_result_code(ctx, fname, rc);
    return -1;
  }
  s->m->n += (*o)->n;
  s->m->n_skipped += (*o)->n_skipped;
  return 0;
}

/* Decodes argument i as a model; NULL after reporting (or for a NULL value). */
static ml_model *decode_arg(sqlite3_context *ctx, const char *fname, sqlite3_value *v, int i) {
  if (sqlite3_value_type(v) != SQLITE_BLOB) {
    error_fmt(ctx, "%s(): argument %d must be a model BLOB, got %s", fname, i,
              sqlite3_value_type(v) == SQLITE_TEXT ? "text" : "a number");
    return NULL;
  }
  ml_model *m;
  char err[200];
  const unsigned char *z = sqlite3_value_blob(v);
  int rc = ml_model_decode(z, sqlite3_value_bytes(v), &m, err, sizeof err);
  if (rc == ML_NOMEM) sqlite3_result_error_nomem(ctx);
  else if (rc) error_fmt(ctx, "%s(): argument %d: %s", fname, i, err);
  return rc ? NULL : m;
}

static void merge_result(sqlite3_context *ctx, const char *fname, merge_state *s) {
  int q = s->m->p + 1;
  int rc = ml_lsq_fold(&s->acc);
  if (!rc) {
    memcpy(s->m->R, s->acc.R, 8 * (size_t)q * (size_t)q);
    rc = ml_model_solve(s->m);
  }
  if (rc) ml_result_code(ctx, fname, rc);
  else ml_result_model(ctx, fname, s->m);
}

void ml_merge_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  merge_state **pp = sqlite3_aggregate_context(ctx, sizeof *pp);
  if (!pp) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (!*pp) {
    *pp = sqlite3_malloc(sizeof **pp);
    if (!*pp) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    memset(*pp, 0, sizeof **pp);
  }
  merge_state *s = *pp;
  if (s->failed || sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  ml_model *o = decode_arg(ctx, "ml_merge", argv[0], 1);
  if (!o || merge_in(ctx, "ml_merge", s, &o)) s->failed = 1;
  ml_model_free(o);
}

void ml_merge_final(sqlite3_context *ctx) {
  merge_state **pp = sqlite3_aggregate_context(ctx, 0);
  merge_state *s = pp ? *pp : NULL;
  if (!s) return; /* no rows: NULL, as sum() */
  if (!s->failed && s->m) merge_result(ctx, "ml_merge", s);
  ml_model_free(s->m);
  ml_lsq_free(&s->acc);
  sqlite3_free(s);
  *pp = NULL;
}

void ml_merge2_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
    return;
  merge_state s;
  memset(&s, 0, sizeof s);
  ml_model *a = decode_arg(ctx, "ml_merge", argv[0], 1), *b = NULL;
  if (a && !merge_in(ctx, "ml_merge", &s, &a)) {
    b = decode_arg(ctx, "ml_merge", argv[1], 2);
    if (b && !merge_in(ctx, "ml_merge", &s, &b)) merge_result(ctx, "ml_merge", &s);
  }
  ml_model_free(a);
  ml_model_free(b);
  ml_model_free(s.m);
  ml_lsq_free(&s.acc);
}

/* ---- ml_refine ---- */

/*
** One step of iterative refinement by the corrected semi-normal equations
** (Bjorck): with the residuals r = y - X b of the current coefficients,
** accumulated in long double, the correction d solves R'R d = X'r using the
** factor R of the fit, and b + d is the refined solution.  Each step shrinks
** the error by about cond(X) * 2^-53, and the extended-precision residuals
** carry the large-residual problems (NIST Wampler5) to full accuracy.
*/
typedef struct refine_state {
  unsigned char *blob;  /* the model argument, which must not change */
  int nblob;
  ml_model *m;
  double *x;            /* design row */
  long double *g;       /* X'r in g[0..p), r'r in g[p]: 16-byte aligned within mem, */
  void *mem;            /* as SQLite's allocator only promises 8 (so no long double */
  int64_t rows, skipped; /* in this struct either) */
  int failed;
} refine_state;

static void refine_state_free(refine_state *s) {
  if (!s) return;
  ml_model_free(s->m);
  sqlite3_free(s->blob);
  sqlite3_free(s->x);
  sqlite3_free(s->mem);
  sqlite3_free(s);
}

static refine_state *refine_begin(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  refine_state **pp = sqlite3_aggregate_context(ctx, sizeof *pp);
  if (!pp) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  refine_state *s = *pp;
  if (s) {
    if (s->failed) return NULL;
    if (sqlite3_value_bytes(argv[0]) != s->nblob ||
        memcmp(sqlite3_value_blob(argv[0]), s->blob, (size_t)s->nblob) != 0) {
      error_fmt(ctx, "ml_refine(): the model changed between rows; it must be the same");
      s->failed = 1;
      return NULL;
    }
    return s;
  }
  s = sqlite3_malloc(sizeof *s);
  if (!s) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  memset(s, 0, sizeof *s);
  *pp = s;
  s->failed = 1;
  s->m = decode_arg(ctx, "ml_refine", argv[0], 1);
  if (!s->m) return NULL;
  if (argc - 2 != s->m->k) {
    error_fmt(ctx, "ml_refine(): the model has %d features, got %d", s->m->k, argc - 2);
    return NULL;
  }
  int p = s->m->p;
  s->nblob = sqlite3_value_bytes(argv[0]);
  s->blob = sqlite3_malloc64((sqlite3_uint64)s->nblob + 1);
  s->x = sqlite3_malloc64(8 * (sqlite3_uint64)p);
  s->mem = sqlite3_malloc64(sizeof(long double) * (sqlite3_uint64)(p + 2));
  if (!s->blob || !s->x || !s->mem) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  memcpy(s->blob, sqlite3_value_blob(argv[0]), (size_t)s->nblob);
  /* SQLite's allocator aligns to 8 bytes; long double wants 16. */
  s->g = (long double *)(((uintptr_t)s->mem + 15) & ~(uintptr_t)15);
  memset(s->g, 0, sizeof(long double) * (size_t)(p + 1));
  s->failed = 0;
  return s;
}

void ml_refine_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (argc < 3) {
    error_fmt(ctx, "ml_refine(): expected a model, a response and features, got %d arguments",
              argc);
    return;
  }
  refine_state *s = refine_begin(ctx, argc, argv);
  if (!s) return;
  const ml_model *m = s->m;
  s->rows++;
  double y;
  int kind = ml_value_num(argv[1], &y);
  if (kind != ML_V_NUM && kind != ML_V_NULL) {
    ml_value_error(ctx, "ml_refine", "argument 2", kind, argv[1], s->rows);
    s->failed = 1;
    return;
  }
  int row = ml_design_row(ctx, "ml_refine", m, argv + 2, s->x);
  if (row < 0) {
    s->failed = 1;
    return;
  }
  if (row == ML_V_NULL || kind == ML_V_NULL) {
    s->skipped++;
    return;
  }
  long double r = y;
  for (int j = 0; j < m->p; j++) r -= (long double)m->beta[j] * s->x[j];
  for (int j = 0; j < m->p; j++) s->g[j] += r * s->x[j];
  s->g[m->p] += r * r;
}

void ml_refine_final(sqlite3_context *ctx) {
  refine_state **pp = sqlite3_aggregate_context(ctx, 0);
  refine_state *s = pp ? *pp : NULL;
  if (!s) {
    sqlite3_result_error(ctx, "ml_refine(): no rows", -1);
    return;
  }
  ml_model *m = s->m;
  double *W = NULL, *d = NULL;
  if (s->failed) goto out;
  int64_t used = s->rows - s->skipped;
  if (used != m->n || s->skipped != m->n_skipped) {
    error_fmt(ctx,
              "ml_refine(): the model was fit on %lld rows (%lld skipped), "
              "but these are %lld rows (%lld skipped): refine over the same rows",
              (long long)m->n, (long long)m->n_skipped, (long long)used, (long long)s->skipped);
    goto out;
  }
  int q = m->p + 1, rank, rc;
  W = sqlite3_malloc64(8 * (sqlite3_uint64)q * (sqlite3_uint64)q);
  d = sqlite3_malloc64(8 * (sqlite3_uint64)q);
  if (!W || !d) {
    sqlite3_result_error_nomem(ctx);
    goto out;
  }
  rc = ml_lsq_reduce(m->R, q, -1, m->aliased, W, &rank);
  if (rc) {
    ml_result_code(ctx, "ml_refine", rc);
    goto out;
  }
  /* d = (W'W)^-1 g over the kept columns: two triangular solves. */
  for (int j = 0, k = 0; j < m->p; j++)
    if (!m->aliased[j]) d[k++] = (double)s->g[j];
  if (rank > 0 &&
      (LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'T', 'N', rank, 1, W, q, d, rank) < 0 ||
       LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'N', 'N', rank, 1, W, q, d, rank) < 0)) {
    ml_result_code(ctx, "ml_refine", ML_ELAPACK);
    goto out;
  }
  /* ||r - X d||^2 = r'r - 2 d'X'r + ||W d||^2, all in long double. */
  long double rss = s->g[m->p], wd2 = 0;
  for (int j = 0, k = 0; j < m->p; j++)
    if (!m->aliased[j]) rss -= 2 * (long double)d[k++] * s->g[j];
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
  ml_result_model(ctx, "ml_refine", m);
out:
  sqlite3_free(W);
  sqlite3_free(d);
  refine_state_free(s);
  *pp = NULL;
}
