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
** Then only the rows past the mark are read, into a fit started from the
** parent (ml_fitacc_seed: its levels, profile, counts and fingerprint; the
** y moments): the levels of the model are the union, sorted as a full
** retrain sorts them, and the parent's training and test factors map into
** its columns exactly (ml_model_design_map: a new reference level makes the
** old design a linear transform of the new one) and fold into the new
** rows' factors.  Welford's moments and the profile continue in scan
** order, as a full retrain's do; the fingerprint is a sum of row hashes.
*/
#include "incremental.h"

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
    const char *why = strncmp(err, "ml_train(): ", 12) == 0 ? err + 12 : err;
    ml_error(t->ctx, "ml_train(): option incremental builds on a version, and there is none: %s; "
                     "train without \"incremental\" first", why);
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
  /* Its factors continue as dense ones: an incremental retrain keeps no block. */
  if ((rc = ml_model_unblock(t->pm)) == ML_EINPUT)
    return ml_error(t->ctx, "ml_train(): the version to build on (%s) has %d terms, its levels "
                            "kept as a block; an incremental retrain holds at most %d: train "
                            "without \"incremental\"", ref, t->pm->p, ML_MAX_TERMS);
  if (rc) {
    ml_result_code(t->ctx, "ml_train", rc);
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

/*
** The plan of the continuation: the parent's feature kinds, kept (a value
** that does not fit is an error, not a restart), and the row statement
** with only the rows past the mark.  0, or -1 after reporting.
*/
static int continue_plan(trainer *t) {
  for (int j = 0; j < t->k; j++) {
    const ml_feature *f = &t->pm->feat[j];
    t->kind[j] = f->type == ML_FEAT_NUMERIC ? ML_TYPE_NUMERIC
                 : f->num_levels            ? ML_TYPE_NUM_LEVELS
                                            : ML_TYPE_CATEGORICAL;
    t->sure[j] = 1;
  }
  t->star = 0; /* the features are the parent's: none leaves */
  const char *rid = ml_find_name(t->cols, t->ncol, "rowid") < 0     ? "rowid"
                    : ml_find_name(t->cols, t->ncol, "_rowid_") < 0 ? "_rowid_"
                                                                    : "oid";
  char *sql = sqlite3_mprintf("%s WHERE %s > %lld", sqlite3_sql(t->rows), rid,
                              (long long)t->pm->mark);
  sqlite3_stmt *st = NULL;
  int rc = sql ? sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc != SQLITE_OK) {
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return -1;
  }
  sqlite3_finalize(t->rows);
  t->rows = st;
  return 0;
}

/* The version to build on, and the checks that building on it is exact.  0, or -1 after reporting. */
static int plan_incremental(trainer *t, const char *what) {
  if (what)
    return ml_error(t->ctx, "ml_train(): option incremental needs a table with a rowid, which "
                            "marks what a version read, got %s ('%s'); train without "
                            "\"incremental\" (a full retrain)", what, t->source);
  if (refuse_options(t)) return -1;
  /* Not built yet: a formula's design is fixed from the levels of a first
  ** read of every row; cv keeps per-fold factors a version does not store. */
  if (t->formula)
    return ml_error(t->ctx, "ml_train(): option incremental does not take a formula yet; train "
                            "without \"incremental\" (a full retrain)");
  if (t->o.fit.cv)
    return ml_error(t->ctx, "ml_train(): option incremental does not take cv (a version keeps no "
                            "fold factors to continue); train without \"incremental\"");
  if (t->o.fit.unseen_zero)
    return ml_error(t->ctx, "ml_train(): option incremental cannot be exact with \"unseen\": "
                            "\"zero\": a level seen only in test rows so far is read there as the "
                            "reference, and a full retrain reads it as itself once a training row "
                            "has it; train without \"incremental\"");
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
  return continue_plan(t);
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

int incr_null_columns(const trainer *t) {
  return 1 + t->k + (t->o.weights != NULL) + (t->o.offset != NULL);
}

const char *incr_null_column(const trainer *t, int i, int64_t *count) {
  const int w = t->o.weights != NULL;
  int64_t n = i == 0 ? t->target_nulls
              : i <= t->k ? t->fa.f[i - 1].nulls
              : i == t->k + 1 && w ? t->weight_nulls
                                   : t->offset_nulls;
  if (count) *count = n;
  return i == 0 ? t->target : i <= t->k ? t->feat[i - 1] : i == t->k + 1 && w ? t->o.weights : t->o.offset;
}

/* The NULLs read by column into m (section nnul): this read's, and a
** continuation's parent's, which counted the rows it did not read again. */
static int keep_nulls(const trainer *t, ml_model *m) {
  int n = incr_null_columns(t);
  int64_t *c = ml_malloc(8 * (uint64_t)n);
  if (!c) return ML_NOMEM;
  for (int i = 0; i < n; i++) {
    incr_null_column(t, i, &c[i]);
    if (t->pm && t->pm->nulls_read && t->pm->nnulls_read == n) c[i] += t->pm->nulls_read[i];
  }
  m->nulls_read = c;
  m->nnulls_read = n;
  return ML_OK;
}

int incr_keep(const trainer *t, ml_model *m) {
  if (keep_nulls(t, m)) return ML_NOMEM;
  if (!t->has_mark) return ML_OK;
  m->has_mark = 1;
  m->mark = t->mark;
  m->train_w = t->wtrain.w;
  m->train_mean = t->wtrain.mean;
  m->train_m2 = t->wtrain.m2;
  m->set_hash[0] = t->fa.hash[0];
  m->set_hash[1] = t->fa.hash[1];
  return ML_OK;
}

int incr_seed(trainer *t) {
  const ml_model *pm = t->pm;
  int rc = ml_fitacc_seed(&t->fa, pm, pm->set_hash);
  if (rc == ML_FA_TOO_WIDE) rc = ML_EINPUT;
  if (rc) {
    ml_result_code(t->ctx, "ml_train", rc);
    return -1;
  }
  t->wtrain.w = pm->train_w;
  t->wtrain.mean = pm->train_mean;
  t->wtrain.m2 = pm->train_m2;
  if (pm->test_R) {
    t->wtest.w = pm->test_w;
    t->wtest.mean = pm->test_mean;
    t->wtest.m2 = pm->test_m2;
  }
  t->rows_hash = pm->rows_hash;
  return 0;
}

/*
** *R (q x q, the new rows' factor in the model's columns, or NULL for none)
** becomes the factor of the new and the old rows: Rold (the parent's,
** qo x qo) mapped by T into the model's columns, stacked and triangularized.
*/
static int fold_factor(double **R, int q, const double *Rold, int qo, const double *T) {
  double *M = ml_calloc(8 * (uint64_t)q * (uint64_t)q);
  ml_lsq acc;
  memset(&acc, 0, sizeof acc);
  int rc = M ? ml_lsq_transform(Rold, qo, T, q, M) : ML_NOMEM;
  if (!rc) rc = ml_lsq_init(&acc, q - 1);
  if (!rc) rc = ml_lsq_merge(&acc, M, q);
  if (!rc && *R) rc = ml_lsq_merge(&acc, *R, q);
  if (!rc && !*R && !(*R = ml_calloc(8 * (uint64_t)q * (uint64_t)q))) rc = ML_NOMEM;
  if (!rc)
    for (int j = 0; j < q; j++)
      for (int i = 0; i < q; i++) (*R)[i + (int64_t)j * q] = i <= j ? acc.R[i + (int64_t)j * q] : 0;
  ml_lsq_free(&acc);
  ml_free(M);
  return rc;
}

/* The parent's factors folded into the model of the new rows, solved again. */
static int merge_factors(trainer *t) {
  ml_model *m = t->m, *pm = t->pm;
  double *T = NULL;
  int q = m->p + 1, rc = ml_model_design_map(pm, m, &T);
  if (!rc) rc = fold_factor(&m->R, q, pm->R, pm->p + 1, T);
  if (!rc && pm->test_R) rc = fold_factor(&t->Rtest, q, pm->test_R, pm->p + 1, T);
  ml_free(T);
  return rc ? rc : ml_model_solve(m);
}

int incr_merge(trainer *t) {
  if (!t->pm) return 0;
  int rc = merge_factors(t);
  if (rc) {
    ml_result_code(t->ctx, "ml_train", rc);
    return -1;
  }
  if (t->o.refine < 0 && t->m->l2 == 0) {
    int need = needs_refinement(t->m);
    if (need < 0) {
      ml_result_code(t->ctx, "ml_train", -need);
      return -1;
    }
    if (need)
      return ml_error(t->ctx, "ml_train(): option incremental cannot be exact here: the fit is "
                              "ill-conditioned enough to need a refinement step, which reads "
                              "every row; train without \"incremental\"");
  }
  return 0;
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
