/*
** mem_sqlite.c: the allocation seam (mem.h) bound to SQLite's allocator.
** A request for 0 bytes allocates 1, so that NULL always means out of memory.
*/
#include <string.h>
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include "mem.h"

void *ml_malloc(uint64_t n) { return sqlite3_malloc64(n ? n : 1); }
void *ml_realloc(void *p, uint64_t n) { return sqlite3_realloc64(p, n ? n : 1); }
void ml_free(void *p) { sqlite3_free(p); }

void *ml_calloc(uint64_t n) {
  void *p = ml_malloc(n);
  if (p) memset(p, 0, n);
  return p;
}
