#!/usr/bin/python3
"""Concurrency on a WAL database: 4 reader processes predict by name in a
loop (the latest version, an alias, and a name read from a column) while 1
writer process trains new versions and moves the alias.

Version v is trained on y = v * x exactly, so a prediction names the
version it came from.  Readers may fail only with SQLite's documented busy
errors; they must never see a half-written model (an error decoding it),
and every prediction they make must equal that of a committed version.
"""
import json
import os
import subprocess
import sys
import tempfile

from sqlml_test import Checker, args, connect

a = args()
c = Checker("concurrency")
SECONDS = 3.0
path = os.path.join(tempfile.mkdtemp(), "conc.db")
con = connect(a.ext, path, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL")
con.execute("CREATE TABLE d(x REAL, k INTEGER)")
con.executemany("INSERT INTO d VALUES (?, 1)", [(i,) for i in range(1, 2001)])
con.execute("SELECT ml_train('m', 'SELECT x, x * 1 AS y FROM d', 'y', '[\"x\"]', '{\"test_size\":0}')").fetchone()
con.execute("SELECT ml_alias('m', 'prod', 1)").fetchone()
con.close()

WRITER = r'''
import sqlite3, sys, time, json
con = sqlite3.connect(sys.argv[2], isolation_level=None, timeout=10)
con.enable_load_extension(True); con.load_extension(sys.argv[1])
end = time.monotonic() + float(sys.argv[3])
trained, moved, errors = 0, 0, []
v = 1
while time.monotonic() < end:
    try:
        v = json.loads(con.execute("SELECT ml_train('m', 'SELECT x, x * %d AS y FROM d', 'y', "
                                   "'[\"x\"]', '{\"test_size\":0}')" % (v + 1)).fetchone()[0])["version"]
        trained += 1
        con.execute("SELECT ml_alias('m', 'prod', ?)", (v,)).fetchone()
        moved += 1
    except sqlite3.Error as e:
        errors.append(str(e))
print(json.dumps({"trained": trained, "moved": moved, "errors": errors}))
'''

READER = r'''
import sqlite3, sys, time, json
con = sqlite3.connect(sys.argv[2], isolation_level=None, timeout=10)
con.enable_load_extension(True); con.load_extension(sys.argv[1])
con.execute("CREATE TEMP TABLE refs(r TEXT)")
con.execute("INSERT INTO refs VALUES ('m'), ('m@prod')")
end = time.monotonic() + float(sys.argv[3])
seen, errors, n = set(), [], 0
queries = ["SELECT ml_predict('m', 10)", "SELECT ml_predict('m@prod', 10)",
           "SELECT ml_predict(r, 10) FROM refs"]
while time.monotonic() < end:
    for q in queries:
        try:
            for (p,) in con.execute(q).fetchall():
                seen.add(p)
                n += 1
        except sqlite3.Error as e:
            errors.append(str(e))
print(json.dumps({"predictions": n, "values": sorted(seen), "errors": errors}))
'''

procs = [subprocess.Popen([sys.executable, "-c", WRITER, a.ext, path, str(SECONDS)], stdout=subprocess.PIPE,
                          text=True)]
procs += [subprocess.Popen([sys.executable, "-c", READER, a.ext, path, str(SECONDS)],
                           stdout=subprocess.PIPE, text=True) for _ in range(4)]
outs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
writer, readers = outs[0], outs[1:]

con = connect(a.ext, path)
committed = {r[0]: r[1] for r in con.execute(
    "SELECT version, ml_predict('m@' || version, 10) FROM ml_model_versions WHERE name = 'm'")}
allowed = set(committed.values())


def documented(e):
    return "busy" in e or "locked" in e


c.check(writer["trained"] >= 3, "the writer trained %d versions" % writer["trained"])
c.check(all(documented(e) for e in writer["errors"]), "writer errors: %r" % writer["errors"][:3])
total = 0
for i, r in enumerate(readers):
    total += r["predictions"]
    c.check(r["predictions"] > 0, "reader %d predicted" % i)
    c.check(all(documented(e) for e in r["errors"]), "reader %d: only busy errors: %r" % (i, r["errors"][:3]))
    strange = [v for v in r["values"] if v not in allowed]
    c.check(not strange, "reader %d: every prediction is a committed version's: %r" % (i, strange[:3]))
    c.check(len(r["values"]) >= 2, "reader %d saw %d versions" % (i, len(r["values"])))
c.check(con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity after the run")
c.check(sorted(committed) == list(range(1, len(committed) + 1)), "versions 1..%d, none lost" % len(committed))
print("concurrency: %.0f s, 1 writer: %d versions trained, alias moved %d times; 4 readers: %d predictions, "
      "%d busy errors, %d versions seen" % (SECONDS, writer["trained"], writer["moved"], total,
                                            sum(len(r["errors"]) for r in readers),
                                            len(set().union(*[set(r["values"]) for r in readers]))))
c.done()
