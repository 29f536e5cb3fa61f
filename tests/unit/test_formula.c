/* Unit tests of formula.c, formula_parse.c and formula_design.c (R's values
** are the comments; tests/ref/formula_vs_r.py compares with R itself). */
#include <string.h>

#include "check.h"
#include "formula.h"
#include "mem.h"

static const char *const COLS[] = {"y", "x", "z", "f", "g", "id", "my col"};

static ml_formula *parse(const char *text) {
  ml_formula *f = NULL;
  char err[400] = "";
  int rc = ml_formula_parse(text, COLS, 7, &f, err, sizeof err);
  if (rc) fprintf(stderr, "parse(%s): %s\n", text, err);
  CHECK(rc == ML_OK && f);
  return f;
}

/* The term labels joined by '|', with '0|' first when there is no intercept. */
static int terms_are(const char *text, const char *want) {
  ml_formula *f = parse(text);
  if (!f) return 0;
  char got[400] = "";
  if (!ml_formula_intercept(f)) strcat(got, "0|");
  for (int t = 0; t < ml_formula_nterms(f); t++) {
    strcat(got, ml_formula_term_label(f, t));
    strcat(got, "|");
  }
  int ok = strcmp(got, want) == 0;
  if (!ok) fprintf(stderr, "terms(%s): %s, expected %s\n", text, got, want);
  ml_formula_free(f);
  return ok;
}

static void test_terms(void) {
  CHECK(terms_are("y ~ x", "x|"));
  CHECK(terms_are("y ~ a*b", "a|b|a:b|"));
  CHECK(terms_are("y ~ a:b", "a:b|"));
  CHECK(terms_are("y ~ b:a + a", "a|b:a|"));            /* R: variables in order of appearance */
  CHECK(terms_are("y ~ (a+b+c)^2 - a:b", "a|b|c|a:c|b:c|"));
  CHECK(terms_are("y ~ (a+b+c)^3", "a|b|c|a:b|a:c|b:c|a:b:c|"));
  CHECK(terms_are("y ~ a*b*c - a:b:c + a", "a|b|c|a:b|a:c|b:c|"));
  CHECK(terms_are("y ~ x + x + x:x", "x|"));
  CHECK(terms_are("y ~ 0 + x", "0|x|"));
  CHECK(terms_are("y ~ x + 0", "0|x|"));
  CHECK(terms_are("y ~ x - 1", "0|x|"));
  CHECK(terms_are("y ~ -1 + x", "0|x|"));
  CHECK(terms_are("y ~ 0 + x + 1", "x|"));
  CHECK(terms_are("y ~ 1", ""));
  CHECK(terms_are("y ~ .", "x|z|f|g|id|`my col`|"));
  CHECK(terms_are("y ~ . - id", "x|z|f|g|`my col`|"));
  CHECK(terms_are("log(y) ~ . - z - f - g - `my col`", "x|id|"));
  CHECK(terms_are("y ~ (x + f)^2", "x|f|x:f|"));
  CHECK(terms_are("y ~ f:x + x", "x|f:x|"));
  CHECK(terms_are("y ~ I(x^2) + log(x + 1) + poly(x, 2, raw = TRUE)",
                  "I(x^2)|log(x + 1)|poly(x, 2, raw = TRUE)|"));
  CHECK(terms_are("y~I(x/100000)+I(.5*x)+I(x*1e-4)+I(- x)+exp(abs(x))",
                  "I(x/1e+05)|I(0.5 * x)|I(x * 1e-04)|I(-x)|exp(abs(x))|"));
  CHECK(terms_are("y ~ factor(x) + relevel(f, 'b') + relevel(factor(g), ref = \"u\")",
                  "factor(x)|relevel(f, \"b\")|relevel(factor(g), ref = \"u\")|"));
  CHECK(terms_are("y ~ I(x * 0.12345678901234567)", "I(x * 0.123456789012346)|")); /* R's 15 digits */
  CHECK(terms_are("y ~ x^2", "x|")); /* a formula power of one term */
  CHECK(terms_are("~ x", "x|"));
}

static void test_columns(void) {
  ml_formula *f = parse("log(y) ~ z + sqrt(x) + `my col`:f - z + . - .");
  if (!f) return;
  /* the right-hand side's columns first, in order of appearance; z stays (R keeps it) */
  CHECK(ml_formula_ncols(f) == 7 && ml_formula_nrhs_cols(f) == 6);
  const char *order[] = {"z", "x", "my col", "f", "g", "id", "y"};
  for (int c = 0; c < 7 && c < ml_formula_ncols(f); c++)
    CHECK(strcmp(ml_formula_col_name(f, c), order[c]) == 0);
  CHECK(ml_formula_col_use(f, 6) == (ML_FUSE_RESPONSE | ML_FUSE_NUMBER));
  CHECK(ml_formula_col_use(f, 1) == (ML_FUSE_RHS | ML_FUSE_NUMBER | ML_FUSE_PLAIN));
  CHECK(ml_formula_col_use(f, 0) == (ML_FUSE_RHS | ML_FUSE_PLAIN));
  CHECK(ml_formula_has_response(f) && strcmp(ml_formula_var_label(f, 0), "log(y)") == 0);
  CHECK(strcmp(ml_formula_text(f), "log(y) ~ z + sqrt(x) + `my col`:f - z + (x + z + f + g + id + "
                                   "`my col`) - (x + z + f + g + id + `my col`)") == 0);
  ml_formula_free(f);
  char lv[32];
  const double v[] = {100000, 2, 0.1, 123456, -1.5, 1e-4, 0.001, 1e15, 1.0 / 3, 0.1 + 0.2};
  const char *want[] = {"1e+05", "2", "0.1", "123456", "-1.5", "1e-04", "0.001", "1e+15",
                        "0.333333333333333", "0.3"};
  for (int i = 0; i < 10; i++) {
    ml_formula_fmt_level(lv, v[i]);
    CHECK(strcmp(lv, want[i]) == 0);
  }
}

static int error_is(const char *text, const char *want) {
  ml_formula *f = NULL;
  char err[400] = "";
  int rc = ml_formula_parse(text, COLS, 7, &f, err, sizeof err);
  int ok = rc == ML_EINPUT && !f && strstr(err, want) != NULL;
  if (!ok) fprintf(stderr, "error(%s): %d \"%s\", expected \"%s\"\n", text, rc, err, want);
  ml_formula_free(f);
  return ok;
}

static void test_errors(void) {
  CHECK(error_is("y ~ x + )", "formula: unexpected ')' at 8 in \"y ~ x + )\"; "));
  CHECK(error_is("y ~ x +", "formula: unexpected end at 7 in"));
  CHECK(error_is("y x", "unexpected 'x' at 2 in \"y x\"; '~' was expected"));
  CHECK(error_is("y ~ x ~ z", "unexpected '~' at 6"));
  CHECK(error_is("y ~ x $ z", "unexpected '$' at 6"));
  CHECK(error_is("y ~ `x", "unexpected '`x' at 4"));
  CHECK(error_is("y ~ ``", "unexpected '``' at 4"));
  CHECK(error_is("y ~ I('a\\'')", "unexpected ''a\\' at 6"));
  CHECK(error_is("y ~ \xc3\xa9", "unexpected '\xc3\xa9' at 4"));
  CHECK(error_is("y ~ x 1", "unexpected '1' at 6"));
  CHECK(error_is("y ~ log(x,)", "unexpected ')' at 10"));
  CHECK(error_is("y ~ foo(x)", "unknown function 'foo(x)' at 4"));
  CHECK(error_is("y ~ log(foo(x))", "unknown function 'foo(x)' at 8"));
  CHECK(error_is("y ~ poly(x, 2)", "orthogonal polynomial 'poly(x, 2)' at 4"));
  CHECK(error_is("y ~ poly(x, 2, raw = FALSE)", "write poly(x, d, raw = TRUE)"));
  CHECK(error_is("y ~ poly(x, 0, raw = TRUE)", "wrong arguments"));
  CHECK(error_is("y ~ poly(x, 2, raw = TRUE, coefs = 1)", "wrong arguments"));
  CHECK(error_is("y ~ x + 2", "unexpected number '2' at 8"));
  CHECK(error_is("y ~ a/b", "unsupported 'a/b' at 5"));
  CHECK(error_is("y ~ (a+b)^x", "invalid power 'x' at 10"));
  CHECK(error_is("y ~ (a+b)^1.5", "invalid power '1.5' at 10"));
  CHECK(error_is("y ~ (a+b)^5e55", "invalid power '5e+55' at 10"));
  CHECK(error_is("y ~ I(x*333e3333)", "unexpected '333e3333' at 8"));
  CHECK(error_is("y ~ poly(x, 1e300, raw = TRUE)", "wrong arguments"));
  CHECK(error_is("y ~ log(factor(f))", "term inside arithmetic 'factor(f)' at 8"));
  CHECK(error_is("y ~ log(x, 2)", "wrong arguments 'log(x, 2)' at 4"));
  CHECK(error_is("y ~ I(a:b)", "interaction inside arithmetic 'a:b' at 7"));
  CHECK(error_is("y ~ relevel(f)", "wrong arguments"));
  CHECK(error_is("y ~ relevel(f, b)", "wrong arguments"));
  CHECK(error_is("y ~ factor(x + 1)", "wrong arguments"));
  CHECK(error_is("y ~ I(\"a\")", "unexpected '\"a\"' at 6"));
  CHECK(error_is("y ~ y + x", "the response is a term too: 'y' at 0"));
  CHECK(error_is("factor(y) ~ x", "term inside arithmetic 'factor(y)' at 0"));
  CHECK(error_is("y ~ . + I(.)", "unexpected '.' at 10"));
  ml_formula *f = NULL;
  char err[200];
  CHECK(ml_formula_parse("y ~ .", NULL, 0, &f, err, sizeof err) == ML_EINPUT &&
        strstr(err, "no columns for '.' at 4"));
  const char *tick[] = {"y", "a`b"};
  CHECK(ml_formula_parse("y ~ .", tick, 2, &f, err, sizeof err) == ML_EINPUT &&
        strstr(err, "does not parse again"));
  static char deep[2000], chain[20000];
  strcpy(deep, "y ~ ");
  for (int i = 0; i < 300; i++) strcat(deep, "(");
  strcat(deep, "x");
  for (int i = 0; i < 300; i++) strcat(deep, ")");
  CHECK(error_is(deep, "nested too deeply"));
  strcpy(chain, "y ~ I(x");
  for (int i = 0; i < 6000; i++) strcat(chain, "+x");
  strcat(chain, ")");
  CHECK(error_is(chain, "nested too deeply"));
}

/* y ~ log(x) + f*x with f in a, b, c. */
static ml_formula *designed(void) {
  ml_formula *f = parse("y ~ log(x) + relevel(f, \"b\")*x");
  if (!f) return NULL;
  const char *lv[] = {"a", "b", "c"};
  char err[200];
  CHECK(ml_formula_ncols(f) == 3);
  CHECK(ml_formula_set_column(f, 0, ML_FCOL_NUMERIC, NULL, 0, err, sizeof err) == ML_OK);
  CHECK(ml_formula_design(f, err, sizeof err) == ML_EINPUT && strstr(err, "column f is not set"));
  CHECK(ml_formula_set_column(f, 1, ML_FCOL_CATEGORICAL, lv, 3, err, sizeof err) == ML_OK);
  CHECK(ml_formula_set_column(f, 2, ML_FCOL_NUMERIC, NULL, 0, err, sizeof err) == ML_OK);
  CHECK(ml_formula_design(f, err, sizeof err) == ML_OK);
  return f;
}

static void test_rows(void) {
  ml_formula *f = designed();
  if (!f) return;
  const char *names[] = {"(Intercept)", "log(x)", "relevel(f, \"b\")a", "relevel(f, \"b\")c",
                         "x", "relevel(f, \"b\")a:x", "relevel(f, \"b\")c:x"};
  CHECK(ml_formula_ncoef(f) == 7);
  for (int j = 0; j < 7 && j < ml_formula_ncoef(f); j++)
    CHECK(strcmp(ml_formula_coef_name(f, j), names[j]) == 0);
  ml_fvalue v[3] = {{2.0, -1, 0}, {0, 0, 0}, {5.0, -1, 0}};
  double x[7];
  int bad;
  long before = mem_in_use();
  mem_fail_after(0); /* no allocation may happen from here */
  int st = ml_formula_eval_row(f, v, x, &bad);
  double y;
  int sty = ml_formula_eval_response(f, v, &y, &bad);
  mem_fail_after(-1);
  CHECK(mem_in_use() == before);
  CHECK(st == ML_FROW_OK && sty == ML_FROW_OK && y == 5.0);
  const double want[] = {1, log(2.0), 1, 0, 2, 2, 0};
  for (int j = 0; j < 7; j++) CHECK(x[j] == want[j]);
  v[1].level = 1; /* the reference: zeros */
  CHECK(ml_formula_eval_row(f, v, x, &bad) == ML_FROW_OK && x[2] == 0 && x[3] == 0 && x[6] == 0);
  v[0].num = 0; /* log(0) */
  CHECK(ml_formula_eval_row(f, v, x, &bad) == ML_FROW_UNDEFINED);
  CHECK(strcmp(ml_formula_var_label(f, bad), "log(x)") == 0 && ml_formula_var_col(f, bad) == 0);
  v[0].num = 2;
  v[1].level = 3;
  CHECK(ml_formula_eval_row(f, v, x, &bad) == ML_FROW_UNSEEN && bad == 1);
  v[1].level = 0;
  v[0].isnull = 1;
  CHECK(ml_formula_eval_row(f, v, x, &bad) == ML_FROW_MISSING && bad == 0);
  v[0].isnull = 0;
  v[2].isnull = 1; /* the response: not read for the row */
  CHECK(ml_formula_eval_row(f, v, x, &bad) == ML_FROW_OK);
  CHECK(ml_formula_eval_response(f, v, &y, &bad) == ML_FROW_MISSING && bad == 2);
  ml_formula_free(f);
}

static void test_column_errors(void) {
  char err[200];
  const char *lv[] = {"a", "b"};
  ml_formula *f = parse("y ~ log(f)");
  if (f) {
    CHECK(ml_formula_set_column(f, 0, ML_FCOL_CATEGORICAL, lv, 2, err, sizeof err) == ML_EINPUT &&
          strstr(err, "f is categorical"));
    ml_formula_free(f);
  }
  if ((f = parse("y ~ relevel(f, \"z\")"))) {
    CHECK(ml_formula_set_column(f, 0, ML_FCOL_CATEGORICAL, lv, 2, err, sizeof err) == ML_OK);
    CHECK(ml_formula_set_column(f, 1, ML_FCOL_NUMERIC, NULL, 0, err, sizeof err) == ML_OK);
    CHECK(ml_formula_design(f, err, sizeof err) == ML_EINPUT && strstr(err, "\"z\" is not a level"));
    ml_formula_free(f);
  }
  if ((f = parse("y ~ factor(x)"))) {
    CHECK(ml_formula_set_column(f, 0, ML_FCOL_NUMERIC, NULL, 0, err, sizeof err) == ML_EINPUT &&
          strstr(err, "x needs its levels"));
    ml_formula_free(f);
  }
  if ((f = parse("y ~ f"))) { /* one level under contrasts, as R refuses */
    CHECK(ml_formula_set_column(f, 0, ML_FCOL_CATEGORICAL, lv, 1, err, sizeof err) == ML_OK);
    CHECK(ml_formula_set_column(f, 1, ML_FCOL_NUMERIC, NULL, 0, err, sizeof err) == ML_OK);
    CHECK(ml_formula_design(f, err, sizeof err) == ML_EINPUT && strstr(err, "2 or more"));
    ml_formula_free(f);
  }
}

static void test_serialize(void) {
  ml_formula *f = designed(), *g = NULL;
  if (!f) return;
  unsigned char *p = NULL;
  size_t n = 0;
  char err[200];
  CHECK(ml_formula_save(f, &p, &n) == ML_OK && p);
  CHECK(ml_formula_load(p, n, &g, err, sizeof err) == ML_OK && g);
  if (g) {
    CHECK(strcmp(ml_formula_text(g), ml_formula_text(f)) == 0);
    CHECK(ml_formula_ncoef(g) == ml_formula_ncoef(f));
    for (int j = 0; j < ml_formula_ncoef(f) && j < ml_formula_ncoef(g); j++)
      CHECK(strcmp(ml_formula_coef_name(g, j), ml_formula_coef_name(f, j)) == 0);
    ml_fvalue v[3] = {{2.5, -1, 0}, {2, 2, 0}, {1, -1, 0}};
    double a[7], b[7];
    int bad;
    CHECK(ml_formula_eval_row(f, v, a, &bad) == 0 && ml_formula_eval_row(g, v, b, &bad) == 0 &&
          memcmp(a, b, sizeof a) == 0);
    ml_formula_free(g);
  }
  /* every truncation, trailing bytes, and every byte changed: refused or a
  ** valid formula, never a read out of bounds (make asan checks) */
  for (size_t k = 0; k < n; k++) {
    unsigned char *q = ml_malloc(k ? k : 1);
    memcpy(q, p, k);
    g = NULL;
    CHECK(ml_formula_load(q, k, &g, err, sizeof err) == ML_EINPUT && !g);
    ml_free(q);
  }
  unsigned char *q = ml_malloc(n + 1);
  memcpy(q, p, n);
  q[n] = 0;
  CHECK(ml_formula_load(q, n + 1, &g, err, sizeof err) == ML_EINPUT &&
        strstr(err, "malformed"));
  for (size_t k = 0; k < n; k++)
    for (int bit = 0; bit < 8; bit++) {
      memcpy(q, p, n);
      q[k] ^= (unsigned char)(1 << bit);
      g = NULL;
      int rc = ml_formula_load(q, n, &g, err, sizeof err);
      CHECK((rc == ML_OK) == (g != NULL) && (rc == ML_OK || rc == ML_EINPUT));
      ml_formula_free(g);
    }
  ml_free(q);
  ml_free(p);
  ml_formula_free(f);
}

/* Every allocation of parse, design, save and load failing in turn. */
static void test_oom(void) {
  long before = mem_in_use();
  int done = 0;
  for (long k = 0; !done && k < 100000; k++) {
    ml_formula *f = NULL, *g = NULL;
    unsigned char *p = NULL;
    size_t n;
    char err[200];
    const char *lv[] = {"a", "b", "c"};
    mem_fail_after(k);
    int rc = ml_formula_parse("log(y) ~ (x + f)^2 + poly(z, 2, raw = TRUE) + .", COLS, 7, &f, err,
                              sizeof err);
    for (int c = 0; !rc && c < ml_formula_ncols(f); c++) {
      int cat = strcmp(ml_formula_col_name(f, c), "f") == 0 || strcmp(ml_formula_col_name(f, c), "g") == 0;
      rc = ml_formula_set_column(f, c, cat ? ML_FCOL_CATEGORICAL : ML_FCOL_NUMERIC, lv, cat ? 3 : 0,
                                 err, sizeof err);
    }
    if (!rc) rc = ml_formula_design(f, err, sizeof err);
    if (!rc) rc = ml_formula_save(f, &p, &n);
    if (!rc) rc = ml_formula_load(p, n, &g, err, sizeof err);
    mem_fail_after(-1);
    CHECK(rc == ML_OK || rc == ML_NOMEM);
    done = rc == ML_OK;
    if (done) CHECK(ml_formula_ncoef(g) == ml_formula_ncoef(f) && ml_formula_ncoef(f) == 13);
    ml_free(p);
    ml_formula_free(f);
    ml_formula_free(g);
    CHECK(mem_in_use() == before);
  }
  CHECK(done);
}

void test_formula(void) {
  test_terms();
  test_columns();
  test_errors();
  test_rows();
  test_column_errors();
  test_serialize();
  test_oom();
}
