/*
** options.h: the options of ml_train and ml_fit_opts, one grammar.
**
** One table (options.c) says, for each option, its name, which function
** takes it, its JSON type and its range or values, and where its value
** goes in an ml_options; one reader walks the JSON object and fills the
** struct; the messages ("fname(): option X must be ...") come from one
** place.  Two functions may read one name differently: "weights" is a
** column name for ml_train and true/false for ml_fit_opts (whose rows
** carry the weight), so each has its own row in the table.
*/
#ifndef SQLML_OPTIONS_H
#define SQLML_OPTIONS_H

#include "design.h"
#include "fitacc.h"
#include "json.h"

/* Which function reads the options (a table row's mask). */
enum { ML_OPT_TRAIN = 1, ML_OPT_FIT = 2 };
#define ML_THREADS_MAX 64

typedef struct ml_options {
  ml_fitopts fit;     /* intercept, tol, l2, nulls, unseen, robust; weights of ml_fit_opts */
  int family;         /* ML_FAMILY_* */
  /* ml_train */
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
  /* Generalized linear models (glm.h): an offset column, R's glm.control
  ** (max_iter, epsilon), and whether a fit that did not converge is kept. */
  char *offset;
  int max_iter;
  double epsilon;
  int keep_unconverged;
  int incremental;    /* build on a version, reading only the rows past its mark */
  char *from;         /* that version's reference, or NULL for the latest */
  int threads;        /* connections reading the source at once (train_threads.c); 0 or 1: one */
  sqlite3_int64 auc_max_rows; /* binomial: the test rows' AUC keeps at most this many (auc.h); -1 until given */
  /* ml_fit_opts: names and categorical, read once the feature count is
  ** known (they point into the parsed JSON). */
  const ml_json *names, *categorical_json;
} ml_options;

/*
** Parses text (n bytes) as the options of fname (func: ML_OPT_TRAIN or
** ML_OPT_FIT) into o, which holds the caller's defaults.  Checks each
** option's type and range, then the rules between options.  0 with *j the
** parsed tree (ml_json_free it after the last use of o->names and
** o->categorical_json), or -1 after reporting on ctx.  What o holds is
** ml_options_free's either way.
*/
int ml_options_parse(sqlite3_context *ctx, const char *fname, int func, const char *text, size_t n,
                     ml_options *o, ml_json **j);

void ml_options_free(ml_options *o);

#endif
