/*
** auc.h: ROC AUC, exact, by ranks, free of SQLite.
**
** The area under the ROC curve is the probability that a positive row
** scores above a negative one, ties counting one half: the Mann-Whitney
** statistic, with midranks for ties, as scikit-learn's roc_auc_score, and
** with weights as its sample_weight (each pair of a positive and a negative
** row counts w_pos w_neg).  A row whose label is a proportion y in [0, 1]
** (a binomial proportion of w trials) counts w y as positive and w (1 - y)
** as negative, as its trials would one by one.
**
** Exact ranks need every score: the collector keeps each row's score (8
** bytes), and its weight when weighted (8 more), in one array per class,
** then sorts both and merges them.  A row of a proportion is kept in both.
** At most max entries are kept (ML_AUC_MAX_ROWS by default: 64 MiB weighted,
** 32 MiB not); past that the collector stops keeping and the AUC is NaN,
** never an estimate.
*/
#ifndef SQLML_AUC_H
#define SQLML_AUC_H

#include <stdint.h>

#include "strbuf.h"

/* The default budget, in entries: 2^22, 64 MiB of (score, weight) pairs. */
#define ML_AUC_MAX_ROWS 4194304

typedef struct ml_auc {
  int64_t max;       /* the budget in entries, both classes together */
  int weighted;      /* entries are (score, weight) pairs */
  int over;          /* the budget was passed: the AUC is NaN */
  int nan;           /* a score was NaN: the AUC is NaN */
  int64_t n[2];      /* entries of class 0 (negative) and 1 (positive) */
  int64_t cap[2];    /* their room, in entries */
  double *v[2];      /* scores, or (score, weight) pairs when weighted */
} ml_auc;

void ml_auc_init(ml_auc *a, int64_t max, int weighted);
/* Forgets the entries, keeps the memory (for another pass). */
void ml_auc_reset(ml_auc *a);
void ml_auc_free(ml_auc *a);
/* A row: its score, its label y in [0, 1], its weight (ignored unless
** weighted; rows of weight 0 are not kept).  ML_OK or ML_NOMEM. */
int ml_auc_add(ml_auc *a, double score, double y, double w);
/* a gains b's entries (other rows, the same budget and weighting): ML_OK or ML_NOMEM. */
int ml_auc_merge(ml_auc *a, const ml_auc *b);
/* The AUC of the rows so far (sorts the entries); NaN past the budget,
** with a NaN score, or without both classes. */
double ml_auc_value(ml_auc *a);
/* Bytes per entry: 8, or 16 when weighted. */
int ml_auc_entry_bytes(const ml_auc *a);
/* For ml_evaluate's JSON: ,"auc":value (ml_auc_value; null for NaN), and
** past the budget ,"warnings":["..."] saying so. */
void ml_auc_json(ml_sb *b, ml_auc *a);

#endif
