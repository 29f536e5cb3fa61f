/*
** fuzz_sql.c: generated calls of every ml_ function, with random argument
** counts, types and values.
**
** The input is read as a program: for each of up to 6 calls, a byte picks
** the function (ml_weights as a table, aggregates over a table), a byte the
** argument count (its documented range, or anything from 0 to 8), and each
** argument is a tag byte and its payload:
**
**   NULL | small integer | any int64 | any double (NaN, Inf, subnormals)
**   | a notable double | text (any bytes, UTF-8 or not) | blob | a valid
**   model BLOB | a corrupted model BLOB (re-sealed or not) | a model
**   reference | a column | an option, feature or source text | 200 kB of
**   text | a model from a subquery
**
** (ml_compare, ml_promote, ml_verify, ml_feature_info and ml_drift among
** them) on a database with a registry (plain, categorical, weighted, ridge and
** robust models, versions and an alias).  Every call answers with a value
** or an error with a message (fuzz.h).
*/
#include <math.h>

#include "fuzz.h"
#include "mem.h"
#include "strbuf.h"

static unsigned char *image;
static sqlite3_int64 nimage;
static unsigned char *pool[8];
static int npool_bytes[8], npool;

static const char *const setup =
    "CREATE TABLE t(id INTEGER PRIMARY KEY, y REAL, a REAL, b INTEGER, c TEXT, d, nul, w REAL);"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12)"
    " INSERT INTO t SELECT i, 1 + 2 * i + (i % 3) * 0.5, i * 0.25 + (i % 4), i % 3, "
    "   'c' || (i % 3), CASE WHEN i = 5 THEN 'text' ELSE i END, NULL, i % 4 FROM n;"
    "CREATE VIEW v AS SELECT y, a, c FROM t;"
    "SELECT ml_train('m', 't', 'y', '[\"a\",\"b\"]', '{\"test_size\":0}');"
    "SELECT ml_train('m', 't', 'y', '[\"a\"]', '{\"test_size\":0.25,\"seed\":3}');"
    "SELECT ml_alias('m', 'prod', 1);"
    "SELECT ml_train('cat', 't', 'y', '[\"a\",\"c\"]', '{\"test_size\":0,\"nulls\":\"mean\"}');"
    "SELECT ml_train('wt', 't', 'y', '[\"a\",\"c\"]', '{\"test_size\":0,\"weights\":\"w\"}');"
    "SELECT ml_train('ridge', 't', 'y', '[\"a\",\"b\"]', '{\"test_size\":0,\"l2\":0.5}');"
    "SELECT ml_train('hc', 't', 'y', '[\"a\"]', '{\"test_size\":0,\"robust\":\"HC2\"}');"
    "CREATE TABLE pool AS SELECT model FROM ml_model_versions"
    " UNION ALL SELECT ml_fit(y, a, b) FROM t UNION ALL SELECT ml_fit_opts('{\"intercept\":false}', y, a) FROM t;";

enum { SCALAR, AGGREGATE, TABLE };
static const struct {
  const char *name;
  int kind, min, max;
} fns[] = {
    {"ml_version", SCALAR, 0, 0},       {"ml_fit", AGGREGATE, 2, 5},
    {"ml_fit_opts", AGGREGATE, 3, 6},   {"ml_merge", AGGREGATE, 1, 1},
    {"ml_merge", SCALAR, 2, 2},         {"ml_refine", AGGREGATE, 3, 5},
    {"ml_predict", SCALAR, 1, 4},       {"ml_predict_interval", SCALAR, 2, 5},
    {"ml_model_json", SCALAR, 1, 2},    {"ml_train", SCALAR, 3, 5},
    {"ml_evaluate", SCALAR, 2, 3},      {"ml_alias", SCALAR, 3, 3},
    {"ml_drop", SCALAR, 1, 2},          {"ml_split_of", SCALAR, 3, 4},
    {"ml_weights", TABLE, 1, 2},       {"ml_compare", SCALAR, 2, 2},
    {"ml_promote", SCALAR, 2, 3},       {"ml_verify", SCALAR, 1, 1},
    {"ml_feature_info", TABLE, 1, 1},   {"ml_drift", TABLE, 2, 2},
};
#define NFNS (int)(sizeof fns / sizeof fns[0])

static const double notable[] = {0, -0.0, 0.5, 0.2, 1, 2, 0.95, 1e308, -1e308, 5e-324, 1e-300,
                                 9007199254740993.0, 9.3e18, -9.3e18};
static const char *const refs[] = {"m", "m@1", "m@2", "m@prod", "cat", "wt@1", "ridge", "hc",
                                   "m@9", "nobody", "", "m@", "@", "m@@prod", "m@0", "M"};
static const char *const columns[] = {"y", "a", "b", "c", "d", "nul", "w", "id", "rowid"};
static const char *const texts[] = {
    "{}", "{\"intercept\":false}", "{\"weights\":true}", "{\"nulls\":\"mean\"}", "{\"l2\":0.5}",
    "{\"robust\":\"HC3\"}", "[\"a\",\"b\"]", "[\"c\"]", "*", "{\"test_size\":0}",
    "{\"categorical\":[\"b\"],\"test_size\":0}", "{\"metrics\":\"full\",\"refine\":true}", "t",
    "SELECT * FROM t", "v", "SELECT y, a FROM t WHERE id < 3", "y", "a", "prod", "1",
    "{\"nulls\":\"error\"}", "{\"unseen\":\"zero\",\"test_size\":0.5}", "DELETE FROM t", "[]",
    "{\"version\":1}", "{\"min_improvement\":0.1,\"relative\":true,\"required\":true}",
    "{\"metric\":\"r2\",\"max_degradation\":1}"};

typedef struct input {
  const uint8_t *z;
  size_t n, i;
} input;

static unsigned byte(input *in) { return in->i < in->n ? in->z[in->i++] : 0; }

static uint64_t bytes8(input *in) {
  uint64_t v = 0;
  for (int k = 0; k < 8; k++) v |= (uint64_t)byte(in) << (8 * k);
  return v;
}

/* Appends argument number *nb (a ?N or SQL text) for the tag read from in. */
static void argument(input *in, ml_sb *sql, sqlite3_value **vals, int *nb, sqlite3 *db) {
  unsigned tag = byte(in) % 15;
  sqlite3_stmt *st = NULL;
  const char *lit = NULL;
  char buf[64];
  switch (tag) {
    case 10:
      lit = columns[byte(in) % 9];
      break;
    case 14:
      lit = "(SELECT ml_fit(y, a) FROM t)";
      break;
    default:
      break;
  }
  if (lit) {
    ml_sb_puts(sql, lit);
    return;
  }
  /* Everything else is a bound value: made by a tiny SELECT ?, kept as a value. */
  if (sqlite3_prepare_v2(db, "SELECT ?1", -1, &st, NULL) != SQLITE_OK) fuzz_fail("prepare", NULL);
  switch (tag) {
    case 0:
      break;
    case 1:
      sqlite3_bind_int(st, 1, (int)byte(in) - 128);
      break;
    case 2:
      sqlite3_bind_int64(st, 1, (sqlite3_int64)bytes8(in));
      break;
    case 3: {
      uint64_t u = bytes8(in);
      double d;
      memcpy(&d, &u, 8);
      sqlite3_bind_double(st, 1, d);
      break;
    }
    case 4: {
      unsigned k = byte(in);
      double d = k < 14 ? notable[k] : k % 3 == 0 ? NAN : k % 3 == 1 ? INFINITY : -INFINITY;
      sqlite3_bind_double(st, 1, d);
      break;
    }
    case 5:
    case 6: {
      size_t len = byte(in) % 64;
      if (len > in->n - in->i) len = in->n - in->i;
      if (tag == 5) sqlite3_bind_text(st, 1, (const char *)in->z + in->i, (int)len, SQLITE_TRANSIENT);
      else sqlite3_bind_blob(st, 1, in->z + in->i, (int)len, SQLITE_TRANSIENT);
      in->i += len;
      break;
    }
    case 7:
    case 8: {
      unsigned k = byte(in) % (unsigned)npool;
      int len = npool_bytes[k];
      unsigned char *z = malloc((size_t)len);
      memcpy(z, pool[k], (size_t)len);
      if (tag == 8) {
        unsigned at = (byte(in) | byte(in) << 8) % (unsigned)len, v = byte(in);
        z[at] ^= (unsigned char)(v ? v : 1);
        if (v & 1) fuzz_reseal(z, (size_t)len);
      }
      sqlite3_bind_blob(st, 1, z, len, SQLITE_TRANSIENT);
      free(z);
      break;
    }
    case 9:
      sqlite3_bind_text(st, 1, refs[byte(in) % 16], -1, SQLITE_STATIC);
      break;
    case 11:
      sqlite3_bind_text(st, 1, texts[byte(in) % (sizeof texts / sizeof texts[0])], -1, SQLITE_STATIC);
      break;
    case 12: {
      char *big = malloc(200000);
      memset(big, 'x', 200000);
      sqlite3_bind_text(st, 1, big, 200000, SQLITE_TRANSIENT);
      free(big);
      break;
    }
    default:
      sqlite3_bind_double(st, 1, 0.9);
  }
  if (sqlite3_step(st) != SQLITE_ROW) fuzz_fail("SELECT ?1", sqlite3_errmsg(db));
  vals[*nb] = sqlite3_value_dup(sqlite3_column_value(st, 0));
  sqlite3_finalize(st);
  if (!vals[*nb]) fuzz_fail("out of memory", NULL);
  snprintf(buf, sizeof buf, "?%d", *nb + 1);
  ml_sb_puts(sql, buf);
  (*nb)++;
}

static void init(void) {
  sqlite3 *db = fuzz_open(NULL, 0);
  fuzz_exec(db, setup);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT model FROM pool", -1, &st, NULL)) fuzz_fail("pool", NULL);
  while (npool < 8 && sqlite3_step(st) == SQLITE_ROW) {
    npool_bytes[npool] = sqlite3_column_bytes(st, 0);
    pool[npool] = malloc((size_t)npool_bytes[npool]);
    memcpy(pool[npool], sqlite3_column_blob(st, 0), (size_t)npool_bytes[npool]);
    npool++;
  }
  sqlite3_finalize(st);
  fuzz_exec(db, "DROP TABLE pool");
  image = fuzz_image(db, &nimage);
  sqlite3_close(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4000) return 0;
  if (!image) init();
  sqlite3 *db = fuzz_open(image, nimage);
  input in = {data, size, 0};
  for (int call = 0; call < 6 && in.i < in.n; call++) {
    unsigned f = byte(&in) % NFNS, c = byte(&in);
    int nargs = c & 0x80 ? (int)(c % 9) : fns[f].min + (int)(c % (unsigned)(fns[f].max - fns[f].min + 1));
    ml_sb sql;
    ml_sb_init(&sql);
    sqlite3_value *vals[9];
    int nb = 0;
    ml_sb_printf(&sql, fns[f].kind == TABLE ? "SELECT * FROM %s(" : "SELECT %s(", fns[f].name);
    for (int i = 0; i < nargs; i++) {
      if (i) ml_sb_puts(&sql, ", ");
      argument(&in, &sql, vals, &nb, db);
    }
    ml_sb_puts(&sql, fns[f].kind == AGGREGATE ? ") FROM t" : ")");
    char *z = ml_sb_finish(&sql, NULL);
    if (!z) fuzz_fail("out of memory", NULL);
    fuzz_query(db, z, vals, nb);
    ml_free(z);
    for (int i = 0; i < nb; i++) sqlite3_value_free(vals[i]);
  }
  /* Whatever ran, the registry is still whole. */
  fuzz_query(db, "SELECT count(ml_model_json(model)) FROM ml_model_versions", NULL, 0);
  sqlite3_close(db);
  return 0;
}
