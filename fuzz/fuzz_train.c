/*
** fuzz_train.c: ml_train's features and options.
**
** Input: a byte choosing the source and the target, then the features text
** and the options text separated by a NUL byte (a missing part is passed
** as SQL NULL when the choice byte says so, else as the empty text).
**
**   SELECT ml_train('m', <source>, <target>, <features>, <options>)
**
** on a table whose columns are numeric, text, mixed, all NULL, constant,
** weights with zeros, a text key and an 80-level category (64 level terms
** and more make a model kept with its block, sfac.h).  Whatever it
** answers, the registry stays consistent: a version that was stored
** decodes, predicts, and is the only one; a failed call stores nothing.
*/
#include "fuzz.h"

static unsigned char *image;
static sqlite3_int64 nimage;

static const char *const setup =
    "CREATE TABLE t(id INTEGER PRIMARY KEY, y REAL, a REAL, b INTEGER, c TEXT, d, "
    "  nul REAL, konst REAL, w REAL, k TEXT, many TEXT, \"q\"\"uote\" REAL);"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)"
    " INSERT INTO t SELECT i, 3 + 2 * i + (i % 7) * 0.25 + (i % 3), i * 0.5, i % 4, "
    "   'c' || (i % 3), CASE WHEN i % 9 = 0 THEN 'x' ELSE i END, NULL, 7, "
    "   (i % 5) * 0.5, 'k' || i, 'm' || (i % 80), i % 11 FROM n;"
    "UPDATE t SET y = NULL WHERE id % 13 = 0;"
    "UPDATE t SET a = NULL WHERE id % 17 = 0;"
    "CREATE VIEW v AS SELECT y, a, b, c FROM t;"
    "CREATE TABLE r(k TEXT PRIMARY KEY, y REAL, a REAL) WITHOUT ROWID;"
    "INSERT INTO r SELECT k, y, a FROM t;"
    "CREATE TABLE one(y REAL, a REAL); INSERT INTO one VALUES (1, 2);"
    "CREATE TABLE zero(y REAL, a REAL);";

static const char *const sources[] = {
    "t", "v", "r", "one", "zero", "SELECT y, a, c FROM t WHERE id > 10",
    "VALUES (1.0, 2.0), (3.0, 5.0), (4.0, 4.0)", "\"t\"", "missing",
};
static const char *const targets[] = {"y", "a", "c", "nul", "column1", "Y", "missing", ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 4000) return 0;
  if (!image) {
    sqlite3 *db = fuzz_open(NULL, 0);
    fuzz_exec(db, setup);
    image = fuzz_image(db, &nimage);
    sqlite3_close(db);
  }
  unsigned choice = data[0];
  const char *text = (const char *)data + 1;
  size_t n = size - 1, nf = 0;
  while (nf < n && text[nf]) nf++;
  const char *opts = nf < n ? text + nf + 1 : NULL;
  size_t no = opts ? n - nf - 1 : 0;

  sqlite3 *db = fuzz_open(image, nimage);
  const char *sql = "SELECT ml_train('m', ?1, ?2, ?3, ?4)";
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) fuzz_fail(sql, sqlite3_errmsg(db));
  sqlite3_bind_text(st, 1, sources[choice % 9], -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, targets[(choice / 9) % 8], -1, SQLITE_STATIC);
  if (nf || !(choice & 0x80)) sqlite3_bind_text(st, 3, text, (int)nf, SQLITE_STATIC);
  if (opts || !(choice & 0x40)) sqlite3_bind_text(st, 4, opts ? opts : "", (int)no, SQLITE_STATIC);
  int rc = fuzz_step_all(db, st, sql);
  sqlite3_finalize(st);

  /* The registry: one complete version after a success, nothing after a failure. */
  sqlite3_stmt *q = NULL;
  int versions = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM ml_model_versions", -1, &q, NULL) == SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW)
    versions = sqlite3_column_int(q, 0);
  sqlite3_finalize(q);
  if (rc == SQLITE_DONE && versions != 1) fuzz_fail("a success stored no version", NULL);
  if (rc != SQLITE_DONE && versions > 0) fuzz_fail("a failure stored a version", NULL);
  if (versions == 1) {
    fuzz_query(db, "SELECT ml_model_json('m'), * FROM ml_weights('m')", NULL, 0);
    fuzz_query(db, "SELECT ml_evaluate('m', 't')", NULL, 0);
    q = NULL;
    if (sqlite3_prepare_v2(db, "SELECT model FROM ml_model_versions", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
      sqlite3_stmt *d = NULL;
      if (sqlite3_prepare_v2(db, "SELECT ml_model_json(?1)", -1, &d, NULL) != SQLITE_OK)
        fuzz_fail("prepare", sqlite3_errmsg(db));
      sqlite3_bind_value(d, 1, sqlite3_column_value(q, 0));
      if (sqlite3_step(d) != SQLITE_ROW) fuzz_fail("a stored model does not decode", sqlite3_errmsg(db));
      sqlite3_finalize(d);
    }
    sqlite3_finalize(q);
  }
  sqlite3_close(db);
  return 0;
}
