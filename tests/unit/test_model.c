/* Unit tests of model.c and model_blob.c: the BLOB codec's round trip and its defences. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lsq.h"
#include "model.h"

/* A model with a numeric and a categorical feature, fitted to a few rows. */
static ml_model *sample(void) {
  ml_model *m = ml_model_new(2, 4); /* intercept, x, color=green, color=red */
  CHECK(m != NULL);
  m->flags = ML_MODEL_INTERCEPT;
  CHECK(ml_model_set_name(m, 0, "x") == ML_OK);
  CHECK(ml_model_set_name(m, 1, "color") == ML_OK);
  ml_feature *f = &m->feat[1];
  f->type = ML_FEAT_CATEGORICAL;
  f->nlevels = 3;
  f->levels = ml_calloc(3 * sizeof(char *));
  const char *lv[] = {"blue", "green", "r\xc3\xa9""d"};
  for (int i = 0; i < 3; i++) {
    f->levels[i] = ml_malloc(strlen(lv[i]) + 1);
    strcpy(f->levels[i], lv[i]);
  }
  m->feat[0].has_impute = 1;
  m->feat[0].impute = 2.5;
  ml_lsq a;
  CHECK(ml_lsq_init(&a, 4) == ML_OK);
  for (int i = 0; i < 20; i++) {
    int c = i % 3;
    double x[4] = {1, i * 0.5, c == 1, c == 2};
    for (int j = 0; j < 4; j++) ml_lsq_put(&a, j, x[j]);
    ml_lsq_put(&a, 4, 3 + x[1] - 2 * x[2] + x[3] + (i % 5) * 0.01);
    CHECK(ml_lsq_commit(&a) == ML_OK);
  }
  CHECK(ml_lsq_fold(&a) == ML_OK);
  memcpy(m->R, a.R, sizeof(double) * 25);
  m->n = a.n;
  m->n_skipped = 4;
  ml_lsq_free(&a);
  CHECK(ml_model_solve(m) == ML_OK);
  return m;
}

static void round_trip(void) {
  ml_model *m = sample(), *d = NULL;
  unsigned char *blob;
  int64_t len;
  char err[200];
  CHECK(ml_model_encode(m, "9.9.9", &blob, &len) == ML_OK);
  CHECK(memcmp(blob, "SQML", 4) == 0);
  CHECK(ml_model_decode(blob, len, &d, err, sizeof err) == ML_OK);
  if (d) {
    CHECK(d->k == 2 && d->p == 4 && d->n == 20 && d->n_skipped == 4);
    CHECK(d->flags == ML_MODEL_INTERCEPT && d->tol == ML_LSQ_TOL);
    CHECK(strcmp(d->feat[1].levels[2], "r\xc3\xa9""d") == 0 && d->feat[1].nlevels == 3);
    CHECK(d->feat[0].has_impute && d->feat[0].impute == 2.5);
    CHECK(memcmp(d->R, m->R, sizeof(double) * 25) == 0);
    CHECK(memcmp(d->beta, m->beta, sizeof(double) * 4) == 0);
    CHECK(strcmp(d->version, "9.9.9") == 0);
    char *json;
    size_t jl;
    CHECK(ml_model_json(d, 0.95, &json, &jl) == ML_OK);
    CHECK(strstr(json, "\"term\":\"color=r\xc3\xa9""d\"") != NULL);
    CHECK(strstr(json, "\"n\":20,\"n_skipped\":4") != NULL);
    ml_free(json);
  }
  ml_model_free(d);

  /* Every truncation is an error, never a read past the end. */
  int all_refused = 1;
  for (int64_t n = 0; n < len; n++) {
    if (ml_model_decode(blob, n, &d, err, sizeof err) != ML_EINPUT) all_refused = 0;
    ml_model_free(d);
  }
  CHECK(all_refused);

  /* Every flipped bit is caught by the checksum. */
  all_refused = 1;
  for (int64_t i = 0; i < len * 8; i++) {
    blob[i / 8] ^= (unsigned char)(1 << (i % 8));
    if (ml_model_decode(blob, len, &d, err, sizeof err) != ML_EINPUT) all_refused = 0;
    ml_model_free(d);
    blob[i / 8] ^= (unsigned char)(1 << (i % 8));
  }
  CHECK(all_refused);
  ml_free(blob);
  ml_model_free(m);
}

/* Out of memory at each of the first 40 allocations of a decode: reported, no leak. */
static void decode_under_oom(const unsigned char *blob, int64_t len) {
  ml_model *d = NULL;
  char err[200];
  long before = mem_in_use();
  for (long k = 0; k < 40; k++) {
    mem_fail_after(k);
    int rc = ml_model_decode(blob, len, &d, err, sizeof err);
    mem_fail_after(-1);
    CHECK(rc == ML_OK || rc == ML_NOMEM);
    ml_model_free(d);
    CHECK(mem_in_use() == before);
  }
}

/* Re-seals a BLOB after an edit, so the checks behind the checksum run. */
static void reseal(unsigned char *z, int64_t n) {
  for (int i = 0; i < 4; i++) z[8 + i] = (unsigned char)((uint64_t)n >> (8 * i));
  uint32_t c = ml_crc32(z, (size_t)(n - 4));
  for (int i = 0; i < 4; i++) z[n - 4 + i] = (unsigned char)(c >> (8 * i));
}

static void defences(void) {
  CHECK(ml_crc32((const unsigned char *)"123456789", 9) == 0xCBF43926u);
  ml_model *m = sample(), *d = NULL;
  unsigned char *blob;
  int64_t len;
  char err[200];
  CHECK(ml_model_encode(m, NULL, &blob, &len) == ML_OK);

  /* A newer format says so. */
  blob[4] = 2;
  reseal(blob, len);
  CHECK(ml_model_decode(blob, len, &d, err, sizeof err) == ML_EINPUT);
  CHECK(strstr(err, "format version 2 is newer") != NULL);
  blob[4] = 1;
  reseal(blob, len);
  CHECK(ml_model_decode(blob, len, &d, err, sizeof err) == ML_OK);
  ml_model_free(d);

  /* A count of terms the BLOB has no room for is refused before allocating. */
  unsigned char save[4];
  memcpy(save, blob + 28, 4); /* SHAP: magic..length (12), tag, length, flags, k, then p */
  blob[28] = 0xE8;            /* p = 1000 */
  blob[29] = 0x03;
  blob[30] = blob[31] = 0;
  reseal(blob, len);
  CHECK(ml_model_decode(blob, len, &d, err, sizeof err) == ML_EINPUT);
  CHECK(strstr(err, "1000 terms do not fit") != NULL);
  memcpy(blob + 28, save, 4);
  reseal(blob, len);

  /* Not a model at all. */
  CHECK(ml_model_decode((const unsigned char *)"hello, world, this is text", 26, &d, err,
                        sizeof err) == ML_EINPUT);
  CHECK(strstr(err, "bad magic") != NULL);

  /* An unknown section: skipped if ancillary, refused if critical. */
  int64_t n2 = len + 12;
  unsigned char *b2 = malloc((size_t)n2);
  memcpy(b2, blob, (size_t)(len - 4));
  memcpy(b2 + len - 4, "xtra\x04\0\0\0abcd", 12);
  reseal(b2, n2);
  CHECK(ml_model_decode(b2, n2, &d, err, sizeof err) == ML_OK);
  ml_model_free(d);
  b2[len - 4] = 'X';
  reseal(b2, n2);
  CHECK(ml_model_decode(b2, n2, &d, err, sizeof err) == ML_EINPUT);
  CHECK(strstr(err, "section 'Xtra'") != NULL);
  free(b2);

  /* Any byte changed behind the checksum: a clean answer, model or error. */
  for (int64_t i = 12; i < len - 4; i++) {
    for (int v = 0; v < 256; v += 51) {
      unsigned char save = blob[i];
      blob[i] = (unsigned char)(save ^ (v | 1));
      reseal(blob, len);
      int rc = ml_model_decode(blob, len, &d, err, sizeof err);
      CHECK(rc == ML_OK || rc == ML_EINPUT);
      ml_model_free(d);
      blob[i] = save;
    }
  }
  reseal(blob, len);

  /* Out of memory at every allocation of a decode: reported, no leak. */
  decode_under_oom(blob, len);
  ml_free(blob);
  ml_model_free(m);
}

/* Numbers in text, as SQLite's CAST reads them, and levels' canonical text. */
static void reading(void) {
  static const struct {
    const char *z;
    int ok;
    double v;
  } cases[] = {
      {"12", 1, 12}, {" 3.5 ", 1, 3.5}, {"-1e3", 1, -1000}, {"+7", 1, 7}, {".5", 1, 0.5},
      {"5.", 1, 5}, {"007", 1, 7}, {"-0.25e-2", 1, -0.0025}, {"\t42\n", 1, 42}, {"1E+02", 1, 100},
      {"12abc", 0, 0}, {"", 0, 0}, {"  ", 0, 0}, {"0x1A", 0, 0}, {"NaN", 0, 0}, {"inf", 0, 0},
      {"1,5", 0, 0}, {"1e", 0, 0}, {".", 0, 0}, {"-", 0, 0}, {"1 2", 0, 0}, {"NA", 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    double v = -1;
    int r = ml_parse_number(cases[i].z, (int)strlen(cases[i].z), &v);
    CHECK(r == cases[i].ok);
    if (r == 1) CHECK(v == cases[i].v);
  }
  /* Longer than the copy on the stack. */
  char big[300];
  memset(big, '0', sizeof big - 3);
  memcpy(big + sizeof big - 3, "1", 2);
  double v;
  CHECK(ml_parse_number(big, (int)strlen(big), &v) == 1 && v == 1);
  static const struct {
    double v;
    const char *text;
  } canon[] = {{2, "2"}, {2.5, "2.5"}, {-0.0, "0"}, {0.1, "0.1"}, {100000, "1e+05"},
               {120000, "120000"}, {1e-4, "1e-04"}, {1e15, "1e+15"}, {-3.75, "-3.75"},
               {1.0 / 3, "0.3333333333333333"}, {123456789012.0, "123456789012"}};
  for (size_t i = 0; i < sizeof canon / sizeof canon[0]; i++) {
    char out[ML_NUMBER_TEXT_MAX];
    ml_number_text(canon[i].v, out);
    CHECK(strcmp(out, canon[i].text) == 0);
    CHECK(ml_parse_number(out, (int)strlen(out), &v) == 1 && v == canon[i].v);
  }
  ml_na na = {0, NULL, NULL};
  char *texts[] = {"NA", "", "-999"};
  CHECK(ml_na_set(&na, texts, 3) == ML_OK);
  CHECK(ml_na_has_text(&na, "NA", 2) && ml_na_has_text(&na, "", 0) && !ml_na_has_text(&na, "N", 1));
  CHECK(ml_na_has_text(&na, "-999", 4) && !ml_na_has_text(&na, "-999.0", 6));
  ml_na_free(&na);
}

/* Section READ: na_values and numeric levels survive the round trip; the
** decoder checks numeric levels are canonical and sorted by value. */
static void read_section(void) {
  ml_model *m = sample(), *d = NULL;
  ml_feature *f = &m->feat[1];
  const char *lv[] = {"2", "9.5", "10"};
  for (int i = 0; i < 3; i++) {
    ml_free(f->levels[i]);
    f->levels[i] = ml_malloc(strlen(lv[i]) + 1);
    strcpy(f->levels[i], lv[i]);
  }
  f->num_levels = 1;
  m->reads = 1;
  char *texts[] = {"NA", ""};
  CHECK(ml_na_set(&m->na, texts, 2) == ML_OK);
  unsigned char *blob;
  int64_t len;
  char err[200];
  CHECK(ml_model_encode(m, NULL, &blob, &len) == ML_OK);
  CHECK(memcmp(blob + 12 + 8 + 36, "READ", 4) == 0); /* right after SHAP */
  CHECK(ml_model_decode(blob, len, &d, err, sizeof err) == ML_OK);
  if (d) {
    CHECK(d->reads && d->na.n == 2 && strcmp(d->na.text[1], "") == 0);
    CHECK(d->feat[1].num_levels && !d->feat[0].num_levels);
    CHECK(d->feat[1].lvnum[0] == 2 && d->feat[1].lvnum[1] == 9.5 && d->feat[1].lvnum[2] == 10);
    char *json;
    size_t jl;
    CHECK(ml_model_json(d, 0.95, &json, &jl) == ML_OK);
    CHECK(strstr(json, "\"na_values\":[\"NA\",\"\"]") != NULL);
    CHECK(strstr(json, "\"numeric_levels\":true") != NULL);
    ml_free(json);
  }
  ml_model_free(d);
  ml_free(blob);
  /* Sorted by bytes is not sorted by value, nor "2.0" canonical. */
  const char *bad[][3] = {{"10", "2", "9.5"}, {"2.0", "9.5", "10"}, {"2", "x", "10"}};
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < 3; i++) {
      ml_free(f->levels[i]);
      f->levels[i] = ml_malloc(strlen(bad[k][i]) + 1);
      strcpy(f->levels[i], bad[k][i]);
    }
    CHECK(ml_model_encode(m, NULL, &blob, &len) == ML_OK);
    CHECK(ml_model_decode(blob, len, &d, err, sizeof err) == ML_EINPUT);
    CHECK(strstr(err, k == 0 ? "not sorted" : "canonical") != NULL);
    ml_model_free(d);
    ml_free(blob);
  }
  /* Out of memory at every allocation of a decode with READ: no leak. */
  for (int i = 0; i < 3; i++) {
    ml_free(f->levels[i]);
    f->levels[i] = ml_malloc(strlen(lv[i]) + 1);
    strcpy(f->levels[i], lv[i]);
  }
  CHECK(ml_model_encode(m, NULL, &blob, &len) == ML_OK);
  decode_under_oom(blob, len);
  ml_free(blob);
  ml_model_free(m);
}

/* The rows' fingerprint (section rfpr) survives the codec; without it, none. */
static void fingerprint(void) {
  ml_model *m = sample(), *d = NULL;
  unsigned char *blob;
  int64_t len;
  char err[200];
  for (int has = 0; has < 2; has++) {
    m->has_rows_hash = has;
    m->rows_hash = has ? 0xFEDCBA9876543210ull : 0;
    CHECK(ml_model_encode(m, NULL, &blob, &len) == ML_OK);
    CHECK(ml_model_decode(blob, len, &d, err, sizeof err) == ML_OK);
    CHECK(d && d->has_rows_hash == has && d->rows_hash == m->rows_hash);
    ml_model_free(d);
    ml_free(blob);
  }
  ml_model_free(m);
}

/* Levels {blue, green, réd} (a, from sample) and {azure, green} (b): the
** union design, and maps that give each model's rows their union rows. */
static void union_map(void) {
  ml_model *a = sample(), *b = ml_model_new(2, 3), *u = NULL;
  char err[200];
  CHECK(b != NULL);
  b->flags = ML_MODEL_INTERCEPT;
  CHECK(ml_model_set_name(b, 0, "x") == ML_OK && ml_model_set_name(b, 1, "color") == ML_OK);
  b->feat[0].has_impute = 1;
  b->feat[0].impute = 2.5;
  ml_feature *f = &b->feat[1];
  f->type = ML_FEAT_CATEGORICAL;
  f->nlevels = 2;
  f->levels = ml_calloc(2 * sizeof(char *));
  f->levels[0] = ml_malloc(6);
  strcpy(f->levels[0], "azure");
  f->levels[1] = ml_malloc(6);
  strcpy(f->levels[1], "green");
  int remap = -1;
  CHECK(ml_model_compatible(a, b, &remap, err, sizeof err) && remap == 1);
  CHECK(ml_model_compatible(a, a, &remap, err, sizeof err) && remap == 0);
  CHECK(ml_model_union(a, b, &u, err, sizeof err) == ML_OK);
  if (u) {
    const ml_feature *fu = &u->feat[1];
    CHECK(u->p == 5 && fu->nlevels == 4 && strcmp(fu->levels[0], "azure") == 0 &&
          strcmp(fu->levels[1], "blue") == 0 && strcmp(fu->levels[2], "green") == 0 &&
          strcmp(fu->levels[3], "r\xc3\xa9""d") == 0);
    /* Each level of each model: its row [1, x, dummies, y] mapped by T' is
    ** the union's row [1, x, azure? no: blue, green, réd, y], exactly. */
    const ml_model *ms[2] = {a, b};
    for (int w = 0; w < 2; w++) {
      const ml_model *m = ms[w];
      double *T = NULL;
      CHECK(ml_model_design_map(m, u, &T) == ML_OK);
      if (!T) continue;
      int qa = m->p + 1;
      for (int l = 0; l < m->feat[1].nlevels; l++) {
        double xa[5] = {1, 1.75}, xu[6] = {1, 1.75}, got[6];
        for (int i = 1; i < m->feat[1].nlevels; i++) xa[1 + i] = i == l;
        xa[qa - 1] = -3.5;
        for (int i = 1; i < 4; i++) xu[1 + i] = strcmp(fu->levels[i], m->feat[1].levels[l]) == 0;
        xu[5] = -3.5;
        int same = 1;
        for (int c = 0; c < 6; c++) {
          got[c] = 0;
          for (int i = 0; i < qa; i++) got[c] += T[i + (int64_t)c * qa] * xa[i];
          same &= got[c] == xu[c];
        }
        CHECK(same);
      }
      ml_free(T);
    }
  }
  ml_model_free(a);
  ml_model_free(b);
  ml_model_free(u);
}

void test_model(void) {
  round_trip();
  defences();
  reading();
  read_section();
  fingerprint();
  union_map();
}
