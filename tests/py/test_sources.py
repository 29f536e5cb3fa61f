#!/usr/bin/python3
"""Sources: one resolver for ml_train, ml_evaluate, ml_split and
ml_predictions.  Every form of a source (names bare, qualified and quoted;
tables, views, virtual tables; SELECT, WITH and VALUES queries, with
trailing semicolons and comments) gives each function the rows SQL itself
reads from the same text; ATTACHed schemas and temp shadowing resolve as
SQL resolves them; parameters, writes and two statements are refused with
the same words everywhere; _rowid_ and oid are the rowid."""
import json
import os
import sqlite3
import tempfile
import time

from sqlml_test import Checker, args, connect, error_of

a = args()
c = Checker("sources")
con = connect(a.ext, isolation_level=None)
con.execute("ATTACH ':memory:' AS aux")


def make(table, n, slope):
    """A table of n rows, y = 1 + slope * x, exactly."""
    con.execute("CREATE TABLE %s(id INTEGER PRIMARY KEY, y REAL, x REAL)" % table)
    con.executemany("INSERT INTO %s VALUES (?, ?, ?)" % table,
                    [(i, 1 + slope * i, i) for i in range(1, n + 1)])


# The same name in three schemas, each with its own rows and slope, so the
# answer says which table was read.
make("main.t", 30, 2)
make("aux.t", 40, 3)
make("aux.only_aux", 35, 4)
make('main."a b"', 21, 5)
make('main."we""ird"', 22, 6)
make("main.[x.y]", 23, 7)
con.execute("CREATE VIEW v AS SELECT * FROM t WHERE id <= 24")
con.execute("CREATE VIRTUAL TABLE main.st USING ml_split(t, test_size=0.25, seed=3)")

QUERIES = [
    "SELECT * FROM t WHERE id <= 26",
    "WITH w AS (SELECT * FROM t) SELECT * FROM w WHERE id > 3",
    "VALUES (1, 3.0, 1.0), (2, 5.0, 2.0), (3, 7.0, 3.0), (4, 9.0, 4.0), (5, 11.0, 5.0), "
    "(6, 13.0, 6.0)",
]

# (source text, the same rows written as SQL's FROM item)
FORMS = [
    ("t", "t"),
    ("main.t", "main.t"),
    ("aux.t", "aux.t"),
    ("only_aux", "only_aux"),
    ("AUX.Only_Aux", "aux.only_aux"),
    ('"aux"."t"', "aux.t"),
    (' "aux" . "t" ', "aux.t"),
    ('"a b"', '"a b"'),
    ("a b", '"a b"'),
    ('"we""ird"', '"we""ird"'),
    ("[x.y]", '"x.y"'),
    ("`x.y`", '"x.y"'),
    ("main.[x.y]", 'main."x.y"'),
    ("v", "v"),
    ("st", "st"),
]
for q in QUERIES:
    FORMS += [(q, "(%s)" % q), (q + ";", "(%s)" % q), (q + " ;; ", "(%s)" % q),
              (q + " -- the last rows", "(%s)" % q), (q + "; -- a comment", "(%s)" % q),
              (q + " /* a comment */", "(%s)" % q), ("/* lead */ " + q + "\n-- end\n;", "(%s)" % q),
              (q + "\n-- one\n-- two", "(%s)" % q)]


def one(sql, *params):
    return con.execute(sql, params).fetchone()[0]


def err(sql, *p):
    return error_of(con, sql, *p)


def sql_string(s):
    return "'" + s.replace("'", "''") + "'"


# ---- every form, every function: the rows SQL reads ----
for i, (src, sql_from) in enumerate(FORMS):
    f = "f%d" % i
    want_n = one("SELECT count(*) FROM %s" % sql_from)
    # ml_train: every row is read once, train or test.
    target = "column2" if "VALUES" in src else "y"
    feats = '["column3"]' if "VALUES" in src else '["x"]'
    opts = '{"key":"column1"}' if "VALUES" in src else None
    try:
        r = json.loads(one("SELECT ml_train(?, ?, ?, ?, ?)", f, src, target, feats, opts))
        c.check(r["n_train"] + r["n_test"] == want_n,
                "ml_train(%r) read %d rows, SQL reads %d" % (src, r["n_train"] + r["n_test"], want_n))
        slope = one("SELECT json_extract(ml_model_json(?), '$.coefficients[1].estimate')", f)
        want_slope = one("SELECT (max(%s) - min(%s)) / (max(%s) - min(%s)) FROM %s" %
                         ((target, target, feats[2:-2], feats[2:-2]) + (sql_from,)))
        c.check(abs(slope - want_slope) < 1e-9, "ml_train(%r): slope %r, want %r" % (src, slope, want_slope))
    except sqlite3.Error as e:
        c.check(False, "ml_train(%r): %s" % (src, e))
        continue
    # ml_evaluate: n is every row of the source.
    ev = err("SELECT ml_evaluate(?, ?)", f, src)
    if ev is None:
        ev_json = json.loads(one("SELECT ml_evaluate(?, ?)", f, src))
        c.check(ev_json["n"] == want_n, "ml_evaluate(%r): n %d, want %d" % (src, ev_json["n"], want_n))
    else:
        c.check(False, "ml_evaluate(%r): %s" % (src, ev))
    # ml_predictions: one row per source row, as ml_predict gives it.
    pr = err("SELECT * FROM ml_predictions(?, ?)", f, src)
    if pr is None:
        got = [r[0] for r in con.execute("SELECT prediction FROM ml_predictions(?, ?)", (f, src))]
        want = [r[0] for r in con.execute("SELECT ml_predict(?, %s) FROM %s" %
                                          (feats[2:-2], sql_from), (f,))]
        c.check(sorted(got) == sorted(want), "ml_predictions(%r): %d predictions, want %d"
                % (src, len(got), len(want)))
    else:
        c.check(False, "ml_predictions(%r): %s" % (src, pr))
    # ml_split: as a string, and (names) written bare as SQL writes them.
    key = "column1" if "VALUES" in src else "id"
    # (A split table of a split table would have two split columns.)
    args_list = [sql_string(src)] if src != "st" else []
    if src != "st" and not any(src.lstrip().upper().startswith(k) or src.startswith("/*") for k in ("SELECT", "WITH", "VALUES")):
        args_list.append(src)
    for arg in args_list:
        con.execute("DROP TABLE IF EXISTS temp.sp")
        e = err("CREATE VIRTUAL TABLE temp.sp USING ml_split(%s, key=%s)" % (arg, key))
        if e is not None:
            c.check(False, "ml_split(%s): %s" % (arg, e))
            continue
        n = one("SELECT count(*) FROM temp.sp")
        sides = one("SELECT count(*) FROM temp.sp WHERE split = ml_split_of(%s, 0.2, 0)" % key)
        c.check(n == want_n and sides == n, "ml_split(%s): %d rows (%d on their side), want %d"
                % (arg, n, sides, want_n))
con.execute("DROP TABLE IF EXISTS temp.sp")

# ---- temp shadows main as SQL resolves it; aux is found after main ----
make("temp.t", 25, 9)
c.check(one("SELECT count(*) FROM t") == 25, "fixture: SQL reads temp.t for t")
for fn_sql, get_n in [
    ("SELECT ml_train('s', ?, 'y', '[\"x\"]')", lambda r: r["n_train"] + r["n_test"]),
    ("SELECT ml_evaluate('s', ?)", lambda r: r["n"]),
]:
    for src, want in [("t", 25), ("temp.t", 25), ("main.t", 30), ("aux.t", 40)]:
        n = get_n(json.loads(one(fn_sql, src)))
        c.check(n == want, "%s with %r: %d rows, want %d" % (fn_sql.split("(")[0][7:], src, n, want))
c.check(one("SELECT count(*) FROM ml_predictions('s', 't')") == 25, "ml_predictions: t is temp.t")
# A split table in temp finds its source as SQL does; one in main or aux
# looks in its own schema (a schema object cannot depend on temp).
con.execute("CREATE VIRTUAL TABLE temp.sp_t USING ml_split(t)")
con.execute("CREATE VIRTUAL TABLE main.sp_m USING ml_split(t)")
con.execute("CREATE VIRTUAL TABLE aux.sp_a USING ml_split(t)")
c.check(one("SELECT count(*) FROM temp.sp_t") == 25, "ml_split in temp: t is temp.t")
c.check(one("SELECT count(*) FROM main.sp_m") == 30, "ml_split in main: t is main.t")
c.check(one("SELECT count(*) FROM aux.sp_a") == 40, "ml_split in aux: t is aux.t")
con.execute("DROP TABLE temp.t")
c.check(json.loads(one("SELECT ml_evaluate('s', 't')"))["n"] == 30, "after DROP temp.t, t is main.t")

# ---- a split table is a source of ml_train, by its rowid ----
r = json.loads(one("SELECT ml_train('via_split', 'st', 'y', '[\"x\"]', '{\"test_size\":0.25,\"seed\":3}')"))
direct = json.loads(one("SELECT ml_train('direct', 't', 'y', '[\"x\"]', '{\"test_size\":0.25,\"seed\":3}')"))
c.check((r["n_train"], r["n_test"]) == (direct["n_train"], direct["n_test"]),
        "the split table as a source splits as its table does: %r vs %r" %
        ((r["n_train"], r["n_test"]), (direct["n_train"], direct["n_test"])))
c.check(one("SELECT count(*) FROM st WHERE split = 'test'") == direct["n_test"],
        "ml_train's test rows are the split table's")

# ---- _rowid_ and oid are the rowid: ml_train's key, ml_split's key= ----
base = json.loads(one("SELECT ml_train('k', 't', 'y', '[\"x\"]', '{\"key\":\"rowid\",\"seed\":5}')"))
for name in ("_rowid_", "oid", "OID", "RowId"):
    r = json.loads(one("SELECT ml_train('k', 't', 'y', '[\"x\"]', json_object('key', ?, 'seed', 5))", name))
    c.check((r["n_train"], r["n_test"], r["data_hash"]) == (base["n_train"], base["n_test"], base["data_hash"]),
            "ml_train key %s is the rowid" % name)
    con.execute("CREATE VIRTUAL TABLE temp.kk USING ml_split(t, key=%s, seed=5)" % name)
    c.check(one("SELECT count(*) FROM temp.kk WHERE split <> ml_split_of(rowid, 0.2, 5)") == 0,
            "ml_split key=%s is the rowid" % name)
    con.execute("DROP TABLE temp.kk")
# A column of that name is the column, as in SQL.
con.execute("CREATE TABLE hasoid(oid TEXT, y REAL, x REAL)")
con.executemany("INSERT INTO hasoid VALUES (?, ?, ?)", [("k%d" % i, 1 + i, i) for i in range(20)])
r = json.loads(one("SELECT ml_train('ko', 'hasoid', 'y', '[\"x\"]', '{\"key\":\"oid\"}')"))
want_test = one("SELECT count(*) FROM hasoid WHERE ml_split_of(oid, 0.2, 0) = 'test'")
c.check(r["n_test"] == want_test, "key oid names the column oid when there is one")
c.check(err("SELECT ml_train('k', 'v', 'y', '[\"x\"]', '{\"key\":\"oid\"}')")
        == "ml_train(): the source 'v' has no rowid (option key)", "a view has no oid")

# ---- errors: the same words from every function ----
FUNCS = {
    "ml_train": lambda s: ("SELECT ml_train('e', ?, 'y', '[\"x\"]')", (s,)),
    "ml_evaluate": lambda s: ("SELECT ml_evaluate('f0', ?)", (s,)),
    "ml_predictions": lambda s: ("SELECT * FROM ml_predictions('f0', ?)", (s,)),
    "ml_split": lambda s: ("CREATE VIRTUAL TABLE temp.e USING ml_split(%s, key=id)" % sql_string(s), ()),
}
ERRORS = [
    ("", "the source is empty; give a table, a view or a query"),
    ("  -- nothing\n", "the source is empty; give a table, a view or a query"),
    ("nosuch", "no table or view named 'nosuch'"),
    ("aux.nosuch", "no table or view named 'nosuch' in schema 'aux'"),
    ("nodb.t", "no table or view named 't' in schema 'nodb'"),
    ('"a"b', "the source '\"a\"b' is not a name: expected table, schema.table or a query "
             "(SELECT, WITH or VALUES)"),
    ("a.b.c", "the source 'a.b.c' is not a name: expected table, schema.table or a query "
              "(SELECT, WITH or VALUES)"),
    ('"unclosed', "the source '\"unclosed' is not a name: expected table, schema.table or a query "
                  "(SELECT, WITH or VALUES)"),
    ("SELECT * FROM t WHERE id > ?1", "the source query has a parameter (?1); write its value into the query"),
    ("SELECT * FROM t WHERE id > ?", "the source query has a parameter (?); write its value into the query"),
    ("SELECT * FROM t WHERE id > :lo", "the source query has a parameter (:lo); write its value into the query"),
    ("SELECT * FROM t WHERE id > @lo", "the source query has a parameter (@lo); write its value into the query"),
    ("SELECT * FROM t WHERE id > $lo", "the source query has a parameter ($lo); write its value into the query"),
    ("SELECT * FROM t; SELECT 1", "the source must be one statement"),
    ("SELECT * FROM t; DELETE FROM t", "the source must be one statement"),
    ("SELECT * FROM nosuch", "the source query does not compile: no such table: nosuch"),
    ("SELECT * FROM t WHERE", "the source query does not compile: incomplete input"),
    ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
     "the source query does not compile: near \"DELETE\": syntax error"),
]
for src, body in ERRORS:
    for fn, mk in FUNCS.items():
        sql, params = mk(src)
        want = ("%s: %s" if fn == "ml_split" else "%s(): %s") % (fn, body)
        got = err(sql, *params)
        c.check(got == want, "%s(%r): got %r, want %r" % (fn, src, got, want))
        con.execute("DROP TABLE IF EXISTS temp.e")
# A query that writes is refused before it runs (VALUES cannot write;
# SELECT and WITH are read-only by their grammar, so the check is for
# what SQLite may add to them).
c.check(one("SELECT count(*) FROM t") == 30, "no refused source wrote to t")

# A view that no longer reads is found, and says what fails inside it.
con.execute("CREATE TABLE gone(y REAL, x REAL)")
con.execute("CREATE VIEW over_gone AS SELECT * FROM gone")
con.execute("DROP TABLE gone")
for fn, sql in [("ml_train", "SELECT ml_train('g', 'over_gone', 'y')"),
                ("ml_evaluate", "SELECT ml_evaluate('f0', 'over_gone')"),
                ("ml_predictions", "SELECT * FROM ml_predictions('f0', 'over_gone')")]:
    got = err(sql)
    c.check(got == "%s(): cannot read the source 'over_gone': no such table: main.gone" % fn,
            "%s on a broken view: %r" % (fn, got))

# ml_train binds its own ?1: a source naming ?1 once crashed the process.
got = err("SELECT ml_train('p', 'SELECT ?1 AS y, x FROM t', 'y', '[\"x\"]')")
c.check(got == "ml_train(): the source query has a parameter (?1); write its value into the query",
        "a source with ?1 is refused: %r" % got)

# ---- a locked database: the error says what is known, with SQLITE_BUSY ----
path = os.path.join(tempfile.mkdtemp(), "locked.db")
w = connect(a.ext, path, timeout=0, isolation_level=None)
w.execute("CREATE TABLE t(y REAL, x REAL)")
w.executemany("INSERT INTO t VALUES (?, ?)", [(1 + 2 * i, i) for i in range(20)])
blob = w.execute("SELECT ml_fit(y, x) FROM t").fetchone()[0]
r = connect(a.ext, path, timeout=0, isolation_level=None)
w.execute("BEGIN EXCLUSIVE")
for sql, params, fn in [("SELECT ml_evaluate(?, 't')", (blob,), "ml_evaluate"),
                        ("SELECT ml_train('m', 't', 'y')", (), "ml_train")]:
    got, code = None, None
    try:
        r.execute(sql, params).fetchall()
    except sqlite3.Error as e:
        got, code = str(e), getattr(e, "sqlite_errorcode", None)
    c.check(got == "%s(): the database is locked by another connection; try again" % fn,
            "%s on a locked database: %r" % (fn, got))
    c.check(code is not None and code & 0xff == 5,
            "%s on a locked database: code %r, want SQLITE_BUSY (5)" % (fn, code))
w.execute("ROLLBACK")
w.close()
r.close()

c.done()
