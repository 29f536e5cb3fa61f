/*
** cv.c: each fold's RSS from the prefix and suffix merges equals the RSS of
** its rows computed directly, under the fit of the other folds' rows made
** from scratch (least squares and ridge); the chosen penalty is the least
** mean rmse; a fold whose level is absent from the others is aliased.
*/
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "cv.h"

#define N 120
#define K 4
#define Q 4 /* intercept, x1, x2 (zero except in fold 0 when sparse), y */

static uint64_t state = 0x2545F4914F6CDD1Dull;
static double unif(void) { return check_uniform(&state); }

/* Row i of [1 x1 x2 y] into r. */
static void row(int i, int sparse, double *r) {
  r[0] = 1;
  r[1] = unif() * 4 - 2;
  r[2] = sparse ? (i % K == 0 && i % 3 == 0) : unif();
  r[3] = 1 + 2 * r[1] - r[2] + (unif() - 0.5);
}

static void add(ml_lsq *a, const double *r) {
  for (int j = 0; j < Q; j++) ml_lsq_put(a, j, r[j]);
  ml_lsq_commit(a);
}

/* The fit of the rows not in fold f, directly, and fold f's RSS under it. */
static double direct_rss(double X[N][Q], int f, double l2) {
  ml_lsq a;
  ml_lsq_init(&a, Q - 1);
  int nc = 0;
  for (int i = 0; i < N; i++)
    if (i % K != f) add(&a, X[i]), nc++;
  ml_lsq_fold(&a);
  double b[Q] = {0}, W[Q * Q], kept[Q];
  unsigned char al[Q];
  int rank;
  if (l2 > 0) {
    ml_lsq_ridge(a.R, Q, nc, l2, b);
  } else {
    ml_lsq_reduce(a.R, Q, ML_LSQ_TOL, al, W, &rank);
    ml_lsq_coef(W, Q, rank, kept);
    for (int j = 0, c = 0; j < Q - 1; j++) b[j] = al[j] ? 0 : kept[c++];
  }
  ml_lsq_free(&a);
  double s = 0;
  for (int i = 0; i < N; i++) {
    if (i % K != f) continue;
    double e = X[i][Q - 1];
    for (int j = 0; j < Q - 1; j++) e -= X[i][j] * b[j];
    s += e * e;
  }
  return s;
}

static void one_case(int sparse) {
  static double X[N][Q];
  double Rf[K * Q * Q], l2[3] = {0, 0.5, 50};
  ml_lsq fold[K];
  for (int f = 0; f < K; f++) ml_lsq_init(&fold[f], Q - 1);
  for (int i = 0; i < N; i++) {
    row(i, sparse, X[i]);
    add(&fold[i % K], X[i]);
  }
  ml_cv cv;
  memset(&cv, 0, sizeof cv);
  cv.k = K;
  cv.nl2 = 3;
  cv.l2 = ml_malloc(sizeof l2);
  cv.n = ml_malloc(8 * K);
  cv.sw = ml_malloc(8 * K);
  cv.tss = ml_malloc(8 * K);
  memcpy(cv.l2, l2, sizeof l2);
  for (int f = 0; f < K; f++) {
    ml_lsq_fold(&fold[f]);
    memcpy(Rf + f * Q * Q, fold[f].R, 8 * Q * Q);
    cv.n[f] = N / K;
    cv.sw[f] = N / K;
    cv.tss[f] = 1;
  }
  CHECK(ml_cv_run(&cv, Rf, Q, ML_LSQ_TOL) == ML_OK);
  int best = 0;
  for (int i = 0; i < 3; i++) {
    double mean = 0;
    for (int f = 0; f < K; f++) {
      double d = direct_rss(X, f, l2[i]);
      CHECK_NEAR(cv.rss[i * K + f], d, 1e-10);
      mean += sqrt(d / (N / K)) / K;
    }
    CHECK_NEAR(cv.mean_rmse[i], mean, 1e-10);
    if (mean < cv.mean_rmse[best] - 1e-12) best = i;
  }
  CHECK(cv.chosen == best);
  ml_cv_free(&cv);
  for (int f = 0; f < K; f++) ml_lsq_free(&fold[f]);
}

void test_cv(void) {
  one_case(0);
  one_case(1); /* x2 nonzero in fold 0 only: aliased in fold 0's fit */
}
