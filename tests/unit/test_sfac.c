/*
** Unit tests of sfac.c: the structured factor of designs with one
** categorical feature's levels as its block, built by lsq.c's accumulator,
** against dense LAPACK on the same designs (block columns first).
*/
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas_lock.h"
#include "check.h"
#include "lsq.h"
#include "sfac.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double unif(void) { return check_uniform(&rng); }

/* The largest errors seen, printed at the end; rcond as ratios to dtrcon's and to the exact one. */
static struct {
  double coef, rss, idiag, quad, normal, zz, dense;
  double rc_lo, rc_hi, exact_hi;
} worst = {.rc_lo = INFINITY};

/* got within tol of want, relative to max(|want|, floor); the error goes to *w. */
static void near_at(int line, const char *what, double got, double want, double floor, double tol,
                    double *w) {
  double e = got == want ? 0 : fabs(got - want) / fmax(fabs(want), floor);
  check_count++;
  if (!(e <= tol)) {
    check_failures++;
    fprintf(stderr, "%s:%d: %s = %.17g, expected %.17g\n", __FILE__, line, what, got, want);
  }
  if (e > *w) *w = e;
}
#define NEAR(got, want, floor, tol, w) near_at(__LINE__, #got, got, want, floor, tol, &worst.w)

/*
** A problem: nb block columns; levels nb + ref (ref: a reference level,
** its rows with no block value); empty: a block column without rows (-1:
** none); r C columns, the intercept first, the others offset from 0 by
** about offset (collinear with the intercept); dep: the last C column
** 2 [level 3] + 0.5 x1, a combination of a block column and an earlier one.
*/
typedef struct spec {
  int nb, r, ref, empty, dep;
  double offset;
} spec;

typedef struct problem {
  int nb, r, q, n, N; /* N = nb + q dense columns: block, C, y */
  double *A;          /* n x N column-major: the rows, times sqrt(w) */
  ml_sfac f;
} problem;

/* One row: its block column (-1: none), C values, y and weight. */
static int row_values(const spec *sp, double *c, double *y, double *w) {
  int levels = sp->nb + sp->ref, lev = (int)(unif() * levels);
  if (lev == sp->empty) lev = (lev + 1) % levels;
  double t = sin(lev);
  for (int j = 0; j < sp->r; j++) {
    c[j] = j == 0 ? 1 : sp->offset * j + (2 * unif() - 1) * (1 + j);
    if (j == sp->r - 1 && sp->dep && j >= 2) c[j] = 2.0 * (lev == 3) + 0.5 * c[1];
    t += 0.3 * (j + 1) * c[j];
  }
  *y = t + 0.2 * (unif() - 0.5);
  *w = 0.25 + 2 * unif();
  return lev < sp->nb ? lev : -1;
}

/* The design, and its factor accumulated as a fit does (ml_lsq_commit_in) and copied into p->f. */
static void build(problem *p, const spec *sp) {
  int nb = sp->nb, r = sp->r, q = r + 1, n = 20 * nb + 40, N = nb + q;
  *p = (problem){nb, r, q, n, N, calloc((size_t)n * N, 8), {0}};
  ml_lsq acc;
  CHECK(ml_lsq_init(&acc, r) == ML_OK);
  for (int l = 0; l < nb; l++) CHECK(ml_lsq_block_add(&acc) == ML_OK);
  for (int i = 0; i < n; i++) {
    double c[8], y, w;
    int lev = row_values(sp, c, &y, &w);
    double sw = sqrt(w);
    if (lev >= 0) p->A[i + (size_t)lev * n] = sw;
    for (int j = 0; j < r; j++) {
      p->A[i + (size_t)(nb + j) * n] = sw * c[j];
      ml_lsq_put(&acc, j, sw * c[j]);
    }
    p->A[i + (size_t)(nb + r) * n] = sw * y;
    ml_lsq_put(&acc, r, sw * y);
    CHECK((lev >= 0 ? ml_lsq_commit_in(&acc, lev, sw) : ml_lsq_commit(&acc)) == ML_OK);
  }
  CHECK(ml_lsq_fold(&acc) == ML_OK);
  CHECK(ml_sfac_init(&p->f, nb, q) == ML_OK);
  memcpy(p->f.S, acc.G, 8 * (size_t)nb * (q + 1));
  memcpy(p->f.R, acc.R, 8 * (size_t)q * q);
  ml_lsq_free(&acc);
}

static void problem_free(problem *p) {
  free(p->A);
  ml_sfac_free(&p->f);
}

/* R (cols square, zero below the diagonal): the triangle of the QR of A (n x cols). */
static void dense_qr(const double *A, int n, int cols, double *R) {
  double *C = malloc(8 * (size_t)n * cols), *tau = malloc(8 * (size_t)cols);
  memcpy(C, A, 8 * (size_t)n * cols);
  ml_blas_lock();
  CHECK(LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, cols, C, n, tau) == 0);
  ml_blas_unlock();
  for (int j = 0; j < cols; j++)
    for (int i = 0; i < cols; i++) R[i + (size_t)j * cols] = i <= j ? C[i + (size_t)j * n] : 0;
  free(C);
  free(tau);
}

/* ||y - X b||^2 from the design's rows, in long double. */
static double design_rss(const problem *p, const double *b) {
  long double ss = 0;
  for (int i = 0; i < p->n; i++) {
    long double e = p->A[i + (size_t)(p->N - 1) * p->n];
    for (int j = 0; j < p->N - 1; j++) e -= (long double)p->A[i + (size_t)j * p->n] * b[j];
    ss += e * e;
  }
  return (double)ss;
}

/* x <- W^-1 x (trans 'N') or W^-T x ('T'), W k x k upper with leading dimension ld. */
static void tri_solve(const double *W, int ld, int k, char trans, double *x) {
  if (k == 0) return;
  ml_blas_lock();
  CHECK(LAPACKE_dtrtrs(LAPACK_COL_MAJOR, 'U', trans, 'N', k, 1, W, ld, x, k) == 0);
  ml_blas_unlock();
}

/* The dense reduced factor (rank kept columns, leading dimension ld) and where red's columns are in it. */
typedef struct kept {
  const double *W;
  int ld, rank;
  int *pos; /* red's nb + r columns: the column of W, -1 for a zero block row */
} kept;

/* Coefficients and aliasing against the dense fit (ml_lsq_reduce, ml_lsq_coef on the dense QR). */
static void check_solve(const problem *p, const spec *sp, const double *W, int rank,
                        const unsigned char *ald, unsigned char *al, double *b) {
  int nb = p->nb, r = p->r, P = nb + r, nal = 0, want = 0;
  double *bk = malloc(8 * (size_t)(rank + 1)), *bd = malloc(8 * (size_t)P);
  CHECK(ml_lsq_coef(W, p->N, rank, bk) == ML_OK);
  for (int j = 0, k = 0; j < P; j++) bd[j] = ald[j] ? 0 : bk[k++];
  CHECK(ml_sfac_solve(&p->f, ML_LSQ_TOL, al, b) == ML_OK);
  CHECK(memcmp(al, ald, (size_t)P) == 0);
  for (int j = 0; j < P; j++) nal += al[j];
  want = (sp->empty >= 0) + (r >= 1 && !sp->ref) + (sp->dep && r >= 3);
  CHECK(nal == want);
  if (sp->empty >= 0) CHECK(al[sp->empty] && b[sp->empty] == 0);
  if (r >= 1 && !sp->ref) CHECK(al[nb]);
  if (sp->dep && r >= 3) CHECK(al[P - 1]);
  for (int j = 0; j < P; j++) NEAR(b[j], bd[j], 1, 1e-10, coef);
  /* tol < 0: the C columns' flags read, not judged */
  double *b2 = malloc(8 * (size_t)P);
  unsigned char *al2 = malloc((size_t)P);
  memcpy(al2, al, (size_t)P);
  CHECK(ml_sfac_solve(&p->f, -1, al2, b2) == ML_OK);
  CHECK(memcmp(al2, al, (size_t)P) == 0 && memcmp(b2, b, 8 * (size_t)P) == 0);
  free(b2);
  free(al2);
  double rss = design_rss(p, b), wr = W[rank + (size_t)rank * p->N];
  NEAR(ml_sfac_rss(&p->f, b), rss, 0, 1e-10, rss);
  NEAR(ml_sfac_rss(&p->f, b), wr * wr, 0, 1e-10, rss);
  free(bk);
  free(bd);
}

/* The diagonal of (F'F)^-1 against the squared row norms of W^-1. */
static void check_inverse_diag(const ml_sfac *red, const kept *k) {
  int P = red->nb + red->q - 1, rank = k->rank;
  double *Wi = calloc((size_t)rank * rank + 1, 8), *d = malloc(8 * (size_t)P);
  for (int j = 0; j < rank; j++) memcpy(Wi + (size_t)j * rank, k->W + (size_t)j * k->ld, 8 * (size_t)(j + 1));
  if (rank > 0) {
    ml_blas_lock();
    CHECK(LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'U', 'N', rank, Wi, rank) == 0);
    ml_blas_unlock();
  }
  CHECK(ml_sfac_inverse_diag(red, d) == ML_OK);
  for (int i = 0; i < P; i++) {
    if (k->pos[i] < 0) {
      CHECK(isnan(d[i]));
      continue;
    }
    long double s = 0;
    for (int j = k->pos[i]; j < rank; j++) s += (long double)Wi[k->pos[i] + (size_t)j * rank] * Wi[k->pos[i] + (size_t)j * rank];
    NEAR(d[i], (double)s, 0, 1e-9, idiag);
  }
  free(Wi);
  free(d);
}

/* x'(F'F)^-1 x for rows with and without a block value, against ||W^-T x||^2. */
static void check_quad(const ml_sfac *red, const kept *k) {
  int nb = red->nb, rr = red->q - 1;
  double *x = malloc(8 * (size_t)(k->rank + 1)), xc[8], work[8];
  for (int t = 0; t < 12; t++) {
    int l = t % 4 == 0 ? -1 : (int)(unif() * nb);
    double v = 0.5 + unif();
    memset(x, 0, 8 * (size_t)(k->rank + 1));
    if (l >= 0 && k->pos[l] >= 0) x[k->pos[l]] = v;
    for (int j = 0; j < rr; j++) x[k->pos[nb + j]] = xc[j] = 10 * unif() - 5;
    tri_solve(k->W, k->ld, k->rank, 'T', x);
    long double s = 0;
    for (int j = 0; j < k->rank; j++) s += (long double)x[j] * x[j];
    NEAR(ml_sfac_quad(red, l, v, xc, work), (double)s, 0, 1e-9, quad);
  }
  free(x);
}

/* d = (F'F)^-1 g and ||F^-T g||^2 against W^-1 W^-T g. */
static void check_solve_normal(const ml_sfac *red, const kept *k) {
  int P = red->nb + red->q - 1, rank = k->rank;
  double *g = malloc(8 * (size_t)P), *d = malloc(8 * (size_t)P), *dk = calloc((size_t)rank + 1, 8);
  for (int i = 0; i < P; i++) {
    g[i] = 2 * unif() - 1;
    if (k->pos[i] >= 0) dk[k->pos[i]] = g[i];
  }
  double zz, dmax = 0;
  long double s = 0;
  CHECK(ml_sfac_solve_normal(red, g, d, &zz) == ML_OK);
  tri_solve(k->W, k->ld, rank, 'T', dk);
  for (int j = 0; j < rank; j++) s += (long double)dk[j] * dk[j];
  tri_solve(k->W, k->ld, rank, 'N', dk);
  for (int j = 0; j < rank; j++) dmax = fmax(dmax, fabs(dk[j]));
  NEAR(zz, (double)s, 0, 1e-9, zz);
  for (int i = 0; i < P; i++) {
    if (k->pos[i] < 0) CHECK(d[i] == 0);
    else NEAR(d[i], dk[k->pos[i]], dmax, 1e-9, normal);
  }
  /* in place, d = g */
  CHECK(ml_sfac_solve_normal(red, g, g, &zz) == ML_OK);
  CHECK(memcmp(g, d, 8 * (size_t)P) == 0);
  free(g);
  free(d);
  free(dk);
}

/* red as a dense upper triangle over its kept columns (rank square), each column scaled to unit norm. */
static double *dense_scaled(const ml_sfac *red, const kept *k) {
  int nb = red->nb, q = red->q, rank = k->rank;
  double *D = calloc((size_t)rank * rank + 1, 8);
  for (int l = 0; l < nb; l++) {
    if (k->pos[l] < 0) continue;
    const double *g = ml_sfac_row(red, l);
    D[k->pos[l] + (size_t)k->pos[l] * rank] = g[0];
    for (int j = 0; j < q - 1; j++) D[k->pos[l] + (size_t)k->pos[nb + j] * rank] = g[1 + j];
  }
  for (int j = 0; j < q - 1; j++)
    for (int i = 0; i <= j; i++) D[k->pos[nb + i] + (size_t)k->pos[nb + j] * rank] = red->R[i + (size_t)j * q];
  for (int j = 0; j < rank; j++) {
    long double s = 0;
    for (int i = 0; i <= j; i++) s += (long double)D[i + (size_t)j * rank] * D[i + (size_t)j * rank];
    for (int i = 0; i <= j; i++) D[i + (size_t)j * rank] /= (double)sqrtl(s);
  }
  return D;
}

/* The 1-norm of the upper triangle D (n square). */
static double norm1(const double *D, int n) {
  double best = 0;
  for (int j = 0; j < n; j++) {
    double s = 0;
    for (int i = 0; i <= j; i++) s += fabs(D[i + (size_t)j * n]);
    best = fmax(best, s);
  }
  return best;
}

/* The estimate against dtrcon's on the dense scaled factor, and against the exact 1-norm condition. */
static void check_rcond(const ml_sfac *red, const kept *k) {
  int n = k->rank;
  double *D = dense_scaled(red, k), rc, dt = 1;
  CHECK(ml_sfac_rcond(red, &rc) == ML_OK);
  if (n > 0) {
    ml_blas_lock();
    CHECK(LAPACKE_dtrcon(LAPACK_COL_MAJOR, '1', 'U', 'N', n, D, n, &dt) == 0);
    ml_blas_unlock();
  }
  double ratio = rc / dt;
  CHECK(ratio >= 1.0 / 3 && ratio <= 3);
  worst.rc_lo = fmin(worst.rc_lo, ratio);
  worst.rc_hi = fmax(worst.rc_hi, ratio);
  if (n > 0) {
    double a = norm1(D, n);
    ml_blas_lock();
    CHECK(LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'U', 'N', n, D, n) == 0);
    ml_blas_unlock();
    double exact = 1 / (a * norm1(D, n));
    CHECK(rc >= exact * (1 - 1e-9)); /* the estimate of ||F^-1|| is a lower bound */
    worst.exact_hi = fmax(worst.exact_hi, rc / exact);
  }
  free(D);
}

/* The dense factor in a random order against the QR of the design's columns in that order: R'R. */
static void check_dense(const problem *p) {
  int N = p->N, P = N - 1, n = p->n;
  int *perm = malloc(sizeof(int) * (size_t)P);
  double *Ro = malloc(8 * (size_t)N * N), *Rp = malloc(8 * (size_t)N * N);
  double *Ap = malloc(8 * (size_t)n * N);
  for (int j = 0; j < P; j++) perm[j] = j;
  for (int j = P - 1; j > 0; j--) {
    int i = (int)(unif() * (j + 1)), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  CHECK(ml_sfac_dense(&p->f, perm, Ro) == ML_OK);
  for (int j = 0; j < N; j++)
    memcpy(Ap + (size_t)j * n, p->A + (size_t)(j < P ? perm[j] : P) * n, 8 * (size_t)n);
  dense_qr(Ap, n, N, Rp);
  for (int j = 0; j < N; j++)
    for (int i = 0; i < N; i++) {
      if (i > j) {
        CHECK(Ro[i + (size_t)j * N] == 0);
        continue;
      }
      long double go = 0, gp = 0, si = 0, sj = 0;
      for (int k = 0; k <= i; k++) {
        go += (long double)Ro[k + (size_t)i * N] * Ro[k + (size_t)j * N];
        gp += (long double)Rp[k + (size_t)i * N] * Rp[k + (size_t)j * N];
      }
      for (int k = 0; k < N; k++) {
        si += (long double)Rp[k + (size_t)i * N] * Rp[k + (size_t)i * N];
        sj += (long double)Rp[k + (size_t)j * N] * Rp[k + (size_t)j * N];
      }
      NEAR((double)go, (double)gp, fmax((double)sqrtl(si * sj), 1e-300), 1e-12, dense);
    }
  free(perm);
  free(Ro);
  free(Rp);
  free(Ap);
}

/* Where each column of red is among the dense kept columns. */
static int *kept_positions(const ml_sfac *red, const unsigned char *al) {
  int nb = red->nb, P = nb + red->q - 1, *pos = malloc(sizeof(int) * (size_t)P + 1), k = 0;
  for (int l = 0; l < nb; l++) pos[l] = al[l] ? -1 : k++;
  for (int j = nb; j < P; j++) pos[j] = k++;
  return pos;
}

static void check_problem(const spec *sp) {
  problem p;
  build(&p, sp);
  int N = p.N, P = N - 1, rank;
  double *Rd = malloc(8 * (size_t)N * N), *W = malloc(8 * (size_t)N * N), *b = malloc(8 * (size_t)P);
  unsigned char *ald = malloc((size_t)P + 1), *al = malloc((size_t)P + 1);
  dense_qr(p.A, p.n, N, Rd);
  CHECK(ml_lsq_reduce(Rd, N, ML_LSQ_TOL, ald, W, &rank) == ML_OK);
  check_solve(&p, sp, W, rank, ald, al, b);
  ml_sfac red;
  CHECK(ml_sfac_reduce(&p.f, al, &red) == ML_OK);
  int nbk = 0;
  for (int l = 0; l < p.nb; l++) nbk += !al[l];
  CHECK(red.nb == p.nb && red.q == rank - nbk + 1);
  if (red.q != rank - nbk + 1) rank = -1; /* checked above: the rest would index past W */
  kept k = {W, N, rank, kept_positions(&red, al)};
  /* the reduced factor's fit is the fit: the same coefficients, nothing aliased but the empty level */
  double *b2 = malloc(8 * (size_t)(red.nb + red.q));
  unsigned char *al2 = malloc((size_t)(red.nb + red.q));
  CHECK(ml_sfac_solve(&red, ML_LSQ_TOL, al2, b2) == ML_OK);
  for (int i = 0, o = 0; rank >= 0 && i < red.nb + red.q - 1; i++, o++) {
    while (o >= p.nb && al[o]) o++; /* red's column i is column o of f */
    CHECK(al2[i] == al[o]);
    NEAR(b2[i], b[o], 1, 1e-10, coef);
  }
  if (rank >= 0) {
    check_inverse_diag(&red, &k);
    check_quad(&red, &k);
    check_solve_normal(&red, &k);
    check_rcond(&red, &k);
  }
  check_dense(&p);
  free(k.pos);
  free(b2);
  free(al2);
  ml_sfac_free(&red);
  free(Rd);
  free(W);
  free(b);
  free(ald);
  free(al);
  problem_free(&p);
}

/*
** The estimator on factors no design made: random block rows and R, R's
** diagonal spread over decades, so that the iterations run longer.  No zero
** block rows (all columns kept: pos is the identity).
*/
static void random_factors(void) {
  for (int t = 0; t < 300; t++) {
    int nb = 1 + (int)(unif() * 30), q = 1 + (int)(unif() * 8), P = nb + q - 1;
    ml_sfac f;
    CHECK(ml_sfac_init(&f, nb, q) == ML_OK);
    for (int l = 0; l < nb; l++) {
      double *g = ml_sfac_row(&f, l);
      g[0] = pow(10, -3 * unif());
      for (int j = 1; j <= q; j++) g[j] = 2 * unif() - 1;
    }
    for (int j = 0; j < q; j++)
      for (int i = 0; i <= j; i++) f.R[i + j * q] = i == j ? pow(10, -4 * unif()) : 2 * unif() - 1;
    int *pos = malloc(sizeof(int) * (size_t)P + 1);
    for (int i = 0; i < P; i++) pos[i] = i;
    kept k = {NULL, 0, P, pos};
    check_rcond(&f, &k);
    free(pos);
    ml_sfac_free(&f);
  }
}

/* Each allocating function under every allocation failure: ML_NOMEM, nothing leaked; the others allocate nothing. */
static int run_allocating(const problem *p, const ml_sfac *red, int op, unsigned char *al, double *b) {
  ml_sfac t;
  int rc = ML_OK;
  switch (op) {
  case 0:
    rc = ml_sfac_init(&t, p->nb, p->q);
    if (rc) CHECK(!t.S && !t.R && t.nb == 0);
    else ml_sfac_free(&t);
    return rc;
  case 1: return ml_sfac_solve(&p->f, ML_LSQ_TOL, al, b);
  case 2:
    rc = ml_sfac_reduce(&p->f, al, &t);
    if (rc) CHECK(!t.S && !t.R);
    else ml_sfac_free(&t);
    return rc;
  case 3: return ml_sfac_inverse_diag(red, b);
  case 4: return ml_sfac_rcond(red, b);
  default: {
    int *perm = malloc(sizeof(int) * (size_t)p->N), N = p->N;
    double *R = malloc(8 * (size_t)N * N);
    for (int j = 0; j < N - 1; j++) perm[j] = N - 2 - j;
    rc = ml_sfac_dense(&p->f, perm, R);
    free(perm);
    free(R);
    return rc;
  }
  }
}

static void out_of_memory(void) {
  problem p;
  build(&p, &(spec){9, 4, 0, 2, 1, 3});
  unsigned char *al = malloc((size_t)p.N);
  double *b = malloc(8 * (size_t)p.N), work[8], zz;
  ml_sfac red;
  CHECK(ml_sfac_solve(&p.f, ML_LSQ_TOL, al, b) == ML_OK);
  CHECK(ml_sfac_reduce(&p.f, al, &red) == ML_OK);
  long before = mem_in_use();
  for (int op = 0; op < 6; op++) {
    int failed = 0, rc = ML_NOMEM;
    for (long n = 0; n < 60 && rc != ML_OK; n++) {
      mem_fail_after(n);
      rc = run_allocating(&p, &red, op, al, b);
      mem_fail_after(-1);
      CHECK(rc == ML_OK || rc == ML_NOMEM);
      CHECK(mem_in_use() == before);
      failed += rc == ML_NOMEM;
    }
    CHECK(rc == ML_OK && failed > 0);
  }
  mem_fail_after(0); /* from here no allocation may happen */
  CHECK(ml_sfac_solve_normal(&red, b, b, &zz) == ML_OK);
  (void)ml_sfac_quad(&red, 1, 1, b, work);
  (void)ml_sfac_rss(&p.f, b);
  ml_sfac_col_norms(&p.f, b);
  mem_fail_after(-1);
  CHECK(mem_in_use() == before);
  ml_sfac_free(&red);
  free(al);
  free(b);
  problem_free(&p);
}

/*
** Aliasing at the tolerance's edge: a C column whose part orthogonal to the
** ones before it is 1.2e-10 of its norm is kept (ML_LSQ_TOL 1e-10), as
** ml_lsq_reduce keeps it in the dense factor; one at 0.8e-10 is aliased.
** The norm is the column's in F, block rows and R once each.
*/
static void tolerance_edge(void) {
  for (int t = 0; t < 2; t++) {
    double e = t ? 0.8e-10 : 1.2e-10;
    ml_sfac f;
    CHECK(ml_sfac_init(&f, 2, 3) == ML_OK);
    for (int l = 0; l < 2; l++) ml_sfac_row(&f, l)[0] = 1 + l; /* no C entries in the block rows */
    f.R[0] = 1;                                                 /* C column 0 */
    f.R[3] = 1;                                                 /* C column 1: (1, e) */
    f.R[4] = e;
    f.R[6] = 0.5;                                               /* y */
    f.R[7] = 0.25;
    f.R[8] = 1;
    unsigned char al[4], dal[2];
    double b[4], W[9];
    int rank;
    CHECK(ml_sfac_solve(&f, ML_LSQ_TOL, al, b) == ML_OK);
    CHECK(ml_lsq_reduce(f.R, 3, ML_LSQ_TOL, dal, W, &rank) == ML_OK);
    CHECK(al[2] == 0 && al[3] == dal[1] && dal[1] == t);
    ml_sfac_free(&f);
  }
}

void test_sfac(void) {
  tolerance_edge();
  static const spec fixed[] = {
      {7, 1, 1, -1, 0, 3},    /* the intercept and a reference level: nothing aliased */
      {7, 1, 0, -1, 0, 3},    /* every level in the block: the intercept aliased */
      {12, 3, 1, 2, 1, 3},    /* a level without rows, a dependent column */
      {50, 5, 0, 4, 1, 10},   /* all three */
      {20, 0, 0, -1, 0, 0},   /* no C columns */
      {30, 5, 1, -1, 0, 300}, /* columns nearly collinear with the intercept */
  };
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) check_problem(&fixed[i]);
  for (int t = 0; t < 40; t++) {
    int nb = 7 + (int)(unif() * 44);
    spec sp = {nb, 1 + (int)(unif() * 5), unif() < 0.5, unif() < 0.3 ? (int)(unif() * nb) : -1,
               unif() < 0.4, pow(10, 2.5 * unif())};
    check_problem(&sp);
  }
  random_factors();
  out_of_memory();
  printf("sfac: worst relative errors: coef %.1e rss %.1e inverse diag %.1e quad %.1e "
         "solve_normal %.1e (zz %.1e) dense R'R %.1e; rcond / dtrcon in [%.15g, %.15g], "
         "rcond / exact <= %.3f\n",
         worst.coef, worst.rss, worst.idiag, worst.quad, worst.normal, worst.zz, worst.dense,
         worst.rc_lo, worst.rc_hi, worst.exact_hi);
}
