/* The C unit tests of the SQLite-free core: lsq, sfac, model, json, dist, strbuf, formula, auc, cv. */
#include <stdio.h>

#include "check.h"

int check_failures, check_count;

int main(void) {
  long before = mem_in_use();
  test_strbuf();
  test_crc32();
  test_json();
  test_dist();
  test_lsq();
  test_sfac();
  test_model();
  test_sections();
  test_formula();
  test_auc();
  test_profile();
  test_cv();
  CHECK(mem_in_use() == before); /* nothing leaked */
  printf("unit: %d checks, %d failed\n", check_count, check_failures);
  return check_failures != 0;
}
