/*
** fuzz_split.c: the arguments of the ml_split virtual table.
**
** Input: the text between the parentheses of
**   CREATE VIRTUAL TABLE s USING ml_split(<input>)
** run on a database with a rowid table, a view, a WITHOUT ROWID table, odd
** column names and an attached schema.  When the table is made, it is read
** with the plans xBestIndex knows: whole, by side, by IN list, by rowid
** and by column, and counted by side.
*/
#include "fuzz.h"

static const char *const setup =
    "CREATE TABLE t(id INTEGER PRIMARY KEY, a REAL, b TEXT, \"we\"\"ird\" TEXT, k);"
    "CREATE INDEX t_b ON t(b);"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)"
    " INSERT INTO t SELECT i, i * 0.5, 'b' || (i % 4), char(65 + i % 3), "
    "   CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN x'00ff' WHEN 2 THEN 1.5 * i ELSE i END FROM n;"
    "CREATE VIEW v AS SELECT * FROM t WHERE id % 2 = 0;"
    "CREATE TABLE w(k TEXT PRIMARY KEY, x REAL) WITHOUT ROWID;"
    "INSERT INTO w SELECT b || id, a FROM t;"
    "CREATE TABLE \"odd.name\"(rowid TEXT, oid, _rowid_, x);"
    "INSERT INTO \"odd.name\" VALUES ('r', 1, 2, 3), ('s', 4, 5, 6);";

static const char *const reads[] = {
    "SELECT * FROM s",
    "SELECT split, count(*) FROM s GROUP BY split",
    "SELECT * FROM s WHERE split = 'test'",
    "SELECT rowid, split FROM s WHERE split IN ('train', 'valid')",
    "SELECT * FROM s WHERE split != 'train' AND rowid = 3",
    "SELECT * FROM s WHERE split IS NOT NULL",
    "SELECT * FROM s WHERE id = 7",
    "SELECT b FROM s WHERE b = 'b1' AND split = 'train'",
    "SELECT count(*) FROM s a JOIN s b USING (rowid)",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 2000) return 0;
  sqlite3 *db = fuzz_open(NULL, 0);
  fuzz_exec(db, setup);
  fuzz_exec(db, "ATTACH ':memory:' AS aux; CREATE TABLE aux.t(x, y);"
                "INSERT INTO aux.t VALUES (1, 2), (3, 4);");
  char *sql = sqlite3_mprintf("CREATE VIRTUAL TABLE s USING ml_split(%.*s)", (int)size,
                              (const char *)data);
  if (!sql) fuzz_fail("out of memory", NULL);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  /* Only the one statement: the input cannot go on to a second. */
  if (rc == SQLITE_OK && st && fuzz_step_all(db, st, sql) == SQLITE_DONE) {
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) fuzz_query(db, reads[i], NULL, 0);
    fuzz_exec(db, "INSERT INTO t(a, b) VALUES (1, 'new')");
    fuzz_query(db, "SELECT count(*) FROM s", NULL, 0);
    fuzz_query(db, "DROP TABLE s", NULL, 0);
  }
  sqlite3_finalize(st);
  sqlite3_free(sql);
  sqlite3_close(db);
  return 0;
}
