/*
** train_glm.c: a generalized linear model (binomial, poisson) fitted by
** IRLS as passes over the source (glm.c has the families).  The functions
** are static; the train_glm_* entry points at the end are what the other
** train_*.c files call.
*/
#include "train.h"

/* R's first IRLS step for a row: from mustart, the working response and
** weight (*z, *W) and the mean (*mu). */
static void glm_start(const trainer *t, double y, double w, double off, double *z, double *W,
                      double *mu) {
  int f = t->o.family;
  ml_glm_work(f, y, w, ml_glm_linkfun(f, ml_glm_mustart(f, y, w)), off, z, W, mu);
}

/*
** A pass of IRLS, row by row, at the model's coefficients: the deviance
** and R's AIC of the training rows, the metrics of both sides, the null
** model's deviance (and its own IRLS step when it has an intercept and an
** offset), and, with glm_accumulate, the next step's factor of
** sqrt(W) [x z].  The fingerprint is the first pass's (glm_start).
*/
static int glm_row(trainer *t) {
  const ml_model *m = t->m;
  progress(t, "iterating");
  double y, w, off;
  int use = read_yw(t, &y, &w);
  if (use < 0) return -1;
  if (!use || w == 0) return 0;
  if ((use = read_offset(t, &off)) <= 0) return use;
  int side = row_side(t);
  if (side < 0) return -1;
  int r = ml_design_row(t->ctx, "ml_train", m, t->vals + t->cy + 1, t->x);
  if (r < 0) return -1;
  if (r == ML_V_NULL) return 0;
  int test = side == ML_SIDE_TEST, f = t->o.family;
  t->again_n[test]++;
  double lin = 0;
  for (int j = 0; j < m->p; j++) lin += m->beta[j] * t->x[j];
  double eta = lin + off, mu = ml_glm_linkinv(f, eta), dev = ml_glm_dev_resid(f, y, mu, w);
  struct glm_metric *g = &t->gm[test];
  ml_ksum_add(&g->w, w);
  ml_ksum_add(&g->dev, dev);
  if (f == ML_FAMILY_BINOMIAL) {
    /* As scikit-learn's log_loss, which clips at the double's epsilon. */
    double pc = fmin(fmax(mu, DBL_EPSILON), 1 - DBL_EPSILON);
    ml_ksum_add(&g->logloss, -w * ((y > 0 ? y * log(pc) : 0) + (y < 1 ? (1 - y) * log1p(-pc) : 0)));
    ml_ksum_add(&g->correct, (mu > 0.5 ? 1.0 : 0.0) == y ? w : 0);
    ml_ksum_add(&g->brier, w * (y - mu) * (y - mu));
  }
  if (test) return 0;
  double z, W, mu0;
  glm_start(t, y, w, off, &z, &W, &mu0);
  if (ml_fitacc_fingerprint(&t->fa, t->vals + t->cy + 1, z, W, t->again_hash)) t->again_n[0] = -1;
  ml_ksum_add(&t->dev, dev);
  ml_ksum_add(&t->aic_sum, ml_glm_aic_term(f, y, mu, w));
  /* R's glm.fit warns of these fitted values, at 10 epsilon. */
  double eps = 10 * DBL_EPSILON;
  if (f == ML_FAMILY_BINOMIAL ? mu > 1 - eps || mu < eps : mu < eps) t->bound_rows++;
  double eta0 = t->null_b + off, mu_null = t->co < 0 ? t->null_mu : ml_glm_linkinv(f, eta0);
  ml_ksum_add(&t->null_dev, ml_glm_dev_resid(f, y, mu_null, w));
  if (t->co >= 0 && (m->flags & ML_MODEL_INTERCEPT)) {
    ml_glm_work(f, y, w, eta0, off, &z, &W, &mu0);
    ml_ksum_add(&t->null_sw, W);
    ml_ksum_add(&t->null_swz, W * z);
  }
  if (!t->glm_accumulate) return 0;
  ml_glm_work(f, y, w, eta, off, &z, &W, &mu0);
  double sw = sqrt(W);
  for (int j = 0; j < m->p; j++) ml_lsq_put(&t->glm_acc, j, sw * t->x[j]);
  ml_lsq_put(&t->glm_acc, m->p, sw * z);
  int rc = ml_lsq_commit(&t->glm_acc);
  if (rc) {
    ml_result_code(t->ctx, "ml_train", rc);
    return -1;
  }
  return 0;
}

/* One pass of glm_row; checks it read the rows of the first pass. */
static int glm_pass(trainer *t) {
  memset(&t->dev, 0, sizeof t->dev);
  memset(&t->aic_sum, 0, sizeof t->aic_sum);
  memset(&t->null_dev, 0, sizeof t->null_dev);
  memset(&t->null_sw, 0, sizeof t->null_sw);
  memset(&t->null_swz, 0, sizeof t->null_swz);
  memset(t->gm, 0, sizeof t->gm);
  t->bound_rows = 0;
  t->again_n[0] = t->again_n[1] = 0;
  t->again_hash[0] = ML_HASH_SEED0;
  t->again_hash[1] = ML_HASH_SEED1;
  if (t->glm_accumulate) {
    ml_lsq_free(&t->glm_acc);
    if (ml_lsq_init(&t->glm_acc, t->m->p)) {
      sqlite3_result_error_nomem(t->ctx);
      return -1;
    }
  }
  if (run_pass(t, glm_row)) return -1;
  if (t->again_n[0] != t->m->n || t->again_n[1] != t->fa.used[1] ||
      t->again_hash[0] != t->fa.hash[0] || t->again_hash[1] != t->fa.hash[1])
    return ml_error(t->ctx, "ml_train(): the source changed while it was read again (another "
                            "connection wrote to it); train again");
  return 0;
}

static double ksum(const ml_ksum *k) { return ml_ksum_value(k); }

/*
** IRLS, as R's glm.fit: the first pass made step 1 (from mustart) into the
** model's factor.  Each pass then evaluates the coefficients of the last
** step (the deviance that R's rule compares with the one before) and folds
** the next step's working rows into a fresh factor, which becomes the
** model's only if the rule says to go on: so the model keeps the factor
** its coefficients solve, whose inverse is their covariance, as R's fit
** does.  Iterations + 1 passes.  The null model with an intercept and an
** offset is R's second fit (glm() refits it): its own IRLS, one scalar
** step per pass alongside, with passes of its own if it is not done.
*/
static int glm_fit(trainer *t) {
  ml_model *m = t->m;
  const train_opts *o = &t->o;
  int f = o->family, ic = (m->flags & ML_MODEL_INTERCEPT) != 0, rc;
  m->family = f;
  m->link = ml_family_link(f);
  if (o->offset) {
    size_t n = strlen(o->offset) + 1;
    if (!(m->offset = ml_malloc(n))) goto nomem;
    memcpy(m->offset, o->offset, n);
  }
  for (int l = 0; l < 2 && t->ylev[0]; l++) {
    size_t n = strlen(t->ylev[l]) + 1;
    if (!(m->ylevels[l] = ml_malloc(n))) goto nomem;
    memcpy(m->ylevels[l], t->ylev[l], n);
  }
  /* The accumulator had working weights; the model keeps the prior ones. */
  if (t->cw >= 0) {
    m->sum_w = ksum(&t->prior_w);
    m->sum_log_w = ksum(&t->prior_log_w);
  } else {
    m->flags &= ~ML_MODEL_WEIGHTED;
    m->sum_w = (double)m->n;
    m->sum_log_w = 0;
  }
  t->null_mu = ic ? ksum(&t->prior_wy) / ksum(&t->prior_w) : ml_glm_linkinv(f, 0);
  t->null_b = ic ? ml_glm_linkfun(f, t->null_mu) : 0;
  int null_done = !(ic && o->offset), done = 0, conv = 0, iter = 1, null_passes = 0;
  double devold = ksum(&t->dev_start), dev = NAN, null_old = NAN;
  for (;;) {
    t->glm_accumulate = !done;
    if (glm_pass(t)) return -1;
    if (!done) {
      dev = ksum(&t->dev);
      if (!isfinite(dev))
        return ml_error(t->ctx, "ml_train(): the deviance is not finite after iteration %d: the "
                                "fit diverged (R's glm would halve the step; sqlml stops)", iter);
      if (o->progress) fprintf(stderr, "ml_train: iteration %d: deviance %.10g\n", iter, dev);
      conv = ml_glm_converged(dev, devold, o->epsilon);
      done = conv || iter >= o->max_iter;
      if (!done) {
        if ((rc = ml_lsq_fold(&t->glm_acc))) goto code;
        int q = m->p + 1;
        memset(m->R, 0, 8 * (size_t)q * (size_t)q);
        for (int j = 0; j < q; j++)
          for (int i = 0; i <= j; i++) m->R[i + (int64_t)j * q] = t->glm_acc.R[i + (int64_t)j * q];
        if ((rc = ml_model_solve(m))) goto code;
        devold = dev;
        iter++;
      }
    } else {
      null_passes++;
    }
    if (!null_done) {
      double nd = ksum(&t->null_dev);
      null_done = !isnan(null_old) && ml_glm_converged(nd, null_old, o->epsilon);
      null_old = nd;
      if (!null_done) t->null_b = ksum(&t->null_swz) / ksum(&t->null_sw);
    }
    if (done && null_done) break;
    if (null_passes >= o->max_iter)
      return ml_error(t->ctx, "ml_train(): the null model (intercept and offset) did not converge "
                              "in %d iterations (max_iter)", o->max_iter);
  }
  if (!conv && !o->keep_unconverged)
    return ml_error(t->ctx, "ml_train(): the fit did not converge in %d iteration%s (max_iter): "
                            "deviance %.10g, its last relative change %.3g is not below epsilon "
                            "%g; raise max_iter, look for separation or a feature of huge values, "
                            "or keep the fit with option keep_unconverged", iter,
                    iter == 1 ? "" : "s", dev, fabs(dev - devold) / (fabs(dev) + 0.1), o->epsilon);
  int rank = 0;
  for (int j = 0; j < m->p; j++) rank += !m->aliased[j];
  m->iterations = iter;
  m->converged = conv;
  m->deviance = dev;
  m->null_deviance = ksum(&t->null_dev);
  m->aic = ksum(&t->aic_sum) + 2 * rank;
  m->df_null = m->n - ic;
  if (!conv)
    warn(t, "the fit did not converge in %d iterations (max_iter); kept as asked "
            "(keep_unconverged): its estimates are not the maximum likelihood", iter);
  if (t->bound_rows)
    warn(t, f == ML_FAMILY_BINOMIAL
                ? "separation: fitted probabilities numerically 0 or 1 occurred in %lld training "
                  "rows (R's glm warns the same): a feature or a combination of them separates "
                  "the classes there, so the estimates and standard errors of those terms are "
                  "not to be trusted"
                : "fitted rates numerically 0 occurred in %lld training rows (R's glm warns the "
                  "same): the estimates and standard errors of the terms involved are not to be "
                  "trusted",
         (long long)t->bound_rows);
  if (t->fraction_rows)
    warn(t, f == ML_FAMILY_BINOMIAL
                ? "non-integer #successes in a binomial glm (R warns the same): weight times "
                  "target is not a whole number in %lld rows, the first in row %lld"
                : "the target is not a whole number in %lld rows, the first in row %lld (R warns "
                  "the same): the Poisson likelihood is 0 there, so the AIC is infinite",
         (long long)t->fraction_rows, (long long)t->fraction_first);
  return 0;
code:
  ml_result_code(t->ctx, "ml_train", rc);
  return -1;
nomem:
  sqlite3_result_error_nomem(t->ctx);
  return -1;
}

static void glm_metrics_set(ml_sb *b, const char *name, sqlite3_int64 n, const struct glm_metric *g,
                            int family) {
  double sw = ksum(&g->w);
  ml_sb_printf(b, "\"%s\":{\"n\":%lld,\"deviance\":", name, (long long)n);
  ml_sb_json_number(b, n > 0 ? ksum(&g->dev) : NAN);
  if (family == ML_FAMILY_BINOMIAL) {
    ml_sb_puts(b, ",\"log_loss\":");
    ml_sb_json_number(b, n > 0 ? ksum(&g->logloss) / sw : NAN);
    ml_sb_puts(b, ",\"accuracy\":");
    ml_sb_json_number(b, n > 0 ? ksum(&g->correct) / sw : NAN);
    ml_sb_puts(b, ",\"brier\":");
    ml_sb_json_number(b, n > 0 ? ksum(&g->brier) / sw : NAN);
  } else {
    ml_sb_puts(b, ",\"mean_deviance\":");
    ml_sb_json_number(b, n > 0 ? ksum(&g->dev) / sw : NAN);
  }
  ml_sb_puts(b, "}");
}


void train_glm_start(const trainer *t, double y, double w, double off, double *z, double *W,
                     double *mu) {
  glm_start(t, y, w, off, z, W, mu);
}

int train_glm_fit(trainer *t) { return glm_fit(t); }

void train_glm_metrics_set(ml_sb *b, const char *name, sqlite3_int64 n, const struct glm_metric *g,
                           int family) {
  glm_metrics_set(b, name, n, g, family);
}
