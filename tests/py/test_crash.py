#!/usr/bin/python3
"""Crash safety: a process killed (SIGKILL) in the middle of ml_train, and
ml_train stopped by sqlite3_interrupt.

For a rollback-journal and a WAL database: a child process trains on a
large table while the parent kills it at times spread over the whole run
(reading, refining, measuring, storing).  Each time the database must pass
PRAGMA integrity_check and its registry must hold exactly the versions
committed before, or those and one more complete version when the kill came
after the commit; every stored model must decode and predict.

Then sqlite3_interrupt, from another thread, at times spread over a run:
ml_train must stop (report how long after the call) and store nothing; once
it has returned its row, its version is stored, whatever the statement's
next step reports.
"""
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from sqlml_test import Checker, args, connect

a = args()
c = Checker("crash")
tmp = tempfile.mkdtemp()
ROWS = 150000
TRAIN = ("SELECT ml_train('m', 'big', 'y', '[\"a\",\"b\",\"c\"]', "
         "'{\"test_size\":0.2,\"refine\":true,\"metrics\":\"full\",\"robust\":\"HC1\"}')")

CHILD = r'''
import sqlite3, sys
con = sqlite3.connect(sys.argv[2], isolation_level=None)
con.enable_load_extension(True)
con.load_extension(sys.argv[1])
print("started", flush=True)
con.execute(sys.argv[3]).fetchone()
print("done", flush=True)
'''


def make_db(path, mode):
    con = connect(a.ext, path, isolation_level=None)
    con.execute("PRAGMA journal_mode=%s" % mode)
    con.execute("CREATE TABLE big(id INTEGER PRIMARY KEY, y REAL, a REAL, b REAL, c TEXT)")
    con.execute("BEGIN")
    con.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
                "INSERT INTO big SELECT i, 3 + 2 * (i %% 101) - (i %% 7) * 0.5 + (i %% 3) * 0.1, "
                "i %% 101, i %% 7, 'c' || (i %% 5) FROM n" % ROWS)
    con.execute("COMMIT")
    for q in ("SELECT ml_train('m', 'SELECT * FROM big WHERE id <= 1000', 'y', '[\"a\",\"b\"]')",
              "SELECT ml_train('m', 'SELECT * FROM big WHERE id <= 2000', 'y', '[\"a\",\"b\",\"c\"]')",
              "SELECT ml_alias('m', 'prod', 1)"):
        con.execute(q).fetchone()
    return con


def registry(con):
    return con.execute("SELECT name, version, data_hash, hex(model) FROM ml_model_versions "
                       "ORDER BY name, version").fetchall()


def check_db(path, before, what):
    con = connect(a.ext, path)
    ok = con.execute("PRAGMA integrity_check").fetchone()[0]
    c.check(ok == "ok", "%s: integrity_check: %s" % (what, ok))
    now = registry(con)
    extra = now[len(before):]
    c.check(now[:len(before)] == before and len(extra) <= 1,
            "%s: the registry holds the versions committed before (and at most one new): %d then %d"
            % (what, len(before), len(now)))
    decoded = con.execute("SELECT count(ml_model_json(name || '@' || version)) FROM ml_model_versions").fetchone()[0]
    c.check(decoded == len(now), "%s: every stored model decodes" % what)
    p = con.execute("SELECT ml_predict('m', 10, 3, 'c1')").fetchone()[0]
    c.check(p is not None and abs(p - (3 + 20 - 1.5 + 0.1)) < 1, "%s: the latest version predicts (%r)" % (what, p))
    c.check(con.execute("SELECT version FROM ml_aliases WHERE alias = 'prod'").fetchone() == (1,),
            "%s: the alias is where it was" % what)
    con.close()
    return len(extra)


kills = completed = 0
for mode in ("DELETE", "WAL"):
    path = os.path.join(tmp, "crash-%s.db" % mode.lower())
    con = make_db(path, mode)
    before = registry(con)
    con.close()
    # How long one ml_train takes here, to spread the kills over it.
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-c", CHILD, a.ext, path, TRAIN], stdout=subprocess.PIPE, text=True)
    out = p.communicate()[0]
    run = time.monotonic() - t0
    c.check("done" in out, "%s: a whole ml_train runs (%.2f s)" % (mode, run))
    con = connect(a.ext, path)
    con.execute("SELECT ml_drop('m', 3)").fetchone()
    con.commit()
    con.close()
    for i in range(8):
        p = subprocess.Popen([sys.executable, "-c", CHILD, a.ext, path, TRAIN], stdout=subprocess.PIPE,
                             text=True)
        p.stdout.readline()  # "started": the extension is loaded, the statement about to run
        time.sleep(run * (0.05 + 0.15 * i))
        p.send_signal(signal.SIGKILL)
        p.communicate()
        kills += 1
        added = check_db(path, before, "%s kill %d at %.0f%%" % (mode, i, 100 * (0.05 + 0.15 * i)))
        if added:
            completed += 1
            con = connect(a.ext, path)
            con.execute("DELETE FROM ml_model_versions WHERE version > 2")
            con.commit()
            con.close()
print("crash: %d processes killed during ml_train (%d after their version was committed); "
      "every database intact" % (kills, completed))

# ---- sqlite3_interrupt: how soon ml_train returns, and nothing stored ----
path = os.path.join(tmp, "crash-wal.db")
con = connect(a.ext, path, check_same_thread=False)
before = registry(con)
lags = []
# At fractions of the time a whole ml_train took (measured above, by a child).
for d in [run * f for f in (0.02, 0.1, 0.2, 0.35, 0.5, 0.6, 0.7, 0.8)]:
    stopped = {}

    def stop():
        time.sleep(d)
        stopped["at"] = time.monotonic()
        con.interrupt()

    th = threading.Thread(target=stop)
    th.start()
    try:
        cur = con.execute(TRAIN)  # the first step, which runs ml_train to its row
    except sqlite3.Error as e:
        lags.append(time.monotonic() - stopped["at"])
        c.check("interrupted" in str(e), "interrupted after %.2f s: %s" % (d, e))
        th.join()
        c.check(registry(con) == before, "interrupted after %.2f s: the registry is as it was" % d)
    else:
        # ml_train returned its row, so its version is committed.  Python
        # steps once more to look for another row, and an interrupt landing
        # now is reported by SQLite for the statement, with the version stored.
        try:
            cur.fetchone()
        except sqlite3.Error as e:
            c.check("interrupted" in str(e), "interrupted after the row: %s" % e)
        th.join()
        c.check(len(registry(con)) == len(before) + 1,
                "ml_train returned its row before %.2f s: one version stored" % d)
        con.execute("DELETE FROM ml_model_versions WHERE version > 2")
        con.commit()
    c.check(not con.in_transaction, "no transaction left open")
c.check(len(lags) >= 5, "%d of 8 runs were interrupted" % len(lags))
# The same, made certain: the interrupt comes between the row and the next step.
cur = con.execute(TRAIN)
con.interrupt()
try:
    cur.fetchone()
    c.check(False, "an interrupt after the row is reported by the next step")
except sqlite3.Error as e:
    c.check("interrupted" in str(e), "interrupt after the row: %s" % e)
c.check(len(registry(con)) == len(before) + 1, "interrupt after the row: the version is stored")
con.execute("DELETE FROM ml_model_versions WHERE version > 2")
con.commit()
lags.sort()
c.check(lags and lags[-1] < 0.25, "ml_train returns within 250 ms of sqlite3_interrupt")
print("crash: %d interrupts; ml_train returned %.2f ms (median) and %.2f ms (worst) after "
      "sqlite3_interrupt" % (len(lags), 1000 * lags[len(lags) // 2], 1000 * lags[-1]))
con.close()
c.done()
