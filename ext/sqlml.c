/*
** sqlml.c: the entry point.  One table of the extension's SQL functions and
** the loop that registers them, then the ml_split module; nothing else.
**
**   .load ./dist/sqlml
**   SELECT ml_version();
**
** Flags follow what each function does: pure ones (from values to a value)
** are DETERMINISTIC and INNOCUOUS, so they work in views, indexes and
** generated columns.  The ml_split virtual table reads the tables it is
** given, so it is DIRECTONLY (split_vtab.c).
*/
#include <stdio.h>

#include "split.h"
#include "sqlml_int.h"
SQLITE_EXTENSION_INIT1

#ifndef SQLITE_RESULT_SUBTYPE
#define SQLITE_RESULT_SUBTYPE 0x001000000
#endif

#define PURE (SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)

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
    {"ml_predict", -1, PURE, ml_predict_func, NULL, NULL},
    {"ml_model_json", 1, PURE | SQLITE_RESULT_SUBTYPE, ml_model_json_func, NULL, NULL},
    {"ml_split_of", 3, PURE, ml_split_of_func, NULL, NULL},
    {"ml_split_of", 4, PURE, ml_split_of_func, NULL, NULL},
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
  ml_conn_unref(conn);
  if (rc == SQLITE_OK) {
    rc = ml_split_register(db);
    if (rc != SQLITE_OK && pzErrMsg)
      *pzErrMsg = sqlite3_mprintf("sqlml: error creating module ml_split: %s", sqlite3_errmsg(db));
  }
  return rc;
}
