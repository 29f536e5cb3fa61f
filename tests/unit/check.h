/* check.h: the unit tests' assertions: count, report, go on. */
#ifndef CHECK_H
#define CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

extern int check_failures, check_count;

#define CHECK(cond)                                                     \
  do {                                                                  \
    check_count++;                                                      \
    if (!(cond)) {                                                      \
      check_failures++;                                                 \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                   \
  } while (0)

/* |a - b| <= tol * max(1, |b|) */
#define CHECK_NEAR(a, b, tol)                                                          \
  do {                                                                                 \
    double a_ = (a), b_ = (b);                                                         \
    check_count++;                                                                     \
    if (!(fabs(a_ - b_) <= (tol) * fmax(1.0, fabs(b_)))) {                             \
      check_failures++;                                                                \
      fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.17g, expected %.17g\n", __FILE__, \
              __LINE__, #a, a_, b_);                                                   \
    }                                                                                  \
  } while (0)

void test_lsq(void);
void test_model(void);
void test_sections(void);
void test_json(void);
void test_dist(void);
void test_strbuf(void);
void test_crc32(void);
void test_profile(void);
void test_formula(void);
void test_auc(void);
void test_cv(void);
void test_sfac(void);

/* Uniform in [0, 1) by xorshift64 over *state: the tests' one random source. */
static inline double check_uniform(uint64_t *state) {
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  return (double)(*state >> 11) / 9007199254740992.0;
}

/* Fault injection: the allocation after `n` more succeed fails (-1: never). */
void mem_fail_after(long n);
/* Bytes currently allocated through mem.h. */
long mem_in_use(void);

#endif
