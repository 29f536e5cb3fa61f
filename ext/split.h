/*
** split.h: the train/test/valid assignment of a row, shared by ml_split_of,
** the ml_split virtual table and ml_train.  It is a pure function of the
** row's key, the seed and the fractions, fixed forever (a test pins it):
**
**   bytes = seed as 8 bytes little-endian, then a type tag and the key:
**           1 + 8 bytes little-endian two's complement   INTEGER, and REAL
**                                                      with an integer value
**           2 + 8 bytes little-endian IEEE-754 bits      other REAL
**           3 + the UTF-8 bytes                          TEXT
**           4 + the bytes                                BLOB
**   h     = FNV-1a 64 of bytes (offset 0xcbf29ce484222325, prime 0x100000001b3)
**   h     = splitmix64's finalizer of h: h ^= h >> 30; h *= 0xbf58476d1ce4e5b9;
**           h ^= h >> 27; h *= 0x94d049bb133111eb; h ^= h >> 31
**   u     = (h >> 11) / 2^53, in [0, 1)
**   side  = test if u < test_size, else valid if u < test_size + valid_size,
**           else train
**
** A NULL key has no side: it is an error.  ml_train without a key (a view
** or a query, which have no rowid) hashes the row's values one after the
** other: seed, then tag and bytes of each value in turn.
**
** The ml_split virtual table (split_vtab.c) is a live, read-only view of a
** table or view with this side as one more column.
*/
#ifndef SQLML_SPLIT_H
#define SQLML_SPLIT_H

#include <stdint.h>

#include "sqlml_int.h"

enum { ML_SIDE_TRAIN = 0, ML_SIDE_TEST = 1, ML_SIDE_VALID = 2 };

/* The side names, indexed by ML_SIDE_*. */
extern const char *const ml_side_name[3];

/* What ml_split_u returns besides 0. */
enum { ML_SPLIT_NULL_KEY = -1, ML_SPLIT_NOMEM = -2 };

/*
** u in [0, 1) for a key value; returns 0, ML_SPLIT_NULL_KEY when the key is
** NULL, or ML_SPLIT_NOMEM when SQLite could not give the key's bytes.
*/
int ml_split_u(sqlite3_value *key, int64_t seed, double *u);

/*
** u for a row without a key: the same hash over the n values one after the
** other (each its type tag and bytes), so a row's own values are its key.
** For n = 1 it equals ml_split_u().  Returns as ml_split_u.
*/
int ml_split_u_row(sqlite3_value **v, int n, int64_t seed, double *u);

/* ml_split_u in two steps, for a scan that hashes every key with one seed:
** the hash state after the seed's bytes, then the rest. */
uint64_t ml_split_seeded(int64_t seed);
int ml_split_u_seeded(uint64_t seeded, sqlite3_value *key, double *u);

static inline int ml_split_side(double u, double test_size, double valid_size) {
  return u < test_size ? ML_SIDE_TEST : u < test_size + valid_size ? ML_SIDE_VALID : ML_SIDE_TRAIN;
}

/*
** The side ml_train gives a row under test_size: by its key (seeded is
** ml_split_seeded(seed)), or, when key is NULL (a source without a key),
** by the row's own n values (its target and features), a row with a NULL
** among them going to training.  0 with *side, ML_SPLIT_NULL_KEY for a
** NULL key, or ML_SPLIT_NOMEM.
*/
int ml_split_train_side(uint64_t seeded, int64_t seed, double test_size, sqlite3_value *key,
                        sqlite3_value **row, int n, int *side);

void ml_split_of_func(sqlite3_context *, int, sqlite3_value **);

/*
** The cross-validation fold of a key (ml_train's "cv"), 0 .. k-1: the same
** bytes as the split's u, with the salt ML_FOLD_SALT (8 bytes little-endian)
** after the seed, so a row's fold is independent of its side:
**   u    = as above over seed, salt, tag and key
**   fold = floor(u k)
** ml_fold_seeded gives the state after seed and salt; ml_fold_of_seeded
** returns as ml_split_u.
*/
#define ML_CV_MAX_FOLDS 20
#define ML_FOLD_SALT 0x646C6F662D766375ull
uint64_t ml_fold_seeded(int64_t seed);
int ml_fold_of_seeded(uint64_t seeded, sqlite3_value *key, int k, int *fold);
void ml_fold_of_func(sqlite3_context *, int, sqlite3_value **);

/* Registers the ml_split virtual table module on db. */
int ml_split_register(sqlite3 *db);

#endif
