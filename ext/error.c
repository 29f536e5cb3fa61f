/*
** error.c: error reporting for the SQLite side.  See error.h.
*/
#include <stdarg.h>

#include "guard.h"
#include "sqlml_int.h"

int ml_error_nomem(sqlite3_context *ctx) {
  sqlite3_result_error_nomem(ctx);
  return -1;
}

int ml_error_msg(sqlite3_context *ctx, char *msg) {
  if (msg) sqlite3_result_error(ctx, msg, -1);
  else sqlite3_result_error_nomem(ctx);
  sqlite3_free(msg);
  return -1;
}

int ml_verror(sqlite3_context *ctx, const char *prefix, const char *fmt, va_list ap) {
  char *body = sqlite3_vmprintf(fmt, ap);
  if (!prefix || !body) return ml_error_msg(ctx, body);
  char *msg = sqlite3_mprintf("%s%s", prefix, body);
  sqlite3_free(body);
  return ml_error_msg(ctx, msg);
}

int ml_error(sqlite3_context *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ml_verror(ctx, NULL, fmt, ap);
  va_end(ap);
  return -1;
}

void ml_result_code(sqlite3_context *ctx, const char *fname, int rc) {
  if (rc == ML_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  ml_error(ctx, "%s(): internal error %d (please report it)", fname, rc);
}

void ml_result_db_error(sqlite3_context *ctx, const char *fname, sqlite3 *db, int rc) {
  if (rc == SQLITE_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (rc == SQLITE_INTERRUPT) {
    ml_error(ctx, "%s(): interrupted", fname);
  } else if ((rc & 0xff) == SQLITE_BUSY &&
             (rc == SQLITE_BUSY_SNAPSHOT || sqlite3_extended_errcode(db) == SQLITE_BUSY_SNAPSHOT)) {
    ml_error(ctx, "%s(): another connection wrote to the database after this transaction read "
                  "it; try again in a new transaction", fname);
  } else if ((rc & 0xff) == SQLITE_BUSY) {
    /* A plain BUSY does not say why: a writer holds the lock, or readers
    ** keep this connection from committing, or a recovery is running. */
    ml_error(ctx, "%s(): the database is locked by another connection; try again", fname);
  } else if (ml_is_own_error(sqlite3_errmsg(db))) {
    ml_error(ctx, "%s", sqlite3_errmsg(db));
  } else {
    ml_error(ctx, "%s(): %s", fname, sqlite3_errmsg(db));
  }
  sqlite3_result_error_code(ctx, rc);
}

int ml_vtab_msg(char **pz, int rc, char *msg) {
  sqlite3_free(*pz);
  *pz = msg;
  return msg ? rc : SQLITE_NOMEM;
}

int ml_vtab_verror(char **pz, int rc, const char *prefix, const char *fmt, va_list ap) {
  char *body = sqlite3_vmprintf(fmt, ap);
  if (!prefix || !body) return ml_vtab_msg(pz, rc, body);
  char *msg = sqlite3_mprintf("%s%s", prefix, body);
  sqlite3_free(body);
  return ml_vtab_msg(pz, rc, msg);
}

int ml_vtab_error(char **pz, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rc = ml_vtab_verror(pz, rc, NULL, fmt, ap);
  va_end(ap);
  return rc;
}
