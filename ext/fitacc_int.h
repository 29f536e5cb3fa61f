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
};

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
