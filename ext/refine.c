/*
** refine.c: refinement and robust covariance passes.  See refine.h.
*/
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "blas_lock.h"
#include "refine.h"

int ml_refiner_init(ml_refiner *r, int p) {
  r->p = p;
  r->mem = ml_malloc(sizeof(long double) * (uint64_t)(p + 2));
  if (!r->mem) return ML_NOMEM;
  r->g = (long double *)(((uintptr_t)r->mem + 15) & ~(uintptr_t)15);
  memset(r->g, 0, sizeof(long double) * (size_t)(p + 1));
  return ML_OK;
}

void ml_refiner_free(ml_refiner *r) {
  ml_free(r->mem);
  memset(r, 0, sizeof *r);
}

/* A row of a model kept with its block: the terms outside it, and blk. */
static void add_blocked(ml_refiner *r, const ml_model *m, const double *x, int blk, double y,
                        double sw) {
  long double e = ((long double)y - ml_model_dot(m, x, blk)) * sw;
  int from = m->bstart, to = m->bstart + m->fac->nb;
  for (int j = 0; j < from; j++) r->g[j] += e * (sw * x[j]);
  for (int j = to; j < m->p; j++) r->g[j] += e * (sw * x[j]);
  if (blk >= 0) r->g[blk] += e * sw;
  r->g[m->p] += e * e;
}

void ml_refiner_add(ml_refiner *r, const ml_model *m, const double *x, int blk, double y,
                    double sw) {
  if (m->fac) {
    add_blocked(r, m, x, blk, y, sw);
    return;
  }
  /* Over the nonzeros only (the same sums): a row of a feature of many
  ** levels is mostly zeros.  Their indices without a branch, then the sums. */
  int nz[ML_MAX_TERMS], k = 0;
  for (int j = 0; j < m->p; j++) {
    nz[k] = j;
    k += x[j] != 0;
  }
  long double e = y;
  for (int i = 0; i < k; i++) e -= (long double)m->beta[nz[i]] * x[nz[i]];
  e *= sw;
  for (int i = 0; i < k; i++) r->g[nz[i]] += e * (sw * x[nz[i]]);
  r->g[m->p] += e * e;
}

/*
** The step for a model kept with its block: d = (F'F)^-1 X'r over the
** kept columns of its factor F (ml_sfac_solve_normal), by term into d
** (0 where aliased); *gd = d'X'r.
*/
static int step_blocked(const ml_refiner *r, const ml_model *m, double *d, long double *gd) {
  int p = m->p, nb = m->fac->nb;
  double *g = ml_malloc(8 * (uint64_t)p), *dk = ml_malloc(8 * (uint64_t)p);
  int *col = ml_malloc(sizeof(int) * (uint64_t)p);
  ml_sfac w = {0};
  int rc = g && dk && col ? ML_OK : ML_NOMEM;
  /* Columns of the reduced factor: the block's, then the kept others. */
  for (int j = 0, k = nb; !rc && j < p; j++) {
    int c = ml_model_fac_col(m, j);
    col[j] = c < nb ? c : m->aliased[j] ? -1 : k++;
    if (col[j] >= 0) g[col[j]] = (double)r->g[j];
  }
  double zz = 0;
  if (!rc) rc = ml_model_reduced_fac(m, &w);
  if (!rc) rc = ml_sfac_solve_normal(&w, g, dk, &zz);
  *gd = 0;
  for (int j = 0; !rc && j < p; j++) {
    d[j] = col[j] >= 0 ? dk[col[j]] : 0;
    *gd += (long double)d[j] * r->g[j];
  }
  ml_sfac_free(&w);
  ml_free(g);
  ml_free(dk);
  ml_free(col);
  return rc;
}

static int apply_blocked(ml_refiner *r, ml_model *m) {
  double *d = ml_malloc(8 * (uint64_t)m->p);
  long double gd = 0;
  int rc = d ? step_blocked(r, m, d, &gd) : ML_NOMEM;
  if (!rc) {
    /* ||r - X d||^2 = r'r - 2 d'X'r + d'(X'X)d, and (X'X)d = X'r. */
    long double rss = r->g[m->p] - gd;
    for (int j = 0; j < m->p; j++) m->beta[j] += d[j];
    m->rss = rss > 0 ? (double)rss : 0;
    m->flags |= ML_MODEL_REFINED;
  }
  ml_free(d);
  return rc;
}

int ml_refiner_apply(ml_refiner *r, ml_model *m) {
  if (m->fac) return apply_blocked(r, m);
  int q = m->p + 1, rank, rc;
  double *W = ml_malloc(8 * (uint64_t)q * (uint64_t)q), *d = ml_malloc(8 * (uint64_t)q);
  rc = ML_NOMEM;
  if (!W || !d) goto out;
  rc = ml_lsq_reduce(m->R, q, -1, m->aliased, W, &rank);
  if (rc) goto out;
  /* d = (W'W)^-1 g over the kept columns: two triangular solves. */
  for (int j = 0, k = 0; j < m->p; j++)
    if (!m->aliased[j]) d[k++] = (double)r->g[j];
  rc = ML_ELAPACK;
  int bad = 0;
  if (rank > 0) {
    ml_blas_lock();
    bad = LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'T', 'N', rank, 1, W, q, d, rank) < 0 ||
          LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'N', 'N', rank, 1, W, q, d, rank) < 0;
    ml_blas_unlock();
  }
  if (bad) goto out;
  /* ||r - X d||^2 = r'r - 2 d'X'r + ||W d||^2, all in long double. */
  long double rss = r->g[m->p], wd2 = 0;
  for (int j = 0, k = 0; j < m->p; j++)
    if (!m->aliased[j]) rss -= 2 * (long double)d[k++] * r->g[j];
  for (int i = 0; i < rank; i++) {
    long double wi = 0;
    for (int j = i; j < rank; j++) wi += (long double)W[i + (int64_t)j * q] * d[j];
    wd2 += wi * wi;
  }
  rss += wd2;
  for (int j = 0, k = 0; j < m->p; j++)
    if (!m->aliased[j]) m->beta[j] += d[k++];
  m->rss = rss > 0 ? (double)rss : 0;
  m->flags |= ML_MODEL_REFINED;
  rc = ML_OK;
out:
  ml_free(W);
  ml_free(d);
  return rc;
}

int ml_hcacc_init(ml_hcacc *h, const ml_model *m) {
  memset(h, 0, sizeof *h);
  h->type = m->robust;
  h->q = m->p + 1;
  unsigned char *al = ml_malloc((uint64_t)m->p);
  h->W = ml_malloc(8 * (uint64_t)h->q * (uint64_t)h->q);
  h->u = ml_malloc(8 * (uint64_t)h->q);
  int rc = ML_NOMEM;
  if (al && h->W && h->u) {
    memcpy(al, m->aliased, (size_t)m->p);
    rc = ml_lsq_reduce(m->R, h->q, -1, al, h->W, &h->r);
  }
  /* The meat's factor: r columns, the last one in the accumulator's y slot. */
  if (!rc && h->r > 0) rc = ml_lsq_init(&h->S, h->r - 1);
  ml_free(al);
  if (rc) ml_hcacc_free(h);
  return rc;
}

void ml_hcacc_free(ml_hcacc *h) {
  ml_free(h->W);
  ml_free(h->u);
  ml_lsq_free(&h->S);
  memset(h, 0, sizeof *h);
}

int ml_hcacc_add(ml_hcacc *h, const ml_model *m, const double *x, double y, double sw) {
  if (h->r == 0) return ML_OK;
  double e = y;
  for (int j = 0, k = 0; j < m->p; j++) {
    e -= m->beta[j] * x[j];
    if (!m->aliased[j]) h->u[k++] = sw * x[j];
  }
  e *= sw;
  ml_blas_lock();
  cblas_dtrsv(CblasColMajor, CblasUpper, CblasTrans, CblasNonUnit, h->r, h->W, h->q, h->u, 1);
  ml_blas_unlock();
  double lev = 0;
  for (int k = 0; k < h->r; k++) lev += h->u[k] * h->u[k];
  double w = e * e;
  if (h->type == ML_ROBUST_HC2) w /= 1 - lev;
  else if (h->type == ML_ROBUST_HC3) w /= (1 - lev) * (1 - lev);
  double s = sqrt(w);
  for (int k = 0; k < h->r; k++) ml_lsq_put(&h->S, k, s * h->u[k]);
  return ml_lsq_commit(&h->S);
}

int ml_hcacc_finish(ml_hcacc *h, ml_model *m) {
  int p = m->p, r = h->r, rc = ml_lsq_fold(&h->S);
  if (rc) return rc;
  double *cov = ml_malloc(8 * (uint64_t)(r ? r : 1) * (uint64_t)(r ? r : 1));
  double *hc = ml_malloc(8 * (uint64_t)p * (uint64_t)p);
  if (!cov || !hc) {
    ml_free(cov);
    ml_free(hc);
    return ML_NOMEM;
  }
  rc = ml_lsq_sandwich(h->W, h->q, r, h->S.R, r, cov);
  if (!rc) {
    double scale = h->type == ML_ROBUST_HC1 && m->n > r ? (double)m->n / (double)(m->n - r) : 1;
    for (int j = 0, kj = 0; j < p; j++) {
      for (int i = 0, ki = 0; i < p; i++) {
        int in = !m->aliased[i] && !m->aliased[j];
        hc[i + (int64_t)j * p] = in ? scale * cov[ki + (int64_t)kj * r] : NAN;
        if (!m->aliased[i]) ki++;
      }
      if (!m->aliased[j]) kj++;
    }
    ml_free(m->hc);
    m->hc = hc;
    hc = NULL;
  }
  ml_free(cov);
  ml_free(hc);
  return rc;
}
