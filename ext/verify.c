/*
** verify.c: ml_verify, is a version still reproducible from the data in
** this database?  (dvc status, in SQL.)
**
**   SELECT ml_verify('price@3');
**
** Re-reads the version's stored source with its stored target, features and
** options, as ml_train would, without storing anything, and reports whether
** the data it trains on is unchanged (the data_hash and the row count) and
** whether the coefficients reproduce (their largest relative difference).
** It writes nothing, so it runs on a read-only database too.
*/
#include <float.h>
#include <math.h>
#include <string.h>

#include "formula.h"
#include "guard.h"
#include "registry.h"
#include "sqlq.h"
#include "strbuf.h"

/* Coefficients reproduce when they differ by at most this, relatively. */
#define REPRODUCED 1e-9

/*
** The stored row of a version, with its options as ml_train reads them:
** the members whose value is null (no weights, no key) left out, as
** ml_train's defaults are those, and what does not make the model
** (incremental, from) left out too.
*/
static const char row_sql[] =
    "SELECT name, source, target, features, (SELECT json_group_object(key, CASE type "
    "WHEN 'true' THEN json('true') WHEN 'false' THEN json('false') WHEN 'object' THEN json(value) "
    "WHEN 'array' THEN json(value) ELSE value END) FROM json_each(v.options) WHERE type <> 'null' "
    "AND key NOT IN ('incremental', 'from')), data_hash, n_train, sqlml_version "
    "FROM main.ml_model_versions AS v WHERE name = ?1 AND version = ?2 AND json_valid(options)";

/* The largest relative difference of two models' coefficients; inf when their terms differ. */
static double coef_difference(const ml_model *a, const ml_model *b) {
  if (a->p != b->p) return INFINITY;
  double worst = 0;
  for (int j = 0; j < a->p; j++) {
    if (a->aliased[j] != b->aliased[j]) return INFINITY;
    if (a->aliased[j]) continue;
    double d = fabs(a->beta[j] - b->beta[j]) / fmax(fabs(a->beta[j]), DBL_MIN);
    if (d > worst) worst = d;
  }
  return worst;
}

static char *report(const char *ref, sqlite3_int64 version, sqlite3_stmt *row, const char *hash,
                    const ml_model *then, const ml_model *now) {
  const char *stored = (const char *)sqlite3_column_text(row, 5);
  const char *by = (const char *)sqlite3_column_text(row, 7);
  sqlite3_int64 n = sqlite3_column_int64(row, 6);
  int same_data = stored && strcmp(stored, hash) == 0 && n == now->n;
  double diff = coef_difference(then, now);
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_puts(&b, "{\"model\":");
  ml_sb_json_string(&b, ref, strlen(ref));
  ml_sb_printf(&b, ",\"version\":%lld,\"data_unchanged\":%s,\"data_hash\":", (long long)version,
               same_data ? "true" : "false");
  ml_sb_json_string(&b, hash, strlen(hash));
  ml_sb_puts(&b, ",\"stored_data_hash\":");
  if (stored) ml_sb_json_string(&b, stored, strlen(stored));
  else ml_sb_puts(&b, "null");
  ml_sb_printf(&b, ",\"n_train\":%lld,\"stored_n_train\":%lld,\"coefficients_reproduced\":%s,"
                   "\"max_relative_difference\":",
               (long long)now->n, (long long)n, diff <= REPRODUCED ? "true" : "false");
  ml_sb_json_number(&b, diff);
  ml_sb_printf(&b, ",\"reproducible\":%s,\"stored_by\":", same_data && diff <= REPRODUCED ? "true" : "false");
  if (by) ml_sb_json_string(&b, by, strlen(by));
  else ml_sb_puts(&b, "null");
  ml_sb_puts(&b, ",\"checked_by\":\"" SQLML_VERSION "\"}");
  return ml_sb_finish(&b, NULL);
}

/* Retrains the stored row and reports; -1 after reporting an error. */
static int verify_row(sqlite3_context *ctx, const char *ref, sqlite3_int64 version,
                      sqlite3_stmt *row, const ml_model *then) {
  sqlite3_value *argv[5];
  for (int i = 0; i < 5; i++) argv[i] = sqlite3_column_value(row, i);
  /* A formula model was trained from its formula, which the row's target
  ** and features (the raw columns) do not hold: they come from the model. */
  sqlite3_stmt *formula = NULL;
  if (then->formula) {
    int rc = sqlite3_prepare_v2(sqlite3_context_db_handle(ctx), "SELECT ?1, NULL", -1, &formula, NULL);
    if (rc == SQLITE_OK) {
      sqlite3_bind_text(formula, 1, ml_formula_text(then->formula), -1, SQLITE_STATIC);
      rc = sqlite3_step(formula) == SQLITE_ROW ? SQLITE_OK : SQLITE_NOMEM;
    }
    if (rc != SQLITE_OK) {
      sqlite3_finalize(formula);
      return ml_error_nomem(ctx);
    }
    argv[2] = sqlite3_column_value(formula, 0);
    argv[3] = sqlite3_column_value(formula, 1);
  }
  char *hash = NULL;
  ml_model *now = NULL;
  int rc = ml_train_again(ctx, 5, argv, &hash, &now);
  sqlite3_finalize(formula);
  if (rc) return -1;
  char *json = report(ref, version, row, hash, then, now);
  sqlite3_free(hash);
  ml_model_free(now);
  if (!json) return ml_error_nomem(ctx);
  sqlite3_result_text(ctx, json, -1, ml_free);
  sqlite3_result_subtype(ctx, 'J');
  return 0;
}

/* The version ref names and its decoded model; -1 after reporting. */
static int find(sqlite3_context *ctx, const char *ref, sqlite3_int64 *version, ml_model **m) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  char *err = NULL;
  int rc = ml_registry_load(db, sqlite3_user_data(ctx), "ml_verify", ref, version, m, &err);
  if (err) return ml_error_msg(ctx, err);
  if (rc != SQLITE_OK) ml_result_db_error(ctx, "ml_verify", db, rc);
  return rc == SQLITE_OK ? 0 : -1;
}

void ml_verify_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  if (ml_refuse_in_source(ctx, "ml_verify")) return;
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    ml_error(ctx, "ml_verify(): argument 1 must be a model reference ('name', 'name@3', "
                  "'name@alias')");
    return;
  }
  const char *ref = (const char *)sqlite3_value_text(argv[0]);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  sqlite3_int64 version;
  ml_model *then = NULL;
  if (find(ctx, ref, &version, &then)) return;
  const char *at = strrchr(ref, '@');
  char *name = sqlite3_mprintf("%.*s", at ? (int)(at - ref) : (int)strlen(ref), ref);
  sqlite3_stmt *row = NULL;
  int rc = name ? sqlite3_prepare_v2(db, row_sql, -1, &row, NULL) : SQLITE_NOMEM;
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(row, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(row, 2, version);
    rc = sqlite3_step(row);
  }
  if (rc == SQLITE_ROW) {
    verify_row(ctx, ref, version, row, then);
  } else if (rc == SQLITE_DONE) {
    ml_error(ctx, "ml_verify(): version %lld of '%s' was not stored by ml_train (its options are not "
                  "JSON): there is nothing to re-read", (long long)version, name);
  } else {
    ml_result_db_error(ctx, "ml_verify", db, rc);
  }
  sqlite3_finalize(row);
  sqlite3_free(name);
  ml_model_free(then);
}
