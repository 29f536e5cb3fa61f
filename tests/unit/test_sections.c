/*
** Unit tests of model_blob.c's sections: every model of the fixture
** (tests/fixtures/models-v1.db, BLOBs sqlml 0.1.0 wrote) decodes and
** encodes back to its own bytes, and every entry of the section table,
** written, read back, truncated, lengthened, repeated or put before SHAP,
** is read or refused as it should be.
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "formula.h"
#include "glm.h"
#include "lsq.h"
#include "model.h"
#include "profile.h"

#include "fixtures_v1.h"

#define NFIXTURES ((int)(sizeof fixture_blobs / sizeof fixture_blobs[0]))

static uint32_t le32(const unsigned char *z) {
  return (uint32_t)z[0] | (uint32_t)z[1] << 8 | (uint32_t)z[2] << 16 | (uint32_t)z[3] << 24;
}

static void put32(unsigned char *z, uint32_t v) {
  for (int i = 0; i < 4; i++) z[i] = (unsigned char)(v >> (8 * i));
}

/* The BLOB with bytes [at, at + del) replaced by ins[0..nins), its total
** length and CRC made right again (malloc'd; *n its length). */
static unsigned char *splice(const unsigned char *z, int64_t len, int64_t at, int64_t del,
                             const unsigned char *ins, int64_t nins, int64_t *n) {
  *n = len - del + nins;
  unsigned char *b = malloc((size_t)*n);
  memcpy(b, z, (size_t)at);
  if (nins) memcpy(b + at, ins, (size_t)nins);
  memcpy(b + at + nins, z + at + del, (size_t)(len - at - del));
  put32(b + 8, (uint32_t)*n);
  put32(b + *n - 4, ml_crc32(b, (size_t)(*n - 4)));
  return b;
}

static int decodes(const unsigned char *z, int64_t n, char *err, size_t nerr) {
  ml_model *d = NULL;
  int rc = ml_model_decode(z, n, &d, err, nerr);
  ml_model_free(d);
  return rc;
}

/*
** Every section of a BLOB, each changed alone: one byte short, one byte
** long, written twice, put before SHAP.  Each is refused.  Returns how many
** sections the BLOB has; their tags into tags (up to max).
*/
static int mutate_sections(const unsigned char *z, int64_t len, char tags[][5], int max) {
  char err[300];
  int count = 0;
  for (int64_t at = 12; at < len - 4;) {
    uint32_t n = le32(z + at + 4);
    int64_t end = at + 8 + n, m;
    if (count < max) memcpy(tags[count], z + at, 4), tags[count][4] = 0;
    count++;
    unsigned char *b, hdr[8];
    /* One byte short: the header says n - 1, the last payload byte goes. */
    if (n > 0) {
      memcpy(hdr, z + at, 8);
      put32(hdr + 4, n - 1);
      unsigned char *t = splice(z, len, at, 8, hdr, 8, &m);
      b = splice(t, m, end - 1, 1, NULL, 0, &m);
      CHECK(decodes(b, m, err, sizeof err) == ML_EINPUT);
      free(t);
      free(b);
    }
    /* One byte long: a zero after the payload. */
    memcpy(hdr, z + at, 8);
    put32(hdr + 4, n + 1);
    unsigned char *t = splice(z, len, at, 8, hdr, 8, &m);
    b = splice(t, m, end, 0, (const unsigned char *)"", 1, &m);
    CHECK(decodes(b, m, err, sizeof err) == ML_EINPUT);
    free(t);
    free(b);
    /* Twice. */
    b = splice(z, len, end, 0, z + at, end - at, &m);
    CHECK(decodes(b, m, err, sizeof err) == ML_EINPUT);
    CHECK(strstr(err, "repeated section") != NULL);
    free(b);
    /* Before SHAP (itself excepted). */
    if (at > 12) {
      t = splice(z, len, at, end - at, NULL, 0, &m);
      b = splice(t, m, 12, 0, z + at, end - at, &m);
      CHECK(decodes(b, m, err, sizeof err) == ML_EINPUT);
      CHECK(strstr(err, "before SHAP") != NULL);
      free(t);
      free(b);
    }
    at = end;
  }
  return count;
}

/* The fixture's models: read, written back to the same bytes, defended. */
static void fixtures(void) {
  CHECK(NFIXTURES == 9);
  for (int i = 0; i < NFIXTURES; i++) {
    const unsigned char *z = fixture_blobs[i].z;
    int64_t len = fixture_blobs[i].len;
    ml_model *d = NULL;
    char err[300] = "";
    CHECK(ml_model_decode(z, len, &d, err, sizeof err) == ML_OK);
    if (!d) {
      fprintf(stderr, "fixture %s: %s\n", fixture_blobs[i].name, err);
      continue;
    }
    CHECK(d->format == 1 && d->version && strcmp(d->version, "0.1.0") == 0);
    unsigned char *e;
    int64_t n;
    CHECK(ml_model_encode(d, d->version, &e, &n) == ML_OK);
    CHECK(n == len && memcmp(e, z, (size_t)len) == 0);
    ml_free(e);
    ml_model_free(d);
    int all_refused = 1;
    for (int64_t k = 0; k < len; k++)
      if (decodes(z, k, err, sizeof err) != ML_EINPUT) all_refused = 0;
    CHECK(all_refused);
    char tags[16][5];
    CHECK(mutate_sections(z, len, tags, 16) >= 5);
  }
}

/* A model with every section this sqlml writes. */
static ml_model *every_section(void) {
  ml_model *m = ml_model_new(2, 4); /* intercept, x, g=2, g=3 */
  CHECK(m != NULL);
  m->flags = ML_MODEL_INTERCEPT | ML_MODEL_WEIGHTED;
  CHECK(ml_model_set_name(m, 0, "x") == ML_OK);
  CHECK(ml_model_set_name(m, 1, "g") == ML_OK);
  CHECK(ml_model_set_name(m, -1, "y") == ML_OK);
  ml_feature *f = &m->feat[1];
  f->type = ML_FEAT_CATEGORICAL;
  f->num_levels = 1;
  f->levels = ml_calloc(3 * sizeof(char *));
  const char *lv[] = {"1", "2", "10"};
  for (int i = 0; i < 3; i++) {
    f->levels[i] = ml_malloc(strlen(lv[i]) + 1);
    strcpy(f->levels[i], lv[i]);
    f->nlevels = i + 1;
  }
  for (int i = 0; i < 5; i++) m->R[i + i * 5] = 1 + i;
  m->n = 10;
  m->sum_w = 12;
  m->sum_log_w = 0.25;
  m->l2 = 0.5;
  m->robust = ML_ROBUST_HC1;
  m->hc = ml_calloc(8 * 16);
  for (int i = 0; i < 4; i++) m->hc[i + i * 4] = 1;
  m->reads = 1;
  char *na[] = {"NA"};
  CHECK(ml_na_set(&m->na, na, 1) == ML_OK);
  m->family = ML_FAMILY_BINOMIAL;
  m->link = ml_family_link(ML_FAMILY_BINOMIAL);
  m->converged = 1;
  m->iterations = 4;
  m->deviance = 3;
  m->null_deviance = 5;
  m->aic = 11;
  m->df_null = 9;
  m->offset = ml_dup_n("exposure", 8);
  m->ylevels[0] = ml_dup_n("no", 2);
  m->ylevels[1] = ml_dup_n("yes", 3);
  m->has_rows_hash = 1;
  m->rows_hash = 0x0123456789abcdefull;
  unsigned char cat[] = {0, 1};
  m->profile = ml_profile_new(2, cat);
  for (int i = 0; i < 10; i++) ml_numprof_add(&m->profile->num[0], i * 0.5);
  for (int i = 0; i < 10; i++) CHECK(ml_catprof_add(&m->profile->cat[1], i % 3) == ML_OK);
  int same[4] = {0, 1, 2, 3};
  CHECK(ml_catprof_remap(&m->profile->cat[1], same, 3) == ML_OK); /* as many as the levels */
  m->test_n = 4;
  m->test_w = 5;
  m->test_mean = 1.5;
  m->test_m2 = 2;
  m->test_R = ml_calloc(8 * 25);
  for (int i = 0; i < 5; i++) m->test_R[i + i * 5] = 2 + i;
  /* FORM: the formula y ~ x + g over the same columns and terms. */
  ml_formula *fo = NULL;
  char err[200];
  const char *glv[] = {"1", "10", "2"};
  CHECK(ml_formula_parse("y ~ x + g", NULL, 0, &fo, err, sizeof err) == ML_OK);
  CHECK(ml_formula_set_column(fo, 0, ML_FCOL_NUMERIC, NULL, 0, err, sizeof err) == ML_OK);
  CHECK(ml_formula_set_column(fo, 1, ML_FCOL_CATEGORICAL, glv, 3, err, sizeof err) == ML_OK);
  CHECK(ml_formula_set_column(fo, 2, ML_FCOL_NUMERIC, NULL, 0, err, sizeof err) == ML_OK);
  CHECK(ml_formula_design(fo, err, sizeof err) == ML_OK && ml_formula_ncoef(fo) == 4);
  CHECK(ml_model_set_formula(m, fo) == ML_OK);
  m->has_mark = 1;
  m->mark = 1234567;
  m->train_w = 12;
  m->train_mean = 0.5;
  m->train_m2 = 3;
  m->set_hash[0] = 7;
  m->set_hash[1] = 0xfedcba9876543210ull;
  m->nnulls_read = 3;
  m->nulls_read = ml_malloc(8 * 3);
  for (int i = 0; i < 3; i++) m->nulls_read[i] = 10 * i;
  return m;
}

/* Every entry of the section table: written in the table's order, read
** back, and refused when damaged. */
static void table(void) {
  int critical, nsec = 0;
  const char *tag;
  for (; (tag = ml_model_section(nsec, &critical)); nsec++) {
    CHECK(strlen(tag) == 4);
    CHECK(critical == (isupper((unsigned char)tag[0]) != 0));
  }
  CHECK(nsec == 19 && strcmp(ml_model_section(0, NULL), "SHAP") == 0);
  ml_model *m = every_section(), *d = NULL;
  unsigned char *z;
  int64_t len;
  char err[300] = "";
  CHECK(ml_model_encode(m, "9.9.9", &z, &len) == ML_OK);
  CHECK(ml_model_decode(z, len, &d, err, sizeof err) == ML_OK);
  if (d) {
    CHECK(d->flags == m->flags && d->sum_w == 12 && d->sum_log_w == 0.25 && d->l2 == 0.5);
    CHECK(d->robust == ML_ROBUST_HC1 && d->hc && d->hc[5] == 1);
    CHECK(d->reads && d->na.n == 1 && d->feat[1].num_levels && d->feat[1].lvnum[2] == 10);
    CHECK(d->family == ML_FAMILY_BINOMIAL && d->iterations == 4 && d->df_null == 9);
    CHECK(strcmp(d->offset, "exposure") == 0 && strcmp(d->ylevels[1], "yes") == 0);
    CHECK(strcmp(d->target, "y") == 0 && strcmp(d->version, "9.9.9") == 0);
    CHECK(d->has_rows_hash && d->rows_hash == m->rows_hash);
    CHECK(d->formula && strcmp(ml_formula_coef_name(d->formula, 3), "g2") == 0);
    CHECK(memcmp(d->R, m->R, 8 * 25) == 0);
    CHECK(d->test_R && memcmp(d->test_R, m->test_R, 8 * 25) == 0 && d->test_n == 4 && d->test_m2 == 2);
    CHECK(d->profile && d->profile->num[0].n == 10 && d->profile->num[0].max == 4.5 &&
          d->profile->cat[1].nlevels == 3 && d->profile->cat[1].count[0] == 4);
    CHECK(d->has_mark && d->mark == 1234567 && d->train_w == 12 && d->train_mean == 0.5 &&
          d->train_m2 == 3 && d->set_hash[0] == 7 && d->set_hash[1] == m->set_hash[1]);
    CHECK(d->nnulls_read == 3 && d->nulls_read[2] == 20);
  }
  ml_model_free(d);
  /* Every section but a block model's two (BFAC, tbfc: block_model() below). */
  char tags[19][5];
  int n = mutate_sections(z, len, tags, 19);
  CHECK(n == nsec - 2);
  for (int i = 0, t = 0; i < nsec && t < n; i++) {
    const char *tag = ml_model_section(i, NULL);
    if (strcmp(tag, "BFAC") != 0 && strcmp(tag, "tbfc") != 0) CHECK(strcmp(tags[t++], tag) == 0);
  }
  /* Without a required section, or with an unknown critical one, refused. */
  for (int64_t at = 12, m2; at < len - 4;) {
    int64_t end = at + 8 + le32(z + at + 4);
    int required = memcmp(z + at, "FEAT", 4) == 0 || memcmp(z + at, "RFAC", 4) == 0 ||
                   memcmp(z + at, "COEF", 4) == 0 || memcmp(z + at, "WGHT", 4) == 0;
    unsigned char *b = splice(z, len, at, end - at, NULL, 0, &m2);
    if (required) CHECK(decodes(b, m2, err, sizeof err) == ML_EINPUT);
    free(b);
    at = end;
  }
  ml_free(z);
  ml_model_free(m);
}

/*
** A model kept with its block (sections BFAC, tbfc): x, then g of 4 levels
** whose 3 dummies are the block; p = 5, the other columns the intercept and
** x, q = 3.
*/
static ml_model *blocked(void) {
  ml_model *m = ml_model_alloc(2, 5, 0);
  CHECK(ml_model_set_name(m, 0, "x") == ML_OK && ml_model_set_name(m, 1, "g") == ML_OK);
  m->flags = ML_MODEL_INTERCEPT;
  m->feat[1].type = ML_FEAT_CATEGORICAL;
  m->feat[1].levels = ml_calloc(sizeof(char *) * 4);
  const char *lv[] = {"a", "b", "c", "d"};
  for (int l = 0; l < 4; l++) m->feat[1].levels[l] = ml_dup_n(lv[l], 1);
  m->feat[1].nlevels = 4;
  m->n = 10;
  m->bfeat = 1;
  m->bstart = 2;
  ml_sfac *f[2] = {ml_calloc(sizeof(ml_sfac)), ml_calloc(sizeof(ml_sfac))};
  for (int i = 0; i < 2; i++) {
    CHECK(ml_sfac_init(f[i], 3, 3) == ML_OK);
    for (int l = 0; l < 3; l++) {
      double *r = ml_sfac_row(f[i], l);
      r[0] = 1 + l + i;
      r[1] = 0.5;
      r[2] = -0.25 * l;
      r[3] = 2;
    }
    for (int j = 0; j < 3; j++) f[i]->R[j + j * 3] = 3 + j + i;
    f[i]->R[0 + 2 * 3] = 0.75;
  }
  m->fac = f[0];
  m->test_fac = f[1];
  m->test_n = 4;
  m->test_w = 4;
  CHECK(ml_model_solve(m) == ML_OK);
  return m;
}

/* The block model's BLOB: read back, its sections defended, the factor required once. */
static void block_model(void) {
  ml_model *m = blocked(), *d = NULL;
  unsigned char *z, *b;
  int64_t len, n2;
  char err[300] = "";
  CHECK(ml_model_encode(m, NULL, &z, &len) == ML_OK);
  CHECK(ml_model_decode(z, len, &d, err, sizeof err) == ML_OK);
  if (d) {
    CHECK(!d->R && d->fac && d->bfeat == 1 && d->bstart == 2 && d->fac->nb == 3 && d->fac->q == 3);
    CHECK(memcmp(d->fac->S, m->fac->S, 8 * 12) == 0 && memcmp(d->fac->R, m->fac->R, 8 * 9) == 0);
    CHECK(d->test_fac && memcmp(d->test_fac->S, m->test_fac->S, 8 * 12) == 0 && d->test_n == 4);
    CHECK(memcmp(d->beta, m->beta, 8 * 5) == 0);
    /* Its dense form: the same normal equations in the terms' order. */
    CHECK(ml_model_densify(d) == ML_OK && d->R && d->test_R);
  }
  ml_model_free(d);
  char tags[8][5];
  CHECK(mutate_sections(z, len, tags, 8) == 5);
  CHECK(strcmp(tags[1], "BFAC") == 0 && strcmp(tags[4], "tbfc") == 0);
  /* Without BFAC (its test rows' tbfc last): no factor.  Its block on another feature: refused. */
  int64_t at = 12 + 8 + le32(z + 16), end = at + 8 + le32(z + at + 4);
  int64_t tb = len - 4 - (8 + 32 + 8 * (3 * 4 + 6));
  CHECK(memcmp(z + tb, "tbfc", 4) == 0);
  unsigned char *t = splice(z, len, tb, len - 4 - tb, NULL, 0, &n2);
  b = splice(t, n2, at, end - at, NULL, 0, &n2);
  CHECK(decodes(b, n2, err, sizeof err) == ML_EINPUT && strstr(err, "RFAC or BFAC"));
  free(t);
  free(b);
  unsigned char feat0[4] = {0, 0, 0, 0};
  b = splice(z, len, at + 8, 4, feat0, 4, &n2);
  CHECK(decodes(b, n2, err, sizeof err) == ML_EINPUT && strstr(err, "does not fit its feature"));
  free(b);
  ml_free(z);
  ml_model_free(m);
}

/*
** A model of 1002 terms kept with its block (more than a dense factor
** holds): its BLOB read back, and its statistics and JSON, without a
** covariance, made or refused as out of memory at every allocation.
*/
static void block_wide(void) {
  int nl = 1002, p = nl;
  ml_model *m = ml_model_alloc(1, p, 0), *d = NULL;
  CHECK(ml_model_set_name(m, 0, "g") == ML_OK);
  m->flags = ML_MODEL_INTERCEPT;
  ml_feature *f = &m->feat[0];
  f->type = ML_FEAT_CATEGORICAL;
  f->levels = ml_calloc(sizeof(char *) * (uint64_t)nl);
  for (int l = 0; l < nl; l++) {
    char z[8];
    snprintf(z, sizeof z, "l%04d", l);
    f->levels[l] = ml_dup_n(z, 5);
  }
  f->nlevels = nl;
  m->n = 5000;
  m->bfeat = 0;
  m->bstart = 1;
  m->fac = ml_calloc(sizeof(ml_sfac));
  CHECK(ml_sfac_init(m->fac, nl - 1, 2) == ML_OK); /* the intercept and y */
  for (int l = 0; l < nl - 1; l++) {
    double *r = ml_sfac_row(m->fac, l);
    r[0] = 2;
    r[1] = 1 + 0.001 * l;
    r[2] = 0.5 * (l % 7);
  }
  m->fac->R[0] = 3;
  m->fac->R[2] = 1;
  m->fac->R[3] = 2;
  CHECK(ml_model_solve(m) == ML_OK);
  unsigned char *z;
  int64_t len;
  char err[300] = "";
  CHECK(ml_model_encode(m, NULL, &z, &len) == ML_OK);
  CHECK(ml_model_decode(z, len, &d, err, sizeof err) == ML_OK && d && d->p == p && !d->R);
  ml_free(z);
  int rc = ML_NOMEM;
  for (long n = 0; rc == ML_NOMEM; n++) {
    ml_lsq_stats st;
    mem_fail_after(n);
    rc = ml_model_stats(d, &st);
    mem_fail_after(-1);
    if (rc == ML_OK) {
      CHECK(!st.cov && st.rank == p && isfinite(st.se[0]) && isfinite(st.se[p - 1]) && isnan(st.cond));
      ml_lsq_stats_free(&st);
    }
  }
  CHECK(rc == ML_OK);
  rc = ML_NOMEM;
  for (long n = 0; rc == ML_NOMEM; n++) {
    char *json = NULL;
    size_t jl;
    mem_fail_after(n);
    rc = ml_model_json(d, 0.95, &json, &jl);
    mem_fail_after(-1);
    CHECK(rc == ML_OK || rc == ML_NOMEM);
    if (rc == ML_OK) CHECK(strstr(json, "\"covariance\":null") != NULL);
    ml_free(json);
  }
  ml_model_free(d);
  ml_model_free(m);
}

void test_sections(void) {
  fixtures();
  table();
  block_model();
  block_wide();
}
