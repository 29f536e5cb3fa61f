/*
** predictions.c: ml_predictions, name-safe prediction over a whole source.
**
**   SELECT c.*, p.prediction
**     FROM new_cars AS c JOIN ml_predictions('mpg', 'new_cars') AS p
**       ON p.source_rowid = c.rowid;
**   SELECT * FROM ml_predictions('mpg@production', 'SELECT * FROM cars WHERE year = 2026',
**                                '{"interval":0.95}');
**
** A table-valued function: one row per row of the source (a table, view or
** read-only query, resolved as ml_train resolves it: see sqlq.h), with
**
**   source_rowid  the source row's rowid; NULL for a view, a query or a
**                 WITHOUT ROWID table
**   prediction    the model's prediction; NULL when a feature is NULL
**   se_fit, conf_low, conf_high, pred_low, pred_high
**                 with the option "interval" (a level in (0, 1)): as
**                 ml_predict_interval gives them; NULL otherwise.  A
**                 binomial or poisson model (docs/glm.md) predicts on the
**                 response scale, reads its offset column by name too, and
**                 has conf_low and conf_high only (Wald, through the link)
**   row           the source row as a JSON object (for sources without a
**                 rowid: row ->> 'id'); read only when asked for
**
** The model's features are found among the source's columns by name
** (case-insensitive, as SQL compares names), whatever their order; a
** missing one is an error that names it.  A table-valued function's
** columns are fixed when its module connects, before any argument is
** known, so the source's own columns cannot be among them: the rowid, or
** row, joins the prediction back to them.
**
** For the source's own columns, a named table (as ml_split is one):
**
**   CREATE VIRTUAL TABLE temp.scored USING ml_predictions(mpg, new_cars
**                                                        [, interval=0.95]);
**   SELECT * FROM scored;  -- every column of new_cars, then prediction
**                          -- (and se_fit .. pred_high with an interval)
**
** Its arguments: model=..., source=... (the two may come first without
** their names; a source in a string is its text, as ml_train takes it),
** interval=level.  Its columns are the source's when it was created; the
** model is looked up at each scan, so a moved alias or a retrain shows.
** Its rowid is the source's (a rowid lookup is one at the source).
**
** The rows come from one statement on the source that calls ml_predict
** (or ml_predict_interval) with the feature columns in the model's order,
** so the model is looked up, cached and applied exactly as ml_predict does
** it.  DIRECTONLY: it reads the tables it is named, so a schema (a view or
** trigger written by whoever wrote the file) may not use it.
*/
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "json.h"
#include "sqlq.h"
#include "strbuf.h"

/* The columns; the hidden ones are the arguments. */
enum {
  COL_ROWID,
  COL_PREDICTION,
  COL_SE_FIT,
  COL_CONF_LOW,
  COL_CONF_HIGH,
  COL_PRED_LOW,
  COL_PRED_HIGH,
  COL_ROW,
  COL_MODEL,
  COL_SOURCE,
  COL_OPTIONS
};
#define NINTERVAL 5 /* se_fit .. pred_high */

/*
** The plan, in idxNum, a bitmask of the constraints xFilter gets, in this
** order in argv:
**   PLAN_MODEL    model = ?    (required)
**   PLAN_SOURCE   source = ?   (required)
**   PLAN_OPTIONS  options = ?
**   PLAN_ROWID    source_rowid = ?, answered by the source's rowid
**   PLAN_ROW      the row column is used: the statement reads every column
** A named table's plan is PLAN_ROWID (rowid = ?, its argv[0]) or 0.
*/
enum { PLAN_MODEL = 1, PLAN_SOURCE = 2, PLAN_OPTIONS = 4, PLAN_ROWID = 8, PLAN_ROW = 16 };

typedef struct {
  sqlite3_vtab base;
  sqlite3 *db;
  /* A named table (CREATE VIRTUAL TABLE ... USING ml_predictions(...)); all
  ** 0 for the function.  Its columns: the source's, then prediction and
  ** the interval's. */
  char *zModel, *zSource;
  char *zSchema;   /* where an unqualified source is looked up; NULL: as SQL does */
  double level;    /* of the interval; 0 for none */
  int nCol;        /* the source's columns */
  char **azCol;
} pred_vtab;

typedef struct {
  sqlite3_vtab_cursor base;
  sqlite3_stmt *stmt;    /* SELECT rowid, ml_predict(?1, features...)[, columns] FROM source */
  int ncol;              /* columns of stmt */
  int iRowid;            /* the column of stmt with the rowid, or -1 */
  int interval;          /* column 1 is ml_predict_interval's JSON */
  double iv[NINTERVAL + 1]; /* fit, then se_fit .. pred_high, of the current row */
  int iv_null;           /* the current row has no interval */
  int eof;
  sqlite3_int64 iRow;
  /* What stmt was prepared for: the same arguments again (a join that
  ** looks rows up by source_rowid) reuse it. */
  int plan;
  sqlite3_value *was_model, *was_source, *was_options;
} pred_cursor;

static const char *const value_cols[] = {"prediction", "se_fit", "conf_low", "conf_high",
                                          "pred_low", "pred_high"};

static int pred_disconnect(sqlite3_vtab *vt) {
  pred_vtab *t = (pred_vtab *)vt;
  sqlite3_free(t->zModel);
  sqlite3_free(t->zSource);
  sqlite3_free(t->zSchema);
  ml_free_names(t->azCol, t->nCol);
  sqlite3_free(t);
  return SQLITE_OK;
}

static int connect_error(char **pzErr, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = ml_vtab_verror(pzErr, SQLITE_ERROR, NULL, fmt, ap);
  va_end(ap);
  return rc;
}

/*
** A value as written in CREATE VIRTUAL TABLE: quoted ('..', "..", `..`,
** [..], a doubled quote standing for one) loses its quotes, unless keep
** and it is not a string; bare, it is taken as it is, blanks trimmed.
*/
static char *arg_value(const char *z, int keep_identifiers) {
  while (*z == ' ' || *z == '\t' || *z == '\n' || *z == '\r') z++;
  size_t n = strlen(z);
  while (n && (z[n - 1] == ' ' || z[n - 1] == '\t' || z[n - 1] == '\n' || z[n - 1] == '\r')) n--;
  char open = n ? z[0] : 0, close = open == '[' ? ']' : open;
  int quoted = n >= 2 && (open == '\'' || open == '"' || open == '`' || open == '[') &&
               z[n - 1] == close;
  if (!quoted || (keep_identifiers && open != '\'')) return sqlite3_mprintf("%.*s", (int)n, z);
  char *out = sqlite3_malloc64(n);
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 1; i < n - 1; i++) {
    out[o++] = z[i];
    if (z[i] == close && close != ']' && z[i + 1] == close) i++;
  }
  out[o] = 0;
  return out;
}

/*
** The named table's arguments: model=..., source=..., interval=level, in
** any order; model and source may come first without their names.
*/
static int named_args(pred_vtab *t, int argc, const char *const *argv, char **pzErr) {
  int positional = 0;
  for (int i = 3; i < argc; i++) {
    const char *z = argv[i];
    while (*z == ' ' || *z == '\t' || *z == '\n' || *z == '\r') z++;
    size_t n = 0;
    while ((z[n] >= 'a' && z[n] <= 'z') || (z[n] >= 'A' && z[n] <= 'Z') || z[n] == '_') n++;
    const char *v = z + n;
    while (*v == ' ' || *v == '\t') v++;
    const char *key = NULL;
    if (n && *v == '=') {
      key = z;
      z = v + 1;
    } else if (positional < 2) {
      key = positional++ ? "source" : "model";
      n = strlen(key);
    } else {
      return connect_error(pzErr, "ml_predictions(): argument '%s' has no name (expected "
                                  "model=, source= or interval=)", argv[i]);
    }
    char **slot = NULL;
    if (n == 5 && sqlite3_strnicmp(key, "model", 5) == 0) slot = &t->zModel;
    else if (n == 6 && sqlite3_strnicmp(key, "source", 6) == 0) slot = &t->zSource;
    if (slot) {
      if (*slot)
        return connect_error(pzErr, "ml_predictions(): more than one %.*s argument", (int)n, key);
      /* The source keeps its identifiers' quotes: "a.b" is one name. */
      if (!(*slot = arg_value(z, slot == &t->zSource))) return SQLITE_NOMEM;
    } else if (n == 8 && sqlite3_strnicmp(key, "interval", 8) == 0) {
      char *text = arg_value(z, 0), *end;
      if (!text) return SQLITE_NOMEM;
      double level = strtod(text, &end);
      int ok = end != text && !*end && level > 0 && level < 1 && !t->level;
      sqlite3_free(text);
      if (!ok)
        return connect_error(pzErr, "ml_predictions(): interval must be a level in (0, 1), "
                                    "e.g. 0.95, given once");
      t->level = level;
    } else {
      return connect_error(pzErr, "ml_predictions(): unknown argument '%.*s' (expected model, "
                                  "source or interval)", (int)n, key);
    }
  }
  if (!t->zModel || !t->zSource)
    return connect_error(pzErr, "ml_predictions(): expected CREATE VIRTUAL TABLE name USING "
                                "ml_predictions(model, source [, interval=level])");
  return SQLITE_OK;
}

/* Declares the named table: the source's columns, then the prediction's. */
static int declare_named(pred_vtab *t, char **pzErr) {
  ml_source src;
  char *err = NULL, **decls = NULL, *decl = NULL;
  int rc = ml_source_open(t->db, "ml_predictions()", t->zSource, t->zSchema, &src, &err);
  if (rc == SQLITE_OK)
    t->azCol = ml_source_columns(t->db, "ml_predictions", src.from, t->zSource, &t->nCol, &err,
                                 &decls);
  if (rc == SQLITE_OK && !t->azCol) rc = err ? SQLITE_ERROR : SQLITE_NOMEM;
  if (rc != SQLITE_OK && !err && rc != SQLITE_NOMEM)
    err = sqlite3_mprintf("ml_predictions(): reading the schema: %s", sqlite3_errmsg(t->db));
  int nvalue = t->level > 0 ? NINTERVAL + 1 : 1;
  for (int i = 0; rc == SQLITE_OK && i < nvalue; i++)
    if (ml_find_name(t->azCol, t->nCol, value_cols[i]) >= 0) {
      err = sqlite3_mprintf("ml_predictions(): the source '%s' already has a column named %s",
                            t->zSource, value_cols[i]);
      rc = SQLITE_ERROR;
    }
  if (rc == SQLITE_OK) {
    sqlite3_str *s = sqlite3_str_new(t->db);
    sqlite3_str_appendall(s, "CREATE TABLE x(");
    for (int i = 0; i < t->nCol; i++)
      sqlite3_str_appendf(s, decls[i] ? "\"%w\" \"%w\", " : "\"%w\", ", t->azCol[i], decls[i]);
    for (int i = 0; i < nvalue; i++) sqlite3_str_appendf(s, i ? ", %s REAL" : "%s REAL", value_cols[i]);
    sqlite3_str_appendall(s, ")");
    rc = sqlite3_str_errcode(s);
    decl = sqlite3_str_finish(s);
    if (rc == SQLITE_OK) rc = sqlite3_declare_vtab(t->db, decl);
    if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
      err = sqlite3_mprintf("ml_predictions(): cannot declare the columns of %s: %s", t->zSource,
                            sqlite3_errmsg(t->db));
  }
  if (err) {
    sqlite3_free(*pzErr);
    *pzErr = err;
  } else if (rc != SQLITE_OK) {
    rc = SQLITE_NOMEM;
  }
  sqlite3_free(decl);
  ml_free_names(decls, t->nCol);
  ml_source_free(&src);
  return rc;
}

/*
** Without arguments (the function, as SQLite connects it), the function's
** columns; with them (CREATE VIRTUAL TABLE), the named table's.
*/
static int pred_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                        sqlite3_vtab **ppVtab, char **pzErr) {
  (void)aux;
  *ppVtab = NULL;
  pred_vtab *t = sqlite3_malloc(sizeof *t);
  if (!t) return SQLITE_NOMEM;
  memset(t, 0, sizeof *t);
  t->db = db;
  int rc;
  if (argc <= 3) {
    rc = sqlite3_declare_vtab(db, "CREATE TABLE x(source_rowid INTEGER, prediction REAL, "
                                  "se_fit REAL, conf_low REAL, conf_high REAL, pred_low REAL, "
                                  "pred_high REAL, row TEXT, model HIDDEN, source HIDDEN, "
                                  "options HIDDEN)");
  } else {
    rc = named_args(t, argc, argv, pzErr);
    /* Unqualified, in the table's schema, unless that is temp (as ml_split). */
    if (rc == SQLITE_OK && sqlite3_stricmp(argv[1], "temp") != 0 &&
        !(t->zSchema = sqlite3_mprintf("%s", argv[1])))
      rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK) rc = declare_named(t, pzErr);
  }
  /* It reads the tables it is named: not from a schema's views or triggers. */
  if (rc == SQLITE_OK) rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  if (rc != SQLITE_OK) {
    pred_disconnect(&t->base);
    return rc;
  }
  *ppVtab = &t->base;
  return SQLITE_OK;
}

static int pred_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  if (((pred_vtab *)vt)->zModel) {
    /* A named table: a scan of its source, or one row by its rowid. */
    int at = -1;
    for (int i = 0; i < info->nConstraint; i++)
      if (info->aConstraint[i].usable && info->aConstraint[i].iColumn < 0 &&
          info->aConstraint[i].op == SQLITE_INDEX_CONSTRAINT_EQ)
        at = i;
    if (at >= 0) info->aConstraintUsage[at].argvIndex = 1;
    info->idxNum = at >= 0 ? PLAN_ROWID : 0;
    info->estimatedCost = at >= 0 ? 25 : 1e6;
    info->estimatedRows = at >= 0 ? 1 : 1000000;
    return SQLITE_OK;
  }
  static const int bit[] = {PLAN_MODEL, PLAN_SOURCE, PLAN_OPTIONS};
  int at[4] = {-1, -1, -1, -1}, unusable = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    int slot = c->iColumn >= COL_MODEL ? c->iColumn - COL_MODEL : c->iColumn == COL_ROWID ? 3 : -1;
    if (slot < 0) continue;
    if (!c->usable) {
      if (slot < 3) unusable |= bit[slot];
      continue;
    }
    if (at[slot] < 0) at[slot] = i;
  }
  /* An argument that is there but not yet known: another plan must come first. */
  for (int s = 0; s < 3; s++)
    if ((unusable & bit[s]) && at[s] < 0) return SQLITE_CONSTRAINT;
  int idxNum = 0, nArg = 0;
  for (int s = 0; s < 4; s++) {
    if (at[s] < 0) continue;
    idxNum |= s < 3 ? bit[s] : PLAN_ROWID;
    info->aConstraintUsage[at[s]].argvIndex = ++nArg;
    /* SQLite checks the rowid again: the source may not have one. */
    info->aConstraintUsage[at[s]].omit = s < 3;
  }
  if (info->colUsed >> COL_ROW & 1) idxNum |= PLAN_ROW;
  info->idxNum = idxNum;
  info->estimatedCost = (idxNum & PLAN_ROWID) ? 25 : 1e6;
  info->estimatedRows = (idxNum & PLAN_ROWID) ? 1 : 1000000;
  return SQLITE_OK;
}

static int pred_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **ppCur) {
  (void)vt;
  pred_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->eof = 1;
  *ppCur = &c->base;
  return SQLITE_OK;
}

static void forget_plan(pred_cursor *c) {
  sqlite3_finalize(c->stmt);
  c->stmt = NULL;
  sqlite3_value_free(c->was_model);
  sqlite3_value_free(c->was_source);
  sqlite3_value_free(c->was_options);
  c->was_model = c->was_source = c->was_options = NULL;
}

static int pred_close(sqlite3_vtab_cursor *cur) {
  pred_cursor *c = (pred_cursor *)cur;
  forget_plan(c);
  sqlite3_free(c);
  return SQLITE_OK;
}

/* Sets the table's error message; returns SQLITE_ERROR (SQLITE_NOMEM if it could not). */
static int pred_error(pred_cursor *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = ml_vtab_verror(&c->base.pVtab->zErrMsg, SQLITE_ERROR, NULL, fmt, ap);
  va_end(ap);
  return rc;
}

/*
** The error of a nested statement, under this function's name: the
** functions it calls (ml_predict, ml_model_json) name themselves.
*/
static int nested_error(pred_cursor *c, int rc) {
  if (rc == SQLITE_NOMEM) return rc;
  sqlite3 *db = ((pred_vtab *)c->base.pVtab)->db;
  const char *m = sqlite3_errmsg(db);
  const char *p = strstr(m, "(): ");
  if (strncmp(m, "ml_", 3) == 0 && p && strspn(m, "abcdefghijklmnopqrstuvwxyz_") == (size_t)(p - m))
    m = p + 4;
  pred_error(c, "ml_predictions(): %s", m);
  return rc == SQLITE_ROW || rc == SQLITE_DONE || rc == SQLITE_OK ? SQLITE_ERROR : rc;
}

/*
** Binds the model argument.  A name goes in NUL-terminated, so that the
** functions reading it get its text without a conversion that could fail.
*/
static int bind_model(sqlite3_stmt *st, sqlite3_value *model, const char *name) {
  if (name) return sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
  return sqlite3_bind_value(st, 1, model);
}

/* The model's feature names, in order, from ml_model_json (and a GLM's
** offset column last); NULL after reporting. */
static char **model_features(pred_cursor *c, sqlite3_value *model, const char *name, int *k,
                             int *rc) {
  sqlite3 *db = ((pred_vtab *)c->base.pVtab)->db;
  sqlite3_stmt *st;
  char **feat = NULL;
  int n = 0, cap = 0;
  *k = 0;
  /* A GLM with an offset takes it after the features (ml_predict), by its name. */
  *rc = sqlite3_prepare_v2(db, "SELECT json_extract(value, '$.name') "
                               "FROM json_each(ml_model_json(?1), '$.features') UNION ALL "
                               "SELECT o FROM (SELECT json_extract(ml_model_json(?1), '$.offset') "
                               "AS o) WHERE o IS NOT NULL",
                           -1, &st, NULL);
  if (*rc != SQLITE_OK) {
    *rc = nested_error(c, *rc);
    return NULL;
  }
  if ((*rc = bind_model(st, model, name)) == SQLITE_OK) *rc = SQLITE_ROW;
  while (*rc == SQLITE_ROW && (*rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      char **grown = sqlite3_realloc64(feat, sizeof(char *) * (sqlite3_uint64)cap);
      if (!grown) {
        *rc = SQLITE_NOMEM;
        break;
      }
      feat = grown;
    }
    if (!(feat[n] = sqlite3_mprintf("%s", sqlite3_column_text(st, 0)))) {
      *rc = SQLITE_NOMEM;
      break;
    }
    n++;
  }
  if (*rc == SQLITE_DONE) *rc = SQLITE_OK;
  else *rc = nested_error(c, *rc);
  sqlite3_finalize(st);
  if (*rc != SQLITE_OK) {
    ml_free_names(feat, n);
    return NULL;
  }
  *k = n;
  return feat;
}

/* The interval option's level, 0 when there is none; -1 after reporting. */
static int parse_options(pred_cursor *c, sqlite3_value *v, double *level) {
  *level = 0;
  if (!v || sqlite3_value_type(v) == SQLITE_NULL) return 0;
  if (sqlite3_value_type(v) != SQLITE_TEXT) {
    pred_error(c, "ml_predictions(): argument 3 must be a JSON object of options");
    return -1;
  }
  const char *z = (const char *)sqlite3_value_text(v);
  ml_json *j;
  char err[96];
  int rc = z ? ml_json_parse(z, (size_t)sqlite3_value_bytes(v), &j, err, sizeof err) : -2;
  if (rc == -2) return -2;
  if (rc) {
    pred_error(c, "ml_predictions(): options are not valid JSON: %s", err);
    return -1;
  }
  rc = 0;
  if (j->type != ML_JSON_OBJECT) {
    pred_error(c, "ml_predictions(): options must be a JSON object, got %s",
               ml_json_type_name(j->type));
    rc = -1;
  }
  for (const ml_json *m = rc ? NULL : j->child; m; m = m->next) {
    if (strcmp(m->key, "interval") != 0) {
      pred_error(c, "ml_predictions(): unknown option '%s' (expected interval)", m->key);
      rc = -1;
    } else if (m->type != ML_JSON_NUMBER || !(m->num > 0 && m->num < 1)) {
      pred_error(c, "ml_predictions(): option interval must be a level in (0, 1), e.g. 0.95");
      rc = -1;
    } else {
      *level = m->num;
    }
    if (rc) break;
  }
  ml_json_free(j);
  return rc;
}

/* The first of SQL's names for the rowid that no column hides; NULL if all are. */
static const char *visible_rowid(char **cols, int ncol) {
  static const char *const names[] = {"rowid", "_rowid_", "oid"};
  for (int k = 0; k < 3; k++)
    if (ml_find_name(cols, ncol, names[k]) < 0) return names[k];
  return NULL;
}

/*
** Prepares the statement of a scan:
**   SELECT rowid, ml_predict(?1, "f1", ...)[, columns] FROM source
**     [WHERE rowid <= (SELECT max(rowid) FROM source)] [AND rowid = ?3]
** with ml_predict_interval(?1, ?2, ...) for an interval.  The model is
** model_v, or the name model_text; columns are the ones named (ncol of
** them), or all of them (*) when ncol < 0, or none.
*/
static int open_scan(pred_cursor *c, sqlite3_value *model_v, const char *model_text,
                     const char *source, const char *schema, double level, char **columns,
                     int ncolumns, int rowid) {
  sqlite3 *db = ((pred_vtab *)c->base.pVtab)->db;
  ml_source src;
  char *err = NULL, **feat = NULL, **cols = NULL, *sql = NULL;
  int k = 0, ncol = 0;
  int rc = ml_source_open(db, "ml_predictions()", source, schema, &src, &err);
  if (rc != SQLITE_OK && !err) rc = nested_error(c, rc);
  if (rc) goto done;
  cols = ml_source_columns(db, "ml_predictions", src.from, source, &ncol, &err, NULL);
  if (!cols) {
    rc = err ? SQLITE_ERROR : SQLITE_NOMEM;
    goto done;
  }
  feat = model_features(c, model_v, model_text, &k, &rc);
  if (rc) goto done;
  for (int j = 0; j < k; j++) {
    if (ml_find_name(cols, ncol, feat[j]) >= 0) continue;
    sqlite3_str *needs = sqlite3_str_new(db);
    for (int i = 0; i < k; i++) sqlite3_str_appendf(needs, i ? ", %s" : "%s", feat[i]);
    char *list = sqlite3_str_finish(needs);
    if (!list) {
      rc = SQLITE_NOMEM;
      goto done;
    }
    if (model_text)
      err = sqlite3_mprintf("ml_predictions(): the source '%s' has no column '%s' (the model "
                            "'%s' needs %s)", source, feat[j], model_text, list);
    else
      err = sqlite3_mprintf("ml_predictions(): the source '%s' has no column '%s' (the model "
                            "needs %s)", source, feat[j], list);
    sqlite3_free(list);
    rc = err ? SQLITE_ERROR : SQLITE_NOMEM;
    goto done;
  }
  const char *rowid_name = ml_source_has_rowid(&src) ? visible_rowid(cols, ncol) : NULL;
  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_str_appendf(s, "SELECT %s, %s(?1%s", rowid_name ? rowid_name : "NULL",
                      level > 0 ? "ml_predict_interval" : "ml_predict", level > 0 ? ", ?2" : "");
  for (int j = 0; j < k; j++) sqlite3_str_appendf(s, ", \"%w\"", feat[j]);
  sqlite3_str_appendall(s, ncolumns < 0 ? "), *" : ")");
  for (int i = 0; i < ncolumns; i++) sqlite3_str_appendf(s, ", \"%w\"", columns[i]);
  sqlite3_str_appendf(s, " FROM %s", src.from);
  /* SQLite cannot see that a statement reading this function reads the
  ** source: INSERT INTO source SELECT ... FROM ml_predictions(...) would read
  ** back the rows it inserts, without end.  A scan of a table stops at the
  ** largest rowid there was when it started, as ml_split's does. */
  int bounded = rowid_name && strcmp(src.type, "table") == 0;
  if (bounded)
    sqlite3_str_appendf(s, " WHERE %s <= (SELECT max(%s) FROM %s)", rowid_name, rowid_name,
                        src.from);
  if (rowid)
    sqlite3_str_appendf(s, rowid_name ? " %s %s = ?3" : " WHERE 0", bounded ? "AND" : "WHERE",
                        rowid_name);
  rc = sqlite3_str_errcode(s);
  sql = sqlite3_str_finish(s);
  if (rc) goto done;
  rc = sqlite3_prepare_v2(db, sql, -1, &c->stmt, NULL);
  if (rc) {
    rc = nested_error(c, rc);
    goto done;
  }
  rc = bind_model(c->stmt, model_v, model_text);
  if (rc == SQLITE_OK && level > 0) rc = sqlite3_bind_double(c->stmt, 2, level);
  if (rc) goto done;
  c->ncol = sqlite3_column_count(c->stmt);
  c->iRowid = rowid_name ? 0 : -1;
  c->interval = level > 0;
done:
  if (err) {
    sqlite3_free(c->base.pVtab->zErrMsg);
    c->base.pVtab->zErrMsg = err;
  }
  ml_source_free(&src);
  ml_free_names(feat, k);
  ml_free_names(cols, ncol);
  sqlite3_free(sql);
  return rc;
}

/* The function's scan: its arguments, checked, then open_scan. */
static int prepare_scan(pred_cursor *c, int idxNum, sqlite3_value **argv) {
  int a = 0;
  sqlite3_value *model = (idxNum & PLAN_MODEL) ? argv[a++] : NULL;
  sqlite3_value *sourcev = (idxNum & PLAN_SOURCE) ? argv[a++] : NULL;
  sqlite3_value *options = (idxNum & PLAN_OPTIONS) ? argv[a++] : NULL;
  sqlite3_value *rowid = (idxNum & PLAN_ROWID) ? argv[a++] : NULL;
  if (!model || !sourcev)
    return pred_error(c, "ml_predictions(): expected ml_predictions(model, source [, options])");
  int mtype = sqlite3_value_type(model);
  if (mtype != SQLITE_TEXT && mtype != SQLITE_BLOB)
    return pred_error(c, "ml_predictions(): argument 1 must be a model BLOB or a model name, "
                         "got %s", mtype == SQLITE_NULL ? "NULL" : "a number");
  if (sqlite3_value_type(sourcev) != SQLITE_TEXT)
    return pred_error(c, "ml_predictions(): argument 2 must be a table, a view or a query");
  const char *source = (const char *)sqlite3_value_text(sourcev);
  if (!source) return SQLITE_NOMEM;
  double level;
  int rc = parse_options(c, options, &level);
  if (rc) return rc == -2 ? SQLITE_NOMEM : SQLITE_ERROR;
  const char *name = mtype == SQLITE_TEXT ? (const char *)sqlite3_value_text(model) : NULL;
  if (mtype == SQLITE_TEXT && !name) return SQLITE_NOMEM;
  return open_scan(c, name ? NULL : model, name, source, NULL, level, NULL,
                   (idxNum & PLAN_ROW) ? -1 : 0, rowid != NULL);
}

/* Reads the interval of the current row from ml_predict_interval's JSON. */
static int read_interval(pred_cursor *c) {
  static const char *const keys[NINTERVAL + 1] = {"fit",      "se_fit",   "conf_low",
                                                  "conf_high", "pred_low", "pred_high"};
  const char *z = (const char *)sqlite3_column_text(c->stmt, 1);
  c->iv_null = 1;
  if (!z) return sqlite3_errcode(((pred_vtab *)c->base.pVtab)->db) == SQLITE_NOMEM
                     ? SQLITE_NOMEM : SQLITE_OK;
  ml_json *j;
  char err[96];
  int rc = ml_json_parse(z, (size_t)sqlite3_column_bytes(c->stmt, 1), &j, err, sizeof err);
  if (rc == -2) return SQLITE_NOMEM;
  if (rc) return pred_error(c, "ml_predictions(): cannot read an interval: %s", err);
  for (int i = 0; i <= NINTERVAL; i++) {
    const ml_json *v = ml_json_get(j, keys[i]);
    c->iv[i] = v && v->type == ML_JSON_NUMBER ? v->num : NAN;
  }
  ml_json_free(j);
  c->iv_null = 0;
  return SQLITE_OK;
}

static int pred_next(sqlite3_vtab_cursor *cur) {
  pred_cursor *c = (pred_cursor *)cur;
  /* The source may read this table again, through a view (guard.h). */
  if (ml_nest_enter()) return pred_error(c, "ml_predictions(): %s", ML_NEST_MSG);
  int rc = sqlite3_step(c->stmt);
  ml_nest_leave();
  if (rc == SQLITE_DONE) {
    c->eof = 1;
    return SQLITE_OK;
  }
  if (rc != SQLITE_ROW) return nested_error(c, rc);
  c->iRow++;
  return c->interval ? read_interval(c) : SQLITE_OK;
}

/* Do a and b hold the same value (NULL for an argument not given)? */
static int same_value(sqlite3_value *a, sqlite3_value *b) {
  if (!a || !b) return !a && !b;
  int type = sqlite3_value_type(a);
  if (type != sqlite3_value_type(b)) return 0;
  if (type == SQLITE_NULL) return 1;
  if (type == SQLITE_INTEGER) return sqlite3_value_int64(a) == sqlite3_value_int64(b);
  if (type == SQLITE_FLOAT) return sqlite3_value_double(a) == sqlite3_value_double(b);
  const void *za = sqlite3_value_blob(a), *zb = sqlite3_value_blob(b);
  int n = sqlite3_value_bytes(a);
  return n == sqlite3_value_bytes(b) && (n == 0 || (za && zb && memcmp(za, zb, (size_t)n) == 0));
}

static int pred_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                       sqlite3_value **argv) {
  (void)idxStr;
  (void)argc;
  pred_cursor *c = (pred_cursor *)cur;
  c->eof = 1;
  c->iRow = 0;
  int a = 0;
  sqlite3_value *model = (idxNum & PLAN_MODEL) ? argv[a++] : NULL;
  sqlite3_value *source = (idxNum & PLAN_SOURCE) ? argv[a++] : NULL;
  sqlite3_value *options = (idxNum & PLAN_OPTIONS) ? argv[a++] : NULL;
  sqlite3_value *rowid = (idxNum & PLAN_ROWID) ? argv[a++] : NULL;
  int rc;
  if (c->stmt && c->plan == idxNum && same_value(model, c->was_model) &&
      same_value(source, c->was_source) && same_value(options, c->was_options)) {
    rc = sqlite3_reset(c->stmt);
    if (rc) return nested_error(c, rc);
  } else {
    forget_plan(c);
    pred_vtab *t = (pred_vtab *)cur->pVtab;
    rc = t->zModel ? open_scan(c, NULL, t->zModel, t->zSource, t->zSchema, t->level, t->azCol,
                               t->nCol, rowid != NULL)
                   : prepare_scan(c, idxNum, argv);
    if (rc) {
      forget_plan(c);
      return rc;
    }
    c->plan = idxNum;
    c->was_model = model ? sqlite3_value_dup(model) : NULL;
    c->was_source = source ? sqlite3_value_dup(source) : NULL;
    c->was_options = options ? sqlite3_value_dup(options) : NULL;
    if ((model && !c->was_model) || (source && !c->was_source) || (options && !c->was_options)) {
      forget_plan(c);
      return SQLITE_NOMEM;
    }
  }
  if (rowid && sqlite3_bind_parameter_count(c->stmt) >= 3) {
    rc = sqlite3_bind_value(c->stmt, 3, rowid);
    if (rc) return rc;
  }
  c->eof = 0;
  return pred_next(cur);
}

static int pred_eof(sqlite3_vtab_cursor *cur) {
  return ((pred_cursor *)cur)->eof;
}

/* The source row as a JSON object, from the columns after the first two. */
static int row_json(pred_cursor *c, sqlite3_context *ctx) {
  ml_sb b;
  ml_sb_init(&b);
  for (int i = 2; i < c->ncol; i++) {
    const char *name = sqlite3_column_name(c->stmt, i);
    if (!name) {
      ml_sb_reset(&b);
      return SQLITE_NOMEM;
    }
    ml_sb_puts(&b, i == 2 ? "{" : ",");
    ml_sb_json_string(&b, name, strlen(name));
    ml_sb_puts(&b, ":");
    sqlite3_value *v = sqlite3_column_value(c->stmt, i);
    switch (sqlite3_value_type(v)) {
      case SQLITE_INTEGER:
        ml_sb_printf(&b, "%lld", (long long)sqlite3_value_int64(v));
        break;
      case SQLITE_FLOAT:
        ml_sb_json_number(&b, sqlite3_value_double(v));
        break;
      case SQLITE_TEXT: {
        const char *z = (const char *)sqlite3_value_text(v);
        if (!z) {
          ml_sb_reset(&b);
          return SQLITE_NOMEM;
        }
        ml_sb_json_string(&b, z, (size_t)sqlite3_value_bytes(v));
        break;
      }
      case SQLITE_BLOB:
        ml_sb_reset(&b);
        return pred_error(c, "ml_predictions(): column '%s' holds a blob, which the row column "
                             "(JSON) cannot hold", name);
      default:
        ml_sb_puts(&b, "null");
    }
  }
  ml_sb_puts(&b, c->ncol > 2 ? "}" : "{}");
  size_t len;
  char *json = ml_sb_finish(&b, &len);
  if (!json) return SQLITE_NOMEM;
  sqlite3_result_text64(ctx, json, len, ml_free, SQLITE_UTF8);
  return SQLITE_OK;
}

static int pred_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i) {
  pred_cursor *c = (pred_cursor *)cur;
  const pred_vtab *t = (const pred_vtab *)cur->pVtab;
  if (t->zModel) {
    /* The named table: the source's columns, after the rowid and the prediction. */
    if (i < t->nCol) {
      sqlite3_result_value(ctx, sqlite3_column_value(c->stmt, 2 + i));
      return SQLITE_OK;
    }
    i += COL_PREDICTION - t->nCol;
  }
  switch (i) {
    case COL_ROWID:
      if (c->iRowid >= 0) sqlite3_result_value(ctx, sqlite3_column_value(c->stmt, c->iRowid));
      break;
    case COL_PREDICTION:
      if (c->interval) {
        if (!c->iv_null && !isnan(c->iv[0])) sqlite3_result_double(ctx, c->iv[0]);
      } else {
        sqlite3_result_value(ctx, sqlite3_column_value(c->stmt, 1));
      }
      break;
    case COL_ROW:
      if (c->ncol > 2) return row_json(c, ctx);
      break;
    default:
      if (i >= COL_SE_FIT && i <= COL_PRED_HIGH && c->interval && !c->iv_null &&
          !isnan(c->iv[i - COL_SE_FIT + 1]))
        sqlite3_result_double(ctx, c->iv[i - COL_SE_FIT + 1]);
      /* The hidden arguments read as NULL: SQLite has their values. */
  }
  return SQLITE_OK;
}

/* The function's rows are numbered; a named table's are its source's. */
static int pred_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid) {
  pred_cursor *c = (pred_cursor *)cur;
  *pRowid = ((pred_vtab *)cur->pVtab)->zModel && c->iRowid >= 0
                ? sqlite3_column_int64(c->stmt, c->iRowid)
                : c->iRow;
  return SQLITE_OK;
}

/*
** xCreate is xConnect: the function exists in every connection, and a
** named table keeps nothing but its declaration.
*/
static sqlite3_module pred_module = {
    .xCreate = pred_connect,
    .xConnect = pred_connect,
    .xBestIndex = pred_best_index,
    .xDisconnect = pred_disconnect,
    .xDestroy = pred_disconnect,
    .xOpen = pred_open,
    .xClose = pred_close,
    .xFilter = pred_filter,
    .xNext = pred_next,
    .xEof = pred_eof,
    .xColumn = pred_column,
    .xRowid = pred_rowid,
};

int ml_predictions_register(sqlite3 *db) {
  return sqlite3_create_module_v2(db, "ml_predictions", &pred_module, NULL, NULL);
}
