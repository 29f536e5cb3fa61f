/*
** registry.c: versions and aliases of named models in the database.
**
**   SELECT ml_alias('house_price', 'production', 2);     -- set or move; returns 2
**   SELECT ml_alias('house_price', 'production', NULL);  -- remove
**   SELECT ml_drop('house_price', 2);                    -- one version; returns 1
**   SELECT ml_drop('house_price');                       -- every version and alias
**
** These write, so they are DIRECTONLY: a trigger or view in a database cannot
** call them behind its user's back.  Each change is one statement, atomic
** by SQLite's own guarantee (a dropped version's aliases go with it through
** the registry's trigger).  Not a savepoint: after sqlite3_interrupt() no
** ROLLBACK can run while the calling statement is still active, so a
** savepoint or transaction opened here could be left open.
*/
#include <stdlib.h>
#include <string.h>

#include "dqlite.h"
#include "guard.h"
#include "registry.h"
#include "sqlq.h"

int ml_registry_exists(sqlite3 *db) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT 1 FROM main.sqlite_schema "
                              "WHERE type = 'table' AND name = 'ml_model_versions'",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return -1;
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
** The script's statements each commit on their own (a function cannot hold
** a transaction safely: see train.c), so running out of memory half-way
** leaves some of the objects made.  Every one is IF NOT EXISTS: the set is
** checked whole, and the next write completes it.
*/
int ml_registry_ensure(sqlite3 *db) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT count(*) FROM main.sqlite_schema WHERE name IN "
                              "('ml_model_versions', 'ml_aliases', 'ml_model_versions_drop', "
                              "'ml_models')",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st);
  int complete = rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 4;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
  return complete ? SQLITE_OK : sqlite3_exec(db, ml_registry_sql, NULL, NULL, NULL);
}

char *ml_check_model_name(const char *fname, const char *name) {
  if (!name || !name[0]) return sqlite3_mprintf("%s(): the model name must be a non-empty text", fname);
  if (strchr(name, '@'))
    return sqlite3_mprintf("%s(): model name '%s' holds '@', which starts a version or alias",
                           fname, name);
  return NULL;
}

/* Is z a version number (all digits)? */
static int all_digits(const char *z) {
  if (!*z) return 0;
  for (; *z; z++)
    if (*z < '0' || *z > '9') return 0;
  return 1;
}

int ml_registry_find(sqlite3 *db, const char *fname, const char *ref, sqlite3_int64 *version,
                     unsigned char **blob, int *nblob, char **err) {
  *err = NULL;
  *blob = NULL;
  int ex = ml_registry_exists(db);
  if (ex < 0) return sqlite3_errcode(db);
  const char *at = strrchr(ref, '@');
  char *name = at ? sqlite3_mprintf("%.*s", (int)(at - ref), ref) : sqlite3_mprintf("%s", ref);
  if (!name) return SQLITE_NOMEM;
  const char *sel = at ? at + 1 : NULL;
  if (!ex) {
    *err = sqlite3_mprintf("%s(): no model named '%!.80s' (this database has no models yet: "
                           "ml_train() makes one)", fname, name);
    sqlite3_free(name);
    return SQLITE_ERROR;
  }
  const char *sql;
  if (!sel) {
    sql = "SELECT version, model FROM ml_model_versions WHERE name = ?1 "
          "ORDER BY version DESC LIMIT 1";
  } else if (all_digits(sel)) {
    sql = "SELECT version, model FROM ml_model_versions WHERE name = ?1 AND version = ?2";
  } else {
    sql = "SELECT v.version, v.model FROM ml_aliases a JOIN ml_model_versions v "
          "ON v.name = a.name AND v.version = a.version WHERE a.name = ?1 AND a.alias = ?2";
  }
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) {
    sqlite3_free(name);
    return rc;
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  if (sel) sqlite3_bind_text(st, 2, sel, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *version = sqlite3_column_int64(st, 0);
    *nblob = sqlite3_column_bytes(st, 1);
    *blob = sqlite3_malloc64((sqlite3_uint64)*nblob + 1);
    /* An empty value (a damaged row) has no bytes to copy: NULL, not a pointer. */
    if (*blob && *nblob) memcpy(*blob, sqlite3_column_blob(st, 1), (size_t)*nblob);
    rc = *blob ? SQLITE_OK : SQLITE_NOMEM;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_ERROR;
    /* Say which part is missing: the name, the version or the alias. */
    sqlite3_stmt *q;
    sqlite3_int64 lo = 0, hi = 0;
    if (sqlite3_prepare_v2(db, "SELECT min(version), max(version) FROM ml_model_versions "
                               "WHERE name = ?1", -1, &q, NULL) == SQLITE_OK) {
      sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
      if (sqlite3_step(q) == SQLITE_ROW) {
        lo = sqlite3_column_int64(q, 0);
        hi = sqlite3_column_int64(q, 1);
      }
      sqlite3_finalize(q);
    }
    if (!hi || !sel)
      *err = sqlite3_mprintf("%s(): no model named '%!.80s'", fname, name);
    else if (all_digits(sel))
      *err = sqlite3_mprintf("%s(): model '%s' has no version %!.30s (versions %lld to %lld)", fname,
                             name, sel, lo, hi);
    else
      *err = sqlite3_mprintf("%s(): model '%s' has no alias '%!.80s'", fname, name, sel);
  }
  sqlite3_finalize(st);
  sqlite3_free(name);
  return rc;
}

/* Runs one statement binding ?1 = a, ?2 = b (or the integer v), ?3 = the integer w. */
static int run1(sqlite3 *db, const char *sql, const char *a, const char *b, sqlite3_int64 v,
                sqlite3_int64 w, sqlite3_int64 *changes) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  else sqlite3_bind_int64(st, 2, v);
  if (sqlite3_bind_parameter_count(st) >= 3) sqlite3_bind_int64(st, 3, w);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (changes) *changes = sqlite3_changes64(db);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* The value of a one-row, one-column query as text (sqlite3_free it), or NULL. */
static char *query1(sqlite3 *db, const char *sql, const char *a, sqlite3_int64 v) {
  sqlite3_stmt *st;
  char *out = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
  sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, v);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
    out = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return out;
}

static const char *text_arg(sqlite3_value *v) {
  return sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
}

void ml_alias_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  if (ml_refuse_in_source(ctx, "ml_alias")) return;
  if (ml_refuse_autocommit_on_dqlite(ctx, "ml_alias")) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const char *name = text_arg(argv[0]), *alias = text_arg(argv[1]);
  if (!name || !name[0]) {
    ml_error(ctx, "ml_alias(): argument 1 must be a model name");
    return;
  }
  if (!alias || !alias[0]) {
    ml_error(ctx, "ml_alias(): argument 2 must be an alias name");
    return;
  }
  if (all_digits(alias) || strchr(alias, '@')) {
    ml_error(ctx, "ml_alias(): alias '%s' would read as a version; use a name with a letter "
                  "and no '@'", alias);
    return;
  }
  int vt = sqlite3_value_type(argv[2]);
  sqlite3_int64 version = sqlite3_value_int64(argv[2]), n = 0;
  if (vt != SQLITE_NULL && (vt != SQLITE_INTEGER || version < 1)) {
    ml_error(ctx, "ml_alias(): argument 3 must be a version number, or NULL to remove the alias");
    return;
  }
  int ex = ml_registry_exists(db);
  if (ex == 0) {
    ml_error(ctx, "ml_alias(): no model named '%s'", name);
    return;
  }
  int rc = ex < 0 ? sqlite3_errcode(db)
           : vt == SQLITE_NULL
               ? run1(db, "DELETE FROM ml_aliases WHERE name = ?1 AND alias = ?2", name, alias, 0, 0, &n)
               : run1(db, "INSERT OR REPLACE INTO ml_aliases(name, alias, version) SELECT ?1, ?2, ?3 "
                          "WHERE EXISTS (SELECT 1 FROM ml_model_versions WHERE name = ?1 AND "
                          "version = ?3)", name, alias, 0, version, &n);
  if (rc != SQLITE_OK) {
    ml_result_db_error(ctx, "ml_alias", db, rc);
  } else if (vt == SQLITE_NULL) {
    sqlite3_result_null(ctx);
  } else if (n == 0) {
    ml_error(ctx, "ml_alias(): model '%s' has no version %lld", name, version);
  } else {
    sqlite3_result_int64(ctx, version);
  }
}

void ml_drop_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (ml_refuse_in_source(ctx, "ml_drop")) return;
  if (ml_refuse_autocommit_on_dqlite(ctx, "ml_drop")) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const char *name = text_arg(argv[0]);
  sqlite3_int64 version = 0, n = 0;
  if (!name || !name[0]) {
    ml_error(ctx, "ml_drop(): argument 1 must be a model name");
    return;
  }
  if (argc == 2) {
    if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER || sqlite3_value_int64(argv[1]) < 1) {
      ml_error(ctx, "ml_drop(): argument 2 must be a version number");
      return;
    }
    version = sqlite3_value_int64(argv[1]);
  }
  int ex = ml_registry_exists(db);
  if (ex == 0) {
    ml_error(ctx, "ml_drop(): no model named '%s'", name);
    return;
  }
  /* One statement each: a version an alias points to stays until the alias
  ** moves; dropping a name takes its aliases too (the registry's trigger). */
  int rc = ex < 0 ? sqlite3_errcode(db)
           : version
               ? run1(db, "DELETE FROM ml_model_versions WHERE name = ?1 AND version = ?2 AND NOT "
                          "EXISTS (SELECT 1 FROM ml_aliases WHERE name = ?1 AND version = ?2)",
                      name, NULL, version, 0, &n)
               : run1(db, "DELETE FROM ml_model_versions WHERE name = ?1", name, NULL, 0, 0, &n);
  if (rc != SQLITE_OK) {
    ml_result_db_error(ctx, "ml_drop", db, rc);
    return;
  }
  if (n > 0) {
    sqlite3_result_int64(ctx, n);
    return;
  }
  char *held = version ? query1(db, "SELECT group_concat(alias, ', ') FROM (SELECT alias FROM "
                                    "ml_aliases WHERE name = ?1 AND version = ?2 ORDER BY alias)",
                                name, version)
                       : NULL;
  if (held)
    ml_error(ctx, "ml_drop(): version %lld of '%s' is held by alias %s: move or remove it first "
                  "(ml_alias)", version, name, held);
  else if (version)
    ml_error(ctx, "ml_drop(): model '%s' has no version %lld", name, version);
  else
    ml_error(ctx, "ml_drop(): no model named '%s'", name);
  sqlite3_free(held);
}
