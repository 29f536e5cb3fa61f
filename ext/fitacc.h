/*
** fitacc.h: a fit with options, row by row, for ml_train and ml_fit_opts.
**
** The raw design grows while the rows stream: a categorical level seen for
** the first time becomes a new column (zero for the rows before it, which is
** what dummy coding gives them), as does the NULL indicator of a feature
** whose NULLs are imputed.  At the end, the raw factor maps to the model's
** design (levels sorted, the reference left out, the mean imputed) by one
** QR of R T (ml_lsq_transform): one pass whatever the options, never X'X.
** Rows of a weighted fit enter scaled by sqrt(w).
**
** One categorical feature's levels are a diagonal block (lsq.h) instead of
** raw columns: the first feature to reach ML_FA_BLOCK_LEVELS levels (its
** columns so far are moved into the block of every accumulator then, and
** its later levels join it), until another reaches ML_FA_BLOCK_SWITCH times
** as many (the block's levels go back to raw columns, the other's move in).  A row of a level then costs O(d^2), d the
** other raw columns, not O((levels + d)^2).  At the end the block's columns
** come first in the raw factor (T's rows in that order): the same model.
**
** Values are read as design.h says: with o.read_text a text that is a
** number is that number, and o.na's texts are NULL.  A feature's type is
** fixed for the whole fit: a value it cannot take (a text that is not a
** number in a numeric feature or one of numeric levels) is ML_FA_ERROR
** with bad_kind ML_V_TEXT, and the caller may start again with the type
** changed (train.c does: see its header).
*/
#ifndef SQLML_FITACC_H
#define SQLML_FITACC_H

#include <string.h>

#include "cv.h"
#include "lsq.h"
#include "profile.h"
#include "sqlml_int.h"

enum { ML_NULLS_SKIP, ML_NULLS_ERROR, ML_NULLS_MEAN };
/* Feature types, known before the first row: numeric; categorical with
** levels by their text; categorical whose levels are numbers (R's
** factor(x) of a numeric x), found by value and sorted by value. */
enum { ML_TYPE_NUMERIC, ML_TYPE_CATEGORICAL, ML_TYPE_NUM_LEVELS };
/* Results of ml_fitacc_add. */
/*
** Levels at which a categorical feature's columns become the block: below
** it a few dense columns cost little, and the first feature to reach it is
** the one that grows.  0: no block (every level a dense column, as before).
*/
#ifndef ML_FA_BLOCK_LEVELS
#define ML_FA_BLOCK_LEVELS 16
#endif
/* The block passes to a feature with this many times its feature's levels,
** and at least ML_FA_BLOCK_SWITCH_MIN. */
#define ML_FA_BLOCK_SWITCH 4
#ifndef ML_FA_BLOCK_SWITCH_MIN
#define ML_FA_BLOCK_SWITCH_MIN 64
#endif
/*
** Level terms of the block feature from which a fit with o.block_model
** keeps the model's factor with its block (sfac.h, fitacc_block.c): below
** it the dense factor costs little, and the model stays what it was.
*/
#ifndef ML_FA_BLOCK_MODEL
#define ML_FA_BLOCK_MODEL 64
#endif
enum { ML_FA_USED = 0, ML_FA_SKIPPED = 100, ML_FA_ZERO_WEIGHT, ML_FA_ERROR, ML_FA_TOO_WIDE };

typedef struct ml_fitopts {
  int intercept;
  double tol;
  int nulls;        /* ML_NULLS_* */
  int weighted;     /* each row comes with a weight */
  double l2;        /* ridge penalty, or 0 */
  int robust;       /* ML_ROBUST_*: recorded in the model; the covariance needs a pass */
  int unseen_zero;  /* an unseen level reads as the reference */
  int read_text;    /* a text that is a number is that number (and the model says so) */
  const ml_na *na;  /* texts read as NULL, or NULL for none (borrowed) */
  int profile;      /* the model keeps its training rows' profile (profile.h) */
  int cv;           /* cross-validation folds (2..20), or 0: training rows by fold (cv.h) */
  double *l2_path;  /* with cv: the penalties to choose from (nl2 of them), or NULL (borrowed) */
  int nl2;
  int block_model;  /* the model may keep its factor with the block (a fit without l2,
                       robust errors or cv): the block feature may then have up to
                       ML_MAX_LEVELS levels, the other terms up to ML_MAX_TERMS */
  int keep_rows;    /* keep the training rows used, for a later pass from memory
                       (fitacc_rows.c); not with a formula or cv */
} ml_fitopts;

/*
** A compensated (Neumaier) sum.  Not long double: these structs live in
** memory from SQLite's allocator, which aligns to 8 bytes, and the compiler
** may copy a long double member with 16-byte-aligned instructions.
*/
typedef struct ml_ksum {
  double s, c;
} ml_ksum;

static inline void ml_ksum_add(ml_ksum *k, double v) {
  double t = k->s + v;
  k->c += fabs(k->s) >= fabs(v) ? (k->s - t) + v : (v - t) + k->s;
  k->s = t;
}

static inline double ml_ksum_value(const ml_ksum *k) { return isfinite(k->s) ? k->s + k->c : k->s; }

/* a gains b's sum (other values). */
static inline void ml_ksum_merge(ml_ksum *a, const ml_ksum *b) {
  ml_ksum_add(a, b->s);
  ml_ksum_add(a, b->c);
}

typedef struct fa_level fa_level;
typedef struct fa_feature {
  char *name;
  int type;              /* ML_TYPE_* */
  int zcol;              /* numeric: raw column of the value, or -1 */
  int ncol;              /* raw column of the NULL indicator, or -1 */
  fa_level **levels;     /* categorical: in order of appearance */
  int nlevels, cap;
  int *slots;            /* hash table of levels: index + 1, 0 empty */
  int nslots;
  ml_ksum sum;           /* numeric values of the training rows used (nulls = mean) */
  int64_t nulls;         /* NULLs seen (na_values texts included) */
  int64_t nulls_train;   /* NULLs in the training rows used */
  int64_t from_text;     /* numbers read from text */
  int64_t values;        /* non-NULL values: categorical, of the rows used (both sides);
                            numeric, of every row read */
  ml_numprof prof;       /* numeric, with o.profile: the training rows used */
  ml_catprof cprof;      /* a formula's categorical column, with o.profile: counts by level */
} fa_feature;

typedef struct ml_fitacc {
  ml_fitopts o;
  int k;
  fa_feature *f;
  int mraw;              /* raw design columns (the response not counted), the block's not counted */
  int bf;                /* the feature whose levels are the block, or -1 */
  int nblk;              /* its levels: the block's columns in every accumulator */
  int blk_at;            /* the current row's block column, or -1 */
  /* The last training row's ml_rowhash (rowhash.h) of y, w and its values,
  ** when the row of numbers' path read it (has_rowhash): its callers'
  ** fingerprint for ml_refine, without reading the values again. */
  uint64_t rowhash;
  int has_rowhash;
  int dense;             /* every raw column is a numeric feature's (see dense_row) */
  int sides;             /* 1: training only; 2: training and test */
  ml_lsq acc[2];         /* training, test: the same raw columns */
  double *row;           /* one raw row, mraw + 1 */
  int *types;            /* the current row's values as read (ML_V_*), k */
  double *num;           /* and their numbers, k */
  int rowcap;
  int64_t used[2];       /* rows used, by side */
  double sum_w[2];       /* their total weight, by side */
  ml_ksum sum_log_w;     /* training rows: sum of log weights */
  int64_t skipped;       /* rows skipped for a NULL */
  uint64_t hash[2];      /* fingerprint of the training rows used (ml_fitacc_fingerprint) */
  int64_t zero_weight;   /* rows with weight 0 */
  /* After ML_FA_ERROR: the feature (-1 the response, -2 the weight) and what it was. */
  int bad_col, bad_kind;
  /* A formula's fit (ml_fitacc_use_formula), or NULL: each row's raw values,
  ** the features, give its design row (formula.h). */
  const struct ml_formula *formula;
  struct ml_fvalue *fv;
  /* With o.cv: training rows go to fold[fold_at] (the caller sets it before
  ** each training row), not acc[0], which ml_fitacc_finish makes their merge;
  ** per fold, the weighted mean and sum of squares of y (West). */
  ml_lsq *fold;
  int fold_at;
  struct fa_fold {
    int64_t n;
    double w, mean, m2;
  } *fstat;
  ml_cv cv;              /* filled by ml_fitacc_finish with o.cv */
  /* With o.keep_rows: the training rows used, each y, w and a word per
  ** feature (its number, NaN for NULL; or its level, NULL for NULL), while
  ** they fit ML_FA_ROWS_BUDGET (fitacc_rows.c). */
  struct {
    union fa_word *w;
    int64_t n, cap;
    int dropped;         /* past the budget, or out of memory: none kept */
    fa_level **lv;       /* the current row's level per feature */
  } rows;
} ml_fitacc;

/*
** The training rows kept with o.keep_rows (fitacc_rows.c), up to this many
** bytes (8 (k + 2) a row): a pass over them needs no second read of the
** source.  Past it none are kept, and the pass reads the source again.
*/
#define ML_FA_ROWS_BUDGET (32 << 20)

/*
** Calls fn for each kept training row, in the order read, with its values
** as model m (this accumulator's, from ml_fitacc_finish) reads them: v[j]
** is feature j's number or its level's index in m, or NULL.  -1 when no
** rows are kept (not asked for, past the budget, out of memory), else 0 or
** the first nonzero fn returned.
*/
typedef int (*ml_fa_row_fn)(void *ctx, const struct ml_fvalue *v, double y, double w);
int ml_fitacc_rows_each(const ml_fitacc *a, ml_fa_row_fn fn, void *ctx);

/* bad_kind of a formula row whose transform is undefined (log(0)): bad_col is the variable. */
#define ML_V_UNDEFINED 102

/*
** After ml_fitacc_init, with features the formula's right-hand side columns
** (categorical as the formula's columns are, levels set): the raw design
** is the formula's design, fixed, and the model keeps the formula (a copy).
** nulls "mean" does not apply (the caller refuses it).  ML_OK or ML_NOMEM.
*/
int ml_fitacc_use_formula(ml_fitacc *a, const struct ml_formula *f);

/*
** names and types of the k features (copied).  sides: 1, or 2 to keep a test
** factor too.  Returns ML_OK or ML_NOMEM.
*/
int ml_fitacc_init(ml_fitacc *a, int k, char *const *names, const int *types,
                   const ml_fitopts *o, int sides);
void ml_fitacc_free(ml_fitacc *a);

/*
** Adds one row to side 0 (training) or 1 (test): the k feature values v, the
** response y (not NULL: the caller skips those) and the weight w (used when
** o.weighted).  Returns ML_FA_USED, ML_FA_SKIPPED (a NULL, nulls = skip),
** ML_FA_ZERO_WEIGHT, ML_FA_ERROR (see bad_col, bad_kind), ML_FA_TOO_WIDE
** (feature bad_col has more levels than a model can hold), or ML_NOMEM.
*/
int ml_fitacc_add(ml_fitacc *a, int side, sqlite3_value **v, double y, double w);

/*
** The fingerprint of a training row, as ml_fitacc_add folds it into a->hash
** for the rows it uses (fitacc.c says what goes in).  For a later pass to
** check it reads the same rows: folds the row into h, or returns -1 for a
** value the accumulator could not have read.
*/
int ml_fitacc_fingerprint(const ml_fitacc *a, sqlite3_value **v, double y, double w, uint64_t h[2]);

/* The 128-bit mixing step of fingerprints. */
static inline void ml_hash_u64(uint64_t h[2], uint64_t v) {
  h[0] = (h[0] ^ v) * 0x9E3779B97F4A7C15ull;
  h[0] ^= h[0] >> 32;
  h[1] = (h[1] ^ (v + 0x632BE59BD9B4E019ull)) * 0xC2B2AE3D27D4EB4Full;
  h[1] ^= h[1] >> 29;
}

static inline void ml_hash_double(uint64_t h[2], double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  ml_hash_u64(h, u);
}

#define ML_HASH_SEED0 0x6A09E667F3BCC908ull
#define ML_HASH_SEED1 0xBB67AE8584CAA73Bull

/*
** Folds b, an accumulator of other rows under the same features, types,
** options and formula (or none), into a (fitacc_merge.c); b is changed (its
** block may move).  ML_OK, ML_NOMEM, ML_FA_TOO_WIDE (a->bad_col: the union
** of levels is more than a model can hold) or ML_EINPUT.
*/
int ml_fitacc_merge(ml_fitacc *a, ml_fitacc *b);

/*
** Starts a (just initialized) from model m of earlier rows, for an
** incremental retrain (incremental.c): m's levels as training levels with
** their counts, each numeric feature's profile, m's counts and weights
** (test rows' from its section tfac), and hash, the earlier rows'
** fingerprint.  m's factors are not a's: the caller folds them into the
** model ml_fitacc_finish makes (ml_model_design_map).  ML_OK, ML_NOMEM or
** ML_FA_TOO_WIDE.
*/
int ml_fitacc_seed(ml_fitacc *a, const ml_model *m, const uint64_t hash[2]);

/*
** The model of the training rows (names, levels, imputed means, the factor,
** solved; with o.cv, a->cv scored and the model solved with the chosen l2), and, when there are test rows, their factor in the model's
** columns ((p+1)^2, ml_free it) in *Rtest.  ML_EINPUT with err when the
** model cannot be made (a feature without any value; a level only in test
** rows without unseen = zero).
*/
int ml_fitacc_finish(ml_fitacc *a, ml_model **out, double **Rtest, char *err, size_t nerr);

#endif
