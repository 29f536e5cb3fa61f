/*
** lsq.h: streaming least squares by QR, free of SQLite.
**
** Rows of [X y] are buffered in a block and folded into the running upper
** triangular factor R of [X y] with LAPACK's dtpqrt (the QR of R stacked on
** the block), so X'X is never formed and memory is O(p^2) whatever the
** number of rows.  Two factors of disjoint row sets fold together the same
** way, which is how fits merge exactly.
**
** Everything a fit reports follows from R (m = p + 1 columns, y last):
** coefficients from R_xx b = R_xy, the residual sum of squares R_yy^2, the
** total sum of squares from the rest of the y column, and the covariance
** from R_xx^-1.
*/
#ifndef SQLML_LSQ_H
#define SQLML_LSQ_H

#include <stdint.h>

#include "mem.h"

/*
** Rows per block: measured best for dtpqrt with p from 2 to 100 (bench/lsq_bench.c;
** -DML_LSQ_BLOCK=... and -DML_LSQ_NB=... rebuild it with other values).
*/
#ifndef ML_LSQ_BLOCK
#define ML_LSQ_BLOCK 256
#endif
/*
** Leading dimension of the block.  With a power of two (256 doubles, 2 KiB)
** the same row of every column falls in the same cache sets, and dtpqrt,
** which walks rows across columns, keeps evicting its own data: one cache
** line of padding made the updates 30% faster at p = 50 and 15% at p = 100
** (bench/lsq_bench.c).
*/
#define ML_LSQ_LDB (ML_LSQ_BLOCK + 8)
/*
** Columns per panel of dtpqrt (its NB; up to 8 columns, [X y] is one panel).
** A panel is factored by level-2 BLAS and the columns after it are updated
** by level-3 (dgemm), so narrow panels put more of the work in the faster
** kernel: 8 was fastest from p = 10 to 100, a third faster than 32 at p = 50
** and 100 (bench/lsq_bench.c).  4 is as fast but loses digits on NIST's
** Longley and Wampler5.
*/
#ifndef ML_LSQ_NB
#define ML_LSQ_NB 8
#endif
/*
** A column is aliased (linearly dependent on the ones before it) when its
** part orthogonal to them is below this fraction of its norm.  R's lm uses
** 1e-7 and so drops a column of NIST's Filip (5.2e-8); exact dependence
** shows at 1e-13 and below after rounding.
*/
#define ML_LSQ_TOL 1e-10

typedef struct ml_lsq {
  int p;         /* columns of X */
  int m;         /* p + 1: y is the last column */
  int nb;        /* rows waiting in the block */
  int64_t n;     /* rows accumulated, folded or waiting */
  double *R;     /* m x m column-major; its upper triangle is R of [X y] */
  double *B;     /* ML_LSQ_BLOCK x m column-major, leading dimension ML_LSQ_LDB: rows waiting */
  double *T;     /* ML_LSQ_NB x m: dtpqrt's block reflectors */
  double *work;  /* ML_LSQ_NB x m */
  /* The diagonal block (see ml_lsq_commit_in): nblk columns ahead of the m
  ** above, each row of the factor over them [a_l, G_l], m + 1 doubles. */
  int nblk, blkcap;
  double *G;     /* nblk group rows, stride m + 1: a_l >= 0, then G_l over the m columns */
} ml_lsq;

int ml_lsq_init(ml_lsq *a, int p);
void ml_lsq_free(ml_lsq *a);

/*
** Adding a row: write element j (0..p-1 for X, p for y) with ml_lsq_put(),
** then ml_lsq_commit().  A row given up half-written is simply not committed.
*/
static inline void ml_lsq_put(ml_lsq *a, int j, double v) {
  a->B[a->nb + (int64_t)j * ML_LSQ_LDB] = v;
}
int ml_lsq_fold(ml_lsq *a);
static inline int ml_lsq_commit(ml_lsq *a) {
  a->n++;
  return ++a->nb == ML_LSQ_BLOCK ? ml_lsq_fold(a) : ML_OK;
}

/*
** Small fits (m = p + 1 <= ML_LSQ_SMALL_M, as ml_fit's GROUP BY of a few
** features): no LAPACK call, whose setup costs more than a small group's
** arithmetic, and no memory beyond what the caller keeps (R, m x m, and a
** block of ML_LSQ_SMALL_ROWS rows, leading dimension ML_LSQ_SMALL_ROWS).
** The same Householder reflections as the blocked fold (dtpqrt2's, one
** column at a time), each column's norm summed in extended precision as
** the reference BLAS's dnrm2 is accurate: equal to the LAPACK fold up to
** rounding, and as accurate on NIST's data.
*/
#define ML_LSQ_SMALL_M 4
#define ML_LSQ_SMALL_ROWS 32
/* Folds the nb rows of B (overwritten) into R (m x m, column-major, upper). */
void ml_lsq_small_fold(double *R, int m, double *B, int nb);

/*
** A diagonal block: the indicator columns of one categorical feature are
** mutually orthogonal (a row has at most one of them), so with those nblk
** columns first the factor of [Z X y] is exactly
**
**     [ diag(a)  G  ]     a_l = the root of level l's (weighted) count,
**     [   0     R_d ]     G_l = level l's "group row" over the m columns.
**
** A row with value v in block column l and x in the m columns is one Givens
** rotation of [v, x] against [a_l, G_l]; what is left, [0, x'], is an
** ordinary row of the m columns, folded into R_d.  A row costs O(m^2 + m),
** not O((nblk + m)^2), and the block O(nblk (m + 1)) memory.
**
** ml_lsq_block_add adds a block column (zero for the rows so far).  For a
** row with a block value, write its m values with ml_lsq_put as for any row,
** then ml_lsq_commit_in(a, l, v) in place of ml_lsq_commit (v = 0: an
** ordinary row).
*/
int ml_lsq_block_add(ml_lsq *a);
int ml_lsq_commit_in(ml_lsq *a, int l, double v);
/*
** Moves the n columns cols[] (ascending, < p) of a factor without a block
** into a new block, as block columns 0..n-1: the QR of R with them first,
** whose leading n x n triangle is diagonal up to rounding when the columns
** are mutually orthogonal (the caller's promise: one feature's indicators);
** its off-diagonal entries (rounding) are dropped.  A moved column that is
** zero (a level without rows in this factor) is left out of that QR, and
** its group row starts empty.  The other columns keep their order.
** ML_EINPUT if the factor already has a block.
*/
int ml_lsq_block_from(ml_lsq *a, const int *cols, int n);
/*
** The inverse: the block's columns back among the others, after the m - 1
** columns of X and before y (one QR of the whole factor's columns in that
** order); the factor then has no block.  ML_OK or ML_NOMEM.
*/
int ml_lsq_block_to_dense(ml_lsq *a);
/*
** The whole factor, block columns first: (nblk + m) square, upper
** triangular, leading dimension nblk + m, into F.  Folds the rows waiting.
*/
int ml_lsq_full(ml_lsq *a, double *F);
/*
** ml_lsq_transform of the accumulator's whole factor (T has nblk + m rows,
** the block's first); without a block, of R itself.  Folds the rows waiting.
*/
int ml_lsq_transform_acc(ml_lsq *a, const double *T, int mt, double *Rout);
/*
** Fold in b, an accumulator of other rows with the same columns and block:
** its group rows (each as a row of a), then its R.  b's waiting rows are
** folded first; a->n is left as it was (as ml_lsq_merge leaves it).
*/
int ml_lsq_merge_acc(ml_lsq *a, ml_lsq *b);

/*
** Fold in b, an accumulator of other rows whose columns are some of a's:
** b's column j is a's column cmap[j] (b's y, j = b->m - 1, must map to
** a's), b's block column l is a's block column bmap[l].  b's rows waiting
** are folded first; a->n gains b->n.  How fits made apart merge exactly.
*/
int ml_lsq_merge_mapped(ml_lsq *a, ml_lsq *b, const int *cmap, const int *bmap);

/* Fold in another factor R2 (m x m upper triangular, leading dimension ld2). */
int ml_lsq_merge(ml_lsq *a, const double *R2, int ld2);

/*
** Add a column of zeros at index at (0..p) for the rows so far: what a new
** categorical level is to the rows before its first appearance.  The factor
** stays triangular; rows waiting are folded first.  The block's group rows
** gain the zero too.
*/
int ml_lsq_insert_column(ml_lsq *a, int at);

/*
** The factor of A T, where R (m x m) is the factor of A and T (m x mt,
** column-major) maps A's columns to new ones: R_out (mt x mt, leading
** dimension mt) is the triangle of the QR of R T.  Exact up to rounding:
** (A T)'(A T) = T'R'R T.
*/
int ml_lsq_transform(const double *R, int m, const double *T, int mt, double *Rout);

/*
** Ridge coefficients of the kept columns, on the original scale, from the
** factor R (m x m) of [1 X y] over rows of total weight sw:
**   minimize  ||y - b0 - X b||^2 + lambda * sum_j (s_j b_j)^2
** with s_j the standard deviation of column j (1 where it is 0): scikit-learn's
** Ridge(alpha=lambda) on StandardScaler'd columns, mapped back.  The
** intercept (column 0) is not penalized.  Solved as least squares on R
** stacked over the rows sqrt(lambda) s_j e_j: no normal equations.
*/
int ml_lsq_ridge(const double *R, int m, double sw, double lambda, double *b);

/*
** The sandwich covariance W^-1 S'S W^-T of the kept columns (r x r, into
** cov), with W the fit's factor (leading dimension ldw) and S (r x r,
** leading dimension lds) the factor of the rows sqrt(omega_i) W^-T x_i.
*/
int ml_lsq_sandwich(const double *W, int ldw, int r, const double *S, int lds, double *cov);

/*
** Reduce R (m x m) to W, the factor of [X_kept y]: columns marked aliased are
** deleted and the rest re-triangularized.  With tol >= 0 the columns are
** judged in order and aliased[] is written; with tol < 0 aliased[] is read.
** W is (rank + 1) square with leading dimension m; y is its column rank.
*/
int ml_lsq_reduce(const double *R, int m, double tol, unsigned char *aliased, double *W,
                  int *rank);

/* Coefficients of the kept columns from W: solves W[0:r,0:r] b = W[0:r,r]. */
int ml_lsq_coef(const double *W, int ldw, int rank, double *b);

/* Inference of a fit, as R's summary.lm reports it. */
typedef struct ml_lsq_stats {
  int p, rank;
  int64_t n;
  double df_model, df_resid;
  double rss, tss, mss;   /* tss and mss about the mean with an intercept, about 0 without */
  double sigma, r2, adj_r2, f, f_pvalue;
  double loglik, aic, bic;
  double cond;            /* 2-norm condition number of the kept columns of X */
  double *se, *tstat, *pvalue;  /* p entries; NaN where aliased */
  double *cov;            /* p x p column-major; NaN in aliased rows and columns */
} ml_lsq_stats;

/* What ml_lsq_stats_compute needs beyond the factor. */
typedef struct ml_lsq_fitinfo {
  int64_t n;           /* rows (with a positive weight) */
  int intercept;
  const unsigned char *aliased;
  const double *beta;  /* p; ignored where aliased */
  double rss;          /* residual sum of squares to use, or NaN: ||R [b; -1]||^2 */
  double sum_log_w;    /* weighted fits: sum of log weights, for the likelihood; else 0 */
  int ridge;           /* ridge coefficients: no standard errors */
  const double *hc;    /* a robust covariance (p x p) to report instead, or NULL */
  int unit_dispersion; /* a GLM with dispersion 1: covariance (R'R)^-1, z and normal p-values */
} ml_lsq_fitinfo;

/* Statistics of a fit with factor R (m x m). */
int ml_lsq_stats_compute(const double *R, int m, const ml_lsq_fitinfo *fi, ml_lsq_stats *st);
/* Its parts, for a factor of another form (model_block.c): the fit's
** statistics from its rank r and sums of squares; term j's standard error,
** t and p from its variance (NaN: aliased), after the former. */
void ml_lsq_stats_sums(ml_lsq_stats *st, const ml_lsq_fitinfo *fi, int r, double tss, double mss,
                       double rss);
void ml_lsq_stats_coef(ml_lsq_stats *st, const ml_lsq_fitinfo *fi, int j, double var);
void ml_lsq_stats_free(ml_lsq_stats *st);

#endif
