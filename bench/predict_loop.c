/*
** predict_loop: the cost of one prediction per statement, as a service
** makes them, and of the first statement after opening a connection.
**
**   predict_loop DB EXT N MODE MODEL K
**
** MODE name:  SELECT ml_predict('MODEL', ?, ..., ?), prepared once, bound
**             and stepped N times in autocommit (the statement reads no table).
** MODE blob:  the same with the model's latest BLOB bound as ?1.
** MODE row:   the read transaction's floor: SELECT * FROM MODEL WHERE
**             rowid = ?1 (MODEL names a table of DB, of K columns or more),
**             a row of the first 100 by turns, prepared once, stepped N
**             times in autocommit.
** MODE first-predict / first-schema:  N times, open DB, load EXT and time
**             only the first statement: a prediction by name, or
**             SELECT count(*) FROM sqlite_schema (any statement that loads
**             the schema).
**
** Prints one JSON line: {"seconds": wall, "cpu_seconds": this thread's CPU},
** over the timed part only.
*/
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(sqlite3 *db, const char *what) {
  fprintf(stderr, "predict_loop: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
  exit(1);
}

static sqlite3 *open_db(const char *path, const char *ext) {
  sqlite3 *db;
  char *err = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) die(db, "open");
  sqlite3_enable_load_extension(db, 1);
  if (sqlite3_load_extension(db, ext, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "predict_loop: load: %s\n", err ? err : "?");
    exit(1);
  }
  return db;
}

/* "SELECT ml_predict(<first>, ?2, ..., ?K+1)" */
static char *predict_sql(const char *first, int k) {
  size_t n = strlen(first) + 64 + 8 * (size_t)k;
  char *sql = malloc(n);
  int at = snprintf(sql, n, "SELECT ml_predict(%s", first);
  for (int j = 0; j < k; j++) at += snprintf(sql + at, n - (size_t)at, ", ?%d", j + 2);
  snprintf(sql + at, n - (size_t)at, ")");
  return sql;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: predict_loop DB EXT N name|blob|row|first-predict|first-schema MODEL K\n");
    return 2;
  }
  const char *path = argv[1], *ext = argv[2], *mode = argv[4], *model = argv[5];
  long n = atol(argv[3]);
  int k = atoi(argv[6]);
  char quoted[256];
  snprintf(quoted, sizeof quoted, "'%s'", model);
  double wall = 0, cpu = 0, sum = 0;
  if (strncmp(mode, "first-", 6) == 0) {
    char *sql = strcmp(mode, "first-predict") == 0 ? predict_sql(quoted, k) : NULL;
    for (long i = 0; i < n; i++) {
      sqlite3 *db = open_db(path, ext);
      double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
      sqlite3_stmt *st;
      if (sqlite3_prepare_v2(db, sql ? sql : "SELECT count(*) FROM sqlite_schema", -1, &st, NULL))
        die(db, "prepare");
      for (int j = 0; sql && j < k; j++) sqlite3_bind_double(st, j + 2, 0.5);
      if (sqlite3_step(st) != SQLITE_ROW) die(db, "step");
      sum += sqlite3_column_double(st, 0);
      sqlite3_finalize(st);
      wall += clock_s(CLOCK_MONOTONIC) - w0;
      cpu += clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
      if (sqlite3_close(db) != SQLITE_OK) die(NULL, "close");
    }
    free(sql);
  } else {
    sqlite3 *db = open_db(path, ext);
    sqlite3_stmt *st;
    void *blob = NULL;
    int nblob = 0;
    if (strcmp(mode, "blob") == 0) {
      if (sqlite3_prepare_v2(db, "SELECT model FROM ml_model_versions WHERE name = ?1 "
                                 "ORDER BY version DESC LIMIT 1", -1, &st, NULL) ||
          (sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC), sqlite3_step(st)) != SQLITE_ROW)
        die(db, "reading the model");
      nblob = sqlite3_column_bytes(st, 0);
      blob = malloc((size_t)nblob);
      memcpy(blob, sqlite3_column_blob(st, 0), (size_t)nblob);
      sqlite3_finalize(st);
    }
    int row = strcmp(mode, "row") == 0;
    char *sql = row ? sqlite3_mprintf("SELECT * FROM \"%w\" WHERE rowid = ?1", model)
                    : predict_sql(blob ? "?1" : quoted, k);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) die(db, "prepare");
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < n; i++) {
      if (blob) sqlite3_bind_blob(st, 1, blob, nblob, SQLITE_STATIC);
      if (row) sqlite3_bind_int64(st, 1, 1 + i % 100);
      for (int j = 0; j < k && !row; j++) sqlite3_bind_double(st, j + 2, (double)((i + j) % 100) / 50 - 1);
      if (sqlite3_step(st) != SQLITE_ROW) die(db, "step");
      sum += sqlite3_column_double(st, 0);
      sqlite3_reset(st);
    }
    wall = clock_s(CLOCK_MONOTONIC) - w0;
    cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    sqlite3_finalize(st);
    if (row) sqlite3_free(sql);
    else free(sql);
    free(blob);
    if (sqlite3_close(db) != SQLITE_OK) die(NULL, "close");
  }
  printf("{\"seconds\": %.9f, \"cpu_seconds\": %.9f, \"sum\": %.17g}\n", wall, cpu, sum);
  return 0;
}
