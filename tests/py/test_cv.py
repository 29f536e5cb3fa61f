#!/usr/bin/python3
"""ml_train's "cv" and "l2" lists against scikit-learn: the folds read with
ml_fold_of, LinearRegression or Ridge (on StandardScaler'd columns, as
docs/options.md defines l2) fitted on the other folds, per-fold rmse and r2
to 1e-9, the chosen l2; a categorical feature, weights, NULLs; the source
read once; ml_fold_of; the errors."""
import json
import random
import sqlite3

import numpy as np
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler

from sqlml_test import Checker, args, connect

a = args()
c = Checker("cv")
con = connect(a.ext)
ticks = [0]


def tick():
    ticks[0] += 1
    return 1


con.create_function("tick", 0, tick)
rng = random.Random(15)
con.execute("CREATE TABLE d(id INTEGER PRIMARY KEY, y REAL, x1 REAL, x2 REAL, cat TEXT, w REAL)")
rows = []
for i in range(1, 401):
    x1, x2 = rng.gauss(0, 1), rng.uniform(0, 10)
    cat = rng.choice("abc") if i % 97 else "z"  # 'z': in 4 rows only, absent from some folds' fits
    y = 1 + 2 * x1 - 0.5 * x2 + {"a": 0, "b": 1, "c": -1, "z": 3}[cat] + rng.gauss(0, 1)
    w = rng.uniform(0.5, 2)
    rows.append((i * 7, y, x1, None if i % 23 == 0 else x2, cat, w))
con.executemany("INSERT INTO d VALUES (?,?,?,?,?,?)", rows)
con.execute("CREATE VIEW v AS SELECT * FROM d WHERE tick()")


def close(x, y, tol=1e-9):
    return abs(x - y) <= tol * max(1.0, abs(y))


def design(data, levels):
    X = [[r[2], r[3]] + [1.0 if r[4] == lv else 0.0 for lv in levels[1:]] for r in data]
    if not levels:
        X = [[r[2], r[3]] for r in data]
    return np.array(X), np.array([r[1] for r in data]), np.array([r[5] for r in data])


def reference(k, seed, test_size, weighted, l2s, cats=True, table="d"):
    """Per penalty, per fold: (n, rmse, r2) from scikit-learn on the folds ml_fold_of gives."""
    side = "ml_split_of(id, %r, %d)" % (test_size, seed) if test_size else "'train'"
    got = con.execute("SELECT id, y, x1, x2, cat, w, %s, ml_fold_of(id, ?, ?) FROM %s" % (side, table),
                      (k, seed)).fetchall()
    train = [r for r in got if r[6] == "train" and r[3] is not None]
    levels = sorted({r[4] for r in train}) if cats else []
    X, y, w = design(train, levels)
    folds = np.array([r[7] for r in train])
    if not weighted:
        w = np.ones(len(y))
    out = []
    for l2 in l2s:
        per = []
        for f in range(k):
            tr, te = folds != f, folds == f
            if l2 == 0:
                fit = LinearRegression().fit(X[tr], y[tr], sample_weight=w[tr])
                pred = fit.predict(X[te])
            else:
                sc = StandardScaler().fit(X[tr], sample_weight=w[tr])
                fit = Ridge(alpha=l2, solver="svd").fit(sc.transform(X[tr]), y[tr], sample_weight=w[tr])
                pred = fit.predict(sc.transform(X[te]))
            rmse = float(np.sqrt(np.sum(w[te] * (y[te] - pred) ** 2) / np.sum(w[te])))
            per.append((int(te.sum()), rmse, float(r2_score(y[te], pred, sample_weight=w[te]))))
        out.append(per)
    return out


def train(opts, source="d", features='["x1","x2","cat"]'):
    return json.loads(con.execute("SELECT ml_train('m', ?, 'y', ?, ?)",
                                  (source, features, json.dumps(opts))).fetchone()[0])


def compare(label, s, ref, l2s):
    cv = s["metrics"]["cv"]
    means = [sum(p[1] for p in per) / len(per) for per in ref]
    best = min(range(len(l2s)), key=lambda i: (means[i], i))
    c.check(cv["l2"] == l2s[best], "%s: chosen l2 %r, scikit-learn's %r" % (label, cv["l2"], l2s[best]))
    for i, l2 in enumerate(l2s):
        c.check(cv["l2_path"][i]["l2"] == l2 and close(cv["l2_path"][i]["rmse"], means[i]),
                "%s: l2_path[%d] %r vs %r" % (label, i, cv["l2_path"][i], means[i]))
    for f, (n, rmse, r2) in enumerate(ref[best]):
        got = cv["folds"][f]
        c.check(got["n"] == n and close(got["rmse"], rmse) and close(got["r2"], r2),
                "%s: fold %d %r vs n %d rmse %r r2 %r" % (label, f, got, n, rmse, r2))
    rm = [p[1] for p in ref[best]]
    c.check(close(cv["mean"]["rmse"], float(np.mean(rm))) and
            close(cv["sd"]["rmse"], float(np.std(rm, ddof=1))),
            "%s: mean and sd %r %r" % (label, cv["mean"], cv["sd"]))


# ---- Least squares, k = 5, a categorical feature, NULLs skipped.
s = train({"cv": 5, "seed": 3})
compare("ols", s, reference(5, 3, 0.2, False, [0]), [0])
c.check(s["metrics"]["cv"]["k"] == 5, "k is reported")
opts = json.loads(con.execute("SELECT options FROM ml_model_versions WHERE name='m' "
                              "ORDER BY version DESC LIMIT 1").fetchone()[0])
c.check(opts.get("cv") == 5, "options store cv: %r" % opts)
mj = json.loads(con.execute("SELECT metrics FROM ml_model_versions WHERE name='m' "
                            "ORDER BY version DESC LIMIT 1").fetchone()[0])
c.check(mj.get("cv") == s["metrics"]["cv"], "the version's metrics hold cv")

# ---- Weights, k = 10, no test rows.
s = train({"cv": 10, "seed": 11, "test_size": 0, "weights": "w"})
compare("weighted", s, reference(10, 11, 0, True, [0]), [0])

# ---- A ridge path, weighted, k = 4.
l2s = [0, 0.1, 1, 10, 100]
s = train({"cv": 4, "seed": 5, "l2": l2s, "weights": "w"})
ref = reference(4, 5, 0.2, True, l2s)
compare("ridge path", s, ref, l2s)
opts = json.loads(con.execute("SELECT options FROM ml_model_versions WHERE name='m' "
                              "ORDER BY version DESC LIMIT 1").fetchone()[0])
c.check(opts["l2"] == s["metrics"]["cv"]["l2"], "options store the chosen l2: %r" % opts)
# A path where a large penalty wins: y is noise.
con.execute("CREATE TABLE noise(id INTEGER PRIMARY KEY, y REAL, x1 REAL, x2 REAL, cat TEXT, w REAL)")
con.executemany("INSERT INTO noise VALUES (?,?,?,?,?,?)",
                [(i, rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(0, 1), "a", 1) for i in range(40)])
s = train({"cv": 5, "l2": [0, 1000]}, source="noise", features='["x1","x2"]')
c.check(s["metrics"]["cv"]["l2"] in (0, 1000), "noise: a penalty is chosen")
# A number l2 with cv is the ridge fit of every fold.
s = train({"cv": 3, "seed": 1, "l2": 2.5})
compare("ridge number", s, reference(3, 1, 0.2, False, [2.5]), [2.5])

# ---- A level in one training row: the fit without its fold has an all-zero
# column, aliased (coefficient 0) as LinearRegression's least-norm solution is.
con.execute("CREATE TABLE d1 AS SELECT * FROM d")
con.execute("INSERT INTO d1 VALUES (1, 3.5, 0.2, 4.0, 'q', 1.0)")
for l2 in ([0], [0, 3]):
    s = train({"cv": 5, "seed": 2, "test_size": 0, "l2": l2, "key": "id"}, source="d1")
    compare("one-row level %r" % l2, s, reference(5, 2, 0, False, l2, table="d1"), l2)

# ---- One read of the source: a view whose rows are counted as they are read.
ticks[0] = 0
s = train({"cv": 5, "seed": 3, "key": "id", "l2": [0, 1]}, source="v", features='["x1","x2"]')
c.check(ticks[0] == len(rows), "the source is read once: %d rows, %d reads" % (len(rows), ticks[0]))
compare("view", s, reference(5, 3, 0.2, False, [0, 1], cats=False), [0, 1])
# With a text feature the plan looks at one row first (NOT EXISTS), cv or not.
ticks[0] = 0
train({"key": "id"}, source="v")
plain = ticks[0]
ticks[0] = 0
s = train({"cv": 5, "seed": 3, "key": "id", "l2": [0, 1]}, source="v")
c.check(ticks[0] == plain <= len(rows) + 1, "cv reads no more: %d vs %d" % (ticks[0], plain))
compare("view, categorical", s, reference(5, 3, 0.2, False, [0, 1]), [0, 1])

# ---- ml_fold_of: in range, stable, balanced, independent of the side.
fo = con.execute("SELECT ml_fold_of(7, 5, 42), ml_fold_of(7.0, 5, 42), ml_fold_of('a', 20, -1)").fetchone()
c.check(fo[0] == fo[1] and 0 <= fo[0] < 5 and 0 <= fo[2] < 20, "ml_fold_of: %r" % (fo,))
counts = con.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999) "
                     "SELECT ml_fold_of(i, 4, 1) f, count(*) FROM n GROUP BY f").fetchall()
c.check(len(counts) == 4 and all(2300 < k < 2700 for _, k in counts), "folds balanced: %r" % counts)
joint = con.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999) "
                    "SELECT count(*) FROM n WHERE ml_split_of(i, 0.5, 1) = 'test' "
                    "AND ml_fold_of(i, 2, 1) = 0").fetchone()[0]
c.check(2300 < joint < 2700, "fold independent of side: %d of 10000" % joint)


# ---- Errors.
def error(sql, params, want):
    try:
        con.execute(sql, params).fetchone()
        c.check(False, "no error for %s %r" % (sql, params))
    except sqlite3.Error as e:
        c.check(want in str(e), "%r: got %r" % (want, str(e)))


T = "SELECT ml_train('e', 'd', 'y', '[\"x1\"]', ?)"
error(T, ('{"cv":1}',), "ml_train(): option cv must be an integer from 2 to 20")
error(T, ('{"cv":50}',), "ml_train(): option cv must be an integer from 2 to 20")
error(T, ('{"cv":2.5}',), "ml_train(): option cv must be an integer from 2 to 20")
error(T, ('{"l2":[0,1]}',), "ml_train(): option l2 is a list of penalties to choose from: add cv")
error(T, ('{"cv":5,"l2":[]}',), "ml_train(): option l2 must be a number >= 0, or (with cv)")
error(T, ('{"cv":5,"l2":[1,-1]}',), "ml_train(): option l2 must be a number >= 0")
error(T, ('{"cv":5,"l2":[0,1],"intercept":false}',), "ml_train(): option l2 needs the intercept")
error(T, ('{"cv":5,"l2":[0,1],"robust":"HC1"}',), "ml_train(): option robust does not apply")
error(T, ('{"cv":5,"family":"poisson"}',), "ml_train(): option cv applies to family \"gaussian\" only")
con.execute("CREATE TABLE few(id INTEGER PRIMARY KEY, y REAL, x1 REAL)")
con.executemany("INSERT INTO few VALUES (?,?,?)", [(i, i, i * i) for i in range(6)])
# With test_size 0.5 the few training rows leave some fold empty.
error("SELECT ml_train('e', 'few', 'y', '[\"x1\"]', '{\"cv\":20,\"test_size\":0.5}')", (),
      "has no training rows")
error("SELECT ml_train('e', 'SELECT * FROM few', 'y', '[\"x1\"]', '{\"cv\":2}')", (),
      "option cv needs a key")
error("SELECT ml_fold_of(1, 1, 0)", (), "ml_fold_of(): k must be an integer from 2 to 20, got 1")
error("SELECT ml_fold_of(1, 3, 'x')", (), "ml_fold_of(): seed must be an integer, got 'x'")
error("SELECT ml_fold_of(NULL, 3, 0)", (), "ml_fold_of(): the key is NULL")
# A formula takes cv too: the same folds and figures as the same terms listed.
byf = json.loads(con.execute("SELECT ml_train('cvf', 'd', 'y ~ x1 + x2 + cat', NULL, "
                             "'{\"cv\":4,\"l2\":[0,1]}')").fetchone()[0])["metrics"]["cv"]
byl = json.loads(con.execute("SELECT ml_train('cvl', 'd', 'y', '[\"x1\",\"x2\",\"cat\"]', "
                             "'{\"cv\":4,\"l2\":[0,1]}')").fetchone()[0])["metrics"]["cv"]
c.check(byf["l2"] == byl["l2"] and all(abs(f["rmse"] - g["rmse"]) <= 1e-12 * g["rmse"]
                                       for f, g in zip(byf["folds"], byl["folds"])),
        "a formula's cv equals the listed terms': %s vs %s" % (byf["folds"], byl["folds"]))
c.done()
