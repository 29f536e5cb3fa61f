/*
** dqlite.h: what sqlml refuses to do on a database replicated by dqlite.
**
** dqlite replicates a database physically: the leader's WAL frames of each
** committed write transaction go through Raft to the followers.  A writing
** function in autocommit mode makes transactions that dqlite does not
** replicate as one: the first ml_train commits each CREATE of the registry
** by itself inside one statement, which aborts the leader (dqlite 1.11:
** vfsFileShmLock: Assertion `wal->n_tx == 0'), and once the registry exists
** an ml_train run as a query stores a version that is never replicated.
** Inside BEGIN ... COMMIT the whole transaction is replicated at COMMIT.
** docs/scale-out.md tells the measurements.
*/
#ifndef SQLML_DQLITE_H
#define SQLML_DQLITE_H

#include "sqlml_int.h"

/* The beginning of the name of every VFS dqlite registers ("dqlite-1"). */
#define ML_DQLITE_VFS_PREFIX "dqlite"

/*
** For the functions that write the registry (ml_train, ml_alias, ml_drop):
** SQLITE_OK when the main database is not on a dqlite VFS, or a transaction
** is open; otherwise reports on ctx that fname must run inside BEGIN ...
** COMMIT there, and returns SQLITE_ERROR.
*/
int ml_refuse_autocommit_on_dqlite(sqlite3_context *ctx, const char *fname);

#endif
