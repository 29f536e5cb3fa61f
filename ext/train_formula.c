/*
** train_formula.c: ml_train's formula (issue 14), when argument 3 holds a
** '~':
**
**   SELECT ml_train('price', 'houses', 'log(price) ~ sqft + rooms * city');
**
** The formula is parsed against the source's columns (for '.'), each of
** its columns must be in the source, and the kind of each column, with the
** levels of a categorical one, is known before the design is fixed: one
** read of the distinct values of each column the formula names.  A column
** whose every value reads as a number (design.h) is numeric, any other is
** categorical with its levels sorted by bytes; a numeric column inside
** factor() or relevel() has its distinct values, sorted by value, as levels.
**
** Then the trainer's target is the response's column, its features the
** right-hand side's columns, and the fit (fitacc.c, ml_fitacc_use_formula)
** adds each row's design row as the formula computes it; the response is
** transformed as it is read (read_yw).
*/
#include <stdlib.h>

#include "formula.h"
#include "train.h"

/* Distinct values of one column: as read, and their texts. */
typedef struct distinct {
  char **text;   /* canonical texts (sqlite3_free) */
  double *num;   /* their numbers, when every value is one */
  int n, cap, numeric;
} distinct;

static void distinct_free(distinct *d) {
  ml_free_names(d->text, d->n);
  sqlite3_free(d->num);
}

static int cmp_text(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends one value (not NULL): 0, or SQLITE_NOMEM. */
static int distinct_add(distinct *d, const char *z, double v) {
  if (d->n == d->cap) {
    int cap = d->cap ? 2 * d->cap : 16;
    char **t = sqlite3_realloc64(d->text, sizeof(char *) * (sqlite3_uint64)cap);
    if (t) d->text = t;
    double *u = sqlite3_realloc64(d->num, sizeof(double) * (sqlite3_uint64)cap);
    if (u) d->num = u;
    if (!t || !u) return SQLITE_NOMEM;
    d->cap = cap;
  }
  if (!(d->text[d->n] = sqlite3_mprintf("%s", z))) return SQLITE_NOMEM;
  d->num[d->n++] = v;
  return SQLITE_OK;
}

/*
** Sorts and deduplicates: by value, texts made canonical, when every value
** is a number; by bytes otherwise.
*/
static int distinct_sort(distinct *d) {
  if (d->numeric) {
    for (int i = 1; i < d->n; i++) /* insertion sort by value, the texts along */
      for (int j = i; j > 0 && d->num[j - 1] > d->num[j]; j--) {
        double v = d->num[j]; d->num[j] = d->num[j - 1]; d->num[j - 1] = v;
        char *s = d->text[j]; d->text[j] = d->text[j - 1]; d->text[j - 1] = s;
      }
    for (int i = 0; i < d->n; i++) {
      char buf[32];
      ml_formula_fmt_level(buf, d->num[i]);
      sqlite3_free(d->text[i]);
      if (!(d->text[i] = sqlite3_mprintf("%s", buf))) return SQLITE_NOMEM;
    }
  } else {
    qsort(d->text, (size_t)d->n, sizeof(char *), cmp_text);
  }
  int m = 0;
  for (int i = 0; i < d->n; i++) {
    if (m > 0 && strcmp(d->text[m - 1], d->text[i]) == 0) {
      sqlite3_free(d->text[i]);
      continue;
    }
    d->num[m] = d->num[i];
    d->text[m++] = d->text[i];
  }
  d->n = m;
  return SQLITE_OK;
}

/* Reads the distinct values of column col of the source into d: SQLite's rc. */
static int read_distinct(trainer *t, const char *col, distinct *d) {
  char *sql = sqlite3_mprintf("SELECT DISTINCT \"%w\" FROM %s", col, t->from);
  sqlite3_stmt *st = NULL;
  int rc = sql ? sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  d->numeric = 1;
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    sqlite3_value *v = sqlite3_column_value(st, 0);
    double x = 0;
    int from_text = 0;
    int r = ml_read_num(v, &t->o.na, 1, &x, &from_text);
    if (r == ML_V_NULL) { rc = SQLITE_OK; continue; }
    if (r == ML_V_NOMEM) { rc = SQLITE_NOMEM; break; }
    if (r != ML_V_NUM) d->numeric = 0;
    const char *z = (const char *)sqlite3_column_text(st, 0);
    rc = z ? distinct_add(d, z, x) : SQLITE_NOMEM;
  }
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? distinct_sort(d) : rc;
}

static int report_nomem(trainer *t) {
  sqlite3_result_error_nomem(t->ctx);
  return -1;
}

/* Reports the core's ML_* result with its message: -1. */
static int formula_error(trainer *t, int rc, const char *err) {
  if (rc == ML_NOMEM) sqlite3_result_error_nomem(t->ctx);
  else ml_error(t->ctx, "ml_train(): %s", err);
  return -1;
}

/* Column c's kind and levels, from its distinct values: 0, or -1 after reporting. */
static int set_column(trainer *t, int c) {
  const char *name = ml_formula_col_name(t->formula, c);
  distinct d;
  memset(&d, 0, sizeof d);
  int rc = read_distinct(t, name, &d);
  if (rc != SQLITE_OK) {
    distinct_free(&d);
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return -1;
  }
  int kind = d.numeric ? ML_FCOL_NUMERIC : ML_FCOL_CATEGORICAL;
  int levels = kind == ML_FCOL_CATEGORICAL || (ml_formula_col_use(t->formula, c) & ML_FUSE_FACTOR);
  char err[512];
  rc = ml_formula_set_column(t->formula, c, kind, (const char *const *)d.text, levels ? d.n : 0,
                             err, sizeof err);
  distinct_free(&d);
  return rc == ML_OK ? 0 : formula_error(t, rc, err);
}

/*
** The trainer's columns from the formula's: the target is the response's
** one column, the features the right-hand side's columns in the formula's
** order (ml_predict's arguments).  0, or -1 after reporting.
*/
static int formula_columns(trainer *t) {
  const ml_formula *f = t->formula;
  int n = ml_formula_ncols(f), k = ml_formula_nrhs_cols(f);
  if (n - k != 1)
    return ml_error(t->ctx, "ml_train(): the response of \"%s\" must read one column of the "
                            "source, not %d; compute it in a query", t->formula_text, n - k);
  if (k > ML_MAX_TERMS)
    return ml_error(t->ctx, "ml_train(): the formula reads %d columns, more than the %d terms a "
                            "model can hold", k, ML_MAX_TERMS);
  if (k == 0)
    return ml_error(t->ctx, "ml_train(): the formula \"%s\" reads no column on its right-hand "
                            "side, and a model needs one; the mean alone is SELECT avg(...)",
                    t->formula_text);
  if (t->o.fit.nulls == ML_NULLS_MEAN)
    return ml_error(t->ctx, "ml_train(): option nulls \"mean\" does not apply to a formula; a "
                            "row with a NULL is skipped (as R's na.omit) or an error");
  /* The formula decides these; an option that says otherwise is not ignored. */
  if (!t->o.fit.intercept)
    return ml_error(t->ctx, "ml_train(): option intercept does not apply to a formula; write "
                            "\"0 +\" or \"- 1\" in it for no intercept");
  if (t->o.ncategorical)
    return ml_error(t->ctx, "ml_train(): option categorical does not apply to a formula; write "
                            "factor(%s) in it", t->o.categorical[0]);
  t->target = ml_formula_col_name(f, k);
  t->fresp = sqlite3_malloc64(sizeof(ml_fvalue) * (sqlite3_uint64)n);
  t->feat = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)(k + 1));
  if (!t->feat || !t->fresp) return report_nomem(t);
  memset(t->fresp, 0, sizeof(ml_fvalue) * (size_t)n);
  for (; t->k < k; t->k++)
    if (!(t->feat[t->k] = sqlite3_mprintf("%s", ml_formula_col_name(f, t->k)))) return report_nomem(t);
  return 0;
}

/* Parses the formula against the source's columns: 0, or -1 after reporting. */
static int parse(trainer *t) {
  char err[512];
  int rc = ml_formula_parse(t->formula_text, (const char *const *)t->cols, t->ncol, &t->formula,
                            err, sizeof err);
  if (rc != ML_OK) return formula_error(t, rc, err);
  if (!ml_formula_has_response(t->formula))
    return ml_error(t->ctx, "ml_train(): the formula \"%s\" has no response; write it as "
                            "'y ~ ...'", t->formula_text);
  for (int c = 0; c < ml_formula_ncols(t->formula); c++) {
    const char *name = ml_formula_col_name(t->formula, c);
    if (ml_find_name(t->cols, t->ncol, name) < 0)
      return ml_error(t->ctx, "ml_train(): the source '%s' has no column '%s', which the formula "
                              "\"%s\" names", t->source, name, t->formula_text);
  }
  return 0;
}

int train_formula_plan(trainer *t, sqlite3_value *features) {
  if (features && sqlite3_value_type(features) != SQLITE_NULL)
    return ml_error(t->ctx, "ml_train(): argument 4 (features) must be omitted or NULL with a "
                            "formula, got %s; the formula names the columns it uses",
                    sqlite3_value_type(features) == SQLITE_TEXT
                        ? (const char *)sqlite3_value_text(features) : "a non-text value");
  if (parse(t)) return -1;
  for (int c = 0; c < ml_formula_ncols(t->formula); c++)
    if (set_column(t, c)) return -1;
  char err[512];
  int rc = ml_formula_design(t->formula, err, sizeof err);
  if (rc != ML_OK) return formula_error(t, rc, err);
  return formula_columns(t);
}

void train_formula_kinds(trainer *t) {
  for (int j = 0; j < t->k; j++) {
    t->kind[j] = ml_formula_col_kind(t->formula, j) == ML_FCOL_CATEGORICAL ? ML_TYPE_CATEGORICAL
                                                                           : ML_TYPE_NUMERIC;
    t->sure[j] = 1; /* known from every value: no start again */
  }
}

int train_formula_response(trainer *t, double *y) {
  int n = ml_formula_ncols(t->formula), r = n - 1, bad = 0;
  ml_fvalue *v = t->fresp;
  v[r].num = *y;
  v[r].isnull = 0;
  v[r].level = -1;
  if (ml_formula_eval_response(t->formula, v, y, &bad) == ML_FROW_OK) return 0;
  char *where = row_name(t);
  ml_error(t->ctx, "ml_train(): the response %s is undefined in %s (%s = %!.17g); filter the "
                   "rows it is undefined on, or change the response",
           ml_formula_var_label(t->formula, 0), where ? where : "a row",
           ml_formula_col_name(t->formula, r), v[r].num);
  sqlite3_free(where);
  return -1;
}

int train_formula_undefined(trainer *t) {
  int v = t->fa.bad_col, c = ml_formula_var_col(t->formula, v);
  char *where = row_name(t);
  const char *val = c >= 0 && c < t->k ? (const char *)sqlite3_value_text(t->vals[t->cy + 1 + c]) : NULL;
  ml_error(t->ctx, "ml_train(): the term %s is undefined in %s (%s = %s); a transform must be "
                   "defined on every training row: filter the rows (WHERE) or change the term",
           ml_formula_var_label(t->formula, v), where ? where : "a row",
           c >= 0 ? ml_formula_col_name(t->formula, c) : "?", val ? val : "NULL");
  sqlite3_free(where);
  return -1;
}
