/*
** compare.h: scoring two linear models on the test rows one of them keeps
** (section tfac), without reading the rows (compare.c).
*/
#ifndef SQLML_COMPARE_H
#define SQLML_COMPARE_H

#include "evaluate.h"
#include "sqlml_int.h"

typedef struct ml_score {
  double rmse, r2;
} ml_score;

/*
** Scores a and b on the test rows of `rows` (a or b, with test_R) into sa
** and sb.  0; 1 with why when the other model cannot be written in rows'
** columns (other features, a level it cannot read, a GLM); -1 out of memory.
*/
int ml_score_on_rows(const ml_model *a, const ml_model *b, const ml_model *rows, ml_score *sa,
                     ml_score *sb, char *why, size_t nwhy);

/*
** Reads the test rows of version `version` of `name` (rows: its model)
** from its stored source once, as ml_train split them, and measures
** ev[0].m and ev[1].m on them (ml_eval_init'd), a row counting only when
** both can measure it (compare_read.c).  *scanned counts the rows read.
** 0, or -1 after reporting.
*/
int ml_read_test_rows(sqlite3_context *ctx, const char *fname, const char *name,
                      sqlite3_int64 version, const ml_model *rows, ml_eval ev[2],
                      sqlite3_int64 *scanned);

/* Was version of name stored by ml_train with test rows (test_size > 0)?
** 1 or 0, or -1 after reporting a failed lookup. */
int ml_has_test_rows(sqlite3_context *ctx, const char *fname, const char *name,
                     sqlite3_int64 version);

/* A model argument's registry version: name NULL for a BLOB. */
typedef struct ml_ref {
  char *name; /* sqlite3_free it */
  sqlite3_int64 version;
} ml_ref;

/* The version a model argument names into *r; 0, or -1 after reporting. */
int ml_ref_version(sqlite3_context *ctx, const char *fname, sqlite3_value *v, ml_ref *r);

/* Can a and b be measured on the same rows read (one family, one response)?
** 0, or -1 after reporting. */
int ml_read_comparable(sqlite3_context *ctx, const char *fname, const ml_model *a,
                       const ml_model *b);

/* Which models keep their test rows' factor, and which do not. */
extern const char ml_no_test_factor[];

void ml_compare_func(sqlite3_context *, int, sqlite3_value **);
void ml_promote_func(sqlite3_context *, int, sqlite3_value **);

#endif
