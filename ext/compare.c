/*
** compare.c: two models on the very same held-out rows, and the gate that
** moves an alias only when the new version is better on them.
**
**   SELECT ml_compare('price@production', 'price');
**   SELECT ml_promote('price', 'production', '{"metric":"rmse","min_improvement":0.01}');
**
** A version trained by ml_train with a test set keeps its test rows' factor
** R_t of [X y] (section tfac).  Any coefficients b over the same columns
** then have RSS = ||R_t [b; -1]||^2 on those rows, so both models are
** scored without reading a row, exactly.  A model over other columns is
** first written in the columns of the rows' model when it can be: the same
** features or fewer, levels it knows (or reads as the reference), another
** reference level (its effects shift into the intercept).  Otherwise the
** comparison is refused, saying why (what differs).
*/
#include <stdio.h>
#include <string.h>

#include "compare.h"
#include "formula.h"
#include "sqlq.h"
#include "strbuf.h"

/* ---- a's coefficients in the columns of b ---- */

typedef struct mapping {
  char why[200]; /* what makes a impossible to write in b's columns */
} mapping;

static int differs(mapping *mp, const char *fmt, const char *s1, const char *s2) {
  snprintf(mp->why, sizeof mp->why, fmt, s1, s2);
  return 1;
}

static int find_feature(const ml_model *m, const char *name) {
  for (int j = 0; j < m->k; j++)
    if (strcmp(m->feat[j].name, name) == 0) return j;
  return -1;
}

/*
** What categorical feature f of model a (first column c) adds to a
** prediction for level z (NULL: the NULL level), into *out; 1 when a cannot
** predict that level.
*/
static int level_effect(const ml_model *a, const ml_feature *f, int c, const char *z, double *out) {
  int skip = f->full ? 0 : 1;
  *out = 0;
  if (!z) {
    if (!f->has_impute) return 1;
    *out = a->beta[c + f->nlevels - skip];
    return 0;
  }
  int l = ml_level_index(f, z);
  if (l < 0) return (a->flags & ML_MODEL_UNSEEN_ZERO) ? 0 : 1;
  if (l >= skip) *out = a->beta[c + l - skip];
  return 0;
}

/* Categorical feature fb of b (first column cb) from fa of a (first column ca). */
static int map_categorical(const ml_model *a, const ml_feature *fa, int ca, const ml_model *b,
                           const ml_feature *fb, int cb, double *beta, mapping *mp) {
  double ref = 0, e;
  int skip = fb->full ? 0 : 1;
  if (skip && level_effect(a, fa, ca, fb->levels[0], &ref))
    return differs(mp, "level '%.60s' of %.60s is unseen by the first model", fb->levels[0], fb->name);
  if (skip && ref != 0 && !(b->flags & ML_MODEL_INTERCEPT))
    return differs(mp, "%.60s has another reference level%.0s and no intercept", fb->name, "");
  if (skip) beta[0] += ref;
  for (int l = skip; l < fb->nlevels; l++) {
    if (level_effect(a, fa, ca, fb->levels[l], &e))
      return differs(mp, "level '%.60s' of %.60s is unseen by the first model", fb->levels[l], fb->name);
    beta[cb + l - skip] = e - ref;
  }
  if (fb->has_impute) {
    if (level_effect(a, fa, ca, NULL, &e))
      return differs(mp, "%.60s has NULL as a level only in the second model%.0s", fb->name, "");
    beta[cb + fb->nlevels - skip] = e - ref;
  }
  return 0;
}

static int map_feature(const ml_model *a, int ja, const int *cola, const ml_model *b, int jb,
                       const int *colb, double *beta, mapping *mp) {
  const ml_feature *fa = &a->feat[ja], *fb = &b->feat[jb];
  if (fa->type != fb->type)
    return differs(mp, "%.60s is numeric in one model and categorical in the other%.0s", fa->name, "");
  if (fb->has_impute && (!fa->has_impute || (fb->type == ML_FEAT_NUMERIC && fa->impute != fb->impute)))
    return differs(mp, "the models fill NULLs of %.60s differently%.0s", fa->name, "");
  if (fb->type == ML_FEAT_NUMERIC) {
    beta[colb[jb]] = a->beta[cola[ja]];
    return 0;
  }
  return map_categorical(a, fa, cola[ja], b, fb, colb[jb], beta, mp);
}

/*
** Models fitted from formulas: a's coefficients into b's columns by R's
** names (cityb, log(x), x:cityb mean the same column in both), the
** response on the same scale.  0, or 1 with mp->why.
*/
static int map_formula(const ml_model *a, const ml_model *b, double *beta, mapping *mp) {
  if (!a->formula || !b->formula)
    return differs(mp, "%s was fitted from a formula and the other not%.0s",
                   a->formula ? "the first" : "the second", "");
  if (a->family || b->family)
    return differs(mp, "%s is a generalized linear model%.0s", a->family ? "the first" : "the second", "");
  const char *ya = ml_formula_var_label(a->formula, 0), *yb = ml_formula_var_label(b->formula, 0);
  if (strcmp(ya, yb) != 0) return differs(mp, "the responses differ (%.60s, %.60s)", ya, yb);
  memset(beta, 0, sizeof(double) * (size_t)b->p);
  for (int ja = 0; ja < a->p; ja++) {
    const char *name = ml_formula_coef_name(a->formula, ja);
    int jb = 0;
    while (jb < b->p && strcmp(ml_formula_coef_name(b->formula, jb), name) != 0) jb++;
    if (jb == b->p && a->beta[ja] != 0)
      return differs(mp, "the first model has the term %.60s, which the second model's rows do "
                         "not hold%.0s", name, "");
    if (jb < b->p) beta[jb] = a->beta[ja];
  }
  return 0;
}

/*
** Writes a's coefficients in b's design columns (beta, b->p), so that
** beta . x_b is a's prediction for every row b's design can hold.
** 0, or 1 with mp->why.  col is scratch for a->k + b->k ints.
*/
static int map_coefficients(const ml_model *a, const ml_model *b, double *beta, int *col,
                            mapping *mp) {
  if (a->formula || b->formula) return map_formula(a, b, beta, mp);
  if (a->family || b->family)
    return differs(mp, "%s is a generalized linear model%.0s", a->family ? "the first" : "the second", "");
  if ((a->flags & ML_MODEL_INTERCEPT) != (b->flags & ML_MODEL_INTERCEPT))
    return differs(mp, "one model has an intercept and the other none%.0s%.0s", "", "");
  if (a->target && b->target && strcmp(a->target, b->target) != 0)
    return differs(mp, "the targets differ (%.60s, %.60s)", a->target, b->target);
  int *cola = col, *colb = col + a->k;
  ml_model_feature_starts(a, cola);
  ml_model_feature_starts(b, colb);
  memset(beta, 0, sizeof(double) * (size_t)b->p);
  if (a->flags & ML_MODEL_INTERCEPT) beta[0] = a->beta[0];
  for (int ja = 0; ja < a->k; ja++)
    if (find_feature(b, a->feat[ja].name) < 0)
      return differs(mp, "the first model uses %.60s, which the second model's rows do not hold%.0s",
                     a->feat[ja].name, "");
  for (int jb = 0; jb < b->k; jb++) {
    int ja = find_feature(a, b->feat[jb].name);
    if (ja >= 0 && map_feature(a, ja, cola, b, jb, colb, beta, mp)) return 1;
  }
  return 0;
}

/* ---- scores on a model's test rows ---- */


static ml_score score_on(const ml_model *rows, const double *beta) {
  double rss = ml_factor_rss(rows->test_R, rows->p, beta);
  return (ml_score){rows->test_w > 0 ? sqrt(rss / rows->test_w) : NAN,
                 rows->test_m2 > 0 ? 1 - rss / rows->test_m2 : NAN};
}

static void put_score(ml_sb *b, const char *key, ml_score s) {
  ml_sb_printf(b, "\"%s\":{\"rmse\":", key);
  ml_sb_json_number(b, s.rmse);
  ml_sb_puts(b, ",\"r2\":");
  ml_sb_json_number(b, s.r2);
  ml_sb_puts(b, "}");
}

static int score_both(const ml_model *a, const ml_model *b, const ml_model *rows, ml_score *sa,
                      ml_score *sb, mapping *mp) {
  const ml_model *other = rows == b ? a : b;
  double *beta = sqlite3_malloc64(sizeof(double) * (size_t)rows->p + 1);
  int *col = sqlite3_malloc64(sizeof(int) * (size_t)(a->k + b->k) + 1);
  int rc = !beta || !col ? -1 : map_coefficients(other, rows, beta, col, mp);
  if (rc == 0) {
    ml_score so = score_on(rows, beta), sr = score_on(rows, rows->beta);
    *sa = rows == a ? sr : so;
    *sb = rows == b ? sr : so;
  }
  sqlite3_free(beta);
  sqlite3_free(col);
  return rc;
}

/*
** Appends "key":{"n":..,"a":..,"b":..,"b_minus_a":..} for the test rows
** of rows, or "key":{"n":..,"unavailable":why} when the other model
** cannot be scored on them.  1 when it could; 0 when not; -1 out of memory.
*/
static int put_rows(ml_sb *out, const char *key, const ml_model *a, const ml_model *b,
                    const ml_model *rows) {
  ml_score sa, sb;
  mapping mp = {{0}};
  int rc = score_both(a, b, rows, &sa, &sb, &mp);
  if (rc < 0) return rc;
  ml_sb_printf(out, "\"%s\":{\"n\":%lld,", key, (long long)rows->test_n);
  if (rc > 0) {
    ml_sb_puts(out, "\"unavailable\":");
    ml_sb_json_string(out, mp.why, strlen(mp.why));
  } else {
    put_score(out, "a", sa);
    ml_sb_puts(out, ",");
    put_score(out, "b", sb);
    ml_sb_puts(out, ",");
    put_score(out, "b_minus_a", (ml_score){sb.rmse - sa.rmse, sb.r2 - sa.r2});
  }
  ml_sb_puts(out, "}");
  return rc == 0;
}

int ml_score_on_rows(const ml_model *a, const ml_model *b, const ml_model *rows, ml_score *sa,
                     ml_score *sb, char *why, size_t nwhy) {
  mapping mp = {{0}};
  int rc = score_both(a, b, rows, sa, sb, &mp);
  if (rc > 0) snprintf(why, nwhy, "%s", mp.why);
  return rc;
}

const char ml_no_test_factor[] =
    "a version trained by ml_train with a test set since sqlml 0.3 keeps it; test_size 0, "
    "ml_fit models and GLMs do not";

void ml_compare_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const ml_model *a = ml_model_arg(ctx, "ml_compare", argv, 0);
  if (!a) return;
  const ml_model *b = ml_model_arg(ctx, "ml_compare", argv, 1);
  if (!b) return;
  if (!b->test_R && !a->test_R) {
    ml_error(ctx, "ml_compare(): neither model keeps its test rows' factor (%s)", ml_no_test_factor);
    return;
  }
  ml_sb out;
  ml_sb_init(&out);
  int nb = 0, na = 0;
  ml_sb_puts(&out, "{");
  if (b->test_R) nb = put_rows(&out, "on_b_test_rows", a, b, b);
  if (nb >= 0 && a->test_R) {
    if (b->test_R) ml_sb_puts(&out, ",");
    na = put_rows(&out, "on_a_test_rows", a, b, a);
  }
  ml_sb_puts(&out, ",\"rows_read\":0}");
  char *json = ml_sb_finish(&out, NULL);
  if (na < 0 || nb < 0 || !json) {
    sqlite3_free(json);
    sqlite3_result_error_nomem(ctx);
  } else if (na + nb == 0) {
    ml_error(ctx, "ml_compare(): the models cannot be scored on the same rows without reading "
                  "them; measure both with ml_evaluate over the same source: %s", json);
    sqlite3_free(json);
  } else {
    sqlite3_result_text(ctx, json, -1, sqlite3_free);
    sqlite3_result_subtype(ctx, 'J');
  }
}
