/*
** cv.h: the fold arithmetic of cross-validation, free of SQLite.
**
** ml_train's "cv": k keeps one factor R_f of [X y] per fold (rows scaled by
** sqrt(w)).  The fit that scores fold f is the fit of the other folds: its
** factor is the merge of theirs, made from prefix and suffix merges
** (P_f = R_0..R_{f-1}, S_f = R_{f+1}..R_{k-1}) so k folds cost O(k) merges.
** Fold f's residual sum of squares under coefficients b is exactly
** ||R_f [b; -1]||^2: no row is read again.
**
** With penalties l2[0..nl2), each is fitted on each complement (least
** squares with aliased columns at 0 for l2 = 0, else ml_lsq_ridge, which
** needs the intercept as column 0) and scored; the chosen one has the least
** mean rmse over the folds (the first in the list on a tie).
*/
#ifndef SQLML_CV_H
#define SQLML_CV_H

#include <stdint.h>

#include "lsq.h"

typedef struct ml_cv {
  int k;          /* folds */
  int nl2;        /* penalties tried: 1 without a list */
  double *l2;     /* nl2 penalties (a copy) */
  int64_t *n;     /* k: rows of each fold */
  double *sw;     /* k: their total weight (n without weights) */
  double *tss;    /* k: their weighted sum of squares about the fold's mean */
  double *rss;    /* nl2 x k: fold f's RSS under penalty i at [i * k + f] */
  double *mean_rmse;  /* nl2 */
  int chosen;     /* index into l2 */
} ml_cv;

/* Per fold: rmse = sqrt(rss / sw), r2 = 1 - rss / tss. */
double ml_cv_rmse(const ml_cv *cv, int i, int f);
double ml_cv_r2(const ml_cv *cv, int i, int f);

/*
** Fills cv (k, n, sw, tss given; l2 and nl2 given, nl2 >= 1) from the k
** fold factors Rf (each q x q, upper triangular, leading dimension q, one
** after the other): rss, mean_rmse, chosen.  tol: the aliasing tolerance of
** a least-squares fit.  ML_OK or ML_NOMEM / ML_ELAPACK.
*/
int ml_cv_run(ml_cv *cv, const double *Rf, int q, double tol);

void ml_cv_free(ml_cv *cv);

#endif
