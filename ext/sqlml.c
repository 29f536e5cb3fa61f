/*
** sqlml.c: the entry point.  One table of the extension's SQL functions and
** the loop that registers them, then the ml_split module; nothing else.
**
**   .load ./dist/sqlml
**   SELECT ml_version();
**
** Flags follow what each function does: pure ones (from values to a value)
** are DETERMINISTIC and INNOCUOUS, so they work in views, indexes and
** generated columns.  Functions and virtual tables that read user-named
** tables or write are DIRECTONLY, so a hostile schema cannot call them from
** a trigger or view.  ml_predict, ml_predict_interval and ml_model_json
** also take a model name, which resolves to a different version after a
** retrain: not DETERMINISTIC, lest an index or a generated column keep a
** stale prediction.  Nor INNOCUOUS: by name they read the registry, a table
** of the main database, and a trigger or view of an ATTACHed database could
** copy what they read into its own tables (ml_model_json('secret') holds
** the coefficients).  So, as for any function that reads tables, under
** PRAGMA trusted_schema=OFF no trigger or view may call them; with the
** default (ON) the application trusts its schemas, as SQLite documents.
*/
#include <stdio.h>

#include "compare.h"
#include "registry.h"
#include "split.h"
#include "sqlml.h" /* the public declaration of sqlite3_sqlml_init, checked here */
#include "sqlml_int.h"
SQLITE_EXTENSION_INIT1

#ifndef SQLITE_RESULT_SUBTYPE
#define SQLITE_RESULT_SUBTYPE 0x001000000
#endif

#define PURE (SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)
#define BY_NAME SQLITE_UTF8
#define DIRECT (SQLITE_UTF8 | SQLITE_DIRECTONLY)

static const struct {
  const char *name;
  int nargs; /* -1: any number */
  int flags;
  void (*xFunc)(sqlite3_context *, int, sqlite3_value **);
  void (*xStep)(sqlite3_context *, int, sqlite3_value **);
  void (*xFinal)(sqlite3_context *);
} functions[] = {
    {"ml_version", 0, PURE, ml_version_func, NULL, NULL},
    {"ml_fit", -1, PURE, NULL, ml_fit_step, ml_fit_final},
    {"ml_fit_opts", -1, PURE, NULL, ml_fit_opts_step, ml_fit_opts_final},
    {"ml_merge", 1, PURE, NULL, ml_merge_step, ml_merge_final},
    {"ml_merge", 2, PURE, ml_merge2_func, NULL, NULL},
    {"ml_refine", -1, PURE, NULL, ml_refine_step, ml_refine_final},
    {"ml_predict", -1, BY_NAME, ml_predict_func, NULL, NULL},
    {"ml_predict_interval", -1, BY_NAME | SQLITE_RESULT_SUBTYPE, ml_predict_interval_func, NULL, NULL},
    {"ml_model_json", 1, BY_NAME | SQLITE_RESULT_SUBTYPE, ml_model_json_func, NULL, NULL},
    {"ml_model_json", 2, BY_NAME | SQLITE_RESULT_SUBTYPE, ml_model_json_func, NULL, NULL},
    {"ml_train", -1, DIRECT | SQLITE_RESULT_SUBTYPE, ml_train_func, NULL, NULL},
    /* Internal to ml_train (train.c): its passes read rows through it. */
    {"ml__pass", -1, DIRECT, NULL, ml_pass_step, ml_pass_final},
    /* ml__pass's values past SQLite's 127 arguments (train_plan.c); not
    ** DETERMINISTIC, so SQLite never evaluates it once for all rows. */
    {"ml__more", -1, DIRECT, ml_more_func, NULL, NULL},
    {"ml_evaluate", 2, DIRECT | SQLITE_RESULT_SUBTYPE, ml_evaluate_func, NULL, NULL},
    {"ml_evaluate", 3, DIRECT | SQLITE_RESULT_SUBTYPE, ml_evaluate_func, NULL, NULL},
    {"ml_alias", 3, DIRECT, ml_alias_func, NULL, NULL},
    {"ml_compare", 2, DIRECT | SQLITE_RESULT_SUBTYPE, ml_compare_func, NULL, NULL},
    {"ml_promote", 2, DIRECT | SQLITE_RESULT_SUBTYPE, ml_promote_func, NULL, NULL},
    {"ml_promote", 3, DIRECT | SQLITE_RESULT_SUBTYPE, ml_promote_func, NULL, NULL},
    {"ml_verify", 1, DIRECT | SQLITE_RESULT_SUBTYPE, ml_verify_func, NULL, NULL},
    {"ml_drop", 1, DIRECT, ml_drop_func, NULL, NULL},
    {"ml_drop", 2, DIRECT, ml_drop_func, NULL, NULL},
    {"ml_split_of", 3, PURE, ml_split_of_func, NULL, NULL},
    {"ml_split_of", 4, PURE, ml_split_of_func, NULL, NULL},
    {"ml_fold_of", 3, PURE, ml_fold_of_func, NULL, NULL},
};

#ifdef _WIN32
__declspec(dllexport)
#else
__attribute__((visibility("default")))
#endif
int sqlite3_sqlml_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  ml_conn *conn = ml_conn_new();
  if (!conn) return SQLITE_NOMEM;
  /* Every function holds a reference; the last xDestroy frees conn. */
  ml_conn_ref(conn);
  int rc = SQLITE_OK;
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof functions / sizeof functions[0]; i++) {
    ml_conn_ref(conn);
    rc = sqlite3_create_function_v2(db, functions[i].name, functions[i].nargs, functions[i].flags,
                                    conn, functions[i].xFunc, functions[i].xStep,
                                    functions[i].xFinal, ml_conn_unref);
    if (rc != SQLITE_OK && pzErrMsg)
      *pzErrMsg = sqlite3_mprintf("sqlml: error creating function %s: %s", functions[i].name,
                                  sqlite3_errmsg(db));
  }
  if (rc == SQLITE_OK) {
    rc = ml_model_cache_register(db, conn);
    if (rc != SQLITE_OK && pzErrMsg)
      *pzErrMsg = sqlite3_mprintf("sqlml: error creating module ml_model_cache: %s", sqlite3_errmsg(db));
  }
  ml_conn_unref(conn);
  static const struct {
    const char *name;
    int (*reg)(sqlite3 *);
  } modules[] = {{"ml_split", ml_split_register},
                 {"ml_weights", ml_weights_register},
                 {"ml_predictions", ml_predictions_register},
                 {"ml_feature_info and ml_drift", ml_drift_register}};
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof modules / sizeof modules[0]; i++) {
    rc = modules[i].reg(db);
    if (rc != SQLITE_OK && pzErrMsg)
      *pzErrMsg = sqlite3_mprintf("sqlml: error creating module %s: %s", modules[i].name,
                                  sqlite3_errmsg(db));
  }
  return rc;
}
