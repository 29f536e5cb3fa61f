/*
** split.c: the deterministic train/test split of a row (see split.h) and its
** scalar form:
**
**   SELECT * FROM houses WHERE ml_split_of(rowid, 0.2, 42) = 'train';
**   SELECT ml_split_of(id, 0.1, 0.1, 7);        -- 'train' | 'test' | 'valid'
**   SELECT ml_fold_of(id, 5, 42);               -- 0 .. 4, ml_train's cv fold
*/
#include <stdarg.h>
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

/* FNV-1a over v's 8 bytes, least significant first (little-endian order). */
static uint64_t fnv_u64(uint64_t h, uint64_t v) {
  for (int i = 0; i < 64; i += 8) {
    h ^= (v >> i) & 0xFF;
    h *= FNV_PRIME;
  }
  return h;
}

uint64_t ml_split_seeded(int64_t seed) {
  return fnv_u64(FNV_OFFSET, (uint64_t)seed);
}

int ml_split_u(sqlite3_value *key, int64_t seed, double *u) {
  return ml_split_u_seeded(ml_split_seeded(seed), key, u);
}

/* Folds one value's type tag and bytes into h. */
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
      /* NULL only when converting or terminating the text ran out of memory. */
      const unsigned char *z = sqlite3_value_text(key);
      if (!z) return ML_SPLIT_NOMEM;
      tag = 3;
      *h = fnv(fnv(*h, &tag, 1), z, (size_t)sqlite3_value_bytes(key));
      return 0;
    }
    case SQLITE_BLOB: {
      /* NULL for an empty blob, or when expanding a zeroblob() ran out of memory. */
      const unsigned char *z = sqlite3_value_blob(key);
      size_t n = (size_t)sqlite3_value_bytes(key);
      if (!z && n) return ML_SPLIT_NOMEM;
      tag = 4;
      *h = fnv(fnv(*h, &tag, 1), z, n);
      return 0;
    }
    default:
      return ML_SPLIT_NULL_KEY;
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

int ml_split_u_seeded(uint64_t seeded, sqlite3_value *key, double *u) {
  uint64_t h = seeded;
  int rc = fold_value(&h, key);
  if (rc == 0) *u = finish(h);
  return rc;
}

int ml_split_u_row(sqlite3_value **v, int n, int64_t seed, double *u) {
  uint64_t h = ml_split_seeded(seed);
  for (int i = 0; i < n; i++) {
    int rc = fold_value(&h, v[i]);
    if (rc) return rc;
  }
  *u = finish(h);
  return 0;
}

/* How a value reads in an error message: NULL, a blob, a number, or 'text'. */
static char *shown(sqlite3_value *v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
      return sqlite3_mprintf("NULL");
    case SQLITE_BLOB:
      return sqlite3_mprintf("a blob");
    case SQLITE_TEXT:
      return sqlite3_mprintf("%Q", sqlite3_value_text(v));
    default:
      return sqlite3_mprintf("%s", sqlite3_value_text(v));
  }
}

int ml_split_train_side(uint64_t seeded, int64_t seed, double test_size, sqlite3_value *key,
                        sqlite3_value **row, int n, int *side) {
  double u;
  *side = ML_SIDE_TRAIN;
  if (test_size <= 0) return 0;
  int rc = key ? ml_split_u_seeded(seeded, key, &u) : ml_split_u_row(row, n, seed, &u);
  if (!key && rc == ML_SPLIT_NULL_KEY) return 0; /* a NULL feature: imputed or skipped */
  if (rc) return rc;
  *side = ml_split_side(u, test_size, 0);
  return 0;
}

/* Reports "ml_split_of(): <fmt>", or out of memory. */
static void split_of_error(sqlite3_context *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ml_verror(ctx, "ml_split_of(): ", fmt, ap);
  va_end(ap);
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
  split_of_error(ctx, "%s must be a number in %s, got %z", what, open0 ? "(0, 1)" : "[0, 1)",
                 shown(v));
  return -1;
}

void ml_split_of_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  double test, valid = 0, u;
  if (fraction_arg(ctx, argv[1], "test_size", 1, &test)) return;
  if (argc == 4 && fraction_arg(ctx, argv[2], "valid_size", 0, &valid)) return;
  if (test + valid >= 1) {
    split_of_error(ctx, "test_size + valid_size must be below 1, got %z + %z", shown(argv[1]),
                   shown(argv[2]));
    return;
  }
  sqlite3_value *seedv = argv[argc - 1];
  if (sqlite3_value_type(seedv) != SQLITE_INTEGER) {
    split_of_error(ctx, "seed must be an integer, got %z", shown(seedv));
    return;
  }
  switch (ml_split_u(argv[0], sqlite3_value_int64(seedv), &u)) {
    case 0:
      sqlite3_result_text(ctx, ml_side_name[ml_split_side(u, test, valid)], -1, SQLITE_STATIC);
      break;
    case ML_SPLIT_NULL_KEY:
      split_of_error(ctx, "the key is NULL; a NULL key has no side");
      break;
    default:
      sqlite3_result_error_nomem(ctx);
  }
}

uint64_t ml_fold_seeded(int64_t seed) { return fnv_u64(ml_split_seeded(seed), ML_FOLD_SALT); }

int ml_fold_of_seeded(uint64_t seeded, sqlite3_value *key, int k, int *fold) {
  double u;
  int rc = ml_split_u_seeded(seeded, key, &u);
  if (rc == 0) {
    *fold = (int)(u * k);
    if (*fold >= k) *fold = k - 1;
  }
  return rc;
}

/* ml_fold_of(key, k, seed): the fold ml_train's option "cv": k gives the row of that key. */
void ml_fold_of_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  sqlite3_value *kv = argv[1], *seedv = argv[2];
  int fold;
  if (sqlite3_value_type(kv) != SQLITE_INTEGER || sqlite3_value_int64(kv) < 2 ||
      sqlite3_value_int64(kv) > ML_CV_MAX_FOLDS) {
    char *z = shown(kv);
    ml_error(ctx, "ml_fold_of(): k must be an integer from 2 to %d, got %s", ML_CV_MAX_FOLDS,
             z ? z : "?");
    sqlite3_free(z);
    return;
  }
  if (sqlite3_value_type(seedv) != SQLITE_INTEGER) {
    char *z = shown(seedv);
    ml_error(ctx, "ml_fold_of(): seed must be an integer, got %s", z ? z : "?");
    sqlite3_free(z);
    return;
  }
  switch (ml_fold_of_seeded(ml_fold_seeded(sqlite3_value_int64(seedv)), argv[0],
                            (int)sqlite3_value_int64(kv), &fold)) {
    case 0:
      sqlite3_result_int(ctx, fold);
      break;
    case ML_SPLIT_NULL_KEY:
      ml_error(ctx, "ml_fold_of(): the key is NULL; a NULL key has no fold");
      break;
    default:
      sqlite3_result_error_nomem(ctx);
  }
}
