/*
** incremental.h: what ml_train records for an incremental retrain (the
** source's mark) and the checks of "incremental": true (internal).
**
**   incr_plan      after the plan: the mark of a rowid table; with
**                  "incremental", the version to build on and every reason
**                  the continuation could not be exact, as errors
**   incr_seed      at each start of the first pass: the parent's levels,
**                  profile, counts, moments and fingerprints
**   incr_merge     after it: the parent's factors folded into the model
**   incr_keep      the mark and the training y's moments into the model
**   incr_summary   the summary's "incremental", "parent", "rows_read"
*/
#ifndef SQLML_INCREMENTAL_H
#define SQLML_INCREMENTAL_H

#include "train.h"

int incr_plan(trainer *t);
int incr_seed(trainer *t);
int incr_merge(trainer *t);
int incr_keep(const trainer *t, ml_model *m); /* ML_OK or ML_NOMEM */

/* The columns whose NULLs the summary counts (target, features, weights,
** offset), and column i's name and this read's count of them (count may be NULL). */
int incr_null_columns(const trainer *t);
const char *incr_null_column(const trainer *t, int i, int64_t *count);
int incr_summary(const trainer *t, train_result *r);

#endif
