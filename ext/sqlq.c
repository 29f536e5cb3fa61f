/*
** sqlq.c: building SQL from user-given sources and names.  See sqlq.h.
*/
#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "guard.h"
#include "json.h"
#include "sqlq.h"

int ml_error(sqlite3_context *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  if (msg) sqlite3_result_error(ctx, msg, -1);
  else sqlite3_result_error_nomem(ctx);
  sqlite3_free(msg);
  return -1;
}

ml_json *ml_json_arg(sqlite3_context *ctx, const char *fname, const char *what, const char *z,
                     size_t n) {
  ml_json *j;
  char err[96];
  int rc = ml_json_parse(z, n, &j, err, sizeof err);
  if (rc == -2) sqlite3_result_error_nomem(ctx);
  else if (rc) ml_error(ctx, "%s(): %s are not valid JSON: %s", fname, what, err);
  return rc ? NULL : j;
}

void ml_result_db_error(sqlite3_context *ctx, const char *fname, sqlite3 *db, int rc) {
  if (rc == SQLITE_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (rc == SQLITE_INTERRUPT) {
    ml_error(ctx, "%s(): interrupted", fname);
  } else if ((rc & 0xff) == SQLITE_BUSY) {
    ml_error(ctx, "%s(): the database is busy (another connection is writing); try again", fname);
  } else if (ml_is_own_error(sqlite3_errmsg(db))) {
    ml_error(ctx, "%s", sqlite3_errmsg(db));
  } else {
    ml_error(ctx, "%s(): %s", fname, sqlite3_errmsg(db));
  }
  sqlite3_result_error_code(ctx, rc);
}

/* Skips blanks and SQL comments. */
static const char *skip_space(const char *z) {
  for (;;) {
    while (isspace((unsigned char)*z)) z++;
    if (z[0] == '-' && z[1] == '-') {
      while (*z && *z != '\n') z++;
    } else if (z[0] == '/' && z[1] == '*') {
      const char *e = strstr(z + 2, "*/");
      z = e ? e + 2 : z + strlen(z);
    } else {
      return z;
    }
  }
}

static int starts_keyword(const char *z, const char *kw) {
  size_t n = strlen(kw);
  return sqlite3_strnicmp(z, kw, (int)n) == 0 && !isalnum((unsigned char)z[n]) && z[n] != '_';
}

/* The identifier a user wrote, without its quotes if it has them. */
static char *dequote(const char *z) {
  size_t n = strlen(z);
  char open = z[0], close = open == '[' ? ']' : open;
  if (n < 2 || !(open == '"' || open == '`' || open == '[') || z[n - 1] != close)
    return sqlite3_mprintf("%s", z);
  char *out = sqlite3_malloc64(n);
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 1; i < n - 1; i++) {
    out[o++] = z[i];
    if (z[i] == close && close != ']' && z[i + 1] == close) i++;
  }
  out[o] = 0;
  return out;
}

char *ml_source_sql(sqlite3 *db, const char *fname, const char *source, char **table,
                    char **err) {
  const char *z = skip_space(source);
  *err = NULL;
  *table = NULL;
  if (!(starts_keyword(z, "select") || starts_keyword(z, "with") || starts_keyword(z, "values"))) {
    if (!*z) {
      *err = sqlite3_mprintf("%s(): the source is empty; give a table, a view or a query", fname);
      return NULL;
    }
    *table = dequote(source);
    char *from = *table ? sqlite3_mprintf("\"%w\"", *table) : NULL;
    if (!from) {
      sqlite3_free(*table);
      *table = NULL;
    }
    return from;
  }
  sqlite3_stmt *st = NULL;
  const char *tail = NULL;
  int rc = sqlite3_prepare_v2(db, source, -1, &st, &tail);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("%s(): the source query does not compile: %s", fname, sqlite3_errmsg(db));
    return NULL;
  }
  int readonly = st && sqlite3_stmt_readonly(st);
  sqlite3_finalize(st);
  if (*skip_space(tail)) {
    *err = sqlite3_mprintf("%s(): the source must be one statement", fname);
    return NULL;
  }
  if (!readonly) {
    *err = sqlite3_mprintf("%s(): the source query must be read-only", fname);
    return NULL;
  }
  return sqlite3_mprintf("(%s)", source);
}

void ml_free_names(char **names, int n) {
  if (!names) return;
  for (int i = 0; i < n; i++) sqlite3_free(names[i]);
  sqlite3_free(names);
}

char **ml_source_columns(sqlite3 *db, const char *fname, const char *from, const char *source,
                         int *ncol, char **err, char ***decls) {
  *err = NULL;
  *ncol = 0;
  if (decls) *decls = NULL;
  char *sql = sqlite3_mprintf("SELECT * FROM %s", from);
  if (!sql) return NULL;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) {
    const char *m = sqlite3_errmsg(db);
    if (strncmp(m, "no such table", 13) == 0)
      *err = sqlite3_mprintf("%s(): no table or view named '%s'", fname, source);
    else
      *err = sqlite3_mprintf("%s(): cannot read the source '%s': %s", fname, source, m);
    return NULL;
  }
  int n = sqlite3_column_count(st), ok = 1;
  char **names = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)(n ? n : 1));
  char **types = decls ? sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)(n ? n : 1)) : NULL;
  if (names) memset(names, 0, sizeof(char *) * (size_t)n);
  if (types) memset(types, 0, sizeof(char *) * (size_t)n);
  if (!names || (decls && !types)) ok = 0;
  if (ok) {
    for (int i = 0; i < n && ok; i++) {
      names[i] = sqlite3_mprintf("%s", sqlite3_column_name(st, i));
      const char *d = sqlite3_column_decltype(st, i);
      if (types && d) types[i] = sqlite3_mprintf("%s", d);
      ok = names[i] && (!types || !d || types[i]);
    }
  }
  sqlite3_finalize(st);
  if (!ok) {
    ml_free_names(names, n);
    ml_free_names(types, n);
    return NULL;
  }
  *ncol = n;
  if (decls) *decls = types;
  return names;
}

int ml_find_name(char **names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (sqlite3_stricmp(names[i], name) == 0) return i;
  return -1;
}

int ml_exec_bind(sqlite3 *db, const char *sql, const char *a, const char *b) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
  }
  int frc = sqlite3_finalize(st);
  return rc == SQLITE_DONE ? frc : rc;
}

int ml_table_rowid(sqlite3 *db, const char *table, int *has_rowid, char **alias) {
  *has_rowid = 0;
  if (alias) *alias = NULL;
  if (!table) return SQLITE_OK;
  /* The table SQL would find: temp first, then main, then attached. */
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT type, wr, schema FROM pragma_table_list WHERE name = ?1 "
                              "ORDER BY schema = 'temp' DESC, schema = 'main' DESC LIMIT 1",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  char *schema = NULL;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const char *type = (const char *)sqlite3_column_text(st, 0);
    *has_rowid = type && (strcmp(type, "table") == 0 || strcmp(type, "virtual") == 0) &&
                 sqlite3_column_int(st, 1) == 0;
    schema = sqlite3_mprintf("%s", sqlite3_column_text(st, 2));
    rc = schema ? SQLITE_DONE : SQLITE_NOMEM;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return rc;
  rc = SQLITE_OK;
  if (*has_rowid && alias) {
    rc = sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1, ?2) WHERE pk = 1 "
                                "AND upper(type) = 'INTEGER' AND (SELECT count(*) FROM "
                                "pragma_table_info(?1, ?2) WHERE pk > 0) = 1",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
      sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, schema, -1, SQLITE_STATIC);
      rc = sqlite3_step(st);
      if (rc == SQLITE_ROW) {
        *alias = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
        rc = *alias ? SQLITE_DONE : SQLITE_NOMEM;
      }
      sqlite3_finalize(st);
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
  }
  sqlite3_free(schema);
  return rc;
}
