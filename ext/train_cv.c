/*
** train_cv.c: ml_train's cross-validation ("cv": k): each training row's
** fold, and the report of the folds (cv.h does the arithmetic, fitacc.c
** keeps the fold factors).
*/
#include "train.h"

/*
** The fold of the current training row (split.h: the key's hash, salted),
** into t->fa.fold_at.  0, or -1 after reporting.
*/
int row_fold(trainer *t) {
  if (!t->has_key)
    return ml_error(t->ctx, "ml_train(): option cv needs a key to give each row its fold, and "
                            "'%s' has none (a view or a query); add option key (a column)",
                    t->source);
  int rc = ml_fold_of_seeded(ml_fold_seeded(t->o.seed), t->vals[0], t->o.fit.cv, &t->fa.fold_at);
  if (rc == ML_SPLIT_NOMEM) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  if (rc)
    return ml_error(t->ctx, "ml_train(): the key '%s' is NULL in row %lld; cv needs a key on "
                            "every row", t->o.key ? t->o.key : "rowid", (long long)t->nread);
  return 0;
}

/* Mean and sample sd (k - 1) of v[0..k). */
static void mean_sd(const double *v, int k, double *mean, double *sd) {
  double s = 0, ss = 0;
  for (int f = 0; f < k; f++) s += v[f];
  *mean = s / k;
  for (int f = 0; f < k; f++) ss += (v[f] - *mean) * (v[f] - *mean);
  *sd = k > 1 ? sqrt(ss / (k - 1)) : NAN;
}

/* The folds' metrics at penalty i, and their mean and sd. */
static void cv_folds(ml_sb *b, const ml_cv *cv, int i) {
  double rmse[ML_CV_MAX_FOLDS], r2[ML_CV_MAX_FOLDS], m, sd;
  ml_sb_puts(b, "\"folds\":[");
  for (int f = 0; f < cv->k; f++) {
    rmse[f] = ml_cv_rmse(cv, i, f);
    r2[f] = ml_cv_r2(cv, i, f);
    ml_sb_printf(b, "%s{\"fold\":%d,\"n\":%lld,\"rmse\":", f ? "," : "", f, (long long)cv->n[f]);
    ml_sb_json_number(b, rmse[f]);
    ml_sb_puts(b, ",\"r2\":");
    ml_sb_json_number(b, r2[f]);
    ml_sb_puts(b, "}");
  }
  ml_sb_puts(b, "],\"mean\":{\"rmse\":");
  mean_sd(rmse, cv->k, &m, &sd);
  ml_sb_json_number(b, m);
  ml_sb_puts(b, ",\"r2\":");
  double m2, sd2;
  mean_sd(r2, cv->k, &m2, &sd2);
  ml_sb_json_number(b, m2);
  ml_sb_puts(b, "},\"sd\":{\"rmse\":");
  ml_sb_json_number(b, sd);
  ml_sb_puts(b, ",\"r2\":");
  ml_sb_json_number(b, sd2);
  ml_sb_puts(b, "}");
}

/*
** "cv":{"k":5,"folds":[{"fold":0,"n":..,"rmse":..,"r2":..},...],"mean":{..},
** "sd":{..},"l2_path":[{"l2":0,"rmse":..},...],"l2":chosen}: the folds at the
** chosen penalty; l2_path, each penalty's mean rmse.
*/
void cv_json(ml_sb *b, const ml_cv *cv) {
  ml_sb_printf(b, "\"cv\":{\"k\":%d,", cv->k);
  cv_folds(b, cv, cv->chosen);
  ml_sb_puts(b, ",\"l2_path\":[");
  for (int i = 0; i < cv->nl2; i++) {
    ml_sb_puts(b, i ? ",{\"l2\":" : "{\"l2\":");
    ml_sb_json_number(b, cv->l2[i]);
    ml_sb_puts(b, ",\"rmse\":");
    ml_sb_json_number(b, cv->mean_rmse[i]);
    ml_sb_puts(b, "}");
  }
  ml_sb_puts(b, "],\"l2\":");
  ml_sb_json_number(b, cv->l2[cv->chosen]);
  ml_sb_puts(b, "}");
}
