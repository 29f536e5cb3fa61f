#!/usr/bin/python3
"""ml_compare and ml_promote when the test rows must be read (compare_read.c).

When neither model's coefficients can be written in the columns of the
other's test factor (other features on both sides, GLMs), or the gate's
metric needs every row (mae, auc), the version's test rows are read once
from its stored source, split as ml_train split them.

References: the test and training rows chosen by ml_split_of (the rule
ml_train uses, documented), linear fits by numpy least squares on the
training rows, and the metrics by scikit-learn (mean_squared_error,
mean_absolute_error, r2_score, mean_absolute_percentage_error,
explained_variance_score, max_error; log_loss, accuracy_score,
brier_score_loss, roc_auc_score). The binomial models' coefficients are
sqlml's (ml_weights; tests/ref/glm_vs_r.py checks them against R's glm):
here the rows and the metrics are under test.
"""
import json
import os
import subprocess
import tempfile

import numpy as np
from sklearn import metrics as skm

from sqlml_test import Checker, args, connect, error_of

a = args()
c = Checker("compare_read")


def close(x, y, tol=1e-9):
    return abs(x - y) <= tol * max(1.0, abs(y))


def one(con, sql, *p):
    return con.execute(sql, p).fetchone()[0]


def data(con, n=500, seed=11):
    rng = np.random.default_rng(seed)
    con.execute("CREATE TABLE h(id INTEGER PRIMARY KEY, x1 REAL, x2 REAL, city TEXT, y REAL, yb INTEGER)")
    rows = []
    for i in range(n):
        x1, x2, city = rng.normal(10, 3), rng.uniform(0, 5), "bcd"[i % 3]
        y = 3 + 2 * x1 - x2 + {"b": 0, "c": 1.5, "d": 4}[city] + rng.normal(0, 1)
        p = 1 / (1 + np.exp(-(-4 + 0.35 * x1 + 0.3 * x2)))
        rows.append((x1, x2, city, y, int(rng.uniform() < p)))
    con.executemany("INSERT INTO h(x1, x2, city, y, yb) VALUES (?,?,?,?,?)", rows)


def sides(con, test_size, seed, where="1"):
    out = {"train": [], "test": []}
    q = "SELECT x1, x2, city, y, yb, ml_split_of(id, ?, ?) FROM h WHERE %s ORDER BY id" % where
    for r in con.execute(q, (test_size, seed)):
        out[r[5]].append(dict(zip(["x1", "x2", "city", "y", "yb"], r[:5])))
    return out


def design(rows, feats):
    cols = [np.ones(len(rows))]
    for f in feats:
        if f == "city":
            cols += [np.array([1.0 if r["city"] == lv else 0.0 for r in rows]) for lv in "cd"]
        else:
            cols.append(np.array([r[f] for r in rows], dtype=float))
    return np.column_stack(cols)


def linear_ref(s, feats):
    beta = np.linalg.lstsq(design(s["train"], feats), np.array([r["y"] for r in s["train"]]), rcond=None)[0]
    y, pred = np.array([r["y"] for r in s["test"]]), design(s["test"], feats) @ beta
    return {"rmse": np.sqrt(skm.mean_squared_error(y, pred)), "mae": skm.mean_absolute_error(y, pred),
            "r2": skm.r2_score(y, pred), "mape": skm.mean_absolute_percentage_error(y, pred),
            "explained_variance": skm.explained_variance_score(y, pred), "max_error": skm.max_error(y, pred)}


def check_metrics(got, ref, what, tol=1e-9):
    bad = {k: (got.get(k), v) for k, v in ref.items() if got.get(k) is None or not close(got[k], v, tol)}
    c.check(not bad, "%s: differs from scikit-learn: %s" % (what, bad))


T = '{"test_size":0.3,"seed":5}'
con = connect(a.ext, isolation_level=None)
data(con)
s = sides(con, 0.3, 5)

# ---- two linear models with features the other lacks: read once ----
con.execute("SELECT ml_train('m', 'h', 'y', '[\"x1\",\"x2\"]', ?)", (T,)).fetchall()
con.execute("SELECT ml_train('m', 'h', 'y', '[\"x1\",\"city\"]', ?)", (T,)).fetchall()
r = json.loads(one(con, "SELECT ml_compare('m@1', 'm@2')"))
side = r.get("on_b_test_rows", {})
c.check(r.get("rows_read") == 500 and side.get("n") == len(s["test"]) and "x2" in side.get("read", ""),
        "b's test rows read once, saying why: %s" % {k: v for k, v in side.items() if k in ("n", "read")})
ra, rb = linear_ref(s, ["x1", "x2"]), linear_ref(s, ["x1", "city"])
check_metrics(side.get("a", {}), ra, "first model on b's rows")
check_metrics(side.get("b", {}), rb, "second model on b's rows")
c.check(close(side["b_minus_a"]["mae"], rb["mae"] - ra["mae"]), "b_minus_a holds the differences")
stored = json.loads(one(con, "SELECT metrics FROM ml_model_versions WHERE name = 'm' AND version = 2"))
c.check(close(side["b"]["rmse"], stored["test"]["rmse"], 1e-12) and
        one(con, "SELECT n_test FROM ml_model_versions WHERE name = 'm' AND version = 2") == side["n"],
        "the rows read are the version's test rows (its stored test rmse and n_test)")

# Rows added later are not the version's: it reads up to its mark.
con.execute("INSERT INTO h(x1, x2, city, y, yb) SELECT x1, x2, city, y + 100, yb FROM h WHERE id <= 100")
r2 = json.loads(one(con, "SELECT ml_compare('m@1', 'm@2')"))
c.check(r2["on_b_test_rows"] == side and r2["rows_read"] == 500,
        "rows past the version's mark are not read: %s" % r2.get("rows_read"))
con.execute("DELETE FROM h WHERE id > 500")

# ---- ml_promote by mae, which needs the rows ----
con.execute("SELECT ml_alias('m', 'prod', 1)").fetchall()
d = json.loads(one(con, "SELECT ml_promote('m', 'prod', '{\"metric\":\"mae\"}')"))
c.check(d["metric"] == "mae" and d["rows_read"] == 500 and d["n"] == len(s["test"]) and
        close(d["champion"], ra["mae"]) and close(d["challenger"], rb["mae"]) and
        d["promoted"] == (rb["mae"] <= ra["mae"]), "promote by mae: %s" % d)
con.execute("SELECT ml_alias('m', 'prod', 1)").fetchall()
err = error_of(con, "SELECT ml_promote('m', 'prod', '{\"metric\":\"mae\",\"min_improvement\":1e9,"
                    "\"required\":true}')")
c.check(err is not None and "the gate did not pass" in err and
        one(con, "SELECT version FROM ml_aliases WHERE name = 'm' AND alias = 'prod'") == 1,
        "a required gate by mae fails the statement and leaves the alias: %s" % err)
# rmse where no factor can hold both models: read too.
d = json.loads(one(con, "SELECT ml_promote('m', 'prod', '{\"metric\":\"rmse\"}')"))
c.check(d["rows_read"] == 500 and close(d["challenger"], rb["rmse"]) and close(d["champion"], ra["rmse"]),
        "promote by rmse reads when neither factor holds both: %s" % d)

# ---- binomial models: GLMs keep no factor; their test rows are read ----
B = '{"family":"binomial","test_size":0.3,"seed":5}'
con.execute("SELECT ml_train('g', 'h', 'yb', '[\"x1\"]', ?)", (B,)).fetchall()
con.execute("SELECT ml_train('g', 'h', 'yb', '[\"x1\",\"x2\"]', ?)", (B,)).fetchall()


def glm_ref(version, feats):
    beta = [row[0] for row in con.execute("SELECT estimate FROM ml_weights('g@%d') ORDER BY rowid" % version)]
    y = np.array([r["yb"] for r in s["test"]])
    p = 1 / (1 + np.exp(-(design(s["test"], feats) @ np.array(beta))))
    return {"log_loss": skm.log_loss(y, p), "accuracy": skm.accuracy_score(y, (p > 0.5).astype(int)),
            "brier": skm.brier_score_loss(y, p), "auc": skm.roc_auc_score(y, p)}


r = json.loads(one(con, "SELECT ml_compare('g@1', 'g@2')"))
ga, gb = glm_ref(1, ["x1"]), glm_ref(2, ["x1", "x2"])
check_metrics(r["on_b_test_rows"]["a"], ga, "binomial, first model", 1e-8)
check_metrics(r["on_b_test_rows"]["b"], gb, "binomial, second model", 1e-8)
c.check(r["rows_read"] == 500 and r["on_b_test_rows"]["n"] == len(s["test"]), "binomial: one read of the rows")
con.execute("INSERT INTO h(x1, x2, city, y, yb) SELECT x1, x2, city, y, 1 - yb FROM h WHERE id <= 100")
c.check(json.loads(one(con, "SELECT ml_compare('g@1', 'g@2')")) == r, "a GLM version keeps its mark too")
con.execute("DELETE FROM h WHERE id > 500")
con.execute("SELECT ml_alias('g', 'prod', 1)").fetchall()
d = json.loads(one(con, "SELECT ml_promote('g', 'prod', '{\"metric\":\"auc\"}')"))
c.check(close(d["champion"], ga["auc"], 1e-8) and close(d["challenger"], gb["auc"], 1e-8) and
        close(d["improvement"], gb["auc"] - ga["auc"], 1e-8) and d["promoted"] == (gb["auc"] >= ga["auc"]),
        "promote by auc, higher is better: %s" % d)
con.execute("SELECT ml_alias('g', 'prod', 1)").fetchall()
d = json.loads(one(con, "SELECT ml_promote('g', 'prod')"))
c.check(d["metric"] == "log_loss" and close(d["challenger"], gb["log_loss"], 1e-8),
        "a binomial gate's default metric is log_loss: %s" % d)
err = error_of(con, "SELECT ml_promote('g', 'prod', '{\"metric\":\"rmse\"}')")
c.check(err is not None and "rule metric rmse does not measure a binomial model" in err, err)

# ---- a source without a rowid: the row is its own split key ----
con.execute("SELECT ml_train('q', 'SELECT x1, x2, city, y FROM h', 'y', '[\"x1\",\"x2\"]', ?)", (T,)).fetchall()
con.execute("SELECT ml_train('q', 'SELECT x1, x2, city, y FROM h', 'y', '[\"x1\",\"city\"]', ?)", (T,)).fetchall()
r = json.loads(one(con, "SELECT ml_compare('q@1', 'q@2')"))
st = json.loads(one(con, "SELECT metrics FROM ml_model_versions WHERE name = 'q' AND version = 2"))
c.check(r["on_b_test_rows"]["n"] == one(con, "SELECT n_test FROM ml_model_versions WHERE name = 'q' AND version = 2")
        and close(r["on_b_test_rows"]["b"]["rmse"], st["test"]["rmse"], 1e-12)
        and close(r["on_b_test_rows"]["b"]["r2"], st["test"]["r2"], 1e-12),
        "a query's test rows by their own values are the version's: %s" % r["on_b_test_rows"]["b"])

# ---- text as .import --csv leaves it: every column TEXT, 'NA' ----
con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, x1 TEXT, x2 TEXT, city TEXT, y TEXT)")
con.execute("INSERT INTO t SELECT id, CASE WHEN id % 37 = 0 THEN 'NA' ELSE x1 END, x2, city, y FROM h")
con.execute("SELECT ml_train('t', 't', 'y', '[\"x1\",\"x2\"]', ?)", (T,)).fetchall()
con.execute("SELECT ml_train('t', 't', 'y', '[\"x1\",\"city\"]', ?)", (T,)).fetchall()
st_rows = {"train": [], "test": []}
for rid, x1, x2, city, y in con.execute("SELECT id, x1, x2, city, y FROM t ORDER BY id"):
    side_of = one(con, "SELECT ml_split_of(?, 0.3, 5)", rid)
    if x1 != "NA":
        st_rows[side_of].append({"x1": float(x1), "x2": float(x2), "city": city, "y": float(y)})
r = json.loads(one(con, "SELECT ml_compare('t@1', 't@2')"))
check_metrics(r["on_b_test_rows"]["a"], linear_ref(st_rows, ["x1", "x2"]), "text columns, first model")
check_metrics(r["on_b_test_rows"]["b"], linear_ref(st_rows, ["x1", "city"]), "text columns, second model")
c.check(r["on_b_test_rows"]["n_skipped"] == sum(1 for rid in range(37, 501, 37)
                                                if one(con, "SELECT ml_split_of(?, 0.3, 5)", rid) == "test"),
        "rows with NA are skipped and counted: %s" % r["on_b_test_rows"]["n_skipped"])

# ---- a CSV through the real shell's .import --csv, read from an ATTACHed file ----
tmp = tempfile.mkdtemp()
csv, path = os.path.join(tmp, "houses.csv"), os.path.join(tmp, "imported.db")
with open(csv, "w") as f:
    f.write("x1,x2,city,y\n")
    for rid, x1, x2, city, y in con.execute("SELECT id, x1, x2, city, y FROM h ORDER BY id"):
        f.write("%s,%r,%s,%r\n" % ("NA" if rid % 29 == 0 else repr(x1), x2, city, y))
p = subprocess.run(a.sqlite3.split() + [path], input=".import --csv %s imp\n" % csv, capture_output=True,
                   text=True)
c.check(p.returncode == 0 and p.stderr == "", "sqlite3 .import --csv: %s" % p.stderr.strip())
con.execute("ATTACH ? AS aux", (path,))
con.execute("SELECT ml_train('i', 'aux.imp', 'y', '[\"x1\",\"x2\"]', ?)", (T,)).fetchall()
con.execute("SELECT ml_train('i', 'aux.imp', 'y', '[\"x1\",\"city\"]', ?)", (T,)).fetchall()
imp = {"train": [], "test": []}
for rid, x1, x2, city, y in con.execute("SELECT rowid, x1, x2, city, y FROM aux.imp ORDER BY rowid"):
    if x1 != "NA":
        imp[one(con, "SELECT ml_split_of(?, 0.3, 5)", rid)].append(
            {"x1": float(x1), "x2": float(x2), "city": city, "y": float(y)})
r = json.loads(one(con, "SELECT ml_compare('i@1', 'i@2')"))
check_metrics(r["on_b_test_rows"]["a"], linear_ref(imp, ["x1", "x2"]), ".import --csv, ATTACHed, first model")
check_metrics(r["on_b_test_rows"]["b"], linear_ref(imp, ["x1", "city"]), ".import --csv, ATTACHed, second model")
# A promotion by mae that reads those rows, rolled back: the alias and its history as they were.
con.execute("SELECT ml_alias('i', 'prod', 1)").fetchall()
hist = one(con, "SELECT count(*) FROM ml_alias_history")
con.execute("BEGIN")
d = json.loads(one(con, "SELECT ml_promote('i', 'prod', '{\"metric\":\"mae\",\"max_degradation\":1e9}')"))
con.execute("ROLLBACK")
c.check(d["promoted"] and d["rows_read"] == 500 and
        one(con, "SELECT version FROM ml_aliases WHERE name = 'i' AND alias = 'prod'") == 1 and
        one(con, "SELECT count(*) FROM ml_alias_history") == hist, "a promotion rolled back leaves nothing: %s" % d)
con.execute("DETACH aux")

# ---- what cannot be compared ----
err = error_of(con, "SELECT ml_compare('m@1', 'g@2')")
c.check(err is not None and "different families" in err, "families: %s" % err)
con.execute("SELECT ml_train('y2', 'h', 'x2', '[\"x1\"]', ?)", (T,)).fetchall()
err = error_of(con, "SELECT ml_compare('m@1', 'y2')")
c.check(err is not None and "different targets" in err, "targets: %s" % err)
err = error_of(con, "SELECT ml_compare((SELECT model FROM ml_model_versions WHERE name = 'g' AND version = 1), "
                    "(SELECT model FROM ml_model_versions WHERE name = 'g' AND version = 2))")
c.check(err is not None and "neither is a stored version" in err, "BLOBs have no stored rows: %s" % err)
con.execute("CREATE VIEW vc AS SELECT ml_compare('m@1', 'm@2') AS r")
err = error_of(con, "SELECT r FROM vc")
c.check(err is not None and "unsafe use of ml_compare()" in err,
        "a view cannot make ml_compare read a stored source: %s" % err)
con.execute("ALTER TABLE h RENAME TO h_old")
err = error_of(con, "SELECT ml_compare('m@1', 'm@2')")
c.check(err is not None and err.startswith("ml_compare(): ") and "h" in err, "a source gone: %s" % err)
con.execute("ALTER TABLE h_old RENAME TO h")
con.execute("ALTER TABLE h RENAME COLUMN x2 TO x2b")
err = error_of(con, "SELECT ml_compare('m@1', 'm@2')")
c.check(err is not None and "has no column 'x2'" in err, "a column gone: %s" % err)
c.done()
