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
** Not built yet: the fit over the formula's design (ml_train stops with an
** error saying so after the design is fixed), the model section, prediction.
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
  /* The fit over the formula's design is the next step of issue 14. */
  return ml_error(t->ctx, "ml_train(): the formula \"%s\" is valid (%d design columns) but "
                          "fitting a formula is not built yet; build its columns in a query and "
                          "list them as features", ml_formula_text(t->formula),
                  ml_formula_ncoef(t->formula));
}
