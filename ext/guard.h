/*
** guard.h: what sqlml refuses to do from inside its own reading of a source.
**
** ml_train, ml_evaluate and the ml_split table run the SQL of a source that
** the user names: a view, a query, a split table over a view.  That SQL can
** call sqlml again.  Two things must not follow: endless recursion (a view
** that trains or evaluates on itself, a split table whose source reads it),
** which would overflow the stack, and writes to the registry from a source
** that was checked to be read-only (sqlite3_stmt_readonly cannot see what a
** function does).  So every sqlml reader counts, per thread, how deep it is
** inside sources while it prepares or steps one; past ML_NEST_MAX it stops,
** and the registry's writers refuse to run at any depth but 0.
**
** Per thread, not per connection: recursion happens on one thread's stack,
** and a source that reaches another connection to write is a write from a
** source all the same.
*/
#ifndef SQLML_GUARD_H
#define SQLML_GUARD_H

#include "sqlml_int.h"

/* An ml_train over an ml_split table over a view with ml_split_of: 2 deep. */
#define ML_NEST_MAX 4

/*
** Enter a source before preparing or stepping it: 0, or -1 when sources
** already nest ML_NEST_MAX deep (nothing entered then).  Every 0 is paired
** with one ml_nest_leave().
*/
int ml_nest_enter(void);
void ml_nest_leave(void);

/* The message for a refused ml_nest_enter(), without the function's name. */
#define ML_NEST_MSG                                                                      \
  "sources nest more than " SQLML_STR(ML_NEST_MAX) " deep: does the source read itself " \
  "(a view or split table that calls sqlml over itself)?"

/*
** For the functions that write the registry: SQLITE_OK outside any source;
** inside one, reports on ctx that fname cannot write from there and returns
** SQLITE_ERROR.
*/
int ml_refuse_in_source(sqlite3_context *ctx, const char *fname);

/*
** Is msg (an SQLite error message) one of sqlml's own, "ml_x(): ..." or
** "ml_split: ..."?  A source that calls sqlml fails with that function's
** message, which says more when passed on as it is than wrapped again.
*/
int ml_is_own_error(const char *msg);

/*
** Does a statement of db that is running now call ml_train once per row of
** main's table `table`?  For ml_train: a statement that scans the registry
** and trains on each row would see the versions it adds, and never end.
** Reads the EXPLAIN of each running statement.  1, 0, or minus an SQLite
** error code.
*/
int ml_stmt_trains_per_row(sqlite3 *db, const char *table);

#endif
