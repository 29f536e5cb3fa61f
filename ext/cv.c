/*
** cv.c: cross-validation's fold arithmetic.  See cv.h.
*/
#include <math.h>
#include <string.h>

#include "cv.h"

double ml_cv_rmse(const ml_cv *cv, int i, int f) {
  return cv->sw[f] > 0 ? sqrt(cv->rss[(int64_t)i * cv->k + f] / cv->sw[f]) : NAN;
}

double ml_cv_r2(const ml_cv *cv, int i, int f) {
  return cv->tss[f] > 0 ? 1 - cv->rss[(int64_t)i * cv->k + f] / cv->tss[f] : NAN;
}

void ml_cv_free(ml_cv *cv) {
  ml_free(cv->l2);
  ml_free(cv->n);
  ml_free(cv->sw);
  ml_free(cv->tss);
  ml_free(cv->rss);
  ml_free(cv->mean_rmse);
  memset(cv, 0, sizeof *cv);
}

/* out = the merge of the factors a and b (q x q each, either may be NULL: no rows). */
static int merge2(const double *a, const double *b, int q, double *out) {
  ml_lsq acc;
  int rc = ml_lsq_init(&acc, q - 1);
  if (!rc && a) rc = ml_lsq_merge(&acc, a, q);
  if (!rc && b) rc = ml_lsq_merge(&acc, b, q);
  if (!rc)
    for (int j = 0; j < q; j++)
      for (int i = 0; i < q; i++) out[i + (int64_t)j * q] = i <= j ? acc.R[i + (int64_t)j * q] : 0;
  ml_lsq_free(&acc);
  return rc;
}

/* The coefficients b (q - 1) of the complement's factor C under penalty l2. */
static int complement_fit(const double *C, int q, double sw, double l2, double tol, double *b,
                          double *W, unsigned char *aliased) {
  if (l2 > 0) return ml_lsq_ridge(C, q, sw, l2, b);
  int rank, rc = ml_lsq_reduce(C, q, tol, aliased, W, &rank);
  double *kept = W + (int64_t)q * q; /* room after W */
  if (!rc) rc = ml_lsq_coef(W, q, rank, kept);
  if (!rc)
    for (int j = 0, c = 0; j < q - 1; j++) b[j] = aliased[j] ? 0 : kept[c++];
  return rc;
}

/* ||R [b; -1]||^2 for R q x q upper triangular. */
static double fold_rss(const double *R, int q, const double *b) {
  double s = 0;
  for (int i = 0; i < q; i++) {
    double r = -R[i + (int64_t)(q - 1) * q];
    for (int j = i; j < q - 1; j++) r += R[i + (int64_t)j * q] * b[j];
    s += r * r;
  }
  return s;
}

/* Prefix merges P (P_f: folds before f) and suffix merges S (S_f: folds after f). */
static int prefix_suffix(const double *Rf, int k, int q, double *P, double *S) {
  int64_t qq = (int64_t)q * q;
  int rc = ML_OK;
  memset(P, 0, 8 * (size_t)qq);
  memset(S + (k - 1) * qq, 0, 8 * (size_t)qq);
  for (int f = 1; f < k && !rc; f++) rc = merge2(f > 1 ? P + (f - 1) * qq : NULL, Rf + (f - 1) * qq, q, P + f * qq);
  for (int f = k - 2; f >= 0 && !rc; f--)
    rc = merge2(f < k - 2 ? S + (f + 1) * qq : NULL, Rf + (f + 1) * qq, q, S + f * qq);
  return rc;
}

int ml_cv_run(ml_cv *cv, const double *Rf, int q, double tol) {
  int k = cv->k, rc = ML_NOMEM;
  int64_t qq = (int64_t)q * q;
  double *P = ml_malloc(8 * (uint64_t)(k * qq)), *S = ml_malloc(8 * (uint64_t)(k * qq));
  double *C = ml_malloc(8 * (uint64_t)qq), *W = ml_malloc(8 * (uint64_t)(qq + q));
  double *b = ml_malloc(8 * (uint64_t)q);
  unsigned char *aliased = ml_malloc((uint64_t)q);
  cv->rss = ml_calloc(8 * (uint64_t)cv->nl2 * (uint64_t)k);
  cv->mean_rmse = ml_calloc(8 * (uint64_t)cv->nl2);
  if (!P || !S || !C || !W || !b || !aliased || !cv->rss || !cv->mean_rmse) goto out;
  rc = prefix_suffix(Rf, k, q, P, S);
  for (int f = 0; f < k && !rc; f++) {
    /* The complement: P_f then S_f (P_0 and S_{k-1} are empty). */
    rc = merge2(f > 0 ? P + f * qq : NULL, f < k - 1 ? S + f * qq : NULL, q, C);
    double sw = 0;
    for (int g = 0; g < k; g++) sw += g == f ? 0 : cv->sw[g];
    for (int i = 0; i < cv->nl2 && !rc; i++) {
      rc = complement_fit(C, q, sw, cv->l2[i], tol, b, W, aliased);
      if (!rc) cv->rss[(int64_t)i * k + f] = fold_rss(Rf + f * qq, q, b);
    }
  }
  if (rc) goto out;
  cv->chosen = 0;
  for (int i = 0; i < cv->nl2; i++) {
    double s = 0;
    for (int f = 0; f < k; f++) s += ml_cv_rmse(cv, i, f);
    cv->mean_rmse[i] = s / k;
    if (cv->mean_rmse[i] < cv->mean_rmse[cv->chosen]) cv->chosen = i;
  }
out:
  ml_free(P);
  ml_free(S);
  ml_free(C);
  ml_free(W);
  ml_free(b);
  ml_free(aliased);
  return rc;
}
