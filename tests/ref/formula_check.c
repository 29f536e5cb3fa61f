/*
** formula_check: formula.c's design rows over a data file, in the format
** tests/ref/formula.R prints, for tests/ref/formula_vs_r.py to compare.
**   formula_check data.tsv types.tsv formulas.txt
** Each formula goes through ml_formula_save() and ml_formula_load() first,
** so the rows come from the decoded copy.  Levels: categorical columns in
** byte order; a numeric column inside factor() by value, as R writes them.
*/
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formula.h"
#include "mem.h"

#define MAXC 64
#define MAXR 1000

static char *names[MAXC], *cells[MAXR][MAXC];
static int ncol, nrow, iscat[MAXC];

static int split(char *line, char **out, int max) {
  int n = 0;
  line[strcspn(line, "\r\n")] = 0;
  for (char *p = line;; p++) {
    char *t = strchr(p, '\t');
    if (n < max) out[n++] = p;
    if (!t) break;
    *t = 0;
    p = t;
  }
  return n;
}

static void read_data(const char *data, const char *types) {
  static char buf[1 << 16];
  FILE *fp = fopen(data, "r");
  if (!fp || !fgets(buf, sizeof buf, fp)) exit(2);
  char *f[MAXC];
  ncol = split(buf, f, MAXC);
  for (int c = 0; c < ncol; c++) names[c] = strdup(f[c]);
  while (nrow < MAXR && fgets(buf, sizeof buf, fp)) {
    if (split(buf, f, MAXC) != ncol) exit(2);
    for (int c = 0; c < ncol; c++) cells[nrow][c] = strcmp(f[c], "NA") ? strdup(f[c]) : NULL;
    nrow++;
  }
  fclose(fp);
  if (!(fp = fopen(types, "r")) || !fgets(buf, sizeof buf, fp)) exit(2);
  if (split(buf, f, MAXC) != ncol) exit(2);
  for (int c = 0; c < ncol; c++) iscat[c] = strcmp(f[c], "cat") == 0;
  fclose(fp);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}
static int cmp_num(const void *a, const void *b) {
  double x = strtod(*(char *const *)a, NULL), y = strtod(*(char *const *)b, NULL);
  return (x > y) - (x < y);
}

/* The distinct values of column dc, sorted, as levels (text or numbers). */
static int levels_of(int dc, char **lev) {
  char *tmp[MAXR];
  int n = 0, k = 0;
  for (int r = 0; r < nrow; r++)
    if (cells[r][dc]) tmp[n++] = cells[r][dc];
  qsort(tmp, (size_t)n, sizeof *tmp, iscat[dc] ? cmp_str : cmp_num);
  for (int i = 0; i < n; i++) {
    char fmt[32];
    if (iscat[dc]) snprintf(fmt, sizeof fmt, "%s", tmp[i]);
    else ml_formula_fmt_level(fmt, strtod(tmp[i], NULL));
    if (k == 0 || strcmp(lev[k - 1], fmt) != 0) lev[k++] = strdup(fmt);
  }
  return k;
}

static int data_col(const char *name) {
  for (int c = 0; c < ncol; c++)
    if (strcmp(names[c], name) == 0) return c;
  return -1;
}

/* Parse, set the columns, design, save and load: the copy, or NULL. */
static ml_formula *prepare(const char *text, int *dcol, char **lev[], int *nlev) {
  char err[300];
  ml_formula *f, *g = NULL;
  if (ml_formula_parse(text, (const char *const *)names, ncol, &f, err, sizeof err)) {
    printf("error\t%s\n", err);
    return NULL;
  }
  int ok = 1;
  for (int c = 0; c < ml_formula_ncols(f) && ok; c++) {
    dcol[c] = data_col(ml_formula_col_name(f, c));
    if (dcol[c] < 0) {
      printf("error\tno column %s\n", ml_formula_col_name(f, c));
      ok = 0;
      break;
    }
    int needs = iscat[dcol[c]] || (ml_formula_col_use(f, c) & ML_FUSE_FACTOR);
    lev[c] = calloc(MAXR, sizeof(char *));
    nlev[c] = needs ? levels_of(dcol[c], lev[c]) : 0;
    ok = !ml_formula_set_column(f, c, iscat[dcol[c]] ? ML_FCOL_CATEGORICAL : ML_FCOL_NUMERIC,
                                (const char *const *)lev[c], nlev[c], err, sizeof err);
  }
  unsigned char *blob = NULL;
  size_t n;
  if (ok) ok = !ml_formula_design(f, err, sizeof err);
  if (ok) ok = !ml_formula_save(f, &blob, &n) && !ml_formula_load(blob, n, &g, err, sizeof err);
  if (!ok) printf("error\t%s\n", err);
  ml_free(blob);
  ml_formula_free(f);
  return g;
}

static int level_index(char **lev, int nlev, const char *cell, int cat) {
  char fmt[32];
  if (!cat) ml_formula_fmt_level(fmt, strtod(cell, NULL));
  for (int l = 0; l < nlev; l++)
    if (strcmp(lev[l], cat ? cell : fmt) == 0) return l;
  return -1;
}

static void run(const char *text) {
  int dcol[MAXC], nlev[MAXC] = {0};
  char **lev[MAXC] = {0};
  printf("case\t%s\n", text);
  ml_formula *f = prepare(text, dcol, lev, nlev);
  if (f) {
    int p = ml_formula_ncoef(f);
    printf("names");
    for (int j = 0; j < p; j++) printf("\t%s", ml_formula_coef_name(f, j));
    printf("\n");
    for (int r = 0; r < nrow; r++) {
      ml_fvalue v[MAXC];
      double x[4096], y = 0;
      int bad, bady;
      for (int c = 0; c < ml_formula_ncols(f); c++) {
        const char *cell = cells[r][dcol[c]];
        v[c].isnull = cell == NULL;
        v[c].num = cell && !iscat[dcol[c]] ? strtod(cell, NULL) : 0;
        v[c].level = cell && nlev[c] ? level_index(lev[c], nlev[c], cell, iscat[dcol[c]]) : -1;
      }
      int st = ml_formula_eval_row(f, v, x, &bad);
      int sty = ml_formula_has_response(f) ? ml_formula_eval_response(f, v, &y, &bady) : -1;
      printf("row\t%d\t%d\t%.17g", st, sty, y);
      for (int j = 0; j < p && st == 0; j++) printf("\t%.17g", x[j]);
      printf("\n");
    }
  }
  printf("end\n");
  for (int c = 0; c < MAXC; c++) {
    for (int l = 0; l < nlev[c]; l++) free(lev[c][l]);
    free(lev[c]);
  }
  ml_formula_free(f);
}

int main(int argc, char **argv) {
  static char line[4096];
  if (argc != 4) return 2;
  read_data(argv[1], argv[2]);
  FILE *fp = fopen(argv[3], "r");
  if (!fp) return 2;
  while (fgets(line, sizeof line, fp)) {
    line[strcspn(line, "\r\n")] = 0;
    run(line);
  }
  fclose(fp);
  return 0;
}
