/*
** lsq.c: streaming least squares by QR.  See lsq.h.
*/
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "dist.h"
#include "blas_lock.h"
#include "lsq.h"

#define LN_2PI 1.8378770664093454835606594728112

int ml_lsq_init(ml_lsq *a, int p) {
  memset(a, 0, sizeof *a);
  a->p = p;
  a->m = p + 1;
  int64_t m = a->m;
  a->R = ml_calloc(8 * m * m);
  a->B = ml_malloc(8 * m * ML_LSQ_LDB);
  a->T = ml_malloc(8 * m * ML_LSQ_NB);
  a->work = ml_malloc(8 * m * ML_LSQ_NB);
  if (!a->R || !a->B || !a->T || !a->work) {
    ml_lsq_free(a);
    return ML_NOMEM;
  }
  return ML_OK;
}

void ml_lsq_free(ml_lsq *a) {
  ml_free(a->R);
  ml_free(a->B);
  ml_free(a->T);
  ml_free(a->work);
  ml_free(a->G);
  memset(a, 0, sizeof *a);
}

static int nb_for(int m) { return m < ML_LSQ_NB ? m : ML_LSQ_NB; }

int ml_lsq_fold(ml_lsq *a) {
  if (a->nb == 0) return ML_OK;
  ml_blas_lock();
  lapack_int info = LAPACKE_dtpqrt_work(LAPACK_COL_MAJOR, a->nb, a->m, 0, nb_for(a->m), a->R,
                                        a->m, a->B, ML_LSQ_LDB, a->T, ML_LSQ_NB, a->work);
  ml_blas_unlock();
  a->nb = 0;
  return info ? ML_ELAPACK : ML_OK;
}

void ml_lsq_small_fold(double *R, int m, double *B, int nb) {
  for (int i = 0; i < m; i++) {
    double *x = B + i * ML_LSQ_SMALL_ROWS, alpha = R[i + i * m];
    long double ss = 0;
    for (int r = 0; r < nb; r++) ss += (long double)x[r] * x[r];
    if (ss == 0) continue; /* the reflection is the identity */
    /* the reflection that maps (alpha, x) to (beta, 0), as LAPACK's dlarfg */
    double beta = -copysign((double)sqrtl(ss + (long double)alpha * alpha), alpha);
    double tau = (beta - alpha) / beta, scal = 1 / (alpha - beta);
    for (int r = 0; r < nb; r++) x[r] *= scal;
    R[i + i * m] = beta;
    for (int j = i + 1; j < m; j++) {
      double *bj = B + j * ML_LSQ_SMALL_ROWS;
      long double d = R[i + j * m];
      for (int r = 0; r < nb; r++) d += (long double)x[r] * bj[r];
      double w = (double)(tau * d);
      R[i + j * m] -= w;
      for (int r = 0; r < nb; r++) bj[r] -= w * x[r];
    }
  }
}

int ml_lsq_merge(ml_lsq *a, const double *R2, int ld2) {
  int rc = ml_lsq_fold(a);
  if (rc) return rc;
  int m = a->m;
  double *S = ml_calloc(8 * (int64_t)m * m);
  if (!S) return ML_NOMEM;
  for (int j = 0; j < m; j++) memcpy(S + (int64_t)j * m, R2 + (int64_t)j * ld2, 8 * (size_t)(j + 1));
  /* L = m: the stacked block is itself triangular, and dtpqrt skips its zeros. */
  ml_blas_lock();
  lapack_int info = LAPACKE_dtpqrt_work(LAPACK_COL_MAJOR, m, m, m, nb_for(m), a->R, m, S, m,
                                        a->T, ML_LSQ_NB, a->work);
  ml_blas_unlock();
  ml_free(S);
  return info ? ML_ELAPACK : ML_OK;
}

/* The group rows with a zero inserted at column at: stride m + 2, blkcap rows; NULL out of memory. */
static double *group_rows_widened(const ml_lsq *a, int at) {
  int64_t s = a->m + 1, s1 = s + 1;
  double *G = ml_malloc(8 * (uint64_t)(a->blkcap ? a->blkcap : 1) * (uint64_t)s1);
  if (!G) return NULL;
  for (int64_t l = 0; l < a->nblk; l++) {
    const double *g = a->G + l * s;
    double *h = G + l * s1;
    memcpy(h, g, 8 * (size_t)(1 + at));
    h[1 + at] = 0;
    memcpy(h + 2 + at, g + 1 + at, 8 * (size_t)(s - 1 - at));
  }
  return G;
}

/* a's buffers replaced by these, for m columns of [X y]: the old ones freed. */
static void take_buffers(ml_lsq *a, double *R, double *B, double *T, double *work, double *G,
                         int m) {
  ml_free(a->R);
  ml_free(a->B);
  ml_free(a->T);
  ml_free(a->work);
  ml_free(a->G);
  a->R = R;
  a->B = B;
  a->T = T;
  a->work = work;
  a->G = G;
  a->m = m;
  a->p = m - 1;
}

int ml_lsq_insert_column(ml_lsq *a, int at) {
  int rc = ml_lsq_fold(a);
  if (rc) return rc;
  int64_t m = a->m, m1 = m + 1;
  double *R = ml_calloc(8 * m1 * m1);
  double *B = ml_malloc(8 * m1 * ML_LSQ_LDB);
  double *T = ml_malloc(8 * m1 * ML_LSQ_NB);
  double *work = ml_malloc(8 * m1 * ML_LSQ_NB);
  double *G = a->G ? group_rows_widened(a, at) : NULL;
  if (!R || !B || !T || !work || (a->G && !G)) {
    ml_free(R);
    ml_free(B);
    ml_free(T);
    ml_free(work);
    ml_free(G);
    return ML_NOMEM;
  }
  for (int64_t j = 0; j < m; j++) {
    int64_t jj = j < at ? j : j + 1;
    for (int64_t i = 0; i <= j; i++) R[(i < at ? i : i + 1) + jj * m1] = a->R[i + j * m];
  }
  take_buffers(a, R, B, T, work, G, a->m + 1);
  return ML_OK;
}

/* ---- the diagonal block (lsq.h) ---- */

static int qr_in_place(double *A, int64_t rows, int cols);

int ml_lsq_block_add(ml_lsq *a) {
  int64_t s = a->m + 1;
  if (a->nblk == a->blkcap) {
    int cap = a->blkcap ? 2 * a->blkcap : 16;
    double *G = ml_realloc(a->G, 8 * (uint64_t)cap * (uint64_t)s);
    if (!G) return ML_NOMEM;
    a->G = G;
    a->blkcap = cap;
  }
  memset(a->G + a->nblk * s, 0, 8 * (size_t)s);
  a->nblk++;
  return ML_OK;
}

/*
** The row waiting in slot nb, with v in block column l, rotated against the
** group row [a_l, G_l]: with r = hypot(a_l, v), c = a_l / r, s = v / r,
**   [a_l, G_l] <- [r, c G_l + s x],   [v, x] <- [0, c x - s G_l].
** A level's first row (its group row zero) becomes the group row, and
** leaves nothing (c = 0): the slot is not committed.
*/
int ml_lsq_commit_in(ml_lsq *a, int l, double v) {
  int m = a->m;
  double *g = a->G + (int64_t)l * (m + 1), *x = a->B + a->nb;
  double r = hypot(g[0], v);
  if (r == 0) return ml_lsq_commit(a); /* nothing in the block: an ordinary row */
  double c = g[0] / r, s = v / r;
  int empty = g[0] == 0;
  for (int j = 1; empty && j <= m; j++) empty = g[j] == 0;
  g[0] = r;
  for (int j = 0; j < m; j++) {
    double gj = g[1 + j], xj = x[(int64_t)j * ML_LSQ_LDB];
    g[1 + j] = c * gj + s * xj;
    x[(int64_t)j * ML_LSQ_LDB] = c * xj - s * gj;
  }
  if (!empty) return ml_lsq_commit(a);
  a->n++;
  return ML_OK;
}

/* Is column c of R (m x m) zero: no row had a value there? */
static int zero_column(const double *R, int m, int c) {
  for (int i = 0; i <= c; i++)
    if (R[i + (int64_t)c * m] != 0) return 0;
  return 1;
}

/*
** R's columns in A (m rows): the moved columns that are not zero, in order
** (their block columns in blk[], *nz of them), then the others; a zero
** column moved is left out (its group row stays zero).  Left in, the QR
** would leave its row unreduced, with what it holds of later columns.
*/
static int moved_first(const ml_lsq *a, const int *cols, int n, double *A, int *blk, int *nz) {
  int m = a->m, k = 0, i = 0;
  *nz = 0;
  for (int l = 0; l < n; l++)
    if (!zero_column(a->R, m, cols[l])) blk[(*nz)++] = l;
  for (int c = 0, l = 0; c < m; c++) {
    int moved = l < n && cols[l] == c;
    l += moved;
    if (moved && zero_column(a->R, m, c)) continue;
    int pos = moved ? i++ : *nz + k++;
    memcpy(A + (int64_t)pos * m, a->R + (int64_t)c * m, 8 * (size_t)(c + 1));
  }
  return *nz + k;
}

int ml_lsq_block_from(ml_lsq *a, const int *cols, int n) {
  if (a->nblk || n <= 0) return ML_EINPUT;
  int rc = ml_lsq_fold(a);
  if (rc) return rc;
  int m = a->m, m2 = m - n, nz;
  double *A = ml_calloc(8 * (uint64_t)m * (uint64_t)m), *R2 = ml_calloc(8 * (uint64_t)m2 * (uint64_t)m2);
  double *G = ml_calloc(8 * (uint64_t)n * (uint64_t)(m2 + 1));
  int *blk = ml_malloc(sizeof(int) * (uint64_t)n);
  rc = ML_NOMEM;
  if (!A || !R2 || !G || !blk) goto out;
  int ncol = moved_first(a, cols, n, A, blk, &nz);
  if ((rc = qr_in_place(A, m, ncol))) goto out;
  for (int k = 0; k < nz; k++) {
    double sg = A[k + (int64_t)k * m] < 0 ? -1 : 1, *g = G + (int64_t)blk[k] * (m2 + 1);
    g[0] = sg * A[k + (int64_t)k * m];
    for (int j = 0; j < m2; j++) g[1 + j] = sg * A[k + (int64_t)(nz + j) * m];
  }
  for (int j = 0; j < m2; j++)
    for (int i = 0; i <= j; i++) R2[i + (int64_t)j * m2] = A[nz + i + (int64_t)(nz + j) * m];
  ml_free(a->R);
  ml_free(a->G);
  a->R = R2;
  a->G = G;
  R2 = G = NULL;
  a->nblk = a->blkcap = n;
  a->m = m2;
  a->p = m2 - 1;
out:
  ml_free(A);
  ml_free(R2);
  ml_free(G);
  ml_free(blk);
  return rc;
}

int ml_lsq_block_to_dense(ml_lsq *a) {
  int rc = ml_lsq_fold(a);
  if (rc || a->nblk == 0) return rc;
  int64_t nb = a->nblk, m = a->m, N = nb + m;
  double *F = ml_malloc(8 * (uint64_t)(N * N)), *A = ml_calloc(8 * (uint64_t)(N * N));
  double *B = ml_malloc(8 * (uint64_t)N * ML_LSQ_LDB), *T = ml_malloc(8 * (uint64_t)N * ML_LSQ_NB);
  double *work = ml_malloc(8 * (uint64_t)N * ML_LSQ_NB);
  rc = ML_NOMEM;
  if (F && A && B && T && work && !(rc = ml_lsq_full(a, F))) {
    /* The whole factor's columns as [X, Z, y]: X's at 0..m-2, Z's after them. */
    for (int64_t c = 0; c < N; c++) {
      int64_t to = c < nb ? m - 1 + c : c - nb < m - 1 ? c - nb : N - 1;
      memcpy(A + to * N, F + c * N, 8 * (size_t)(c + 1));
    }
    rc = qr_in_place(A, N, (int)N);
  }
  if (!rc) {
    for (int64_t j = 0; j < N; j++)
      for (int64_t i = j + 1; i < N; i++) A[i + j * N] = 0;
    take_buffers(a, A, B, T, work, NULL, (int)N);
    A = B = T = work = NULL;
    a->nblk = a->blkcap = 0;
  }
  ml_free(F);
  ml_free(A);
  ml_free(B);
  ml_free(T);
  ml_free(work);
  return rc;
}

int ml_lsq_full(ml_lsq *a, double *F) {
  int rc = ml_lsq_fold(a);
  if (rc) return rc;
  int64_t nb = a->nblk, m = a->m, N = nb + m;
  memset(F, 0, 8 * (size_t)(N * N));
  for (int64_t l = 0; l < nb; l++) {
    const double *g = a->G + l * (m + 1);
    F[l + l * N] = g[0];
    for (int64_t j = 0; j < m; j++) F[l + (nb + j) * N] = g[1 + j];
  }
  for (int64_t j = 0; j < m; j++)
    for (int64_t i = 0; i <= j; i++) F[nb + i + (nb + j) * N] = a->R[i + j * m];
  return ML_OK;
}

int ml_lsq_merge_acc(ml_lsq *a, ml_lsq *b) {
  if (a->m != b->m || a->nblk != b->nblk) return ML_EINPUT;
  int rc = ml_lsq_fold(b);
  int64_t n = a->n, s = b->m + 1;
  for (int l = 0; !rc && l < b->nblk; l++) {
    const double *g = b->G + l * s;
    for (int j = 0; j < b->m; j++) ml_lsq_put(a, j, g[1 + j]);
    rc = ml_lsq_commit_in(a, l, g[0]);
  }
  if (!rc) rc = ml_lsq_merge(a, b->R, b->m);
  a->n = n;
  return rc;
}

/* One row of b's factor, its values v (b->m of them) in a's columns by cmap, committed to a. */
static int put_mapped(ml_lsq *a, const double *v, int from, int m, const int *cmap, int blk,
                      double bv) {
  for (int j = 0; j < a->m; j++) ml_lsq_put(a, j, 0);
  for (int j = from; j < m; j++) ml_lsq_put(a, cmap[j], v[j]);
  return blk >= 0 ? ml_lsq_commit_in(a, blk, bv) : ml_lsq_commit(a);
}

int ml_lsq_merge_mapped(ml_lsq *a, ml_lsq *b, const int *cmap, const int *bmap) {
  int rc = ml_lsq_fold(b), m = b->m;
  int64_t n = a->n;
  double *row = ml_malloc(8 * (uint64_t)m);
  if (!row) rc = ML_NOMEM;
  for (int l = 0; !rc && l < b->nblk; l++) {
    const double *g = b->G + (int64_t)l * (m + 1);
    rc = put_mapped(a, g + 1, 0, m, cmap, bmap[l], g[0]);
  }
  for (int i = 0; !rc && i < m; i++) {
    for (int j = i; j < m; j++) row[j] = b->R[i + (int64_t)j * m];
    rc = put_mapped(a, row, i, m, cmap, -1, 0);
  }
  if (!rc) rc = ml_lsq_fold(a);
  a->n = n + b->n;
  ml_free(row);
  return rc;
}

/* The QR of A (rows x cols, leading dimension rows) in place: R in its upper triangle. */
static int qr_in_place(double *A, int64_t rows, int cols) {
  double *tau = ml_malloc(8 * (uint64_t)cols), q, *work = NULL;
  int rc = ML_NOMEM;
  if (!tau) goto out;
  rc = ML_ELAPACK;
  ml_blas_lock();
  lapack_int info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, (int)rows, cols, A, (int)rows, tau, &q, -1);
  ml_blas_unlock();
  if (info) goto out;
  lapack_int lwork = (lapack_int)q;
  work = ml_malloc(8 * (uint64_t)(lwork > 1 ? lwork : 1));
  if (!work) {
    rc = ML_NOMEM;
    goto out;
  }
  ml_blas_lock();
  rc = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, (int)rows, cols, A, (int)rows, tau, work, lwork)
           ? ML_ELAPACK
           : ML_OK;
  ml_blas_unlock();
out:
  ml_free(tau);
  ml_free(work);
  return rc;
}

int ml_lsq_transform(const double *R, int m, const double *T, int mt, double *Rout) {
  int64_t rows = m > mt ? m : mt;
  double *A = ml_calloc(8 * (uint64_t)rows * (uint64_t)mt);
  if (!A) return ML_NOMEM;
  /* A = R T, with R upper triangular: dtrmm on a copy of T. */
  for (int j = 0; j < mt; j++) memcpy(A + (int64_t)j * rows, T + (int64_t)j * m, 8 * (size_t)m);
  ml_blas_lock();
  cblas_dtrmm(CblasColMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, m, mt, 1.0, R, m,
              A, (int)rows);
  ml_blas_unlock();
  int rc = qr_in_place(A, rows, mt);
  if (!rc)
    for (int j = 0; j < mt; j++)
      for (int i = 0; i < mt; i++) Rout[i + (int64_t)j * mt] = i <= j ? A[i + (int64_t)j * rows] : 0;
  ml_free(A);
  return rc;
}

/*
** Column i of the accumulator's whole factor (block columns first) times t,
** added to x (nblk + m rows): a block column is its a_l; a column of the m
** holds each group row's entry, then R's.
*/
static void add_factor_column(const ml_lsq *a, int64_t i, double t, double *x) {
  int64_t nb = a->nblk, m = a->m;
  if (i < nb) {
    x[i] += t * a->G[i * (m + 1)];
    return;
  }
  int64_t d = i - nb;
  for (int64_t l = 0; l < nb; l++) x[l] += t * a->G[l * (m + 1) + 1 + d];
  const double *r = a->R + d * m;
  for (int64_t k = 0; k <= d; k++) x[nb + k] += t * r[k];
}

/*
** ml_lsq_transform_acc when T is sparse (a design's T has one or two
** entries a column: a level, a number, its imputed mean): R T as sums of
** the factor's columns, O(N nnz(T)) instead of dtrmm's O(N^2 mt), and no
** whole factor in memory.
*/
static int transform_sparse(const ml_lsq *a, const double *T, int mt, double *Rout) {
  int64_t N = (int64_t)a->nblk + a->m, rows = N > mt ? N : mt;
  double *A = ml_calloc(8 * (uint64_t)rows * (uint64_t)mt);
  if (!A) return ML_NOMEM;
  for (int64_t j = 0; j < mt; j++)
    for (int64_t i = 0; i < N; i++)
      if (T[i + j * N] != 0) add_factor_column(a, i, T[i + j * N], A + j * rows);
  int rc = qr_in_place(A, rows, mt);
  if (!rc)
    for (int64_t j = 0; j < mt; j++)
      for (int64_t i = 0; i < mt; i++) Rout[i + j * mt] = i <= j ? A[i + j * rows] : 0;
  ml_free(A);
  return rc;
}

int ml_lsq_transform_acc(ml_lsq *a, const double *T, int mt, double *Rout) {
  int rc = ml_lsq_fold(a);
  if (rc) return rc;
  int64_t N = (int64_t)a->nblk + a->m, nnz = 0;
  for (int64_t k = 0; k < N * mt; k++) nnz += T[k] != 0;
  if (nnz <= 4 * (int64_t)mt) return transform_sparse(a, T, mt, Rout);
  if (a->nblk == 0) return ml_lsq_transform(a->R, a->m, T, mt, Rout);
  double *F = ml_malloc(8 * (uint64_t)N * (uint64_t)N);
  if (!F) return ML_NOMEM;
  rc = ml_lsq_full(a, F);
  if (!rc) rc = ml_lsq_transform(F, (int)N, T, mt, Rout);
  ml_free(F);
  return rc;
}

int ml_lsq_ridge(const double *R, int m, double sw, double lambda, double *b) {
  int p = m - 1;
  /* Rows: R (m), then one penalty row per penalized column (p - 1). */
  int64_t rows = (int64_t)m + p;
  double *A = ml_calloc(8 * (uint64_t)rows * (uint64_t)m);
  if (!A) return ML_NOMEM;
  for (int j = 0; j < m; j++)
    for (int i = 0; i <= j; i++) A[i + (int64_t)j * rows] = R[i + (int64_t)j * m];
  for (int j = 1; j < p; j++) {
    /* Column j's spread about its mean is its part of R below the intercept's row. */
    double ss = 0;
    for (int i = 1; i <= j; i++) ss += R[i + (int64_t)j * m] * R[i + (int64_t)j * m];
    double s = sqrt(ss / sw);
    A[m + (j - 1) + (int64_t)j * rows] = sqrt(lambda) * (s > 0 ? s : 1);
  }
  int rc = qr_in_place(A, rows, m);
  if (!rc) {
    for (int i = 0; i < p; i++) b[i] = A[i + (int64_t)p * rows];
    ml_blas_lock();
    if (LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'N', 'N', p, 1, A, (int)rows, b, p) < 0)
      rc = ML_ELAPACK;
    ml_blas_unlock();
  }
  ml_free(A);
  return rc;
}

int ml_lsq_sandwich(const double *W, int ldw, int r, const double *S, int lds, double *cov) {
  if (r == 0) return ML_OK;
  double *X = ml_malloc(8 * (uint64_t)r * (uint64_t)r);
  if (!X) return ML_NOMEM;
  /* X = W^-1 S', so that cov = X X'. */
  for (int j = 0; j < r; j++)
    for (int i = 0; i < r; i++) X[i + (int64_t)j * r] = j <= i ? S[j + (int64_t)i * lds] : 0;
  int rc = ML_OK;
  ml_blas_lock();
  if (LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'N', 'N', r, r, W, ldw, X, r) < 0) rc = ML_ELAPACK;
  if (!rc) cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, r, r, 1.0, X, r, 0.0, cov, r);
  ml_blas_unlock();
  if (!rc) {
    for (int j = 0; j < r; j++)
      for (int i = j + 1; i < r; i++) cov[i + (int64_t)j * r] = cov[j + (int64_t)i * r];
  }
  ml_free(X);
  return rc;
}

int ml_lsq_reduce(const double *R, int m, double tol, unsigned char *aliased, double *W,
                  int *rank) {
  int p = m - 1;
  for (int j = 0; j < m; j++) {
    memcpy(W + (int64_t)j * m, R + (int64_t)j * m, 8 * (size_t)(j + 1));
    memset(W + (int64_t)j * m + j + 1, 0, 8 * (size_t)(m - j - 1));
  }
  /* dgeqr2's scratch, only once a column is dropped: a full-rank fit (a
  ** GROUP BY of small fits makes one a group) allocates nothing */
  double *tau = NULL, *work = NULL;
  int rc = ML_OK;
  int cols = m; /* columns of W, y included */
  int c = 0;    /* W's column for the design column j */
  for (int j = 0; j < p; j++) {
    double *col = W + (int64_t)c * m;
    int drop;
    if (tol >= 0) {
      ml_blas_lock();
      double norm = cblas_dnrm2(c + 1, col, 1);
      ml_blas_unlock();
      drop = norm == 0 || fabs(col[c]) <= tol * norm;
      aliased[j] = (unsigned char)drop;
    } else {
      drop = aliased[j] != 0;
    }
    if (!drop) {
      c++;
      continue;
    }
    /* Delete column c; rows c..cols-1 of the columns after it are then upper
    ** Hessenberg, and their QR makes W triangular again. */
    memmove(col, col + m, 8 * (size_t)m * (size_t)(cols - 1 - c));
    cols--;
    memset(W + (int64_t)cols * m, 0, 8 * (size_t)m);
    int rows = cols + 1 - c, ncol = cols - c;
    if (ncol > 0) {
      double *blk = W + (int64_t)c * m + c;
      if (!tau && (!(tau = ml_malloc(8 * (int64_t)m)) || !(work = ml_malloc(8 * (int64_t)m)))) {
        rc = ML_NOMEM;
        break;
      }
      ml_blas_lock();
      lapack_int info = LAPACKE_dgeqr2_work(LAPACK_COL_MAJOR, rows, ncol, blk, m, tau, work);
      ml_blas_unlock();
      if (info) {
        rc = ML_ELAPACK;
        break;
      }
      for (int jj = 0; jj < ncol; jj++)
        for (int i = jj + 1; i < rows; i++) blk[i + (int64_t)jj * m] = 0;
    }
  }
  ml_free(tau);
  ml_free(work);
  *rank = c;
  return rc;
}

int ml_lsq_coef(const double *W, int ldw, int rank, double *b) {
  if (rank == 0) return ML_OK;
  for (int i = 0; i < rank; i++) b[i] = W[i + (int64_t)rank * ldw];
  ml_blas_lock();
  lapack_int info =
      LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'N', 'N', rank, 1, W, ldw, b, rank);
  ml_blas_unlock();
  return info < 0 ? ML_ELAPACK : ML_OK;
}

/* 2-norm condition number of the r x r triangle at W (leading dimension ld). */
static int condition(const double *W, int ld, int r, double *cond) {
  *cond = NAN;
  if (r == 0) return ML_OK;
  double *A = ml_malloc(8 * (int64_t)r * r), *s = ml_malloc(8 * (int64_t)r);
  double q;
  int rc = ML_NOMEM;
  if (!A || !s) goto out;
  for (int j = 0; j < r; j++)
    for (int i = 0; i < r; i++) A[i + (int64_t)j * r] = i <= j ? W[i + (int64_t)j * ld] : 0;
  rc = ML_ELAPACK;
  ml_blas_lock();
  lapack_int query = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'N', 'N', r, r, A, r, s, NULL, 1, NULL, 1, &q, -1);
  ml_blas_unlock();
  if (query) goto out;
  lapack_int lwork = (lapack_int)q;
  double *work = ml_malloc(8 * (int64_t)(lwork > 1 ? lwork : 1));
  if (!work) {
    rc = ML_NOMEM;
    goto out;
  }
  ml_blas_lock();
  lapack_int info =
      LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'N', 'N', r, r, A, r, s, NULL, 1, NULL, 1, work, lwork);
  ml_blas_unlock();
  ml_free(work);
  if (info < 0) goto out;
  /* info > 0: no convergence, which leaves the condition number unknown. */
  if (info == 0) *cond = s[r - 1] > 0 ? s[0] / s[r - 1] : INFINITY;
  rc = ML_OK;
out:
  ml_free(A);
  ml_free(s);
  return rc;
}

void ml_lsq_stats_free(ml_lsq_stats *st) {
  ml_free(st->se);
  ml_free(st->tstat);
  ml_free(st->pvalue);
  ml_free(st->cov);
  memset(st, 0, sizeof *st);
}

/* Sums of squares and the fit's measures, from W (reduced to rank r). */
static void stats_fit(const double *R, const double *W, int m, int r, const ml_lsq_fitinfo *fi,
                      ml_lsq_stats *st) {
  int p = m - 1, intercept = fi->intercept;
  const double *z = W + (int64_t)r * m; /* y's column: Q'y */
  double tss = 0, mss = 0, rss = fi->rss;
  for (int i = intercept; i <= r; i++) tss += z[i] * z[i];
  for (int i = intercept; i < r; i++) mss += z[i] * z[i];
  if (isnan(rss) && fi->ridge) {
    /* Ridge coefficients are not the least-squares ones: ||R [b; -1]||^2. */
    long double s = 0;
    for (int i = 0; i < m; i++) {
      long double e = -R[i + (int64_t)p * m];
      for (int j = i; j < p; j++) e += (long double)R[i + (int64_t)j * m] * fi->beta[j];
      s += e * e;
    }
    rss = (double)s;
  }
  if (isnan(rss)) rss = z[r] * z[r];
  else mss = tss - rss;
  ml_lsq_stats_sums(st, fi, r, tss, mss, rss);
}

void ml_lsq_stats_sums(ml_lsq_stats *st, const ml_lsq_fitinfo *fi, int r, double tss, double mss,
                       double rss) {
  int intercept = fi->intercept;
  int64_t n = fi->n;
  st->rank = r;
  st->rss = rss;
  st->tss = tss;
  st->mss = mss;
  st->df_resid = (double)(n - r);
  st->df_model = (double)(r - intercept);
  st->sigma = st->df_resid > 0 ? sqrt(rss / st->df_resid) : NAN;
  st->r2 = tss > 0 ? mss / tss : NAN;
  st->adj_r2 = st->df_resid > 0 ? 1 - (1 - st->r2) * ((double)(n - intercept) / st->df_resid) : NAN;
  double dn = (double)n;
  if (fi->ridge) {
    /* No least-squares inference for a penalized fit. */
    st->f = st->f_pvalue = st->loglik = st->aic = st->bic = NAN;
    return;
  }
  if (st->df_model > 0 && st->df_resid > 0) {
    st->f = (mss / st->df_model) / (rss / st->df_resid);
    st->f_pvalue = ml_pf_upper(st->f, st->df_model, st->df_resid);
  } else {
    st->f = st->f_pvalue = NAN;
  }
  st->loglik = 0.5 * fi->sum_log_w - 0.5 * dn * (LN_2PI + 1 - log(dn) + log(rss));
  st->aic = -2 * st->loglik + 2 * (r + 1);
  st->bic = -2 * st->loglik + log(dn) * (r + 1);
}

/* The covariance and the coefficients' tests, from Ri, the unscaled
** covariance of the r kept coefficients (upper triangle), al which are not. */
static void stats_coefs(const double *Ri, int r, const unsigned char *al, int *pos,
                        const ml_lsq_fitinfo *fi, ml_lsq_stats *st) {
  int p = st->p;
  double s2 = fi->ridge ? NAN : fi->unit_dispersion ? 1 : st->sigma * st->sigma;
  for (int j = 0, k = 0; j < p; j++) pos[j] = al[j] ? -1 : k++;
  for (int j = 0; j < p; j++) {
    for (int i = 0; i < p; i++) {
      double v = NAN;
      if (pos[i] >= 0 && pos[j] >= 0) {
        int a = pos[i] < pos[j] ? pos[i] : pos[j], b = pos[i] < pos[j] ? pos[j] : pos[i];
        v = fi->hc ? fi->hc[i + (int64_t)j * p] : s2 * Ri[a + (int64_t)b * r];
      }
      st->cov[i + (int64_t)j * p] = v;
    }
    ml_lsq_stats_coef(st, fi, j, pos[j] < 0 || fi->ridge ? NAN : st->cov[j + (int64_t)j * p]);
  }
}

void ml_lsq_stats_coef(ml_lsq_stats *st, const ml_lsq_fitinfo *fi, int j, double var) {
  if (isnan(var)) {
    st->se[j] = st->tstat[j] = st->pvalue[j] = NAN;
    return;
  }
  st->se[j] = sqrt(var);
  st->tstat[j] = fi->beta[j] / st->se[j];
  st->pvalue[j] = fi->unit_dispersion ? ml_pnorm_2sided(st->tstat[j])
                                      : ml_pt_2sided(st->tstat[j], st->df_resid);
}

/* Ri (r x r) = W_xx^-1 W_xx^-T, the unscaled covariance of the kept coefficients. */
static int unscaled_cov(const double *W, int m, int r, double *Ri) {
  for (int j = 0; j < r; j++)
    for (int i = 0; i < r; i++) Ri[i + (int64_t)j * r] = i <= j ? W[i + (int64_t)j * m] : 0;
  if (r > 0) {
    ml_blas_lock();
    int bad = LAPACKE_dtrtri_work(LAPACK_COL_MAJOR, 'U', 'N', r, Ri, r) < 0 ||
              LAPACKE_dlauum_work(LAPACK_COL_MAJOR, 'U', r, Ri, r) < 0;
    ml_blas_unlock();
    if (bad) return ML_ELAPACK;
  }
  return ML_OK;
}

int ml_lsq_stats_compute(const double *R, int m, const ml_lsq_fitinfo *fi, ml_lsq_stats *st) {
  int p = m - 1, r = 0, rc;
  memset(st, 0, sizeof *st);
  st->p = p;
  st->n = fi->n;
  double *W = ml_malloc(8 * (int64_t)m * m);
  double *Ri = ml_malloc(8 * (int64_t)m * m);
  unsigned char *al = ml_malloc((uint64_t)p);
  int *pos = ml_malloc(sizeof(int) * (uint64_t)p);
  st->se = ml_malloc(8 * (int64_t)p);
  st->tstat = ml_malloc(8 * (int64_t)p);
  st->pvalue = ml_malloc(8 * (int64_t)p);
  st->cov = ml_malloc(8 * (int64_t)p * p);
  rc = ML_NOMEM;
  if (W && Ri && al && pos && st->se && st->tstat && st->pvalue && st->cov) {
    memcpy(al, fi->aliased, (size_t)p);
    rc = ml_lsq_reduce(R, m, -1, al, W, &r);
  }
  if (!rc) {
    st->rank = r;
    stats_fit(R, W, m, r, fi, st);
    rc = unscaled_cov(W, m, r, Ri);
  }
  if (!rc) rc = condition(W, m, r, &st->cond);
  if (!rc) stats_coefs(Ri, r, al, pos, fi, st);
  ml_free(W);
  ml_free(Ri);
  ml_free(al);
  ml_free(pos);
  if (rc) ml_lsq_stats_free(st);
  return rc;
}
