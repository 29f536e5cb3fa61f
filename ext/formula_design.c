/*
** formula_design.c: the design columns of a formula's terms, as R's
** model.matrix() makes them with treatment contrasts; one row of them from
** raw values, without allocating; the serialized form.
*/
#include <math.h>
#include <string.h>

#include "formula_int.h"
#include "mem.h"

void ml_formula_fmt_level(char *out, double v) { ml_formula_fmt_num(out, v); }

static int first_col(const fnode *nd, int k) {
  if (k < 0) return -1;
  if (nd[k].op == N_SYM) return nd[k].col;
  int c = first_col(nd, nd[k].a);
  return c >= 0 || nd[k].op == N_CALL ? c : first_col(nd, nd[k].b);
}

int ml_formula_var_col(const ml_formula *f, int v) {
  return f->vars[v].col >= 0 ? f->vars[v].col : first_col(f->nodes, f->vars[v].node);
}

int ml_formula_set_column(ml_formula *f, int c, int kind, const char *const *levels, int nlevels,
                          char *err, size_t nerr) {
  fcol *col = &f->cols[c];
  if (kind != ML_FCOL_NUMERIC && kind != ML_FCOL_CATEGORICAL) return ML_EINPUT;
  if (kind == ML_FCOL_CATEGORICAL && (col->use & ML_FUSE_NUMBER)) {
    ml_formula_err(err, nerr, "formula: %s is categorical, it cannot be used in arithmetic or as "
                   "the response", col->name);
    return ML_EINPUT;
  }
  int need = kind == ML_FCOL_CATEGORICAL || (col->use & ML_FUSE_FACTOR);
  if (need && nlevels < 1) {
    ml_formula_err(err, nerr, "formula: %s needs its levels (it is used as a factor)", col->name);
    return ML_EINPUT;
  }
  for (int l = 0; l < col->nlevels; l++) ml_free(col->levels[l]);
  ml_free(col->levels);
  col->levels = NULL;
  col->nlevels = 0;
  col->kind = kind;
  if (!need) return ML_OK;
  if (!(col->levels = ml_calloc((uint64_t)nlevels * sizeof *col->levels))) return ML_NOMEM;
  for (int l = 0; l < nlevels; l++) {
    if (!(col->levels[l] = ml_formula_strdup(levels[l], strlen(levels[l])))) return ML_NOMEM;
    col->nlevels = l + 1;
  }
  return ML_OK;
}

/* What each variable is, now that the columns' kinds are known. */
static int size_vars(ml_formula *f, char *err, size_t nerr) {
  for (int i = f->lhs >= 0; i < f->nvars; i++) {
    fvar *v = &f->vars[i];
    fcol *c = v->col >= 0 ? &f->cols[v->col] : NULL;
    v->is_factor = v->kind == V_FACTOR || (v->kind == V_PLAIN && c->kind == ML_FCOL_CATEGORICAL);
    v->ncol = v->is_factor ? c->nlevels : v->kind == V_POLY ? v->degree : 1;
    v->ref_level = 0;
    if (v->ref) {
      v->ref_level = -1;
      for (int l = 0; l < c->nlevels; l++)
        if (strcmp(c->levels[l], v->ref) == 0) v->ref_level = l;
      if (v->ref_level < 0) {
        ml_formula_err(err, nerr, "formula: %s: \"%s\" is not a level of %s", v->label, v->ref,
                       c->name);
        return ML_EINPUT;
      }
    }
  }
  return ML_OK;
}

/* R's TermCode: a factor gets contrasts (1) unless the term without it is
** non-empty and no earlier term contains that margin: then every level (2). */
static int term_code(const ml_formula *f, int t, int var) {
  const fterm *ft = &f->terms[t];
  if (ft->nv == 1) return 1;
  for (int s = 0; s < t; s++) {
    int all = 1;
    for (int i = 0; i < ft->nv && all; i++) {
      if (ft->vars[i] == var) continue;
      int found = 0;
      for (int j = 0; j < f->terms[s].nv; j++) found |= f->terms[s].vars[j] == ft->vars[i];
      all = found;
    }
    if (all) return 1;
  }
  return 2;
}

static int set_codes(ml_formula *f) {
  int first = !f->intercept; /* R: without an intercept the first factor gets every level */
  for (int t = 0; t < f->nterms; t++) {
    fterm *ft = &f->terms[t];
    ml_free(ft->code);
    if (!(ft->code = ml_calloc((uint64_t)ft->nv * sizeof *ft->code))) return ML_NOMEM;
    for (int i = 0; i < ft->nv; i++) {
      if (!f->vars[ft->vars[i]].is_factor) continue;
      ft->code[i] = first ? 2 : term_code(f, t, ft->vars[i]);
      first = 0;
    }
  }
  return ML_OK;
}

/* Level at position p of a factor whose reference moved first. */
static int level_at(const fvar *v, int p) {
  if (p == 0) return v->ref_level;
  return p <= v->ref_level ? p - 1 : p;
}

/* The name of piece j of variable i of term ft. */
static void piece_name(const ml_formula *f, const fterm *ft, int i, int j, ml_sb *b) {
  const fvar *v = &f->vars[ft->vars[i]];
  ml_sb_puts(b, v->label);
  if (ft->code[i]) {
    ml_sb_puts(b, f->cols[v->col].levels[level_at(v, j + (ft->code[i] == 1))]);
  } else if (v->ncol > 1) {
    ml_sb_printf(b, "%d", j + 1);
  }
}

static int pieces(const ml_formula *f, const fterm *ft, int i) {
  return ft->code[i] == 1 ? f->vars[ft->vars[i]].ncol - 1 : f->vars[ft->vars[i]].ncol;
}

static int name_columns(ml_formula *f, char *err, size_t nerr) {
  int n = f->intercept;
  for (int t = 0; t < f->nterms; t++) {
    fterm *ft = &f->terms[t];
    ft->off = n;
    ft->ncoef = 1;
    for (int i = 0; i < ft->nv; i++) {
      if (ft->code[i] == 1 && f->vars[ft->vars[i]].ncol < 2) {
        ml_formula_err(err, nerr, "formula: %s has one level; contrasts need 2 or more",
                       f->vars[ft->vars[i]].label);
        return ML_EINPUT;
      }
      ft->ncoef *= pieces(f, ft, i);
      if (ft->ncoef > 1000000) return ML_EINPUT;
    }
    n += ft->ncoef;
  }
  if (!(f->coef_names = ml_calloc((uint64_t)(n ? n : 1) * sizeof *f->coef_names))) return ML_NOMEM;
  f->ncoef = n;
  if (f->intercept && !(f->coef_names[0] = ml_formula_strdup("(Intercept)", 11))) return ML_NOMEM;
  for (int t = 0; t < f->nterms; t++) {
    fterm *ft = &f->terms[t];
    for (int j = 0; j < ft->ncoef; j++) {
      ml_sb b;
      ml_sb_init(&b);
      for (int i = 0, rest = j; i < ft->nv; i++) { /* the first variable varies fastest */
        if (i) ml_sb_puts(&b, ":");
        piece_name(f, ft, i, rest % pieces(f, ft, i), &b);
        rest /= pieces(f, ft, i);
      }
      if (!(f->coef_names[ft->off + j] = ml_sb_finish(&b, NULL))) return ML_NOMEM;
    }
  }
  return ML_OK;
}

int ml_formula_design(ml_formula *f, char *err, size_t nerr) {
  for (int c = 0; c < f->ncols; c++)
    if (!f->cols[c].kind) {
      ml_formula_err(err, nerr, "formula: the kind of column %s is not set", f->cols[c].name);
      return ML_EINPUT;
    }
  for (int j = 0; j < f->ncoef && f->coef_names; j++) ml_free(f->coef_names[j]);
  ml_free(f->coef_names);
  f->coef_names = NULL;
  f->ncoef = 0;
  f->designed = 0;
  int rc = size_vars(f, err, nerr);
  if (!rc) rc = set_codes(f);
  if (!rc) rc = name_columns(f, err, nerr);
  if (rc == ML_EINPUT && err && !err[0]) ml_formula_err(err, nerr, "formula: too many columns");
  if (rc == ML_NOMEM) ml_formula_err(err, nerr, "formula: out of memory");
  f->designed = rc == ML_OK;
  return rc;
}

/* ---- one row ---- */

static double r_pow(double x, double y) { return y == 2.0 ? x * x : pow(x, y); }

static double apply_fn(int fn, double x) {
  switch (fn) {
    case F_LOG: return x > 0 ? log(x) : NAN;
    case F_LOG2: return x > 0 ? log2(x) : NAN;
    case F_LOG10: return x > 0 ? log10(x) : NAN;
    case F_LOG1P: return x > -1 ? log1p(x) : NAN;
    case F_EXP: return exp(x);
    case F_SQRT: return x >= 0 ? sqrt(x) : NAN;
    case F_ABS: return fabs(x);
    default: return x; /* I() */
  }
}

/* An arithmetic node's value; NaN (and so undefined) once anything is not finite. */
static double eval(const fnode *nd, int k, const ml_fvalue *vals) {
  const fnode *x = &nd[k];
  double a, b, r;
  switch (x->op) {
    case N_NUM: return x->num;
    case N_SYM: return vals[x->col].num;
    case N_NEG: return -eval(nd, x->a, vals);
    case N_PAREN: return eval(nd, x->a, vals);
    case N_CALL: r = apply_fn(x->fn, eval(nd, nd[x->a].a, vals)); break;
    default:
      a = eval(nd, x->a, vals);
      b = eval(nd, x->b, vals);
      r = x->op == N_ADD ? a + b : x->op == N_SUB ? a - b : x->op == N_MUL ? a * b
        : x->op == N_DIV ? (b == 0 ? NAN : a / b) : r_pow(a, b);
  }
  return isfinite(r) ? r : NAN;
}

/* Piece j of variable v on this row (base: the value of its expression). */
static double piece(const ml_formula *f, const fvar *v, int code, int j, double base,
                    const ml_fvalue *vals) {
  if (!code) return v->kind == V_POLY ? r_pow(base, j + 1) : base;
  int l = vals[v->col].level;
  if (l < 0) return 0.0; /* unseen, read as the reference (unseen_zero) */
  int p = l == v->ref_level ? 0 : l < v->ref_level ? l + 1 : l; /* position after relevel */
  (void)f;
  return p == j + (code == 1) ? 1.0 : 0.0;
}

static int check_cols(const ml_formula *f, const ml_fvalue *vals, int use, int *bad) {
  for (int c = 0; c < f->ncols; c++) {
    if (!(f->cols[c].use & use)) continue;
    if (vals[c].isnull) return *bad = c, ML_FROW_MISSING;
    if (f->cols[c].nlevels && (vals[c].level < 0 || vals[c].level >= f->cols[c].nlevels) &&
        (f->cols[c].kind == ML_FCOL_CATEGORICAL || (f->cols[c].use & ML_FUSE_FACTOR)) &&
        !(f->unseen_zero && vals[c].level < 0))
      return *bad = c, ML_FROW_UNSEEN;
  }
  return ML_FROW_OK;
}

void ml_formula_set_unseen_zero(ml_formula *f, int on) { f->unseen_zero = on; }

int ml_formula_eval_row(const ml_formula *f, const ml_fvalue *vals, double *x, int *bad) {
  *bad = -1;
  int rc = check_cols(f, vals, ML_FUSE_RHS, bad);
  if (rc) return rc;
  if (f->intercept) x[0] = 1.0;
  for (int t = 0; t < f->nterms; t++) {
    const fterm *ft = &f->terms[t];
    double *out = x + ft->off;
    int n = 1;
    out[0] = 1.0;
    for (int i = 0; i < ft->nv; i++) {
      const fvar *v = &f->vars[ft->vars[i]];
      double base = 0;
      if (!ft->code[i]) {
        base = v->kind == V_PLAIN ? vals[v->col].num : eval(f->nodes, v->node, vals);
        if (!isfinite(base)) return *bad = ft->vars[i], ML_FROW_UNDEFINED;
      }
      int k = pieces(f, ft, i);
      for (int j = k - 1; j >= 0; j--) { /* in place: block j from block 0, which goes last */
        double pj = piece(f, v, ft->code[i], j, base, vals);
        for (int m = 0; m < n; m++) out[j * n + m] = out[m] * pj;
      }
      n *= k;
    }
    for (int j = 0; j < n; j++)
      if (!isfinite(out[j])) return *bad = ft->vars[0], ML_FROW_UNDEFINED;
  }
  return ML_FROW_OK;
}

int ml_formula_eval_response(const ml_formula *f, const ml_fvalue *vals, double *y, int *bad) {
  *bad = -1;
  if (f->lhs < 0) return ML_FROW_UNDEFINED;
  int rc = check_cols(f, vals, ML_FUSE_RESPONSE, bad);
  if (rc) return rc;
  *y = eval(f->nodes, f->lhs, vals);
  if (!isfinite(*y)) return *bad = 0, ML_FROW_UNDEFINED;
  return ML_FROW_OK;
}

/* ---- serialization: u8 version 1; u32 text length, text; u32 columns;
** per column u8 kind, u32 levels, per level u32 length and bytes ---- */

static void put_u32(ml_sb *b, uint32_t v) {
  unsigned char c[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 24)};
  ml_sb_append(b, (const char *)c, 4);
}

int ml_formula_save(const ml_formula *f, unsigned char **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!f->designed) return ML_EINPUT;
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_append(&b, "\1", 1);
  put_u32(&b, (uint32_t)strlen(f->text));
  ml_sb_puts(&b, f->text);
  put_u32(&b, (uint32_t)f->ncols);
  for (int c = 0; c < f->ncols; c++) {
    unsigned char kind = (unsigned char)f->cols[c].kind;
    ml_sb_append(&b, (const char *)&kind, 1);
    put_u32(&b, (uint32_t)f->cols[c].nlevels);
    for (int l = 0; l < f->cols[c].nlevels; l++) {
      put_u32(&b, (uint32_t)strlen(f->cols[c].levels[l]));
      ml_sb_puts(&b, f->cols[c].levels[l]);
    }
  }
  char *s = ml_sb_finish(&b, n);
  if (!s) return ML_NOMEM;
  *out = (unsigned char *)s;
  return ML_OK;
}

typedef struct reader {
  const unsigned char *p;
  size_t n, at;
  int bad;
} reader;

static uint32_t get_u32(reader *r) {
  if (r->bad || r->n - r->at < 4) return r->bad = 1, 0;
  const unsigned char *q = r->p + r->at;
  r->at += 4;
  return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}

/* A string of len bytes without NUL, copied, or NULL (r->bad, or no memory). */
static char *get_str(reader *r, uint32_t len, int *nomem) {
  if (r->bad || r->n - r->at < len || memchr(r->p + r->at, 0, len)) return r->bad = 1, NULL;
  char *s = ml_formula_strdup((const char *)r->p + r->at, len);
  if (!s) *nomem = 1;
  r->at += len;
  return s;
}

static int load_columns(ml_formula *f, reader *r, char *err, size_t nerr) {
  if (get_u32(r) != (uint32_t)f->ncols) r->bad = 1;
  for (int c = 0; c < f->ncols && !r->bad; c++) {
    int kind = r->at < r->n ? r->p[r->at++] : (r->bad = 1, 0);
    uint32_t nlev = get_u32(r);
    if (r->bad || nlev > (r->n - r->at) / 4) return r->bad = 1, ML_EINPUT;
    char **lev = ml_calloc((uint64_t)(nlev ? nlev : 1) * sizeof *lev);
    int nomem = !lev, rc;
    for (uint32_t l = 0; l < nlev && !nomem && !r->bad; l++) lev[l] = get_str(r, get_u32(r), &nomem);
    rc = nomem ? ML_NOMEM : r->bad ? ML_EINPUT
       : ml_formula_set_column(f, c, kind, (const char *const *)lev, (int)nlev, err, nerr);
    for (uint32_t l = 0; lev && l < nlev; l++) ml_free(lev[l]);
    ml_free(lev);
    if (rc) return r->bad = 1, rc;
  }
  return r->bad || r->at != r->n ? ML_EINPUT : ML_OK;
}

int ml_formula_load(const unsigned char *p, size_t n, ml_formula **out, char *err, size_t nerr) {
  reader r = {p, n, 0, 0};
  int nomem = 0, rc;
  *out = NULL;
  if (n < 1 || p[0] != 1) r.bad = 1;
  r.at = 1;
  char *text = r.bad ? NULL : get_str(&r, get_u32(&r), &nomem);
  if (nomem) return ML_NOMEM;
  if (!text) {
    ml_formula_err(err, nerr, "formula: the serialized formula is malformed");
    return ML_EINPUT;
  }
  rc = ml_formula_parse(text, NULL, 0, out, err, nerr);
  ml_free(text);
  if (!rc) rc = load_columns(*out, &r, err, nerr);
  if (!rc) rc = ml_formula_design(*out, err, nerr);
  if (rc) {
    ml_formula_free(*out);
    *out = NULL;
    if (rc == ML_EINPUT)
      ml_formula_err(err, nerr, "formula: the serialized formula is malformed");
  }
  return rc;
}
