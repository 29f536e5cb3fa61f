/*
** sqlq.h: SQL text built from what users give: sources, identifiers, and
** running small statements.  Identifiers only ever reach SQL quoted ("%w")
** and values only ever bound.
*/
#ifndef SQLML_SQLQ_H
#define SQLML_SQLQ_H

#include "sqlml_int.h"

/*
** A source as every function that reads one resolves it (ml_train,
** ml_evaluate, ml_split, ml_predictions):
**
**   - a query: text starting with SELECT, WITH or VALUES (after blanks and
**     comments).  It must compile, be one read-only statement and have no
**     parameters; trailing semicolons and comments are allowed.
**   - a name: table, view or virtual table, as "name" or "schema.name",
**     each part bare or quoted as SQL quotes identifiers ("..", [..], `..`,
**     with "" and `` inside standing for one quote).  Unqualified, it is
**     found where SQL would find it: temp, then main, then the attached
**     schemas in order (or only in schema_default, when not NULL).
**
** from is the FROM item: "schema"."name", or the query in parentheses.
*/
typedef struct ml_source {
  char *from;
  char *schema, *name; /* where the name was found; both NULL for a query */
  char *type;          /* pragma_table_list's: table, view, virtual, shadow; NULL for a query */
  int without_rowid;
} ml_source;

/*
** Resolves source into *src.  Returns SQLITE_OK; or SQLITE_ERROR with
** *err, which reads "<who>: <what is wrong with the source>" (who is
** "ml_train()" for a function, "ml_split" for a virtual table); or the
** code of a failed lookup (SQLITE_NOMEM, SQLITE_BUSY, ...) with *err NULL
** and the message in sqlite3_errmsg(db).  ml_source_free(src) either way.
*/
int ml_source_open(sqlite3 *db, const char *who, const char *source, const char *schema_default,
                   ml_source *src, char **err);
void ml_source_free(ml_source *src);

/* Does the source have a rowid: a rowid table or a virtual table, not a view or a query? */
int ml_source_has_rowid(const ml_source *src);

/*
** Reads the quoted name at *pz ("..", `..` or [..], doubled quotes inside
** as one): *out is it unquoted (sqlite3_free it), *pz just past its closing
** quote.  *out NULL when the quote is not closed.  SQLITE_OK or SQLITE_NOMEM.
*/
int ml_unquote(const char **pz, char **out);

/* Is name one of SQL's names for the rowid: rowid, _rowid_, oid (any case)? */
int ml_is_rowid_name(const char *name);

/*
** The INTEGER PRIMARY KEY column of a rowid table: the rowid under another
** name, in *alias, or NULL (sqlite3_free it).  Returns SQLITE_OK or the
** error of the lookup: a failed lookup must not pass for "no alias".
*/
int ml_source_rowid_alias(sqlite3 *db, const ml_source *src, char **alias);

/*
** The names of the columns of a FROM item, in order; NULL with *err set.
** With decls, also their declared types (NULL where there is none).
*/
char **ml_source_columns(sqlite3 *db, const char *fname, const char *from, const char *source,
                         int *ncol, char **err, char ***decls);
void ml_free_names(char **names, int n);

/*
** Prepares SELECT of model m's feature columns, by name, FROM source (a
** table, view or read-only query): SQLITE_OK with *st; SQLITE_ERROR with
** *err when the source is not one or lacks a column; or another code (its
** message the db's).
*/
int ml_model_columns_stmt(sqlite3 *db, const char *fname, const ml_model *m, const char *source,
                          sqlite3_stmt **st, char **err);

/* Index of name among names (case-insensitive, as SQL), or -1. */
int ml_find_name(char **names, int n, const char *name);

/* Run one statement with up to two text bindings and no result rows. */
int ml_exec_bind(sqlite3 *db, const char *sql, const char *a, const char *b);


/*
** Parses an argument's JSON text: the tree (ml_json_free it), or NULL after
** reporting "fname(): <what> are not valid JSON: ..." (or out of memory).
*/
struct ml_json;
struct ml_json *ml_json_arg(sqlite3_context *ctx, const char *fname, const char *what,
                            const char *z, size_t n);


#endif
