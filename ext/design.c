/*
** design.c: from SQL values to numbers: the checks every function applies
** to its numeric arguments, and the design row of a fitted model (intercept,
** numeric features, categorical dummies, imputed NULLs).
*/
#include <stdio.h>
#include <string.h>

#include "sqlml_int.h"

void ml_value_error(sqlite3_context *ctx, const char *fname, const char *what, int kind,
                    sqlite3_value *v, int64_t row) {
  char at[48] = "";
  if (row > 0) snprintf(at, sizeof at, " in row %lld", (long long)row);
  char *msg;
  if (kind == ML_V_NONFINITE) {
    msg = sqlite3_mprintf("%s(): %s is %s%s; values must be finite", fname, what,
                          isnan(sqlite3_value_double(v)) ? "NaN" : "infinite", at);
  } else if (kind == ML_V_TEXT) {
    /* %!.20s: 20 characters, not bytes, so a cut never splits one. */
    msg = sqlite3_mprintf("%s(): %s is text ('%!.20s')%s; expected a number "
                          "(CAST it AS REAL, or give the column a numeric type)",
                          fname, what, (const char *)sqlite3_value_text(v), at);
  } else {
    msg = sqlite3_mprintf("%s(): %s is a blob%s; expected a number", fname, what, at);
  }
  if (msg) {
    sqlite3_result_error(ctx, msg, -1);
    sqlite3_free(msg);
  } else {
    sqlite3_result_error_nomem(ctx);
  }
}

void ml_result_code(sqlite3_context *ctx, const char *fname, int rc) {
  if (rc == ML_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  char *msg = sqlite3_mprintf("%s(): internal error %d (please report it)", fname, rc);
  sqlite3_result_error(ctx, msg ? msg : "sqlml: internal error", -1);
  sqlite3_free(msg);
}

int ml_level_arg(sqlite3_context *ctx, const char *fname, sqlite3_value *v, double *level) {
  int t = sqlite3_value_type(v);
  *level = sqlite3_value_double(v);
  if ((t == SQLITE_INTEGER || t == SQLITE_FLOAT) && *level > 0 && *level < 1) return 0;
  char *msg = sqlite3_mprintf("%s(): level must be a number in (0, 1), like 0.95", fname);
  sqlite3_result_error(ctx, msg ? msg : "out of memory", -1);
  sqlite3_free(msg);
  return -1;
}

/* Index of level z in the sorted levels of f, or -1. */
static int find_level(const ml_feature *f, const char *z) {
  int lo = 0, hi = f->nlevels - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2, c = strcmp(f->levels[mid], z);
    if (c == 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

int ml_design_row(sqlite3_context *ctx, const char *fname, const ml_model *m, sqlite3_value **v,
                  double *x) {
  int t = 0, result = ML_V_NUM;
  if (m->flags & ML_MODEL_INTERCEPT) x[t++] = 1;
  for (int j = 0; j < m->k; j++) {
    const ml_feature *f = &m->feat[j];
    int type = sqlite3_value_type(v[j]);
    if (type == SQLITE_NULL && !f->has_impute) {
      result = ML_V_NULL; /* keep checking: a bad value later in the row is still an error */
      t += ml_feature_terms(f);
      continue;
    }
    if (f->type == ML_FEAT_NUMERIC) {
      double d = f->impute;
      int kind = type == SQLITE_NULL ? ML_V_NUM : ml_value_num(v[j], &d);
      if (kind != ML_V_NUM) {
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
    if (type != SQLITE_NULL) {
      if (type == SQLITE_BLOB) {
        char *msg = sqlite3_mprintf("%s(): feature %d (%s) is a blob; expected a level", fname,
                                    j + 1, f->name);
        sqlite3_result_error(ctx, msg ? msg : "out of memory", -1);
        sqlite3_free(msg);
        return -1;
      }
      const char *z = (const char *)sqlite3_value_text(v[j]);
      if (!z) {
        sqlite3_result_error_nomem(ctx);
        return -1;
      }
      level = find_level(f, z);
      if (level < 0 && !(m->flags & ML_MODEL_UNSEEN_ZERO)) {
        char *msg = sqlite3_mprintf("%s(): feature %d (%s) has level '%!.80s', unseen in training "
                                    "(train with option \"unseen\":\"zero\" to read it as the "
                                    "reference level)", fname, j + 1, f->name, z);
        sqlite3_result_error(ctx, msg ? msg : "out of memory", -1);
        sqlite3_free(msg);
        return -1;
      }
    }
    for (int l = f->full ? 0 : 1; l < f->nlevels; l++) x[t++] = l == level ? 1 : 0;
    if (f->has_impute) x[t++] = level == f->nlevels ? 1 : 0;
  }
  return result;
}
