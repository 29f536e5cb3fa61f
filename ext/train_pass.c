/*
** train_pass.c: the passes of ml_train over its source: the ml__pass
** aggregate that hands each row to the trainer, reading a row's values,
** the first pass (split, fit, fingerprint, restarts when a column's kind
** proves wrong), and the passes again over the same rows for refinement,
** the full metrics and robust errors.
*/
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <lapacke.h>

#include "blas_lock.h"
#include "formula.h"
#include "incremental.h"
#include "train.h"

/* Refine when the one-pass error bound exceeds this (see needs_refinement). */
#define REFINE_ABOVE 1e-13
static void welford_add(welford *s, double y, double w) {
  s->w += w;
  double d = y - s->mean;
  s->mean += d * w / s->w;
  s->m2 += w * d * (y - s->mean);
}

/* ---- the passes ---- */

/* Seconds on a clock that only moves forward (wall-clock steps cannot make
** two reports closer than a second). */
double monotonic_seconds(void) {
  struct timespec ts;
#ifdef _WIN32
  timespec_get(&ts, TIME_UTC);
#else
  clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/*
** With the progress option, one line to stderr once a second has passed
** since the start or the last line: a run under a second says nothing.  The
** clock is read every 256 rows (a reading costs ~20 ns, a row from a table
** ~150 ns: the check is lost in the noise), so a source slower than 256 rows
** a second reports late, never early.
*/
void progress(trainer *t, const char *what) {
  if (!t->o.progress || (t->nread & 0xFF)) return;
  double now = monotonic_seconds();
  if (now - t->last_progress < 1) return;
  t->last_progress = now;
  fprintf(stderr, "ml_train: %s: %lld rows read\n", what, (long long)t->nread);
}

/* "row 17 (id 42)": where a row is, for messages; sqlite3_free it.  A
** reader of "threads" counts only its range's rows: the key alone. */
char *row_name(trainer *t) {
  if (!t->has_key) return sqlite3_mprintf("row %lld", (long long)t->nread);
  sqlite3_value *k = t->vals[0];
  if (t->worker)
    return sqlite3_mprintf(sqlite3_value_type(k) == SQLITE_TEXT ? "the row of %s '%s'" : "the row of %s %s",
                           t->o.key ? t->o.key : "rowid", sqlite3_value_text(k));
  return sqlite3_mprintf(sqlite3_value_type(k) == SQLITE_TEXT ? "row %lld (%s '%s')" : "row %lld (%s %s)",
                         (long long)t->nread, t->o.key ? t->o.key : "rowid", sqlite3_value_text(k));
}

/*
** A text that is no number where one must be.  Not "CAST it": CAST('NA' AS
** REAL) is 0, and the model would learn from invented zeros.
*/
static int text_error(trainer *t, const char *col, const char *text, const char *where, int feature) {
  return ml_error(t->ctx, "ml_train(): column '%s' is text ('%!.20s') in %s, not a number: if it "
                          "marks a missing value, list it in option \"na_values\" (or use "
                          "NULLIF(\"%w\", '%!.20s') in a query source)%s",
                  col, text ? text : "", where ? where : "a row", col, text ? text : "",
                  feature ? "; if the column holds categories, list it in option \"categorical\""
                          : "");
}

/*
** Column j read as numbers but for some text, and as categorical it cannot
** be a model's (too many levels, levels only in test rows, nearly one per
** row): a numeric column with a stray text, which is what to report.
*/
int stray_text(trainer *t, int j) {
  char *w = t->why[j], *sep = strrchr(w, '\x01');
  *sep = 0;
  text_error(t, t->feat[j], w, sep + 1, 1);
  *sep = '\x01';
  return -1;
}

/* Reports a bad value in a column of the current row (kind from ml_value_num). */
int bad_value(trainer *t, const char *col, int kind, sqlite3_value *v) {
  char *where = row_name(t);
  int feature = ml_find_name(t->feat, t->k, col) >= 0;
  if (kind == ML_V_NULL) {
    ml_error(t->ctx, "ml_train(): column '%s' is NULL in %s, and option nulls is \"error\"", col,
             where ? where : "a row");
  } else if (kind == ML_V_NUM) {
    ml_error(t->ctx, "ml_train(): column '%s' is negative in %s; weights must be >= 0", col,
             where ? where : "a row");
  } else if (kind == ML_V_TEXT) {
    text_error(t, col, (const char *)sqlite3_value_text(v), where, feature);
  } else if (kind == ML_V_NOMEM) {
    sqlite3_result_error_nomem(t->ctx);
  } else {
    char what[160];
    snprintf(what, sizeof what, "column '%.100s'", col);
    ml_value_error(t->ctx, "ml_train", what, kind, v, t->nread);
  }
  sqlite3_free(where);
  return -1;
}

/*
** Reads the response and the weight of the current row.  Returns 1 for a
** row to use, 0 for one to skip, -1 after reporting.
*/
int read_yw(trainer *t, double *y, double *w) {
  sqlite3_value *yv = t->vals[t->cy];
  int text, kind = ml_read_num(yv, &t->o.na, 1, y, &text);
  t->y_text |= text;
  if (kind == ML_V_TEXT && t->o.family == ML_FAMILY_BINOMIAL && !t->levels_probed) {
    /* The first text target of a binomial fit: are there two levels? */
    t->levels_probed = 1;
    if (target_levels(t)) return -1;
  }
  if (t->ylev[0] && kind != ML_V_NULL) {
    /* A binomial target of two text levels: the second is 1. */
    const char *z = kind == ML_V_TEXT ? (const char *)sqlite3_value_text(yv) : NULL;
    int l = !z ? -1 : strcmp(z, t->ylev[0]) == 0 ? 0 : strcmp(z, t->ylev[1]) == 0 ? 1 : -1;
    if (l < 0) {
      char *where = row_name(t);
      ml_error(t->ctx, "ml_train(): family \"binomial\" with the target's levels '%s' (0) and '%s' "
                       "(1) found %s '%s' in %s", t->ylev[0], t->ylev[1],
               kind == ML_V_TEXT ? "another level" : "a value", sqlite3_value_text(yv),
               where ? where : "a row");
      sqlite3_free(where);
      return -1;
    }
    *y = l;
    kind = ML_V_NUM;
  }
  if (kind == ML_V_NULL) {
    if (t->o.fit.nulls == ML_NULLS_ERROR) return bad_value(t, t->target, ML_V_NULL, yv);
    return 0;
  }
  if (kind != ML_V_NUM) return bad_value(t, t->target, kind, yv);
  if (t->formula && train_formula_response(t, y)) return -1;
  *w = 1;
  if (t->cw >= 0) {
    sqlite3_value *wv = t->vals[t->cw];
    kind = ml_read_num(wv, &t->o.na, 1, w, &text);
    t->w_text |= text;
    if (kind == ML_V_NULL) {
      if (t->o.fit.nulls == ML_NULLS_ERROR) return bad_value(t, t->o.weights, ML_V_NULL, wv);
      return 0;
    }
    if (kind != ML_V_NUM) return bad_value(t, t->o.weights, kind, wv);
    if (*w < 0) return bad_value(t, t->o.weights, ML_V_NUM, wv);
  }
  return 1;
}

/* The side of the current row: ML_SIDE_*, or -1 after reporting. */
int row_side(trainer *t) {
  int side, rc = ml_split_train_side(t->seeded, t->o.seed, t->o.test_size,
                                     t->has_key ? t->vals[0] : NULL, t->vals + t->cy, t->k + 1, &side);
  if (rc == ML_SPLIT_NOMEM) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  if (rc)
    return ml_error(t->ctx, "ml_train(): the key '%s' is NULL in row %lld; the split needs a key "
                            "on every row", t->o.key ? t->o.key : "rowid", (long long)t->nread);
  return side;
}

/* Leaves feature j out (of '*'), between passes; 0, or -1 after reporting. */
int drop_feature(trainer *t, int j) {
  sqlite3_free(t->feat[j]);
  sqlite3_free(t->why[j]);
  for (int i = j; i + 1 < t->k; i++) {
    t->feat[i] = t->feat[i + 1];
    t->kind[i] = t->kind[i + 1];
    t->sure[i] = t->sure[i + 1];
    t->why[i] = t->why[i + 1];
  }
  t->k--;
  sqlite3_finalize(t->rows);
  t->rows = NULL;
  return prepare_rows(t, t->cols, t->ncol);
}

/*
** After a first pass of '*': the first text feature (not listed
** categorical) with a different value in every row it has, more than 10:
** an identifier or a name, whose levels would fit every row exactly.  Its
** index, or -1.
*/
int name_column(const trainer *t) {
  for (int j = 0; j < t->k; j++) {
    const fa_feature *f = &t->fa.f[j];
    if (t->kind[j] == ML_TYPE_CATEGORICAL && !listed_categorical(t, t->feat[j]) && !t->why[j] &&
        f->nlevels > 10 && f->nlevels == f->values)
      return j;
  }
  return -1;
}

/* ---- a GLM's rows (the iterations are glm_fit's) ---- */

/* The offset of the current row: 1 with *off, 0 for a NULL (the row is
** skipped), -1 after reporting.  0 without an offset. */
int read_offset(trainer *t, double *off) {
  *off = 0;
  if (t->co < 0) return 1;
  sqlite3_value *v = t->vals[t->co];
  int text, kind = ml_read_num(v, &t->o.na, 1, off, &text);
  if (kind == ML_V_NULL) {
    if (t->o.fit.nulls == ML_NULLS_ERROR) return bad_value(t, t->o.offset, ML_V_NULL, v);
    return 0;
  }
  if (kind != ML_V_NUM) return bad_value(t, t->o.offset, kind, v);
  return 1;
}

/* Is y in the family's range?  0; -1 after reporting the row.  Counts the
** values R warns of (glm.h, ml_glm_check_y). */
static int check_response(trainer *t, double y, double w) {
  int r = ml_glm_check_y(t->o.family, y, w, t->cw >= 0);
  if (r == ML_GLM_Y_OK) return 0;
  if (r == ML_GLM_Y_FRACTION) {
    if (!t->fraction_rows++) t->fraction_first = t->nread;
    return 0;
  }
  char *where = row_name(t);
  if (t->o.family == ML_FAMILY_BINOMIAL)
    ml_error(t->ctx, "ml_train(): family \"binomial\" needs the target '%s' to be %s, got %!.17g in %s",
             t->target, t->cw >= 0 ? "a proportion in [0, 1] (of the trials in the weights)" : "0 or 1",
             y, where ? where : "a row");
  else
    ml_error(t->ctx, "ml_train(): family \"poisson\" needs the target '%s' to be a count >= 0, got "
                     "%!.17g in %s", t->target, y, where ? where : "a row");
  sqlite3_free(where);
  return -1;
}

/*
** Feature j has more levels than a model can hold: a numeric column with a
** stray text; or, in '*' and not listed categorical, left out (with a
** warning) for the first pass to start again; or the error.  -1.
*/
int feature_too_wide(trainer *t, int j) {
  if (t->why[j]) return stray_text(t, j);
  if (t->star && t->k > 1 && !listed_categorical(t, t->feat[j])) {
    warn(t, "'%s' left out of '*': more distinct values than a model can hold (%d terms); "
            "list the features to choose", t->feat[j], ML_MAX_TERMS);
    t->drop = j;
    t->restart = 1;
    return -1;
  }
  if (t->fa.o.block_model && j == t->fa.bf)
    return ml_error(t->ctx, "ml_train(): feature '%s' has too many levels (%d by row %lld): a "
                            "model holds at most %d levels of one feature", t->feat[j],
                    t->fa.f[j].nlevels, (long long)t->nread, ML_MAX_LEVELS);
  return ml_error(t->ctx, "ml_train(): feature '%s' has too many levels (%d by row %lld): a "
                          "model holds at most %d terms%s", t->feat[j], t->fa.f[j].nlevels,
                  (long long)t->nread, ML_MAX_TERMS,
                  t->fa.o.block_model ? ", and one feature of many levels" : "");
}

/* The first pass, row by row: split, fit, count, fingerprint.  For a GLM
** the fit is IRLS's first step, from R's starting values: the accumulator
** gets the working response and weight where a linear fit has y and w. */
int first_row(trainer *t) {
  progress(t, "fitting");
  double y, w, off = 0, z = 0, W = 0, mu0 = 0;
  int use = read_yw(t, &y, &w), glm = t->o.family != ML_FAMILY_GAUSSIAN;
  if (use < 0) return -1;
  if (!use) {
    double d;
    int text; /* NULL, or a na_values text */
    if (ml_read_num(t->vals[t->cy], &t->o.na, 1, &d, &text) == ML_V_NULL) t->target_nulls++;
    else t->weight_nulls++;
    return 0;
  }
  if (glm) {
    if ((use = read_offset(t, &off)) < 0) return -1;
    if (!use) {
      t->offset_nulls++;
      return 0;
    }
    if (check_response(t, y, w)) return -1;
    train_glm_start(t, y, w, off, &z, &W, &mu0);
  }
  int side = row_side(t);
  if (side < 0) return -1;
  if (t->o.fit.cv && side != ML_SIDE_TEST && row_fold(t)) return -1;
  int r = ml_fitacc_add(&t->fa, side == ML_SIDE_TEST, t->vals + t->cy + 1, glm ? z : y, glm ? W : w);
  if (r == ML_FA_ERROR && t->fa.bad_kind == ML_V_TEXT && t->fa.bad_col >= 0 &&
      !t->sure[t->fa.bad_col]) {
    /* A text that is no number: the column was guessed numeric, or its
    ** levels numbers.  It is categorical, by its texts: start again. */
    int c = t->fa.bad_col;
    if (t->kind[c] == ML_TYPE_NUMERIC && t->fa.f[c].values > 0 && !(t->why[c] = row_name(t))) {
      sqlite3_result_error_nomem(t->ctx);
      return -1;
    }
    if (t->why[c]) {
      char *w = sqlite3_mprintf("%s\x01%s", sqlite3_value_text(t->vals[t->cy + 1 + c]), t->why[c]);
      sqlite3_free(t->why[c]);
      if (!(t->why[c] = w)) {
        sqlite3_result_error_nomem(t->ctx);
        return -1;
      }
    }
    t->kind[c] = ML_TYPE_CATEGORICAL;
    t->sure[c] = 1;
    t->restart = 1;
    return -1;
  }
  if (r == ML_FA_TOO_WIDE) return feature_too_wide(t, t->fa.bad_col);
  if (r == ML_FA_ERROR && t->fa.bad_kind == ML_V_UNDEFINED) return train_formula_undefined(t);
  if (r == ML_FA_ERROR) {
    int c = t->fa.bad_col;
    return bad_value(t, c == -2 ? t->o.weights : c == -1 ? t->target : t->feat[c], t->fa.bad_kind,
                     t->vals[c == -2 ? t->cw : t->cy + 1 + c]);
  }
  if (r == ML_NOMEM) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  if (r != ML_FA_USED) return 0;
  if (side != ML_SIDE_TEST)
    t->rows_hash += !glm && t->fa.has_rowhash ? t->fa.rowhash
                                              : ml_rowhash(t->cw >= 0 ? &w : NULL, y, t->vals + t->cy + 1, t->k);
  welford_add(side == ML_SIDE_TEST ? &t->wtest : &t->wtrain, y, w);
  if (glm && side != ML_SIDE_TEST) {
    ml_ksum_add(&t->dev_start, ml_glm_dev_resid(t->o.family, y, mu0, w));
    ml_ksum_add(&t->prior_w, w);
    ml_ksum_add(&t->prior_wy, w * y);
    if (t->cw >= 0) ml_ksum_add(&t->prior_log_w, log(w));
    /* (0 for a binomial 0 or 1 of weight 1) */
    if (ml_glm_aic_splits(t->o.family, y, w) && !(t->o.family == ML_FAMILY_BINOMIAL && w == 1))
      ml_ksum_add(&t->aic_sat, ml_glm_aic_term(t->o.family, y, y, w));
  }
  return 0;
}

/*
** ml__pass(trainer, values...): the internal aggregate every pass of
** ml_train runs (see train.c's header comment).  The trainer is a pointer only
** ml_train can bind, so from SQL it is an error.  Values past SQLite's
** argument limit come first through ml__more, among ml__pass's arguments.
*/
void ml_pass_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  trainer *t = sqlite3_value_pointer(argv[0], "sqlml_trainer");
  /* Only ml_train binds the pointer, and only to its own statement, whose
  ** call has one argument per column it reads, and one per ml__more; a
  ** source cannot take parameters (sqlq.c), so any other call is from SQL
  ** text. */
  if (!t || !t->on_row || !t->by_agg ||
      argc != 1 + t->ndirect + (t->ncols - t->ndirect + t->more_each - 1) / t->more_each) {
    sqlite3_result_error(ctx, "ml__pass(): internal to ml_train", -1);
    return;
  }
  if (t->failed) return;
  /* A reader's rows (train_threads.c): its errors are its statement's, and
  ** it stops when the caller was interrupted. */
  if (t->worker) {
    t->ctx = ctx;
    if (!(t->nread & 0xFFFF) && threads_stopped(t)) {
      t->failed = 1;
      sqlite3_result_error(ctx, "ml_train(): interrupted", -1);
      sqlite3_result_error_code(ctx, SQLITE_INTERRUPT);
      return;
    }
  }
  if (t->ndirect == t->ncols) {
    t->vals = argv + 1;
  } else {
    memcpy(t->colv, argv + 1, sizeof(sqlite3_value *) * (size_t)t->ndirect);
    t->vals = t->colv;
  }
  t->nread++;
  if (t->on_row(t)) {
    t->failed = 1;
    if (!t->worker || t->restart) sqlite3_result_error(ctx, "ml_train: stopped", -1);
  }
}

void ml_pass_final(sqlite3_context *ctx) { (void)ctx; }

/*
** ml__more(trainer, start, values...): the values of the row at start and
** after, copied for the ml__pass call they are an argument of (an
** argument lives only while its call runs).  A copy keeps its value's
** storage class, texts and BLOBs their bytes.
*/
void ml_more_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  trainer *t = argc >= 2 ? sqlite3_value_pointer(argv[0], "sqlml_trainer") : NULL;
  sqlite3_int64 at = t ? sqlite3_value_int64(argv[1]) : -1;
  if (!t || !t->on_row || !t->by_agg || at < t->ndirect || at + (argc - 2) > t->ncols) {
    sqlite3_result_error(ctx, "ml__more(): internal to ml_train", -1);
    return;
  }
  if (t->failed) return;
  for (int i = 2; i < argc; i++) {
    sqlite3_value **slot = &t->colv[at + i - 2];
    sqlite3_value_free(*slot);
    if (!(*slot = sqlite3_value_dup(argv[i]))) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
  }
}

/* Frees ml__more's copies of the last row. */
static void more_free(trainer *t) {
  for (int c = t->ndirect; t->by_agg && c < t->ncols; c++) {
    sqlite3_value_free(t->colv[c]);
    t->colv[c] = NULL;
  }
}

/* Runs every row of the source through fn; 0, or -1 after reporting. */
int run_pass(trainer *t, int (*fn)(trainer *)) {
  if (ml_nest_enter()) return ml_error(t->ctx, "ml_train(): " ML_NEST_MSG);
  int rc = train_step_rows(t, fn);
  ml_nest_leave();
  t->on_row = NULL;
  more_free(t);
  if (rc == SQLITE_DONE) return 0;
  if (rc > 0 && !t->failed) ml_result_db_error(t->ctx, "ml_train", t->db, rc);
  return -1;
}

/* The loop of run_pass: SQLITE_DONE, another SQLite code, or -1 after fn reported. */
int train_step_rows(trainer *t, int (*fn)(trainer *)) {
  t->on_row = fn;
  t->nread = 0;
  sqlite3_reset(t->rows);
  int rc = SQLITE_OK;
  if (t->by_agg) {
    for (int c = t->ndirect; c < t->ncols; c++) t->colv[c] = NULL;
    rc = sqlite3_bind_pointer(t->rows, 1, t, "sqlml_trainer", NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(t->rows)) == SQLITE_ROW) rc = SQLITE_OK;
  } else {
    t->vals = t->colv;
    while ((rc = sqlite3_step(t->rows)) == SQLITE_ROW) {
      for (int c = 0; c < t->ncols; c++) t->colv[c] = sqlite3_column_value(t->rows, c);
      t->nread++;
      if (fn(t)) return -1;
    }
  }
  return rc;
}

/*
** Does the one-pass fit need a refinement step?  Its forward error bound on
** the column-scaled problem is u k (1 + k |r| / (|X| |b|)) (Golub & Van Loan,
** 5.3.8), with k the condition estimate (dtrcon) of the kept columns' factor
** scaled to unit columns.  Below REFINE_ABOVE a refinement step cannot move
** the coefficients in the digits anyone reads; above, it runs.
*/
/* The bound from the reciprocal condition, the scaled coefficients' norm
** bn, the residual's rn and the rank r: does it call for refinement? */
static int bound_exceeded(double rcond, double bn, double rn, int r) {
  double kappa = 1 / rcond;
  double bound = DBL_EPSILON * kappa * (1 + kappa * rn / (sqrt((double)r) * (bn > 0 ? bn : 1)));
  return bound > REFINE_ABOVE;
}

/* needs_refinement of a model kept with its block: the same bound, from its
** factor without the aliased columns (sfac.h's estimate of the condition). */
static int needs_refinement_blocked(const ml_model *m) {
  int p = m->p, nb = m->fac->nb, need = -ML_NOMEM;
  double *c = ml_malloc(8 * (uint64_t)p);
  ml_sfac w = {0};
  if (!c) goto out;
  int rc = ml_model_reduced_fac(m, &w);
  double rcond = 0, bn = 0;
  if (!rc) rc = ml_sfac_rcond(&w, &rcond);
  if (rc) {
    need = -rc;
    goto out;
  }
  ml_sfac_col_norms(&w, c);
  for (int j = 0, k = nb; j < p; j++) {
    int in = j >= m->bstart && j < m->bstart + nb;
    if (!in && m->aliased[j]) continue;
    bn = hypot(bn, c[in ? j - m->bstart : k++] * m->beta[j]);
  }
  int rank = p;
  for (int j = 0; j < p; j++) rank -= m->aliased[j];
  double rn = fabs(w.R[(w.q - 1) + (int64_t)(w.q - 1) * w.q]);
  need = !(rcond > 0) || rank == 0 || bound_exceeded(rcond, bn, rn, rank);
out:
  ml_sfac_free(&w);
  ml_free(c);
  return need;
}

/* 1 or 0; or minus a core code (ML_NOMEM): the answer must not depend on memory. */
int needs_refinement(const ml_model *m) {
  if (m->fac) return needs_refinement_blocked(m);
  int q = m->p + 1, r, need = -ML_NOMEM;
  double *W = sqlite3_malloc64(8 * (sqlite3_uint64)q * (sqlite3_uint64)q);
  double *work = sqlite3_malloc64(8 * 3 * (sqlite3_uint64)q);
  lapack_int *iwork = sqlite3_malloc64(sizeof(lapack_int) * (sqlite3_uint64)q);
  unsigned char *al = sqlite3_malloc64((sqlite3_uint64)m->p);
  if (!W || !work || !iwork || !al) goto out;
  memcpy(al, m->aliased, (size_t)m->p);
  int rc = ml_lsq_reduce(m->R, q, -1, al, W, &r);
  if (rc) {
    need = -rc;
    goto out;
  }
  /* From here, whatever the estimate cannot say means: refine. */
  need = 1;
  if (r == 0) goto out;
  double bn = 0, rcond;
  for (int j = 0, k = 0; j < m->p; j++) {
    if (m->aliased[j]) continue;
    double c = 0;
    for (int i = 0; i <= k; i++) c = hypot(c, W[i + (int64_t)k * q]);
    for (int i = 0; i <= k; i++) W[i + (int64_t)k * q] = c > 0 ? W[i + (int64_t)k * q] / c : 0;
    bn = hypot(bn, c * m->beta[j]);
    k++;
  }
  ml_blas_lock();
  int ok = LAPACKE_dtrcon_work(LAPACK_COL_MAJOR, '1', 'U', 'N', r, W, q, &rcond, work, iwork) == 0;
  ml_blas_unlock();
  if (ok && rcond > 0) need = bound_exceeded(rcond, bn, fabs(m->R[m->p + (int64_t)m->p * q]), r);
out:
  sqlite3_free(W);
  sqlite3_free(work);
  sqlite3_free(iwork);
  sqlite3_free(al);
  return need;
}

/* A training row's part in the refinement and the robust covariance: its
** design row in t->x (blk its block term). */
static int again_add(trainer *t, int blk, double y, double sw) {
  if (t->ref) ml_refiner_add(t->ref, t->m, t->x, blk, y, sw);
  return t->hc ? ml_hcacc_add(t->hc, t->m, t->x, y, sw) : ML_OK;
}

/*
** A later pass, row by row, with the model's design: refinement (t->ref),
** robust covariance (t->hc), errors for mae and max_error (t->measure).
*/
static int again_row(trainer *t) {
  const ml_model *m = t->m;
  progress(t, t->ref ? "refining" : t->hc ? "robust errors" : "measuring");
  double y, w;
  int use = read_yw(t, &y, &w);
  if (use < 0) return -1;
  if (!use || w == 0) return 0;
  int side = row_side(t);
  if (side < 0) return -1;
  /* A row the first pass skipped for a NULL is skipped before its values
  ** are checked: a level seen only in such rows is no level of the model. */
  if (ml_design_row_skipped(m, t->vals + t->cy + 1)) return 0;
  /* A model kept with its block: O(terms outside it) a row. */
  int blk = -1, r = ml_design_row_blocked(t->ctx, "ml_train", m, t->vals + t->cy + 1, t->x,
                                          m->fac ? &blk : NULL);
  if (r < 0) return -1;
  if (r == ML_V_NULL) return 0;
  int test = side == ML_SIDE_TEST;
  t->again_n[test]++;
  double sw = sqrt(w);
  if (t->measure) {
    long double e = ml_model_residual(m, t->x, blk, y);
    abs_err *ae = test ? &t->etest : &t->etrain;
    double ad = fabs((double)e);
    ae->sum += w * ad;
    if (ad > ae->max) ae->max = ad;
  }
  if (test) return 0;
  if (ml_fitacc_fingerprint(&t->fa, t->vals + t->cy + 1, y, w, t->again_hash)) t->again_n[0] = -1;
  int rc = again_add(t, blk, y, sw);
  if (rc) {
    ml_result_code(t->ctx, "ml_train", rc);
    return -1;
  }
  return 0;
}

/* A training row the first pass kept (fitacc_rows.c) into the refinement
** or the robust covariance: again_row's work on a row it reads. */
static int again_kept_row(void *ctx, const ml_fvalue *v, double y, double w) {
  trainer *t = ctx;
  int blk = -1;
  ml_design_row_values(t->m, v, t->x, t->m->fac ? &blk : NULL);
  return again_add(t, blk, y, sqrt(w));
}

/*
** Another pass over the same rows; checks they are the rows of the first.
** A refinement or robust errors without full metrics (which need the test
** rows too) go over the training rows the first pass kept, when it kept
** them: the same rows, without reading the source again.
*/
int pass_again(trainer *t, ml_refiner *ref, ml_hcacc *hc, int measure) {
  t->ref = ref;
  t->hc = hc;
  t->measure = measure;
  if ((ref || hc) && !measure) {
    int rc = ml_fitacc_rows_each(&t->fa, again_kept_row, t);
    if (rc == ML_OK) return 0;
    if (rc > 0) {
      ml_result_code(t->ctx, "ml_train", rc);
      return -1;
    }
  }
  t->again_n[0] = t->again_n[1] = 0;
  t->again_hash[0] = ML_HASH_SEED0;
  t->again_hash[1] = ML_HASH_SEED1;
  if (run_pass(t, again_row)) return -1;
  if (t->again_n[0] != t->m->n || t->again_n[1] != t->fa.used[1] ||
      t->again_hash[0] != t->fa.hash[0] || t->again_hash[1] != t->fa.hash[1])
    return ml_error(t->ctx, "ml_train(): the source changed while it was read again (another "
                            "connection wrote to it); train again");
  return 0;
}


/* ---- the steps train() calls ---- */

/* Clears what a start of the first pass counts. */
void first_pass_reset(trainer *t) {
  t->restart = t->failed = 0;
  t->target_nulls = t->weight_nulls = t->offset_nulls = 0;
  t->rows_hash = 0;
  memset(&t->dev_start, 0, sizeof t->dev_start);
  memset(&t->aic_sat, 0, sizeof t->aic_sat);
  memset(&t->prior_w, 0, sizeof t->prior_w);
  memset(&t->prior_log_w, 0, sizeof t->prior_log_w);
  memset(&t->prior_wy, 0, sizeof t->prior_wy);
  t->fraction_rows = 0;
  memset(&t->wtrain, 0, sizeof t->wtrain);
  memset(&t->wtest, 0, sizeof t->wtest);
}

/*
** Should the first pass keep its training rows for a second look
** (fitacc_rows.c)?  When one is sure or likely: robust errors, a
** refinement asked for, or "auto" with a categorical feature ("auto"
** refines when the error bound calls for it, which the indicator columns
** of a categorical feature usually do, and a few numeric columns rarely).
** Keeping costs memory and a little time a row; not where the second look
** could not use them (a GLM, l2, cv, a formula, an incremental retrain,
** threads, full metrics, which need the test rows too).
*/
static int keep_rows(const trainer *t) {
  const ml_fitopts *o = &t->o.fit;
  if (t->o.family != ML_FAMILY_GAUSSIAN || t->formula_text || o->l2 > 0 || o->l2_path || o->cv ||
      t->o.incremental || t->o.threads > 1 || t->o.full_metrics)
    return 0;
  int categorical = 0;
  for (int j = 0; j < t->k; j++) categorical |= t->kind[j] != ML_TYPE_NUMERIC;
  return t->o.refine > 0 || o->robust || (t->o.refine < 0 && categorical);
}

/*
** The first pass, started again while a column proves its guessed kind
** wrong (see train.c's header), or '*' loses a column.  0, or -1 after
** reporting.
*/
static int first_pass_runs(trainer *t) {
  t->drop = -1;
  for (;;) {
    ml_fitacc_free(&t->fa);
    t->o.fit.keep_rows = keep_rows(t);
    if (ml_fitacc_init(&t->fa, t->k, t->feat, t->kind, &t->o.fit, 2) ||
        (t->formula && ml_fitacc_use_formula(&t->fa, t->formula))) {
      sqlite3_result_error_nomem(t->ctx);
      return -1;
    }
    first_pass_reset(t);
    if (t->pm && incr_seed(t)) return -1;
    int failed = t->par ? threads_pass(t, first_row, 0) : run_pass(t, first_row);
    if (!failed && t->star && t->k > 1 && (t->drop = name_column(t)) >= 0)
      warn(t, "'%s' left out of '*': a different text in each of its %lld rows (an identifier "
              "or a name, whose levels would fit every row exactly); list the features to keep it",
           t->feat[t->drop], (long long)t->fa.f[t->drop].values);
    if (t->drop >= 0) {
      if (drop_feature(t, t->drop)) return -1;
      t->drop = -1;
      continue;
    }
    if (!failed) return 0;
    if (!t->restart) return -1;
  }
}

/*
** The first pass and the model it fits (t->m, t->Rtest, t->x): 0, or -1
** after reporting.
*/
int train_first_pass(trainer *t) {
  if (t->o.progress) t->last_progress = monotonic_seconds();
  if (first_pass_runs(t)) return -1;
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
  int rc = ml_fitacc_finish(&t->fa, &t->m, &t->Rtest, err, sizeof err);
  for (int j = 0; rc == ML_EINPUT && j < t->k; j++)
    if (t->why[j]) return stray_text(t, j);
  if (rc == ML_EINPUT) return ml_error(t->ctx, "ml_train(): %s", err);
  ml_model *m = t->m;
  if (!rc) {
    m->has_rows_hash = 1;
    m->rows_hash = t->rows_hash;
    rc = ml_model_set_name(m, -1, t->target);
  }
  if (!rc && !(t->x = sqlite3_malloc64(8 * (sqlite3_uint64)m->p))) rc = ML_NOMEM;
  if (rc) {
    ml_result_code(t->ctx, "ml_train", rc);
    return -1;
  }
  return 0;
}

/*
** The passes after the first: IRLS for a GLM; refinement and the full
** metrics share one; robust errors need the final coefficients, so they
** come after it.  0, or -1 after reporting.
*/
int train_more_passes(trainer *t) {
  ml_model *m = t->m;
  int glm = t->o.family != ML_FAMILY_GAUSSIAN, measure = t->o.full_metrics, rc = 0, fail = 0;
  ml_refiner ref = {0, NULL, NULL};
  ml_hcacc hc;
  memset(&hc, 0, sizeof hc);
  if (glm && train_glm_fit(t)) return -1;
  int refine = m->l2 > 0 || glm ? 0 : t->o.refine < 0 ? needs_refinement(m) : t->o.refine;
  if (refine < 0) rc = -refine;
  if (!rc && (refine || (measure && !m->robust))) {
    if (refine) rc = ml_refiner_init(&ref, m->p);
    if (!rc) fail = pass_again(t, refine ? &ref : NULL, NULL, measure && !m->robust);
    if (!rc && !fail && refine) rc = ml_refiner_apply(&ref, m);
  }
  if (!rc && !fail && m->robust) {
    memset(&t->etrain, 0, sizeof t->etrain);
    memset(&t->etest, 0, sizeof t->etest);
    if (!(rc = ml_hcacc_init(&hc, m)) && !(fail = pass_again(t, NULL, &hc, measure)))
      rc = ml_hcacc_finish(&hc, m);
  }
  ml_refiner_free(&ref);
  ml_hcacc_free(&hc);
  if (rc) ml_result_code(t->ctx, "ml_train", rc);
  return rc || fail ? -1 : 0;
}
