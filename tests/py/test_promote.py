#!/usr/bin/python3
"""ml_compare and ml_promote on identical rows, ml_alias_history, and the
pipeline of examples/pipeline.sql through `sqlite3 -bail`.

- ml_compare's figures for both models on a version's test rows equal
  scikit-learn's mean_squared_error / r2_score of numpy least-squares fits,
  the rows chosen by ml_split_of (the rule ml_train uses): the same
  features, a model with fewer features, a category level the older model
  never saw (read as the reference), another reference level, weights.
- Where one model cannot be written in the other's columns, that side says
  why, and an error comes only when neither side can be scored.
- ml_promote moves the alias only when the gate holds (absolute, relative,
  max_degradation, r2), records each move in ml_alias_history in the same
  statement, refuses bad rules, and with "required" fails the statement.
- ml_alias_history refuses UPDATE and DELETE; a registry made before it
  gains it on the next write; a trigger added to it makes the registry
  untrusted.
- examples/pipeline.sql exits 0 when the gate passes and non-zero when it
  fails, leaving the alias where it was.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile

import numpy as np
from sklearn.metrics import mean_squared_error, r2_score

from sqlml_test import Checker, args, connect, error_of

a = args()
c = Checker("promote")
tmp = tempfile.mkdtemp()
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def close(x, y, tol=1e-9):
    return abs(x - y) <= tol * max(1.0, abs(y))


def one(con, sql, *p):
    return con.execute(sql, p).fetchone()[0]



def data(con, n=400, seed=3, levels="bcd"):
    rng = np.random.default_rng(seed)
    con.execute("CREATE TABLE h(id INTEGER PRIMARY KEY, x1 REAL, x2 REAL, city TEXT, w REAL, y REAL)")
    rows = []
    for i in range(n):
        x1, x2 = rng.normal(10, 3), rng.uniform(0, 5)
        city = levels[i % len(levels)]
        y = 3 + 2 * x1 - x2 + {"a": -2, "b": 0, "c": 1.5, "d": 4, "e": 7}[city] + rng.normal(0, 1)
        rows.append((x1, x2, city, rng.uniform(0.5, 2), y))
    con.executemany("INSERT INTO h(x1, x2, city, w, y) VALUES (?,?,?,?,?)", rows)


def design(rows, feats, levels):
    cols = [np.ones(len(rows))]
    for f in feats:
        if f == "city":
            for lv in levels[1:]:
                cols.append(np.array([1.0 if r["city"] == lv else 0.0 for r in rows]))
        else:
            cols.append(np.array([r[f] for r in rows]))
    return np.column_stack(cols)


def side(con, test_size, seed, where="1"):
    q = ("SELECT id, x1, x2, city, w, y, ml_split_of(id, ?, ?) AS s FROM h WHERE %s ORDER BY id" % where)
    out = {"train": [], "test": []}
    for r in con.execute(q, (test_size, seed)):
        out[r[6]].append(dict(zip(["id", "x1", "x2", "city", "w", "y"], r[:6])))
    return out


def lstsq(rows, feats, levels, weighted=False):
    X, y = design(rows, feats, levels), np.array([r["y"] for r in rows])
    sw = np.sqrt([r["w"] for r in rows]) if weighted else np.ones(len(rows))
    return np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]


def ref_scores(beta, rows, feats, levels, weighted=False):
    X, y = design(rows, feats, levels), np.array([r["y"] for r in rows])
    w = np.array([r["w"] for r in rows]) if weighted else None
    pred = X @ beta
    return np.sqrt(mean_squared_error(y, pred, sample_weight=w)), r2_score(y, pred, sample_weight=w)


def check_side(got, ref_a, ref_b, what):
    c.check(close(got["a"]["rmse"], ref_a[0]) and close(got["a"]["r2"], ref_a[1]),
            "%s: first model %s vs scikit-learn %s" % (what, got["a"], ref_a))
    c.check(close(got["b"]["rmse"], ref_b[0]) and close(got["b"]["r2"], ref_b[1]),
            "%s: second model %s vs scikit-learn %s" % (what, got["b"], ref_b))


# ---- ml_compare against scikit-learn ----
con = connect(a.ext)
data(con)
T = '{"test_size":0.3,"seed":7}'
con.execute("SELECT ml_train('m', 'h', 'y', '[\"x1\",\"x2\",\"city\"]', ?)", (T,)).fetchall()
con.execute("SELECT ml_train('m', 'h', 'y', '[\"x1\",\"city\"]', ?)", (T,)).fetchall()
s = side(con, 0.3, 7)
b1 = lstsq(s["train"], ["x1", "x2", "city"], "bcd")
b2 = lstsq(s["train"], ["x1", "city"], "bcd")
r = json.loads(one(con, "SELECT ml_compare('m@2', 'm@1')"))
check_side(r["on_b_test_rows"], ref_scores(b2, s["test"], ["x1", "city"], "bcd"),
           ref_scores(b1, s["test"], ["x1", "x2", "city"], "bcd"), "fewer features, on b's rows")
c.check("unavailable" in r["on_a_test_rows"] and "x2" in r["on_a_test_rows"]["unavailable"],
        "a's rows cannot score the model with x2: %s" % r["on_a_test_rows"])
c.check(r["rows_read"] == 0, "no row read")
stored = json.loads(one(con, "SELECT metrics FROM ml_model_versions WHERE name = 'm' AND version = 1"))
c.check(close(r["on_b_test_rows"]["b"]["rmse"], stored["test"]["rmse"], 1e-12),
        "b on its own test rows is its stored test rmse")

# New levels: version 3 sees level 'a' (a new reference) and 'e'; the older
# model reads unseen levels as the reference only when trained so.
con.execute("INSERT INTO h(x1, x2, city, w, y) SELECT x1 + 1, x2, CASE id % 2 WHEN 0 THEN 'a' ELSE 'e' END, "
            "w, y + CASE id % 2 WHEN 0 THEN -2 ELSE 7 END FROM h WHERE id <= 120")
con.execute("SELECT ml_train('m', 'h', 'y', '[\"x1\",\"x2\",\"city\"]', ?)", (T,)).fetchall()
r = json.loads(one(con, "SELECT ml_compare('m@1', 'm@3')"))
c.check("level 'a' of city is unseen" in r["on_b_test_rows"].get("unavailable", ""),
        "unseen levels need a read: %s" % r)
c.check("a" in r["on_a_test_rows"], "the newer model scores the older one's rows: %s" % r)
U = '{"test_size":0.3,"seed":7,"unseen":"zero","key":"id"}'
con.execute("SELECT ml_train('u', 'h', 'y', '[\"x1\",\"x2\",\"city\"]', ?)", (U,)).fetchall()  # u@1: all rows
con.execute("SELECT ml_train('u', 'SELECT * FROM h WHERE id <= 400', 'y', '[\"x1\",\"x2\",\"city\"]', ?)",
            (U,)).fetchall()
err = error_of(con, "SELECT ml_compare('u@2', 'u@1')")
c.check(err is None, "a model reading unseen levels as the reference is scored on rows with them: %s" % err)
if err is None:
    s_all = side(con, 0.3, 7)
    s_old = side(con, 0.3, 7, "id <= 400")
    bo = lstsq(s_old["train"], ["x1", "x2", "city"], "bcd")
    bn = lstsq(s_all["train"], ["x1", "x2", "city"], "abcde")
    # The old model in the new columns: unseen a and e read as its reference b.
    Xn = design(s_all["test"], ["x1", "x2", "city"], "abcde")
    old_on_new = np.array([bo[0] + bo[1] * rr["x1"] + bo[2] * rr["x2"] +
                           {"c": bo[3], "d": bo[4]}.get(rr["city"], 0.0) for rr in s_all["test"]])
    y = np.array([rr["y"] for rr in s_all["test"]])
    ref_a = (np.sqrt(mean_squared_error(y, old_on_new)), r2_score(y, old_on_new))
    r = json.loads(one(con, "SELECT ml_compare('u@2', 'u@1')"))
    check_side(r["on_b_test_rows"], ref_a, ref_scores(bn, s_all["test"], ["x1", "x2", "city"], "abcde"),
               "another reference level and new levels")

# Weights: both scored with the rows' weights.
W = '{"test_size":0.3,"seed":7,"weights":"w","key":"id"}'
con.execute("SELECT ml_train('w', 'SELECT * FROM h WHERE id <= 400', 'y', '[\"x1\",\"x2\"]', ?)", (W,)).fetchall()
con.execute("SELECT ml_train('w', 'SELECT * FROM h WHERE id <= 400', 'y', '[\"x1\",\"x2\",\"city\"]', ?)",
            (W,)).fetchall()
s = side(con, 0.3, 7, "id <= 400")
bw1 = lstsq(s["train"], ["x1", "x2"], "bcd", True)
bw2 = lstsq(s["train"], ["x1", "x2", "city"], "bcd", True)
r = json.loads(one(con, "SELECT ml_compare('w@1', 'w@2')"))
check_side(r["on_b_test_rows"], ref_scores(bw1, s["test"], ["x1", "x2"], "bcd", True),
           ref_scores(bw2, s["test"], ["x1", "x2", "city"], "bcd", True), "weighted")

# By BLOB too; and what cannot be compared.
r2 = json.loads(one(con, "SELECT ml_compare((SELECT model FROM ml_model_versions WHERE name = 'w' AND version = 1), 'w@2')"))
c.check(r2 == r, "a BLOB argument compares as its reference")
con.execute("SELECT ml_train('z', 'h', 'y', '[\"x1\"]', '{\"test_size\":0}')").fetchall()
err = error_of(con, "SELECT ml_compare('z', 'z')")
c.check(err is not None and err.startswith("ml_compare(): the models cannot be scored on the same rows "
                                           "(neither model keeps its test rows' factor), and neither "
                                           "is a stored version with test rows"),
        "no test rows: %s" % err)
con.execute("CREATE TABLE g(x REAL, y INTEGER)")
con.executemany("INSERT INTO g VALUES (?, ?)", [(i / 10, int(i % 3 == 0)) for i in range(100)])
con.execute("SELECT ml_train('g', 'g', 'y', '[\"x\"]', '{\"family\":\"binomial\",\"test_size\":0.3}')").fetchall()
# A GLM keeps no test factor: its test rows are read (test_compare_read.py checks the figures).
r = json.loads(one(con, "SELECT ml_compare('g', 'g')"))
c.check(r["rows_read"] == 100 and "test rows' factor" in r["on_b_test_rows"]["read"] and
        r["on_b_test_rows"]["b_minus_a"]["log_loss"] == 0, "a GLM's test rows are read: %s" % r)
con.close()

# ---- ml_promote ----
con = connect(a.ext, isolation_level=None)
data(con)
con.execute("SELECT ml_train('p', 'SELECT * FROM h WHERE id <= 200', 'y', '[\"x1\"]', ?)",
            ('{"test_size":0.3,"seed":7,"key":"id"}',)).fetchall()
con.execute("SELECT ml_train('p', 'h', 'y', '[\"x1\",\"x2\",\"city\"]', ?)", (T,)).fetchall()
d = json.loads(one(con, "SELECT ml_promote('p', 'prod', '{\"version\":1}')"))
c.check(d["promoted"] and d["from"] is None and d["to"] == 1 and d["reason"] == "the alias is new",
        "a new alias: %s" % d)
d = json.loads(one(con, "SELECT ml_promote('p', 'prod', '{\"min_improvement\":0.05,\"relative\":true}')"))
s = side(con, 0.3, 7)
ref_new = ref_scores(lstsq(s["train"], ["x1", "x2", "city"], "bcd"), s["test"], ["x1", "x2", "city"], "bcd")
s1 = side(con, 0.3, 7, "id <= 200")
ref_old = ref_scores(lstsq(s1["train"], ["x1"], "bcd"), s["test"], ["x1"], "bcd")
c.check(d["promoted"] and d["from"] == 1 and d["to"] == 2 and d["rows"] == "test rows of version 2",
        "a better version is promoted: %s" % d)
c.check(close(d["champion"], ref_old[0]) and close(d["challenger"], ref_new[0]) and
        close(d["improvement"], (ref_old[0] - ref_new[0]) / ref_old[0]),
        "figures as scikit-learn's: %s vs %s %s" % (d, ref_old, ref_new))
c.check(one(con, "SELECT version FROM ml_aliases WHERE name = 'p' AND alias = 'prod'") == 2, "moved")
# Back to version 1: worse, so refused; with required, an error; the alias stays.
d = json.loads(one(con, "SELECT ml_promote('p', 'prod', '{\"version\":1}')"))
c.check(not d["promoted"] and d["improvement"] < 0 and "no worse" in d["reason"], "worse is refused: %s" % d)
err = error_of(con, "SELECT ml_promote('p', 'prod', '{\"version\":1,\"required\":true}')")
c.check(err is not None and err.startswith("ml_promote(): the gate did not pass, alias 'prod' stays at version 2"),
        "required: %s" % err)
d = json.loads(one(con, "SELECT ml_promote('p', 'prod', '{\"version\":1,\"metric\":\"r2\",\"max_degradation\":1}')"))
c.check(d["promoted"] and d["metric"] == "r2" and d["threshold"] == -1, "max_degradation lets it through: %s" % d)
d = json.loads(one(con, "SELECT ml_promote('p', 'prod', '{\"version\":1}')"))
c.check(d["promoted"] and "already" in d["reason"], "already there: %s" % d)
hist = con.execute("SELECT name, alias, from_version, to_version, moved_by, json_extract(figures, '$.promoted') "
                   "FROM ml_alias_history ORDER BY seq").fetchall()
c.check(hist == [("p", "prod", None, 1, "ml_promote", 1), ("p", "prod", 1, 2, "ml_promote", 1),
                 ("p", "prod", 2, 1, "ml_promote", 1)], "history: %s" % hist)
con.execute("SELECT ml_alias('p', 'staging', 2)").fetchall()
con.execute("SELECT ml_alias('p', 'staging', NULL)").fetchall()
hist = con.execute("SELECT alias, from_version, to_version, moved_by, figures FROM ml_alias_history "
                   "WHERE alias = 'staging' ORDER BY seq").fetchall()
c.check(hist == [("staging", None, 2, "ml_alias", None), ("staging", 2, None, "ml_alias", None)],
        "ml_alias is recorded: %s" % hist)
for sql in ("UPDATE ml_alias_history SET to_version = 9", "DELETE FROM ml_alias_history"):
    err = error_of(con, sql)
    c.check(err == "ml_alias_history is append-only", "%s: %s" % (sql, err))

for rule, want in [('{"metric":"mse"}', "rule metric must be one of rmse, mae, r2"),
                   ('{"metric":"auc"}', "rule metric auc does not measure a linear model"),
                   ('{"min_improvement":-1}', "rule min_improvement must be a number >= 0"),
                   ('{"min_improvement":0.1,"max_degradation":0.1}', "not both"),
                   ('{"version":0}', "rule version must be a version number"),
                   ('{"version":9}', "no version 9"),
                   ('{"colour":1}', "unknown rule key 'colour'"),
                   ('[1]', "argument 3 must be a JSON object"),
                   ('{"required":1}', "rule required must be true or false")]:
    err = error_of(con, "SELECT ml_promote('p', 'prod', ?)", rule)
    c.check(err is not None and want in err, "rule %s: %s" % (rule, err))
for args_, want in [(("", "prod"), "argument 1 must be a model name"), (("p", "latest"), "argument 2"),
                    (("p", "a@b"), "argument 2"), (("nope", "prod"), "no model named 'nope'")]:
    err = error_of(con, "SELECT ml_promote(?, ?)", *args_)
    c.check(err is not None and want in err, "%s: %s" % (args_, err))
err = error_of(con, "SELECT ml_promote('z', 'prod') FROM h")
c.check(err is not None, "no test rows, or in a loop: %s" % err)
err = error_of(con, "CREATE VIEW v AS SELECT ml_promote('p', 'prod')")
if err is None:
    err = error_of(con, "SELECT * FROM v")
c.check(err is not None, "ml_promote cannot run from a view: %s" % err)
# Rolled back with its transaction: the alias and the history.
n = one(con, "SELECT count(*) FROM ml_alias_history")
con.execute("BEGIN")
con.execute("SELECT ml_promote('p', 'prod', '{\"version\":2}')").fetchall()
con.execute("ROLLBACK")
c.check(one(con, "SELECT count(*) FROM ml_alias_history") == n and
        one(con, "SELECT version FROM ml_aliases WHERE alias = 'prod'") == 1, "a rollback undoes the move")
con.close()

# ---- the registry's trust covers the history ----
path = os.path.join(tmp, "t.db")
con = connect(a.ext, path, isolation_level=None)
data(con, 100)
con.execute("SELECT ml_train('t', 'h', 'y', '[\"x1\"]', ?)", (T,)).fetchall()
con.execute("CREATE TRIGGER evil AFTER INSERT ON ml_alias_history BEGIN DELETE FROM h; END")
err = error_of(con, "SELECT ml_alias('t', 'prod', 1)")
c.check(err is not None and "trigger 'evil' on ml_alias_history is not sqlml's" in err, "a foreign trigger: %s" % err)
c.check(one(con, "SELECT count(*) FROM h") == 100, "the foreign trigger did not run")
con.execute("DROP TRIGGER evil")
con.execute("DROP TRIGGER ml_alias_history_move")
con.execute("DROP TABLE ml_alias_history")  # as a registry made before 0.3
c.check(one(con, "SELECT ml_alias('t', 'prod', 1)") == 1, "an older registry gains the history")
c.check(one(con, "SELECT count(*) FROM ml_alias_history") == 1, "and records the move")
con.close()

# ---- the pipeline through sqlite3 -bail ----
sqlite3_bin = shutil.which(a.sqlite3) or a.sqlite3
path = os.path.join(tmp, "houses.db")
con = sqlite3.connect(path, isolation_level=None)
con.execute("CREATE TABLE houses(id INTEGER PRIMARY KEY, sqft REAL, rooms INTEGER, city TEXT, price REAL)")
con.execute("CREATE TABLE incoming(sqft REAL, rooms INTEGER, city TEXT, price REAL)")
rng = np.random.default_rng(11)


def batch(n, slope):
    return [(s, int(r), ci, 50 + slope * s + 10 * r + {"x": 0, "y": 30}[ci] + rng.normal(0, 5))
            for s, r, ci in zip(rng.uniform(500, 3000, n), rng.integers(1, 6, n), rng.choice(["x", "y"], n))]


def run_pipeline(rows):
    con.executemany("INSERT INTO incoming VALUES (?,?,?,?)", rows)
    p = subprocess.run([sqlite3_bin, "-bail", "-cmd", ".load " + os.path.splitext(a.ext)[0], path],
                       stdin=open(os.path.join(ROOT, "examples", "pipeline.sql")), capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


rc, out = run_pipeline(batch(400, 0.2))
c.check(rc == 0 and one(con, "SELECT version FROM ml_aliases WHERE alias = 'production'") == 1,
        "the first run sets production: %d %s" % (rc, out))
rc, out = run_pipeline(batch(40, 0.2))  # more of the same: not 5% better
c.check(rc != 0 and "the gate did not pass" in out and
        one(con, "SELECT version FROM ml_aliases WHERE alias = 'production'") == 1,
        "a version not 5%% better stops the run with an error: %d %s" % (rc, out))
rc, out = run_pipeline(batch(800, 0.3))  # prices moved: the new version is much better
c.check(rc == 0 and one(con, "SELECT version FROM ml_aliases WHERE alias = 'production'") == 3,
        "a better version is promoted: %d %s" % (rc, out))
con.close()
c.done()
