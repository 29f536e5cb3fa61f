/*
** lsq_bench: speed of the streaming QR updates of lsq.c alone, without
** SQLite, in GFLOP/s.  make bench runs it beside the SQL width case, so the
** table can say how much of a wide fit is the factorization itself.
**
**   lsq_bench ROWS P [P ...]    -- one line per P: "p rows seconds gflops"
**
** P counts the columns of X (intercept included), as ml_lsq_init takes it;
** [X y] then has m = P + 1 columns.  Folding n rows into an m x m triangle
** costs about 2 n m^2 flops (one Householder reflection of n + 1 entries
** applied to each later column), which is the count used here.  Each P runs
** three times; the median is printed.  Rows come from a fixed buffer of
** pseudo-random numbers, so the time is the accumulator's, not a generator's.
*/
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lsq.h"

enum { BUFROWS = 4096 };

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Seconds to accumulate n rows of m columns from buf (BUFROWS x m, row-major). */
static double one_run(int p, int64_t n, const double *buf) {
  ml_lsq a;
  if (ml_lsq_init(&a, p)) {
    fprintf(stderr, "lsq_bench: out of memory\n");
    exit(1);
  }
  int m = p + 1;
  double t0 = now();
  for (int64_t i = 0; i < n; i++) {
    const double *row = buf + (i % BUFROWS) * m;
    for (int j = 0; j < m; j++) ml_lsq_put(&a, j, row[j]);
    if (ml_lsq_commit(&a)) {
      fprintf(stderr, "lsq_bench: fold failed\n");
      exit(1);
    }
  }
  if (ml_lsq_fold(&a)) {
    fprintf(stderr, "lsq_bench: fold failed\n");
    exit(1);
  }
  double t = now() - t0;
  ml_lsq_free(&a);
  return t;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: lsq_bench ROWS P [P ...]\n");
    return 2;
  }
  int64_t n = atoll(argv[1]);
  uint64_t rng = 88172645463325252ull;
  for (int i = 2; i < argc; i++) {
    int p = atoi(argv[i]), m = p + 1;
    if (n < 1 || p < 1 || p > 1000) {
      fprintf(stderr, "lsq_bench: bad rows or P\n");
      return 2;
    }
    double *buf = malloc(sizeof(double) * BUFROWS * (size_t)m);
    if (!buf) return 1;
    for (int64_t k = 0; k < (int64_t)BUFROWS * m; k++) {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      buf[k] = (double)(rng >> 11) / 9007199254740992.0 - 0.5;
    }
    double t[3];
    for (int r = 0; r < 3; r++) t[r] = one_run(p, n, buf);
    qsort(t, 3, sizeof t[0], cmp_double);
    printf("%d %lld %.6f %.3f\n", p, (long long)n, t[1], 2.0 * (double)n * m * m / t[1] / 1e9);
    free(buf);
  }
  return 0;
}
