/*
** fitacc_rows.c: the training rows an accumulator keeps for a later pass
** from memory (o.keep_rows).
**
** A refinement step, and robust errors, need each training row once more,
** after the fit: its residual under the fitted coefficients.  Reading the source again costs
** what the first pass cost, a second scan and every value parsed, hashed
** and looked up again.  When the rows fit ML_FA_ROWS_BUDGET they are kept
** as the first pass read them: y, w and one word per feature, a number or
** the row's level (its fa_level, whose index in the model ml_fitacc_finish
** sets).  The values are the ones the pass read (a text read as a number is
** that number, an na_values text is NULL), so the model's design rows built
** from them are the ones a second read would build.
*/
#include <math.h>
#include <string.h>

#include "fitacc_int.h"
#include "formula.h"

void ml_fa_rows_free(ml_fitacc *a) {
  ml_free(a->rows.w);
  ml_free(a->rows.lv);
  memset(&a->rows, 0, sizeof a->rows);
}

void ml_fa_rows_drop(ml_fitacc *a) {
  ml_fa_rows_free(a);
  a->rows.dropped = 1;
}

/* Room for one more row, within the budget; 0 when there is none. */
static int room(ml_fitacc *a, int width) {
  if (a->rows.n < a->rows.cap) return 1;
  int64_t cap = a->rows.cap ? 2 * a->rows.cap : 1024, most = ML_FA_ROWS_BUDGET / (8 * width);
  if (cap > most) cap = most;
  if (cap <= a->rows.n) return 0;
  union fa_word *w = ml_realloc(a->rows.w, 8 * (uint64_t)width * (uint64_t)cap);
  if (!w) return 0;
  a->rows.w = w;
  a->rows.cap = cap;
  return 1;
}

void ml_fa_rows_put(ml_fitacc *a, double y, double w, int dense) {
  int width = a->k + 2;
  if (a->rows.dropped) return;
  if (!room(a, width)) {
    ml_fa_rows_drop(a);
    return;
  }
  union fa_word *r = a->rows.w + a->rows.n++ * (int64_t)width;
  r[0].d = y;
  r[1].d = w;
  for (int j = 0; j < a->k; j++) {
    int null = !dense && a->types[j] == ML_V_NULL;
    if (a->f[j].type == ML_TYPE_NUMERIC) r[2 + j].d = null ? NAN : a->num[j];
    else r[2 + j].l = null ? NULL : a->rows.lv[j];
  }
}

int ml_fitacc_rows_each(const ml_fitacc *a, ml_fa_row_fn fn, void *ctx) {
  if (!a->o.keep_rows || a->rows.dropped) return -1;
  int width = a->k + 2;
  ml_fvalue *v = ml_calloc(sizeof(ml_fvalue) * (uint64_t)(a->k ? a->k : 1));
  if (!v) return -1;
  int rc = 0;
  for (int64_t i = 0; !rc && i < a->rows.n; i++) {
    const union fa_word *r = a->rows.w + i * width;
    for (int j = 0; j < a->k; j++) {
      if (a->f[j].type == ML_TYPE_NUMERIC) {
        v[j].num = r[2 + j].d;
        v[j].isnull = isnan(v[j].num);
      } else {
        v[j].isnull = r[2 + j].l == NULL;
        v[j].level = v[j].isnull ? -1 : r[2 + j].l->model;
      }
    }
    rc = fn(ctx, v, r[0].d, r[1].d);
  }
  ml_free(v);
  return rc;
}
