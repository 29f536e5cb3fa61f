/*
** fuzz_nest.c: sources that call sqlml, through views and split tables that
** may read themselves, with parameters, semicolons and comments.
**
** The input is read as a program of up to 8 statements.  A byte picks each
** statement's kind: a temp view over a source, a temp ml_split table over a
** source, a scan of one of them, or ml_train / ml_evaluate / ml_predictions
** over a source.  A source is one of the tables, views and split tables the
** program made (or will make: a view may name one that does not exist yet,
** and be redefined later), or a query text; its columns are expressions
** picked from a list that calls sqlml's readers and writers over further
** sources, names parameters, and ends in ';' or a comment.  Every statement
** must answer with a value or an error with a message (fuzz.h), and the
** process must survive: recursion through views and split tables, writes from
** a source, and ?1 in a source are what issue 12 found.
*/
#include "fuzz.h"
#include "mem.h"
#include "strbuf.h"

static unsigned char *image;
static sqlite3_int64 nimage;

static const char *const setup =
    "CREATE TABLE t(id INTEGER PRIMARY KEY, y REAL, x REAL, c TEXT);"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8)"
    " INSERT INTO t SELECT i, 1 + 2 * i + (i % 3) * 0.5, i, 'c' || (i % 2) FROM n;"
    "SELECT ml_train('m', 't', 'y', '[\"x\"]', '{\"test_size\":0}');"
    "SELECT ml_alias('m', 'prod', 1);";

/* Sources a statement can name: s picks a split table, v a view. */
static const char *const names[] = {"t", "v0", "v1", "v2", "s0", "s1", "ml_model_versions",
                                    "ml_models"};
#define NNAMES (unsigned)(sizeof names / sizeof names[0])

/* Column expressions; %s is replaced by a source's name (quoted for SQL text). */
static const char *const exprs[] = {
    "x", "y", "id", "c", "ml_drop('m') AS x", "ml_alias('m', 'prod', 1) AS x",
    "json_extract(ml_evaluate('m', '%s'), '$.n') AS x",
    "length(ml_train('m2', '%s', 'y')) AS x",
    "ml_predict('m', x) AS x",
    "ml_split_of(id, 0.5, 1) AS c",
    "?1 AS x",
    "(SELECT count(*) FROM %s) AS x",
    "(SELECT ml_fit(y, x) FROM %s) AS c",
    "(SELECT count(*) FROM ml_predictions('m', '%s')) AS x",
};
#define NEXPRS (unsigned)(sizeof exprs / sizeof exprs[0])

static const char *const endings[] = {"", ";", " -- end", ";\n/* c */", "; SELECT 1"};

typedef struct input {
  const uint8_t *z;
  size_t n, i;
} input;

static unsigned byte(input *in) { return in->i < in->n ? in->z[in->i++] : 0; }

/* SELECT <exprs> FROM <source>, with y, x, id and c always there. */
static void query(input *in, ml_sb *b) {
  ml_sb_puts(b, "SELECT id, y");
  unsigned n = byte(in) % 3;
  int has_x = 0, has_c = 0;
  for (unsigned k = 0; k < n; k++) {
    const char *e = exprs[byte(in) % NEXPRS];
    char *col = sqlite3_mprintf(e, names[byte(in) % NNAMES]);
    if (!col) fuzz_fail("out of memory", NULL);
    has_x |= strstr(col, " AS x") != NULL || strcmp(col, "x") == 0;
    has_c |= strstr(col, " AS c") != NULL || strcmp(col, "c") == 0;
    ml_sb_printf(b, ", %s", col);
    sqlite3_free(col);
  }
  if (!has_x) ml_sb_puts(b, ", x");
  if (!has_c) ml_sb_puts(b, ", c");
  ml_sb_printf(b, " FROM %s", names[byte(in) % 6]);
}

/* A source argument: a name, or a query with an ending, as SQL text. */
static void source(input *in, ml_sb *b) {
  if (byte(in) % 2) {
    ml_sb_printf(b, "'%s'", names[byte(in) % NNAMES]);
    return;
  }
  ml_sb q;
  ml_sb_init(&q);
  query(in, &q);
  ml_sb_puts(&q, endings[byte(in) % 5]);
  char *text = ml_sb_finish(&q, NULL);
  char *lit = text ? sqlite3_mprintf("%Q", text) : NULL;
  if (!lit) fuzz_fail("out of memory", NULL);
  ml_sb_puts(b, lit);
  sqlite3_free(lit);
  ml_free(text);
}

static void statement(input *in, ml_sb *b) {
  unsigned kind = byte(in) % 7, k = byte(in) % 3;
  switch (kind) {
    case 0:
      ml_sb_printf(b, "DROP VIEW IF EXISTS temp.v%u; CREATE TEMP VIEW v%u AS ", k, k);
      query(in, b);
      break;
    case 1:
      ml_sb_printf(b, "DROP TABLE IF EXISTS temp.s%u; CREATE VIRTUAL TABLE temp.s%u USING "
                      "ml_split(%s, test_size=0.5, seed=1, key=id)", k % 2, k % 2,
                   names[byte(in) % 3]);
      break;
    case 2:
      ml_sb_printf(b, "SELECT * FROM %s", names[byte(in) % NNAMES]);
      break;
    case 3:
    case 4:
      ml_sb_puts(b, "SELECT ml_train('m', ");
      source(in, b);
      ml_sb_puts(b, byte(in) % 2 ? ", 'y')" : ", 'y', '[\"x\"]', '{\"test_size\":0.5}')");
      break;
    case 5:
      ml_sb_puts(b, "SELECT ml_evaluate('m', ");
      source(in, b);
      ml_sb_puts(b, ")");
      break;
    default:
      ml_sb_puts(b, "SELECT * FROM ml_predictions('m@prod', ");
      source(in, b);
      ml_sb_puts(b, ")");
  }
}

/* Runs every statement of sql (it may hold two), checking each answer. */
static void run(sqlite3 *db, const char *sql) {
  const char *tail = sql;
  while (tail && *tail) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
    fuzz_check(db, rc, sql);
    if (rc != SQLITE_OK) return;
    if (!st) continue;
    sqlite3_bind_int(st, 1, 7);
    fuzz_step_all(db, st, sql);
    sqlite3_finalize(st);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 2000) return 0;
  sqlite3 *db = fuzz_fixture(setup, &image, &nimage);
  input in = {data, size, 0};
  for (int s = 0; s < 8 && in.i < in.n; s++) {
    ml_sb b;
    ml_sb_init(&b);
    statement(&in, &b);
    char *sql = ml_sb_finish(&b, NULL);
    if (!sql) fuzz_fail("out of memory", NULL);
    run(db, sql);
    ml_free(sql);
  }
  sqlite3_close(db);
  return 0;
}
