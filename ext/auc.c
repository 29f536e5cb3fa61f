/*
** auc.c: ROC AUC, exact, by ranks.  See auc.h.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "auc.h"
#include "mem.h"

void ml_auc_init(ml_auc *a, int64_t max, int weighted) {
  memset(a, 0, sizeof *a);
  a->max = max;
  a->weighted = weighted != 0;
}

void ml_auc_reset(ml_auc *a) {
  a->n[0] = a->n[1] = 0;
  a->over = a->nan = 0;
}

void ml_auc_free(ml_auc *a) {
  ml_free(a->v[0]);
  ml_free(a->v[1]);
  a->v[0] = a->v[1] = NULL;
  a->cap[0] = a->cap[1] = 0;
  ml_auc_reset(a);
}

int ml_auc_entry_bytes(const ml_auc *a) { return a->weighted ? 16 : 8; }

/* One entry of class c; ML_OK, or ML_NOMEM. */
static int put(ml_auc *a, int c, double score, double w) {
  if (a->over) return ML_OK;
  if (a->n[0] + a->n[1] >= a->max) {
    a->over = 1; /* the budget is passed: keep nothing more */
    return ML_OK;
  }
  int d = a->weighted ? 2 : 1;
  if (a->n[c] == a->cap[c]) {
    int64_t cap = a->cap[c] ? 2 * a->cap[c] : 1024;
    if (cap > a->max) cap = a->max;
    double *v = ml_realloc(a->v[c], 8 * (uint64_t)d * (uint64_t)cap);
    if (!v) return ML_NOMEM;
    a->v[c] = v;
    a->cap[c] = cap;
  }
  double *e = a->v[c] + d * a->n[c]++;
  e[0] = score;
  if (a->weighted) e[1] = w;
  return ML_OK;
}

int ml_auc_add(ml_auc *a, double score, double y, double w) {
  if (!a->weighted) w = 1;
  if (!(w > 0)) return ML_OK;
  if (isnan(score)) {
    a->nan = 1;
    return ML_OK;
  }
  int rc = ML_OK;
  if (y > 0) rc = put(a, 1, score, w * y);
  if (!rc && y < 1) rc = put(a, 0, score, w * (1 - y));
  return rc;
}

int ml_auc_merge(ml_auc *a, const ml_auc *b) {
  a->over |= b->over;
  a->nan |= b->nan;
  int d = a->weighted ? 2 : 1, rc = ML_OK;
  for (int c = 0; c < 2 && !rc; c++)
    for (int64_t i = 0; i < b->n[c] && !rc; i++)
      rc = put(a, c, b->v[c][d * i], a->weighted ? b->v[c][d * i + 1] : 1);
  return rc;
}

/* By score, for qsort (no NaN is kept). */
static int by_score(const void *p, const void *q) {
  double x = *(const double *)p, y = *(const double *)q;
  return (x > y) - (x < y);
}

/* The weight of entry i of class c. */
static double wt(const ml_auc *a, int c, int64_t i) { return a->weighted ? a->v[c][2 * i + 1] : 1; }

/*
** Sorts both classes, then walks the positives' distinct scores in order:
** each group of positives of one score s, of weight wp, counts the weight
** of the negatives below s and half of those at s.  The area is that sum
** over the product of the classes' weights (exact for integer counts
** below 2^64, rounded once per group otherwise).
*/
double ml_auc_value(ml_auc *a) {
  if (a->over || a->nan || !a->n[0] || !a->n[1]) return NAN;
  int d = a->weighted ? 2 : 1;
  size_t size = 8 * (size_t)d;
  qsort(a->v[0], (size_t)a->n[0], size, by_score);
  qsort(a->v[1], (size_t)a->n[1], size, by_score);
  const double *neg = a->v[0], *pos = a->v[1];
  long double below = 0, area = 0, wpos = 0, wneg = 0;
  int64_t i = 0, j = 0, n1 = a->n[1], n0 = a->n[0];
  while (i < n1) {
    double s = pos[d * i];
    while (j < n0 && neg[d * j] < s) below += wt(a, 0, j++);
    long double tie = 0, wp = 0;
    for (int64_t k = j; k < n0 && neg[d * k] == s; k++) tie += wt(a, 0, k);
    for (; i < n1 && pos[d * i] == s; i++) wp += wt(a, 1, i);
    area += wp * (below + tie / 2);
    wpos += wp;
  }
  for (j = 0; j < n0; j++) wneg += wt(a, 0, j);
  return (double)(area / (wpos * wneg));
}

void ml_auc_json(ml_sb *b, ml_auc *a) {
  ml_sb_puts(b, ",\"auc\":");
  ml_sb_json_number(b, ml_auc_value(a));
  if (!a->over) return;
  ml_sb_printf(b, ",\"warnings\":[\"auc: null, the rows are more than its budget of %lld (%d "
                  "bytes each, %lld MiB): exact ranks need every row's probability in memory; "
                  "evaluate fewer rows at a time (ml_train's test metrics take option "
                  "auc_max_rows)\"]",
               (long long)a->max, ml_auc_entry_bytes(a),
               (long long)((a->max * ml_auc_entry_bytes(a)) >> 20));
}
