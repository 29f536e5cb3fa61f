/*
** formula.h: R model formulas, free of SQLite (memory through mem.h).
**
** A formula is used in four steps, as ml_train will:
**
**   1. ml_formula_parse(): the text, and the source's column names (only `.`
**      needs them), give the terms as R's terms.formula() does: term labels
**      ordered by degree, the intercept, the response, and the raw columns.
**   2. The raw columns (ml_formula_ncols): the ones the right-hand side needs
**      come first, in order of first appearance in the formula after `.` is
**      expanded (this is the argument order of ml_predict by position); the
**      columns only the response needs come after them.  Like R, a column
**      named only in a removed term (`y ~ . - id`) is still a column of the
**      model: a NULL in it makes the row missing, as na.omit does in R.
**   3. ml_formula_set_column() for every column, once its kind is known (a
**      first pass collects the levels of categorical columns): numeric, or
**      categorical with its levels in order (level 0 is the reference unless
**      relevel() names another).  A numeric column used in factor() needs its
**      levels too (the distinct values, sorted, as ml_formula_fmt_level()
**      writes them).  Then ml_formula_design() fixes the design columns:
**      names exactly as R's colnames(model.matrix()).
**   4. ml_formula_eval_row() fills a design row from one row's raw values,
**      without allocating; ml_formula_eval_response() the response.
**
** ml_formula_save() and ml_formula_load() write and read what rebuilds the
** same formula and columns (for a model BLOB section).
*/
#ifndef SQLML_FORMULA_H
#define SQLML_FORMULA_H

#include <stddef.h>
#include <stdint.h>

typedef struct ml_formula ml_formula;

/* The kind of a raw column (ml_formula_set_column). */
enum { ML_FCOL_NUMERIC = 1, ML_FCOL_CATEGORICAL = 2 };

/* What a column is used as (ml_formula_col_use, bits). */
enum {
  ML_FUSE_NUMBER = 1,  /* in arithmetic, or as a numeric term */
  ML_FUSE_FACTOR = 2,  /* inside factor() or relevel(): must have levels */
  ML_FUSE_PLAIN = 4,   /* a bare term: a factor if categorical, else a number */
  ML_FUSE_RHS = 8,     /* the right-hand side needs it */
  ML_FUSE_RESPONSE = 16
};

/* One raw value of a row: num for a numeric use, level (0-based index into
** the levels given, or -1 for a level the model has not seen) for a
** categorical one; a column used both ways (x + factor(x)) needs both. */
typedef struct ml_fvalue {
  double num;
  int level;
  int isnull;
} ml_fvalue;

/* Status of a row (ml_formula_eval_row, ml_formula_eval_response). */
enum {
  ML_FROW_OK = 0,
  ML_FROW_MISSING = 1,   /* a column is NULL: *bad is the column */
  ML_FROW_UNDEFINED = 2, /* a transform is undefined: *bad is the variable */
  ML_FROW_UNSEEN = 3     /* a level the model has not seen: *bad is the column */
};

/*
** Parse text.  columns[0..ncols) are the source's column names, for `.`
** (NULL, 0 when there is none).  Returns ML_OK, ML_NOMEM, or ML_EINPUT with
** err set to "formula: unexpected ')' at 8 in \"y ~ x + )\"; ..." (the byte
** offset of the offending token, 0-based).
*/
int ml_formula_parse(const char *text, const char *const *columns, int ncols, ml_formula **out,
                     char *err, size_t nerr);
void ml_formula_free(ml_formula *f);

/* The terms, as R's attr(terms(f), ...). */
int ml_formula_has_response(const ml_formula *f);
int ml_formula_intercept(const ml_formula *f);
int ml_formula_nterms(const ml_formula *f);
const char *ml_formula_term_label(const ml_formula *f, int t);
/* R's variables (a column, log(x), I(x^2), factor(n) ...), the response first. */
int ml_formula_nvars(const ml_formula *f);
const char *ml_formula_var_label(const ml_formula *f, int v);
/* The raw columns: the right-hand side's first (step 2 above). */
int ml_formula_ncols(const ml_formula *f);
int ml_formula_nrhs_cols(const ml_formula *f);
const char *ml_formula_col_name(const ml_formula *f, int c);
int ml_formula_col_use(const ml_formula *f, int c);
/* Column c's kind as set (0 before), its levels (n of them, none for a
** numeric column outside factor()), and the index of level z, or -1. */
int ml_formula_col_kind(const ml_formula *f, int c);
const char *const *ml_formula_col_levels(const ml_formula *f, int c, int *n);
int ml_formula_col_level(const ml_formula *f, int c, const char *z);
/* The first raw column variable v reads (for "log(lot) is undefined (lot = 0)"). */
int ml_formula_var_col(const ml_formula *f, int v);
/* The formula as R deparses it, with `.` written out: what save() keeps. */
const char *ml_formula_text(const ml_formula *f);

/* A numeric level as R's as.character(): 15 significant digits.  out: 32 bytes. */
void ml_formula_fmt_level(char *out, double v);

/*
** The kind of column c, and for a categorical one (or a numeric one used in
** factor()) its levels in order (copied).  ML_EINPUT with err set when the
** use does not fit the kind (log of a categorical column), when relevel()
** names a level that is not there, or when a factor has no level.
*/
int ml_formula_set_column(ml_formula *f, int c, int kind, const char *const *levels, int nlevels,
                          char *err, size_t nerr);

/* After every column is set: the design columns (R's model.matrix). */
int ml_formula_design(ml_formula *f, char *err, size_t nerr);
int ml_formula_ncoef(const ml_formula *f);
const char *ml_formula_coef_name(const ml_formula *f, int j);

/*
** One design row x[0..ncoef) from the raw values: only vals[0..nrhs_cols)
** are read, so ml_predict can pass just the right-hand side's columns.
** Never allocates, never writes f: one formula serves many threads.
** Returns ML_FROW_*, with *bad as they say; x is undefined unless ML_FROW_OK.
*/
int ml_formula_eval_row(const ml_formula *f, const ml_fvalue *vals, double *x, int *bad);
/* The response on its fitted scale (log(price) for `log(price) ~ ...`), from
** vals[0..ncols); ML_FROW_UNDEFINED with *bad 0 when it is not finite. */
int ml_formula_eval_response(const ml_formula *f, const ml_fvalue *vals, double *y, int *bad);

/*
** With on, ml_formula_eval_row reads a level the model has not seen (level
** -1) as the reference: every indicator of it 0, as a model without a
** formula does with "unseen": "zero".  Not saved: the model's flag says it.
*/
void ml_formula_set_unseen_zero(ml_formula *f, int on);

/*
** Serialization (after ml_formula_design): the text and each column's kind
** and levels, little-endian; *out is freed with ml_free.  load() refuses a
** malformed input with ML_EINPUT, never reading past n bytes, and returns a
** formula with its design fixed.
*/
int ml_formula_save(const ml_formula *f, unsigned char **out, size_t *n);
int ml_formula_load(const unsigned char *p, size_t n, ml_formula **out, char *err, size_t nerr);

#endif
