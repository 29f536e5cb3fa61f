/*
** formula.c: the terms of a parsed formula, as R's terms.formula() makes
** them: variables, term sets as bitsets, + - * : ^ over lists of terms,
** duplicates removed, ordered by degree.  Then the API's getters.
*/
#include <string.h>

#include "formula_int.h"
#include "mem.h"

/* A list of terms: bitsets of nw words over the variables, back to back. */
typedef struct tlist {
  uint64_t *w;
  int n, cap;
} tlist;

typedef struct enc {
  ml_formula *f;
  int nw;          /* words per term */
  int parity;      /* 0 inside the right side of a '-' */
  int rc;
  char *err;
  size_t nerr;
  const char *const *cols; /* the source's columns, for '.' */
  int ncols;
  char *dot;       /* '.' written out: "(a + b)" */
} enc;

static uint64_t *term_at(enc *e, tlist *l, int i) { return l->w + (size_t)i * e->nw; }

static int tl_push(enc *e, tlist *l, const uint64_t *bits) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 8;
    uint64_t *w = ml_realloc(l->w, (uint64_t)cap * e->nw * sizeof *w);
    if (!w) return e->rc = ML_NOMEM;
    l->w = w;
    l->cap = cap;
  }
  memcpy(term_at(e, l, l->n++), bits, (size_t)e->nw * sizeof *bits);
  return 0;
}

static int tl_find(enc *e, tlist *l, const uint64_t *bits) {
  for (int i = 0; i < l->n; i++)
    if (memcmp(term_at(e, l, i), bits, (size_t)e->nw * sizeof *bits) == 0) return i;
  return -1;
}

static int is_empty(enc *e, const uint64_t *bits) {
  for (int i = 0; i < e->nw; i++)
    if (bits[i]) return 0;
  return 1;
}

/* Append src's terms to dst, skipping empty terms and repeats (TrimRepeats). */
static int tl_merge(enc *e, tlist *dst, tlist *src) {
  for (int i = 0; i < src->n && !e->rc; i++) {
    uint64_t *t = term_at(e, src, i);
    if (!is_empty(e, t) && tl_find(e, dst, t) < 0) tl_push(e, dst, t);
  }
  return e->rc;
}

/* Every l | r, l outer (InteractTerms). */
static int tl_product(enc *e, tlist *dst, tlist *a, tlist *b) {
  uint64_t *t = ml_malloc((uint64_t)e->nw * sizeof *t);
  if (!t) return e->rc = ML_NOMEM;
  for (int i = 0; i < a->n && !e->rc; i++)
    for (int j = 0; j < b->n && !e->rc; j++) {
      for (int k = 0; k < e->nw; k++) t[k] = term_at(e, a, i)[k] | term_at(e, b, j)[k];
      if (!is_empty(e, t) && tl_find(e, dst, t) < 0) tl_push(e, dst, t);
    }
  ml_free(t);
  return e->rc;
}

static void tl_free(tlist *l) {
  ml_free(l->w);
  memset(l, 0, sizeof *l);
}

/* "formula: what 'token' at 8 in "text"; hint", the token as R writes it. */
static int efail(enc *e, int node, const char *what, const char *hint) {
  if (e->rc) return e->rc;
  const ml_formula *f = e->f;
  ml_sb b;
  ml_sb_init(&b);
  ml_formula_deparse(&b, f->nodes, node, NULL);
  char *s = ml_sb_finish(&b, NULL);
  if (!s) return e->rc = ML_NOMEM;
  ml_formula_err(e->err, e->nerr, "formula: %s '%.60s%s' at %d in \"%.200s%s\"; %s", what, s,
                 strlen(s) > 60 ? "..." : "", f->nodes[node].pos, f->text,
                 strlen(f->text) > 200 ? "..." : "", hint);
  ml_free(s);
  return e->rc = ML_EINPUT;
}

/* ---- columns and variables ---- */

static int install_col(enc *e, const char *name, int use) {
  ml_formula *f = e->f;
  for (int c = 0; c < f->ncols; c++)
    if (strcmp(f->cols[c].name, name) == 0) {
      f->cols[c].use |= use;
      return c;
    }
  fcol *nc = ml_realloc(f->cols, (uint64_t)(f->ncols + 1) * sizeof *nc);
  if (!nc) return e->rc = ML_NOMEM, -1;
  f->cols = nc;
  memset(&nc[f->ncols], 0, sizeof *nc);
  nc[f->ncols].name = ml_formula_strdup(name, strlen(name));
  if (!nc[f->ncols].name) return e->rc = ML_NOMEM, -1;
  nc[f->ncols].use = use;
  return f->ncols++;
}

static int nargs(const fnode *nd, int k, int *named) {
  int n = 0;
  *named = 0;
  for (int a = nd[k].a; a >= 0; a = nd[a].b, n++)
    if (nd[a].name) (*named)++;
  return n;
}

/* An arithmetic expression (I(), log() ...): its columns are numbers. */
static int check_arith(enc *e, int k, int use) {
  fnode *x = &e->f->nodes[k];
  int named;
  switch (x->op) {
    case N_NUM: return 0;
    case N_SYM: return (x->col = install_col(e, x->name, use | ML_FUSE_NUMBER)) < 0 ? e->rc : 0;
    case N_NEG:
    case N_PAREN: return check_arith(e, x->a, use);
    case N_ADD: case N_SUB: case N_MUL: case N_DIV: case N_POW:
      return check_arith(e, x->a, use) || check_arith(e, x->b, use) ? e->rc : 0;
    case N_CALL:
      if (x->fn < F_I || x->fn > F_ABS)
        return x->fn ? efail(e, k, "term inside arithmetic", "factor(), relevel() and poly() are terms, not numbers")
                   : efail(e, k, "unknown function", "the functions are I, log, log2, log10, log1p, "
                                 "exp, sqrt, abs, factor, relevel and poly(x, d, raw = TRUE)");
      if (nargs(e->f->nodes, k, &named) != 1 || named)
        return efail(e, k, "wrong arguments", "this function takes one unnamed argument");
      return check_arith(e, e->f->nodes[x->a].a, use);
    case N_COLON: return efail(e, k, "interaction inside arithmetic", "':' is not arithmetic; inside I() multiply with *");
    default: return efail(e, k, "unexpected", "an arithmetic expression of numbers and columns was expected");
  }
}

/* factor(x) or relevel(x or factor(x), "level"): the column. */
static int check_factor(enc *e, int k, fvar *v) {
  fnode *nd = e->f->nodes;
  int named, n = nargs(nd, k, &named), arg = nd[nd[k].a >= 0 ? nd[k].a : k].a;
  if (nd[k].fn == F_FACTOR && (n != 1 || named || nd[arg].op != N_SYM))
    return efail(e, k, "wrong arguments", "factor() takes one column name");
  if (nd[k].fn == F_RELEVEL) {
    int second = n == 2 ? nd[nd[k].a].b : -1;
    if (n != 2 || nd[nd[k].a].name || nd[nd[second].a].op != N_STR ||
        (nd[second].name && strcmp(nd[second].name, "ref") != 0))
      return efail(e, k, "wrong arguments", "relevel() takes a column and a level in quotes: relevel(x, \"b\")");
    if (nd[arg].op == N_CALL && nd[arg].fn == F_FACTOR) {
      if (check_factor(e, arg, v)) return e->rc;
    } else if (nd[arg].op != N_SYM) {
      return efail(e, k, "wrong arguments", "relevel() takes a column name or factor(column)");
    } else if ((v->col = install_col(e, nd[arg].name, ML_FUSE_FACTOR)) < 0) {
      return e->rc;
    }
    v->ref = nd[nd[second].a].name;
    return 0;
  }
  return (v->col = install_col(e, nd[arg].name, ML_FUSE_FACTOR)) < 0 ? e->rc : 0;
}

/* poly(x, d, raw = TRUE) or poly(x, degree = d, raw = TRUE). */
static int check_poly(enc *e, int k, fvar *v) {
  fnode *nd = e->f->nodes;
  int x = -1, deg = -1, raw = 0;
  for (int a = nd[k].a; a >= 0; a = nd[a].b) {
    const char *nm = nd[a].name;
    if (!nm && x < 0) x = nd[a].a;
    else if ((!nm && deg < 0) || (nm && strcmp(nm, "degree") == 0)) deg = nd[a].a;
    else if (nm && strcmp(nm, "raw") == 0)
      raw = nd[nd[a].a].op == N_SYM && !nd[nd[a].a].quoted && strcmp(nd[nd[a].a].name, "TRUE") == 0
                ? 1 : -1;
    else return efail(e, k, "wrong arguments", "write poly(x, degree, raw = TRUE)");
  }
  if (raw != 1)
    return efail(e, k, "orthogonal polynomial", "only raw polynomials are supported: write "
                       "poly(x, d, raw = TRUE)");
  if (x < 0 || deg < 0 || nd[deg].op != N_NUM || !(nd[deg].num >= 1 && nd[deg].num <= 20) ||
      nd[deg].num != (int)nd[deg].num)
    return efail(e, k, "wrong arguments", "poly() takes a column or expression and a degree from 1 to 20");
  v->node = x;
  v->degree = (int)nd[deg].num;
  return check_arith(e, x, 0);
}

static int classify(enc *e, int k, fvar *v) {
  fnode *x = &e->f->nodes[k];
  v->node = k;
  if (x->op == N_SYM) {
    v->kind = V_PLAIN;
    return (v->col = install_col(e, x->name, ML_FUSE_PLAIN)) < 0 ? e->rc : 0;
  }
  if (x->op == N_CALL && (x->fn == F_FACTOR || x->fn == F_RELEVEL)) {
    v->kind = V_FACTOR;
    return check_factor(e, k, v);
  }
  if (x->op == N_CALL && x->fn == F_POLY) {
    v->kind = V_POLY;
    return check_poly(e, k, v);
  }
  v->kind = V_EXPR;
  return check_arith(e, k, 0);
}

/* The variable of node k (installed on first sight, by its label). */
static int install_var(enc *e, int k) {
  ml_formula *f = e->f;
  ml_sb b;
  ml_sb_init(&b);
  ml_formula_deparse(&b, f->nodes, k, NULL);
  char *label = ml_sb_finish(&b, NULL);
  if (!label) return e->rc = ML_NOMEM, -1;
  for (int i = 0; i < f->nvars; i++)
    if (strcmp(f->vars[i].label, label) == 0) {
      ml_free(label);
      return i;
    }
  fvar *nv = ml_realloc(f->vars, (uint64_t)(f->nvars + 1) * sizeof *nv);
  if (!nv) {
    ml_free(label);
    return e->rc = ML_NOMEM, -1;
  }
  f->vars = nv;
  memset(&nv[f->nvars], 0, sizeof *nv);
  nv[f->nvars].label = label;
  nv[f->nvars].col = -1;
  if (f->nvars >= e->nw * 64) {
    ml_free(label);
    return efail(e, k, "too many variables", "simplify the formula"), -1;
  }
  int i = f->nvars++;
  if (classify(e, k, &f->vars[i])) return -1;
  return i;
}

static int encode(enc *e, int k, tlist *out);

static int single_term(enc *e, int k, tlist *out) {
  int v = install_var(e, k);
  if (v < 0) return e->rc;
  uint64_t *t = ml_calloc((uint64_t)e->nw * sizeof *t);
  if (!t) return e->rc = ML_NOMEM;
  t[v / 64] |= (uint64_t)1 << (v % 64);
  tl_push(e, out, t);
  ml_free(t);
  return e->rc;
}

/* Whether the expression at k names column c. */
static int names(const fnode *nd, int k, const char *c) {
  if (k < 0) return 0;
  if (nd[k].op == N_SYM) return strcmp(nd[k].name, c) == 0;
  return names(nd, nd[k].a, c) || (nd[k].op != N_CALL && names(nd, nd[k].b, c));
}

/* '.': every source column but those the response names. */
static int encode_dot(enc *e, int k, tlist *out) {
  ml_formula *f = e->f;
  if (e->ncols == 0 && !e->dot) return efail(e, k, "no columns for", "'.' needs the source's columns");
  ml_sb b;
  ml_sb_init(&b);
  int n = 0;
  for (int c = 0; c < e->ncols && !e->rc; c++) {
    if (f->lhs >= 0 && names(f->nodes, f->lhs, e->cols[c])) continue;
    int s = f->nnodes; /* a symbol node for the column, past the parsed ones */
    fnode *nn = ml_realloc(f->nodes, (uint64_t)(s + 1) * sizeof *nn);
    if (!nn) {
      ml_sb_reset(&b);
      return e->rc = ML_NOMEM;
    }
    f->nodes = nn;
    memset(&nn[s], 0, sizeof *nn);
    nn[s].op = N_SYM;
    nn[s].quoted = 1; /* a column, even one named TRUE */
    nn[s].pos = f->nodes[k].pos;
    nn[s].name = ml_formula_strdup(e->cols[c], strlen(e->cols[c]));
    if (!nn[s].name) {
      ml_sb_reset(&b);
      return e->rc = ML_NOMEM;
    }
    f->nnodes++;
    ml_sb_puts(&b, n++ ? " + " : "(");
    ml_formula_put_name(&b, e->cols[c]);
    single_term(e, s, out);
  }
  if (n == 0 || e->rc) {
    ml_sb_reset(&b);
    return e->rc ? e->rc : efail(e, k, "no columns for", "'.' leaves no column besides the response");
  }
  ml_sb_puts(&b, ")");
  ml_free(e->dot);
  e->dot = ml_sb_finish(&b, NULL);
  return e->rc ? e->rc : e->dot ? 0 : (e->rc = ML_NOMEM);
}

static int encode_pow(enc *e, int k, tlist *out) {
  int a = e->f->nodes[k].a, b = e->f->nodes[k].b;
  const fnode *r = &e->f->nodes[b];
  if (r->op != N_NUM || !(r->num >= 1 && r->num <= 64) || r->num != (int)r->num)
    return efail(e, b, "invalid power", "the power of terms is a whole number from 1 to 64");
  int power = (int)r->num;
  tlist left = {0}, cur = {0};
  if (!encode(e, a, &left) && !tl_merge(e, &cur, &left)) {
    for (int i = 1; i < power && !e->rc; i++) {
      tlist next = {0};
      tl_product(e, &next, &left, &cur);
      tl_free(&cur);
      cur = next;
    }
  }
  if (!e->rc) tl_merge(e, out, &cur);
  tl_free(&left);
  tl_free(&cur);
  return e->rc;
}

/* a op b over term lists: + (a then b), - (a without b), * (a, b, a:b), :. */
static int encode_binary(enc *e, int k, tlist *out) {
  const fnode *x = &e->f->nodes[k];
  int op = x->op;
  tlist a = {0}, b = {0};
  if (!encode(e, x->a, &a)) {
    if (op == N_SUB) e->parity = !e->parity;
    encode(e, e->f->nodes[k].b, &b);
    if (op == N_SUB) e->parity = !e->parity;
  }
  if (!e->rc && op == N_SUB) {
    for (int i = 0; i < a.n && !e->rc; i++)
      if (tl_find(e, &b, term_at(e, &a, i)) < 0) tl_push(e, out, term_at(e, &a, i));
  } else if (!e->rc && op == N_COLON) {
    tl_product(e, out, &a, &b);
  } else if (!e->rc) {
    if (!tl_merge(e, out, &a) && !tl_merge(e, out, &b) && op == N_MUL) tl_product(e, out, &a, &b);
  }
  tl_free(&a);
  tl_free(&b);
  return e->rc;
}

static int encode(enc *e, int k, tlist *out) {
  const fnode *x = &e->f->nodes[k];
  switch (x->op) {
    case N_NUM:
      if (x->num != 0 && x->num != 1)
        return efail(e, k, "unexpected number", "a number in a formula is 0 or 1 (the intercept); for arithmetic use I()");
      e->f->intercept = (x->num == 1) == e->parity;
      return 0;
    case N_ADD: case N_SUB: case N_MUL: case N_COLON: return encode_binary(e, k, out);
    case N_POW: return encode_pow(e, k, out);
    case N_PAREN: return encode(e, x->a, out);
    case N_NEG: {
      tlist gone = {0};
      e->parity = !e->parity;
      encode(e, x->a, &gone);
      e->parity = !e->parity;
      tl_free(&gone);
      return e->rc;
    }
    case N_DOT: return encode_dot(e, k, out);
    case N_DIV: return efail(e, k, "unsupported", "nesting with '/' is not supported: write a + a:b, or I(a/b) to divide");
    case N_SYM: case N_CALL: return single_term(e, k, out);
    default: return efail(e, k, "unexpected", "a term was expected");
  }
}

static int popcount(enc *e, const uint64_t *t) {
  int n = 0;
  for (int i = 0; i < e->nw; i++) n += __builtin_popcountll(t[i]);
  return n;
}

/* The sorted terms (by degree, stable) into f->terms, labels joined by ':'. */
static int build_terms(enc *e, tlist *l) {
  ml_formula *f = e->f;
  f->terms = ml_calloc((uint64_t)(l->n ? l->n : 1) * sizeof *f->terms);
  if (!f->terms) return e->rc = ML_NOMEM;
  for (int deg = 1; deg <= f->nvars; deg++)
    for (int i = 0; i < l->n; i++) {
      uint64_t *t = term_at(e, l, i);
      if (popcount(e, t) != deg) continue;
      if (f->lhs >= 0 && (t[0] & 1)) return efail(e, f->lhs, "the response is a term too:", "remove it from the right-hand side");
      fterm *ft = &f->terms[f->nterms++];
      ft->vars = ml_malloc((uint64_t)deg * sizeof *ft->vars);
      if (!ft->vars) return e->rc = ML_NOMEM;
      ml_sb b;
      ml_sb_init(&b);
      for (int v = 0; v < f->nvars; v++)
        if (t[v / 64] >> (v % 64) & 1) {
          if (ft->nv) ml_sb_puts(&b, ":");
          ml_sb_puts(&b, f->vars[v].label);
          ft->vars[ft->nv++] = v;
        }
      if (!(ft->label = ml_sb_finish(&b, NULL))) return e->rc = ML_NOMEM;
    }
  return 0;
}

/* The response: variable 0, its columns after the right-hand side's. */
static int encode_response(enc *e) {
  ml_formula *f = e->f;
  f->nrhs_cols = f->ncols;
  for (int c = 0; c < f->ncols; c++) f->cols[c].use |= ML_FUSE_RHS;
  if (f->lhs < 0) return 0;
  fvar *v = &f->vars[0];
  v->kind = V_EXPR;
  v->node = f->lhs;
  v->col = -1;
  if (check_arith(e, f->lhs, ML_FUSE_RESPONSE)) return e->rc;
  for (int c = f->nrhs_cols; c < f->ncols; c++) f->cols[c].use |= ML_FUSE_RESPONSE;
  return 0;
}

static int normalize(enc *e, int rhs) {
  ml_formula *f = e->f;
  ml_sb b;
  ml_sb_init(&b);
  if (f->lhs >= 0) {
    ml_formula_deparse(&b, f->nodes, f->lhs, NULL);
    ml_sb_puts(&b, " ");
  }
  ml_sb_puts(&b, f->lhs >= 0 ? "~ " : "~");
  ml_formula_deparse(&b, f->nodes, rhs, e->dot);
  char *s = ml_sb_finish(&b, NULL);
  if (!s) return e->rc = ML_NOMEM;
  ml_free(f->text);
  f->text = s;
  return 0;
}

static int expand(enc *e, int rhs) {
  ml_formula *f = e->f;
  tlist l = {0};
  e->nw = (f->nnodes + e->ncols + 1) / 64 + 1;
  e->parity = 1;
  f->intercept = 1;
  if (f->lhs >= 0) {
    if (!(f->vars = ml_calloc(sizeof *f->vars))) return e->rc = ML_NOMEM;
    f->nvars = 1;
    ml_sb b;
    ml_sb_init(&b);
    ml_formula_deparse(&b, f->nodes, f->lhs, NULL);
    if (!(f->vars[0].label = ml_sb_finish(&b, NULL))) return e->rc = ML_NOMEM;
  }
  if (!encode(e, rhs, &l) && !encode_response(e) && !build_terms(e, &l)) normalize(e, rhs);
  tl_free(&l);
  return e->rc;
}

/* The text with '.' written out must parse too, within the same bounds, so
** that ml_formula_load() gives back what was saved. */
static int check_written_out(ml_formula *f, char *err, size_t nerr) {
  fnode *nd = NULL;
  int n = 0, lhs, rhs;
  int rc = ml_formula_parse_text(f->text, &nd, &n, &lhs, &rhs, NULL, 0);
  for (int i = 0; i < n; i++) ml_free(nd[i].name);
  ml_free(nd);
  if (rc == ML_EINPUT)
    ml_formula_err(err, nerr, "formula: '.' written out as its %d columns does not parse again "
                   "(a name with a backquote, or too deep); name the columns", f->ncols);
  return rc;
}

int ml_formula_parse(const char *text, const char *const *columns, int ncols, ml_formula **out,
                     char *err, size_t nerr) {
  *out = NULL;
  ml_formula *f = ml_calloc(sizeof *f);
  if (!f) return ML_NOMEM;
  f->text = ml_formula_strdup(text, strlen(text));
  if (!f->text) {
    ml_free(f);
    return ML_NOMEM;
  }
  int rhs;
  int rc = ml_formula_parse_text(text, &f->nodes, &f->nnodes, &f->lhs, &rhs, err, nerr);
  if (rc == ML_OK) {
    enc e = {f, 0, 1, 0, err, nerr, columns, ncols, NULL};
    rc = expand(&e, rhs);
    if (!rc && e.dot) rc = check_written_out(f, err, nerr);
    ml_free(e.dot);
  }
  if (rc == ML_NOMEM) ml_formula_err(err, nerr, "formula: out of memory");
  if (rc) {
    ml_formula_free(f);
    return rc;
  }
  *out = f;
  return ML_OK;
}

void ml_formula_free(ml_formula *f) {
  if (!f) return;
  for (int i = 0; i < f->nnodes; i++) ml_free(f->nodes[i].name);
  ml_free(f->nodes);
  for (int i = 0; i < f->nvars; i++) ml_free(f->vars[i].label);
  ml_free(f->vars);
  for (int c = 0; c < f->ncols; c++) {
    ml_free(f->cols[c].name);
    for (int l = 0; l < f->cols[c].nlevels; l++) ml_free(f->cols[c].levels[l]);
    ml_free(f->cols[c].levels);
  }
  ml_free(f->cols);
  for (int t = 0; t < f->nterms; t++) {
    ml_free(f->terms[t].vars);
    ml_free(f->terms[t].label);
    ml_free(f->terms[t].code);
  }
  ml_free(f->terms);
  for (int j = 0; j < f->ncoef && f->coef_names; j++) ml_free(f->coef_names[j]);
  ml_free(f->coef_names);
  ml_free(f->text);
  ml_free(f);
}

int ml_formula_has_response(const ml_formula *f) { return f->lhs >= 0; }
int ml_formula_intercept(const ml_formula *f) { return f->intercept; }
int ml_formula_nterms(const ml_formula *f) { return f->nterms; }
const char *ml_formula_term_label(const ml_formula *f, int t) { return f->terms[t].label; }
int ml_formula_nvars(const ml_formula *f) { return f->nvars; }
const char *ml_formula_var_label(const ml_formula *f, int v) { return f->vars[v].label; }
int ml_formula_ncols(const ml_formula *f) { return f->ncols; }
int ml_formula_nrhs_cols(const ml_formula *f) { return f->nrhs_cols; }
const char *ml_formula_col_name(const ml_formula *f, int c) { return f->cols[c].name; }
int ml_formula_col_use(const ml_formula *f, int c) { return f->cols[c].use; }
int ml_formula_col_kind(const ml_formula *f, int c) { return f->cols[c].kind; }
const char *const *ml_formula_col_levels(const ml_formula *f, int c, int *n) {
  *n = f->cols[c].nlevels;
  return (const char *const *)f->cols[c].levels;
}
int ml_formula_col_level(const ml_formula *f, int c, const char *z) {
  for (int l = 0; l < f->cols[c].nlevels; l++)
    if (strcmp(f->cols[c].levels[l], z) == 0) return l;
  return -1;
}
const char *ml_formula_text(const ml_formula *f) { return f->text; }
int ml_formula_ncoef(const ml_formula *f) { return f->ncoef; }
const char *ml_formula_coef_name(const ml_formula *f, int j) { return f->coef_names[j]; }
