/*
** train_plan.c: what ml_train reads before its first row: the features
** (a list, or '*' less the columns that are no features), their first
** guessed kinds, the statement that reads the rows, and a binomial
** target's two text levels.
*/
#include "train.h"

/* ---- source, features, the row statement ---- */

static int is_special(const trainer *t, const char *col) {
  return sqlite3_stricmp(col, t->target) == 0 || (t->o.key && sqlite3_stricmp(col, t->o.key) == 0) ||
         (t->o.weights && sqlite3_stricmp(col, t->o.weights) == 0) ||
         (t->o.offset && sqlite3_stricmp(col, t->o.offset) == 0);
}

/*
** Does no row of the source meet the condition (a printf format of col)?
** 0 or 1; -1 after reporting.
*/
static int source_never(trainer *t, const char *cond, const char *col) {
  char *where = sqlite3_mprintf(cond, col);
  char *sql = where ? sqlite3_mprintf("SELECT NOT EXISTS (SELECT 1 FROM %s WHERE %s)", t->from, where)
                    : NULL;
  sqlite3_free(where);
  sqlite3_stmt *st = NULL;
  int rc = sql ? sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  int yes = 0;
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    yes = sqlite3_column_int(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) {
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return -1;
  }
  return yes;
}

/*
** Is col the side column of an ml_split table (or of a copy of one): named
** split, with no value but 'train', 'test', 'valid' or NULL?  Then it says
** where a row went, and is no feature.  0 or 1; -1 after reporting.
*/
static int is_split_column(trainer *t, const char *col) {
  if (sqlite3_stricmp(col, "split") != 0) return 0;
  return source_never(t, "\"%w\" NOT IN ('train', 'test', 'valid')", col);
}

/*
** Is col the rowid under another name, in every row?  Asked of an ml_split
** table (or a copy of one), where the base table's INTEGER PRIMARY KEY is a
** plain column: a row's name, not a feature.  The scan stops at the first
** row where it is not, the first row for any other column.  Not asked of
** other tables: there a column 1..n may well be a feature (a trend), and
** the rowid's alias is known from the schema.
*/
static int is_rowid_copy(trainer *t, const char *col) {
  if (!t->rowid || sqlite3_stricmp(col, "rowid") == 0) return 0;
  return source_never(t, "\"%w\" IS NOT rowid", col);
}

/* The features of '*': every column but the target, key, weight, offset,
** the rowid's alias, and an ml_split table's side and rowid copy. */
static int features_star(trainer *t, char **cols, int ncol) {
  t->star = 1;
  t->feat = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)(ncol + 1));
  if (!t->feat) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  int split = 0;
  for (int i = 0; i < ncol && !split; i++)
    if (!is_special(t, cols[i]) && (split = is_split_column(t, cols[i])) < 0) return -1;
  for (int i = 0; i < ncol; i++) {
    if (is_special(t, cols[i])) continue;
    if (t->rowid_alias && sqlite3_stricmp(cols[i], t->rowid_alias) == 0) continue;
    if (split && sqlite3_stricmp(cols[i], "split") == 0) continue;
    int id = split ? is_rowid_copy(t, cols[i]) : 0;
    if (id < 0) return -1;
    if (id) {
      warn(t, "'%s' left out of '*': it is the rowid in every row (a row's name, not a feature)",
           cols[i]);
      continue;
    }
    if (!cols[i][0])
      return ml_error(t->ctx, "ml_train(): column %d of the source '%s' has an empty name, which a "
                              "model cannot keep; name it in a query (SELECT \"\" AS x, ...) or "
                              "list the features", i + 1, t->source);
    if (!(t->feat[t->k] = sqlite3_mprintf("%s", cols[i]))) {
      sqlite3_result_error_nomem(t->ctx);
      return -1;
    }
    t->k++;
  }
  if (t->k == 0) return ml_error(t->ctx, "ml_train(): the source has no column besides the target");
  return 0;
}

/* The features of a JSON array of column names (text). */
static int features_list(trainer *t, const char *text, char **cols, int ncol) {
  ml_json *j = ml_json_arg(t->ctx, "ml_train", "features", text, strlen(text));
  if (!j) return -1;
  int rc = -1;
  if (j->type != ML_JSON_ARRAY || j->len == 0) {
    ml_error(t->ctx, "ml_train(): features must be a JSON array of column names, or '*'");
    goto out;
  }
  t->feat = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)j->len);
  if (!t->feat) {
    sqlite3_result_error_nomem(t->ctx);
    goto out;
  }
  for (const ml_json *c = j->child; c; c = c->next) {
    if (c->type != ML_JSON_STRING || !c->str[0]) {
      ml_error(t->ctx, "ml_train(): features must be a JSON array of column names, or '*'");
      goto out;
    }
    int at = ml_find_name(cols, ncol, c->str);
    if (at < 0) {
      ml_error(t->ctx, "ml_train(): the source '%s' has no column '%s'", t->source, c->str);
      goto out;
    }
    if (is_special(t, c->str)) {
      ml_error(t->ctx, "ml_train(): '%s' is the %s; it cannot be a feature too", c->str,
               sqlite3_stricmp(c->str, t->target) == 0 ? "target"
               : t->o.key && sqlite3_stricmp(c->str, t->o.key) == 0 ? "split key"
               : t->o.weights && sqlite3_stricmp(c->str, t->o.weights) == 0 ? "weight" : "offset");
      goto out;
    }
    if (ml_find_name(t->feat, t->k, c->str) >= 0) {
      ml_error(t->ctx, "ml_train(): feature '%s' is listed twice", c->str);
      goto out;
    }
    if (!(t->feat[t->k] = sqlite3_mprintf("%s", cols[at]))) {
      sqlite3_result_error_nomem(t->ctx);
      goto out;
    }
    t->k++;
  }
  rc = 0;
out:
  ml_json_free(j);
  return rc;
}

/* Reads the feature list: a JSON array, or '*' (also when v is NULL or absent). */
int parse_features(trainer *t, sqlite3_value *v, char **cols, int ncol) {
  const char *text = !v || sqlite3_value_type(v) == SQLITE_NULL ? "*" : (const char *)sqlite3_value_text(v);
  if (!text) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  if (strcmp(text, "*") == 0) return features_star(t, cols, ncol);
  return features_list(t, text, cols, ncol);
}

/* Appends ", \"name\"" (or without the comma) to b; "rowid" for NULL. */
static void put_col(ml_sb *b, const char *name, int comma) {
  char *q = sqlite3_mprintf(name ? "%s\"%w\"" : "%srowid", comma ? ", " : "", name);
  if (q) ml_sb_puts(b, q);
  else b->oom = 1;
  sqlite3_free(q);
}

/*
** How a row of n values reaches ml__pass when a function takes at most lim
** arguments: the number passed as its own arguments, after the trainer
** (n when all fit); the rest go in calls ml__more(?1, start, values...) of
** lim - 2 values each, which are its last arguments.  -1 when even so they
** do not fit (a limit lowered below the default 127): read column by column.
*/
static int direct_values(int n, int lim) {
  if (n + 1 <= lim) return n;
  for (int m = 1; lim - 2 >= 1 && m <= lim - 2; m++) {
    int d = lim - 1 - m;
    if ((sqlite3_int64)d + (sqlite3_int64)m * (lim - 2) >= n) return d;
  }
  return -1;
}

/* The SELECT of a pass over the row's value columns names[0..n) (NULL: rowid). */
static char *rows_sql(trainer *t, const char **names, int n) {
  int lim = sqlite3_limit(t->db, SQLITE_LIMIT_FUNCTION_ARG, -1);
  t->ndirect = direct_values(n, lim);
  t->by_agg = t->ndirect >= 0;
  t->more_each = lim - 2 > 0 ? lim - 2 : 1;
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_puts(&b, t->by_agg ? "SELECT ml__pass(?1, " : "SELECT ");
  int d = t->by_agg ? t->ndirect : n;
  for (int i = 0; i < d; i++) put_col(&b, names[i], i > 0);
  for (int i = d; i < n; i += lim - 2) {
    ml_sb_printf(&b, ", ml__more(?1, %d", i);
    for (int j = i; j < n && j < i + lim - 2; j++) put_col(&b, names[j], 1);
    ml_sb_puts(&b, ")");
  }
  ml_sb_puts(&b, t->by_agg ? ") FROM " : " FROM ");
  ml_sb_puts(&b, t->from);
  return ml_sb_finish(&b, NULL);
}

/*
** SELECT ml__pass(?1, [key,] target, features... [, weight] [, offset])
** FROM source (rows_sql says how a row wider than a function's arguments
** is passed).
*/
int prepare_rows(trainer *t, char **cols, int ncol) {
  const char *key = t->o.key;
  if (key && sqlite3_stricmp(key, "rowid") != 0) {
    if (ml_find_name(cols, ncol, key) < 0)
      return ml_error(t->ctx, "ml_train(): the source '%s' has no column '%s' (option key)",
                      t->source, key);
    t->has_key = 1;
  } else if (key || t->rowid) {
    if (!t->rowid)
      return ml_error(t->ctx, "ml_train(): the source '%s' has no rowid (option key)", t->source);
    t->has_key = 1;
  }
  if (t->o.weights && ml_find_name(cols, ncol, t->o.weights) < 0)
    return ml_error(t->ctx, "ml_train(): the source '%s' has no column '%s' (option weights)",
                    t->source, t->o.weights);
  if (t->o.offset && ml_find_name(cols, ncol, t->o.offset) < 0)
    return ml_error(t->ctx, "ml_train(): the source '%s' has no column '%s' (option offset)",
                    t->source, t->o.offset);
  for (int i = 0; i < t->o.ncategorical; i++)
    if (ml_find_name(t->feat, t->k, t->o.categorical[i]) < 0)
      return ml_error(t->ctx, "ml_train(): '%s' (option categorical) is not a feature",
                      t->o.categorical[i]);
  t->ncols = t->has_key + 1 + t->k + (t->o.weights != NULL) + (t->o.offset != NULL);
  const char **names = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)t->ncols);
  if (!names) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  int n = 0;
  if (t->has_key) names[n++] = key && sqlite3_stricmp(key, "rowid") != 0 ? key : NULL;
  t->cy = t->has_key;
  names[n++] = t->target;
  for (int j = 0; j < t->k; j++) names[n++] = t->feat[j];
  t->cw = -1;
  if (t->o.weights) {
    t->cw = n;
    names[n++] = t->o.weights;
  }
  t->co = -1;
  if (t->o.offset) {
    t->co = n;
    names[n++] = t->o.offset;
  }
  char *sql = rows_sql(t, names, n);
  sqlite3_free(names);
  if (!sql) {
    sqlite3_result_error_nomem(t->ctx);
    return -1;
  }
  int rc = sqlite3_prepare_v2(t->db, sql, -1, &t->rows, NULL);
  ml_free(sql);
  if (rc != SQLITE_OK) {
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return -1;
  }
  return 0;
}

int listed_categorical(const trainer *t, const char *col) {
  for (int i = 0; i < t->o.ncategorical; i++)
    if (sqlite3_stricmp(t->o.categorical[i], col) == 0) return 1;
  return 0;
}

/*
** Feature j's first guess (see train.c's header): listed categorical, levels
** that are numbers (R's factor() of a numeric column) until a value is not
** one; a declared type of INTEGER, REAL or NUMERIC affinity (as SQLite
** reads declared types: INT; CHAR, CLOB, TEXT; BLOB or none; REAL, FLOA,
** DOUB; anything else NUMERIC), numeric for sure; TEXT affinity or none
** (an expression in a query, a BLOB column), numeric until a value is not
** a number.
*/
int feature_type(trainer *t, int j, int *sure) {
  *sure = 0;
  if (listed_categorical(t, t->feat[j])) return ML_TYPE_NUM_LEVELS;
  int at = ml_find_name(t->cols, t->ncol, t->feat[j]);
  const char *d = at >= 0 && t->decls ? t->decls[at] : NULL;
  if (!d || !d[0]) return ML_TYPE_NUMERIC;
  char up[64];
  size_t n = strlen(d) < sizeof up - 1 ? strlen(d) : sizeof up - 1;
  for (size_t i = 0; i < n; i++) up[i] = (char)(d[i] >= 'a' && d[i] <= 'z' ? d[i] - 32 : d[i]);
  up[n] = 0;
  if (!strstr(up, "INT") && (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT") ||
                             strstr(up, "BLOB")))
    return ML_TYPE_NUMERIC;
  *sure = 1;
  return ML_TYPE_NUMERIC;
}

/*
** A binomial target that is text (not numbers in text, not na_values)
** has two levels, the second in byte order being 1 (R's factor response,
** whose levels R orders by the locale's collation: the same for texts of
** one case).  Found before the first pass, by a query for its distinct
** texts: 0 with t->ylev set or not; -1 after reporting.
*/
int target_levels(trainer *t) {
  char *sql = sqlite3_mprintf("SELECT DISTINCT \"%w\" FROM %s WHERE typeof(\"%w\") = 'text' "
                              "ORDER BY 1 COLLATE BINARY", t->target, t->from, t->target);
  sqlite3_stmt *st = NULL;
  int rc = sql ? sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) : SQLITE_NOMEM, n = 0;
  sqlite3_free(sql);
  char *lev[3] = {NULL, NULL, NULL};
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *z = (const char *)sqlite3_column_text(st, 0);
    int len = sqlite3_column_bytes(st, 0);
    double d;
    if (!z) {
      rc = SQLITE_NOMEM;
      break;
    }
    int num = ml_parse_number(z, len, &d);
    if (num < 0) {
      rc = SQLITE_NOMEM;
      break;
    }
    if (num || ml_na_has_text(&t->o.na, z, len)) {
      rc = SQLITE_OK;
      continue;
    }
    if (n < 3 && !(lev[n] = sqlite3_mprintf("%s", z))) {
      rc = SQLITE_NOMEM;
      break;
    }
    rc = ++n > 2 ? SQLITE_DONE : SQLITE_OK; /* three are enough to refuse */
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    for (int i = 0; i < 3; i++) sqlite3_free(lev[i]);
    ml_result_db_error(t->ctx, "ml_train", t->db, rc == SQLITE_OK ? SQLITE_ERROR : rc);
    return -1;
  }
  if (n == 0) return 0;
  if (n != 2) {
    ml_error(t->ctx, "ml_train(): family \"binomial\" needs the target '%s' to be 0 or 1, or text "
                     "of two levels; it has %s: '%s'%s%s%s", t->target,
             n == 1 ? "one level" : "more than two levels", lev[0], n > 1 ? ", '" : "",
             n > 1 ? lev[1] : "", n > 1 ? "', ..." : "");
    for (int i = 0; i < 3; i++) sqlite3_free(lev[i]);
    return -1;
  }
  int swap = strcmp(lev[0], lev[1]) > 0;
  t->ylev[0] = lev[swap];
  t->ylev[1] = lev[!swap];
  return 0;
}


/* ---- the step train() calls ---- */

/* Reports err (sqlite3_free it), or out of memory without one: -1. */
static int report_err(trainer *t, char *err) {
  if (err) sqlite3_result_error(t->ctx, err, -1);
  else sqlite3_result_error_nomem(t->ctx);
  sqlite3_free(err);
  return -1;
}

/*
** The source: its FROM item, rowid and rowid alias, columns and their
** declared types (t->cols, t->decls); the key's other rowid names; the
** target among the columns.  0, or -1 after reporting.
*/
static int plan_source(trainer *t) {
  char *err = NULL;
  ml_source src;
  int rc = ml_source_open(t->db, "ml_train()", t->source, NULL, &src, &err);
  t->from = src.from;
  src.from = NULL;
  t->rowid = ml_source_has_rowid(&src);
  /* Without a key, '*' leaves out the rowid under its other name too. */
  if (rc == SQLITE_OK && !t->o.key) rc = ml_source_rowid_alias(t->db, &src, &t->rowid_alias);
  ml_source_free(&src);
  if (err || rc == SQLITE_NOMEM) return report_err(t, err);
  if (rc != SQLITE_OK) { /* the lookup's own failure, or the alias's */
    ml_result_db_error(t->ctx, "ml_train", t->db, rc);
    return -1;
  }
  t->cols = ml_source_columns(t->db, "ml_train", t->from, t->source, &t->ncol, &err, &t->decls);
  if (!t->cols) return report_err(t, err);
  /* _rowid_ and oid are the rowid too, unless a column has the name. */
  if (t->o.key && ml_is_rowid_name(t->o.key) && ml_find_name(t->cols, t->ncol, t->o.key) < 0) {
    sqlite3_free(t->o.key);
    if (!(t->o.key = sqlite3_mprintf("rowid"))) return report_err(t, NULL);
  }
  if (!t->formula_text && ml_find_name(t->cols, t->ncol, t->target) < 0)
    return report_err(t, sqlite3_mprintf("ml_train(): the source '%s' has no column '%s' (the "
                                         "target)", t->source, t->target));
  return 0;
}

/*
** Each feature's first guessed kind, a binomial target's levels, and the
** buffers of the passes.  0, or -1 after reporting.
*/
static int plan_kinds(trainer *t) {
  t->seeded = ml_split_seeded(t->o.seed);
  t->colv = sqlite3_malloc64(sizeof(sqlite3_value *) * (sqlite3_uint64)t->ncols);
  t->kind = sqlite3_malloc64(sizeof(int) * (sqlite3_uint64)t->k);
  t->sure = sqlite3_malloc64(sizeof(int) * (sqlite3_uint64)t->k);
  t->why = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)t->k);
  if (t->why) memset(t->why, 0, sizeof(char *) * (size_t)t->k);
  if (!t->colv || !t->kind || !t->sure || !t->why) return report_err(t, NULL);
  for (int j = 0; j < t->k; j++) t->kind[j] = feature_type(t, j, &t->sure[j]);
  /* A GLM's first pass is weighted by IRLS's working weights, prior weights or not. */
  t->o.fit.weighted = t->o.weights != NULL || t->o.family != ML_FAMILY_GAUSSIAN;
  t->o.fit.profile = 1;
  /* A model that can keep its factor with a block of many levels (fitacc.h):
  ** not '*', which leaves out a column of too many values rather than fit it. */
  const ml_fitopts *o = &t->o.fit;
  t->o.fit.block_model = !t->formula_text && o->l2 == 0 && !o->l2_path && !o->robust && !o->cv &&
                         !t->o.incremental && !t->star;
  return 0;
}

/*
** The plan: the source, the features (features: ml_train's argument 4, or
** NULL when not given), the statement that reads the rows, the kinds.  0,
** or -1 after reporting.
*/
int train_plan(trainer *t, sqlite3_value *features) {
  if (plan_source(t)) return -1;
  if (t->formula_text) {
    if (train_formula_plan(t, features) || prepare_rows(t, t->cols, t->ncol) || plan_kinds(t))
      return -1;
    train_formula_kinds(t);
    return 0;
  }
  if (features && sqlite3_value_type(features) != SQLITE_NULL &&
      sqlite3_value_type(features) != SQLITE_TEXT)
    return ml_error(t->ctx, "ml_train(): argument 4 must be a JSON array of feature names, or '*'");
  if (parse_features(t, features, t->cols, t->ncol)) return -1;
  /* A query can have 2000 columns (SQLITE_MAX_COLUMN); a model, 1000 terms.
  ** row_side() keeps a row's values on the stack for this many. */
  if (t->k > ML_MAX_TERMS)
    return ml_error(t->ctx, "ml_train(): %d features, more than the %d terms a model can hold",
                    t->k, ML_MAX_TERMS);
  if (prepare_rows(t, t->cols, t->ncol)) return -1;
  return plan_kinds(t);
}
