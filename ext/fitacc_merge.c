/*
** fitacc_merge.c: two accumulators of disjoint rows made one, for a fit
** whose rows several connections read at once (train_threads.c).
**
** b's levels and NULL indicators join a's (those a lacks become new
** columns, zero for a's rows, as a level seen for the first time does), the
** block is made the same feature's in both, and b's factors fold into a's
** with b's columns mapped to a's (ml_lsq_merge_mapped): the factor of the
** union of the rows, whose model ml_fitacc_finish makes as for one pass.
** Counts, sums, fingerprints and profiles add up (the fingerprint is a sum
** of row hashes, so it is the one pass's exactly).  A formula's design is
** fixed before the rows (its levels read first), so its columns are the
** same in both and only the counts and factors add.
*/
#include "fitacc_int.h"

/* Feature j's counts, sums and profile from b (a categorical one's profile is
** by level: a formula's, whose levels are the same in both). */
static int merge_counts(ml_fitacc *a, const ml_fitacc *b, int j) {
  fa_feature *f = &a->f[j];
  const fa_feature *g = &b->f[j];
  ml_ksum_merge(&f->sum, &g->sum);
  f->nulls += g->nulls;
  f->nulls_train += g->nulls_train;
  f->from_text += g->from_text;
  f->values += g->values;
  if (f->type == ML_TYPE_CATEGORICAL) return ml_catprof_merge(&f->cprof, &g->cprof);
  ml_numprof_merge(&f->prof, &g->prof);
  return ML_OK;
}

/* Feature j of b made a's too: its NULL column and levels, then its counts. */
static int merge_feature(ml_fitacc *a, const ml_fitacc *b, int j) {
  fa_feature *f = &a->f[j];
  const fa_feature *g = &b->f[j];
  if (g->ncol >= 0 && f->ncol < 0 && (f->ncol = ml_fa_add_column(a)) < 0) return ML_NOMEM;
  for (int l = 0; l < g->nlevels; l++) {
    const fa_level *gl = g->levels[l];
    fa_level *fl;
    int rc = ml_fa_level_of(a, f, gl->key, gl->len, gl->num, &fl);
    if (rc == ML_FA_TOO_WIDE) a->bad_col = j;
    if (rc) return rc;
    fl->train |= gl->train;
    fl->ntrain += gl->ntrain;
  }
  return merge_counts(a, b, j);
}

/* b's block made the feature's that is a's block (or none, when b has none of its levels). */
static int align_block(const ml_fitacc *a, ml_fitacc *b) {
  if (b->bf == a->bf) return ML_OK;
  int rc = b->bf >= 0 ? ml_fa_from_block(b) : ML_OK;
  if (!rc && a->bf >= 0 && b->f[a->bf].nlevels > 0) rc = ml_fa_to_block(b, a->bf);
  return rc;
}

/* Where b's raw columns (cmap, the response's included) and block columns (bmap) are in a. */
static int column_map(ml_fitacc *a, const ml_fitacc *b, int *cmap, int *bmap) {
  if (b->o.intercept) cmap[0] = 0;
  for (int j = 0; j < b->k; j++) {
    fa_feature *f = &a->f[j];
    const fa_feature *g = &b->f[j];
    if (g->zcol >= 0) cmap[g->zcol] = f->zcol;
    if (g->ncol >= 0) cmap[g->ncol] = f->ncol;
    for (int l = 0; l < g->nlevels; l++) {
      const fa_level *gl = g->levels[l];
      fa_level *fl;
      /* Found, not added: merge_feature added it. */
      if (ml_fa_level_of(a, f, gl->key, gl->len, gl->num, &fl)) return ML_EINPUT;
      if ((gl->blk >= 0) != (fl->blk >= 0)) return ML_EINPUT;
      if (gl->blk >= 0) bmap[gl->blk] = fl->blk;
      else cmap[gl->col] = fl->col;
    }
  }
  cmap[b->mraw] = a->mraw;
  return ML_OK;
}

/* b's factors folded into a's, side by side and fold by fold. */
static int merge_factors(ml_fitacc *a, ml_fitacc *b, const int *cmap, const int *bmap) {
  int rc = ML_OK;
  for (int s = 0; !rc && s < a->sides; s++) rc = ml_lsq_merge_mapped(&a->acc[s], &b->acc[s], cmap, bmap);
  for (int f = 0; !rc && a->fold && f < a->o.cv; f++) {
    rc = ml_lsq_merge_mapped(&a->fold[f], &b->fold[f], cmap, bmap);
    struct fa_fold *s = &a->fstat[f];
    const struct fa_fold *t = &b->fstat[f];
    ml_moments_merge(&s->w, &s->mean, &s->m2, t->w, t->mean, t->m2);
    s->n += t->n;
  }
  return rc;
}

/* A formula's design is fixed: b's columns are a's, in order. */
static int identity_map(ml_fitacc *a, const ml_fitacc *b, int *cmap) {
  if (a->mraw != b->mraw || a->nblk || b->nblk) return ML_EINPUT;
  for (int c = 0; c <= b->mraw; c++) cmap[c] = c;
  return ML_OK;
}

int ml_fitacc_merge(ml_fitacc *a, ml_fitacc *b) {
  if (a->k != b->k || a->sides != b->sides || a->o.cv != b->o.cv || !a->formula != !b->formula)
    return ML_EINPUT;
  a->blk_at = b->blk_at = -1;
  ml_fa_rows_drop(a); /* b's rows are not kept here */
  int rc = ML_OK;
  for (int j = 0; !rc && j < a->k; j++) rc = a->formula ? merge_counts(a, b, j) : merge_feature(a, b, j);
  if (!rc && !a->formula) rc = align_block(a, b);
  if (rc) return rc;
  int *cmap = ml_malloc(sizeof(int) * ((uint64_t)b->mraw + 1));
  int *bmap = ml_malloc(sizeof(int) * ((uint64_t)b->nblk + 1));
  rc = !cmap || !bmap ? ML_NOMEM : a->formula ? identity_map(a, b, cmap) : column_map(a, b, cmap, bmap);
  if (!rc) rc = merge_factors(a, b, cmap, bmap);
  ml_free(cmap);
  ml_free(bmap);
  if (rc) return rc;
  for (int s = 0; s < 2; s++) {
    a->used[s] += b->used[s];
    a->sum_w[s] += b->sum_w[s];
  }
  ml_ksum_merge(&a->sum_log_w, &b->sum_log_w);
  a->skipped += b->skipped;
  a->zero_weight += b->zero_weight;
  a->hash[0] += b->hash[0] - ML_HASH_SEED0;
  a->hash[1] += b->hash[1] - ML_HASH_SEED1;
  return ML_OK;
}
