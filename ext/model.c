/*
** model.c: the model struct, its lifetime, solving and statistics.  The
** BLOB codec is in model_blob.c, the JSON export in model_json.c.  See model.h.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <locale.h>

#include "glm.h"
#include "lsq.h"
#include "formula.h"
#include "model.h"
#include "profile.h"
#include "strbuf.h"

ml_model *ml_model_alloc(int k, int p, int dense) {
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
  m->R = dense ? ml_calloc(8 * (uint64_t)(q * q)) : NULL;
  m->beta = ml_calloc(8 * (uint64_t)p);
  m->aliased = ml_calloc((uint64_t)p);
  m->bfeat = -1;
  if (!m->feat || (dense && !m->R) || !m->beta || !m->aliased) {
    ml_model_free(m);
    return NULL;
  }
  return m;
}

static void feature_clear(ml_feature *f) {
  ml_free(f->slots);
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
  ml_free(na->len);
  memset(na, 0, sizeof *na);
}

int ml_na_set(ml_na *na, char *const *texts, int n) {
  ml_na_free(na);
  if (n == 0) return ML_OK;
  na->text = ml_calloc(sizeof(char *) * (uint64_t)n);
  na->len = ml_malloc(sizeof(int) * (uint64_t)n);
  if (!na->text || !na->len) goto nomem;
  for (int i = 0; i < n; i++) {
    size_t len = strlen(texts[i]);
    if (!(na->text[i] = ml_malloc(len + 1))) goto nomem;
    memcpy(na->text[i], texts[i], len + 1);
    na->len[i] = (int)len;
    na->lens |= 1ull << (len < 63 ? len : 63);
    if (len) na->first[(unsigned char)texts[i][0] >> 6] |= 1ull << ((unsigned char)texts[i][0] & 63);
    na->n = i + 1;
  }
  return ML_OK;
nomem:
  ml_na_free(na);
  return ML_NOMEM;
}

int ml_na_find_text(const ml_na *na, const char *z, int n) {
  for (int i = 0; i < na->n; i++)
    if (na->len[i] == n && memcmp(na->text[i], z, (size_t)n) == 0) return 1;
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
  ml_formula_free(m->formula);
  ml_free(m->form);
  ml_free(m->offset);
  ml_free(m->ylevels[0]);
  ml_free(m->ylevels[1]);
  ml_free(m->test_R);
  ml_model_drop_block(m);
  ml_free(m->nulls_read);
  ml_profile_free(m->profile);
  ml_free(m);
}

char *ml_dup_n(const char *z, size_t n) {
  char *s = ml_malloc(n + 1);
  if (s) {
    memcpy(s, z, n);
    s[n] = 0;
  }
  return s;
}

int ml_model_set_name(ml_model *m, int j, const char *name) {
  char *s = ml_dup_n(name, strlen(name));
  if (!s) return ML_NOMEM;
  char **slot = j < 0 ? &m->target : &m->feat[j].name;
  ml_free(*slot);
  *slot = s;
  return ML_OK;
}

int ml_model_solve(ml_model *m) {
  if (m->fac) {
    int rc = ml_model_solve_blocked(m);
    m->flags &= ~ML_MODEL_REFINED;
    m->rss = NAN;
    return rc;
  }
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
  if (m->W || m->Wfac) return ML_OK;
  if (m->fac) return ml_model_prepare_blocked(m);
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
  if (m->R) return ml_lsq_stats_compute(m->R, m->p + 1, &fi, st);
  /* Past a dense factor's size, without the covariance (st->cov NULL). */
  if (m->p > ML_MAX_TERMS) return ml_model_stats_blocked(m, &fi, st);
  /* A model kept with its block: the covariance needs the dense factor. */
  double *R;
  int rc = ml_model_dense_factor(m, 0, &R);
  if (!rc) rc = ml_lsq_stats_compute(R, m->p + 1, &fi, st);
  ml_free(R);
  return rc;
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
  if (a->formula || b->formula) { /* its levels are fixed before its fit: no union */
    snprintf(err, nerr, "a model fitted from a formula cannot be merged (refit the union with "
                        "ml_train)");
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


/* ---- term names (the JSON export, ml_weights and messages use them) ---- */

int ml_model_set_formula(ml_model *m, struct ml_formula *f) {
  ml_formula_free(m->formula);
  ml_free(m->form);
  m->form = NULL;
  m->formula = f;
  ml_formula_set_unseen_zero(f, (m->flags & ML_MODEL_UNSEEN_ZERO) != 0);
  return ml_formula_save(f, &m->form, &m->nform) == ML_OK ? ML_OK : ML_NOMEM;
}

int ml_model_term_name(const ml_model *m, int j, char **out) {
  ml_sb b;
  ml_sb_init(&b);
  if (m->formula) {
    ml_sb_puts(&b, ml_formula_coef_name(m->formula, j));
    *out = ml_sb_finish(&b, NULL);
    return *out ? ML_OK : ML_NOMEM;
  }
  int t = 0;
  if (m->flags & ML_MODEL_INTERCEPT) {
    if (j == 0) ml_sb_puts(&b, "(Intercept)");
    t = 1;
  }
  /* The feature of term j by their widths, then its level: O(features),
  ** not O(terms), for a table of every term's name (ml_weights, the JSON). */
  for (int f = 0; f < m->k && t <= j; f++) {
    const ml_feature *ft = &m->feat[f];
    int w = ml_feature_terms(ft);
    if (j >= t + w) {
      t += w;
      continue;
    }
    int at = j - t, first = ft->full ? 0 : 1;
    if (ft->type == ML_FEAT_NUMERIC) ml_sb_puts(&b, ft->name);
    else if (at < ft->nlevels - first) ml_sb_printf(&b, "%s=%s", ft->name, ft->levels[first + at]);
    else ml_sb_printf(&b, "%s IS NULL", ft->name);
    break;
  }
  *out = ml_sb_finish(&b, NULL);
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
    if (!(u->levels[u->nlevels] = ml_dup_n(z, strlen(z)))) return ML_NOMEM;
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
    if (!(f->name = ml_dup_n(fa->name, strlen(fa->name)))) rc = ML_NOMEM;
    if (!rc && f->type == ML_FEAT_CATEGORICAL) rc = union_levels(fa, fb, f);
  }
  if (!rc && a->target && !(u->target = ml_dup_n(a->target, strlen(a->target)))) rc = ML_NOMEM;
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

void ml_model_feature_starts(const ml_model *m, int *start) {
  int t = (m->flags & ML_MODEL_INTERCEPT) ? 1 : 0;
  for (int j = 0; j < m->k; j++) {
    start[j] = t;
    t += ml_feature_terms(&m->feat[j]);
  }
}

/* FNV-1a of a level's text. */
static uint32_t level_hash(const char *z) {
  uint32_t h = 2166136261u;
  for (; *z; z++) h = (h ^ (unsigned char)*z) * 16777619u;
  return h;
}

int ml_feature_hash_levels(ml_feature *f) {
  if (f->type != ML_FEAT_CATEGORICAL || f->num_levels || f->nlevels < ML_LEVEL_HASH_MIN ||
      f->slots)
    return ML_OK;
  int ns = 16;
  while (ns < 2 * f->nlevels) ns *= 2;
  if (!(f->slots = ml_calloc(sizeof(int) * (uint64_t)ns))) return ML_NOMEM;
  f->nslots = ns;
  for (int l = 0; l < f->nlevels; l++) {
    uint32_t i = level_hash(f->levels[l]) & (uint32_t)(ns - 1);
    while (f->slots[i]) i = (i + 1) & (uint32_t)(ns - 1);
    f->slots[i] = l + 1;
  }
  return ML_OK;
}

int ml_level_index(const ml_feature *f, const char *z) {
  if (f->slots) {
    for (uint32_t i = level_hash(z) & (uint32_t)(f->nslots - 1);; i = (i + 1) & (uint32_t)(f->nslots - 1)) {
      int s = f->slots[i];
      if (!s || strcmp(f->levels[s - 1], z) == 0) return s - 1;
    }
  }
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
  ml_model_feature_starts(a, sa);
  ml_model_feature_starts(u, su);
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
