/*
** refine.h: the passes after a fit, over the same rows, for ml_refine and
** ml_train: one step of iterative refinement, and robust (sandwich)
** standard errors.  Rows come as the model's design row x, the response y
** and sw = sqrt(weight) (1 unweighted).  Free of SQLite.
*/
#ifndef SQLML_REFINE_H
#define SQLML_REFINE_H

#include "lsq.h"
#include "model.h"

/*
** Refinement by the corrected semi-normal equations (Bjorck): with the
** residuals r = y - X b of the current coefficients, accumulated in long
** double, the correction d solves R'R d = X'r with the fit's own factor R,
** and b + d is the refined solution.  Each step shrinks the error by about
** cond(X) u, and the extended-precision residuals carry large-residual
** problems (NIST's Wampler5) to full accuracy.
*/
typedef struct ml_refiner {
  int p;
  long double *g;  /* X'r in g[0..p), r'r in g[p]: 16-byte aligned within mem */
  void *mem;       /* (the allocator only promises 8) */
} ml_refiner;

int ml_refiner_init(ml_refiner *r, int p);
void ml_refiner_free(ml_refiner *r);
/* A row: x its design row, or for a model kept with its block the row
** ml_design_row_blocked fills with blk its block term (-1 none; else ignored). */
void ml_refiner_add(ml_refiner *r, const ml_model *m, const double *x, int blk, double y,
                    double sw);
/* Applies the step to m: beta, the refined residual sum of squares, the flag. */
int ml_refiner_apply(ml_refiner *r, ml_model *m);

/*
** Robust covariance (R's sandwich::vcovHC): with u_i = W^-T x_i over the kept
** columns (W the fit's factor), h_i = |u_i|^2 the leverage, and
** omega_i = e_i^2 (HC0), the same times n/(n-k) (HC1), / (1 - h_i) (HC2) or
** / (1 - h_i)^2 (HC3), the covariance is W^-1 S'S W^-T, S the factor of the
** rows sqrt(omega_i) u_i: the meat by QR, like the fit.
*/
typedef struct ml_hcacc {
  int type, q, r;  /* ML_ROBUST_*, p + 1, rank */
  double *W;       /* the factor of the kept columns, leading dimension q */
  double *u;
  ml_lsq S;
} ml_hcacc;

int ml_hcacc_init(ml_hcacc *h, const ml_model *m);
void ml_hcacc_free(ml_hcacc *h);
int ml_hcacc_add(ml_hcacc *h, const ml_model *m, const double *x, double y, double sw);
/* Stores the covariance in m->hc (p x p; NaN in aliased rows and columns). */
int ml_hcacc_finish(ml_hcacc *h, ml_model *m);

#endif
