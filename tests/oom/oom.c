/*
** oom.c: out-of-memory at every allocation, as SQLite tests itself.
**
** SQLite's allocator is replaced (sqlite3_config(SQLITE_CONFIG_MALLOC),
** before sqlite3_initialize) by one that fails on request: the Nth
** allocation from now fails, and with --persistent every one after it too.
** sqlml is built in (-DSQLITE_CORE) and registered on each connection, so
** its allocations and SQLite's own go through the same countdown.
**
** For each scenario (fit, fit with options, merge, refine, train, predict,
** evaluate, split, predictions, sources, alias and drop), N = 0, 1, 2, ...
** until a run completes with no failure injected; each run on a fresh
** connection:
**
**   - the fixture is built with the allocator working (copied, by the
**     backup API, from the scenario's first one unless its setup ATTACHes);
**   - the countdown is armed and the scenario's statements run;
**   - the answer must be the right one (the output of a run without
**     failures), or SQLITE_NOMEM, or an error with a message: never a crash
**     and never a wrong or silently NULL result;
**   - the registry (ml_model_versions, ml_aliases, the schema) must then
**     equal what it was before the statement that failed, if one did, and what a
**     run without failures leaves if they succeeded;
**   - after sqlite3_close, the memory in use must be what it was before the
**     connection opened: nothing leaked (and under `make asan`,
**     LeakSanitizer looks too).
**
**   build/oom/oom [--persistent] [--stride K] [scenario ...]
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sqlite3_sqlml_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

/* ---- the failing allocator ---- */

static sqlite3_mem_methods base;
static long countdown = -1; /* allocations left before one fails; -1: none fails */
static int persistent;      /* once one fails, every one after it fails too */
static long injected;       /* failures injected since armed */

static int fail_now(void) {
  if (countdown < 0) return 0;
  if (countdown > 0) {
    countdown--;
    return 0;
  }
  injected++;
  if (!persistent) countdown = -1;
  return 1;
}

static void *fail_malloc(int n) { return fail_now() ? NULL : base.xMalloc(n); }
static void *fail_realloc(void *p, int n) { return fail_now() ? NULL : base.xRealloc(p, n); }

static void arm(long n) {
  injected = 0;
  countdown = n;
}

static void disarm(void) { countdown = -1; }

/* ---- running SQL ---- */

typedef struct text {
  char *z;
  size_t n, cap;
} text;

static void put(text *t, const char *z) {
  size_t k = strlen(z);
  if (t->n + k + 1 > t->cap) {
    t->cap = (t->n + k + 1) * 2;
    t->z = realloc(t->z, t->cap);
    if (!t->z) abort();
  }
  memcpy(t->z + t->n, z, k + 1);
  t->n += k;
}

/*
** Runs the statements of sql in order, appending every value to out (when
** not NULL); stops at the first error.  Returns the SQLite code, with the
** error message in msg.
*/
static void registry(sqlite3 *db, text *out);

static int run_snap(sqlite3 *db, const char *sql, text *out, char *msg, size_t nmsg, text *snap) {
  msg[0] = 0;
  const char *tail = sql;
  while (tail && *tail) {
    sqlite3_stmt *st = NULL;
    if (snap) {
      /* What the registry was before this statement, read with the allocator working. */
      long saved = countdown;
      countdown = -1;
      snap->n = 0;
      registry(db, snap);
      countdown = saved;
    }
    int rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
    if (rc != SQLITE_OK) {
      snprintf(msg, nmsg, "%s", sqlite3_errmsg(db));
      return rc;
    }
    if (!st) break;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      for (int i = 0; out && i < sqlite3_column_count(st); i++) {
        /* A text result as its bytes: sqlite3_column_text would copy it to add
        ** a terminator, and that copy could fail after the statement did not. */
        int type = sqlite3_column_type(st, i);
        char num[40];
        if (type == SQLITE_INTEGER) snprintf(num, sizeof num, "%lld", sqlite3_column_int64(st, i));
        if (type == SQLITE_FLOAT) snprintf(num, sizeof num, "%.17g", sqlite3_column_double(st, i));
        const char *v = type == SQLITE_NULL ? "NULL" : type == SQLITE_INTEGER || type == SQLITE_FLOAT
                        ? num : sqlite3_column_blob(st, i);
        int nv = type == SQLITE_TEXT || type == SQLITE_BLOB ? sqlite3_column_bytes(st, i) : (int)strlen(v);
        char *copy = malloc((size_t)nv + 1);
        memcpy(copy, v ? v : "", (size_t)nv);
        copy[nv] = 0;
        /* ml_train says when it ran: the time of day is no part of the answer. */
        char *at = strstr(copy, "\"created_at\":\"");
        if (at) memset(at + 14, 'T', strlen(at + 14) >= 20 ? 20 : strlen(at + 14));
        put(out, copy);
        put(out, "|");
        free(copy);
      }
      if (out) put(out, "\n");
      if (rc != SQLITE_ROW) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      snprintf(msg, nmsg, "%s", sqlite3_errmsg(db));
      sqlite3_finalize(st);
      return rc;
    }
    rc = sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
      snprintf(msg, nmsg, "%s", sqlite3_errmsg(db));
      return rc;
    }
  }
  return SQLITE_OK;
}

static int run(sqlite3 *db, const char *sql, text *out, char *msg, size_t nmsg) {
  return run_snap(db, sql, out, msg, nmsg, NULL);
}

/* The registry and the schema, as text: what a failure must leave alone. */
static void registry(sqlite3 *db, text *out) {
  char msg[256];
  /* Not the registry's own objects: each is made by a statement of its own,
  ** and a failure may leave some made (registry.c), which is no change to
  ** what the registry holds. */
  run(db, "SELECT type, name, sql FROM sqlite_schema WHERE name NOT IN ('ml_model_versions', "
          "'ml_aliases', 'ml_model_versions_drop', 'ml_models', 'ml_alias_history', "
          "'ml_alias_history_move', 'ml_alias_history_keep', 'ml_alias_history_kept') ORDER BY name",
      out, msg, sizeof msg);
  /* Everything but created_at, which is the time of day. */
  static const char *const tables[][2] = {
      {"ml_model_versions",
       "SELECT name, version, kind, source, target, features, options, n_train, n_test, "
       "n_skipped, metrics, data_hash, sqlml_version, hex(model) FROM ml_model_versions "
       "ORDER BY name, version"},
      {"ml_aliases", "SELECT * FROM ml_aliases ORDER BY name, alias"},
      {"ml_alias_history", "SELECT seq, name, alias, from_version, to_version, moved_by, figures "
                           "FROM ml_alias_history ORDER BY seq"}};
  for (int i = 0; i < 3; i++) {
    int exists = sqlite3_table_column_metadata(db, "main", tables[i][0], NULL, NULL, NULL, NULL,
                                               NULL, NULL) == SQLITE_OK;
    if (exists && run(db, tables[i][1], out, msg, sizeof msg) != SQLITE_OK) {
      fprintf(stderr, "oom: cannot read the registry: %s\n", msg);
      exit(2);
    }
  }
}

/* ---- scenarios ---- */

static const char *const data =
    "CREATE TABLE t(id INTEGER PRIMARY KEY, y REAL, a REAL, b REAL, c TEXT, w REAL, g INT);"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)"
    " INSERT INTO t SELECT i, 3 + 2 * (i % 17) - 0.5 * (i % 5) + (i % 3) * 0.25 + (i % 7) * 0.01,"
    "   i % 17, i % 5, 'c' || (i % 4), 1 + i % 3, i % 2 FROM n;"
    "UPDATE t SET a = NULL WHERE id % 37 = 0;"
    "UPDATE t SET c = NULL WHERE id % 41 = 0;";

static const char *const trained =
    "SELECT ml_train('m', 't', 'y', '[\"a\",\"b\",\"c\"]', '{\"test_size\":0.2,\"seed\":1}');"
    "SELECT ml_train('m', 't', 'y', '[\"a\",\"b\",\"c\"]', '{\"test_size\":0,\"nulls\":\"mean\"}');"
    "SELECT ml_alias('m', 'prod', 1);"
    "CREATE TABLE blobs AS SELECT ml_fit(y, a, b) AS m FROM t;";

static const struct scenario {
  const char *name;
  const char *setup; /* after data */
  const char *sql;   /* what runs with the countdown armed */
} scenarios[] = {
    {"fit", "", "SELECT hex(ml_fit(y, a, b)) FROM t; SELECT hex(ml_fit(y, a)) FROM t GROUP BY g"},
    {"fit_opts", "",
     "SELECT hex(ml_fit_opts('{\"weights\":true,\"nulls\":\"mean\",\"robust\":\"HC1\"}', w, y, a, b)) FROM t;"
     "SELECT hex(ml_fit_opts('{\"intercept\":false,\"l2\":0}', y, a)) FROM t;"
     "SELECT hex(ml_fit_opts('{\"names\":[\"a\",\"c\"],\"categorical\":[2]}', y, a, c)) FROM t"},
    {"merge", "",
     "SELECT hex(ml_merge(m)) FROM (SELECT ml_fit(y, a, b) AS m FROM t GROUP BY g);"
     "SELECT hex(ml_merge(m)) FROM (SELECT ml_fit_opts('{\"names\":[\"a\",\"c\"],\"categorical\":[\"c\"]}',"
     " y, a, c) AS m FROM t GROUP BY g);"
     "SELECT hex(ml_merge((SELECT ml_fit(y, a) FROM t WHERE g = 0), (SELECT ml_fit(y, a) FROM t WHERE g = 1)))"},
    {"refine", "",
     "SELECT hex(ml_refine((SELECT ml_fit_opts('{\"robust\":\"HC3\"}', y, a, b) FROM t), y, a, b)) FROM t"},
    /* ml_train alone in its statement: once its INSERT has committed, a
    ** failure in something after it (json_extract of its result, say) would
    ** fail the statement with the version kept, which is SQLite's rule. */
    {"train_first", "",
     "SELECT ml_train('m', 't', 'y', '[\"a\",\"b\",\"c\"]', "
     "'{\"test_size\":0.2,\"seed\":7,\"metrics\":\"full\",\"refine\":true,\"robust\":\"HC1\"}')"},
    /* Cross-validation: fold factors, their merges, a ridge path, the report. */
    {"train_cv", "",
     "SELECT ml_train('cv', 't', 'y', '[\"a\",\"b\",\"c\"]', "
     "'{\"cv\":4,\"l2\":[0,1],\"seed\":2,\"weights\":\"w\"}');"
     "SELECT ml_fold_of(id, 5, 1) FROM t WHERE id < 4"},
    {"train_again", trained,
     "SELECT ml_train('m', 'SELECT * FROM t WHERE g = 1', 'y', '*', "
     "'{\"nulls\":\"mean\",\"weights\":\"w\",\"categorical\":[\"b\"]}')"},
    {"predict", trained,
     "SELECT ml_predict('m', a, b, c) FROM t WHERE id < 5; SELECT ml_predict('m@prod', 1, 2, 'c1');"
     "SELECT ml_predict(m, a, b) FROM blobs, t WHERE id < 4;"
     "SELECT ml_predict_interval('m@2', 0.9, a, b, c) FROM t WHERE id < 4;"
     "SELECT ml_model_json('m@1'); SELECT * FROM ml_weights('m', 0.99);"
     "SELECT ml_model_json(m) FROM blobs"},
    /* GLMs: IRLS passes, the null model's refit (an intercept and an offset),
    ** prediction on the response scale, the Wald tables. */
    {"glm", "CREATE TABLE lv AS SELECT CASE g WHEN 1 THEN 'yes' ELSE 'no' END AS y, a, b FROM t;",
     "SELECT ml_train('lv', 'lv', 'y', '[\"a\",\"b\"]', '{\"family\":\"binomial\",\"test_size\":0}');"
     "SELECT ml_evaluate('lv', 'lv');"
     "SELECT ml_train('lg', 't', 'g', '[\"a\",\"b\"]', "
     "'{\"family\":\"binomial\",\"test_size\":0.2,\"seed\":1,\"weights\":\"w\"}');"
     "SELECT ml_train('ps', 't', 'b', '[\"a\",\"c\"]', "
     "'{\"family\":\"poisson\",\"offset\":\"w\",\"test_size\":0,\"nulls\":\"mean\"}');"
     "SELECT ml_predict('lg', 1, 2); SELECT ml_predict_interval('ps', 0.9, 1, 'c2', 0.5);"
     "SELECT * FROM ml_weights('ps'); SELECT ml_evaluate('lg', 't'); SELECT ml_model_json('ps')"},
    /* A formula: the distinct values' read, the design, FORM, prediction by the terms. */
    {"formula", "",
     "SELECT ml_train('f', 't', 'log(y) ~ a * c + I(b^2) + factor(g)', "
     "'{\"test_size\":0.2,\"seed\":1,\"robust\":\"HC1\"}');"
     "SELECT ml_predict('f', a, c, b, g) FROM t WHERE id < 5; SELECT ml_predict_interval('f', 0.9, 1, 'c1', 2, 0);"
     "SELECT * FROM ml_weights('f'); SELECT ml_model_json('f'); SELECT ml_evaluate('f', 't')"},
    {"evaluate", trained,
     "SELECT ml_evaluate('m', 't'); SELECT ml_evaluate('m@prod', 'SELECT * FROM t WHERE g = 0', 'y')"},
    {"split", "",
     "CREATE VIRTUAL TABLE s USING ml_split(t, test_size=0.25, valid_size=0.1, seed=3, key=id);"
     "SELECT split, count(*) FROM s GROUP BY split; SELECT * FROM s WHERE id IN (5, 6) AND split != 'valid';"
     "SELECT count(*) FROM t WHERE ml_split_of(id, 0.2, 42) = 'test'; DROP TABLE s"},
    {"predictions", trained,
     "SELECT * FROM ml_predictions('m', 'SELECT * FROM t WHERE id < 5;', '{\"interval\":0.9}');"
     "SELECT p.prediction FROM t CROSS JOIN ml_predictions('m@1', 't') AS p "
     "WHERE t.id < 3 AND p.source_rowid = t.id;"
     "CREATE VIRTUAL TABLE temp.sc USING ml_predictions(m, 'SELECT * FROM t WHERE id < 6', interval=0.9);"
     "SELECT * FROM temp.sc; DROP TABLE temp.sc"},
    {"sources", trained,
     "ATTACH ':memory:' AS aux; CREATE TABLE aux.\"a b\" AS SELECT * FROM t;"
     "SELECT ml_evaluate('m', 'aux.\"a b\"'); SELECT ml_evaluate('m', 'SELECT * FROM t -- c');"
     "CREATE VIRTUAL TABLE temp.q USING ml_split('SELECT * FROM t WHERE g = 1;', key=id);"
     "SELECT split, count(*) FROM q GROUP BY split; DROP TABLE temp.q; DETACH aux"},
    {"alias_drop", trained,
     "SELECT ml_alias('m', 'prod', 2); SELECT ml_alias('m', 'dev', 1); SELECT ml_alias('m', 'dev', NULL);"
     "SELECT ml_drop('m', 1); SELECT ml_alias('m', 'dev', 2); SELECT ml_drop('m')"},
    {"deploy", trained,
     "SELECT ml_compare('m@1', 'm@1'); SELECT ml_promote('m', 'prod2', '{\"version\":1}');"
     "SELECT ml_promote('m', 'prod', '{\"version\":1,\"max_degradation\":1}');"
     "SELECT * FROM ml_feature_info('m'); SELECT * FROM ml_drift('m', 't')"},
    /* "threads": readers on other connections to a file (their allocations and the
    ** caller's share the countdown), their accumulators merged; a GLM's passes too. */
    {"threads",
     "ATTACH 'build/oom-threads.db' AS f; PRAGMA f.synchronous = OFF; DROP TABLE IF EXISTS f.t;"
     "CREATE TABLE f.t AS SELECT * FROM t;",
     "SELECT ml_train('th', 'f.t', 'y', '[\"a\",\"b\",\"c\"]', "
     "'{\"test_size\":0.2,\"seed\":3,\"nulls\":\"mean\",\"threads\":2}');"
     "SELECT ml_train('tg', 'f.t', 'g', '[\"a\",\"b\"]', '{\"family\":\"binomial\",\"threads\":2}')"},
    /* A model kept with its block (70 levels): its factors made from the
    ** block, refined (sfac's normal solve), stored, predicted from with an
    ** interval, densified for a merge; a Poisson GLM's IRLS steps on it. */
    {"block", "CREATE TABLE tb AS SELECT *, 'L' || (id % 70) AS s FROM t;",
     "SELECT ml_train('bk', 'tb', 'y', '[\"a\",\"s\"]', '{\"test_size\":0.2,\"seed\":1,\"refine\":true}');"
     "SELECT ml_predict_interval('bk', 0.9, 1, 'L3');"
     "SELECT hex(ml_merge(model)) FROM ml_model_versions WHERE name = 'bk';"
     "SELECT ml_train('bp', 'tb', 'a', '[\"s\"]', '{\"family\":\"poisson\",\"test_size\":0}')"},
    /* The test rows read once: features on both sides the other lacks, a metric that needs every row. */
    {"deploy_read",
     "SELECT ml_train('r', 't', 'y', '[\"a\",\"b\"]', '{\"test_size\":0.3,\"seed\":2}');"
     "SELECT ml_train('r', 't', 'y', '[\"a\",\"c\"]', '{\"test_size\":0.3,\"seed\":2}');"
     "SELECT ml_alias('r', 'prod', 1);",
     "SELECT ml_compare('r@1', 'r@2'); SELECT ml_promote('r', 'prod', '{\"metric\":\"mae\"}')"},
};

/*
** The fixture's database after data and setup, made once for a scenario
** and copied into each run's connection (the backup API, into the same
** kind of in-memory database): a run then costs its own statements, not
** the setup's ml_train calls again.  A setup that ATTACHes a file makes
** its fixture each time.
*/
static sqlite3 *image;
static const struct scenario *imaged;

/* Copies database main of from into to's: 1, or 0 if that failed. */
static int copy_db(sqlite3 *to, sqlite3 *from) {
  sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
  if (!b) return 0;
  int rc = sqlite3_backup_step(b, -1);
  return sqlite3_backup_finish(b) == SQLITE_OK && rc == SQLITE_DONE;
}

/* Keeps s's database as the image its runs start from. */
static void keep_image(sqlite3 *db, const struct scenario *s) {
  sqlite3_close(image);
  image = NULL;
  imaged = NULL;
  if (strstr(s->setup, "ATTACH") || sqlite3_open(":memory:", &image) != SQLITE_OK) return;
  if (copy_db(image, db)) imaged = s;
}

/* Opens a connection with the fixture in place and sqlml registered. */
static sqlite3 *fixture(const struct scenario *s) {
  sqlite3 *db;
  char msg[256];
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
    fprintf(stderr, "oom: open: %s\n", sqlite3_errmsg(db));
    exit(2);
  }
  char *err = NULL;
  msg[0] = 0;
  if (sqlite3_sqlml_init(db, &err, NULL) != SQLITE_OK) {
    fprintf(stderr, "oom: %s: fixture: %s\n", s->name, err ? err : "");
    exit(2);
  }
  if (imaged == s && copy_db(db, image)) return db;
  if (run(db, data, NULL, msg, sizeof msg) != SQLITE_OK ||
      run(db, s->setup, NULL, msg, sizeof msg) != SQLITE_OK) {
    fprintf(stderr, "oom: %s: fixture: %s\n", s->name, msg);
    exit(2);
  }
  keep_image(db, s);
  return db;
}

static int problems;

static void problem(const struct scenario *s, long n, const char *what, const char *detail) {
  problems++;
  if (problems <= 30)
    fprintf(stderr, "oom: %s: failing allocation %ld: %s%s%s\n", s->name, n, what,
            detail ? ": " : "", detail ? detail : "");
}

/* Runs one scenario at every allocation (every stride-th); returns the runs made. */
static long scenario(const struct scenario *s, long stride, long *nomem, long *errors) {
  char msg[512];
  text want = {0}, after = {0};
  /* The reference: a run with no failure. */
  sqlite3 *db = fixture(s);
  if (run(db, s->sql, &want, msg, sizeof msg) != SQLITE_OK) {
    fprintf(stderr, "oom: %s: fails without any failure injected: %s\n", s->name, msg);
    exit(2);
  }
  registry(db, &after);
  sqlite3_close(db);

  long n = getenv("OOM_FROM") ? atol(getenv("OOM_FROM")) : 0;
  for (;; n += stride) {
    sqlite3_int64 mem0 = sqlite3_memory_used();
    db = fixture(s);
    text before = {0}, got = {0}, now = {0};
    arm(n);
    int rc = run_snap(db, s->sql, &got, msg, sizeof msg, &before);
    disarm();
    long failures = injected;
    registry(db, &now);
    if (rc == SQLITE_OK) {
      if (strcmp(got.z ? got.z : "", want.z ? want.z : "") != 0)
        problem(s, n, "a wrong answer after a failed allocation", got.z);
      if (getenv("OOM_VERBOSE")) fprintf(stderr, "oom: wanted %s\ngot    %s\n", want.z, got.z);
      if (strcmp(now.z, after.z) != 0) problem(s, n, "succeeded, but the registry differs", NULL);
    } else {
      if ((rc & 0xff) == SQLITE_NOMEM) (*nomem)++;
      else if ((rc & 0xff) == SQLITE_ERROR && msg[0]) (*errors)++;
      else problem(s, n, "neither SQLITE_NOMEM nor an error with a message", msg);
      if (strcmp(msg, "out of memory") && (rc & 0xff) == SQLITE_ERROR && getenv("OOM_VERBOSE"))
        fprintf(stderr, "oom: %s: %ld: error: %s\n", s->name, n, msg);
      if (strcmp(now.z, before.z) != 0)
        problem(s, n, "failed, and the registry is not what it was before the statement", msg);
      if (!failures) problem(s, n, "failed with no allocation failure injected", msg);
    }
    if (sqlite3_close(db) != SQLITE_OK) problem(s, n, "close: statements left open", NULL);
    if (sqlite3_memory_used() != mem0) {
      char leak[64];
      snprintf(leak, sizeof leak, "%lld bytes", (long long)(sqlite3_memory_used() - mem0));
      problem(s, n, "memory leaked", leak);
    }
    free(before.z);
    free(got.z);
    free(now.z);
    if (!failures) break; /* it ran to the end: every allocation has failed once */
  }
  free(want.z);
  free(after.z);
  return n / stride + 1;
}

int main(int argc, char **argv) {
  long stride = 1;
  int first = 1;
  for (; first < argc && argv[first][0] == '-'; first++) {
    if (strcmp(argv[first], "--persistent") == 0) persistent = 1;
    else if (strcmp(argv[first], "--stride") == 0 && first + 1 < argc) stride = atol(argv[++first]);
    else {
      fprintf(stderr, "usage: oom [--persistent] [--stride K] [scenario ...]\n");
      return 2;
    }
  }
  sqlite3_config(SQLITE_CONFIG_GETMALLOC, &base);
  sqlite3_mem_methods m = base;
  m.xMalloc = fail_malloc;
  m.xRealloc = fail_realloc;
  sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1);
  /* Lookaside would serve small allocations without the countdown seeing them. */
  sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0);
  if (sqlite3_initialize() != SQLITE_OK) return 2;

  long total = 0;
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
    const struct scenario *s = &scenarios[i];
    int wanted = first == argc;
    for (int a = first; a < argc; a++) wanted |= strcmp(argv[a], s->name) == 0;
    if (!wanted) continue;
    long nomem = 0, errors = 0;
    long runs = scenario(s, stride, &nomem, &errors);
    total += runs;
    printf("oom: %-12s %5ld runs with a failing allocation: %5ld SQLITE_NOMEM, %4ld other errors\n",
           s->name, runs - 1, nomem, errors);
  }
  printf("oom: %s, %ld runs, %d problems\n", persistent ? "persistent" : "transient", total, problems);
  sqlite3_close(image);
  return problems != 0;
}
