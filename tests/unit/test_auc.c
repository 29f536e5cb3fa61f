/* auc.c: the exact ROC AUC on cases worked by hand (ties, weights,
** proportions), its budget, a NaN score, one class, out of memory. */
#include <math.h>

#include "auc.h"
#include "check.h"
#include "mem.h"

void test_auc(void) {
  ml_auc a;
  /* Pairs (pos, neg): 0.9>0.4, 0.9>0.1, 0.4=0.4 (one half), 0.4>0.1: 3.5 of 4. */
  ml_auc_init(&a, 100, 0);
  CHECK(ml_auc_add(&a, 0.4, 0, 1) == ML_OK);
  CHECK(ml_auc_add(&a, 0.9, 1, 1) == ML_OK);
  CHECK(ml_auc_add(&a, 0.1, 0, 1) == ML_OK);
  CHECK(ml_auc_add(&a, 0.4, 1, 7) == ML_OK); /* unweighted: the weight is ignored */
  CHECK(ml_auc_value(&a) == 0.875);
  CHECK(ml_auc_entry_bytes(&a) == 8);
  /* Weighted: pos 0.5 (2); neg 0.5 (3), 0.2 (1), 0.9 (0: not kept): 2 (1 + 3/2) / (2 * 4). */
  ml_auc_reset(&a);
  ml_auc_free(&a);
  ml_auc_init(&a, 100, 1);
  CHECK(ml_auc_add(&a, 0.5, 1, 2) == ML_OK);
  CHECK(ml_auc_add(&a, 0.5, 0, 3) == ML_OK);
  CHECK(ml_auc_add(&a, 0.2, 0, 1) == ML_OK);
  CHECK(ml_auc_add(&a, 0.9, 0, 0) == ML_OK);
  CHECK(a.n[0] == 2 && a.n[1] == 1);
  CHECK(ml_auc_value(&a) == 0.625);
  CHECK(ml_auc_entry_bytes(&a) == 16);
  /* A proportion 0.5 of 2 trials at 0.7: one success and one failure there. */
  ml_auc_reset(&a);
  CHECK(ml_auc_add(&a, 0.7, 0.5, 2) == ML_OK);
  CHECK(ml_auc_add(&a, 0.1, 0, 1) == ML_OK);
  CHECK(ml_auc_value(&a) == 0.75);
  /* One class only, a NaN score: no AUC. */
  ml_auc_reset(&a);
  CHECK(ml_auc_add(&a, 0.7, 1, 1) == ML_OK);
  CHECK(isnan(ml_auc_value(&a)));
  CHECK(ml_auc_add(&a, 0.1, 0, 1) == ML_OK);
  CHECK(ml_auc_value(&a) == 1);
  CHECK(ml_auc_add(&a, NAN, 0, 1) == ML_OK);
  CHECK(isnan(ml_auc_value(&a)));
  ml_auc_free(&a);
  /* The budget: 3 entries are kept, the fourth makes the AUC NaN. */
  ml_auc_init(&a, 3, 0);
  for (int i = 0; i < 3; i++) CHECK(ml_auc_add(&a, i, i % 2, 1) == ML_OK);
  CHECK(!a.over && ml_auc_value(&a) == 0.5);
  CHECK(ml_auc_add(&a, 5, 1, 1) == ML_OK);
  CHECK(a.over && isnan(ml_auc_value(&a)) && a.n[0] + a.n[1] == 3);
  ml_auc_free(&a);
  /* Out of memory: reported, and the collector stays usable. */
  ml_auc_init(&a, 100, 0);
  mem_fail_after(0);
  CHECK(ml_auc_add(&a, 0.5, 1, 1) == ML_NOMEM);
  mem_fail_after(-1);
  CHECK(ml_auc_add(&a, 0.5, 1, 1) == ML_OK);
  ml_auc_free(&a);
}
