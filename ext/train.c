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
**
** This file runs the steps in order (train()) and stores the version; each
** step is in a file of its own, listed in train.h.
*/
#include "formula.h"
#include "incremental.h"
#include "train.h"

/*
** Stores the version (ml_registry_store) and fills in the summary with its
** number: *summary (ml_free it), *len.  0, or -1 after reporting.
*/
static int store(trainer *t, train_result *r, char **summary, size_t *len) {
  ml_version_row row = {.name = t->name, .created_at = r->created, .source = t->source,
                        .target = t->target, .features = r->features, .options = r->options,
                        .metrics = r->metrics, .data_hash = r->hash, .n_train = t->m->n,
                        .n_test = t->fa.used[1],
                        .n_skipped = t->fa.skipped + t->target_nulls + t->weight_nulls +
                                     t->offset_nulls,
                        .model = r->blob, .nmodel = r->nblob,
                        .kind = t->m->family != ML_FAMILY_GAUSSIAN ? "generalized_linear_model" : NULL};
  sqlite3_int64 version = 0;
  int in_txn = !sqlite3_get_autocommit(t->db);
  if (ml_registry_store(t->ctx, "ml_train", &row, &version, in_txn) != SQLITE_OK) return -1;
  /* From here nothing can fail: the version is kept. */
  char *z = r->summary;
  memcpy(z, r->pre, r->npre);
  int nv = snprintf(z + r->npre, 21, "%lld", (long long)version);
  memcpy(z + r->npre + nv, r->post, r->npost + 1);
  *len = r->npre + (size_t)nv + r->npost;
  *summary = z;
  r->summary = NULL;
  return 0;
}

/* ---- ml_train ---- */

static void trainer_free(trainer *t) {
  threads_end(t);
  sqlite3_finalize(t->rows);
  sqlite3_free(t->from);
  sqlite3_free(t->rowid_alias);
  ml_free_names(t->cols, t->ncol);
  ml_free_names(t->decls, t->ncol);
  ml_free_names(t->feat, t->k);
  ml_lsq_free(&t->glm_acc);
  ml_auc_free(&t->auc);
  ml_free(t->coefold);
  sqlite3_free(t->ylev[0]);
  sqlite3_free(t->ylev[1]);
  ml_options_free(&t->o);
  sqlite3_free(t->kind);
  sqlite3_free(t->sure);
  if (t->why) ml_free_names(t->why, t->k);
  ml_sb_reset(&t->warn);
  sqlite3_free(t->x);
  sqlite3_free(t->colv);
  ml_free(t->Rtest);
  ml_fitacc_free(&t->fa);
  ml_model_free(t->m);
  ml_formula_free(t->formula);
  sqlite3_free(t->fresp);
  ml_model_free(t->pm);
}

static const char *text_or_null(sqlite3_value *v) {
  return sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
}

/*
** May ml_train run here?  Not inside a source, not in autocommit on
** dqlite, not with a read-only main database, not from a statement that
** reads the registry.  0, or -1 after reporting.
*/
static int check_call(sqlite3_context *ctx, sqlite3 *db) {
  if (ml_refuse_in_source(ctx, "ml_train")) return -1;
  if (ml_refuse_autocommit_on_dqlite(ctx, "ml_train")) return -1;
  /* Before any row is read: the version could not be stored. */
  if (sqlite3_db_readonly(db, "main") == 1)
    return ml_error(ctx, "ml_train(): the main database is read-only, so the registry in it cannot "
                         "be written; open it read-write (or train in another database, ATTACHing "
                         "this one)");
  int reads = ml_stmt_trains_per_row(db, "ml_model_versions");
  if (reads < 0) {
    ml_result_db_error(ctx, "ml_train", db, -reads);
    return -1;
  }
  if (reads)
    return ml_error(ctx, "ml_train(): the statement that calls it reads the model registry, and "
                         "would read the versions it adds without end; select what it needs into "
                         "a table first");
  return 0;
}

/* With a formula, four arguments whose fourth is a JSON object: the options. */
static int formula_options_in_4(const trainer *t, int argc, sqlite3_value **argv) {
  const char *z = argc == 4 && t->formula_text ? text_or_null(argv[3]) : NULL;
  while (z && (*z == ' ' || *z == '\t' || *z == '\n' || *z == '\r')) z++;
  return z && *z == '{';
}

/* The name, source and target arguments, then the options: 0, or -1 after reporting. */
static int read_args(trainer *t, int argc, sqlite3_value **argv) {
  t->name = text_or_null(argv[0]);
  t->source = text_or_null(argv[1]);
  t->target = text_or_null(argv[2]);
  char *err = ml_check_model_name("ml_train", t->name);
  if (err) {
    sqlite3_result_error(t->ctx, err, -1);
    sqlite3_free(err);
    return -1;
  }
  if (!t->source) return ml_error(t->ctx, "ml_train(): argument 2 must be a table, a view or a query");
  if (!t->target || !t->target[0])
    return ml_error(t->ctx, "ml_train(): argument 3 must be the name of the target column");
  if (strchr(t->target, '~')) t->formula_text = t->target;
  if (formula_options_in_4(t, argc, argv))
    return parse_options(t, text_or_null(argv[3])); /* ml_train(name, source, formula, options) */
  if (argc > 4 && sqlite3_value_type(argv[4]) != SQLITE_NULL && !text_or_null(argv[4]))
    return ml_error(t->ctx, "ml_train(): argument 5 must be a JSON object of options");
  return parse_options(t, argc > 4 ? text_or_null(argv[4]) : NULL);
}

/*
** ml_train's steps: options, plan, the first pass, the passes after it,
** finish, store.  Each reports its own error; whatever they leave in t,
** trainer_free frees.  The summary goes to *summary (ml_free it).
*/
static int train(trainer *t, int argc, sqlite3_value **argv, char **summary, size_t *len) {
  if (read_args(t, argc, argv)) return -1;
  if (train_plan(t, argc > 3 && !formula_options_in_4(t, argc, argv) ? argv[3] : NULL) ||
      threads_check(t) || incr_plan(t) || threads_plan(t))
    return -1;
  if (train_first_pass(t) || incr_merge(t)) return -1;
  /* A continuation runs no pass after the first (it would read only the new
  ** rows): incr_merge refused what would need one. */
  int refine = t->o.refine;
  if (t->pm) t->o.refine = 0;
  int more = train_more_passes(t);
  threads_end(t); /* the other connections' reads end with the passes, before the store */
  t->o.refine = refine;
  if (more) return -1;
  if (incr_keep(t, t->m)) return ml_error_nomem(t->ctx);
  train_result r;
  memset(&r, 0, sizeof r);
  int rc = train_finish(t, &r) ? -1 : 0;
  if (!rc && incr_summary(t, &r)) rc = ml_error_nomem(t->ctx);
  if (!rc && store(t, &r, summary, len)) rc = -1;
  train_result_free(&r);
  return rc;
}

int ml_train_again(sqlite3_context *ctx, int argc, sqlite3_value **argv, char **hash, ml_model **m) {
  trainer t;
  memset(&t, 0, sizeof t);
  t.ctx = ctx;
  t.db = sqlite3_context_db_handle(ctx);
  train_result r;
  memset(&r, 0, sizeof r);
  int rc = -1, ok = !read_args(&t, argc, argv) && !train_plan(&t, argc > 3 ? argv[3] : NULL) &&
                    !train_first_pass(&t) && !train_more_passes(&t);
  if (ok && incr_keep(&t, t.m)) {
    ml_error_nomem(ctx);
    ok = 0;
  }
  if (ok && !train_finish(&t, &r)) {
    *hash = r.hash;
    r.hash = NULL;
    *m = t.m;
    t.m = NULL;
    rc = 0;
  }
  train_result_free(&r);
  trainer_free(&t);
  return rc;
}

void ml_train_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (argc < 3 || argc > 5) {
    ml_error(ctx, "ml_train(): expected a name, a source, a target, [features, [options]], got %d "
                  "arguments", argc);
    return;
  }
  trainer t;
  memset(&t, 0, sizeof t);
  t.ctx = ctx;
  t.db = sqlite3_context_db_handle(ctx);
  if (check_call(ctx, t.db)) return;
  char *json = NULL;
  size_t n = 0;
  if (train(&t, argc, argv, &json, &n) == 0) {
    /* Hands the text over: no allocation, so no failure after the commit. */
    sqlite3_result_text64(ctx, json, n, ml_free, SQLITE_UTF8);
    sqlite3_result_subtype(ctx, 'J');
  }
  trainer_free(&t);
}
