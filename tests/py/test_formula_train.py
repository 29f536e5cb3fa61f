#!/usr/bin/python3
"""ml_train with a formula as argument 3 (issue 14): every refusal, each
naming what is wrong (bad syntax pointing at the token, features given with
a formula, a column the source lacks, a transform undefined on a training
row naming the row and the term); the number of terms; prediction from the
raw columns (NULL where a transform is undefined), its arity; section FORM,
critical, right after SHAP; data_hash and the formula text.  The numbers
are compared with R in tests/ref/formula_lm_vs_r.py."""
import json
import re
import sqlite3

from sqlml_test import Checker, args, connect, sections

a = args()
c = Checker("formula_train")
con = connect(a.ext)
con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, y REAL, x REAL, n INTEGER, city TEXT, "
            "grp, w REAL)")
rows = [(i, 1.0 + i, 0.5 * i + 1, i % 4, "abc"[i % 3], ["u", "v"][i % 2], 1.0) for i in range(1, 41)]
con.executemany("INSERT INTO t VALUES (?,?,?,?,?,?,?)", rows)
con.execute("UPDATE t SET x = NULL WHERE id = 7")


def error_of(sql, *params):
    try:
        con.execute(sql, params).fetchall()
    except sqlite3.Error as e:
        return str(e)
    return None


def train_error(formula, features=None, source="t"):
    if features is None:
        return error_of("SELECT ml_train('m', ?, ?)", source, formula)
    return error_of("SELECT ml_train('m', ?, ?, ?)", source, formula, features)


# Syntax: the message points at the offending token by its byte offset.
e = train_error("y ~ x + )")
c.check(e is not None and e.startswith("ml_train(): formula: unexpected ')' at 8"), "bad syntax: %r" % e)
e = train_error("y ~ x + foo(x)")
c.check(e is not None and "unknown function" in e and "at 8" in e, "unknown function: %r" % e)

# A features list with a formula.
e = train_error("y ~ x", '["x"]')
c.check(e is not None and "argument 4 (features) must be omitted or NULL with a formula" in e
        and '["x"]' in e, "features with a formula: %r" % e)

# A column the source lacks, on either side.
e = train_error("y ~ x + z")
c.check(e == "ml_train(): the source 't' has no column 'z', which the formula \"y ~ x + z\" names",
        "missing column: %r" % e)
e = train_error("log(q) ~ x")
c.check(e is not None and "has no column 'q'" in e, "missing response column: %r" % e)

# No column on the right-hand side.
e = train_error("y ~ 1")
c.check(e is not None and "reads no column on its right-hand side" in e, "y ~ 1: %r" % e)

# No response.
e = train_error("~ x")
c.check(e is not None and "has no response" in e, "no response: %r" % e)

# A column's use that does not fit its kind, a level relevel() cannot find.
e = train_error("y ~ log(city)")
c.check(e is not None and e.startswith("ml_train(): formula: city is categorical"), "log of text: %r" % e)
e = train_error('y ~ relevel(city, "z")')
c.check(e == 'ml_train(): formula: relevel(city, "z"): "z" is not a level of city',
        "relevel to a missing level: %r" % e)


# A valid formula trains: its terms as many as R's model.matrix has columns.
def ncoef(formula, name="m"):
    e = error_of("SELECT ml_train(?, 't', ?)", name, formula)
    c.check(e is None, "valid formula %r: %r" % (formula, e))
    return con.execute("SELECT count(*) FROM ml_weights(?)", (name,)).fetchone()[0] if e is None else None


# city: 3 levels, grp: 2 (a column without a declared type), n: 4 values.
for formula, p in [("y ~ x", 2), ("y ~ 0 + x", 1), ("y ~ x * city", 6), ("y ~ city:grp", 7),
                   ("log(y) ~ x + I(x^2) + factor(n)", 6), ("y ~ . - id - w", 1 + 1 + 1 + 2 + 1),
                   ('y ~ relevel(city, "b") + poly(x, 2, raw = TRUE)', 5)]:
    got = ncoef(formula)
    c.check(got == p, "%s: %r design columns, expected %d" % (formula, got, p))

# A transform undefined on a training row: an error naming the row and the term.
con.execute("CREATE TABLE z AS SELECT * FROM t")
con.execute("UPDATE z SET x = 0 WHERE id = 9")
e = error_of("SELECT ml_train('mz', 'z', 'y ~ log(x)')")
c.check(e is not None and "the term log(x) is undefined in row 9" in e and "x = 0" in e,
        "undefined transform: %r" % e)
e = error_of("SELECT ml_train('mz', 'z', 'log(w - 1) ~ x')")
c.check(e is not None and "the response log(w - 1) is undefined in row 1" in e, "undefined response: %r" % e)

# Prediction: the raw right-hand side columns, in the formula's order; NULL
# where a transform is undefined or a value is NULL.
con.execute("SELECT ml_train('lg', 't', 'y ~ log(x) + city')").fetchall()
c.check(con.execute("SELECT ml_predict('lg', 0, 'a')").fetchone()[0] is None, "log(0) predicts NULL")
c.check(con.execute("SELECT ml_predict('lg', NULL, 'a')").fetchone()[0] is None, "NULL predicts NULL")
c.check(con.execute("SELECT ml_predict('lg', 2, 'b')").fetchone()[0] is not None, "a prediction")
e = error_of("SELECT ml_predict('lg', 2)")
c.check(e is not None and "ml_predict" in e, "arity, one short: %r" % e)
e = error_of("SELECT ml_predict('lg', 2, 'a', 3)")
c.check(e is not None and "ml_predict" in e, "arity, one more: %r" % e)
e = error_of("SELECT ml_predict('lg', 2, 'q')")
c.check(e is not None and "unseen" in e, "an unseen level: %r" % e)

# ml_model_json: the formula, and the scale of the response (and so of ml_predict).
js = json.loads(con.execute("SELECT ml_model_json('lg')").fetchone()[0])
c.check(js.get("formula") == "y ~ log(x) + city" and js.get("response_scale") == "y", "json: %r" % js.get("formula"))
con.execute("SELECT ml_train('lr', 't', 'log(y) ~ x', '{\"test_size\":0.2,\"seed\":42}')").fetchall()
js = json.loads(con.execute("SELECT ml_model_json('lr')").fetchone()[0])
c.check(js.get("response_scale") == "log(y)", "response_scale: %r" % js.get("response_scale"))
c.check(js["n"] < 40, "options as argument 4 with a formula: the split applies")
ev = json.loads(con.execute("SELECT ml_evaluate('lr', 't')").fetchone()[0])
c.check(ev["r2"] > 0.8, "ml_evaluate on the response's fitted scale: r2 %r" % ev["r2"])

# The BLOB: section FORM, critical (upper case), right after SHAP.
blob = con.execute("SELECT model FROM ml_model_versions WHERE name = 'lg'").fetchone()[0]
tags = [tag for tag, _ in sections(blob)]
c.check(tags[:2] == ["SHAP", "FORM"], "FORM right after SHAP: %r" % tags)
con.execute("SELECT ml_train('plain0', 't', 'y', '[\"x\"]')").fetchall()
plain = con.execute("SELECT model FROM ml_model_versions WHERE name = 'plain0'").fetchone()[0]
c.check("FORM" not in [tag for tag, _ in sections(plain)], "no FORM without a formula")

# The data fingerprint covers the formula's text.
def data_hash(name):
    return con.execute("SELECT data_hash FROM ml_model_versions WHERE name = ? ORDER BY version DESC",
                       (name,)).fetchone()[0]


con.execute("SELECT ml_train('h1', 't', 'y ~ x + city')").fetchall()
con.execute("SELECT ml_train('h2', 't', 'y ~ x * city')").fetchall()
con.execute("SELECT ml_train('h3', 't', 'y ~ x + city')").fetchall()
c.check(data_hash("h1") != data_hash("h2"), "data_hash changes with the formula")
c.check(data_hash("h1") == data_hash("h3"), "data_hash the same for the same formula")

# ml_compare: formula models by R's term names; a formula model and a plain one by reading the rows.
con.execute("SELECT ml_train('ca', 't', 'y ~ x + city', '{\"test_size\":0.25,\"seed\":1}')").fetchall()
con.execute("SELECT ml_train('cb', 't', 'y ~ x * city', '{\"test_size\":0.25,\"seed\":1}')").fetchall()
con.execute("SELECT ml_train('cc', 't', 'y', '[\"x\",\"city\"]', '{\"test_size\":0.25,\"seed\":1}')").fetchall()
cmp = json.loads(con.execute("SELECT ml_compare('ca', 'cb')").fetchone()[0])
c.check("rmse" in cmp["on_b_test_rows"]["a"] and "x:cityb" in cmp["on_a_test_rows"]["unavailable"],
        "ml_compare of formula models: %r" % cmp)
cmp = json.loads(con.execute("SELECT ml_compare('ca', 'cc')").fetchone()[0])
side = cmp.get("on_b_test_rows", {})
c.check("fitted from a formula and the other not" in side.get("read", "") and cmp["rows_read"] > 0 and
        abs(side["b_minus_a"]["rmse"]) < 1e-9 * max(1, side["a"]["rmse"]) and side["n"] > 0,
        "ml_compare formula vs plain, the same model: read, equal: %r" % cmp)
e = error_of("SELECT ml_merge(a.model, b.model) FROM ml_model_versions a, ml_model_versions b "
             "WHERE a.name = 'ca' AND b.name = 'ca'")
c.check(e is not None and "fitted from a formula cannot be merged" in e, "ml_merge refused: %r" % e)

# ml_refine over the training rows, raw columns: the response is transformed as fitted, the
# fingerprint matches, and the coefficients stay where they were.
con.execute("SELECT ml_train('rf', 't', 'log(y) ~ x * city', '{\"test_size\":0}')").fetchall()
before = [r[0] for r in con.execute("SELECT estimate FROM ml_weights('rf')")]
after = json.loads(con.execute(
    "SELECT ml_model_json(ml_refine(v.model, t.y, t.x, t.city)) FROM t, "
    "(SELECT model FROM ml_model_versions WHERE name = 'rf') AS v").fetchone()[0])
got = [co["estimate"] for co in after["coefficients"]]
c.check(len(got) == len(before) and all(abs(a - b) <= 1e-9 * max(1, abs(b)) for a, b in zip(got, before)),
        "ml_refine of a formula model: %r vs %r" % (got, before))

# A target without '~' trains as before.
con.execute("SELECT ml_train('plain', 't', 'y', '[\"x\", \"city\"]')").fetchall()
c.check(con.execute("SELECT count(*) FROM ml_weights('plain')").fetchone()[0] == 4, "plain target")

# Options the formula decides are refused, not ignored.
for opts, want in [('{"intercept":false}', 'option intercept does not apply to a formula; write "0 +"'),
                   ('{"categorical":["city"]}', "option categorical does not apply to a formula; write factor(city)")]:
    e = error_of("SELECT ml_train('opt', 't', 'y ~ x + city', NULL, ?)", opts)
    c.check(e is not None and want in e, "%s: %s" % (opts, e))

# "unseen": "zero": a level training never saw reads as the reference, as for a model without a
# formula (whose prediction is the same), also inside interactions and factor().
con.execute("CREATE TABLE uz(y REAL, x REAL, city TEXT, n INTEGER)")
con.executemany("INSERT INTO uz VALUES (?,?,?,?)",
                [(1 + 2 * i + 3 * (i % 3) + 0.1 * i * (i % 3) + (i % 5) * 0.2, i, "abc"[i % 3], i % 4) for i in range(60)])
con.execute("SELECT ml_train('uzf', 'uz', 'y ~ x + city', NULL, '{\"unseen\":\"zero\",\"test_size\":0}')").fetchall()
con.execute("SELECT ml_train('uzl', 'uz', 'y', '[\"x\",\"city\"]', '{\"unseen\":\"zero\",\"test_size\":0}')").fetchall()
a, b, r = con.execute("SELECT ml_predict('uzf', 7, 'zz'), ml_predict('uzl', 7, 'zz'), ml_predict('uzf', 7, 'a')").fetchone()
c.check(abs(a - b) <= 1e-10 * abs(b) and abs(a - r) <= 1e-12 * abs(r), "unseen as the reference: %r %r %r" % (a, b, r))
con.execute("SELECT ml_train('uzi', 'uz', 'y ~ x * city + factor(n)', NULL, '{\"unseen\":\"zero\",\"test_size\":0}')").fetchall()
a, r = con.execute("SELECT ml_predict('uzi', 7, 'zz', 9), ml_predict('uzi', 7, 'a', 0)").fetchone()
c.check(abs(a - r) <= 1e-12 * abs(r), "unseen in an interaction and in factor(): %r %r" % (a, r))
e = error_of("SELECT ml_predict('lg', 2, 'q')")
c.check(e is not None and "unseen in training" in e, "without the option, still an error: %s" % e)

c.done()
