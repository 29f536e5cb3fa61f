/*
** formula_parse.c: the text of an R formula to nodes (R's precedence: ~, then
** + -, * /, :, unary minus, ^), and nodes back to text as R deparses them.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formula_int.h"
#include "mem.h"
#include "strbuf.h"

#define MAX_DEPTH 200   /* parentheses, powers, unary minus: the parser's recursion */
#define MAX_TREE 5000   /* any tree (a + b + ... is as deep as it is long) */
#define MAX_ARGS 8

enum { T_EOF, T_NUM, T_NAME, T_STR, T_DOT, T_OP, T_BAD };

typedef struct tok {
  int type, pos, len; /* len: bytes of the token in the text */
  int op;             /* T_OP: the character */
  double num;
} tok;

typedef struct parser {
  const char *z;
  int n;
  tok t;
  fnode *nodes;
  int nnodes, cap;
  int depth;
  int rc;
  char *err;
  size_t nerr;
} parser;

void ml_formula_err(char *err, size_t nerr, const char *fmt, ...) {
  if (!err || nerr == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, nerr, fmt, ap);
  va_end(ap);
}

char *ml_formula_strdup(const char *z, size_t n) {
  char *s = ml_malloc(n + 1);
  if (s) {
    memcpy(s, z, n);
    s[n] = 0;
  }
  return s;
}

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* R's number syntax (1, .5, 1., 1e-3) through the JSON reader, which is
** locale-independent: add the zeros JSON wants, drop leading ones. */
static int read_number(const char *z, int n, double *v) {
  char buf[80];
  int k = 0, i = 0;
  if (n >= (int)sizeof buf - 4) return -1;
  while (i < n - 1 && z[i] == '0' && is_digit(z[i + 1])) i++;
  if (z[i] == '.') buf[k++] = '0';
  for (; i < n; i++) {
    buf[k++] = z[i];
    if (z[i] == '.' && (i + 1 == n || !is_digit(z[i + 1]))) k--;
  }
  return ml_parse_double(buf, (size_t)k, v);
}

static int lex_number(const char *z, int n, int i, tok *t) {
  int s = i;
  while (i < n && is_digit(z[i])) i++;
  if (i < n && z[i] == '.') i++;
  while (i < n && is_digit(z[i])) i++;
  if (i < n && (z[i] == 'e' || z[i] == 'E')) {
    int j = i + 1;
    if (j < n && (z[j] == '+' || z[j] == '-')) j++;
    if (j < n && is_digit(z[j])) {
      while (j < n && is_digit(z[j])) j++;
      i = j;
    }
  }
  t->type = T_NUM;
  t->len = i - s;
  /* Finite only; and the value of its text as R deparses it (15 significant
  ** digits), so that the saved text gives back the same number. */
  char txt[32];
  if (read_number(z + s, i - s, &t->num) != 0 || !isfinite(t->num)) return t->type = T_BAD, i;
  ml_formula_fmt_num(txt, t->num);
  if (read_number(txt, (int)strlen(txt), &t->num) != 0) t->type = T_BAD;
  return i;
}

/* The token at byte i. */
static tok lex(const char *z, int n, int i) {
  tok t = {T_EOF, 0, 0, 0, 0};
  while (i < n && (z[i] == ' ' || z[i] == '\t' || z[i] == '\n' || z[i] == '\r')) i++;
  t.pos = i;
  if (i >= n) return t;
  int c = (unsigned char)z[i];
  if (is_digit(c) || (c == '.' && i + 1 < n && is_digit(z[i + 1]))) {
    lex_number(z, n, i, &t);
  } else if (is_alpha(c) || c == '.') {
    int j = i;
    while (j < n && (is_alpha(z[j]) || is_digit(z[j]) || z[j] == '.' || z[j] == '_')) j++;
    t.type = (j - i == 1 && c == '.') ? T_DOT : T_NAME;
    t.len = j - i;
  } else if (c == '`' || c == '"' || c == '\'') {
    int j = i + 1;
    while (j < n && z[j] != c && z[j] != '\\' && z[j] != 0) j++;
    t.type = (j < n && z[j] == c && (c != '`' || j > i + 1)) ? (c == '`' ? T_NAME : T_STR) : T_BAD;
    t.len = j < n ? j - i + 1 : n - i;
  } else if (c && strchr("~+-*/^:(),=", c)) {
    t.type = T_OP;
    t.op = c;
    t.len = 1;
  } else {
    t.type = T_BAD;
    t.len = 1;
    while (i + t.len < n && ((unsigned char)z[i + t.len] & 0xC0) == 0x80) t.len++;
  }
  return t;
}

static void advance(parser *p) { p->t = lex(p->z, p->n, p->t.pos + p->t.len); }

static int fail(parser *p, const char *what) {
  if (p->rc) return -1;
  p->rc = ML_EINPUT;
  const char *more = p->n > 200 ? "..." : ""; /* the text shown is at most 200 bytes */
  if (p->t.type == T_EOF)
    ml_formula_err(p->err, p->nerr, "formula: unexpected end at %d in \"%.200s%s\"; %s", p->t.pos,
                   p->z, more, what);
  else
    ml_formula_err(p->err, p->nerr, "formula: unexpected '%.*s' at %d in \"%.200s%s\"; %s",
                   p->t.len > 40 ? 40 : p->t.len, p->z + p->t.pos, p->t.pos, p->z, more, what);
  return -1;
}

static int add_node(parser *p, int op, int a, int b, int pos) {
  if (p->nnodes == p->cap) {
    int cap = p->cap ? 2 * p->cap : 16;
    fnode *nn = ml_realloc(p->nodes, (uint64_t)cap * sizeof *nn);
    if (!nn) {
      p->rc = ML_NOMEM;
      return -1;
    }
    p->nodes = nn;
    p->cap = cap;
  }
  fnode *x = &p->nodes[p->nnodes];
  memset(x, 0, sizeof *x);
  x->op = op;
  x->a = a;
  x->b = b;
  x->pos = pos;
  x->col = -1;
  x->depth = 1;
  if (a >= 0 && p->nodes[a].depth >= x->depth) x->depth = p->nodes[a].depth + 1;
  if (b >= 0 && p->nodes[b].depth >= x->depth) x->depth = p->nodes[b].depth + 1;
  if (x->depth > MAX_TREE) {
    fail(p, "the formula is nested too deeply");
    return -1;
  }
  return p->nnodes++;
}

/* The name or string of the current token, unquoted, on node k. */
static int take_name(parser *p, int k) {
  int q = p->t.type == T_STR || p->z[p->t.pos] == '`';
  char *s = ml_formula_strdup(p->z + p->t.pos + q, (size_t)(p->t.len - 2 * q));
  if (!s) {
    p->rc = ML_NOMEM;
    return -1;
  }
  p->nodes[k].name = s;
  p->nodes[k].quoted = p->z[p->t.pos] == '`';
  return k;
}

static int parse_expr(parser *p, int minprec);

static int fn_of(const char *name) {
  static const char *const names[] = {"I",   "log", "log2",   "log10",   "log1p", "exp",
                                      "sqrt", "abs", "factor", "relevel", "poly"};
  for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
    if (strcmp(names[i], name) == 0) return F_I + i;
  return F_NONE;
}

/* name( [name =] expr, ... ): k is the N_CALL node, the current token '('. */
static int parse_args(parser *p, int k) {
  int last = -1, nargs = 0;
  advance(p);
  if (p->t.type == T_OP && p->t.op == ')') {
    advance(p);
    return k;
  }
  for (;;) {
    int arg = add_node(p, N_ARG, -1, -1, p->t.pos);
    if (arg < 0) return -1;
    tok next = lex(p->z, p->n, p->t.pos + p->t.len);
    if (p->t.type == T_NAME && next.type == T_OP && next.op == '=') {
      if (take_name(p, arg) < 0) return -1;
      advance(p);
      advance(p);
    }
    int v = parse_expr(p, 1);
    if (v < 0) return -1;
    p->nodes[arg].a = v;
    p->nodes[arg].depth = p->nodes[v].depth + 1;
    if (p->nodes[k].depth <= p->nodes[arg].depth) p->nodes[k].depth = p->nodes[arg].depth + 1;
    if (p->nodes[k].depth > MAX_TREE) return fail(p, "the formula is nested too deeply");
    if (++nargs > MAX_ARGS) return fail(p, "a function here takes at most 3 arguments");
    if (last < 0) p->nodes[k].a = arg;
    else p->nodes[last].b = arg;
    last = arg;
    if (p->t.type == T_OP && p->t.op == ')') break;
    if (!(p->t.type == T_OP && p->t.op == ',')) return fail(p, "',' or ')' was expected");
    advance(p);
  }
  advance(p);
  return k;
}

static int parse_primary(parser *p) {
  int pos = p->t.pos, k;
  switch (p->t.type) {
    case T_NUM:
      if ((k = add_node(p, N_NUM, -1, -1, pos)) < 0) return -1;
      p->nodes[k].num = p->t.num;
      advance(p);
      return k;
    case T_DOT:
      if ((k = add_node(p, N_DOT, -1, -1, pos)) < 0) return -1;
      advance(p);
      return k;
    case T_STR:
    case T_NAME: {
      int call = p->t.type == T_NAME && p->z[pos] != '`' &&
                 lex(p->z, p->n, pos + p->t.len).type == T_OP &&
                 lex(p->z, p->n, pos + p->t.len).op == '(';
      if ((k = add_node(p, call ? N_CALL : p->t.type == T_STR ? N_STR : N_SYM, -1, -1, pos)) < 0 ||
          take_name(p, k) < 0)
        return -1;
      advance(p);
      if (!call) return k;
      p->nodes[k].fn = fn_of(p->nodes[k].name);
      return parse_args(p, k);
    }
    case T_OP:
      if (p->t.op == '(') {
        advance(p);
        int a = parse_expr(p, 1);
        if (a < 0) return -1;
        if (!(p->t.type == T_OP && p->t.op == ')')) return fail(p, "')' was expected");
        advance(p);
        return add_node(p, N_PAREN, a, -1, pos);
      }
      if (p->t.op == '-') {
        advance(p);
        int a = parse_expr(p, 35);
        return a < 0 ? -1 : add_node(p, N_NEG, a, -1, pos);
      }
      break;
    default:
      break;
  }
  return fail(p, "a name, a number, a call or '(' was expected");
}

static int binop(int c, int *prec, int *op) {
  switch (c) {
    case '+': *prec = 10, *op = N_ADD; return 1;
    case '-': *prec = 10, *op = N_SUB; return 1;
    case '*': *prec = 20, *op = N_MUL; return 1;
    case '/': *prec = 20, *op = N_DIV; return 1;
    case ':': *prec = 30, *op = N_COLON; return 1;
    case '^': *prec = 40, *op = N_POW; return 1;
    default: return 0;
  }
}

static int parse_expr(parser *p, int minprec) {
  if (++p->depth > MAX_DEPTH) return fail(p, "the formula is nested too deeply");
  int left = parse_primary(p);
  while (left >= 0 && p->t.type == T_OP) {
    int prec, op, pos = p->t.pos;
    if (!binop(p->t.op, &prec, &op) || prec < minprec) break;
    advance(p);
    int right = parse_expr(p, op == N_POW ? prec : prec + 1);
    left = right < 0 ? -1 : add_node(p, op, left, right, pos);
  }
  p->depth--;
  return left;
}

int ml_formula_parse_text(const char *text, fnode **nodes, int *nnodes, int *lhs, int *rhs,
                          char *err, size_t nerr) {
  parser p;
  memset(&p, 0, sizeof p);
  p.z = text;
  p.n = (int)strlen(text);
  p.err = err;
  p.nerr = nerr;
  p.t = lex(text, p.n, 0);
  *lhs = *rhs = -1;
  if (!(p.t.type == T_OP && p.t.op == '~')) *lhs = parse_expr(&p, 1);
  if (!p.rc && !(p.t.type == T_OP && p.t.op == '~')) fail(&p, "'~' was expected (response ~ terms)");
  if (!p.rc) {
    advance(&p);
    *rhs = parse_expr(&p, 1);
  }
  if (!p.rc && p.t.type != T_EOF) fail(&p, "an operator or the end was expected");
  *nodes = p.nodes;
  *nnodes = p.nnodes;
  return p.rc;
}

/* ---- deparse, as R writes an expression ---- */

static int is_syntactic(const char *s) {
  static const char *const reserved[] = {"if", "else", "repeat", "while", "function", "for", "next",
                                         "break", "TRUE", "FALSE", "NULL", "Inf", "NaN", "NA", "in"};
  if (!(is_alpha(s[0]) || (s[0] == '.' && !is_digit(s[1]))) || strcmp(s, ".") == 0) return 0;
  for (const char *c = s; *c; c++)
    if (!(is_alpha(*c) || is_digit(*c) || *c == '.' || *c == '_')) return 0;
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (strcmp(s, reserved[i]) == 0) return 0;
  return 1;
}

void ml_formula_put_name(ml_sb *b, const char *s) {
  if (is_syntactic(s)) {
    ml_sb_puts(b, s);
  } else {
    ml_sb_puts(b, "`");
    ml_sb_puts(b, s);
    ml_sb_puts(b, "`");
  }
}

static void put_string(ml_sb *b, const char *s) {
  ml_sb_puts(b, "\"");
  for (; *s; s++) {
    if (*s == '"') ml_sb_puts(b, "\\\"");
    else ml_sb_append(b, s, 1);
  }
  ml_sb_puts(b, "\"");
}

void ml_formula_deparse(ml_sb *b, const fnode *nd, int k, const char *dot) {
  static const char *const ops[] = {[N_ADD] = " + ", [N_SUB] = " - ", [N_MUL] = " * ",
                                    [N_DIV] = "/", [N_POW] = "^", [N_COLON] = ":"};
  const fnode *x = &nd[k];
  char num[32];
  switch (x->op) {
    case N_NUM: ml_formula_fmt_num(num, x->num); ml_sb_puts(b, num); break;
    case N_SYM: /* TRUE, FALSE unquoted are R's constants */
      if (!x->quoted && (strcmp(x->name, "TRUE") == 0 || strcmp(x->name, "FALSE") == 0))
        ml_sb_puts(b, x->name);
      else
        ml_formula_put_name(b, x->name);
      break;
    case N_STR: put_string(b, x->name); break;
    case N_DOT: ml_sb_puts(b, dot ? dot : "."); break;
    case N_NEG: ml_sb_puts(b, "-"); ml_formula_deparse(b, nd, x->a, dot); break;
    case N_PAREN:
      ml_sb_puts(b, "(");
      ml_formula_deparse(b, nd, x->a, dot);
      ml_sb_puts(b, ")");
      break;
    case N_CALL:
      ml_sb_puts(b, x->name);
      ml_sb_puts(b, "(");
      for (int a = x->a; a >= 0; a = nd[a].b) {
        if (a != x->a) ml_sb_puts(b, ", ");
        if (nd[a].name) {
          ml_formula_put_name(b, nd[a].name);
          ml_sb_puts(b, " = ");
        }
        ml_formula_deparse(b, nd, nd[a].a, dot);
      }
      ml_sb_puts(b, ")");
      break;
    default:
      ml_formula_deparse(b, nd, x->a, dot);
      ml_sb_puts(b, ops[x->op]);
      ml_formula_deparse(b, nd, x->b, dot);
  }
}

/* R's formatReal with 15 digits: the fewest significant digits that give the
** value to 15, then fixed notation unless scientific is narrower. */
void ml_formula_fmt_num(char *out, double v) {
  char e[40];
  snprintf(e, sizeof e, "%.14e", v);
  char *mant = e + (v < 0), *ex = strchr(e, 'e');
  int expo = ex ? (int)strtol(ex + 1, NULL, 10) : 0;
  int nsig = 15;
  while (nsig > 1 && mant[nsig] == '0') nsig--; /* mant: "d.dddddddddddddd" */
  int neg = v < 0;
  int sci_w = neg + (nsig > 1 ? nsig + 1 : 1) + (expo >= 100 || expo <= -100 ? 5 : 4);
  int rgt = nsig - expo - 1 > 0 ? nsig - expo - 1 : 0;
  int left = expo >= 0 ? expo + 1 : 1;
  int fix_w = neg + left + (rgt > 0 ? rgt + 1 : 0);
  if (v == 0) {
    snprintf(out, 32, "0");
  } else if (fix_w <= sci_w) {
    snprintf(out, 32, "%.*f", rgt, v);
  } else {
    snprintf(out, 32, "%.*e", nsig - 1, v);
  }
  char *dp = strpbrk(out, ",");
  if (dp) *dp = '.'; /* a C locale with a decimal comma */
}
