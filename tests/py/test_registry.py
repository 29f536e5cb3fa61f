#!/usr/bin/python3
"""The registry beyond what SQL alone can show: metrics against
scikit-learn, read-only databases, the model cache across connections,
concurrent trainers in separate processes, interrupts."""
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from sqlml_test import Checker, args, connect

a = args()
c = Checker("registry")
tmp = tempfile.mkdtemp()


def make_data(con, n=5000, seed=3):
    r = random.Random(seed)
    con.execute("CREATE TABLE d(id INTEGER PRIMARY KEY, y REAL, a REAL, b REAL)")
    rows = []
    for i in range(n):
        x1, x2 = r.uniform(0, 10), r.uniform(-5, 5)
        y = 4 + 1.5 * x1 - 2 * x2 + r.gauss(0, 1)
        rows.append((i + 1, y if i % 97 else None, x1, x2))
    con.executemany("INSERT INTO d VALUES (?,?,?,?)", rows)
    con.commit()


# ---- metrics of ml_train and ml_evaluate against scikit-learn ----
try:
    from sklearn import metrics as skm
except ImportError:
    skm = None
    print("registry: sklearn comparisons SKIPPED (Debian python3-sklearn)")
if skm:
    con = connect(a.ext)
    make_data(con)
    j = json.loads(con.execute("SELECT ml_train('m', 'd', 'y', '[\"a\",\"b\"]', "
                               "'{\"test_size\":0.25,\"seed\":9,\"metrics\":\"full\"}')").fetchone()[0])
    for side in ("train", "test"):
        rows = con.execute("SELECT y, ml_predict('m', a, b) FROM d WHERE y IS NOT NULL "
                           "AND ml_split_of(id, 0.25, 9) = ?", (side,)).fetchall()
        ys, ps = [r[0] for r in rows], [r[1] for r in rows]
        got = j["metrics"][side]
        want = {"n": len(rows), "r2": skm.r2_score(ys, ps),
                "rmse": skm.mean_squared_error(ys, ps) ** 0.5,
                "mae": skm.mean_absolute_error(ys, ps), "max_error": skm.max_error(ys, ps)}
        for k, v in want.items():
            c.check(abs(got[k] - v) <= 1e-9 * max(1, abs(v)),
                    "ml_train %s %s: %r, scikit-learn %r" % (side, k, got[k], v))
    c.check(j["n_skipped"] == sum(1 for i in range(5000) if i % 97 == 0), "n_skipped counts NULL rows")
    c.check(j["nulls"]["y"] == j["n_skipped"] and j["nulls"]["a"] == 0, "NULLs counted per column")
    con.execute("CREATE TABLE new AS SELECT y + 0.5 * (id % 3) AS y, a, b FROM d WHERE id % 5 = 0")
    ev = json.loads(con.execute("SELECT ml_evaluate('m', 'new')").fetchone()[0])
    rows = con.execute("SELECT y, ml_predict('m', a, b) FROM new WHERE y IS NOT NULL").fetchall()
    ys, ps = [r[0] for r in rows], [r[1] for r in rows]
    want = {"n": len(rows), "r2": skm.r2_score(ys, ps), "rmse": skm.mean_squared_error(ys, ps) ** 0.5,
            "mae": skm.mean_absolute_error(ys, ps),
            "mape": skm.mean_absolute_percentage_error(ys, ps),
            "explained_variance": skm.explained_variance_score(ys, ps), "max_error": skm.max_error(ys, ps)}
    for k, v in want.items():
        c.check(abs(ev[k] - v) <= 1e-9 * max(1, abs(v)), "ml_evaluate %s: %r, scikit-learn %r" % (k, ev[k], v))
    c.check(ev["n_skipped"] == 1000 - len(rows), "ml_evaluate counts skipped rows")
    con.close()

# ---- a read-only database: loading works, predicting by name works, training cannot ----
path = os.path.join(tmp, "ro.db")
con = connect(a.ext, path)
make_data(con, 500)
con.execute("SELECT ml_train('m', 'd', 'y', '[\"a\",\"b\"]')").fetchone()
con.commit()
con.close()
os.chmod(path, 0o444)
ro = connect(a.ext, "file:%s?mode=ro" % path, uri=True)
p = ro.execute("SELECT ml_predict('m', 1, 2)").fetchone()[0]
c.check(abs(p - (4 + 1.5 - 4)) < 0.5, "prediction from a read-only database")
try:
    ro.execute("SELECT ml_train('m2', 'd', 'y')").fetchone()
    c.check(False, "ml_train on a read-only database fails")
except sqlite3.Error as e:
    c.check("read-only" in str(e), "ml_train on a read-only database: %s" % e)
ro.close()
empty_ro = os.path.join(tmp, "empty.db")
sqlite3.connect(empty_ro).execute("CREATE TABLE t(x)").connection.close()
os.chmod(empty_ro, 0o444)
con = connect(a.ext, "file:%s?mode=ro" % empty_ro, uri=True)
c.check(con.execute("SELECT ml_version()").fetchone()[0] is not None,
        "loading into a read-only database without a registry")
con.close()

# ---- the name cache follows retraining in another connection ----
path = os.path.join(tmp, "cache.db")
w = connect(a.ext, path, isolation_level=None)
w.execute("PRAGMA journal_mode=WAL")
w.execute("CREATE TABLE t(y REAL, x REAL)")
w.executemany("INSERT INTO t VALUES (?, ?)", [(2 * i, i) for i in range(1, 50)])
w.execute("SELECT ml_train('slope', 't', 'y', '[\"x\"]', '{\"test_size\":0}')").fetchone()
rd = connect(a.ext, path, isolation_level=None)
rd.execute("CREATE TEMP TABLE names(n TEXT)")
rd.execute("INSERT INTO names VALUES ('slope')")
q = "SELECT ml_predict(n, 10) FROM names"      # a name from a column: not a constant
c.check(abs(rd.execute(q).fetchone()[0] - 20) < 1e-9, "predict by a name from a column")
w.execute("UPDATE t SET y = 3 * x")
w.execute("SELECT ml_train('slope', 't', 'y', '[\"x\"]', '{\"test_size\":0}')").fetchone()
c.check(abs(rd.execute(q).fetchone()[0] - 30) < 1e-9, "a retrain in another connection is seen")
c.check(abs(rd.execute("SELECT ml_predict('slope', 10)").fetchone()[0] - 30) < 1e-9,
        "a constant name resolves to the new version")
c.check(abs(rd.execute("SELECT ml_predict('slope@1', 10)").fetchone()[0] - 20) < 1e-9,
        "pinned version unchanged")
rd.close()
w.close()

# ---- two processes train the same name at once on a WAL database ----
path = os.path.join(tmp, "conc.db")
con = connect(a.ext, path)
con.execute("PRAGMA journal_mode=WAL")
make_data(con, 200000)
con.close()
script = r'''
import sqlite3, sys
con = sqlite3.connect(sys.argv[2], isolation_level=None, timeout=60)
con.enable_load_extension(True); con.load_extension(sys.argv[1])
try:
    print(con.execute("SELECT json_extract(ml_train('race', 'd', 'y', '[\"a\",\"b\"]'), '$.version')").fetchone()[0])
except sqlite3.Error as e:
    print("error: %s" % e)
'''
procs = [subprocess.Popen([sys.executable, "-c", script, a.ext, path], stdout=subprocess.PIPE,
                          text=True) for _ in range(3)]
outs = [p.communicate()[0].strip() for p in procs]
versions = sorted(int(o) for o in outs if o.isdigit())
errors = [o for o in outs if not o.isdigit()]
c.check(all("busy" in e or "locked" in e for e in errors), "only busy errors: %r" % errors)
c.check(versions == list(range(1, len(versions) + 1)), "distinct consecutive versions: %r" % outs)
con = connect(a.ext, path)
rows = con.execute("SELECT count(*), count(DISTINCT version), max(version) FROM ml_model_versions "
                   "WHERE name = 'race'").fetchone()
c.check(rows == (len(versions), len(versions), len(versions)), "no lost or duplicate row: %r" % (rows,))
c.check(con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity after the race")

# ---- an interrupt stops ml_train and leaves the registry as it was ----
before = con.execute("SELECT count(*) FROM ml_model_versions").fetchone()[0]
con.execute("CREATE TABLE big AS SELECT d.* FROM d, (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
            "SELECT i + 1 FROM c WHERE i < 10) SELECT i FROM c)")
stopped = {}


def stop():
    time.sleep(0.1)
    stopped["at"] = time.monotonic()
    con.interrupt()


th = threading.Thread(target=stop)
th.start()
t0 = time.monotonic()
try:
    con.execute("SELECT ml_train('slow', 'big', 'y', '[\"a\",\"b\"]', '{\"refine\":true,\"metrics\":\"full\"}')").fetchone()
    c.check(False, "the interrupt stops ml_train (it finished first: make the table bigger)")
except sqlite3.Error as e:
    lag = time.monotonic() - stopped.get("at", t0)
    c.check("interrupt" in str(e), "interrupted: %s" % e)
    print("registry: ml_train returned %.1f ms after sqlite3_interrupt" % (lag * 1000))
th.join()
after = con.execute("SELECT count(*) FROM ml_model_versions").fetchone()[0]
c.check(before == after, "an interrupted ml_train adds no version")
c.check(not con.in_transaction, "no transaction left open")
# The same through a progress handler.
con.set_progress_handler(lambda: 1, 100000)
try:
    con.execute("SELECT ml_train('slow', 'big', 'y', '[\"a\",\"b\"]')").fetchone()
    c.check(False, "a progress handler stops ml_train")
except sqlite3.Error as e:
    c.check("interrupt" in str(e), "progress handler: %s" % e)
con.set_progress_handler(None, 0)
c.check(con.execute("SELECT count(*) FROM ml_model_versions").fetchone()[0] == before,
        "stopped by a progress handler: no version")
con.close()
c.done()
