#!/usr/bin/python3
"""ml_fit at SQLite's argument limit: 126 features, and one feature."""
import random

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
import json
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
# arguments: 150 features are read column by column.
k2 = 150
wide_table("t2", "z", k2, 600, 2, 5)
con.execute("SELECT ml_train('wide', 't2', 'y', '*', '{\"test_size\":0.1}')").fetchone()
est = [e for (e,) in con.execute("SELECT estimate FROM ml_weights('wide')")]
c.check(len(est) == k2 + 1 and abs(est[0] - 2) < 1e-9 and
        all(abs(e - (j % 5 - 2)) < 1e-9 for j, e in enumerate(est[1:])),
        "ml_train recovers all 150 slopes")
c.done()
