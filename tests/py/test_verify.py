#!/usr/bin/python3
"""ml_verify: is a version still reproducible from the data in this database?

- A table left alone: the data hash and the row count are the stored ones,
  and the coefficients come out the same; for a view, a query, weights, a
  categorical feature, CSV text, a GLM.
- A training row changed, a row added or deleted: the data is not what the
  version saw, and the report says by how much the coefficients moved.
  A changed test row is not training data: the version still reproduces.
- It writes nothing (the registry and total_changes stay), runs on a
  read-only database, and refuses what it cannot do with a clear message.
"""
import json
import os
import sqlite3
import tempfile

from sqlml_test import Checker, args, connect, error_of

a = args()
c = Checker("verify")
path = os.path.join(tempfile.mkdtemp(), "v.db")
con = connect(a.ext, path, isolation_level=None)


def one(sql, *p):
    return con.execute(sql, p).fetchone()[0]


def verify(ref):
    return json.loads(one("SELECT ml_verify(?)", ref))



con.execute("CREATE TABLE h(id INTEGER PRIMARY KEY, x REAL, city TEXT, w REAL, y REAL, n INTEGER)")
con.executemany("INSERT INTO h(x, city, w, y, n) VALUES (?,?,?,?,?)",
                [(i * 0.7, "abc"[i % 3], 1 + i % 4, 3 + 2 * i * 0.7 + (i % 3) + (i % 5) * 0.3, i % 6)
                 for i in range(300)])
con.execute("CREATE VIEW hv AS SELECT x, city, y FROM h WHERE id > 10")
con.execute("CREATE TABLE csv(x TEXT, city TEXT, y TEXT)")
con.execute("INSERT INTO csv SELECT CAST(x AS TEXT), city, CASE WHEN id % 50 = 0 THEN 'NA' ELSE CAST(y AS TEXT) END FROM h")
T = '{"test_size":0.25,"seed":3}'
for name, src, target, feats, opts in [
        ("t", "h", "y", '["x","city"]', T),
        ("w", "h", "y", '["x","city"]', '{"test_size":0.25,"seed":3,"weights":"w","robust":"HC1"}'),
        ("v", "hv", "y", '["x","city"]', T),
        ("q", "SELECT x, city, y FROM h WHERE city <> 'c'", "y", '["x"]', T),
        ("csv", "csv", "y", '["x","city"]', T),
        ("g", "h", "n", '["x","city"]', '{"test_size":0.25,"seed":3,"family":"poisson"}'),
        ("f", "h", "log(y) ~ x * city", None, T),
        ("dot", "SELECT x, city, y FROM h", "y ~ . - city", None, T),
        ("cv", "h", "y", '["x","city"]', '{"test_size":0.25,"seed":3,"cv":4,"l2":[0,1]}')]:
    con.execute("SELECT ml_train(?, ?, ?, ?, ?)", (name, src, target, feats, opts)).fetchall()
    r = verify(name)
    c.check(r["reproducible"] and r["data_unchanged"] and r["coefficients_reproduced"] and
            r["data_hash"] == r["stored_data_hash"] and r["n_train"] == r["stored_n_train"] and
            r["max_relative_difference"] <= 1e-12, "%s: unchanged data reproduces: %s" % (name, r))

changes = con.total_changes
registry = con.execute("SELECT * FROM ml_model_versions ORDER BY name, version").fetchall()
# A test row changed: not what the model was trained on.
test_id = one("SELECT id FROM h WHERE ml_split_of(id, 0.25, 3) = 'test' LIMIT 1")
train_id = one("SELECT id FROM h WHERE ml_split_of(id, 0.25, 3) = 'train' LIMIT 1")
con.execute("UPDATE h SET y = y + 100 WHERE id = ?", (test_id,))
c.check(verify("t")["reproducible"], "a changed test row leaves the training data as it was")
con.execute("UPDATE h SET y = y + 100 WHERE id = ?", (train_id,))
r = verify("t@1")
c.check(not r["data_unchanged"] and not r["reproducible"] and r["data_hash"] != r["stored_data_hash"]
        and r["max_relative_difference"] > 1e-6 and r["n_train"] == r["stored_n_train"],
        "a changed training row: %s" % r)
con.execute("UPDATE h SET y = y - 100 WHERE id IN (?, ?)", (test_id, train_id))
c.check(verify("t")["reproducible"], "changed back: reproducible again")
con.executemany("INSERT INTO h(x, city, w, y, n) VALUES (?, 'a', 1, ?, 1)", [(i, 2 * i + 1) for i in range(20)])
r = verify("t")
c.check(not r["data_unchanged"] and r["n_train"] > r["stored_n_train"], "rows added: %s" % r)
con.execute("DELETE FROM h WHERE id > 300")
con.execute("DELETE FROM h WHERE id = ?", (train_id,))
r = verify("t")
c.check(not r["data_unchanged"] and r["n_train"] == r["stored_n_train"] - 1, "a row deleted: %s" % r)
c.check(con.execute("SELECT * FROM ml_model_versions ORDER BY name, version").fetchall() == registry,
        "the registry is as it was")
# total_changes counts the updates above, never a write of ml_verify's.
before = con.total_changes
verify("t")
verify("g")
c.check(con.total_changes == before, "ml_verify writes nothing")

# A read-only database.
con.close()
ro = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
ro.enable_load_extension(True)
ro.load_extension(a.ext)
r = json.loads(ro.execute("SELECT ml_verify('v')").fetchone()[0])
c.check(r["reproducible"], "on a read-only database: %s" % r)
ro.close()

con = connect(a.ext, path, isolation_level=None)
for sql, want in [("SELECT ml_verify('nope')", "no model named 'nope'"),
                  ("SELECT ml_verify('t@9')", "has no version 9"),
                  ("SELECT ml_verify(42)", "argument 1 must be a model reference"),
                  ("SELECT ml_verify((SELECT model FROM ml_model_versions LIMIT 1))", "argument 1 must be a model reference")]:
    err = error_of(con, sql)
    c.check(err is not None and want in err, "%s: %s" % (sql, err))
con.execute("DROP TABLE csv")
err = error_of(con, "SELECT ml_verify('csv')")
c.check(err is not None and "csv" in err, "a source that is gone: %s" % err)
c.done()
