/*
** model_blob.c: a model as a BLOB and back: CRC-32, the encoder and the
** decoder of the format model.h documents.  Free of SQLite.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "formula.h"
#include "glm.h"
#include "model.h"
#include "profile.h"
#include "strbuf.h"

/* ---- writing values ---- */

/* Little-endian, whatever the host, straight into the buffer, which
** ml_model_encode sizes beforehand: no call per byte, no growth per value. */
static void put_le(ml_sb *b, uint64_t v, int width) {
  if (b->n + (size_t)width >= b->cap && !ml_sb_reserve(b, (size_t)width)) return;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* the host's order is the format's: one store (a GROUP BY encodes a model a group) */
  if (width == 8) memcpy(b->z + b->n, &v, 8);
  else if (width == 4) {
    uint32_t u = (uint32_t)v;
    memcpy(b->z + b->n, &u, 4);
  } else
#endif
    for (int i = 0; i < width; i++) b->z[b->n + (size_t)i] = (char)(v >> (8 * i) & 0xFF);
  b->n += (size_t)width;
  b->z[b->n] = 0;
}

static void put_u8(ml_sb *b, unsigned v) { put_le(b, v, 1); }

static void put_u16(ml_sb *b, unsigned v) { put_le(b, v, 2); }

static void put_u32(ml_sb *b, uint32_t v) { put_le(b, v, 4); }

static void put_u64(ml_sb *b, uint64_t v) { put_le(b, v, 8); }

static void put_f64(ml_sb *b, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  put_u64(b, u);
}

static void put_str(ml_sb *b, const char *z) {
  size_t n = strlen(z);
  put_u32(b, (uint32_t)n);
  ml_sb_append(b, z, n);
}

/* Starts a section; returns the offset of its length field for end_section(). */
static size_t begin_section(ml_sb *b, const char *tag) {
  ml_sb_append(b, tag, 4);
  size_t at = b->n;
  put_u32(b, 0);
  return at;
}

static void end_section(ml_sb *b, size_t at) {
  if (b->oom) return;
  uint32_t len = (uint32_t)(b->n - at - 4);
  for (int i = 0; i < 4; i++) b->z[at + i] = (char)(len >> (8 * i));
}


/* ---- reading values ---- */

typedef struct reader {
  const unsigned char *z;
  int64_t n, i;
  int bad; /* read past the end */
} reader;

static int avail(reader *r, int64_t k) {
  if (r->bad || k < 0 || r->n - r->i < k) {
    r->bad = 1;
    return 0;
  }
  return 1;
}

static unsigned get_u8(reader *r) { return avail(r, 1) ? r->z[r->i++] : 0; }

static uint32_t get_u32(reader *r) {
  if (!avail(r, 4)) return 0;
  uint32_t v = 0;
  for (int k = 3; k >= 0; k--) v = (v << 8) | r->z[r->i + k];
  r->i += 4;
  return v;
}

static uint64_t get_u64(reader *r) {
  if (!avail(r, 8)) return 0;
  uint64_t v = 0;
  for (int k = 7; k >= 0; k--) v = (v << 8) | r->z[r->i + k];
  r->i += 8;
  return v;
}

static double get_f64(reader *r) {
  uint64_t u = get_u64(r);
  double v;
  memcpy(&v, &u, 8);
  return v;
}

static int valid_utf8(const unsigned char *z, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = z[i];
    size_t len = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
                 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    if (!len || n - i < len) return 0;
    for (size_t k = 1; k < len; k++)
      if ((z[i + k] & 0xC0) != 0x80) return 0;
    if (len == 3 && ((c == 0xE0 && z[i + 1] < 0xA0) || (c == 0xED && z[i + 1] >= 0xA0))) return 0;
    if (len == 4 && ((c == 0xF0 && z[i + 1] < 0x90) || (c == 0xF4 && z[i + 1] >= 0x90))) return 0;
    if (c == 0) return 0;
    i += len;
  }
  return 1;
}

/* A str field: NULL with *bad set when it is missing or not UTF-8. */
static char *get_str(reader *r, int *oom) {
  uint32_t n = get_u32(r);
  if (!avail(r, n)) return NULL;
  const unsigned char *z = r->z + r->i;
  if (!valid_utf8(z, n)) {
    r->bad = 1;
    return NULL;
  }
  r->i += n;
  char *s = ml_dup_n((const char *)z, n);
  if (!s) *oom = 1;
  return s;
}

/*
** ---- the sections, each its writer and its reader ----
** A reader gets the section's payload in d->s and the model so far in d->m
** (NULL only for SHAP, which makes it); ML_OK, ML_NOMEM, or ML_EINPUT with
** the message in d->err.  Each checks what it read: counts against the
** bytes left, values against their range, the payload's length exactly.
*/

typedef struct decoder {
  ml_model *m;
  reader s;        /* the section's payload */
  int64_t rest;    /* bytes after the section, the CRC excluded */
  int64_t n;       /* the whole BLOB's length, for messages */
  unsigned format;
  char *err;
  size_t nerr;
} decoder;

static int bad(decoder *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->err, d->nerr, fmt, ap);
  va_end(ap);
  return ML_EINPUT;
}

/* Payload bytes of the section being read. */
static int64_t section_len(const decoder *d) { return d->s.n - d->s.i; }

static int done(const reader *s) { return !s->bad && s->i == s->n; }

/* SHAP: the model's shape, first of all. */
static void put_shap(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  put_u32(b, m->flags);
  put_u32(b, (uint32_t)m->k);
  put_u32(b, (uint32_t)m->p);
  put_u64(b, (uint64_t)m->n);
  put_u64(b, (uint64_t)m->n_skipped);
  put_f64(b, m->tol);
}

static int get_shap(decoder *d) {
  reader *s = &d->s;
  uint32_t flags = get_u32(s), k = get_u32(s), p = get_u32(s);
  int64_t rows = (int64_t)get_u64(s), skipped = (int64_t)get_u64(s);
  double tol = get_f64(s);
  if (!done(s)) return bad(d, "invalid model BLOB: section SHAP has the wrong length");
  if (flags & ~(ML_MODEL_INTERCEPT | ML_MODEL_REFINED | ML_MODEL_WEIGHTED | ML_MODEL_UNSEEN_ZERO))
    return bad(d, "invalid model BLOB: unknown flags 0x%x", (unsigned)flags);
  if (k < 1 || k > ML_MAX_TERMS || p < 1 || p > ML_MAX_TERMS + ML_MAX_LEVELS)
    return bad(d, "invalid model BLOB: %lu features and %lu terms are out of range",
               (unsigned long)k, (unsigned long)p);
  if (rows < 0 || skipped < 0) return bad(d, "invalid model BLOB: negative row count");
  if (!(tol >= 0 && tol < 1)) return bad(d, "invalid model BLOB: aliasing tolerance out of range");
  /* Section COEF is required: a BLOB without room for it is refused
  ** before allocating for p terms.  The factor (RFAC, BFAC) is allocated
  ** once its section's length is checked. */
  if (9 * (int64_t)p + 8 > d->rest)
    return bad(d, "invalid model BLOB: %lu terms do not fit in its %lld bytes", (unsigned long)p,
               (long long)d->n);
  ml_model *m = d->m = ml_model_alloc((int)k, (int)p, 0);
  if (!m) return ML_NOMEM;
  m->format = (int)d->format;
  m->flags = flags;
  m->n = rows;
  m->n_skipped = skipped;
  m->tol = tol;
  return ML_OK;
}

/* FORM: the formula, right after SHAP: an older reader refuses the model. */
static int has_form(const ml_model *m, const char *version) {
  (void)version;
  return m->formula != NULL;
}

static void put_form(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  ml_sb_append(b, (const char *)m->form, m->nform);
}

static int get_form(decoder *d) {
  ml_model *m = d->m;
  ml_formula *f = NULL;
  char err[256];
  int rc = ml_formula_load(d->s.z + d->s.i, (size_t)section_len(d), &f, err, sizeof err);
  if (rc == ML_NOMEM) return rc;
  if (rc) return bad(d, "invalid model BLOB: section FORM: %s", err);
  if ((rc = ml_model_set_formula(m, f))) return rc;
  if (ml_formula_ncoef(f) != m->p || ml_formula_nrhs_cols(f) != m->k ||
      ml_formula_intercept(f) != ((m->flags & ML_MODEL_INTERCEPT) != 0))
    return bad(d, "invalid model BLOB: section FORM does not fit the model's shape");
  d->s.i = d->s.n;
  return ML_OK;
}

/* GLMF: the family, written right after SHAP, before any section an older
** reader could misread. */
static int has_glmf(const ml_model *m, const char *version) {
  (void)version;
  return m->family != ML_FAMILY_GAUSSIAN;
}

static void put_glmf(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  put_u8(b, (unsigned)m->family);
  put_u8(b, (unsigned)m->link);
  put_u8(b, m->converged ? 1 : 0);
  put_u8(b, 0);
  put_u32(b, (uint32_t)m->iterations);
  put_f64(b, m->deviance);
  put_f64(b, m->null_deviance);
  put_f64(b, m->aic);
  put_u64(b, (uint64_t)m->df_null);
  put_str(b, m->offset ? m->offset : "");
  put_str(b, m->ylevels[0] ? m->ylevels[0] : "");
  put_str(b, m->ylevels[1] ? m->ylevels[1] : "");
}

/* GLMF's three texts: the offset column, and the target's two levels, both
** or none, in byte order, for binomial only. */
static int get_glmf_texts(decoder *d, unsigned family) {
  int oom = 0;
  ml_model *m = d->m;
  char *off = get_str(&d->s, &oom), *l0 = get_str(&d->s, &oom), *l1 = get_str(&d->s, &oom);
  m->offset = off && off[0] ? off : NULL;
  if (off && !off[0]) ml_free(off);
  int levels = l0 && l1 && l0[0] && l1[0], half = !levels && ((l0 && l0[0]) || (l1 && l1[0]));
  if (levels) {
    m->ylevels[0] = l0;
    m->ylevels[1] = l1;
  } else {
    ml_free(l0);
    ml_free(l1);
  }
  if (oom) return ML_NOMEM;
  if ((levels && (family != ML_FAMILY_BINOMIAL || strcmp(l0, l1) >= 0)) || half)
    return bad(d, "invalid model BLOB: section GLMF is malformed");
  return ML_OK;
}

static int get_glmf(decoder *d) {
  reader *s = &d->s;
  ml_model *m = d->m;
  unsigned family = get_u8(s), link = get_u8(s), conv = get_u8(s), zero = get_u8(s);
  uint32_t iter = get_u32(s);
  double dev = get_f64(s), nulldev = get_f64(s), aic = get_f64(s);
  int64_t df_null = (int64_t)get_u64(s);
  int rc = get_glmf_texts(d, family);
  if (rc) return rc;
  if (!done(s) || (family != ML_FAMILY_BINOMIAL && family != ML_FAMILY_POISSON) ||
      (int)link != ml_family_link((int)family) || conv > 1 || zero != 0 || iter < 1 ||
      !(dev >= 0) || !(nulldev >= 0) || isnan(aic) || df_null < 0 || df_null > m->n)
    return bad(d, "invalid model BLOB: section GLMF is malformed");
  m->family = (int)family;
  m->link = (int)link;
  m->converged = (int)conv;
  m->iterations = (int)iter;
  m->deviance = dev;
  m->null_deviance = nulldev;
  m->aic = aic;
  m->df_null = df_null;
  return ML_OK;
}

/* READ: how values are read (na_values, numeric levels). */
static int has_read(const ml_model *m, const char *version) {
  (void)version;
  return m->reads;
}

static void put_read(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  put_u32(b, (uint32_t)m->na.n);
  for (int i = 0; i < m->na.n; i++) put_str(b, m->na.text[i]);
  for (int j = 0; j < m->k; j++) put_u8(b, m->feat[j].num_levels ? 1 : 0);
}

/* READ's na texts, into d->m->na. */
static int get_na_texts(decoder *d) {
  reader *s = &d->s;
  uint32_t nna = get_u32(s);
  if (s->bad || (int64_t)nna * 4 > s->n - s->i) return bad(d, "invalid model BLOB: section READ is malformed");
  char **texts = ml_calloc(sizeof(char *) * (nna ? nna : 1));
  if (!texts) return ML_NOMEM;
  uint32_t got = 0;
  int oom = 0;
  while (got < nna && !s->bad && !oom) {
    texts[got] = get_str(s, &oom);
    if (texts[got]) got++;
  }
  if (!oom && !s->bad) oom = ml_na_set(&d->m->na, texts, (int)nna) != ML_OK;
  for (uint32_t i = 0; i < got; i++) ml_free(texts[i]);
  ml_free(texts);
  return oom ? ML_NOMEM : ML_OK;
}

static int get_read(decoder *d) {
  ml_model *m = d->m;
  int rc = get_na_texts(d);
  if (rc) return rc;
  for (int j = 0; j < m->k; j++) {
    unsigned fl = get_u8(&d->s);
    if (fl > 1) return bad(d, "invalid model BLOB: section READ has bad flags for feature %d", j + 1);
    m->feat[j].num_levels = (int)fl;
  }
  if (!done(&d->s)) return bad(d, "invalid model BLOB: section READ is malformed");
  m->reads = 1;
  return ML_OK;
}

/* FEAT: the features, their levels and imputation. */
static void put_feat(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  for (int j = 0; j < m->k; j++) {
    const ml_feature *f = &m->feat[j];
    put_str(b, f->name);
    put_u8(b, (unsigned)f->type);
    put_u8(b, (unsigned)(f->has_impute ? 1 : 0) | (f->full ? 2 : 0));
    put_f64(b, f->has_impute && f->type == ML_FEAT_NUMERIC ? f->impute : 0);
    put_u32(b, (uint32_t)f->nlevels);
    for (int i = 0; i < f->nlevels; i++) put_str(b, f->levels[i]);
  }
}

/* Feature j's nl levels (their order is checked once READ is known). */
static int get_levels(decoder *d, int j, uint32_t nl) {
  ml_feature *f = &d->m->feat[j];
  int oom = 0;
  if (nl && !(f->levels = ml_calloc(sizeof(char *) * nl))) return ML_NOMEM;
  for (uint32_t i = 0; i < nl; i++) {
    f->levels[i] = get_str(&d->s, &oom);
    if (oom) return ML_NOMEM;
    if (d->s.bad)
      return bad(d, "invalid model BLOB: a level of feature %d is truncated or not UTF-8", j + 1);
    f->nlevels = (int)i + 1;
  }
  return ML_OK;
}

static int get_feature(decoder *d, int j) {
  reader *s = &d->s;
  ml_feature *f = &d->m->feat[j];
  int oom = 0;
  f->name = get_str(s, &oom);
  f->type = (int)get_u8(s);
  unsigned fflags = get_u8(s);
  f->has_impute = (fflags & 1) != 0;
  f->full = (fflags & 2) != 0;
  f->impute = get_f64(s);
  uint32_t nl = get_u32(s);
  if (oom) return ML_NOMEM;
  if (s->bad) return bad(d, "invalid model BLOB: feature %d is truncated or not UTF-8", j + 1);
  if (!f->name[0]) return bad(d, "invalid model BLOB: feature %d has no name", j + 1);
  if (f->type != ML_FEAT_NUMERIC && f->type != ML_FEAT_CATEGORICAL)
    return bad(d, "invalid model BLOB: feature %d has unknown type %d", j + 1, f->type);
  if ((fflags & ~3u) || (f->full && f->type != ML_FEAT_CATEGORICAL) || !isfinite(f->impute))
    return bad(d, "invalid model BLOB: feature %d has bad flags or imputed value", j + 1);
  if (f->type == ML_FEAT_NUMERIC ? nl != 0 : (nl < 1 || nl > (uint32_t)d->m->p + 1))
    return bad(d, "invalid model BLOB: feature %d has %lu levels", j + 1, (unsigned long)nl);
  if ((int64_t)nl * 4 > s->n - s->i)
    return bad(d, "invalid model BLOB: feature %d is truncated", j + 1);
  return get_levels(d, j, nl);
}

static int get_feat(decoder *d) {
  ml_model *m = d->m;
  int terms = (m->flags & ML_MODEL_INTERCEPT) ? 1 : 0;
  for (int j = 0; j < m->k; j++) {
    int rc = get_feature(d, j);
    if (rc) return rc;
    terms += ml_feature_terms(&m->feat[j]);
    if (terms > m->p && !m->formula) break;
  }
  if (d->s.i != d->s.n) return bad(d, "invalid model BLOB: section FEAT has the wrong length");
  if (terms != m->p && !m->formula)
    return bad(d, "invalid model BLOB: features make %d terms, not %d", terms, m->p);
  return ML_OK;
}

/* RFAC: the R factor's upper triangle, by column (BFAC's instead for a model with a block). */
static int has_rfac(const ml_model *m, const char *version) {
  (void)version;
  return m->fac == NULL;
}

static void put_rfac(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  int q = m->p + 1;
  for (int j = 0; j < q; j++)
    for (int i = 0; i <= j; i++) put_f64(b, m->R[i + (int64_t)j * q]);
}

static int get_rfac(decoder *d) {
  ml_model *m = d->m;
  int q = m->p + 1;
  if (m->p > ML_MAX_TERMS || section_len(d) != 8 * (int64_t)q * (q + 1) / 2)
    return bad(d, "invalid model BLOB: section RFAC has the wrong length");
  if (!(m->R = ml_calloc(8 * (uint64_t)q * (uint64_t)q))) return ML_NOMEM;
  for (int j = 0; j < q; j++)
    for (int i = 0; i <= j; i++) {
      double v = get_f64(&d->s);
      if (!isfinite(v)) return bad(d, "invalid model BLOB: R factor holds NaN or Inf");
      m->R[i + (int64_t)j * q] = v;
    }
  return ML_OK;
}

/* The test rows' count, weight, mean and spread of y: tfac's and tbfc's first numbers. */
static void put_test_moments(ml_sb *b, const ml_model *m) {
  put_u64(b, (uint64_t)m->test_n);
  put_f64(b, m->test_w);
  put_f64(b, m->test_mean);
  put_f64(b, m->test_m2);
}

/* Reads them into d->m: 0, or -1 when they cannot be a test set's. */
static int get_test_moments(decoder *d) {
  ml_model *m = d->m;
  m->test_n = (int64_t)get_u64(&d->s);
  m->test_w = get_f64(&d->s);
  m->test_mean = get_f64(&d->s);
  m->test_m2 = get_f64(&d->s);
  return m->test_n < 0 || !(m->test_w >= 0) || !isfinite(m->test_w) || !isfinite(m->test_mean) ||
                 !(m->test_m2 >= 0) || !isfinite(m->test_m2)
             ? -1
             : 0;
}

/*
** BFAC: a factor kept with its block (sfac.h), in place of RFAC: u32 the
** block's feature | u32 its first term | u32 nb | u32 q | nb x (q + 1) f64
** (a_l, G_l) | R's upper triangle by column.  tbfc: the test rows' (tfac's
** numbers, then the factor's rows and R, of the same nb and q).
*/
static void put_sfac(ml_sb *b, const ml_sfac *f) {
  int64_t rows = (int64_t)f->nb * (f->q + 1);
  for (int64_t i = 0; i < rows; i++) put_f64(b, f->S[i]);
  for (int j = 0; j < f->q; j++)
    for (int i = 0; i <= j; i++) put_f64(b, f->R[i + (int64_t)j * f->q]);
}

/* Reads a factor of nb block rows and q columns into *out (allocated), the
** rest of the section's length checked first.  what names the section. */
static int get_sfac(decoder *d, int64_t nb, int64_t q, ml_sfac **out, const char *what) {
  if (nb < 1 || nb > ML_MAX_LEVELS || q < 1 || q > ML_MAX_TERMS + 1 || nb + q - 1 != d->m->p ||
      section_len(d) != 8 * (nb * (q + 1) + q * (q + 1) / 2))
    return bad(d, "invalid model BLOB: section %s has the wrong shape", what);
  ml_sfac *f = *out = ml_calloc(sizeof *f);
  if (!f || ml_sfac_init(f, (int)nb, (int)q)) return ML_NOMEM;
  for (int64_t i = 0; i < nb * (q + 1); i++) f->S[i] = get_f64(&d->s);
  for (int j = 0; j < q; j++)
    for (int i = 0; i <= j; i++) f->R[i + (int64_t)j * q] = get_f64(&d->s);
  for (int64_t i = 0; i < nb * (q + 1); i++)
    if (!isfinite(f->S[i]) || (i % (q + 1) == 0 && f->S[i] < 0))
      return bad(d, "invalid model BLOB: section %s holds a bad number", what);
  for (int64_t i = 0; i < q * q; i++)
    if (!isfinite(f->R[i])) return bad(d, "invalid model BLOB: section %s holds NaN or Inf", what);
  return ML_OK;
}

static int has_bfac(const ml_model *m, const char *version) {
  (void)version;
  return m->fac != NULL;
}

static void put_bfac(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  put_u32(b, (uint32_t)m->bfeat);
  put_u32(b, (uint32_t)m->bstart);
  put_u32(b, (uint32_t)m->fac->nb);
  put_u32(b, (uint32_t)m->fac->q);
  put_sfac(b, m->fac);
}

static int get_bfac(decoder *d) {
  ml_model *m = d->m;
  uint32_t bfeat = get_u32(&d->s), bstart = get_u32(&d->s), nb = get_u32(&d->s), q = get_u32(&d->s);
  if (bfeat >= (uint32_t)m->k || bstart >= (uint32_t)m->p)
    return bad(d, "invalid model BLOB: section BFAC names no feature");
  m->bfeat = (int)bfeat;
  m->bstart = (int)bstart;
  return get_sfac(d, nb, q, &m->fac, "BFAC");
}

static int has_tbfc(const ml_model *m, const char *version) {
  (void)version;
  return m->test_fac != NULL;
}

static void put_tbfc(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  put_test_moments(b, m);
  put_sfac(b, m->test_fac);
}

static int get_tbfc(decoder *d) {
  ml_model *m = d->m;
  if (!m->fac) return bad(d, "invalid model BLOB: section tbfc without BFAC");
  if (get_test_moments(d)) return bad(d, "invalid model BLOB: section tbfc is malformed");
  return get_sfac(d, m->fac->nb, m->fac->q, &m->test_fac, "tbfc");
}

/* COEF: estimates, aliased flags, a refined fit's residual sum of squares. */
static void put_coef(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  for (int j = 0; j < m->p; j++) put_f64(b, m->beta[j]);
  for (int j = 0; j < m->p; j++) put_u8(b, m->aliased[j]);
  put_f64(b, m->rss);
}

static int get_coef(decoder *d) {
  ml_model *m = d->m;
  if (section_len(d) != 9 * (int64_t)m->p + 8)
    return bad(d, "invalid model BLOB: section COEF has the wrong length");
  for (int j = 0; j < m->p; j++) m->beta[j] = get_f64(&d->s);
  for (int j = 0; j < m->p; j++) {
    unsigned a = get_u8(&d->s);
    if (a > 1) return bad(d, "invalid model BLOB: bad aliased flag");
    m->aliased[j] = (unsigned char)a;
    if (!isfinite(m->beta[j]) || (a && m->beta[j] != 0))
      return bad(d, "invalid model BLOB: bad coefficient %d", j + 1);
  }
  m->rss = get_f64(&d->s);
  if (!isnan(m->rss) && !(m->rss >= 0 && isfinite(m->rss)))
    return bad(d, "invalid model BLOB: bad residual sum of squares");
  if (isnan(m->rss) != !(m->flags & ML_MODEL_REFINED))
    return bad(d, "invalid model BLOB: refined flag and residual sum of squares disagree");
  return ML_OK;
}

/* WGHT: a weighted fit's total weight and sum of log weights. */
static int has_wght(const ml_model *m, const char *version) {
  (void)version;
  return (m->flags & ML_MODEL_WEIGHTED) != 0;
}

static void put_wght(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  put_f64(b, m->sum_w);
  put_f64(b, m->sum_log_w);
}

static int get_wght(decoder *d) {
  ml_model *m = d->m;
  m->sum_w = get_f64(&d->s);
  m->sum_log_w = get_f64(&d->s);
  if (!done(&d->s) || !(m->sum_w > 0) || !isfinite(m->sum_w) || !isfinite(m->sum_log_w))
    return bad(d, "invalid model BLOB: section WGHT is malformed");
  return ML_OK;
}

/* RIDG: the ridge penalty. */
static int has_ridg(const ml_model *m, const char *version) {
  (void)version;
  return m->l2 > 0;
}

static void put_ridg(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  put_f64(b, m->l2);
}

static int get_ridg(decoder *d) {
  ml_model *m = d->m;
  m->l2 = get_f64(&d->s);
  if (!done(&d->s) || !(m->l2 > 0) || !isfinite(m->l2))
    return bad(d, "invalid model BLOB: section RIDG is malformed");
  return ML_OK;
}

/* ROBU: the robust covariance's type, and the matrix once computed. */
static int has_robu(const ml_model *m, const char *version) {
  (void)version;
  return m->robust != ML_ROBUST_NONE;
}

static void put_robu(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  put_u8(b, (unsigned)(m->robust - 1));
  put_u8(b, m->hc ? 1 : 0);
  if (m->hc)
    for (int64_t i = 0; i < (int64_t)m->p * m->p; i++) put_f64(b, m->hc[i]);
}

static int get_robu(decoder *d) {
  ml_model *m = d->m;
  unsigned type = get_u8(&d->s), has = get_u8(&d->s);
  if (d->s.bad || type > 3 || has > 1 ||
      section_len(d) != (has ? 8 * (int64_t)m->p * m->p : 0))
    return bad(d, "invalid model BLOB: section ROBU is malformed");
  m->robust = (int)type + 1;
  if (!has) return ML_OK;
  if (!(m->hc = ml_malloc(8 * (uint64_t)m->p * (uint64_t)m->p))) return ML_NOMEM;
  for (int64_t i = 0; i < (int64_t)m->p * m->p; i++) m->hc[i] = get_f64(&d->s);
  return ML_OK;
}

/* targ and info: one text each, the target's name and the writer's version. */
static int get_text(decoder *d, char **slot, const char *tag) {
  int oom = 0;
  *slot = get_str(&d->s, &oom);
  if (oom) return ML_NOMEM;
  if (!done(&d->s)) return bad(d, "invalid model BLOB: section %s is malformed", tag);
  return ML_OK;
}

static int has_targ(const ml_model *m, const char *version) {
  (void)version;
  return m->target != NULL;
}

static void put_targ(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  put_str(b, m->target);
}

static int get_targ(decoder *d) { return get_text(d, &d->m->target, "targ"); }

static int has_info(const ml_model *m, const char *version) {
  (void)m;
  return version != NULL;
}

static void put_info(ml_sb *b, const ml_model *m, const char *version) {
  (void)m;
  put_str(b, version);
}

static int get_info(decoder *d) { return get_text(d, &d->m->version, "info"); }

/* rfpr: the fitted rows' fingerprint, for ml_refine; one of another scheme
** reads as none. */
static int has_rfpr(const ml_model *m, const char *version) {
  (void)version;
  return m->has_rows_hash;
}

static void put_rfpr(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  put_u32(b, ML_ROWHASH_SCHEME);
  put_u64(b, m->rows_hash);
}

static int get_rfpr(decoder *d) {
  uint32_t scheme = get_u32(&d->s);
  uint64_t sum = get_u64(&d->s);
  if (!done(&d->s)) return bad(d, "invalid model BLOB: section rfpr is malformed");
  d->m->has_rows_hash = scheme == ML_ROWHASH_SCHEME;
  d->m->rows_hash = d->m->has_rows_hash ? sum : 0;
  return ML_OK;
}

/* prof: the training rows' profile of each feature (profile.h). */
static int has_prof(const ml_model *m, const char *version) {
  (void)version;
  return m->profile != NULL;
}

static void put_prof(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  uint64_t n = ml_profile_size(m->profile);
  if (b->n + (size_t)n >= b->cap && !ml_sb_reserve(b, (size_t)n)) return;
  ml_profile_write(m->profile, (unsigned char *)b->z + b->n);
  b->n += (size_t)n;
  b->z[b->n] = 0;
}

static int get_prof(decoder *d) {
  ml_model *m = d->m;
  unsigned char *cat = ml_malloc((uint64_t)m->k + 1);
  int *nl = ml_malloc(sizeof(int) * (uint64_t)m->k + 1);
  int rc = ML_NOMEM;
  if (cat && nl) {
    for (int j = 0; j < m->k; j++) {
      cat[j] = m->feat[j].type == ML_FEAT_CATEGORICAL;
      nl[j] = m->feat[j].nlevels;
    }
    rc = ml_profile_read(d->s.z + d->s.i, (uint64_t)(d->s.n - d->s.i), m->k, cat, nl, &m->profile);
    d->s.i = d->s.n;
  }
  ml_free(cat);
  ml_free(nl);
  return rc == ML_EINPUT ? bad(d, "invalid model BLOB: section prof is malformed") : rc;
}

/* tfac: the test rows' factor and the moments of their y, for ml_compare. */
static int has_tfac(const ml_model *m, const char *version) {
  (void)version;
  return m->test_R != NULL && !m->fac;
}

static void put_tfac(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  int q = m->p + 1;
  put_test_moments(b, m);
  for (int j = 0; j < q; j++)
    for (int i = 0; i <= j; i++) put_f64(b, m->test_R[i + (int64_t)j * q]);
}

static int get_tfac(decoder *d) {
  ml_model *m = d->m;
  int q = m->p + 1;
  if (section_len(d) != 32 + 8 * (int64_t)q * (q + 1) / 2)
    return bad(d, "invalid model BLOB: section tfac has the wrong length");
  if (get_test_moments(d)) return bad(d, "invalid model BLOB: section tfac is malformed");
  m->test_R = ml_calloc(8 * (uint64_t)q * (uint64_t)q);
  if (!m->test_R) return ML_NOMEM;
  for (int j = 0; j < q; j++)
    for (int i = 0; i <= j; i++) {
      double v = get_f64(&d->s);
      if (!isfinite(v)) return bad(d, "invalid model BLOB: section tfac holds NaN or Inf");
      m->test_R[i + (int64_t)j * q] = v;
    }
  return ML_OK;
}

/* incr: the mark of what ml_train read, for an incremental retrain; one
** of another scheme reads as none. */
static int has_incr(const ml_model *m, const char *version) {
  (void)version;
  return m->has_mark;
}

static void put_incr(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  put_u32(b, 1);
  put_u64(b, (uint64_t)m->mark);
  put_f64(b, m->train_w);
  put_f64(b, m->train_mean);
  put_f64(b, m->train_m2);
  put_u64(b, m->set_hash[0]);
  put_u64(b, m->set_hash[1]);
}

static int get_incr(decoder *d) {
  ml_model *m = d->m;
  if (section_len(d) != 52) return bad(d, "invalid model BLOB: section incr has the wrong length");
  uint32_t scheme = get_u32(&d->s);
  int64_t mark = (int64_t)get_u64(&d->s);
  double w = get_f64(&d->s), mean = get_f64(&d->s), m2 = get_f64(&d->s);
  uint64_t h0 = get_u64(&d->s), h1 = get_u64(&d->s);
  if (!(w >= 0) || !isfinite(w) || !isfinite(mean) || !(m2 >= 0) || !isfinite(m2))
    return bad(d, "invalid model BLOB: section incr is malformed");
  if (scheme != 1) return ML_OK;
  m->has_mark = 1;
  m->mark = mark;
  m->train_w = w;
  m->train_mean = mean;
  m->train_m2 = m2;
  m->set_hash[0] = h0;
  m->set_hash[1] = h1;
  return ML_OK;
}

/* nnul: the NULLs ml_train read by column, for the summary of an incremental retrain. */
static int has_nnul(const ml_model *m, const char *version) {
  (void)version;
  return m->nulls_read != NULL;
}

static void put_nnul(ml_sb *b, const ml_model *m, const char *version) {
  (void)version;
  put_u32(b, (uint32_t)m->nnulls_read);
  for (int i = 0; i < m->nnulls_read; i++) put_u64(b, (uint64_t)m->nulls_read[i]);
}

static int get_nnul(decoder *d) {
  ml_model *m = d->m;
  if (section_len(d) < 4) return bad(d, "invalid model BLOB: section nnul has the wrong length");
  uint32_t n = get_u32(&d->s);
  if (n == 0 || n > ML_MAX_TERMS + 3 || section_len(d) != 8 * (int64_t)n)
    return bad(d, "invalid model BLOB: section nnul has the wrong length");
  if (!(m->nulls_read = ml_malloc(8 * (uint64_t)n))) return ML_NOMEM;
  for (uint32_t i = 0; i < n; i++) {
    m->nulls_read[i] = (int64_t)get_u64(&d->s);
    if (m->nulls_read[i] < 0) return bad(d, "invalid model BLOB: section nnul is malformed");
  }
  m->nnulls_read = (int)n;
  return ML_OK;
}

/*
** ---- the table of sections ----
** In the order the encoder writes them.  critical says what the tag's case
** says (an upper-case tag must be known to the reader); every section may
** appear once; SHAP comes first and every other follows it; a required
** section must be there; iff_flag, when set, is a flag of SHAP that the
** section is present exactly when it is set.  model.h documents each.
*/
enum { SEC_FIRST = 1, SEC_REQUIRED = 2 };

typedef struct section {
  char tag[5];
  int critical;
  unsigned flags;     /* SEC_* */
  unsigned iff_flag;  /* ML_MODEL_* the section goes with, or 0 */
  int (*present)(const ml_model *m, const char *version); /* NULL: always written */
  void (*put)(ml_sb *b, const ml_model *m, const char *version);
  int (*get)(decoder *d);
} section;

static const section sections[] = {
    {"SHAP", 1, SEC_FIRST | SEC_REQUIRED, 0, NULL, put_shap, get_shap},
    {"BFAC", 1, 0, 0, has_bfac, put_bfac, get_bfac},
    {"FORM", 1, 0, 0, has_form, put_form, get_form},
    {"GLMF", 1, 0, 0, has_glmf, put_glmf, get_glmf},
    {"READ", 1, 0, 0, has_read, put_read, get_read},
    {"FEAT", 1, SEC_REQUIRED, 0, NULL, put_feat, get_feat},
    {"RFAC", 1, 0, 0, has_rfac, put_rfac, get_rfac},
    {"COEF", 1, SEC_REQUIRED, 0, NULL, put_coef, get_coef},
    {"WGHT", 1, 0, ML_MODEL_WEIGHTED, has_wght, put_wght, get_wght},
    {"RIDG", 1, 0, 0, has_ridg, put_ridg, get_ridg},
    {"ROBU", 1, 0, 0, has_robu, put_robu, get_robu},
    {"targ", 0, 0, 0, has_targ, put_targ, get_targ},
    {"info", 0, 0, 0, has_info, put_info, get_info},
    {"rfpr", 0, 0, 0, has_rfpr, put_rfpr, get_rfpr},
    {"prof", 0, 0, 0, has_prof, put_prof, get_prof},
    {"tfac", 0, 0, 0, has_tfac, put_tfac, get_tfac},
    {"tbfc", 0, 0, 0, has_tbfc, put_tbfc, get_tbfc},
    {"incr", 0, 0, 0, has_incr, put_incr, get_incr},
    {"nnul", 0, 0, 0, has_nnul, put_nnul, get_nnul},
};
#define N_SECTIONS ((int)(sizeof sections / sizeof sections[0]))

const char *ml_model_section(int i, int *critical) {
  if (i < 0 || i >= N_SECTIONS) return NULL;
  if (critical) *critical = sections[i].critical;
  return sections[i].tag;
}

/* ---- writing ---- */

/* Every fixed part, the numbers and the texts: the BLOB's size or more. */
static size_t blob_size(const ml_model *m, const char *version) {
  size_t q = (size_t)m->p + 1, fac = 8 * q * (q + 1) / 2;
  if (m->fac) /* the block's rows and R, not a dense triangle */
    fac = 8 * ((size_t)m->fac->nb * (size_t)(m->fac->q + 1) +
               (size_t)m->fac->q * (size_t)(m->fac->q + 1) / 2);
  size_t size = 256 + fac * (m->test_R || m->test_fac ? 2 : 1) + 9 * (size_t)m->p +
                (m->profile ? (size_t)ml_profile_size(m->profile) : 0) +
                (m->hc ? 8 * (size_t)m->p * (size_t)m->p : 0) + (version ? strlen(version) : 0) +
                (m->target ? strlen(m->target) : 0) + m->nform;
  for (int i = 0; m->reads && i < m->na.n; i++) size += 4 + strlen(m->na.text[i]);
  for (int j = 0; j < m->k; j++) {
    size += 24 + strlen(m->feat[j].name);
    for (int i = 0; i < m->feat[j].nlevels; i++) size += 4 + strlen(m->feat[j].levels[i]);
  }
  return size;
}

int ml_model_encode(const ml_model *m, const char *version, unsigned char **out, int64_t *len) {
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_reserve(&b, blob_size(m, version));
  ml_sb_append(&b, "SQML", 4);
  put_u16(&b, ML_FORMAT_VERSION);
  put_u16(&b, (unsigned)m->kind);
  put_u32(&b, 0); /* total length, patched below */
  for (int i = 0; i < N_SECTIONS; i++) {
    const section *sec = &sections[i];
    if (sec->present && !sec->present(m, version)) continue;
    size_t at = begin_section(&b, sec->tag);
    sec->put(&b, m, version);
    end_section(&b, at);
  }
  if (!b.oom) {
    uint32_t total = (uint32_t)(b.n + 4);
    for (int i = 0; i < 4; i++) b.z[8 + i] = (char)(total >> (8 * i));
    put_u32(&b, ml_crc32((const unsigned char *)b.z, b.n));
  }
  size_t n;
  char *z = ml_sb_finish(&b, &n);
  if (!z) return ML_NOMEM;
  *out = (unsigned char *)z;
  *len = (int64_t)n;
  return ML_OK;
}

/* ---- reading: the header, the walk over the sections, the final checks ---- */

/* Length, magic, format, total length, checksum and kind, before any
** section; on success r covers the sections and *format is set. */
static int read_header(decoder *d, const unsigned char *z, int64_t n, reader *r) {
  if (n < 16) return bad(d, "invalid model BLOB: %lld bytes is too short", (long long)n);
  if (memcmp(z, "SQML", 4) != 0) return bad(d, "not an sqlml model BLOB (bad magic)");
  *r = (reader){z, n, 4, 0};
  unsigned format = get_u8(r);
  format |= get_u8(r) << 8;
  unsigned kind = get_u8(r);
  kind |= get_u8(r) << 8;
  uint32_t total = get_u32(r);
  if (format == 0) return bad(d, "invalid model BLOB: format version 0");
  if (format > ML_FORMAT_VERSION)
    return bad(d, "model BLOB format version %u is newer than this sqlml reads (up to %d): upgrade sqlml",
               format, ML_FORMAT_VERSION);
  if ((int64_t)total != n)
    return bad(d, "invalid model BLOB: %lld bytes where its header says %lu (truncated or padded)",
               (long long)n, (unsigned long)total);
  r->n = n - 4;
  uint32_t crc = (uint32_t)z[n - 4] | (uint32_t)z[n - 3] << 8 | (uint32_t)z[n - 2] << 16 |
                 (uint32_t)z[n - 1] << 24;
  if (crc != ml_crc32(z, (size_t)(n - 4)))
    return bad(d, "invalid model BLOB: checksum mismatch (corrupted)");
  if (kind != ML_KIND_LINEAR) return bad(d, "invalid model BLOB: unknown model kind %u", kind);
  d->format = format;
  d->n = n;
  return ML_OK;
}

/* The entry of the table for tag, or -1. */
static int section_index(const char *tag) {
  for (int i = 0; i < N_SECTIONS; i++)
    if (memcmp(sections[i].tag, tag, 4) == 0) return i;
  return -1;
}

/* Reads the next section's header from r and decodes it by the table. */
static int read_section(decoder *d, reader *r, int *seen) {
  char tag[5] = {0};
  if (!avail(r, 8)) return bad(d, "invalid model BLOB: truncated section header");
  memcpy(tag, r->z + r->i, 4);
  r->i += 4;
  uint32_t len = get_u32(r);
  if (!avail(r, len)) return bad(d, "invalid model BLOB: section '%.4s' runs past the end", tag);
  d->s = (reader){r->z, r->i + len, r->i, 0};
  r->i += len;
  d->rest = r->n - r->i;
  for (int i = 0; i < 4; i++)
    if (!((tag[i] >= 'A' && tag[i] <= 'Z') || (tag[i] >= 'a' && tag[i] <= 'z') || tag[i] == ' '))
      return bad(d, "invalid model BLOB: malformed section tag");
  int i = section_index(tag);
  if (!d->m && (i < 0 || !(sections[i].flags & SEC_FIRST)))
    return bad(d, "invalid model BLOB: section '%s' before SHAP", tag);
  if (i < 0) {
    /* Unknown: an ancillary (lower-case) section is skipped. */
    if (tag[0] >= 'A' && tag[0] <= 'Z')
      return bad(d, "model BLOB has section '%s', unknown to this sqlml: it was written by a newer version",
                 tag);
    return ML_OK;
  }
  if (seen[i]++) return bad(d, "invalid model BLOB: repeated section %s", tag);
  return sections[i].get(d);
}

/* Levels in order, text by bytes, numbers by value and canonical: a level
** search relies on it.  Checked once every section is read, since READ
** says which order applies. */
static int check_levels(decoder *d, ml_feature *f, int j) {
  if (f->num_levels && f->type != ML_FEAT_CATEGORICAL)
    return bad(d, "invalid model BLOB: numeric feature %d has numeric levels", j + 1);
  if (!f->num_levels) {
    for (int i = 1; i < f->nlevels; i++)
      if (strcmp(f->levels[i - 1], f->levels[i]) >= 0)
        return bad(d, "invalid model BLOB: levels of feature %d are not sorted", j + 1);
    return ml_feature_hash_levels(f);
  }
  if (!(f->lvnum = ml_malloc(8 * (uint64_t)f->nlevels))) return ML_NOMEM;
  for (int i = 0; i < f->nlevels; i++) {
    char canon[ML_NUMBER_TEXT_MAX];
    double *v = &f->lvnum[i];
    int r = ml_parse_number(f->levels[i], (int)strlen(f->levels[i]), v);
    if (r < 0) return ML_NOMEM;
    if (!r || !isfinite(*v) || (ml_number_text(*v, canon), strcmp(canon, f->levels[i]) != 0))
      return bad(d, "invalid model BLOB: level %d of feature %d is not a number in canonical form",
                 i + 1, j + 1);
    if (i > 0 && !(f->lvnum[i - 1] < *v))
      return bad(d, "invalid model BLOB: levels of feature %d are not sorted", j + 1);
  }
  return ML_OK;
}

/* A model with section BFAC: its block is one feature's level dummies,
** and only a fit without ridge, robust errors or formula has one (a GLM's
** without a test factor). */
static int check_block(decoder *d) {
  ml_model *m = d->m;
  const ml_feature *f = &m->feat[m->bfeat];
  int t = (m->flags & ML_MODEL_INTERCEPT) ? 1 : 0;
  for (int j = 0; j < m->bfeat; j++) t += ml_feature_terms(&m->feat[j]);
  if (f->type != ML_FEAT_CATEGORICAL || t != m->bstart || m->fac->nb != f->nlevels - !f->full)
    return bad(d, "invalid model BLOB: section BFAC does not fit its feature");
  if (m->formula || m->l2 > 0 || m->robust || m->test_R || (m->family && m->test_fac))
    return bad(d, "invalid model BLOB: section BFAC with a formula, penalty, robust errors or "
                  "section tfac, or a GLM's with tbfc");
  return ML_OK;
}

/* After the last section: the required ones are there, flags agree with
** the sections they go with, levels are in order. */
static int check_model(decoder *d, const int *seen) {
  for (int i = 0; i < N_SECTIONS; i++)
    if ((sections[i].flags & SEC_REQUIRED) && !seen[i])
      return bad(d, "invalid model BLOB: a required section is missing");
  ml_model *m = d->m;
  for (int i = 0; i < N_SECTIONS; i++)
    if (sections[i].iff_flag && !seen[i] != !(m->flags & sections[i].iff_flag))
      return bad(d, "invalid model BLOB: weighted flag and section %s disagree", sections[i].tag);
  for (int j = 0; j < m->k; j++) {
    int rc = check_levels(d, &m->feat[j], j);
    if (rc) return rc;
  }
  if (!m->R == !m->fac) return bad(d, "invalid model BLOB: it needs one factor, RFAC or BFAC");
  return m->fac ? check_block(d) : ML_OK;
}

int ml_model_decode(const unsigned char *z, int64_t n, ml_model **out, char *err, size_t nerr) {
  decoder d = {.err = err, .nerr = nerr};
  int seen[N_SECTIONS] = {0};
  reader r = {0};
  *out = NULL;
  int rc = read_header(&d, z, n, &r);
  while (!rc && r.i < r.n) rc = read_section(&d, &r, seen);
  if (!rc) rc = check_model(&d, seen);
  if (rc) {
    ml_model_free(d.m);
    return rc;
  }
  *out = d.m;
  return ML_OK;
}
