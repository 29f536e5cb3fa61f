/*
** mem_libc.c: the allocation seam (mem.h) for the unit tests: libc, with a
** count of live bytes (a leak shows as a nonzero count) and fault injection.
*/
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mem.h"

static long live, countdown = -1;

void mem_fail_after(long n) { countdown = n; }
long mem_in_use(void) { return live; }

static int fail_now(void) {
  if (countdown < 0) return 0;
  if (countdown == 0) return 1;
  countdown--;
  return 0;
}

/* Each block carries its size in front, so frees can be counted. */
void *ml_malloc(uint64_t n) {
  if (fail_now()) return NULL;
  uint64_t *p = malloc(n + 16);
  if (!p) return NULL;
  p[0] = n;
  live += (long)n;
  return p + 2;
}

void ml_free(void *q) {
  if (!q) return;
  uint64_t *p = (uint64_t *)q - 2;
  live -= (long)p[0];
  free(p);
}

void *ml_realloc(void *q, uint64_t n) {
  if (!q) return ml_malloc(n);
  if (fail_now()) return NULL;
  uint64_t *p = (uint64_t *)q - 2;
  uint64_t old = p[0];
  uint64_t *r = realloc(p, n + 16);
  if (!r) return NULL;
  r[0] = n;
  live += (long)n - (long)old;
  return r + 2;
}

void *ml_calloc(uint64_t n) {
  void *p = ml_malloc(n);
  if (p) memset(p, 0, n);
  return p;
}
