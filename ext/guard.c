/*
** guard.c: nesting of sources, and statements that read what ml_train writes.
** See guard.h.
*/
#include <string.h>

#include "guard.h"
#include "sqlq.h"

static _Thread_local int nest_depth;

int ml_nest_enter(void) {
  if (nest_depth >= ML_NEST_MAX) return -1;
  nest_depth++;
  return 0;
}

void ml_nest_leave(void) {
  if (nest_depth > 0) nest_depth--;
}

int ml_refuse_in_source(sqlite3_context *ctx, const char *fname) {
  if (nest_depth == 0) return SQLITE_OK;
  ml_error(ctx, "%s(): cannot write the model registry from inside a source that sqlml is "
                "reading (the SQL of ml_train, ml_evaluate or an ml_split table); run it as a "
                "statement of its own", fname);
  return SQLITE_ERROR;
}

int ml_is_own_error(const char *msg) {
  if (!msg || strncmp(msg, "ml_", 3) != 0) return 0;
  const char *z = msg + 3;
  while ((*z >= 'a' && *z <= 'z') || *z == '_') z++;
  return strncmp(z, "(): ", 4) == 0 || strncmp(z, ": ", 2) == 0;
}

/* The root page of main's table, 0 if there is none; or minus an error code. */
static sqlite3_int64 root_page(sqlite3 *db, const char *table) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, "SELECT rootpage FROM main.sqlite_schema WHERE type = 'table' "
                                  "AND name = ?1", -1, &st, NULL);
  if (rc != SQLITE_OK) return -rc;
  sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  sqlite3_int64 root = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? root : -rc;
}

/* Does the program of this SQL open the b-tree at root in main (database 0)? */
static int program_opens(sqlite3 *db, const char *sql, sqlite3_int64 root) {
  char *explain = sqlite3_mprintf("EXPLAIN %s", sql);
  if (!explain) return -SQLITE_NOMEM;
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, explain, -1, &st, NULL);
  sqlite3_free(explain);
  /* A statement that no longer compiles (its schema changed) reads nothing now. */
  if (rc != SQLITE_OK) return rc == SQLITE_NOMEM ? -rc : 0;
  int found = 0;
  while (!found && sqlite3_step(st) == SQLITE_ROW) {
    const char *op = (const char *)sqlite3_column_text(st, 1);
    found = op && (strcmp(op, "OpenRead") == 0 || strcmp(op, "OpenWrite") == 0) &&
            sqlite3_column_int64(st, 3) == root && sqlite3_column_int(st, 4) == 0;
  }
  sqlite3_finalize(st);
  return found;
}

int ml_running_stmt_reads(sqlite3 *db, const char *table) {
  sqlite3_int64 root = root_page(db, table);
  if (root <= 0) return (int)root;
  for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s)) {
    if (!sqlite3_stmt_busy(s)) continue;
    const char *sql = sqlite3_sql(s);
    int r = sql ? program_opens(db, sql, root) : 0;
    if (r) return r;
  }
  return 0;
}
