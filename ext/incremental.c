/*
** incremental.c: the mark a version keeps of what it read, and the checks
** of ml_train's "incremental": true.
**
** Every version trained on a table with a rowid keeps, in its BLOB (section
** incr, model.h), the table's largest rowid when it was read (the same read
** transaction as the scan: the calling statement's) and its training rows'
** y moments.  "incremental": true builds on the latest version of the name
** (or "from": a reference) with the same source, target, features and
** options; every case where reading only the rows past the mark could not
** give the full retrain's model is refused here, before any row is read,
** with a message that says why (docs/options.md, incremental).
**
** This sqlml then trains the version over every row: the result is the
** full retrain's by construction, and the summary says "incremental": false
** with the reason.  Continuing the parent's factors with the new rows only
** is the part still to come (docs/deploy.md).
*/
#include "incremental.h"

/* The summary's reason when the version was trained over every row. */
#define INCR_FULL_REASON                                                                      \
  "this sqlml checks that an incremental retrain could be exact, then trains over every row " \
  "(continuing the parent's factors with only the new rows is not built yet)"

/*
** What the source is: 0 for a table with a rowid; else 1 with *what
** ("a view", ...).  -1 after reporting.
*/
static int source_kind(trainer *t, const char **what) {
  char *err = NULL;
  ml_source src;
  int rc = ml_source_open(t->db, "ml_train()", t->source, NULL, &src, &err);
  int r = 0;
  if (rc == SQLITE_OK) {
    if (!src.type) *what = "a query", r = 1;
    else if (strcmp(src.type, "table") != 0) *what = strcmp(src.type, "view") == 0 ? "a view" : "a virtual table", r = 1;
    else if (src.without_rowid) *what = "a WITHOUT ROWID table", r = 1;
  }
  ml_source_free(&src);
  if (err) {
    sqlite3_result_error(t->ctx, err, -1);
    sqlite3_free(err);
    return -1;
  }
  if (rc != SQLITE_OK) {
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return -1;
  }
  return r;
}

/* Runs sql (one row, one integer column, or NULL as 0) into *v: 0, or -1 after reporting. */
static int query_int(trainer *t, char *sql, sqlite3_int64 *v) {
  sqlite3_stmt *st = NULL;
  int rc = sql ? sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    *v = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) {
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return -1;
  }
  return 0;
}

/* The options under which only the new rows cannot give the full retrain's model. */
static int refuse_options(trainer *t) {
  const char *why = NULL;
  if (t->o.fit.nulls == ML_NULLS_MEAN)
    why = "\"nulls\": \"mean\" imputes the mean of every row, which the new rows move";
  else if (t->o.family != ML_FAMILY_GAUSSIAN)
    why = "a GLM's IRLS reads every row again at each iteration";
  else if (t->o.fit.robust)
    why = "robust standard errors need a pass over every row at the final coefficients";
  else if (t->o.refine == 1)
    why = "refinement needs a pass over every row";
  else if (t->o.full_metrics)
    why = "metrics \"full\" (mae, max_error) need every row's residual at the new coefficients";
  if (!why) return 0;
  return ml_error(t->ctx, "ml_train(): option incremental cannot be exact here: %s; train without "
                          "\"incremental\" (a full retrain)", why);
}

/*
** The version to build on (t->parent, t->pm), and its registry row's
** source, target and options (sqlite3_free them).  0, or -1 after reporting.
*/
static int find_parent(trainer *t, char **src, char **target, char **opts) {
  const char *ref = t->o.from ? t->o.from : t->name;
  unsigned char *blob = NULL;
  int nblob = 0;
  char *err = NULL;
  int rc = ml_registry_find(t->db, sqlite3_user_data(t->ctx), "ml_train", ref, &t->parent, &blob,
                            &nblob, NULL, &err);
  if (rc == SQLITE_ERROR && err) {
    ml_error(t->ctx, "ml_train(): option incremental builds on a version, and there is none: %s; "
                     "train without \"incremental\" first", err);
    sqlite3_free(err);
    return -1;
  }
  sqlite3_free(err);
  char msg[300];
  if (rc == SQLITE_OK && (rc = ml_model_decode(blob, nblob, &t->pm, msg, sizeof msg)) != ML_OK) {
    sqlite3_free(blob);
    if (rc == ML_NOMEM) return ml_error_nomem(t->ctx);
    return ml_error(t->ctx, "ml_train(): the version to build on (%s) cannot be read: %s", ref, msg);
  }
  sqlite3_free(blob);
  if (rc != SQLITE_OK) {
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return -1;
  }
  const char *at = strrchr(ref, '@');
  sqlite3_stmt *st = NULL;
  rc = sqlite3_prepare_v2(t->db, "SELECT source, target, options FROM main.ml_model_versions "
                                 "WHERE name = ?1 AND version = ?2", -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, ref, at ? (int)(at - ref) : -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, t->parent);
    rc = sqlite3_step(st);
  }
  if (rc == SQLITE_ROW) {
    *src = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
    *target = sqlite3_mprintf("%s", sqlite3_column_text(st, 1));
    *opts = sqlite3_mprintf("%s", sqlite3_column_text(st, 2));
    rc = *src && *target && *opts ? SQLITE_OK : SQLITE_NOMEM;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) {
    ml_result_db_error(t->ctx, "ml_train", t->db, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
    return -1;
  }
  return 0;
}

/*
** The first option whose value differs between two options objects (JSON
** texts), into *key (sqlite3_free it; NULL when none), with the two values.
*/
static int differing_option(trainer *t, const char *a, const char *b, char **key, char **va,
                            char **vb) {
  static const char *sql =
      "SELECT k, (SELECT value FROM json_each(?1) WHERE key = k), "
      "(SELECT value FROM json_each(?2) WHERE key = k) FROM "
      "(SELECT key AS k FROM json_each(?1) UNION SELECT key FROM json_each(?2)) "
      "WHERE (SELECT json_quote(value) FROM json_each(?1) WHERE key = k) IS NOT "
      "(SELECT json_quote(value) FROM json_each(?2) WHERE key = k) ORDER BY k LIMIT 1";
  sqlite3_stmt *st = NULL;
  *key = *va = *vb = NULL;
  int rc = sqlite3_prepare_v2(t->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
  }
  if (rc == SQLITE_ROW) {
    *key = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
    *va = sqlite3_mprintf("%s", sqlite3_column_type(st, 1) == SQLITE_NULL ? "absent" : (const char *)sqlite3_column_text(st, 1));
    *vb = sqlite3_mprintf("%s", sqlite3_column_type(st, 2) == SQLITE_NULL ? "absent" : (const char *)sqlite3_column_text(st, 2));
    rc = *key && *va && *vb ? SQLITE_DONE : SQLITE_NOMEM;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return -1;
  }
  return 0;
}

/* The features, by name and in order, are the parent's?  0, or -1 after reporting. */
static int same_features(trainer *t) {
  const ml_model *pm = t->pm;
  for (int j = 0; j < t->k || j < pm->k; j++) {
    const char *a = j < t->k ? t->feat[j] : "(none)", *b = j < pm->k ? pm->feat[j].name : "(none)";
    if (strcmp(a, b) != 0)
      return ml_error(t->ctx, "ml_train(): option incremental keeps the features of version %lld, "
                              "whose feature %d is '%s', got '%s'; list the same features, or "
                              "train without \"incremental\"", (long long)t->parent, j + 1, b, a);
  }
  return 0;
}

/* Same source, target, features and options as the parent?  0, or -1 after reporting. */
static int same_plan(trainer *t, const char *src, const char *target, const char *opts) {
  if (strcmp(src, t->source) != 0 || strcmp(target, t->target) != 0)
    return ml_error(t->ctx, "ml_train(): option incremental builds on version %lld, trained on "
                            "'%s' with target '%s', got '%s' and '%s'; give the same source and "
                            "target, or train without \"incremental\"", (long long)t->parent, src,
                    target, t->source, t->target);
  if (same_features(t)) return -1;
  ml_sb b;
  ml_sb_init(&b);
  options_json(&b, t);
  char *mine = ml_sb_finish(&b, NULL), *key = NULL, *va = NULL, *vb = NULL;
  int rc = mine ? differing_option(t, opts, mine, &key, &va, &vb) : ml_error_nomem(t->ctx);
  if (!rc && key)
    rc = ml_error(t->ctx, "ml_train(): option %s differs from version %lld's (%s, it has %s); an "
                          "incremental retrain keeps every option of the version it builds on: "
                          "give the same, or train without \"incremental\"", key,
                  (long long)t->parent, vb, va);
  ml_free(mine);
  sqlite3_free(key);
  sqlite3_free(va);
  sqlite3_free(vb);
  return rc;
}

/* The version to build on, and the checks that building on it is exact.  0, or -1 after reporting. */
static int plan_incremental(trainer *t, const char *what) {
  if (what)
    return ml_error(t->ctx, "ml_train(): option incremental needs a table with a rowid, which "
                            "marks what a version read, got %s ('%s'); train without "
                            "\"incremental\" (a full retrain)", what, t->source);
  if (refuse_options(t)) return -1;
  char *src = NULL, *target = NULL, *opts = NULL;
  int rc = find_parent(t, &src, &target, &opts) || same_plan(t, src, target, opts) ? -1 : 0;
  sqlite3_free(src);
  sqlite3_free(target);
  sqlite3_free(opts);
  if (rc) return -1;
  if (!t->pm->has_mark)
    return ml_error(t->ctx, "ml_train(): version %lld has no mark of the rows it read (trained "
                            "before sqlml kept one); train without \"incremental\" once, then "
                            "incrementally", (long long)t->parent);
  if (t->mark < t->pm->mark)
    return ml_error(t->ctx, "ml_train(): the largest rowid of '%s' is %lld, below version %lld's "
                            "mark %lld: rows it read were deleted; train without \"incremental\"",
                    t->source, (long long)t->mark, (long long)t->parent, (long long)t->pm->mark);
  t->incr_reason = INCR_FULL_REASON;
  return 0;
}

int incr_plan(trainer *t) {
  const char *what = NULL;
  int kind = source_kind(t, &what);
  if (kind < 0) return -1;
  if (kind == 0) {
    if (query_int(t, sqlite3_mprintf("SELECT coalesce(max(rowid), 0) FROM %s", t->from), &t->mark))
      return -1;
    t->has_mark = 1;
  }
  return t->o.incremental ? plan_incremental(t, what) : 0;
}

void incr_keep(const trainer *t, ml_model *m) {
  if (!t->has_mark || m->family != ML_FAMILY_GAUSSIAN) return;
  m->has_mark = 1;
  m->mark = t->mark;
  m->train_w = t->wtrain.w;
  m->train_mean = t->wtrain.mean;
  m->train_m2 = t->wtrain.m2;
}

/* The summary's last "}" becomes ,"incremental":...,"parent":...,"rows_read":...}. */
int incr_summary(const trainer *t, train_result *r) {
  if (!t->o.incremental) return 0;
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_append(&b, r->post, r->npost - 1);
  ml_sb_printf(&b, ",\"incremental\":%s,\"parent\":%lld,\"rows_read\":%lld",
               t->incr_reason ? "false" : "true", (long long)t->parent, (long long)t->nread);
  if (t->incr_reason) {
    ml_sb_puts(&b, ",\"reason\":");
    ml_sb_json_string(&b, t->incr_reason, strlen(t->incr_reason));
  }
  ml_sb_puts(&b, "}");
  size_t n;
  char *post = ml_sb_finish(&b, &n);
  char *room = post ? ml_malloc(r->npre + 21 + n + 1) : NULL;
  if (!room) {
    ml_free(post);
    return ML_NOMEM;
  }
  ml_free(r->post);
  ml_free(r->summary);
  r->post = post;
  r->npost = n;
  r->summary = room;
  return 0;
}
