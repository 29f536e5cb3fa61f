/*
** fuzz_model.c: the model BLOB decoder, and what runs on a decoded model.
**
** Input: one byte of mode, then the BLOB.  Mode bit 0 re-seals the BLOB
** (length field and CRC-32 made right), so most inputs get past the checksum
** to the checks behind it.  A BLOB that decodes must then: encode to bytes
** that decode and encode to the same bytes; give its JSON, term names and
** interval factor; and go through ml_predict, ml_predict_interval,
** ml_model_json, ml_weights, ml_merge and ml_refine in SQL, with feature
** values chosen by the other mode bits (numbers, NULL, a known level, an
** unseen level, text, a blob).
*/
#include "fuzz.h"
#include "model.h"
#include "strbuf.h"

static sqlite3 *db;

/* The SQL value argument j gets, by mode: a number, NULL, a level, text or a blob. */
static void bind_feature(sqlite3_stmt *st, int at, const ml_model *m, int j, unsigned mode) {
  const ml_feature *f = &m->feat[j];
  switch ((mode >> (1 + (j % 3) * 2)) & 7) {
    case 0:
    case 1:
      sqlite3_bind_double(st, at, 1.5 + j);
      break;
    case 2:
      sqlite3_bind_null(st, at);
      break;
    case 3:
      if (f->nlevels) sqlite3_bind_text(st, at, f->levels[f->nlevels - 1], -1, SQLITE_STATIC);
      else sqlite3_bind_int(st, at, j);
      break;
    case 4:
      sqlite3_bind_text(st, at, "never seen", -1, SQLITE_STATIC);
      break;
    case 5:
      sqlite3_bind_blob(st, at, "\x01\x02", 2, SQLITE_STATIC);
      break;
    default:
      sqlite3_bind_double(st, at, -1e300);
  }
}

static void run_sql(const unsigned char *blob, size_t n, const ml_model *m, unsigned mode) {
  if (m->k > 60) return; /* SQLite takes at most 127 arguments */
  char sql[1024];
  ml_sb b;
  const char *heads[] = {"SELECT ml_predict(?1", "SELECT ml_predict_interval(?1, 0.9",
                         "SELECT ml_refine(?1, 2.5"};
  for (int h = 0; h < 3; h++) {
    ml_sb_init(&b);
    ml_sb_puts(&b, heads[h]);
    int first = h == 2 && (m->flags & ML_MODEL_WEIGHTED) ? 1 : 0; /* a weighted model's refine takes a weight */
    if (first) ml_sb_puts(&b, ", 1");
    for (int j = 0; j < m->k; j++) ml_sb_printf(&b, ", ?%d", j + 2);
    ml_sb_puts(&b, ")");
    char *z = ml_sb_finish(&b, NULL);
    if (!z) return;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, z, -1, &st, NULL);
    fuzz_check(db, rc, z);
    if (rc == SQLITE_OK) {
      sqlite3_bind_blob(st, 1, blob, (int)n, SQLITE_STATIC);
      for (int j = 0; j < m->k; j++) bind_feature(st, j + 2, m, j, mode);
      fuzz_step_all(db, st, z);
      sqlite3_finalize(st);
    }
    ml_free(z);
  }
  static const char *const others[] = {
      "SELECT ml_model_json(?1)",
      "SELECT ml_model_json(?1, 0.5)",
      "SELECT * FROM ml_weights(?1, 0.99)",
      "SELECT ml_model_json(ml_merge(?1, ?1))",
      "SELECT ml_model_json(ml_merge(m)) FROM (SELECT ?1 AS m UNION ALL SELECT ?1)",
  };
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    snprintf(sql, sizeof sql, "%s", others[i]);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    fuzz_check(db, rc, sql);
    if (rc != SQLITE_OK) continue;
    sqlite3_bind_blob(st, 1, blob, (int)n, SQLITE_STATIC);
    fuzz_step_all(db, st, sql);
    sqlite3_finalize(st);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (!db) db = fuzz_open(NULL, 0);
  unsigned mode = data[0];
  size_t n = size - 1;
  unsigned char *z = malloc(n ? n : 1);
  memcpy(z, data + 1, n);
  if (mode & 1) fuzz_reseal(z, n);

  ml_model *m = NULL;
  char err[200] = "";
  int rc = ml_model_decode(z, (int64_t)n, &m, err, sizeof err);
  if (rc != ML_OK && rc != ML_EINPUT && rc != ML_NOMEM) fuzz_fail("decode: bad result code", err);
  if (rc == ML_EINPUT && !err[0]) fuzz_fail("decode: an error without a message", NULL);
  if (rc == ML_OK) {
    /* Encoding is canonical: what decodes re-encodes to a fixed point. */
    unsigned char *e1 = NULL, *e2 = NULL;
    int64_t n1, n2;
    ml_model *m2 = NULL;
    if (ml_model_encode(m, m->version, &e1, &n1) == ML_OK) {
      if (ml_model_decode(e1, n1, &m2, err, sizeof err) != ML_OK) fuzz_fail("re-decode", err);
      if (ml_model_encode(m2, m2->version, &e2, &n2) == ML_OK &&
          (n1 != n2 || memcmp(e1, e2, (size_t)n1) != 0))
        fuzz_fail("encoding is not a fixed point", NULL);
    }
    ml_free(e1);
    ml_free(e2);
    ml_model_free(m2);

    char *json = NULL;
    size_t len;
    if (ml_model_json(m, 0.95, &json, &len) == ML_OK && strlen(json) != len)
      fuzz_fail("JSON length", NULL);
    ml_free(json);
    for (int j = 0; j < m->p; j++) {
      char *t = NULL;
      ml_model_term_name(m, j, &t);
      ml_free(t);
    }
    ml_model_prepare_intervals(m);
    run_sql(z, n, m, mode);
  }
  ml_model_free(m);
  free(z);
  return 0;
}
