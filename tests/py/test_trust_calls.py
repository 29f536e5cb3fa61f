#!/usr/bin/python3
"""Attacks through SQL text on the calls sqlml makes (issue 12): each case as
it was seen, now refused with a clear error, the process alive and the
registry as it was.

- A source that names ?1 handed ml_train's own pointer to a nested ml__pass
  with the wrong argument count: a segfault.
- A view that trains or evaluates on itself, and a split table whose source
  view reads that same table, recursed until the stack overflowed.
- A "read-only" source that calls ml_drop, ml_alias or ml_train wrote to the
  registry (sqlite3_stmt_readonly cannot see what a function does).
- SELECT ml_train(...) FROM ml_model_versions read its own new versions
  without end.
- An interrupt while ml_train stored its version, inside the caller's BEGIN,
  rolled back the caller's whole transaction without saying so.  SQLite does
  that for any write interrupted (sqlite3VdbeHalt); the error now says so,
  and an interrupt before the write leaves the transaction as it was.

Each risky statement runs in a child sqlite3 shell too, so a crash shows as
a signal instead of taking this test with it.
"""
import sqlite3
import subprocess

from sqlml_test import Checker, args, connect

FIXTURE = """
CREATE TABLE t(id INTEGER PRIMARY KEY, y REAL, x REAL);
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 20)
INSERT INTO t SELECT i, 1 + 2 * i + (i % 3), i FROM r;
SELECT ml_train('prod', 't', 'y', '["x"]', '{"test_size":0}');
SELECT ml_alias('prod', 'production', 1);
CREATE TABLE mm AS SELECT ml_fit_opts('{}', y, x) AS m FROM t;
"""

NEST = ("sources nest more than 4 deep: does the source read itself (a view or split table "
        "that calls sqlml over itself)?")
WRITE = ("cannot write the model registry from inside a source that sqlml is reading (the SQL "
         "of ml_train, ml_evaluate, ml_predictions or an ml_split table); run it as a statement "
         "of its own")
LOOP = ("ml_train(): the statement that calls it reads the model registry, and would read the "
        "versions it adds without end; select what it needs into a table first")

# (setup, statement, the exact error); each on a fresh copy of the fixture.
CASES = [
    # 1. ?1 in a source (the crash); the source cannot take parameters at all.
    ("", "SELECT ml_train('m', 'SELECT ml__pass(?1) AS y, 1 AS x FROM t', 'y', '[\"x\"]')",
     "ml_train(): the source query has a parameter (?1); write its value into the query"),
    ("", "SELECT ml_train('m', 'SELECT ml__pass(?1, 1, 2, 3) AS y, 1 AS x FROM t', 'y', '[\"x\"]')",
     "ml_train(): the source query has a parameter (?1); write its value into the query"),
    ("", "SELECT ml__pass(1, 2, 3)", "ml__pass(): internal to ml_train"),
    ("", "SELECT ml__pass(NULL)", "ml__pass(): internal to ml_train"),
    # 2. Recursion through views and split tables.
    ("CREATE TEMP VIEW v AS SELECT y, json_extract(ml_evaluate((SELECT m FROM mm), 'v'), '$.n') "
     "AS x1 FROM t;", "SELECT * FROM v", "ml_evaluate(): " + NEST),
    ("CREATE TEMP VIEW w AS SELECT y, x, ml_train('m', 'w', 'y') AS e FROM t;",
     "SELECT * FROM w", "ml_train(): " + WRITE),
    ("CREATE TEMP VIEW w AS SELECT y, json_extract(ml_evaluate('prod', 'w'), '$.n') AS x FROM t;",
     "SELECT ml_train('m', 'w', 'y', '*', '{\"test_size\":0}')", "ml_evaluate(): " + NEST),
    ("CREATE TEMP VIEW v AS SELECT * FROM t;"
     "CREATE VIRTUAL TABLE temp.s USING ml_split(v, test_size=0.5, seed=1, key=id);"
     "DROP VIEW v; CREATE TEMP VIEW v AS SELECT id, y, x FROM s;",
     "SELECT count(*) FROM s", "ml_split: " + NEST),
    ("CREATE TEMP VIEW pv AS SELECT id, y, (SELECT count(*) FROM ml_predictions('prod', 'pv')) "
     "AS x FROM t;", "SELECT * FROM pv", "ml_predictions(): " + NEST),
    # 3. Writes from a source.
    ("", "SELECT ml_train('other', 'SELECT y, x, ml_drop(''prod'') AS junk FROM t', 'y')",
     "ml_drop(): " + WRITE),
    ("", "SELECT ml_train('other', 'SELECT y, x, ml_alias(''prod'', ''production'', NULL) AS junk "
         "FROM t', 'y')", "ml_alias(): " + WRITE),
    ("", "SELECT ml_train('other', 'SELECT y, x, ml_train(''prod'', ''t'', ''y'') AS junk FROM t', "
         "'y')", "ml_train(): " + WRITE),
    ("", "SELECT ml_evaluate('prod', 'SELECT y, x + length(ml_drop(''prod'')) AS x FROM t')",
     "ml_drop(): " + WRITE),
    ("CREATE TEMP VIEW dv AS SELECT id, y, x, ml_drop('prod') AS junk FROM t;"
     "CREATE VIRTUAL TABLE temp.ds USING ml_split(dv, test_size=0.5, seed=1, key=id);",
     "SELECT count(junk) FROM ds", "ml_drop(): " + WRITE),
    # 7. What a model could store but never read back: an empty name, a NUL in a level.
    ("CREATE TABLE e(y REAL, \"\" REAL); INSERT INTO e VALUES (1, 1), (2, 2), (3, 4);",
     "SELECT ml_train('m', 'SELECT y, \"\" FROM e', 'y', NULL, '{\"test_size\":0}')",
     "ml_train(): column 2 of the source 'SELECT y, \"\" FROM e' has an empty name, which a model "
     "cannot keep; name it in a query (SELECT \"\" AS x, ...) or list the features"),
    ("CREATE TABLE n(y REAL, c TEXT); INSERT INTO n VALUES (1, 'a'), (2, 'b' || char(0) || 'x'), "
     "(3, 'b');", "SELECT ml_train('m', 'n', 'y', '[\"c\"]', '{\"test_size\":0}')",
     "ml_train(): column 'c' is a text with a NUL byte ('b...') in row 2, which a model cannot "
     "keep as a level; replace(column, char(0), '') removes them"),
    ("CREATE TABLE n(y REAL, c TEXT); INSERT INTO n VALUES (1, 'a'), (2, 'b' || char(0) || 'x'), "
     "(3, 'b');", "SELECT ml_fit_opts('{\"categorical\":[1]}', y, c) FROM n",
     "ml_fit_opts(): argument 3 is a text with a NUL byte ('b...') in row 2, which a model cannot "
     "keep as a level; replace(column, char(0), '') removes them"),
    # 9. A statement that reads the registry and trains on each row.
    ("", "SELECT ml_train('prod', 't', 'y') FROM ml_model_versions", LOOP),
    ("", "SELECT ml_train('prod', 't', 'y') FROM ml_models", LOOP),
    ("CREATE TEMP VIEW names AS SELECT name FROM ml_model_versions;",
     "SELECT ml_train(name, 't', 'y') FROM names", LOOP),
]


def registry(con):
    return (con.execute("SELECT name, version, model FROM ml_model_versions ORDER BY 1, 2").fetchall(),
            con.execute("SELECT * FROM ml_aliases ORDER BY 1, 2").fetchall())


def in_shell(a, setup, sql):
    """The statement in a child sqlite3 shell: its exit status and stderr."""
    script = ".load %s\n%s\n%s\n%s;\n" % (a.ext, FIXTURE, setup, sql)
    p = subprocess.run([a.sqlite3, ":memory:"], input=script, capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stderr


a = args()
c = Checker("trust_calls")
for setup, sql, want in CASES:
    code, err = in_shell(a, setup, sql)
    c.check(code >= 0, "%s: the shell died of signal %d" % (sql[:80], -code))
    con = connect(a.ext)
    con.executescript(FIXTURE)
    con.executescript(setup)
    before = registry(con)
    try:
        con.execute(sql).fetchall()
        got = None
    except Exception as e:  # sqlite3.OperationalError
        got = str(e)
    c.check(got == want, "%s: got %r, want %r" % (sql[:80], got, want))
    c.check(registry(con) == before, "%s: the registry is as it was" % sql[:80])
    con.close()

# What still works: a split table as the source of ml_train (2 deep), and
# writers called from an outer statement that reads a split table directly.
con = connect(a.ext)
con.executescript(FIXTURE)
con.executescript("CREATE VIRTUAL TABLE temp.s USING ml_split(t, test_size=0.25, seed=3, key=id);"
                  "CREATE TEMP VIEW sv AS SELECT * FROM s WHERE split = 'train';")
c.check(con.execute("SELECT json_extract(ml_train('fromsplit', 'sv', 'y', '[\"x\"]', "
                    "'{\"test_size\":0}'), '$.n_train')").fetchone()[0]
        == con.execute("SELECT count(*) FROM s WHERE split = 'train'").fetchone()[0],
        "ml_train over a view over a split table")
c.check(con.execute("SELECT count(ml_alias('prod', 'side_' || split, 1)) FROM s").fetchone()[0] == 20,
        "a writer in the outer statement over a split table runs")
c.check(con.execute("SELECT json_extract(ml_evaluate('prod', 's'), '$.n')").fetchone()[0] == 20,
        "ml_evaluate over a split table")
c.check(con.execute("SELECT json_extract(ml_train('once', 't', 'y'), '$.version') = 1 AND "
                    "(SELECT count(*) FROM ml_models WHERE name = 'once') = 1").fetchone()[0] == 1,
        "ml_train with a subquery on the registry (no loop over it) runs")
c.check(con.execute("SELECT count(ml_train(name || '_copy', 't', 'y')) FROM "
                    "(SELECT name FROM ml_models GROUP BY name)").fetchone()[0] == 3,
        "ml_train per row of the registry's names, grouped first (no loop over the registry) runs")

# 'name@latest' is the name; 'latest' cannot be an alias.  On a read-only
# database ml_train fails before it reads a row (issue 11, item 10).
c.check(con.execute("SELECT ml_predict('prod@latest', 3) = ml_predict('prod', 3)").fetchone()[0] == 1,
        "'prod@latest' is 'prod'")
try:
    con.execute("SELECT ml_alias('prod', 'latest', 1)")
    got = None
except sqlite3.Error as e:
    got = str(e)
c.check(got == "ml_alias(): 'latest' always names the newest version of a model; choose another "
        "alias", "'latest' is no alias: %r" % got)
import os
import tempfile
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "ro.db")
    rw = connect(a.ext, path)
    rw.executescript(FIXTURE)
    rw.commit()
    rw.close()
    ro = connect(a.ext, "file:%s?mode=ro" % path, uri=True)
    steps = [0]

    def count():
        steps[0] += 1
        return 0
    ro.set_progress_handler(count, 1)
    try:
        ro.execute("SELECT ml_train('prod', 't', 'y')").fetchall()
        got = None
    except sqlite3.Error as e:
        got = str(e)
    c.check(got == "ml_train(): the main database is read-only, so the registry in it cannot be "
            "written; open it read-write (or train in another database, ATTACHing this one)",
            "read-only: %r" % got)
    c.check(steps[0] < 50, "read-only: refused before reading the source (%d VM steps)" % steps[0])
    ro.close()

# The caller's transaction and an interrupt at every point of ml_train (a
# progress handler that interrupts after `limit` steps, from 1 step up to a
# run that completes).
LOST = ("ml_train(): interrupted while storing the version; SQLite rolled back the whole "
        "transaction this statement ran in: its uncommitted changes are lost, and the statements "
        "after it run in autocommit mode")
kept = lost = after = 0
limit = 1
while True:
    con = connect(a.ext, isolation_level=None)
    con.executescript(FIXTURE + "CREATE TABLE mine(a);")
    con.execute("BEGIN")
    con.execute("INSERT INTO mine VALUES (1)")
    steps = [0]

    def interrupt_at(limit=limit):
        steps[0] += 1
        return 1 if steps[0] >= limit else 0
    con.set_progress_handler(interrupt_at, 1)
    try:
        j = con.execute("SELECT ml_train('prod', 't', 'y', '[\"x\"]', '{\"test_size\":0}')").fetchone()[0]
        err = None
    except sqlite3.Error as e:
        err = str(e)
    con.set_progress_handler(None, 1)
    versions = con.execute("SELECT count(*) FROM ml_model_versions WHERE name = 'prod'").fetchone()[0]
    mine = con.execute("SELECT count(*) FROM mine").fetchone()[0]
    if err is None:
        c.check(con.in_transaction and versions == 2 and mine == 1,
                "limit %d: trained inside the caller's transaction" % limit)
        break
    if err == "interrupted" and versions == 2:
        # SQLite's own message: the calling statement was interrupted after
        # ml_train had returned its row, so the version stands (README).
        after += 1
        c.check(con.in_transaction and mine == 1, "limit %d: interrupted after the row" % limit)
    elif con.in_transaction:
        kept += 1
        if not c.check(versions == 1 and mine == 1,
                       "limit %d: %r: nothing stored, the caller's row kept" % (limit, err)):
            break
    else:
        lost += 1
        if not c.check(err == LOST and versions == 1 and mine == 0,
                       "limit %d: the transaction was rolled back, and the error says so: %r"
                       % (limit, err)):
            break
    con.close()
    limit += 1
c.check(kept > 0 and lost > 0, "interrupts before the write keep the transaction (%d), during it "
        "the error says it was lost (%d)" % (kept, lost))
print("trust_calls: interrupts at %d points: %d kept the caller's transaction, %d rolled it back "
      "and said so, %d came after the version was stored" % (kept + lost + after, kept, lost, after))
c.done()
