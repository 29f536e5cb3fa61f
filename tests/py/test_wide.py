#!/usr/bin/python3
"""ml_fit at SQLite's argument limit: 126 features, and one feature."""
import random

from sqlml_test import Checker, args, connect

a = args()
c = Checker("wide")
con = connect(a.ext)
r = random.Random(7)
k = 126
cols = ["x%d" % (j + 1) for j in range(k)]
con.execute("CREATE TABLE t(y REAL, %s)" % ", ".join(cols))
rows = []
for i in range(400):
    x = [r.uniform(-1, 1) for _ in range(k)]
    rows.append([1 + sum((j % 7 - 3) * v for j, v in enumerate(x))] + x)
con.executemany("INSERT INTO t VALUES (%s)" % ",".join("?" * (k + 1)), rows)
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
cols2 = ["z%d" % (j + 1) for j in range(k2)]
con.execute("CREATE TABLE t2(y REAL, %s)" % ", ".join(cols2))
rows2 = []
for i in range(600):
    x = [r.uniform(-1, 1) for _ in range(k2)]
    rows2.append([2 + sum((j % 5 - 2) * v for j, v in enumerate(x))] + x)
con.executemany("INSERT INTO t2 VALUES (%s)" % ",".join("?" * (k2 + 1)), rows2)
con.execute("SELECT ml_train('wide', 't2', 'y', '*', '{\"test_size\":0.1}')").fetchone()
est = [e for (e,) in con.execute("SELECT estimate FROM ml_weights('wide')")]
c.check(len(est) == k2 + 1 and abs(est[0] - 2) < 1e-9 and
        all(abs(e - (j % 5 - 2)) < 1e-9 for j, e in enumerate(est[1:])),
        "ml_train recovers all 150 slopes")
c.done()
