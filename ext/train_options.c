/*
** train_options.c: ml_train's options, read by the grammar it shares with
** ml_fit_opts (options.c) and given their defaults, and printed back as
** the registry stores them.
*/
#include "train.h"

/* ---- options ---- */

/* What pandas' read_csv and R's read.csv read as missing, together. */
static const char *const default_na[] = {"", "NA", "N/A", "NaN", "nan", "NULL", "null", "#N/A"};

/*
** Reads the options (text, or NULL for none) through the one grammar
** (options.c), then fills in the defaults that depend on what was given:
** R's glm.control, and the na_values when none are listed.  0, or -1
** after reporting.
*/
int parse_options(trainer *t, const char *text) {
  train_opts *o = &t->o;
  o->test_size = 0.2;
  o->refine = -1;
  o->fit.intercept = 1;
  o->fit.tol = ML_LSQ_TOL;
  o->fit.read_text = 1;
  o->fit.na = &o->na;
  o->auc_max_rows = -1;
  ml_json *j = NULL;
  int rc = text ? ml_options_parse(t->ctx, "ml_train", ML_OPT_TRAIN, text, strlen(text), o, &j) : 0;
  ml_json_free(j);
  if (rc) return -1;
  if (!o->max_iter) o->max_iter = ML_GLM_MAX_ITER;
  if (!(o->epsilon > 0)) o->epsilon = ML_GLM_EPSILON;
  if (o->auc_max_rows < 0) o->auc_max_rows = ML_AUC_MAX_ROWS;
  if (!o->na_values) {
    int n = (int)(sizeof default_na / sizeof default_na[0]);
    o->na_values = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)n);
    if (!o->na_values) goto nomem;
    for (; o->nna < n; o->nna++)
      if (!(o->na_values[o->nna] = sqlite3_mprintf("%s", default_na[o->nna]))) goto nomem;
  }
  if (ml_na_set(&o->na, o->na_values, o->nna)) goto nomem;
  return 0;
nomem:
  sqlite3_result_error_nomem(t->ctx);
  return -1;
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
  if (o->fit.cv) ml_sb_printf(b, ",\"cv\":%d", o->fit.cv);
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

