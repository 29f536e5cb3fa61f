/* Unit tests of json.c, strbuf.c, dist.c and crc32.c. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "dist.h"
#include "json.h"
#include "model.h"
#include "mem.h"
#include "strbuf.h"

void test_strbuf(void) {
  const double vals[] = {0.2, 1.0 / 3, 1e-300, -123456789.125, 5e-324, 1.7976931348623157e308};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    char buf[32];
    double back;
    ml_fmt_double(buf, vals[i]);
    CHECK(ml_parse_double(buf, strlen(buf), &back) == 0 && back == vals[i]);
  }
  char buf[32];
  ml_fmt_double(buf, 0.2);
  CHECK(strcmp(buf, "0.2") == 0);
  double v;
  CHECK(ml_parse_double("1.", 2, &v) == -1);
  CHECK(ml_parse_double("01", 2, &v) == -1);
  CHECK(ml_parse_double("-0.5e+1", 7, &v) == 0 && v == -5);

  ml_sb b;
  ml_sb_init(&b);
  ml_sb_json_string(&b, "a\"b\\c\n\x01", 7);
  ml_sb_json_number(&b, NAN);
  char *s = ml_sb_finish(&b, NULL);
  CHECK(s && strcmp(s, "\"a\\\"b\\\\c\\n\\u0001\"null") == 0);
  ml_free(s);
}

static int parses(const char *z) {
  ml_json *j;
  char err[80];
  int rc = ml_json_parse(z, strlen(z), &j, err, sizeof err);
  ml_json_free(j);
  return rc == 0;
}

void test_json(void) {
  ml_json *j;
  char err[80];
  const char *doc = " {\"a\": [1, -2.5e3, \"x\\u00e9\\ud83d\\ude00\"], \"b\": {\"c\": null}, \"d\": true} ";
  CHECK(ml_json_parse(doc, strlen(doc), &j, err, sizeof err) == 0);
  if (j) {
    const ml_json *a = ml_json_get(j, "a");
    CHECK(a && a->type == ML_JSON_ARRAY && a->len == 3);
    CHECK(a && a->child->next->num == -2500);
    CHECK(a && strcmp(a->child->next->next->str, "x\xc3\xa9\xf0\x9f\x98\x80") == 0);
    CHECK(ml_json_get(j, "d")->type == ML_JSON_TRUE);
    CHECK(ml_json_get(j, "zz") == NULL);
  }
  ml_json_free(j);
  CHECK(!parses("{\"a\":1,\"a\":2}"));      /* a repeated key hides a typo */
  CHECK(!parses("{\"a\":1,}"));
  CHECK(!parses("[1 2]"));
  CHECK(!parses("\"\\ud800\""));           /* unpaired surrogate */
  CHECK(!parses("\"\xff\""));              /* not UTF-8 */
  CHECK(!parses("1 2"));
  CHECK(!parses(""));
  CHECK(!parses("nul"));
  CHECK(parses("[[[[[[[[[[1]]]]]]]]]]"));
  char deep[200];
  memset(deep, '[', 100);
  deep[100] = 0;
  CHECK(!parses(deep));
  CHECK(ml_json_parse("{\"a\":", 5, &j, err, sizeof err) == -1);
  CHECK(strstr(err, "offset 5") != NULL);
}

void test_dist(void) {
  /* Closed forms: t(1) is Cauchy, t(2) and F(2, d) have elementary tails. */
  const double ts[] = {0.1, 1, 2.5, 10, 1e3};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
    double t = ts[i];
    CHECK_NEAR(ml_pt_2sided(t, 1) / (2 * atan(1 / t) / acos(-1.0)), 1, 1e-13);
    CHECK_NEAR(ml_pt_2sided(t, 2) / (2 / (sqrt(2 + t * t) * (sqrt(2 + t * t) + t))), 1, 1e-13);
    CHECK_NEAR(ml_pf_upper(t, 2, 7) / pow(1 + 2 * t / 7, -3.5), 1, 1e-13);
    CHECK_NEAR(ml_pt_2sided(-t, 5), ml_pt_2sided(t, 5), 0);
    if (t < 100) CHECK_NEAR(ml_qt(ml_pt(t, 7), 7) / t, 1, 1e-12);
  }
  CHECK(ml_pt_2sided(0, 10) == 1);
  CHECK(ml_pt_2sided(INFINITY, 10) == 0);
  CHECK(isnan(ml_pt_2sided(1, 0)));
  CHECK(ml_pf_upper(0, 3, 4) == 1);
  /* tests/ref compares many more with R. */
  CHECK_NEAR(ml_qt(0.975, 10), 2.2281388519862739, 1e-14); /* R: qt(0.975, 10) */
}

/* CRC-32 eight bytes at a time equals zlib's, a byte at a time by the polynomial, at every length and offset. */
static uint32_t crc_bitwise(const unsigned char *z, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= z[i];
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

void test_crc32(void) {
  CHECK(ml_crc32((const unsigned char *)"123456789", 9) == 0xCBF43926u); /* the standard check value */
  CHECK(ml_crc32(NULL, 0) == 0);
  unsigned char buf[300];
  uint64_t s = 99;
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(check_uniform(&s) * 256);
  for (size_t off = 0; off < 8; off++)
    for (size_t n = 0; off + n <= sizeof buf; n += 7) CHECK(ml_crc32(buf + off, n) == crc_bitwise(buf + off, n));
}
