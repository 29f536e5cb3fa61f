#!/usr/bin/python3
"""ml_fit at SQLite's argument limit: 126 features; ml_train past it (126
and 300 features) against numpy's lstsq."""
import json
import random
import sqlite3

from sqlml_test import Checker, args, connect

a = args()
c = Checker("wide")
con = connect(a.ext)
r = random.Random(7)


def wide_table(name, prefix, k, n, intercept, period):
    """Table name(y, prefix1..prefixk) of n rows, y exactly
    intercept + sum((j % period - period // 2) * x_j)."""
    cols = ["%s%d" % (prefix, j + 1) for j in range(k)]
    con.execute("CREATE TABLE %s(y REAL, %s)" % (name, ", ".join(cols)))
    rows = []
    for i in range(n):
        x = [r.uniform(-1, 1) for _ in range(k)]
        rows.append([intercept + sum((j % period - period // 2) * v for j, v in enumerate(x))] + x)
    con.executemany("INSERT INTO %s VALUES (%s)" % (name, ",".join("?" * (k + 1))), rows)
    return cols, rows


k = 126
cols, rows = wide_table("t", "x", k, 400, 1, 7)
blob = con.execute("SELECT ml_fit(y, %s) FROM t" % ", ".join(cols)).fetchone()[0]
est = con.execute("SELECT json_extract(ml_model_json(?), '$.coefficients')", (blob,)).fetchone()[0]
est = [e["estimate"] for e in json.loads(est)]
c.check(len(est) == k + 1, "127 coefficients")
c.check(abs(est[0] - 1) < 1e-10, "intercept recovered")
c.check(all(abs(e - (j % 7 - 3)) < 1e-10 for j, e in enumerate(est[1:])), "all 126 slopes recovered")
x = rows[0][1:]
p = con.execute("SELECT ml_predict(?, %s)" % ",".join("?" * k), [blob] + x).fetchone()[0]
c.check(abs(p - rows[0][0]) < 1e-9, "prediction with 126 features")
try:
    con.execute("SELECT ml_fit(y, %s, x1) FROM t" % ", ".join(cols))
    c.check(False, "127 features is refused by SQLite")
except Exception as e:
    c.check("too many arguments" in str(e), "127 features: %s" % e)

# Through ml_train the limit is the model's 1000 terms, not SQLite's 127
# arguments: a row past them passes its last values through ml__more.
k2 = 150
wide_table("t2", "z", k2, 600, 2, 5)
con.execute("SELECT ml_train('wide', 't2', 'y', '*', '{\"test_size\":0.1}')").fetchone()
est = [e for (e,) in con.execute("SELECT estimate FROM ml_weights('wide')")]
c.check(len(est) == k2 + 1 and abs(est[0] - 2) < 1e-9 and
        all(abs(e - (j % 5 - 2)) < 1e-9 for j, e in enumerate(est[1:])),
        "ml_train recovers all 150 slopes")

# ml_train at 126 and 300 features against numpy's lstsq on the same rows
# (the rowid key, the target and 126 features are 128 values: past the 127
# arguments).  Weights, a NULL skipped, a text level and a BLOB of no level
# among the values that go through ml__more keep their storage class.
import numpy as np


def wide_train(name, k, n, test_size, seed, extra):
    """Table name(y, x1..xk[, w, c]) of noisy rows; ml_train on it; the
    numeric slopes of numpy's lstsq over ml_split_of's training rows."""
    cols = ["x%d" % (j + 1) for j in range(k)]
    more = ["w REAL", "c TEXT"] if extra else []
    con.execute("CREATE TABLE %s(y REAL, %s)" % (name, ", ".join(cols + more)))
    levels = ["a", "b", "c"]
    data = []
    for i in range(n):
        x = [r.uniform(-1, 1) for _ in range(k)]
        y = 0.5 + sum((j % 9 - 4) * v for j, v in enumerate(x)) + r.gauss(0, 0.1)
        row = [y] + x
        if extra:
            lev = levels[i % 3]
            y += {"a": 0, "b": 1.5, "c": -2}[lev]
            row = [y] + x + [r.uniform(0.5, 2), lev]
            if i == 5:
                row[k] = None  # the last feature NULL: the row is skipped
        data.append(row)
    con.executemany("INSERT INTO %s VALUES (%s)" % (name, ",".join("?" * len(data[0]))), data)
    opts = {"test_size": test_size, "seed": seed}
    feats = cols + (["c"] if extra else [])
    if extra:
        opts["weights"] = "w"
    con.execute("SELECT ml_train(?, ?, 'y', ?, ?)",
                (name, name, json.dumps(feats), json.dumps(opts))).fetchone()
    train = {rid for (rid,) in con.execute(
        "SELECT rowid FROM %s WHERE ml_split_of(rowid, ?, ?) = 'train'" % name, (test_size, seed))}
    A, b, wts = [], [], []
    for rid, row in enumerate(data, 1):
        if rid not in train or any(v is None for v in row):
            continue
        x = [1.0] + row[1:k + 1]
        if extra:
            x += [1.0 if row[-1] == "b" else 0.0, 1.0 if row[-1] == "c" else 0.0]
            wts.append(row[k + 1])
        A.append(x)
        b.append(row[0])
    A, b = np.array(A), np.array(b)
    if extra:
        sw = np.sqrt(np.array(wts))
        A, b = A * sw[:, None], b * sw
    ref = np.linalg.lstsq(A, b, rcond=None)[0]
    got = {t: e for t, e in con.execute("SELECT term, estimate FROM ml_weights(?)", (name,))}
    return ref, got, len(A)


# Under a lower argument limit (SQLITE_LIMIT_FUNCTION_ARG): 20 takes seven
# calls of ml__more for 128 values, 8 cannot hold them so (one level of
# calls) and reads column by column.
for k, n, ts, extra, limit in ((126, 400, 0.2, False, None), (300, 900, 0.25, True, None),
                               (126, 300, 0.2, False, 20), (126, 300, 0.2, True, 8)):
    name = "wide%d_%s" % (k, limit or "all")
    if limit:
        con.setlimit(sqlite3.SQLITE_LIMIT_FUNCTION_ARG, limit)
    ref, got, ntrain = wide_train(name, k, n, ts, 11, extra)
    err = max([abs(got["(Intercept)"] - ref[0])] +
              [abs(got["x%d" % (j + 1)] - ref[j + 1]) for j in range(k)])
    c.check(err < 1e-9, "ml_train, %d features, argument limit %s, equals numpy's lstsq (max "
                        "error %.2g)" % (k, limit or 127, err))
    meta = json.loads(con.execute("SELECT ml_model_json(?)", (name,)).fetchone()[0])
    c.check(meta["n"] == ntrain, "%d features: %d training rows (numpy %d)" % (k, meta["n"], ntrain))
    if limit:
        con.setlimit(sqlite3.SQLITE_LIMIT_FUNCTION_ARG, 127)
    if extra and not limit:
        lev = sorted(t for t in got if t.startswith("c"))
        c.check(len(lev) == 2, "the text column's levels came through ml__more: %s" % lev)
        c.check(meta["n_skipped"] == 1, "the NULL in the last feature skipped its row")
        # A BLOB where a number goes, past the 127 arguments: refused, named.
        con.execute("UPDATE %s SET x300 = x'00' WHERE rowid = 7" % name)
        try:
            con.execute("SELECT ml_train('blob300', ?, 'y', '*', '{\"weights\":\"w\"}')", (name,))
            c.check(False, "a BLOB feature past the 127 arguments is refused")
        except sqlite3.Error as e:
            c.check("x300" in str(e) and "blob" in str(e).lower(),
                    "a BLOB past the 127 arguments is refused: %s" % e)

# ml__more outside ml_train is an error, as ml__pass is.
try:
    con.execute("SELECT ml__more(1, 2, 3)").fetchone()
    c.check(False, "ml__more from SQL is refused")
except sqlite3.Error as e:
    c.check("internal to ml_train" in str(e), "ml__more from SQL: %s" % e)
c.done()
