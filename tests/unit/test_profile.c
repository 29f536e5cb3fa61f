/*
** test_profile.c: the training profile's histogram (profile.c).  Whatever
** the order values arrive in, the bins equal a direct count of every value
** at the final width and origin; they hold every row; the PSI bins split
** the rows near tenths; the section's bytes read back, and malformed bytes
** are refused.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/profile.h"
#include "check.h"

static uint64_t rng_state = 88172645463325252ull;

static double uniform(void) { return check_uniform(&rng_state); }

/* Bins recounted directly at s's final width and origin. */
static int direct_matches(const ml_numprof *s, const double *x, int n) {
  int64_t bins[ML_PROF_BINS] = {0};
  double w = ml_numprof_width(s);
  for (int i = 0; i < n; i++) {
    int b = w > 0 ? (int)floor((x[i] - s->origin) / w) : 0;
    if (b < 0 || b >= ML_PROF_BINS) return 0;
    bins[b]++;
  }
  return memcmp(bins, s->bins, sizeof bins) == 0;
}

static void one_series(const double *x, int n) {
  ml_numprof s;
  memset(&s, 0, sizeof s);
  unsigned char cat = 0;
  ml_profile *p = ml_profile_new(1, &cat);
  CHECK(p != NULL);
  if (!p) return;
  for (int i = 0; i < n; i++) ml_numprof_add(&p->num[0], x[i]);
  s = p->num[0];
  CHECK(direct_matches(&s, x, n));
  double lo = x[0], hi = x[0], sum = 0;
  for (int i = 0; i < n; i++) {
    lo = fmin(lo, x[i]);
    hi = fmax(hi, x[i]);
    sum += x[i];
  }
  CHECK(s.n == n && s.min == lo && s.max == hi);
  CHECK_NEAR(s.mean, sum / n, 1e-12);
  double edges[ML_PROF_PSI_BINS + 1], share[ML_PROF_PSI_BINS];
  int nb = ml_numprof_psi_bins(&s, edges, share);
  double tot = 0;
  for (int b = 0; b < nb; b++) tot += share[b];
  CHECK(nb >= 1 && nb <= ML_PROF_PSI_BINS && edges[0] == lo && edges[nb] == hi);
  CHECK_NEAR(tot, 1, 1e-12);
  /* The bytes read back the same; a byte less, or a count changed, is refused. */
  uint64_t size = ml_profile_size(p);
  unsigned char *z = malloc(size);
  ml_profile_write(p, z);
  ml_profile *q = NULL;
  int nl = 0;
  CHECK(ml_profile_read(z, size, 1, &cat, &nl, &q) == ML_OK && q &&
        memcmp(&q->num[0], &p->num[0], sizeof(ml_numprof)) == 0);
  ml_profile_free(q);
  CHECK(ml_profile_read(z, size - 1, 1, &cat, &nl, &q) == ML_EINPUT && !q);
  z[size - 1] ^= 1; /* the last bin's count: the bins no longer sum to n */
  CHECK(ml_profile_read(z, size, 1, &cat, &nl, &q) == ML_EINPUT && !q);
  free(z);
  ml_profile_free(p);
}

void test_profile(void) {
  enum { N = 5000 };
  static double x[N];
  /* Spread, narrow, one value, two values, growing, shrinking, huge, tiny, negative. */
  for (int i = 0; i < N; i++) x[i] = 1000 * uniform() - 200;
  one_series(x, N);
  for (int i = 0; i < N; i++) x[i] = 1 + 1e-12 * uniform();
  one_series(x, N);
  for (int i = 0; i < N; i++) x[i] = 3.5;
  one_series(x, N);
  for (int i = 0; i < N; i++) x[i] = i % 2 ? 7 : -7;
  one_series(x, N);
  for (int i = 0; i < N; i++) x[i] = i * 1.5;
  one_series(x, N);
  for (int i = 0; i < N; i++) x[i] = -i * 3.25;
  one_series(x, N);
  for (int i = 0; i < N; i++) x[i] = (uniform() - 0.5) * 1e300;
  one_series(x, N);
  for (int i = 0; i < N; i++) x[i] = uniform() * 1e-300;
  one_series(x, N);
  for (int i = 0; i < N; i++) x[i] = exp(10 * uniform());
  one_series(x, N);
  one_series(x, 1);
  /* Categorical counts grow with levels and follow a renumbering. */
  unsigned char cat = 1;
  ml_profile *p = ml_profile_new(1, &cat);
  for (int i = 0; i < 100; i++) CHECK(ml_catprof_add(&p->cat[0], i % 7) == ML_OK);
  int map[7] = {6, 5, 4, 3, 2, 1, 0};
  CHECK(ml_catprof_remap(&p->cat[0], map, 7) == ML_OK);
  CHECK(p->cat[0].nlevels == 7 && p->cat[0].count[6] == 15 && p->cat[0].count[0] == 14);
  int nl = 7;
  uint64_t size = ml_profile_size(p);
  unsigned char *z = malloc(size);
  ml_profile_write(p, z);
  ml_profile *q = NULL;
  CHECK(ml_profile_read(z, size, 1, &cat, &nl, &q) == ML_OK && q && q->cat[0].count[6] == 15);
  ml_profile_free(q);
  nl = 6; /* not the model's levels */
  CHECK(ml_profile_read(z, size, 1, &cat, &nl, &q) == ML_EINPUT && !q);
  free(z);
  ml_profile_free(p);
  CHECK_NEAR(ml_psi_term(0.2, 0.1), 0.1 * log(2.0), 1e-15);
  CHECK_NEAR(ml_psi_term(0, 0.1), (1e-4 - 0.1) * log(1e-4 / 0.1), 1e-15);
}
