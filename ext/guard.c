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
                "reading (the SQL of ml_train, ml_evaluate, ml_predictions or an ml_split "
                "table); run it as a statement of its own", fname);
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

/* One instruction of an EXPLAIN listing, as much of it as the check reads. */
typedef struct op {
  int addr, p1, p2, p3;
  char kind; /* 'o' opens a b-tree, 'n' Next/Prev, 't' calls ml_train, 'y' Yield, 0 other */
} op;

static char op_kind(const char *name, const char *p4) {
  if (!name) return 0;
  if (strcmp(name, "OpenRead") == 0 || strcmp(name, "OpenWrite") == 0) return 'o';
  if (strcmp(name, "Next") == 0 || strcmp(name, "Prev") == 0) return 'n';
  if (strcmp(name, "Yield") == 0) return 'y';
  if ((strcmp(name, "Function") == 0 || strcmp(name, "PureFunc") == 0) && p4 &&
      strncmp(p4, "ml_train(", 9) == 0)
    return 't';
  return 0;
}

/* The program of sql, instructions that matter only; NULL on error (*n < 0). */
static op *program(sqlite3 *db, const char *sql, int *n) {
  char *explain = sqlite3_mprintf("EXPLAIN %s", sql);
  sqlite3_stmt *st = NULL;
  *n = -SQLITE_NOMEM;
  if (!explain) return NULL;
  int rc = sqlite3_prepare_v2(db, explain, -1, &st, NULL);
  sqlite3_free(explain);
  /* A statement that no longer compiles (its schema changed) runs nothing now. */
  *n = rc == SQLITE_OK ? 0 : rc == SQLITE_NOMEM ? -rc : 0;
  op *ops = NULL;
  int cap = 0;
  while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    char kind = op_kind((const char *)sqlite3_column_text(st, 1),
                        (const char *)sqlite3_column_text(st, 5));
    if (!kind) continue;
    if (*n == cap) {
      op *more = sqlite3_realloc64(ops, sizeof(op) * (sqlite3_uint64)(cap = cap ? 2 * cap : 16));
      if (!more) {
        *n = -SQLITE_NOMEM;
        break;
      }
      ops = more;
    }
    ops[(*n)++] = (op){sqlite3_column_int(st, 0), sqlite3_column_int(st, 2),
                       sqlite3_column_int(st, 3), sqlite3_column_int(st, 4), kind};
  }
  sqlite3_finalize(st);
  if (*n < 0) {
    sqlite3_free(ops);
    return NULL;
  }
  return ops;
}

/* Is the cursor opened on the b-tree at root of main (database 0)? */
static int on_root(const op *ops, int n, int cursor, sqlite3_int64 root) {
  for (int i = 0; i < n; i++)
    if (ops[i].kind == 'o' && ops[i].p1 == cursor && ops[i].p2 == root && ops[i].p3 == 0) return 1;
  return 0;
}

/*
** Does this program call ml_train inside a loop over the b-tree at root?  A
** loop is the span from a Next's jump target to the Next.  A Yield in that
** span hands each row to a consumer elsewhere (a co-routine), which could
** call ml_train per row: counted as a loop too, when the program calls it.
*/
static int trains_per_row(const op *ops, int n, sqlite3_int64 root) {
  int calls = 0;
  for (int i = 0; i < n; i++) calls += ops[i].kind == 't';
  for (int i = 0; calls && i < n; i++) {
    if (ops[i].kind != 'n' || !on_root(ops, n, ops[i].p1, root)) continue;
    for (int j = 0; j < n; j++)
      if ((ops[j].kind == 't' || ops[j].kind == 'y') && ops[j].addr >= ops[i].p2 &&
          ops[j].addr <= ops[i].addr)
        return 1;
  }
  return 0;
}

int ml_stmt_trains_per_row(sqlite3 *db, const char *table) {
  sqlite3_int64 root = root_page(db, table);
  if (root <= 0) return (int)root;
  for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s)) {
    if (!sqlite3_stmt_busy(s)) continue;
    const char *sql = sqlite3_sql(s);
    int n = 0;
    op *ops = sql ? program(db, sql, &n) : NULL;
    if (n < 0) return n;
    int r = trains_per_row(ops, n, root);
    sqlite3_free(ops);
    if (r) return r;
  }
  return 0;
}
