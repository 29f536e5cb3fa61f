#!/usr/bin/python3
"""Predictions by name outside a transaction, taken from the cache when
main's commit trace says nobody committed (ext/filemark.h).

One statement, SELECT ml_predict(?, 10.0), is stepped in autocommit, so
after its first calls it neither locks nor reads the registry.  Against it:

- a writer process that commits, step by step: new versions, moved aliases,
  commits to other tables, a WAL checkpoint that restarts the WAL, a switch
  from the rollback journal to WAL; each step is followed by predictions
  that must name what the writer committed;
- an ATTACHed database (a quoted name) whose commits, the other process's
  and the connection's own, leave main's trace alone;
- a second connection of the same process that commits;
- the connection's own commits, in the exclusive locking mode too (where
  SQLite stops moving the file's change counter for them), a DDL among
  them (an index on a registry table, which the registry check refuses),
  and its own switch between journal modes;
- an exclusive-locking WAL and the unix-excl VFS, whose WAL index is
  private memory: correct answers, and no -shm file made by a prediction;
- :memory:, a temporary file, and another database put in main under a
  connection that predicted from the old one: by the backup API, and by
  sqlite3_deserialize().

Each case where the trace is kept checks that warm predictions run no
statement but their own (SQLite's trace), and the others that they do.

Version v is trained on y = v * x exactly, so a prediction names its version.
"""
import os
import sqlite3
import tempfile

from sqlml_test import Checker, SqlProcess, args, connect

a = args()
c = Checker("filemark")
tmp = tempfile.mkdtemp()

class Writer(SqlProcess):
    """Another process that runs one statement at a time, each committed when it answers."""

    def __init__(self, path):
        super().__init__(a.ext, path)

    def run(self, sql):
        answer = super().run(sql)
        c.check(answer == "ok", "writer: %s: %s" % (sql[:60], answer))


def train(v, name="m"):
    return ("SELECT ml_train('%s', 'SELECT x, x * %d AS y FROM d', 'y', '[\"x\"]', '{\"test_size\":0}')"
            % (name, v))


def make_db(path, mode, locking=None, uri=False):
    con = connect(a.ext, path, isolation_level=None, uri=uri)
    if locking:
        con.execute("PRAGMA locking_mode=%s" % locking)
    con.execute("PRAGMA journal_mode=%s" % mode).fetchone()
    con.execute("CREATE TABLE d(x REAL)")
    con.execute("CREATE TABLE other(v)")
    con.executemany("INSERT INTO d VALUES (?)", [(i,) for i in range(1, 21)])
    con.execute(train(1)).fetchone()
    con.execute("SELECT ml_alias('m', 'prod', 1)").fetchone()
    return con


def predict(con, ref):
    # One SQL text: Python's statement cache steps the same statement each time.
    return round(con.execute("SELECT ml_predict(?1, 10.0) / 10.0", (ref,)).fetchone()[0])


def warm(con):
    for _ in range(4):
        predict(con, "m")
        predict(con, "m@prod")


def expect(con, what, latest, prod):
    got = (predict(con, "m"), predict(con, "m@prod"))
    c.check(got == (latest, prod), "%s: m, m@prod are versions %r (want %r)" % (what, got, (latest, prod)))


def nested(con, n=10):
    """Statements other than the prediction itself run by n predictions by
    name (SQLite's trace reports those sqlml steps too): none when the
    commit trace answers, the read transaction's when it cannot."""
    seen = []
    con.set_trace_callback(seen.append)
    try:
        for _ in range(n):
            predict(con, "m")
    finally:
        con.set_trace_callback(None)
    return [q for q in seen if "ml_predict" not in q]


# ---- the read transaction is skipped only where the trace is kept ----
for what, path, mode, first, locking in (
        ("rollback journal", "fast-delete.db", "delete", None, None),
        ("WAL", "fast-wal.db", "wal", None, None),
        ("WAL, ml_model_cache read first", "fast-cache.db", "wal", "SELECT * FROM ml_model_cache", None),
        ("exclusive-locking WAL", "fast-excl.db", "wal", None, "exclusive"),
        (":memory:", ":memory:", "delete", None, None)):
    con = make_db(path if path == ":memory:" else os.path.join(tmp, path), mode, locking=locking)
    if first:
        con.execute(first).fetchall()
    warm(con)
    extra = nested(con)
    if locking or path == ":memory:":
        c.check(len(extra) >= 10, "%s: each prediction reads the registry (%d statements)" % (what, len(extra)))
    else:
        c.check(extra == [], "%s: warm predictions open no read transaction: %r" % (what, extra[:3]))
    con.close()

# ---- another process commits, step by step ----
for mode in ("delete", "wal"):
    path = os.path.join(tmp, "writer-%s.db" % mode)
    con = make_db(path, mode)
    warm(con)
    w = Writer(path)
    latest, prod = 1, 1
    for step in range(1, 25):
        kind = step % 4
        if kind == 0:
            latest += 1
            w.run(train(latest))
        elif kind == 1:
            prod = latest
            w.run("SELECT ml_alias('m', 'prod', %d)" % prod)
        elif kind == 2:
            w.run("INSERT INTO other VALUES (%d)" % step)  # a commit that leaves the registry
        else:
            w.run("PRAGMA wal_checkpoint(TRUNCATE)" if mode == "wal" else "DELETE FROM other")
        for _ in range(3):
            expect(con, "%s, step %d" % (mode, step), latest, prod)
    # A dropped version: the latest is the one before (which prod names).
    c.check(prod == latest - 1, "%s: prod is the version before the latest" % mode)
    w.run("SELECT ml_drop('m', %d)" % latest)
    expect(con, "%s: the latest dropped" % mode, prod, prod)
    w.close()
    con.close()

# A rollback-journal database that the other process turns to WAL, then commits to.
path = os.path.join(tmp, "to-wal.db")
con = make_db(path, "delete")
warm(con)
w = Writer(path)
w.run("PRAGMA journal_mode=wal")
w.run(train(2))
expect(con, "the other process turned the file to WAL and trained", 2, 1)
w.run("SELECT ml_alias('m', 'prod', 2)")
expect(con, "then moved the alias in WAL", 2, 2)
w.close()
con.close()

# An ATTACHed database, with a quoted name, whose commits leave main's trace
# alone; the other process's commits to main are still seen.
path = os.path.join(tmp, "with-attached.db")
side = os.path.join(tmp, "side.db")
con = make_db(path, "wal")
con.execute("ATTACH ? AS \"side \"\"db\"\"\"", (side,))
con.execute("CREATE TABLE \"side \"\"db\"\"\".t(v)")
warm(con)
w = Writer(side)
w.run("INSERT INTO t VALUES (1)")
expect(con, "a commit to the attached file", 1, 1)
c.check(nested(con) == [], "a commit to the attached file leaves the trace of main as it was")
w.close()
w = Writer(path)
w.run(train(2))
expect(con, "with a file attached, the other process trained in main", 2, 1)
w.close()
con.execute("INSERT INTO \"side \"\"db\"\"\".t VALUES (2)")
expect(con, "after an own commit to the attached file", 2, 1)
con.close()

# ---- a second connection of the same process ----
for mode in ("delete", "wal"):
    path = os.path.join(tmp, "same-%s.db" % mode)
    con = make_db(path, mode)
    warm(con)
    two = connect(a.ext, path, isolation_level=None)
    two.execute(train(2)).fetchone()
    expect(con, "%s: another connection of this process trained" % mode, 2, 1)
    two.execute("SELECT ml_alias('m', 'prod', 2)").fetchone()
    expect(con, "%s: another connection of this process moved the alias" % mode, 2, 2)
    two.close()
    con.close()

# ---- the connection's own commits ----
for mode, locking in (("delete", "normal"), ("delete", "exclusive"), ("wal", "normal")):
    what = "%s, %s locking" % (mode, locking)
    path = os.path.join(tmp, "own-%s-%s.db" % (mode, locking))
    con = make_db(path, mode)
    con.execute("PRAGMA locking_mode=%s" % locking)
    con.execute("SELECT count(*) FROM d").fetchone()  # the exclusive lock taken
    warm(con)
    for v in (2, 3):
        con.execute(train(v)).fetchone()
        warm(con)
        expect(con, "%s: own version %d" % (what, v), v, 1)
    con.execute("SELECT ml_alias('m', 'prod', 2)").fetchone()
    warm(con)
    expect(con, "%s: own alias moved" % what, 3, 2)
    # DDL moves no change count: SQLite's data version says it.
    con.execute("CREATE INDEX sneaky ON ml_aliases(version)")
    try:
        predict(con, "m@prod")
        c.check(False, "%s: m@prod refused after an index was put on ml_aliases" % what)
    except sqlite3.Error as e:
        c.check("sneaky" in str(e), "%s: m@prod refused after an index was put on ml_aliases: %s" % (what, e))
    con.execute("DROP INDEX sneaky")
    expect(con, "%s: the index dropped" % what, 3, 2)
    # The backup API writes main with no statement, so no change count.
    source = os.path.join(tmp, "source-%s-%s.db" % (mode, locking))
    src = make_db(source, "delete")
    src.execute(train(9)).fetchone()
    src.backup(con)
    src.close()
    expect(con, "%s: another database copied into main by the backup API" % what, 9, 1)
    con.close()

# Own switches of the journal mode, with another process committing after each.
path = os.path.join(tmp, "switch.db")
con = make_db(path, "wal")
latest = 1
for mode in ("delete", "wal", "delete", "wal"):
    warm(con)
    con.execute("PRAGMA journal_mode=%s" % mode).fetchone()  # alone: leaving WAL needs that
    warm(con)
    latest += 1
    w = Writer(path)
    w.run(train(latest))
    expect(con, "own switch to %s, then the other process trained" % mode, latest, 1)
    w.close()
con.close()

# ---- WAL index in private memory: answers right, and no -shm made ----
for what, path, uri, locking in (
        ("exclusive-locking WAL", os.path.join(tmp, "excl.db"), False, "exclusive"),
        ("the unix-excl VFS", "file:%s?vfs=unix-excl" % os.path.join(tmp, "unix-excl.db"), True, None)):
    file = os.path.join(tmp, "unix-excl.db" if uri else "excl.db")
    con = make_db(path, "wal", locking=locking, uri=uri)
    warm(con)
    con.execute(train(2)).fetchone()
    warm(con)
    expect(con, "%s: own version 2" % what, 2, 1)
    c.check(not os.path.exists(file + "-shm"), "%s: no -shm file" % what)
    con.close()

# ---- no file trace: :memory:, a temporary file ----
for what, path in ((":memory:", ":memory:"), ("a temporary file", "")):
    con = make_db(path, "delete")
    warm(con)
    for v in (2, 3):
        con.execute(train(v)).fetchone()
        warm(con)
        expect(con, "%s: own version %d" % (what, v), v, 1)
    con.close()

# ---- another database deserialized into main ----
other = make_db(os.path.join(tmp, "image.db"), "delete")
other.execute(train(7)).fetchone()
other.execute("SELECT ml_alias('m', 'prod', 2)").fetchone()
image = other.serialize()
other.close()
path = os.path.join(tmp, "replaced.db")
con = make_db(path, "delete")
warm(con)
con.deserialize(image)
expect(con, "after deserialize() of another database into main", 7, 7)
con.close()

c.done()
