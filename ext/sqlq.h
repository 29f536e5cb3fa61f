/*
** sqlq.h: SQL text built from what users give: sources, identifiers, and
** running small statements.  Identifiers only ever reach SQL quoted ("%w")
** and values only ever bound.
*/
#ifndef SQLML_SQLQ_H
#define SQLML_SQLQ_H

#include "sqlml_int.h"

/*
** The FROM clause item of a source: a query (text starting with SELECT, WITH
** or VALUES) becomes "(query)" after checking that it is one read-only
** statement; anything else is a table or view name, taken literally (or
** dequoted when written "..", [..] or `..`) and quoted, and *table is that
** name (NULL for a query).  Returns the text, or NULL with *err set; the
** caller sqlite3_free()s all three.
*/
char *ml_source_sql(sqlite3 *db, const char *fname, const char *source, char **table,
                    char **err);

/*
** Does the table have a rowid (a rowid table, not a view, a query or WITHOUT
** ROWID)?  *has_rowid says; if it does and alias is not NULL, *alias is its
** INTEGER PRIMARY KEY column, the rowid under another name, or NULL
** (sqlite3_free it).  Returns SQLITE_OK or the error of the lookup: a
** failed lookup must not pass for "no rowid", which changes the split.
*/
int ml_table_rowid(sqlite3 *db, const char *table, int *has_rowid, char **alias);

/*
** The names of the columns of a FROM item, in order; NULL with *err set.
** With decls, also their declared types (NULL where there is none).
*/
char **ml_source_columns(sqlite3 *db, const char *fname, const char *from, const char *source,
                         int *ncol, char **err, char ***decls);
void ml_free_names(char **names, int n);

/* Index of name among names (case-insensitive, as SQL), or -1. */
int ml_find_name(char **names, int n, const char *name);

/* Run one statement with up to two text bindings and no result rows. */
int ml_exec_bind(sqlite3 *db, const char *sql, const char *a, const char *b);

/* Report an SQLite failure of a nested statement on ctx: its code and message. */
void ml_result_db_error(sqlite3_context *ctx, const char *fname, sqlite3 *db, int rc);

/*
** Parses an argument's JSON text: the tree (ml_json_free it), or NULL after
** reporting "fname(): <what> are not valid JSON: ..." (or out of memory).
*/
struct ml_json;
struct ml_json *ml_json_arg(sqlite3_context *ctx, const char *fname, const char *what,
                            const char *z, size_t n);

/* sqlite3_mprintf into an error result; always returns -1. */
int ml_error(sqlite3_context *ctx, const char *fmt, ...);

#endif
