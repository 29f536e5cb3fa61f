/*
** tvf.c: eponymous table-valued functions over rows computed at once
** (tvf.h).  The arguments are the hidden columns, matched by equality
** constraints in xBestIndex; xFilter calls the spec's fill, and the cursor
** walks the rows it made.  DIRECTONLY: they read the registry and the
** source they are given.
*/
#include <stdio.h>
#include <string.h>

#include "registry.h"
#include "tvf.h"

int ml_rows_add(ml_rows *r) {
  if (r->nrow == r->cap) {
    int cap = r->cap ? 2 * r->cap : 16;
    ml_cell *c = sqlite3_realloc64(r->cells, sizeof(ml_cell) * (sqlite3_uint64)cap * r->ncol);
    if (!c) return SQLITE_NOMEM;
    r->cells = c;
    r->cap = cap;
  }
  memset(r->cells + (size_t)r->nrow * r->ncol, 0, sizeof(ml_cell) * (size_t)r->ncol);
  for (int j = 0; j < r->ncol; j++) r->cells[(size_t)r->nrow * r->ncol + j].type = SQLITE_NULL;
  r->nrow++;
  return SQLITE_OK;
}

static ml_cell *last(ml_rows *r, int col) { return &r->cells[(size_t)(r->nrow - 1) * r->ncol + col]; }

void ml_rows_num(ml_rows *r, int col, double v) {
  ml_cell *c = last(r, col);
  c->type = isfinite(v) ? SQLITE_FLOAT : SQLITE_NULL;
  c->d = v;
}

void ml_rows_int(ml_rows *r, int col, sqlite3_int64 v) {
  ml_cell *c = last(r, col);
  c->type = SQLITE_INTEGER;
  c->i = v;
}

int ml_rows_take(ml_rows *r, int col, char *z) {
  ml_cell *c = last(r, col);
  if (!z) return SQLITE_NOMEM;
  sqlite3_free(c->text);
  c->text = z;
  c->type = SQLITE_TEXT;
  return SQLITE_OK;
}

int ml_rows_text(ml_rows *r, int col, const char *z) {
  return z ? ml_rows_take(r, col, sqlite3_mprintf("%s", z)) : SQLITE_OK;
}

static void rows_free(ml_rows *r) {
  for (size_t i = 0; i < (size_t)r->nrow * r->ncol; i++) sqlite3_free(r->cells[i].text);
  sqlite3_free(r->cells);
  memset(r, 0, sizeof *r);
}

int ml_model_from_value(sqlite3 *db, const char *fname, sqlite3_value *v, ml_model **m, char **err) {
  *m = NULL;
  *err = NULL;
  if (sqlite3_value_type(v) == SQLITE_TEXT) {
    sqlite3_int64 version;
    return ml_registry_load(db, NULL, fname, (const char *)sqlite3_value_text(v), &version, m, err);
  }
  if (sqlite3_value_type(v) != SQLITE_BLOB) {
    *err = sqlite3_mprintf("%s(): the model must be a name or a model BLOB", fname);
    return *err ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  char msg[200];
  int dr = ml_model_decode(sqlite3_value_blob(v), sqlite3_value_bytes(v), m, msg, sizeof msg);
  if (!dr && (dr = ml_model_densify_small(*m))) snprintf(msg, sizeof msg, "its factor failed");
  if (dr == ML_NOMEM) return SQLITE_NOMEM;
  if (!dr) return SQLITE_OK;
  *err = sqlite3_mprintf("%s(): %s", fname, msg);
  return *err ? SQLITE_ERROR : SQLITE_NOMEM;
}

typedef struct tvf_vtab {
  sqlite3_vtab base;
  sqlite3 *db;
  const ml_tvf_spec *spec;
} tvf_vtab;

typedef struct tvf_cursor {
  sqlite3_vtab_cursor base;
  ml_rows rows;
  int row;
} tvf_cursor;

static int t_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                     char **err) {
  (void)argc;
  (void)argv;
  (void)err;
  const ml_tvf_spec *spec = aux;
  int rc = sqlite3_declare_vtab(db, spec->schema);
  if (rc != SQLITE_OK) return rc;
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  tvf_vtab *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  v->spec = spec;
  *out = &v->base;
  return SQLITE_OK;
}

static int t_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

/* idxNum: how many leading arguments are given, in order (a gap ends them). */
static int t_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  const ml_tvf_spec *spec = ((tvf_vtab *)vt)->spec;
  int at[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    int a = c->iColumn - spec->ncol;
    if (c->op != SQLITE_INDEX_CONSTRAINT_EQ || a < 0 || a >= spec->nargs) continue;
    if (!c->usable) return SQLITE_CONSTRAINT;
    at[a] = i;
  }
  int n = 0;
  while (n < spec->nargs && at[n] >= 0) {
    info->aConstraintUsage[at[n]].argvIndex = n + 1;
    info->aConstraintUsage[at[n]].omit = 1;
    n++;
  }
  info->idxNum = n;
  info->estimatedCost = n >= spec->nrequired ? 100 : 1e99;
  info->estimatedRows = 20;
  return SQLITE_OK;
}

static int t_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out) {
  tvf_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->rows.ncol = ((tvf_vtab *)v)->spec->ncol;
  *out = &c->base;
  return SQLITE_OK;
}

static int t_close(sqlite3_vtab_cursor *cur) {
  rows_free(&((tvf_cursor *)cur)->rows);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int t_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                    sqlite3_value **argv) {
  (void)idxStr;
  tvf_cursor *c = (tvf_cursor *)cur;
  tvf_vtab *v = (tvf_vtab *)cur->pVtab;
  int ncol = c->rows.ncol;
  rows_free(&c->rows);
  c->rows.ncol = ncol;
  c->row = 0;
  char *err = NULL;
  int rc;
  if (idxNum < v->spec->nrequired) {
    err = sqlite3_mprintf("%s(): give %s: SELECT * FROM %s(%s)", v->spec->name,
                          v->spec->nrequired > 1 ? "a model and a source" : "a model", v->spec->name,
                          v->spec->nrequired > 1 ? "'name', 'table or query'" : "'name'");
    rc = err ? SQLITE_ERROR : SQLITE_NOMEM;
  } else {
    rc = v->spec->fill(v->db, argc, argv, &c->rows, &err);
  }
  if (rc != SQLITE_OK) {
    rows_free(&c->rows);
    c->rows.ncol = ncol;
    sqlite3_free(cur->pVtab->zErrMsg);
    cur->pVtab->zErrMsg = err ? err : rc == SQLITE_NOMEM ? NULL : sqlite3_mprintf("%s", sqlite3_errmsg(v->db));
  }
  return rc;
}

static int t_next(sqlite3_vtab_cursor *cur) {
  ((tvf_cursor *)cur)->row++;
  return SQLITE_OK;
}

static int t_eof(sqlite3_vtab_cursor *cur) {
  tvf_cursor *c = (tvf_cursor *)cur;
  return c->row >= c->rows.nrow;
}

static int t_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  tvf_cursor *c = (tvf_cursor *)cur;
  if (col >= c->rows.ncol) return SQLITE_OK; /* an argument: NULL */
  const ml_cell *e = &c->rows.cells[(size_t)c->row * c->rows.ncol + col];
  switch (e->type) {
    case SQLITE_INTEGER: sqlite3_result_int64(ctx, e->i); break;
    case SQLITE_FLOAT: sqlite3_result_double(ctx, e->d); break;
    case SQLITE_TEXT: sqlite3_result_text(ctx, e->text, -1, SQLITE_TRANSIENT); break;
    default: break;
  }
  return SQLITE_OK;
}

static int t_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *rowid) {
  *rowid = ((tvf_cursor *)cur)->row + 1;
  return SQLITE_OK;
}

/* No xCreate: eponymous only. */
static sqlite3_module tvf_module = {
    .xConnect = t_connect,
    .xBestIndex = t_best_index,
    .xDisconnect = t_disconnect,
    .xOpen = t_open,
    .xClose = t_close,
    .xFilter = t_filter,
    .xNext = t_next,
    .xEof = t_eof,
    .xColumn = t_column,
    .xRowid = t_rowid,
};

int ml_tvf_register(sqlite3 *db, const ml_tvf_spec *spec) {
  return sqlite3_create_module_v2(db, spec->name, &tvf_module, (void *)spec, NULL);
}
