/*
** fit.c: fitting in place, as aggregates.
**
**   SELECT ml_fit(y, x1, ..., xk) FROM t;           -- model BLOB, with an intercept
**   SELECT ml_fit_opts('{"intercept":false}', y, x1, ..., xk) FROM t;
**   SELECT ml_fit_opts('{"weights":true}', w, y, x1, ..., xk) FROM t;
**   SELECT ml_fit_opts('{"names":["sqft","city"],"categorical":["city"]}', price, sqft, city) FROM t;
**   SELECT g, ml_fit(y, x1, x2) FROM t GROUP BY g;  -- one model per group
**   SELECT ml_merge(m) FROM fits;                   -- the fit of the union of the rows
**   SELECT ml_merge(a, b);
**   SELECT ml_refine(model, y, x1, ..., xk) FROM t; -- refinement (and robust errors)
**
** ml_fit streams rows straight into the QR accumulator of lsq.c: the hot
** path, no options.  ml_fit_opts goes through fitacc.c, which knows them
** all.  A row with a NULL is skipped and counted.  Aggregate contexts hold
** only a pointer to state allocated apart: the context is merely 8-byte
** aligned.  Every fit keeps its rows' fingerprint (rowhash.h), which
** ml_merge adds up and ml_refine checks.
*/
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fitacc.h"
#include "glm.h"
#include "json.h"
#include "lsq.h"
#include "options.h"
#include "refine.h"
#include "rowhash.h"
#include "sqlq.h"
#include "sqlml_int.h"

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

/* Names the features of an aggregate's model x1..xk and its response y. */
static int name_features(ml_model *m) {
  int rc = ml_model_set_name(m, -1, "y");
  for (int j = 0; j < m->k && !rc; j++) {
    /* "x" and the digits of j + 1, without snprintf: every group of a
    ** GROUP BY names its model's features. */
    char name[16], digits[12];
    int nd = 0;
    for (unsigned v = (unsigned)j + 1; v; v /= 10) digits[nd++] = (char)('0' + v % 10);
    name[0] = 'x';
    for (int i = 0; i < nd; i++) name[1 + i] = digits[nd - 1 - i];
    name[1 + nd] = 0;
    rc = ml_model_set_name(m, j, name);
  }
  return rc;
}

/* ---- ml_fit ---- */

/*
** The aggregate context is the state itself (8-byte alignment suffices):
** with few features (k + 2 <= ML_LSQ_SMALL_M) rows wait in a small block
** here and fold into R here too (lsq.h), so a group of a GROUP BY allocates
** nothing else;
** wider fits keep lsq.c's blocked accumulator, allocated apart.
*/
typedef struct fit_state {
  ml_lsq *acc;      /* wide fits; NULL for small ones */
  int k;            /* features; 0 before the first row */
  int failed;       /* an error was reported: skip the work in xFinal */
  int64_t rows;     /* rows seen */
  int64_t skipped;  /* rows with a NULL */
  int64_t used;     /* rows used (small fits) */
  int nb;           /* small fits: rows waiting in B */
  uint64_t rows_hash; /* the fingerprint of the rows used (rowhash.h) */
  double R[ML_LSQ_SMALL_M * ML_LSQ_SMALL_M];     /* small fits: R of [1 X y], (k + 2) square */
  double B[ML_LSQ_SMALL_ROWS * ML_LSQ_SMALL_M];  /* small fits: rows waiting, column-major */
} fit_state;

/* The first row: the width, and for a wide fit its accumulator.  0, or -1 after reporting. */
static int fit_start(sqlite3_context *ctx, fit_state *s, int argc) {
  if (argc < 2)
    return ml_error(ctx, "ml_fit(): expected a response and at least one feature, got %d arguments", argc);
  s->k = argc - 1;
  if (s->k + 2 <= ML_LSQ_SMALL_M) return 0;
  s->acc = sqlite3_malloc(sizeof *s->acc);
  if (!s->acc || ml_lsq_init(s->acc, s->k + 1)) {
    sqlite3_free(s->acc);
    s->acc = NULL;
    s->failed = 1;
    sqlite3_result_error_nomem(ctx);
    return -1;
  }
  return 0;
}

void ml_fit_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  fit_state *s = sqlite3_aggregate_context(ctx, sizeof *s);
  if (!s) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (!s->k && fit_start(ctx, s, argc)) return;
  if (s->failed) return;
  ml_lsq *a = s->acc;
  double *row = s->B + s->nb; /* small fits: column j at row + j * ML_LSQ_SMALL_ROWS */
  int has_null = 0, yj = s->k + 1;
  uint64_t h = ML_ROWHASH_SEED;
  s->rows++;
  for (int j = 0; j <= s->k; j++) {
    double v;
    int kind = ml_value_num(argv[j], &v);
    if (kind == ML_V_NUM) {
      /* x_j in column j (the intercept is 0), y last */
      if (a) ml_lsq_put(a, j ? j : yj, v);
      else row[(j ? j : yj) * ML_LSQ_SMALL_ROWS] = v;
      h = ml_rowhash_num(h, v);
    } else if (kind == ML_V_NULL) {
      has_null = 1;
    } else {
      char what[32];
      snprintf(what, sizeof what, "argument %d", j + 1);
      ml_value_error(ctx, "ml_fit", what, kind, argv[j], s->rows);
      s->failed = 1;
      return;
    }
  }
  if (has_null) {
    s->skipped++;
    return;
  }
  s->rows_hash += ml_rowhash_end(h);
  if (!a) {
    row[0] = 1.0;
    s->used++;
    if (++s->nb == ML_LSQ_SMALL_ROWS) {
      ml_lsq_small_fold(s->R, yj + 1, s->B, s->nb);
      s->nb = 0;
    }
    return;
  }
  ml_lsq_put(a, 0, 1.0);
  int rc = ml_lsq_commit(a);
  if (rc) {
    s->failed = 1;
    ml_result_code(ctx, "ml_fit", rc);
  }
}

/* The model of a wide fit whose rows are all in: R, counts, names, coefficients. */
static int fit_model(fit_state *s, ml_model **out) {
  int q = s->k + 2, rc = ml_lsq_fold(s->acc);
  ml_model *m = NULL;
  if (!rc && !(m = ml_model_new(s->k, q - 1))) rc = ML_NOMEM;
  if (!rc) {
    memcpy(m->R, s->acc->R, 8 * (size_t)q * (size_t)q);
    m->flags = ML_MODEL_INTERCEPT;
    m->n = s->acc->n;
    m->n_skipped = s->skipped;
    m->has_rows_hash = 1;
    m->rows_hash = s->rows_hash;
    rc = name_features(m);
  }
  if (!rc) rc = ml_model_solve(m);
  *out = m;
  return rc;
}

/*
** A small fit's model, encoded without one allocation of its own: the
** model on the stack as ml_model_new() would make it, its names as
** name_features() would give them, solved as ml_model_solve() solves a fit
** without ridge.  A GROUP BY of small groups encodes one of these a group.
*/
static void small_result(sqlite3_context *ctx, fit_state *s) {
  enum { M = ML_LSQ_SMALL_M, K = ML_LSQ_SMALL_M - 2 };
  int q = s->k + 2, rank, rc;
  ml_model m;
  ml_feature feat[K];
  double W[M * M], b[M], beta[M];
  unsigned char aliased[M];
  char target[] = "y", names[K][4] = {"x1", "x2"};
  memset(&m, 0, sizeof m);
  memset(feat, 0, sizeof feat);
  ml_lsq_small_fold(s->R, q, s->B, s->nb);
  s->nb = 0;
  m.format = ML_FORMAT_VERSION;
  m.kind = ML_KIND_LINEAR;
  m.k = s->k;
  m.p = q - 1;
  m.tol = ML_LSQ_TOL;
  m.rss = NAN;
  m.feat = feat;
  m.R = s->R;
  m.beta = beta;
  m.aliased = aliased;
  m.target = target;
  for (int j = 0; j < s->k; j++) feat[j].name = names[j];
  m.flags = ML_MODEL_INTERCEPT;
  m.n = s->used;
  m.n_skipped = s->skipped;
  m.has_rows_hash = 1;
  m.rows_hash = s->rows_hash;
  rc = ml_lsq_reduce(m.R, q, m.tol, m.aliased, W, &rank);
  if (!rc) rc = ml_lsq_coef(W, q, rank, b);
  if (rc) {
    ml_result_code(ctx, "ml_fit", rc);
    return;
  }
  for (int j = 0, c = 0; j < m.p; j++) m.beta[j] = m.aliased[j] ? 0 : b[c++];
  ml_result_model(ctx, "ml_fit", &m);
}

void ml_fit_final(sqlite3_context *ctx) {
  fit_state *s = sqlite3_aggregate_context(ctx, 0);
  if (!s || !s->k) {
    if (!s) sqlite3_result_error(ctx, "ml_fit(): no rows to fit", -1);
    return;
  }
  ml_model *m = NULL;
  int rc = ML_OK;
  if (s->failed) goto out;
  if ((s->acc ? s->acc->n : s->used) == 0) {
    ml_error(ctx, "ml_fit(): no usable rows: all %lld rows have a NULL response or feature",
              (long long)s->rows);
    goto out;
  }
  if (!s->acc) {
    small_result(ctx, s);
    return;
  }
  rc = fit_model(s, &m);
  if (rc) ml_result_code(ctx, "ml_fit", rc);
  else ml_result_model(ctx, "ml_fit", m);
out:
  ml_model_free(m);
  if (s->acc) ml_lsq_free(s->acc);
  sqlite3_free(s->acc);
  s->acc = NULL;
}

/* ---- ml_fit_opts ---- */

typedef struct opts_state {
  char *opts;       /* the options text, which must stay the same on every row */
  int nopts;
  ml_fitopts o;
  ml_fitacc fa;
  int k, first;     /* features; argument index of the first data argument */
  int64_t rows, y_nulls;
  uint64_t rows_hash; /* the fingerprint of the rows used (rowhash.h) */
  int failed;
} opts_state;

/* The features as the options describe them: k names and ML_TYPE_* types. */
typedef struct opts_features {
  int k;
  char **names;
  int *types;
} opts_features;

static void opts_features_free(opts_features *f) {
  for (int j = 0; f->names && j < f->k; j++) sqlite3_free(f->names[j]);
  sqlite3_free(f->names);
  sqlite3_free(f->types);
  memset(f, 0, sizeof *f);
}

/*
** Option names (one per feature, in argument order; x1..xk without it) and
** option categorical (names or 1-based positions), for k features.  0, or
** -1 after reporting.  The texts follow ml_train's for the same options.
*/
static int parse_features_options(sqlite3_context *ctx, const ml_json *names,
                                  const ml_json *cat, int k, opts_features *f) {
  f->k = k;
  f->names = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)k);
  f->types = sqlite3_malloc64(sizeof(int) * (sqlite3_uint64)k);
  if (!f->names || !f->types) {
    sqlite3_free(f->names);
    f->names = NULL;
    sqlite3_result_error_nomem(ctx);
    return -1;
  }
  memset(f->names, 0, sizeof(char *) * (size_t)k);
  if (names) {
    if (names->type != ML_JSON_ARRAY)
      return ml_error(ctx, "ml_fit_opts(): option names must be an array of feature names, "
                           "one per feature, got %s", ml_json_type_name(names->type));
    if ((int)names->len != k)
      return ml_error(ctx, "ml_fit_opts(): option names has %d name%s for %d feature%s",
                      (int)names->len, names->len == 1 ? "" : "s", k, k == 1 ? "" : "s");
    int j = 0;
    for (const ml_json *e = names->child; e; e = e->next, j++) {
      if (e->type != ML_JSON_STRING || !e->str[0])
        return ml_error(ctx, "ml_fit_opts(): option names must be an array of non-empty strings, "
                             "got %s at position %d", e->type == ML_JSON_STRING ? "\"\"" :
                             ml_json_type_name(e->type), j + 1);
      if (ml_find_name(f->names, j, e->str) >= 0)
        return ml_error(ctx, "ml_fit_opts(): option names has '%s' twice", e->str);
      if (!(f->names[j] = sqlite3_mprintf("%s", e->str))) goto nomem;
    }
  } else {
    for (int j = 0; j < k; j++)
      if (!(f->names[j] = sqlite3_mprintf("x%d", j + 1))) goto nomem;
  }
  for (int j = 0; j < k; j++) f->types[j] = ML_TYPE_NUMERIC;
  if (!cat) return 0;
  if (cat->type != ML_JSON_ARRAY) goto bad_cat;
  for (const ml_json *e = cat->child; e; e = e->next) {
    int j;
    if (e->type == ML_JSON_STRING) {
      if ((j = ml_find_name(f->names, k, e->str)) < 0)
        return ml_error(ctx, "ml_fit_opts(): '%s' (option categorical) is not a feature%s", e->str,
                        names ? "" : " (without option names the features are x1, x2, ...)");
    } else if (e->type == ML_JSON_NUMBER) {
      if (!(e->num >= 1 && e->num <= k) || e->num != (double)(int)e->num)
        return ml_error(ctx, "ml_fit_opts(): %g (option categorical) is not a feature position: "
                             "expected 1 to %d", e->num, k);
      j = (int)e->num - 1;
    } else {
      goto bad_cat;
    }
    f->types[j] = ML_TYPE_CATEGORICAL;
  }
  return 0;
bad_cat:
  return ml_error(ctx, "ml_fit_opts(): option categorical must be an array of feature names or "
                       "1-based positions");
nomem:
  sqlite3_result_error_nomem(ctx);
  return -1;
}

/*
** Reads the options of a call with argc arguments, and the features they
** describe into *f; 0, or -1 after reporting.
*/
static int parse_fit_options(sqlite3_context *ctx, ml_fitopts *o, const char *z, int n, int argc,
                             opts_features *f) {
  ml_options opt;
  memset(&opt, 0, sizeof opt);
  opt.fit.intercept = 1;
  opt.fit.tol = ML_LSQ_TOL;
  ml_json *j = NULL;
  int rc = ml_options_parse(ctx, "ml_fit_opts", ML_OPT_FIT, z, (size_t)n, &opt, &j);
  *o = opt.fit;
  int k = argc - (1 + o->weighted) - 1;
  if (rc == 0 && k < 1)
    rc = ml_error(ctx, "ml_fit_opts(): expected options, %sa response and at least one feature, "
                       "got %d arguments", o->weighted ? "a weight, " : "", argc);
  if (rc == 0) rc = parse_features_options(ctx, opt.names, opt.categorical_json, k, f);
  ml_options_free(&opt);
  ml_json_free(j);
  return rc;
}

/* The state of this group, created on its first row; NULL after reporting. */
static opts_state *opts_begin(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (argc < 1) {
    ml_error(ctx, "ml_fit_opts(): expected options, a response and at least one feature, got 0 "
                   "arguments");
    return NULL;
  }
  opts_state **pp = sqlite3_aggregate_context(ctx, sizeof *pp);
  if (!pp) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  opts_state *s = *pp;
  if (s) {
    if (s->failed) return NULL;
    if (sqlite3_value_bytes(argv[0]) != s->nopts ||
        memcmp(sqlite3_value_text(argv[0]), s->opts, (size_t)s->nopts) != 0) {
      ml_error(ctx, "ml_fit_opts(): the options changed between rows; they must be the same");
      s->failed = 1;
      return NULL;
    }
    return s;
  }
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    ml_error(ctx, "ml_fit_opts(): argument 1 must be a JSON object of options");
    return NULL;
  }
  s = *pp = sqlite3_malloc(sizeof *s);
  if (!s) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  memset(s, 0, sizeof *s);
  s->failed = 1;
  const char *z = (const char *)sqlite3_value_text(argv[0]);
  s->nopts = sqlite3_value_bytes(argv[0]);
  if (!z || !(s->opts = sqlite3_malloc(s->nopts + 1))) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  memcpy(s->opts, z, (size_t)s->nopts + 1);
  opts_features f = {0, NULL, NULL};
  if (parse_fit_options(ctx, &s->o, z, s->nopts, argc, &f)) {
    opts_features_free(&f);
    return NULL;
  }
  s->first = 1 + s->o.weighted;
  s->k = f.k;
  int rc = ml_fitacc_init(&s->fa, s->k, f.names, f.types, &s->o, 1);
  opts_features_free(&f);
  if (rc) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  s->failed = 0;
  return s;
}

void ml_fit_opts_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  opts_state *s = opts_begin(ctx, argc, argv);
  if (!s) return;
  s->rows++;
  double y, w = 1;
  int first = s->first;
  /* The weight, then the response: NULL skips the row (or fails, nulls = error). */
  for (int i = 1; i < first + 1; i++) {
    int kind = ml_value_num(argv[i], i == first ? &y : &w);
    if (kind == ML_V_NUM) continue;
    if (kind == ML_V_NULL && s->o.nulls != ML_NULLS_ERROR) {
      s->y_nulls++;
      return;
    }
    char what[32];
    snprintf(what, sizeof what, "argument %d", i + 1);
    if (kind == ML_V_NULL)
      ml_error(ctx, "ml_fit_opts(): %s is NULL in row %lld, and option nulls is \"error\"", what,
                (long long)s->rows);
    else
      ml_value_error(ctx, "ml_fit_opts", what, kind, argv[i], s->rows);
    s->failed = 1;
    return;
  }
  int r = ml_fitacc_add(&s->fa, 0, argv + first + 1, y, w);
  if (r == ML_FA_USED) {
    s->rows_hash += s->fa.has_rowhash ? s->fa.rowhash
                                      : ml_rowhash(s->o.weighted ? &w : NULL, y, argv + first + 1, s->k);
  } else if (r == ML_FA_ERROR) {
    int c = s->fa.bad_col, arg = c == -2 ? 2 : c == -1 ? first + 1 : first + 2 + c;
    char what[32];
    snprintf(what, sizeof what, "argument %d", arg);
    if (s->fa.bad_kind == ML_V_NULL)
      ml_error(ctx, "ml_fit_opts(): %s is NULL in row %lld, and option nulls is \"error\"", what,
                (long long)s->rows);
    else if (s->fa.bad_kind == ML_V_NUM)
      ml_error(ctx, "ml_fit_opts(): %s (the weight) is negative in row %lld; weights must be >= 0",
                what, (long long)s->rows);
    else
      ml_value_error(ctx, "ml_fit_opts", what, s->fa.bad_kind, argv[arg - 1], s->rows);
    s->failed = 1;
  } else if (r == ML_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    s->failed = 1;
  } else if (r == ML_FA_TOO_WIDE) {
    int c = s->fa.bad_col;
    ml_error(ctx, "ml_fit_opts(): feature '%s' (argument %d) has too many levels (%d by row %lld): "
                   "a model holds at most %d terms", s->fa.f[c].name, first + 2 + c,
              s->fa.f[c].nlevels, (long long)s->rows, ML_MAX_TERMS);
    s->failed = 1;
  }
}

void ml_fit_opts_final(sqlite3_context *ctx) {
  opts_state **pp = sqlite3_aggregate_context(ctx, 0);
  opts_state *s = pp ? *pp : NULL;
  if (!s) {
    sqlite3_result_error(ctx, "ml_fit_opts(): no rows to fit", -1);
    return;
  }
  ml_model *m = NULL;
  double *Rtest = NULL;
  if (s->failed) goto out;
  if (s->fa.used[0] == 0) {
    ml_error(ctx, "ml_fit_opts(): no usable rows: all %lld rows have a NULL response or feature%s",
              (long long)s->rows, s->o.weighted ? ", or a NULL or zero weight" : "");
    goto out;
  }
  char err[300];
  int rc = ml_fitacc_finish(&s->fa, &m, &Rtest, err, sizeof err);
  if (rc == ML_EINPUT) {
    ml_error(ctx, "ml_fit_opts(): %s", err);
    goto out;
  }
  if (!rc) {
    m->n_skipped += s->y_nulls;
    m->has_rows_hash = 1;
    m->rows_hash = s->rows_hash;
    rc = ml_model_set_name(m, -1, "y");
  }
  if (rc) ml_result_code(ctx, "ml_fit_opts", rc);
  else ml_result_model(ctx, "ml_fit_opts", m);
out:
  ml_model_free(m);
  ml_free(Rtest);
  ml_fitacc_free(&s->fa);
  sqlite3_free(s->opts);
  sqlite3_free(s);
  *pp = NULL;
}

/* ---- ml_merge ---- */

typedef struct merge_state {
  ml_model *m;  /* the first model: its features and options describe the merge */
  ml_lsq acc;
  int failed;
} merge_state;

/*
** Levels differ: both sides go to the design of the union of their levels,
** where a level one side lacks is a column of zeros for its rows: the state
** becomes the union model, its factor mapped, and o's factor mapped too and
** folded in.  Exact (to rounding): the union's rows are linear maps of each
** side's.  0, or -1 after reporting.
*/
static int merge_remap(sqlite3_context *ctx, const char *fname, merge_state *s, const ml_model *o) {
  char err[160];
  ml_model *u = NULL;
  double *Ts = NULL, *To = NULL, *Rs = NULL, *Ro = NULL;
  ml_lsq acc;
  memset(&acc, 0, sizeof acc);
  int rc = ml_model_union(s->m, o, &u, err, sizeof err);
  if (rc == ML_EINPUT) {
    ml_error(ctx, "%s(): cannot merge: %s", fname, err);
    return -1;
  }
  int q = u ? u->p + 1 : 0;
  if (!rc) rc = ml_model_design_map(s->m, u, &Ts);
  if (!rc) rc = ml_model_design_map(o, u, &To);
  if (!rc) rc = ml_lsq_fold(&s->acc);
  if (!rc && (!(Rs = ml_malloc(8 * (uint64_t)q * (uint64_t)q)) ||
              !(Ro = ml_malloc(8 * (uint64_t)q * (uint64_t)q))))
    rc = ML_NOMEM;
  if (!rc) rc = ml_lsq_transform(s->acc.R, s->acc.m, Ts, q, Rs);
  if (!rc) rc = ml_lsq_transform(o->R, o->p + 1, To, q, Ro);
  if (!rc) rc = ml_lsq_init(&acc, u->p);
  if (!rc) {
    memcpy(acc.R, Rs, 8 * (size_t)q * (size_t)q);
    rc = ml_lsq_merge(&acc, Ro, q);
  }
  if (!rc) {
    ml_lsq_free(&s->acc);
    s->acc = acc;
    memset(&acc, 0, sizeof acc);
    ml_model_free(s->m);
    s->m = u;
    u = NULL;
  } else {
    ml_result_code(ctx, fname, rc);
  }
  ml_lsq_free(&acc);
  ml_model_free(u);
  ml_free(Ts);
  ml_free(To);
  ml_free(Rs);
  ml_free(Ro);
  return rc ? -1 : 0;
}

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
  int remap;
  if (!ml_model_compatible(s->m, *o, &remap, err, sizeof err)) {
    ml_error(ctx, "%s(): cannot merge: %s", fname, err);
    return -1;
  }
  /* Counts come from BLOBs, which may say anything up to 2^63 - 1. */
  if ((*o)->n > INT64_MAX - s->m->n || (*o)->n_skipped > INT64_MAX - s->m->n_skipped) {
    ml_error(ctx, "%s(): cannot merge: the row counts add up to more than 2^63 - 1", fname);
    return -1;
  }
  if (remap) {
    if (merge_remap(ctx, fname, s, *o)) return -1;
  } else {
    int rc = ml_lsq_merge(&s->acc, (*o)->R, (*o)->p + 1);
    if (rc) {
      ml_result_code(ctx, fname, rc);
      return -1;
    }
  }
  s->m->n += (*o)->n;
  s->m->n_skipped += (*o)->n_skipped;
  /* A weighted fit's total weight scales the ridge penalty and its log
  ** weights enter the likelihood: both are sums over the rows. */
  s->m->sum_w += (*o)->sum_w;
  s->m->sum_log_w += (*o)->sum_log_w;
  /* Fingerprints are sums over rows: they add (mod 2^64), if both have one. */
  s->m->has_rows_hash = s->m->has_rows_hash && (*o)->has_rows_hash;
  s->m->rows_hash = s->m->has_rows_hash ? s->m->rows_hash + (*o)->rows_hash : 0;
  return 0;
}

/* Decodes argument i as a model, with its dense factor if dense; NULL
** after reporting (or for a NULL value). */
static ml_model *decode_arg(sqlite3_context *ctx, const char *fname, sqlite3_value *v, int i,
                            int dense) {
  if (sqlite3_value_type(v) != SQLITE_BLOB) {
    ml_error(ctx, "%s(): argument %d must be a model BLOB, got %s", fname, i,
              sqlite3_value_type(v) == SQLITE_TEXT   ? "text"
              : sqlite3_value_type(v) == SQLITE_NULL ? "NULL"
                                                     : "a number");
    return NULL;
  }
  ml_model *m;
  char err[200];
  const unsigned char *z = sqlite3_value_blob(v);
  int rc = ml_model_decode(z, sqlite3_value_bytes(v), &m, err, sizeof err);
  if (rc == ML_NOMEM) sqlite3_result_error_nomem(ctx);
  else if (rc) ml_error(ctx, "%s(): argument %d: %s", fname, i, err);
  if (rc) return NULL;
  /* A merge folds dense factors: a model kept with its block gets its own. */
  if (dense && (rc = ml_model_unblock(m))) {
    if (rc == ML_EINPUT)
      ml_error(ctx, "%s(): argument %d has %d terms, its levels kept as a block: a merge "
                    "holds at most %d; train on the union of the rows instead", fname, i, m->p,
               ML_MAX_TERMS);
    else ml_result_code(ctx, fname, rc);
    ml_model_free(m);
    return NULL;
  }
  return m;
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
  ml_model *o = decode_arg(ctx, "ml_merge", argv[0], 1, 1);
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
  ml_model *a = decode_arg(ctx, "ml_merge", argv[0], 1, 1), *b = NULL;
  if (a && !merge_in(ctx, "ml_merge", &s, &a)) {
    b = decode_arg(ctx, "ml_merge", argv[1], 2, 1);
    if (b && !merge_in(ctx, "ml_merge", &s, &b)) merge_result(ctx, "ml_merge", &s);
  }
  ml_model_free(a);
  ml_model_free(b);
  ml_model_free(s.m);
  ml_lsq_free(&s.acc);
}

/* ---- ml_refine ---- */

/*
** ml_refine(model, [w,] y, x1, ..., xk): the arguments after the model are
** those of the fit (the weight first for a weighted model).  One pass over
** the same rows: a refinement step (refine.c) and, for a model fitted with
** option robust, its robust covariance, from the residuals of the
** coefficients the pass starts with.  The same rows means as many, and,
** for a model with a fingerprint, the same multiset of rows.
*/
typedef struct refine_state {
  unsigned char *blob;  /* the model argument, which must not change */
  int nblob;
  ml_model *m;
  double *x;            /* design row */
  ml_refiner ref;
  ml_hcacc hc;
  int64_t rows, used;
  uint64_t rows_hash;   /* the fingerprint of the rows used, as the fit's (rowhash.h) */
  int first;            /* argument index of the response */
  int failed;
} refine_state;

static void refine_state_free(refine_state *s) {
  if (!s) return;
  ml_model_free(s->m);
  ml_refiner_free(&s->ref);
  ml_hcacc_free(&s->hc);
  sqlite3_free(s->blob);
  sqlite3_free(s->x);
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
      ml_error(ctx, "ml_refine(): the model changed between rows; it must be the same");
      s->failed = 1;
      return NULL;
    }
    return s;
  }
  s = *pp = sqlite3_malloc(sizeof *s);
  if (!s) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  memset(s, 0, sizeof *s);
  s->failed = 1;
  s->m = decode_arg(ctx, "ml_refine", argv[0], 1, 0);
  if (!s->m) return NULL;
  if (s->m->l2 > 0) {
    ml_error(ctx, "ml_refine(): a ridge model (l2) is not a least-squares solution to refine");
    return NULL;
  }
  if (s->m->family != ML_FAMILY_GAUSSIAN) {
    ml_error(ctx, "ml_refine(): a %s model is fitted by iterations over its rows, not one least-"
                  "squares solution to refine", ml_family_name(s->m->family));
    return NULL;
  }
  int weighted = (s->m->flags & ML_MODEL_WEIGHTED) != 0;
  s->first = 1 + weighted;
  if (argc - s->first - 1 != s->m->k) {
    char *names = ml_model_feature_list(s->m, ML_LIST_NAMES);
    if (names)
      ml_error(ctx, "ml_refine(): the model has %d feature%s (%s), got %d%s", s->m->k,
                s->m->k == 1 ? "" : "s", names, argc - s->first - 1,
                weighted ? " (after the weight and the response)" : "");
    else
      sqlite3_result_error_nomem(ctx);
    ml_free(names);
    return NULL;
  }
  s->nblob = sqlite3_value_bytes(argv[0]);
  s->blob = sqlite3_malloc64((sqlite3_uint64)s->nblob + 1);
  s->x = sqlite3_malloc64(8 * (sqlite3_uint64)s->m->p);
  if (!s->blob || !s->x || ml_refiner_init(&s->ref, s->m->p) ||
      (s->m->robust && ml_hcacc_init(&s->hc, s->m))) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  memcpy(s->blob, sqlite3_value_blob(argv[0]), (size_t)s->nblob);
  s->failed = 0;
  return s;
}

void ml_refine_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (argc < 3) {
    ml_error(ctx, "ml_refine(): expected a model, a response and features, got %d arguments", argc);
    return;
  }
  refine_state *s = refine_begin(ctx, argc, argv);
  if (!s) return;
  s->rows++;
  double y, w = 1;
  for (int i = 1; i <= s->first; i++) {
    int kind = ml_value_num(argv[i], i == s->first ? &y : &w);
    if (kind == ML_V_NULL) return;
    if (kind != ML_V_NUM) {
      char what[32];
      snprintf(what, sizeof what, "argument %d", i + 1);
      ml_value_error(ctx, "ml_refine", what, kind, argv[i], s->rows);
      s->failed = 1;
      return;
    }
  }
  if (w <= 0) return;
  if (s->m->formula && !ml_model_response(s->m, y, &y)) return; /* log(price): as fitted */
  int blk = -1, row = ml_design_row_blocked(ctx, "ml_refine", s->m, argv + s->first + 1, s->x,
                                            s->m->fac ? &blk : NULL);
  if (row < 0) {
    s->failed = 1;
    return;
  }
  if (row == ML_V_NULL) return;
  s->used++;
  s->rows_hash += ml_rowhash(s->first > 1 ? &w : NULL, y, argv + s->first + 1, s->m->k);
  ml_refiner_add(&s->ref, s->m, s->x, blk, y, sqrt(w));
  if (s->m->robust) {
    int rc = ml_hcacc_add(&s->hc, s->m, s->x, y, sqrt(w));
    if (rc) {
      ml_result_code(ctx, "ml_refine", rc);
      s->failed = 1;
    }
  }
}

void ml_refine_final(sqlite3_context *ctx) {
  refine_state **pp = sqlite3_aggregate_context(ctx, 0);
  refine_state *s = pp ? *pp : NULL;
  if (!s) {
    sqlite3_result_error(ctx, "ml_refine(): no rows", -1);
    return;
  }
  ml_model *m = s->m;
  if (s->failed) goto out;
  if (s->used != m->n) {
    ml_error(ctx, "ml_refine(): the model was fit on %lld rows, but %lld of these rows are "
                   "usable: refine over the same rows", (long long)m->n, (long long)s->used);
    goto out;
  }
  /* As many rows, but others (another column, other values): a refinement
  ** would fit them to a factor that is not theirs, with R^2 = 1 and garbage
  ** coefficients.  Models without a fingerprint are taken at their count. */
  if (m->has_rows_hash && s->rows_hash != m->rows_hash) {
    ml_error(ctx, "ml_refine(): these are not the rows the model was fitted on (n and fingerprint "
                   "differ); refine over the same query");
    goto out;
  }
  int rc = m->robust ? ml_hcacc_finish(&s->hc, m) : ML_OK;
  if (!rc) rc = ml_refiner_apply(&s->ref, m);
  if (rc) ml_result_code(ctx, "ml_refine", rc);
  else ml_result_model(ctx, "ml_refine", m);
out:
  refine_state_free(s);
  *pp = NULL;
}
