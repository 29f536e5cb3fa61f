/*
** profile.h: what a model saw of each feature, taken in the training pass
** at no extra read, and how a new batch differs from it.  Free of SQLite.
**
** A numeric feature keeps its count, NULLs, mean and spread (Welford),
** minimum, maximum and a histogram of ML_PROF_BINS equal bins whose width
** is a power of two and whose edges are multiples of it: when a value falls
** outside, the width doubles (bins merge two by two, exactly) until every
** value seen fits, so the histogram holds all the rows in one pass with
** fixed memory.  A categorical feature keeps a count per level.
**
** Drift of a batch against a profile: the standardized mean difference
** (batch mean - training mean) / training sd, the ratio of sds, the share
** of values outside the training range, and the population stability index
** PSI = sum over bins (b - t) ln(b / t) of the batch's and the training's
** shares, over ML_PROF_PSI_BINS bins of about equal training mass (made by
** joining adjacent histogram bins), a batch value outside the training
** range counted in the nearest bin, an empty share taken as 1e-4.  For a
** categorical feature the bins are the levels, plus one for levels the
** training never saw; its mean and sd figures are NULL.
*/
#ifndef SQLML_PROFILE_H
#define SQLML_PROFILE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"

#define ML_PROF_BINS 64
#define ML_PROF_PSI_BINS 10
/* A feature has drifted when its PSI is above this (the usual reading:
** below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a shift). */
#define ML_PROF_DRIFT_PSI 0.25

typedef struct ml_numprof {
  int64_t n, nulls;
  double mean, m2, min, max;
  int exp;                 /* bin width 2^exp */
  int fits;                /* the range is known to fit the bins at exp: a value inside it needs
                           ** no rebin (not stored; 0 for a profile read or made) */
  double origin;           /* left edge of bin 0, a multiple of the width */
  int64_t bins[ML_PROF_BINS];
} ml_numprof;

typedef struct ml_catprof {
  int64_t nulls;
  int nlevels;             /* as the model's levels, in its order */
  int64_t *count;          /* nlevels */
} ml_catprof;

typedef struct ml_profile {
  int k;                   /* features, as the model's */
  unsigned char *is_cat;   /* k */
  ml_numprof *num;         /* k (used where numeric) */
  ml_catprof *cat;         /* k (used where categorical) */
} ml_profile;

/*
** The weighted mean and sum of squared deviations of two sets of values as
** one (Chan, Golub and LeVeque): (*w, *mean, *m2) gains (w2, mean2, m22).
*/
static inline void ml_moments_merge(double *w, double *mean, double *m2, double w2, double mean2,
                                    double m22) {
  if (w2 == 0) return;
  double t = *w + w2, d = mean2 - *mean;
  *m2 += m22 + d * d * *w * w2 / t;
  *mean += d * w2 / t;
  *w = t;
}

/* A profile of k features; is_cat[j] says which are categorical. */
ml_profile *ml_profile_new(int k, const unsigned char *is_cat);
void ml_profile_free(ml_profile *p);

/* ml_numprof_add past the moments (profile.c): any value. */
void ml_numprof_place(ml_numprof *s, double x);

/*
** A numeric value of feature j, or a NULL.  The common value, inside the
** range of the ones before at a width checked to hold it (fits), goes to
** its bin here, as ml_numprof_place would put it: floor(x / 2^exp) less the
** origin's bin, where x * 2^-exp is ldexp(x, -exp) exactly (a normal power
** of two) and origin * 2^-exp an integer (fits says so).  A value per row
** and feature: a call and ldexp would cost more than the rest of the row.
*/
static inline void ml_numprof_add(ml_numprof *s, double x) {
  s->n++;
  double d = x - s->mean;
  s->mean += d / (double)s->n;
  s->m2 += d * (x - s->mean);
  int e = s->exp;
  if (s->fits && x >= s->min && x <= s->max && e >= -1022 && e <= 1022) {
    uint64_t bits = (uint64_t)(1023 - e) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    int b = (int)(floor(x * scale) - s->origin * scale);
    s->bins[b < 0 ? 0 : b >= ML_PROF_BINS ? ML_PROF_BINS - 1 : b]++;
    return;
  }
  ml_numprof_place(s, x);
}
static inline void ml_numprof_null(ml_numprof *s) { s->nulls++; }

/*
** a gains b's values (other rows of the same feature): the moments by Chan
** et al.'s pairwise update, the histograms at the wider of the two widths
** (wider still if the joint range needs it), so each bin goes whole into
** one: the profile one pass over both sets of rows makes, up to the width
** its first values happen to choose.
*/
void ml_numprof_merge(ml_numprof *a, const ml_numprof *b);

/* Level l (0-based) of categorical feature j; the array grows as levels do.
** ML_OK or ML_NOMEM. */
int ml_catprof_add(ml_catprof *s, int l);

/* a gains b's counts (the same levels, other rows).  ML_OK or ML_NOMEM. */
int ml_catprof_merge(ml_catprof *a, const ml_catprof *b);

/*
** Levels were renumbered at the end of the fit (sorted): new index of old
** level i is map[i], n levels now.  ML_OK or ML_NOMEM.
*/
int ml_catprof_remap(ml_catprof *s, const int *map, int n);

/* The bin width. */
double ml_numprof_width(const ml_numprof *s);

/* Bins of about equal training mass: edges[0..nb] (edges[0] = min,
** edges[nb] = max), training shares share[0..nb); returns nb >= 1. */
int ml_numprof_psi_bins(const ml_numprof *s, double *edges, double *share);

/* (b - t) ln(b / t), an empty share as 1e-4. */
double ml_psi_term(double b, double t);

/* The section's bytes: size, write (to out, size bytes), read (ML_OK,
** ML_NOMEM, or ML_EINPUT when malformed; levels must equal the model's). */
uint64_t ml_profile_size(const ml_profile *p);
void ml_profile_write(const ml_profile *p, unsigned char *out);
int ml_profile_read(const unsigned char *z, uint64_t n, int k, const unsigned char *is_cat,
                    const int *nlevels, ml_profile **out);

#endif
