#!/usr/bin/python3
"""The connection's model cache and its kept statement.

- One statement prepared once and stepped per request (SELECT
  ml_predict('m', ?), which reads no table): a new version or a moved alias
  committed by another process is what the next step predicts with, on a
  rollback-journal and on a WAL database; so is a version dropped there.
- The connection's own writes are seen inside its transaction, and its
  rollback undoes what it sees.
- The kept statement does not keep sqlite3_close() from closing (through
  ctypes: Python's module closes with sqlite3_close_v2, which never refuses),
  and a table named ml_model_cache, which hides the cache table, leaves
  predictions as they were.
- ml_model_cache lists the cached models.
- The first prediction of each new connection (the registry checked and
  the model read by the statements that also load the schema) predicts
  with what another process committed just before it opened, and refuses
  a registry that another process made unsafe (a trigger on the versions'
  table, named in another case) since the connection before.
- Many models, by BLOB and by name, over the 16 MiB budget: the least
  recently used are evicted, what stays is within the budget, and every
  prediction, before and after evictions, is that of its own model.

Version v is trained on y = v * x exactly, so a prediction names its version.
"""
import ctypes
import ctypes.util
import os
import sqlite3
import tempfile

from sqlml_test import Checker, SqlProcess, args, connect

a = args()
c = Checker("cache")
tmp = tempfile.mkdtemp()

def other_process(path, *sql):
    p = SqlProcess(a.ext, path)
    answers = [p.run(s) for s in sql]
    p.close()
    c.check(all(r == "ok" for r in answers), "the other process: %s" % [r for r in answers if r != "ok"])


def train(v):
    return ("SELECT ml_train('m', 'SELECT x, x * %d AS y FROM d', 'y', '[\"x\"]', '{\"test_size\":0}')" % v)


for mode in ("delete", "wal"):
    path = os.path.join(tmp, "%s.db" % mode)
    con = connect(a.ext, path, isolation_level=None)
    con.execute("PRAGMA journal_mode=%s" % mode)
    con.execute("CREATE TABLE d(x REAL)")
    con.executemany("INSERT INTO d VALUES (?)", [(i,) for i in range(1, 101)])
    con.execute(train(1)).fetchone()
    con.execute("SELECT ml_alias('m', 'prod', 1)").fetchone()

    def version(ref):
        # The same SQL text each time: Python's statement cache steps the same statement.
        return round(con.execute("SELECT ml_predict(?1, 10.0) / 10.0", (ref,)).fetchone()[0])

    def latest():
        return round(con.execute("SELECT ml_predict('m', ?) / 10.0", (10.0,)).fetchone()[0])

    c.check(latest() == 1 and version("m@prod") == 1, "%s: version 1 at first" % mode)
    for _ in range(3):
        latest()
    other_process(path, train(2))
    c.check(latest() == 2, "%s: a version another process committed is seen by the next step" % mode)
    c.check(version("m@prod") == 1, "%s: the alias still names version 1" % mode)
    other_process(path, "SELECT ml_alias('m', 'prod', 2)")
    c.check(version("m@prod") == 2, "%s: an alias another process moved is seen" % mode)
    other_process(path, "SELECT ml_alias('m', 'prod', 1)", "SELECT ml_drop('m', 2)")
    c.check(latest() == 1 and version("m@prod") == 1, "%s: a dropped version is not used" % mode)

    # Own writes, and a rollback of them.
    con.execute("BEGIN")
    con.execute(train(3)).fetchone()
    c.check(latest() == 3, "%s: own uncommitted version seen" % mode)
    con.execute("ROLLBACK")
    c.check(latest() == 1, "%s: after ROLLBACK, the version before" % mode)
    con.execute(train(4)).fetchone()
    c.check(latest() == 4, "%s: own committed version seen" % mode)

    listed = con.execute("SELECT ref, bytes > 0 FROM ml_model_cache WHERE ref IS NOT NULL "
                         "ORDER BY ref").fetchall()
    c.check(("m", 1) in listed and ("m@prod", 1) in listed, "%s: ml_model_cache lists %r" % (mode, listed))
    con.close()

# sqlite3_close() closes a connection that predicted by name (the kept
# statement is finalized by the cache table's xDisconnect).
lib = ctypes.CDLL(ctypes.util.find_library("sqlite3"))
lib.sqlite3_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
lib.sqlite3_enable_load_extension.argtypes = [ctypes.c_void_p, ctypes.c_int]
lib.sqlite3_load_extension.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                       ctypes.POINTER(ctypes.c_char_p)]
lib.sqlite3_exec.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p,
                             ctypes.POINTER(ctypes.c_char_p)]
lib.sqlite3_close.argtypes = [ctypes.c_void_p]
for hidden in (False, True):
    db = ctypes.c_void_p()
    path = os.path.join(tmp, "delete.db")
    lib.sqlite3_open(path.encode(), ctypes.byref(db))
    lib.sqlite3_enable_load_extension(db, 1)
    err = ctypes.c_char_p()
    c.check(lib.sqlite3_load_extension(db, a.ext.encode(), None, ctypes.byref(err)) == 0, "load: %s" % err.value)
    if hidden:
        c.check(lib.sqlite3_exec(db, b"CREATE TABLE IF NOT EXISTS ml_model_cache(x)", None, None, None) == 0,
                "a table named ml_model_cache")
    rcs = [lib.sqlite3_exec(db, b"SELECT ml_predict('m', 1.0)", None, None, None) for _ in range(3)]
    c.check(rcs == [0, 0, 0], "predictions through C%s: %r" % (" (cache table hidden)" if hidden else "", rcs))
    c.check(lib.sqlite3_close(db) == 0, "sqlite3_close() after predictions by name%s" %
            (" (cache table hidden)" if hidden else ""))
con = connect(a.ext, os.path.join(tmp, "delete.db"))
c.check(round(con.execute("SELECT ml_predict('m', 10.0) / 10").fetchone()[0]) == 4,
        "predictions with the cache table hidden")
con.close()

# The first prediction after opening, against another process's commits.
for mode in ("delete", "wal"):
    path = os.path.join(tmp, "%s.db" % mode)
    for v in (5, 6):
        # prod: the version before the new one, trained on y = (v - 1) x
        other_process(path, train(v), "SELECT ml_alias('m', 'prod', (SELECT max(version) - 1 FROM "
                      "ml_model_versions WHERE name = 'm'))")
        for ref, want in (("m", v), ("m@prod", v - 1)):
            fresh = connect(a.ext, path, isolation_level=None)
            got = round(fresh.execute("SELECT ml_predict(?, 10.0) / 10.0", (ref,)).fetchone()[0])
            fresh.close()
            c.check(got == want, "%s: a new connection's first prediction of %s is version %d (got %d)"
                    % (mode, ref, want, got))
    other_process(path, "CREATE TRIGGER sneaky AFTER INSERT ON ML_Model_Versions BEGIN SELECT 1; END")
    fresh = connect(a.ext, path, isolation_level=None)
    try:
        fresh.execute("SELECT ml_predict('m', 10.0)").fetchone()
        c.check(False, "%s: a new connection refuses a trigger on ML_Model_Versions" % mode)
    except sqlite3.Error as e:
        c.check("not made by sqlml" in str(e) and "sneaky" in str(e),
                "%s: a new connection's first prediction refuses the trigger: %s" % (mode, e))
    fresh.close()
    other_process(path, "DROP TRIGGER sneaky")

# ---- many models: 200 fits of 100 features, about 160 KiB each in the cache ----
P, G = 100, 200
con = connect(a.ext, os.path.join(tmp, "many.db"), isolation_level=None)
xs = ", ".join("x%d" % j for j in range(1, P + 1))
con.execute("CREATE TABLE t(g, y, %s)" % xs)
con.execute("WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < %d) "
            "INSERT INTO t SELECT i %% %d, (i %% %d) + %s, %s FROM s"
            % (G * (P + 10) - 1, G,  G, " + ".join("((i * %d + %d) %% 97) / 97.0" % (j * 7 + 1, j)
                                                   for j in range(1, 4)),
               ", ".join("((i * %d + %d) %% 97) / 97.0" % (j * 7 + 1, j) for j in range(1, P + 1))))
con.execute("CREATE TABLE blobs AS SELECT g, ml_fit(y, %s) AS m FROM t GROUP BY g" % xs)
con.execute("CREATE TABLE probe AS SELECT * FROM t WHERE rowid <= %d" % (3 * G))
# Each model's prediction of each probe row, from a connection that saw only that model.
want = {}
for g, m in con.execute("SELECT g, m FROM blobs").fetchall():
    one = connect(a.ext)
    for row in con.execute("SELECT rowid, %s FROM probe WHERE g = ?" % xs, (g,)).fetchall():
        want[row[0]] = one.execute("SELECT ml_predict(?, %s)" % ", ".join("?" * P),
                                   (m,) + row[1:]).fetchone()[0]
    one.close()


def by_blob():
    return dict(con.execute("SELECT p.rowid, ml_predict(b.m, %s) FROM probe p JOIN blobs b USING (g) "
                            "ORDER BY p.rowid" % ", ".join("p." + x for x in xs.split(", "))).fetchall())


def cache_state():
    return con.execute("SELECT count(*), sum(bytes) FROM ml_model_cache WHERE ref IS NULL").fetchone()


for round_ in (1, 2):
    got = by_blob()
    c.check(got == want, "by BLOB, round %d: every prediction is its own model's" % round_)
    n, total = cache_state()
    c.check(n < G and total <= 16 << 20, "by BLOB, round %d: %d models, %d bytes cached" % (round_, n, total))
# By name: one registry row per model, copied from a trained version.
con.execute("CREATE TABLE d(x REAL, y REAL)")
con.executemany("INSERT INTO d VALUES (?, ?)", [(i, 2 * i) for i in range(10)])
con.execute("SELECT ml_train('w', 'd', 'y', '[\"x\"]', '{\"test_size\":0}')").fetchone()
cols = [r[1] for r in con.execute("PRAGMA table_info(ml_model_versions)")]
con.execute("INSERT INTO ml_model_versions(%s) SELECT %s FROM ml_model_versions v, blobs b WHERE v.name = 'w'"
            % (", ".join(cols), ", ".join("'w' || b.g" if col == "name" else "b.m" if col == "model"
                                          else "v." + col for col in cols)))
for round_ in (1, 2):
    got = dict(con.execute("SELECT rowid, ml_predict('w' || g, %s) FROM probe ORDER BY rowid" % xs).fetchall())
    c.check(got == want, "by name, round %d: every prediction is its own model's" % round_)
    n, total = cache_state()
    names = con.execute("SELECT count(*) FROM ml_model_cache WHERE ref IS NOT NULL").fetchone()[0]
    c.check(n < G and 0 < names < G and total <= 16 << 20,
            "by name, round %d: %d models, %d names, %d bytes cached" % (round_, n, names, total))
con.close()
c.done()
