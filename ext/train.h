/*
** train.h: what the files of ml_train share (internal, not public).
**
**   train.c          ml_train_func and train(): options, plan, passes, finish, store
**   train_options.c  the options: parsed, and printed as stored
**   train_plan.c     the features ('*' or a list), their kinds, the SQL that reads rows,
**                    a binomial target's levels
**   train_pass.c     ml__pass, reading a row, the first pass, the passes again
**                    (refinement, full metrics, robust errors)
**   train_glm.c      IRLS for a binomial or poisson family
**   train_finish.c   metrics, data_hash, warnings, the summary's parts
**   train_cv.c       cross-validation: a row's fold, the report of the folds
**   train_threads.c  the first pass read by several connections at once ("threads")
**
** The trainer is one struct for the whole call: each step reads what the
** steps before it filled in.
*/
#ifndef SQLML_TRAIN_H
#define SQLML_TRAIN_H

#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "design.h"
#include "dqlite.h"
#include "fitacc.h"
#include "auc.h"
#include "glm.h"
#include "guard.h"
#include "json.h"
#include "options.h"
#include "refine.h"
#include "registry.h"
#include "rowhash.h"
#include "split.h"
#include "sqlq.h"
#include "strbuf.h"

/* ml_train's options (options.h). */
typedef ml_options train_opts;

/* Weighted running mean and sum of squared deviations (West), for SST. */
typedef struct welford {
  double w, mean, m2;
} welford;

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
  sqlite3_value **colv;   /* or read into here column by column (!by_agg); or, when some
                          ** values come through ml__more, the row: ml__pass's arguments,
                          ** then copies of ml__more's (sqlite3_value_dup) */
  int ncols, by_agg;
  int ndirect;            /* by_agg: the values that are ml__pass's own arguments */
  int more_each;          /* by_agg: the values of each ml__more call (the last may have fewer) */
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
  int glm_measure;        /* this pass sums the metrics, AIC, bounds, AUC (else only the deviance) */
  int glm_fast;           /* numbers only (no formula, text levels, categorical): glm_fast_row */
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
    int has_auc;
    double auc;
  } gm[2];                /* train, test: metrics at the current coefficients */
  ml_auc auc;             /* binomial: the test rows' (probability, y, w), for the AUC */
  double *coefold;        /* the coefficients before the last step (R's coefold), p */
  ml_ksum aic_sat;        /* training rows: AIC terms at mu = y of the rows whose AIC splits */
  int levels_probed;      /* binomial: target_levels ran (at the first text target) */
  int glm_passes;         /* passes of glm_row so far */
  uint64_t again_rows;    /* the training rows' sum of ml_rowhash, read again */
  /* A formula (train_formula.c): argument 3's text when it holds '~', and its terms. */
  const char *formula_text;
  struct ml_formula *formula;
  struct ml_fvalue *fresp; /* the raw values that give the response (ml_formula_eval_response) */
  /* incremental.c: the source's mark, and the version an incremental retrain builds on. */
  int has_mark;
  sqlite3_int64 mark;     /* the source's largest rowid (0 for none) when it was read */
  sqlite3_int64 parent;   /* that version, or 0 */
  ml_model *pm;           /* its model */
  const char *incr_reason; /* why the version is a full retrain all the same, or NULL */
  /* train_threads.c: the connections that read the first pass at once, or NULL. */
  struct ml_threads *par; /* (a reader's copy: the readers it is one of) */
  int worker;             /* this trainer is one of theirs: errors go to its statement */
};


/* warn is libc's name too (err.h): the trainer's is ml_train_warn. */
#define warn(...) ml_train_warn(__VA_ARGS__)

/* What train_finish makes for the registry row and the summary. */
typedef struct train_result {
  char *hash, *created;                /* the data hash, the time (sqlite3_free) */
  char *features, *options, *metrics;  /* the row's JSON texts (ml_free, as the rest) */
  unsigned char *blob;                 /* the model */
  int64_t nblob;
  char *pre, *post;                    /* the summary either side of its version number */
  size_t npre, npost;
  char *summary;                       /* room for pre, the number and post */
} train_result;

/* train_options.c */
int parse_options(trainer *t, const char *text);
void options_json(ml_sb *b, const trainer *t);

/* train_plan.c */
int parse_features(trainer *t, sqlite3_value *v, char **cols, int ncol);
int prepare_rows(trainer *t, char **cols, int ncol);
int listed_categorical(const trainer *t, const char *col);
int feature_type(trainer *t, int j, int *sure);
int target_levels(trainer *t);
int train_plan(trainer *t, sqlite3_value *features);

/* train_formula.c */
int train_formula_plan(trainer *t, sqlite3_value *features);
void train_formula_kinds(trainer *t);
int train_formula_response(trainer *t, double *y);
int train_formula_undefined(trainer *t);

/* train_pass.c */
double monotonic_seconds(void);
void progress(trainer *t, const char *what);
char *row_name(trainer *t);
int bad_value(trainer *t, const char *col, int kind, sqlite3_value *v);
int stray_text(trainer *t, int j);
int read_yw(trainer *t, double *y, double *w);
int read_offset(trainer *t, double *off);
int row_side(trainer *t);
int drop_feature(trainer *t, int j);
int name_column(const trainer *t);
int feature_too_wide(trainer *t, int j);
int first_row(trainer *t);
int run_pass(trainer *t, int (*fn)(trainer *));
int train_step_rows(trainer *t, int (*fn)(trainer *));
void first_pass_reset(trainer *t);
int needs_refinement(const ml_model *m);
int pass_again(trainer *t, ml_refiner *ref, ml_hcacc *hc, int measure);
int train_first_pass(trainer *t);
int train_more_passes(trainer *t);

/* train_threads.c */
int threads_check(const trainer *t);
int threads_plan(trainer *t);
int threads_pass(trainer *t, int (*fn)(trainer *), int glm);
void threads_end(trainer *t);
int threads_stopped(trainer *t);

/* train_glm.c: entry points to its functions, which stay static there. */
void train_glm_start(const trainer *t, double y, double w, double off, double *z, double *W,
                     double *mu);
int train_glm_fit(trainer *t);
void train_glm_metrics_set(ml_sb *b, const char *name, sqlite3_int64 n, const struct glm_metric *g,
                           int family);

/* train_cv.c */
int row_fold(trainer *t);
void cv_json(ml_sb *b, const ml_cv *cv);

/* train_finish.c */
void warn(trainer *t, const char *fmt, ...);
void metrics_set(ml_sb *b, const char *name, sqlite3_int64 n, double rss, const welford *w,
                 const abs_err *ae, int full);
char *utc_now(void);
void hash_model(const trainer *t, uint64_t h[2]);
void model_warnings(trainer *t, const ml_model *m);
void json_names(ml_sb *b, const char *key, char **names, const int *keep, int n);
int train_finish(trainer *t, train_result *r);
void train_result_free(train_result *r);

#endif
