/*
** sfac.h: a factor kept with its diagonal block, free of SQLite.
**
** The indicator columns of one categorical feature are mutually orthogonal
** (a row has at most one of them), so with them first the R factor of the
** design [B C y] (nb block columns, r other columns, y last; q = r + 1) is
**
**     F = [ diag(a)  G ]      a_l >= 0: the root of level l's (weighted) count
**         [   0      R ]      G_l: level l's group row over C and y
**
** with R (q x q) the factor of the other columns.  Kept this way a model of
** L levels costs L (q + 1) + q^2 numbers, not (L + q)^2, and everything a
** fit reports follows in O(L q^2): coefficients by one back-substitution,
** the diagonal of (F'F)^-1, x'(F'F)^-1 x for an interval, a condition
** estimate.  lsq.h's accumulator builds such a factor (ml_lsq_commit_in);
** the model keeps it (model.h, section BFAC) when a feature has many levels.
**
** Storage: S holds the nb block rows, row l at S + l (q + 1): a_l, then G_l
** (q numbers, y last).  R is q x q column-major, leading dimension q, upper.
** Columns of F are numbered block first: 0..nb-1, then nb..nb+r-1 for C.
*/
#ifndef SQLML_SFAC_H
#define SQLML_SFAC_H

#include <stdint.h>

#include "mem.h"

typedef struct ml_sfac {
  int nb;     /* block columns */
  int q;      /* the other columns and y: r + 1 */
  double *S;  /* nb x (q + 1): a_l, G_l */
  double *R;  /* q x q, column-major, upper */
} ml_sfac;

/* nb block rows and a q x q R, zeroed: ML_OK or ML_NOMEM (s then empty). */
int ml_sfac_init(ml_sfac *s, int nb, int q);
void ml_sfac_free(ml_sfac *s);
static inline double *ml_sfac_row(const ml_sfac *s, int l) { return s->S + (int64_t)l * (s->q + 1); }

/*
** Which columns are aliased, and the coefficients of the others: a block
** column l is aliased when a_l = 0 (no rows: its G_l is then 0 too, as
** lsq.h's accumulator leaves it); the C columns are judged by
** ml_lsq_reduce's rule with tol (0 <= tol < 1) in their order, each against
** its whole norm in F, block rows included: the judgments of ml_lsq_reduce
** on the dense factor with the block first.  aliased[nb + r] is written
** (with tol < 0 its C entries are read instead, as ml_lsq_reduce reads
** them), b[nb + r] gets 0 where aliased.  ML_OK, ML_NOMEM or ML_ELAPACK.
*/
int ml_sfac_solve(const ml_sfac *s, double tol, unsigned char *aliased, double *b);

/* ||F [b; -1]||^2, summed in long double (b over nb + r columns). */
double ml_sfac_rss(const ml_sfac *s, const double *b);

/*
** The factor of the columns not aliased (aliased[nb + r] as ml_sfac_solve
** wrote it): block rows keep their place (an aliased block column has
** a_l = 0 and stays, as a zero row), the C columns marked are removed from
** G and R, and R is re-triangularized over the kept ones and y.  out is
** initialized here (nb, kept + 1).  ML_OK, ML_NOMEM or ML_ELAPACK.
*/
int ml_sfac_reduce(const ml_sfac *s, const unsigned char *aliased, ml_sfac *out);

/*
** The rest assume a factor of full rank over its kept columns: every
** a_l > 0 except rows that are all zero (their columns are skipped: 0 out),
** and R's leading r x r nonsingular (ml_sfac_reduce's output).
*/

/* d = (F'F)^-1 g over the nb + r columns, and *zz = ||F^-T g||^2 (= g'd).
** d may be g.  Allocates nothing: ML_OK. */
int ml_sfac_solve_normal(const ml_sfac *s, const double *g, double *d, double *zz);

/* The diagonal of (F'F)^-1 over the nb + r columns (NaN for a zero block row). */
int ml_sfac_inverse_diag(const ml_sfac *s, double *d);

/*
** x'(F'F)^-1 x for a row whose block value is v in column l (l < 0: no
** block value) and whose C values are xc[0..r): O(q^2).  work: r doubles.
** A zero block row's column is out of the fit: its v counts for nothing.
*/
double ml_sfac_quad(const ml_sfac *s, int l, double v, const double *xc, double *work);

/* The norm of each of the nb + r columns of F (y's left out), into c. */
void ml_sfac_col_norms(const ml_sfac *s, double *c);

/*
** The reciprocal condition number, in the 1-norm, of F's nb + r columns
** scaled to unit norm, as LAPACK's dtrcon estimates it for a dense upper
** triangle (Higham's estimator of ||F^-1||_1, dlacn2's iterations, each a
** structured solve in O(nb q + q^2)): equal to dtrcon's on the dense
** factor up to rounding.  Zero block rows are left out (their columns are
** aliased); 0 when R_rr is singular, 1 with no columns.  ML_OK or ML_NOMEM.
*/
int ml_sfac_rcond(const ml_sfac *s, double *rcond);

/*
** The dense factor of the columns in another order, y last: column j of
** the result (j < nb + r) is column perm[j] of F.  Rout is (nb + q) square,
** leading dimension nb + q, upper triangular (the QR of F's columns in that
** order).  perm: a permutation of 0..nb+r-1.  2 (nb + q)^2 doubles of
** memory beyond Rout.  ML_OK, ML_NOMEM or ML_ELAPACK.
*/
int ml_sfac_dense(const ml_sfac *s, const int *perm, double *Rout);

#endif
