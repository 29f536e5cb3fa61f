/*
** sfac.c: a factor kept with its diagonal block.  See sfac.h.
**
** Nothing here forms the dense (nb + q)^2 factor but ml_sfac_dense, whose
** job it is: a solve with F is one with R's leading r x r triangle R_rr and
** a pass over the block rows.  Sums run in long double: each is a short dot
** product, and the wider type costs nothing next to the reads of S.
*/
#include <math.h>
#include <string.h>

#include "lsq.h"
#include "sfac.h"

/*
** C columns summed over the block rows in one pass over S: a million levels
** are tens of megabytes, read once for up to this many columns rather than
** once a column.
*/
#define CHUNK 8

int ml_sfac_init(ml_sfac *s, int nb, int q) {
  memset(s, 0, sizeof *s);
  s->nb = nb;
  s->q = q;
  s->S = ml_calloc(8 * (uint64_t)nb * (uint64_t)(q + 1));
  s->R = ml_calloc(8 * (uint64_t)q * (uint64_t)q);
  if (!s->S || !s->R) {
    ml_sfac_free(s);
    return ML_NOMEM;
  }
  return ML_OK;
}

void ml_sfac_free(ml_sfac *s) {
  ml_free(s->S);
  ml_free(s->R);
  memset(s, 0, sizeof *s);
}

/* R's entry (i, j). */
static double rij(const ml_sfac *s, int i, int j) { return s->R[i + (int64_t)j * s->q]; }

/* sum_j g[j] x[j] over j < n, in long double. */
static long double dot(const double *g, const double *x, int n) {
  long double t = 0;
  for (int j = 0; j < n; j++) t += (long double)g[j] * x[j];
  return t;
}

/* What column_sums adds up over the block rows for C column j. */
enum { MINUS_GU, PLUS_G2, PLUS_ABS_G };

/*
** out[j] (r C columns) gains -G_l[j] u_l, G_l[j]^2 or |G_l[j]| summed over
** the block rows: CHUNK columns a pass over S in long double, each out[j]
** rounded once.
*/
static void column_sums(const ml_sfac *s, int how, const double *u, double *out) {
  int r = s->q - 1;
  for (int j0 = 0; j0 < r; j0 += CHUNK) {
    int nj = r - j0 < CHUNK ? r - j0 : CHUNK;
    long double acc[CHUNK];
    for (int k = 0; k < nj; k++) acc[k] = out[j0 + k];
    for (int l = 0; l < s->nb; l++) {
      const double *g = ml_sfac_row(s, l) + 1 + j0;
      for (int k = 0; k < nj; k++) {
        long double t = g[k];
        acc[k] += how == MINUS_GU ? -t * u[l] : how == PLUS_G2 ? t * t : fabsl(t);
      }
    }
    for (int k = 0; k < nj; k++) out[j0 + k] = (double)acc[k];
  }
}

/* The squared norms of the r C columns' block rows, into h2. */
static void block_norms2(const ml_sfac *s, double *h2) {
  memset(h2, 0, 8 * (size_t)(s->q - 1));
  column_sums(s, PLUS_G2, NULL, h2);
}

/* The norms of F's r C columns, over the block rows and R, into c. */
static void c_norms(const ml_sfac *s, double *c) {
  int r = s->q - 1;
  block_norms2(s, c);
  for (int j = 0; j < r; j++) {
    const double *col = s->R + (int64_t)j * s->q;
    c[j] = (double)sqrtl(c[j] + dot(col, col, j + 1));
  }
}

void ml_sfac_col_norms(const ml_sfac *s, double *c) {
  for (int l = 0; l < s->nb; l++) c[l] = fabs(ml_sfac_row(s, l)[0]);
  c_norms(s, c + s->nb);
}

/* ---- aliasing and coefficients ---- */

/*
** ml_lsq_reduce on the C columns and y, with each C column judged as in the
** dense factor with the block first.  There a C column's norm takes in its
** block rows, which deleting a C column leaves alone (the re-triangularizing
** starts below them: only that entry goes).  So the same rule runs on R
** bordered by a row and a column, A = [1 h; 0 R], h_j the norm of C column
** j's block rows: the border column (norm 1) is kept whatever tol < 1, its
** row is never rotated, and column j's norm in A is sqrt(h_j^2 + its norm in
** what is left of R), the dense one.  al: q entries, the border's then the
** r C columns' (read when tol < 0, as ml_lsq_reduce reads them); W: (q + 1)^2,
** leading dimension q + 1, row and column 0 the border's, then the reduced R
** (*kept C columns and y).
*/
static int reduce_bordered(const ml_sfac *s, double tol, unsigned char *al, double *W, int *kept) {
  int q = s->q, m = q + 1, rank = 0;
  double *A = ml_calloc(8 * (uint64_t)m * (uint64_t)m);
  if (!A) return ML_NOMEM;
  A[0] = 1;
  block_norms2(s, W); /* W is scratch until ml_lsq_reduce writes it */
  for (int j = 0; j < q - 1; j++) A[(int64_t)(1 + j) * m] = sqrt(W[j]);
  for (int j = 0; j < q; j++)
    memcpy(A + 1 + (int64_t)(1 + j) * m, s->R + (int64_t)j * q, 8 * (size_t)(j + 1));
  al[0] = 0;
  int rc = ml_lsq_reduce(A, m, tol, al, W, &rank);
  ml_free(A);
  *kept = rank - 1;
  return rc;
}

/* b_l = (G_l[y] - G_l[C] . b_C) / a_l (an aliased C column has b 0), and aliased[l]: a_l = 0. */
static void block_coefs(const ml_sfac *s, unsigned char *aliased, double *b) {
  int nb = s->nb, r = s->q - 1;
  for (int l = 0; l < nb; l++) {
    const double *g = ml_sfac_row(s, l);
    aliased[l] = g[0] == 0;
    b[l] = g[0] == 0 ? 0 : (double)((g[1 + r] - dot(g + 1, b + nb, r)) / g[0]);
  }
}

int ml_sfac_solve(const ml_sfac *s, double tol, unsigned char *aliased, double *b) {
  int nb = s->nb, q = s->q, r = q - 1, m = q + 1, kept = 0;
  double *W = ml_malloc(8 * (uint64_t)m * (uint64_t)m);
  unsigned char *al = ml_malloc((uint64_t)q);
  int rc = ML_NOMEM;
  if (W && al) {
    if (tol < 0) memcpy(al + 1, aliased + nb, (size_t)r);
    rc = reduce_bordered(s, tol, al, W, &kept);
  }
  /* The kept C coefficients, by back-substitution on the reduced R (past the border). */
  if (!rc) rc = ml_lsq_coef(W + 1 + m, m, kept, b + nb);
  if (!rc) {
    /* b[nb..nb + kept) in order: spread over the r columns from the last,
    ** so that none is overwritten before it is read */
    for (int j = r - 1, k = kept; j >= 0; j--) {
      aliased[nb + j] = al[1 + j];
      b[nb + j] = al[1 + j] ? 0 : b[nb + --k];
    }
    block_coefs(s, aliased, b);
  }
  ml_free(W);
  ml_free(al);
  return rc;
}

double ml_sfac_rss(const ml_sfac *s, const double *b) {
  int nb = s->nb, q = s->q, r = q - 1;
  const double *bc = b + nb;
  long double ss = 0;
  for (int l = 0; l < nb; l++) {
    const double *g = ml_sfac_row(s, l);
    long double e = (long double)g[0] * b[l] + dot(g + 1, bc, r) - g[1 + r];
    ss += e * e;
  }
  for (int i = 0; i < q; i++) {
    long double e = -(long double)rij(s, i, r);
    for (int j = i; j < r; j++) e += (long double)rij(s, i, j) * bc[j];
    ss += e * e;
  }
  return (double)ss;
}

/* The block rows of s into out, without the C columns marked; a marked block column's row stays zero. */
static void copy_block_rows(const ml_sfac *s, const unsigned char *aliased, ml_sfac *out) {
  int nb = s->nb, r = s->q - 1;
  for (int l = 0; l < nb; l++) {
    if (aliased[l]) continue;
    const double *g = ml_sfac_row(s, l);
    double *h = ml_sfac_row(out, l);
    int k = 1;
    h[0] = g[0];
    for (int j = 0; j < r; j++)
      if (!aliased[nb + j]) h[k++] = g[1 + j];
    h[k] = g[1 + r];
  }
}

int ml_sfac_reduce(const ml_sfac *s, const unsigned char *aliased, ml_sfac *out) {
  int nb = s->nb, q = s->q, m = q + 1, kept = 0;
  memset(out, 0, sizeof *out);
  double *W = ml_malloc(8 * (uint64_t)m * (uint64_t)m);
  unsigned char *al = ml_malloc((uint64_t)q);
  int rc = ML_NOMEM;
  if (W && al) {
    memcpy(al + 1, aliased + nb, (size_t)(q - 1));
    rc = reduce_bordered(s, -1, al, W, &kept);
  }
  if (!rc) rc = ml_sfac_init(out, nb, kept + 1);
  if (!rc) {
    copy_block_rows(s, aliased, out);
    for (int j = 0; j <= kept; j++)
      for (int i = 0; i <= j; i++) out->R[i + (int64_t)j * (kept + 1)] = W[1 + i + (int64_t)(1 + j) * m];
  }
  ml_free(W);
  ml_free(al);
  return rc;
}

/* ---- solves with F (full rank over its kept columns) ---- */

/* w <- R_rr^-T w: forward substitution down R's columns.  Returns ||w||^2. */
static long double solve_rt(const ml_sfac *s, double *w) {
  int r = s->q - 1;
  long double ss = 0;
  for (int i = 0; i < r; i++) {
    const double *col = s->R + (int64_t)i * s->q;
    long double t = (w[i] - dot(col, w, i)) / col[i];
    w[i] = (double)t;
    ss += t * t;
  }
  return ss;
}

/* d <- R_rr^-1 d: back-substitution. */
static void solve_r(const ml_sfac *s, double *d) {
  int r = s->q - 1;
  for (int i = r - 1; i >= 0; i--) {
    long double t = d[i];
    for (int k = i + 1; k < r; k++) t -= (long double)rij(s, i, k) * d[k];
    d[i] = (double)(t / rij(s, i, i));
  }
}

/*
** x <- F^-T x over the nb + r columns: z_l = x_l / a_l, then
** R_rr' z_C = x_C - sum_l G_l[C]' z_l.  A zero block row gives 0.  Returns ||z||^2.
*/
static long double solve_ft(const ml_sfac *s, double *x) {
  int nb = s->nb;
  long double ss = 0;
  for (int l = 0; l < nb; l++) {
    double a = ml_sfac_row(s, l)[0];
    x[l] = a == 0 ? 0 : x[l] / a;
    ss += (long double)x[l] * x[l];
  }
  column_sums(s, MINUS_GU, x, x + nb);
  return ss + solve_rt(s, x + nb);
}

/* x <- F^-1 x: R_rr d_C = x_C, then d_l = (x_l - G_l[C] . d_C) / a_l (0 for a zero block row). */
static void solve_f(const ml_sfac *s, double *x) {
  int nb = s->nb, r = s->q - 1;
  solve_r(s, x + nb);
  for (int l = 0; l < nb; l++) {
    const double *g = ml_sfac_row(s, l);
    x[l] = g[0] == 0 ? 0 : (double)((x[l] - dot(g + 1, x + nb, r)) / g[0]);
  }
}

int ml_sfac_solve_normal(const ml_sfac *s, const double *g, double *d, double *zz) {
  if (d != g) memcpy(d, g, 8 * (size_t)(s->nb + s->q - 1));
  *zz = (double)solve_ft(s, d);
  solve_f(s, d);
  return ML_OK;
}

/*
** Row l of F^-1 is [e_l, -G_l[C] R_rr^-1] / a_l and row i of R_rr^-1 is
** (R_rr^-T e_i)': the diagonal of F^-1 F^-T is their squared norms.
*/
int ml_sfac_inverse_diag(const ml_sfac *s, double *d) {
  int nb = s->nb, r = s->q - 1;
  double *w = ml_malloc(8 * (uint64_t)r);
  if (!w) return ML_NOMEM;
  for (int l = 0; l < nb; l++) {
    const double *g = ml_sfac_row(s, l);
    memcpy(w, g + 1, 8 * (size_t)r);
    d[l] = g[0] == 0 ? NAN : (double)((1 + solve_rt(s, w)) / ((long double)g[0] * g[0]));
  }
  for (int i = 0; i < r; i++) {
    memset(w, 0, 8 * (size_t)r);
    w[i] = 1;
    d[nb + i] = (double)solve_rt(s, w);
  }
  ml_free(w);
  return ML_OK;
}

/* ||F^-T x||^2 with x the row over F's columns: z_l = v / a_l, then R_rr' z_C = x_C - G_l[C]' z_l. */
double ml_sfac_quad(const ml_sfac *s, int l, double v, const double *xc, double *work) {
  int r = s->q - 1;
  const double *g = l >= 0 ? ml_sfac_row(s, l) : NULL;
  double z = g && g[0] != 0 ? v / g[0] : 0;
  for (int j = 0; j < r; j++) work[j] = z == 0 ? xc[j] : (double)(xc[j] - (long double)g[1 + j] * z);
  return (double)((long double)z * z + solve_rt(s, work));
}

/* ---- the condition estimate ---- */

static double asum(const double *x, int n) {
  long double t = 0;
  for (int i = 0; i < n; i++) t += fabs(x[i]);
  return (double)t;
}

/* The first index of the largest |x_i|, as BLAS's idamax. */
static int iamax(const double *x, int n) {
  int k = 0;
  for (int i = 1; i < n; i++)
    if (fabs(x[i]) > fabs(x[k])) k = i;
  return k;
}

/* x <- sign(x) (0 counts as +), recorded in sgn; returns whether sgn was that already. */
static int take_signs(double *x, double *sgn, int n) {
  int same = 1;
  for (int i = 0; i < n; i++) {
    double t = x[i] >= 0 ? 1 : -1;
    same &= t == sgn[i];
    x[i] = sgn[i] = t;
  }
  return same;
}

typedef void apply_fn(void *ctx, int trans, double *x);

/*
** A lower bound of ||A||_1, A n x n given by apply (x <- A x, or A'x with
** trans), by Hager's method with Higham's refinements exactly as LAPACK's
** dlacn2 runs it (dtrcon's estimator, so that the two agree): from x = 1/n,
** up to 5 steps of x <- sign(A x), e_j with j = argmax |A'x|, until the
** signs repeat or the estimate stops growing; then Higham's alternating
** vector, 2 ||A x||_1 / 3n, where that is larger.  x, sgn: n scratch each.
*/
static double norm1_estimate(int n, apply_fn *apply, void *ctx, double *x, double *sgn) {
  for (int i = 0; i < n; i++) x[i] = 1.0 / n;
  apply(ctx, 0, x);
  if (n == 1) return fabs(x[0]);
  double est = asum(x, n);
  for (int i = 0; i < n; i++) sgn[i] = 0;
  take_signs(x, sgn, n);
  apply(ctx, 1, x);
  int j = iamax(x, n);
  for (int iter = 2;; iter++) {
    memset(x, 0, 8 * (size_t)n);
    x[j] = 1;
    apply(ctx, 0, x);
    double old = est;
    est = asum(x, n); /* kept even when smaller, as dlacn2 does */
    if (take_signs(x, sgn, n) || est <= old) break;
    apply(ctx, 1, x);
    int last = j;
    j = iamax(x, n);
    if (x[last] == fabs(x[j]) || iter >= 5) break;
  }
  for (int i = 0; i < n; i++) x[i] = (i % 2 ? -1 : 1) * (1 + (double)i / (n - 1));
  apply(ctx, 0, x);
  double alt = 2 * asum(x, n) / (3.0 * n);
  return alt > est ? alt : est;
}

/* F_s = F D^-1 over the kept columns (those of nonzero norm c_i), for the estimator. */
typedef struct scaled {
  const ml_sfac *s;
  const double *c; /* nb + r column norms */
  double *full;    /* nb + r scratch */
} scaled;

/* x <- F_s^-1 x = D F^-1 x, or F_s^-T x = F^-T D x; x over the kept columns only. */
static void apply_scaled(void *ctx, int trans, double *x) {
  const scaled *f = ctx;
  int N = f->s->nb + f->s->q - 1;
  for (int i = 0, k = 0; i < N; i++) f->full[i] = f->c[i] == 0 ? 0 : x[k++] * (trans ? f->c[i] : 1);
  if (trans) solve_ft(f->s, f->full);
  else solve_f(f->s, f->full);
  for (int i = 0, k = 0; i < N; i++)
    if (f->c[i] != 0) x[k++] = f->full[i] * (trans ? 1 : f->c[i]);
}

/*
** ||F_s||_1 exactly: a kept block column scales to e_l (1), a C column's
** absolute sum is over its block rows and R.  0 when R_rr is singular (a
** zero C column among them).  sums: r scratch.
*/
static double scaled_norm1(const ml_sfac *s, const double *c, double *sums) {
  int nb = s->nb, r = s->q - 1;
  double best = 0;
  for (int l = 0; l < nb; l++)
    if (c[l] != 0) best = 1;
  memset(sums, 0, 8 * (size_t)r);
  column_sums(s, PLUS_ABS_G, NULL, sums);
  for (int j = 0; j < r; j++) {
    if (rij(s, j, j) == 0) return 0;
    double t = (double)(sums[j] + asum(s->R + (int64_t)j * s->q, j + 1)) / c[nb + j];
    if (t > best) best = t;
  }
  return best;
}

int ml_sfac_rcond(const ml_sfac *s, double *rcond) {
  int N = s->nb + s->q - 1, n = 0;
  double *buf = ml_malloc(8 * 4 * (uint64_t)N);
  if (!buf) return ML_NOMEM;
  double *c = buf, *full = c + N, *x = full + N, *sgn = x + N;
  ml_sfac_col_norms(s, c);
  for (int i = 0; i < N; i++) n += c[i] != 0;
  double anorm = scaled_norm1(s, c, full);
  *rcond = n == 0 ? 1 : 0; /* dtrcon's answer for an empty matrix */
  if (anorm > 0) {
    scaled f = {s, c, full};
    double inv = norm1_estimate(n, apply_scaled, &f, x, sgn);
    *rcond = inv > 0 && isfinite(inv) ? 1 / anorm / inv : 0;
  }
  ml_free(buf);
  return ML_OK;
}

/* ---- the dense factor ---- */

/*
** The QR of F's columns in perm's order is lsq.c's transform of a factor
** with a block by a permutation T.  An accumulator with no rows waiting is
** this very layout (group rows of stride q + 1, a_l first; R q x q), so
** s is lent to ml_lsq_transform_acc as one: a permutation is sparse, and it
** builds F T column by column from the two parts, never the dense F nor a
** product by it.
*/
int ml_sfac_dense(const ml_sfac *s, const int *perm, double *Rout) {
  int64_t N = (int64_t)s->nb + s->q;
  double *T = ml_calloc(8 * (uint64_t)(N * N));
  if (!T) return ML_NOMEM;
  for (int64_t j = 0; j < N - 1; j++) T[perm[j] + j * N] = 1;
  T[N * N - 1] = 1;
  ml_lsq view = {.p = s->q - 1, .m = s->q, .R = s->R, .nblk = s->nb, .blkcap = s->nb, .G = s->S};
  int rc = ml_lsq_transform_acc(&view, T, (int)N, Rout);
  ml_free(T);
  return rc;
}
