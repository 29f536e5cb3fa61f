/*
** weights.c: ml_weights, the coefficients of a model as a table.
**
**   SELECT * FROM ml_weights('house_price@production');
**   SELECT term, estimate, conf_low, conf_high FROM ml_weights('house_price', 0.99);
**   SELECT * FROM ml_weights((SELECT ml_fit(y, x) FROM t));
**
** One row per term: term, estimate, std_error, t_stat, p_value, conf_low,
** conf_high (at level, default 0.95), aliased.  For a binomial or poisson
** model, as R's summary.glm: std_error with dispersion 1, t_stat holds the
** z value, p_value is the normal's, and the interval is Wald's.  The model is a registry
** reference or a model BLOB.  An eponymous virtual table whose hidden
** columns model and level take the arguments; it reads the registry, so it
** is DIRECTONLY.
*/
#include <string.h>

#include "dist.h"
#include "glm.h"
#include "lsq.h"
#include "registry.h"
#include "sqlq.h"

enum { COL_TERM, COL_ESTIMATE, COL_STD_ERROR, COL_T, COL_P, COL_LOW, COL_HIGH, COL_ALIASED,
       COL_MODEL, COL_LEVEL };

typedef struct weights_vtab {
  sqlite3_vtab base;
  sqlite3 *db;
} weights_vtab;

typedef struct weights_cursor {
  sqlite3_vtab_cursor base;
  ml_model *m;
  ml_lsq_stats st;
  double tq;      /* the t quantile of the interval */
  int row;
  char *term;     /* name of the current row's term */
} weights_cursor;

static int w_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                     char **err) {
  (void)aux;
  (void)argc;
  (void)argv;
  (void)err;
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(term TEXT, estimate REAL, std_error REAL, "
                                    "t_stat REAL, p_value REAL, conf_low REAL, conf_high REAL, "
                                    "aliased INTEGER, model HIDDEN, level HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  weights_vtab *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  *out = &v->base;
  return SQLITE_OK;
}

static int w_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

/* idxNum: bit 1 = model given, bit 2 = level given, in that argv order. */
static int w_best_index(sqlite3_vtab *v, sqlite3_index_info *info) {
  (void)v;
  int model = -1, level = -1;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (c->iColumn == COL_MODEL) {
      if (!c->usable) return SQLITE_CONSTRAINT;
      model = i;
    } else if (c->iColumn == COL_LEVEL) {
      if (!c->usable) return SQLITE_CONSTRAINT;
      level = i;
    }
  }
  if (model < 0) {
    /* No model: nothing to list.  A huge cost steers the planner elsewhere. */
    info->estimatedCost = 1e99;
    info->idxNum = 0;
    return SQLITE_OK;
  }
  info->aConstraintUsage[model].argvIndex = 1;
  info->aConstraintUsage[model].omit = 1;
  info->idxNum = 1;
  if (level >= 0) {
    info->aConstraintUsage[level].argvIndex = 2;
    info->aConstraintUsage[level].omit = 1;
    info->idxNum |= 2;
  }
  info->estimatedCost = 10;
  info->estimatedRows = 10;
  return SQLITE_OK;
}

static int w_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out) {
  (void)v;
  weights_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *out = &c->base;
  return SQLITE_OK;
}

static void w_reset(weights_cursor *c) {
  ml_model_free(c->m);
  c->m = NULL;
  ml_lsq_stats_free(&c->st);
  sqlite3_free(c->term);
  c->term = NULL;
}

static int w_close(sqlite3_vtab_cursor *cur) {
  w_reset((weights_cursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int w_error(sqlite3_vtab_cursor *cur, char *msg) {
  return ml_vtab_msg(&cur->pVtab->zErrMsg, SQLITE_ERROR, msg);
}

static int term_name(weights_cursor *c) {
  sqlite3_free(c->term);
  c->term = NULL;
  if (c->row >= c->m->p) return SQLITE_OK;
  char *t;
  if (ml_model_term_name(c->m, c->row, &t)) return SQLITE_NOMEM;
  c->term = sqlite3_mprintf("%s", t);
  ml_free(t);
  return c->term ? SQLITE_OK : SQLITE_NOMEM;
}

static int w_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                    sqlite3_value **argv) {
  (void)idxStr;
  (void)argc;
  weights_cursor *c = (weights_cursor *)cur;
  w_reset(c);
  c->row = 0;
  if (!(idxNum & 1)) return w_error(cur, sqlite3_mprintf("ml_weights(): give a model: "
                                                         "SELECT * FROM ml_weights('name')"));
  double level = 0.95;
  if (idxNum & 2) {
    int t = sqlite3_value_type(argv[1]);
    level = sqlite3_value_double(argv[1]);
    if ((t != SQLITE_INTEGER && t != SQLITE_FLOAT) || !(level > 0 && level < 1))
      return w_error(cur, sqlite3_mprintf("ml_weights(): level must be a number in (0, 1), like 0.95"));
  }
  sqlite3_value *v = argv[0];
  unsigned char *owned = NULL;
  const unsigned char *z;
  int n, rc;
  if (sqlite3_value_type(v) == SQLITE_TEXT) {
    sqlite3_int64 version;
    char *err;
    rc = ml_registry_find(((weights_vtab *)cur->pVtab)->db, NULL, "ml_weights",
                          (const char *)sqlite3_value_text(v), &version, &owned, &n, NULL, &err);
    if (rc != SQLITE_OK) return err ? w_error(cur, err) : rc;
    z = owned;
  } else if (sqlite3_value_type(v) == SQLITE_BLOB) {
    z = sqlite3_value_blob(v);
    n = sqlite3_value_bytes(v);
  } else {
    return w_error(cur, sqlite3_mprintf("ml_weights(): the model must be a name or a model BLOB"));
  }
  char err[200];
  rc = ml_model_decode(z, n, &c->m, err, sizeof err);
  sqlite3_free(owned);
  if (rc == ML_NOMEM) return SQLITE_NOMEM;
  if (rc) return w_error(cur, sqlite3_mprintf("ml_weights(): %s", err));
  const ml_model *m = c->m;
  rc = ml_model_stats(m, &c->st);
  if (rc) return rc == ML_NOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
  /* A GLM's (dispersion 1): Wald intervals on the normal, R's confint.default;
  ** its t_stat column holds z. */
  c->tq = m->family != ML_FAMILY_GAUSSIAN ? ml_qnorm(0.5 + level / 2)
                                          : ml_qt(0.5 + level / 2, c->st.df_resid);
  return term_name(c);
}

static int w_next(sqlite3_vtab_cursor *cur) {
  weights_cursor *c = (weights_cursor *)cur;
  c->row++;
  return term_name(c);
}

static int w_eof(sqlite3_vtab_cursor *cur) {
  weights_cursor *c = (weights_cursor *)cur;
  return !c->m || c->row >= c->m->p;
}

static void result_num(sqlite3_context *ctx, double v) {
  if (isfinite(v)) sqlite3_result_double(ctx, v);
  else sqlite3_result_null(ctx);
}

static int w_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  weights_cursor *c = (weights_cursor *)cur;
  int j = c->row, al = c->m->aliased[j];
  double est = c->m->beta[j], se = c->st.se[j];
  switch (col) {
    case COL_TERM: sqlite3_result_text(ctx, c->term, -1, SQLITE_TRANSIENT); break;
    case COL_ESTIMATE: result_num(ctx, al ? NAN : est); break;
    case COL_STD_ERROR: result_num(ctx, se); break;
    case COL_T: result_num(ctx, c->st.tstat[j]); break;
    case COL_P: result_num(ctx, c->st.pvalue[j]); break;
    case COL_LOW: result_num(ctx, al ? NAN : est - c->tq * se); break;
    case COL_HIGH: result_num(ctx, al ? NAN : est + c->tq * se); break;
    case COL_ALIASED: sqlite3_result_int(ctx, al); break;
    default: break;
  }
  return SQLITE_OK;
}

static int w_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *rowid) {
  *rowid = ((weights_cursor *)cur)->row + 1;
  return SQLITE_OK;
}

/* No xCreate: eponymous only, a table-valued function. */
static sqlite3_module weights_module = {
    .xConnect = w_connect,
    .xBestIndex = w_best_index,
    .xDisconnect = w_disconnect,
    .xOpen = w_open,
    .xClose = w_close,
    .xFilter = w_filter,
    .xNext = w_next,
    .xEof = w_eof,
    .xColumn = w_column,
    .xRowid = w_rowid,
};

int ml_weights_register(sqlite3 *db) {
  return sqlite3_create_module_v2(db, "ml_weights", &weights_module, NULL, NULL);
}
