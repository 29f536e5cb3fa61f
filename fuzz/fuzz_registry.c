/*
** fuzz_registry.c: model BLOBs corrupted where they are stored, then used.
**
** The registry is a plain table anyone can write, so a stored model may be
** damaged on disk or by hand.  Input: edits, 5 bytes each, to the model
** column of ml_model_versions (a database holding plain, categorical with
** imputed NULLs, weighted, ridge and robust models, several versions and
** an alias):
**
**   byte 0  the row (by rank) | byte 1-2  an offset | byte 3  a value
**   byte 4  what to do: xor, set, truncate at, insert, store as text, store
**           empty, re-seal after (length and CRC made right), or change the
**           version number or an alias's version instead
**
** Then every reference is used: ml_predict, ml_predict_interval,
** ml_model_json, ml_weights, ml_evaluate, ml_merge, ml_refine, ml_compare,
** ml_feature_info, ml_drift, ml_verify, ml_promote, ml_drop, ml_alias, and
** a retrain.  Errors must be clean, and a model that still
** decodes must be usable.
*/
#include "fuzz.h"

static unsigned char *image;
static sqlite3_int64 nimage;

static const char *const setup =
    "CREATE TABLE t(id INTEGER PRIMARY KEY, y REAL, a REAL, b REAL, c TEXT, w REAL);"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30)"
    " INSERT INTO t SELECT i, 2 + 3 * i + (i % 5) * 0.5, i, (i * 7) % 11, 'c' || (i % 3), 1 + i % 2 FROM n;"
    "UPDATE t SET c = NULL WHERE id % 7 = 0;"
    "SELECT ml_train('m', 't', 'y', '[\"a\",\"b\"]', '{\"test_size\":0}');"
    "SELECT ml_train('m', 't', 'y', '[\"a\",\"b\"]', '{\"test_size\":0.2}');"
    "SELECT ml_alias('m', 'prod', 1);"
    "SELECT ml_train('cat', 't', 'y', '[\"a\",\"c\"]', '{\"test_size\":0,\"nulls\":\"mean\"}');"
    "SELECT ml_train('wt', 't', 'y', '[\"a\",\"c\"]', '{\"test_size\":0,\"weights\":\"w\"}');"
    "SELECT ml_train('ridge', 't', 'y', '[\"a\",\"b\"]', '{\"test_size\":0,\"l2\":1}');"
    "SELECT ml_train('hc', 't', 'y', '[\"a\",\"b\"]', '{\"test_size\":0,\"robust\":\"HC3\"}');";

static const char *const uses[] = {
    "SELECT ml_predict(name || '@' || version, a, b) FROM ml_model_versions, t "
    " WHERE name IN ('m', 'ridge', 'hc') AND t.id < 4",
    "SELECT ml_predict('m', a, b), ml_predict('m@prod', a, b), ml_predict('m@1', 1, 2) FROM t",
    "SELECT ml_predict('cat', a, c), ml_predict('wt', a, c), ml_predict_interval('cat', 0.9, a, c) FROM t",
    "SELECT ml_predict_interval('hc', 0.95, 1, 2), ml_predict_interval('m@2', 0.5, a, b) FROM t",
    "SELECT ml_model_json(name || '@' || version) FROM ml_model_versions",
    "SELECT ml_model_json(model, 0.9) FROM ml_model_versions",
    "SELECT * FROM ml_weights('m@prod'), ml_weights('cat'), ml_weights('hc', 0.5)",
    "SELECT ml_evaluate('m', 't'), ml_evaluate('cat@1', 'SELECT * FROM t WHERE id > 3')",
    "SELECT ml_evaluate('wt', 't', 'a')",
    "SELECT ml_model_json(ml_merge(model)) FROM ml_model_versions WHERE name = 'm'",
    "SELECT ml_merge(a.model, b.model) FROM ml_model_versions a, ml_model_versions b",
    "SELECT ml_model_json(ml_refine((SELECT model FROM ml_model_versions WHERE name = 'hc'), y, a, b)) FROM t",
    "SELECT ml_model_json(ml_refine((SELECT model FROM ml_model_versions WHERE name = 'wt'), w, y, a, c)) FROM t",
    "SELECT * FROM ml_models",
    "SELECT ml_alias('m', 'prod', 2), ml_alias('m', 'prod', NULL)",
    "SELECT ml_train('m', 't', 'y', '[\"a\",\"b\"]', '{\"test_size\":0}')",
    "SELECT ml_compare('m@1', 'm@2'), ml_compare(name || '@' || version, 'm') FROM ml_model_versions",
    "SELECT * FROM ml_feature_info('cat'), ml_drift('m', 't'), ml_drift('wt', 'SELECT * FROM t')",
    "SELECT ml_verify('m@2'), ml_verify('cat')",
    "SELECT ml_promote('m', 'prod', '{\"max_degradation\":100}'), ml_promote('m', 'dev')",
    "SELECT ml_drop('cat', 1), ml_drop('m')",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 200) return 0;
  sqlite3 *db = fuzz_fixture(setup, &image, &nimage);
  for (size_t e = 0; e + 5 <= size; e += 5) {
    const uint8_t *d = data + e;
    unsigned row = d[0] % 7, at = d[1] | (unsigned)d[2] << 8, v = d[3], op = d[4] % 10;
    sqlite3_stmt *q = NULL;
    if (op == 8 || op == 9) {
      /* Not the BLOB: the numbers that point at it. */
      const char *sql = op == 8 ? "UPDATE ml_model_versions SET version = ?2 WHERE "
                                  "(name, version) IN (SELECT name, version FROM ml_model_versions "
                                  " ORDER BY name, version LIMIT 1 OFFSET ?1)"
                                : "UPDATE ml_aliases SET version = ?2";
      if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        fuzz_fail(sql, sqlite3_errmsg(db));
      if (op == 8) sqlite3_bind_int(q, 1, (int)row);
      sqlite3_bind_int(q, op == 8 ? 2 : 1, (int)v - 8);
      fuzz_step_all(db, q, sql);
      sqlite3_finalize(q);
      continue;
    }
    if (sqlite3_prepare_v2(db, "SELECT name, version, model FROM ml_model_versions "
                               "ORDER BY name, version LIMIT 1 OFFSET ?1", -1, &q, NULL))
      fuzz_fail("select", sqlite3_errmsg(db));
    sqlite3_bind_int(q, 1, (int)row);
    if (sqlite3_step(q) != SQLITE_ROW) {
      sqlite3_finalize(q);
      continue;
    }
    size_t n = (size_t)sqlite3_column_bytes(q, 2);
    unsigned char *z = malloc(n + 2);
    if (n) memcpy(z, sqlite3_column_blob(q, 2), n);
    char *name = sqlite3_mprintf("%s", sqlite3_column_text(q, 0));
    sqlite3_int64 version = sqlite3_column_int64(q, 1);
    sqlite3_finalize(q);
    size_t off = n ? at % n : 0;
    int as_text = 0;
    switch (op) {
      case 0: if (n) z[off] ^= (unsigned char)(v ? v : 1); break;
      case 1: if (n) z[off] = (unsigned char)v; break;
      case 2: n = off; break;
      case 3:
        if (n) {
          memmove(z + off + 1, z + off, n - off);
          z[off] = (unsigned char)v;
          n++;
        }
        break;
      case 4: as_text = 1; break;
      case 5: n = 0; break;
      case 6: if (n) z[off] ^= (unsigned char)(v ? v : 1); fuzz_reseal(z, n); break;
      default: fuzz_reseal(z, n);
    }
    if (sqlite3_prepare_v2(db, "UPDATE ml_model_versions SET model = ?1 WHERE name = ?2 AND version = ?3",
                           -1, &q, NULL))
      fuzz_fail("update", sqlite3_errmsg(db));
    if (as_text) sqlite3_bind_text(q, 1, (const char *)z, (int)n, SQLITE_TRANSIENT);
    else sqlite3_bind_blob(q, 1, z, (int)n, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, version);
    fuzz_step_all(db, q, "update");
    sqlite3_finalize(q);
    sqlite3_free(name);
    free(z);
  }
  for (size_t i = 0; i < sizeof uses / sizeof uses[0]; i++) fuzz_query(db, uses[i], NULL, 0);
  fuzz_query(db, "PRAGMA integrity_check", NULL, 0);
  sqlite3_close(db);
  return 0;
}
