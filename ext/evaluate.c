/*
** evaluate.c: ml_evaluate, the metrics of a model on new data.
**
**   SELECT ml_evaluate('house_price', 'SELECT * FROM houses_2026');
**   SELECT ml_evaluate('house_price@2', 'houses_2026', 'price');
**
** The source (table, view or read-only query) must have the model's feature
** columns, by name, and the target (the model's, unless given).  Returns
** JSON: n, n_skipped (rows with a NULL, counted and not evaluated), r2, rmse,
** mae, mape (over rows whose target is not 0), explained_variance, max_error,
** all as scikit-learn's metrics of the same names define them.  One pass;
** means and sums of squares by Welford's method, so large offsets do not
** cancel.
**
** A binomial model is measured by log_loss, accuracy (class 1 when the
** probability is above 0.5), brier and deviance; a poisson model by
** deviance and mean_deviance (scikit-learn's mean_poisson_deviance); both
** over the model's offset column too, when it has one.
*/
#include <float.h>
#include <string.h>

#include "design.h"
#include "evaluate.h"
#include "glm.h"
#include "guard.h"
#include "sqlq.h"

static void moments_add(ml_moments *w, double v) {
  w->n++;
  long double d = v - w->mean;
  w->mean += d / w->n;
  w->m2 += d * (v - w->mean);
}

static void add_linear(ml_eval *ev, double y, long double e) {
  double ae = fabs((double)e);
  moments_add(&ev->wy, y);
  moments_add(&ev->we, (double)e);
  ev->sse += e * e;
  ev->sae += ae;
  if (ae > ev->maxe) ev->maxe = ae;
  if (y != 0) {
    ev->sape += ae / fabs(y);
    ev->nape++;
  }
}

/* 0, or ML_NOMEM (the AUC keeps every row). */
static int add_glm(ml_eval *ev, double y, double mu) {
  int f = ev->m->family;
  moments_add(&ev->wy, y);
  ev->gdev += ml_glm_dev_resid(f, y, mu, 1);
  if (f == ML_FAMILY_BINOMIAL) {
    double pc = fmin(fmax(mu, DBL_EPSILON), 1 - DBL_EPSILON);
    ev->glogloss -= y == 1 ? log(pc) : log1p(-pc);
    ev->gcorrect += (mu > 0.5 ? 1.0 : 0.0) == y;
    ev->gbrier += (y - mu) * (y - mu);
    return ml_auc_add(&ev->auc, mu, y, 1);
  }
  return ML_OK;
}

int ml_eval_init(ml_eval *ev, const ml_model *m, const char *fname, const char *target) {
  memset(ev, 0, sizeof *ev);
  ev->m = m;
  ev->fname = fname;
  ev->target = target;
  ml_auc_init(&ev->auc, ML_AUC_MAX_ROWS, 0);
  ev->x = sqlite3_malloc64(8 * (sqlite3_uint64)m->p + 8);
  return ev->x ? SQLITE_OK : SQLITE_NOMEM;
}

void ml_eval_free(ml_eval *ev) {
  ml_auc_free(&ev->auc);
  sqlite3_free(ev->x);
  ev->x = NULL;
}

/* Each family's metrics, by name, in the order of their JSON. */
static const char *const linear_metrics[] = {"r2", "rmse", "mae", "mape", "explained_variance",
                                             "max_error", NULL};
static const char *const binomial_metrics[] = {"log_loss", "accuracy", "brier", "auc", "deviance",
                                               NULL};
static const char *const poisson_metrics[] = {"deviance", "mean_deviance", NULL};

const char *const *ml_eval_metric_names(int family) {
  return family == ML_FAMILY_BINOMIAL ? binomial_metrics
         : family == ML_FAMILY_POISSON ? poisson_metrics
                                       : linear_metrics;
}

static double linear_metric(const ml_eval *ev, const char *name) {
  sqlite3_int64 n = ev->wy.n;
  long double m2 = ev->wy.m2;
  if (n == 0) return NAN;
  if (!strcmp(name, "r2")) return m2 > 0 ? (double)(1 - ev->sse / m2) : NAN;
  if (!strcmp(name, "rmse")) return sqrt((double)(ev->sse / n));
  if (!strcmp(name, "mae")) return (double)(ev->sae / n);
  if (!strcmp(name, "mape")) return ev->nape > 0 ? (double)(ev->sape / ev->nape) : NAN;
  if (!strcmp(name, "explained_variance")) return m2 > 0 ? (double)(1 - ev->we.m2 / m2) : NAN;
  return ev->maxe; /* max_error */
}

static double glm_metric(ml_eval *ev, const char *name) {
  sqlite3_int64 n = ev->wy.n;
  if (n == 0) return NAN;
  if (!strcmp(name, "log_loss")) return (double)(ev->glogloss / n);
  if (!strcmp(name, "accuracy")) return (double)(ev->gcorrect / n);
  if (!strcmp(name, "brier")) return (double)(ev->gbrier / n);
  if (!strcmp(name, "auc")) return ml_auc_value(&ev->auc);
  if (!strcmp(name, "deviance")) return (double)ev->gdev;
  return (double)(ev->gdev / n); /* mean_deviance */
}

int ml_eval_metric(ml_eval *ev, const char *name, double *v) {
  const char *const *names = ml_eval_metric_names(ev->m->family);
  int i = 0;
  while (names[i] && strcmp(names[i], name) != 0) i++;
  if (!names[i]) return -1;
  *v = ev->m->family == ML_FAMILY_GAUSSIAN ? linear_metric(ev, name) : glm_metric(ev, name);
  return 0;
}

int ml_metric_lower_is_better(const char *name) {
  return strcmp(name, "r2") && strcmp(name, "explained_variance") && strcmp(name, "accuracy") &&
         strcmp(name, "auc");
}

void ml_eval_json(ml_sb *b, ml_eval *ev) {
  ml_sb_printf(b, "{\"n\":%lld,\"n_skipped\":%lld", (long long)ev->wy.n, (long long)ev->skipped);
  for (const char *const *name = ml_eval_metric_names(ev->m->family); *name; name++) {
    if (!strcmp(*name, "auc")) {
      ml_auc_json(b, &ev->auc);
      continue;
    }
    double v;
    ml_eval_metric(ev, *name, &v);
    ml_sb_printf(b, ",\"%s\":", *name);
    ml_sb_json_number(b, v);
  }
  ml_sb_puts(b, "}");
}

/* Appends ", "column"" for column c of the source, or sets *err (NULL:
** out of memory) when the source lacks it; what says what c is. */
static int select_column(ml_sb *b, char **cols, int ncol, const char *c, const char *what,
                         const char *source, int first, char **err) {
  if (ml_find_name(cols, ncol, c) < 0) {
    *err = sqlite3_mprintf("ml_evaluate(): the source '%s' has no column '%s' (%s)", source, c, what);
    return -1;
  }
  char *q = sqlite3_mprintf("%s\"%w\"", first ? "" : ", ", c);
  if (q) ml_sb_puts(b, q);
  else b->oom = 1;
  sqlite3_free(q);
  return 0;
}

/* SELECT target, the features[, the offset] FROM the source; NULL with *err
** set, or NULL alone out of memory. */
static char *select_sql(const ml_eval *ev, const char *source, const ml_source *src, char **cols,
                        int ncol, char **err) {
  const ml_model *m = ev->m;
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_puts(&b, "SELECT ");
  int bad = select_column(&b, cols, ncol, ev->target, "the target", source, 1, err);
  for (int j = 0; j < m->k && !bad; j++)
    bad = select_column(&b, cols, ncol, m->feat[j].name, "a feature of the model", source, 0, err);
  if (!bad && m->offset)
    bad = select_column(&b, cols, ncol, m->offset, "the model's offset", source, 0, err);
  if (bad) {
    ml_sb_reset(&b);
    return NULL;
  }
  ml_sb_puts(&b, " FROM ");
  ml_sb_puts(&b, src->from);
  return ml_sb_finish(&b, NULL);
}

/* The target of a row, read as the model reads its features (design.h): a
** kind ML_V_NUM or ML_V_NULL with *y, or -1 after reporting. */
static int read_target(sqlite3_context *ctx, const ml_eval *ev, sqlite3_value *yv, double *y) {
  const ml_model *m = ev->m;
  int text, kind = m->reads ? ml_read_num(yv, &m->na, 1, y, &text) : ml_value_num(yv, y);
  if (m->ylevels[0] && kind == ML_V_TEXT) {
    /* A binomial target of text levels: the second is 1. */
    const char *z = (const char *)sqlite3_value_text(yv);
    if (!z) return ml_error_nomem(ctx); /* a text value without its text */
    int l = strcmp(z, m->ylevels[0]) == 0 ? 0 : strcmp(z, m->ylevels[1]) == 0 ? 1 : -1;
    if (l < 0)
      return ml_error(ctx, "%s(): the target '%s' is '%s' in row %lld, not one of the model's "
                           "levels '%s' and '%s'", ev->fname, ev->target, z, (long long)ev->row,
                      m->ylevels[0], m->ylevels[1]);
    *y = l;
    kind = ML_V_NUM;
  }
  if (kind == ML_V_NOMEM) return ml_error_nomem(ctx);
  if (kind != ML_V_NUM && kind != ML_V_NULL) {
    char what[140];
    sqlite3_snprintf(sizeof what, what, "column '%.100s'", ev->target);
    ml_value_error(ctx, ev->fname, what, kind, yv, ev->row);
    return -1;
  }
  /* A formula's response as fitted (log(price)); undefined, the row is skipped. */
  if (kind == ML_V_NUM && m->formula && !ml_model_response(m, *y, y)) kind = ML_V_NULL;
  return kind;
}

/* The offset's value of a row: ML_V_NUM or ML_V_NULL, or -1 after reporting. */
static int read_offset(sqlite3_context *ctx, const ml_eval *ev, sqlite3_value *ov, double *off) {
  *off = 0;
  int kind = ov ? ml_value_num(ov, off) : ML_V_NUM;
  if (kind == ML_V_NUM || kind == ML_V_NULL) return kind;
  char what[140];
  sqlite3_snprintf(sizeof what, what, "column '%.100s'", ev->m->offset);
  ml_value_error(ctx, ev->fname, what, kind, ov, ev->row);
  return -1;
}

int ml_eval_read(sqlite3_context *ctx, ml_eval *ev, sqlite3_value *yv, sqlite3_value **vals,
                 sqlite3_value *ov) {
  const ml_model *m = ev->m;
  double y = 0, off = 0, *x = ev->x;
  ev->row++;
  int kind = read_target(ctx, ev, yv, &y);
  if (kind < 0) return -1;
  int blk, r = ml_design_row_blocked(ctx, ev->fname, m, vals, x, m->fac ? &blk : NULL);
  if (r < 0) return -1;
  int okind = read_offset(ctx, ev, ov, &off);
  if (okind < 0) return -1;
  if (r == ML_V_NULL || kind == ML_V_NULL || okind == ML_V_NULL) return 1;
  int f = m->family;
  ev->y = y;
  if (f == ML_FAMILY_GAUSSIAN) {
    ev->e = ml_model_residual(m, x, blk, y);
    return 0;
  }
  if (ml_glm_check_y(f, y, 1, 0) == ML_GLM_Y_OUT)
    return ml_error(ctx, "%s(): the target '%s' is %!.17g in row %lld, outside what family "
                         "\"%s\" takes (%s)", ev->fname, ev->target, y, (long long)ev->row,
                    ml_family_name(f), f == ML_FAMILY_BINOMIAL ? "0 or 1" : "a count >= 0");
  ev->mu = ml_glm_linkinv(f, ml_model_linear(m, x, blk) + off);
  return 0;
}

int ml_eval_add(ml_eval *ev) {
  if (ev->m->family != ML_FAMILY_GAUSSIAN) return add_glm(ev, ev->y, ev->mu);
  add_linear(ev, ev->y, ev->e);
  return ML_OK;
}

int ml_eval_row(sqlite3_context *ctx, ml_eval *ev, sqlite3_value *yv, sqlite3_value **vals,
                sqlite3_value *ov) {
  int r = ml_eval_read(ctx, ev, yv, vals, ov);
  if (r < 0) return -1;
  if (r > 0) ev->skipped++;
  else if (ml_eval_add(ev)) return ml_error_nomem(ctx);
  return 0;
}

/* Every row of st (target, features, offset), inside the nesting guard; 0,
** or -1 after reporting. */
static int eval_rows(sqlite3_context *ctx, ml_eval *ev, sqlite3_stmt *st) {
  const ml_model *m = ev->m;
  sqlite3_value **vals = sqlite3_malloc64(sizeof(sqlite3_value *) * (sqlite3_uint64)m->k);
  int rc = -1;
  if (!vals) {
    ml_error_nomem(ctx);
  } else if (ml_nest_enter()) {
    ml_error(ctx, "ml_evaluate(): " ML_NEST_MSG);
  } else {
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
      for (int j = 0; j < m->k; j++) vals[j] = sqlite3_column_value(st, 1 + j);
      sqlite3_value *ov = m->offset ? sqlite3_column_value(st, 1 + m->k) : NULL;
      if (ml_eval_row(ctx, ev, sqlite3_column_value(st, 0), vals, ov)) break;
    }
    ml_nest_leave();
    if (step == SQLITE_DONE) rc = 0;
    else if (step != SQLITE_ROW)
      ml_result_db_error(ctx, "ml_evaluate", sqlite3_context_db_handle(ctx), step);
  }
  sqlite3_free(vals);
  return rc;
}

/* The statement that reads the source's target and features; NULL after reporting. */
static sqlite3_stmt *open_source(sqlite3_context *ctx, const ml_eval *ev, const char *source) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  char *err = NULL, **cols = NULL, *sql = NULL;
  int ncol = 0;
  sqlite3_stmt *st = NULL;
  ml_source src;
  int rc = ml_source_open(db, "ml_evaluate()", source, NULL, &src, &err);
  if (rc != SQLITE_OK && !err && rc != SQLITE_NOMEM) {
    ml_result_db_error(ctx, "ml_evaluate", db, rc);
    ml_source_free(&src);
    return NULL;
  }
  if (rc == SQLITE_OK && (cols = ml_source_columns(db, "ml_evaluate", src.from, source, &ncol,
                                                   &err, NULL)))
    sql = select_sql(ev, source, &src, cols, ncol, &err);
  if (sql && (rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
    ml_result_db_error(ctx, "ml_evaluate", db, rc);
  else if (!sql)
    ml_error_msg(ctx, err);
  else
    sqlite3_free(err);
  ml_source_free(&src);
  ml_free(sql);
  ml_free_names(cols, ncol);
  return st;
}

void ml_evaluate_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const ml_model *m = ml_model_arg(ctx, "ml_evaluate", argv, 0);
  if (!m) return;
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
    ml_error(ctx, "ml_evaluate(): argument 2 must be a table, a view or a query");
    return;
  }
  const char *source = (const char *)sqlite3_value_text(argv[1]);
  const char *target = argc > 2 && sqlite3_value_type(argv[2]) == SQLITE_TEXT
                           ? (const char *)sqlite3_value_text(argv[2])
                           : m->target;
  if (!target) {
    ml_error(ctx, "ml_evaluate(): the model does not name its target; give it as argument 3");
    return;
  }
  ml_eval ev;
  sqlite3_stmt *st = NULL;
  if (ml_eval_init(&ev, m, "ml_evaluate", target) != SQLITE_OK) ml_error_nomem(ctx);
  else if ((st = open_source(ctx, &ev, source)) && eval_rows(ctx, &ev, st) == 0) {
    ml_sb b;
    ml_sb_init(&b);
    ml_eval_json(&b, &ev);
    size_t len;
    char *json = ml_sb_finish(&b, &len);
    if (!json) {
      ml_error_nomem(ctx);
    } else {
      sqlite3_result_text64(ctx, json, len, ml_free, SQLITE_UTF8);
      sqlite3_result_subtype(ctx, 'J');
    }
  }
  ml_eval_free(&ev);
  sqlite3_finalize(st);
}
