/*
** fitacc_block.c: the model's factors kept with the block (sfac.h), made
** from the accumulators' block rows in O(levels d^2), d the other raw
** columns: no dense factor of the design, whose QR would cost O(levels^3).
**
** The accumulator's factor is [diag(a) G; 0 R] over the raw columns, block
** first.  The design's block columns are the block feature's level terms,
** each one raw block column; its other columns are combinations of the
** other raw columns (T_r).  So a level's row maps to [a_l, G_l T_r], and the
** rows of levels without a term (the reference, a level seen only in test
** rows) lose their block entry and join R T_r, re-triangularized.
*/
#include <limits.h>

#include "fitacc_int.h"
#include "model.h"

typedef struct blockmap {
  int bstart, nb; /* the block's design columns */
  int qr;         /* the other design columns and y */
  int m;          /* the accumulator's other raw columns and y */
  int *to;        /* raw block column -> its design column - bstart, or -1 */
  double *Tr;     /* m x qr, column-major: raw columns to the other design columns */
} blockmap;

static void blockmap_free(blockmap *b) {
  ml_free(b->to);
  ml_free(b->Tr);
}

/* The design column c's index among the columns outside the block. */
static int rest_col(const blockmap *b, int c) { return c < b->bstart ? c : c - b->nb; }

/* T split into the block's columns and T_r.  ML_OK or ML_NOMEM. */
static int map_block(const ml_fitacc *a, const fa_tmap *T, int p, blockmap *b) {
  b->bstart = INT_MAX;
  b->nb = 0;
  for (int i = 0; i < T->n; i++)
    if (T->e[i].row < a->nblk) {
      b->nb++;
      if (T->e[i].col < b->bstart) b->bstart = T->e[i].col;
    }
  b->qr = p + 1 - b->nb;
  b->m = a->mraw + 1;
  b->to = ml_malloc(sizeof(int) * ((uint64_t)a->nblk + 1));
  b->Tr = ml_calloc(8 * (uint64_t)b->m * (uint64_t)b->qr);
  if (!b->to || !b->Tr) return ML_NOMEM;
  for (int l = 0; l < a->nblk; l++) b->to[l] = -1;
  for (int i = 0; i < T->n; i++) {
    const fa_tent *e = &T->e[i];
    if (e->row < a->nblk) b->to[e->row] = e->col - b->bstart;
    else b->Tr[(e->row - a->nblk) + (int64_t)rest_col(b, e->col) * b->m] = e->v;
  }
  return ML_OK;
}

/* out[0..qr) = x T_r for x over the m raw columns (stride sx). */
static void times_tr(const blockmap *b, const double *x, int64_t sx, double *out) {
  for (int c = 0; c < b->qr; c++) {
    const double *t = b->Tr + (int64_t)c * b->m;
    double s = 0;
    for (int i = 0; i < b->m; i++)
      if (t[i] != 0) s += x[i * sx] * t[i];
    out[c] = s;
  }
}

/* R of the rows folded into acc (its upper triangle) into f->R. */
static void copy_upper(const ml_lsq *acc, ml_sfac *f) {
  int q = f->q;
  for (int j = 0; j < q; j++)
    for (int i = 0; i < q; i++) f->R[i + (int64_t)j * q] = i <= j ? acc->R[i + (int64_t)j * q] : 0;
}

/* The rows of acc's factor outside the design's block, in T_r's columns,
** into rest (row: qr doubles, then m of scratch). */
static int fold_rest(const ml_lsq *acc, const blockmap *b, ml_lsq *rest, double *row) {
  int rc = ML_OK;
  double *ri = row + b->qr;
  for (int i = 0; i < b->m && !rc; i++) {
    for (int j = 0; j < b->m; j++) ri[j] = j >= i ? acc->R[i + (int64_t)j * b->m] : 0;
    times_tr(b, ri, 1, row);
    for (int c = 0; c < b->qr; c++) ml_lsq_put(rest, c, row[c]);
    rc = ml_lsq_commit(rest);
  }
  for (int l = 0; l < acc->nblk && !rc; l++) {
    if (b->to[l] >= 0) continue;
    times_tr(b, acc->G + (int64_t)l * (b->m + 1) + 1, 1, row);
    for (int c = 0; c < b->qr; c++) ml_lsq_put(rest, c, row[c]);
    rc = ml_lsq_commit(rest);
  }
  return rc ? rc : ml_lsq_fold(rest);
}

/* acc's factor in the design's columns, kept with the block, into *out. */
static int side_factor(const ml_lsq *acc, const blockmap *b, ml_sfac **out) {
  ml_sfac *f = *out = ml_calloc(sizeof *f);
  double *row = ml_malloc(8 * ((uint64_t)b->qr + (uint64_t)b->m));
  ml_lsq rest;
  int rc = f && row ? ml_sfac_init(f, b->nb, b->qr) : ML_NOMEM;
  if (!rc) rc = ml_lsq_init(&rest, b->qr - 1);
  if (rc) {
    ml_free(row);
    return rc;
  }
  for (int l = 0; l < acc->nblk; l++) {
    if (b->to[l] < 0) continue;
    const double *g = acc->G + (int64_t)l * (b->m + 1);
    double *s = ml_sfac_row(f, b->to[l]);
    s[0] = g[0];
    times_tr(b, g + 1, 1, s + 1);
  }
  rc = fold_rest(acc, b, &rest, row);
  if (!rc) copy_upper(&rest, f);
  ml_lsq_free(&rest);
  ml_free(row);
  return rc;
}

int ml_fa_block_factors(const ml_fitacc *a, ml_model *m, const fa_tmap *T) {
  blockmap b = {0};
  int rc = map_block(a, T, m->p, &b);
  if (!rc) rc = side_factor(&a->acc[0], &b, &m->fac);
  if (!rc && a->sides > 1 && a->used[1] > 0) rc = side_factor(&a->acc[1], &b, &m->test_fac);
  m->bfeat = a->bf;
  m->bstart = b.bstart;
  blockmap_free(&b);
  return rc;
}
