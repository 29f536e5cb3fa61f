/*
** fitacc.c: a fit with options, row by row.  See fitacc.h.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fitacc.h"

struct fa_level {
  char *text;
  int len;
  int col;    /* raw column */
  int train;  /* seen in a training row that was used */
};

int ml_fitacc_init(ml_fitacc *a, int k, char *const *names, const int *types,
                   const ml_fitopts *o, int sides) {
  memset(a, 0, sizeof *a);
  a->o = *o;
  a->k = k;
  a->sides = sides;
  a->f = ml_calloc(sizeof(fa_feature) * (uint64_t)k);
  if (!a->f) return ML_NOMEM;
  int col = o->intercept;
  for (int j = 0; j < k; j++) {
    fa_feature *f = &a->f[j];
    size_t n = strlen(names[j]);
    f->name = ml_malloc(n + 1);
    if (!f->name) return ML_NOMEM;
    memcpy(f->name, names[j], n + 1);
    f->type = types[j];
    f->zcol = f->type == ML_TYPE_NUMERIC ? col++ : -1;
    f->ncol = -1;
  }
  a->mraw = col;
  a->rowcap = col + 16;
  a->row = ml_malloc(8 * (uint64_t)a->rowcap);
  if (!a->row) return ML_NOMEM;
  for (int s = 0; s < sides; s++)
    if (ml_lsq_init(&a->acc[s], a->mraw)) return ML_NOMEM;
  return ML_OK;
}

void ml_fitacc_free(ml_fitacc *a) {
  if (a->f) {
    for (int j = 0; j < a->k; j++) {
      fa_feature *f = &a->f[j];
      for (int l = 0; l < f->nlevels; l++) {
        ml_free(f->levels[l]->text);
        ml_free(f->levels[l]);
      }
      ml_free(f->levels);
      ml_free(f->slots);
      ml_free(f->name);
    }
  }
  ml_free(a->f);
  ml_free(a->row);
  for (int s = 0; s < 2; s++) ml_lsq_free(&a->acc[s]);
  memset(a, 0, sizeof *a);
}

/* A new raw column, zero for the rows so far; its index, or -1 out of memory. */
static int add_column(ml_fitacc *a) {
  if (a->mraw + 2 > a->rowcap) {
    int cap = a->rowcap * 2;
    double *r = ml_realloc(a->row, 8 * (uint64_t)cap);
    if (!r) return -1;
    a->row = r;
    a->rowcap = cap;
  }
  for (int s = 0; s < a->sides; s++)
    if (ml_lsq_insert_column(&a->acc[s], a->mraw)) return -1;
  a->row[a->mraw] = 0;
  return a->mraw++;
}

static uint32_t hash_text(const char *z, int n) {
  uint32_t h = 2166136261u;
  for (int i = 0; i < n; i++) h = (h ^ (unsigned char)z[i]) * 16777619u;
  return h;
}

/*
** The level z[0..n) of f, added (with a new column) if new, in *out.
** Returns ML_OK, ML_NOMEM, or ML_FA_TOO_WIDE when a new column would make a
** design no model can hold: each level is a column, and without this bound
** a text column of distinct values (a name, an id) grew the factor to
** gigabytes, at a cost cubic in the levels, before the term limit was seen.
*/
static int level_of(ml_fitacc *a, fa_feature *f, const char *z, int n, fa_level **out) {
  if (f->nslots) {
    for (uint32_t i = hash_text(z, n) & (uint32_t)(f->nslots - 1);; i = (i + 1) & (uint32_t)(f->nslots - 1)) {
      int s = f->slots[i];
      if (!s) break;
      fa_level *l = f->levels[s - 1];
      if (l->len == n && memcmp(l->text, z, (size_t)n) == 0) {
        *out = l;
        return ML_OK;
      }
    }
  }
  /* Each feature leaves out at most one column (its reference level): past
  ** this many raw columns, the model would have more than ML_MAX_TERMS. */
  if (a->mraw >= ML_MAX_TERMS + a->k) return ML_FA_TOO_WIDE;
  /* New: grow the table to stay at most half full, then add. */
  if (2 * (f->nlevels + 1) > f->nslots) {
    int ns = f->nslots ? 2 * f->nslots : 16;
    int *slots = ml_calloc(sizeof(int) * (uint64_t)ns);
    if (!slots) return ML_NOMEM;
    for (int l = 0; l < f->nlevels; l++) {
      uint32_t i = hash_text(f->levels[l]->text, f->levels[l]->len) & (uint32_t)(ns - 1);
      while (slots[i]) i = (i + 1) & (uint32_t)(ns - 1);
      slots[i] = l + 1;
    }
    ml_free(f->slots);
    f->slots = slots;
    f->nslots = ns;
  }
  if (f->nlevels == f->cap) {
    int cap = f->cap ? 2 * f->cap : 8;
    fa_level **lv = ml_realloc(f->levels, sizeof(fa_level *) * (uint64_t)cap);
    if (!lv) return ML_NOMEM;
    f->levels = lv;
    f->cap = cap;
  }
  fa_level *l = ml_calloc(sizeof *l);
  if (!l) return ML_NOMEM;
  l->text = ml_malloc((uint64_t)n + 1);
  if (!l->text) {
    ml_free(l);
    return ML_NOMEM;
  }
  memcpy(l->text, z, (size_t)n);
  l->text[n] = 0;
  l->len = n;
  l->col = add_column(a);
  if (l->col < 0) {
    ml_free(l->text);
    ml_free(l);
    return ML_NOMEM;
  }
  uint32_t i = hash_text(z, n) & (uint32_t)(f->nslots - 1);
  while (f->slots[i]) i = (i + 1) & (uint32_t)(f->nslots - 1);
  f->slots[i] = f->nlevels + 1;
  f->levels[f->nlevels++] = l;
  *out = l;
  return ML_OK;
}

static int fail(ml_fitacc *a, int col, int kind) {
  a->bad_col = col;
  a->bad_kind = kind;
  return ML_FA_ERROR;
}

int ml_fitacc_add(ml_fitacc *a, int side, sqlite3_value **v, double y, double w) {
  double sw = 1;
  if (a->o.weighted) {
    if (!(w >= 0) || !isfinite(w)) return fail(a, -2, isfinite(w) ? ML_V_NUM : ML_V_NONFINITE);
    if (w == 0) {
      a->zero_weight++;
      return ML_FA_ZERO_WEIGHT;
    }
    sw = sqrt(w);
  }
  if (!isfinite(y)) return fail(a, -1, ML_V_NONFINITE);
  /* Check the whole row before changing anything: a skipped row adds no level. */
  int has_null = 0;
  for (int j = 0; j < a->k; j++) {
    const fa_feature *f = &a->f[j];
    int t = sqlite3_value_type(v[j]);
    if (t == SQLITE_NULL) {
      if (a->o.nulls == ML_NULLS_ERROR) return fail(a, j, ML_V_NULL);
      has_null = 1;
    } else if (t == SQLITE_BLOB) {
      return fail(a, j, ML_V_BLOB);
    } else if (f->type == ML_TYPE_NUMERIC) {
      if (t == SQLITE_TEXT) return fail(a, j, ML_V_TEXT);
      if (!isfinite(sqlite3_value_double(v[j]))) return fail(a, j, ML_V_NONFINITE);
    } else if (t == SQLITE_FLOAT && !isfinite(sqlite3_value_double(v[j]))) {
      return fail(a, j, ML_V_NONFINITE);
    }
  }
  if (has_null && a->o.nulls == ML_NULLS_SKIP) {
    for (int j = 0; j < a->k; j++)
      if (sqlite3_value_type(v[j]) == SQLITE_NULL) a->f[j].nulls++;
    a->skipped++;
    return ML_FA_SKIPPED;
  }
  memset(a->row, 0, 8 * (size_t)a->mraw);
  if (a->o.intercept) a->row[0] = 1;
  for (int j = 0; j < a->k; j++) {
    fa_feature *f = &a->f[j];
    int t = sqlite3_value_type(v[j]);
    if (t == SQLITE_NULL) {
      f->nulls++;
      if (f->ncol < 0 && (f->ncol = add_column(a)) < 0) return ML_NOMEM;
      a->row[f->ncol] = 1;
      continue;
    }
    if (f->type == ML_TYPE_UNKNOWN) f->type = t == SQLITE_TEXT ? ML_TYPE_CATEGORICAL : ML_TYPE_NUMERIC;
    if (f->type == ML_TYPE_NUMERIC) {
      if (t == SQLITE_TEXT) return fail(a, j, ML_V_TEXT);
      if (f->zcol < 0 && (f->zcol = add_column(a)) < 0) return ML_NOMEM;
      double d = sqlite3_value_double(v[j]);
      a->row[f->zcol] = d;
      if (side == 0) {
        ml_ksum_add(&f->sum, d);
        f->count++;
      }
      continue;
    }
    /* Categorical: a number is the level of its text, as SQL writes it. */
    const char *z = (const char *)sqlite3_value_text(v[j]);
    if (!z) return ML_NOMEM;
    fa_level *l;
    int rc = level_of(a, f, z, sqlite3_value_bytes(v[j]), &l);
    if (rc == ML_FA_TOO_WIDE) a->bad_col = j;
    if (rc) return rc;
    a->row[l->col] = 1;
    if (side == 0) l->train = 1;
  }
  ml_lsq *acc = &a->acc[side];
  for (int j = 0; j < a->mraw; j++) ml_lsq_put(acc, j, sw * a->row[j]);
  ml_lsq_put(acc, a->mraw, sw * y);
  int rc = ml_lsq_commit(acc);
  if (rc) return rc;
  a->used[side]++;
  a->sum_w[side] += a->o.weighted ? w : 1;
  if (side == 0 && a->o.weighted) ml_ksum_add(&a->sum_log_w, log(w));
  return ML_FA_USED;
}

static int by_text(const void *x, const void *y) {
  const fa_level *a = *(fa_level *const *)x, *b = *(fa_level *const *)y;
  int n = a->len < b->len ? a->len : b->len, c = memcmp(a->text, b->text, (size_t)n);
  return c ? c : (a->len > b->len) - (a->len < b->len);
}

int ml_fitacc_finish(ml_fitacc *a, ml_model **out, double **Rtest, char *err, size_t nerr) {
  *out = NULL;
  *Rtest = NULL;
  int rc = ML_OK, p = a->o.intercept, first_cat = 1;
  for (int s = 0; s < a->sides; s++)
    if ((rc = ml_lsq_fold(&a->acc[s]))) return rc;
  /* Levels of the training rows, sorted; the terms they make. */
  fa_level ***train = ml_calloc(sizeof(fa_level **) * (uint64_t)a->k);
  int *ntrain = ml_calloc(sizeof(int) * (uint64_t)a->k);
  double *T = NULL;
  ml_model *m = NULL;
  if (!train || !ntrain) {
    rc = ML_NOMEM;
    goto out;
  }
  for (int j = 0; j < a->k; j++) {
    fa_feature *f = &a->f[j];
    if (f->type == ML_TYPE_UNKNOWN) {
      snprintf(err, nerr, "feature '%s' has no value in any row", f->name);
      rc = ML_EINPUT;
      goto out;
    }
    if (f->type == ML_TYPE_NUMERIC) {
      if (f->count == 0) {
        snprintf(err, nerr, "feature '%s' has no value in the training rows", f->name);
        rc = ML_EINPUT;
        goto out;
      }
      p++;
      continue;
    }
    train[j] = ml_malloc(sizeof(fa_level *) * (uint64_t)(f->nlevels ? f->nlevels : 1));
    if (!train[j]) {
      rc = ML_NOMEM;
      goto out;
    }
    for (int l = 0; l < f->nlevels; l++) {
      if (f->levels[l]->train) {
        train[j][ntrain[j]++] = f->levels[l];
      } else if (!a->o.unseen_zero) {
        snprintf(err, nerr, "feature '%s' has level '%s' only in the test rows: the model could "
                            "not predict them (option \"unseen\":\"zero\" reads it as the "
                            "reference level)", f->name, f->levels[l]->text);
        rc = ML_EINPUT;
        goto out;
      }
    }
    if (ntrain[j] == 0) {
      snprintf(err, nerr, "feature '%s' has no value in the training rows", f->name);
      rc = ML_EINPUT;
      goto out;
    }
    qsort(train[j], (size_t)ntrain[j], sizeof(fa_level *), by_text);
    /* Without an intercept the first factor keeps all its levels, as R's lm. */
    int full = !a->o.intercept && first_cat;
    first_cat = 0;
    p += ntrain[j] - (full ? 0 : 1) + (f->ncol >= 0 ? 1 : 0);
  }
  if (p > ML_MAX_TERMS) {
    snprintf(err, nerr, "the design has %d terms, more than the %d a model can have", p, ML_MAX_TERMS);
    rc = ML_EINPUT;
    goto out;
  }
  m = ml_model_new(a->k, p);
  int mr = a->mraw + 1, q = p + 1;
  T = ml_calloc(8 * (uint64_t)mr * (uint64_t)q);
  if (!m || !T) {
    rc = ML_NOMEM;
    goto out;
  }
  /* T maps raw columns to the model's: column c of the design is sum_i T[i,c] raw_i. */
  int c = 0;
  if (a->o.intercept) T[0 + (int64_t)c++ * mr] = 1;
  first_cat = 1;
  for (int j = 0; j < a->k; j++) {
    fa_feature *f = &a->f[j];
    ml_feature *mf = &m->feat[j];
    if ((rc = ml_model_set_name(m, j, f->name))) goto out;
    if (f->type == ML_TYPE_NUMERIC) {
      mf->type = ML_FEAT_NUMERIC;
      T[f->zcol + (int64_t)c * mr] = 1;
      if (f->ncol >= 0) {
        /* An imputed NULL is the training mean: the indicator times the mean. */
        mf->has_impute = 1;
        mf->impute = ml_ksum_value(&f->sum) / (double)f->count;
        T[f->ncol + (int64_t)c * mr] = mf->impute;
      }
      c++;
      continue;
    }
    mf->type = ML_FEAT_CATEGORICAL;
    mf->full = !a->o.intercept && first_cat;
    first_cat = 0;
    mf->levels = ml_calloc(sizeof(char *) * (uint64_t)ntrain[j]);
    if (!mf->levels) {
      rc = ML_NOMEM;
      goto out;
    }
    for (int l = 0; l < ntrain[j]; l++) {
      mf->levels[l] = ml_malloc((uint64_t)train[j][l]->len + 1);
      if (!mf->levels[l]) {
        rc = ML_NOMEM;
        goto out;
      }
      memcpy(mf->levels[l], train[j][l]->text, (size_t)train[j][l]->len + 1);
      mf->nlevels = l + 1;
      if (l > 0 || mf->full) T[train[j][l]->col + (int64_t)c++ * mr] = 1;
    }
    if (f->ncol >= 0) {
      mf->has_impute = 1;
      T[f->ncol + (int64_t)c++ * mr] = 1;
    }
  }
  T[a->mraw + (int64_t)c * mr] = 1; /* the response */
  if ((rc = ml_lsq_transform(a->acc[0].R, mr, T, q, m->R))) goto out;
  if (a->sides > 1 && a->used[1] > 0) {
    *Rtest = ml_malloc(8 * (uint64_t)q * (uint64_t)q);
    if (!*Rtest) {
      rc = ML_NOMEM;
      goto out;
    }
    if ((rc = ml_lsq_transform(a->acc[1].R, mr, T, q, *Rtest))) goto out;
  }
  m->flags = (a->o.intercept ? ML_MODEL_INTERCEPT : 0) | (a->o.weighted ? ML_MODEL_WEIGHTED : 0) |
             (a->o.unseen_zero ? ML_MODEL_UNSEEN_ZERO : 0);
  m->n = a->used[0];
  m->n_skipped = a->skipped;
  m->tol = a->o.tol;
  m->sum_w = a->sum_w[0];
  m->sum_log_w = ml_ksum_value(&a->sum_log_w);
  m->l2 = a->o.l2;
  m->robust = a->o.robust;
  rc = ml_model_solve(m);
out:
  if (train)
    for (int j = 0; j < a->k; j++) ml_free(train[j]);
  ml_free(train);
  ml_free(ntrain);
  ml_free(T);
  if (rc) {
    ml_model_free(m);
    ml_free(*Rtest);
    *Rtest = NULL;
  } else {
    *out = m;
  }
  return rc;
}
