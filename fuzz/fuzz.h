/*
** fuzz.h: what the fuzz targets share.
**
** The targets build the extension's sources into themselves with
** -DSQLITE_CORE, so every sqlite3_* call goes straight to the system
** libsqlite3 and sqlite3_sqlml_init registers the functions on a fresh
** connection: no dlopen, one process image for the sanitizers and the
** coverage counters to see, and the same code `make` puts in dist/sqlml.so.
**
** Each target is a LLVMFuzzerTestOneInput.  `make fuzz` links it with
** libFuzzer; `make regress` links it with replay.c, a main that runs it on
** the committed corpus and on every input that once crashed it.
**
** What a target checks, beyond "no crash, no sanitizer report": SQLite's
** answers are results or errors with a message, never SQLITE_MISUSE or
** SQLITE_INTERNAL, and never sqlml's "internal error ... please report it".
*/
#ifndef SQLML_FUZZ_H
#define SQLML_FUZZ_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sqlite3_sqlml_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Progress handler calls (every 1000 VM steps) before a statement is stopped. */
#define FUZZ_STEP_LIMIT 20000

static inline int fuzz_progress(void *p) { return ++*(int *)p > FUZZ_STEP_LIMIT; }
static int fuzz_ticks;

static inline void fuzz_fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz: %s: %s\n", what, detail ? detail : "");
  abort();
}

/* A :memory: connection with sqlml registered, or the image given loaded into it. */
static inline sqlite3 *fuzz_open(const unsigned char *image, sqlite3_int64 n) {
  sqlite3 *db;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) fuzz_fail("open", sqlite3_errmsg(db));
  char *err = NULL;
  if (sqlite3_sqlml_init(db, &err, NULL) != SQLITE_OK) fuzz_fail("sqlml_init", err);
  if (image) {
    unsigned char *copy = sqlite3_malloc64((sqlite3_uint64)n);
    if (!copy) fuzz_fail("out of memory", "image");
    memcpy(copy, image, (size_t)n);
    if (sqlite3_deserialize(db, "main", copy, n, n,
                            SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE))
      fuzz_fail("deserialize", sqlite3_errmsg(db));
  }
  /* Bound what one input can cost: no statement runs for ever, no value is huge. */
  sqlite3_progress_handler(db, 1000, fuzz_progress, &fuzz_ticks);
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 4 << 20);
  return db;
}

/* Runs sql, which must succeed: the fixture a target builds. */
static inline void fuzz_exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  fuzz_ticks = 0;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) fuzz_fail(sql, err);
}

/* The database as bytes, to start each input from a copy (sqlite3_free it). */
static inline unsigned char *fuzz_image(sqlite3 *db, sqlite3_int64 *n) {
  unsigned char *z = sqlite3_serialize(db, "main", n, 0);
  if (!z) fuzz_fail("serialize", sqlite3_errmsg(db));
  return z;
}

/*
** A connection on a copy of the database that setup makes, made once and
** kept as bytes in *image: each input starts from the same fixture.
*/
static inline sqlite3 *fuzz_fixture(const char *setup, unsigned char **image, sqlite3_int64 *n) {
  if (!*image) {
    sqlite3 *db = fuzz_open(NULL, 0);
    fuzz_exec(db, setup);
    *image = fuzz_image(db, n);
    sqlite3_close(db);
  }
  return fuzz_open(*image, *n);
}

/* Is this answer acceptable?  Aborts on one that is not. */
static inline void fuzz_check(sqlite3 *db, int rc, const char *sql) {
  int code = rc & 0xff;
  if (code == SQLITE_MISUSE || code == SQLITE_INTERNAL) fuzz_fail(sqlite3_errmsg(db), sql);
  if (code == SQLITE_ERROR) {
    const char *msg = sqlite3_errmsg(db);
    if (!msg || !msg[0]) fuzz_fail("an error without a message", sql);
    /* ml_result_code()'s message for a code that should never happen (an input
    ** may echo the words, so the whole message must be that one). */
    char fname[64];
    int code2 = 0, end = 0;
    if (sscanf(msg, "%63[a-z_](): internal error %d (please report it)%n", fname, &code2, &end) == 2 &&
        end > 0 && msg[end] == 0)
      fuzz_fail(msg, sql);
  }
}

/* Steps st to the end (at most 1000 rows), reading every column; the final code. */
static inline int fuzz_step_all(sqlite3 *db, sqlite3_stmt *st, const char *sql) {
  int rc, rows = 0;
  fuzz_ticks = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && ++rows < 1000) {
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      if (sqlite3_column_type(st, i) == SQLITE_TEXT) {
        const unsigned char *z = sqlite3_column_text(st, i);
        int n = sqlite3_column_bytes(st, i);
        if (z && (int)strlen((const char *)z) > n) fuzz_fail("text longer than its length", sql);
      }
    }
  }
  if (rc == SQLITE_ROW) rc = SQLITE_DONE;
  fuzz_check(db, rc, sql);
  sqlite3_reset(st);
  return rc;
}

/* Prepares and runs sql with the values bound in order; the final code. */
static inline int fuzz_query(sqlite3 *db, const char *sql, sqlite3_value **vals, int n) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  fuzz_check(db, rc, sql);
  if (rc != SQLITE_OK) return rc;
  for (int i = 0; i < n && i < sqlite3_bind_parameter_count(st); i++)
    sqlite3_bind_value(st, i + 1, vals[i]);
  rc = fuzz_step_all(db, st, sql);
  sqlite3_finalize(st);
  return rc;
}

/* CRC-32 (IEEE) as the model BLOB's trailer has it. */
static inline uint32_t fuzz_crc32(const unsigned char *z, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= z[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return c ^ 0xFFFFFFFFu;
}

/*
** Makes a model BLOB's length field and checksum agree with its bytes, so
** the decoder's checks behind them run.  Needs 16 bytes or more.
*/
static inline void fuzz_reseal(unsigned char *z, size_t n) {
  if (n < 16) return;
  for (int i = 0; i < 4; i++) z[8 + i] = (unsigned char)((uint64_t)n >> (8 * i));
  uint32_t c = fuzz_crc32(z, n - 4);
  for (int i = 0; i < 4; i++) z[n - 4 + i] = (unsigned char)(c >> (8 * i));
}

#endif
