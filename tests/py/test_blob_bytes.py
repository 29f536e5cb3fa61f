#!/usr/bin/python3
"""The model BLOB's bytes do not depend on how they are written: the
encoder writes words at a time and the CRC-32 is table-driven.

- Every BLOB's last four bytes are zlib.crc32 of the rest, little-endian
  (zlib is the reference, not sqlml).
- tests/fixtures/models-v1.db (sqlml 0.1.0): ml_merge of one BLOB decodes
  and re-encodes it; every section but `info` (the writer's version) is the
  stored one byte for byte where merging keeps every section (the models
  below that a merge changes are named), and the coefficients are the same.
- Encoding is a fixed point: re-encoding a re-encoded BLOB gives the same
  bytes, for fits of generated data and of NIST StRD data when NIST_DIR
  has them.
"""
import json
import os
import shutil
import tempfile
import zlib

from sqlml_test import Checker, args, connect, sections

a = args()
c = Checker("blob_bytes")
here = os.path.dirname(os.path.abspath(__file__))


def crc_ok(b, what):
    c.check(zlib.crc32(b[:-4]) == int.from_bytes(b[-4:], "little"), "%s: CRC is zlib.crc32" % what)


def but_info(blob):
    return [(t, p) for t, p in sections(blob) if t != "info"]


def estimates(con, blob):
    js = json.loads(con.execute("SELECT ml_model_json(?)", (blob,)).fetchone()[0])
    return [t["estimate"] for t in js["coefficients"]]


def fixed_point(con, blob, what):
    once = con.execute("SELECT ml_merge(?)", (blob,)).fetchone()[0]
    twice = con.execute("SELECT ml_merge(?)", (once,)).fetchone()[0]
    crc_ok(once, what + " re-encoded")
    c.check(once == twice, "%s: re-encoding is a fixed point" % what)


path = os.path.join(tempfile.mkdtemp(), "models-v1.db")
shutil.copy(os.path.join(here, "..", "fixtures", "models-v1.db"), path)
con = connect(a.ext, path)
# Models whose merge of one BLOB is not the BLOB itself: a second version
# refined (a merge keeps no refinement) and robust errors (recomputed by a pass).
CHANGED = {"plain@2", "robust@1"}
rows = con.execute("SELECT name || '@' || version, model FROM ml_model_versions "
                   "UNION ALL SELECT what, m FROM blobs").fetchall()
c.check(len(rows) == 9, "fixture BLOBs: %s" % [n for n, _ in rows])
for name, blob in rows:
    crc_ok(blob, name)
    again = con.execute("SELECT ml_merge(?)", (blob,)).fetchone()[0]
    crc_ok(again, name + " re-encoded")
    if name not in CHANGED:
        c.check(but_info(again) == but_info(blob), "%s: re-encoded sections are the stored ones" % name)
    c.check(estimates(con, again) == estimates(con, blob) or name in CHANGED,
            "%s: the same coefficients" % name)
    fixed_point(con, blob, name)
con.close()
# Generated data (the fixture has the categorical, weighted and robust models).
con = connect(a.ext)
con.execute("CREATE TABLE t(y, x1, x2, c, w)")
con.execute("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 500) "
            "INSERT INTO t SELECT 3 + 2 * (i % 17) - 0.5 * (i % 5) + (i * 7919 % 101) / 100.0, "
            "i % 17, (i % 5) * 1.25, CASE WHEN i % 11 = 0 THEN NULL ELSE 'L' || (i % 4) END, "
            "1 + i % 3 FROM s")
FITS = {
    "numeric": "SELECT ml_fit(y, x1, x2) FROM t",
    "grouped": "SELECT ml_merge(f) FROM (SELECT ml_fit(y, x1, x2) AS f FROM t GROUP BY x2)",
    "categorical": "SELECT ml_fit_opts('{\"categorical\":[3],\"nulls\":\"mean\"}', y, x1, x2, c) FROM t",
    "weighted": "SELECT ml_fit_opts('{\"weights\":true}', w, y, x1, x2) FROM t",
}
for what, sql in FITS.items():
    blob = con.execute(sql).fetchone()[0]
    crc_ok(blob, what)
    fixed_point(con, blob, what)

# NIST StRD: the same fits as tests/nist, when the data are there.
nist = os.environ.get("NIST_DIR", os.path.join(here, "..", "..", "..", "shared", "data", "nist-strd"))
NIST = ["Norris", "Longley", "Wampler1", "Filip"]
for name in NIST:
    f = os.path.join(nist, name + ".dat")
    if not os.path.exists(f):
        print("blob_bytes: no %s (NIST_DIR): skipped" % f)
        continue
    rows = [l.split() for l in open(f).read().splitlines()[60:] if l.strip()]
    cols = len(rows[0])
    con.execute("DROP TABLE IF EXISTS n")
    con.execute("CREATE TABLE n(%s)" % ", ".join("c%d" % i for i in range(cols)))
    con.executemany("INSERT INTO n VALUES (%s)" % ", ".join("?" * cols),
                    [[float(v) for v in r] for r in rows])
    blob = con.execute("SELECT ml_fit(c0, %s) FROM n" % ", ".join("c%d" % i for i in range(1, cols))
                       ).fetchone()[0]
    crc_ok(blob, name)
    fixed_point(con, blob, name)
c.done()
