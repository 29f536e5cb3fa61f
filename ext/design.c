/*
** design.c: from SQL values to numbers: what a value means for a column
** (design.h), the checks every function applies to its numeric arguments,
** and the design row of a fitted model (intercept, numeric features,
** categorical dummies, imputed NULLs).
*/
#include <stdio.h>
#include <string.h>

#include "design.h"
#include "formula.h"

int ml_read_num(sqlite3_value *v, const ml_na *na, int read_text, double *d, int *from_text) {
  *from_text = 0;
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      *d = (double)sqlite3_value_int64(v);
      break;
    case SQLITE_FLOAT:
      *d = sqlite3_value_double(v);
      if (!isfinite(*d)) return ML_V_NONFINITE;
      break;
    case SQLITE_NULL:
      return ML_V_NULL;
    case SQLITE_TEXT: {
      const char *z = (const char *)sqlite3_value_text(v);
      if (!z) return ML_V_NOMEM;
      int n = sqlite3_value_bytes(v);
      if (na && ml_na_has_text(na, z, n)) return ML_V_NULL;
      int r = read_text ? ml_parse_number(z, n, d) : 0;
      if (r < 0) return ML_V_NOMEM;
      if (!r) return ML_V_TEXT;
      *from_text = 1;
      if (!isfinite(*d)) return ML_V_NONFINITE;
      break;
    }
    default:
      return ML_V_BLOB;
  }
  return ML_V_NUM;
}

int ml_read_is_na(sqlite3_value *v, const ml_na *na) {
  if (sqlite3_value_type(v) != SQLITE_TEXT) return 0;
  const char *z = (const char *)sqlite3_value_text(v);
  return z && ml_na_has_text(na, z, sqlite3_value_bytes(v));
}

void ml_value_error(sqlite3_context *ctx, const char *fname, const char *what, int kind,
                    sqlite3_value *v, int64_t row) {
  char at[48] = "";
  if (row > 0) snprintf(at, sizeof at, " in row %lld", (long long)row);
  char *msg;
  if (kind == ML_V_NONFINITE) {
    msg = sqlite3_mprintf("%s(): %s is %s%s; values must be finite", fname, what,
                          isnan(sqlite3_value_double(v)) ? "NaN" : "infinite", at);
  } else if (kind == ML_V_TEXT) {
    /* %!.20s: 20 characters, not bytes, so a cut never splits one.  CAST is
    ** advice only for a text that is a number: CAST('NA' AS REAL) is 0. */
    const char *z = (const char *)sqlite3_value_text(v);
    double d;
    if (z && ml_parse_number(z, sqlite3_value_bytes(v), &d) > 0)
      msg = sqlite3_mprintf("%s(): %s is text ('%!.20s')%s; expected a number "
                            "(CAST it AS REAL, or give the column a numeric type)",
                            fname, what, z, at);
    else
      msg = sqlite3_mprintf("%s(): %s is text ('%!.20s')%s; expected a number (if the text "
                            "marks a missing value, NULLIF(column, 'text') makes it NULL)",
                            fname, what, z ? z : "", at);
  } else if (kind == ML_V_NULBYTE) {
    msg = sqlite3_mprintf("%s(): %s is a text with a NUL byte ('%!.20s...')%s, which a model "
                          "cannot keep as a level; replace(column, char(0), '') removes them",
                          fname, what, (const char *)sqlite3_value_text(v), at);
  } else {
    msg = sqlite3_mprintf("%s(): %s is a blob%s; expected a number", fname, what, at);
  }
  ml_error_msg(ctx, msg);
}

int ml_level_arg(sqlite3_context *ctx, const char *fname, sqlite3_value *v, double *level) {
  int t = sqlite3_value_type(v);
  *level = sqlite3_value_double(v);
  if ((t == SQLITE_INTEGER || t == SQLITE_FLOAT) && *level > 0 && *level < 1) return 0;
  return ml_error(ctx, "%s(): level must be a number in (0, 1), like 0.95", fname);
}


/* Index of the numeric level d of f, or -1. */
static int find_num_level(const ml_feature *f, double d) {
  int lo = 0, hi = f->nlevels - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (f->lvnum[mid] == d) return mid;
    if (f->lvnum[mid] < d) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

const char *ml_feature_level(const ml_feature *f, sqlite3_value *v, char canon[ML_NUMBER_TEXT_MAX],
                             int *level) {
  double d;
  int from_text;
  if (f->num_levels && ml_read_num(v, NULL, 1, &d, &from_text) == ML_V_NUM) {
    /* As SQL compares numbers: 2, 2.0 and '2' are the level "2". */
    *level = find_num_level(f, d);
    canon[0] = 0; /* the text only for the message of an unseen level */
    if (*level < 0) ml_number_text(d, canon);
    return canon;
  }
  const char *z = (const char *)sqlite3_value_text(v);
  *level = !z || f->num_levels ? -1 : ml_level_index(f, z);
  return z;
}

/* The unseen-level error, with the first levels the model knows. */
static int unseen_level(sqlite3_context *ctx, const char *fname, const ml_feature *f, int j,
                        const char *z) {
  sqlite3_str *known = sqlite3_str_new(NULL);
  for (int l = 0; l < f->nlevels && l < 8; l++)
    sqlite3_str_appendf(known, "%s'%!.40s'", l ? ", " : "", f->levels[l]);
  if (f->nlevels > 8) sqlite3_str_appendf(known, ", ... (%d levels)", f->nlevels);
  char *k = sqlite3_str_finish(known);
  char *msg = k ? sqlite3_mprintf("%s(): feature %d (%s) has level '%!.80s', unseen in training "
                                  "(known: %s; train with option \"unseen\":\"zero\" to read it "
                                  "as the reference level)", fname, j + 1, f->name, z, k)
                : NULL;
  sqlite3_free(k);
  return ml_error_msg(ctx, msg);
}

/*
** Raw column j of a formula model into *fv: its number, its level (for a
** categorical column, or a numeric one inside factor()), or NULL.  0, or
** -1 after reporting.
*/
static int formula_value(sqlite3_context *ctx, const char *fname, const ml_model *m, int j,
                         sqlite3_value *v, ml_fvalue *fv) {
  const ml_feature *f = &m->feat[j];
  const ml_na *na = m->reads ? &m->na : NULL;
  memset(fv, 0, sizeof *fv);
  int type = sqlite3_value_type(v);
  if (type == SQLITE_NULL || (na && ml_read_is_na(v, na))) {
    fv->isnull = 1;
    return 0;
  }
  if (type == SQLITE_BLOB)
    return ml_error(ctx, "%s(): feature %d (%s) is a blob; expected a number or a level", fname,
                    j + 1, f->name);
  if (f->type == ML_FEAT_CATEGORICAL) {
    char canon[ML_NUMBER_TEXT_MAX];
    const char *z = ml_feature_level(f, v, canon, &fv->level);
    if (!z) return ml_error_msg(ctx, NULL);
    if (fv->level < 0 && !(m->flags & ML_MODEL_UNSEEN_ZERO)) return unseen_level(ctx, fname, f, j, z);
    return 0;
  }
  int from_text, kind = ml_read_num(v, na, 1, &fv->num, &from_text);
  if (kind == ML_V_NOMEM) return ml_error_msg(ctx, NULL);
  if (kind != ML_V_NUM) {
    char what[80];
    snprintf(what, sizeof what, "feature %d (%.40s)", j + 1, f->name);
    ml_value_error(ctx, fname, what, kind, v, 0);
    return -1;
  }
  if (ml_formula_col_use(m->formula, j) & ML_FUSE_FACTOR) {
    char canon[32];
    ml_formula_fmt_level(canon, fv->num);
    if ((fv->level = ml_formula_col_level(m->formula, j, canon)) < 0 &&
        !(m->flags & ML_MODEL_UNSEEN_ZERO))
      return unseen_level(ctx, fname, f, j, canon);
  }
  return 0;
}

int ml_model_response(const ml_model *m, double raw, double *y) {
  ml_fvalue vals[ML_MAX_TERMS + 1];
  int r = m->k, bad = 0; /* the response's one column comes after the right-hand side's */
  memset(&vals[r], 0, sizeof vals[r]);
  vals[r].num = raw;
  vals[r].level = -1;
  return ml_formula_eval_response(m->formula, vals, y, &bad) == ML_FROW_OK;
}

/* The design row of a formula model: its terms from the raw columns. */
static int formula_row(sqlite3_context *ctx, const char *fname, const ml_model *m,
                       sqlite3_value **v, double *x) {
  ml_fvalue vals[ML_MAX_TERMS];
  for (int j = 0; j < m->k; j++)
    if (formula_value(ctx, fname, m, j, v[j], &vals[j])) return -1;
  int bad = 0;
  /* A NULL, or a transform undefined on the row (log(0)): no prediction. */
  return ml_formula_eval_row(m->formula, vals, x, &bad) == ML_FROW_OK ? ML_V_NUM : ML_V_NULL;
}

/* The dummies of categorical feature f at level (its index; nlevels the
** NULL level, -1 an unseen one), from x[*t]: written, or with blk (the
** model's block feature) only the block's term set in *blk. */
static void level_terms(const ml_feature *f, int level, double *x, int *t, int *blk) {
  int first = f->full ? 0 : 1;
  if (blk) {
    if (level >= first && level < f->nlevels) *blk = *t + level - first;
    *t += f->nlevels - first;
  } else {
    for (int l = first; l < f->nlevels; l++) x[(*t)++] = l == level ? 1 : 0;
  }
  if (f->has_impute) x[(*t)++] = level == f->nlevels ? 1 : 0;
}

void ml_design_row_values(const ml_model *m, const ml_fvalue *v, double *x, int *blk) {
  int t = 0;
  if (blk) *blk = -1;
  if (m->flags & ML_MODEL_INTERCEPT) x[t++] = 1;
  for (int j = 0; j < m->k; j++) {
    const ml_feature *f = &m->feat[j];
    if (f->type == ML_FEAT_NUMERIC) x[t++] = v[j].isnull ? f->impute : v[j].num;
    else
      level_terms(f, v[j].isnull ? f->nlevels : v[j].level, x, &t,
                  blk && m->fac && j == m->bfeat ? blk : NULL);
  }
}

int ml_design_row_skipped(const ml_model *m, sqlite3_value **v) {
  const ml_na *na = m->reads ? &m->na : NULL;
  for (int j = 0; j < m->k; j++) {
    int missing = sqlite3_value_type(v[j]) == SQLITE_NULL || (na && ml_read_is_na(v[j], na));
    if (missing && (m->formula || !m->feat[j].has_impute)) return 1;
  }
  return 0;
}

int ml_design_row(sqlite3_context *ctx, const char *fname, const ml_model *m, sqlite3_value **v,
                  double *x) {
  return ml_design_row_blocked(ctx, fname, m, v, x, NULL);
}

int ml_design_row_blocked(sqlite3_context *ctx, const char *fname, const ml_model *m,
                          sqlite3_value **v, double *x, int *blk) {
  if (blk) *blk = -1;
  if (m->formula) return formula_row(ctx, fname, m, v, x);
  int t = 0, result = ML_V_NUM;
  const ml_na *na = m->reads ? &m->na : NULL;
  if (m->flags & ML_MODEL_INTERCEPT) x[t++] = 1;
  for (int j = 0; j < m->k; j++) {
    const ml_feature *f = &m->feat[j];
    int type = sqlite3_value_type(v[j]);
    int missing = type == SQLITE_NULL || (na && ml_read_is_na(v[j], na));
    if (missing && !f->has_impute) {
      result = ML_V_NULL; /* keep checking: a bad value later in the row is still an error */
      t += ml_feature_terms(f);
      continue;
    }
    if (f->type == ML_FEAT_NUMERIC) {
      double d = f->impute;
      int from_text, kind = m->reads ? ml_read_num(v[j], na, 1, &d, &from_text) : ml_value_num(v[j], &d);
      if (kind == ML_V_NULL) d = f->impute;
      else if (kind == ML_V_NOMEM) return ml_error_msg(ctx, NULL);
      else if (kind == ML_V_TEXT && m->reads)
        return ml_error_msg(ctx, sqlite3_mprintf("%s(): feature %d (%s) is text ('%!.20s'), not a number "
                                           "nor one of the model's na_values; expected a number "
                                           "or NULL", fname, j + 1, f->name,
                                           (const char *)sqlite3_value_text(v[j])));
      else if (kind != ML_V_NUM) {
        char what[80];
        snprintf(what, sizeof what, "feature %d (%.40s)", j + 1, f->name);
        ml_value_error(ctx, fname, what, kind, v[j], 0);
        return -1;
      }
      x[t++] = d;
      continue;
    }
    /* The level's index, nlevels for the NULL level, -1 for an unseen
    ** level read as the reference (all dummies 0). */
    int level = f->nlevels;
    if (type == SQLITE_BLOB)
      return ml_error_msg(ctx, sqlite3_mprintf("%s(): feature %d (%s) is a blob; expected a level", fname,
                                         j + 1, f->name));
    if (!missing) {
      char canon[ML_NUMBER_TEXT_MAX];
      const char *z = ml_feature_level(f, v[j], canon, &level);
      if (!z) return ml_error_msg(ctx, NULL);
      if (level < 0 && !(m->flags & ML_MODEL_UNSEEN_ZERO)) return unseen_level(ctx, fname, f, j, z);
    }
    level_terms(f, level, x, &t, blk && m->fac && j == m->bfeat ? blk : NULL);
  }
  return result;
}
