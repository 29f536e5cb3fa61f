/*
** compare_read.c: two models measured on a version's test rows, read once
** from its source.
**
** ml_compare and ml_promote score two models without reading a row when
** one model's coefficients can be written in the columns of the other's
** test factor (compare.c).  When they cannot (other features, levels the
** other never saw, a GLM, or a metric such as mae that needs every row),
** the version's test rows are read again from its stored source: the rows
** ml_train put on the test side, by the same split (split.h's
** ml_split_train_side over the stored test_size, seed and key), as they
** are in the source now, and no later rows when the version recorded its
** mark (the largest rowid it read).  Both models measure each row, as
** ml_evaluate does (evaluate.h); a row counts only when both can.
*/
#include <stdio.h>
#include <string.h>

#include "compare.h"
#include "guard.h"
#include "json.h"
#include "registry.h"
#include "split.h"
#include "sqlq.h"
#include "strbuf.h"

/* What the version's registry row says of its test rows. */
typedef struct split_rule {
  char *source, *key;
  double test_size;
  sqlite3_int64 seed;
} split_rule;

static const char rule_sql[] =
    "SELECT source, options FROM main.ml_model_versions WHERE name = ?1 AND version = ?2";

static void split_rule_free(split_rule *r) {
  sqlite3_free(r->source);
  sqlite3_free(r->key);
  memset(r, 0, sizeof *r);
}

/*
** The split in options (the registry's JSON, read by sqlml's own reader,
** which says when it runs out of memory) into r.  0; 1 when the options are
** not ml_train's; ML_NOMEM.
*/
static int parse_rule(const char *z, int n, split_rule *r) {
  ml_json *j = NULL;
  char err[100];
  int rc = z ? ml_json_parse(z, (size_t)n, &j, err, sizeof err) : -1;
  if (rc == -2) return ML_NOMEM;
  const ml_json *ts = rc == 0 ? ml_json_get(j, "test_size") : NULL;
  if (rc != 0 || !ts || ts->type != ML_JSON_NUMBER) {
    ml_json_free(j);
    return 1;
  }
  const ml_json *seed = ml_json_get(j, "seed"), *key = ml_json_get(j, "key");
  r->test_size = ts->num;
  /* A seed was read as a JSON number when trained: exact as a double. */
  r->seed = seed && seed->type == ML_JSON_NUMBER ? (sqlite3_int64)seed->num : 0;
  if (key && key->type == ML_JSON_STRING && !(r->key = sqlite3_mprintf("%s", key->str))) rc = ML_NOMEM;
  ml_json_free(j);
  return rc;
}

static char *column_text(sqlite3_stmt *st, int i, int *oom) {
  const char *z = (const char *)sqlite3_column_text(st, i);
  char *copy = z ? sqlite3_mprintf("%s", z) : NULL;
  if (!z && sqlite3_column_type(st, i) != SQLITE_NULL) *oom = 1; /* its text could not be made */
  if (z && !copy) *oom = 1;
  return copy;
}

/* The split of version of name into r (source NULL: not ml_train's); 0, or -1 after reporting. */
static int load_rule(sqlite3_context *ctx, const char *fname, const char *name,
                     sqlite3_int64 version, split_rule *r) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  sqlite3_stmt *st = NULL;
  int oom = 0, rc = sqlite3_prepare_v2(db, rule_sql, -1, &st, NULL);
  memset(r, 0, sizeof *r);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    rc = sqlite3_step(st);
  }
  if (rc == SQLITE_ROW && (r->source = column_text(st, 0, &oom))) {
    const char *z = (const char *)sqlite3_column_text(st, 1);
    int got = z || sqlite3_column_type(st, 1) == SQLITE_NULL
                  ? parse_rule(z, sqlite3_column_bytes(st, 1), r) : ML_NOMEM;
    if (got == ML_NOMEM) oom = 1;
    if (got) split_rule_free(r);
  }
  sqlite3_finalize(st);
  if (oom) return ml_error_nomem(ctx);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) return 0;
  ml_result_db_error(ctx, fname, db, rc);
  return -1;
}

/* The split of version of name into r; 0, or -1 after reporting. */
static int read_rule(sqlite3_context *ctx, const char *fname, const char *name,
                     sqlite3_int64 version, split_rule *r) {
  if (load_rule(ctx, fname, name, version, r)) return -1;
  if (!r->source)
    return ml_error(ctx, "%s(): version %lld of '%s' was not stored by ml_train: its test rows "
                         "are unknown", fname, (long long)version, name);
  if (!(r->test_size > 0))
    return ml_error(ctx, "%s(): version %lld of '%s' was trained without test rows (test_size "
                         "0): there are no held-out rows to compare on", fname,
                    (long long)version, name);
  return 0;
}

int ml_has_test_rows(sqlite3_context *ctx, const char *fname, const char *name,
                     sqlite3_int64 version) {
  split_rule r;
  if (load_rule(ctx, fname, name, version, &r)) return -1;
  int yes = r.source && r.test_size > 0;
  split_rule_free(&r);
  return yes;
}

/* The columns the read needs, each once, and where each model finds its own. */
typedef struct read_plan {
  ml_sb sql;
  char **cols; /* the statement's columns, in order */
  int ncols, cap;
  int has_key;
  int rows_at;   /* the rows model's target, then its features */
  int *at[2];    /* per model: target, features, offset */
} read_plan;

/* Index of column name in the statement, added when new; -1 out of memory. */
static int plan_column(read_plan *p, const char *name) {
  for (int i = p->has_key; i < p->ncols; i++)
    if (sqlite3_stricmp(p->cols[i], name) == 0) return i;
  if (p->ncols == p->cap) {
    int cap = p->cap * 2 + 8;
    char **c = sqlite3_realloc64(p->cols, sizeof(char *) * (sqlite3_uint64)cap);
    if (!c) return -1;
    p->cols = c;
    p->cap = cap;
  }
  p->cols[p->ncols] = (char *)name;
  char *q = sqlite3_mprintf("%s\"%w\"", p->ncols ? ", " : "", name);
  if (!q) return -1;
  ml_sb_puts(&p->sql, q);
  sqlite3_free(q);
  return p->ncols++;
}

/* A model's target, features and offset in the plan; 0, or -1 out of memory. */
static int plan_model(read_plan *p, const ml_model *m, int **at) {
  *at = sqlite3_malloc64(sizeof(int) * (sqlite3_uint64)(m->k + 2));
  if (!*at) return -1;
  (*at)[0] = plan_column(p, m->target);
  for (int j = 0; j < m->k; j++) (*at)[1 + j] = plan_column(p, m->feat[j].name);
  (*at)[1 + m->k] = m->offset ? plan_column(p, m->offset) : -2;
  for (int j = 0; j < m->k + 2; j++)
    if ((*at)[j] == -1) return -1;
  return 0;
}

/* Does the source have every column the plan reads?  0, or -1 after reporting. */
static int plan_check(sqlite3_context *ctx, const char *fname, read_plan *p, const char *from,
                      const char *source) {
  char *err = NULL, **have;
  int nhave = 0, bad = -1;
  have = ml_source_columns(sqlite3_context_db_handle(ctx), fname, from, source, &nhave, &err, NULL);
  if (!have) return err ? ml_error_msg(ctx, err) : ml_error_nomem(ctx);
  for (int i = p->has_key; i < p->ncols && bad < 0; i++)
    if (ml_find_name(have, nhave, p->cols[i]) < 0) bad = i;
  ml_free_names(have, nhave);
  if (bad >= 0)
    return ml_error(ctx, "%s(): the source '%s' of the test rows has no column '%s', which the "
                         "models read", fname, source, p->cols[bad]);
  return 0;
}

static void plan_free(read_plan *p) {
  ml_sb_reset(&p->sql);
  sqlite3_free(p->cols);
  sqlite3_free(p->at[0]);
  sqlite3_free(p->at[1]);
}

/*
** The statement reading the key (when the source has one), the rows
** model's target and features, and whatever else a and b read, FROM the
** source; NULL after reporting.
*/
static sqlite3_stmt *prepare_read(sqlite3_context *ctx, const char *fname, const split_rule *r,
                                  const ml_model *rows, const ml_model *m[2], read_plan *p) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  char *err = NULL;
  ml_source src;
  sqlite3_stmt *st = NULL;
  char who[40];
  snprintf(who, sizeof who, "%s()", fname);
  int rc = ml_source_open(db, who, r->source, NULL, &src, &err);
  if (rc != SQLITE_OK) {
    if (err) ml_error_msg(ctx, err);
    else ml_result_db_error(ctx, fname, db, rc);
    ml_source_free(&src);
    return NULL;
  }
  int rowid_key = !r->key || ml_is_rowid_name(r->key);
  p->has_key = r->key || ml_source_has_rowid(&src);
  ml_sb_puts(&p->sql, "SELECT ");
  int oom = p->has_key && plan_column(p, rowid_key ? "rowid" : r->key) < 0;
  p->rows_at = p->ncols;
  oom = oom || plan_column(p, rows->target) < 0;
  /* Without a key the row is its own: the trainer's target, then features. */
  for (int j = 0; j < rows->k && !oom; j++) oom = plan_column(p, rows->feat[j].name) < 0;
  oom = oom || plan_model(p, m[0], &p->at[0]) || plan_model(p, m[1], &p->at[1]);
  if (!oom && plan_check(ctx, fname, p, src.from, r->source)) {
    ml_source_free(&src);
    return NULL;
  }
  ml_sb_printf(&p->sql, " FROM %s", src.from);
  if (rows->has_mark && ml_source_has_rowid(&src))
    ml_sb_printf(&p->sql, " WHERE rowid <= %lld", (long long)rows->mark);
  ml_source_free(&src);
  if (oom || p->sql.oom) {
    ml_error_nomem(ctx);
    return NULL;
  }
  if ((rc = sqlite3_prepare_v2(db, p->sql.z, -1, &st, NULL)) != SQLITE_OK)
    ml_result_db_error(ctx, fname, db, rc);
  return st;
}

/* The values of model i's row of st into vals; its offset's value or NULL. */
static sqlite3_value *model_row(sqlite3_stmt *st, const int *at, int k, sqlite3_value **vals) {
  for (int j = 0; j < k; j++) vals[j] = sqlite3_column_value(st, at[1 + j]);
  return at[1 + k] >= 0 ? sqlite3_column_value(st, at[1 + k]) : NULL;
}

/* Measures both models on st's row when it is a test row; 0, or -1 after reporting. */
static int read_row(sqlite3_context *ctx, const split_rule *r, uint64_t seeded, sqlite3_stmt *st,
                    const read_plan *p, int nrow, ml_eval ev[2], sqlite3_value **vals) {
  /* First vals holds the row's own key (the trainer's target, then features). */
  for (int i = 0; i < nrow; i++) vals[i] = sqlite3_column_value(st, p->rows_at + i);
  int side, rc = ml_split_train_side(seeded, r->seed, r->test_size,
                                     p->has_key ? sqlite3_column_value(st, 0) : NULL, vals, nrow, &side);
  if (rc == ML_SPLIT_NOMEM) return ml_error_nomem(ctx);
  if (rc || side != ML_SIDE_TEST) return 0; /* a NULL key: no side, so not a test row */
  int got[2];
  for (int i = 0; i < 2; i++) {
    sqlite3_value *off = model_row(st, p->at[i], ev[i].m->k, vals);
    if ((got[i] = ml_eval_read(ctx, &ev[i], sqlite3_column_value(st, p->at[i][0]), vals, off)) < 0)
      return -1;
  }
  if (got[0] || got[1]) {
    ev[0].skipped++;
    ev[1].skipped++;
    return 0;
  }
  return ml_eval_add(&ev[0]) || ml_eval_add(&ev[1]) ? ml_error_nomem(ctx) : 0;
}

/* Every row of st, inside the nesting guard; 0, or -1 after reporting. */
static int read_rows(sqlite3_context *ctx, const char *fname, const split_rule *r,
                     const ml_model *rows, sqlite3_stmt *st, const read_plan *p, ml_eval ev[2],
                     sqlite3_int64 *scanned) {
  int k = rows->k + 1;
  for (int i = 0; i < 2; i++) k = ev[i].m->k > k ? ev[i].m->k : k;
  sqlite3_value **vals = sqlite3_malloc64(sizeof(sqlite3_value *) * (sqlite3_uint64)k);
  if (!vals) return ml_error_nomem(ctx);
  if (ml_nest_enter()) {
    sqlite3_free(vals);
    return ml_error(ctx, "%s(): " ML_NEST_MSG, fname);
  }
  uint64_t seeded = ml_split_seeded(r->seed);
  int step, rc = 0;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    ++*scanned;
    rc = read_row(ctx, r, seeded, st, p, rows->k + 1, ev, vals);
  }
  ml_nest_leave();
  sqlite3_free(vals);
  if (rc == 0 && step != SQLITE_DONE) {
    ml_result_db_error(ctx, fname, sqlite3_context_db_handle(ctx), step);
    rc = -1;
  }
  return rc;
}

int ml_read_test_rows(sqlite3_context *ctx, const char *fname, const char *name,
                      sqlite3_int64 version, const ml_model *rows, ml_eval ev[2],
                      sqlite3_int64 *scanned) {
  split_rule r = {0};
  read_plan p = {0};
  ml_sb_init(&p.sql);
  const ml_model *m[2] = {ev[0].m, ev[1].m};
  sqlite3_stmt *st = NULL;
  int rc = read_rule(ctx, fname, name, version, &r);
  if (rc == 0 && !(st = prepare_read(ctx, fname, &r, rows, m, &p))) rc = -1;
  if (rc == 0) rc = read_rows(ctx, fname, &r, rows, st, &p, ev, scanned);
  sqlite3_finalize(st);
  plan_free(&p);
  split_rule_free(&r);
  return rc;
}
