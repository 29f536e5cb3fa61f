/*
** tvf.h: table-valued functions whose rows are all computed when the scan
** starts (a model's feature profile, a batch's drift): one module for each,
** from a spec; the function only fills rows of cells.
*/
#ifndef SQLML_TVF_H
#define SQLML_TVF_H

#include "sqlml_int.h"

typedef struct ml_cell {
  int type;  /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT */
  sqlite3_int64 i;
  double d;
  char *text; /* sqlite3_malloc'd */
} ml_cell;

typedef struct ml_rows {
  int ncol, nrow, cap;
  ml_cell *cells; /* nrow x ncol */
} ml_rows;

/* Appends a row of NULLs; 0, or SQLITE_NOMEM. */
int ml_rows_add(ml_rows *r);
/* Cells of the last row: a number (NaN and infinities as NULL), an integer, a copy of a text
** (NULL as NULL), or a text already sqlite3_malloc'd, which the row takes (NULL: out of memory). */
void ml_rows_num(ml_rows *r, int col, double v);
void ml_rows_int(ml_rows *r, int col, sqlite3_int64 v);
int ml_rows_text(ml_rows *r, int col, const char *z);
int ml_rows_take(ml_rows *r, int col, char *z);

typedef struct ml_tvf_spec {
  const char *name;    /* "ml_drift" */
  const char *schema;  /* CREATE TABLE x(..., arg1 HIDDEN, ...): the hidden columns last */
  int ncol;            /* visible columns */
  int nargs, nrequired;
  /* Fills rows from argc arguments; SQLITE_OK, or an error code with *err
  ** (sqlite3_malloc'd; NULL for SQLITE_NOMEM and codes whose message is the db's). */
  int (*fill)(sqlite3 *db, int argc, sqlite3_value **argv, ml_rows *rows, char **err);
} ml_tvf_spec;

/* Registers spec (which must outlive the connection) as an eponymous, DIRECTONLY module. */
int ml_tvf_register(sqlite3 *db, const ml_tvf_spec *spec);

/*
** The model an argument names (a registry reference) or holds (a BLOB),
** decoded: SQLITE_OK with *m (ml_model_free it), or an error with *err.
*/
int ml_model_from_value(sqlite3 *db, const char *fname, sqlite3_value *v, ml_model **m, char **err);

#endif
