/*
** rowhash.h: the fingerprint of the rows a model was fitted on, so that
** ml_refine can tell the model's own rows from others.
**
** A row's hash mixes its values as the fit read them, in argument order:
** the weight (weighted fits), the response, then each feature: a number by
** its value (an integer and the equal real alike, -0 as 0), a text by its
** bytes, NULL by a mark.  A model keeps the sum of its rows' hashes mod 2^64
** with its row count (section rfpr; n is SHAP's): a sum, so no order of the
** rows changes it (GROUP BY, merges, any scan order agree), and merges add
** them.  Header only: fit.c and train.c use it.
*/
#ifndef SQLML_ROWHASH_H
#define SQLML_ROWHASH_H

#include <stdint.h>
#include <string.h>

#include "sqlml_int.h"

#define ML_ROWHASH_SEED 0x243F6A8885A308D3ull
#define ML_ROWHASH_NULL 0x13198A2E03707344ull
#define ML_ROWHASH_TEXT 0xA4093822299F31D0ull

/* One value into the running hash h: position matters, so columns cannot swap. */
static inline uint64_t ml_rowhash_mix(uint64_t h, uint64_t v) {
  h = (h ^ v) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}

static inline uint64_t ml_rowhash_num(uint64_t h, double d) {
  uint64_t u;
  d += 0.0; /* -0 reads as 0 */
  memcpy(&u, &d, 8);
  return ml_rowhash_mix(h, u);
}

/* A feature value as a fit accepts it: a number, a text (a level), NULL. */
static inline uint64_t ml_rowhash_value(uint64_t h, sqlite3_value *v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:
      return ml_rowhash_num(h, sqlite3_value_double(v));
    case SQLITE_TEXT: {
      const unsigned char *z = sqlite3_value_text(v);
      int n = sqlite3_value_bytes(v);
      uint64_t t = 0xcbf29ce484222325ull;
      for (int i = 0; z && i < n; i++) t = (t ^ z[i]) * 0x100000001b3ull;
      return ml_rowhash_mix(h, t ^ ML_ROWHASH_TEXT);
    }
    default:
      return ml_rowhash_mix(h, ML_ROWHASH_NULL);
  }
}

/* The row's hash, from the running one: a full avalanche, so sums do not cancel. */
static inline uint64_t ml_rowhash_end(uint64_t h) {
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

/* The hash of a row of k feature values v with response y and weight *w (NULL: unweighted). */
static inline uint64_t ml_rowhash(const double *w, double y, sqlite3_value **v, int k) {
  uint64_t h = ML_ROWHASH_SEED;
  if (w) h = ml_rowhash_num(h, *w);
  h = ml_rowhash_num(h, y);
  for (int j = 0; j < k; j++) h = ml_rowhash_value(h, v[j]);
  return ml_rowhash_end(h);
}

#endif
