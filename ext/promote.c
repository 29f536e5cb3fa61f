/*
** promote.c: ml_promote, the deploy step as a gate.
**
**   SELECT ml_promote('price', 'production');
**   SELECT ml_promote('price', 'production',
**                     '{"metric":"rmse","min_improvement":0.01,"required":true}');
**
** Moves alias to the latest version (or rule's "version") only if that
** version, the challenger, does well enough against the alias's current
** version, the champion, on the challenger's own test rows: both are scored
** on them exactly from the challenger's test factor (compare.c), without
** reading the rows.  Returns the decision as JSON; with "required": true a
** gate that fails is an SQL error, so `sqlite3 -bail` stops a pipeline.
** The move and its record in ml_alias_history are one statement.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "compare.h"
#include "dqlite.h"
#include "evaluate.h"
#include "glm.h"
#include "guard.h"
#include "json.h"
#include "registry.h"
#include "sqlq.h"
#include "strbuf.h"

typedef struct rule {
  const char *metric;      /* a name of evaluate.h's metrics; NULL: the family's default */
  double threshold;        /* the least improvement that passes */
  int relative;            /* improvement relative to the champion's figure */
  int min_given, max_given;
  sqlite3_int64 version;   /* the challenger, or 0 for the latest */
  int required;
} rule;

static int bad_rule(sqlite3_context *ctx, const char *what) {
  return ml_error(ctx, "ml_promote(): %s", what);
}

/* The metric's name as evaluate.h spells it, or NULL when no family has it. */
static const char *known_metric(const char *name) {
  static const int families[] = {ML_FAMILY_GAUSSIAN, ML_FAMILY_BINOMIAL, ML_FAMILY_POISSON};
  for (int f = 0; f < 3; f++)
    for (const char *const *n = ml_eval_metric_names(families[f]); *n; n++)
      if (strcmp(*n, name) == 0) return *n;
  return NULL;
}

static int rule_member(sqlite3_context *ctx, const ml_json *c, rule *r) {
  int num = c->type == ML_JSON_NUMBER, flag = c->type == ML_JSON_TRUE || c->type == ML_JSON_FALSE;
  if (strcmp(c->key, "metric") == 0) {
    if (c->type != ML_JSON_STRING || !(r->metric = known_metric(c->str)))
      return bad_rule(ctx, "rule metric must be one of rmse, mae, r2, mape, explained_variance, "
                           "max_error (linear models); log_loss, accuracy, brier, auc, deviance "
                           "(binomial); deviance, mean_deviance (poisson)");
  } else if (strcmp(c->key, "min_improvement") == 0 || strcmp(c->key, "max_degradation") == 0) {
    if (!num || !isfinite(c->num) || c->num < 0)
      return ml_error(ctx, "ml_promote(): rule %s must be a number >= 0", c->key);
    int min = c->key[1] == 'i';
    r->threshold = min ? c->num : -c->num;
    *(min ? &r->min_given : &r->max_given) = 1;
  } else if (strcmp(c->key, "relative") == 0 || strcmp(c->key, "required") == 0) {
    if (!flag) return ml_error(ctx, "ml_promote(): rule %s must be true or false", c->key);
    *(c->key[2] == 'l' ? &r->relative : &r->required) = c->type == ML_JSON_TRUE;
  } else if (strcmp(c->key, "version") == 0) {
    if (!num || c->num < 1 || c->num != floor(c->num) || c->num > 9e15)
      return bad_rule(ctx, "rule version must be a version number");
    r->version = (sqlite3_int64)c->num;
  } else {
    return ml_error(ctx, "ml_promote(): unknown rule key '%s' (known: metric, min_improvement, "
                         "max_degradation, relative, version, required)", c->key);
  }
  return 0;
}

static int parse_rule(sqlite3_context *ctx, sqlite3_value *v, rule *r) {
  memset(r, 0, sizeof *r);
  if (!v || sqlite3_value_type(v) == SQLITE_NULL) return 0;
  if (sqlite3_value_type(v) != SQLITE_TEXT) return bad_rule(ctx, "argument 3 must be a JSON object");
  ml_json *j = ml_json_arg(ctx, "ml_promote", "rule", (const char *)sqlite3_value_text(v),
                           (size_t)sqlite3_value_bytes(v));
  if (!j) return -1;
  int rc = j->type == ML_JSON_OBJECT ? 0 : bad_rule(ctx, "argument 3 must be a JSON object");
  for (const ml_json *c = rc ? NULL : j->child; c && !rc; c = c->next) rc = rule_member(ctx, c, r);
  if (!rc && r->min_given && r->max_given)
    rc = bad_rule(ctx, "give min_improvement or max_degradation, not both");
  ml_json_free(j);
  return rc;
}

/* A version of name (0: the latest) decoded, with its number; NULL after reporting. */
static ml_model *load(sqlite3_context *ctx, const char *name, sqlite3_int64 version,
                      sqlite3_int64 *got) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  char *ref = version ? sqlite3_mprintf("%s@%lld", name, version) : sqlite3_mprintf("%s", name);
  char *err = NULL;
  ml_model *m = NULL;
  int rc = ref ? ml_registry_load(db, sqlite3_user_data(ctx), "ml_promote", ref, got, &m, &err)
               : SQLITE_NOMEM;
  if (err) ml_error_msg(ctx, err);
  else if (rc != SQLITE_OK) ml_result_db_error(ctx, "ml_promote", db, rc);
  sqlite3_free(ref);
  return m;
}

typedef struct decision {
  sqlite3_int64 from, to, rows; /* rows: the version whose test rows judged */
  const char *metric;
  double champion, challenger;  /* the metric of each on those rows */
  int64_t n;                    /* test rows measured */
  sqlite3_int64 read;           /* rows read from the source; 0 when scored without */
  double improvement;
  int compared, promoted;
  char reason[300];
} decision;

/* The figure of metric in s (rmse or r2). */
static double score_metric(ml_score s, const char *metric) {
  return strcmp(metric, "r2") == 0 ? s.r2 : s.rmse;
}

/*
** rmse or r2 of a linear model, exactly from a test factor: the
** challenger's test rows, or else the champion's.  0 with d's figures; 1
** when neither can hold both models (why); -1 after reporting.
*/
static int judge_exact(sqlite3_context *ctx, const ml_model *champ, const ml_model *chall,
                       decision *d, char *why, size_t nwhy) {
  ml_score sc, sn;
  char why2[200] = "";
  int rc = chall->test_R ? ml_score_on_rows(champ, chall, chall, &sc, &sn, why, nwhy) : 1;
  d->rows = d->to;
  if (rc > 0 && champ->test_R) {
    /* The champion's own test rows are identical rows for both, too. */
    d->rows = d->from;
    rc = ml_score_on_rows(champ, chall, champ, &sc, &sn, why2, sizeof why2);
    if (rc > 0 && !chall->test_R) snprintf(why, nwhy, "%s", why2);
  }
  if (rc < 0) return ml_error_nomem(ctx);
  if (rc > 0) return 1;
  d->champion = score_metric(sc, d->metric);
  d->challenger = score_metric(sn, d->metric);
  d->n = (d->rows == d->to ? chall : champ)->test_n;
  return 0;
}

/* Any metric, from the challenger's test rows (decide checked it has some)
** read once from the source.  0 with d's figures, or -1 after reporting. */
static int judge_by_reading(sqlite3_context *ctx, const char *name, const ml_model *champ,
                            const ml_model *chall, decision *d) {
  if (ml_read_comparable(ctx, "ml_promote", champ, chall)) return -1;
  d->rows = d->to;
  ml_eval ev[2];
  int rc = 0, init = 0;
  for (; !rc && init < 2; init++) {
    const ml_model *m = init ? chall : champ;
    if (ml_eval_init(&ev[init], m, "ml_promote", m->target)) rc = ml_error_nomem(ctx);
  }
  if (!rc) rc = ml_read_test_rows(ctx, "ml_promote", name, d->to, chall, ev, &d->read);
  if (!rc) {
    ml_eval_metric(&ev[0], d->metric, &d->champion);
    ml_eval_metric(&ev[1], d->metric, &d->challenger);
    d->n = ev[0].wy.n;
  }
  while (init-- > 0) ml_eval_free(&ev[init]);
  return rc;
}

/* The rule's metric for the challenger's family; NULL after reporting. */
static const char *rule_metric(sqlite3_context *ctx, const rule *r, const ml_model *chall) {
  const char *const *names = ml_eval_metric_names(chall->family);
  if (!r->metric) return names[chall->family == ML_FAMILY_GAUSSIAN ? 1 : 0]; /* rmse, log_loss, deviance */
  for (; *names; names++)
    if (strcmp(*names, r->metric) == 0) return *names;
  ml_error(ctx, "ml_promote(): rule metric %s does not measure a %s model", r->metric,
           chall->family == ML_FAMILY_GAUSSIAN ? "linear" : ml_family_name(chall->family));
  return NULL;
}

/* Judges challenger against champion by r into d; 0, or -1 after reporting. */
static int judge(sqlite3_context *ctx, const char *name, const rule *r, const ml_model *champ,
                 const ml_model *chall, decision *d) {
  char why[200] = "";
  int exact = chall->family == ML_FAMILY_GAUSSIAN && champ->family == ML_FAMILY_GAUSSIAN &&
              (!strcmp(d->metric, "rmse") || !strcmp(d->metric, "r2"));
  int rc = exact ? judge_exact(ctx, champ, chall, d, why, sizeof why) : 1;
  if (rc > 0) rc = judge_by_reading(ctx, name, champ, chall, d);
  if (rc < 0) return -1;
  double a = d->champion, b = d->challenger;
  d->improvement = ml_metric_lower_is_better(d->metric) ? a - b : b - a;
  if (r->relative) d->improvement /= fabs(a);
  d->compared = 1;
  d->promoted = d->improvement >= r->threshold;
  snprintf(d->reason, sizeof d->reason, "%simprovement in %s %.6g %s %.6g (%s)",
           r->relative ? "relative " : "", d->metric, d->improvement, d->promoted ? ">=" : "<",
           r->threshold,
           r->min_given ? "min_improvement" : r->max_given ? "max_degradation" : "no worse");
  return 0;
}

static char *decision_json(const char *name, const char *alias, const rule *r, const decision *d) {
  ml_sb b;
  ml_sb_init(&b);
  ml_sb_puts(&b, "{\"name\":");
  ml_sb_json_string(&b, name, strlen(name));
  ml_sb_puts(&b, ",\"alias\":");
  ml_sb_json_string(&b, alias, strlen(alias));
  ml_sb_puts(&b, ",\"from\":");
  if (d->from) ml_sb_printf(&b, "%lld", d->from);
  else ml_sb_puts(&b, "null");
  ml_sb_printf(&b, ",\"to\":%lld,\"metric\":\"%s\"", d->to, d->metric);
  if (d->compared) {
    ml_sb_printf(&b, ",\"rows\":\"test rows of version %lld\",\"n\":%lld,"
                     "\"rows_read\":%lld,\"champion\":", d->rows, (long long)d->n,
                 (long long)d->read);
    ml_sb_json_number(&b, d->champion);
    ml_sb_puts(&b, ",\"challenger\":");
    ml_sb_json_number(&b, d->challenger);
    ml_sb_puts(&b, ",\"improvement\":");
    ml_sb_json_number(&b, d->improvement);
    ml_sb_puts(&b, ",\"threshold\":");
    ml_sb_json_number(&b, r->threshold);
    ml_sb_printf(&b, ",\"relative\":%s", r->relative ? "true" : "false");
  }
  ml_sb_printf(&b, ",\"promoted\":%s,\"reason\":", d->promoted ? "true" : "false");
  ml_sb_json_string(&b, d->reason, strlen(d->reason));
  ml_sb_puts(&b, "}");
  return ml_sb_finish(&b, NULL);
}

/* Decides; 0 with d filled, or -1 after reporting. */
static int decide(sqlite3_context *ctx, const char *name, const char *alias, const rule *r,
                  decision *d, ml_model **chall) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  *chall = load(ctx, name, r->version, &d->to);
  if (!*chall || !(d->metric = rule_metric(ctx, r, *chall))) return -1;
  d->from = ml_registry_alias_version(db, name, alias);
  if (d->from == d->to) {
    d->promoted = 1;
    snprintf(d->reason, sizeof d->reason, "the alias is at version %lld already", d->to);
    return 0;
  }
  int has = (*chall)->test_R ? 1 : ml_has_test_rows(ctx, "ml_promote", name, d->to);
  if (has < 0) return -1;
  if (!has)
    return ml_error(ctx, "ml_promote(): version %lld of '%s' has no test rows to judge it on "
                         "(it was trained with test_size 0, or not by ml_train)", d->to, name);
  if (!d->from) {
    d->promoted = 1;
    snprintf(d->reason, sizeof d->reason, "the alias is new");
    return 0;
  }
  sqlite3_int64 got;
  ml_model *champ = load(ctx, name, d->from, &got);
  int rc = champ ? judge(ctx, name, r, champ, *chall, d) : -1;
  ml_model_free(champ);
  return rc;
}

/* Moves the alias with the decision as its record; 0, or -1 after reporting. */
static int move(sqlite3_context *ctx, const char *name, const char *alias, const decision *d,
                const char *json) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  sqlite3_int64 n;
  int rc = ml_registry_move_alias(db, name, alias, d->to, "ml_promote", json, &n);
  if (rc != SQLITE_OK) {
    ml_result_db_error(ctx, "ml_promote", db, rc);
    return -1;
  }
  if (n == 0)
    return ml_error(ctx, "ml_promote(): alias '%s' of '%s' moved while deciding; run it again",
                    alias, name);
  return 0;
}

void ml_promote_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (ml_refuse_in_source(ctx, "ml_promote")) return;
  if (ml_refuse_autocommit_on_dqlite(ctx, "ml_promote")) return;
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  const char *alias = (const char *)sqlite3_value_text(argv[1]);
  rule r;
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT || !name[0]) {
    ml_error(ctx, "ml_promote(): argument 1 must be a model name");
    return;
  }
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT || !alias[0] || strchr(alias, '@') ||
      strcmp(alias, "latest") == 0) {
    ml_error(ctx, "ml_promote(): argument 2 must be an alias name (not 'latest', no '@')");
    return;
  }
  if (parse_rule(ctx, argc > 2 ? argv[2] : NULL, &r)) return;
  if (ml_registry_for_write(ctx, "ml_promote", name)) return;
  decision d = {0};
  ml_model *chall = NULL;
  char *json = NULL;
  if (decide(ctx, name, alias, &r, &d, &chall) == 0) {
    json = decision_json(name, alias, &r, &d);
    if (!json) sqlite3_result_error_nomem(ctx);
    else if (!d.promoted && r.required)
      ml_error(ctx, "ml_promote(): the gate did not pass, alias '%s' stays at version %lld: %s",
               alias, d.from, json);
    else if (d.promoted && d.from != d.to && move(ctx, name, alias, &d, json))
      ;
    else {
      sqlite3_result_text(ctx, json, -1, sqlite3_free);
      sqlite3_result_subtype(ctx, 'J');
      json = NULL;
    }
  }
  sqlite3_free(json);
  ml_model_free(chall);
}
