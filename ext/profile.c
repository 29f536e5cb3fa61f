/*
** profile.c: per-feature profiles of the training rows and their
** histograms (profile.h).
*/
#include <limits.h>
#include <math.h>
#include <string.h>

#include "profile.h"

/* exp of a histogram whose values are all one number, origin. */
#define POINT INT_MIN

ml_profile *ml_profile_new(int k, const unsigned char *is_cat) {
  ml_profile *p = ml_calloc(sizeof *p);
  if (!p) return NULL;
  p->k = k;
  p->is_cat = ml_malloc((uint64_t)k + 1);
  p->num = ml_calloc(sizeof(ml_numprof) * (uint64_t)k + 1);
  p->cat = ml_calloc(sizeof(ml_catprof) * (uint64_t)k + 1);
  if (!p->is_cat || !p->num || !p->cat) {
    ml_profile_free(p);
    return NULL;
  }
  memcpy(p->is_cat, is_cat, (size_t)k);
  for (int j = 0; j < k; j++) p->num[j].exp = POINT;
  return p;
}

void ml_profile_free(ml_profile *p) {
  if (!p) return;
  for (int j = 0; p->cat && j < p->k; j++) ml_free(p->cat[j].count);
  ml_free(p->is_cat);
  ml_free(p->num);
  ml_free(p->cat);
  ml_free(p);
}

double ml_numprof_width(const ml_numprof *s) { return s->exp == POINT ? 0 : ldexp(1, s->exp); }

/*
** The index of v's bin at width 2^e, as a double (an integer).  Where 2^-e
** is a normal double, v * 2^-e is ldexp(v, -e) exactly (the product of a
** power of two is the exact value rounded once, as ldexp's), at a
** fraction of its cost: a value's bin is found once per row and feature.
*/
static double slot(double v, int e) {
  if (e < -1023 || e > 1022) return floor(ldexp(v, -e));
  uint64_t bits = (uint64_t)(1023 - e) << 52;
  double scale;
  memcpy(&scale, &bits, sizeof scale);
  return floor(v * scale);
}

/* The least width exponent, from e up, at which [min, max] spans fewer than ML_PROF_BINS bins. */
static int fit_exp(const ml_numprof *s, int e) {
  while (slot(s->max, e) - slot(s->min, e) >= ML_PROF_BINS) e++;
  return e;
}

/* Rebins at width 2^e with the origin at min's bin: every old bin goes whole into one new. */
static void rebin(ml_numprof *s, int e) {
  int64_t old[ML_PROF_BINS];
  memcpy(old, s->bins, sizeof old);
  memset(s->bins, 0, sizeof s->bins);
  double o = slot(s->min, e);
  for (int i = 0; i < ML_PROF_BINS; i++) {
    if (!old[i]) continue;
    double left = s->exp == POINT ? s->origin : s->origin + ldexp((double)i, s->exp);
    int b = (int)(slot(left, e) - o);
    s->bins[b < 0 ? 0 : b >= ML_PROF_BINS ? ML_PROF_BINS - 1 : b] += old[i];
  }
  s->exp = e;
  s->origin = ldexp(o, e);
}

/*
** ml_numprof_add's shortcut may be taken (profile.h): the range fits the
** bins at exp from the origin, so a value inside it needs no rebin until
** min or max moves, and the origin is on the grid of the width.
*/
static int fits_now(const ml_numprof *s) {
  int e = s->exp;
  return e != POINT && e >= -1022 && e <= 1022 && slot(s->max, e) - slot(s->min, e) < ML_PROF_BINS &&
         s->min >= s->origin && slot(s->origin, e) == ldexp(s->origin, -e);
}

void ml_numprof_place(ml_numprof *s, double x) {
  if (s->n == 1) {
    s->exp = POINT;
    s->min = s->max = s->origin = x;
    s->bins[0] = 1;
    return;
  }
  /* Only a new min or max can make the bins too few (or start before the
  ** origin): the check held after the last value, or its rebin. */
  int wider = x < s->min || x > s->max;
  if (x < s->min) s->min = x;
  if (x > s->max) s->max = x;
  if (s->exp == POINT && x == s->origin) {
    s->bins[0]++;
    return;
  }
  int e = s->exp;
  if (e == POINT) e = ilogb(s->max / 2 - s->min / 2) + 1 - 7; /* span / width near 64 to 128 */
  if (s->exp == POINT ||
      (wider && (slot(s->max, e) - slot(s->min, e) >= ML_PROF_BINS || s->min < s->origin)))
    rebin(s, fit_exp(s, e));
  s->fits = fits_now(s);
  int b = (int)(slot(x, s->exp) - slot(s->origin, s->exp));
  s->bins[b < 0 ? 0 : b >= ML_PROF_BINS ? ML_PROF_BINS - 1 : b]++;
}

void ml_numprof_merge(ml_numprof *a, const ml_numprof *b) {
  int64_t nulls = a->nulls + b->nulls;
  if (b->n == 0 || a->n == 0) {
    if (a->n == 0) *a = *b;
    a->nulls = nulls;
    return;
  }
  double w = (double)a->n;
  ml_moments_merge(&w, &a->mean, &a->m2, (double)b->n, b->mean, b->m2);
  a->n += b->n;
  a->nulls = nulls;
  if (a->exp == POINT && b->exp == POINT && a->origin == b->origin) {
    a->bins[0] += b->bins[0];
    return;
  }
  /* Both at the wider width (wider still if the joint range needs it), the origin at the joint min's bin. */
  ml_numprof c = *b;
  a->min = c.min = a->min < b->min ? a->min : b->min;
  a->max = c.max = a->max > b->max ? a->max : b->max;
  int e = a->exp > c.exp ? a->exp : c.exp;
  if (e == POINT) e = ilogb(a->max / 2 - a->min / 2) + 1 - 7;
  e = fit_exp(a, e);
  rebin(a, e);
  rebin(&c, e);
  for (int i = 0; i < ML_PROF_BINS; i++) a->bins[i] += c.bins[i];
  a->fits = fits_now(a);
}

int ml_catprof_add(ml_catprof *s, int l) {
  if (l >= s->nlevels) {
    int n = l + 1 > 2 * s->nlevels ? l + 1 : 2 * s->nlevels;
    int64_t *c = ml_realloc(s->count, sizeof(int64_t) * (uint64_t)n);
    if (!c) return ML_NOMEM;
    memset(c + s->nlevels, 0, sizeof(int64_t) * (size_t)(n - s->nlevels));
    s->count = c;
    s->nlevels = n;
  }
  s->count[l]++;
  return ML_OK;
}

int ml_catprof_merge(ml_catprof *a, const ml_catprof *b) {
  a->nulls += b->nulls;
  for (int l = b->nlevels - 1; l >= 0; l--) {
    if (!b->count[l]) continue;
    if (ml_catprof_add(a, l)) return ML_NOMEM; /* grows a to hold l */
    a->count[l] += b->count[l] - 1;
  }
  return ML_OK;
}

int ml_catprof_remap(ml_catprof *s, const int *map, int n) {
  int64_t *c = ml_calloc(sizeof(int64_t) * (uint64_t)n + 1);
  if (!c) return ML_NOMEM;
  for (int i = 0; i < s->nlevels; i++)
    if (s->count[i] && map[i] >= 0 && map[i] < n) c[map[i]] += s->count[i];
  ml_free(s->count);
  s->count = c;
  s->nlevels = n;
  return ML_OK;
}

int ml_numprof_psi_bins(const ml_numprof *s, double *edges, double *share) {
  int nb = 0;
  int64_t acc = 0, done = 0;
  edges[0] = s->min;
  for (int i = 0; i < ML_PROF_BINS && s->n > 0; i++) {
    acc += s->bins[i];
    int last = done + acc == s->n;
    /* Close a bin at about each tenth of the rows, and at the last row. */
    if (acc && (last || (double)(done + acc) >= (double)s->n * (nb + 1) / ML_PROF_PSI_BINS)) {
      share[nb] = (double)acc / (double)s->n;
      done += acc;
      acc = 0;
      edges[++nb] = last ? s->max : s->origin + ldexp((double)(i + 1), s->exp);
      if (last) break;
    }
  }
  if (nb == 0) {
    share[0] = 1;
    edges[nb = 1] = s->max;
  }
  return nb;
}

double ml_psi_term(double b, double t) {
  if (b < 1e-4) b = 1e-4;
  if (t < 1e-4) t = 1e-4;
  return (b - t) * log(b / t);
}

/* ---- the section's bytes ---- */

#define NUM_BYTES (1 + 8 * 7 + 4 + 8 * ML_PROF_BINS)

uint64_t ml_profile_size(const ml_profile *p) {
  uint64_t n = 4;
  for (int j = 0; j < p->k; j++)
    n += p->is_cat[j] ? 1 + 8 + 4 + 8 * (uint64_t)p->cat[j].nlevels : NUM_BYTES;
  return n;
}

static unsigned char *put(unsigned char *o, uint64_t v, int width) {
  for (int i = 0; i < width; i++) *o++ = (unsigned char)(v >> (8 * i));
  return o;
}

static unsigned char *put_f(unsigned char *o, double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  return put(o, u, 8);
}

void ml_profile_write(const ml_profile *p, unsigned char *o) {
  o = put(o, (uint64_t)p->k, 4);
  for (int j = 0; j < p->k; j++) {
    *o++ = p->is_cat[j];
    if (p->is_cat[j]) {
      const ml_catprof *c = &p->cat[j];
      o = put(o, (uint64_t)c->nulls, 8);
      o = put(o, (uint64_t)c->nlevels, 4);
      for (int l = 0; l < c->nlevels; l++) o = put(o, (uint64_t)c->count[l], 8);
      continue;
    }
    const ml_numprof *s = &p->num[j];
    o = put(o, (uint64_t)s->n, 8);
    o = put(o, (uint64_t)s->nulls, 8);
    o = put_f(o, s->mean);
    o = put_f(o, s->m2);
    o = put_f(o, s->min);
    o = put_f(o, s->max);
    o = put(o, (uint64_t)(uint32_t)s->exp, 4);
    o = put_f(o, s->origin);
    for (int i = 0; i < ML_PROF_BINS; i++) o = put(o, (uint64_t)s->bins[i], 8);
  }
}

typedef struct rd {
  const unsigned char *z;
  uint64_t n, i;
  int bad;
} rd;

static uint64_t get(rd *r, int width) {
  if (r->n - r->i < (uint64_t)width) {
    r->bad = 1;
    return 0;
  }
  const unsigned char *z = r->z + r->i;
  r->i += (uint64_t)width;
  if (width == 8) /* most values: one load, as the compiler reads this */
    return (uint64_t)z[0] | (uint64_t)z[1] << 8 | (uint64_t)z[2] << 16 | (uint64_t)z[3] << 24 |
           (uint64_t)z[4] << 32 | (uint64_t)z[5] << 40 | (uint64_t)z[6] << 48 | (uint64_t)z[7] << 56;
  uint64_t v = 0;
  for (int i = 0; i < width; i++) v |= (uint64_t)z[i] << (8 * i);
  return v;
}

static double get_f(rd *r) {
  uint64_t u = get(r, 8);
  double d;
  memcpy(&d, &u, 8);
  return d;
}

static int read_num(rd *r, ml_numprof *s) {
  s->n = (int64_t)get(r, 8);
  s->nulls = (int64_t)get(r, 8);
  s->mean = get_f(r);
  s->m2 = get_f(r);
  s->min = get_f(r);
  s->max = get_f(r);
  s->exp = (int)(int32_t)(uint32_t)get(r, 4);
  s->origin = get_f(r);
  int64_t sum = 0;
  for (int i = 0; i < ML_PROF_BINS; i++) {
    s->bins[i] = (int64_t)get(r, 8);
    /* sum <= n throughout, so n - sum cannot overflow where sum + bin could */
    if (s->bins[i] < 0 || s->n < 0 || s->bins[i] > s->n - sum) return 1;
    sum += s->bins[i];
  }
  if (r->bad || s->n < 0 || s->nulls < 0 || sum != s->n) return 1;
  if (s->n && (!isfinite(s->mean) || !(s->m2 >= 0) || !(s->min <= s->max) ||
               !isfinite(s->min) || !isfinite(s->max) || !isfinite(s->origin)))
    return 1;
  if (s->exp != POINT && (s->exp < -1100 || s->exp > 1100)) return 1;
  s->fits = fits_now(s); /* as the profile written had it (an incremental retrain adds to it) */
  return 0;
}

static int read_cat(rd *r, ml_catprof *c, int nlevels) {
  c->nulls = (int64_t)get(r, 8);
  uint64_t n = get(r, 4);
  if (r->bad || c->nulls < 0 || n != (uint64_t)nlevels || r->n - r->i < 8 * n) return ML_EINPUT;
  c->count = ml_calloc(8 * n + 8);
  if (!c->count) return ML_NOMEM;
  c->nlevels = nlevels;
  for (int l = 0; l < nlevels; l++)
    if ((c->count[l] = (int64_t)get(r, 8)) < 0) return ML_EINPUT;
  return ML_OK;
}

int ml_profile_read(const unsigned char *z, uint64_t n, int k, const unsigned char *is_cat,
                    const int *nlevels, ml_profile **out) {
  rd r = {z, n, 0, 0};
  *out = NULL;
  if (get(&r, 4) != (uint64_t)k || r.bad) return ML_EINPUT;
  ml_profile *p = ml_profile_new(k, is_cat);
  if (!p) return ML_NOMEM;
  int rc = ML_OK;
  for (int j = 0; j < k && rc == ML_OK; j++) {
    if (get(&r, 1) != is_cat[j]) rc = ML_EINPUT;
    else if (is_cat[j]) rc = read_cat(&r, &p->cat[j], nlevels[j]);
    else if (read_num(&r, &p->num[j])) rc = ML_EINPUT;
  }
  if (rc == ML_OK && (r.bad || r.i != r.n)) rc = ML_EINPUT;
  if (rc != ML_OK) ml_profile_free(p);
  else *out = p;
  return rc;
}
