/*
** split.c: the deterministic train/test split of a row (see split.h) and its
** scalar form:
**
**   SELECT * FROM houses WHERE ml_split_of(rowid, 0.2, 42) = 'train';
**   SELECT ml_split_of(id, 0.1, 0.1, 7);        -- 'train' | 'test' | 'valid'
*/
#include <string.h>

#include "split.h"

const char *const ml_side_name[3] = {"train", "test", "valid"};

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv(uint64_t h, const unsigned char *z, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= z[i];
    h *= FNV_PRIME;
  }
  return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
  return fnv(h, b, 8);
}

/* Folds one value's tag and bytes into h; -1 for NULL. */
static int fold_value(uint64_t *h, sqlite3_value *key) {
  unsigned char tag;
  switch (sqlite3_value_type(key)) {
    case SQLITE_INTEGER:
      tag = 1;
      *h = fnv_u64(fnv(*h, &tag, 1), (uint64_t)sqlite3_value_int64(key));
      return 0;
    case SQLITE_FLOAT: {
      double d = sqlite3_value_double(key);
      /* 5.0 and 5 are the same key to SQL, so they get the same side. */
      if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == (double)(int64_t)d) {
        tag = 1;
        *h = fnv_u64(fnv(*h, &tag, 1), (uint64_t)(int64_t)d);
      } else {
        uint64_t bits;
        memcpy(&bits, &d, 8);
        tag = 2;
        *h = fnv_u64(fnv(*h, &tag, 1), bits);
      }
      return 0;
    }
    case SQLITE_TEXT: {
      const unsigned char *z = sqlite3_value_text(key);
      tag = 3;
      *h = fnv(fnv(*h, &tag, 1), z, (size_t)sqlite3_value_bytes(key));
      return 0;
    }
    case SQLITE_BLOB: {
      const unsigned char *z = sqlite3_value_blob(key);
      tag = 4;
      *h = fnv(*h, &tag, 1);
      if (z) *h = fnv(*h, z, (size_t)sqlite3_value_bytes(key));
      return 0;
    }
    default:
      return -1;
  }
}

static double finish(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

int ml_split_u(sqlite3_value *key, int64_t seed, double *u) {
  return ml_split_u_row(&key, 1, seed, u);
}

int ml_split_u_row(sqlite3_value **v, int n, int64_t seed, double *u) {
  uint64_t h = fnv_u64(FNV_OFFSET, (uint64_t)seed);
  for (int i = 0; i < n; i++)
    if (fold_value(&h, v[i])) return -1;
  *u = finish(h);
  return 0;
}

/* A fraction argument: in (0, 1) when open0, else in [0, 1); -1 after reporting. */
static int fraction_arg(sqlite3_context *ctx, sqlite3_value *v, const char *what, int open0,
                        double *out) {
  int t = sqlite3_value_type(v);
  double d = sqlite3_value_double(v);
  if ((t == SQLITE_INTEGER || t == SQLITE_FLOAT) && d < 1 && (open0 ? d > 0 : d >= 0)) {
    *out = d;
    return 0;
  }
  char *msg = sqlite3_mprintf("ml_split_of(): %s must be a number in %s, got %s", what,
                              open0 ? "(0, 1)" : "[0, 1)",
                              t == SQLITE_NULL ? "NULL" : t == SQLITE_BLOB ? "a blob"
                                                        : (const char *)sqlite3_value_text(v));
  sqlite3_result_error(ctx, msg ? msg : "out of memory", -1);
  sqlite3_free(msg);
  return -1;
}

void ml_split_of_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  double test, valid = 0, u;
  if (fraction_arg(ctx, argv[1], "test_size", 1, &test)) return;
  if (argc == 4 && fraction_arg(ctx, argv[2], "valid_size", 0, &valid)) return;
  if (test + valid >= 1) {
    sqlite3_result_error(ctx, "ml_split_of(): test_size + valid_size must be below 1", -1);
    return;
  }
  sqlite3_value *seedv = argv[argc - 1];
  if (sqlite3_value_type(seedv) != SQLITE_INTEGER) {
    sqlite3_result_error(ctx, "ml_split_of(): seed must be an integer", -1);
    return;
  }
  if (ml_split_u(argv[0], sqlite3_value_int64(seedv), &u)) {
    sqlite3_result_error(ctx, "ml_split_of(): the key is NULL; a NULL key has no side", -1);
    return;
  }
  sqlite3_result_text(ctx, ml_side_name[ml_split_side(u, test, valid)], -1, SQLITE_STATIC);
}
