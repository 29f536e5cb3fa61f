/*
** model.c: the model struct, its BLOB codec and JSON export.  See model.h.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <locale.h>

#include "dist.h"
#include "glm.h"
#include "lsq.h"
#include "model.h"
#include "profile.h"
#include "strbuf.h"

ml_model *ml_model_new(int k, int p) {
  ml_model *m = ml_calloc(sizeof *m);
  if (!m) return NULL;
  m->format = ML_FORMAT_VERSION;
  m->kind = ML_KIND_LINEAR;
  m->k = k;
  m->p = p;
  m->tol = ML_LSQ_TOL;
  m->rss = NAN;
  int64_t q = p + 1;
  m->feat = ml_calloc(sizeof(ml_feature) * (uint64_t)k);
  m->R = ml_calloc(8 * (uint64_t)(q * q));
  m->beta = ml_calloc(8 * (uint64_t)p);
  m->aliased = ml_calloc((uint64_t)p);
  if (!m->feat || !m->R || !m->beta || !m->aliased) {
    ml_model_free(m);
    return NULL;
  }
  return m;
}

static void feature_clear(ml_feature *f) {
  ml_free(f->name);
  for (int i = 0; i < f->nlevels; i++) ml_free(f->levels[i]);
  ml_free(f->levels);
  ml_free(f->lvnum);
}

/* ---- reading values: numbers in text, missing-value texts ---- */

/* SQLite's white space (sqlite3Isspace): what CAST skips around a number. */
static int is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

int ml_parse_number(const char *z, int n, double *out) {
  int i = 0, e = n, digits = 0;
  while (i < e && is_space(z[i])) i++;
  while (e > i && is_space(z[e - 1])) e--;
  int start = i;
  if (i < e && (z[i] == '+' || z[i] == '-')) i++;
  while (i < e && is_digit(z[i])) i++, digits++;
  if (i < e && z[i] == '.')
    for (i++; i < e && is_digit(z[i]); i++) digits++;
  if (!digits) return 0;
  if (i < e && (z[i] == 'e' || z[i] == 'E')) {
    int ed = 0;
    if (++i < e && (z[i] == '+' || z[i] == '-')) i++;
    while (i < e && is_digit(z[i])) i++, ed++;
    if (!ed) return 0;
  }
  if (i != e) return 0;
  /* Rewritten in JSON's grammar (no '+', no leading zeros, digits on both
  ** sides of the point) for ml_parse_double, which reads it whatever the C
  ** locale's decimal point. */
  char small[128], *buf = small;
  if (e - start + 3 > (int)sizeof small && !(buf = ml_malloc((uint64_t)(e - start) + 3))) return -1;
  int o = 0;
  i = start;
  if (z[i] == '+' || z[i] == '-') {
    if (z[i] == '-') buf[o++] = '-';
    i++;
  }
  while (i + 1 < e && z[i] == '0' && is_digit(z[i + 1])) i++;
  if (!is_digit(z[i])) buf[o++] = '0';
  while (i < e && is_digit(z[i])) buf[o++] = z[i++];
  if (i < e && z[i] == '.') {
    i++;
    if (i < e && is_digit(z[i])) {
      buf[o++] = '.';
      while (i < e && is_digit(z[i])) buf[o++] = z[i++];
    }
  }
  while (i < e) buf[o++] = z[i++];
  int rc = ml_parse_double(buf, (size_t)o, out);
  if (buf != small) ml_free(buf);
  return rc == 0 ? 1 : rc == -2 ? -1 : 0;
}

/* s with the C locale's decimal point written '.' (in place). */
static void point_to_dot(char *s) {
  const char *dp = localeconv()->decimal_point;
  if (!dp || !dp[0] || strcmp(dp, ".") == 0) return;
  char *at = strstr(s, dp);
  if (!at) return;
  size_t dpl = strlen(dp);
  *at = '.';
  memmove(at + 1, at + dpl, strlen(at + dpl) + 1);
}

void ml_number_text(double d, char out[ML_NUMBER_TEXT_MAX]) {
  char sci[ML_NUMBER_TEXT_MAX + 8], fix[ML_NUMBER_TEXT_MAX + 340];
  if (!isfinite(d)) {
    snprintf(out, ML_NUMBER_TEXT_MAX, "%s", isnan(d) ? "NaN" : d > 0 ? "Inf" : "-Inf");
    return;
  }
  if (d == 0) d = 0; /* -0 is level "0" */
  int p = 1;
  for (; p < 17; p++) {
    snprintf(sci, sizeof sci, "%.*e", p - 1, d);
    if (strtod(sci, NULL) == d) break;
  }
  snprintf(sci, sizeof sci, "%.*e", p - 1, d);
  int x = atoi(strchr(sci, 'e') + 1), dec = p - 1 - x;
  snprintf(fix, sizeof fix, "%.*f", dec > 0 ? dec : 0, d);
  point_to_dot(sci);
  point_to_dot(fix);
  /* The shorter is at most 24 bytes ("-1.2345678901234567e-300"). */
  const char *best = strlen(fix) <= strlen(sci) ? fix : sci;
  size_t n = strlen(best) < ML_NUMBER_TEXT_MAX ? strlen(best) : ML_NUMBER_TEXT_MAX - 1;
  memcpy(out, best, n);
  out[n] = 0;
}

void ml_na_free(ml_na *na) {
  for (int i = 0; i < na->n; i++) ml_free(na->text[i]);
  ml_free(na->text);
  memset(na, 0, sizeof *na);
}

int ml_na_set(ml_na *na, char *const *texts, int n) {
  ml_na_free(na);
  if (n == 0) return ML_OK;
  na->text = ml_calloc(sizeof(char *) * (uint64_t)n);
  if (!na->text) goto nomem;
  for (int i = 0; i < n; i++) {
    size_t len = strlen(texts[i]);
    if (!(na->text[i] = ml_malloc(len + 1))) goto nomem;
    memcpy(na->text[i], texts[i], len + 1);
    na->n = i + 1;
  }
  return ML_OK;
nomem:
  ml_na_free(na);
  return ML_NOMEM;
}

int ml_na_has_text(const ml_na *na, const char *z, int n) {
  for (int i = 0; i < na->n; i++)
    if ((int)strlen(na->text[i]) == n && memcmp(na->text[i], z, (size_t)n) == 0) return 1;
  return 0;
}

void ml_model_free(ml_model *m) {
  if (!m) return;
  if (m->feat)
    for (int j = 0; j < m->k; j++) feature_clear(&m->feat[j]);
  ml_free(m->feat);
  ml_free(m->R);
  ml_free(m->beta);
  ml_free(m->aliased);
  ml_free(m->hc);
  ml_free(m->W);
  ml_free(m->target);
  ml_free(m->version);
  ml_na_free(&m->na);
  ml_free(m->offset);
  ml_free(m->ylevels[0]);
  ml_free(m->ylevels[1]);
  ml_free(m->test_R);
  ml_profile_free(m->profile);
  ml_free(m);
}

static char *dup_n(const char *z, size_t n) {
  char *s = ml_malloc(n + 1);
  if (s) {
    memcpy(s, z, n);
    s[n] = 0;
  }
  return s;
}

int ml_model_set_name(ml_model *m, int j, const char *name) {
  char *s = dup_n(name, strlen(name));
  if (!s) return ML_NOMEM;
  char **slot = j < 0 ? &m->target : &m->feat[j].name;
  ml_free(*slot);
  *slot = s;
  return ML_OK;
}

int ml_model_solve(ml_model *m) {
  int q = m->p + 1, rank, rc;
  double *W = ml_malloc(8 * (uint64_t)q * (uint64_t)q);
  double *b = ml_malloc(8 * (uint64_t)q);
  rc = ML_NOMEM;
  if (!W || !b) goto out;
  if (m->l2 > 0) {
    /* A ridge fit keeps every column: the penalty makes the problem full rank. */
    memset(m->aliased, 0, (size_t)m->p);
    rc = ml_lsq_ridge(m->R, q, (m->flags & ML_MODEL_WEIGHTED) ? m->sum_w : (double)m->n, m->l2,
                      m->beta);
    if (rc) goto out;
  } else {
    rc = ml_lsq_reduce(m->R, q, m->tol, m->aliased, W, &rank);
    if (rc) goto out;
    rc = ml_lsq_coef(W, q, rank, b);
    if (rc) goto out;
    for (int j = 0, k = 0; j < m->p; j++) m->beta[j] = m->aliased[j] ? 0 : b[k++];
  }
  m->flags &= ~ML_MODEL_REFINED;
  m->rss = NAN;
  ml_free(m->hc);
  m->hc = NULL;
out:
  ml_free(W);
  ml_free(b);
  return rc;
}

int ml_model_prepare_intervals(ml_model *m) {
  if (m->W) return ML_OK;
  int q = m->p + 1;
  unsigned char *al = ml_malloc((uint64_t)m->p);
  double *W = ml_malloc(8 * (uint64_t)q * (uint64_t)q);
  int rc = ML_NOMEM;
  if (al && W) {
    memcpy(al, m->aliased, (size_t)m->p);
    rc = ml_lsq_reduce(m->R, q, -1, al, W, &m->rank);
  }
  ml_free(al);
  if (rc) {
    ml_free(W);
    return rc;
  }
  double rss = isnan(m->rss) ? W[m->rank + (int64_t)m->rank * q] * W[m->rank + (int64_t)m->rank * q]
                             : m->rss;
  m->df_resid = (double)(m->n - m->rank);
  m->sigma = m->df_resid > 0 ? sqrt(rss / m->df_resid) : NAN;
  m->W = W;
  return ML_OK;
}

int ml_model_stats(const ml_model *m, ml_lsq_stats *st) {
  ml_lsq_fitinfo fi = {m->n, (m->flags & ML_MODEL_INTERCEPT) != 0, m->aliased, m->beta, m->rss,
                       (m->flags & ML_MODEL_WEIGHTED) ? m->sum_log_w : 0, m->l2 > 0, m->hc,
                       m->family != ML_FAMILY_GAUSSIAN};
  return ml_lsq_stats_compute(m->R, m->p + 1, &fi, st);
}

int ml_model_compatible(const ml_model *a, const ml_model *b, int *remap, char *err, size_t nerr) {
  *remap = 0;
  /* A GLM's factor holds the working weights of its own last iteration:
  ** two of them do not make the fit of the union. */
  if (a->family != ML_FAMILY_GAUSSIAN || b->family != ML_FAMILY_GAUSSIAN) {
    snprintf(err, nerr, "a %s model cannot be merged: its fit iterates over all the rows "
                        "(refit the union with ml_train)",
             ml_family_name(a->family != ML_FAMILY_GAUSSIAN ? a->family : b->family));
    return 0;
  }
  if (a->kind != b->kind) {
    snprintf(err, nerr, "the models are of different kinds");
    return 0;
  }
  if (a->k != b->k) {
    snprintf(err, nerr, "the models have %d and %d features", a->k, b->k);
    return 0;
  }
  if ((a->flags & ML_MODEL_INTERCEPT) != (b->flags & ML_MODEL_INTERCEPT)) {
    snprintf(err, nerr, "one model has an intercept and the other has not");
    return 0;
  }
  if (a->tol != b->tol || a->l2 != b->l2 || a->robust != b->robust ||
      (a->flags & (ML_MODEL_WEIGHTED | ML_MODEL_UNSEEN_ZERO)) !=
          (b->flags & (ML_MODEL_WEIGHTED | ML_MODEL_UNSEEN_ZERO))) {
    snprintf(err, nerr, "the models were fitted with different options");
    return 0;
  }
  int same_na = a->reads == b->reads && a->na.n == b->na.n;
  for (int i = 0; same_na && i < a->na.n; i++) same_na = strcmp(a->na.text[i], b->na.text[i]) == 0;
  if (!same_na) {
    snprintf(err, nerr, "the models read values differently (na_values)");
    return 0;
  }
  for (int j = 0; j < a->k; j++) {
    const ml_feature *fa = &a->feat[j], *fb = &b->feat[j];
    if (strcmp(fa->name, fb->name) != 0) {
      snprintf(err, nerr, "feature %d is '%s' in one model and '%s' in the other", j + 1, fa->name,
               fb->name);
      return 0;
    }
    if (fa->type != fb->type || fa->full != fb->full) {
      snprintf(err, nerr, "feature %d (%s) is %s in one model and %s in the other", j + 1, fa->name,
               fa->type == ML_FEAT_NUMERIC ? "numeric" : "categorical",
               fb->type == ML_FEAT_NUMERIC ? "numeric" : "categorical");
      return 0;
    }
    if (fa->num_levels != fb->num_levels) {
      snprintf(err, nerr, "feature %d (%s) has numeric levels in one model and text levels in the "
                          "other", j + 1, fa->name);
      return 0;
    }
    if (fa->type == ML_FEAT_NUMERIC) {
      /* An imputed value is the mean of one model's rows: the union's differs. */
      if (fa->has_impute != fb->has_impute || (fa->has_impute && fa->impute != fb->impute)) {
        snprintf(err, nerr, "feature %d (%s) reads NULL as its mean, which differs between the "
                            "models: the merge would not be the fit of the union of the rows",
                 j + 1, fa->name);
        return 0;
      }
      continue;
    }
    /* Levels (and the NULL level) may differ: the union design holds both. */
    int same = fa->nlevels == fb->nlevels && fa->has_impute == fb->has_impute;
    for (int i = 0; same && i < fa->nlevels; i++) same = strcmp(fa->levels[i], fb->levels[i]) == 0;
    /* The union is sorted by bytes (ml_model_union): numeric levels, sorted
    ** by value, would come out in another order. */
    if (!same && fa->num_levels) {
      snprintf(err, nerr, "feature %d (%s) has numeric levels that differ between the models; "
                          "merging those is not supported: fit the parts with the same levels",
               j + 1, fa->name);
      return 0;
    }
    if (!same) *remap = 1;
  }
  return 1;
}

/*
** ---- CRC-32 (IEEE 802.3, reflected, as zlib), a byte at a time ----
** The 256-entry table is what the polynomial gives (t[i] is i shifted
** through it eight times); four bits at a time cost twice the lookups, and
** every decode of a BLOB checks its sum.
*/

static const uint32_t crc_table[256] = {
      0x00000000, 0x77073096, 0xEE0E612C, 0x990951BA, 0x076DC419, 0x706AF48F,
      0xE963A535, 0x9E6495A3, 0x0EDB8832, 0x79DCB8A4, 0xE0D5E91E, 0x97D2D988,
      0x09B64C2B, 0x7EB17CBD, 0xE7B82D07, 0x90BF1D91, 0x1DB71064, 0x6AB020F2,
      0xF3B97148, 0x84BE41DE, 0x1ADAD47D, 0x6DDDE4EB, 0xF4D4B551, 0x83D385C7,
      0x136C9856, 0x646BA8C0, 0xFD62F97A, 0x8A65C9EC, 0x14015C4F, 0x63066CD9,
      0xFA0F3D63, 0x8D080DF5, 0x3B6E20C8, 0x4C69105E, 0xD56041E4, 0xA2677172,
      0x3C03E4D1, 0x4B04D447, 0xD20D85FD, 0xA50AB56B, 0x35B5A8FA, 0x42B2986C,
      0xDBBBC9D6, 0xACBCF940, 0x32D86CE3, 0x45DF5C75, 0xDCD60DCF, 0xABD13D59,
      0x26D930AC, 0x51DE003A, 0xC8D75180, 0xBFD06116, 0x21B4F4B5, 0x56B3C423,
      0xCFBA9599, 0xB8BDA50F, 0x2802B89E, 0x5F058808, 0xC60CD9B2, 0xB10BE924,
      0x2F6F7C87, 0x58684C11, 0xC1611DAB, 0xB6662D3D, 0x76DC4190, 0x01DB7106,
      0x98D220BC, 0xEFD5102A, 0x71B18589, 0x06B6B51F, 0x9FBFE4A5, 0xE8B8D433,
      0x7807C9A2, 0x0F00F934, 0x9609A88E, 0xE10E9818, 0x7F6A0DBB, 0x086D3D2D,
      0x91646C97, 0xE6635C01, 0x6B6B51F4, 0x1C6C6162, 0x856530D8, 0xF262004E,
      0x6C0695ED, 0x1B01A57B, 0x8208F4C1, 0xF50FC457, 0x65B0D9C6, 0x12B7E950,
      0x8BBEB8EA, 0xFCB9887C, 0x62DD1DDF, 0x15DA2D49, 0x8CD37CF3, 0xFBD44C65,
      0x4DB26158, 0x3AB551CE, 0xA3BC0074, 0xD4BB30E2, 0x4ADFA541, 0x3DD895D7,
      0xA4D1C46D, 0xD3D6F4FB, 0x4369E96A, 0x346ED9FC, 0xAD678846, 0xDA60B8D0,
      0x44042D73, 0x33031DE5, 0xAA0A4C5F, 0xDD0D7CC9, 0x5005713C, 0x270241AA,
      0xBE0B1010, 0xC90C2086, 0x5768B525, 0x206F85B3, 0xB966D409, 0xCE61E49F,
      0x5EDEF90E, 0x29D9C998, 0xB0D09822, 0xC7D7A8B4, 0x59B33D17, 0x2EB40D81,
      0xB7BD5C3B, 0xC0BA6CAD, 0xEDB88320, 0x9ABFB3B6, 0x03B6E20C, 0x74B1D29A,
      0xEAD54739, 0x9DD277AF, 0x04DB2615, 0x73DC1683, 0xE3630B12, 0x94643B84,
      0x0D6D6A3E, 0x7A6A5AA8, 0xE40ECF0B, 0x9309FF9D, 0x0A00AE27, 0x7D079EB1,
      0xF00F9344, 0x8708A3D2, 0x1E01F268, 0x6906C2FE, 0xF762575D, 0x806567CB,
      0x196C3671, 0x6E6B06E7, 0xFED41B76, 0x89D32BE0, 0x10DA7A5A, 0x67DD4ACC,
      0xF9B9DF6F, 0x8EBEEFF9, 0x17B7BE43, 0x60B08ED5, 0xD6D6A3E8, 0xA1D1937E,
      0x38D8C2C4, 0x4FDFF252, 0xD1BB67F1, 0xA6BC5767, 0x3FB506DD, 0x48B2364B,
      0xD80D2BDA, 0xAF0A1B4C, 0x36034AF6, 0x41047A60, 0xDF60EFC3, 0xA867DF55,
      0x316E8EEF, 0x4669BE79, 0xCB61B38C, 0xBC66831A, 0x256FD2A0, 0x5268E236,
      0xCC0C7795, 0xBB0B4703, 0x220216B9, 0x5505262F, 0xC5BA3BBE, 0xB2BD0B28,
      0x2BB45A92, 0x5CB36A04, 0xC2D7FFA7, 0xB5D0CF31, 0x2CD99E8B, 0x5BDEAE1D,
      0x9B64C2B0, 0xEC63F226, 0x756AA39C, 0x026D930A, 0x9C0906A9, 0xEB0E363F,
      0x72076785, 0x05005713, 0x95BF4A82, 0xE2B87A14, 0x7BB12BAE, 0x0CB61B38,
      0x92D28E9B, 0xE5D5BE0D, 0x7CDCEFB7, 0x0BDBDF21, 0x86D3D2D4, 0xF1D4E242,
      0x68DDB3F8, 0x1FDA836E, 0x81BE16CD, 0xF6B9265B, 0x6FB077E1, 0x18B74777,
      0x88085AE6, 0xFF0F6A70, 0x66063BCA, 0x11010B5C, 0x8F659EFF, 0xF862AE69,
      0x616BFFD3, 0x166CCF45, 0xA00AE278, 0xD70DD2EE, 0x4E048354, 0x3903B3C2,
      0xA7672661, 0xD06016F7, 0x4969474D, 0x3E6E77DB, 0xAED16A4A, 0xD9D65ADC,
      0x40DF0B66, 0x37D83BF0, 0xA9BCAE53, 0xDEBB9EC5, 0x47B2CF7F, 0x30B5FFE9,
      0xBDBDF21C, 0xCABAC28A, 0x53B39330, 0x24B4A3A6, 0xBAD03605, 0xCDD70693,
      0x54DE5729, 0x23D967BF, 0xB3667A2E, 0xC4614AB8, 0x5D681B02, 0x2A6F2B94,
      0xB40BBE37, 0xC30C8EA1, 0x5A05DF1B, 0x2D02EF8D,
};

uint32_t ml_crc32(const unsigned char *z, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) c = (c >> 8) ^ crc_table[(c ^ z[i]) & 0xFF];
  return c ^ 0xFFFFFFFFu;
}

/* ---- writing ---- */

/* Little-endian, whatever the host, straight into the buffer, which
** ml_model_encode sizes beforehand: no call per byte, no growth per value. */
static void put_le(ml_sb *b, uint64_t v, int width) {
  if (b->n + (size_t)width >= b->cap && !ml_sb_reserve(b, (size_t)width)) return;
  for (int i = 0; i < width; i++) b->z[b->n++] = (char)(v >> (8 * i) & 0xFF);
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

int ml_model_encode(const ml_model *m, const char *version, unsigned char **out, int64_t *len) {
  ml_sb b;
  ml_sb_init(&b);
  int q = m->p + 1;
  /* Every fixed part, the numbers and the texts: the BLOB's size or more. */
  size_t size = 256 + 8 * (size_t)q * (size_t)(q + 1) / 2 * (m->test_R ? 2 : 1) + 9 * (size_t)m->p +
                (m->hc ? 8 * (size_t)m->p * (size_t)m->p : 0) + (version ? strlen(version) : 0) +
                (m->target ? strlen(m->target) : 0);
  for (int i = 0; m->reads && i < m->na.n; i++) size += 4 + strlen(m->na.text[i]);
  for (int j = 0; j < m->k; j++) {
    size += 24 + strlen(m->feat[j].name);
    for (int i = 0; i < m->feat[j].nlevels; i++) size += 4 + strlen(m->feat[j].levels[i]);
  }
  ml_sb_reserve(&b, size);
  ml_sb_append(&b, "SQML", 4);
  put_u16(&b, ML_FORMAT_VERSION);
  put_u16(&b, (unsigned)m->kind);
  put_u32(&b, 0); /* total length, patched below */

  size_t at = begin_section(&b, "SHAP");
  put_u32(&b, m->flags);
  put_u32(&b, (uint32_t)m->k);
  put_u32(&b, (uint32_t)m->p);
  put_u64(&b, (uint64_t)m->n);
  put_u64(&b, (uint64_t)m->n_skipped);
  put_f64(&b, m->tol);
  end_section(&b, at);

  /* The family, before any section an older reader could misread. */
  if (m->family != ML_FAMILY_GAUSSIAN) {
    at = begin_section(&b, "GLMF");
    put_u8(&b, (unsigned)m->family);
    put_u8(&b, (unsigned)m->link);
    put_u8(&b, m->converged ? 1 : 0);
    put_u8(&b, 0);
    put_u32(&b, (uint32_t)m->iterations);
    put_f64(&b, m->deviance);
    put_f64(&b, m->null_deviance);
    put_f64(&b, m->aic);
    put_u64(&b, (uint64_t)m->df_null);
    put_str(&b, m->offset ? m->offset : "");
    put_str(&b, m->ylevels[0] ? m->ylevels[0] : "");
    put_str(&b, m->ylevels[1] ? m->ylevels[1] : "");
    end_section(&b, at);
  }

  if (m->reads) {
    at = begin_section(&b, "READ");
    put_u32(&b, (uint32_t)m->na.n);
    for (int i = 0; i < m->na.n; i++) put_str(&b, m->na.text[i]);
    for (int j = 0; j < m->k; j++) put_u8(&b, m->feat[j].num_levels ? 1 : 0);
    end_section(&b, at);
  }

  at = begin_section(&b, "FEAT");
  for (int j = 0; j < m->k; j++) {
    const ml_feature *f = &m->feat[j];
    put_str(&b, f->name);
    put_u8(&b, (unsigned)f->type);
    put_u8(&b, (unsigned)(f->has_impute ? 1 : 0) | (f->full ? 2 : 0));
    put_f64(&b, f->has_impute && f->type == ML_FEAT_NUMERIC ? f->impute : 0);
    put_u32(&b, (uint32_t)f->nlevels);
    for (int i = 0; i < f->nlevels; i++) put_str(&b, f->levels[i]);
  }
  end_section(&b, at);

  at = begin_section(&b, "RFAC");
  for (int j = 0; j < q; j++)
    for (int i = 0; i <= j; i++) put_f64(&b, m->R[i + (int64_t)j * q]);
  end_section(&b, at);

  at = begin_section(&b, "COEF");
  for (int j = 0; j < m->p; j++) put_f64(&b, m->beta[j]);
  for (int j = 0; j < m->p; j++) put_u8(&b, m->aliased[j]);
  put_f64(&b, m->rss);
  end_section(&b, at);

  if (m->flags & ML_MODEL_WEIGHTED) {
    at = begin_section(&b, "WGHT");
    put_f64(&b, m->sum_w);
    put_f64(&b, m->sum_log_w);
    end_section(&b, at);
  }

  if (m->l2 > 0) {
    at = begin_section(&b, "RIDG");
    put_f64(&b, m->l2);
    end_section(&b, at);
  }

  if (m->robust) {
    at = begin_section(&b, "ROBU");
    put_u8(&b, (unsigned)(m->robust - 1));
    put_u8(&b, m->hc ? 1 : 0);
    if (m->hc)
      for (int64_t i = 0; i < (int64_t)m->p * m->p; i++) put_f64(&b, m->hc[i]);
    end_section(&b, at);
  }

  if (m->target) {
    at = begin_section(&b, "targ");
    put_str(&b, m->target);
    end_section(&b, at);
  }

  if (version) {
    at = begin_section(&b, "info");
    put_str(&b, version);
    end_section(&b, at);
  }

  /* The fitted rows' fingerprint, for ml_refine. */
  if (m->has_rows_hash) {
    at = begin_section(&b, "rfpr");
    put_u32(&b, ML_ROWHASH_SCHEME);
    put_u64(&b, m->rows_hash);
    end_section(&b, at);
  }

  if (m->profile) {
    uint64_t n = ml_profile_size(m->profile);
    at = begin_section(&b, "prof");
    if (ml_sb_reserve(&b, (size_t)n)) {
      ml_profile_write(m->profile, (unsigned char *)b.z + b.n);
      b.n += (size_t)n;
      b.z[b.n] = 0;
    }
    end_section(&b, at);
  }

  if (m->test_R) {
    at = begin_section(&b, "tfac");
    put_u64(&b, (uint64_t)m->test_n);
    put_f64(&b, m->test_w);
    put_f64(&b, m->test_mean);
    put_f64(&b, m->test_m2);
    for (int j = 0; j < q; j++)
      for (int i = 0; i <= j; i++) put_f64(&b, m->test_R[i + (int64_t)j * q]);
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

/* ---- reading ---- */

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
  char *s = dup_n((const char *)z, n);
  if (!s) *oom = 1;
  return s;
}

#define BAD(...)                          \
  do {                                    \
    snprintf(err, nerr, __VA_ARGS__);     \
    rc = ML_EINPUT;                       \
    goto out;                             \
  } while (0)

/* Section prof: ML_OK, ML_NOMEM, or ML_EINPUT when malformed. */
static int decode_prof(reader *s, ml_model *m) {
  unsigned char *cat = ml_malloc((uint64_t)m->k + 1);
  int *nl = ml_malloc(sizeof(int) * (uint64_t)m->k + 1);
  int rc = ML_NOMEM;
  if (cat && nl) {
    for (int j = 0; j < m->k; j++) {
      cat[j] = m->feat[j].type == ML_FEAT_CATEGORICAL;
      nl[j] = m->feat[j].nlevels;
    }
    rc = ml_profile_read(s->z + s->i, (uint64_t)(s->n - s->i), m->k, cat, nl, &m->profile);
    s->i = s->n;
  }
  ml_free(cat);
  ml_free(nl);
  return rc;
}

/* Section tfac: ML_OK, ML_NOMEM, or 1 when malformed. */
static int decode_tfac(reader *s, ml_model *m) {
  int q = m->p + 1;
  if (s->n - s->i != 32 + 8 * (int64_t)q * (q + 1) / 2) return 1;
  m->test_n = (int64_t)get_u64(s);
  m->test_w = get_f64(s);
  m->test_mean = get_f64(s);
  m->test_m2 = get_f64(s);
  if (m->test_n < 0 || !(m->test_w >= 0) || !isfinite(m->test_w) || !isfinite(m->test_mean) ||
      !(m->test_m2 >= 0) || !isfinite(m->test_m2))
    return 1;
  m->test_R = ml_malloc(8 * (uint64_t)q * (uint64_t)q);
  if (!m->test_R) return ML_NOMEM;
  memset(m->test_R, 0, 8 * (size_t)q * (size_t)q);
  for (int j = 0; j < q; j++)
    for (int i = 0; i <= j; i++) {
      double v = get_f64(s);
      if (!isfinite(v)) return 1;
      m->test_R[i + (int64_t)j * q] = v;
    }
  return s->bad ? 1 : ML_OK;
}

double ml_factor_rss(const double *R, int p, const double *b) {
  int m = p + 1;
  long double s = 0;
  for (int i = 0; i < m; i++) {
    long double r = -R[i + (int64_t)p * m];
    for (int j = i; j < p; j++) r += (long double)R[i + (int64_t)j * m] * b[j];
    s += r * r;
  }
  return (double)s;
}

int ml_model_decode(const unsigned char *z, int64_t n, ml_model **out, char *err, size_t nerr) {
  ml_model *m = NULL;
  int rc = ML_OK, oom = 0;
  *out = NULL;
  if (n < 16) BAD("invalid model BLOB: %lld bytes is too short", (long long)n);
  if (memcmp(z, "SQML", 4) != 0) BAD("not an sqlml model BLOB (bad magic)");
  reader r = {z, n, 4, 0};
  unsigned format = get_u8(&r);
  format |= get_u8(&r) << 8;
  unsigned kind = get_u8(&r);
  kind |= get_u8(&r) << 8;
  uint32_t total = get_u32(&r);
  if (format == 0) BAD("invalid model BLOB: format version 0");
  if (format > ML_FORMAT_VERSION)
    BAD("model BLOB format version %u is newer than this sqlml reads (up to %d): upgrade sqlml",
        format, ML_FORMAT_VERSION);
  if ((int64_t)total != n)
    BAD("invalid model BLOB: %lld bytes where its header says %lu (truncated or padded)",
        (long long)n, (unsigned long)total);
  r.n = n - 4;
  uint32_t crc = (uint32_t)z[n - 4] | (uint32_t)z[n - 3] << 8 | (uint32_t)z[n - 2] << 16 |
                 (uint32_t)z[n - 1] << 24;
  if (crc != ml_crc32(z, (size_t)(n - 4))) BAD("invalid model BLOB: checksum mismatch (corrupted)");
  if (kind != ML_KIND_LINEAR) BAD("invalid model BLOB: unknown model kind %u", kind);

  int seen_feat = 0, seen_rfac = 0, seen_coef = 0, seen_info = 0, seen_targ = 0;
  int seen_wght = 0, seen_ridg = 0, seen_robu = 0, seen_read = 0;
  int seen_rfpr = 0, seen_tfac = 0;
  while (r.i < r.n) {
    char tag[5] = {0};
    if (!avail(&r, 8)) BAD("invalid model BLOB: truncated section header");
    memcpy(tag, r.z + r.i, 4);
    r.i += 4;
    uint32_t len = get_u32(&r);
    if (!avail(&r, len)) BAD("invalid model BLOB: section '%.4s' runs past the end", tag);
    reader s = {z, r.i + len, r.i, 0};
    r.i += len;
    for (int i = 0; i < 4; i++)
      if (!((tag[i] >= 'A' && tag[i] <= 'Z') || (tag[i] >= 'a' && tag[i] <= 'z') || tag[i] == ' '))
        BAD("invalid model BLOB: malformed section tag");
    if (!m && strcmp(tag, "SHAP") != 0) BAD("invalid model BLOB: section '%s' before SHAP", tag);
    if (strcmp(tag, "SHAP") == 0) {
      if (m) BAD("invalid model BLOB: repeated section SHAP");
      uint32_t flags = get_u32(&s), k = get_u32(&s), p = get_u32(&s);
      int64_t rows = (int64_t)get_u64(&s), skipped = (int64_t)get_u64(&s);
      double tol = get_f64(&s);
      if (s.bad || s.i != s.n) BAD("invalid model BLOB: section SHAP has the wrong length");
      if (flags & ~(ML_MODEL_INTERCEPT | ML_MODEL_REFINED | ML_MODEL_WEIGHTED | ML_MODEL_UNSEEN_ZERO))
        BAD("invalid model BLOB: unknown flags 0x%x", (unsigned)flags);
      if (k < 1 || k > ML_MAX_TERMS || p < 1 || p > ML_MAX_TERMS)
        BAD("invalid model BLOB: %lu features and %lu terms are out of range", (unsigned long)k,
            (unsigned long)p);
      if (rows < 0 || skipped < 0) BAD("invalid model BLOB: negative row count");
      if (!(tol >= 0 && tol < 1)) BAD("invalid model BLOB: aliasing tolerance out of range");
      /* Sections RFAC and COEF are required: a BLOB without room for them is
      ** refused before allocating for p terms (60 bytes could ask for 8 MB). */
      if (8 * ((int64_t)p + 1) * ((int64_t)p + 2) / 2 + 9 * (int64_t)p + 8 + 16 > r.n - r.i)
        BAD("invalid model BLOB: %lu terms do not fit in its %lld bytes", (unsigned long)p,
            (long long)n);
      m = ml_model_new((int)k, (int)p);
      if (!m) {
        rc = ML_NOMEM;
        goto out;
      }
      m->format = (int)format;
      m->flags = flags;
      m->n = rows;
      m->n_skipped = skipped;
      m->tol = tol;
    } else if (strcmp(tag, "FEAT") == 0) {
      if (seen_feat++) BAD("invalid model BLOB: repeated section FEAT");
      int terms = (m->flags & ML_MODEL_INTERCEPT) ? 1 : 0;
      for (int j = 0; j < m->k; j++) {
        ml_feature *f = &m->feat[j];
        f->name = get_str(&s, &oom);
        f->type = (int)get_u8(&s);
        unsigned fflags = get_u8(&s);
        f->has_impute = (fflags & 1) != 0;
        f->full = (fflags & 2) != 0;
        f->impute = get_f64(&s);
        uint32_t nl = get_u32(&s);
        if (oom) {
          rc = ML_NOMEM;
          goto out;
        }
        if (s.bad) BAD("invalid model BLOB: feature %d is truncated or not UTF-8", j + 1);
        if (!f->name[0]) BAD("invalid model BLOB: feature %d has no name", j + 1);
        if (f->type != ML_FEAT_NUMERIC && f->type != ML_FEAT_CATEGORICAL)
          BAD("invalid model BLOB: feature %d has unknown type %d", j + 1, f->type);
        if ((fflags & ~3u) || (f->full && f->type != ML_FEAT_CATEGORICAL) || !isfinite(f->impute))
          BAD("invalid model BLOB: feature %d has bad flags or imputed value", j + 1);
        if (f->type == ML_FEAT_NUMERIC ? nl != 0 : (nl < 1 || nl > ML_MAX_TERMS))
          BAD("invalid model BLOB: feature %d has %lu levels", j + 1, (unsigned long)nl);
        if ((int64_t)nl * 4 > s.n - s.i) BAD("invalid model BLOB: feature %d is truncated", j + 1);
        if (nl) {
          f->levels = ml_calloc(sizeof(char *) * nl);
          if (!f->levels) {
            rc = ML_NOMEM;
            goto out;
          }
        }
        for (uint32_t i = 0; i < nl; i++) {
          f->levels[i] = get_str(&s, &oom);
          if (oom) {
            rc = ML_NOMEM;
            goto out;
          }
          if (s.bad) BAD("invalid model BLOB: a level of feature %d is truncated or not UTF-8", j + 1);
          f->nlevels = (int)i + 1;
        }
        terms += ml_feature_terms(f);
        if (terms > m->p) break;
      }
      if (s.i != s.n) BAD("invalid model BLOB: section FEAT has the wrong length");
      if (terms != m->p) BAD("invalid model BLOB: features make %d terms, not %d", terms, m->p);
    } else if (strcmp(tag, "RFAC") == 0) {
      if (seen_rfac++) BAD("invalid model BLOB: repeated section RFAC");
      int q = m->p + 1;
      if ((int64_t)len != 8 * (int64_t)q * (q + 1) / 2)
        BAD("invalid model BLOB: section RFAC has the wrong length");
      for (int j = 0; j < q; j++)
        for (int i = 0; i <= j; i++) {
          double v = get_f64(&s);
          if (!isfinite(v)) BAD("invalid model BLOB: R factor holds NaN or Inf");
          m->R[i + (int64_t)j * q] = v;
        }
    } else if (strcmp(tag, "COEF") == 0) {
      if (seen_coef++) BAD("invalid model BLOB: repeated section COEF");
      if ((int64_t)len != 9 * (int64_t)m->p + 8)
        BAD("invalid model BLOB: section COEF has the wrong length");
      for (int j = 0; j < m->p; j++) m->beta[j] = get_f64(&s);
      for (int j = 0; j < m->p; j++) {
        unsigned a = get_u8(&s);
        if (a > 1) BAD("invalid model BLOB: bad aliased flag");
        m->aliased[j] = (unsigned char)a;
        if (!isfinite(m->beta[j]) || (a && m->beta[j] != 0))
          BAD("invalid model BLOB: bad coefficient %d", j + 1);
      }
      m->rss = get_f64(&s);
      if (!isnan(m->rss) && !(m->rss >= 0 && isfinite(m->rss)))
        BAD("invalid model BLOB: bad residual sum of squares");
      if (isnan(m->rss) != !(m->flags & ML_MODEL_REFINED))
        BAD("invalid model BLOB: refined flag and residual sum of squares disagree");
    } else if (strcmp(tag, "WGHT") == 0) {
      if (seen_wght++) BAD("invalid model BLOB: repeated section WGHT");
      m->sum_w = get_f64(&s);
      m->sum_log_w = get_f64(&s);
      if (s.bad || s.i != s.n || !(m->sum_w > 0) || !isfinite(m->sum_w) || !isfinite(m->sum_log_w))
        BAD("invalid model BLOB: section WGHT is malformed");
    } else if (strcmp(tag, "RIDG") == 0) {
      if (seen_ridg++) BAD("invalid model BLOB: repeated section RIDG");
      m->l2 = get_f64(&s);
      if (s.bad || s.i != s.n || !(m->l2 > 0) || !isfinite(m->l2))
        BAD("invalid model BLOB: section RIDG is malformed");
    } else if (strcmp(tag, "ROBU") == 0) {
      if (seen_robu++) BAD("invalid model BLOB: repeated section ROBU");
      unsigned type = get_u8(&s), has = get_u8(&s);
      if (s.bad || type > 3 || has > 1 ||
          (int64_t)len != 2 + (has ? 8 * (int64_t)m->p * m->p : 0))
        BAD("invalid model BLOB: section ROBU is malformed");
      m->robust = (int)type + 1;
      if (has) {
        m->hc = ml_malloc(8 * (uint64_t)m->p * (uint64_t)m->p);
        if (!m->hc) {
          rc = ML_NOMEM;
          goto out;
        }
        for (int64_t i = 0; i < (int64_t)m->p * m->p; i++) m->hc[i] = get_f64(&s);
      }
    } else if (strcmp(tag, "READ") == 0) {
      if (seen_read++) BAD("invalid model BLOB: repeated section READ");
      uint32_t nna = get_u32(&s);
      if (s.bad || (int64_t)nna * 4 > s.n - s.i) BAD("invalid model BLOB: section READ is malformed");
      char **texts = ml_calloc(sizeof(char *) * (nna ? nna : 1));
      if (!texts) {
        rc = ML_NOMEM;
        goto out;
      }
      uint32_t got = 0;
      while (got < nna && !s.bad && !oom) {
        texts[got] = get_str(&s, &oom);
        if (texts[got]) got++;
      }
      if (!oom && !s.bad) oom = ml_na_set(&m->na, texts, (int)nna) != ML_OK;
      for (uint32_t i = 0; i < got; i++) ml_free(texts[i]);
      ml_free(texts);
      if (oom) {
        rc = ML_NOMEM;
        goto out;
      }
      for (int j = 0; j < m->k; j++) {
        unsigned fl = get_u8(&s);
        if (fl > 1) BAD("invalid model BLOB: section READ has bad flags for feature %d", j + 1);
        m->feat[j].num_levels = (int)fl;
      }
      if (s.bad || s.i != s.n) BAD("invalid model BLOB: section READ is malformed");
      m->reads = 1;
    } else if (strcmp(tag, "GLMF") == 0) {
      /* A generalized linear model: binomial/logit or poisson/log. */
      if (m->family != ML_FAMILY_GAUSSIAN) BAD("invalid model BLOB: repeated section GLMF");
      unsigned family = get_u8(&s), link = get_u8(&s), conv = get_u8(&s), zero = get_u8(&s);
      uint32_t iter = get_u32(&s);
      double dev = get_f64(&s), nulldev = get_f64(&s), aic = get_f64(&s);
      int64_t df_null = (int64_t)get_u64(&s);
      char *off = get_str(&s, &oom), *l0 = get_str(&s, &oom), *l1 = get_str(&s, &oom);
      m->offset = off && off[0] ? off : NULL;
      if (off && !off[0]) ml_free(off);
      /* Both levels or none, in byte order, for binomial only. */
      int levels = l0 && l1 && l0[0] && l1[0], half = !levels && ((l0 && l0[0]) || (l1 && l1[0]));
      if (levels) {
        m->ylevels[0] = l0;
        m->ylevels[1] = l1;
      } else {
        ml_free(l0);
        ml_free(l1);
      }
      if (oom) {
        rc = ML_NOMEM;
        goto out;
      }
      if (levels && (family != ML_FAMILY_BINOMIAL || strcmp(l0, l1) >= 0))
        BAD("invalid model BLOB: section GLMF is malformed");
      if (half) BAD("invalid model BLOB: section GLMF is malformed");
      if (s.bad || s.i != s.n || (family != ML_FAMILY_BINOMIAL && family != ML_FAMILY_POISSON) ||
          (int)link != ml_family_link((int)family) || conv > 1 || zero != 0 || iter < 1 ||
          !(dev >= 0) || !(nulldev >= 0) || isnan(aic) || df_null < 0 || df_null > m->n)
        BAD("invalid model BLOB: section GLMF is malformed");
      m->family = (int)family;
      m->link = (int)link;
      m->converged = (int)conv;
      m->iterations = (int)iter;
      m->deviance = dev;
      m->null_deviance = nulldev;
      m->aic = aic;
      m->df_null = df_null;
    } else if (strcmp(tag, "targ") == 0 || strcmp(tag, "info") == 0) {
      /* One string each: the target's name, the version that wrote it. */
      int targ = tag[0] == 't', *seen = targ ? &seen_targ : &seen_info;
      if ((*seen)++) BAD("invalid model BLOB: repeated section %s", tag);
      *(targ ? &m->target : &m->version) = get_str(&s, &oom);
      if (oom) {
        rc = ML_NOMEM;
        goto out;
      }
      if (s.bad || s.i != s.n) BAD("invalid model BLOB: section %s is malformed", tag);
    } else if (strcmp(tag, "rfpr") == 0) {
      /* The fitted rows' fingerprint; one of another scheme is as none. */
      if (seen_rfpr++) BAD("invalid model BLOB: repeated section rfpr");
      uint32_t scheme = get_u32(&s);
      uint64_t sum = get_u64(&s);
      if (s.bad || s.i != s.n) BAD("invalid model BLOB: section rfpr is malformed");
      m->has_rows_hash = scheme == ML_ROWHASH_SCHEME;
      m->rows_hash = m->has_rows_hash ? sum : 0;
    } else if (strcmp(tag, "prof") == 0) {
      if (m->profile) BAD("invalid model BLOB: repeated section prof");
      if ((rc = decode_prof(&s, m))) {
        if (rc == ML_NOMEM) goto out;
        BAD("invalid model BLOB: section prof is malformed");
      }
    } else if (strcmp(tag, "tfac") == 0) {
      if (seen_tfac++) BAD("invalid model BLOB: repeated section tfac");
      if ((rc = decode_tfac(&s, m))) {
        if (rc == ML_NOMEM) goto out;
        BAD("invalid model BLOB: section tfac is malformed");
      }
    } else if (tag[0] >= 'A' && tag[0] <= 'Z') {
      BAD("model BLOB has section '%s', unknown to this sqlml: it was written by a newer version",
          tag);
    }
  }
  if (!m || !seen_feat || !seen_rfac || !seen_coef)
    BAD("invalid model BLOB: a required section is missing");
  if (!seen_wght != !(m->flags & ML_MODEL_WEIGHTED))
    BAD("invalid model BLOB: weighted flag and section WGHT disagree");
  /* Levels in order, text by bytes, numbers by value and canonical: a
  ** level search relies on it.  Checked once every section is read, since
  ** READ says which order applies. */
  for (int j = 0; j < m->k; j++) {
    ml_feature *f = &m->feat[j];
    if (f->num_levels && f->type != ML_FEAT_CATEGORICAL)
      BAD("invalid model BLOB: numeric feature %d has numeric levels", j + 1);
    if (f->num_levels) {
      if (!(f->lvnum = ml_malloc(8 * (uint64_t)f->nlevels))) {
        rc = ML_NOMEM;
        goto out;
      }
      for (int i = 0; i < f->nlevels; i++) {
        char canon[ML_NUMBER_TEXT_MAX];
        double *v = &f->lvnum[i];
        int r = ml_parse_number(f->levels[i], (int)strlen(f->levels[i]), v);
        if (r < 0) {
          rc = ML_NOMEM;
          goto out;
        }
        if (!r || !isfinite(*v) ||
            (ml_number_text(*v, canon), strcmp(canon, f->levels[i]) != 0))
          BAD("invalid model BLOB: level %d of feature %d is not a number in canonical form", i + 1, j + 1);
        if (i > 0 && !(f->lvnum[i - 1] < *v))
          BAD("invalid model BLOB: levels of feature %d are not sorted", j + 1);
      }
    } else {
      for (int i = 1; i < f->nlevels; i++)
        if (strcmp(f->levels[i - 1], f->levels[i]) >= 0)
          BAD("invalid model BLOB: levels of feature %d are not sorted", j + 1);
    }
  }
  *out = m;
  m = NULL;
out:
  ml_model_free(m);
  return rc;
}

/* ---- JSON ---- */

int ml_model_term_name(const ml_model *m, int j, char **out) {
  ml_sb b;
  ml_sb_init(&b);
  int t = 0;
  if (m->flags & ML_MODEL_INTERCEPT) {
    if (j == 0) ml_sb_puts(&b, "(Intercept)");
    t = 1;
  }
  for (int f = 0; f < m->k && t <= j; f++) {
    const ml_feature *ft = &m->feat[f];
    if (ft->type == ML_FEAT_NUMERIC) {
      if (t++ == j) ml_sb_puts(&b, ft->name);
      continue;
    }
    for (int l = ft->full ? 0 : 1; l < ft->nlevels; l++)
      if (t++ == j) ml_sb_printf(&b, "%s=%s", ft->name, ft->levels[l]);
    if (ft->has_impute && t++ == j) ml_sb_printf(&b, "%s IS NULL", ft->name);
  }
  *out = ml_sb_finish(&b, NULL);
  return *out ? ML_OK : ML_NOMEM;
}

static void json_key_num(ml_sb *b, const char *key, double v) {
  ml_sb_printf(b, ",\"%s\":", key);
  ml_sb_json_number(b, v);
}

int ml_model_json(const ml_model *m, double level, char **out, size_t *len) {
  ml_lsq_stats st;
  int rc = ml_model_stats(m, &st);
  if (rc) return rc;
  int glm = m->family != ML_FAMILY_GAUSSIAN;
  /* A GLM's intervals are Wald's on the normal (R's confint.default). */
  double tq = glm ? ml_qnorm(0.5 + level / 2) : ml_qt(0.5 + level / 2, st.df_resid);
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_printf(&b, "{\"kind\":\"%s\",\"format_version\":%d",
               glm ? "generalized_linear_model" : "linear_regression", m->format);
  if (glm) {
    ml_sb_printf(&b, ",\"family\":\"%s\",\"link\":\"%s\"", ml_family_name(m->family),
                 ml_link_name(m->link));
    if (m->offset) {
      ml_sb_puts(&b, ",\"offset\":");
      ml_sb_json_string(&b, m->offset, strlen(m->offset));
    }
    if (m->ylevels[0]) {
      ml_sb_puts(&b, ",\"target_levels\":[");
      ml_sb_json_string(&b, m->ylevels[0], strlen(m->ylevels[0]));
      ml_sb_puts(&b, ",");
      ml_sb_json_string(&b, m->ylevels[1], strlen(m->ylevels[1]));
      ml_sb_puts(&b, "]");
    }
  }
  if (m->version) {
    ml_sb_puts(&b, ",\"sqlml_version\":");
    ml_sb_json_string(&b, m->version, strlen(m->version));
  }
  if (m->target) {
    ml_sb_puts(&b, ",\"target\":");
    ml_sb_json_string(&b, m->target, strlen(m->target));
  }
  ml_sb_printf(&b, ",\"n\":%lld,\"n_skipped\":%lld,\"intercept\":%s,\"refined\":%s",
               (long long)m->n, (long long)m->n_skipped,
               (m->flags & ML_MODEL_INTERCEPT) ? "true" : "false",
               (m->flags & ML_MODEL_REFINED) ? "true" : "false");
  ml_sb_printf(&b, ",\"weighted\":%s", (m->flags & ML_MODEL_WEIGHTED) ? "true" : "false");
  /* The fitted rows' fingerprint (rowhash.h): a merge's is the sum of its
  ** parts', so it names the union of sharded rows whatever their order. */
  if (m->has_rows_hash)
    ml_sb_printf(&b, ",\"rows_fingerprint\":\"%016llx\"", (unsigned long long)m->rows_hash);
  if (m->l2 > 0) json_key_num(&b, "l2", m->l2);
  if (m->robust) {
    static const char *names[] = {"", "HC0", "HC1", "HC2", "HC3"};
    ml_sb_printf(&b, ",\"robust\":\"%s\",\"robust_computed\":%s", names[m->robust],
                 m->hc ? "true" : "false");
  }
  if (m->flags & ML_MODEL_UNSEEN_ZERO) ml_sb_puts(&b, ",\"unseen\":\"zero\"");
  if (m->reads) {
    ml_sb_puts(&b, ",\"na_values\":[");
    for (int i = 0; i < m->na.n; i++) {
      if (i) ml_sb_puts(&b, ",");
      ml_sb_json_string(&b, m->na.text[i], strlen(m->na.text[i]));
    }
    ml_sb_puts(&b, "]");
  }
  ml_sb_printf(&b, ",\"rank\":%d", st.rank);
  json_key_num(&b, "df_model", st.df_model);
  json_key_num(&b, "df_resid", st.df_resid);
  ml_sb_puts(&b, ",\"features\":[");
  for (int j = 0; j < m->k; j++) {
    const ml_feature *f = &m->feat[j];
    ml_sb_puts(&b, j ? ",{\"name\":" : "{\"name\":");
    ml_sb_json_string(&b, f->name, strlen(f->name));
    ml_sb_printf(&b, ",\"type\":\"%s\"", f->type == ML_FEAT_NUMERIC ? "numeric" : "categorical");
    if (f->type == ML_FEAT_CATEGORICAL) {
      ml_sb_puts(&b, ",\"levels\":[");
      for (int l = 0; l < f->nlevels; l++) {
        if (l) ml_sb_puts(&b, ",");
        ml_sb_json_string(&b, f->levels[l], strlen(f->levels[l]));
      }
      ml_sb_printf(&b, "],\"reference\":");
      if (f->full) ml_sb_puts(&b, "null");
      else ml_sb_json_string(&b, f->levels[0], strlen(f->levels[0]));
      if (f->has_impute) ml_sb_puts(&b, ",\"null_level\":true");
      if (f->num_levels) ml_sb_puts(&b, ",\"numeric_levels\":true");
    } else if (f->has_impute) {
      json_key_num(&b, "impute", f->impute);
    }
    ml_sb_puts(&b, "}");
  }
  ml_sb_puts(&b, "],\"coefficients\":[");
  for (int j = 0; j < m->p; j++) {
    char *term = NULL;
    if (ml_model_term_name(m, j, &term)) {
      b.oom = 1;
      break;
    }
    ml_sb_puts(&b, j ? ",{\"term\":" : "{\"term\":");
    ml_sb_json_string(&b, term, strlen(term));
    ml_free(term);
    json_key_num(&b, "estimate", m->aliased[j] ? NAN : m->beta[j]);
    json_key_num(&b, "std_error", st.se[j]);
    json_key_num(&b, glm ? "z_value" : "t_stat", st.tstat[j]);
    json_key_num(&b, "p_value", st.pvalue[j]);
    json_key_num(&b, "conf_low", m->aliased[j] ? NAN : m->beta[j] - tq * st.se[j]);
    json_key_num(&b, "conf_high", m->aliased[j] ? NAN : m->beta[j] + tq * st.se[j]);
    ml_sb_printf(&b, ",\"aliased\":%s}", m->aliased[j] ? "true" : "false");
  }
  ml_sb_puts(&b, "]");
  if (glm) {
    json_key_num(&b, "deviance", m->deviance);
    json_key_num(&b, "null_deviance", m->null_deviance);
    ml_sb_printf(&b, ",\"df_null\":%lld", (long long)m->df_null);
    json_key_num(&b, "aic", m->aic);
    ml_sb_printf(&b, ",\"dispersion\":1,\"iterations\":%d,\"converged\":%s", m->iterations,
                 m->converged ? "true" : "false");
    json_key_num(&b, "tolerance", m->tol);
    json_key_num(&b, "level", level);
    goto covariance;
  }
  json_key_num(&b, "sigma", st.sigma);
  json_key_num(&b, "r2", st.r2);
  json_key_num(&b, "adj_r2", st.adj_r2);
  json_key_num(&b, "f_stat", st.f);
  json_key_num(&b, "f_p_value", st.f_pvalue);
  json_key_num(&b, "rss", st.rss);
  json_key_num(&b, "tss", st.tss);
  json_key_num(&b, "loglik", st.loglik);
  json_key_num(&b, "aic", st.aic);
  json_key_num(&b, "bic", st.bic);
  json_key_num(&b, "condition_number", st.cond);
  json_key_num(&b, "tolerance", m->tol);
  json_key_num(&b, "level", level);
covariance:
  ml_sb_puts(&b, ",\"covariance\":[");
  for (int i = 0; i < m->p; i++) {
    ml_sb_puts(&b, i ? ",[" : "[");
    for (int j = 0; j < m->p; j++) {
      if (j) ml_sb_puts(&b, ",");
      ml_sb_json_number(&b, st.cov[i + (int64_t)j * m->p]);
    }
    ml_sb_puts(&b, "]");
  }
  ml_sb_puts(&b, "]}");
  ml_lsq_stats_free(&st);
  *out = ml_sb_finish(&b, len);
  return *out ? ML_OK : ML_NOMEM;
}

/* ---- feature names, for messages ---- */

char *ml_model_feature_list(const ml_model *m, int max) {
  ml_sb b;
  ml_sb_init(&b);
  for (int j = 0; j < m->k && j < max; j++) ml_sb_printf(&b, "%s%s", j ? ", " : "", m->feat[j].name);
  if (m->k > max) ml_sb_puts(&b, ", ...");
  return ml_sb_finish(&b, NULL);
}

/* ---- the union of two models' levels, for exact merges ---- */

/* The sorted union of the sorted levels of a and b, into u (allocated). */
static int union_levels(const ml_feature *a, const ml_feature *b, ml_feature *u) {
  u->levels = ml_calloc(sizeof(char *) * (uint64_t)(a->nlevels + b->nlevels));
  if (!u->levels) return ML_NOMEM;
  int i = 0, j = 0;
  while (i < a->nlevels || j < b->nlevels) {
    int c = i == a->nlevels ? 1 : j == b->nlevels ? -1 : strcmp(a->levels[i], b->levels[j]);
    const char *z = c <= 0 ? a->levels[i] : b->levels[j];
    if (c <= 0) i++;
    if (c >= 0) j++;
    if (!(u->levels[u->nlevels] = dup_n(z, strlen(z)))) return ML_NOMEM;
    u->nlevels++;
  }
  return ML_OK;
}

int ml_model_union(const ml_model *a, const ml_model *b, ml_model **out, char *err, size_t nerr) {
  *out = NULL;
  int p = (a->flags & ML_MODEL_INTERCEPT) ? 1 : 0;
  for (int j = 0; j < a->k; j++) {
    const ml_feature *fa = &a->feat[j], *fb = &b->feat[j];
    if (fa->type == ML_FEAT_NUMERIC) {
      p++;
      continue;
    }
    /* Levels in both models count once: add b's that a lacks. */
    int n = fa->nlevels;
    for (int i = 0, l = 0; i < fb->nlevels; i++) {
      while (l < fa->nlevels && strcmp(fa->levels[l], fb->levels[i]) < 0) l++;
      if (l == fa->nlevels || strcmp(fa->levels[l], fb->levels[i]) != 0) n++;
    }
    p += n - (fa->full ? 0 : 1) + (fa->has_impute || fb->has_impute ? 1 : 0);
  }
  if (p > ML_MAX_TERMS) {
    snprintf(err, nerr, "the union of their levels makes %d terms, more than the %d a model can "
                        "have", p, ML_MAX_TERMS);
    return ML_EINPUT;
  }
  ml_model *u = ml_model_new(a->k, p);
  if (!u) return ML_NOMEM;
  int rc = ML_OK;
  for (int j = 0; j < a->k && !rc; j++) {
    const ml_feature *fa = &a->feat[j], *fb = &b->feat[j];
    ml_feature *f = &u->feat[j];
    f->type = fa->type;
    f->full = fa->full;
    f->has_impute = fa->has_impute || fb->has_impute;
    f->impute = fa->impute;
    if (!(f->name = dup_n(fa->name, strlen(fa->name)))) rc = ML_NOMEM;
    if (!rc && f->type == ML_FEAT_CATEGORICAL) rc = union_levels(fa, fb, f);
  }
  if (!rc && a->target && !(u->target = dup_n(a->target, strlen(a->target)))) rc = ML_NOMEM;
  if (rc) {
    ml_model_free(u);
    return rc;
  }
  u->format = a->format;
  u->kind = a->kind;
  u->flags = a->flags;
  u->n = a->n;
  u->n_skipped = a->n_skipped;
  u->tol = a->tol;
  u->sum_w = a->sum_w;
  u->sum_log_w = a->sum_log_w;
  u->l2 = a->l2;
  u->robust = a->robust;
  u->has_rows_hash = a->has_rows_hash;
  u->rows_hash = a->rows_hash;
  u->reads = a->reads;
  if (a->reads && ml_na_set(&u->na, a->na.text, a->na.n)) {
    ml_model_free(u);
    return ML_NOMEM;
  }
  *out = u;
  return ML_OK;
}

/* First design column of each feature of m, into start[0..k). */
static void feature_starts(const ml_model *m, int *start) {
  int t = (m->flags & ML_MODEL_INTERCEPT) ? 1 : 0;
  for (int j = 0; j < m->k; j++) {
    start[j] = t;
    t += ml_feature_terms(&m->feat[j]);
  }
}

int ml_level_index(const ml_feature *f, const char *z) {
  int lo = 0, hi = f->nlevels - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2, c = strcmp(f->levels[mid], z);
    if (c == 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

int ml_model_design_map(const ml_model *a, const ml_model *u, double **out) {
  int qa = a->p + 1, qu = u->p + 1;
  double *T = ml_calloc(8 * (uint64_t)qa * (uint64_t)qu);
  int *sa = ml_malloc(sizeof(int) * (uint64_t)a->k), *su = ml_malloc(sizeof(int) * (uint64_t)u->k);
  int rc = ML_NOMEM;
  if (!T || !sa || !su) goto out;
  feature_starts(a, sa);
  feature_starts(u, su);
#define T_(i, c) T[(i) + (int64_t)(c) * qa]
  int ic = (a->flags & ML_MODEL_INTERCEPT) != 0;
  if (ic) T_(0, 0) = 1;
  /* The constant 1 in a's columns: the intercept, or else the sum of the
  ** columns of the factor with a dummy for every level (and its NULL level),
  ** one of which is 1 in every row. */
  int full = -1;
  for (int j = 0; j < a->k && !ic && full < 0; j++)
    if (a->feat[j].full) full = j;
  for (int j = 0; j < a->k; j++) {
    const ml_feature *fa = &a->feat[j], *fu = &u->feat[j];
    int ca = sa[j], cu = su[j];
    if (fa->type == ML_FEAT_NUMERIC) {
      T_(ca, cu) = 1;
      continue;
    }
    int skip = fa->full ? 0 : 1; /* a's columns start at its level skip */
    for (int l = fu->full ? 0 : 1; l < fu->nlevels; l++, cu++) {
      int i = ml_level_index(fa, fu->levels[l]);
      if (i < 0) continue; /* a level a never saw: 0 in all of a's rows */
      if (i >= skip) {
        T_(ca + i - skip, cu) = 1;
        continue;
      }
      /* a's reference level, not the union's: 1 minus a's other indicators. */
      if (ic) {
        T_(0, cu) = 1;
      } else if (full >= 0) {
        for (int t = 0; t < ml_feature_terms(&a->feat[full]); t++) T_(sa[full] + t, cu) = 1;
      } else {
        rc = ML_EINPUT; /* no such model: a factor without an intercept has every dummy */
        goto out;
      }
      for (int t = 0; t < ml_feature_terms(fa); t++) T_(ca + t, cu) = -1;
    }
    if (fu->has_impute && fa->has_impute) T_(ca + ml_feature_terms(fa) - 1, cu) = 1;
  }
  T_(qa - 1, qu - 1) = 1; /* the response */
#undef T_
  rc = ML_OK;
out:
  ml_free(sa);
  ml_free(su);
  if (rc) ml_free(T);
  else *out = T;
  return rc;
}
