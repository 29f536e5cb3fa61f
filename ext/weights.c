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
** reference or a model BLOB.  A table-valued function of tvf.c, whose
** hidden columns model and level take the arguments; it reads the registry,
** so it is DIRECTONLY.
*/
#include <string.h>

#include "dist.h"
#include "glm.h"
#include "lsq.h"
#include "sqlq.h"
#include "tvf.h"

enum { COL_TERM, COL_ESTIMATE, COL_STD_ERROR, COL_T, COL_P, COL_LOW, COL_HIGH, COL_ALIASED,
       NCOL };

/* The level argument: 0, or SQLITE_ERROR with *err. */
static int level_arg(int argc, sqlite3_value **argv, double *level, char **err) {
  *level = 0.95;
  if (argc < 2) return SQLITE_OK;
  int t = sqlite3_value_type(argv[1]);
  *level = sqlite3_value_double(argv[1]);
  if ((t == SQLITE_INTEGER || t == SQLITE_FLOAT) && *level > 0 && *level < 1) return SQLITE_OK;
  *err = sqlite3_mprintf("ml_weights(): level must be a number in (0, 1), like 0.95");
  return *err ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* One term's row. */
static int term_row(ml_rows *r, const ml_model *m, const ml_lsq_stats *st, double tq, int j) {
  char *name;
  if (ml_rows_add(r) || ml_model_term_name(m, j, &name)) return SQLITE_NOMEM;
  int rc = ml_rows_text(r, COL_TERM, name);
  ml_free(name);
  int al = m->aliased[j];
  double est = m->beta[j], se = st->se[j];
  ml_rows_num(r, COL_ESTIMATE, al ? NAN : est);
  ml_rows_num(r, COL_STD_ERROR, se);
  ml_rows_num(r, COL_T, st->tstat[j]);
  ml_rows_num(r, COL_P, st->pvalue[j]);
  ml_rows_num(r, COL_LOW, al ? NAN : est - tq * se);
  ml_rows_num(r, COL_HIGH, al ? NAN : est + tq * se);
  ml_rows_int(r, COL_ALIASED, al);
  return rc;
}

static int weights_fill(sqlite3 *db, int argc, sqlite3_value **argv, ml_rows *r, char **err) {
  double level;
  ml_model *m = NULL;
  ml_lsq_stats st;
  memset(&st, 0, sizeof st);
  int rc = level_arg(argc, argv, &level, err);
  if (!rc) rc = ml_model_from_value(db, "ml_weights", argv[0], &m, err);
  if (!rc && (rc = ml_model_stats(m, &st))) rc = rc == ML_NOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
  if (!rc) {
    /* A GLM's (dispersion 1): Wald intervals on the normal, R's confint.default;
    ** its t_stat column holds z. */
    double tq = m->family != ML_FAMILY_GAUSSIAN ? ml_qnorm(0.5 + level / 2)
                                                : ml_qt(0.5 + level / 2, st.df_resid);
    for (int j = 0; !rc && j < m->p; j++) rc = term_row(r, m, &st, tq, j);
  }
  ml_lsq_stats_free(&st);
  ml_model_free(m);
  return rc;
}

static const ml_tvf_spec weights_spec = {
    "ml_weights",
    "CREATE TABLE x(term TEXT, estimate REAL, std_error REAL, t_stat REAL, p_value REAL, "
    "conf_low REAL, conf_high REAL, aliased INTEGER, model HIDDEN, level HIDDEN)",
    NCOL, 2, 1, weights_fill};

int ml_weights_register(sqlite3 *db) { return ml_tvf_register(db, &weights_spec); }
