#!/usr/bin/python3
"""ml_predictions(model, source [, options]): features matched to the
source's columns by name.  By name, @version, @alias and BLOB; columns in
another order and case give what positional ml_predict gives with the
columns in the model's order; a missing column is named; NULL features give
NULL; joins on source_rowid (either side outer); INSERT ... SELECT; the
interval columns equal ml_predict_interval's; DIRECTONLY.  The named table
(CREATE VIRTUAL TABLE ... USING ml_predictions(model, source)): the source's
columns and the prediction, live, by rowid, its errors."""
import json
import sqlite3

from sqlml_test import Checker, args, connect, error_of

a = args()
c = Checker("predictions")
con = connect(a.ext, isolation_level=None)

con.executescript("""
CREATE TABLE cars(id INTEGER PRIMARY KEY, mpg REAL, wt REAL, hp REAL, cyl TEXT);
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 60)
INSERT INTO cars SELECT i, 40 - 4.5 * (2 + (i % 7) * 0.3) - 0.03 * (90 + (i * 37) % 120)
                           + CASE i % 3 WHEN 0 THEN 0 WHEN 1 THEN -1.5 ELSE -3 END + ((i * 13) % 5) * 0.1,
                       2 + (i % 7) * 0.3, 90 + (i * 37) % 120, CASE i % 3 WHEN 0 THEN '4' WHEN 1 THEN '6' ELSE '8' END
  FROM r;
-- The same features in another order, another case, among other columns.
CREATE TABLE new_cars(name TEXT, CYL TEXT, Hp REAL, extra INTEGER, WT REAL);
INSERT INTO new_cars VALUES ('a', '4', 100, 1, 2.5), ('b', '8', 180, 2, 3.9), ('c', '6', 95, 3, 2.1),
                            ('d', NULL, 120, 4, 3.0), ('e', '6', NULL, 5, 2.8), ('f', '4', 150, 6, 2.2);
CREATE TABLE no_wt(name TEXT, hp REAL, cyl TEXT);
INSERT INTO no_wt VALUES ('x', 100, '4');
""")


def one(sql, *p):
    return con.execute(sql, p).fetchone()[0]


def rows(sql, *p):
    return con.execute(sql, p).fetchall()


def err(sql, *p):
    return error_of(con, sql, *p)


def close(x, y):
    if x is None or y is None:
        return x is None and y is None
    return abs(x - y) <= 1e-12 * max(1.0, abs(y))


one("""SELECT ml_train('mpg', 'cars', 'mpg', '["wt","hp","cyl"]', '{"test_size":0}')""")
one("""SELECT ml_train('mpg', 'cars', 'mpg', '["wt","hp"]', '{"test_size":0}')""")
one("SELECT ml_alias('mpg', 'production', 1)")

POSITIONAL = {
    "mpg": "ml_predict('mpg', WT, Hp)",
    "mpg@1": "ml_predict('mpg@1', WT, Hp, CYL)",
    "mpg@2": "ml_predict('mpg@2', WT, Hp)",
    "mpg@production": "ml_predict('mpg@production', WT, Hp, CYL)",
}
for ref, positional in POSITIONAL.items():
    want = [r[0] for r in rows("SELECT %s FROM new_cars ORDER BY rowid" % positional)]
    got = rows("SELECT source_rowid, prediction FROM ml_predictions(?, 'new_cars') ORDER BY source_rowid", ref)
    c.check([r[0] for r in got] == list(range(1, 7)), "%s: one row per source row, by rowid" % ref)
    c.check(all(close(g[1], w) for g, w in zip(got, want)) and len(got) == len(want),
            "%s: by name equals positional ml_predict in the model's order: %r vs %r" % (ref, got, want))
c.check(one("SELECT count(*) FROM ml_predictions('mpg@1', 'new_cars') WHERE prediction IS NULL") == 2,
        "a NULL feature (cyl of d, hp of e) gives a NULL prediction")
c.check(one("SELECT count(DISTINCT round(prediction, 9)) FROM ml_predictions('mpg@1', 'new_cars')") == 4,
        "the other rows have their own predictions")

# The order of the model's features is not the source's: a positional call
# with the source's order would be wrong, which is what this function is for.
wrong = one("SELECT ml_predict('mpg@2', Hp, WT) FROM new_cars WHERE name = 'a'")
right = one("SELECT prediction FROM ml_predictions('mpg@2', 'new_cars') WHERE source_rowid = 1")
c.check(not close(wrong, right), "the fixture tells a swapped order apart")

# A model BLOB, from the registry or from a table.
blob_ref = "(SELECT model FROM ml_model_versions WHERE name = 'mpg' AND version = 1)"
got = [r[0] for r in rows("SELECT prediction FROM ml_predictions(%s, 'new_cars') ORDER BY source_rowid" % blob_ref)]
want = [r[0] for r in rows("SELECT ml_predict('mpg@1', WT, Hp, CYL) FROM new_cars ORDER BY rowid")]
c.check(all(close(g, w) for g, w in zip(got, want)) and len(got) == 6, "a BLOB predicts as its version")
con.execute("CREATE TABLE saved AS SELECT model FROM ml_model_versions WHERE name = 'mpg' AND version = 2")
got = [r[0] for r in rows("SELECT p.prediction FROM saved, ml_predictions(saved.model, 'new_cars') AS p "
                          "ORDER BY p.source_rowid")]
want = [r[0] for r in rows("SELECT ml_predict('mpg@2', WT, Hp) FROM new_cars ORDER BY rowid")]
c.check(all(close(g, w) for g, w in zip(got, want)) and len(got) == 6, "a BLOB from a column (lateral)")

# ---- a missing column is named, with what the model needs ----
c.check(err("SELECT * FROM ml_predictions('mpg@1', 'no_wt')")
        == "ml_predictions(): the source 'no_wt' has no column 'wt' (the model 'mpg@1' needs wt, hp, cyl)",
        "missing column, model by name")
c.check(err("SELECT * FROM ml_predictions(%s, 'SELECT name, wt, hp FROM no_wt, (SELECT 1 AS wt)')" % blob_ref)
        == "ml_predictions(): the source 'SELECT name, wt, hp FROM no_wt, (SELECT 1 AS wt)' has no column "
           "'cyl' (the model needs wt, hp, cyl)",
        "missing column, model BLOB")

# ---- other errors ----
ERRORS = [
    ("SELECT * FROM ml_predictions('nosuch', 'new_cars')", "ml_predictions(): no model named 'nosuch'"),
    ("SELECT * FROM ml_predictions('mpg@9', 'new_cars')",
     "ml_predictions(): model 'mpg' has no version 9 (versions 1 to 2)"),
    ("SELECT * FROM ml_predictions(NULL, 'new_cars')",
     "ml_predictions(): argument 1 must be a model BLOB or a model name, got NULL"),
    ("SELECT * FROM ml_predictions(7, 'new_cars')",
     "ml_predictions(): argument 1 must be a model BLOB or a model name, got a number"),
    ("SELECT * FROM ml_predictions(x'0102', 'new_cars')", None),  # the decoder's own words
    ("SELECT * FROM ml_predictions('mpg', 7)", "ml_predictions(): argument 2 must be a table, a view or a query"),
    ("SELECT * FROM ml_predictions('mpg')", "ml_predictions(): expected ml_predictions(model, source [, options])"),
    ("SELECT * FROM ml_predictions('mpg', 'nosuch')", "ml_predictions(): no table or view named 'nosuch'"),
    ("SELECT * FROM ml_predictions('mpg', 'new_cars', '{\"interval\":1.5}')",
     "ml_predictions(): option interval must be a level in (0, 1), e.g. 0.95"),
    ("SELECT * FROM ml_predictions('mpg', 'new_cars', '{\"level\":0.9}')",
     "ml_predictions(): unknown option 'level' (expected interval)"),
    ("SELECT * FROM ml_predictions('mpg', 'new_cars', '[0.9]')",
     "ml_predictions(): options must be a JSON object, got array"),
    ("SELECT * FROM ml_predictions('mpg', 'new_cars', '{')", None),
    ("SELECT * FROM ml_predictions('mpg', 'new_cars', 0.95)",
     "ml_predictions(): argument 3 must be a JSON object of options"),
    ("SELECT * FROM ml_predictions('mpg', 'DELETE FROM new_cars')",
     "ml_predictions(): no table or view named 'DELETE FROM new_cars'"),
    ("SELECT * FROM ml_predictions('mpg', 'SELECT * FROM new_cars WHERE name = ?1')",
     "ml_predictions(): the source query has a parameter (?1); write its value into the query"),
]
for sql, want in ERRORS:
    got = err(sql)
    if want is None:
        c.check(got is not None and got.startswith("ml_predictions(): "), "%s: %r" % (sql, got))
    else:
        c.check(got == want, "%s: got %r, want %r" % (sql, got, want))
c.check(one("SELECT count(*) FROM new_cars") == 6, "no refused source wrote")

# A feature that is text where the model wants a number: ml_predict's words, under this name.
con.execute("CREATE TABLE texty(wt TEXT, hp REAL)")
con.execute("INSERT INTO texty VALUES ('heavy', 100)")
got = err("SELECT * FROM ml_predictions('mpg@2', 'texty')")
c.check(got is not None and got.startswith("ml_predictions(): feature 1 (wt) is text"), "text feature: %r" % got)

# ---- intervals: ml_predict_interval's numbers ----
got = rows("SELECT prediction, se_fit, conf_low, conf_high, pred_low, pred_high "
           "FROM ml_predictions('mpg@1', 'new_cars', '{\"interval\":0.9}') ORDER BY source_rowid")
want = rows("SELECT ml_predict_interval('mpg@1', 0.9, WT, Hp, CYL) FROM new_cars ORDER BY rowid")
ok = len(got) == 6
for g, (w,) in zip(got, want):
    if w is None:
        ok &= all(v is None for v in g)
    else:
        w = json.loads(w)
        ok &= all(close(x, w[k]) for x, k in zip(g, ["fit", "se_fit", "conf_low", "conf_high", "pred_low", "pred_high"]))
c.check(ok, "interval columns equal ml_predict_interval's: %r" % got[:2])
c.check(rows("SELECT DISTINCT se_fit, conf_low, pred_high FROM ml_predictions('mpg', 'new_cars')") == [(None, None, None)],
        "without the option, the interval columns are NULL")

# ---- sources without a rowid: the row column carries the values ----
got = rows("SELECT source_rowid, json_extract(row, '$.name'), prediction FROM "
           "ml_predictions('mpg@2', 'SELECT name, wt, hp FROM new_cars WHERE extra > 2 ORDER BY extra;') ")
want = rows("SELECT name, ml_predict('mpg@2', WT, Hp) FROM new_cars WHERE extra > 2 ORDER BY extra")
c.check([g[0] for g in got] == [None] * 4, "a query has no source_rowid")
c.check([(g[1]) for g in got] == [w[0] for w in want] and all(close(g[2], w[1]) for g, w in zip(got, want)),
        "row ->> name pairs each prediction with its row: %r" % got)
row = one("SELECT row FROM ml_predictions('mpg@2', 'new_cars') WHERE source_rowid = 4")
c.check(json.loads(row) == {"name": "d", "CYL": None, "Hp": 120, "extra": 4, "WT": 3.0}, "row JSON: %r" % row)
con.execute("CREATE VIEW v_cars AS SELECT * FROM new_cars")
c.check(one("SELECT count(*) FROM ml_predictions('mpg', 'v_cars') WHERE source_rowid IS NULL") == 6,
        "a view has no source_rowid")

# ---- joins: the prediction back with its row, whichever side is outer ----
want = rows("SELECT name, ml_predict('mpg@1', WT, Hp, CYL) FROM new_cars ORDER BY name")
for sql in [
    "SELECT n.name, p.prediction FROM new_cars AS n JOIN ml_predictions('mpg@1', 'new_cars') AS p "
    "ON p.source_rowid = n.rowid ORDER BY n.name",
    "SELECT n.name, p.prediction FROM ml_predictions('mpg@1', 'new_cars') AS p JOIN new_cars AS n "
    "ON p.source_rowid = n.rowid ORDER BY n.name",
    # CROSS JOIN keeps new_cars outer: each row looks its prediction up by rowid.
    "SELECT n.name, p.prediction FROM new_cars AS n CROSS JOIN ml_predictions('mpg@1', 'new_cars') AS p "
    "WHERE p.source_rowid = n.rowid ORDER BY n.name",
    "SELECT n.name, (SELECT prediction FROM ml_predictions('mpg@1', 'new_cars') WHERE source_rowid = n.rowid) "
    "FROM new_cars AS n ORDER BY n.name",
]:
    got = rows(sql)
    c.check(len(got) == len(want) and all(g[0] == w[0] and close(g[1], w[1]) for g, w in zip(got, want)),
            "join: %s: %r" % (sql, got))
plan = " ".join(r[3] for r in rows("EXPLAIN QUERY PLAN SELECT n.name, p.prediction FROM new_cars AS n "
                                   "CROSS JOIN ml_predictions('mpg@1', 'new_cars') AS p "
                                   "WHERE p.source_rowid = n.rowid"))
c.check("INDEX 11" in plan, "source_rowid = ? is answered at the source: %s" % plan)
c.check(one("SELECT count(*) FROM ml_predictions('mpg', 'new_cars') WHERE source_rowid = 99") == 0,
        "an absent rowid gives no row")

# ---- INSERT ... SELECT ----
con.execute("CREATE TABLE scored(name TEXT, mpg_hat REAL)")
con.execute("INSERT INTO scored SELECT n.name, p.prediction FROM new_cars AS n "
            "JOIN ml_predictions('mpg@1', 'new_cars') AS p ON p.source_rowid = n.rowid")
got = rows("SELECT name, mpg_hat FROM scored ORDER BY name")
c.check(len(got) == 6 and all(g[0] == w[0] and close(g[1], w[1]) for g, w in zip(got, want)),
        "INSERT ... SELECT stores the predictions")
# Into the source itself: the rows there were when the scan started, once.
con.execute("INSERT INTO new_cars(name, CYL, Hp, WT) SELECT 'copy', '4', p.prediction, 2 "
            "FROM ml_predictions('mpg@2', 'new_cars') AS p")
c.check(one("SELECT count(*) FROM new_cars") == 12, "INSERT into the source reads each old row once")
con.execute("DELETE FROM new_cars WHERE name = 'copy'")

# ---- DIRECTONLY: not from a schema's view or trigger; a temp view may ----
con.execute("CREATE VIEW uses_predictions AS SELECT * FROM ml_predictions('mpg', 'new_cars')")
c.check(err("SELECT * FROM uses_predictions") == 'unsafe use of virtual table "ml_predictions"',
        "a view in the schema may not use it")
con.execute("CREATE TABLE log(n)")
con.execute("CREATE TRIGGER on_car AFTER INSERT ON new_cars BEGIN "
            "INSERT INTO log SELECT count(*) FROM ml_predictions('mpg', 'cars'); END")
c.check(err("INSERT INTO new_cars(name) VALUES ('z')") == 'unsafe use of virtual table "ml_predictions"',
        "a trigger in the schema may not use it")
c.check(one("SELECT count(*) FROM log") == 0, "the trigger read nothing")
con.execute("DROP TRIGGER on_car")
con.execute("CREATE TEMP VIEW temp_uses AS SELECT * FROM ml_predictions('mpg', 'new_cars')")
c.check(one("SELECT count(*) FROM temp_uses") == 6, "a temp view (the user's own) may")

# ---- the named table: the source's own columns, then the prediction ----
con.execute("CREATE VIRTUAL TABLE temp.scored USING ml_predictions('mpg@1', new_cars)")
cols = [r[1] for r in rows("SELECT * FROM pragma_table_xinfo('scored')")]
c.check(cols == ["name", "CYL", "Hp", "extra", "WT", "prediction"], "named table's columns: %r" % cols)
got = rows("SELECT rowid, name, extra, prediction FROM scored ORDER BY rowid")
want = rows("SELECT rowid, name, extra, ml_predict('mpg@1', WT, Hp, CYL) FROM new_cars ORDER BY rowid")
c.check(len(got) == 6 and all(g[:3] == w[:3] and close(g[3], w[3]) for g, w in zip(got, want)),
        "SELECT * from the named table: the source's rows with their predictions: %r" % got)
got = rows("SELECT name, prediction FROM scored WHERE rowid = 3")
c.check(len(got) == 1 and got[0][0] == "c" and close(got[0][1], want[2][3]), "named table by rowid")
plan = " ".join(r[3] for r in rows("EXPLAIN QUERY PLAN SELECT * FROM new_cars AS n CROSS JOIN scored AS s "
                                   "ON s.rowid = n.rowid"))
c.check("INDEX 8" in plan, "the named table's rowid is looked up at the source: %s" % plan)
# Live: a row added to the source, a retrain moving the alias.
con.execute("INSERT INTO new_cars(name, CYL, Hp, WT) VALUES ('g', '8', 200, 4.1)")
c.check(one("SELECT count(*) FROM scored") == 7, "the named table reads the source as it is")
con.execute("DELETE FROM new_cars WHERE name = 'g'")
con.execute("CREATE VIRTUAL TABLE temp.prod USING ml_predictions(model='mpg@production', "
            "source='SELECT name, WT, Hp, CYL FROM new_cars WHERE extra <= 3;', interval=0.95)")
cols = [r[1] for r in rows("SELECT * FROM pragma_table_xinfo('prod')")]
c.check(cols == ["name", "WT", "Hp", "CYL", "prediction", "se_fit", "conf_low", "conf_high", "pred_low",
                 "pred_high"], "named table with an interval: %r" % cols)
before = rows("SELECT name, prediction FROM prod ORDER BY name")
one("SELECT ml_alias('mpg', 'production', 2)")
after = rows("SELECT name, prediction FROM prod ORDER BY name")
want2 = rows("SELECT name, ml_predict('mpg@2', WT, Hp) FROM new_cars WHERE extra <= 3 ORDER BY name")
c.check(len(after) == 3 and all(a[0] == w[0] and close(a[1], w[1]) for a, w in zip(after, want2))
        and not all(close(b[1], a[1]) for b, a in zip(before, after)),
        "the alias is resolved at each scan: %r then %r" % (before, after))
ival = rows("SELECT conf_low < prediction AND prediction < conf_high AND pred_low < conf_low FROM prod")
c.check(ival == [(1,)] * 3, "the named table's intervals are ordered")
for sql, want in [
    ("CREATE VIRTUAL TABLE temp.e USING ml_predictions(mpg)",
     "ml_predictions(): expected CREATE VIRTUAL TABLE name USING ml_predictions(model, source "
     "[, interval=level])"),
    ("CREATE VIRTUAL TABLE temp.e USING ml_predictions(mpg, new_cars, level=0.9)",
     "ml_predictions(): unknown argument 'level' (expected model, source or interval)"),
    ("CREATE VIRTUAL TABLE temp.e USING ml_predictions(mpg, new_cars, interval=95)",
     "ml_predictions(): interval must be a level in (0, 1), e.g. 0.95, given once"),
    ("CREATE VIRTUAL TABLE temp.e USING ml_predictions(mpg, new_cars, model=x)",
     "ml_predictions(): more than one model argument"),
    ("CREATE VIRTUAL TABLE temp.e USING ml_predictions(mpg, nosuch)",
     "ml_predictions(): no table or view named 'nosuch'"),
    ("CREATE VIRTUAL TABLE temp.e USING ml_predictions(mpg, 'SELECT * FROM new_cars WHERE extra > ?')",
     "ml_predictions(): the source query has a parameter (?); write its value into the query"),
    ("CREATE VIRTUAL TABLE temp.e USING ml_predictions(mpg, scored)",
     "ml_predictions(): the source 'scored' already has a column named prediction"),
]:
    got = err(sql)
    c.check(got == want, "%s: got %r, want %r" % (sql, got, want))
con.execute("CREATE VIRTUAL TABLE temp.later USING ml_predictions(mpg, no_wt)")
c.check(err("SELECT * FROM later")
        == "ml_predictions(): the source 'no_wt' has no column 'wt' (the model 'mpg' needs wt, hp)",
        "the named table checks the model's columns when it reads")
con.execute("CREATE VIRTUAL TABLE main.kept USING ml_predictions(mpg, new_cars)")
con.execute("CREATE VIEW uses_kept AS SELECT * FROM kept")
c.check(err("SELECT * FROM uses_kept") == 'unsafe use of virtual table "kept"',
        "a named table is DIRECTONLY too")
c.check(err("INSERT INTO kept(name) VALUES ('x')") == "table kept may not be modified", "read-only")

c.done()
