/* Unit tests of lsq.c: the streaming QR accumulator, merge, rank, statistics. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lsq.h"

static uint64_t rng = 88172645463325252ull;
static double unif(void) { return check_uniform(&rng); }

static void add(ml_lsq *a, const double *x, double y) {
  for (int j = 0; j < a->p; j++) ml_lsq_put(a, j, x[j]);
  ml_lsq_put(a, a->p, y);
  CHECK(ml_lsq_commit(a) == ML_OK);
}

/* Solve the accumulator's fit; returns the rank. */
static int solve(ml_lsq *a, double tol, unsigned char *aliased, double *beta, double *rss) {
  int m = a->m, rank;
  double W[64 * 64], b[64];
  CHECK(ml_lsq_fold(a) == ML_OK);
  CHECK(ml_lsq_reduce(a->R, m, tol, aliased, W, &rank) == ML_OK);
  CHECK(ml_lsq_coef(W, m, rank, b) == ML_OK);
  for (int j = 0, k = 0; j < a->p; j++) beta[j] = aliased[j] ? NAN : b[k++];
  *rss = W[rank + rank * m] * W[rank + rank * m];
  return rank;
}

/* A merged fit solves as the fit of all its rows: coefficients and RSS to 1e-12. */
static void same_solution(ml_lsq *whole, ml_lsq *merged) {
  unsigned char a1[64], a2[64];
  double b1[64], b2[64], r1, r2;
  solve(whole, ML_LSQ_TOL, a1, b1, &r1);
  solve(merged, ML_LSQ_TOL, a2, b2, &r2);
  for (int j = 0; j < whole->p; j++) CHECK_NEAR(b2[j], b1[j], 1e-12);
  CHECK_NEAR(r2, r1, 1e-12);
}

/* An exact linear relation is recovered whatever the row count, across block edges. */
static void exact_fits(void) {
  const int counts[] = {3, 10, ML_LSQ_BLOCK - 1, ML_LSQ_BLOCK, ML_LSQ_BLOCK + 1,
                        2 * ML_LSQ_BLOCK, 5000};
  for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
    ml_lsq a;
    CHECK(ml_lsq_init(&a, 3) == ML_OK);
    for (int i = 0; i < counts[c]; i++) {
      double x[3] = {1, unif() * 100 - 50, unif() * 10};
      add(&a, x, 2 + 3 * x[1] - 0.5 * x[2]);
    }
    CHECK(a.n == counts[c]);
    unsigned char al[3];
    double beta[3], rss;
    CHECK(solve(&a, ML_LSQ_TOL, al, beta, &rss) == 3);
    CHECK_NEAR(beta[0], 2, 1e-12);
    CHECK_NEAR(beta[1], 3, 1e-12);
    CHECK_NEAR(beta[2], -0.5, 1e-12);
    CHECK(rss < 1e-20);
    ml_lsq_free(&a);
  }
}

/* Simple regression against its closed form, in long double. */
static void simple_regression(void) {
  enum { N = 1000 };
  static double xs[N], ys[N];
  long double sx = 0, sy = 0;
  for (int i = 0; i < N; i++) {
    xs[i] = unif() * 20;
    ys[i] = 1.5 - 0.25 * xs[i] + (unif() - 0.5);
    sx += xs[i];
    sy += ys[i];
  }
  long double mx = sx / N, my = sy / N, sxx = 0, sxy = 0, syy = 0;
  for (int i = 0; i < N; i++) {
    sxx += (xs[i] - mx) * (xs[i] - mx);
    sxy += (xs[i] - mx) * (ys[i] - my);
    syy += (ys[i] - my) * (ys[i] - my);
  }
  long double slope = sxy / sxx, icpt = my - slope * mx, rss = syy - slope * sxy;
  ml_lsq a;
  CHECK(ml_lsq_init(&a, 2) == ML_OK);
  for (int i = 0; i < N; i++) add(&a, (double[]){1, xs[i]}, ys[i]);
  CHECK(ml_lsq_fold(&a) == ML_OK);
  unsigned char al[2] = {0, 0};
  double beta[2], r;
  CHECK(solve(&a, ML_LSQ_TOL, al, beta, &r) == 2);
  CHECK_NEAR(beta[0], (double)icpt, 1e-13);
  CHECK_NEAR(beta[1], (double)slope, 1e-13);
  ml_lsq_stats st;
  CHECK(ml_lsq_stats_compute(a.R, a.m, &(ml_lsq_fitinfo){a.n, 1, al, beta, NAN, 0, 0, NULL, 0}, &st) == ML_OK);
  double sigma = sqrt((double)rss / (N - 2));
  CHECK_NEAR(st.rss, (double)rss, 1e-12);
  CHECK_NEAR(st.tss, (double)syy, 1e-12);
  CHECK_NEAR(st.sigma, sigma, 1e-12);
  CHECK_NEAR(st.se[1], sigma / sqrt((double)sxx), 1e-12);
  CHECK_NEAR(st.se[0], sigma * sqrt(1.0 / N + (double)(mx * mx / sxx)), 1e-12);
  CHECK_NEAR(st.r2, (double)(1 - rss / syy), 1e-12);
  CHECK_NEAR(st.df_resid, N - 2, 0);
  CHECK_NEAR(st.f, (double)((syy - rss) / (rss / (N - 2))), 1e-11);
  CHECK_NEAR(st.cov[0 + 1 * 2], st.cov[1 + 0 * 2], 0);
  CHECK_NEAR(st.cov[1 + 0 * 2], -(double)(mx / sxx) * sigma * sigma, 1e-12);
  ml_lsq_stats_free(&st);
  ml_lsq_free(&a);
}

/* Merging the factors of two shards is the fit of all rows. */
static void merge(void) {
  ml_lsq whole, s1, s2;
  CHECK(ml_lsq_init(&whole, 4) == ML_OK);
  CHECK(ml_lsq_init(&s1, 4) == ML_OK);
  CHECK(ml_lsq_init(&s2, 4) == ML_OK);
  for (int i = 0; i < 3001; i++) {
    double x[4] = {1, unif(), unif() * 1e3, unif() - 0.5};
    double y = 7 + x[1] - 2e-3 * x[2] + 4 * x[3] + unif();
    add(&whole, x, y);
    add(i % 3 ? &s1 : &s2, x, y);
  }
  CHECK(ml_lsq_fold(&s2) == ML_OK);
  CHECK(ml_lsq_merge(&s1, s2.R, s2.m) == ML_OK);
  same_solution(&whole, &s1);
  ml_lsq_free(&whole);
  ml_lsq_free(&s1);
  ml_lsq_free(&s2);
}

/* Dependent columns are aliased, the others solved as without them. */
static void rank_deficient(void) {
  ml_lsq a, ref;
  /* columns: 1, x, 2x (dependent), c = 5 (dependent on the intercept), z */
  CHECK(ml_lsq_init(&a, 5) == ML_OK);
  CHECK(ml_lsq_init(&ref, 3) == ML_OK);
  for (int i = 0; i < 500; i++) {
    double x = unif() * 3, z = unif() - 0.5, y = 1 + 2 * x - z + 0.1 * unif();
    add(&a, (double[]){1, x, 2 * x, 5, z}, y);
    add(&ref, (double[]){1, x, z}, y);
  }
  unsigned char al[5], alr[3];
  double b[5], br[3], rss, rssr;
  CHECK(solve(&a, ML_LSQ_TOL, al, b, &rss) == 3);
  CHECK(!al[0] && !al[1] && al[2] && al[3] && !al[4]);
  CHECK(solve(&ref, ML_LSQ_TOL, alr, br, &rssr) == 3);
  CHECK_NEAR(b[0], br[0], 1e-12);
  CHECK_NEAR(b[1], br[1], 1e-12);
  CHECK_NEAR(b[4], br[2], 1e-12);
  CHECK_NEAR(rss, rssr, 1e-12);

  /* Statistics skip the aliased columns. */
  ml_lsq_stats st;
  double bz[5] = {b[0], b[1], 0, 0, b[4]};
  CHECK(ml_lsq_stats_compute(a.R, a.m, &(ml_lsq_fitinfo){a.n, 1, al, bz, NAN, 0, 0, NULL, 0}, &st) == ML_OK);
  CHECK(st.rank == 3 && st.df_resid == 497 && st.df_model == 2);
  CHECK(isnan(st.se[2]) && isnan(st.se[3]) && !isnan(st.se[4]));
  ml_lsq_stats_free(&st);
  ml_lsq_free(&a);
  ml_lsq_free(&ref);

  /* More columns than rows: the first n columns carry the fit. */
  CHECK(ml_lsq_init(&a, 5) == ML_OK);
  for (int i = 0; i < 3; i++) add(&a, (double[]){1, unif(), unif(), unif(), unif()}, unif());
  unsigned char al2[5];
  CHECK(solve(&a, ML_LSQ_TOL, al2, b, &rss) == 3);
  CHECK(!al2[0] && !al2[1] && !al2[2] && al2[3] && al2[4]);
  CHECK(rss < 1e-24);
  ml_lsq_free(&a);

  /* An all-zero column is aliased even with tolerance 0. */
  CHECK(ml_lsq_init(&a, 3) == ML_OK);
  for (int i = 0; i < 10; i++) add(&a, (double[]){1, 0, unif()}, unif());
  unsigned char al3[3];
  CHECK(solve(&a, 0, al3, b, &rss) == 2);
  CHECK(al3[1] && !al3[2]);
  ml_lsq_free(&a);
}

/* Every allocation failure is reported, and nothing leaks. */
static void out_of_memory(void) {
  long before = mem_in_use();
  for (long n = 0; n < 20; n++) {
    ml_lsq a;
    mem_fail_after(n);
    int rc = ml_lsq_init(&a, 3);
    if (rc == ML_OK) {
      for (int i = 0; i < 300; i++) add(&a, (double[]){1, unif(), unif()}, unif());
      ml_lsq_stats st;
      unsigned char al[3] = {0, 0, 0};
      double beta[3] = {0, 0, 0};
      rc = ml_lsq_stats_compute(a.R, a.m, &(ml_lsq_fitinfo){a.n, 1, al, beta, NAN, 0, 0, NULL, 0}, &st);
      if (rc == ML_OK) ml_lsq_stats_free(&st);
      ml_lsq_free(&a);
    }
    mem_fail_after(-1);
    CHECK(rc == ML_OK || rc == ML_NOMEM);
    CHECK(mem_in_use() == before);
  }
}

/*
** The small-p fold (lsq.h) against the blocked LAPACK fold, on random rows
** of every small width, badly scaled columns and row counts across both
** blocks: the same R up to the sign of each row, and the same coefficients,
** to 1e-13 relative.
*/
static void small_fold(void) {
  const int counts[] = {1, 2, 3, 10, ML_LSQ_SMALL_ROWS, ML_LSQ_SMALL_ROWS + 1, ML_LSQ_BLOCK + 3, 3000};
  for (int m = 2; m <= ML_LSQ_SMALL_M; m++)
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
      ml_lsq a;
      double R[ML_LSQ_SMALL_M * ML_LSQ_SMALL_M] = {0}, B[ML_LSQ_SMALL_ROWS * ML_LSQ_SMALL_M];
      int nb = 0;
      CHECK(ml_lsq_init(&a, m - 1) == ML_OK);
      for (int i = 0; i < counts[c]; i++) {
        double row[ML_LSQ_SMALL_M];
        row[0] = 1;
        for (int j = 1; j < m; j++) row[j] = (unif() - 0.3) * (j == 1 ? 1e6 : 1e-3);
        row[m - 1] = row[m - 1] * 1e3 + unif() + 2; /* y: near a fit, with noise */
        for (int j = 0; j < m; j++) ml_lsq_put(&a, j, row[j]);
        CHECK(ml_lsq_commit(&a) == ML_OK);
        for (int j = 0; j < m; j++) B[nb + j * ML_LSQ_SMALL_ROWS] = row[j];
        if (++nb == ML_LSQ_SMALL_ROWS) {
          ml_lsq_small_fold(R, m, B, nb);
          nb = 0;
        }
      }
      ml_lsq_small_fold(R, m, B, nb);
      CHECK(ml_lsq_fold(&a) == ML_OK);
      for (int i = 0; i < m; i++) {
        double sg = (R[i + i * m] < 0) == (a.R[i + i * m] < 0) ? 1 : -1;
        for (int j = 0; j < m; j++) {
          double scale = 0;
          for (int r = 0; r <= j; r++) scale = fmax(scale, fabs(a.R[r + j * m]));
          if (j < i) CHECK(R[i + j * m] == 0);
          else CHECK_NEAR(sg * R[i + j * m], a.R[i + j * m], 1e-13 * scale);
        }
      }
      if (counts[c] >= m) {
        unsigned char al1[ML_LSQ_SMALL_M], al2[ML_LSQ_SMALL_M];
        double W1[ML_LSQ_SMALL_M * ML_LSQ_SMALL_M], W2[ML_LSQ_SMALL_M * ML_LSQ_SMALL_M];
        double b1[ML_LSQ_SMALL_M], b2[ML_LSQ_SMALL_M];
        int r1, r2;
        CHECK(ml_lsq_reduce(a.R, m, ML_LSQ_TOL, al1, W1, &r1) == ML_OK);
        CHECK(ml_lsq_reduce(R, m, ML_LSQ_TOL, al2, W2, &r2) == ML_OK);
        CHECK(r1 == r2);
        CHECK(ml_lsq_coef(W1, m, r1, b1) == ML_OK);
        CHECK(ml_lsq_coef(W2, m, r2, b2) == ML_OK);
        for (int j = 0; j < r1; j++) CHECK_NEAR(b2[j], b1[j], 1e-13 * fmax(1, fabs(b1[j])));
      }
      ml_lsq_free(&a);
    }
}

/*
** The diagonal block (lsq.h) against the dense factor of the same rows: 40
** levels that appear as the rows go, a dense column added after 200 rows,
** weighted rows and rows without a level.  Accumulated four ways: dense,
** with the levels as a block, in two shards with blocks merged
** (ml_lsq_merge_acc), and dense at first with the levels among the other
** columns, then moved into a block (ml_lsq_block_from; one level has no
** rows yet, a zero column among the moved ones).  Each factor mapped
** to the design [1, x1, x2, z, levels 1..] (level 0 the reference) gives the
** dense fit's coefficients and residual sum of squares to 1e-12 relative.
*/
enum { BLK_LEVELS = 40, BLK_ROWS = 3000, BLK_Z_AT = 200, BLK_MOVE_AT = 400 };

typedef struct blk_case {
  ml_lsq dense, block, shard[2], moved;
  int nlev, has_z, moved_yet;
  int ccol[BLK_LEVELS], zcol; /* moved, before the move: the levels' and z's columns */
} blk_case;

/* A new level (the block's next column) in each accumulator. */
static void blk_new_level(blk_case *c) {
  CHECK(ml_lsq_insert_column(&c->dense, c->nlev) == ML_OK);
  CHECK(ml_lsq_block_add(&c->block) == ML_OK);
  for (int s = 0; s < 2; s++) CHECK(ml_lsq_block_add(&c->shard[s]) == ML_OK);
  if (c->moved_yet) {
    CHECK(ml_lsq_block_add(&c->moved) == ML_OK);
  } else {
    c->ccol[c->nlev] = c->moved.p;
    CHECK(ml_lsq_insert_column(&c->moved, c->moved.p) == ML_OK);
  }
  c->nlev++;
}

static void blk_new_z(blk_case *c) {
  CHECK(ml_lsq_insert_column(&c->dense, c->nlev + 3) == ML_OK);
  CHECK(ml_lsq_insert_column(&c->block, 3) == ML_OK);
  for (int s = 0; s < 2; s++) CHECK(ml_lsq_insert_column(&c->shard[s], 3) == ML_OK);
  c->zcol = c->moved.p;
  CHECK(ml_lsq_insert_column(&c->moved, c->moved.p) == ML_OK);
  c->has_z = 1;
}

/* Row i's dense values (sqrt(w) 1, x1, x2, z; then y) and level into each accumulator. */
static void blk_row(blk_case *c, int i, int lev, const double *d) {
  int nd = 3 + c->has_z;
  for (int l = 0; l < c->nlev; l++) ml_lsq_put(&c->dense, l, l == lev ? d[0] : 0);
  for (int j = 0; j <= nd; j++) ml_lsq_put(&c->dense, c->nlev + j, d[j == nd ? 4 : j]);
  CHECK(ml_lsq_commit(&c->dense) == ML_OK);
  ml_lsq *bs[2] = {&c->block, &c->shard[i % 2]};
  for (int k = 0; k < 2 + c->moved_yet; k++) {
    ml_lsq *a = k < 2 ? bs[k] : &c->moved;
    for (int j = 0; j <= nd; j++) ml_lsq_put(a, j, d[j == nd ? 4 : j]);
    CHECK((lev >= 0 ? ml_lsq_commit_in(a, lev, d[0]) : ml_lsq_commit(a)) == ML_OK);
  }
  if (c->moved_yet) return;
  for (int j = 0; j < c->moved.m; j++) ml_lsq_put(&c->moved, j, 0);
  for (int j = 0; j < 3; j++) ml_lsq_put(&c->moved, j, d[j]);
  if (c->has_z) ml_lsq_put(&c->moved, c->zcol, d[3]);
  if (lev >= 0) ml_lsq_put(&c->moved, c->ccol[lev], d[0]);
  ml_lsq_put(&c->moved, c->moved.p, d[4]);
  CHECK(ml_lsq_commit(&c->moved) == ML_OK);
}

/* The coefficients and RSS of the design through T from the accumulator's factor. */
static void blk_solve(ml_lsq *a, const double *T, int q, double *b, double *rss) {
  double *R = malloc(8 * (size_t)q * q), *W = malloc(8 * (size_t)q * q);
  unsigned char al[BLK_LEVELS + 8];
  int rank;
  CHECK(ml_lsq_transform_acc(a, T, q, R) == ML_OK);
  CHECK(ml_lsq_reduce(R, q, ML_LSQ_TOL, al, W, &rank) == ML_OK);
  CHECK(rank == q - 1);
  CHECK(ml_lsq_coef(W, q, rank, b) == ML_OK);
  *rss = W[rank + rank * q] * W[rank + rank * q];
  free(R);
  free(W);
}

static void block(void) {
  blk_case c;
  memset(&c, 0, sizeof c);
  CHECK(ml_lsq_init(&c.dense, 3) == ML_OK);
  CHECK(ml_lsq_init(&c.block, 3) == ML_OK);
  CHECK(ml_lsq_init(&c.shard[0], 3) == ML_OK);
  CHECK(ml_lsq_init(&c.shard[1], 3) == ML_OK);
  CHECK(ml_lsq_init(&c.moved, 3) == ML_OK);
  for (int i = 0; i < BLK_ROWS; i++) {
    int active = 1 + i / 50 < BLK_LEVELS ? 1 + i / 50 : BLK_LEVELS;
    while (c.nlev < active) blk_new_level(&c);
    if (i == BLK_Z_AT) blk_new_z(&c);
    if (i == BLK_MOVE_AT) {
      CHECK(ml_lsq_block_from(&c.moved, c.ccol, c.nlev) == ML_OK);
      CHECK(c.moved.m == c.block.m && c.moved.nblk == c.nlev);
      c.moved_yet = 1;
    }
    int lev = i % 7 == 3 ? -1 : (int)(unif() * active);
    if (lev == 2 && i < BLK_MOVE_AT) lev = -1; /* a level without rows when its column moves */
    double sw = sqrt(0.5 + unif()), x1 = unif() * 10, x2 = unif() - 0.5, z = c.has_z ? unif() : 0;
    double y = 1 + 2 * x1 - x2 + 0.5 * z + (lev >= 0 ? 0.1 * (lev % 9) : 0.7) + 0.3 * unif();
    blk_row(&c, i, lev, (double[]){sw, sw * x1, sw * x2, sw * z, sw * y});
  }
  CHECK(ml_lsq_merge_acc(&c.shard[0], &c.shard[1]) == ML_OK);
  CHECK(c.block.n == BLK_ROWS && c.moved.n == BLK_ROWS);
  /* The design: [1, x1, x2, z, levels 1..L-1], y; the factors' rows: [levels, 1, x1, x2, z, y]. */
  int L = c.nlev, N = L + 5, q = L + 4;
  double *T = calloc((size_t)N * q, 8), *b[4], rss[4];
  for (int j = 0; j < 4; j++) T[L + j + j * N] = 1;
  for (int l = 1; l < L; l++) T[l + (3 + l) * N] = 1;
  T[L + 4 + (q - 1) * N] = 1;
  ml_lsq *acc[4] = {&c.dense, &c.block, &c.shard[0], &c.moved};
  for (int k = 0; k < 4; k++) {
    b[k] = malloc(8 * (size_t)q);
    blk_solve(acc[k], T, q, b[k], &rss[k]);
  }
  /* The sparse sums of columns against dtrmm (ml_lsq_transform) for the same T. */
  double *Rd = malloc(8 * (size_t)q * q), *Rs = malloc(8 * (size_t)q * q);
  CHECK(ml_lsq_transform(c.dense.R, c.dense.m, T, q, Rd) == ML_OK);
  CHECK(ml_lsq_transform_acc(&c.dense, T, q, Rs) == ML_OK);
  for (int j = 0; j < q; j++)
    for (int i = 0; i <= j; i++) CHECK_NEAR(fabs(Rs[i + j * q]), fabs(Rd[i + j * q]), 1e-12 * fabs(Rd[j + j * q]) + 1e-12);
  free(Rd);
  free(Rs);
  for (int k = 1; k < 4; k++) {
    for (int j = 0; j < q - 1; j++) CHECK_NEAR(b[k][j], b[0][j], 1e-12);
    CHECK_NEAR(rss[k], rss[0], 1e-12);
  }
  CHECK_NEAR(b[0][1], 2, 0.01);
  /* A dense T (every entry set: the whole factor and dtrmm, not the sparse
  ** sums) maps the block's factor as it maps the dense one. */
  double *T2 = malloc(8 * (size_t)N * q), *b2[2], r2[2];
  for (int k = 0; k < N * q; k++) T2[k] = T[k] + 0.01 * (unif() - 0.5);
  for (int k = 0; k < 2; k++) {
    b2[k] = malloc(8 * (size_t)q);
    blk_solve(acc[k], T2, q, b2[k], &r2[k]);
  }
  for (int j = 0; j < q - 1; j++) CHECK_NEAR(b2[1][j], b2[0][j], 1e-10);
  CHECK_NEAR(r2[1], r2[0], 1e-10);
  free(b2[0]);
  free(b2[1]);
  free(T2);
  /* The block back among the dense columns ([1, x1, x2, z, levels, y]): the same fit. */
  CHECK(ml_lsq_block_to_dense(&c.moved) == ML_OK);
  CHECK(c.moved.nblk == 0 && c.moved.m == N);
  double *T3 = calloc((size_t)N * q, 8), b3[BLK_LEVELS + 8], r3;
  for (int j = 0; j < 4; j++) T3[j + j * N] = 1;
  for (int l = 1; l < L; l++) T3[4 + l + (3 + l) * N] = 1;
  T3[N - 1 + (q - 1) * N] = 1;
  blk_solve(&c.moved, T3, q, b3, &r3);
  for (int j = 0; j < q - 1; j++) CHECK_NEAR(b3[j], b[0][j], 1e-12);
  CHECK_NEAR(r3, rss[0], 1e-12);
  free(T3);
  for (int k = 0; k < 4; k++) free(b[k]);
  free(T);
  CHECK(ml_lsq_block_from(&c.block, (int[]){0}, 1) == ML_EINPUT);
  ml_lsq_free(&c.dense);
  ml_lsq_free(&c.block);
  ml_lsq_free(&c.shard[0]);
  ml_lsq_free(&c.shard[1]);
  ml_lsq_free(&c.moved);
}

/* The block's operations under every allocation failure: reported, nothing leaked. */
static void block_out_of_memory(void) {
  long before = mem_in_use();
  for (long n = 0; n < 40; n++) {
    ml_lsq a, b;
    mem_fail_after(n);
    int rc = ml_lsq_init(&a, 2), rb = ML_NOMEM;
    if (!rc) rb = ml_lsq_init(&b, 2);
    for (int i = 0; !rc && !rb && i < 600; i++) {
      ml_lsq *t = i % 2 ? &a : &b;
      if (i % 30 == 0) {
        rc = ml_lsq_block_add(&a);
        if (!rc) rc = ml_lsq_block_add(&b);
      }
      if (!rc && i == 300) rc = ml_lsq_insert_column(&a, 1);
      if (!rc && i == 300) rc = ml_lsq_insert_column(&b, 1);
      for (int j = 0; !rc && j <= t->p; j++) ml_lsq_put(t, j, unif());
      if (!rc) rc = ml_lsq_commit_in(t, i % a.nblk, 1);
    }
    if (!rc && !rb) rc = ml_lsq_merge_acc(&a, &b);
    if (!rc && !rb) rc = ml_lsq_block_to_dense(&b);
    if (!rc && !rb) {
      int N = a.nblk + a.m;
      double *F = ml_malloc(8 * (uint64_t)N * N);
      rc = F ? ml_lsq_full(&a, F) : ML_NOMEM;
      ml_free(F);
    }
    if (rb == ML_OK) ml_lsq_free(&b);
    if (rc == ML_OK || a.R) ml_lsq_free(&a);
    mem_fail_after(-1);
    CHECK(rc == ML_OK || rc == ML_NOMEM);
    CHECK(rb == ML_OK || rb == ML_NOMEM);
    CHECK(mem_in_use() == before);
  }
}

/* A fit with a column the other lacks: its rows fold in with their columns mapped. */
static void merge_mapped(void) {
  ml_lsq whole, a, b;
  CHECK(ml_lsq_init(&whole, 3) == ML_OK);
  CHECK(ml_lsq_init(&a, 3) == ML_OK); /* 1, x1, x2 */
  CHECK(ml_lsq_init(&b, 2) == ML_OK); /* 1, x2: x1 is 0 in b's rows */
  for (int i = 0; i < 1500; i++) {
    double x[3] = {1, i % 2 ? unif() : 0, unif() * 10};
    double y = 1 + 3 * x[1] - x[2] + unif();
    add(&whole, x, y);
    if (i % 2) {
      add(&a, x, y);
    } else {
      double xb[2] = {1, x[2]};
      add(&b, xb, y);
    }
  }
  int cmap[3] = {0, 2, 3};
  CHECK(ml_lsq_merge_mapped(&a, &b, cmap, NULL) == ML_OK);
  CHECK(a.n == 1500);
  same_solution(&whole, &a);
  ml_lsq_free(&whole);
  ml_lsq_free(&a);
  ml_lsq_free(&b);
}

/*
** Folds on two threads at once give the factor one thread gives, bit for
** bit: the BLAS under them is called one call at a time (blas_lock.h).
** Without the lock Debian's serial OpenBLAS returned wrong factors here.
** Wide enough (41 columns) for dtpqrt's blocked update (dgemm, dtrmm).
*/
typedef struct fold_job {
  ml_lsq a;
  uint64_t seed;
  const double *want;
  int wrong;
} fold_job;

static void fold_rows(fold_job *j) {
  int m = j->a.m;
  memset(j->a.R, 0, 8 * (size_t)m * (size_t)m);
  j->a.nb = 0;
  j->a.n = 0;
  uint64_t s = j->seed;
  for (int i = 0; i < 1000; i++) {
    for (int c = 0; c < m; c++) ml_lsq_put(&j->a, c, check_uniform(&s));
    if (ml_lsq_commit(&j->a)) j->wrong++;
  }
  if (ml_lsq_fold(&j->a)) j->wrong++;
}

static void *fold_often(void *arg) {
  fold_job *j = arg;
  for (int it = 0; it < 40; it++) {
    fold_rows(j);
    if (memcmp(j->a.R, j->want, 8 * (size_t)j->a.m * (size_t)j->a.m) != 0) j->wrong++;
  }
  return NULL;
}

static void two_threads(void) {
  fold_job job[2];
  double *want[2];
  for (int t = 0; t < 2; t++) {
    CHECK(ml_lsq_init(&job[t].a, 40) == ML_OK);
    job[t].seed = 1234567 + 7 * (uint64_t)t;
    job[t].wrong = 0;
    fold_rows(&job[t]);
    want[t] = malloc(8 * 41 * 41);
    memcpy(want[t], job[t].a.R, 8 * 41 * 41);
    job[t].want = want[t];
  }
  pthread_t th[2];
  for (int t = 0; t < 2; t++) CHECK(pthread_create(&th[t], NULL, fold_often, &job[t]) == 0);
  for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
  for (int t = 0; t < 2; t++) {
    CHECK(job[t].wrong == 0);
    ml_lsq_free(&job[t].a);
    free(want[t]);
  }
}

void test_lsq(void) {
  exact_fits();
  simple_regression();
  merge();
  rank_deficient();
  out_of_memory();
  small_fold();
  block();
  block_out_of_memory();
  merge_mapped();
  two_threads();
}
