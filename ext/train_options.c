/*
** train_options.c: ml_train's options, parsed from their JSON object (with
** their defaults and the rules between them), and printed back as the
** registry stores them.
*/
#include "train.h"

/* ---- options ---- */

static int bad_option(trainer *t, const char *what) {
  return ml_error(t->ctx, "ml_train(): option %s", what);
}

/* Reports "ml_train(): option <rule>" and leaves parse_options. */
#define FAIL(rule)        \
  do {                    \
    bad_option(t, rule);  \
    goto out;             \
  } while (0)

/* What pandas' read_csv and R's read.csv read as missing, together. */
static const char *const default_na[] = {"", "NA", "N/A", "NaN", "nan", "NULL", "null", "#N/A"};

int parse_options(trainer *t, const char *text) {
  train_opts *o = &t->o;
  o->test_size = 0.2;
  o->refine = -1;
  o->fit.intercept = 1;
  o->fit.tol = ML_LSQ_TOL;
  o->fit.read_text = 1;
  o->fit.na = &o->na;
  int na_given = 0, rc = -1;
  ml_json *j = NULL;
  if (!text) goto defaults;
  j = ml_json_arg(t->ctx, "ml_train", "options", text, strlen(text));
  if (!j) return -1;
  if (j->type != ML_JSON_OBJECT) {
    ml_error(t->ctx, "ml_train(): options must be a JSON object, got %s", ml_json_type_name(j->type));
    goto out;
  }
  for (const ml_json *c = j->child; c; c = c->next) {
    const char *k = c->key;
    int is_bool = c->type == ML_JSON_TRUE || c->type == ML_JSON_FALSE, yes = c->type == ML_JSON_TRUE;
    const char *str = c->type == ML_JSON_STRING ? c->str : NULL;
    if (strcmp(k, "test_size") == 0) {
      if (c->type != ML_JSON_NUMBER || !(c->num >= 0 && c->num < 1))
        FAIL("test_size must be a number in [0, 1)");
      o->test_size = c->num;
    } else if (strcmp(k, "seed") == 0) {
      /* The range first: converting a double beyond int64 is undefined. */
      if (c->type != ML_JSON_NUMBER || !(fabs(c->num) <= 9007199254740992.0) ||
          c->num != (double)(sqlite3_int64)c->num)
        FAIL("seed must be an integer");
      o->seed = (sqlite3_int64)c->num;
    } else if (strcmp(k, "key") == 0 || strcmp(k, "weights") == 0) {
      if (!str || !str[0]) FAIL(k[0] == 'k' ? "key must be a column name" : "weights must be a column name");
      char **slot = k[0] == 'k' ? &o->key : &o->weights;
      if (!(*slot = sqlite3_mprintf("%s", str))) goto nomem;
    } else if (strcmp(k, "intercept") == 0) {
      if (!is_bool) FAIL("intercept must be true or false");
      o->fit.intercept = yes;
    } else if (strcmp(k, "family") == 0) {
      if (!str || (o->family = ml_family_from_name(str)) < 0)
        FAIL("family must be \"gaussian\", \"binomial\" or \"poisson\"");
    } else if (strcmp(k, "offset") == 0) {
      if (!str || !str[0]) FAIL("offset must be a column name");
      sqlite3_free(o->offset);
      if (!(o->offset = sqlite3_mprintf("%s", str))) goto nomem;
    } else if (strcmp(k, "max_iter") == 0) {
      if (c->type != ML_JSON_NUMBER || !(c->num >= 1 && c->num <= 10000) || c->num != floor(c->num))
        FAIL("max_iter must be an integer from 1 to 10000");
      o->max_iter = (int)c->num;
    } else if (strcmp(k, "epsilon") == 0) {
      if (c->type != ML_JSON_NUMBER || !(c->num > 0 && c->num < 1))
        FAIL("epsilon must be a number in (0, 1)");
      o->epsilon = c->num;
    } else if (strcmp(k, "keep_unconverged") == 0) {
      if (!is_bool) FAIL("keep_unconverged must be true or false");
      o->keep_unconverged = yes;
    } else if (strcmp(k, "progress") == 0) {
      if (!is_bool) FAIL("progress must be true or false");
      o->progress = yes;
    } else if (strcmp(k, "refine") == 0) {
      if (is_bool) o->refine = yes;
      else if (str && strcmp(str, "auto") == 0) o->refine = -1;
      else FAIL("refine must be true, false or \"auto\"");
    } else if (strcmp(k, "metrics") == 0) {
      if (!str || (strcmp(str, "basic") && strcmp(str, "full")))
        FAIL("metrics must be \"basic\" or \"full\"");
      o->full_metrics = strcmp(str, "full") == 0;
    } else if (strcmp(k, "tol") == 0) {
      if (c->type != ML_JSON_NUMBER || !(c->num >= 0 && c->num < 1))
        FAIL("tol must be a number in [0, 1)");
      o->fit.tol = c->num;
    } else if (strcmp(k, "nulls") == 0) {
      if (str && strcmp(str, "skip") == 0) o->fit.nulls = ML_NULLS_SKIP;
      else if (str && strcmp(str, "error") == 0) o->fit.nulls = ML_NULLS_ERROR;
      else if (str && strcmp(str, "mean") == 0) o->fit.nulls = ML_NULLS_MEAN;
      else FAIL("nulls must be \"skip\", \"error\" or \"mean\"");
    } else if (strcmp(k, "unseen") == 0) {
      if (str && strcmp(str, "error") == 0) o->fit.unseen_zero = 0;
      else if (str && strcmp(str, "zero") == 0) o->fit.unseen_zero = 1;
      else FAIL("unseen must be \"error\" or \"zero\"");
    } else if (strcmp(k, "l2") == 0) {
      if (c->type != ML_JSON_NUMBER || !(c->num >= 0) || !isfinite(c->num))
        FAIL("l2 must be a number >= 0");
      o->fit.l2 = c->num;
    } else if (strcmp(k, "robust") == 0) {
      static const char *hc[] = {"HC0", "HC1", "HC2", "HC3"};
      o->fit.robust = 0;
      for (int i = 0; str && i < 4; i++)
        if (strcmp(str, hc[i]) == 0) o->fit.robust = ML_ROBUST_HC0 + i;
      if (!o->fit.robust) FAIL("robust must be \"HC0\", \"HC1\", \"HC2\" or \"HC3\"");
    } else if (strcmp(k, "na_values") == 0) {
      if (c->type != ML_JSON_ARRAY || na_given) FAIL("na_values must be an array of texts");
      na_given = 1;
      o->na_values = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)(c->len ? c->len : 1));
      if (!o->na_values) goto nomem;
      for (const ml_json *e = c->child; e; e = e->next) {
        if (e->type != ML_JSON_STRING) FAIL("na_values must be an array of texts");
        if (!(o->na_values[o->nna] = sqlite3_mprintf("%s", e->str))) goto nomem;
        o->nna++;
      }
    } else if (strcmp(k, "categorical") == 0) {
      if (c->type != ML_JSON_ARRAY) FAIL("categorical must be an array of column names");
      o->categorical = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)(c->len ? c->len : 1));
      if (!o->categorical) goto nomem;
      for (const ml_json *e = c->child; e; e = e->next) {
        if (e->type != ML_JSON_STRING) FAIL("categorical must be an array of column names");
        if (!(o->categorical[o->ncategorical] = sqlite3_mprintf("%s", e->str))) goto nomem;
        o->ncategorical++;
      }
    } else {
      ml_error(t->ctx, "ml_train(): unknown option '%s' (known: test_size, seed, key, intercept, "
                       "nulls, na_values, categorical, unseen, weights, l2, robust, refine, "
                       "metrics, progress, tol, family, offset, max_iter, epsilon, "
                       "keep_unconverged)", k);
      goto out;
    }
  }
  if (o->fit.l2 > 0 && !o->fit.intercept) FAIL("l2 needs the intercept (the one term it leaves unpenalized)");
  if (o->fit.l2 > 0 && o->fit.robust) FAIL("robust does not apply to a ridge fit (l2)");
  if (o->family != ML_FAMILY_GAUSSIAN) {
    /* What the linear model has and a GLM fitted by IRLS has not (yet). */
    if (o->fit.l2 > 0) FAIL("l2 applies to family \"gaussian\" only");
    if (o->fit.robust) FAIL("robust applies to family \"gaussian\" only");
    if (o->refine == 1) FAIL("refine applies to family \"gaussian\" only (IRLS iterates instead)");
    if (o->full_metrics) FAIL("metrics \"full\" applies to family \"gaussian\" only");
  } else {
    if (o->offset) FAIL("offset needs family \"binomial\" or \"poisson\"");
    if (o->max_iter || o->epsilon > 0 || o->keep_unconverged)
      FAIL("max_iter, epsilon and keep_unconverged need family \"binomial\" or \"poisson\"");
  }
defaults:
  if (!o->max_iter) o->max_iter = ML_GLM_MAX_ITER;
  if (!(o->epsilon > 0)) o->epsilon = ML_GLM_EPSILON;
  if (!na_given) {
    int n = (int)(sizeof default_na / sizeof default_na[0]);
    o->na_values = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)n);
    if (!o->na_values) goto nomem;
    for (; o->nna < n; o->nna++)
      if (!(o->na_values[o->nna] = sqlite3_mprintf("%s", default_na[o->nna]))) goto nomem;
  }
  if (ml_na_set(&o->na, o->na_values, o->nna)) goto nomem;
  rc = 0;
  goto out;
nomem:
  sqlite3_result_error_nomem(t->ctx);
out:
  ml_json_free(j);
  return rc;
}

/* The options as stored: every value, defaults filled in. */
void options_json(ml_sb *b, const trainer *t) {
  const train_opts *o = &t->o;
  static const char *nulls[] = {"skip", "error", "mean"};
  static const char *hc[] = {"", "HC0", "HC1", "HC2", "HC3"};
  const char *key = t->has_key ? (o->key ? o->key : "rowid") : NULL;
  ml_sb_puts(b, "{\"test_size\":");
  ml_sb_json_number(b, o->test_size);
  ml_sb_printf(b, ",\"seed\":%lld,\"key\":", (long long)o->seed);
  if (key) ml_sb_json_string(b, key, strlen(key));
  else ml_sb_puts(b, "null");
  ml_sb_printf(b, ",\"intercept\":%s,\"nulls\":\"%s\",\"unseen\":\"%s\",\"categorical\":[",
               o->fit.intercept ? "true" : "false", nulls[o->fit.nulls],
               o->fit.unseen_zero ? "zero" : "error");
  for (int i = 0; i < o->ncategorical; i++) {
    if (i) ml_sb_puts(b, ",");
    ml_sb_json_string(b, o->categorical[i], strlen(o->categorical[i]));
  }
  ml_sb_puts(b, "],\"na_values\":[");
  for (int i = 0; i < o->nna; i++) {
    if (i) ml_sb_puts(b, ",");
    ml_sb_json_string(b, o->na_values[i], strlen(o->na_values[i]));
  }
  ml_sb_puts(b, "],\"weights\":");
  if (o->weights) ml_sb_json_string(b, o->weights, strlen(o->weights));
  else ml_sb_puts(b, "null");
  ml_sb_puts(b, ",\"l2\":");
  ml_sb_json_number(b, o->fit.l2);
  if (o->fit.robust) ml_sb_printf(b, ",\"robust\":\"%s\"", hc[o->fit.robust]);
  else ml_sb_puts(b, ",\"robust\":null");
  ml_sb_printf(b, ",\"refine\":%s,\"metrics\":\"%s\",\"tol\":",
               o->refine < 0 ? "\"auto\"" : o->refine ? "true" : "false",
               o->full_metrics ? "full" : "basic");
  ml_sb_json_number(b, o->fit.tol);
  if (o->family != ML_FAMILY_GAUSSIAN) {
    ml_sb_printf(b, ",\"family\":\"%s\",\"offset\":", ml_family_name(o->family));
    if (o->offset) ml_sb_json_string(b, o->offset, strlen(o->offset));
    else ml_sb_puts(b, "null");
    ml_sb_printf(b, ",\"max_iter\":%d,\"epsilon\":", o->max_iter);
    ml_sb_json_number(b, o->epsilon);
    ml_sb_printf(b, ",\"keep_unconverged\":%s", o->keep_unconverged ? "true" : "false");
  }
  ml_sb_puts(b, "}");
}

