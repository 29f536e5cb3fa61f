/*
** model_block.c: a model whose factor keeps one feature's levels as its
** diagonal block (sfac.h): its coefficients, residuals and intervals in
** O(levels q^2), and its dense factor for what needs one.  See model.h.
*/
#include <math.h>
#include <string.h>

#include "lsq.h"
#include "model.h"

/* Terms in the block-first order of m->fac: perm[j] is term j's column. */
static int *fac_order(const ml_model *m) {
  int *perm = ml_malloc(sizeof(int) * (uint64_t)m->p);
  for (int j = 0; perm && j < m->p; j++) perm[j] = ml_model_fac_col(m, j);
  return perm;
}

int ml_model_reduced_fac(const ml_model *m, ml_sfac *out) {
  memset(out, 0, sizeof *out);
  unsigned char *al = ml_malloc((uint64_t)m->p);
  if (!al) return ML_NOMEM;
  for (int j = 0; j < m->p; j++) al[ml_model_fac_col(m, j)] = m->aliased[j];
  int rc = ml_sfac_reduce(m->fac, al, out);
  ml_free(al);
  return rc;
}

int ml_model_solve_blocked(ml_model *m) {
  if (m->l2 > 0) return ML_EINPUT; /* a ridge fit is not kept with a block */
  unsigned char *al = ml_malloc((uint64_t)m->p);
  double *b = ml_malloc(8 * (uint64_t)m->p);
  int rc = al && b ? ml_sfac_solve(m->fac, m->tol, al, b) : ML_NOMEM;
  for (int j = 0; !rc && j < m->p; j++) {
    int c = ml_model_fac_col(m, j);
    m->aliased[j] = al[c];
    m->beta[j] = b[c];
  }
  ml_free(al);
  ml_free(b);
  return rc;
}

int ml_model_rss(const ml_model *m, int test, double *rss) {
  const ml_sfac *f = test ? m->test_fac : m->fac;
  const double *R = test ? m->test_R : m->R;
  if (!f) {
    *rss = R ? ml_factor_rss(R, m->p, m->beta) : NAN;
    return ML_OK;
  }
  double *b = ml_malloc(8 * (uint64_t)m->p);
  if (!b) return ML_NOMEM;
  for (int j = 0; j < m->p; j++) b[ml_model_fac_col(m, j)] = m->beta[j];
  *rss = ml_sfac_rss(f, b);
  ml_free(b);
  return ML_OK;
}

long double ml_model_dot(const ml_model *m, const double *x, int blk) {
  long double s = 0;
  int from = m->fac ? m->bstart : m->p, to = m->fac ? m->bstart + m->fac->nb : m->p;
  for (int j = 0; j < from; j++) s += (long double)m->beta[j] * x[j];
  for (int j = to; j < m->p; j++) s += (long double)m->beta[j] * x[j];
  if (blk >= 0) s += m->beta[blk];
  return s;
}

double ml_model_linear(const ml_model *m, const double *x, int blk) {
  if (m->fac) return (double)ml_model_dot(m, x, blk); /* O(terms outside the block) */
  double s = 0;
  for (int j = 0; j < m->p; j++) s += m->beta[j] * x[j];
  return s;
}

long double ml_model_residual(const ml_model *m, const double *x, int blk, double y) {
  long double e = y;
  if (m->fac) return e - ml_model_dot(m, x, blk);
  for (int j = 0; j < m->p; j++) e -= (long double)m->beta[j] * x[j];
  return e;
}

int ml_model_dense_factor(const ml_model *m, int test, double **R) {
  const ml_sfac *f = test ? m->test_fac : m->fac;
  int64_t q = m->p + 1;
  *R = NULL;
  if (m->p > ML_MAX_TERMS) return ML_EINPUT;
  int *perm = fac_order(m);
  double *D = perm ? ml_malloc(8 * (uint64_t)(q * q)) : NULL;
  int rc = D ? ml_sfac_dense(f, perm, D) : ML_NOMEM;
  ml_free(perm);
  if (rc) ml_free(D);
  else *R = D;
  return rc;
}

int ml_model_densify(ml_model *m) {
  if (!m->fac || m->R) return ML_OK;
  int rc = ml_model_dense_factor(m, 0, &m->R);
  if (!rc && m->test_fac && !m->test_R) rc = ml_model_dense_factor(m, 1, &m->test_R);
  return rc;
}

void ml_model_drop_block(ml_model *m) {
  ml_sfac *f[3] = {m->fac, m->test_fac, m->Wfac};
  for (int i = 0; i < 3; i++) {
    if (f[i]) ml_sfac_free(f[i]);
    ml_free(f[i]);
  }
  m->fac = m->test_fac = m->Wfac = NULL;
  m->bfeat = -1;
}

int ml_model_unblock(ml_model *m) {
  int rc = ml_model_densify(m);
  if (!rc) ml_model_drop_block(m);
  return rc;
}

int ml_model_prepare_blocked(ml_model *m) {
  ml_sfac *w = ml_calloc(sizeof *w);
  int rc = w ? ml_model_reduced_fac(m, w) : ML_NOMEM;
  if (rc) {
    if (w) ml_sfac_free(w);
    ml_free(w);
    return rc;
  }
  int q = w->q, kept = w->nb;
  for (int l = 0; l < w->nb; l++) kept -= ml_sfac_row(w, l)[0] == 0;
  m->rank = kept + q - 1;
  double ry = w->R[(q - 1) + (int64_t)(q - 1) * q];
  double rss = isnan(m->rss) ? ry * ry : m->rss;
  m->df_resid = (double)(m->n - m->rank);
  m->sigma = m->df_resid > 0 ? sqrt(rss / m->df_resid) : NAN;
  m->Wfac = w;
  return ML_OK;
}

int ml_model_interval_norm(const ml_model *m, const double *x, int blk, double *work,
                           double *norm) {
  const ml_sfac *w = m->Wfac;
  int nb = m->fac->nb, k = 0;
  for (int j = 0; j < m->p; j++) {
    if (j == m->bstart) j += nb;
    if (j >= m->p) break;
    if (!m->aliased[j]) work[k++] = x[j];
  }
  double qf = ml_sfac_quad(w, blk >= 0 ? blk - m->bstart : -1, 1, work, work + k);
  *norm = sqrt(qf > 0 ? qf : 0);
  return ML_OK;
}

/*
** The total sum of squares of the factor's y column: about the mean with an
** intercept (one Gram-Schmidt step against its column, each residual summed
** in long double: no cancellation of y'y against the mean's share), about 0
** without.  The intercept is term 0, so F's first column after the block.
*/
static double blocked_tss(const ml_model *m, const ml_sfac *f) {
  int q = f->q, y = q - 1, ic = (m->flags & ML_MODEL_INTERCEPT) != 0;
  long double nn = 0, s = 0, tss = 0, c = 0;
  for (int l = 0; ic && l < f->nb; l++) {
    const double *g = ml_sfac_row(f, l) + 1;
    nn += (long double)g[0] * g[0];
    s += (long double)g[0] * g[y];
  }
  if (ic) {
    nn += (long double)f->R[0] * f->R[0];
    s += (long double)f->R[0] * f->R[(int64_t)y * q];
    c = nn > 0 ? s / nn : 0;
  }
  for (int l = 0; l < f->nb; l++) {
    const double *g = ml_sfac_row(f, l) + 1;
    long double e = g[y] - c * (ic ? g[0] : 0);
    tss += e * e;
  }
  for (int i = 0; i <= y; i++) {
    long double e = f->R[i + (int64_t)y * q] - (i == 0 ? c * (ic ? f->R[0] : 0) : 0);
    tss += e * e;
  }
  return (double)tss;
}

int ml_model_stats_blocked(const ml_model *m, const ml_lsq_fitinfo *fi, ml_lsq_stats *st) {
  int p = m->p, rank = p;
  memset(st, 0, sizeof *st);
  st->p = p;
  st->n = m->n;
  st->cond = NAN; /* the 2-norm condition would need the dense factor */
  double *d = ml_malloc(8 * (uint64_t)p);
  st->se = ml_malloc(8 * (uint64_t)p);
  st->tstat = ml_malloc(8 * (uint64_t)p);
  st->pvalue = ml_malloc(8 * (uint64_t)p);
  ml_sfac w = {0};
  int rc = d && st->se && st->tstat && st->pvalue ? ml_model_reduced_fac(m, &w) : ML_NOMEM;
  if (!rc) rc = ml_sfac_inverse_diag(&w, d);
  if (!rc) {
    for (int j = 0; j < p; j++) rank -= m->aliased[j];
    double ry = w.R[(w.q - 1) + (int64_t)(w.q - 1) * w.q], tss = blocked_tss(m, m->fac);
    double rss = isnan(fi->rss) ? ry * ry : fi->rss;
    ml_lsq_stats_sums(st, fi, rank, tss, tss - rss, rss);
    /* The reduced factor's columns: the block's, then the kept others. */
    for (int j = 0, k = w.nb; j < p; j++) {
      int c = ml_model_fac_col(m, j), in = c < w.nb;
      double v = m->aliased[j] ? NAN : d[in ? c : k++];
      ml_lsq_stats_coef(st, fi, j, fi->unit_dispersion ? v : st->sigma * st->sigma * v);
    }
  }
  ml_sfac_free(&w);
  ml_free(d);
  if (rc) ml_lsq_stats_free(st);
  return rc;
}

/* ---- an IRLS step's factor in the model's columns (train_glm.c) ---- */

int ml_model_acc_init(ml_lsq *acc, const ml_model *m) {
  if (!m->fac) return ml_lsq_init(acc, m->p);
  int rc = ml_lsq_init(acc, m->p - m->fac->nb);
  for (int l = 0; !rc && l < m->fac->nb; l++) rc = ml_lsq_block_add(acc);
  return rc;
}

int ml_model_acc_row(ml_lsq *acc, const ml_model *m, const double *x, int blk, double sw,
                     double z) {
  if (!m->fac) {
    for (int j = 0; j < m->p; j++) ml_lsq_put(acc, j, sw * x[j]);
    ml_lsq_put(acc, m->p, sw * z);
    return ml_lsq_commit(acc);
  }
  int nb = m->fac->nb, c = 0;
  for (int j = 0; j < m->p; j++) {
    if (j == m->bstart) j += nb;
    if (j >= m->p) break;
    ml_lsq_put(acc, c++, sw * x[j]);
  }
  ml_lsq_put(acc, c, sw * z);
  return blk >= 0 ? ml_lsq_commit_in(acc, blk - m->bstart, sw) : ml_lsq_commit(acc);
}

int ml_model_take_factor(ml_model *m, ml_lsq *acc) {
  int rc = ml_lsq_fold(acc);
  if (rc) return rc;
  int64_t q = m->fac ? m->fac->q : m->p + 1;
  double *R = m->fac ? m->fac->R : m->R;
  for (int64_t j = 0; j < q; j++)
    for (int64_t i = 0; i < q; i++) R[i + j * q] = i <= j ? acc->R[i + j * q] : 0;
  if (m->fac) memcpy(m->fac->S, acc->G, 8 * (size_t)m->fac->nb * (size_t)(q + 1));
  return ML_OK;
}

double ml_model_factor_norm2(const ml_model *m, const double *d) {
  if (!m->fac) {
    int q = m->p + 1;
    double s = 0;
    for (int i = 0; i < m->p; i++) {
      double r = 0;
      for (int j = i; j < m->p; j++) r += m->R[i + (int64_t)j * q] * d[j];
      s += r * r;
    }
    return s;
  }
  const ml_sfac *f = m->fac;
  int nb = f->nb, q = f->q, rest = q - 1;
  long double s = 0;
  /* d's part outside the block, in F's column order (the terms' order). */
  for (int l = 0; l < nb; l++) {
    const double *g = ml_sfac_row(f, l);
    long double r = (long double)g[0] * d[m->bstart + l];
    for (int c = 0; c < rest; c++) r += (long double)g[1 + c] * d[c < m->bstart ? c : c + nb];
    s += r * r;
  }
  for (int i = 0; i < rest; i++) {
    long double r = 0;
    for (int c = i; c < rest; c++) r += (long double)f->R[i + (int64_t)c * q] * d[c < m->bstart ? c : c + nb];
    s += r * r;
  }
  return (double)s;
}

int ml_model_factor_finite(const ml_model *m) {
  const ml_sfac *f = m->fac;
  int64_t n = f ? (int64_t)f->nb * (f->q + 1) : 0, q = f ? f->q : m->p + 1;
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(f->S[i])) return 0;
  const double *R = f ? f->R : m->R;
  for (int64_t i = 0; i < q * q; i++)
    if (!isfinite(R[i])) return 0;
  return 1;
}
