#!/usr/bin/python3
"""The model BLOB's bytes do not depend on how they are written: the
encoder (word at a time) and the CRC-32 (table-driven) give the bytes the
byte-at-a-time encoder and four-bit CRC gave.

- Every BLOB's last four bytes are zlib.crc32 of the rest, little-endian.
- tests/fixtures/models-v1.db (sqlml 0.1.0): ml_merge of one BLOB decodes
  and re-encodes it; the result is the stored BLOB itself where merging
  keeps every section, and otherwise the bytes the earlier encoder gave
  (SHA-256 prefixes recorded with it).
- Fits of generated data, and of NIST StRD data when NIST_DIR has them,
  give the SHA-256 the earlier encoder gave for the same fits.
"""
import hashlib
import os
import shutil
import tempfile
import zlib

from sqlml_test import Checker, args, connect

a = args()
c = Checker("blob_bytes")
here = os.path.dirname(os.path.abspath(__file__))


def sha(b):
    return hashlib.sha256(b).hexdigest()[:16]


def crc_ok(b, what):
    c.check(zlib.crc32(b[:-4]) == int.from_bytes(b[-4:], "little"), "%s: CRC is zlib.crc32" % what)


path = os.path.join(tempfile.mkdtemp(), "models-v1.db")
shutil.copy(os.path.join(here, "..", "fixtures", "models-v1.db"), path)
con = connect(a.ext, path)
# ml_merge of one BLOB as the earlier encoder wrote it (None: the stored BLOB itself).
REENCODED = {"noint@1": None, "plain@1": None, "plain@2": "c4aa07f87594230d", "ridge@1": None,
             "robust@1": "dd15dd36eb5376c5", "weighted@1": None, "fit": None, "fit_opts": None,
             "merge": None}
rows = con.execute("SELECT name || '@' || version, model FROM ml_model_versions "
                   "UNION ALL SELECT what, m FROM blobs").fetchall()
c.check(sorted(n for n, _ in rows) == sorted(REENCODED), "fixture BLOBs: %s" % [n for n, _ in rows])
for name, blob in rows:
    crc_ok(blob, name)
    again = con.execute("SELECT ml_merge(?)", (blob,)).fetchone()[0]
    crc_ok(again, name + " re-encoded")
    want = REENCODED.get(name)
    c.check(again == blob if want is None else sha(again) == want,
            "%s: re-encoded bytes %s" % (name, sha(again)))
con.close()

# Generated data (the fixture has the categorical, weighted and robust models).
con = connect(a.ext)
con.execute("CREATE TABLE t(y, x1, x2, c, w)")
con.execute("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 500) "
            "INSERT INTO t SELECT 3 + 2 * (i % 17) - 0.5 * (i % 5) + (i * 7919 % 101) / 100.0, "
            "i % 17, (i % 5) * 1.25, CASE WHEN i % 11 = 0 THEN NULL ELSE 'L' || (i % 4) END, "
            "1 + i % 3 FROM s")
FITS = {
    "numeric": ("SELECT ml_fit(y, x1, x2) FROM t", "f7a924f49b78404d"),
    "grouped": ("SELECT ml_merge(f) FROM (SELECT ml_fit(y, x1, x2) AS f FROM t GROUP BY x2)",
                "011cd85dc2481588"),
}
for what, (sql, want) in FITS.items():
    blob = con.execute(sql).fetchone()[0]
    crc_ok(blob, what)
    c.check(sha(blob) == want, "%s: bytes %s" % (what, sha(blob)))

# NIST StRD: the same fits as tests/nist, when the data are there.
nist = os.environ.get("NIST_DIR", os.path.join(here, "..", "..", "..", "shared", "data", "nist-strd"))
NIST = {"Norris": "7865132c4d9f1f51", "Longley": "387aa1ed6f0d3e5f", "Wampler1": "eeb33335fc8ae5a8",
        "Filip": "7071d1ad131d842f"}
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
    c.check(sha(blob) == NIST[name], "%s: bytes %s" % (name, sha(blob)))
c.done()
