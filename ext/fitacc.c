/*
** fitacc.c: a fit with options, row by row.  See fitacc.h.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "design.h"
#include "fitacc.h"
#include "fitacc_int.h"
#include "formula.h"
#include "rowhash.h"

/* With o.cv: the fold factors and counts. */
static int folds_init(ml_fitacc *a) {
  a->fold = ml_calloc(sizeof(ml_lsq) * (uint64_t)a->o.cv);
  a->fstat = ml_calloc(sizeof(struct fa_fold) * (uint64_t)a->o.cv);
  if (!a->fold || !a->fstat) return ML_NOMEM;
  for (int f = 0; f < a->o.cv; f++)
    if (ml_lsq_init(&a->fold[f], a->mraw)) return ML_NOMEM;
  return ML_OK;
}

/* Where side's rows go: the current fold's factor for a training row under cv. */
static ml_lsq *side_acc(ml_fitacc *a, int side) {
  return side == 0 && a->fold ? &a->fold[a->fold_at] : &a->acc[side];
}

int ml_fitacc_init(ml_fitacc *a, int k, char *const *names, const int *types,
                   const ml_fitopts *o, int sides) {
  memset(a, 0, sizeof *a);
  a->o = *o;
  a->k = k;
  a->sides = sides;
  a->f = ml_calloc(sizeof(fa_feature) * (uint64_t)k);
  a->types = ml_malloc(sizeof(int) * (uint64_t)k);
  a->num = ml_malloc(sizeof(double) * (uint64_t)k);
  if (!a->f || !a->types || !a->num) return ML_NOMEM;
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
  a->bf = a->blk_at = -1;
  a->dense = col == o->intercept + k && o->nulls != ML_NULLS_MEAN;
  a->hash[0] = ML_HASH_SEED0;
  a->hash[1] = ML_HASH_SEED1;
  a->rowcap = col + 16;
  a->row = ml_malloc(8 * (uint64_t)a->rowcap);
  if (!a->row) return ML_NOMEM;
  for (int s = 0; s < sides; s++)
    if (ml_lsq_init(&a->acc[s], a->mraw)) return ML_NOMEM;
  if (o->keep_rows && !(a->rows.lv = ml_calloc(sizeof(fa_level *) * (uint64_t)(k ? k : 1))))
    ml_fa_rows_drop(a);
  if (o->cv) ml_fa_rows_drop(a); /* the pass after cv's fit reads the source */
  return o->cv ? folds_init(a) : ML_OK;
}

void ml_fitacc_free(ml_fitacc *a) {
  if (a->f) {
    for (int j = 0; j < a->k; j++) {
      fa_feature *f = &a->f[j];
      for (int l = 0; l < f->nlevels; l++) {
        ml_free(f->levels[l]->key);
        ml_free(f->levels[l]);
      }
      ml_free(f->levels);
      ml_free(f->slots);
      ml_free(f->name);
      ml_free(f->cprof.count);
    }
  }
  ml_free(a->f);
  ml_free(a->types);
  ml_free(a->num);
  ml_free(a->row);
  ml_free(a->fv);
  for (int s = 0; s < 2; s++) ml_lsq_free(&a->acc[s]);
  for (int f = 0; a->fold && f < a->o.cv; f++) ml_lsq_free(&a->fold[f]);
  ml_free(a->fold);
  ml_free(a->fstat);
  ml_cv_free(&a->cv);
  ml_fa_rows_free(a);
  memset(a, 0, sizeof *a);
}

/* A new raw column, zero for the rows so far; its index, or -1 out of memory. */
int ml_fa_add_column(ml_fitacc *a) {
  if (a->mraw + 2 > a->rowcap) {
    int cap = a->rowcap * 2;
    double *r = ml_realloc(a->row, 8 * (uint64_t)cap);
    if (!r) return -1;
    a->row = r;
    a->rowcap = cap;
  }
  for (int s = 0; s < a->sides; s++)
    if (ml_lsq_insert_column(&a->acc[s], a->mraw)) return -1;
  for (int f = 0; a->fold && f < a->o.cv; f++)
    if (ml_lsq_insert_column(&a->fold[f], a->mraw)) return -1;
  a->row[a->mraw] = 0;
  a->dense = 0;
  return a->mraw++;
}

/* A new block column, zero for the rows so far; its index, or -1 out of memory. */
static int add_block_column(ml_fitacc *a) {
  for (int s = 0; s < a->sides; s++)
    if (ml_lsq_block_add(&a->acc[s])) return -1;
  for (int f = 0; a->fold && f < a->o.cv; f++)
    if (ml_lsq_block_add(&a->fold[f])) return -1;
  return a->nblk++;
}

/* Raw column *c (-1: none) renumbered by to[]. */
static void close_up(int *c, const int *to) {
  if (*c >= 0) *c = to[*c];
}

/* The raw columns after feature j's levels leave them: each feature's
** columns renumbered, the row being read (its values so far) moved too. */
static void renumber(ml_fitacc *a, int j, int *to) {
  const fa_feature *bf = &a->f[j];
  int n = 0, l = 0;
  for (int c = 0; c <= a->mraw; c++) {
    int gone = l < bf->nlevels && bf->levels[l]->col == c;
    to[c] = gone ? -1 : c - n;
    n += gone;
    l += gone;
    if (!gone && c < a->mraw) a->row[to[c]] = a->row[c];
  }
  for (int k = 0; k < a->k; k++) {
    fa_feature *f = &a->f[k];
    close_up(&f->zcol, to);
    close_up(&f->ncol, to);
    for (int i = 0; k != j && i < f->nlevels; i++) close_up(&f->levels[i]->col, to);
  }
  for (int i = 0; i < bf->nlevels; i++) {
    bf->levels[i]->blk = i;
    bf->levels[i]->col = -1;
  }
  a->mraw -= n;
}

/*
** Feature j's levels (their raw columns, ascending as they were added) made
** the block of every accumulator (ml_lsq_block_from), in their order;
** the other raw columns close up.  ML_OK or ML_NOMEM.
*/
int ml_fa_to_block(ml_fitacc *a, int j) {
  fa_feature *f = &a->f[j];
  int n = f->nlevels, rc = ML_OK;
  int *cols = ml_malloc(sizeof(int) * (uint64_t)n), *to = ml_malloc(sizeof(int) * ((uint64_t)a->mraw + 1));
  if (!cols || !to) rc = ML_NOMEM;
  for (int l = 0; !rc && l < n; l++) cols[l] = f->levels[l]->col;
  for (int s = 0; !rc && s < a->sides; s++) rc = ml_lsq_block_from(&a->acc[s], cols, n);
  for (int k = 0; !rc && a->fold && k < a->o.cv; k++) rc = ml_lsq_block_from(&a->fold[k], cols, n);
  if (!rc) {
    renumber(a, j, to);
    a->bf = j;
    a->nblk = n;
  }
  ml_free(cols);
  ml_free(to);
  return rc == ML_EINPUT ? ML_NOMEM : rc;
}

/*
** The block feature's levels back to raw columns (ml_lsq_block_to_dense),
** after the others, in their order; the row being read keeps its level.
** ML_OK or ML_NOMEM.
*/
int ml_fa_from_block(ml_fitacc *a) {
  fa_feature *f = &a->f[a->bf];
  int n = a->nblk, rc = ML_OK;
  if (a->mraw + n + 2 > a->rowcap) {
    double *r = ml_realloc(a->row, 8 * ((uint64_t)a->mraw + n + 2));
    if (!r) return ML_NOMEM;
    a->row = r;
    a->rowcap = a->mraw + n + 2;
  }
  for (int s = 0; !rc && s < a->sides; s++) rc = ml_lsq_block_to_dense(&a->acc[s]);
  for (int k = 0; !rc && a->fold && k < a->o.cv; k++) rc = ml_lsq_block_to_dense(&a->fold[k]);
  if (rc) return rc;
  for (int i = 0; i < n; i++) {
    f->levels[i]->col = a->mraw + f->levels[i]->blk;
    f->levels[i]->blk = -1;
    a->row[a->mraw + i] = 0;
  }
  if (a->blk_at >= 0) a->row[a->mraw + a->blk_at] = 1;
  a->blk_at = -1;
  a->mraw += n;
  a->nblk = 0;
  a->bf = -1;
  return ML_OK;
}

/*
** After feature f gains a level: the block is the first feature's to reach
** ML_FA_BLOCK_LEVELS levels, and passes to another that reaches
** ML_FA_BLOCK_SWITCH times its levels (at least ML_FA_BLOCK_SWITCH_MIN): a
** feature of few levels seen first does not keep the block from one of many.
*/
static int choose_block(ml_fitacc *a, fa_feature *f) {
  int j = (int)(f - a->f);
  if (ML_FA_BLOCK_LEVELS <= 0 || j == a->bf) return ML_OK;
  if (a->bf < 0) return f->nlevels >= ML_FA_BLOCK_LEVELS ? ml_fa_to_block(a, j) : ML_OK;
  if (f->nlevels < ML_FA_BLOCK_SWITCH_MIN || f->nlevels < ML_FA_BLOCK_SWITCH * a->nblk) return ML_OK;
  int rc = ml_fa_from_block(a);
  return rc ? rc : ml_fa_to_block(a, j);
}

static uint32_t hash_key(const char *z, int n) {
  uint32_t h = 2166136261u;
  for (int i = 0; i < n; i++) h = (h ^ (unsigned char)z[i]) * 16777619u;
  return h;
}

/* 64-bit FNV-1a of a text: a level's word in the fingerprint. */
static uint64_t hash_text64(const char *z, int n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int i = 0; i < n; i++) h = (h ^ (unsigned char)z[i]) * 0x100000001b3ull;
  return h;
}

/*
** Would a new level (in the block or not) make a design no model can hold?
** Each feature leaves out at most one column (its reference level): past
** this many raw columns, the model would have more than ML_MAX_TERMS.  A
** model that may keep its block holds ML_MAX_LEVELS levels there.
*/
static int no_room(const ml_fitacc *a, int in_block) {
  if (!a->o.block_model) return a->mraw + a->nblk >= ML_MAX_TERMS + a->k;
  return in_block ? a->nblk >= ML_MAX_LEVELS : a->mraw >= ML_MAX_TERMS + a->k;
}

/*
** The level with key z[0..n) of f (num: its value, for a numeric level),
** added (with a new column) if new, in *out.  Returns ML_OK, ML_NOMEM, or
** ML_FA_TOO_WIDE when a new column would make a design no model can hold:
** each level is a column, and without this bound a text column of distinct
** values (a name, an id) grew the factor to gigabytes, at a cost cubic in
** the levels, before the term limit was seen.
*/
int ml_fa_level_of(ml_fitacc *a, fa_feature *f, const char *z, int n, double num, fa_level **out) {
  if (f->nslots) {
    for (uint32_t i = hash_key(z, n) & (uint32_t)(f->nslots - 1);; i = (i + 1) & (uint32_t)(f->nslots - 1)) {
      int s = f->slots[i];
      if (!s) break;
      fa_level *l = f->levels[s - 1];
      if (l->len == n && memcmp(l->key, z, (size_t)n) == 0) {
        *out = l;
        return ML_OK;
      }
    }
  }
  int in_block = a->bf >= 0 && f == &a->f[a->bf];
  if (no_room(a, in_block)) return ML_FA_TOO_WIDE;
  /* New: grow the table to stay at most half full, then add. */
  if (2 * (f->nlevels + 1) > f->nslots) {
    int ns = f->nslots ? 2 * f->nslots : 16;
    int *slots = ml_calloc(sizeof(int) * (uint64_t)ns);
    if (!slots) return ML_NOMEM;
    for (int l = 0; l < f->nlevels; l++) {
      uint32_t i = hash_key(f->levels[l]->key, f->levels[l]->len) & (uint32_t)(ns - 1);
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
  l->key = ml_malloc((uint64_t)n + 1);
  if (!l->key) {
    ml_free(l);
    return ML_NOMEM;
  }
  memcpy(l->key, z, (size_t)n);
  l->key[n] = 0;
  l->len = n;
  l->num = num;
  l->blk = in_block ? add_block_column(a) : -1;
  l->col = in_block ? -1 : ml_fa_add_column(a);
  if (in_block ? l->blk < 0 : l->col < 0) {
    ml_free(l->key);
    ml_free(l);
    return ML_NOMEM;
  }
  uint32_t i = hash_key(z, n) & (uint32_t)(f->nslots - 1);
  while (f->slots[i]) i = (i + 1) & (uint32_t)(f->nslots - 1);
  f->slots[i] = f->nlevels + 1;
  f->levels[f->nlevels++] = l;
  *out = l;
  return choose_block(a, f);
}

static int fail(ml_fitacc *a, int col, int kind) {
  a->bad_col = col;
  a->bad_kind = kind;
  return ML_FA_ERROR;
}

/* The word of a NULL in the fingerprint. */
#define NULL_WORD 0x9E3779B97F4A7C15ull

static uint64_t double_word(double d) {
  uint64_t u;
  if (d == 0) d = 0; /* -0 and 0 are one value, and one level */
  memcpy(&u, &d, 8);
  return u;
}

/*
** Feature j's value v as this fit reads it (design.h): ML_V_NULL; ML_V_NUM
** with *d, for a numeric feature or a numeric level; ML_V_TEXT for a level
** by its text (a categorical feature's value that is not NULL); or the kind
** of a value the feature cannot take (ML_V_TEXT for a numeric feature,
** ML_V_BLOB, ML_V_NONFINITE, ML_V_NOMEM).  *word is its fingerprint word:
** the double's bits for a number, the text's hash for a level by text.
*/
static int read_value(const ml_fitacc *a, const fa_feature *f, sqlite3_value *v, double *d,
                      uint64_t *word, int *from_text) {
  *from_text = 0;
  if (f->type != ML_TYPE_CATEGORICAL) {
    int kind = ml_read_num(v, a->o.na, a->o.read_text, d, from_text);
    if (kind == ML_V_NUM) *word = double_word(*d);
    else if (kind == ML_V_NULL) *word = NULL_WORD;
    else if (kind == ML_V_TEXT) kind = -ML_V_TEXT; /* not a level: a text in a number's place */
    return kind;
  }
  int t = sqlite3_value_type(v);
  if (t == SQLITE_NULL || (a->o.na && ml_read_is_na(v, a->o.na))) {
    *word = NULL_WORD;
    return ML_V_NULL;
  }
  if (t == SQLITE_BLOB) return ML_V_BLOB;
  if (t == SQLITE_FLOAT && !isfinite(sqlite3_value_double(v))) return ML_V_NONFINITE;
  /* A number is the level of its text, as SQL writes it. */
  const char *z = (const char *)sqlite3_value_text(v);
  if (!z) return ML_V_NOMEM;
  int n = sqlite3_value_bytes(v);
  if (memchr(z, 0, (size_t)n)) return ML_V_NULBYTE;
  *word = hash_text64(z, n);
  return ML_V_TEXT;
}

/* Is kind (from read_value) a value the feature takes? */
static int readable(int kind) { return kind == ML_V_NUM || kind == ML_V_NULL || kind == ML_V_TEXT; }

/* read_value's failure as a fitacc result. */
static int read_failure(ml_fitacc *a, int j, int kind) {
  if (kind == ML_V_NOMEM) return ML_NOMEM;
  return fail(a, j, kind < 0 ? -kind : kind);
}

/*
** The fingerprint of a row, in this order: the response; the weight; for
** each feature, its value as read (read_value's word: a number's bits
** whatever its SQL type or text, a level's text hash, or the NULL word).
** Values as read, so 5, 5.0 and '5' fold alike, as the fit sees them.  Each
** row's hash starts from the seeds; the rows' fingerprint is the sum mod
** 2^64 of their hashes (word by word) added to the seeds: a multiset, so
** the rows past a mark extend it whatever their order (incremental.c).
*/
int ml_fitacc_fingerprint(const ml_fitacc *a, sqlite3_value **v, double y, double w, uint64_t h[2]) {
  uint64_t r[2] = {ML_HASH_SEED0, ML_HASH_SEED1};
  ml_hash_double(r, y);
  if (a->o.weighted) ml_hash_double(r, w);
  for (int j = 0; j < a->k; j++) {
    double d;
    uint64_t word;
    int from_text, kind = read_value(a, &a->f[j], v[j], &d, &word, &from_text);
    if (!readable(kind)) return -1;
    ml_hash_u64(r, word);
  }
  h[0] += r[0];
  h[1] += r[1];
  return 0;
}

/* Commits the row written in side's block, and counts it: its weight, and
** for a training row its fingerprint h and log weight. */
static int commit_row(ml_fitacc *a, int side, double y, double w, double sw, const uint64_t h[2]) {
  ml_lsq *acc = side_acc(a, side);
  int rc = a->blk_at >= 0 ? ml_lsq_commit_in(acc, a->blk_at, sw) : ml_lsq_commit(acc);
  if (rc) return rc;
  if (side == 0 && a->fold) {
    /* The fold's weighted mean and sum of squares of y (West). */
    struct fa_fold *s = &a->fstat[a->fold_at];
    double wi = a->o.weighted ? w : 1, d = y - s->mean;
    s->n++;
    s->w += wi;
    s->mean += d * wi / s->w;
    s->m2 += wi * d * (y - s->mean);
  }
  a->used[side]++;
  a->sum_w[side] += a->o.weighted ? w : 1;
  if (side == 0) {
    a->hash[0] += h[0];
    a->hash[1] += h[1];
    if (a->o.weighted) ml_ksum_add(&a->sum_log_w, log(w));
  }
  return ML_OK;
}

/*
** The common row, fast: every feature numeric and every raw column one of
** theirs (no levels, no NULL indicators: a->dense), and every value a
** finite number of SQL type INTEGER or REAL.  Values go straight into the
** accumulator's block, without the row buffer, and the row is committed.
** Returns 0 when it is not such a row (the general path then writes the
** same slot), else 1 with *rc the commit's result.
*/
static int dense_row(ml_fitacc *a, int side, sqlite3_value **v, double y, double w, double sw,
                     int *rc) {
  ml_lsq *acc = side_acc(a, side);
  int train = side == 0;
  uint64_t h[2] = {ML_HASH_SEED0, ML_HASH_SEED1}, rh = ML_ROWHASH_SEED;
  if (train) {
    ml_hash_double(h, y);
    if (a->o.weighted) ml_hash_double(h, w);
    if (a->o.weighted) rh = ml_rowhash_num(rh, w);
    rh = ml_rowhash_num(rh, y);
  }
  for (int j = 0; j < a->k; j++) {
    int t = sqlite3_value_type(v[j]);
    if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) return 0;
    double d = a->num[j] = sqlite3_value_double(v[j]);
    if (!isfinite(d)) return 0;
    ml_lsq_put(acc, a->f[j].zcol, sw * d);
    a->f[j].values++;
    if (train) {
      ml_hash_u64(h, double_word(d));
      rh = ml_rowhash_num(rh, d);
    }
  }
  if (a->o.intercept) ml_lsq_put(acc, 0, sw);
  ml_lsq_put(acc, a->mraw, sw * y);
  if (train && a->o.profile)
    for (int j = 0; j < a->k; j++) ml_numprof_add(&a->f[j].prof, a->num[j]);
  a->rowhash = ml_rowhash_end(rh);
  a->has_rowhash = train;
  *rc = commit_row(a, side, y, w, sw, h);
  if (!*rc && train && a->o.keep_rows) ml_fa_rows_put(a, y, a->o.weighted ? w : 1, 1);
  return 1;
}

/*
** The first pass over a row's features: each read once; numbers of numeric
** features straight to the row buffer and into h, a copy of the
** fingerprint kept only if the row is used.  ML_FA_USED when the row goes
** on (*second: NULLs or levels wait for place_levels), or what
** ml_fitacc_add returns: an error, or ML_FA_SKIPPED for a row with a NULL
** under nulls = skip.  Nothing is changed but counts of a row that is used.
*/
static int read_row(ml_fitacc *a, sqlite3_value **v, int train, uint64_t h[2], int *second) {
  int has_null = 0;
  memset(a->row, 0, 8 * (size_t)a->mraw);
  if (a->o.intercept) a->row[0] = 1;
  for (int j = 0; j < a->k; j++) {
    fa_feature *f = &a->f[j];
    uint64_t word;
    int from_text, kind = a->types[j] = read_value(a, f, v[j], &a->num[j], &word, &from_text);
    if (!readable(kind)) return read_failure(a, j, kind);
    if (train) ml_hash_u64(h, word);
    f->from_text += from_text;
    if (kind == ML_V_NULL) {
      if (a->o.nulls == ML_NULLS_ERROR) return fail(a, j, ML_V_NULL);
      has_null = *second = 1;
    } else if (f->type == ML_TYPE_NUMERIC) {
      f->values++;
      a->row[f->zcol] = a->num[j];
      if (train && a->o.nulls == ML_NULLS_MEAN) ml_ksum_add(&f->sum, a->num[j]);
    } else {
      *second = 1;
    }
  }
  if (has_null && a->o.nulls == ML_NULLS_SKIP) {
    for (int j = 0; j < a->k; j++)
      if (a->types[j] == ML_V_NULL) a->f[j].nulls++;
    a->skipped++;
    return ML_FA_SKIPPED;
  }
  return ML_FA_USED;
}

/* The second pass: NULL indicators (a new column at a feature's first
** NULL) and levels (a new column at each new level). */
static int place_levels(ml_fitacc *a, sqlite3_value **v, int train) {
  for (int j = 0; j < a->k; j++) {
    fa_feature *f = &a->f[j];
    int kind = a->types[j], rc;
    if (kind == ML_V_NULL) {
      f->nulls++;
      if (train) f->nulls_train++;
      if (f->ncol < 0 && (f->ncol = ml_fa_add_column(a)) < 0) return ML_NOMEM;
      a->row[f->ncol] = 1;
      continue;
    }
    if (f->type == ML_TYPE_NUMERIC) continue; /* done in read_row */
    fa_level *l;
    if (f->type == ML_TYPE_NUM_LEVELS) {
      uint64_t key = double_word(a->num[j]);
      rc = ml_fa_level_of(a, f, (const char *)&key, 8, a->num[j], &l);
    } else {
      const char *z = (const char *)sqlite3_value_text(v[j]);
      if (!z) return ML_NOMEM;
      rc = ml_fa_level_of(a, f, z, sqlite3_value_bytes(v[j]), 0, &l);
    }
    if (rc == ML_FA_TOO_WIDE) a->bad_col = j;
    if (rc) return rc;
    if (l->blk >= 0) a->blk_at = l->blk;
    else a->row[l->col] = 1;
    if (a->rows.lv) a->rows.lv[j] = l;
    f->values++;
    if (train) l->train = 1;
    if (train && a->o.profile) l->ntrain++;
  }
  return ML_FA_USED;
}

/* The numbers of a used training row into the features' profiles (levels are counted as placed). */
static void profile_row(ml_fitacc *a) {
  for (int j = 0; j < a->k; j++) {
    fa_feature *f = &a->f[j];
    if (f->type != ML_TYPE_NUMERIC) continue;
    if (a->types[j] == ML_V_NULL) ml_numprof_null(&f->prof);
    else ml_numprof_add(&f->prof, a->num[j]);
  }
}

/* ---- a formula's fit ---- */

int ml_fitacc_use_formula(ml_fitacc *a, const ml_formula *f) {
  a->formula = f;
  ml_fa_rows_drop(a); /* a formula's design is not the model's features' */
  a->mraw = ml_formula_ncoef(f);
  a->dense = 0;
  a->o.intercept = ml_formula_intercept(f);
  ml_free(a->row);
  a->rowcap = a->mraw + 1;
  a->row = ml_malloc(8 * (uint64_t)a->rowcap);
  a->fv = ml_calloc(sizeof(ml_fvalue) * ((uint64_t)a->k + 1));
  if (!a->row || !a->fv) return ML_NOMEM;
  for (int s = 0; s < a->sides; s++) {
    ml_lsq_free(&a->acc[s]);
    if (ml_lsq_init(&a->acc[s], a->mraw)) return ML_NOMEM;
  }
  /* The folds too: their width is the formula's design's. */
  for (int k = 0; a->fold && k < a->o.cv; k++) {
    ml_lsq_free(&a->fold[k]);
    if (ml_lsq_init(&a->fold[k], a->mraw)) return ML_NOMEM;
  }
  return ML_OK;
}

/* Feature j's value, read (kind), as the formula takes it into a->fv[j]. */
static int formula_level(ml_fitacc *a, int j, int kind, sqlite3_value *v) {
  ml_fvalue *fv = &a->fv[j];
  fv->isnull = kind == ML_V_NULL;
  fv->num = a->num[j];
  fv->level = -1;
  if (fv->isnull) return ML_OK;
  if (a->f[j].type == ML_TYPE_CATEGORICAL) {
    const char *z = (const char *)sqlite3_value_text(v);
    if (!z) return ML_NOMEM;
    fv->level = ml_formula_col_level(a->formula, j, z);
  } else if (ml_formula_col_use(a->formula, j) & ML_FUSE_FACTOR) {
    char canon[32];
    ml_formula_fmt_level(canon, fv->num);
    fv->level = ml_formula_col_level(a->formula, j, canon);
  }
  return ML_OK;
}

/* A used training row's raw values into the columns' profiles. */
static int formula_profile_row(ml_fitacc *a) {
  for (int j = 0; j < a->k; j++) {
    fa_feature *f = &a->f[j];
    if (f->type != ML_TYPE_CATEGORICAL) ml_numprof_add(&f->prof, a->fv[j].num);
    else if (a->fv[j].level >= 0 && ml_catprof_add(&f->cprof, a->fv[j].level)) return ML_NOMEM;
  }
  return ML_OK;
}

/* A row of a formula's fit: read, checked, its design row evaluated and added. */
static int formula_row(ml_fitacc *a, int side, sqlite3_value **v, double y, double w, double sw) {
  int train = side == 0, has_null = 0;
  uint64_t h[2] = {ML_HASH_SEED0, ML_HASH_SEED1}; /* the row's own hash (ml_fitacc_fingerprint) */
  if (train) {
    ml_hash_double(h, y);
    if (a->o.weighted) ml_hash_double(h, w);
  }
  for (int j = 0; j < a->k; j++) {
    uint64_t word;
    int from_text, kind = a->types[j] = read_value(a, &a->f[j], v[j], &a->num[j], &word, &from_text);
    if (!readable(kind)) return read_failure(a, j, kind);
    if (train) ml_hash_u64(h, word);
    a->f[j].from_text += from_text;
    if (kind == ML_V_NULL && a->o.nulls == ML_NULLS_ERROR) return fail(a, j, ML_V_NULL);
    has_null |= kind == ML_V_NULL;
    if (formula_level(a, j, kind, v[j])) return ML_NOMEM;
  }
  if (has_null) {
    for (int j = 0; j < a->k; j++) a->f[j].nulls += a->types[j] == ML_V_NULL;
    a->skipped++;
    return ML_FA_SKIPPED;
  }
  int bad = 0, r = ml_formula_eval_row(a->formula, a->fv, a->row, &bad);
  if (r == ML_FROW_UNDEFINED) return fail(a, bad, ML_V_UNDEFINED);
  if (r != ML_FROW_OK) return fail(a, bad, ML_V_TEXT); /* a level the first read did not see */
  for (int j = 0; j < a->k; j++) a->f[j].values++;
  if (train && a->o.profile && formula_profile_row(a)) return ML_NOMEM;
  ml_lsq *acc = side_acc(a, side);
  for (int j = 0; j < a->mraw; j++) ml_lsq_put(acc, j, sw * a->row[j]);
  ml_lsq_put(acc, a->mraw, sw * y);
  int rc = commit_row(a, side, y, w, sw, h);
  return rc ? rc : ML_FA_USED;
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
  int rc;
  a->blk_at = -1;
  a->has_rowhash = 0;
  if (a->formula) return formula_row(a, side, v, y, w, sw);
  if (a->dense && dense_row(a, side, v, y, w, sw, &rc)) return rc ? rc : ML_FA_USED;
  /* The whole row is checked before anything changes (a skipped row adds
  ** no level and no column); a row of numbers does without the second pass. */
  int second = 0, train = side == 0;
  uint64_t h[2] = {ML_HASH_SEED0, ML_HASH_SEED1};
  if (train) {
    ml_hash_double(h, y);
    if (a->o.weighted) ml_hash_double(h, w);
  }
  if ((rc = read_row(a, v, train, h, &second)) != ML_FA_USED) return rc;
  if (second && (rc = place_levels(a, v, train)) != ML_FA_USED) return rc;
  if (train && a->o.profile) profile_row(a);
  ml_lsq *acc = side_acc(a, side);
  for (int j = 0; j < a->mraw; j++) ml_lsq_put(acc, j, sw == 1 ? a->row[j] : sw * a->row[j]);
  ml_lsq_put(acc, a->mraw, sw == 1 ? y : sw * y);
  rc = commit_row(a, side, y, w, sw, h);
  if (!rc && train && a->o.keep_rows) ml_fa_rows_put(a, y, a->o.weighted ? w : 1, 0);
  return rc ? rc : ML_FA_USED;
}

/* Feature j's levels from model m, in its order, as training levels (incremental retraining). */
static int seed_levels(ml_fitacc *a, int j, const ml_feature *mf, const ml_catprof *c) {
  fa_feature *f = &a->f[j];
  for (int l = 0; l < mf->nlevels; l++) {
    fa_level *lv;
    uint64_t key = mf->num_levels ? double_word(mf->lvnum[l]) : 0;
    int rc = mf->num_levels ? ml_fa_level_of(a, f, (const char *)&key, 8, mf->lvnum[l], &lv)
                            : ml_fa_level_of(a, f, mf->levels[l], (int)strlen(mf->levels[l]), 0, &lv);
    if (rc) return rc;
    lv->train = 1;
    lv->ntrain = c && l < c->nlevels ? c->count[l] : 0;
  }
  if (c) f->nulls_train = c->nulls;
  return ML_OK;
}

int ml_fitacc_seed(ml_fitacc *a, const ml_model *m, const uint64_t hash[2]) {
  ml_fa_rows_drop(a); /* the rows before the mark are not read */
  for (int j = 0; j < a->k && j < m->k; j++) {
    const ml_profile *pr = m->profile;
    if (a->f[j].type == ML_TYPE_NUMERIC) {
      if (pr) a->f[j].prof = pr->num[j];
      continue;
    }
    int rc = seed_levels(a, j, &m->feat[j], pr ? &pr->cat[j] : NULL);
    if (rc) return rc;
  }
  a->used[0] = m->n;
  a->sum_w[0] = m->sum_w;
  a->sum_log_w.s = m->sum_log_w;
  a->skipped = m->n_skipped;
  if (m->test_R) {
    a->used[1] = m->test_n;
    a->sum_w[1] = m->test_w;
  }
  a->hash[0] = hash[0];
  a->hash[1] = hash[1];
  return ML_OK;
}

static int by_text(const void *x, const void *y) {
  const fa_level *a = *(fa_level *const *)x, *b = *(fa_level *const *)y;
  int n = a->len < b->len ? a->len : b->len, c = memcmp(a->key, b->key, (size_t)n);
  return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int by_value(const void *x, const void *y) {
  const fa_level *a = *(fa_level *const *)x, *b = *(fa_level *const *)y;
  return (a->num > b->num) - (a->num < b->num);
}

/*
** The levels of the training rows of each categorical feature, sorted, into
** train[j] (ntrain[j] of them); *p the terms they make with the numeric
** features and the intercept, *nbt the block feature's level terms (its
** NULL level's not counted).  ML_EINPUT with err for a feature without
** values, a level only in the test rows (unless unseen = zero).
*/
static int training_levels(ml_fitacc *a, fa_level ***train, int *ntrain, int *p, int *nbt,
                           char *err, size_t nerr) {
  int first_cat = 1;
  *p = a->o.intercept;
  *nbt = 0;
  for (int j = 0; j < a->k; j++) {
    fa_feature *f = &a->f[j];
    if (f->type == ML_TYPE_NUMERIC && a->used[0] - f->nulls_train == 0) {
      snprintf(err, nerr, "feature '%s' has no value in the training rows", f->name);
      return ML_EINPUT;
    }
    if (f->type == ML_TYPE_NUMERIC) {
      (*p)++;
      continue;
    }
    train[j] = ml_malloc(sizeof(fa_level *) * (uint64_t)(f->nlevels ? f->nlevels : 1));
    if (!train[j]) return ML_NOMEM;
    for (int l = 0; l < f->nlevels; l++) {
      if (f->levels[l]->train) {
        train[j][ntrain[j]++] = f->levels[l];
      } else if (!a->o.unseen_zero) {
        char canon[ML_NUMBER_TEXT_MAX];
        if (f->type == ML_TYPE_NUM_LEVELS) ml_number_text(f->levels[l]->num, canon);
        snprintf(err, nerr, "feature '%s' has level '%s' only in the test rows: the model could "
                            "not predict them (option \"unseen\":\"zero\" reads it as the "
                            "reference level)", f->name,
                 f->type == ML_TYPE_NUM_LEVELS ? canon : f->levels[l]->key);
        return ML_EINPUT;
      }
    }
    if (ntrain[j] == 0) {
      snprintf(err, nerr, "feature '%s' has no value in the training rows", f->name);
      return ML_EINPUT;
    }
    qsort(train[j], (size_t)ntrain[j], sizeof(fa_level *),
          f->type == ML_TYPE_NUM_LEVELS ? by_value : by_text);
    /* Without an intercept the first factor keeps all its levels, as R's lm. */
    int full = !a->o.intercept && first_cat;
    first_cat = 0;
    *p += ntrain[j] - (full ? 0 : 1) + (f->ncol >= 0 ? 1 : 0);
    if (j == a->bf) *nbt = ntrain[j] - (full ? 0 : 1);
  }
  return ML_OK;
}

/* T's row of raw column col: the block's columns come first in the whole factor (ml_lsq_full). */
static int64_t trow(const ml_fitacc *a, int col) { return (int64_t)a->nblk + col; }

/* T's row of a level. */
static int64_t level_row(const ml_fitacc *a, const fa_level *l) {
  return l->blk >= 0 ? l->blk : trow(a, l->col);
}

/* Numeric feature f as the model's mf, at design column *c of T. */
static void map_numeric(const ml_fitacc *a, const fa_feature *f, ml_feature *mf, fa_tmap *T,
                        int *c) {
  mf->type = ML_FEAT_NUMERIC;
  fa_tmap_put(T, trow(a, f->zcol), *c, 1);
  if (f->ncol >= 0) {
    /* An imputed NULL is the training mean: the indicator times the mean. */
    mf->has_impute = 1;
    mf->impute = ml_ksum_value(&f->sum) / (double)(a->used[0] - f->nulls_train);
    fa_tmap_put(T, trow(a, f->ncol), *c, mf->impute);
  }
  (*c)++;
}

/* Categorical feature f, with its n training levels lv (sorted), as the
** model's mf, from design column *c of T. */
static int map_categorical(const ml_fitacc *a, const fa_feature *f, fa_level **lv, int n,
                           ml_feature *mf, fa_tmap *T, int *c) {
  mf->type = ML_FEAT_CATEGORICAL;
  mf->num_levels = f->type == ML_TYPE_NUM_LEVELS;
  mf->levels = ml_calloc(sizeof(char *) * (uint64_t)n);
  mf->lvnum = mf->num_levels ? ml_malloc(8 * (uint64_t)n) : NULL;
  if (!mf->levels || (mf->num_levels && !mf->lvnum)) return ML_NOMEM;
  for (int l = 0; l < n; l++) {
    /* A numeric level is kept as its canonical text ("2", "0.5"). */
    char canon[ML_NUMBER_TEXT_MAX];
    const char *text = lv[l]->key;
    if (mf->num_levels) {
      mf->lvnum[l] = lv[l]->num;
      ml_number_text(lv[l]->num, canon);
      text = canon;
    }
    size_t len = mf->num_levels ? strlen(text) : (size_t)lv[l]->len;
    if (!(mf->levels[l] = ml_malloc((uint64_t)len + 1))) return ML_NOMEM;
    memcpy(mf->levels[l], text, len + 1);
    mf->nlevels = l + 1;
    lv[l]->model = l;
    if (l > 0 || mf->full) fa_tmap_put(T, level_row(a, lv[l]), (*c)++, 1);
  }
  if (f->ncol >= 0) {
    mf->has_impute = 1;
    fa_tmap_put(T, trow(a, f->ncol), (*c)++, 1);
  }
  return ml_feature_hash_levels(mf); /* the later passes find a row's level by it */
}

/* The model's features, and T that maps the raw columns to its design:
** column c of the design is sum_i T[i,c] raw_i. */
static int map_features(const ml_fitacc *a, ml_model *m, fa_level ***train, const int *ntrain,
                        fa_tmap *T) {
  int c = 0, first_cat = 1, rc;
  if (a->o.intercept) fa_tmap_put(T, trow(a, 0), c++, 1);
  for (int j = 0; j < a->k; j++) {
    const fa_feature *f = &a->f[j];
    if ((rc = ml_model_set_name(m, j, f->name))) return rc;
    if (f->type == ML_TYPE_NUMERIC) {
      map_numeric(a, f, &m->feat[j], T, &c);
      continue;
    }
    m->feat[j].full = !a->o.intercept && first_cat;
    first_cat = 0;
    if ((rc = map_categorical(a, f, train[j], ntrain[j], &m->feat[j], T, &c))) return rc;
  }
  fa_tmap_put(T, trow(a, a->mraw), c, 1); /* the response */
  return ML_OK;
}

/* The fit's counts and options, on the model. */
static int set_options(const ml_fitacc *a, ml_model *m) {
  m->flags = (a->o.intercept ? ML_MODEL_INTERCEPT : 0) | (a->o.weighted ? ML_MODEL_WEIGHTED : 0) |
             (a->o.unseen_zero ? ML_MODEL_UNSEEN_ZERO : 0);
  m->n = a->used[0];
  m->n_skipped = a->skipped;
  m->tol = a->o.tol;
  m->sum_w = a->sum_w[0];
  m->sum_log_w = ml_ksum_value(&a->sum_log_w);
  m->l2 = a->o.l2;
  m->robust = a->o.robust;
  if (!a->o.read_text) return ML_OK;
  /* The model reads values at prediction as they were read here. */
  m->reads = 1;
  return a->o.na ? ml_na_set(&m->na, a->o.na->text, a->o.na->n) : ML_OK;
}

/* The factors of the model's design, through T: m->R, and *Rtest for test rows. */
static int transform(ml_fitacc *a, ml_model *m, const double *T, double **Rtest) {
  int q = m->p + 1, rc = ml_lsq_transform_acc(&a->acc[0], T, q, m->R);
  if (rc || a->sides < 2 || a->used[1] == 0) return rc;
  if (!(*Rtest = ml_malloc(8 * (uint64_t)q * (uint64_t)q))) return ML_NOMEM;
  return ml_lsq_transform_acc(&a->acc[1], T, q, *Rtest);
}

/* T as a dense matrix (mr x q, column-major; ml_free it), or NULL out of memory. */
static double *dense_map(const fa_tmap *T, int64_t mr, int q) {
  double *D = ml_calloc(8 * (uint64_t)mr * (uint64_t)q);
  for (int i = 0; D && i < T->n; i++) D[T->e[i].row + (int64_t)T->e[i].col * mr] = T->e[i].v;
  return D;
}

/* The training rows' profile into m: numbers as gathered, level counts in the model's order. */
static int attach_profile(const ml_fitacc *a, ml_model *m, fa_level ***train, const int *ntrain) {
  unsigned char *cat = ml_malloc((uint64_t)a->k + 1);
  if (!cat) return ML_NOMEM;
  for (int j = 0; j < a->k; j++) cat[j] = a->f[j].type != ML_TYPE_NUMERIC;
  m->profile = ml_profile_new(a->k, cat);
  ml_free(cat);
  if (!m->profile) return ML_NOMEM;
  for (int j = 0; j < a->k; j++) {
    const fa_feature *f = &a->f[j];
    if (f->type == ML_TYPE_NUMERIC) {
      m->profile->num[j] = f->prof;
      continue;
    }
    ml_catprof *c = &m->profile->cat[j];
    c->nulls = f->nulls_train;
    c->count = ml_calloc(8 * (uint64_t)ntrain[j] + 8);
    if (!c->count) return ML_NOMEM;
    c->nlevels = ntrain[j];
    for (int l = 0; l < ntrain[j]; l++) c->count[l] = train[j][l]->ntrain;
  }
  return ML_OK;
}

/* The model's features: the formula's raw columns, with their levels. */
static int formula_features(const ml_fitacc *a, ml_model *m) {
  for (int j = 0; j < a->k; j++) {
    ml_feature *mf = &m->feat[j];
    int n, rc = ml_model_set_name(m, j, a->f[j].name);
    if (rc) return rc;
    if (a->f[j].type != ML_TYPE_CATEGORICAL) continue;
    const char *const *lv = ml_formula_col_levels(a->formula, j, &n);
    mf->type = ML_FEAT_CATEGORICAL;
    if (!(mf->levels = ml_calloc(sizeof(char *) * (uint64_t)n))) return ML_NOMEM;
    for (int l = 0; l < n; l++, mf->nlevels++)
      if (!(mf->levels[l] = ml_dup_n(lv[l], strlen(lv[l])))) return ML_NOMEM;
  }
  return ML_OK;
}

/* With o.cv: the training factor as the merge of the folds' (ML_EINPUT for an empty fold). */
static int merge_folds(ml_fitacc *a, char *err, size_t nerr) {
  for (int f = 0; f < a->o.cv; f++) {
    if (a->fstat[f].n == 0) {
      snprintf(err, nerr, "cv fold %d of %d has no training rows (%lld in all); use fewer "
                          "folds or more rows", f, a->o.cv, (long long)a->used[0]);
      return ML_EINPUT;
    }
    int rc = ml_lsq_fold(&a->fold[f]);
    if (!rc) rc = ml_lsq_merge_acc(&a->acc[0], &a->fold[f]);
    if (rc) return rc;
    a->acc[0].n += a->fold[f].n;
  }
  return ML_OK;
}

/* With o.cv: the folds' factors in the model's columns (through T), scored
** (cv.h); with a list of penalties, the model's is the chosen one. */
static int run_cv(ml_fitacc *a, ml_model *m, const double *T) {
  ml_cv *cv = &a->cv;
  int k = a->o.cv, q = m->p + 1, rc = ML_NOMEM;
  int64_t qq = (int64_t)q * q;
  cv->k = k;
  cv->nl2 = a->o.l2_path ? a->o.nl2 : 1;
  cv->l2 = ml_malloc(8 * (uint64_t)cv->nl2);
  cv->n = ml_malloc(8 * (uint64_t)k);
  cv->sw = ml_malloc(8 * (uint64_t)k);
  cv->tss = ml_malloc(8 * (uint64_t)k);
  double *Rf = ml_malloc(8 * (uint64_t)k * (uint64_t)qq);
  if (!cv->l2 || !cv->n || !cv->sw || !cv->tss || !Rf) goto out;
  for (int i = 0; i < cv->nl2; i++) cv->l2[i] = a->o.l2_path ? a->o.l2_path[i] : a->o.l2;
  rc = ML_OK;
  for (int f = 0; f < k && !rc; f++) {
    cv->n[f] = a->fstat[f].n;
    cv->sw[f] = a->fstat[f].w;
    cv->tss[f] = a->fstat[f].m2;
    rc = ml_lsq_transform_acc(&a->fold[f], T, q, Rf + f * qq);
  }
  if (!rc) rc = ml_cv_run(cv, Rf, q, a->o.tol);
  if (!rc) m->l2 = cv->l2[cv->chosen];
out:
  ml_free(Rf);
  return rc;
}


/* A formula's raw columns' profile into m, in the model's levels. */
static int formula_profile(const ml_fitacc *a, ml_model *m) {
  unsigned char *cat = ml_malloc((uint64_t)a->k + 1);
  if (!cat) return ML_NOMEM;
  for (int j = 0; j < a->k; j++) cat[j] = m->feat[j].type == ML_FEAT_CATEGORICAL;
  m->profile = ml_profile_new(a->k, cat);
  ml_free(cat);
  if (!m->profile) return ML_NOMEM;
  for (int j = 0; j < a->k; j++) {
    const fa_feature *f = &a->f[j];
    if (m->feat[j].type != ML_FEAT_CATEGORICAL) {
      m->profile->num[j] = f->prof;
      continue;
    }
    ml_catprof *c = &m->profile->cat[j];
    int n = m->feat[j].nlevels;
    if (!(c->count = ml_calloc(8 * (uint64_t)n + 8))) return ML_NOMEM;
    c->nlevels = n;
    for (int l = 0; l < n && l < f->cprof.nlevels; l++) c->count[l] = f->cprof.count[l];
  }
  return ML_OK;
}

/* A formula's model: the design as accumulated (T the identity), the formula's copy kept. */
static int finish_formula(ml_fitacc *a, ml_model **out, double **Rtest) {
  int p = a->mraw, q = p + 1, rc = ML_OK;
  ml_model *m = ml_model_new(a->k, p);
  double *T = ml_calloc(8 * (uint64_t)q * (uint64_t)q);
  unsigned char *saved = NULL;
  size_t n = 0;
  ml_formula *copy = NULL;
  if (!m || !T) rc = ML_NOMEM;
  for (int i = 0; !rc && i < q; i++) T[i + (int64_t)i * q] = 1;
  if (!rc) rc = transform(a, m, T, Rtest);
  if (!rc) rc = set_options(a, m);
  if (!rc && a->fold) rc = run_cv(a, m, T);
  if (!rc) rc = formula_features(a, m);
  if (!rc && a->o.profile) rc = formula_profile(a, m);
  if (!rc) rc = ml_formula_save(a->formula, &saved, &n);
  if (!rc) rc = ml_formula_load(saved, n, &copy, NULL, 0) ? ML_NOMEM : ML_OK;
  if (!rc) rc = ml_model_set_formula(m, copy);
  if (!rc) rc = ml_model_solve(m);
  ml_free(saved);
  ml_free(T);
  if (rc) {
    ml_model_free(m);
    ml_free(*Rtest);
    *Rtest = NULL;
    return rc;
  }
  *out = m;
  return ML_OK;
}

/* The dense factors through T (mr rows), and the cv folds' scores. */
static int dense_factors(ml_fitacc *a, ml_model *m, const fa_tmap *T, double **Rtest) {
  int64_t mr = (int64_t)a->nblk + a->mraw + 1;
  double *D = dense_map(T, mr, m->p + 1);
  int rc = D ? transform(a, m, D, Rtest) : ML_NOMEM;
  if (!rc && a->fold) rc = run_cv(a, m, D);
  ml_free(D);
  return rc;
}

/* Does a model kept with its block alias a term outside it?  Then its
** aliasing would not be R's, which judges the terms in their order. */
static int aliased_outside_block(const ml_model *m) {
  for (int j = 0; j < m->p; j++)
    if (m->aliased[j] && (j < m->bstart || j >= m->bstart + m->fac->nb)) return 1;
  return 0;
}

/* The block's factors given up for dense ones (p <= ML_MAX_TERMS), solved. */
static int unblock(ml_fitacc *a, ml_model *m, const fa_tmap *T, double **Rtest) {
  ml_model_drop_block(m);
  int64_t q = m->p + 1;
  if (!(m->R = ml_calloc(8 * (uint64_t)(q * q)))) return ML_NOMEM;
  int rc = dense_factors(a, m, T, Rtest);
  return rc ? rc : ml_model_solve(m);
}

/*
** The model's factors and coefficients.  With the block feature's levels
** many (ML_FA_BLOCK_MODEL) and the fit one that can keep them (o.block_model),
** the factors keep the block (sfac.h): O(levels) to make and to store.  If
** that aliases a term outside the block, and the model is small enough, the
** dense factors instead: R's lm judges terms in their order.
*/
static int factors(ml_fitacc *a, ml_model *m, const fa_tmap *T, int blocked, double **Rtest) {
  int rc = blocked ? ml_fa_block_factors(a, m, T) : dense_factors(a, m, T, Rtest);
  if (!rc) rc = ml_model_solve(m);
  if (!rc && blocked && m->p <= ML_MAX_TERMS && aliased_outside_block(m))
    rc = unblock(a, m, T, Rtest);
  return rc;
}

int ml_fitacc_finish(ml_fitacc *a, ml_model **out, double **Rtest, char *err, size_t nerr) {
  if (a->formula) {
    *out = NULL;
    *Rtest = NULL;
    for (int s = 0; s < a->sides; s++) {
      int rc = ml_lsq_fold(&a->acc[s]);
      if (rc) return rc;
    }
    int rc = a->fold ? merge_folds(a, err, nerr) : ML_OK;
    return rc ? rc : finish_formula(a, out, Rtest);
  }
  *out = NULL;
  *Rtest = NULL;
  int rc = ML_OK, p = 0, nbt = 0, blocked = 0;
  for (int s = 0; s < a->sides; s++)
    if ((rc = ml_lsq_fold(&a->acc[s]))) return rc;
  if (a->fold && (rc = merge_folds(a, err, nerr))) return rc;
  fa_level ***train = ml_calloc(sizeof(fa_level **) * (uint64_t)a->k);
  int *ntrain = ml_calloc(sizeof(int) * (uint64_t)a->k);
  fa_tmap T = {0, 0, NULL};
  ml_model *m = NULL;
  if (!train || !ntrain) rc = ML_NOMEM;
  if (!rc) rc = training_levels(a, train, ntrain, &p, &nbt, err, nerr);
  if (!rc) {
    blocked = a->o.block_model && a->bf >= 0 && !a->fold && nbt >= ML_FA_BLOCK_MODEL;
    if (p - (blocked ? nbt : 0) > ML_MAX_TERMS) {
      snprintf(err, nerr, "the design has %d terms, more than the %d a model can have", p,
               ML_MAX_TERMS);
      rc = ML_EINPUT;
    }
  }
  if (!rc) {
    m = ml_model_alloc(a->k, p, !blocked);
    T.cap = 2 * (p + 1);
    T.e = ml_malloc(sizeof(fa_tent) * (uint64_t)T.cap);
    if (!m || !T.e) rc = ML_NOMEM;
  }
  if (!rc) rc = map_features(a, m, train, ntrain, &T);
  if (!rc) rc = set_options(a, m);
  if (!rc) rc = factors(a, m, &T, blocked, Rtest);
  if (!rc && a->o.profile) rc = attach_profile(a, m, train, ntrain);
  if (train)
    for (int j = 0; j < a->k; j++) ml_free(train[j]);
  ml_free(train);
  ml_free(ntrain);
  ml_free(T.e);
  if (rc) {
    ml_model_free(m);
    ml_free(*Rtest);
    *Rtest = NULL;
  } else {
    *out = m;
  }
  return rc;
}
