/*
** registry.c: versions and aliases of named models in the database.
**
**   SELECT ml_alias('house_price', 'production', 2);     -- set or move; returns 2
**   SELECT ml_alias('house_price', 'production', NULL);  -- remove
**   SELECT ml_drop('house_price', 2);                    -- one version; returns 1
**   SELECT ml_drop('house_price');                       -- every version and alias
**
** These write, so they are DIRECTONLY: a trigger or view in a database cannot
** call them behind its user's back.  Each is atomic (see ml_txn_begin).
*/
#include <stdlib.h>
#include <string.h>

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

int ml_registry_ensure(sqlite3 *db) {
  return ml_registry_exists(db) == 1 ? SQLITE_OK : sqlite3_exec(db, ml_registry_sql, NULL, NULL, NULL);
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
    *err = sqlite3_mprintf("%s(): no model named '%s' (this database has no models yet: "
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
    if (*blob) memcpy(*blob, sqlite3_column_blob(st, 1), (size_t)*nblob);
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
    if (!hi)
      *err = sqlite3_mprintf("%s(): no model named '%s'", fname, name);
    else if (!sel)
      *err = sqlite3_mprintf("%s(): no model named '%s'", fname, name);
    else if (all_digits(sel))
      *err = sqlite3_mprintf("%s(): model '%s' has no version %s (versions %lld to %lld)", fname,
                             name, sel, lo, hi);
    else
      *err = sqlite3_mprintf("%s(): model '%s' has no alias '%s'", fname, name, sel);
  }
  sqlite3_finalize(st);
  sqlite3_free(name);
  return rc;
}

/* Runs body() atomically: committed on success, rolled back on failure. */
static int in_savepoint(sqlite3 *db, int (*body)(void *), void *arg) {
  int mode, rc = ml_txn_begin(db, &mode);
  if (rc != SQLITE_OK) return rc;
  rc = body(arg);
  int end = ml_txn_end(db, mode, rc == SQLITE_OK);
  return rc != SQLITE_OK ? rc : end;
}

typedef struct alias_args {
  sqlite3 *db;
  const char *name, *alias;
  sqlite3_int64 version;
  int remove;
  char *err;
} alias_args;

static int count_rows(sqlite3 *db, const char *sql, const char *a, const char *b,
                      sqlite3_int64 v, sqlite3_int64 *out) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  else sqlite3_bind_int64(st, 2, v);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

static int alias_body(void *p) {
  alias_args *a = p;
  int rc;
  if (a->remove)
    return ml_exec_bind(a->db, "DELETE FROM ml_aliases WHERE name = ?1 AND alias = ?2", a->name,
                        a->alias);
  sqlite3_int64 n = 0;
  rc = count_rows(a->db, "SELECT count(*) FROM ml_model_versions WHERE name = ?1 AND version = ?2",
                  a->name, NULL, a->version, &n);
  if (rc != SQLITE_OK) return rc;
  if (!n) {
    a->err = sqlite3_mprintf("ml_alias(): model '%s' has no version %lld", a->name, a->version);
    return SQLITE_ERROR;
  }
  sqlite3_stmt *st;
  rc = sqlite3_prepare_v2(a->db, "INSERT OR REPLACE INTO ml_aliases(name, alias, version) "
                                 "VALUES (?1, ?2, ?3)", -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, a->alias, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, a->version);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static const char *text_arg(sqlite3_value *v) {
  return sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
}

void ml_alias_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  alias_args a = {db, text_arg(argv[0]), text_arg(argv[1]), 0, 0, NULL};
  if (!a.name || !a.name[0]) {
    ml_error(ctx, "ml_alias(): argument 1 must be a model name");
    return;
  }
  if (!a.alias || !a.alias[0]) {
    ml_error(ctx, "ml_alias(): argument 2 must be an alias name");
    return;
  }
  if (all_digits(a.alias) || strchr(a.alias, '@')) {
    ml_error(ctx, "ml_alias(): alias '%s' would read as a version; use a name with a letter "
                  "and no '@'", a.alias);
    return;
  }
  int vt = sqlite3_value_type(argv[2]);
  if (vt == SQLITE_NULL) {
    a.remove = 1;
  } else if (vt == SQLITE_INTEGER && sqlite3_value_int64(argv[2]) >= 1) {
    a.version = sqlite3_value_int64(argv[2]);
  } else {
    ml_error(ctx, "ml_alias(): argument 3 must be a version number, or NULL to remove the alias");
    return;
  }
  int ex = ml_registry_exists(db);
  if (ex == 0) {
    ml_error(ctx, "ml_alias(): no model named '%s'", a.name);
    return;
  }
  int rc = ex < 0 ? sqlite3_errcode(db) : in_savepoint(db, alias_body, &a);
  if (a.err) {
    ml_error(ctx, "%s", a.err);
    sqlite3_free(a.err);
  } else if (rc != SQLITE_OK) {
    ml_result_db_error(ctx, "ml_alias", db, rc);
  } else if (a.remove) {
    sqlite3_result_null(ctx);
  } else {
    sqlite3_result_int64(ctx, a.version);
  }
}

typedef struct drop_args {
  sqlite3 *db;
  const char *name;
  sqlite3_int64 version; /* 0: all */
  sqlite3_int64 dropped;
  char *err;
} drop_args;

static int drop_body(void *p) {
  drop_args *d = p;
  sqlite3_stmt *st;
  int rc;
  if (d->version) {
    /* A version an alias points to stays until the alias moves. */
    rc = sqlite3_prepare_v2(d->db, "SELECT group_concat(alias, ', ') FROM "
                                   "(SELECT alias FROM ml_aliases WHERE name = ?1 AND version = ?2 "
                                   "ORDER BY alias)", -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, d->version);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
      d->err = sqlite3_mprintf("ml_drop(): version %lld of '%s' is held by alias %s: move or "
                               "remove it first (ml_alias)", d->version, d->name,
                               sqlite3_column_text(st, 0));
    rc = sqlite3_finalize(st);
    if (d->err) return SQLITE_ERROR;
    if (rc != SQLITE_OK) return rc;
  }
  rc = sqlite3_prepare_v2(d->db, d->version
                                     ? "DELETE FROM ml_model_versions WHERE name = ?1 AND version = ?2"
                                     : "DELETE FROM ml_model_versions WHERE name = ?1",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
  if (d->version) sqlite3_bind_int64(st, 2, d->version);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return rc;
  d->dropped = sqlite3_changes64(d->db);
  if (!d->dropped) {
    d->err = d->version ? sqlite3_mprintf("ml_drop(): model '%s' has no version %lld", d->name,
                                          d->version)
                        : sqlite3_mprintf("ml_drop(): no model named '%s'", d->name);
    return SQLITE_ERROR;
  }
  if (!d->version)
    return ml_exec_bind(d->db, "DELETE FROM ml_aliases WHERE name = ?1", d->name, NULL);
  return SQLITE_OK;
}

void ml_drop_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  drop_args d = {db, text_arg(argv[0]), 0, 0, NULL};
  if (!d.name || !d.name[0]) {
    ml_error(ctx, "ml_drop(): argument 1 must be a model name");
    return;
  }
  if (argc == 2) {
    if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER || sqlite3_value_int64(argv[1]) < 1) {
      ml_error(ctx, "ml_drop(): argument 2 must be a version number");
      return;
    }
    d.version = sqlite3_value_int64(argv[1]);
  }
  int ex = ml_registry_exists(db);
  if (ex == 0) {
    ml_error(ctx, "ml_drop(): no model named '%s'", d.name);
    return;
  }
  int rc = ex < 0 ? sqlite3_errcode(db) : in_savepoint(db, drop_body, &d);
  if (d.err) {
    ml_error(ctx, "%s", d.err);
    sqlite3_free(d.err);
  } else if (rc != SQLITE_OK) {
    ml_result_db_error(ctx, "ml_drop", db, rc);
  } else {
    sqlite3_result_int64(ctx, d.dropped);
  }
}
