/*
** design.h: what a SQL value means for a column.  One place decides it, for
** training (fitacc.c, train.c) and prediction (ml_design_row) alike:
**
**   - a text that reads entirely as a decimal number (ml_parse_number) is
**     that number, where the column reads text (option read_text, or a model
**     with section READ);
**   - a text listed in na_values is NULL, and then the NULL policy applies;
**   - anything else keeps its SQL type: other text is text, a blob a blob.
*/
#ifndef SQLML_DESIGN_H
#define SQLML_DESIGN_H

#include "sqlml_int.h"

/* ml_read_num: out of memory reading a text (beside sqlml_int.h's ML_V_*). */
#define ML_V_NOMEM 100
/* A text holding a NUL byte where a level is read: a model keeps levels as C strings. */
#define ML_V_NULBYTE 101

/*
** Reads v as a number: ML_V_NUM with *d; ML_V_NULL for NULL or a na text;
** ML_V_TEXT (a text that is not a number, or any text when !read_text),
** ML_V_BLOB, ML_V_NONFINITE.  *from_text is set to 1 when a text gave the
** number.  na may be NULL (no missing-value texts).
*/
int ml_read_num(sqlite3_value *v, const ml_na *na, int read_text, double *d, int *from_text);

/* Is v a missing-value text of na? */
int ml_read_is_na(sqlite3_value *v, const ml_na *na);

/*
** The level of categorical feature f that v (not NULL, not a blob) holds:
** *level its index, or -1 unseen.  Returns the level's text (canonical for
** numeric levels, in canon), or NULL out of memory.
*/
const char *ml_feature_level(const ml_feature *f, sqlite3_value *v, char canon[ML_NUMBER_TEXT_MAX],
                             int *level);

#endif
