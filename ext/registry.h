/*
** registry.h: the model registry inside the database (sql/registry.sql):
** versions of named models, aliases, lookups by reference.
**
** A reference is 'name' (the latest version), 'name@3' (version 3) or
** 'name@production' (the version an alias points to).  Model names cannot
** hold '@'; alias names cannot be all digits.
**
** The registry is always the main database's (every statement says
** main.), and it is used only if its objects are sqlml's, text for text
** (ml_registry_check): a database file can hold anything, and a trigger on
** a registry table would run with the user's rights on every write.
*/
#ifndef SQLML_REGISTRY_H
#define SQLML_REGISTRY_H

#include "sqlml_int.h"

/* The schema text, generated from sql/registry.sql at build time. */
extern const char ml_registry_sql[];

/*
** What the registry holds, as this connection sees it: the main database's
** data version (moved by every commit, this connection's or another's) and
** this connection's count of changed rows (moved by its own writes, even
** those a ROLLBACK undoes).  It says something only when read inside a read
** transaction on main and outside a write transaction: SQLite reads the
** data version afresh when a read transaction starts, and a connection's
** own uncommitted writes move neither number.
*/
typedef struct ml_registry_mark {
  int valid;
  unsigned data_version;
  sqlite3_int64 changes;
} ml_registry_mark;

void ml_registry_mark_now(sqlite3 *db, ml_registry_mark *mark);

/*
** Opens a read transaction on main when none is open, so that a mark can
** be read before the registry is looked at, and the check and the lookup
** see one snapshot: *hold is a statement left running (sqlite3_finalize it
** when done), or NULL when a transaction was open already or none could be
** opened (the lookup then reports why).
*/
void ml_registry_hold(sqlite3 *db, sqlite3_stmt **hold);

/* Do two marks say the registry is the same?  Never when either is not valid. */
int ml_registry_mark_same(const ml_registry_mark *a, const ml_registry_mark *b);

/* The registry's objects in main (ml_registry_check). */
enum {
  ML_REG_VERSIONS = 1,  /* table ml_model_versions */
  ML_REG_ALIASES = 2,   /* table ml_aliases */
  ML_REG_TRIGGER = 4,   /* trigger ml_model_versions_drop */
  ML_REG_VIEW = 8,      /* view ml_models */
  ML_REG_OLD_VIEW = 16, /* ml_models as sqlml 0.1.0 made it: ml_registry_ensure replaces it */
  ML_REG_HISTORY = 32,  /* table ml_alias_history (since 0.3) */
  ML_REG_HISTORY_MOVE = 64,  /* its trigger that moves the alias */
  ML_REG_HISTORY_KEEP = 128, /* its triggers that refuse UPDATE and DELETE */
  ML_REG_HISTORY_KEPT = 256,
  ML_REG_ALL = 1 | 2 | 4 | 8 | 32 | 64 | 128 | 256
};

/*
** The last verdict of ml_registry_check on a connection: its objects, while
** the mark holds.  Lives in the connection's ml_conn (predict.c).
*/
typedef struct ml_registry_seen {
  ml_registry_mark mark;
  int objects;
} ml_registry_seen;

ml_registry_seen *ml_conn_registry_seen(ml_conn *c);

/*
** Checks that the registry objects of main are sqlml's: each of
** ml_model_versions, ml_aliases, ml_model_versions_drop and ml_models that
** exists has the text sqlml creates (or created in an earlier release), and
** nothing else (a trigger, an index) is attached to them.  SQLITE_OK with
** *objects (ML_REG_ bits); SQLITE_ERROR with *err (sqlite3_free it) saying
** what is wrong and what to do; or another SQLite code.  conn (may be NULL)
** keeps the verdict while the registry is unchanged.
*/
int ml_registry_check(sqlite3 *db, ml_conn *conn, const char *fname, int *objects, char **err);

/*
** Checks the registry, then creates its missing objects and replaces an
** earlier release's view.  Returns as ml_registry_check.
*/
int ml_registry_ensure(sqlite3 *db, ml_conn *conn, const char *fname, char **err);

/*
** Finds a reference: its version and model BLOB (sqlite3_free it), and the
** mark of the registry it was read from (mark may be NULL).  Returns
** SQLITE_OK; SQLITE_ERROR with *err (sqlite3_free it) when the registry is
** not sqlml's or the name, version or alias does not exist; or another
** SQLite code from the lookup.  Rows whose version is not an integer (an
** edited registry) do not count.  conn may be NULL.
*/
int ml_registry_find(sqlite3 *db, ml_conn *conn, const char *fname, const char *ref,
                     sqlite3_int64 *version, unsigned char **blob, int *nblob,
                     ml_registry_mark *mark, char **err);

/*
** ml_registry_find, then the BLOB decoded: SQLITE_OK with *m (ml_model_free
** it); or an error code with *err ("fname(): ref: what is wrong"; NULL for
** SQLITE_NOMEM and codes whose message is the db's).
*/
int ml_registry_load(sqlite3 *db, ml_conn *conn, const char *fname, const char *ref,
                     sqlite3_int64 *version, ml_model **m, char **err);

/* One new version of a model, for ml_registry_insert. */
typedef struct ml_version_row {
  const char *name, *created_at, *source, *target, *features, *options, *metrics, *data_hash;
  sqlite3_int64 n_train, n_test, n_skipped;
  const unsigned char *model;
  sqlite3_int64 nmodel;
  const char *kind;  /* column kind: NULL for 'linear_regression' */
} ml_version_row;

/*
** Stores row as the next version of its name (max + 1, numbered by the
** INSERT itself), creating the registry if needed: *version.  Returns as
** ml_registry_check; an INSERT that stores nothing is SQLITE_ERROR too.
*/
int ml_registry_insert(sqlite3 *db, ml_conn *conn, const char *fname, const ml_version_row *row,
                       sqlite3_int64 *version, char **err);

/*
** ml_registry_insert for an SQL function: reports its errors on ctx (the
** connection's ml_conn is ctx's user data).  in_txn: the caller had a
** transaction open before the function began; if the failed INSERT ended
** it, the error says so.  Returns ml_registry_insert's code.
*/
int ml_registry_store(sqlite3_context *ctx, const char *fname, const ml_version_row *row,
                      sqlite3_int64 *version, int in_txn);

/* Checks a model name for ml_train: NULL if fine, else a message (sqlite3_free it). */
char *ml_check_model_name(const char *fname, const char *name);

/*
** Moves alias of model name to version `to` (0 removes it) in one
** statement that also appends to ml_alias_history, with by ("ml_alias",
** "ml_promote") and figures (JSON or NULL).  *changes is 1 when the alias
** moved, 0 when it was already there or version `to` does not exist.
** The caller has checked the registry (ml_registry_ensure).
*/
int ml_registry_move_alias(sqlite3 *db, const char *name, const char *alias, sqlite3_int64 to,
                           const char *by, const char *figures, sqlite3_int64 *changes);

/*
** Before a function changes the registry of model name: is there one, and
** is it sqlml's?  Completes it (ml_registry_ensure).  0 to go on; -1 after
** reporting on ctx.
*/
int ml_registry_for_write(sqlite3_context *ctx, const char *fname, const char *name);

/* The version alias points to, or 0. */
sqlite3_int64 ml_registry_alias_version(sqlite3 *db, const char *name, const char *alias);

void ml_alias_func(sqlite3_context *, int, sqlite3_value **);
void ml_drop_func(sqlite3_context *, int, sqlite3_value **);

#endif
