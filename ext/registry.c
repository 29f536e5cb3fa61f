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
**
** Trust.  A database file is data, and anyone may have written it: before
** any read or write, ml_registry_check compares what main.sqlite_schema
** holds under the registry's names, and everything attached to the
** registry's tables, with the texts sqlml creates.  A trigger on
** ml_model_versions would otherwise run with the user's rights on every
** ml_train, an index or a changed table would change what a lookup means,
** and a view in place of a table would make anything a model.  Every
** statement names main: a TEMP table of the same name is not the registry.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dqlite.h"
#include "guard.h"
#include "registry.h"
#include "sqlq.h"

void ml_registry_mark_now(sqlite3 *db, ml_registry_mark *mark) {
  mark->valid = 0;
  if (sqlite3_txn_state(db, "main") != SQLITE_TXN_READ) return;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_DATA_VERSION, &mark->data_version) != SQLITE_OK)
    return;
  mark->changes = sqlite3_total_changes64(db);
  mark->valid = 1;
}

void ml_registry_hold(sqlite3 *db, sqlite3_stmt **hold) {
  *hold = NULL;
  if (sqlite3_txn_state(db, "main") != SQLITE_TXN_NONE) return;
  if (sqlite3_prepare_v2(db, "PRAGMA main.schema_version", -1, hold, NULL) == SQLITE_OK &&
      sqlite3_step(*hold) == SQLITE_ROW)
    return;
  sqlite3_finalize(*hold);
  *hold = NULL;
}

int ml_registry_mark_same(const ml_registry_mark *a, const ml_registry_mark *b) {
  return a->valid && b->valid && a->data_version == b->data_version && a->changes == b->changes;
}

/* ---- is the registry sqlml's? ---- */

static const struct {
  const char *type, *name, *create;
  int bit;
} registry_objects[] = {
    {"table", "ml_model_versions", "CREATE TABLE ", ML_REG_VERSIONS},
    {"table", "ml_aliases", "CREATE TABLE ", ML_REG_ALIASES},
    {"trigger", "ml_model_versions_drop", "CREATE TRIGGER ", ML_REG_TRIGGER},
    {"view", "ml_models", "CREATE VIEW ", ML_REG_VIEW},
    {"table", "ml_alias_history", "CREATE TABLE ", ML_REG_HISTORY},
    {"trigger", "ml_alias_history_move", "CREATE TRIGGER ", ML_REG_HISTORY_MOVE},
    {"trigger", "ml_alias_history_keep", "CREATE TRIGGER ", ML_REG_HISTORY_KEEP},
    {"trigger", "ml_alias_history_kept", "CREATE TRIGGER ", ML_REG_HISTORY_KEPT},
};

/*
** Texts sqlml 0.1.0 created that sql/registry.sql no longer does, as
** sqlite_schema keeps them.  Registries it made keep working: the table
** as it is (lookups skip versions that are not integers), the view until
** the next write replaces it (ml_registry_ensure).
*/
static const struct {
  int bit;
  const char *sql;
} earlier_texts[] = {
    {ML_REG_VERSIONS,
     "CREATE TABLE ml_model_versions (\n"
     "  name          TEXT    NOT NULL,\n"
     "  version       INTEGER NOT NULL CHECK (version >= 1),\n"
     "  created_at    TEXT    NOT NULL,  -- UTC, ISO-8601: 2026-11-26T10:09:45Z\n"
     "  kind          TEXT    NOT NULL,  -- 'linear_regression'\n"
     "  source        TEXT    NOT NULL,  -- the table, view or query, as given\n"
     "  target        TEXT    NOT NULL,\n"
     "  features      TEXT    NOT NULL,  -- JSON array of column names\n"
     "  options       TEXT    NOT NULL,  -- JSON object, as given (defaults filled in)\n"
     "  n_train       INTEGER NOT NULL,\n"
     "  n_test        INTEGER NOT NULL,\n"
     "  n_skipped     INTEGER NOT NULL,\n"
     "  metrics       TEXT    NOT NULL,  -- JSON: {\"train\": {...}, \"test\": {...}}\n"
     "  data_hash     TEXT    NOT NULL,  -- fingerprint of the training rows (README)\n"
     "  sqlml_version TEXT    NOT NULL,\n"
     "  model         BLOB    NOT NULL,  -- the model BLOB (README: The model BLOB)\n"
     "  PRIMARY KEY (name, version)\n"
     ") WITHOUT ROWID"},
    {ML_REG_VIEW | ML_REG_OLD_VIEW,
     "CREATE VIEW ml_models AS\n"
     "SELECT v.name, v.version, v.created_at, v.kind, v.target, v.features,\n"
     "       v.n_train, v.n_test, v.n_skipped,\n"
     "       json_extract(v.metrics, '$.train.r2') AS r2_train,\n"
     "       json_extract(v.metrics, '$.test.r2') AS r2_test,\n"
     "       json_extract(v.metrics, '$.test.rmse') AS rmse_test,\n"
     "       (SELECT json_group_array(a.alias) FROM\n"
     "          (SELECT alias FROM ml_aliases a WHERE a.name = v.name AND a.version = v.version\n"
     "           ORDER BY alias) AS a) AS aliases,\n"
     "       v.data_hash, v.metrics, v.options, v.source, v.sqlml_version\n"
     "  FROM ml_model_versions AS v"},
};

/*
** After "CREATE KIND name" in text, or NULL if text does not start so.
** The name may be quoted ("name"): ALTER TABLE ... RENAME TO writes it so,
** and a registry table renamed away and back is still the same table.
*/
static const char *after_name(const char *text, const char *create, const char *name) {
  size_t nk = strlen(create), nn = strlen(name);
  if (strncmp(text, create, nk) != 0) return NULL;
  text += nk;
  int quoted = *text == '"';
  if (strncmp(text + quoted, name, nn) != 0 || (quoted && text[1 + nn] != '"')) return NULL;
  return text + nn + 2 * quoted;
}

/*
** The ML_REG_ bits of text if sqlml creates or created it for object i of
** registry_objects, else 0.  The text names its object ("CREATE TABLE
** ml_aliases ..."): the row's name and type columns must agree with it.
** SQLite keeps "CREATE VIEW IF NOT EXISTS main.ml_models AS ...;" of
** ml_registry_sql as "CREATE VIEW ml_models AS ...", without the semicolon.
*/
static int sqlml_text(const char *text, size_t i) {
  const char *create = registry_objects[i].create, *name = registry_objects[i].name;
  const char *tail = after_name(text, create, name);
  if (!tail || (*tail != ' ' && *tail != '\n')) return 0;
  char head[64];
  sqlite3_snprintf(sizeof head, head, "%sIF NOT EXISTS main.%s", create, name);
  size_t nh = strlen(head), nt = strlen(tail);
  /* A line of the script that starts with head and goes on with tail. */
  for (const char *s = ml_registry_sql; (s = strstr(s, head)) != NULL; s++)
    if ((s == ml_registry_sql || s[-1] == '\n') && strncmp(s + nh, tail, nt) == 0 &&
        s[nh + nt] == ';')
      return registry_objects[i].bit;
  for (size_t j = 0; j < sizeof earlier_texts / sizeof earlier_texts[0]; j++) {
    const char *t = after_name(earlier_texts[j].sql, create, name);
    if ((earlier_texts[j].bit & registry_objects[i].bit) && t && strcmp(tail, t) == 0)
      return earlier_texts[j].bit;
  }
  return 0;
}

/*
** Judges one row of sqlite_schema: 0 if it is sqlml's (its ML_REG_ bits
** added to *objects), else 1 with *why saying what is wrong and what to do
** (NULL when out of memory).
*/
static int judge(const char *type, const char *name, const char *tbl, const char *sql,
                 int *objects, char **why) {
  const char *drop = strcmp(type, "index") == 0 ? "INDEX" : strcmp(type, "view") == 0 ? "VIEW"
                                                                                       : "TRIGGER";
  for (size_t i = 0; i < sizeof registry_objects / sizeof registry_objects[0]; i++) {
    if (sqlite3_stricmp(name, registry_objects[i].name) != 0) continue;
    int bits = sql && strcmp(type, registry_objects[i].type) == 0 ? sqlml_text(sql, i) : 0;
    if (bits) {
      *objects |= bits;
      return 0;
    }
    const char *differs = strcmp(type, registry_objects[i].type) == 0 ? " (its definition differs)" : "";
    if (strcmp(type, "table") == 0)
      *why = sqlite3_mprintf("table '%s' is not the %s sqlml creates%s; rename it (ALTER TABLE "
                             "\"%w\" RENAME TO ...) or use another database",
                             name, registry_objects[i].type, differs, name);
    else
      *why = sqlite3_mprintf("%s '%s' is not the %s sqlml creates%s; remove it (DROP %s \"%w\") or "
                             "use another database",
                             type, name, registry_objects[i].type, differs, drop, name);
    return 1;
  }
  *why = sqlite3_mprintf("%s '%s' on %s is not sqlml's; remove it (DROP %s \"%w\") or use another "
                         "database", type, name, tbl, drop, name);
  return 1;
}

/*
** Is a row of sqlite_schema one of the registry's objects, or on one of its
** tables?  Names compare as SQLite compares identifiers (ASCII case aside).
*/
static int registry_row(const char *name, const char *tbl) {
  static const char *const names[] = {"ml_model_versions_drop", "ml_models", "ml_alias_history_move",
                                      "ml_alias_history_keep", "ml_alias_history_kept"};
  static const char *const tables[] = {"ml_model_versions", "ml_aliases", "ml_models",
                                       "ml_alias_history"};
  if (name && sqlite3_strnicmp(name, "ml_", 3) == 0)
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      if (sqlite3_stricmp(name, names[i]) == 0) return 1;
  if (tbl && sqlite3_strnicmp(tbl, "ml_", 3) == 0)
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
      if (sqlite3_stricmp(tbl, tables[i]) == 0) return 1;
  return 0;
}

int ml_registry_check(sqlite3 *db, ml_conn *conn, const char *fname, int *objects, char **err) {
  *err = NULL;
  *objects = 0;
  ml_registry_seen *seen = conn ? ml_conn_registry_seen(conn) : NULL;
  ml_registry_mark now;
  ml_registry_mark_now(db, &now);
  if (seen && ml_registry_mark_same(&seen->mark, &now)) {
    *objects = seen->objects;
    return SQLITE_OK;
  }
  sqlite3_stmt *st;
  /* Every row, the registry's picked here (registry_row): a WHERE of nine
  ** names cost more to prepare than the scan of a schema, and this is
  ** the first statement a connection's first prediction by name prepares. */
  int rc = sqlite3_prepare_v2(db, "SELECT name, tbl_name, type, sql FROM main.sqlite_schema", -1,
                              &st, NULL);
  if (rc != SQLITE_OK) return rc;
  char *why = NULL;
  int bad = 0, marked = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    /* Read while the statement holds the read transaction it looked in. */
    if (!marked++) ml_registry_mark_now(db, &now);
    const char *name = (const char *)sqlite3_column_text(st, 0);
    const char *tbl = (const char *)sqlite3_column_text(st, 1);
    if ((!name && sqlite3_column_type(st, 0) != SQLITE_NULL) ||
        (!tbl && sqlite3_column_type(st, 1) != SQLITE_NULL)) {
      rc = SQLITE_NOMEM;
      break;
    }
    if (!registry_row(name, tbl)) continue;
    const char *type = (const char *)sqlite3_column_text(st, 2);
    const char *sql = (const char *)sqlite3_column_text(st, 3);
    if (!type || !name || !tbl || (!sql && sqlite3_column_type(st, 3) != SQLITE_NULL)) {
      rc = SQLITE_NOMEM;
      break;
    }
    if ((bad = judge(type, name, tbl, sql, objects, &why))) break;
  }
  if (!marked) ml_registry_mark_now(db, &now);
  sqlite3_finalize(st);
  if (bad) {
    *err = why ? sqlite3_mprintf("%s(): the registry in this database was not made by sqlml: %s",
                                 fname, why)
               : NULL;
    sqlite3_free(why);
    return *err ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  if (rc != SQLITE_DONE) return rc;
  if (seen) *seen = (ml_registry_seen){now, *objects};
  return SQLITE_OK;
}

/*
** The script's statements each commit on their own (a function cannot hold
** a transaction safely: see above), so running out of memory half-way
** leaves some of the objects made.  Every one is IF NOT EXISTS, and a
** missing object is no harm to ml_registry_check: the next write completes
** the set.  The view of sqlml 0.1.0 is dropped and made again.
*/
int ml_registry_ensure(sqlite3 *db, ml_conn *conn, const char *fname, char **err) {
  int objects, rc = ml_registry_check(db, conn, fname, &objects, err);
  if (rc != SQLITE_OK || objects == ML_REG_ALL) return rc;
  if (objects & ML_REG_OLD_VIEW) rc = sqlite3_exec(db, "DROP VIEW main.ml_models", NULL, NULL, NULL);
  return rc == SQLITE_OK ? sqlite3_exec(db, ml_registry_sql, NULL, NULL, NULL) : rc;
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

int ml_registry_find(sqlite3 *db, ml_conn *conn, const char *fname, const char *ref,
                     sqlite3_int64 *version, unsigned char **blob, int *nblob,
                     ml_registry_mark *mark, char **err) {
  *blob = NULL;
  if (mark) mark->valid = 0;
  int objects, rc = ml_registry_check(db, conn, fname, &objects, err);
  if (rc != SQLITE_OK) return rc;
  const char *at = strrchr(ref, '@');
  char *name = at ? sqlite3_mprintf("%.*s", (int)(at - ref), ref) : sqlite3_mprintf("%s", ref);
  if (!name) return SQLITE_NOMEM;
  const char *sel = at ? at + 1 : NULL;
  if (sel && strcmp(sel, "latest") == 0) sel = NULL; /* 'name@latest' is 'name' */
  if (!(objects & ML_REG_VERSIONS)) {
    *err = sqlite3_mprintf("%s(): no model named '%!.80s' (this database has no models yet: "
                           "ml_train() makes one)", fname, name);
    sqlite3_free(name);
    return SQLITE_ERROR;
  }
  const char *sql;
  if (!sel) {
    sql = "SELECT version, model FROM main.ml_model_versions WHERE name = ?1 AND "
          "typeof(version) = 'integer' ORDER BY version DESC LIMIT 1";
  } else if (all_digits(sel)) {
    sql = "SELECT version, model FROM main.ml_model_versions WHERE name = ?1 AND version = ?2 AND "
          "typeof(version) = 'integer'";
  } else if (objects & ML_REG_ALIASES) {
    sql = "SELECT v.version, v.model FROM main.ml_aliases a JOIN main.ml_model_versions v "
          "ON v.name = a.name AND v.version = a.version WHERE a.name = ?1 AND a.alias = ?2 AND "
          "typeof(v.version) = 'integer'";
  } else {
    sql = "SELECT 1, NULL WHERE 0"; /* no alias table yet (ml_registry_ensure): no alias */
  }
  sqlite3_stmt *st;
  rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) {
    sqlite3_free(name);
    return rc;
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  if (sel) sqlite3_bind_text(st, 2, sel, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  /* Read while the statement holds the read transaction it looked in. */
  if (mark) ml_registry_mark_now(db, mark);
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
    if (sqlite3_prepare_v2(db, "SELECT min(version), max(version) FROM main.ml_model_versions "
                               "WHERE name = ?1 AND typeof(version) = 'integer'",
                           -1, &q, NULL) == SQLITE_OK) {
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

int ml_registry_insert(sqlite3 *db, ml_conn *conn, const char *fname, const ml_version_row *row,
                       sqlite3_int64 *version, char **err) {
  int rc = ml_registry_ensure(db, conn, fname, err);
  if (rc != SQLITE_OK) return rc;
  /* A read-only statement sees a pending interrupt without ending the
  ** caller's transaction, as the INSERT below would
  ** (report_store_error). */
  if ((rc = ml_exec_bind(db, "SELECT 1 FROM main.sqlite_schema", NULL, NULL)) != SQLITE_OK)
    return rc;
  sqlite3_stmt *st;
  rc = sqlite3_prepare_v2(db,
                          "INSERT INTO main.ml_model_versions(name, version, created_at, kind, "
                          "source, target, features, options, n_train, n_test, n_skipped, metrics, "
                          "data_hash, sqlml_version, model) "
                          "SELECT ?1, coalesce(max(version), 0) + 1, ?2, coalesce(?14, 'linear_regression'), ?3, "
                          "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13 FROM main.ml_model_versions "
                          "WHERE name = ?1 AND typeof(version) = 'integer' RETURNING version",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, row->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, row->created_at, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, row->source, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, row->target, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, row->features, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, row->options, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, row->n_train);
  sqlite3_bind_int64(st, 8, row->n_test);
  sqlite3_bind_int64(st, 9, row->n_skipped);
  sqlite3_bind_text(st, 10, row->metrics, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 11, row->data_hash, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 12, SQLML_VERSION, -1, SQLITE_STATIC);
  if (row->kind) sqlite3_bind_text(st, 14, row->kind, -1, SQLITE_STATIC);
  sqlite3_bind_blob64(st, 13, row->model, (sqlite3_uint64)row->nmodel, SQLITE_STATIC);
  /* The INSERT is done when its RETURNING row comes (SQLite makes every
  ** change of such a statement in its first step): the statement is ended
  ** there, so no interrupt can land in a second step and fail a version
  ** that is stored. */
  int stored = 0;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    stored = 1;
    *version = sqlite3_column_int64(st, 0);
  }
  int frc = sqlite3_finalize(st);
  rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? frc : rc;
  /* Nothing stored and no error: a trigger said RAISE(IGNORE).  The main
  ** schema has none (ml_registry_check), so it is one of this connection's
  ** TEMP triggers on the registry. */
  if (rc == SQLITE_OK && !stored) {
    *err = sqlite3_mprintf("%s(): the new version of '%s' was not stored: a trigger on "
                           "ml_model_versions discarded it (a TEMP trigger: see sqlite_temp_schema)",
                           fname, row->name);
    rc = *err ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  return rc;
}

/*
** An INSERT that fails for an interrupt, a full disk, an I/O error or out of
** memory makes SQLite roll back the whole transaction it ran in, the
** caller's uncommitted changes with it (sqlite3VdbeHalt); nothing here can
** keep that transaction.  ml_registry_insert makes the window small (it
** checks for a pending interrupt just before writing); when it happens all
** the same, the error says so.
*/
static void report_store_error(sqlite3_context *ctx, const char *fname, int rc, int was_in_txn) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  if (!was_in_txn || !sqlite3_get_autocommit(db)) {
    ml_result_db_error(ctx, fname, db, rc);
    return;
  }
  ml_error(ctx, "%s(): %s while storing the version; SQLite rolled back the whole "
                "transaction this statement ran in: its uncommitted changes are lost, and the "
                "statements after it run in autocommit mode",
           fname, rc == SQLITE_INTERRUPT ? "interrupted" : sqlite3_errstr(rc));
  sqlite3_result_error_code(ctx, rc);
}

int ml_registry_store(sqlite3_context *ctx, const char *fname, const ml_version_row *row,
                      sqlite3_int64 *version, int in_txn) {
  char *err = NULL;
  int rc = ml_registry_insert(sqlite3_context_db_handle(ctx), sqlite3_user_data(ctx), fname, row,
                              version, &err);
  if (rc == SQLITE_OK) return rc;
  if (err) sqlite3_result_error(ctx, err, -1);
  else report_store_error(ctx, fname, rc, in_txn);
  sqlite3_free(err);
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

/*
** One statement: the history row, whose trigger (ml_alias_history_move)
** moves the alias.  Nothing is written when the alias is already there,
** or when version `to` does not exist.
*/
int ml_registry_move_alias(sqlite3 *db, const char *name, const char *alias, sqlite3_int64 to,
                           const char *by, const char *figures, sqlite3_int64 *changes) {
  static const char sql[] =
      "INSERT INTO main.ml_alias_history(moved_at, name, alias, from_version, to_version, "
      "moved_by, figures) SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?1, ?2, cur.v, ?3, ?4, ?5 "
      "FROM (SELECT (SELECT version FROM main.ml_aliases WHERE name = ?1 AND alias = ?2) AS v) "
      "AS cur WHERE (?3 IS NULL AND cur.v IS NOT NULL) OR (?3 IS NOT NULL AND cur.v IS NOT ?3 "
      "AND EXISTS (SELECT 1 FROM main.ml_model_versions WHERE name = ?1 AND version = ?3 AND "
      "typeof(version) = 'integer'))";
  sqlite3_stmt *st;
  *changes = 0;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, alias, -1, SQLITE_STATIC);
  if (to > 0) sqlite3_bind_int64(st, 3, to);
  sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
  if (figures) sqlite3_bind_text(st, 5, figures, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) *changes = sqlite3_changes64(db);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

sqlite3_int64 ml_registry_alias_version(sqlite3 *db, const char *name, const char *alias) {
  sqlite3_stmt *st;
  sqlite3_int64 v = 0;
  if (sqlite3_prepare_v2(db, "SELECT version FROM main.ml_aliases WHERE name = ?1 AND alias = ?2",
                         -1, &st, NULL) != SQLITE_OK)
    return 0;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, alias, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

int ml_registry_load(sqlite3 *db, ml_conn *conn, const char *fname, const char *ref,
                     sqlite3_int64 *version, ml_model **m, char **err) {
  unsigned char *blob = NULL;
  int nblob = 0;
  char msg[200];
  *m = NULL;
  *err = NULL;
  int rc = ml_registry_find(db, conn, fname, ref, version, &blob, &nblob, NULL, err);
  if (rc == SQLITE_OK) {
    int dr = ml_model_decode(blob, nblob, m, msg, sizeof msg);
    /* What loads a model by name compares, merges or measures it: with its dense factor. */
    if (!dr && (dr = ml_model_densify_small(*m))) snprintf(msg, sizeof msg, "its factor failed");
    if (dr == ML_NOMEM) rc = SQLITE_NOMEM;
    else if (dr && (*err = sqlite3_mprintf("%s(): %s: %s", fname, ref, msg))) rc = SQLITE_ERROR;
    else if (dr) rc = SQLITE_NOMEM;
  }
  sqlite3_free(blob);
  return rc;
}

static const char *text_arg(sqlite3_value *v) {
  return sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
}

/* Completes the registry so that its triggers (a dropped version's
** aliases, the history's move) are there. */
int ml_registry_for_write(sqlite3_context *ctx, const char *fname, const char *name) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  ml_conn *conn = sqlite3_user_data(ctx);
  char *err = NULL;
  int objects, rc = ml_registry_check(db, conn, fname, &objects, &err);
  if (rc == SQLITE_OK && !(objects & ML_REG_VERSIONS))
    return ml_error(ctx, "%s(): no model named '%s'", fname, name);
  if (rc == SQLITE_OK) rc = ml_registry_ensure(db, conn, fname, &err);
  if (rc == SQLITE_OK) return 0;
  if (err) {
    sqlite3_result_error(ctx, err, -1);
    sqlite3_free(err);
  } else {
    ml_result_db_error(ctx, fname, db, rc);
  }
  return -1;
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
  if (strcmp(alias, "latest") == 0) {
    ml_error(ctx, "ml_alias(): 'latest' always names the newest version of a model; choose "
                  "another alias");
    return;
  }
  int vt = sqlite3_value_type(argv[2]);
  sqlite3_int64 version = sqlite3_value_int64(argv[2]), n = 0;
  if (vt != SQLITE_NULL && (vt != SQLITE_INTEGER || version < 1)) {
    ml_error(ctx, "ml_alias(): argument 3 must be a version number, or NULL to remove the alias");
    return;
  }
  if (ml_registry_for_write(ctx, "ml_alias", name)) return;
  int rc = ml_registry_move_alias(db, name, alias, vt == SQLITE_NULL ? 0 : version, "ml_alias",
                                  NULL, &n);
  if (rc != SQLITE_OK) {
    ml_result_db_error(ctx, "ml_alias", db, rc);
  } else if (vt == SQLITE_NULL) {
    sqlite3_result_null(ctx);
  } else if (n == 0 && ml_registry_alias_version(db, name, alias) != version) {
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
  if (ml_registry_for_write(ctx, "ml_drop", name)) return;
  /* One statement each: a version an alias points to stays until the alias
  ** moves; dropping a name takes its aliases too (the registry's trigger). */
  int rc = version
               ? run1(db, "DELETE FROM main.ml_model_versions WHERE name = ?1 AND version = ?2 AND "
                          "NOT EXISTS (SELECT 1 FROM main.ml_aliases WHERE name = ?1 AND version = ?2)",
                      name, NULL, version, 0, &n)
               : run1(db, "DELETE FROM main.ml_model_versions WHERE name = ?1", name, NULL, 0, 0, &n);
  if (rc != SQLITE_OK) {
    ml_result_db_error(ctx, "ml_drop", db, rc);
    return;
  }
  if (n > 0) {
    sqlite3_result_int64(ctx, n);
    return;
  }
  char *held = version ? query1(db, "SELECT group_concat(alias, ', ') FROM (SELECT alias FROM "
                                    "main.ml_aliases WHERE name = ?1 AND version = ?2 ORDER BY alias)",
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
