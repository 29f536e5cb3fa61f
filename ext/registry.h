/*
** registry.h: the model registry inside the database (sql/registry.sql):
** versions of named models, aliases, lookups by reference.
**
** A reference is 'name' (the latest version), 'name@3' (version 3) or
** 'name@production' (the version an alias points to).  Model names cannot
** hold '@'; alias names cannot be all digits.
*/
#ifndef SQLML_REGISTRY_H
#define SQLML_REGISTRY_H

#include "sqlml_int.h"

/* The schema text, generated from sql/registry.sql at build time. */
extern const char ml_registry_sql[];

/* Does the database have the registry tables?  0 or 1; -1 on error. */
int ml_registry_exists(sqlite3 *db);

/* Creates the registry tables if they are missing. */
int ml_registry_ensure(sqlite3 *db);

/*
** Finds a reference: its version and model BLOB (sqlite3_free it).
** Returns SQLITE_OK; SQLITE_ERROR with *err (sqlite3_free it) when the name,
** version or alias does not exist; or another SQLite code from the lookup.
*/
int ml_registry_find(sqlite3 *db, const char *fname, const char *ref, sqlite3_int64 *version,
                     unsigned char **blob, int *nblob, char **err);

/* Checks a model name for ml_train: NULL if fine, else a message (sqlite3_free it). */
char *ml_check_model_name(const char *fname, const char *name);

void ml_alias_func(sqlite3_context *, int, sqlite3_value **);
void ml_drop_func(sqlite3_context *, int, sqlite3_value **);

#endif
