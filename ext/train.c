/*
** train.c: ml_train, a named model fitted where the data lives and kept as a
** new version in the registry.
**
**   SELECT ml_train('house_price', 'houses', 'price', '["sqft","rooms","city"]',
**                   '{"test_size":0.2,"seed":42}');
**
** One pass reads the source.  Each row goes, by the split of ml_split_of, to
** the training factor or to the test rows' own factor R_t, whose test
** residual sum of squares for any coefficients b is ||R_t [b; -1]||^2: so the
** fit and both sets' r2 and rmse come from that one pass, categorical
** levels and imputed means included (fitacc.c).  More passes run only when
** asked for or needed: a refinement step when the one-pass error bound says
** it would show, the metrics that are not sums of squares (mae, max_error),
** robust standard errors.  Each later pass checks that it read the very
** rows the first did, by their fingerprint.
**
** Values are read as design.h says (a text that is a number is that number,
** na_values texts are NULL), and a column is numeric or categorical as a
** whole.  A declared numeric type (INTEGER, REAL, NUMERIC affinity) makes it
** numeric; otherwise (TEXT, no type: .import --csv makes every column TEXT)
** its values decide, and every value must read as a number for it to be
** numeric.  That is decided while fitting, not by a pass before: the fit
** starts optimistic (numeric; a listed categorical with numeric levels) and,
** when a value proves a column wrong, starts over with that column changed.
** Each column changes at most once, so there are at most k + 1 starts; and a
** right guess, by far the common case (numbers in text are numbers all the
** way down; a name column shows text in its first row), costs nothing, where
** a pre-pass would read every numeric text column twice.
**
** A pass is one statement, SELECT ml__pass(?1, key, target, features...,
** weight) FROM source, whose internal aggregate hands each row's values to
** the trainer bound as a pointer in ?1: the values arrive as arguments, as
** they do for ml_fit, instead of one sqlite3_column_value() call (and one
** trip through the connection's mutex) per value.  Rows too wide for a
** function's arguments (SQLITE_LIMIT_FUNCTION_ARG) are stepped and read
** column by column instead.
**
** The only write is one INSERT of the new version (after creating the
** registry tables if they are missing), numbered max + 1 inside that same
** statement: atomic by SQLite's own guarantee, so a failure anywhere leaves
** the registry as it was, and concurrent trainers get consecutive versions.
** No transaction is held while reading: a SAVEPOINT could not be rolled back
** after sqlite3_interrupt while the calling statement runs.
*/
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lapacke.h>

#include "design.h"
#include "dqlite.h"
#include "fitacc.h"
#include "glm.h"
#include "guard.h"
#include "json.h"
#include "refine.h"
#include "registry.h"
#include "rowhash.h"
#include "split.h"
#include "sqlq.h"
#include "strbuf.h"

/* Refine when the one-pass error bound exceeds this (see needs_refinement). */
#define REFINE_ABOVE 1e-13

typedef struct train_opts {
  double test_size;
  sqlite3_int64 seed;
  char *key;          /* key column, "rowid", or NULL for the row itself */
  char *weights;      /* weight column, or NULL */
  char **categorical; /* columns forced categorical */
  int ncategorical;
  char **na_values;   /* texts read as NULL */
  int nna;
  ml_na na;           /* the same, as design.h reads them */
  int refine;         /* -1 auto, 0 never, 1 always */
  int full_metrics;
  int progress;
  ml_fitopts fit;
  /* Generalized linear models (glm.h): the family, an offset column, R's
  ** glm.control (max_iter, epsilon), and whether a fit that did not
  ** converge is kept. */
  int family;
  char *offset;
  int max_iter;
  double epsilon;
  int keep_unconverged;
} train_opts;

/* Weighted running mean and sum of squared deviations (West), for SST. */
typedef struct welford {
  double w, mean, m2;
} welford;

static void welford_add(welford *s, double y, double w) {
  s->w += w;
  double d = y - s->mean;
  s->mean += d * w / s->w;
  s->m2 += w * d * (y - s->mean);
}

/* Sums for the metrics that are not sums of squares. */
typedef struct abs_err {
  long double sum;
  double max;
} abs_err;

typedef struct trainer trainer;
struct trainer {
  sqlite3_context *ctx;
  sqlite3 *db;
  const char *name, *source, *target;
  char *from;             /* FROM item */
  int rowid;              /* the source has a rowid */
  char *rowid_alias;      /* its INTEGER PRIMARY KEY column, or NULL */
  char **feat;            /* feature names */
  int k;
  int *kind;              /* their ML_TYPE_*, as the current start guesses them */
  int *sure;              /* the kind is certain: numeric by declared type */
  char **why;             /* "'text' in row 7" that made a guessed numeric column text, or NULL */
  int star;               /* the features are '*' */
  int restart;            /* a kind changed: fit again from the first row */
  uint64_t rows_hash;     /* the training rows' fingerprint for ml_refine (rowhash.h) */
  int drop;               /* and this feature leaves '*' first, or -1 */
  int y_text, w_text;     /* target, weight had numbers in text */
  ml_sb warn;             /* warnings so far: JSON strings, comma-separated */
  train_opts o;
  int has_key;            /* column 0 of the row statement is the key */
  int cy, cw;             /* columns of the target and the weight (-1 none) */
  sqlite3_stmt *rows;
  ml_fitacc fa;
  sqlite3_value **vals;   /* the current row's values: ml__pass's arguments, */
  sqlite3_value **colv;   /* or read into here column by column (!by_agg) */
  int ncols, by_agg;
  uint64_t seeded;        /* the split hash's state after the seed */
  char **cols, **decls;   /* the source's columns and their declared types */
  int ncol;
  int (*on_row)(struct trainer *);  /* what the current pass does with a row */
  int failed;             /* on_row reported an error on ctx */
  /* The passes after the first: what they do and what they count. */
  ml_refiner *ref;
  ml_hcacc *hc;
  int measure;
  sqlite3_int64 again_n[2];
  uint64_t again_hash[2];
  sqlite3_int64 nread, target_nulls, weight_nulls;
  welford wtrain, wtest;
  ml_model *m;
  double *Rtest;          /* the test rows' factor in the model's columns */
  double *x;              /* design row, p */
  abs_err etrain, etest;
  double last_progress;   /* monotonic seconds of the start or the last report */
  /* IRLS, for a binomial or poisson family (see glm_fit). */
  int co;                 /* column of the offset (-1 none) */
  sqlite3_int64 offset_nulls;
  ml_lsq glm_acc;         /* the next step's factor: sqrt(W) [X z] */
  int glm_accumulate;     /* this pass folds rows into glm_acc */
  ml_ksum dev, aic_sum;   /* training rows at the current coefficients */
  ml_ksum dev_start;      /* training rows at R's starting values */
  ml_ksum prior_w, prior_log_w, prior_wy;  /* training rows: prior weights, their logs, w y */
  sqlite3_int64 fraction_rows, bound_rows;  /* y R warns of; fitted values at a bound */
  sqlite3_int64 fraction_first;             /* the first such y's row */
  double null_b;          /* the null model's intercept (or 0 without one) */
  double null_mu;         /* without an offset, its mean (R's wtdmu) */
  char *ylev[2];          /* binomial: the target's two text levels, in byte order (0, 1) */
  ml_ksum null_dev, null_sw, null_swz;      /* its deviance, and its IRLS step */
  struct glm_metric {
    ml_ksum w, dev, logloss, correct, brier;
  } gm[2];                /* train, test: metrics at the current coefficients */
};

/* ---- options ---- */

static int bad_option(trainer *t, const char *what) {
  return ml_error(t->ctx, "ml_train(): option %s", what);
}

/* Reports "ml_train(): option <rule>" and leaves parse_options. */
#define FAIL(rule)        \
  do {                    \
    bad_option(t, rule);  \
    goto out;             \
  } while (0)

/* What pandas' read_csv and R's read.csv read as missing, together. */
static const char *const default_na[] = {"", "NA", "N/A", "NaN", "nan", "NULL", "null", "#N/A"};

static int parse_options(trainer *t, const char *text) {
  train_opts *o = &t->o;
  o->test_size = 0.2;
  o->refine = -1;
  o->fit.intercept = 1;
  o->fit.tol = ML_LSQ_TOL;
  o->fit.read_text = 1;
  o->fit.na = &o->na;
  int na_given = 0, rc = -1;
  ml_json *j = NULL;
  if (!text) goto defaults;
  j = ml_json_arg(t->ctx, "ml_train", "options", text, strlen(text));
  if (!j) return -1;
  if (j->type != ML_JSON_OBJECT) {
    ml_error(t->ctx, "ml_train(): options must be a JSON object, got %s", ml_json_type_name(j->type));
    goto out;
  }
  for (const ml_json *c = j->child; c; c = c->next) {
    const char *k = c->key;
    int is_bool = c->type == ML_JSON_TRUE || c->type == ML_JSON_FALSE, yes = c->type == ML_JSON_TRUE;
    const char *str = c->type == ML_JSON_STRING ? c->str : NULL;
    if (strcmp(k, "test_size") == 0) {
      if (c->type != ML_JSON_NUMBER || !(c->num >= 0 && c->num < 1))
        FAIL("test_size must be a number in [0, 1)");
      o->test_size = c->num;
    } else if (strcmp(k, "seed") == 0) {
      /* The range first: converting a double beyond int64 is undefined. */
      if (c->type != ML_JSON_NUMBER || !(fabs(c->num) <= 9007199254740992.0) ||
          c->num != (double)(sqlite3_int64)c->num)
        FAIL("seed must be an integer");
      o->seed = (sqlite3_int64)c->num;
    } else if (strcmp(k, "key") == 0 || strcmp(k, "weights") == 0) {
      if (!str || !str[0]) FAIL(k[0] == 'k' ? "key must be a column name" : "weights must be a column name");
      char **slot = k[0] == 'k' ? &o->key : &o->weights;
      if (!(*slot = sqlite3_mprintf("%s", str))) goto nomem;
    } else if (strcmp(k, "intercept") == 0) {
      if (!is_bool) FAIL("intercept must be true or false");
      o->fit.intercept = yes;
    } else if (strcmp(k, "family") == 0) {
      if (!str || (o->family = ml_family_from_name(str)) < 0)
        FAIL("family must be \"gaussian\", \"binomial\" or \"poisson\"");
    } else if (strcmp(k, "offset") == 0) {
      if (!str || !str[0]) FAIL("offset must be a column name");
      sqlite3_free(o->offset);
      if (!(o->offset = sqlite3_mprintf("%s", str))) goto nomem;
    } else if (strcmp(k, "max_iter") == 0) {
      if (c->type != ML_JSON_NUMBER || !(c->num >= 1 && c->num <= 10000) || c->num != floor(c->num))
        FAIL("max_iter must be an integer from 1 to 10000");
      o->max_iter = (int)c->num;
    } else if (strcmp(k, "epsilon") == 0) {
      if (c->type != ML_JSON_NUMBER || !(c->num > 0 && c->num < 1))
        FAIL("epsilon must be a number in (0, 1)");
      o->epsilon = c->num;
    } else if (strcmp(k, "keep_unconverged") == 0) {
      if (!is_bool) FAIL("keep_unconverged must be true or false");
      o->keep_unconverged = yes;
    } else if (strcmp(k, "progress") == 0) {
      if (!is_bool) FAIL("progress must be true or false");
      o->progress = yes;
    } else if (strcmp(k, "refine") == 0) {
      if (is_bool) o->refine = yes;
      else if (str && strcmp(str, "auto") == 0) o->refine = -1;
      else FAIL("refine must be true, false or \"auto\"");
    } else if (strcmp(k, "metrics") == 0) {
      if (!str || (strcmp(str, "basic") && strcmp(str, "full")))
        FAIL("metrics must be \"basic\" or \"full\"");
      o->full_metrics = strcmp(str, "full") == 0;
    } else if (strcmp(k, "tol") == 0) {
      if (c->type != ML_JSON_NUMBER || !(c->num >= 0 && c->num < 1))
        FAIL("tol must be a number in [0, 1)");
      o->fit.tol = c->num;
    } else if (strcmp(k, "nulls") == 0) {
      if (str && strcmp(str, "skip") == 0) o->fit.nulls = ML_NULLS_SKIP;
      else if (str && strcmp(str, "error") == 0) o->fit.nulls = ML_NULLS_ERROR;
      else if (str && strcmp(str, "mean") == 0) o->fit.nulls = ML_NULLS_MEAN;
      else FAIL("nulls must be \"skip\", \"error\" or \"mean\"");
    } else if (strcmp(k, "unseen") == 0) {
      if (str && strcmp(str, "error") == 0) o->fit.unseen_zero = 0;
      else if (str && strcmp(str, "zero") == 0) o->fit.unseen_zero = 1;
      else FAIL("unseen must be \"error\" or \"zero\"");
    } else if (strcmp(k, "l2") == 0) {
      if (c->type != ML_JSON_NUMBER || !(c->num >= 0) || !isfinite(c->num))
        FAIL("l2 must be a number >= 0");
      o->fit.l2 = c->num;
    } else if (strcmp(k, "robust") == 0) {
      static const char *hc[] = {"HC0", "HC1", "HC2", "HC3"};
      o->fit.robust = 0;
      for (int i = 0; str && i < 4; i++)
        if (strcmp(str, hc[i]) == 0) o->fit.robust = ML_ROBUST_HC0 + i;
      if (!o->fit.robust) FAIL("robust must be \"HC0\", \"HC1\", \"HC2\" or \"HC3\"");
    } else if (strcmp(k, "na_values") == 0) {
      if (c->type != ML_JSON_ARRAY || na_given) FAIL("na_values must be an array of texts");
      na_given = 1;
      o->na_values = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)(c->len ? c->len : 1));
      if (!o->na_values) goto nomem;
      for (const ml_json *e = c->child; e; e = e->next) {
        if (e->type != ML_JSON_STRING) FAIL("na_values must be an array of texts");
        if (!(o->na_values[o->nna] = sqlite3_mprintf("%s", e->str))) goto nomem;
        o->nna++;
      }
    } else if (strcmp(k, "categorical") == 0) {
      if (c->type != ML_JSON_ARRAY) FAIL("categorical must be an array of column names");
      o->categorical = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)(c->len ? c->len : 1));
      if (!o->categorical) goto nomem;
      for (const ml_json *e = c->child; e; e = e->next) {
        if (e->type != ML_JSON_STRING) FAIL("categorical must be an array of column names");
        if (!(o->categorical[o->ncategorical] = sqlite3_mprintf("%s", e->str))) goto nomem;
        o->ncategorical++;
      }
    } else {
      ml_error(t->ctx, "ml_train(): unknown option '%s' (known: test_size, seed, key, intercept, "
                       "nulls, na_values, categorical, unseen, weights, l2, robust, refine, "
                       "metrics, progress, tol, family, offset, max_iter, epsilon, "
                       "keep_unconverged)", k);
      goto out;
    }
  }
  if (o->fit.l2 > 0 && !o->fit.intercept) FAIL("l2 needs the intercept (the one term it leaves unpenalized)");
  if (o->fit.l2 > 0 && o->fit.robust) FAIL("robust does not apply to a ridge fit (l2)");
  if (o->family != ML_FAMILY_GAUSSIAN) {
    /* What the linear model has and a GLM fitted by IRLS has not (yet). */
    if (o->fit.l2 > 0) FAIL("l2 applies to family \"gaussian\" only");
    if (o->fit.robust) FAIL("robust applies to family \"gaussian\" only");
    if (o->refine == 1) FAIL("refine applies to family \"gaussian\" only (IRLS iterates instead)");
    if (o->full_metrics) FAIL("metrics \"full\" applies to family \"gaussian\" only");
  } else {
    if (o->offset) FAIL("offset needs family \"binomial\" or \"poisson\"");
    if (o->max_iter || o->epsilon > 0 || o->keep_unconverged)
      FAIL("max_iter, epsilon and keep_unconverged need family \"binomial\" or \"poisson\"");
  }
defaults:
  if (!o->max_iter) o->max_iter = ML_GLM_MAX_ITER;
  if (!(o->epsilon > 0)) o->epsilon = ML_GLM_EPSILON;
  if (!na_given) {
    int n = (int)(sizeof default_na / sizeof default_na[0]);
    o->na_values = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)n);
    if (!o->na_values) goto nomem;
    for (; o->nna < n; o->nna++)
      if (!(o->na_values[o->nna] = sqlite3_mprintf("%s", default_na[o->nna]))) goto nomem;
  }
  if (ml_na_set(&o->na, o->na_values, o->nna)) goto nomem;
  rc = 0;
  goto out;
nomem:
  sqlite3_result_error_nomem(t->ctx);
out:
  ml_json_free(j);
  return rc;
}

/* The options as stored: every value, defaults filled in. */
static void options_json(ml_sb *b, const trainer *t) {
  const train_opts *o = &t->o;
  static const char *nulls[] = {"skip", "error", "mean"};
  static const char *hc[] = {"", "HC0", "HC1", "HC2", "HC3"};
  const char *key = t->has_key ? (o->key ? o->key : "rowid") : NULL;
  ml_sb_puts(b, "{\"test_size\":");
  ml_sb_json_number(b, o->test_size);
  ml_sb_printf(b, ",\"seed\":%lld,\"key\":", (long long)o->seed);
  if (key) ml_sb_json_string(b, key, strlen(key));
  else ml_sb_puts(b, "null");
  ml_sb_printf(b, ",\"intercept\":%s,\"nulls\":\"%s\",\"unseen\":\"%s\",\"categorical\":[",
               o->fit.intercept ? "true" : "false", nulls[o->fit.nulls],
               o->fit.unseen_zero ? "zero" : "error");
  for (int i = 0; i < o->ncategorical; i++) {
    if (i) ml_sb_puts(b, ",");
    ml_sb_json_string(b, o->categorical[i], strlen(o->categorical[i]));
  }
  ml_sb_puts(b, "],\"na_values\":[");
  for (int i = 0; i < o->nna; i++) {
    if (i) ml_sb_puts(b, ",");
    ml_sb_json_string(b, o->na_values[i], strlen(o->na_values[i]));
  }
  ml_sb_puts(b, "],\"weights\":");
  if (o->weights) ml_sb_json_string(b, o->weights, strlen(o->weights));
  else ml_sb_puts(b, "null");
  ml_sb_puts(b, ",\"l2\":");
  ml_sb_json_number(b, o->fit.l2);
  if (o->fit.robust) ml_sb_printf(b, ",\"robust\":\"%s\"", hc[o->fit.robust]);
  else ml_sb_puts(b, ",\"robust\":null");
  ml_sb_printf(b, ",\"refine\":%s,\"metrics\":\"%s\",\"tol\":",
               o->refine < 0 ? "\"auto\"" : o->refine ? "true" : "false",
               o->full_metrics ? "full" : "basic");
  ml_sb_json_number(b, o->fit.tol);
  if (o->family != ML_FAMILY_GAUSSIAN) {
    ml_sb_printf(b, ",\"family\":\"%s\",\"offset\":", ml_family_name(o->family));
    if (o->offset) ml_sb_json_string(b, o->offset, strlen(o->offset));
    else ml_sb_puts(b, "null");
    ml_sb_printf(b, ",\"max_iter\":%d,\"epsilon\":", o->max_iter);
    ml_sb_json_number(b, o->epsilon);
    ml_sb_printf(b, ",\"keep_unconverged\":%s", o->keep_unconverged ? "true" : "false");
  }
  ml_sb_puts(b, "}");
}

/* ---- source, features, the row statement ---- */

static int is_special(const trainer *t, const char *col) {
  return sqlite3_stricmp(col, t->target) == 0 || (t->o.key && sqlite3_stricmp(col, t->o.key) == 0) ||
         (t->o.weights && sqlite3_stricmp(col, t->o.weights) == 0) ||
         (t->o.offset && sqlite3_stricmp(col, t->o.offset) == 0);
}

/* Appends a warning (printf-style) to the summary's "warnings". */
static void warn(trainer *t, const char *fmt, ...) {
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

/*
** Does no row of the source meet the condition (a printf format of col)?
** 0 or 1; -1 after reporting.
*/
static int source_never(trainer *t, const char *cond, const char *col) {
  char *where = sqlite3_mprintf(cond, col);
  char *sql = where ? sqlite3_mprintf("SELECT NOT EXISTS (SELECT 1 FROM %s WHERE %s)", t->from, where)
                    : NULL;
  sqlite3_free(where);
  sqlite3_stmt *st = NULL;
  int rc = sql ? sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  int yes = 0;
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    yes = sqlite3_column_int(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) {
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return -1;
  }
  return yes;
}

/*
** Is col the side column of an ml_split table (or of a copy of one): named
** split, with no value but 'train', 'test', 'valid' or NULL?  Then it says
** where a row went, and is no feature.  0 or 1; -1 after reporting.
*/
static int is_split_column(trainer *t, const char *col) {
  if (sqlite3_stricmp(col, "split") != 0) return 0;
  return source_never(t, "\"%w\" NOT IN ('train', 'test', 'valid')", col);
}

/*
** Is col the rowid under another name, in every row?  Asked of an ml_split
** table (or a copy of one), where the base table's INTEGER PRIMARY KEY is a
** plain column: a row's name, not a feature.  The scan stops at the first
** row where it is not, the first row for any other column.  Not asked of
** other tables: there a column 1..n may well be a feature (a trend), and
** the rowid's alias is known from the schema.
*/
static int is_rowid_copy(trainer *t, const char *col) {
  if (!t->rowid || sqlite3_stricmp(col, "rowid") == 0) return 0;
  return source_never(t, "\"%w\" IS NOT rowid", col);
}

/* Reads the feature list: a JSON array, or '*' (also when v is NULL or absent). */
static int parse_features(trainer *t, sqlite3_value *v, char **cols, int ncol) {
  const char *text = !v || sqlite3_value_type(v) == SQLITE_NULL ? "*" : (const char *)sqlite3_value_text(v);
  if (!text) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  if (strcmp(text, "*") == 0) {
    t->star = 1;
    t->feat = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)(ncol + 1));
    if (!t->feat) {
      sqlite3_result_error_nomem(t->ctx);
      return -1;
    }
    int split = 0;
    for (int i = 0; i < ncol && !split; i++)
      if (!is_special(t, cols[i]) && (split = is_split_column(t, cols[i])) < 0) return -1;
    for (int i = 0; i < ncol; i++) {
      if (is_special(t, cols[i])) continue;
      if (t->rowid_alias && sqlite3_stricmp(cols[i], t->rowid_alias) == 0) continue;
      if (split && sqlite3_stricmp(cols[i], "split") == 0) continue;
      int id = split ? is_rowid_copy(t, cols[i]) : 0;
      if (id < 0) return -1;
      if (id) {
        warn(t, "'%s' left out of '*': it is the rowid in every row (a row's name, not a feature)",
             cols[i]);
        continue;
      }
      if (!cols[i][0])
        return ml_error(t->ctx, "ml_train(): column %d of the source '%s' has an empty name, which a "
                                "model cannot keep; name it in a query (SELECT \"\" AS x, ...) or "
                                "list the features", i + 1, t->source);
      if (!(t->feat[t->k] = sqlite3_mprintf("%s", cols[i]))) {
        sqlite3_result_error_nomem(t->ctx);
        return -1;
      }
      t->k++;
    }
    if (t->k == 0) return ml_error(t->ctx, "ml_train(): the source has no column besides the target");
    return 0;
  }
  ml_json *j = ml_json_arg(t->ctx, "ml_train", "features", text, strlen(text));
  if (!j) return -1;
  int rc = -1;
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
    if (is_special(t, c->str)) {
      ml_error(t->ctx, "ml_train(): '%s' is the %s; it cannot be a feature too", c->str,
               sqlite3_stricmp(c->str, t->target) == 0 ? "target"
               : t->o.key && sqlite3_stricmp(c->str, t->o.key) == 0 ? "split key"
               : t->o.weights && sqlite3_stricmp(c->str, t->o.weights) == 0 ? "weight" : "offset");
      goto out;
    }
    if (ml_find_name(t->feat, t->k, c->str) >= 0) {
      ml_error(t->ctx, "ml_train(): feature '%s' is listed twice", c->str);
      goto out;
    }
    if (!(t->feat[t->k] = sqlite3_mprintf("%s", cols[at]))) {
      sqlite3_result_error_nomem(t->ctx);
      goto out;
    }
    t->k++;
  }
  rc = 0;
out:
  ml_json_free(j);
  return rc;
}

/* Appends ", \"name\"" (or without the comma) to b. */
static void put_col(ml_sb *b, const char *name, int comma) {
  char *q = sqlite3_mprintf("%s\"%w\"", comma ? ", " : "", name);
  if (q) ml_sb_puts(b, q);
  else b->oom = 1;
  sqlite3_free(q);
}

/*
** SELECT ml__pass(?1, [key,] target, features... [, weight]) FROM source,
** or without ml__pass when the columns are more than a function takes.
*/
static int prepare_rows(trainer *t, char **cols, int ncol) {
  const char *key = t->o.key;
  if (key && sqlite3_stricmp(key, "rowid") != 0) {
    if (ml_find_name(cols, ncol, key) < 0)
      return ml_error(t->ctx, "ml_train(): the source '%s' has no column '%s' (option key)",
                      t->source, key);
    t->has_key = 1;
  } else if (key || t->rowid) {
    if (!t->rowid)
      return ml_error(t->ctx, "ml_train(): the source '%s' has no rowid (option key)", t->source);
    t->has_key = 1;
  }
  if (t->o.weights && ml_find_name(cols, ncol, t->o.weights) < 0)
    return ml_error(t->ctx, "ml_train(): the source '%s' has no column '%s' (option weights)",
                    t->source, t->o.weights);
  if (t->o.offset && ml_find_name(cols, ncol, t->o.offset) < 0)
    return ml_error(t->ctx, "ml_train(): the source '%s' has no column '%s' (option offset)",
                    t->source, t->o.offset);
  for (int i = 0; i < t->o.ncategorical; i++)
    if (ml_find_name(t->feat, t->k, t->o.categorical[i]) < 0)
      return ml_error(t->ctx, "ml_train(): '%s' (option categorical) is not a feature",
                      t->o.categorical[i]);
  t->ncols = t->has_key + 1 + t->k + (t->o.weights != NULL) + (t->o.offset != NULL);
  t->by_agg = t->ncols + 1 <= sqlite3_limit(t->db, SQLITE_LIMIT_FUNCTION_ARG, -1);
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_puts(&b, t->by_agg ? "SELECT ml__pass(?1, " : "SELECT ");
  if (t->has_key) {
    if (key && sqlite3_stricmp(key, "rowid") != 0) put_col(&b, key, 0);
    else ml_sb_puts(&b, "rowid");
  }
  t->cy = t->has_key;
  put_col(&b, t->target, t->has_key);
  for (int j = 0; j < t->k; j++) put_col(&b, t->feat[j], 1);
  t->cw = -1;
  if (t->o.weights) {
    put_col(&b, t->o.weights, 1);
    t->cw = t->cy + 1 + t->k;
  }
  t->co = -1;
  if (t->o.offset) {
    put_col(&b, t->o.offset, 1);
    t->co = t->cy + 1 + t->k + (t->cw >= 0);
  }
  ml_sb_puts(&b, t->by_agg ? ") FROM " : " FROM ");
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

static int listed_categorical(const trainer *t, const char *col) {
  for (int i = 0; i < t->o.ncategorical; i++)
    if (sqlite3_stricmp(t->o.categorical[i], col) == 0) return 1;
  return 0;
}

/*
** Feature j's first guess (see the header): listed categorical, levels
** that are numbers (R's factor() of a numeric column) until a value is not
** one; a declared type of INTEGER, REAL or NUMERIC affinity (as SQLite
** reads declared types: INT; CHAR, CLOB, TEXT; BLOB or none; REAL, FLOA,
** DOUB; anything else NUMERIC), numeric for sure; TEXT affinity or none
** (an expression in a query, a BLOB column), numeric until a value is not
** a number.
*/
static int feature_type(trainer *t, int j, int *sure) {
  *sure = 0;
  if (listed_categorical(t, t->feat[j])) return ML_TYPE_NUM_LEVELS;
  int at = ml_find_name(t->cols, t->ncol, t->feat[j]);
  const char *d = at >= 0 && t->decls ? t->decls[at] : NULL;
  if (!d || !d[0]) return ML_TYPE_NUMERIC;
  char up[64];
  size_t n = strlen(d) < sizeof up - 1 ? strlen(d) : sizeof up - 1;
  for (size_t i = 0; i < n; i++) up[i] = (char)(d[i] >= 'a' && d[i] <= 'z' ? d[i] - 32 : d[i]);
  up[n] = 0;
  if (!strstr(up, "INT") && (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT") ||
                             strstr(up, "BLOB")))
    return ML_TYPE_NUMERIC;
  *sure = 1;
  return ML_TYPE_NUMERIC;
}

/* ---- the passes ---- */

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

/* "row 17 (id 42)": where a row is, for messages; sqlite3_free it. */
static char *row_name(trainer *t) {
  if (!t->has_key) return sqlite3_mprintf("row %lld", (long long)t->nread);
  sqlite3_value *k = t->vals[0];
  return sqlite3_mprintf(sqlite3_value_type(k) == SQLITE_TEXT ? "row %lld (%s '%s')" : "row %lld (%s %s)",
                         (long long)t->nread, t->o.key ? t->o.key : "rowid", sqlite3_value_text(k));
}

/*
** A text that is no number where one must be.  Not "CAST it": CAST('NA' AS
** REAL) is 0, and the model would learn from invented zeros.
*/
static int text_error(trainer *t, const char *col, const char *text, const char *where, int feature) {
  return ml_error(t->ctx, "ml_train(): column '%s' is text ('%!.20s') in %s, not a number: if it "
                          "marks a missing value, list it in option \"na_values\" (or use "
                          "NULLIF(\"%w\", '%!.20s') in a query source)%s",
                  col, text ? text : "", where ? where : "a row", col, text ? text : "",
                  feature ? "; if the column holds categories, list it in option \"categorical\""
                          : "");
}

/*
** Column j read as numbers but for some text, and as categorical it cannot
** be a model's (too many levels, levels only in test rows, nearly one per
** row): a numeric column with a stray text, which is what to report.
*/
static int stray_text(trainer *t, int j) {
  char *w = t->why[j], *sep = strrchr(w, '\x01');
  *sep = 0;
  text_error(t, t->feat[j], w, sep + 1, 1);
  *sep = '\x01';
  return -1;
}

/* Reports a bad value in a column of the current row (kind from ml_value_num). */
static int bad_value(trainer *t, const char *col, int kind, sqlite3_value *v) {
  char *where = row_name(t);
  int feature = ml_find_name(t->feat, t->k, col) >= 0;
  if (kind == ML_V_NULL) {
    ml_error(t->ctx, "ml_train(): column '%s' is NULL in %s, and option nulls is \"error\"", col,
             where ? where : "a row");
  } else if (kind == ML_V_NUM) {
    ml_error(t->ctx, "ml_train(): column '%s' is negative in %s; weights must be >= 0", col,
             where ? where : "a row");
  } else if (kind == ML_V_TEXT) {
    text_error(t, col, (const char *)sqlite3_value_text(v), where, feature);
  } else if (kind == ML_V_NOMEM) {
    sqlite3_result_error_nomem(t->ctx);
  } else {
    char what[160];
    snprintf(what, sizeof what, "column '%.100s'", col);
    ml_value_error(t->ctx, "ml_train", what, kind, v, t->nread);
  }
  sqlite3_free(where);
  return -1;
}

/*
** Reads the response and the weight of the current row.  Returns 1 for a
** row to use, 0 for one to skip, -1 after reporting.
*/
static int read_yw(trainer *t, double *y, double *w) {
  sqlite3_value *yv = t->vals[t->cy];
  int text, kind = ml_read_num(yv, &t->o.na, 1, y, &text);
  t->y_text |= text;
  if (t->ylev[0] && kind != ML_V_NULL) {
    /* A binomial target of two text levels: the second is 1. */
    const char *z = kind == ML_V_TEXT ? (const char *)sqlite3_value_text(yv) : NULL;
    int l = !z ? -1 : strcmp(z, t->ylev[0]) == 0 ? 0 : strcmp(z, t->ylev[1]) == 0 ? 1 : -1;
    if (l < 0) {
      char *where = row_name(t);
      ml_error(t->ctx, "ml_train(): family \"binomial\" with the target's levels '%s' (0) and '%s' "
                       "(1) found %s '%s' in %s", t->ylev[0], t->ylev[1],
               kind == ML_V_TEXT ? "another level" : "a value", sqlite3_value_text(yv),
               where ? where : "a row");
      sqlite3_free(where);
      return -1;
    }
    *y = l;
    kind = ML_V_NUM;
  }
  if (kind == ML_V_NULL) {
    if (t->o.fit.nulls == ML_NULLS_ERROR) return bad_value(t, t->target, ML_V_NULL, yv);
    return 0;
  }
  if (kind != ML_V_NUM) return bad_value(t, t->target, kind, yv);
  *w = 1;
  if (t->cw >= 0) {
    sqlite3_value *wv = t->vals[t->cw];
    kind = ml_read_num(wv, &t->o.na, 1, w, &text);
    t->w_text |= text;
    if (kind == ML_V_NULL) {
      if (t->o.fit.nulls == ML_NULLS_ERROR) return bad_value(t, t->o.weights, ML_V_NULL, wv);
      return 0;
    }
    if (kind != ML_V_NUM) return bad_value(t, t->o.weights, kind, wv);
    if (*w < 0) return bad_value(t, t->o.weights, ML_V_NUM, wv);
  }
  return 1;
}

/* The side of the current row: ML_SIDE_*, or -1 after reporting. */
static int row_side(trainer *t) {
  if (t->o.test_size <= 0) return ML_SIDE_TRAIN;
  double u;
  int rc;
  if (t->has_key) {
    rc = ml_split_u_seeded(t->seeded, t->vals[0], &u);
  } else {
    /* The row is its own key: its target and features, in order. */
    rc = ml_split_u_row(t->vals + t->cy, t->k + 1, t->o.seed, &u);
    if (rc == ML_SPLIT_NULL_KEY) return ML_SIDE_TRAIN; /* a NULL feature: imputed or skipped */
  }
  if (rc == ML_SPLIT_NOMEM) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  if (rc)
    return ml_error(t->ctx, "ml_train(): the key '%s' is NULL in row %lld; the split needs a key "
                            "on every row", t->o.key ? t->o.key : "rowid", (long long)t->nread);
  return ml_split_side(u, t->o.test_size, 0);
}

/* Leaves feature j out (of '*'), between passes; 0, or -1 after reporting. */
static int drop_feature(trainer *t, int j) {
  sqlite3_free(t->feat[j]);
  sqlite3_free(t->why[j]);
  for (int i = j; i + 1 < t->k; i++) {
    t->feat[i] = t->feat[i + 1];
    t->kind[i] = t->kind[i + 1];
    t->sure[i] = t->sure[i + 1];
    t->why[i] = t->why[i + 1];
  }
  t->k--;
  sqlite3_finalize(t->rows);
  t->rows = NULL;
  return prepare_rows(t, t->cols, t->ncol);
}

/*
** After a first pass of '*': the first text feature (not listed
** categorical) with a different value in every row it has, more than 10:
** an identifier or a name, whose levels would fit every row exactly.  Its
** index, or -1.
*/
static int name_column(const trainer *t) {
  for (int j = 0; j < t->k; j++) {
    const fa_feature *f = &t->fa.f[j];
    if (t->kind[j] == ML_TYPE_CATEGORICAL && !listed_categorical(t, t->feat[j]) && !t->why[j] &&
        f->nlevels > 10 && f->nlevels == f->values)
      return j;
  }
  return -1;
}

/* ---- a GLM's rows (the iterations are glm_fit's) ---- */

/* The offset of the current row: 1 with *off, 0 for a NULL (the row is
** skipped), -1 after reporting.  0 without an offset. */
static int read_offset(trainer *t, double *off) {
  *off = 0;
  if (t->co < 0) return 1;
  sqlite3_value *v = t->vals[t->co];
  int text, kind = ml_read_num(v, &t->o.na, 1, off, &text);
  if (kind == ML_V_NULL) {
    if (t->o.fit.nulls == ML_NULLS_ERROR) return bad_value(t, t->o.offset, ML_V_NULL, v);
    return 0;
  }
  if (kind != ML_V_NUM) return bad_value(t, t->o.offset, kind, v);
  return 1;
}

/* Is y in the family's range?  0; -1 after reporting the row.  Counts the
** values R warns of (glm.h, ml_glm_check_y). */
static int check_response(trainer *t, double y, double w) {
  int r = ml_glm_check_y(t->o.family, y, w, t->cw >= 0);
  if (r == ML_GLM_Y_OK) return 0;
  if (r == ML_GLM_Y_FRACTION) {
    if (!t->fraction_rows++) t->fraction_first = t->nread;
    return 0;
  }
  char *where = row_name(t);
  if (t->o.family == ML_FAMILY_BINOMIAL)
    ml_error(t->ctx, "ml_train(): family \"binomial\" needs the target '%s' to be %s, got %!.17g in %s",
             t->target, t->cw >= 0 ? "a proportion in [0, 1] (of the trials in the weights)" : "0 or 1",
             y, where ? where : "a row");
  else
    ml_error(t->ctx, "ml_train(): family \"poisson\" needs the target '%s' to be a count >= 0, got "
                     "%!.17g in %s", t->target, y, where ? where : "a row");
  sqlite3_free(where);
  return -1;
}

/* R's first IRLS step for a row: from mustart, the working response and
** weight (*z, *W) and the mean (*mu). */
static void glm_start(const trainer *t, double y, double w, double off, double *z, double *W,
                      double *mu) {
  int f = t->o.family;
  ml_glm_work(f, y, w, ml_glm_linkfun(f, ml_glm_mustart(f, y, w)), off, z, W, mu);
}

/* The first pass, row by row: split, fit, count, fingerprint.  For a GLM
** the fit is IRLS's first step, from R's starting values: the accumulator
** gets the working response and weight where a linear fit has y and w. */
static int first_row(trainer *t) {
  progress(t, "fitting");
  double y, w, off = 0, z = 0, W = 0, mu0 = 0;
  int use = read_yw(t, &y, &w), glm = t->o.family != ML_FAMILY_GAUSSIAN;
  if (use < 0) return -1;
  if (!use) {
    double d;
    int text; /* NULL, or a na_values text */
    if (ml_read_num(t->vals[t->cy], &t->o.na, 1, &d, &text) == ML_V_NULL) t->target_nulls++;
    else t->weight_nulls++;
    return 0;
  }
  if (glm) {
    if ((use = read_offset(t, &off)) < 0) return -1;
    if (!use) {
      t->offset_nulls++;
      return 0;
    }
    if (check_response(t, y, w)) return -1;
    glm_start(t, y, w, off, &z, &W, &mu0);
  }
  int side = row_side(t);
  if (side < 0) return -1;
  int r = ml_fitacc_add(&t->fa, side == ML_SIDE_TEST, t->vals + t->cy + 1, glm ? z : y, glm ? W : w);
  if (r == ML_FA_ERROR && t->fa.bad_kind == ML_V_TEXT && t->fa.bad_col >= 0 &&
      !t->sure[t->fa.bad_col]) {
    /* A text that is no number: the column was guessed numeric, or its
    ** levels numbers.  It is categorical, by its texts: start again. */
    int c = t->fa.bad_col;
    if (t->kind[c] == ML_TYPE_NUMERIC && t->fa.f[c].values > 0 && !(t->why[c] = row_name(t))) {
      sqlite3_result_error_nomem(t->ctx);
      return -1;
    }
    if (t->why[c]) {
      char *w = sqlite3_mprintf("%s\x01%s", sqlite3_value_text(t->vals[t->cy + 1 + c]), t->why[c]);
      sqlite3_free(t->why[c]);
      if (!(t->why[c] = w)) {
        sqlite3_result_error_nomem(t->ctx);
        return -1;
      }
    }
    t->kind[c] = ML_TYPE_CATEGORICAL;
    t->sure[c] = 1;
    t->restart = 1;
    return -1;
  }
  if (r == ML_FA_TOO_WIDE && t->why[t->fa.bad_col]) return stray_text(t, t->fa.bad_col);
  if (r == ML_FA_TOO_WIDE && t->star && t->k > 1 && !listed_categorical(t, t->feat[t->fa.bad_col])) {
    warn(t, "'%s' left out of '*': more distinct values than a model can hold (%d terms); "
            "list the features to choose", t->feat[t->fa.bad_col], ML_MAX_TERMS);
    t->drop = t->fa.bad_col;
    t->restart = 1;
    return -1;
  }
  if (r == ML_FA_ERROR) {
    int c = t->fa.bad_col;
    return bad_value(t, c == -2 ? t->o.weights : c == -1 ? t->target : t->feat[c], t->fa.bad_kind,
                     t->vals[c == -2 ? t->cw : t->cy + 1 + c]);
  }
  if (r == ML_NOMEM) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  if (r == ML_FA_TOO_WIDE)
    return ml_error(t->ctx, "ml_train(): feature '%s' has too many levels (%d by row %lld): a "
                            "model holds at most %d terms", t->feat[t->fa.bad_col],
                    t->fa.f[t->fa.bad_col].nlevels, (long long)t->nread, ML_MAX_TERMS);
  if (r != ML_FA_USED) return 0;
  if (side != ML_SIDE_TEST)
    t->rows_hash += ml_rowhash(t->cw >= 0 ? &w : NULL, y, t->vals + t->cy + 1, t->k);
  welford_add(side == ML_SIDE_TEST ? &t->wtest : &t->wtrain, y, w);
  if (glm && side != ML_SIDE_TEST) {
    ml_ksum_add(&t->dev_start, ml_glm_dev_resid(t->o.family, y, mu0, w));
    ml_ksum_add(&t->prior_w, w);
    ml_ksum_add(&t->prior_wy, w * y);
    if (t->cw >= 0) ml_ksum_add(&t->prior_log_w, log(w));
  }
  return 0;
}

/*
** ml__pass(trainer, values...): the internal aggregate every pass of
** ml_train runs (see the header comment).  The trainer is a pointer only
** ml_train can bind, so from SQL it is an error.
*/
void ml_pass_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  trainer *t = sqlite3_value_pointer(argv[0], "sqlml_trainer");
  /* Only ml_train binds the pointer, and only to its own statement, whose
  ** call has one argument per column it reads; a source cannot take
  ** parameters (sqlq.c), so any other call is from SQL text. */
  if (!t || argc != t->ncols + 1 || !t->on_row) {
    sqlite3_result_error(ctx, "ml__pass(): internal to ml_train", -1);
    return;
  }
  if (t->failed) return;
  t->vals = argv + 1;
  t->nread++;
  if (t->on_row(t)) {
    t->failed = 1;
    sqlite3_result_error(ctx, "ml_train: stopped", -1);
  }
}

void ml_pass_final(sqlite3_context *ctx) { (void)ctx; }

static int step_rows(trainer *t, int (*fn)(trainer *));

/* Runs every row of the source through fn; 0, or -1 after reporting. */
static int run_pass(trainer *t, int (*fn)(trainer *)) {
  if (ml_nest_enter()) return ml_error(t->ctx, "ml_train(): " ML_NEST_MSG);
  int rc = step_rows(t, fn);
  ml_nest_leave();
  t->on_row = NULL;
  if (rc == SQLITE_DONE) return 0;
  if (rc > 0 && !t->failed) ml_result_db_error(t->ctx, "ml_train", t->db, rc);
  return -1;
}

/* The loop of run_pass: SQLITE_DONE, another SQLite code, or -1 after fn reported. */
static int step_rows(trainer *t, int (*fn)(trainer *)) {
  t->on_row = fn;
  t->nread = 0;
  sqlite3_reset(t->rows);
  int rc = SQLITE_OK;
  if (t->by_agg) {
    rc = sqlite3_bind_pointer(t->rows, 1, t, "sqlml_trainer", NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(t->rows)) == SQLITE_ROW) rc = SQLITE_OK;
  } else {
    t->vals = t->colv;
    while ((rc = sqlite3_step(t->rows)) == SQLITE_ROW) {
      for (int c = 0; c < t->ncols; c++) t->colv[c] = sqlite3_column_value(t->rows, c);
      t->nread++;
      if (fn(t)) return -1;
    }
  }
  return rc;
}

/*
** Does the one-pass fit need a refinement step?  Its forward error bound on
** the column-scaled problem is u k (1 + k |r| / (|X| |b|)) (Golub & Van Loan,
** 5.3.8), with k the condition estimate (dtrcon) of the kept columns' factor
** scaled to unit columns.  Below REFINE_ABOVE a refinement step cannot move
** the coefficients in the digits anyone reads; above, it runs.
*/
/* 1 or 0; or minus a core code (ML_NOMEM): the answer must not depend on memory. */
/*
** The model keeps its test rows' factor (section tfac), so another model
** over the same columns can be scored on those rows without reading them
** (ml_compare, ml_promote).  Linear models only: a GLM's factor is of its
** last working weights, which a sum of squares of another model's
** residuals does not measure.  The factor moves to the model.
*/
static void keep_test_factor(trainer *t, ml_model *m) {
  if (!t->Rtest || m->family || t->fa.used[1] == 0) return;
  m->test_R = t->Rtest;
  t->Rtest = NULL;
  m->test_n = t->fa.used[1];
  m->test_w = t->wtest.w;
  m->test_mean = t->wtest.mean;
  m->test_m2 = t->wtest.m2;
}

static int needs_refinement(const ml_model *m) {
  int q = m->p + 1, r, need = -ML_NOMEM;
  double *W = sqlite3_malloc64(8 * (sqlite3_uint64)q * (sqlite3_uint64)q);
  double *work = sqlite3_malloc64(8 * 3 * (sqlite3_uint64)q);
  lapack_int *iwork = sqlite3_malloc64(sizeof(lapack_int) * (sqlite3_uint64)q);
  unsigned char *al = sqlite3_malloc64((sqlite3_uint64)m->p);
  if (!W || !work || !iwork || !al) goto out;
  memcpy(al, m->aliased, (size_t)m->p);
  int rc = ml_lsq_reduce(m->R, q, -1, al, W, &r);
  if (rc) {
    need = -rc;
    goto out;
  }
  /* From here, whatever the estimate cannot say means: refine. */
  need = 1;
  if (r == 0) goto out;
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

/*
** A later pass, row by row, with the model's design: refinement (t->ref),
** robust covariance (t->hc), errors for mae and max_error (t->measure).
*/
static int again_row(trainer *t) {
  const ml_model *m = t->m;
  progress(t, t->ref ? "refining" : t->hc ? "robust errors" : "measuring");
  double y, w;
  int use = read_yw(t, &y, &w);
  if (use < 0) return -1;
  if (!use || w == 0) return 0;
  int side = row_side(t);
  if (side < 0) return -1;
  int r = ml_design_row(t->ctx, "ml_train", m, t->vals + t->cy + 1, t->x);
  if (r < 0) return -1;
  if (r == ML_V_NULL) return 0;
  int test = side == ML_SIDE_TEST;
  t->again_n[test]++;
  double sw = sqrt(w);
  if (t->measure) {
    long double e = y;
    for (int j = 0; j < m->p; j++) e -= (long double)m->beta[j] * t->x[j];
    abs_err *ae = test ? &t->etest : &t->etrain;
    double ad = fabs((double)e);
    ae->sum += w * ad;
    if (ad > ae->max) ae->max = ad;
  }
  if (test) return 0;
  if (ml_fitacc_fingerprint(&t->fa, t->vals + t->cy + 1, y, w, t->again_hash)) t->again_n[0] = -1;
  if (t->ref) ml_refiner_add(t->ref, m, t->x, y, sw);
  int rc = t->hc ? ml_hcacc_add(t->hc, m, t->x, y, sw) : ML_OK;
  if (rc) {
    ml_result_code(t->ctx, "ml_train", rc);
    return -1;
  }
  return 0;
}

/* Another pass over the same rows; checks they are the rows of the first. */
static int pass_again(trainer *t, ml_refiner *ref, ml_hcacc *hc, int measure) {
  t->ref = ref;
  t->hc = hc;
  t->measure = measure;
  t->again_n[0] = t->again_n[1] = 0;
  t->again_hash[0] = ML_HASH_SEED0;
  t->again_hash[1] = ML_HASH_SEED1;
  if (run_pass(t, again_row)) return -1;
  if (t->again_n[0] != t->m->n || t->again_n[1] != t->fa.used[1] ||
      t->again_hash[0] != t->fa.hash[0] || t->again_hash[1] != t->fa.hash[1])
    return ml_error(t->ctx, "ml_train(): the source changed while it was read again (another "
                            "connection wrote to it); train again");
  return 0;
}

/*
** A pass of IRLS, row by row, at the model's coefficients: the deviance
** and R's AIC of the training rows, the metrics of both sides, the null
** model's deviance (and its own IRLS step when it has an intercept and an
** offset), and, with glm_accumulate, the next step's factor of
** sqrt(W) [x z].  The fingerprint is the first pass's (glm_start).
*/
static int glm_row(trainer *t) {
  const ml_model *m = t->m;
  progress(t, "iterating");
  double y, w, off;
  int use = read_yw(t, &y, &w);
  if (use < 0) return -1;
  if (!use || w == 0) return 0;
  if ((use = read_offset(t, &off)) <= 0) return use;
  int side = row_side(t);
  if (side < 0) return -1;
  int r = ml_design_row(t->ctx, "ml_train", m, t->vals + t->cy + 1, t->x);
  if (r < 0) return -1;
  if (r == ML_V_NULL) return 0;
  int test = side == ML_SIDE_TEST, f = t->o.family;
  t->again_n[test]++;
  double lin = 0;
  for (int j = 0; j < m->p; j++) lin += m->beta[j] * t->x[j];
  double eta = lin + off, mu = ml_glm_linkinv(f, eta), dev = ml_glm_dev_resid(f, y, mu, w);
  struct glm_metric *g = &t->gm[test];
  ml_ksum_add(&g->w, w);
  ml_ksum_add(&g->dev, dev);
  if (f == ML_FAMILY_BINOMIAL) {
    /* As scikit-learn's log_loss, which clips at the double's epsilon. */
    double pc = fmin(fmax(mu, DBL_EPSILON), 1 - DBL_EPSILON);
    ml_ksum_add(&g->logloss, -w * ((y > 0 ? y * log(pc) : 0) + (y < 1 ? (1 - y) * log1p(-pc) : 0)));
    ml_ksum_add(&g->correct, (mu > 0.5 ? 1.0 : 0.0) == y ? w : 0);
    ml_ksum_add(&g->brier, w * (y - mu) * (y - mu));
  }
  if (test) return 0;
  double z, W, mu0;
  glm_start(t, y, w, off, &z, &W, &mu0);
  if (ml_fitacc_fingerprint(&t->fa, t->vals + t->cy + 1, z, W, t->again_hash)) t->again_n[0] = -1;
  ml_ksum_add(&t->dev, dev);
  ml_ksum_add(&t->aic_sum, ml_glm_aic_term(f, y, mu, w));
  /* R's glm.fit warns of these fitted values, at 10 epsilon. */
  double eps = 10 * DBL_EPSILON;
  if (f == ML_FAMILY_BINOMIAL ? mu > 1 - eps || mu < eps : mu < eps) t->bound_rows++;
  double eta0 = t->null_b + off, mu_null = t->co < 0 ? t->null_mu : ml_glm_linkinv(f, eta0);
  ml_ksum_add(&t->null_dev, ml_glm_dev_resid(f, y, mu_null, w));
  if (t->co >= 0 && (m->flags & ML_MODEL_INTERCEPT)) {
    ml_glm_work(f, y, w, eta0, off, &z, &W, &mu0);
    ml_ksum_add(&t->null_sw, W);
    ml_ksum_add(&t->null_swz, W * z);
  }
  if (!t->glm_accumulate) return 0;
  ml_glm_work(f, y, w, eta, off, &z, &W, &mu0);
  double sw = sqrt(W);
  for (int j = 0; j < m->p; j++) ml_lsq_put(&t->glm_acc, j, sw * t->x[j]);
  ml_lsq_put(&t->glm_acc, m->p, sw * z);
  int rc = ml_lsq_commit(&t->glm_acc);
  if (rc) {
    ml_result_code(t->ctx, "ml_train", rc);
    return -1;
  }
  return 0;
}

/* One pass of glm_row; checks it read the rows of the first pass. */
static int glm_pass(trainer *t) {
  memset(&t->dev, 0, sizeof t->dev);
  memset(&t->aic_sum, 0, sizeof t->aic_sum);
  memset(&t->null_dev, 0, sizeof t->null_dev);
  memset(&t->null_sw, 0, sizeof t->null_sw);
  memset(&t->null_swz, 0, sizeof t->null_swz);
  memset(t->gm, 0, sizeof t->gm);
  t->bound_rows = 0;
  t->again_n[0] = t->again_n[1] = 0;
  t->again_hash[0] = ML_HASH_SEED0;
  t->again_hash[1] = ML_HASH_SEED1;
  if (t->glm_accumulate) {
    ml_lsq_free(&t->glm_acc);
    if (ml_lsq_init(&t->glm_acc, t->m->p)) {
      sqlite3_result_error_nomem(t->ctx);
      return -1;
    }
  }
  if (run_pass(t, glm_row)) return -1;
  if (t->again_n[0] != t->m->n || t->again_n[1] != t->fa.used[1] ||
      t->again_hash[0] != t->fa.hash[0] || t->again_hash[1] != t->fa.hash[1])
    return ml_error(t->ctx, "ml_train(): the source changed while it was read again (another "
                            "connection wrote to it); train again");
  return 0;
}

static double ksum(const ml_ksum *k) { return ml_ksum_value(k); }

/*
** IRLS, as R's glm.fit: the first pass made step 1 (from mustart) into the
** model's factor.  Each pass then evaluates the coefficients of the last
** step (the deviance that R's rule compares with the one before) and folds
** the next step's working rows into a fresh factor, which becomes the
** model's only if the rule says to go on: so the model keeps the factor
** its coefficients solve, whose inverse is their covariance, as R's fit
** does.  Iterations + 1 passes.  The null model with an intercept and an
** offset is R's second fit (glm() refits it): its own IRLS, one scalar
** step per pass alongside, with passes of its own if it is not done.
*/
static int glm_fit(trainer *t) {
  ml_model *m = t->m;
  const train_opts *o = &t->o;
  int f = o->family, ic = (m->flags & ML_MODEL_INTERCEPT) != 0, rc;
  m->family = f;
  m->link = ml_family_link(f);
  if (o->offset) {
    size_t n = strlen(o->offset) + 1;
    if (!(m->offset = ml_malloc(n))) goto nomem;
    memcpy(m->offset, o->offset, n);
  }
  for (int l = 0; l < 2 && t->ylev[0]; l++) {
    size_t n = strlen(t->ylev[l]) + 1;
    if (!(m->ylevels[l] = ml_malloc(n))) goto nomem;
    memcpy(m->ylevels[l], t->ylev[l], n);
  }
  /* The accumulator had working weights; the model keeps the prior ones. */
  if (t->cw >= 0) {
    m->sum_w = ksum(&t->prior_w);
    m->sum_log_w = ksum(&t->prior_log_w);
  } else {
    m->flags &= ~ML_MODEL_WEIGHTED;
    m->sum_w = (double)m->n;
    m->sum_log_w = 0;
  }
  t->null_mu = ic ? ksum(&t->prior_wy) / ksum(&t->prior_w) : ml_glm_linkinv(f, 0);
  t->null_b = ic ? ml_glm_linkfun(f, t->null_mu) : 0;
  int null_done = !(ic && o->offset), done = 0, conv = 0, iter = 1, null_passes = 0;
  double devold = ksum(&t->dev_start), dev = NAN, null_old = NAN;
  for (;;) {
    t->glm_accumulate = !done;
    if (glm_pass(t)) return -1;
    if (!done) {
      dev = ksum(&t->dev);
      if (!isfinite(dev))
        return ml_error(t->ctx, "ml_train(): the deviance is not finite after iteration %d: the "
                                "fit diverged (R's glm would halve the step; sqlml stops)", iter);
      if (o->progress) fprintf(stderr, "ml_train: iteration %d: deviance %.10g\n", iter, dev);
      conv = ml_glm_converged(dev, devold, o->epsilon);
      done = conv || iter >= o->max_iter;
      if (!done) {
        if ((rc = ml_lsq_fold(&t->glm_acc))) goto code;
        int q = m->p + 1;
        memset(m->R, 0, 8 * (size_t)q * (size_t)q);
        for (int j = 0; j < q; j++)
          for (int i = 0; i <= j; i++) m->R[i + (int64_t)j * q] = t->glm_acc.R[i + (int64_t)j * q];
        if ((rc = ml_model_solve(m))) goto code;
        devold = dev;
        iter++;
      }
    } else {
      null_passes++;
    }
    if (!null_done) {
      double nd = ksum(&t->null_dev);
      null_done = !isnan(null_old) && ml_glm_converged(nd, null_old, o->epsilon);
      null_old = nd;
      if (!null_done) t->null_b = ksum(&t->null_swz) / ksum(&t->null_sw);
    }
    if (done && null_done) break;
    if (null_passes >= o->max_iter)
      return ml_error(t->ctx, "ml_train(): the null model (intercept and offset) did not converge "
                              "in %d iterations (max_iter)", o->max_iter);
  }
  if (!conv && !o->keep_unconverged)
    return ml_error(t->ctx, "ml_train(): the fit did not converge in %d iteration%s (max_iter): "
                            "deviance %.10g, its last relative change %.3g is not below epsilon "
                            "%g; raise max_iter, look for separation or a feature of huge values, "
                            "or keep the fit with option keep_unconverged", iter,
                    iter == 1 ? "" : "s", dev, fabs(dev - devold) / (fabs(dev) + 0.1), o->epsilon);
  int rank = 0;
  for (int j = 0; j < m->p; j++) rank += !m->aliased[j];
  m->iterations = iter;
  m->converged = conv;
  m->deviance = dev;
  m->null_deviance = ksum(&t->null_dev);
  m->aic = ksum(&t->aic_sum) + 2 * rank;
  m->df_null = m->n - ic;
  if (!conv)
    warn(t, "the fit did not converge in %d iterations (max_iter); kept as asked "
            "(keep_unconverged): its estimates are not the maximum likelihood", iter);
  if (t->bound_rows)
    warn(t, f == ML_FAMILY_BINOMIAL
                ? "separation: fitted probabilities numerically 0 or 1 occurred in %lld training "
                  "rows (R's glm warns the same): a feature or a combination of them separates "
                  "the classes there, so the estimates and standard errors of those terms are "
                  "not to be trusted"
                : "fitted rates numerically 0 occurred in %lld training rows (R's glm warns the "
                  "same): the estimates and standard errors of the terms involved are not to be "
                  "trusted",
         (long long)t->bound_rows);
  if (t->fraction_rows)
    warn(t, f == ML_FAMILY_BINOMIAL
                ? "non-integer #successes in a binomial glm (R warns the same): weight times "
                  "target is not a whole number in %lld rows, the first in row %lld"
                : "the target is not a whole number in %lld rows, the first in row %lld (R warns "
                  "the same): the Poisson likelihood is 0 there, so the AIC is infinite",
         (long long)t->fraction_rows, (long long)t->fraction_first);
  return 0;
code:
  ml_result_code(t->ctx, "ml_train", rc);
  return -1;
nomem:
  sqlite3_result_error_nomem(t->ctx);
  return -1;
}

static void glm_metrics_set(ml_sb *b, const char *name, sqlite3_int64 n, const struct glm_metric *g,
                            int family) {
  double sw = ksum(&g->w);
  ml_sb_printf(b, "\"%s\":{\"n\":%lld,\"deviance\":", name, (long long)n);
  ml_sb_json_number(b, n > 0 ? ksum(&g->dev) : NAN);
  if (family == ML_FAMILY_BINOMIAL) {
    ml_sb_puts(b, ",\"log_loss\":");
    ml_sb_json_number(b, n > 0 ? ksum(&g->logloss) / sw : NAN);
    ml_sb_puts(b, ",\"accuracy\":");
    ml_sb_json_number(b, n > 0 ? ksum(&g->correct) / sw : NAN);
    ml_sb_puts(b, ",\"brier\":");
    ml_sb_json_number(b, n > 0 ? ksum(&g->brier) / sw : NAN);
  } else {
    ml_sb_puts(b, ",\"mean_deviance\":");
    ml_sb_json_number(b, n > 0 ? ksum(&g->dev) / sw : NAN);
  }
  ml_sb_puts(b, "}");
}

/* ||R [b; -1]||^2: the residual sum of squares of b over the rows of R. */
static void metrics_set(ml_sb *b, const char *name, sqlite3_int64 n, double rss, const welford *w,
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

/*
** An INSERT that fails for an interrupt, a full disk, an I/O error or out of
** memory makes SQLite roll back the whole transaction it ran in, the
** caller's uncommitted changes with it (sqlite3VdbeHalt); nothing here can
** keep that transaction.  store() makes the window small (it checks for a
** pending interrupt just before writing); when it happens all the same, the
** error says so.
*/
static void report_store_error(trainer *t, int rc, int was_in_txn) {
  if (!was_in_txn || !sqlite3_get_autocommit(t->db)) {
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return;
  }
  ml_error(t->ctx, "ml_train(): %s while storing the version; SQLite rolled back the whole "
                   "transaction this statement ran in: its uncommitted changes are lost, and the "
                   "statements after it run in autocommit mode",
           rc == SQLITE_INTERRUPT ? "interrupted" : sqlite3_errstr(rc));
  sqlite3_result_error_code(t->ctx, rc);
}

/*
** Stores the version (ml_registry_insert); reports its own errors.  in_txn:
** the caller had a transaction open before ml_train began.
*/
static int store(trainer *t, const unsigned char *blob, int64_t nblob, const char *features,
                 const char *options, const char *metrics, const char *hash, const char *created,
                 sqlite3_int64 *version, int in_txn) {
  ml_version_row row = {.name = t->name, .created_at = created, .source = t->source,
                        .target = t->target, .features = features, .options = options,
                        .metrics = metrics, .data_hash = hash, .n_train = t->m->n,
                        .n_test = t->fa.used[1],
                        .n_skipped = t->fa.skipped + t->target_nulls + t->weight_nulls +
                                     t->offset_nulls,
                        .model = blob, .nmodel = nblob,
                        .kind = t->m->family != ML_FAMILY_GAUSSIAN ? "generalized_linear_model" : NULL};
  char *err = NULL;
  int rc = ml_registry_insert(t->db, sqlite3_user_data(t->ctx), "ml_train", &row, version, &err);
  if (rc == SQLITE_OK) return rc;
  if (err) sqlite3_result_error(t->ctx, err, -1);
  else report_store_error(t, rc, in_txn);
  sqlite3_free(err);
  return rc;
}

/* ---- ml_train ---- */

static void trainer_free(trainer *t) {
  sqlite3_finalize(t->rows);
  sqlite3_free(t->from);
  sqlite3_free(t->rowid_alias);
  ml_free_names(t->feat, t->k);
  sqlite3_free(t->o.key);
  sqlite3_free(t->o.weights);
  sqlite3_free(t->o.offset);
  ml_lsq_free(&t->glm_acc);
  sqlite3_free(t->ylev[0]);
  sqlite3_free(t->ylev[1]);
  ml_free_names(t->o.categorical, t->o.ncategorical);
  ml_free_names(t->o.na_values, t->o.nna);
  ml_na_free(&t->o.na);
  sqlite3_free(t->kind);
  sqlite3_free(t->sure);
  if (t->why) ml_free_names(t->why, t->k);
  ml_sb_reset(&t->warn);
  sqlite3_free(t->x);
  sqlite3_free(t->colv);
  ml_free(t->Rtest);
  ml_fitacc_free(&t->fa);
  ml_model_free(t->m);
}

static const char *text_or_null(sqlite3_value *v) {
  return sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
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
static void hash_model(const trainer *t, uint64_t h[2]) {
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
static void model_warnings(trainer *t, const ml_model *m) {
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

static void json_names(ml_sb *b, const char *key, char **names, const int *keep, int n) {
  ml_sb_printf(b, ",\"%s\":[", key);
  for (int j = 0, first = 1; j < n; j++) {
    if (keep && !keep[j]) continue;
    if (!first) ml_sb_puts(b, ",");
    first = 0;
    ml_sb_json_string(b, names[j], strlen(names[j]));
  }
  ml_sb_puts(b, "]");
}

/*
** A binomial target that is text (not numbers in text, not na_values)
** has two levels, the second in byte order being 1 (R's factor response,
** whose levels R orders by the locale's collation: the same for texts of
** one case).  Found before the first pass, by a query for its distinct
** texts: 0 with t->ylev set or not; -1 after reporting.
*/
static int target_levels(trainer *t) {
  char *sql = sqlite3_mprintf("SELECT DISTINCT \"%w\" FROM %s WHERE typeof(\"%w\") = 'text' "
                              "ORDER BY 1 COLLATE BINARY", t->target, t->from, t->target);
  sqlite3_stmt *st = NULL;
  int rc = sql ? sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) : SQLITE_NOMEM, n = 0;
  sqlite3_free(sql);
  char *lev[3] = {NULL, NULL, NULL};
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *z = (const char *)sqlite3_column_text(st, 0);
    int len = sqlite3_column_bytes(st, 0);
    double d;
    if (!z) {
      rc = SQLITE_NOMEM;
      break;
    }
    int num = ml_parse_number(z, len, &d);
    if (num < 0) {
      rc = SQLITE_NOMEM;
      break;
    }
    if (num || ml_na_has_text(&t->o.na, z, len)) {
      rc = SQLITE_OK;
      continue;
    }
    if (n < 3 && !(lev[n] = sqlite3_mprintf("%s", z))) {
      rc = SQLITE_NOMEM;
      break;
    }
    rc = ++n > 2 ? SQLITE_DONE : SQLITE_OK; /* three are enough to refuse */
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    for (int i = 0; i < 3; i++) sqlite3_free(lev[i]);
    ml_result_db_error(t->ctx, "ml_train", t->db, rc == SQLITE_OK ? SQLITE_ERROR : rc);
    return -1;
  }
  if (n == 0) return 0;
  if (n != 2) {
    ml_error(t->ctx, "ml_train(): family \"binomial\" needs the target '%s' to be 0 or 1, or text "
                     "of two levels; it has %s: '%s'%s%s%s", t->target,
             n == 1 ? "one level" : "more than two levels", lev[0], n > 1 ? ", '" : "",
             n > 1 ? lev[1] : "", n > 1 ? "', ..." : "");
    for (int i = 0; i < 3; i++) sqlite3_free(lev[i]);
    return -1;
  }
  int swap = strcmp(lev[0], lev[1]) > 0;
  t->ylev[0] = lev[swap];
  t->ylev[1] = lev[!swap];
  return 0;
}

/* Fits, measures and stores; the summary goes to *summary (ml_free it). */
static int train(trainer *t, char **summary, size_t *len) {
  int rc;
  char *hash = NULL, *created = NULL, *features = NULL, *options = NULL, *metrics = NULL;
  unsigned char *blob = NULL;
  int64_t nblob;
  ml_refiner ref = {0, NULL, NULL};
  ml_hcacc hc;
  memset(&hc, 0, sizeof hc);
  t->seeded = ml_split_seeded(t->o.seed);
  t->colv = sqlite3_malloc64(sizeof(sqlite3_value *) * (sqlite3_uint64)t->ncols);
  t->kind = sqlite3_malloc64(sizeof(int) * (sqlite3_uint64)t->k);
  t->sure = sqlite3_malloc64(sizeof(int) * (sqlite3_uint64)t->k);
  t->why = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)t->k);
  if (t->why) memset(t->why, 0, sizeof(char *) * (size_t)t->k);
  if (!t->colv || !t->kind || !t->sure || !t->why) goto nomem;
  for (int j = 0; j < t->k; j++) t->kind[j] = feature_type(t, j, &t->sure[j]);
  int glm = t->o.family != ML_FAMILY_GAUSSIAN;
  if (t->o.family == ML_FAMILY_BINOMIAL && target_levels(t)) return -1;
  /* A GLM's first pass is weighted by IRLS's working weights, prior weights or not. */
  t->o.fit.weighted = t->o.weights != NULL || glm;
  t->o.fit.profile = 1;
  if (t->o.progress) t->last_progress = monotonic_seconds();
  /* Starts again while a column proves its guessed kind wrong (see the
  ** header), or '*' loses a column. */
  t->drop = -1;
  for (;;) {
    ml_fitacc_free(&t->fa);
    if ((rc = ml_fitacc_init(&t->fa, t->k, t->feat, t->kind, &t->o.fit, 2))) goto nomem;
    t->restart = t->failed = 0;
    t->target_nulls = t->weight_nulls = t->offset_nulls = 0;
    t->rows_hash = 0;
    memset(&t->dev_start, 0, sizeof t->dev_start);
    memset(&t->prior_w, 0, sizeof t->prior_w);
    memset(&t->prior_log_w, 0, sizeof t->prior_log_w);
    memset(&t->prior_wy, 0, sizeof t->prior_wy);
    t->fraction_rows = 0;
    memset(&t->wtrain, 0, sizeof t->wtrain);
    memset(&t->wtest, 0, sizeof t->wtest);
    int failed = run_pass(t, first_row);
    if (!failed && t->star && t->k > 1 && (t->drop = name_column(t)) >= 0)
      warn(t, "'%s' left out of '*': a different text in each of its %lld rows (an identifier "
              "or a name, whose levels would fit every row exactly); list the features to keep it",
           t->feat[t->drop], (long long)t->fa.f[t->drop].values);
    if (t->drop >= 0) {
      if (drop_feature(t, t->drop)) return -1;
      t->drop = -1;
      continue;
    }
    if (!failed) break;
    if (!t->restart) return -1;
  }
  for (int j = 0; j < t->k; j++) {
    const fa_feature *f = &t->fa.f[j];
    if (t->why[j] && f->nlevels > 10 && f->nlevels > 0.5 * (double)f->values) return stray_text(t, j);
  }
  if (t->fa.used[0] == 0)
    return ml_error(t->ctx, "ml_train(): no rows to train on: %lld rows read, %lld skipped for a "
                            "NULL, %lld in the test set", (long long)t->nread,
                    (long long)(t->fa.skipped + t->target_nulls + t->weight_nulls + t->offset_nulls),
                    (long long)t->fa.used[1]);
  char err[300];
  rc = ml_fitacc_finish(&t->fa, &t->m, &t->Rtest, err, sizeof err);
  for (int j = 0; rc == ML_EINPUT && j < t->k; j++)
    if (t->why[j]) return stray_text(t, j);
  if (rc == ML_EINPUT) return ml_error(t->ctx, "ml_train(): %s", err);
  if (rc) {
    ml_result_code(t->ctx, "ml_train", rc);
    return -1;
  }
  ml_model *m = t->m;
  m->has_rows_hash = 1;
  m->rows_hash = t->rows_hash;
  if ((rc = ml_model_set_name(m, -1, t->target))) goto code;
  t->x = sqlite3_malloc64(8 * (sqlite3_uint64)m->p);
  if (!t->x) goto nomem;

  /* The passes after the first: refinement and the full metrics share one;
  ** robust errors need the final coefficients, so they come after it. */
  if (glm && glm_fit(t)) goto fail;
  int refine = m->l2 > 0 || glm ? 0 : t->o.refine < 0 ? needs_refinement(m) : t->o.refine;
  if (refine < 0) {
    rc = -refine;
    goto code;
  }
  int measure = t->o.full_metrics;
  if (refine || (measure && !m->robust)) {
    if (refine && (rc = ml_refiner_init(&ref, m->p))) goto code;
    if (pass_again(t, refine ? &ref : NULL, NULL, measure && !m->robust)) goto fail;
    if (refine && (rc = ml_refiner_apply(&ref, m))) goto code;
  }
  if (m->robust) {
    if ((rc = ml_hcacc_init(&hc, m))) goto code;
    memset(&t->etrain, 0, sizeof t->etrain);
    memset(&t->etest, 0, sizeof t->etest);
    if (pass_again(t, NULL, &hc, measure)) goto fail;
    if ((rc = ml_hcacc_finish(&hc, m))) goto code;
  }
  double rss_train = (m->flags & ML_MODEL_REFINED) ? m->rss : ml_factor_rss(m->R, m->p, m->beta);
  double rss_test = t->Rtest ? ml_factor_rss(t->Rtest, m->p, m->beta) : NAN;
  keep_test_factor(t, m);

  /* The fingerprint: training values in scan order, then what decided the split. */
  uint64_t *h = t->fa.hash;
  ml_hash_u64(h, (uint64_t)m->n);
  ml_hash_double(h, t->o.test_size);
  ml_hash_u64(h, (uint64_t)t->o.seed);
  const char *kn = t->has_key ? (t->o.key ? t->o.key : "rowid") : "";
  for (const char *c = kn; *c; c++) ml_hash_u64(h, (unsigned char)*c);
  hash_model(t, h);
  hash = sqlite3_mprintf("%016llx%016llx", (unsigned long long)h[0], (unsigned long long)h[1]);
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
  if (glm) {
    glm_metrics_set(&b, "train", m->n, &t->gm[0], m->family);
    ml_sb_puts(&b, ",");
    glm_metrics_set(&b, "test", t->fa.used[1], &t->gm[1], m->family);
  } else {
    metrics_set(&b, "train", m->n, rss_train, &t->wtrain, &t->etrain, measure);
    ml_sb_puts(&b, ",");
    metrics_set(&b, "test", t->fa.used[1], rss_test, &t->wtest, &t->etest, measure);
  }
  ml_sb_puts(&b, "}");
  metrics = ml_sb_finish(&b, NULL);
  if (!hash || !created || !features || !options || !metrics ||
      ml_model_encode(m, SQLML_VERSION, &blob, &nblob))
    goto nomem;
  /* The summary is made before the version is stored, with the version
  ** number left to fill in: once the INSERT has committed, nothing may fail,
  ** or an error would be reported for a version that was kept. */
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
  if (glm) {
    int rank = 0;
    for (int j = 0; j < m->p; j++) rank += !m->aliased[j];
    ml_sb_printf(&post, ",\"family\":\"%s\",\"link\":\"%s\",\"deviance\":", ml_family_name(m->family),
                 ml_link_name(m->link));
    ml_sb_json_number(&post, m->deviance);
    ml_sb_puts(&post, ",\"null_deviance\":");
    ml_sb_json_number(&post, m->null_deviance);
    ml_sb_printf(&post, ",\"df_null\":%lld,\"df_resid\":%lld,\"aic\":", (long long)m->df_null,
                 (long long)(m->n - rank));
    ml_sb_json_number(&post, m->aic);
    ml_sb_printf(&post, ",\"iterations\":%d,\"converged\":%s", m->iterations,
                 m->converged ? "true" : "false");
    if (m->ylevels[0]) {
      ml_sb_puts(&post, ",\"target_levels\":[");
      ml_sb_json_string(&post, m->ylevels[0], strlen(m->ylevels[0]));
      ml_sb_puts(&post, ",");
      ml_sb_json_string(&post, m->ylevels[1], strlen(m->ylevels[1]));
      ml_sb_puts(&post, "]");
    }
  }
  json_names(&post, "features", t->feat, NULL, t->k);
  {
    /* Columns read from text: the target, numeric features, the weight. */
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
    json_names(&post, "read_from_text", names, keep, n);
  }
  ml_sb_puts(&post, ",\"nulls\":{");
  ml_sb_json_string(&post, t->target, strlen(t->target));
  ml_sb_printf(&post, ":%lld", (long long)t->target_nulls);
  for (int j = 0; j < t->k; j++) {
    ml_sb_puts(&post, ",");
    ml_sb_json_string(&post, t->feat[j], strlen(t->feat[j]));
    ml_sb_printf(&post, ":%lld", (long long)t->fa.f[j].nulls);
  }
  if (t->o.weights) {
    ml_sb_puts(&post, ",");
    ml_sb_json_string(&post, t->o.weights, strlen(t->o.weights));
    ml_sb_printf(&post, ":%lld", (long long)t->weight_nulls);
  }
  if (t->o.offset) {
    ml_sb_puts(&post, ",");
    ml_sb_json_string(&post, t->o.offset, strlen(t->o.offset));
    ml_sb_printf(&post, ":%lld", (long long)t->offset_nulls);
  }
  model_warnings(t, m);
  char *warnings = ml_sb_finish(&t->warn, NULL);
  if (!warnings) {
    ml_sb_reset(&pre);
    ml_sb_reset(&post);
    goto nomem;
  }
  ml_sb_printf(&post, "},\"nulls_policy\":\"%s\",\"refined\":%s,\"warnings\":[%s],\"metrics\":%s,"
               "\"data_hash\":\"%s\",\"created_at\":\"%s\"}",
               t->o.fit.nulls == ML_NULLS_MEAN ? "mean" : t->o.fit.nulls == ML_NULLS_ERROR ? "error" : "skip",
               (m->flags & ML_MODEL_REFINED) ? "true" : "false", warnings, metrics, hash, created);
  ml_free(warnings);
  size_t npre, npost;
  char *zpre = ml_sb_finish(&pre, &npre), *zpost = ml_sb_finish(&post, &npost);
  *summary = zpre && zpost ? ml_malloc(npre + 21 + npost + 1) : NULL;
  if (!*summary) {
    ml_free(zpre);
    ml_free(zpost);
    goto nomem;
  }
  sqlite3_int64 version = 0;
  int in_txn = !sqlite3_get_autocommit(t->db);
  int src = store(t, blob, nblob, features, options, metrics, hash, created, &version, in_txn);
  if (src != SQLITE_OK) {
    ml_free(zpre);
    ml_free(zpost);
    ml_free(*summary);
    *summary = NULL;
    goto fail;
  }
  memcpy(*summary, zpre, npre);
  int nv = snprintf(*summary + npre, 21, "%lld", (long long)version);
  memcpy(*summary + npre + nv, zpost, npost + 1);
  *len = npre + (size_t)nv + npost;
  ml_free(zpre);
  ml_free(zpost);
  rc = 0;
  goto out;
code:
  ml_result_code(t->ctx, "ml_train", rc);
  goto fail;
nomem:
  sqlite3_result_error_nomem(t->ctx);
fail:
  rc = -1;
out:
  ml_refiner_free(&ref);
  ml_hcacc_free(&hc);
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
  if (argc < 3 || argc > 5) {
    ml_error(ctx, "ml_train(): expected a name, a source, a target, [features, [options]], got %d "
                  "arguments", argc);
    return;
  }
  if (ml_refuse_in_source(ctx, "ml_train")) return;
  if (ml_refuse_autocommit_on_dqlite(ctx, "ml_train")) return;
  /* Before any row is read: the version could not be stored. */
  if (sqlite3_db_readonly(t.db, "main") == 1) {
    ml_error(ctx, "ml_train(): the main database is read-only, so the registry in it cannot be "
                  "written; open it read-write (or train in another database, ATTACHing this one)");
    return;
  }
  int reads = ml_stmt_trains_per_row(t.db, "ml_model_versions");
  if (reads) {
    if (reads < 0) ml_result_db_error(ctx, "ml_train", t.db, -reads);
    else ml_error(ctx, "ml_train(): the statement that calls it reads the model registry, and "
                       "would read the versions it adds without end; select what it needs into "
                       "a table first");
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
  ml_source src;
  int rc = ml_source_open(t.db, "ml_train()", t.source, NULL, &src, &err);
  t.from = src.from;
  src.from = NULL;
  t.rowid = ml_source_has_rowid(&src);
  /* Without a key, '*' leaves out the rowid under its other name too. */
  if (rc == SQLITE_OK && !t.o.key) rc = ml_source_rowid_alias(t.db, &src, &t.rowid_alias);
  ml_source_free(&src);
  if (err || rc == SQLITE_NOMEM) goto fail;
  if (rc != SQLITE_OK) { /* the lookup's own failure, or the alias's */
    ml_result_db_error(ctx, "ml_train", t.db, rc);
    goto done;
  }
  cols = t.cols = ml_source_columns(t.db, "ml_train", t.from, t.source, &ncol, &err, &t.decls);
  t.ncol = ncol;
  if (!cols) goto fail;
  /* _rowid_ and oid are the rowid too, unless a column has the name. */
  if (t.o.key && ml_is_rowid_name(t.o.key) && ml_find_name(cols, ncol, t.o.key) < 0) {
    sqlite3_free(t.o.key);
    if (!(t.o.key = sqlite3_mprintf("rowid"))) goto fail;
  }
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
  /* A query can have 2000 columns (SQLITE_MAX_COLUMN); a model, 1000 terms.
  ** row_side() keeps a row's values on the stack for this many. */
  if (t.k > ML_MAX_TERMS) {
    ml_error(ctx, "ml_train(): %d features, more than the %d terms a model can hold", t.k,
             ML_MAX_TERMS);
    goto done;
  }
  if (prepare_rows(&t, cols, ncol)) goto done;
  char *json = NULL;
  size_t n = 0;
  if (train(&t, &json, &n)) goto done;
  /* Hands the text over: no allocation, so no failure after the commit. */
  sqlite3_result_text64(ctx, json, n, ml_free, SQLITE_UTF8);
  sqlite3_result_subtype(ctx, 'J');
  goto done;
fail:
  if (err) {
    sqlite3_result_error(ctx, err, -1);
    sqlite3_free(err);
  } else {
    sqlite3_result_error_nomem(ctx);
  }
done:
  ml_free_names(cols, ncol);
  ml_free_names(t.decls, ncol);
  trainer_free(&t);
}
