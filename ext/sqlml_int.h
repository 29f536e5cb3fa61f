/*
** sqlml_int.h: what the SQLite-facing files of the extension share.
*/
#ifndef SQLML_INT_H
#define SQLML_INT_H

#include <math.h>
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include "error.h"
#include "model.h"

#define SQLML_STR2(x) #x
#define SQLML_STR(x) SQLML_STR2(x)
#ifndef SQLML_VERSION
#define SQLML_VERSION "unknown"
#endif

/* Per-connection state, shared by every function of one connection. */
typedef struct ml_conn ml_conn;
ml_conn *ml_conn_new(void);
void ml_conn_ref(ml_conn *c);
void ml_conn_unref(void *c); /* an xDestroy */
int ml_model_cache_register(sqlite3 *db, ml_conn *c); /* the module ml_model_cache (predict.c) */

/* How a SQL value reads as a number. */
enum { ML_V_NUM, ML_V_NULL, ML_V_TEXT, ML_V_BLOB, ML_V_NONFINITE };

static inline int ml_value_num(sqlite3_value *v, double *out) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      *out = (double)sqlite3_value_int64(v);
      return ML_V_NUM;
    case SQLITE_FLOAT:
      *out = sqlite3_value_double(v);
      return isfinite(*out) ? ML_V_NUM : ML_V_NONFINITE;
    case SQLITE_NULL:
      return ML_V_NULL;
    case SQLITE_TEXT:
      return ML_V_TEXT;
    default:
      return ML_V_BLOB;
  }
}

/*
** Report a value that is not a usable number: "fname(): argument 3 is text
** in row 17; expected a number ...".  what names the value ("argument 3",
** "feature 2 (sqft)"); row is 1-based, or 0 when there is no row count.
*/
void ml_value_error(sqlite3_context *ctx, const char *fname, const char *what, int kind,
                    sqlite3_value *v, int64_t row);

/* A confidence level argument, in (0, 1); -1 after reporting. */
int ml_level_arg(sqlite3_context *ctx, const char *fname, sqlite3_value *v, double *level);


/*
** The decoded model of a BLOB argument, cached so each statement decodes it
** once.  Returns NULL after reporting an error on ctx.  The model belongs to
** the cache: do not free it, and do not keep it past the current call.
*/
const ml_model *ml_model_arg(sqlite3_context *ctx, const char *fname, sqlite3_value **argv,
                             int iArg);

/*
** Fill x[0..p) with the design row of model m for the k feature values v:
** the intercept's 1, numbers as they are, a categorical value as its dummy
** columns, NULL as the model's imputed value.  Returns ML_V_NUM, ML_V_NULL
** (a NULL the model cannot impute), or -1 after reporting an error on ctx.
*/
int ml_design_row(sqlite3_context *ctx, const char *fname, const ml_model *m, sqlite3_value **v,
                  double *x);
/*
** The same for a model kept with its block (m->fac), in O(terms outside
** the block): with blk, the block feature's level terms are not written
** (x's block part is left as it was) and *blk is the row's term among them,
** or -1; ml_model_dot and ml_model_interval_norm read such a row.  blk
** NULL: ml_design_row.
*/
int ml_design_row_blocked(sqlite3_context *ctx, const char *fname, const ml_model *m,
                          sqlite3_value **v, double *x, int *blk);

/*
** The same from values already read (a model without a formula): v[j] is
** feature j's number, or its level's index in the model, or NULL (isnull),
** which the model imputes.  For rows the fit used (fitacc_rows.c).
*/
struct ml_fvalue;
void ml_design_row_values(const ml_model *m, const struct ml_fvalue *v, double *x, int *blk);

/*
** Would ml_design_row give ML_V_NULL for these values: a feature NULL (or
** one of the model's na_values) that the model does not impute, a formula's
** column NULL?  Checks nothing else.
*/
int ml_design_row_skipped(const ml_model *m, sqlite3_value **v);

/* A formula model's response on its fitted scale (log(price)) from the raw
** value of its column: 1 with *y, or 0 where the transform is undefined. */
int ml_model_response(const ml_model *m, double raw, double *y);

/* Function implementations, registered in sqlml.c. */
void ml_fit_step(sqlite3_context *, int, sqlite3_value **);
void ml_fit_opts_step(sqlite3_context *, int, sqlite3_value **);
void ml_fit_final(sqlite3_context *);
void ml_fit_opts_final(sqlite3_context *);
void ml_merge_step(sqlite3_context *, int, sqlite3_value **);
void ml_merge_final(sqlite3_context *);
void ml_merge2_func(sqlite3_context *, int, sqlite3_value **);
void ml_refine_step(sqlite3_context *, int, sqlite3_value **);
void ml_refine_final(sqlite3_context *);
void ml_predict_func(sqlite3_context *, int, sqlite3_value **);
void ml_predict_interval_func(sqlite3_context *, int, sqlite3_value **);
void ml_model_json_func(sqlite3_context *, int, sqlite3_value **);
void ml_version_func(sqlite3_context *, int, sqlite3_value **);
void ml_train_func(sqlite3_context *, int, sqlite3_value **);
/*
** ml_train's steps without storing, for ml_verify: argv as ml_train's.
** 0 with the data hash (sqlite3_free it) and the model (ml_model_free
** it); -1 after reporting on ctx.
*/
int ml_train_again(sqlite3_context *ctx, int argc, sqlite3_value **argv, char **hash, ml_model **m);
void ml_pass_step(sqlite3_context *, int, sqlite3_value **);
void ml_pass_final(sqlite3_context *);
void ml_more_func(sqlite3_context *, int, sqlite3_value **);
void ml_evaluate_func(sqlite3_context *, int, sqlite3_value **);
void ml_verify_func(sqlite3_context *, int, sqlite3_value **);

/* Virtual tables. */
int ml_weights_register(sqlite3 *db);
int ml_predictions_register(sqlite3 *db);
int ml_drift_register(sqlite3 *db); /* ml_feature_info and ml_drift */

/* Encode m as the function's BLOB result. */
void ml_result_model(sqlite3_context *ctx, const char *fname, const ml_model *m);

#endif
