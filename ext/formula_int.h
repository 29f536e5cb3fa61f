/*
** formula_int.h: what formula.c (parse, terms) and formula_design.c
** (columns, design row, serialization) share.  Not part of the API.
*/
#ifndef SQLML_FORMULA_INT_H
#define SQLML_FORMULA_INT_H

#include "formula.h"
#include "strbuf.h"

/* Node kinds of the parsed text. */
enum {
  N_NUM, N_SYM, N_STR, N_DOT, N_ADD, N_SUB, N_MUL, N_DIV, N_POW, N_COLON, N_NEG, N_PAREN,
  N_CALL, N_ARG
};

/* Functions, by the name a call uses. */
enum { F_NONE, F_I, F_LOG, F_LOG2, F_LOG10, F_LOG1P, F_EXP, F_SQRT, F_ABS, F_FACTOR, F_RELEVEL,
       F_POLY };

typedef struct fnode {
  int op;
  int a, b;     /* operands; N_CALL: a = first N_ARG; N_ARG: a = value, b = next */
  int pos;      /* byte offset in the text */
  int fn;       /* N_CALL: F_* */
  int col;      /* N_SYM: raw column */
  double num;   /* N_NUM */
  char *name;   /* N_SYM, N_STR, N_CALL, N_ARG (argument name or NULL) */
  int quoted;   /* N_SYM: written in backquotes */
  int depth;    /* of the tree under the node, bounded so recursion over it is */
} fnode;

/* What a variable (R's sense) is. */
enum { V_PLAIN, V_EXPR, V_FACTOR, V_POLY };

typedef struct fvar {
  int kind;
  int node;      /* the expression (V_EXPR, V_POLY: the argument) */
  int col;       /* V_PLAIN, V_FACTOR: the raw column */
  int degree;    /* V_POLY */
  char *ref;     /* V_FACTOR from relevel(): the reference level */
  char *label;   /* as R deparses it */
  /* set by ml_formula_design() */
  int is_factor; /* coded by levels */
  int ncol;      /* its columns, numeric; levels, factor */
  int ref_level; /* the reference's index among the column's levels */
} fvar;

typedef struct fcol {
  char *name;
  int use;       /* ML_FUSE_* */
  int kind;      /* 0 until set */
  int nlevels;
  char **levels;
} fcol;

/* A term: its variables by index, in variable order; its design columns. */
typedef struct fterm {
  int nv;
  int *vars;
  char *label;
  int *code;     /* per variable: 0 numeric, 1 contrasts, 2 every level */
  int off, ncoef;
} fterm;

struct ml_formula {
  char *text;            /* normalized */
  fnode *nodes;
  int nnodes;
  int lhs;               /* node of the response, or -1 */
  int intercept;
  fvar *vars;
  int nvars;             /* var 0 is the response when lhs >= 0 */
  fcol *cols;
  int ncols, nrhs_cols;
  fterm *terms;
  int nterms;
  int designed;
  int unseen_zero;       /* a level not among a column's reads as the reference (all 0) */
  int ncoef;
  char **coef_names;
};

/* R's format of a number (deparse, as.character): 15 significant digits. */
void ml_formula_fmt_num(char *out, double v);
/* Message helper: printf into err (truncating). */
void ml_formula_err(char *err, size_t nerr, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
char *ml_formula_strdup(const char *z, size_t n);

/* formula_parse.c: the text to nodes (ML_OK, ML_NOMEM, ML_EINPUT with err);
** *nodes is the caller's even on failure.  lhs is -1 for "~ rhs". */
int ml_formula_parse_text(const char *text, fnode **nodes, int *nnodes, int *lhs, int *rhs,
                          char *err, size_t nerr);
/* Node k as R deparses it; dot, if not NULL, is written for `.`. */
void ml_formula_deparse(ml_sb *b, const fnode *nd, int k, const char *dot);
/* A name, backquoted unless syntactic. */
void ml_formula_put_name(ml_sb *b, const char *s);

#endif
