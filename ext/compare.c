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
#include "glm.h"
#include "registry.h"
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

/* One side of the comparison: the test rows of one of the models. */
typedef struct side {
  const char *key;   /* "on_b_test_rows" or "on_a_test_rows" */
  const ml_model *rows;
  int state;         /* 0 no factor, 1 scored exactly, 2 cannot be (why) */
  ml_score sa, sb;
  char why[200];
} side;

/* Scores both models exactly on the side's rows; 0, or -1 out of memory. */
static int score_side(const ml_model *a, const ml_model *b, side *s) {
  if (!s->rows->test_R) return 0;
  mapping mp = {{0}};
  int rc = score_both(a, b, s->rows, &s->sa, &s->sb, &mp);
  if (rc < 0) return -1;
  s->state = rc == 0 ? 1 : 2;
  snprintf(s->why, sizeof s->why, "%s", mp.why);
  return 0;
}

/* Appends the side as "key":{"n":..,"a":..,"b":..,"b_minus_a":..}, or
** "key":{"n":..,"unavailable":why}. */
static void put_side(ml_sb *out, const side *s) {
  ml_sb_printf(out, "\"%s\":{\"n\":%lld,", s->key, (long long)s->rows->test_n);
  if (s->state == 2) {
    ml_sb_puts(out, "\"unavailable\":");
    ml_sb_json_string(out, s->why, strlen(s->why));
  } else {
    put_score(out, "a", s->sa);
    ml_sb_puts(out, ",");
    put_score(out, "b", s->sb);
    ml_sb_puts(out, ",");
    put_score(out, "b_minus_a", (ml_score){s->sb.rmse - s->sa.rmse, s->sb.r2 - s->sa.r2});
  }
  ml_sb_puts(out, "}");
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


/* ---- reading the test rows, when they cannot be scored without ---- */

int ml_ref_version(sqlite3_context *ctx, const char *fname, sqlite3_value *v, ml_ref *r) {
  memset(r, 0, sizeof *r);
  if (sqlite3_value_type(v) != SQLITE_TEXT) return 0; /* a BLOB: no stored rows */
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const char *ref = (const char *)sqlite3_value_text(v), *at = strrchr(ref, '@');
  unsigned char *blob = NULL;
  char *err = NULL;
  int nblob, rc = ml_registry_find(db, sqlite3_user_data(ctx), fname, ref, &r->version, &blob,
                                   &nblob, NULL, &err);
  sqlite3_free(blob);
  if (err) return ml_error_msg(ctx, err);
  if (rc != SQLITE_OK) {
    ml_result_db_error(ctx, fname, db, rc);
    return -1;
  }
  r->name = sqlite3_mprintf("%.*s", at ? (int)(at - ref) : (int)strlen(ref), ref);
  return r->name ? 0 : ml_error_nomem(ctx);
}

static const char *response_label(const ml_model *m) {
  return m->formula ? ml_formula_var_label(m->formula, 0) : m->target;
}

int ml_read_comparable(sqlite3_context *ctx, const char *fname, const ml_model *a,
                       const ml_model *b) {
  if (a->family != b->family)
    return ml_error(ctx, "%s(): the models are of different families (%s, %s): their metrics do "
                         "not compare", fname, ml_family_name(a->family), ml_family_name(b->family));
  const char *ya = response_label(a), *yb = response_label(b);
  if (!ya || !yb)
    return ml_error(ctx, "%s(): %s model does not name its target, so no rows can be read for it",
                    fname, ya ? "the second" : "the first");
  if (strcmp(ya, yb) != 0)
    return ml_error(ctx, "%s(): the models predict different targets (%s, %s)", fname, ya, yb);
  return 0;
}

/* Appends "key":{"n":..,"n_skipped":..,"read":why,"a":{..},"b":{..},"b_minus_a":{..}}. */
static void put_read(ml_sb *out, const char *key, ml_eval ev[2], const char *why) {
  ml_sb_printf(out, "\"%s\":{\"n\":%lld,\"n_skipped\":%lld,\"read\":", key,
               (long long)ev[0].wy.n, (long long)ev[0].skipped);
  ml_sb_json_string(out, why, strlen(why));
  ml_sb_puts(out, ",\"a\":");
  ml_eval_json(out, &ev[0]);
  ml_sb_puts(out, ",\"b\":");
  ml_eval_json(out, &ev[1]);
  ml_sb_puts(out, ",\"b_minus_a\":{");
  const char *const *names = ml_eval_metric_names(ev[0].m->family);
  for (int i = 0; names[i]; i++) {
    double va, vb;
    ml_eval_metric(&ev[0], names[i], &va);
    ml_eval_metric(&ev[1], names[i], &vb);
    ml_sb_printf(out, "%s\"%s\":", i ? "," : "", names[i]);
    ml_sb_json_number(out, vb - va);
  }
  ml_sb_puts(out, "}}");
}

/*
** Reads the test rows of b (or of a, when b has none) once, measures both
** models on them, and appends the side and "rows_read"; why says what
** kept them from being scored without.  0, or -1 after reporting.
*/
static int compare_by_reading(sqlite3_context *ctx, const ml_model *a, const ml_model *b,
                              sqlite3_value **argv, ml_sb *out, const char *why) {
  ml_ref r[2] = {{NULL, 0}, {NULL, 0}};
  int rc = ml_ref_version(ctx, "ml_compare", argv[0], &r[0]);
  if (!rc) rc = ml_ref_version(ctx, "ml_compare", argv[1], &r[1]);
  int which = -1;
  for (int i = 1; i >= 0 && !rc && which < 0; i--) {
    int has = r[i].name ? ml_has_test_rows(ctx, "ml_compare", r[i].name, r[i].version) : 0;
    if (has < 0) rc = -1;
    else if (has) which = i;
  }
  if (!rc && which < 0)
    rc = ml_error(ctx, "ml_compare(): the models cannot be scored on the same rows (%s), and "
                       "neither is a stored version with test rows to read; measure both with "
                       "ml_evaluate over the same source", why);
  if (!rc) rc = ml_read_comparable(ctx, "ml_compare", a, b);
  ml_eval ev[2];
  int init = 0;
  sqlite3_int64 scanned = 0;
  for (; !rc && init < 2; init++)
    if (ml_eval_init(&ev[init], init ? b : a, "ml_compare", (init ? b : a)->target))
      rc = ml_error_nomem(ctx);
  if (!rc) rc = ml_read_test_rows(ctx, "ml_compare", r[which].name, r[which].version,
                                  which ? b : a, ev, &scanned);
  if (!rc) {
    put_read(out, which ? "on_b_test_rows" : "on_a_test_rows", ev, why);
    ml_sb_printf(out, ",\"rows_read\":%lld}", (long long)scanned);
  }
  while (init-- > 0) ml_eval_free(&ev[init]);
  sqlite3_free(r[0].name);
  sqlite3_free(r[1].name);
  return rc;
}

static void result_json(sqlite3_context *ctx, ml_sb *out) {
  char *json = ml_sb_finish(out, NULL);
  if (!json) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, json, -1, sqlite3_free);
  sqlite3_result_subtype(ctx, 'J');
}

void ml_compare_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const ml_model *a = ml_model_arg(ctx, "ml_compare", argv, 0);
  if (!a) return;
  const ml_model *b = ml_model_arg(ctx, "ml_compare", argv, 1);
  if (!b) return;
  /* The test factors in the terms' order, for a model kept with its block
  ** (the cache's model: computed once for the statement). */
  int rc = ml_model_densify_small((ml_model *)a);
  if (!rc) rc = ml_model_densify_small((ml_model *)b);
  if (rc) {
    ml_result_code(ctx, "ml_compare", rc);
    return;
  }
  side s[2] = {{"on_b_test_rows", b, 0, {0, 0}, {0, 0}, ""},
               {"on_a_test_rows", a, 0, {0, 0}, {0, 0}, ""}};
  if (score_side(a, b, &s[0]) || score_side(a, b, &s[1])) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  ml_sb out;
  ml_sb_init(&out);
  ml_sb_puts(&out, "{");
  if (s[0].state == 1 || s[1].state == 1) {
    for (int i = 0, n = 0; i < 2; i++)
      if (s[i].state) {
        if (n++) ml_sb_puts(&out, ",");
        put_side(&out, &s[i]);
      }
    ml_sb_puts(&out, ",\"rows_read\":0}");
    result_json(ctx, &out);
    return;
  }
  const char *why = s[0].state ? s[0].why : s[1].state ? s[1].why
                                                      : "neither model keeps its test rows' factor";
  if (compare_by_reading(ctx, a, b, argv, &out, why) == 0) result_json(ctx, &out);
  else ml_sb_reset(&out);
}
