#!/usr/bin/python3
"""ml_train's families binomial and poisson (docs/glm.md): every option and
every error with its exact text, the warnings (separation, non-integer
responses, a fit kept unconverged), non-convergence, the per-iteration
progress lines, NULL offsets, the BLOB section GLMF (critical, so an older
reader refuses it; corrupted, refused), prediction on the response scale
and with an offset, and the functions that refuse a GLM.  The numbers
themselves are checked against R in tests/ref/glm_vs_r.py."""
import json
import math
import re
import sqlite3
import struct
import subprocess

from sqlml_test import Checker, args, connect

a = args()
c = Checker("glm")
con = connect(a.ext)
con.execute("CREATE TABLE d(id INTEGER PRIMARY KEY, y, x, g, w, off)")
con.executemany("INSERT INTO d VALUES (?,?,?,?,?,?)",
                [(i, i % 2, (i * 37 % 11) - 5.0, "abc"[i % 3], 1 + i % 3, 0.1 * (i % 5))
                 for i in range(1, 41)])
TRAIN = "SELECT ml_train('m', 'd', 'y', '[\"x\",\"g\"]', ?)"


def value(sql, *params):
    return con.execute(sql, params).fetchone()[0]


def error(sql, *params):
    try:
        con.execute(sql, params).fetchone()
    except sqlite3.Error as e:
        return str(e)
    return None


def expect_error(sql, params, want, what):
    got = error(sql, *params)
    c.check(got == want, "%s: error %r, want %r" % (what, got, want))


def train(options, name="m", feats='["x","g"]'):
    return json.loads(value("SELECT ml_train(?, 'd', 'y', ?, ?)", name, feats, json.dumps(options)))


# ---- options ----
OPT = "ml_train(): option "
for opts, want in [
        ({"family": "gamma"}, OPT + 'family must be "gaussian", "binomial" or "poisson", got "gamma"'),
        ({"family": 1}, OPT + 'family must be "gaussian", "binomial" or "poisson", got 1'),
        ({"family": "binomial", "offset": ""}, OPT + "offset must be a column name, got \"\""),
        ({"family": "binomial", "max_iter": 0}, OPT + "max_iter must be an integer from 1 to 10000, got 0"),
        ({"family": "binomial", "max_iter": 2.5}, OPT + "max_iter must be an integer from 1 to 10000, got 2.5"),
        ({"family": "binomial", "epsilon": 0}, OPT + "epsilon must be a number in (0, 1), got 0"),
        ({"family": "binomial", "keep_unconverged": 1}, OPT + "keep_unconverged must be true or false, got 1"),
        ({"family": "binomial", "l2": 1}, OPT + 'l2 applies to family "gaussian" only'),
        ({"family": "poisson", "robust": "HC0"}, OPT + 'robust applies to family "gaussian" only'),
        ({"family": "binomial", "refine": True},
         OPT + 'refine applies to family "gaussian" only (IRLS iterates instead)'),
        ({"family": "binomial", "metrics": "full"}, OPT + 'metrics "full" applies to family "gaussian" only'),
        ({"offset": "off"}, OPT + 'offset needs family "binomial" or "poisson"'),
        ({"family": "gaussian", "max_iter": 3},
         OPT + 'max_iter, epsilon and keep_unconverged need family "binomial" or "poisson"'),
        ({"family": "binomial", "offset": "nope"},
         "ml_train(): the source 'd' has no column 'nope' (option offset)"),
        ({"family": "binomial", "auc_max_rows": -1}, OPT + "auc_max_rows must be an integer from 0 to 1e12, got -1"),
        ({"family": "binomial", "auc_max_rows": 2.5}, OPT + "auc_max_rows must be an integer from 0 to 1e12, got 2.5"),
        ({"family": "poisson", "auc_max_rows": 10},
         OPT + 'auc_max_rows needs family "binomial" (the AUC is a binomial model\'s metric)'),
        ({"auc_max_rows": 10}, OPT + 'auc_max_rows needs family "binomial"'),
        ({"famly": "binomial"},
         "ml_train(): unknown option 'famly' (known: test_size, seed, key, intercept, nulls, "
         "na_values, categorical, unseen, weights, l2, robust, refine, metrics, progress, tol, "
         "family, offset, max_iter, epsilon, keep_unconverged, auc_max_rows, cv, incremental, from, threads)")]:
    expect_error(TRAIN, (json.dumps(opts),), want, "options %s" % json.dumps(opts))
expect_error("SELECT ml_train('m', 'd', 'y', '[\"x\",\"off\"]', '{\"family\":\"binomial\",\"offset\":\"off\"}')",
             (), "ml_train(): 'off' is the offset; it cannot be a feature too", "offset as a feature")

# Defaults, as stored, and the summary's keys.
s = train({"family": "binomial", "test_size": 0})
opts = json.loads(value("SELECT options FROM ml_model_versions WHERE name = 'm' AND version = ?",
                        s["version"]))
c.check((opts["family"], opts["offset"], opts["max_iter"], opts["epsilon"], opts["keep_unconverged"]) ==
        ("binomial", None, 25, 1e-8, False), "stored options: %r" % opts)
keys = ["family", "link", "deviance", "null_deviance", "df_null", "df_resid", "aic", "iterations",
        "converged"]
c.check(all(k in s for k in keys) and s["link"] == "logit" and s["converged"] is True,
        "summary keys: %r" % {k: s.get(k) for k in keys})
js = json.loads(value("SELECT ml_model_json('m')"))
c.check(js["kind"] == "generalized_linear_model" and all(k in js for k in keys) and
        "z_value" in js["coefficients"][0] and "t_stat" not in js["coefficients"][0] and
        js["dispersion"] == 1, "ml_model_json of a GLM: %r" % sorted(js))
c.check(s["metrics"]["train"].keys() >= {"log_loss", "accuracy", "brier", "deviance"},
        "binomial metrics: %r" % s["metrics"])
c.check(value("SELECT group_concat(DISTINCT kind) FROM ml_model_versions WHERE name = 'm'") ==
        "generalized_linear_model", "the registry's kind column")
gauss = train({"test_size": 0}, name="lin")
c.check(value("SELECT kind FROM ml_model_versions WHERE name = 'lin'") == "linear_regression",
        "a linear model's kind is as before")
c.check("family" not in gauss and "family" not in json.loads(
        value("SELECT options FROM ml_model_versions WHERE name = 'lin'")),
        "a gaussian model's summary and options are as before")
# epsilon and max_iter change the fit's iterations: a loose epsilon stops sooner.
loose = train({"family": "binomial", "test_size": 0, "epsilon": 0.01})
c.check(loose["iterations"] < s["iterations"], "epsilon 0.01: %d iterations, 1e-8: %d" %
        (loose["iterations"], s["iterations"]))

# ---- the response out of range: an error naming the row ----
con.execute("UPDATE d SET y = 2 WHERE id = 7")
expect_error(TRAIN, ('{"family":"binomial"}',),
             "ml_train(): family \"binomial\" needs the target 'y' to be 0 or 1, got 2.0 in row 7 (rowid 7)",
             "binomial y = 2")
expect_error(TRAIN, ('{"family":"binomial","weights":"w"}',),
             "ml_train(): family \"binomial\" needs the target 'y' to be a proportion in [0, 1] (of "
             "the trials in the weights), got 2.0 in row 7 (rowid 7)", "binomial y = 2 with weights")
con.execute("UPDATE d SET y = 0.5 WHERE id = 7")
expect_error(TRAIN, ('{"family":"binomial"}',),
             "ml_train(): family \"binomial\" needs the target 'y' to be 0 or 1, got 0.5 in row 7 (rowid 7)",
             "binomial y = 0.5 without weights")
con.execute("UPDATE d SET y = -1 WHERE id = 7")
expect_error(TRAIN, ('{"family":"poisson"}',),
             "ml_train(): family \"poisson\" needs the target 'y' to be a count >= 0, got -1.0 in row 7 (rowid 7)",
             "poisson y = -1")
# Not an integer: R warns, and so does sqlml; the AIC is infinite (JSON null).
con.execute("UPDATE d SET y = 1.5 WHERE id = 7")
s = train({"family": "poisson", "test_size": 0})
c.check(s["aic"] is None and any("not a whole number in 1 rows, the first in row 7" in w
                                  for w in s["warnings"]), "poisson y = 1.5: %r %r" % (s["aic"], s["warnings"]))
# A proportion with weights (trials) whose successes are not whole: R's warning.
con.execute("UPDATE d SET y = 0.3 WHERE id = 7")
s = train({"family": "binomial", "weights": "w", "test_size": 0})
c.check(any(w.startswith("non-integer #successes in a binomial glm") for w in s["warnings"]),
        "binomial non-integer successes: %r" % s["warnings"])
con.execute("UPDATE d SET y = 1 WHERE id = 7")

# A target of two text levels: the second in byte order is 1; anything else is an error.
con.execute("CREATE TABLE lv(id INTEGER PRIMARY KEY, y, x)")
con.executemany("INSERT INTO lv VALUES (?, ?, ?)",
                [(i, "yes" if (i * 7919) % 101 < 30 + i % 40 else "no", i % 40) for i in range(1, 201)])
con.execute("CREATE TABLE lv01 AS SELECT id, y = 'yes' AS y, x FROM lv")
LV = "SELECT ml_train(?, ?, 'y', '[\"x\"]', '{\"family\":\"binomial\",\"test_size\":0}')"
s_text = json.loads(value(LV, "lv", "lv"))
s_num = json.loads(value(LV, "lv01", "lv01"))
c.check(s_text["target_levels"] == ["no", "yes"] and "target_levels" not in s_num and
        s_text["deviance"] == s_num["deviance"] and
        value("SELECT ml_predict('lv', 7)") == value("SELECT ml_predict('lv01', 7)") and
        json.loads(value("SELECT ml_model_json('lv')"))["target_levels"] == ["no", "yes"],
        "text levels fit as 0/1: %r %r" % (s_text.get("target_levels"), s_text["deviance"]))
c.check(value("SELECT ml_evaluate('lv', 'lv')") == value("SELECT ml_evaluate('lv01', 'lv01')"),
        "ml_evaluate reads the levels")
expect_error("SELECT ml_evaluate('lv', 'SELECT ''maybe'' AS y, x FROM lv')", (),
             "ml_evaluate(): the target 'y' is 'maybe' in row 1, not one of the model's levels "
             "'no' and 'yes'", "ml_evaluate of another level")
con.execute("UPDATE lv SET y = 1 WHERE id = 5")
expect_error(LV, ("lv", "lv"), "ml_train(): family \"binomial\" with the target's levels 'no' (0) "
             "and 'yes' (1) found a value '1' in row 5 (rowid 5)", "a number among text levels")
con.execute("UPDATE lv SET y = 'maybe' WHERE id = 5")
expect_error(LV, ("lv", "lv"), "ml_train(): family \"binomial\" needs the target 'y' to be 0 or 1, "
             "or text of two levels; it has more than two levels: 'maybe', 'no', ...",
             "three text levels")
con.execute("UPDATE lv SET y = 'no'")
expect_error(LV, ("lv", "lv"), "ml_train(): family \"binomial\" needs the target 'y' to be 0 or 1, "
             "or text of two levels; it has one level: 'no'", "one text level")

# ---- offsets: NULL skips the row (or is an error), text is an error ----
con.execute("UPDATE d SET off = NULL WHERE id = 8")
s = train({"family": "poisson", "offset": "off", "test_size": 0})
c.check(s["n_skipped"] == 1 and s["n_train"] == 39 and s["nulls"]["off"] == 1,
        "a NULL offset skips its row: %r" % [s["n_skipped"], s["n_train"], s["nulls"]])
expect_error(TRAIN, ('{"family":"poisson","offset":"off","nulls":"error"}',),
             "ml_train(): column 'off' is NULL in row 8 (rowid 8), and option nulls is \"error\"",
             "NULL offset with nulls error")
con.execute("UPDATE d SET off = 'abc' WHERE id = 8")
expect_error(TRAIN, ('{"family":"poisson","offset":"off"}',),
             "ml_train(): column 'off' is text ('abc') in row 8 (rowid 8), not a number: if it marks "
             "a missing value, list it in option \"na_values\" (or use NULLIF(\"off\", 'abc') in a "
             "query source)", "text offset")
con.execute("UPDATE d SET off = 0.3 WHERE id = 8")

# ---- non-convergence: an error, unless kept ----
err = error(TRAIN, '{"family":"binomial","max_iter":2,"test_size":0}')
m = re.fullmatch(r"ml_train\(\): the fit did not converge in 2 iterations \(max_iter\): deviance "
                 r"(\S+), its last relative change (\S+) is not below epsilon 1e-08; raise "
                 r"max_iter, look for separation or a feature of huge values, or keep the fit "
                 r"with option keep_unconverged", err or "")
c.check(m is not None, "non-convergence error: %r" % err)
versions = value("SELECT count(*) FROM ml_model_versions WHERE name = 'm'")
kept = train({"family": "binomial", "max_iter": 2, "test_size": 0, "keep_unconverged": True})
c.check(kept["converged"] is False and kept["iterations"] == 2 and
        any(w.startswith("the fit did not converge in 2 iterations (max_iter); kept as asked")
            for w in kept["warnings"]), "keep_unconverged: %r" % kept)
c.check(m is not None and float(m.group(1)) == float("%.10g" % kept["deviance"]),
        "the error's deviance is the kept fit's: %r %r" % (m and m.group(1), kept["deviance"]))
c.check(value("SELECT count(*) FROM ml_model_versions WHERE name = 'm'") == versions + 1,
        "the failed fit stored nothing, the kept one a version")
c.check(json.loads(value("SELECT ml_model_json('m')"))["converged"] is False,
        "the kept model says converged false")

# ---- separation: a warning naming it ----
con.execute("CREATE TABLE sep(y, x)")
con.executemany("INSERT INTO sep VALUES (?, ?)", [(1 if x > 0 else 0, x) for x in range(-5, 6) if x])
s = json.loads(value("SELECT ml_train('sep', 'sep', 'y', '[\"x\"]', '{\"family\":\"binomial\",\"test_size\":0}')"))
c.check(any(w.startswith("separation: fitted probabilities numerically 0 or 1 occurred in ")
            for w in s["warnings"]), "separation warning: %r" % s["warnings"])
# Counts all 0 in one group: its rate goes to 0 as long as the fit iterates
# (R's glm with glm.control(epsilon = 1e-15, maxit = 100) warns the same).
con.execute("CREATE TABLE zero(y, g)")
con.executemany("INSERT INTO zero VALUES (?, ?)", [(0, "a")] * 10 + [(5 + i % 3, "b") for i in range(10)])
s = json.loads(value("SELECT ml_train('zero', 'zero', 'y', '[\"g\"]', "
                     "'{\"family\":\"poisson\",\"test_size\":0,\"epsilon\":1e-15,\"max_iter\":100}')"))
c.check(any(w.startswith("fitted rates numerically 0 occurred in ") for w in s["warnings"]),
        "poisson rates at 0: %r" % s["warnings"])

# ---- prediction ----
train({"family": "poisson", "offset": "off", "test_size": 0}, name="po")
b = value("SELECT model FROM ml_model_versions WHERE name = 'po'")
expect_error("SELECT ml_predict('po', 1, 'a')", (),
             "ml_predict(): the model expects 2 features (x, g) and its offset (off), got 2 "
             "arguments after the model", "predict without the offset")
expect_error("SELECT ml_predict_interval('po', 0.9, 1, 'a')", (),
             "ml_predict_interval(): the model expects 2 features (x, g) and its offset (off), got "
             "2 arguments after the level", "interval without the offset")
c.check(value("SELECT ml_predict('po', 1, 'a', NULL)") is None, "a NULL offset predicts NULL")
expect_error("SELECT ml_predict('po', 1, 'a', 'zz')", (),
             "ml_predict(): the offset 'off' is text ('zz'); expected a number (if the text marks a "
             "missing value, NULLIF(column, 'text') makes it NULL)", "a text offset")
coef = {t: e for t, e in con.execute("SELECT term, estimate FROM ml_weights('po')")}
want = math.exp(coef["(Intercept)"] + 2 * coef["x"] + coef["g=b"] + 0.25)
got = value("SELECT ml_predict(?, 2, 'b', 0.25)", b)
c.check(abs(got - want) <= 1e-13 * want, "poisson prediction is exp(eta + offset): %r %r" % (got, want))
iv = json.loads(value("SELECT ml_predict_interval('po', 0.9, 2, 'b', 0.25)"))
c.check(iv["conf_low"] < iv["fit"] < iv["conf_high"] and abs(iv["fit"] - want) <= 1e-13 * want and
        abs(iv["conf_low"] - math.exp(iv["link"] - 1.6448536269514722 * iv["se_link"])) <= 1e-12 * want,
        "interval on the link scale through exp: %r" % iv)
train({"family": "binomial", "test_size": 0}, name="lo")
p = value("SELECT ml_predict('lo', 0, 'a')")
c.check(0 < p < 1, "a binomial prediction is a probability: %r" % p)

# ml_predictions maps the features and the offset by name: its predictions are ml_predict's.
rows = con.execute("SELECT p.prediction, ml_predict('po', d.x, d.g, d.off), p.conf_low, p.conf_high, "
                   "p.se_fit FROM ml_predictions('po', 'SELECT g, off, x, id FROM d', "
                   "'{\"interval\":0.9}') AS p JOIN d ON d.id = json_extract(p.row, '$.id')").fetchall()
c.check(len(rows) == 40 and all(r[0] == r[1] and r[2] < r[0] < r[3] and r[4] is None for r in rows),
        "ml_predictions of a GLM with an offset: %r" % rows[:2])

# ---- functions that refuse a GLM ----
expect_error("SELECT ml_refine(?, y, x, g) FROM d", (b,),
             "ml_refine(): a poisson model is fitted by iterations over its rows, not one "
             "least-squares solution to refine", "ml_refine of a GLM")
expect_error("SELECT ml_merge(model) FROM (SELECT model FROM ml_model_versions WHERE name IN "
             "('lo', 'po') ORDER BY name)", (),
             "ml_merge(): cannot merge: a binomial model cannot be merged: its fit iterates over all the rows "
             "(refit the union with ml_train)", "ml_merge of GLMs")
expect_error("SELECT ml_evaluate('po', 'SELECT y, x, g FROM d')", (),
             "ml_evaluate(): the source 'SELECT y, x, g FROM d' has no column 'off' (the model's "
             "offset)", "ml_evaluate without the offset")
expect_error("SELECT ml_evaluate('lo', 'SELECT 2 AS y, x, g FROM d')", (),
             "ml_evaluate(): the target 'y' is 2.0 in row 1, outside what family \"binomial\" takes "
             "(0 or 1)", "ml_evaluate with y out of range")

expect_error("SELECT ml_fit_opts('{\"family\":\"poisson\"}', y, x) FROM d", (),
             "ml_fit_opts(): option family: an aggregate reads each row once and a GLM needs a pass "
             "per iteration; fit it with ml_train (docs/glm.md)", "ml_fit_opts with a GLM family")
# The same fit (ml_fit folds one or two features without LAPACK: equal up to rounding).
gauss = json.loads(value("SELECT ml_model_json(ml_fit_opts('{\"family\":\"gaussian\"}', y, x)) FROM d"))
plain = json.loads(value("SELECT ml_model_json(ml_fit(y, x)) FROM d"))
c.check(gauss["n"] == plain["n"] and gauss["rows_fingerprint"] == plain["rows_fingerprint"] and
        all(abs(a["estimate"] - b["estimate"]) <= 1e-13 * max(1, abs(b["estimate"])) and
            abs(a["std_error"] - b["std_error"]) <= 1e-13 * max(1, abs(b["std_error"]))
            for a, b in zip(gauss["coefficients"], plain["coefficients"])),
        "ml_fit_opts family gaussian is ml_fit")

# ---- the BLOB: section GLMF right after SHAP, critical; corrupted, refused ----
shap_len = struct.unpack("<I", b[16:20])[0]
at = 20 + shap_len
c.check(b[at:at + 4] == b"GLMF", "GLMF follows SHAP: %r" % b[at:at + 4])


def with_crc(z):
    import zlib
    return z[:-4] + struct.pack("<I", zlib.crc32(z[:-4]))


bad = bytearray(b)
bad[at + 8] = 7  # family 7
expect_error("SELECT ml_predict(?, 1, 'a', 0)", (with_crc(bytes(bad)),),
             "ml_predict(): argument 1: invalid model BLOB: section GLMF is malformed", "family 7")
renamed = bytearray(b)
renamed[at:at + 4] = b"GLMZ"  # what an older reader sees: an unknown critical section
expect_error("SELECT ml_predict(?, 1, 'a', 0)", (with_crc(bytes(renamed)),),
             "ml_predict(): argument 1: model BLOB has section 'GLMZ', unknown to this sqlml: it "
             "was written by a newer version", "an unknown critical section is refused")

# ---- progress: a line per iteration on stderr ----
sql = (".load %s\nCREATE TABLE d(y, x);\nINSERT INTO d VALUES (0,1),(1,2),(0,3),(1,4),(1,5),(0,2.5);\n"
       "SELECT json_extract(ml_train('p', 'd', 'y', '[\"x\"]', "
       "'{\"family\":\"binomial\",\"progress\":true,\"test_size\":0}'), '$.iterations');\n" % a.ext)
p = subprocess.run([a.sqlite3, "-batch", ":memory:"], input=sql, capture_output=True, text=True)
lines = p.stderr.splitlines()
n = int(p.stdout.strip() or 0)
c.check(n > 0 and len(lines) == n and all(
        re.fullmatch(r"ml_train: iteration %d: deviance \S+" % (i + 1), l) for i, l in enumerate(lines)),
        "progress lines: %r for %r iterations" % (lines, p.stdout))
# Step-halving (R's glm.fit): these six rows (a Poisson fit from a search for
# data on which R halves a step) diverge at iteration 84: the step is halved
# and the fit goes on, but the next step's working weights overflow the
# factor, which is an error, never a model whose BLOB cannot be read.
con.execute("CREATE TABLE h(y, x1, x2, off)")
con.executemany("INSERT INTO h VALUES (?,?,?,?)", [
    (2, -0.463190873839024, -0.746299465102126, -231.894967225519),
    (2, -1.72570246500717, 10.0033382035058, 0.165801604360866),
    (1, -184.027299819238, 1.37461932859972, -4.61385710008388),
    (2, -4.88696955888652, 1.98843091146684, -3.22690172810231),
    (1, 1.69840397930445, -0.239035608269286, -2.0169030833191),
    (1, 3.53885886424403, -2.9569096666589, 10.0272322403263)])
got = error("SELECT ml_train('h', 'h', 'y', '[\"x1\",\"x2\"]', '{\"family\":\"poisson\","
            "\"offset\":\"off\",\"test_size\":0,\"max_iter\":100}')")
c.check(got is not None and got.startswith("ml_train(): the fit diverged: the working weights of "
                                           "iteration 86 overflowed"), "halving, then overflow: %r" % got)
c.check(value("SELECT count(*) FROM ml_model_versions WHERE name = 'h'") == 0, "nothing stored")
# At iteration 1 there is nothing to halve toward: an error, as R's.
con.execute("CREATE TABLE o1(y, x, off)")
con.executemany("INSERT INTO o1 VALUES (?,?,?)", [(5 + i % 3, i % 2, 0.0) for i in range(10)] + [(0, 0, 800.0)])
got = error("SELECT ml_train('o1', 'o1', 'y', '[\"x\"]', '{\"family\":\"poisson\",\"offset\":\"off\","
            "\"test_size\":0}')")
c.check(got == "ml_train(): the deviance is not finite after iteration 1: no valid set of "
               "coefficients has been found (R's glm stops the same); look for a feature or an "
               "offset of huge values", "overflow at iteration 1: %r" % got)

# A poisson target that is not a count: R's AIC is Inf (dpois of a non-integer is 0), and the
# model stays readable (a Kahan sum of an infinity once made the AIC NaN, which no reader takes).
con.execute("CREATE TABLE frac(y, x)")
con.executemany("INSERT INTO frac VALUES (?,?)", [(0.5 + (i % 7) * 1.25, i % 5) for i in range(40)])
con.execute("SELECT ml_train('frac', 'frac', 'y', '[\"x\"]', '{\"family\":\"poisson\",\"test_size\":0}')").fetchall()
js = json.loads(value("SELECT ml_model_json('frac')"))
c.check(js["aic"] is None and js["deviance"] > 0, "non-count poisson: AIC Inf (null), model readable: %s" % js.get("aic"))

c.done()
