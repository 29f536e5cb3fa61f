/*
** model.h: a fitted model, its BLOB codec and its JSON export, free of SQLite:
** model.c (the struct, solving, statistics), model_blob.c (the codec below)
** and model_json.c (ml_model_json).
**
** The BLOB (format 1), every integer and double little-endian:
**
**   header   "SQML" | u16 format | u16 kind | u32 total length
**   sections u32 tag (4 ASCII letters) | u32 payload length | payload
**   trailer  u32 CRC-32 (IEEE, as zlib's crc32) of every byte before it
**
** A tag whose first letter is upper case is critical: a reader that does not
** know it must refuse the model rather than misread it; a lower-case tag may
** be skipped.  Format 1 sections (SHAP first, the others in any order):
**
**   SHAP  u32 flags (1 intercept, 2 refined, 4 weighted, 8 unseen levels
**         read as the reference) | u32 k features | u32 p terms
**         | i64 n rows used | i64 n rows skipped | f64 aliasing tolerance
**   FEAT  k times: str name | u8 type (0 numeric, 1 categorical)
**         | u8 flags (1 NULL is imputed: numeric, by the value; categorical,
**         as a level of its own; 2 categorical with a dummy for every level)
**         | f64 imputed value | u32 levels | levels x str, sorted by bytes
**         (by value when READ says they are numbers)
**   RFAC  the R factor of [X y], (p+1)(p+2)/2 f64, upper triangle by column
**   BFAC  in place of RFAC, the factor kept with one feature's level terms
**         as its diagonal block (sfac.h): u32 the feature | u32 its first
**         term | u32 nb, its level terms (not its NULL level's) | u32 q,
**         the other terms plus one | nb x (q + 1) f64, row l: a_l >= 0 then
**         G_l over the other terms and y | R's q(q+1)/2 f64, upper triangle
**         by column.  Written by ml_train since 0.6, right after SHAP, for a
**         fit without ridge, robust errors or formula (a GLM's without tbfc):
**         critical.
**   COEF  p f64 estimates (0 where aliased) | p u8 aliased | f64 residual sum
**         of squares of a refined fit (NaN: take it from R)
**   WGHT  f64 total weight | f64 sum of log weights (weighted fits)
**   RIDG  f64 lambda (ridge fits)
**   ROBU  u8 type (0 HC0 .. 3 HC3) | u8 computed | p x p f64 covariance,
**         column-major, when computed (robust standard errors)
**   READ  u32 n | n x str texts read as NULL (na_values) | k x u8 per
**         feature: 1 its levels are numbers (canonical text, sorted by
**         value).  Written by ml_train since 0.2, right after SHAP, so that
**         an older reader refuses the model as newer before reading FEAT.
**         With it, values are read as at training: a text that is a number
**         is that number, a na_values text is NULL, and a numeric level is
**         found by value (2, 2.0 and '2' are level "2").
**   FORM  the formula (formula.h, ml_formula_save's bytes): its text and
**         each raw column's kind and levels.  Written right after SHAP by
**         ml_train since 0.3 for a model fitted from a formula: critical,
**         so an older sqlml refuses the model (its p terms are the
**         formula's design columns, not what FEAT's features make).
**   targ  str name of the response (optional)
**   info  str version of sqlml that wrote the model (optional)
**   GLMF  u8 family (1 binomial, 2 poisson) | u8 link (1 logit, 2 log)
**         | u8 converged | u8 0 | u32 iterations | f64 deviance | f64 null
**         deviance | f64 aic | i64 df.null | str offset column ("" none)
**         | str, str the target's text levels, 0 then 1 ("" "" for a
**         numeric target).
**         Written right after SHAP by ml_train since 0.2 for a binomial or
**         poisson model: critical, so an older sqlml refuses the model instead of
**         reading it as linear (its RFAC is the working weights' factor, and
**         its predictions are on the link scale).  Without GLMF a model is
**         gaussian.
**   rfpr  u32 scheme (1) | u64 sum mod 2^64 of the hashes of the n fitted
**         rows (rowhash.h), for ml_refine to know them (optional; another
**         scheme is read as no fingerprint)
**
**   tfac  i64 n | f64 total weight | f64 mean of y | f64 sum of squared
**         deviations of y | (p+1)(p+2)/2 f64, the R factor of [X y] over
**         the test rows of ml_train's split, in the model's columns, upper
**         triangle by column (optional, since 0.3): any model over the
**         same columns is scored on those rows without reading them
**         (ml_compare, ml_promote)
**   tbfc  a model with BFAC's tfac: i64 n | f64 total weight | f64 mean
**         of y | f64 sum of squared deviations | the test rows' factor as
**         BFAC's rows and R, of its nb and q (optional, since 0.6)
**   prof  the training rows' profile of each feature (profile.h): u32 k,
**         then per feature u8 categorical and, numeric, i64 n | i64 NULLs
**         | f64 mean | f64 sum of squared deviations | f64 min | f64 max
**         | i32 bin width's power of two | f64 origin | 64 x i64 bins;
**         categorical, i64 NULLs | u32 levels (as FEAT's) | i64 count
**         per level (optional, since 0.3: ml_feature_info, ml_drift)
**   incr  u32 scheme (1) | i64 the source's largest rowid when ml_train
**         read it | f64 total weight | f64 mean of y | f64 sum of squared
**         deviations of y, of the training rows | 2 x u64 their
**         fingerprint, the sum of their hashes (ml_fitacc_fingerprint)
**         (optional, since 0.3: a rowid table's mark, what "incremental"
**         continues from)
**   nnul  u32 n | n x i64: the NULLs ml_train read in each of its columns
**         (target, features, then weights and offset when given) over
**         every row it read, the parent's included for an incremental
**         retrain (optional, since 0.4: the summary's "nulls")
**
** where str is u32 byte length | UTF-8 bytes.  ml_model_decode() checks all
** of it, checksum first, and never reads out of bounds.  model_blob.c has
** one table of these sections, each with its writer and its reader, in the
** order it writes them: SHAP BFAC FORM GLMF READ FEAT RFAC COEF WGHT RIDG ROBU
** targ info rfpr prof tfac tbfc incr nnul (SHAP, FEAT and COEF required, and
** one of RFAC and BFAC; each at most once).  A
** new section is a row of the table, and its lines here.
*/
#ifndef SQLML_MODEL_H
#define SQLML_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"
#include "sfac.h"

#define ML_FORMAT_VERSION 1
#define ML_KIND_LINEAR 1
/* How rows are hashed for section rfpr (rowhash.h). */
#define ML_ROWHASH_SCHEME 1
/* Design columns, the intercept included, of a model with a dense factor:
** R alone is 8 MB at this size. */
#define ML_MAX_TERMS 1000
/*
** Levels of the one feature a model keeps as its factor's diagonal block
** (sfac.h, section BFAC): such a model has up to ML_MAX_TERMS other terms
** and this many more.  Its factor is L (q + 1) + q^2 numbers, q the other
** terms plus one: 32 MB for a million levels and q = 3.
*/
#define ML_MAX_LEVELS 1000000

enum { ML_FEAT_NUMERIC = 0, ML_FEAT_CATEGORICAL = 1 };

typedef struct ml_feature {
  char *name;
  int type;        /* ML_FEAT_* */
  int nlevels;     /* categorical: sorted; level 0 is the reference */
  char **levels;
  int has_impute;  /* NULL is imputed: numeric, as impute; categorical, as a level */
  double impute;
  int full;        /* categorical: a dummy for every level, none left out */
  int num_levels;  /* categorical: the levels are numbers, sorted by value (READ) */
  double *lvnum;   /* their values, nlevels (filled by the decoder and the fit) */
  int *slots;      /* text levels, ML_LEVEL_HASH_MIN or more: a hash table of
                      index + 1 (0 empty), for ml_level_index; not stored */
  int nslots;
} ml_feature;

/* Levels from which a feature's are found by hash (ml_feature_hash_levels). */
#define ML_LEVEL_HASH_MIN 16
/* f's hash table of levels, if it has that many text levels.  ML_OK or ML_NOMEM. */
int ml_feature_hash_levels(ml_feature *f);

/*
** Texts that mean a missing value (option na_values): a text value equal to
** one of them reads as NULL.  Texts only: a number is never missing, so a
** row of numbers reads the same however it is passed.
*/
typedef struct ml_na {
  int n;
  char **text;
  int *len;   /* their byte lengths: most values differ from each in length */
  uint64_t lens;     /* bit min(length, 63) of each: most values are told apart by one test */
  uint64_t first[4]; /* bit of each one's first byte */
} ml_na;

/* Copies n texts into na (empty first); ML_OK or ML_NOMEM. */
int ml_na_set(ml_na *na, char *const *texts, int n);
void ml_na_free(ml_na *na);
/* Is z[0..n) one of the texts?  (A value per row and feature: most are told
** apart inline by their length or first byte.) */
int ml_na_find_text(const ml_na *na, const char *z, int n);
static inline int ml_na_has_text(const ml_na *na, const char *z, int n) {
  if (!(na->lens >> (n < 63 ? n : 63) & 1)) return 0;
  unsigned char c = n ? (unsigned char)z[0] : 0;
  if (n && !(na->first[c >> 6] >> (c & 63) & 1)) return 0;
  return ml_na_find_text(na, z, n);
}

/*
** Does z[0..n) (NUL-terminated at n or later) read entirely as a decimal
** number, as SQLite's CAST would read it: spaces around it, a sign, digits
** with at most one point, an exponent?  '12', ' 3.5 ', '-1e3' do; '12abc',
** '', '0x1A', 'NaN', 'inf' do not.  1 with *out, 0, or -1 out of memory
** (a number over 120 characters is copied).
*/
int ml_parse_number(const char *z, int n, double *out);

/*
** The canonical text of a number as a level: the fewest significant digits
** that read back as the same double, written fixed or scientific as R's
** as.character() chooses (the shorter; fixed on a tie): "2", "0.5", "1e+05".
*/
#define ML_NUMBER_TEXT_MAX 32
void ml_number_text(double d, char out[ML_NUMBER_TEXT_MAX]);

/* Index of text level z among f's levels (sorted by bytes), or -1. */
int ml_level_index(const ml_feature *f, const char *z);

/* Design terms of feature f: numeric 1; categorical its dummies. */
static inline int ml_feature_terms(const ml_feature *f) {
  if (f->type == ML_FEAT_NUMERIC) return 1;
  return f->nlevels - (f->full ? 0 : 1) + (f->has_impute ? 1 : 0);
}

#define ML_MODEL_INTERCEPT 1u
#define ML_MODEL_REFINED 2u
#define ML_MODEL_WEIGHTED 4u
#define ML_MODEL_UNSEEN_ZERO 8u

enum { ML_ROBUST_NONE = 0, ML_ROBUST_HC0, ML_ROBUST_HC1, ML_ROBUST_HC2, ML_ROBUST_HC3 };

typedef struct ml_model {
  int format;              /* format version of the BLOB it came from */
  int kind;
  unsigned flags;          /* ML_MODEL_* */
  int k;                   /* input features: arguments of ml_predict after the model */
  int p;                   /* design terms, the intercept included */
  ml_feature *feat;        /* k */
  int64_t n, n_skipped;
  double tol;              /* aliasing tolerance the fit used */
  double *R;               /* (p+1) x (p+1) column-major, upper triangle; NULL for a
                              model kept with its block until ml_model_densify */
  /* A model whose factor keeps one feature's levels as its diagonal block
  ** (section BFAC, sfac.h), or fac NULL: feature bfeat's terms
  ** bstart..bstart+fac->nb-1 are the block's columns, the other terms in
  ** their order are the columns after it.  test_fac likewise for tfac's rows. */
  int bfeat, bstart;
  ml_sfac *fac, *test_fac;
  ml_sfac *Wfac;           /* fac without its aliased columns, for intervals (on demand) */
  double *beta;            /* p; 0 where aliased, so predictions skip it */
  unsigned char *aliased;  /* p */
  double rss;              /* refined residual sum of squares, or NaN */
  double sum_w;            /* weighted: total weight */
  double sum_log_w;        /* weighted: sum of log weights */
  double l2;               /* ridge penalty, or 0 */
  int robust;              /* ML_ROBUST_* */
  double *hc;              /* robust covariance (p x p), or NULL until computed */
  char *target;            /* name of the response, or NULL */
  char *version;           /* sqlml version that wrote it, or NULL */
  int reads;               /* has section READ: text numbers, na, numeric levels */
  ml_na na;                /* with reads: the texts read as NULL */
  /* Filled on demand by ml_model_prepare_intervals(), not stored: */
  double *W;               /* the factor of the kept columns, (p+1)^2 */
  int rank;
  double sigma, df_resid;
  /* The fitted rows' fingerprint (section rfpr, rowhash.h): the sum mod 2^64
  ** of their hashes, with n rows; has_rows_hash 0 for models without it. */
  int has_rows_hash;
  uint64_t rows_hash;
  /* A generalized linear model (glm.h, section GLMF); family 0, gaussian
  ** with the identity link, is the linear model and has no GLMF.  R is the
  ** factor of the last IRLS step, sqrt(W) [X z]: beta solves it, and its
  ** inverse is the covariance (dispersion 1 for binomial and poisson). */
  int family, link;        /* ML_FAMILY_*, ML_LINK_* */
  int iterations;          /* Fisher scoring iterations, as R's glm counts them */
  int converged;
  double deviance, null_deviance;
  double aic;              /* R's: -2 log likelihood + 2 rank */
  int64_t df_null;         /* R's df.null: rows used - intercept */
  char *offset;            /* the offset column, or NULL */
  char *ylevels[2];        /* binomial: the target's text levels (0, 1), or NULL */
  /* The test rows' factor (section tfac), or test_R NULL: sum of weights,
  ** mean and sum of squared deviations of y, and R of [X y], (p+1)^2
  ** column-major as R. */
  int64_t test_n;
  double test_w, test_mean, test_m2;
  double *test_R;
  /* The training rows' profile of each feature (section prof, profile.h), or NULL. */
  struct ml_profile *profile;
  /* A model fitted from a formula (section FORM, formula.h), or NULL: its
  ** k features are the right-hand side's raw columns, its p terms the
  ** formula's design columns; form is ml_formula_save()'s bytes. */
  struct ml_formula *formula;
  unsigned char *form;
  size_t nform;
  /* What ml_train read (section incr), for an incremental retrain: has_mark,
  ** the source's largest rowid at the scan, and the training rows' total
  ** weight, mean and sum of squared deviations of y. */
  int has_mark;
  int64_t mark;
  double train_w, train_mean, train_m2;
  uint64_t set_hash[2];    /* the training rows' fingerprint (fitacc.h), before data_hash's options */
  /* The NULLs ml_train read by column (section nnul), or nulls_read NULL. */
  int64_t *nulls_read;
  int nnulls_read;
} ml_model;

/* Gives m the formula f (taken over, even on failure) and its saved bytes: ML_OK or ML_NOMEM. */
int ml_model_set_formula(ml_model *m, struct ml_formula *f);

/* Residual sum of squares of coefficients b (p, 0 where aliased) under the
** factor R ((p+1)^2 column-major) of [X y]: ||R [b; -1]||^2. */
double ml_factor_rss(const double *R, int p, const double *b);

/* A model with k features and p terms, arrays allocated and zeroed: with
** dense, its factor R; without, R is NULL (the decoder allocates it for a
** section RFAC, a fit with a block keeps fac). */
ml_model *ml_model_alloc(int k, int p, int dense);
static inline ml_model *ml_model_new(int k, int p) { return ml_model_alloc(k, p, 1); }

/*
** Gives a model kept with its block (m->fac) the dense factors R and
** test_R in its terms' order (ml_sfac_dense), for what works on them:
** merges, comparisons, drift, an incremental retrain.  ML_OK (also for a
** model that has them), ML_NOMEM, ML_ELAPACK, or ML_EINPUT when the model
** has more than ML_MAX_TERMS terms.
*/
int ml_model_densify(ml_model *m);
/*
** An IRLS step's factor in m's columns (train_glm.c), for a dense model or
** one kept with its block alike: an accumulator of those columns (the
** block's as its block), a row (x and blk as ml_design_row_blocked gives
** them, scaled by sw, z the working response), the folded factor made m's
** (R, or fac's rows and R), ||F d||^2 for d over the terms, and whether
** the factor is finite.  ML_OK or ML_NOMEM/ML_ELAPACK.
*/
struct ml_lsq;
int ml_model_acc_init(struct ml_lsq *acc, const ml_model *m);
int ml_model_acc_row(struct ml_lsq *acc, const ml_model *m, const double *x, int blk, double sw,
                     double z);
int ml_model_take_factor(ml_model *m, struct ml_lsq *acc);
double ml_model_factor_norm2(const ml_model *m, const double *d);
int ml_model_factor_finite(const ml_model *m);

/* ml_model_densify where the model is small enough: ML_OK also for one
** that stays kept with its block (p > ML_MAX_TERMS, m->R NULL). */
static inline int ml_model_densify_small(ml_model *m) {
  int rc = ml_model_densify(m);
  return rc == ML_EINPUT ? ML_OK : rc;
}
/* ml_model_densify, then the block's factors dropped: a dense model. */
int ml_model_unblock(ml_model *m);
/* The block's factors freed (m->fac, test_fac, Wfac NULL). */
void ml_model_drop_block(ml_model *m);
/* The dense factor of m->fac (test 0) or m->test_fac (test 1) into *R
** ((p+1)^2, ml_free it), m unchanged: codes as ml_model_densify. */
int ml_model_dense_factor(const ml_model *m, int test, double **R);

/* m's column of the block-first factor for term j (sfac.h's numbering). */
static inline int ml_model_fac_col(const ml_model *m, int j) {
  int nb = m->fac->nb;
  return j < m->bstart ? nb + j : j < m->bstart + nb ? j - m->bstart : j;
}

/* The residual sum of squares of m's coefficients over its training rows
** (test = 0) or its test rows (test = 1): ||R [b; -1]||^2 from either form,
** NaN without that factor.  ML_OK or ML_NOMEM. */
int ml_model_rss(const ml_model *m, int test, double *rss);

/* model_block.c's parts of ml_model_solve and ml_model_prepare_intervals
** for a model with m->fac (m->Wfac, rank, sigma, df_resid). */
int ml_model_solve_blocked(ml_model *m);
/* m->fac without its aliased columns (ml_sfac_reduce), into out: ML_OK or ML_NOMEM/ML_ELAPACK. */
int ml_model_reduced_fac(const ml_model *m, ml_sfac *out);
/* ml_model_stats of a model of more terms than a dense factor holds: the
** same but the covariance (st->cov NULL) and the condition (NaN). */
struct ml_lsq_fitinfo;
struct ml_lsq_stats;
int ml_model_stats_blocked(const ml_model *m, const struct ml_lsq_fitinfo *fi,
                           struct ml_lsq_stats *st);
int ml_model_prepare_blocked(ml_model *m);
/*
** For an interval: ||W^-T x|| of a design row as ml_design_row_blocked
** fills it (x over the terms outside the block, blk the block's term or -1),
** after ml_model_prepare_intervals.  work: 2p doubles.  ML_OK.
*/
int ml_model_interval_norm(const ml_model *m, const double *x, int blk, double *work, double *norm);

/*
** x'b for a design row as ml_design_row_blocked fills it: the terms outside
** the block from x, and the block's term blk (-1: none) as 1.  With no
** block (m->fac NULL) every term from x.  Summed in long double.
*/
long double ml_model_dot(const ml_model *m, const double *x, int blk);
/* A design row's prediction x'b (the linear predictor of a GLM), either
** form: a dense model's summed in double, term by term. */
double ml_model_linear(const ml_model *m, const double *x, int blk);
/* Its residual y - x'b in long double: a dense model's terms taken from y
** one by one. */
long double ml_model_residual(const ml_model *m, const double *x, int blk, double y);
void ml_model_free(ml_model *m);

/* A copy of z[0..n), NUL-terminated (ml_free it), or NULL out of memory. */
char *ml_dup_n(const char *z, size_t n);

/* Set feature j's name (copied); j = -1 sets the target's. */
int ml_model_set_name(ml_model *m, int j, const char *name);

/*
** Solve R for beta and aliased (by m->tol), or for the ridge coefficients
** when m->l2 > 0.  What a new factor invalidates goes: a refined fit
** becomes plain, a robust covariance is dropped (it needs a pass).
*/
int ml_model_solve(ml_model *m);

/* Computes m->W, rank, sigma and df_resid for prediction intervals, once. */
int ml_model_prepare_intervals(ml_model *m);

/* The model's statistics (see lsq.h); free with ml_lsq_stats_free. */
struct ml_lsq_stats;
int ml_model_stats(const ml_model *m, struct ml_lsq_stats *st);

/*
** Can a and b be merged: same kind, features and options?  If not, err says
** what differs.  Categorical levels may differ: then *remap is set, and both
** map exactly to the design of the union of their levels (ml_model_union,
** ml_model_design_map).
*/
int ml_model_compatible(const ml_model *a, const ml_model *b, int *remap, char *err, size_t nerr);

int ml_model_encode(const ml_model *m, const char *version, unsigned char **out, int64_t *len);
int ml_model_decode(const unsigned char *z, int64_t n, ml_model **out, char *err, size_t nerr);

/*
** The sections this sqlml knows (model_blob.c's table), in the order it
** writes them: the tag of the i-th, with *critical (if not NULL) set, or
** NULL past the last.  For tests that go over every section.
*/
const char *ml_model_section(int i, int *critical);

/*
** The model and its statistics as a JSON object (free with ml_free), with
** confidence intervals of the coefficients at level (0 < level < 1).
*/
int ml_model_json(const ml_model *m, double level, char **out, size_t *len);

/* Name of term j: "(Intercept)", a feature name, or "feature=level". */
int ml_model_term_name(const ml_model *m, int j, char **out);

uint32_t ml_crc32(const unsigned char *z, size_t n);

/* "sqft, rooms, city": the first max feature names, then ", ..." if there
** are more (ml_free it), for messages that say what a model expects. */
char *ml_model_feature_list(const ml_model *m, int max);
#define ML_LIST_NAMES 10

/*
** For merging models whose categorical levels differ (ml_model_compatible
** said so): a model with a's features, options and counts, each factor with
** the sorted union of a's and b's levels (and a NULL level if either has
** one), and no factor yet (R, beta zero).  ML_EINPUT with err when the
** union has more terms than a model can hold.
*/
int ml_model_union(const ml_model *a, const ml_model *b, ml_model **out, char *err, size_t nerr);

/*
** The map T ((a->p + 1) x (u->p + 1), column-major; ml_free it) from a's
** design [X y] to u's, u from ml_model_union: for every row a can have,
** u's row is T' times a's.  A level a lacks is a column of zeros; a's
** reference level, when it is not u's, is 1 minus a's other indicators.
** Exact, so ml_lsq_transform(a->R, T) is the factor of a's rows in u.
*/
int ml_model_design_map(const ml_model *a, const ml_model *u, double **T);

/* The first design column of each feature of m, into start[0..k). */
void ml_model_feature_starts(const ml_model *m, int *start);

#endif
