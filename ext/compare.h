/*
** compare.h: scoring two linear models on the test rows one of them keeps
** (section tfac), without reading the rows (compare.c).
*/
#ifndef SQLML_COMPARE_H
#define SQLML_COMPARE_H

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

/* Which models keep their test rows' factor, and which do not. */
extern const char ml_no_test_factor[];

void ml_compare_func(sqlite3_context *, int, sqlite3_value **);
void ml_promote_func(sqlite3_context *, int, sqlite3_value **);

#endif
