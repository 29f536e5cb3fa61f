/*
** fitacc_int.h: what fitacc.c and fitacc_merge.c share (internal to the accumulator).
*/
#ifndef SQLML_FITACC_INT_H
#define SQLML_FITACC_INT_H

#include "fitacc.h"

struct fa_level {
  char *key;  /* the text, or a numeric level's 8 double bytes */
  int len;
  double num; /* a numeric level's value */
  int col;    /* raw column, or -1 in the block */
  int blk;    /* the block's column (the block feature's levels), or -1 */
  int train;  /* seen in a training row that was used */
  int64_t ntrain; /* in how many (counted with o.profile) */
  int model;  /* its index among the model's levels, once ml_fitacc_finish made them */
};

/* A kept row's word (fitacc_rows.c): a numeric feature's number, or a level. */
union fa_word {
  double d;
  const fa_level *l;
};

/* The row just committed to the training side, kept (dense: from dense_row). */
void ml_fa_rows_put(ml_fitacc *a, double y, double w, int dense);
void ml_fa_rows_free(ml_fitacc *a);
/* Keeps no rows from now on (rows this accumulator did not read, or no memory). */
void ml_fa_rows_drop(ml_fitacc *a);

/*
** The map T from the raw columns (the block's first, as in ml_lsq_full) to
** the model's design, as its nonzero entries: design column col gains v
** times raw column row.  At most two a design column (a mean-imputed
** numeric feature's value and NULL indicator): cap 2 (p + 1).
*/
typedef struct fa_tent {
  int64_t row;
  int col;
  double v;
} fa_tent;
typedef struct fa_tmap {
  int n, cap;
  fa_tent *e;
} fa_tmap;
static inline void fa_tmap_put(fa_tmap *T, int64_t row, int col, double v) {
  if (T->n < T->cap) T->e[T->n++] = (fa_tent){row, col, v};
}

/*
** The model's factors kept with the block (fitacc_block.c): m->fac from
** the training accumulator, m->test_fac from the test one when it has rows,
** m->bfeat and m->bstart.  ML_OK or ML_NOMEM.
*/
int ml_fa_block_factors(const ml_fitacc *a, ml_model *m, const fa_tmap *T);

/*
** The level with key z[0..n) of f (num: a numeric level's value), added with
** a new column if new (the block may then move: ml_fa_to_block), in *out.
** ML_OK, ML_NOMEM or ML_FA_TOO_WIDE.
*/
int ml_fa_level_of(ml_fitacc *a, fa_feature *f, const char *z, int n, double num, fa_level **out);
/* A new raw column, zero for the rows so far: its index, or -1 out of memory. */
int ml_fa_add_column(ml_fitacc *a);
/* Feature j's levels made the block of every accumulator.  ML_OK or ML_NOMEM. */
int ml_fa_to_block(ml_fitacc *a, int j);
/* The block's levels back to raw columns.  ML_OK or ML_NOMEM. */
int ml_fa_from_block(ml_fitacc *a);

#endif
