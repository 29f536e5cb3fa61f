/*
** error.h: the one home of error reporting on the SQLite side.
**
** Messages read "fname(): what is wrong, got X; what to do", in lower case.
** Out of memory is never a message: a function's result is
** sqlite3_result_error_nomem(), a virtual table's return code SQLITE_NOMEM.
** A message that cannot be formatted is out of memory too.
*/
#ifndef SQLML_ERROR_H
#define SQLML_ERROR_H

#include <stdarg.h>
#include <sqlite3ext.h>

/* sqlite3_mprintf(fmt, ...) as the function's error; always -1. */
int ml_error(sqlite3_context *ctx, const char *fmt, ...);

/* The same with a prefix ("ml_split_of(): ") before the formatted text. */
int ml_verror(sqlite3_context *ctx, const char *prefix, const char *fmt, va_list ap);

/* Out of memory, as SQLITE_NOMEM; always -1. */
int ml_error_nomem(sqlite3_context *ctx);

/* msg (from sqlite3_mprintf; NULL: out of memory) as the error, freed; -1. */
int ml_error_msg(sqlite3_context *ctx, char *msg);

/* A core result code (ML_NOMEM as SQLITE_NOMEM, ...) with the function's name. */
void ml_result_code(sqlite3_context *ctx, const char *fname, int rc);

/* An SQLite failure of a nested statement: its code and message. */
void ml_result_db_error(sqlite3_context *ctx, const char *fname, sqlite3 *db, int rc);

/*
** A virtual table's error text: *pz (a zErrMsg, or xConnect's pzErr) is
** freed and set to prefix (NULL: none) then the formatted text.  Returns
** rc, or SQLITE_NOMEM when the text could not be made (*pz is then NULL).
*/
int ml_vtab_verror(char **pz, int rc, const char *prefix, const char *fmt, va_list ap);
int ml_vtab_error(char **pz, int rc, const char *fmt, ...);

/* msg (from sqlite3_mprintf; NULL: out of memory) as *pz, the old freed:
** rc, or SQLITE_NOMEM. */
int ml_vtab_msg(char **pz, int rc, char *msg);

#endif
