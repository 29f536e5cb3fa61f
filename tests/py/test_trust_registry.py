#!/usr/bin/python3
"""Trust boundaries and transactions (issue 12): the registry belongs to
sqlml, and a prediction by name is never stale.

Each part replays what was seen before the fix, as it was seen (the attack
or the stale answer), and checks the answer now, with exact error texts:

- by-name lookups follow this connection's own uncommitted writes,
  ROLLBACK, ROLLBACK TO a savepoint, plain SQL on the registry tables and
  another connection's commit;
- a trigger of an ATTACHed database cannot read a model by name under
  PRAGMA trusted_schema=OFF;
- registry objects that sqlml did not make are refused before any read or
  write; a TEMP table of the same name is not the registry;
- a version that is not an integer is not "latest", and malformed metrics
  do not break ml_models.
"""
import json
import os
import shutil
import sqlite3
import tempfile

from sqlml_test import Checker, args, connect

a = args()
c = Checker("trust_registry")
tmp = tempfile.mkdtemp()
here = os.path.dirname(os.path.abspath(__file__))


def fails(con, sql, msg, what):
    """The statement fails with exactly msg."""
    try:
        con.execute(sql).fetchall()
    except sqlite3.Error as e:
        return c.check(str(e) == msg, "%s: %r, expected %r" % (what, str(e), msg))
    return c.check(False, "%s: no error, expected %r" % (what, msg))


def one(con, sql, *params):
    return con.execute(sql, params).fetchone()[0]


def near(x, want):
    return x is not None and abs(x - want) < 1e-9


def make_db(path, journal="DELETE"):
    """y = 2x (model 'm' version 1: predicts 20 at x = 10); table t3 has y = 3x."""
    con = connect(a.ext, path, isolation_level=None)
    con.execute("PRAGMA journal_mode=%s" % journal)
    con.execute("CREATE TABLE t2(y REAL, x REAL)")
    con.execute("CREATE TABLE t3(y REAL, x REAL)")
    con.executemany("INSERT INTO t2 VALUES (?, ?)", [(2 * i, i) for i in range(1, 30)])
    con.executemany("INSERT INTO t3 VALUES (?, ?)", [(3 * i, i) for i in range(1, 30)])
    con.execute("SELECT ml_train('m', 't2', 'y', '[\"x\"]', '{\"test_size\":0}')").fetchone()
    # Names from a column of a main table: not constants, so every row goes
    # through the connection's cache, inside the statement's read transaction.
    con.execute("CREATE TABLE names(n TEXT)")
    con.execute("INSERT INTO names VALUES ('m'), ('m'), ('m')")
    return con


TRAIN2 = "SELECT ml_train('m', 't2', 'y', '[\"x\"]', '{\"test_size\":0}')"
TRAIN3 = "SELECT ml_train('m', 't3', 'y', '[\"x\"]', '{\"test_size\":0}')"


def by_name(con, ref="m"):
    """The prediction at x = 10 through the cache: a name from a column of a
    main table, and a bound name in a statement that reads no table."""
    rows = con.execute("SELECT ml_predict(n || ?, 10) FROM names", (ref[1:],)).fetchall()
    single = one(con, "SELECT ml_predict(?, 10)", ref)
    c.check(len(set(r[0] for r in rows)) == 1 and rows[0][0] == single,
            "one answer for every row of a statement, and alone: %r, %r" % (rows, single))
    return rows[0][0]


def slope(con, ref="m"):
    """The slope as ml_model_json, ml_weights and ml_predict_interval see it."""
    j = json.loads(one(con, "SELECT ml_model_json(n || ?) FROM names LIMIT 1", ref[1:]))
    w = one(con, "SELECT estimate FROM ml_weights(?) WHERE term = 'x'", ref)
    iv = json.loads(one(con, "SELECT ml_predict_interval(n || ?, 0.9, 10) FROM names LIMIT 1", ref[1:]))
    b = [t["estimate"] for t in j["coefficients"] if t["term"] == "x"][0]
    c.check(near(w, b) and near(iv["fit"], 10 * b + j["coefficients"][0]["estimate"]),
            "ml_model_json, ml_weights and ml_predict_interval agree on %s" % ref)
    return round(b, 9)


# ---- (3) the by-name cache follows the connection's own transaction ----
con = make_db(os.path.join(tmp, "tx.db"))
c.check(near(by_name(con), 20) and slope(con) == 2, "version 1 predicts 20")
# Seen: after BEGIN; ml_train v2; ROLLBACK the cache kept v2 (30) and its JSON.
con.execute("BEGIN")
con.execute(TRAIN3).fetchone()
c.check(near(by_name(con), 30) and slope(con) == 3, "inside the transaction, its own retrain is 'm'")
c.check(near(by_name(con, "m@2"), 30), "and 'm@2'")
con.execute("ROLLBACK")
c.check(near(by_name(con), 20) and slope(con) == 2, "after ROLLBACK, 'm' is version 1 again")
fails(con, "SELECT ml_predict('m@2', 10) FROM names",
      "ml_predict(): model 'm' has no version 2 (versions 1 to 1)", "the rolled-back version is gone")

# SAVEPOINT / ROLLBACK TO, the transaction still open.
con.execute("SAVEPOINT outer_sp")
c.check(near(by_name(con), 20), "in a savepoint, before the retrain")
con.execute("SAVEPOINT inner_sp")
con.execute(TRAIN3).fetchone()
c.check(near(by_name(con), 30), "in a savepoint, after the retrain")
con.execute("ROLLBACK TO inner_sp")
c.check(near(by_name(con), 20) and slope(con) == 2, "after ROLLBACK TO, inside the transaction")
con.execute("RELEASE outer_sp")
c.check(near(by_name(con), 20), "after RELEASE")

# A committed retrain, then a drop and an alias move inside transactions.
con.execute(TRAIN3).fetchone()
c.check(near(by_name(con), 30), "a committed retrain is seen")
con.execute("SELECT ml_alias('m', 'prod', 1)").fetchone()
c.check(near(by_name(con, "m@prod"), 20), "alias on version 1")
con.execute("BEGIN")
c.check(one(con, "SELECT ml_drop('m', 2)") == 1, "drop version 2 inside a transaction")
c.check(near(by_name(con), 20) and slope(con) == 2, "after the drop, 'm' is version 1 at once")
con.execute("ROLLBACK")
c.check(near(by_name(con), 30), "the rolled-back drop: version 2 is back")
con.execute("BEGIN")
con.execute("SELECT ml_alias('m', 'prod', 2)").fetchone()
c.check(near(by_name(con, "m@prod"), 30), "an alias moved inside a transaction is seen")
con.execute("ROLLBACK")
c.check(near(by_name(con, "m@prod"), 20), "and its ROLLBACK too")

# Plain SQL on the registry tables, in and out of a transaction.
con.execute("UPDATE ml_aliases SET version = 2 WHERE alias = 'prod'")
c.check(near(by_name(con, "m@prod"), 30), "UPDATE ml_aliases by plain SQL is seen")
con.execute("BEGIN")
con.execute("UPDATE ml_aliases SET version = 1 WHERE alias = 'prod'")
c.check(near(by_name(con, "m@prod"), 20), "UPDATE ml_aliases inside a transaction is seen")
con.execute("ROLLBACK")
c.check(near(by_name(con, "m@prod"), 30), "and its ROLLBACK")
con.execute("BEGIN")
con.execute("DELETE FROM ml_model_versions WHERE version = 2")
c.check(near(by_name(con), 20), "DELETE of the latest version by plain SQL is seen")
con.execute("ROLLBACK")
c.check(near(by_name(con), 30), "and its ROLLBACK")
# A constant name inside one statement keeps its model (auxdata), and the
# next statement sees the change.
con.execute("UPDATE ml_aliases SET version = 1 WHERE alias = 'prod'")
con.execute("BEGIN")
c.check(near(one(con, "SELECT ml_predict('m', 10)"), 30), "constant name before a drop")
con.execute("SELECT ml_drop('m', 2)").fetchone()
c.check(near(one(con, "SELECT ml_predict('m', 10)"), 20), "constant name after a drop, same transaction")
con.execute("ROLLBACK")
con.close()

# Another connection's commit, in rollback-journal and WAL modes.
for journal in ("DELETE", "WAL"):
    path = os.path.join(tmp, "two-%s.db" % journal)
    w = make_db(path, journal)
    r = connect(a.ext, path, isolation_level=None)
    c.check(near(by_name(r), 20), "%s: the reader sees version 1" % journal)
    w.execute(TRAIN3).fetchone()
    c.check(near(by_name(r), 30) and slope(r) == 3, "%s: another connection's commit is seen" % journal)
    w.execute("BEGIN")
    w.execute("SELECT ml_drop('m', 2)").fetchone()
    if journal == "WAL":
        c.check(near(by_name(r), 30), "WAL: another connection's uncommitted drop is not seen")
    w.execute("COMMIT")
    c.check(near(by_name(r), 20), "%s: another connection's committed drop is seen" % journal)
    r.close()
    w.close()

# ---- (5) reading across schemas: a trigger of an ATTACHed database ----
path = os.path.join(tmp, "secret.db")
con = make_db(path)
con.execute("SELECT ml_train('secret', 't3', 'y', '[\"x\"]', '{\"test_size\":0}')").fetchone()
evil = os.path.join(tmp, "evil.db")
e = sqlite3.connect(evil)
e.executescript("""
CREATE TABLE inbox(x);
CREATE TABLE loot(j);
CREATE TRIGGER steal AFTER INSERT ON inbox BEGIN INSERT INTO loot VALUES (ml_model_json('secret')); END;
CREATE VIEW peek AS SELECT ml_predict('secret', 1) AS p;
""")
e.close()
con.execute("ATTACH ? AS other", (evil,))
con.execute("PRAGMA trusted_schema=OFF")
fails(con, "INSERT INTO other.inbox VALUES (1)", "unsafe use of ml_model_json()",
      "trusted_schema=OFF: an attached trigger cannot read a model by name")
c.check(one(con, "SELECT count(*) FROM other.loot") == 0, "nothing copied")
fails(con, "SELECT * FROM other.peek", "unsafe use of ml_predict()",
      "trusted_schema=OFF: an attached view cannot predict by name")
# The application's own statements still read by name.
c.check(near(one(con, "SELECT ml_predict('secret', 1)"), 3), "direct use under trusted_schema=OFF")
con.execute("PRAGMA trusted_schema=ON")
con.execute("INSERT INTO other.inbox VALUES (1)")
c.check(one(con, "SELECT count(*) FROM other.loot") == 1,
        "trusted_schema=ON (the default): the schema is trusted, as SQLite documents")
con.execute("DETACH other")
con.close()

# ---- (6) a hostile registry ----
NOT_SQLML = "%s(): the registry in this database was not made by sqlml: "


def hostile(name, ddl, fname_msgs, undo):
    """A database whose registry has ddl applied: each function refused with the message."""
    path = os.path.join(tmp, "hostile-%s.db" % name)
    con = make_db(path)
    con.execute("SELECT ml_alias('m', 'prod', 1)").fetchone()
    c.check(near(by_name(con), 20), "%s: warm cache before the change" % name)
    before = con.execute("SELECT name, version, hex(model) FROM main.ml_model_versions").fetchall()
    con.executescript(ddl)
    for sql, fname, msg in fname_msgs:
        fails(con, sql, NOT_SQLML % fname + msg, "%s: %s" % (name, sql))
    after = con.execute("SELECT name, version, hex(model) FROM main.ml_model_versions").fetchall()
    c.check(before == after, "%s: the registry is unchanged" % name)
    # Another connection opening the file is refused too.
    o = connect(a.ext, path)
    fails(o, "SELECT ml_predict('m', 1)", NOT_SQLML % "ml_predict" + fname_msgs[0][2],
          "%s: another connection" % name)
    o.close()
    con.executescript(undo)
    c.check(near(by_name(con), 20), "%s: removed, the registry works again" % name)
    j = json.loads(one(con, TRAIN3))
    c.check(j["version"] == 2, "%s: removed, ml_train stores version 2" % name)
    con.close()


ALL = [
    ("SELECT ml_predict(n, 10) FROM names", "ml_predict"),
    ("SELECT ml_predict('m', 10)", "ml_predict"),
    ("SELECT ml_predict_interval('m', 0.9, 10)", "ml_predict_interval"),
    ("SELECT ml_model_json('m@prod')", "ml_model_json"),
    ("SELECT * FROM ml_weights('m')", "ml_weights"),
    ("SELECT ml_evaluate('m', 't2')", "ml_evaluate"),
    (TRAIN3, "ml_train"),
    ("SELECT ml_alias('m', 'prod', 1)", "ml_alias"),
    ("SELECT ml_drop('m', 1)", "ml_drop"),
    ("SELECT ml_drop('m')", "ml_drop"),
]


def every(msg):
    return [(sql, fname, msg) for sql, fname in ALL]


# Seen: the AFTER INSERT trigger replaced every new model with version 1's.
hostile("after-insert", """
CREATE TRIGGER swap AFTER INSERT ON ml_model_versions BEGIN
  UPDATE ml_model_versions SET model = (SELECT model FROM ml_model_versions WHERE version = 1)
   WHERE name = new.name AND version = new.version;
END;""", every("trigger 'swap' on ml_model_versions is not sqlml's; remove it (DROP TRIGGER \"swap\") "
               "or use another database"), "DROP TRIGGER swap;")
# Seen: BEFORE INSERT RAISE(IGNORE): ml_train returned "version":0 and no error.
hostile("raise-ignore", """
CREATE TRIGGER discard BEFORE INSERT ON ml_model_versions BEGIN SELECT RAISE(IGNORE); END;""",
        every("trigger 'discard' on ml_model_versions is not sqlml's; remove it (DROP TRIGGER "
              "\"discard\") or use another database"), "DROP TRIGGER discard;")
# Seen: a no-op trigger under the name sqlml uses, so drops left aliases behind.
hostile("noop-drop-trigger", """
DROP TRIGGER ml_model_versions_drop;
CREATE TRIGGER ml_model_versions_drop AFTER DELETE ON ml_model_versions BEGIN SELECT 1; END;""",
        every("trigger 'ml_model_versions_drop' is not the trigger sqlml creates (its definition "
              "differs); remove it (DROP TRIGGER \"ml_model_versions_drop\") or use another database"),
        "DROP TRIGGER ml_model_versions_drop;")
hostile("models-table", "DROP VIEW ml_models; CREATE TABLE ml_models(name, version);",
        every("table 'ml_models' is not the view sqlml creates; rename it (ALTER TABLE \"ml_models\" "
              "RENAME TO ...) or use another database"), "DROP TABLE ml_models;")
hostile("models-index", "DROP VIEW ml_models; CREATE INDEX ml_models ON t2(x);",
        every("index 'ml_models' is not the view sqlml creates; remove it (DROP INDEX \"ml_models\") "
              "or use another database"), "DROP INDEX ml_models;")
hostile("index", "CREATE INDEX by_version ON ml_model_versions(version);",
        every("index 'by_version' on ml_model_versions is not sqlml's; remove it (DROP INDEX "
              "\"by_version\") or use another database"), "DROP INDEX by_version;")
hostile("aliases-trigger",
        "CREATE TRIGGER spy AFTER UPDATE ON ml_aliases BEGIN SELECT 1; END;",
        every("trigger 'spy' on ml_aliases is not sqlml's; remove it (DROP TRIGGER \"spy\") or use "
              "another database"), "DROP TRIGGER spy;")
# Seen: a table without the primary key was written to as the registry.
# (Renaming the table rewrites the trigger, which would be refused first.)
hostile("no-primary-key", """
DROP TRIGGER ml_model_versions_drop;
DROP VIEW ml_models;
ALTER TABLE ml_model_versions RENAME TO kept;
CREATE TABLE ml_model_versions AS SELECT * FROM kept;""",
        every("table 'ml_model_versions' is not the table sqlml creates (its definition differs); "
              "rename it (ALTER TABLE \"ml_model_versions\" RENAME TO ...) or use another database"),
        "DROP TABLE ml_model_versions; ALTER TABLE kept RENAME TO ml_model_versions;")
hostile("upper-case-view", "DROP VIEW ml_models; CREATE VIEW ML_MODELS AS SELECT 1;",
        every("view 'ML_MODELS' is not the view sqlml creates (its definition differs); remove it "
              "(DROP VIEW \"ML_MODELS\") or use another database"), "DROP VIEW ML_MODELS;")

# A hostile object made after the verdict was cached, by another connection.
path = os.path.join(tmp, "later.db")
con = make_db(path)
c.check(near(by_name(con), 20), "later: trusted first")
o = sqlite3.connect(path)
o.execute("CREATE TRIGGER late BEFORE INSERT ON ml_model_versions BEGIN SELECT RAISE(IGNORE); END")
o.commit()
o.close()
fails(con, "SELECT ml_predict(n, 10) FROM names", NOT_SQLML % "ml_predict" +
      "trigger 'late' on ml_model_versions is not sqlml's; remove it (DROP TRIGGER \"late\") or use "
      "another database", "later: another connection's trigger is seen")
con.execute("DROP TRIGGER late")
# The same made inside this connection's transaction, then rolled back.
con.execute("BEGIN")
con.execute("CREATE TRIGGER late BEFORE INSERT ON ml_model_versions BEGIN SELECT RAISE(IGNORE); END")
fails(con, TRAIN3, NOT_SQLML % "ml_train" + "trigger 'late' on ml_model_versions is not sqlml's; "
      "remove it (DROP TRIGGER \"late\") or use another database", "later: inside a transaction")
con.execute("ROLLBACK")
c.check(json.loads(one(con, TRAIN3))["version"] == 2, "later: after ROLLBACK, ml_train works")

# A TEMP trigger (this connection's own) may discard the row: an error, never version 0.
con.execute("CREATE TEMP TRIGGER tdiscard BEFORE INSERT ON main.ml_model_versions "
            "BEGIN SELECT RAISE(IGNORE); END")
fails(con, TRAIN3, "ml_train(): the new version of 'm' was not stored: a trigger on ml_model_versions "
      "discarded it (a TEMP trigger: see sqlite_temp_schema)", "a TEMP trigger's RAISE(IGNORE)")
con.execute("DROP TRIGGER tdiscard")
c.check(one(con, "SELECT max(version) FROM ml_model_versions") == 2, "nothing stored")

# Seen: a TEMP table of the same name shadowed the registry (the existence
# check read main, the writes and lookups went to temp).
con.execute("CREATE TEMP TABLE ml_model_versions(name, version, model)")
con.execute("CREATE TEMP TABLE ml_aliases(name, alias, version)")
con.execute("INSERT INTO temp.ml_model_versions VALUES ('m', 99, x'00')")
c.check(near(by_name(con), 30), "TEMP shadow: lookups read main")
c.check(json.loads(one(con, TRAIN2))["version"] == 3, "TEMP shadow: ml_train numbers from main")
c.check(one(con, "SELECT ml_alias('m', 'prod', 3)") == 3, "TEMP shadow: ml_alias writes main")
c.check(one(con, "SELECT version FROM main.ml_aliases WHERE alias = 'prod'") == 3 and
        one(con, "SELECT count(*) FROM temp.ml_aliases") == 0, "TEMP shadow: the alias is in main")
c.check(near(by_name(con, "m@prod"), 20), "TEMP shadow: alias lookup reads main")
c.check(one(con, "SELECT ml_drop('m', 2)") == 1 and
        one(con, "SELECT count(*) FROM temp.ml_model_versions") == 1, "TEMP shadow: ml_drop deletes in main")
c.check(one(con, "SELECT count(*) FROM main.ml_model_versions") == 2, "TEMP shadow: main has 2 versions")
con.close()

# ---- (9) versions that are not integers; malformed metrics ----
# A registry of sqlml 0.1.0 (no CHECK on version) edited by hand.
path = os.path.join(tmp, "models-v1.db")
shutil.copy(os.path.join(here, "..", "fixtures", "models-v1.db"), path)
con = connect(a.ext, path, isolation_level=None)
old_view = one(con, "SELECT sql FROM sqlite_schema WHERE name = 'ml_models'")
latest = one(con, "SELECT ml_predict('plain', 1500, 3, 'Boston')")
con.execute("INSERT INTO ml_model_versions SELECT name, 7.5, created_at, kind, source, target, features, "
            "options, n_train, n_test, n_skipped, metrics, data_hash, sqlml_version, "
            "(SELECT model FROM ml_model_versions WHERE name = 'ridge') FROM ml_model_versions "
            "WHERE name = 'plain' AND version = 1")
con.execute("INSERT INTO ml_model_versions SELECT name, 'zz', created_at, kind, source, target, features, "
            "options, n_train, n_test, n_skipped, metrics, data_hash, sqlml_version, "
            "(SELECT model FROM ml_model_versions WHERE name = 'ridge') FROM ml_model_versions "
            "WHERE name = 'plain' AND version = 1")
c.check(one(con, "SELECT ml_predict('plain', 1500, 3, 'Boston')") == latest,
        "a REAL or TEXT version is not the latest")
fails(con, "SELECT ml_predict('plain@7', 1, 2, 'x')",
      "ml_predict(): model 'plain' has no version 7 (versions 1 to 2)", "versions listed are integers")
con.execute("UPDATE ml_model_versions SET metrics = 'not json' WHERE name = 'ridge'")
# Seen: one malformed metrics text broke the whole view.
fails(con, "SELECT name, r2_train FROM ml_models", "malformed JSON", "the view of sqlml 0.1.0 (as seen)")
j = json.loads(one(con, "SELECT ml_train('plain', 'flats', 'price', '[\"sqft\",\"rooms\"]')"))
c.check(j["version"] == 3, "the next version is the largest integer + 1: %r" % j["version"])
new_view = one(con, "SELECT sql FROM sqlite_schema WHERE name = 'ml_models'")
c.check(new_view != old_view and "json_valid" in new_view, "ml_train replaced the view of sqlml 0.1.0")
c.check(len(con.execute("SELECT name, r2_train FROM ml_models").fetchall()) == one(con, "SELECT count(*) FROM ml_model_versions"),
        "ml_models survives malformed metrics")
c.check(one(con, "SELECT r2_train IS NULL AND metrics = 'not json' FROM ml_models WHERE name = 'ridge'"),
        "the malformed row shows NULL metrics")
con.close()
# A new registry refuses them.
con = make_db(os.path.join(tmp, "strict.db"))
for v in ("2.5", "'two'", "x'02'"):
    fails(con, "INSERT INTO ml_model_versions SELECT name, %s, created_at, kind, source, target, "
          "features, options, n_train, n_test, n_skipped, metrics, data_hash, sqlml_version, model "
          "FROM ml_model_versions" % v,
          "CHECK constraint failed: typeof(version) = 'integer' AND version >= 1",
          "a new registry takes integer versions only (%s)" % v)
c.check(one(con, "SELECT count(*) FROM ml_models WHERE r2_train > 0.99") == 1, "ml_models of a new registry")
con.close()
c.done()
