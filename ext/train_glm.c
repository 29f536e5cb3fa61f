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
  ml_glm_eval(f, y, w, ml_glm_linkfun(f, ml_glm_mustart(f, y, w)), off, mu, z, W);
}

/* The metrics of a row at mean mu, whose deviance residual is dev. */
static void glm_measure(trainer *t, int test, double y, double w, double mu, double dev) {
  struct glm_metric *g = &t->gm[test];
  ml_ksum_add(&g->w, w);
  ml_ksum_add(&g->dev, dev);
  if (t->o.family != ML_FAMILY_BINOMIAL) return;
  /* As scikit-learn's log_loss, which clips at the double's epsilon: for a
  ** y of 0 or 1 within the clip, half the deviance residual. */
  double pc = fmin(fmax(mu, DBL_EPSILON), 1 - DBL_EPSILON);
  ml_ksum_add(&g->logloss, pc == mu && (y == 0 || y == 1)
                               ? dev / 2
                               : -w * ((y > 0 ? y * log(pc) : 0) + (y < 1 ? (1 - y) * log1p(-pc) : 0)));
  ml_ksum_add(&g->correct, (mu > 0.5 ? 1.0 : 0.0) == y ? w : 0);
  ml_ksum_add(&g->brier, w * (y - mu) * (y - mu));
}

/* The null model's deviance residual of a training row, and its own IRLS
** step when it has an intercept and an offset.  Without both its mean
** never changes, so only the first pass measures it (t->glm_passes). */
static void glm_null_row(trainer *t, double y, double w, double off) {
  int f = t->o.family, iterating = t->co >= 0 && (t->m->flags & ML_MODEL_INTERCEPT);
  if (!iterating && t->glm_passes > 1) return;
  double eta0 = t->null_b + off, mu_null = t->co < 0 ? t->null_mu : ml_glm_linkinv(f, eta0);
  ml_ksum_add(&t->null_dev, ml_glm_dev_resid(f, y, mu_null, w));
  if (iterating) {
    double z, W, mu0;
    ml_glm_work(f, y, w, eta0, off, &z, &W, &mu0);
    ml_ksum_add(&t->null_sw, W);
    ml_ksum_add(&t->null_swz, W * z);
  }
}

/* A number as ml_read_num reads one of SQL type INTEGER or REAL: 1, or 0
** for any other value (the general path reads it, and reports it). */
static inline int fast_num(sqlite3_value *v, double *d) {
  int type = sqlite3_value_type(v);
  if (type == SQLITE_FLOAT) {
    *d = sqlite3_value_double(v);
    return isfinite(*d);
  }
  if (type == SQLITE_INTEGER) {
    *d = (double)sqlite3_value_int64(v);
    return 1;
  }
  return 0;
}

/*
** The row's target, weight and design row (intercept and numeric features)
** when every one of them is a finite number, each value's type asked once,
** with the row's ml_rowhash from the same numbers (it hashes a number by its
** double, the integers' too).  1, or 0 for a row the general path reads
** (read_yw, ml_design_row): a NULL, a text, a blob, a bad weight.
*/
static int glm_fast_row(trainer *t, double *y, double *w, uint64_t *hash) {
  sqlite3_value **v = t->vals;
  double *x = t->x;
  uint64_t h = ML_ROWHASH_SEED;
  if (!fast_num(v[t->cy], y)) return 0;
  if (t->cw >= 0) {
    if (!fast_num(v[t->cw], w) || !(*w >= 0)) return 0;
    h = ml_rowhash_num(h, *w);
  } else {
    *w = 1;
  }
  h = ml_rowhash_num(h, *y);
  int ic = (t->m->flags & ML_MODEL_INTERCEPT) != 0, k = t->k;
  if (ic) x[0] = 1;
  sqlite3_value **f = v + t->cy + 1;
  for (int j = 0; j < k; j++) {
    if (!fast_num(f[j], &x[ic + j])) return 0;
    h = ml_rowhash_num(h, x[ic + j]);
  }
  *hash = ml_rowhash_end(h);
  return 1;
}

/* The training row's sums that only the pass at the final coefficients
** needs: metrics, R's AIC where it does not split, fitted values at a bound. */
static void glm_measure_train(trainer *t, double y, double w, double mu, double dev) {
  int f = t->o.family;
  glm_measure(t, 0, y, w, mu, dev);
  /* The AIC: the deviance plus the first pass's aic_sat, where it splits. */
  if (!ml_glm_aic_splits(f, y, w)) ml_ksum_add(&t->aic_sum, ml_glm_aic_term(f, y, mu, w) - dev);
  /* R's glm.fit warns of these fitted values, at 10 epsilon. */
  double eps = 10 * DBL_EPSILON;
  if (f == ML_FAMILY_BINOMIAL ? mu > 1 - eps || mu < eps : mu < eps) t->bound_rows++;
}

/*
** A pass of IRLS, row by row, at the model's coefficients: the deviance of
** the training rows and the null model's (glm_null_row); with glm_measure,
** R's AIC, the metrics of both sides and the AUC's rows; with
** glm_accumulate, the next step's factor of sqrt(W) [x z].  The training
** rows' fingerprint is the first pass's ml_rowhash sum.
*/
static int glm_row(trainer *t) {
  const ml_model *m = t->m;
  progress(t, "iterating");
  double y, w, off;
  uint64_t hash = 0;
  int blk = -1, fast = t->glm_fast && glm_fast_row(t, &y, &w, &hash);
  if (!fast) {
    int use = read_yw(t, &y, &w);
    if (use <= 0) return use;
  }
  if (w == 0) return 0;
  int use = read_offset(t, &off);
  if (use <= 0) return use;
  int side = row_side(t);
  if (side < 0) return -1;
  if (!fast) {
    /* Skipped for a NULL in the first pass: skipped before its levels are checked. */
    if (ml_design_row_skipped(m, t->vals + t->cy + 1)) return 0;
    /* A model kept with its block: O(terms outside it) a row. */
    int r = ml_design_row_blocked(t->ctx, "ml_train", m, t->vals + t->cy + 1, t->x,
                                  m->fac ? &blk : NULL);
    if (r < 0) return -1;
    if (r == ML_V_NULL) return 0;
  }
  int test = side == ML_SIDE_TEST, f = t->o.family;
  t->again_n[test]++;
  if (test && !t->glm_measure) return 0;
  double mu, z, W, eta = ml_model_linear(m, t->x, blk) + off;
  ml_glm_eval(f, y, w, eta, off, &mu, &z, &W);
  double dev = ml_glm_dev_resid(f, y, mu, w);
  if (test) {
    glm_measure(t, 1, y, w, mu, dev);
    if (f == ML_FAMILY_BINOMIAL && ml_auc_add(&t->auc, mu, y, w)) {
      sqlite3_result_error_nomem(t->ctx);
      return -1;
    }
    return 0;
  }
  if (!fast) hash = ml_rowhash(t->cw >= 0 ? &w : NULL, y, t->vals + t->cy + 1, t->k);
  t->again_rows += hash;
  ml_ksum_add(&t->dev, dev);
  if (t->glm_measure) glm_measure_train(t, y, w, mu, dev);
  glm_null_row(t, y, w, off);
  if (!t->glm_accumulate) return 0;
  int rc = ml_model_acc_row(&t->glm_acc, m, t->x, blk, sqrt(W), z);
  if (rc) {
    ml_result_code(t->ctx, "ml_train", rc);
    return -1;
  }
  return 0;
}

/* One pass of glm_row; checks it read the rows of the first. */
static int glm_pass(trainer *t) {
  memset(&t->dev, 0, sizeof t->dev);
  if (++t->glm_passes == 1 || (t->co >= 0 && (t->m->flags & ML_MODEL_INTERCEPT)))
    memset(&t->null_dev, 0, sizeof t->null_dev);
  memset(&t->null_sw, 0, sizeof t->null_sw);
  memset(&t->null_swz, 0, sizeof t->null_swz);
  if (t->glm_measure) {
    memset(&t->aic_sum, 0, sizeof t->aic_sum);
    memset(t->gm, 0, sizeof t->gm);
    ml_auc_reset(&t->auc);
    t->bound_rows = 0;
  }
  t->again_n[0] = t->again_n[1] = 0;
  t->again_rows = 0;
  if (t->glm_accumulate) {
    ml_lsq_free(&t->glm_acc);
    if (ml_model_acc_init(&t->glm_acc, t->m)) {
      sqlite3_result_error_nomem(t->ctx);
      return -1;
    }
  }
  if (t->par ? threads_pass(t, glm_row, 1) : run_pass(t, glm_row)) return -1;
  if (t->again_n[0] != t->m->n || t->again_n[1] != t->fa.used[1] || t->again_rows != t->rows_hash)
    return ml_error(t->ctx, "ml_train(): the source changed while it was read again (another "
                            "connection wrote to it); train again");
  return 0;
}

static double ksum(const ml_ksum *k) { return ml_ksum_value(k); }

/* The model's GLM fields, its prior weights, the null model's start, the
** AUC's collector: before the iterations.  0, or -1 after reporting. */
static int glm_setup(trainer *t) {
  ml_model *m = t->m;
  int f = t->o.family, ic = (m->flags & ML_MODEL_INTERCEPT) != 0;
  m->family = f;
  m->link = ml_family_link(f);
  if (t->o.offset) {
    size_t n = strlen(t->o.offset) + 1;
    if (!(m->offset = ml_malloc(n))) goto nomem;
    memcpy(m->offset, t->o.offset, n);
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
  ml_auc_init(&t->auc, t->o.auc_max_rows, t->cw >= 0);
  t->glm_fast = !t->formula && !m->formula && !t->ylev[0] && t->k == m->k;
  for (int j = 0; j < m->k; j++) t->glm_fast &= m->feat[j].type == ML_FEAT_NUMERIC;
  if (!(t->coefold = ml_malloc(8 * (uint64_t)m->p))) goto nomem;
  return 0;
nomem:
  sqlite3_result_error_nomem(t->ctx);
  return -1;
}

/* Where IRLS is, between passes. */
struct glm_iter {
  int iter;          /* the step whose coefficients the model has (R's iter) */
  int conv, done;    /* R's rule held; the main fit needs no more passes */
  int inner;         /* halvings of the current step so far (R's inner loop 1) */
  int halved;        /* steps that were halved */
  int null_done, null_passes;
  int measured;      /* the last pass measured the model's coefficients (glm_measure) */
  int redo;          /* a pass guessed to be the last was not: fold its step again */
  double dev, devold, null_old;
  double change;     /* R's rule on the deviance predicted for the coefficients (NAN: unknown) */
};

/* Takes the step the last pass folded: its factor becomes the model's and
** the coefficients solve it.  0, or an ML_* code. */
static int glm_take_step(trainer *t) {
  ml_model *m = t->m;
  memcpy(t->coefold, m->beta, 8 * (size_t)m->p);
  int rc = ml_model_take_factor(m, &t->glm_acc);
  return rc ? rc : ml_model_solve(m);
}

/*
** R's rule on the deviance that the step just taken is expected to reach:
** for a canonical link IRLS is Newton's method on the deviance, whose
** quadratic model drops by ||R (beta - coefold)||^2 (R the step's factor
** of sqrt(W) X) from dev, the deviance at coefold.  The error of the model
** is of third order in the step.  NAN when it cannot be computed.
*/
static double glm_predicted_change(const trainer *t, double dev) {
  const ml_model *m = t->m;
  double *d = ml_malloc(8 * (uint64_t)m->p);
  if (!d) return NAN; /* unknown: the next pass does both */
  for (int j = 0; j < m->p; j++) d[j] = m->beta[j] - t->coefold[j];
  double drop = ml_model_factor_norm2(m, d);
  ml_free(d);
  return drop / (fabs(dev - drop) + 0.1);
}

/*
** What the next pass does.  Only the pass at the final coefficients needs
** the metrics, R's AIC and the AUC's rows, and only a pass that is not the
** last needs the next step's factor; which one is last, R's rule says
** after it.  So the rule is applied to the predicted deviance
** (glm_predicted_change): a change GUESS_MARGIN times above epsilon skips
** the metrics, one GUESS_MARGIN times below skips the factor, in between
** (or unknown: the first step, a halved one) the pass does both.  A wrong
** guess costs one more pass at the same coefficients (s->redo, or
** measuring after the rule held); the numbers are the same either way.
*/
#define GUESS_MARGIN 4.0
static void glm_plan_pass(trainer *t, const struct glm_iter *s) {
  double eps = t->o.epsilon, c = s->change;
  if (s->done || (s->iter >= t->o.max_iter && !s->redo)) {
    t->glm_accumulate = 0;
    t->glm_measure = 1;
  } else if (s->redo) {
    t->glm_accumulate = 1;
    t->glm_measure = 0;
  } else {
    t->glm_accumulate = !(c < eps / GUESS_MARGIN);
    t->glm_measure = !(c > eps * GUESS_MARGIN);
#ifdef ML_GLM_GUESS_WRONG
    /* make glm-guess: every guess the other way, to test the passes that mend it. */
    if (t->glm_accumulate != t->glm_measure) {
      t->glm_accumulate = !t->glm_accumulate;
      t->glm_measure = !t->glm_measure;
    }
#endif
  }
}

/*
** After a pass that measured the model's coefficients: as R's glm.fit, a
** deviance that is not finite halves the step toward the coefficients
** before it (each halving one more pass, at most max_iter of them; at
** iteration 1 there is nothing to go back to and R stops, as here); a
** finite one is put to R's rule, and unless it holds the next step is
** taken.  0, or -1 after reporting.
*/
static int glm_main_step(trainer *t, struct glm_iter *s) {
  ml_model *m = t->m;
  const train_opts *o = &t->o;
  s->dev = ksum(&t->dev);
  if (!isfinite(s->dev)) {
    if (s->iter == 1)
      return ml_error(t->ctx, "ml_train(): the deviance is not finite after iteration 1: no valid "
                              "set of coefficients has been found (R's glm stops the same); look "
                              "for a feature or an offset of huge values");
    if (s->inner == 0) s->halved++;
    if (++s->inner > o->max_iter)
      return ml_error(t->ctx, "ml_train(): the deviance is not finite after iteration %d, nor "
                              "after halving the step %d times (R's glm: inner loop 1, cannot "
                              "correct step size); look for a feature or an offset of huge values",
                      s->iter, o->max_iter);
    for (int j = 0; j < m->p; j++) m->beta[j] = (m->beta[j] + t->coefold[j]) / 2;
    s->change = NAN;
    return 0;
  }
  int redo = s->redo;
  s->redo = 0;
  if (o->progress && !redo)
    fprintf(stderr, s->inner ? "ml_train: iteration %d: step halved: deviance %.10g\n"
                             : "ml_train: iteration %d: deviance %.10g\n", s->iter, s->dev);
  s->inner = 0;
  s->conv = ml_glm_converged(s->dev, s->devold, o->epsilon);
  s->done = s->conv || s->iter >= o->max_iter;
  if (s->done) return 0;
  if (!t->glm_accumulate) {
    s->redo = 1; /* the guess was wrong: the next pass folds this step */
    return 0;
  }
  int rc = glm_take_step(t);
  if (rc) {
    ml_result_code(t->ctx, "ml_train", rc);
    return -1;
  }
  s->change = glm_predicted_change(t, s->dev);
  s->devold = s->dev;
  s->iter++;
  return 0;
}

/*
** IRLS, as R's glm.fit: the first pass made step 1 (from mustart) into the
** model's factor.  Each pass then evaluates the coefficients of the last
** step (the deviance that R's rule compares with the one before) and folds
** the next step's working rows into a fresh factor, which becomes the
** model's only if the rule says to go on: so the model keeps the factor
** its coefficients solve, whose inverse is their covariance, as R's fit
** does.  Iterations + 1 passes (and one per halving).  The null model with
** an intercept and an offset is R's second fit (glm() refits it): its own
** IRLS, one scalar step per pass alongside, with passes of its own if it
** is not done.
*/
static int glm_iterate(trainer *t, struct glm_iter *s) {
  const train_opts *o = &t->o;
  s->iter = 1;
  s->null_done = !((t->m->flags & ML_MODEL_INTERCEPT) && o->offset);
  s->devold = ksum(&t->dev_start);
  s->dev = s->null_old = s->change = NAN;
  for (;;) {
    int was_done = s->done;
    glm_plan_pass(t, s);
    if (glm_pass(t)) return -1;
    s->measured = t->glm_measure;
    if (!s->done && glm_main_step(t, s)) return -1;
    if (was_done) s->null_passes++;
    if (!s->null_done) {
      double nd = ksum(&t->null_dev);
      s->null_done = !isnan(s->null_old) && ml_glm_converged(nd, s->null_old, o->epsilon);
      s->null_old = nd;
      if (!s->null_done) t->null_b = ksum(&t->null_swz) / ksum(&t->null_sw);
    }
    if (s->done && s->null_done && s->measured) return 0;
    if (s->null_passes >= o->max_iter)
      return ml_error(t->ctx, "ml_train(): the null model (intercept and offset) did not converge "
                              "in %d iterations (max_iter)", o->max_iter);
  }
}

/* The warnings of a fitted GLM, R's among them. */
static void glm_warnings(trainer *t, const struct glm_iter *s) {
  int f = t->o.family;
  if (!s->conv)
    warn(t, "the fit did not converge in %d iterations (max_iter); kept as asked "
            "(keep_unconverged): its estimates are not the maximum likelihood", s->iter);
  if (s->halved)
    warn(t, "step size truncated due to divergence (R's glm warns the same, and that the "
            "algorithm stopped at a boundary value): the deviance was not finite after %d "
            "step%s, each halved toward the coefficients before it", s->halved,
         s->halved == 1 ? "" : "s");
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
  if (t->auc.over)
    warn(t, "auc: null, the test rows are more than the budget of option auc_max_rows (%lld "
            "entries of %d bytes; a row of a proportion takes two): exact ranks need every row's "
            "probability in memory; raise auc_max_rows to measure it",
         (long long)t->o.auc_max_rows, ml_auc_entry_bytes(&t->auc));
}

/* A GLM by IRLS (glm_iterate), its statistics and warnings; 0, or -1 after reporting. */
static int glm_fit(trainer *t) {
  ml_model *m = t->m;
  struct glm_iter s;
  memset(&s, 0, sizeof s);
  if (glm_setup(t) || glm_iterate(t, &s)) return -1;
  if (!ml_model_factor_finite(m))
    return ml_error(t->ctx, "ml_train(): the fit diverged: the working weights of iteration %d "
                              "overflowed (deviance %.10g); look for a feature or an offset of "
                              "huge values", s.iter, s.dev);
  if (!s.conv && !t->o.keep_unconverged)
    return ml_error(t->ctx, "ml_train(): the fit did not converge in %d iteration%s (max_iter): "
                            "deviance %.10g, its last relative change %.3g is not below epsilon "
                            "%g; raise max_iter, look for separation or a feature of huge values, "
                            "or keep the fit with option keep_unconverged", s.iter,
                    s.iter == 1 ? "" : "s", s.dev, fabs(s.dev - s.devold) / (fabs(s.dev) + 0.1),
                    t->o.epsilon);
  int rank = 0, ic = (m->flags & ML_MODEL_INTERCEPT) != 0;
  for (int j = 0; j < m->p; j++) rank += !m->aliased[j];
  m->iterations = s.iter;
  m->converged = s.conv;
  m->deviance = s.dev;
  m->null_deviance = ksum(&t->null_dev);
  m->aic = ksum(&t->dev) + ksum(&t->aic_sat) + ksum(&t->aic_sum) + 2 * rank;
  m->df_null = m->n - ic;
  if (t->o.family == ML_FAMILY_BINOMIAL && t->fa.used[1] > 0) {
    t->gm[1].has_auc = 1;
    t->gm[1].auc = ml_auc_value(&t->auc);
  }
  glm_warnings(t, &s);
  ml_auc_free(&t->auc);
  return 0;
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
    if (g->has_auc) {
      ml_sb_puts(b, ",\"auc\":");
      ml_sb_json_number(b, g->auc);
    }
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
