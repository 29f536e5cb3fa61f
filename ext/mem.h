/*
** mem.h: the allocation seam of the SQLite-free core.
**
** lsq.c, model*.c, json.c and strbuf.c allocate only through these three
** functions, so they can be built and tested without SQLite.  The extension
** links mem_sqlite.c, which routes them to sqlite3_malloc64() and friends so
** that SQLite's memory accounting, limits and fault injection see every byte;
** the unit tests link a libc version.
*/
#ifndef SQLML_MEM_H
#define SQLML_MEM_H

#include <stdint.h>

/* Result codes of the SQLite-free core. */
enum {
  ML_OK = 0,
  ML_NOMEM = 1,   /* an allocation failed */
  ML_EINPUT = 2,  /* bad input: the message says what */
  ML_ELAPACK = 3  /* LAPACK reported an illegal argument: a bug of ours */
};

void *ml_malloc(uint64_t n);
void *ml_realloc(void *p, uint64_t n);
void ml_free(void *p);

/* Zero-filled allocation of n bytes, or NULL. */
void *ml_calloc(uint64_t n);

#endif
