/*
** options.c: the one grammar of ml_train's and ml_fit_opts's options
** (options.h): the table, the reader, the messages.
*/
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "glm.h"
#include "model.h"
#include "options.h"
#include "split.h"
#include "sqlq.h"

/* What JSON an option takes, and what it becomes. */
enum {
  OPT_BOOL,     /* true or false: int */
  OPT_REAL,     /* a number in [lo, hi] (open ends by flag): double */
  OPT_INT,      /* an integer in [lo, hi]: int */
  OPT_INT64,    /* an integer in [lo, hi]: sqlite3_int64 */
  OPT_ENUM,     /* one of the texts values: its code, an int */
  OPT_TRISTATE, /* true, false or "auto": 1, 0, -1 */
  OPT_NAME,     /* a non-empty text: char * (sqlite3_malloc) */
  OPT_TEXTS,    /* an array of texts: char ** and its count, an int at count_at */
  OPT_JSON,     /* any JSON, read later by the caller: const ml_json * into the tree */
  OPT_L2        /* ml_train's l2: a number as OPT_REAL, or an array of them into
                   fit.l2_path and fit.nl2 (for cv to choose from) */
};

enum { LO_OPEN = 1, HI_OPEN = 2 };

typedef struct opt_spec {
  const char *name;
  int func;                   /* ML_OPT_TRAIN, ML_OPT_FIT or both */
  int type;                   /* OPT_* */
  size_t at;                  /* where the value goes in ml_options */
  size_t count_at;            /* OPT_TEXTS: where its count goes */
  double lo, hi;              /* OPT_REAL, OPT_INT, OPT_INT64 */
  int open;                   /* OPT_REAL: LO_OPEN, HI_OPEN */
  const char *const *values;  /* OPT_ENUM: the texts, NULL-terminated */
  const int *codes;           /* and what each becomes */
  const char *must;           /* the message: "fname(): option <name><must>" */
} opt_spec;

#define AT(f) offsetof(ml_options, f)
#define BOTH (ML_OPT_TRAIN | ML_OPT_FIT)
#define INT53 9007199254740992.0

static const char *const v_nulls[] = {"skip", "error", "mean", NULL};
static const int c_nulls[] = {ML_NULLS_SKIP, ML_NULLS_ERROR, ML_NULLS_MEAN};
static const char *const v_unseen[] = {"error", "zero", NULL};
static const int c_unseen[] = {0, 1};
static const char *const v_robust[] = {"HC0", "HC1", "HC2", "HC3", NULL};
static const int c_robust[] = {ML_ROBUST_HC0, ML_ROBUST_HC1, ML_ROBUST_HC2, ML_ROBUST_HC3};
static const char *const v_metrics[] = {"basic", "full", NULL};
static const int c_metrics[] = {0, 1};
static const char *const v_family[] = {"gaussian", "binomial", "poisson", NULL};
static const int c_family[] = {ML_FAMILY_GAUSSIAN, ML_FAMILY_BINOMIAL, ML_FAMILY_POISSON};
static const char *const v_gaussian[] = {"gaussian", NULL};

static const opt_spec opts[] = {
    {"test_size", ML_OPT_TRAIN, OPT_REAL, AT(test_size), 0, 0, 1, HI_OPEN, NULL, NULL,
     " must be a number in [0, 1)"},
    {"seed", ML_OPT_TRAIN, OPT_INT64, AT(seed), 0, -INT53, INT53, 0, NULL, NULL,
     " must be an integer"},
    {"key", ML_OPT_TRAIN, OPT_NAME, AT(key), 0, 0, 0, 0, NULL, NULL, " must be a column name"},
    {"intercept", BOTH, OPT_BOOL, AT(fit.intercept), 0, 0, 0, 0, NULL, NULL,
     " must be true or false"},
    {"nulls", BOTH, OPT_ENUM, AT(fit.nulls), 0, 0, 0, 0, v_nulls, c_nulls,
     " must be \"skip\", \"error\" or \"mean\""},
    {"na_values", ML_OPT_TRAIN, OPT_TEXTS, AT(na_values), AT(nna), 0, 0, 0, NULL, NULL,
     " must be an array of texts"},
    {"categorical", ML_OPT_TRAIN, OPT_TEXTS, AT(categorical), AT(ncategorical), 0, 0, 0, NULL, NULL,
     " must be an array of column names"},
    {"categorical", ML_OPT_FIT, OPT_JSON, AT(categorical_json), 0, 0, 0, 0, NULL, NULL, NULL},
    {"names", ML_OPT_FIT, OPT_JSON, AT(names), 0, 0, 0, 0, NULL, NULL, NULL},
    {"unseen", BOTH, OPT_ENUM, AT(fit.unseen_zero), 0, 0, 0, 0, v_unseen, c_unseen,
     " must be \"error\" or \"zero\""},
    {"weights", ML_OPT_TRAIN, OPT_NAME, AT(weights), 0, 0, 0, 0, NULL, NULL,
     " must be a column name"},
    {"weights", ML_OPT_FIT, OPT_BOOL, AT(fit.weighted), 0, 0, 0, 0, NULL, NULL,
     " must be true or false"},
    {"l2", ML_OPT_FIT, OPT_REAL, AT(fit.l2), 0, 0, INFINITY, HI_OPEN, NULL, NULL, " must be a number >= 0"},
    {"l2", ML_OPT_TRAIN, OPT_L2, AT(fit.l2), 0, 0, INFINITY, HI_OPEN, NULL, NULL,
     " must be a number >= 0, or (with cv) a non-empty array of them"},
    {"robust", BOTH, OPT_ENUM, AT(fit.robust), 0, 0, 0, 0, v_robust, c_robust,
     " must be \"HC0\", \"HC1\", \"HC2\" or \"HC3\""},
    {"refine", ML_OPT_TRAIN, OPT_TRISTATE, AT(refine), 0, 0, 0, 0, NULL, NULL,
     " must be true, false or \"auto\""},
    {"metrics", ML_OPT_TRAIN, OPT_ENUM, AT(full_metrics), 0, 0, 0, 0, v_metrics, c_metrics,
     " must be \"basic\" or \"full\""},
    {"progress", ML_OPT_TRAIN, OPT_BOOL, AT(progress), 0, 0, 0, 0, NULL, NULL,
     " must be true or false"},
    {"tol", BOTH, OPT_REAL, AT(fit.tol), 0, 0, 1, HI_OPEN, NULL, NULL, " must be a number in [0, 1)"},
    {"family", ML_OPT_TRAIN, OPT_ENUM, AT(family), 0, 0, 0, 0, v_family, c_family,
     " must be \"gaussian\", \"binomial\" or \"poisson\""},
    /* IRLS needs a pass per iteration; an aggregate sees each row once. */
    {"family", ML_OPT_FIT, OPT_ENUM, AT(family), 0, 0, 0, 0, v_gaussian, c_family,
     ": an aggregate reads each row once and a GLM needs a pass per iteration; fit it with "
     "ml_train (docs/glm.md)"},
    {"offset", ML_OPT_TRAIN, OPT_NAME, AT(offset), 0, 0, 0, 0, NULL, NULL, " must be a column name"},
    {"max_iter", ML_OPT_TRAIN, OPT_INT, AT(max_iter), 0, 1, 10000, 0, NULL, NULL,
     " must be an integer from 1 to 10000"},
    {"epsilon", ML_OPT_TRAIN, OPT_REAL, AT(epsilon), 0, 0, 1, LO_OPEN | HI_OPEN, NULL, NULL,
     " must be a number in (0, 1)"},
    {"keep_unconverged", ML_OPT_TRAIN, OPT_BOOL, AT(keep_unconverged), 0, 0, 0, 0, NULL, NULL,
     " must be true or false"},
    {"cv", ML_OPT_TRAIN, OPT_INT, AT(fit.cv), 0, 2, ML_CV_MAX_FOLDS, 0, NULL, NULL,
     " must be an integer from 2 to 20 (the number of folds)"},
    {"incremental", ML_OPT_TRAIN, OPT_BOOL, AT(incremental), 0, 0, 0, 0, NULL, NULL,
     " must be true or false"},
    {"from", ML_OPT_TRAIN, OPT_NAME, AT(from), 0, 0, 0, 0, NULL, NULL,
     " must be a model reference ('name', 'name@3' or 'name@alias')"},
    {"threads", ML_OPT_TRAIN, OPT_INT, AT(threads), 0, 1, ML_THREADS_MAX, 0, NULL, NULL,
     " must be an integer from 1 to 64 (the connections that read the source at once)"},
    {"auc_max_rows", ML_OPT_TRAIN, OPT_INT64, AT(auc_max_rows), 0, 0, 1e12, 0, NULL, NULL,
     " must be an integer from 0 to 1e12"},
};

/* The known options, as the message for an unknown one lists them (in the
** order it always has; ml_fit_opts's "family" takes only "gaussian"). */
static const char *known(int func) {
  return func == ML_OPT_TRAIN
             ? "test_size, seed, key, intercept, nulls, na_values, categorical, unseen, weights, "
               "l2, robust, refine, metrics, progress, tol, family, offset, max_iter, epsilon, "
               "keep_unconverged, auc_max_rows, cv, incremental, from, threads"
             : "intercept, weights, names, categorical, unseen, nulls, l2, robust, tol";
}

/* Reports "fname(): option <rule>": -1. */
static int bad(sqlite3_context *ctx, const char *fname, const char *rule) {
  return ml_error(ctx, "%s(): option %s", fname, rule);
}

/* Is the number c in the spec's range (and whole, for an integer)? */
static int in_range(const opt_spec *s, const ml_json *c) {
  if (c->type != ML_JSON_NUMBER) return 0;
  double v = c->num;
  if (!((s->open & LO_OPEN) ? v > s->lo : v >= s->lo)) return 0;
  if (!((s->open & HI_OPEN) ? v < s->hi : v <= s->hi)) return 0;
  return s->type == OPT_REAL || s->type == OPT_L2 || v == floor(v);
}

/* An array of texts into a new char ** at *list, *n of them: 1, 0 if not
** one, -1 out of memory. */
static int read_texts(const ml_json *c, char ***list, int *n) {
  if (c->type != ML_JSON_ARRAY) return 0;
  *list = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)(c->len ? c->len : 1));
  if (!*list) return -1;
  for (const ml_json *e = c->child; e; e = e->next) {
    if (e->type != ML_JSON_STRING) return 0;
    if (!((*list)[*n] = sqlite3_mprintf("%s", e->str))) return -1;
    (*n)++;
  }
  return 1;
}

/* l2 as a number, or a non-empty array of numbers in range: 1, 0 if not, -1 out of memory. */
static int read_l2(const opt_spec *s, const ml_json *c, ml_options *o) {
  if (c->type != ML_JSON_ARRAY) {
    if (in_range(s, c)) o->fit.l2 = c->num;
    return in_range(s, c);
  }
  if (c->len == 0) return 0;
  for (const ml_json *e = c->child; e; e = e->next)
    if (!in_range(s, e)) return 0;
  sqlite3_free(o->fit.l2_path);
  o->fit.nl2 = 0;
  if (!(o->fit.l2_path = sqlite3_malloc64(8 * (sqlite3_uint64)c->len))) return -1;
  for (const ml_json *e = c->child; e; e = e->next) o->fit.l2_path[o->fit.nl2++] = e->num;
  return 1;
}

/* One option's value into o: 1, 0 if it is not what s takes, -1 out of memory. */
static int read_value(const opt_spec *s, const ml_json *c, ml_options *o) {
  char *at = (char *)o + s->at;
  int is_bool = c->type == ML_JSON_TRUE || c->type == ML_JSON_FALSE, yes = c->type == ML_JSON_TRUE;
  const char *str = c->type == ML_JSON_STRING ? c->str : NULL;
  switch (s->type) {
  case OPT_BOOL:
    if (is_bool) *(int *)at = yes;
    return is_bool;
  case OPT_REAL:
    if (in_range(s, c)) *(double *)at = c->num;
    return in_range(s, c);
  case OPT_INT:
    if (in_range(s, c)) *(int *)at = (int)c->num;
    return in_range(s, c);
  case OPT_INT64:
    /* The range first: converting a double beyond int64 is undefined. */
    if (in_range(s, c)) *(sqlite3_int64 *)at = (sqlite3_int64)c->num;
    return in_range(s, c);
  case OPT_ENUM:
    for (int i = 0; str && s->values[i]; i++)
      if (strcmp(str, s->values[i]) == 0) return *(int *)at = s->codes[i], 1;
    return 0;
  case OPT_TRISTATE:
    if (is_bool) *(int *)at = yes;
    else if (str && strcmp(str, "auto") == 0) *(int *)at = -1;
    return is_bool || (str && strcmp(str, "auto") == 0);
  case OPT_NAME:
    if (!str || !str[0]) return 0;
    sqlite3_free(*(char **)at);
    return (*(char **)at = sqlite3_mprintf("%s", str)) ? 1 : -1;
  case OPT_TEXTS:
    return read_texts(c, (char ***)at, (int *)((char *)o + s->count_at));
  case OPT_L2:
    return read_l2(s, c, o);
  default: /* OPT_JSON */
    *(const ml_json **)at = c;
    return 1;
  }
}

/* The rules of cv and a list of penalties.  0, or -1 after reporting. */
static int check_cv(sqlite3_context *ctx, const char *fname, const ml_options *o) {
  double most = 0;
  for (int i = 0; i < o->fit.nl2; i++) most = o->fit.l2_path[i] > most ? o->fit.l2_path[i] : most;
  if (o->fit.l2_path && !o->fit.cv)
    return bad(ctx, fname, "l2 is a list of penalties to choose from: add cv (e.g. \"cv\":5) to "
                           "choose one by cross-validation, or give l2 one number");
  if (!o->fit.cv) return 0;
  if (o->family != ML_FAMILY_GAUSSIAN)
    return bad(ctx, fname, "cv applies to family \"gaussian\" only (a GLM's fit on the other "
                           "folds would need IRLS passes of its own)");
  if (most > 0 && !o->fit.intercept)
    return bad(ctx, fname, "l2 needs the intercept (the one term it leaves unpenalized)");
  if (most > 0 && o->fit.robust)
    return bad(ctx, fname, "robust does not apply to a ridge fit (l2)");
  return 0;
}

/* The rules between options.  0, or -1 after reporting. */
static int check_rules(sqlite3_context *ctx, const char *fname, int func, const ml_options *o) {
  if (func == ML_OPT_TRAIN && check_cv(ctx, fname, o)) return -1;
  if (o->fit.l2 > 0 && !o->fit.intercept)
    return bad(ctx, fname, "l2 needs the intercept (the one term it leaves unpenalized)");
  if (o->fit.l2 > 0 && o->fit.robust) return bad(ctx, fname, "robust does not apply to a ridge fit (l2)");
  if (func != ML_OPT_TRAIN) return 0;
  if (o->from && !o->incremental)
    return bad(ctx, fname, "from needs \"incremental\": true (it names the version to build on)");
  if (o->family != ML_FAMILY_GAUSSIAN) {
    /* What the linear model has and a GLM fitted by IRLS has not (yet). */
    if (o->fit.l2 > 0) return bad(ctx, fname, "l2 applies to family \"gaussian\" only");
    if (o->fit.robust) return bad(ctx, fname, "robust applies to family \"gaussian\" only");
    if (o->refine == 1)
      return bad(ctx, fname, "refine applies to family \"gaussian\" only (IRLS iterates instead)");
    if (o->full_metrics) return bad(ctx, fname, "metrics \"full\" applies to family \"gaussian\" only");
    if (o->auc_max_rows >= 0 && o->family != ML_FAMILY_BINOMIAL)
      return bad(ctx, fname, "auc_max_rows needs family \"binomial\" (the AUC is a binomial model's metric)");
  } else {
    if (o->offset) return bad(ctx, fname, "offset needs family \"binomial\" or \"poisson\"");
    if (o->max_iter || o->epsilon > 0 || o->keep_unconverged)
      return bad(ctx, fname,
                 "max_iter, epsilon and keep_unconverged need family \"binomial\" or \"poisson\"");
    if (o->auc_max_rows >= 0) return bad(ctx, fname, "auc_max_rows needs family \"binomial\"");
  }
  return 0;
}

/* What a value was, for "got X": a number or a text as written (a text cut
** at 40 bytes), or its JSON type. */
static void shown(const ml_json *c, char *out, size_t n) {
  switch (c->type) {
    case ML_JSON_NUMBER: sqlite3_snprintf((int)n, out, "%.15g", c->num); break;
    case ML_JSON_STRING: sqlite3_snprintf((int)n, out, "\"%.40s\"", c->str); break;
    case ML_JSON_ARRAY: sqlite3_snprintf((int)n, out, "an array"); break;
    case ML_JSON_OBJECT: sqlite3_snprintf((int)n, out, "an object"); break;
    default: sqlite3_snprintf((int)n, out, "%s", ml_json_type_name(c->type)); break;
  }
}

/* The table's row for the option key of func, or NULL. */
static const opt_spec *find_spec(const char *key, int func) {
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
    if ((opts[i].func & func) && strcmp(opts[i].name, key) == 0) return &opts[i];
  return NULL;
}

int ml_options_parse(sqlite3_context *ctx, const char *fname, int func, const char *text, size_t n,
                     ml_options *o, ml_json **j) {
  *j = ml_json_arg(ctx, fname, "options", text, n);
  if (!*j) return -1;
  if ((*j)->type != ML_JSON_OBJECT)
    return ml_error(ctx, "%s(): options must be a JSON object, got %s", fname,
                    ml_json_type_name((*j)->type));
  for (const ml_json *c = (*j)->child; c; c = c->next) {
    const opt_spec *s = find_spec(c->key, func);
    if (!s) return ml_error(ctx, "%s(): unknown option '%s' (known: %s)", fname, c->key, known(func));
    int r = read_value(s, c, o);
    if (r < 0) {
      sqlite3_result_error_nomem(ctx);
      return -1;
    }
    if (!r) {
      char got[80];
      shown(c, got, sizeof got);
      return ml_error(ctx, "%s(): option %s%s%s%s", fname, s->name, s->must,
                      s->must[0] == ':' ? "" : ", got ", s->must[0] == ':' ? "" : got);
    }
  }
  return check_rules(ctx, fname, func, o);
}

void ml_options_free(ml_options *o) {
  sqlite3_free(o->key);
  sqlite3_free(o->weights);
  sqlite3_free(o->offset);
  sqlite3_free(o->fit.l2_path);
  o->fit.l2_path = NULL;
  o->fit.nl2 = 0;
  sqlite3_free(o->from);
  o->from = NULL;
  ml_free_names(o->categorical, o->ncategorical);
  ml_free_names(o->na_values, o->nna);
  ml_na_free(&o->na);
  o->key = o->weights = o->offset = NULL;
  o->categorical = o->na_values = NULL;
  o->ncategorical = o->nna = 0;
}
