/*
** train.c: ml_train, a named model fitted where the data lives and kept as a
** new version in the registry.
**
**   SELECT ml_train('house_price', 'houses', 'price', '["sqft","rooms","city"]',
**                   '{"test_size":0.2,"seed":42}');
**
** One pass reads the source.  Each row goes, by the split of ml_split_of, to
** the training factor or to the test rows' own factor R_t, whose test
** residual sum of squares for any coefficients b is ||R_t [b; -1]||^2: so the
** fit and both sets' r2 and rmse come from that one pass, categorical
** levels and imputed means included (fitacc.c).  More passes run only when
** asked for or needed: a refinement step when the one-pass error bound says
** it would show, the metrics that are not sums of squares (mae, max_error),
** robust standard errors.  Each later pass checks that it read the very
** rows the first did, by their fingerprint.
**
** Values are read as design.h says (a text that is a number is that number,
** na_values texts are NULL), and a column is numeric or categorical as a
** whole.  A declared numeric type (INTEGER, REAL, NUMERIC affinity) makes it
** numeric; otherwise (TEXT, no type: .import --csv makes every column TEXT)
** its values decide, and every value must read as a number for it to be
** numeric.  That is decided while fitting, not by a pass before: the fit
** starts optimistic (numeric; a listed categorical with numeric levels) and,
** when a value proves a column wrong, starts over with that column changed.
** Each column changes at most once, so there are at most k + 1 starts; and a
** right guess, by far the common case (numbers in text are numbers all the
** way down; a name column shows text in its first row), costs nothing, where
** a pre-pass would read every numeric text column twice.
**
** A pass is one statement, SELECT ml__pass(?1, key, target, features...,
** weight) FROM source, whose internal aggregate hands each row's values to
** the trainer bound as a pointer in ?1: the values arrive as arguments, as
** they do for ml_fit, instead of one sqlite3_column_value() call (and one
** trip through the connection's mutex) per value.  Rows too wide for a
** function's arguments (SQLITE_LIMIT_FUNCTION_ARG) are stepped and read
** column by column instead.
**
** The only write is one INSERT of the new version (after creating the
** registry tables if they are missing), numbered max + 1 inside that same
** statement: atomic by SQLite's own guarantee, so a failure anywhere leaves
** the registry as it was, and concurrent trainers get consecutive versions.
** No transaction is held while reading: a SAVEPOINT could not be rolled back
** after sqlite3_interrupt while the calling statement runs.
*/
#include "train.h"

/*
** Stores the version (ml_registry_store); reports its own errors.  in_txn:
** the caller had a transaction open before ml_train began.
*/
static int store(trainer *t, const unsigned char *blob, int64_t nblob, const char *features,
                 const char *options, const char *metrics, const char *hash, const char *created,
                 sqlite3_int64 *version, int in_txn) {
  ml_version_row row = {.name = t->name, .created_at = created, .source = t->source,
                        .target = t->target, .features = features, .options = options,
                        .metrics = metrics, .data_hash = hash, .n_train = t->m->n,
                        .n_test = t->fa.used[1],
                        .n_skipped = t->fa.skipped + t->target_nulls + t->weight_nulls +
                                     t->offset_nulls,
                        .model = blob, .nmodel = nblob,
                        .kind = t->m->family != ML_FAMILY_GAUSSIAN ? "generalized_linear_model" : NULL};
  return ml_registry_store(t->ctx, "ml_train", &row, version, in_txn);
}

/* ---- ml_train ---- */

static void trainer_free(trainer *t) {
  sqlite3_finalize(t->rows);
  sqlite3_free(t->from);
  sqlite3_free(t->rowid_alias);
  ml_free_names(t->feat, t->k);
  sqlite3_free(t->o.key);
  sqlite3_free(t->o.weights);
  sqlite3_free(t->o.offset);
  ml_lsq_free(&t->glm_acc);
  sqlite3_free(t->ylev[0]);
  sqlite3_free(t->ylev[1]);
  ml_free_names(t->o.categorical, t->o.ncategorical);
  ml_free_names(t->o.na_values, t->o.nna);
  ml_na_free(&t->o.na);
  sqlite3_free(t->kind);
  sqlite3_free(t->sure);
  if (t->why) ml_free_names(t->why, t->k);
  ml_sb_reset(&t->warn);
  sqlite3_free(t->x);
  sqlite3_free(t->colv);
  ml_free(t->Rtest);
  ml_fitacc_free(&t->fa);
  ml_model_free(t->m);
}

static const char *text_or_null(sqlite3_value *v) {
  return sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
}

/* Fits, measures and stores; the summary goes to *summary (ml_free it). */
static int train(trainer *t, char **summary, size_t *len) {
  int rc;
  char *hash = NULL, *created = NULL, *features = NULL, *options = NULL, *metrics = NULL;
  unsigned char *blob = NULL;
  int64_t nblob;
  ml_refiner ref = {0, NULL, NULL};
  ml_hcacc hc;
  memset(&hc, 0, sizeof hc);
  t->seeded = ml_split_seeded(t->o.seed);
  t->colv = sqlite3_malloc64(sizeof(sqlite3_value *) * (sqlite3_uint64)t->ncols);
  t->kind = sqlite3_malloc64(sizeof(int) * (sqlite3_uint64)t->k);
  t->sure = sqlite3_malloc64(sizeof(int) * (sqlite3_uint64)t->k);
  t->why = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)t->k);
  if (t->why) memset(t->why, 0, sizeof(char *) * (size_t)t->k);
  if (!t->colv || !t->kind || !t->sure || !t->why) goto nomem;
  for (int j = 0; j < t->k; j++) t->kind[j] = feature_type(t, j, &t->sure[j]);
  int glm = t->o.family != ML_FAMILY_GAUSSIAN;
  if (t->o.family == ML_FAMILY_BINOMIAL && target_levels(t)) return -1;
  /* A GLM's first pass is weighted by IRLS's working weights, prior weights or not. */
  t->o.fit.weighted = t->o.weights != NULL || glm;
  if (t->o.progress) t->last_progress = monotonic_seconds();
  /* Starts again while a column proves its guessed kind wrong (see the
  ** header), or '*' loses a column. */
  t->drop = -1;
  for (;;) {
    ml_fitacc_free(&t->fa);
    if ((rc = ml_fitacc_init(&t->fa, t->k, t->feat, t->kind, &t->o.fit, 2))) goto nomem;
    t->restart = t->failed = 0;
    t->target_nulls = t->weight_nulls = t->offset_nulls = 0;
    t->rows_hash = 0;
    memset(&t->dev_start, 0, sizeof t->dev_start);
    memset(&t->prior_w, 0, sizeof t->prior_w);
    memset(&t->prior_log_w, 0, sizeof t->prior_log_w);
    memset(&t->prior_wy, 0, sizeof t->prior_wy);
    t->fraction_rows = 0;
    memset(&t->wtrain, 0, sizeof t->wtrain);
    memset(&t->wtest, 0, sizeof t->wtest);
    int failed = run_pass(t, first_row);
    if (!failed && t->star && t->k > 1 && (t->drop = name_column(t)) >= 0)
      warn(t, "'%s' left out of '*': a different text in each of its %lld rows (an identifier "
              "or a name, whose levels would fit every row exactly); list the features to keep it",
           t->feat[t->drop], (long long)t->fa.f[t->drop].values);
    if (t->drop >= 0) {
      if (drop_feature(t, t->drop)) return -1;
      t->drop = -1;
      continue;
    }
    if (!failed) break;
    if (!t->restart) return -1;
  }
  for (int j = 0; j < t->k; j++) {
    const fa_feature *f = &t->fa.f[j];
    if (t->why[j] && f->nlevels > 10 && f->nlevels > 0.5 * (double)f->values) return stray_text(t, j);
  }
  if (t->fa.used[0] == 0)
    return ml_error(t->ctx, "ml_train(): no rows to train on: %lld rows read, %lld skipped for a "
                            "NULL, %lld in the test set", (long long)t->nread,
                    (long long)(t->fa.skipped + t->target_nulls + t->weight_nulls + t->offset_nulls),
                    (long long)t->fa.used[1]);
  char err[300];
  rc = ml_fitacc_finish(&t->fa, &t->m, &t->Rtest, err, sizeof err);
  for (int j = 0; rc == ML_EINPUT && j < t->k; j++)
    if (t->why[j]) return stray_text(t, j);
  if (rc == ML_EINPUT) return ml_error(t->ctx, "ml_train(): %s", err);
  if (rc) {
    ml_result_code(t->ctx, "ml_train", rc);
    return -1;
  }
  ml_model *m = t->m;
  m->has_rows_hash = 1;
  m->rows_hash = t->rows_hash;
  if ((rc = ml_model_set_name(m, -1, t->target))) goto code;
  t->x = sqlite3_malloc64(8 * (sqlite3_uint64)m->p);
  if (!t->x) goto nomem;

  /* The passes after the first: refinement and the full metrics share one;
  ** robust errors need the final coefficients, so they come after it. */
  if (glm && train_glm_fit(t)) goto fail;
  int refine = m->l2 > 0 || glm ? 0 : t->o.refine < 0 ? needs_refinement(m) : t->o.refine;
  if (refine < 0) {
    rc = -refine;
    goto code;
  }
  int measure = t->o.full_metrics;
  if (refine || (measure && !m->robust)) {
    if (refine && (rc = ml_refiner_init(&ref, m->p))) goto code;
    if (pass_again(t, refine ? &ref : NULL, NULL, measure && !m->robust)) goto fail;
    if (refine && (rc = ml_refiner_apply(&ref, m))) goto code;
  }
  if (m->robust) {
    if ((rc = ml_hcacc_init(&hc, m))) goto code;
    memset(&t->etrain, 0, sizeof t->etrain);
    memset(&t->etest, 0, sizeof t->etest);
    if (pass_again(t, NULL, &hc, measure)) goto fail;
    if ((rc = ml_hcacc_finish(&hc, m))) goto code;
  }
  double rss_train = (m->flags & ML_MODEL_REFINED) ? m->rss : rss_of(m->R, m->p, m->beta);
  double rss_test = t->Rtest ? rss_of(t->Rtest, m->p, m->beta) : NAN;

  /* The fingerprint: training values in scan order, then what decided the split. */
  uint64_t *h = t->fa.hash;
  ml_hash_u64(h, (uint64_t)m->n);
  ml_hash_double(h, t->o.test_size);
  ml_hash_u64(h, (uint64_t)t->o.seed);
  const char *kn = t->has_key ? (t->o.key ? t->o.key : "rowid") : "";
  for (const char *c = kn; *c; c++) ml_hash_u64(h, (unsigned char)*c);
  hash_model(t, h);
  hash = sqlite3_mprintf("%016llx%016llx", (unsigned long long)h[0], (unsigned long long)h[1]);
  created = utc_now();

  ml_sb b;
  ml_sb_init(&b);
  ml_sb_puts(&b, "[");
  for (int j = 0; j < t->k; j++) {
    if (j) ml_sb_puts(&b, ",");
    ml_sb_json_string(&b, t->feat[j], strlen(t->feat[j]));
  }
  ml_sb_puts(&b, "]");
  features = ml_sb_finish(&b, NULL);
  options_json(&b, t);
  options = ml_sb_finish(&b, NULL);
  ml_sb_puts(&b, "{");
  if (glm) {
    train_glm_metrics_set(&b, "train", m->n, &t->gm[0], m->family);
    ml_sb_puts(&b, ",");
    train_glm_metrics_set(&b, "test", t->fa.used[1], &t->gm[1], m->family);
  } else {
    metrics_set(&b, "train", m->n, rss_train, &t->wtrain, &t->etrain, measure);
    ml_sb_puts(&b, ",");
    metrics_set(&b, "test", t->fa.used[1], rss_test, &t->wtest, &t->etest, measure);
  }
  ml_sb_puts(&b, "}");
  metrics = ml_sb_finish(&b, NULL);
  if (!hash || !created || !features || !options || !metrics ||
      ml_model_encode(m, SQLML_VERSION, &blob, &nblob))
    goto nomem;
  /* The summary is made before the version is stored, with the version
  ** number left to fill in: once the INSERT has committed, nothing may fail,
  ** or an error would be reported for a version that was kept. */
  ml_sb pre, post;
  ml_sb_init(&pre);
  ml_sb_init(&post);
  ml_sb_puts(&pre, "{\"model\":");
  ml_sb_json_string(&pre, t->name, strlen(t->name));
  ml_sb_puts(&pre, ",\"version\":");
  ml_sb_printf(&post, ",\"n_train\":%lld,\"n_test\":%lld,\"n_skipped\":%lld",
               (long long)m->n, (long long)t->fa.used[1],
               (long long)(t->fa.skipped + t->target_nulls + t->weight_nulls + t->offset_nulls));
  if (t->o.weights) ml_sb_printf(&post, ",\"n_zero_weight\":%lld", (long long)t->fa.zero_weight);
  ml_sb_printf(&post, ",\"terms\":%d", m->p);
  if (glm) {
    int rank = 0;
    for (int j = 0; j < m->p; j++) rank += !m->aliased[j];
    ml_sb_printf(&post, ",\"family\":\"%s\",\"link\":\"%s\",\"deviance\":", ml_family_name(m->family),
                 ml_link_name(m->link));
    ml_sb_json_number(&post, m->deviance);
    ml_sb_puts(&post, ",\"null_deviance\":");
    ml_sb_json_number(&post, m->null_deviance);
    ml_sb_printf(&post, ",\"df_null\":%lld,\"df_resid\":%lld,\"aic\":", (long long)m->df_null,
                 (long long)(m->n - rank));
    ml_sb_json_number(&post, m->aic);
    ml_sb_printf(&post, ",\"iterations\":%d,\"converged\":%s", m->iterations,
                 m->converged ? "true" : "false");
    if (m->ylevels[0]) {
      ml_sb_puts(&post, ",\"target_levels\":[");
      ml_sb_json_string(&post, m->ylevels[0], strlen(m->ylevels[0]));
      ml_sb_puts(&post, ",");
      ml_sb_json_string(&post, m->ylevels[1], strlen(m->ylevels[1]));
      ml_sb_puts(&post, "]");
    }
  }
  json_names(&post, "features", t->feat, NULL, t->k);
  {
    /* Columns read from text: the target, numeric features, the weight. */
    char *names[ML_MAX_TERMS + 2];
    int keep[ML_MAX_TERMS + 2], n = 0;
    names[n] = (char *)t->target;
    keep[n++] = t->y_text;
    for (int j = 0; j < t->k; j++) {
      names[n] = t->feat[j];
      keep[n++] = t->kind[j] == ML_TYPE_NUMERIC && t->fa.f[j].from_text > 0;
    }
    if (t->o.weights) {
      names[n] = t->o.weights;
      keep[n++] = t->w_text;
    }
    json_names(&post, "read_from_text", names, keep, n);
  }
  ml_sb_puts(&post, ",\"nulls\":{");
  ml_sb_json_string(&post, t->target, strlen(t->target));
  ml_sb_printf(&post, ":%lld", (long long)t->target_nulls);
  for (int j = 0; j < t->k; j++) {
    ml_sb_puts(&post, ",");
    ml_sb_json_string(&post, t->feat[j], strlen(t->feat[j]));
    ml_sb_printf(&post, ":%lld", (long long)t->fa.f[j].nulls);
  }
  if (t->o.weights) {
    ml_sb_puts(&post, ",");
    ml_sb_json_string(&post, t->o.weights, strlen(t->o.weights));
    ml_sb_printf(&post, ":%lld", (long long)t->weight_nulls);
  }
  if (t->o.offset) {
    ml_sb_puts(&post, ",");
    ml_sb_json_string(&post, t->o.offset, strlen(t->o.offset));
    ml_sb_printf(&post, ":%lld", (long long)t->offset_nulls);
  }
  model_warnings(t, m);
  char *warnings = ml_sb_finish(&t->warn, NULL);
  if (!warnings) {
    ml_sb_reset(&pre);
    ml_sb_reset(&post);
    goto nomem;
  }
  ml_sb_printf(&post, "},\"nulls_policy\":\"%s\",\"refined\":%s,\"warnings\":[%s],\"metrics\":%s,"
               "\"data_hash\":\"%s\",\"created_at\":\"%s\"}",
               t->o.fit.nulls == ML_NULLS_MEAN ? "mean" : t->o.fit.nulls == ML_NULLS_ERROR ? "error" : "skip",
               (m->flags & ML_MODEL_REFINED) ? "true" : "false", warnings, metrics, hash, created);
  ml_free(warnings);
  size_t npre, npost;
  char *zpre = ml_sb_finish(&pre, &npre), *zpost = ml_sb_finish(&post, &npost);
  *summary = zpre && zpost ? ml_malloc(npre + 21 + npost + 1) : NULL;
  if (!*summary) {
    ml_free(zpre);
    ml_free(zpost);
    goto nomem;
  }
  sqlite3_int64 version = 0;
  int in_txn = !sqlite3_get_autocommit(t->db);
  int src = store(t, blob, nblob, features, options, metrics, hash, created, &version, in_txn);
  if (src != SQLITE_OK) {
    ml_free(zpre);
    ml_free(zpost);
    ml_free(*summary);
    *summary = NULL;
    goto fail;
  }
  memcpy(*summary, zpre, npre);
  int nv = snprintf(*summary + npre, 21, "%lld", (long long)version);
  memcpy(*summary + npre + nv, zpost, npost + 1);
  *len = npre + (size_t)nv + npost;
  ml_free(zpre);
  ml_free(zpost);
  rc = 0;
  goto out;
code:
  ml_result_code(t->ctx, "ml_train", rc);
  goto fail;
nomem:
  sqlite3_result_error_nomem(t->ctx);
fail:
  rc = -1;
out:
  ml_refiner_free(&ref);
  ml_hcacc_free(&hc);
  sqlite3_free(hash);
  sqlite3_free(created);
  ml_free(features);
  ml_free(options);
  ml_free(metrics);
  ml_free(blob);
  return rc;
}

void ml_train_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  trainer t;
  memset(&t, 0, sizeof t);
  t.ctx = ctx;
  t.db = sqlite3_context_db_handle(ctx);
  char **cols = NULL, *err = NULL;
  int ncol = 0;
  if (argc < 3 || argc > 5) {
    ml_error(ctx, "ml_train(): expected a name, a source, a target, [features, [options]], got %d "
                  "arguments", argc);
    return;
  }
  if (ml_refuse_in_source(ctx, "ml_train")) return;
  if (ml_refuse_autocommit_on_dqlite(ctx, "ml_train")) return;
  /* Before any row is read: the version could not be stored. */
  if (sqlite3_db_readonly(t.db, "main") == 1) {
    ml_error(ctx, "ml_train(): the main database is read-only, so the registry in it cannot be "
                  "written; open it read-write (or train in another database, ATTACHing this one)");
    return;
  }
  int reads = ml_stmt_trains_per_row(t.db, "ml_model_versions");
  if (reads) {
    if (reads < 0) ml_result_db_error(ctx, "ml_train", t.db, -reads);
    else ml_error(ctx, "ml_train(): the statement that calls it reads the model registry, and "
                       "would read the versions it adds without end; select what it needs into "
                       "a table first");
    return;
  }
  t.name = text_or_null(argv[0]);
  t.source = text_or_null(argv[1]);
  t.target = text_or_null(argv[2]);
  if ((err = ml_check_model_name("ml_train", t.name)) != NULL) goto fail;
  if (!t.source) {
    ml_error(ctx, "ml_train(): argument 2 must be a table, a view or a query");
    goto done;
  }
  if (!t.target || !t.target[0]) {
    ml_error(ctx, "ml_train(): argument 3 must be the name of the target column");
    goto done;
  }
  if (argc > 4 && sqlite3_value_type(argv[4]) != SQLITE_NULL && !text_or_null(argv[4])) {
    ml_error(ctx, "ml_train(): argument 5 must be a JSON object of options");
    goto done;
  }
  if (parse_options(&t, argc > 4 ? text_or_null(argv[4]) : NULL)) goto done;
  ml_source src;
  int rc = ml_source_open(t.db, "ml_train()", t.source, NULL, &src, &err);
  t.from = src.from;
  src.from = NULL;
  t.rowid = ml_source_has_rowid(&src);
  /* Without a key, '*' leaves out the rowid under its other name too. */
  if (rc == SQLITE_OK && !t.o.key) rc = ml_source_rowid_alias(t.db, &src, &t.rowid_alias);
  ml_source_free(&src);
  if (err || rc == SQLITE_NOMEM) goto fail;
  if (rc != SQLITE_OK) { /* the lookup's own failure, or the alias's */
    ml_result_db_error(ctx, "ml_train", t.db, rc);
    goto done;
  }
  cols = t.cols = ml_source_columns(t.db, "ml_train", t.from, t.source, &ncol, &err, &t.decls);
  t.ncol = ncol;
  if (!cols) goto fail;
  /* _rowid_ and oid are the rowid too, unless a column has the name. */
  if (t.o.key && ml_is_rowid_name(t.o.key) && ml_find_name(cols, ncol, t.o.key) < 0) {
    sqlite3_free(t.o.key);
    if (!(t.o.key = sqlite3_mprintf("rowid"))) goto fail;
  }
  if (ml_find_name(cols, ncol, t.target) < 0) {
    err = sqlite3_mprintf("ml_train(): the source '%s' has no column '%s' (the target)", t.source,
                          t.target);
    goto fail;
  }
  if (argc > 3 && sqlite3_value_type(argv[3]) != SQLITE_NULL && !text_or_null(argv[3])) {
    ml_error(ctx, "ml_train(): argument 4 must be a JSON array of feature names, or '*'");
    goto done;
  }
  if (parse_features(&t, argc > 3 ? argv[3] : NULL, cols, ncol)) goto done;
  /* A query can have 2000 columns (SQLITE_MAX_COLUMN); a model, 1000 terms.
  ** row_side() keeps a row's values on the stack for this many. */
  if (t.k > ML_MAX_TERMS) {
    ml_error(ctx, "ml_train(): %d features, more than the %d terms a model can hold", t.k,
             ML_MAX_TERMS);
    goto done;
  }
  if (prepare_rows(&t, cols, ncol)) goto done;
  char *json = NULL;
  size_t n = 0;
  if (train(&t, &json, &n)) goto done;
  /* Hands the text over: no allocation, so no failure after the commit. */
  sqlite3_result_text64(ctx, json, n, ml_free, SQLITE_UTF8);
  sqlite3_result_subtype(ctx, 'J');
  goto done;
fail:
  if (err) {
    sqlite3_result_error(ctx, err, -1);
    sqlite3_free(err);
  } else {
    sqlite3_result_error_nomem(ctx);
  }
done:
  ml_free_names(cols, ncol);
  ml_free_names(t.decls, ncol);
  trainer_free(&t);
}

