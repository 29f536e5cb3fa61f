/*
** filemark.h: has anyone committed to main since?  Answered without a lock.
**
** A prediction by name must see a version or alias that another process
** committed before the statement began.  Asking SQLite means a read
** transaction: in rollback-journal mode a lock, a journal probe, a read and
** an unlock (about 6 us here), in WAL mode a read-mark lock and unlock
** (about 3 us), each many times the prediction itself (0.5 us).
**
** Every commit leaves a trace that can be read without a lock, as SQLite
** itself reads it before it locks:
**   - rollback journal: the file change counter, 4 bytes at offset 24 of
**     the database file, which every commit increments before its commit
**     point (one pread);
**   - WAL: the wal-index header in shared memory, whose two copies every
**     commit rewrites (no system call at all).
** Equal traces before and after mean no commit came between.  A trace
** read before a read transaction began therefore vouches for everything
** that transaction saw, for as long as the trace stays the same.
**
** The connection's own commits are seen by SQLite's data version, which
** moves on them without a lock; its uncommitted writes are the caller's
** affair (this is for autocommit only).
**
** Only where the trace is known to be kept: the "unix" VFS (not
** unix-excl, whose WAL index is private memory), a database file with a
** name (not :memory: or a temporary file, whose counter SQLite does not
** keep), and the normal locking mode when in WAL (an exclusive one may
** keep the WAL index in private memory).  Anything else: no trace, and
** the caller takes the read transaction as before.
*/
#ifndef SQLML_FILEMARK_H
#define SQLML_FILEMARK_H

#include "sqlml_int.h"

enum { ML_TRACE_NONE = 0, ML_TRACE_COUNTER = 1, ML_TRACE_WAL = 2 };

/* Where main's trace is read from, as found inside a read transaction. */
typedef struct ml_file_watch {
  int found; /* 0: never looked for (all zero) */
  int kind;
  sqlite3_file *file, *journal; /* main's, and its journal or WAL: a change means look again */
  const sqlite3_io_methods *methods; /* main's, when found: another VFS's file at a reused address */
} ml_file_watch;

/* A trace, with the connection's own data version and change count. */
typedef struct ml_file_mark {
  int kind; /* ML_TRACE_NONE: not read, equal to nothing */
  unsigned data_version;
  sqlite3_int64 changes;
  unsigned char trace[48]; /* the change counter, or a wal-index header */
} ml_file_mark;

/*
** Looks for main's trace, unless w found it already for main's present
** file and journal; call it inside a read transaction on main that the
** caller opened (so the database's header says its journal mode).  Sets
** w->kind to ML_TRACE_NONE where no trace can be trusted.
*/
void ml_file_watch_find(sqlite3 *db, ml_file_watch *w);

/*
** Reads main's trace through w into *m; m->kind is ML_TRACE_NONE when it
** cannot be read, or when main or its journal is no longer what w found
** (then find the watch again).  Only outside any transaction on main.
*/
void ml_file_mark_read(sqlite3 *db, const ml_file_watch *w, ml_file_mark *m);

/*
** Takes the connection's own data version and change count again, inside
** the read transaction that m's trace was read before: the transaction's
** start moves the data version for others' commits, which the trace
** answers for.
*/
void ml_file_mark_settle(sqlite3 *db, ml_file_mark *m);

/* No commit between two reads?  Never when either is ML_TRACE_NONE. */
int ml_file_mark_same(const ml_file_mark *a, const ml_file_mark *b);

#endif
