/*
** sqlq.c: building SQL from user-given sources and names.  See sqlq.h.
*/
#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "guard.h"
#include "json.h"
#include "sqlq.h"
#include "strbuf.h"

ml_json *ml_json_arg(sqlite3_context *ctx, const char *fname, const char *what, const char *z,
                     size_t n) {
  ml_json *j;
  char err[96];
  int rc = ml_json_parse(z, n, &j, err, sizeof err);
  if (rc == -2) sqlite3_result_error_nomem(ctx);
  else if (rc) ml_error(ctx, "%s(): %s are not valid JSON: %s", fname, what, err);
  return rc ? NULL : j;
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

int ml_unquote(const char **pz, char **out) {
  const char *z = *pz;
  char close = *z == '[' ? ']' : *z;
  *out = NULL;
  sqlite3_str *s = sqlite3_str_new(NULL);
  for (z++; *z && !(*z == close && (close == ']' || z[1] != close)); z++) {
    if (*z == close) z++;
    sqlite3_str_appendchar(s, 1, *z);
  }
  int rc = sqlite3_str_errcode(s);
  char *name = sqlite3_str_finish(s);
  if (rc) return rc;
  if (!*z) {
    sqlite3_free(name);
    return SQLITE_OK;
  }
  *out = name ? name : sqlite3_mprintf(""); /* "" finishes as NULL */
  *pz = z + 1;
  return *out ? SQLITE_OK : SQLITE_NOMEM;
}

/*
** One part of a name at *pz: an identifier quoted as SQL quotes them (a
** doubled quote inside stands for one), or bare text up to a '.' or the
** end, its blanks trimmed.  Advances *pz past it and the blanks after it.
** *out is NULL when there is no name there or its quote is not closed.
*/
static int name_part(const char **pz, char **out) {
  const char *z = *pz;
  while (isspace((unsigned char)*z)) z++;
  *out = NULL;
  if (*z == '"' || *z == '`' || *z == '[') {
    int rc = ml_unquote(&z, out);
    if (rc || !*out) return rc;
  } else {
    const char *end = z;
    while (*end && *end != '.') end++;
    const char *last = end;
    while (last > z && isspace((unsigned char)last[-1])) last--;
    if (last == z) return SQLITE_OK;
    *out = sqlite3_mprintf("%.*s", (int)(last - z), z);
    z = end;
  }
  if (!*out) return SQLITE_NOMEM;
  while (isspace((unsigned char)*z)) z++;
  *pz = z;
  return SQLITE_OK;
}

static int source_error(char **err, const char *who, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *body = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  *err = body ? sqlite3_mprintf("%s: %s", who, body) : NULL;
  sqlite3_free(body);
  return *err ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* Skips blanks, comments and semicolons: what may follow the one statement. */
static const char *skip_end(const char *z) {
  for (;;) {
    z = skip_space(z);
    if (*z != ';') return z;
    z++;
  }
}

static int open_query(sqlite3 *db, const char *who, const char *source, ml_source *src,
                      char **err) {
  sqlite3_stmt *st = NULL;
  const char *tail = NULL;
  int rc = sqlite3_prepare_v2(db, source, -1, &st, &tail);
  if (rc == SQLITE_NOMEM) return rc;
  if (rc != SQLITE_OK)
    return source_error(err, who, "the source query does not compile: %s", sqlite3_errmsg(db));
  int readonly = st && sqlite3_stmt_readonly(st);
  int nparam = st ? sqlite3_bind_parameter_count(st) : 0;
  char *param = nparam ? sqlite3_mprintf("%s", sqlite3_bind_parameter_name(st, 1)) : NULL;
  sqlite3_finalize(st);
  if (nparam && !param) return SQLITE_NOMEM;
  if (*skip_end(tail)) {
    rc = source_error(err, who, "the source must be one statement");
  } else if (!readonly) {
    rc = source_error(err, who, "the source query must be read-only");
  } else if (nparam) {
    /* Its values could only come from the statement it runs in, which binds its own. */
    rc = source_error(err, who, "the source query has a parameter (%s); write its value into "
                      "the query", *param ? param : "?");
  } else {
    /* Without the semicolon that ended it; the newline ends a trailing -- comment. */
    size_t n = (size_t)(tail - source);
    while (n > 0 && (source[n - 1] == ';' || isspace((unsigned char)source[n - 1]))) n--;
    src->from = sqlite3_mprintf("(%.*s\n)", (int)n, source);
    rc = src->from ? SQLITE_OK : SQLITE_NOMEM;
  }
  sqlite3_free(param);
  return rc;
}

int ml_source_open(sqlite3 *db, const char *who, const char *source, const char *schema_default,
                   ml_source *src, char **err) {
  memset(src, 0, sizeof *src);
  *err = NULL;
  const char *z = skip_space(source);
  if (starts_keyword(z, "select") || starts_keyword(z, "with") || starts_keyword(z, "values"))
    return open_query(db, who, source, src, err);
  if (!*z) return source_error(err, who, "the source is empty; give a table, a view or a query");
  char *part1 = NULL, *part2 = NULL;
  const char *p = source;
  int rc = name_part(&p, &part1);
  int bad = rc == SQLITE_OK && !part1;
  if (rc == SQLITE_OK && part1 && *p == '.') {
    p++;
    rc = name_part(&p, &part2);
    bad = rc == SQLITE_OK && !part2;
  }
  if (rc == SQLITE_OK && (bad || *p))
    rc = source_error(err, who, "the source '%s' is not a name: expected table, schema.table or "
                      "a query (SELECT, WITH or VALUES)", source);
  if (rc) goto done;
  const char *schema = part2 ? part1 : schema_default;
  const char *name = part2 ? part2 : part1;
  /* Where SQL would find it: temp first, then main and the attached ones in order. */
  sqlite3_stmt *st;
  rc = sqlite3_prepare_v2(db,
                          "SELECT l.schema, l.name, l.type, l.wr"
                          "  FROM pragma_table_list(?1) AS l JOIN pragma_database_list AS d"
                          "    ON d.name = l.schema"
                          " WHERE ?2 IS NULL OR l.schema = ?2 COLLATE NOCASE"
                          " ORDER BY l.schema <> 'temp', d.seq LIMIT 1",
                          -1, &st, NULL);
  if (rc) goto db_error;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, schema, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    src->schema = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
    src->name = sqlite3_mprintf("%s", sqlite3_column_text(st, 1));
    src->type = sqlite3_mprintf("%s", sqlite3_column_text(st, 2));
    src->without_rowid = sqlite3_column_int(st, 3);
    rc = src->schema && src->name && src->type ? SQLITE_DONE : SQLITE_NOMEM;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) goto db_error;
  rc = SQLITE_OK;
  if (!src->name) {
    rc = schema ? source_error(err, who, "no table or view named '%s' in schema '%s'", name, schema)
                : source_error(err, who, "no table or view named '%s'", name);
    goto done;
  }
  src->from = sqlite3_mprintf("\"%w\".\"%w\"", src->schema, src->name);
  if (!src->from) rc = SQLITE_NOMEM;
  goto done;
db_error:
  /* The lookup's own failure (a locked schema, say): its code, and its
  ** message in sqlite3_errmsg(db), for the caller to report as it reports
  ** the other failures of its statements. */
done:
  sqlite3_free(part1);
  sqlite3_free(part2);
  return rc;
}

void ml_source_free(ml_source *src) {
  sqlite3_free(src->from);
  sqlite3_free(src->schema);
  sqlite3_free(src->name);
  sqlite3_free(src->type);
  memset(src, 0, sizeof *src);
}

int ml_source_has_rowid(const ml_source *src) {
  return src->type && (strcmp(src->type, "table") == 0 || strcmp(src->type, "virtual") == 0) &&
         !src->without_rowid;
}

int ml_is_rowid_name(const char *name) {
  return sqlite3_stricmp(name, "rowid") == 0 || sqlite3_stricmp(name, "_rowid_") == 0 ||
         sqlite3_stricmp(name, "oid") == 0;
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
    /* The source was found (ml_source_open): what fails is inside it, a
    ** view over a table dropped since, say. */
    *err = sqlite3_mprintf("%s(): cannot read the source '%s': %s", fname, source,
                           sqlite3_errmsg(db));
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

int ml_source_rowid_alias(sqlite3 *db, const ml_source *src, char **alias) {
  *alias = NULL;
  if (!ml_source_has_rowid(src)) return SQLITE_OK;
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1, ?2) WHERE pk = 1 "
                                  "AND upper(type) = 'INTEGER' AND (SELECT count(*) FROM "
                                  "pragma_table_info(?1, ?2) WHERE pk > 0) = 1",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, src->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, src->schema, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *alias = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
    rc = *alias ? SQLITE_DONE : SQLITE_NOMEM;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int ml_model_columns_stmt(sqlite3 *db, const char *fname, const ml_model *m, const char *source,
                          sqlite3_stmt **st, char **err) {
  ml_source src;
  char who[64], **cols = NULL;
  int ncol = 0;
  *st = NULL;
  *err = NULL;
  sqlite3_snprintf(sizeof who, who, "%s()", fname);
  int rc = ml_source_open(db, who, source, NULL, &src, err);
  if (rc == SQLITE_OK) {
    cols = ml_source_columns(db, fname, src.from, source, &ncol, err, NULL);
    rc = cols ? SQLITE_OK : *err ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_puts(&b, "SELECT ");
  for (int j = 0; rc == SQLITE_OK && j < m->k; j++) {
    if (ml_find_name(cols, ncol, m->feat[j].name) < 0) {
      *err = sqlite3_mprintf("%s(): the source '%s' has no column '%s' (a feature of the model)",
                             fname, source, m->feat[j].name);
      rc = *err ? SQLITE_ERROR : SQLITE_NOMEM;
      break;
    }
    char *q = sqlite3_mprintf("%s\"%w\"", j ? ", " : "", m->feat[j].name);
    if (q) ml_sb_puts(&b, q);
    else b.oom = 1;
    sqlite3_free(q);
  }
  ml_sb_puts(&b, " FROM ");
  if (rc == SQLITE_OK) ml_sb_puts(&b, src.from);
  char *sql = ml_sb_finish(&b, NULL);
  if (rc == SQLITE_OK && !sql) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
  sqlite3_free(sql);
  ml_free_names(cols, ncol);
  ml_source_free(&src);
  return rc;
}
