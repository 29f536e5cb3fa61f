/*
** evaluate.h: a model's metrics over rows, one row at a time (evaluate.c).
** ml_evaluate feeds it a source's rows; ml_compare and ml_promote feed two
** models the same test rows when they read them (compare_read.c).
*/
#ifndef SQLML_EVALUATE_H
#define SQLML_EVALUATE_H

#include "auc.h"
#include "sqlml_int.h"
#include "strbuf.h"

typedef struct ml_moments {
  sqlite3_int64 n;
  long double mean, m2;
} ml_moments;

/* What a pass accumulates: counts, and each family's sums.  A new metric
** is a field here, a line in add_linear or add_glm, and one in its JSON. */
typedef struct ml_eval {
  const ml_model *m;
  const char *fname;              /* "ml_evaluate", "ml_compare", ... for errors */
  const char *target;
  sqlite3_int64 row, skipped;
  ml_moments wy, we;              /* the target; least squares' residuals */
  long double sae, sape, sse;     /* least squares: sums of |e|, |e/y|, e² */
  sqlite3_int64 nape;             /* rows in sape (y != 0) */
  double maxe;
  long double gdev, glogloss, gcorrect, gbrier; /* GLMs */
  ml_auc auc;                     /* binomial: every row's (probability, y), auc.h */
  double *x;                      /* the design row */
  double y, mu;                   /* the row read last: its target, a GLM's mean */
  long double e;                  /* and least squares' residual */
} ml_eval;

/* SQLITE_OK or SQLITE_NOMEM; ml_eval_free either way. */
int ml_eval_init(ml_eval *ev, const ml_model *m, const char *fname, const char *target);
void ml_eval_free(ml_eval *ev);

/*
** Measures the model on one row: the target y, the model's features x
** (m->k values, by the model's order) and its offset (NULL without one).
** A row with a NULL the model cannot read is counted as skipped.  0, or -1
** after reporting (ctx).
*/
int ml_eval_row(sqlite3_context *ctx, ml_eval *ev, sqlite3_value *y, sqlite3_value **x,
                sqlite3_value *offset);

/*
** ml_eval_row in two steps, for rows that count only when two models can
** both measure them: ml_eval_read reads the row (0; 1 when a NULL keeps
** the model from measuring it, which it does not count; -1 after
** reporting), ml_eval_add counts it (0 or ML_NOMEM).
*/
int ml_eval_read(sqlite3_context *ctx, ml_eval *ev, sqlite3_value *y, sqlite3_value **x,
                 sqlite3_value *offset);
int ml_eval_add(ml_eval *ev);

/* Metric name's value (NaN with no rows); -1 when the family has no such metric. */
int ml_eval_metric(ml_eval *ev, const char *name, double *v);

/* The metrics as a JSON object. */
void ml_eval_json(ml_sb *b, ml_eval *ev);

/* The family's metrics by name, NULL-terminated, in the order of their JSON. */
const char *const *ml_eval_metric_names(int family);

/* Is a lower value of the metric better (rmse), or a higher one (r2)? */
int ml_metric_lower_is_better(const char *name);

#endif
