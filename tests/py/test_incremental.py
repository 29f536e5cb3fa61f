#!/usr/bin/python3
"""Incremental retraining ("incremental": true) against full retrains.

- A table grows in steps: a categorical feature gains levels late (one of
  them sorting before the old reference, so the reference changes), some
  numbers are text, rows are weighted; a step adds no row at all.  After each
  step an incremental version and a full retrain over the same rows are
  compared to 1e-10 relative: estimates and standard errors (ml_weights),
  train and test metrics (r2, rmse, n), every ml_feature_info row, the test
  rows' factor (ml_compare's figures on the test rows), and data_hash, which
  must be equal.  The summary's rows_read must be the rows added since the
  parent.
- One step is also checked against R's lm on the whole table (test_size 0):
  both must be right, not only equal.
- Every refusal, with its message.
"""
import json
import os
import random
import shutil
import subprocess
import tempfile

from sqlml_test import Checker, args, connect

a = args()
c = Checker("incremental")
RSCRIPT = shutil.which("Rscript")
tmp = tempfile.mkdtemp()
con = connect(a.ext)
rnd = random.Random(15)


def rel(x, y):
    if x is None or y is None:
        return 0.0 if x is None and y is None else float("inf")
    return abs(x - y) / max(abs(x), abs(y), 1e-300) if x != y else 0.0


def train(name, opts):
    row = con.execute("SELECT ml_train(?, 'houses', 'price', '[\"sqft\",\"rooms\",\"city\"]', ?)",
                      (name, json.dumps(opts))).fetchone()
    return json.loads(row[0])


EFFECT = {"A": -30, "B": 0, "C": 25, "D": -15, "E": 40}
con.execute("CREATE TABLE houses(id INTEGER PRIMARY KEY, price REAL, sqft, rooms INTEGER, "
            "city TEXT, w REAL)")


def add(n, cities):
    for _ in range(n):
        city = rnd.choice(cities)
        sqft, rooms = rnd.uniform(600, 3000), rnd.randint(1, 6)
        price = 40 + 0.12 * sqft + 9 * rooms + EFFECT[city] + rnd.gauss(0, 12)
        # One row in five has its sqft as text: the same number to the model.
        v = repr(sqft) if rnd.random() < 0.2 else sqft
        # And a few NULLs, skipped and counted by column.
        v = None if rnd.random() < 0.03 else v
        city = None if rnd.random() < 0.02 else city
        con.execute("INSERT INTO houses(price, sqft, rooms, city, w) VALUES (?,?,?,?,?)",
                    (price, v, rooms, city, rnd.uniform(0.5, 2.0)))


def weights(name):
    return {r[0]: r[1:] for r in con.execute(
        "SELECT term, estimate, std_error FROM ml_weights(?)", (name,))}


def feature_info(name):
    rows = con.execute("SELECT * FROM ml_feature_info(?)", (name,))
    cols = [d[0] for d in rows.description]
    return [dict(zip(cols, r)) for r in rows]


def json_close(x, y, tol):
    if isinstance(x, dict) and isinstance(y, dict):
        return sorted(x) == sorted(y) and all(json_close(x[k], y[k], tol) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(json_close(u, v, tol) for u, v in zip(x, y))
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return rel(x, y) <= tol
    return x == y


def compare(inc, full, what, tol=1e-10):
    wi, wf = weights(inc["model"] + "@%d" % inc["version"]), weights(full["model"] + "@%d" % full["version"])
    if c.check(sorted(wi) == sorted(wf), "%s: terms %r, full %r" % (what, sorted(wi), sorted(wf))):
        worst = max(rel(wi[t][i], wf[t][i]) for t in wi for i in (0, 1))
        c.check(worst <= tol, "%s: estimates and standard errors differ by %.2e" % (what, worst))
    for side in ("train", "test"):
        mi, mf = inc["metrics"].get(side), full["metrics"].get(side)
        c.check(json_close(mi, mf, tol), "%s: %s metrics %r, full %r" % (what, side, mi, mf))
    fi = feature_info(inc["model"] + "@%d" % inc["version"])
    ff = feature_info(full["model"] + "@%d" % full["version"])
    for ri, rf in zip(fi, ff):
        for k in ri:
            x, y = ri[k], rf[k]
            if isinstance(x, str) and x[:1] in "[{":
                x, y = json.loads(x), json.loads(y)
            c.check(json_close(x, y, tol), "%s: ml_feature_info %s.%s %r, full %r"
                    % (what, ri["feature"], k, ri[k], rf[k]))
    c.check(len(fi) == len(ff), "%s: ml_feature_info rows" % what)
    sql_nulls = con.execute("SELECT count(*) - count(price), count(*) - count(sqft), count(*) - count(rooms), "
                            "count(*) - count(city) FROM houses").fetchone()
    c.check(inc["nulls"] == full["nulls"] and list(full["nulls"].values())[:4] == list(sql_nulls),
            "%s: NULLs by column %r, full %r, SQL %r" % (what, inc["nulls"], full["nulls"], sql_nulls))
    c.check(inc["data_hash"] == full["data_hash"], "%s: data_hash %s, full %s"
            % (what, inc["data_hash"], full["data_hash"]))
    # The test rows' factor: both models scored on each one's test rows, from the factor alone.
    if inc["metrics"].get("test", {}).get("n"):
        cmp = json.loads(con.execute("SELECT ml_compare(?, ?)", (
            "%s@%d" % (full["model"], full["version"]),
            "%s@%d" % (inc["model"], inc["version"]))).fetchone()[0])
        ra, rb = cmp["on_a_test_rows"], cmp["on_b_test_rows"]
        ok = ra["n"] == rb["n"] == inc["metrics"]["test"]["n"] and cmp.get("rows_read") == 0
        for m in ("a", "b"):
            ok = ok and all(rel(ra[m][k], rb[m][k]) <= tol and rel(ra["a"][k], ra["b"][k]) <= tol
                            for k in ("rmse", "r2"))
        c.check(ok, "%s: the test factors score alike: %r" % (what, cmp))


CONFIGS = [
    ("u", {"test_size": 0.2, "seed": 42}),
    ("w", {"test_size": 0.25, "seed": 7, "weights": "w"}),
    ("r", {"test_size": 0.2, "seed": 3, "l2": 0.5}),
]
STEPS = [(300, ["B", "C", "D"]), (60, ["B", "C", "D", "E"]), (45, ["A", "B", "C", "D", "E"]),
         (2, ["A", "C"]), (0, [])]
last = {}
for step, (n, cities) in enumerate(STEPS):
    add(n, cities)
    for tag, opts in CONFIGS:
        full = train("full_" + tag, opts)
        if step == 0:
            inc = train("inc_" + tag, opts)
            c.check("incremental" not in inc, "the first version, without the option, says nothing of it")
        else:
            inc = train("inc_" + tag, dict(opts, incremental=True))
            c.check(inc.get("incremental") is True and inc.get("parent") == last[tag],
                    "step %d %s: incremental from version %s: %r" % (step, tag, last[tag],
                                                                     {k: inc.get(k) for k in ("incremental", "parent")}))
            c.check(inc.get("rows_read") == n, "step %d %s: rows_read %r, %d rows were added"
                    % (step, tag, inc.get("rows_read"), n))
        last[tag] = inc["version"]
        compare(inc, full, "step %d %s" % (step, tag))

# "from": a reference, here an alias.
con.execute("SELECT ml_alias('inc_u', 'production', ?)", (last["u"],))
add(30, ["A", "E"])
inc = train("inc_u", {"test_size": 0.2, "seed": 42, "incremental": True, "from": "inc_u@production"})
full = train("full_u", {"test_size": 0.2, "seed": 42})
c.check(inc.get("parent") == last["u"] and inc.get("rows_read") == 30, "from an alias: %r" % inc)
compare(inc, full, "from an alias")
# The stored options keep incremental and from out.
opts = json.loads(con.execute("SELECT options FROM ml_model_versions WHERE name = 'inc_u' AND "
                              "version = ?", (inc["version"],)).fetchone()[0])
c.check("incremental" not in opts and "from" not in opts, "stored options: %r" % opts)

# Against R's lm on the whole table (test_size 0, weighted): both are right.
last_r = train("inc_all", {"test_size": 0, "weights": "w"})
add(40, ["A", "B", "E"])
inc = train("inc_all", {"test_size": 0, "weights": "w", "incremental": True})
if RSCRIPT is None:
    print("incremental: against R: SKIPPED: Rscript not found (Debian r-base-core)")
else:
    path = os.path.join(tmp, "houses.csv")
    with open(path, "w") as f:
        f.write("price,sqft,rooms,city,w\n")
        for r in con.execute("SELECT price, CAST(sqft AS REAL), rooms, city, w FROM houses"):
            f.write(",".join("NA" if v is None else str(v) if isinstance(v, str) else repr(v) for v in r) + "\n")
    script = os.path.join(tmp, "lm.R")
    with open(script, "w") as f:
        f.write('d <- read.csv(commandArgs(TRUE)[1], stringsAsFactors = TRUE)\n'
                'f <- summary(lm(price ~ sqft + rooms + city, data = d, weights = w))\n'
                'co <- coef(f)\n'
                'for (i in seq_len(nrow(co))) cat(rownames(co)[i], sprintf("%.17g", co[i, 1]), '
                'sprintf("%.17g", co[i, 2]), "\\n")\n'
                'cat("r2", sprintf("%.17g", f$r.squared), "\\n")\n')
    out = subprocess.run([RSCRIPT, script, path], capture_output=True, text=True, check=True).stdout
    r = {}
    for line in out.splitlines():
        p = line.split()
        r[p[0]] = [float(x) for x in p[1:]]
    mine = weights("inc_all@%d" % inc["version"])
    name = lambda t: t if t in ("(Intercept)", "sqft", "rooms") else "city" + t.split("=", 1)[1]
    worst = max(max(rel(v[0], r[name(t)][0]), rel(v[1], r[name(t)][1])) for t, v in mine.items())
    worst = max(worst, rel(inc["metrics"]["train"]["r2"], r["r2"][0]))
    c.check(len(mine) + 1 == len(r) and worst <= 1e-10,
            "against R's lm: terms %r, largest relative difference %.2e" % (sorted(mine), worst))
    print("incremental: against R's lm: largest relative difference %.1e" % worst)


# ---- refusals ----
def refused(sql, params, want, what):
    try:
        con.execute(sql, params).fetchone()
        c.check(False, "%s: no error" % what)
    except Exception as e:
        c.check(want in str(e), "%s: %s" % (what, e))


TRAIN = "SELECT ml_train(?, ?, 'price', '[\"sqft\",\"rooms\",\"city\"]', ?)"
U = {"test_size": 0.2, "seed": 42}
con.execute("CREATE VIEW hv AS SELECT * FROM houses")
con.execute("CREATE TABLE hw(id INTEGER PRIMARY KEY, price REAL, sqft REAL, rooms INTEGER, "
            "city TEXT, w REAL) WITHOUT ROWID")
con.execute("INSERT INTO hw SELECT id, price, CAST(sqft AS REAL), rooms, city, w FROM houses")
NEEDS = "ml_train(): option incremental needs a table with a rowid, which marks what a version read, got "
for src, what in (("hv", "a view ('hv')"), ("hw", "a WITHOUT ROWID table ('hw')"),
                  ("SELECT * FROM houses", "a query ('SELECT * FROM houses')")):
    refused(TRAIN, ("q", src, json.dumps(dict(U, incremental=True))), NEEDS + what, "source " + src)
CANNOT = "ml_train(): option incremental cannot be exact here: "
for opts, why in (({"nulls": "mean"}, '"nulls": "mean" imputes the mean of every row'),
                  ({"family": "poisson"}, "a GLM's IRLS reads every row again"),
                  ({"robust": "HC1"}, "robust standard errors need a pass over every row"),
                  ({"refine": True}, "refinement needs a pass over every row"),
                  ({"metrics": "full"}, 'metrics "full" (mae, max_error) need every row')):
    refused(TRAIN, ("inc_u", "houses", json.dumps(dict(U, incremental=True, **opts))), CANNOT + why,
            "option %r" % opts)
refused(TRAIN, ("inc_u", "houses", json.dumps(dict(U, incremental=True, unseen="zero"))),
        'option incremental cannot be exact with "unseen": "zero"', "unseen zero")
refused(TRAIN, ("nosuch", "houses", json.dumps(dict(U, incremental=True))),
        "ml_train(): option incremental builds on a version, and there is none: ", "no parent")
refused(TRAIN, ("inc_u", "houses", json.dumps({"test_size": 0.2, "seed": 43, "incremental": True})),
        "ml_train(): option seed differs from version", "another seed")
refused(TRAIN, ("inc_u", "houses", json.dumps(dict(U, **{"from": "inc_u"}))),
        'ml_train(): option from needs "incremental": true', "from without incremental")
refused("SELECT ml_train('inc_u', 'houses', 'price', '[\"sqft\",\"rooms\"]', ?)",
        (json.dumps(dict(U, incremental=True)),), "option incremental keeps the features of version",
        "other features")
# A version trained on a view has no mark.
con.execute("SELECT ml_train('viewed', 'hv', 'price', '[\"sqft\",\"rooms\",\"city\"]', ?)", (json.dumps(U),))
refused(TRAIN, ("viewed", "houses", json.dumps(dict(U, incremental=True))),
        "option incremental builds on version 1, trained on 'hv'", "a parent trained on a view")
con.execute("CREATE TABLE small AS SELECT * FROM houses")
con.execute("SELECT ml_train('nomark', 'small', 'price', '[\"sqft\",\"rooms\",\"city\"]', ?)", (json.dumps(U),))
# Rows deleted below the mark.
con.execute("DELETE FROM small WHERE rowid > (SELECT max(rowid) - 5 FROM small)")
refused(TRAIN, ("nomark", "small", json.dumps(dict(U, incremental=True))),
        "rows it read were deleted", "rows deleted")
# ml_models shows what an incremental version was built on (its metrics keep it).
last = con.execute("SELECT metrics ->> '$.incremental' FROM ml_models WHERE name = 'inc_all' "
                   "ORDER BY version DESC LIMIT 1").fetchone()
c.check(last is not None and last[0] is not None and '"parent"' in last[0] and '"rows_read"' in last[0],
        "ml_models shows the parent: %s" % (last,))
# Not built yet, and refused rather than wrong: a formula, cv.
con.execute("CREATE TABLE ff(price REAL, sqft REAL)")
con.executemany("INSERT INTO ff VALUES (?, ?)", [(3 + 2 * i + i % 3, i) for i in range(30)])
con.execute("SELECT ml_train('ff', 'ff', 'price ~ sqft + I(sqft^2)', NULL, '{\"test_size\":0.2}')").fetchall()
con.execute("INSERT INTO ff VALUES (100, 31)")
refused("SELECT ml_train('ff', 'ff', 'price ~ sqft + I(sqft^2)', NULL, ?)",
        (json.dumps(dict(U, incremental=True)),), "does not take a formula yet", "a formula")
con.execute("SELECT ml_train('fc', 'ff', 'price', '[\"sqft\"]', ?)", (json.dumps(dict(U, cv=3)),)).fetchall()
con.execute("INSERT INTO ff VALUES (100, 32)")
refused("SELECT ml_train('fc', 'ff', 'price', '[\"sqft\"]', ?)",
        (json.dumps(dict(U, cv=3, incremental=True)),), "does not take cv", "cv")
# A text in a column the parent read as numbers.
con.execute("INSERT INTO houses(price, sqft, rooms, city, w) VALUES (1, 'big', 2, 'B', 1)")
refused(TRAIN, ("inc_u", "houses", json.dumps(dict(U, incremental=True))), "sqft", "a text in a numeric column")
shutil.rmtree(tmp)
c.done()
