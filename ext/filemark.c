/*
** filemark.c: main's commit trace, read without a lock (filemark.h).
*/
#include <stdatomic.h>
#include <string.h>

#include "filemark.h"

#define WAL_INDEX_REGION 32768 /* SQLite's wal-index page, the unit of xShmMap */
#define WAL_HEADER 48          /* one copy of the wal-index header */

static int pointers(sqlite3 *db, sqlite3_file **file, sqlite3_file **journal) {
  *file = *journal = NULL;
  return sqlite3_file_control(db, NULL, SQLITE_FCNTL_FILE_POINTER, file) == SQLITE_OK &&
         sqlite3_file_control(db, NULL, SQLITE_FCNTL_JOURNAL_POINTER, journal) == SQLITE_OK &&
         *file && (*file)->pMethods;
}

/* Is main in the normal locking mode?  (An exclusive WAL may keep its index in private memory.) */
static int locking_normal(sqlite3 *db) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "PRAGMA main.locking_mode", -1, &st, NULL) != SQLITE_OK) return 0;
  int normal = sqlite3_step(st) == SQLITE_ROW &&
               sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "normal") == 0;
  sqlite3_finalize(st);
  return normal;
}

static int trace_kind(sqlite3 *db, sqlite3_file *file) {
  sqlite3_vfs *vfs = NULL;
  const char *name = sqlite3_db_filename(db, "main");
  if (!name || !*name) return ML_TRACE_NONE; /* :memory: or a temporary file */
  if (sqlite3_file_control(db, NULL, SQLITE_FCNTL_VFS_POINTER, &vfs) != SQLITE_OK || !vfs ||
      strcmp(vfs->zName, "unix") != 0)
    return ML_TRACE_NONE;
  unsigned char header[100];
  if (file->pMethods->xRead(file, header, sizeof header, 0) != SQLITE_OK) return ML_TRACE_NONE;
  if (header[18] != 2) return ML_TRACE_COUNTER;
  if (file->pMethods->iVersion < 2 || !file->pMethods->xShmMap || !locking_normal(db))
    return ML_TRACE_NONE;
  return ML_TRACE_WAL;
}

void ml_file_watch_find(sqlite3 *db, ml_file_watch *w) {
  sqlite3_file *file, *journal;
  int live = pointers(db, &file, &journal);
  if (w->found && live && file == w->file && journal == w->journal && file->pMethods == w->methods)
    return;
  *w = (ml_file_watch){.found = 1, .kind = ML_TRACE_NONE, .file = file, .journal = journal};
  if (!live) return;
  w->methods = file->pMethods;
  w->kind = trace_kind(db, file);
}

/* The wal-index header as SQLite reads it: the copy at 0, a barrier, the
** copy at 48; a writer writes them in the other order, so equal copies are
** one header.  0 while a commit is rewriting them, or before any. */
static int wal_trace(sqlite3_file *file, unsigned char *out) {
  void volatile *region = NULL;
  if (file->pMethods->xShmMap(file, 0, WAL_INDEX_REGION, 0, &region) != SQLITE_OK || !region)
    return 0;
  const unsigned char *h = (const unsigned char *)region;
  memcpy(out, h, WAL_HEADER);
  atomic_thread_fence(memory_order_seq_cst);
  return memcmp(out, h + WAL_HEADER, WAL_HEADER) == 0 && out[12] != 0; /* isInit */
}

/* The connection's own data version and change count into m; 0 if unreadable. */
static int own_versions(sqlite3 *db, ml_file_mark *m) {
  m->changes = sqlite3_total_changes64(db);
  return sqlite3_file_control(db, NULL, SQLITE_FCNTL_DATA_VERSION, &m->data_version) == SQLITE_OK;
}

void ml_file_mark_read(sqlite3 *db, const ml_file_watch *w, ml_file_mark *m) {
  memset(m, 0, sizeof *m);
  sqlite3_file *file, *journal; /* live: w's may have been freed with their pager */
  if (w->kind == ML_TRACE_NONE || !pointers(db, &file, &journal) || file != w->file ||
      journal != w->journal || file->pMethods != w->methods)
    return;
  if (!own_versions(db, m)) return;
  int ok = w->kind == ML_TRACE_WAL
               ? wal_trace(file, m->trace)
               : file->pMethods->xRead(file, m->trace, 4, 24) == SQLITE_OK; /* change counter */
  if (ok) m->kind = w->kind;
}

void ml_file_mark_settle(sqlite3 *db, ml_file_mark *m) {
  if (!own_versions(db, m)) m->kind = ML_TRACE_NONE;
}

int ml_file_mark_same(const ml_file_mark *a, const ml_file_mark *b) {
  return a->kind != ML_TRACE_NONE && a->kind == b->kind && a->data_version == b->data_version &&
         a->changes == b->changes && memcmp(a->trace, b->trace, sizeof a->trace) == 0;
}
