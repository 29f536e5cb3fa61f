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
#include "guard.h"
#include "json.h"
#include "registry.h"
#include "sqlq.h"
#include "strbuf.h"

typedef struct rule {
  int r2;                  /* metric: 0 rmse (lower is better), 1 r2 (higher) */
  double threshold;        /* the least improvement that passes */
  int relative;            /* improvement relative to the champion's figure */
  int min_given, max_given;
  sqlite3_int64 version;   /* the challenger, or 0 for the latest */
  int required;
} rule;

static int bad_rule(sqlite3_context *ctx, const char *what) {
  return ml_error(ctx, "ml_promote(): %s", what);
}

static int rule_member(sqlite3_context *ctx, const ml_json *c, rule *r) {
  int num = c->type == ML_JSON_NUMBER, flag = c->type == ML_JSON_TRUE || c->type == ML_JSON_FALSE;
  if (strcmp(c->key, "metric") == 0) {
    if (c->type != ML_JSON_STRING || (strcmp(c->str, "rmse") && strcmp(c->str, "r2")))
      return bad_rule(ctx, "rule metric must be \"rmse\" or \"r2\" (mae needs a read of the rows: "
                           "use ml_evaluate)");
    r->r2 = strcmp(c->str, "r2") == 0;
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
  ml_score champion, challenger;
  int64_t n; /* test rows */
  double improvement;
  int compared, promoted;
  char reason[300];
} decision;

/* Judges challenger against champion by r into d; 0, or -1 after reporting. */
static int judge(sqlite3_context *ctx, const rule *r, const ml_model *champ, const ml_model *chall,
                 decision *d) {
  char why[200], why2[200] = "";
  d->rows = d->to;
  int rc = ml_score_on_rows(champ, chall, chall, &d->champion, &d->challenger, why, sizeof why);
  if (rc > 0 && champ->test_R) {
    /* The champion's own test rows are identical rows for both, too. */
    d->rows = d->from;
    rc = ml_score_on_rows(champ, chall, champ, &d->champion, &d->challenger, why2, sizeof why2);
  }
  if (rc < 0) {
    sqlite3_result_error_nomem(ctx);
    return -1;
  }
  if (rc > 0)
    return ml_error(ctx, "ml_promote(): versions %lld and %lld cannot be scored on the same rows "
                         "without reading them: %s%s%s", d->from, d->to, why, why2[0] ? "; " : "",
                    why2);
  double a = r->r2 ? d->champion.r2 : d->champion.rmse, b = r->r2 ? d->challenger.r2
                                                                   : d->challenger.rmse;
  d->improvement = r->r2 ? b - a : a - b;
  if (r->relative) d->improvement /= fabs(a);
  d->compared = 1;
  d->n = (d->rows == d->to ? chall : champ)->test_n;
  d->promoted = d->improvement >= r->threshold;
  snprintf(d->reason, sizeof d->reason, "%simprovement in %s %.6g %s %.6g (%s)",
           r->relative ? "relative " : "", r->r2 ? "r2" : "rmse", d->improvement,
           d->promoted ? ">=" : "<", r->threshold,
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
  ml_sb_printf(&b, ",\"to\":%lld,\"metric\":\"%s\"", d->to, r->r2 ? "r2" : "rmse");
  if (d->compared) {
    ml_sb_printf(&b, ",\"rows\":\"test rows of version %lld\",\"n\":%lld,\"champion\":", d->rows,
                 (long long)d->n);
    ml_sb_json_number(&b, r->r2 ? d->champion.r2 : d->champion.rmse);
    ml_sb_puts(&b, ",\"challenger\":");
    ml_sb_json_number(&b, r->r2 ? d->challenger.r2 : d->challenger.rmse);
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
  if (!*chall) return -1;
  d->from = ml_registry_alias_version(db, name, alias);
  if (d->from == d->to) {
    d->promoted = 1;
    snprintf(d->reason, sizeof d->reason, "the alias is at version %lld already", d->to);
    return 0;
  }
  if (!(*chall)->test_R)
    return ml_error(ctx, "ml_promote(): version %lld of '%s' keeps no test rows' factor to judge it "
                         "on (%s)", d->to, name, ml_no_test_factor);
  if (!d->from) {
    d->promoted = 1;
    snprintf(d->reason, sizeof d->reason, "the alias is new");
    return 0;
  }
  sqlite3_int64 got;
  ml_model *champ = load(ctx, name, d->from, &got);
  int rc = champ ? judge(ctx, r, champ, *chall, d) : -1;
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
