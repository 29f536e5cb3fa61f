/*
** static_check.c: what linking libsqlml.a promises beyond examples/c/app.c.
** sqlite3_auto_extension gives every new connection the functions, with
** extension loading left off; a connection opened before it has none until
** sqlite3_sqlml_init is called on it; sqlite3_reset_auto_extension stops it.
**   static_check VERSION     prints its checks; exits 1 on a failure
*/
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>
#include <sqlml.h>

static int checks, failures;

static void check(int ok, const char *what) {
  checks++;
  if (!ok) {
    failures++;
    printf("static: FAIL %s\n", what);
  }
}

/* The text of a one-value query, or of its error, in buf. */
static const char *ask(sqlite3 *db, const char *sql, char *buf, size_t n) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
    snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
  else
    snprintf(buf, n, "error: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return buf;
}

int main(int argc, char **argv) {
  const char *version = argc > 1 ? argv[1] : "";
  char buf[256], *err = NULL;
  sqlite3 *before, *a, *b, *after;

  sqlite3_open(":memory:", &before);
  check(strstr(ask(before, "SELECT ml_version()", buf, sizeof buf), "no such function") != NULL,
        "a connection opened before registration has no ml_version");
  check(sqlite3_sqlml_init(before, &err, NULL) == SQLITE_OK && err == NULL,
        "sqlite3_sqlml_init on one connection returns SQLITE_OK");
  check(strcmp(ask(before, "SELECT ml_version()", buf, sizeof buf), version) == 0,
        "... and that connection has ml_version");

  check(sqlite3_auto_extension((void (*)(void))sqlite3_sqlml_init) == SQLITE_OK,
        "sqlite3_auto_extension accepts the entry point");
  sqlite3_open(":memory:", &a);
  sqlite3_open_v2("file:static_check?mode=memory", &b, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI,
                  NULL);
  check(strcmp(ask(a, "SELECT ml_version()", buf, sizeof buf), version) == 0,
        "a new connection has ml_version");
  check(strcmp(ask(b, "SELECT ml_version()", buf, sizeof buf), version) == 0,
        "so has a second one, opened another way");
  const char *loaded = ask(a, "SELECT load_extension('nowhere')", buf, sizeof buf);
  check(strstr(loaded, "not authorized") != NULL, "extension loading stays off");
  check(strcmp(ask(b, "SELECT json_extract(ml_train('m', 'SELECT 1 AS x, 2 AS y "
                      "UNION ALL SELECT 2, 4 UNION ALL SELECT 3, 6', 'y', '[\"x\"]', "
                      "'{\"test_size\":0}'), '$.version')", buf, sizeof buf), "1") == 0,
        "ml_train works in it");
  check(strcmp(ask(b, "SELECT round(ml_predict('m', 4), 9)", buf, sizeof buf), "8.0") == 0,
        "ml_predict by name works in it");

  sqlite3_reset_auto_extension();
  sqlite3_open(":memory:", &after);
  check(strstr(ask(after, "SELECT ml_version()", buf, sizeof buf), "no such function") != NULL,
        "after sqlite3_reset_auto_extension a new connection has none");

  sqlite3_close(before);
  sqlite3_close(a);
  sqlite3_close(b);
  sqlite3_close(after);
  printf("static: %d checks, %d failed\n", checks, failures);
  return failures != 0;
}
