/*
** dqlite.c: writing functions on a dqlite database run inside an explicit
** transaction, or not at all.  See dqlite.h.
**
**   BEGIN; SELECT ml_train('m', 't', 'y'); COMMIT;   -- replicated
**   SELECT ml_train('m', 't', 'y');                   -- refused on dqlite
*/
#include <string.h>

#include "dqlite.h"
#include "sqlq.h"

/*
** SQLITE_FCNTL_VFS_POINTER is answered by SQLite itself, not by the VFS.
** SQLITE_FCNTL_VFSNAME is not: dqlite 1.11's VFS returns SQLITE_OK to every
** file control it does not know, without setting the name.
*/
static int main_on_dqlite(sqlite3 *db) {
  sqlite3_vfs *vfs = NULL;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs) != SQLITE_OK || !vfs ||
      !vfs->zName)
    return 0;
  return strncmp(vfs->zName, ML_DQLITE_VFS_PREFIX, strlen(ML_DQLITE_VFS_PREFIX)) == 0;
}

int ml_refuse_autocommit_on_dqlite(sqlite3_context *ctx, const char *fname) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  if (!sqlite3_get_autocommit(db) || !main_on_dqlite(db)) return SQLITE_OK;
  ml_error(ctx, "%s(): on dqlite, writing functions must run inside an explicit transaction, "
                "which dqlite replicates as one: wrap the statement in BEGIN ... COMMIT",
           fname);
  return SQLITE_ERROR;
}
