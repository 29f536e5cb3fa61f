#!/usr/bin/python3
"""ml_split and ml_split_of: the assignment recomputed from docs/split.md's
text alone and compared bit for bit; pinned values; proportions and seed
independence over 1,000,000 keys; stability as rows come and go; the plans
and the rows they read; a database reopened; docs/split.md's example."""
import math
import os
import random
import re
import struct
import subprocess
import tempfile
import time

from sqlml_test import Checker, args, connect

a = args()
c = Checker("split")
con = connect(a.ext)
t_start = time.time()

# ---- The assignment, as docs/split.md's "The assignment, exactly" states it.
M64 = (1 << 64) - 1


def key_bytes(key):
    if isinstance(key, int):
        return b"\x01" + struct.pack("<q", key)
    if isinstance(key, float):
        if key.is_integer() and -2.0**63 <= key < 2.0**63:
            return b"\x01" + struct.pack("<q", int(key))
        return b"\x02" + struct.pack("<d", key)
    if isinstance(key, str):
        return b"\x03" + key.encode("utf-8")
    if isinstance(key, bytes):
        return b"\x04" + key
    raise ValueError("a NULL key has no side")


def u_of(key, seed):
    h = 0xCBF29CE484222325
    for b in struct.pack("<q", seed) + key_bytes(key):
        h = ((h ^ b) * 0x100000001B3) & M64
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & M64
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & M64
    h ^= h >> 31
    return (h >> 11) / 2.0**53


def side(key, test, valid, seed):
    u = u_of(key, seed)
    return "test" if u < test else "valid" if u < test + valid else "train"


# ---- Keys of every type, the edges of each.
r = random.Random(2026)
keys = [0, 1, -1, 5, 2**63 - 1, -2**63, 2**53 + 1]
keys += list(range(-300, 300))
keys += [r.getrandbits(64) - 2**63 for _ in range(1000)]
keys += [0.5, -0.5, 5.0, -0.0, 0.1, 2.0**62, -2.0**63, 2.0**63, 1e300, -1e-300, 5e-324,
         float("inf"), float("-inf"), 9007199254740993.0, 4503599627370495.5]
keys += [r.uniform(-1e6, 1e6) for _ in range(700)]
keys += [float(r.randint(-2**53, 2**53)) for _ in range(300)]
keys += ["", "a", "5", "5.0", "é", "日本語", "😀", "a\x00b", " ", "NULL"]
alphabet = [chr(x) for x in list(range(32, 127)) + list(range(0xA0, 0x800)) + [0x4E2D, 0x1F600]]
keys += ["".join(r.choice(alphabet) for _ in range(r.randint(0, 24))) for _ in range(1000)]
keys += [b"", b"\x00", b"\x01" * 9, b"5"]
keys += [bytes(r.getrandbits(8) for _ in range(r.randint(0, 40))) for _ in range(1000)]
con.execute("CREATE TABLE keys(k)")
con.executemany("INSERT INTO keys VALUES (?)", [(k,) for k in keys])
back = [row[0] for row in con.execute("SELECT k FROM keys ORDER BY rowid")]
c.check([type(k) for k in back] == [type(k) for k in keys],
        "%d keys keep their types in the table" % len(keys))

# ml_split_of's u, bit for bit: it says test exactly when u < test_size, so
# at test_size = u it must say train and at the next double above, test.
seeds = [42, 0, -1, 7, -2**63, 2**63 - 1]
probes = []
for seed in seeds:
    for k in keys:
        u = u_of(k, seed)
        if 0 < u and math.nextafter(u, 1) < 1:
            probes.append((k, seed, u, math.nextafter(u, 1)))
con.execute("CREATE TEMP TABLE probe(k, seed, lo, hi)")
con.executemany("INSERT INTO probe VALUES (?, ?, ?, ?)", probes)
bad = con.execute("SELECT k, seed, ml_split_of(k, lo, seed), ml_split_of(k, hi, seed) FROM probe"
                  " WHERE ml_split_of(k, lo, seed) <> 'train' OR ml_split_of(k, hi, seed) <> 'test'"
                  ).fetchall()
c.check(not bad, "ml_split_of's u equals docs/split.md's, bit for bit, on %d (key, seed) of every type"
        " (first mismatch: %r)" % (len(probes), bad[:1]))

# Sides, from the scalar in both forms and from the virtual table.
configs = [(0.2, 0.0, 42), (0.1, 0.1, 7), (0.5, 0.25, -1), (0.05, 0.0, -2**63), (0.3, 0.3, 2**63 - 1)]
for i, (test, valid, seed) in enumerate(configs):
    want = [side(k, test, valid, seed) for k in keys]
    got4 = [x for (x,) in con.execute("SELECT ml_split_of(k, ?, ?, ?) FROM keys ORDER BY rowid",
                                      (test, valid, seed))]
    c.check(got4 == want, "ml_split_of(k, %g, %g, %d) on %d keys" % (test, valid, seed, len(keys)))
    if valid == 0:
        got3 = [x for (x,) in con.execute("SELECT ml_split_of(k, ?, ?) FROM keys ORDER BY rowid",
                                          (test, seed))]
        c.check(got3 == want, "ml_split_of(k, %g, %d) on %d keys" % (test, seed, len(keys)))
    con.execute("CREATE VIRTUAL TABLE temp.ks%d USING ml_split(keys, key=k, test_size=%r,"
                " valid_size=%r, seed=%d)" % (i, test, valid, seed))
    rows = con.execute("SELECT k, split FROM ks%d ORDER BY rowid" % i).fetchall()
    c.check([s for _, s in rows] == want and len(rows) == len(keys),
            "ml_split(keys, key=k, test_size=%g, valid_size=%g, seed=%d) on %d keys"
            % (test, valid, seed, len(keys)))

# ---- Pinned: these u never change (docs/split.md's algorithm is the format).
PINNED = [
    (1, 0, 0.8231750539795406),
    (1, 42, 0.2943259928026125),
    (-1, 42, 0.20388891771766338),
    (2**63 - 1, 42, 0.8113893276791821),
    (-2**63, 42, 0.16239458790625227),
    (5.0, 42, 0.923596640739876),
    (5, 42, 0.923596640739876),
    (0.5, 42, 0.6246981706251914),
    (-0.0, 42, 0.01254347995176508),
    (1e300, 42, 0.3975551070934781),
    ("5", 42, 0.9792888860144655),
    ("", 42, 0.9495614389223631),
    ("日本語", 42, 0.44427220225159636),
    ("a\x00b", 42, 0.5170675900795176),
    (b"", 42, 0.21698499990906595),
    (b"\x00\xff", 42, 0.7447770474947765),
    (123456789, -7, 0.7072568637079658),
    ("user-1001", 2**63 - 1, 0.8716128478534638),
]
for k, seed, u in PINNED:
    c.check(u_of(k, seed) == u, "pinned: docs/split.md's u of %r, seed %d is %r" % (k, seed, u))
    lo, hi = con.execute("SELECT ml_split_of(?, ?, ?), ml_split_of(?, ?, ?)",
                         (k, u, seed, k, math.nextafter(u, 1), seed)).fetchone()
    c.check((lo, hi) == ("train", "test"), "pinned: ml_split_of's u of %r, seed %d is %r" % (k, seed, u))
PINNED_SIDES = [  # (key, test_size, valid_size, seed, side)
    (1, 0.2, 0.0, 42, "train"), (2, 0.2, 0.0, 42, "test"), (3, 0.1, 0.1, 7, "valid"),
    (9, 0.1, 0.1, 7, "test"), ("e5", 0.1, 0.1, 7, "train"), (b"\x01", 0.5, 0.25, -1, "valid"),
    (2.5, 0.5, 0.25, -1, "test"), ("x", 0.5, 0.25, -1, "train"),
]
for k, test, valid, seed, s in PINNED_SIDES:
    got = con.execute("SELECT ml_split_of(?, ?, ?, ?)", (k, test, valid, seed)).fetchone()[0]
    c.check(got == s == side(k, test, valid, seed),
            "pinned: ml_split_of(%r, %g, %g, %d) = %r" % (k, test, valid, seed, s))

# ---- Proportions and independence over 1,000,000 keys, in one pass.
shares = con.execute("""
  WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 1000000)
  SELECT avg(ml_split_of(i, 0.05, 42) = 'test'), avg(ml_split_of(i, 0.2, 42) = 'test'),
         avg(ml_split_of(i, 0.5, 42) = 'test'), avg(ml_split_of('user' || i, 0.2, 42) = 'test'),
         avg(ml_split_of(i, 0.1, 0.1, 7) = 'valid'),
         avg((ml_split_of(i, 0.2, 1) = 'test') + (ml_split_of(i, 0.2, 2) = 'test') = 2)
    FROM k""").fetchone()
for got, want, what in zip(shares[:5], [0.05, 0.2, 0.5, 0.2, 0.1],
                           ["test, 0.05", "test, 0.2", "test, 0.5", "test, 0.2, text keys",
                            "valid, 0.1 + 0.1"]):
    c.check(abs(got - want) < 0.003, "1,000,000 keys: share %s is %.4f" % (what, got))


# Independent seeds: test sets overlap by 0.2 * 0.2, within 5 standard errors;
# also for seeds that differ in one bit or one byte only.
def overlap_ok(got, n):
    return abs(got - 0.04) < 5 * math.sqrt(0.04 * 0.96 / n)


c.check(overlap_ok(shares[5], 1e6), "1,000,000 keys: seeds 1 and 2 overlap by %.4f (0.04 expected)"
        % shares[5])
pairs = con.execute("""
  WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 250000)
  SELECT avg((ml_split_of(i, 0.2, 0) = 'test') + (ml_split_of(i, 0.2, -9223372036854775808) = 'test') = 2),
         avg((ml_split_of(i, 0.2, 1) = 'test') + (ml_split_of(i, 0.2, 257) = 'test') = 2),
         avg((ml_split_of(i, 0.2, 7) = 'test') + (ml_split_of(i, 0.2, 4294967303) = 'test') = 2)
    FROM k""").fetchone()
for got, pair in zip(pairs, ["0 and -2^63 (the top bit)", "1 and 257 (a byte)", "7 and 7 + 2^32"]):
    c.check(overlap_ok(got, 250000), "250,000 keys: seeds %s overlap by %.4f" % (pair, got))
print("split: shares %s; overlaps %s" % (", ".join("%.4f" % x for x in shares[:5]),
                                         ", ".join("%.4f" % x for x in shares[5:] + pairs)))

# ---- Stability: rows added, deleted and changed move no other row.
con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE, x REAL)")
names = ["n%06d" % i for i in range(20000)]
r.shuffle(names)
con.executemany("INSERT INTO t(name, x) VALUES (?, ?)", [(n, r.random()) for n in names])
con.execute("CREATE VIRTUAL TABLE temp.tr USING ml_split(t, test_size=0.2, valid_size=0.1, seed=11)")
con.execute("CREATE VIRTUAL TABLE temp.tn USING ml_split(t, test_size=0.2, seed=11, key=name)")
before_id = dict(con.execute("SELECT id, split FROM tr"))
before_name = dict(con.execute("SELECT name, split FROM tn"))
con.executemany("INSERT INTO t(name, x) VALUES (?, ?)", [("m%05d" % i, 0.5) for i in range(2000)])
gone = r.sample(sorted(before_id), 1000)
con.executemany("DELETE FROM t WHERE id = ?", [(i,) for i in gone])
con.execute("UPDATE t SET x = -x WHERE id % 7 = 0")
after_id = dict(con.execute("SELECT id, split FROM tr"))
after_name = dict(con.execute("SELECT name, split FROM tn"))
kept = [i for i in before_id if i not in set(gone)]
c.check(len(after_id) == 21000 and all(after_id[i] == before_id[i] for i in kept),
        "after 10%% more rows and %d deletions, all %d old rows keep their side (rowid key)"
        % (len(gone), len(kept)))
c.check(len(after_name) == 21000 and
        all(after_name[n] == s for n, s in before_name.items() if n in after_name),
        "the same with a text key column")
c.check(all(s == side(i, 0.2, 0.1, 11) for i, s in after_id.items()),
        "new rows have the side docs/split.md gives them")
# Monotone: a larger test_size only moves rows into test; a larger valid_size only train into valid.
moved = con.execute("""SELECT
    sum(ml_split_of(id, 0.1, 5) = 'test' AND ml_split_of(id, 0.3, 5) <> 'test'),
    sum(ml_split_of(id, 0.2, 0.1, 5) = 'valid' AND ml_split_of(id, 0.2, 0.3, 5) <> 'valid'),
    sum(ml_split_of(id, 0.2, 0.1, 5) = 'test' AND ml_split_of(id, 0.2, 0.3, 5) <> 'test'),
    sum(ml_split_of(id, 0.3, 5) = 'test' AND ml_split_of(id, 0.1, 5) <> 'test')
  FROM t""").fetchone()
c.check(moved[:3] == (0, 0, 0) and moved[3] > 0,
        "monotone: raising test_size keeps test rows in test, raising valid_size keeps valid rows")

# ---- Plans: what EXPLAIN QUERY PLAN says, and how many rows the source reads.
con.execute("CREATE TABLE houses(id INTEGER PRIMARY KEY, price REAL, sqft REAL, city TEXT)")
con.executemany("INSERT INTO houses VALUES (?, ?, ?, ?)",
                [(i, 100 + i, 10 * i, "c%d" % (i % 9)) for i in range(1, 5001)])
con.execute("CREATE INDEX houses_city ON houses(city)")
con.execute("CREATE VIRTUAL TABLE hs USING ml_split(houses, test_size=0.2, seed=42)")


def plan(sql):
    return [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + sql)]


PLANS = [
    ("SELECT * FROM hs", ["SCAN hs VIRTUAL TABLE INDEX 0:"]),
    ("SELECT * FROM hs WHERE split = 'test'", ["SCAN hs VIRTUAL TABLE INDEX 1:split=?"]),
    ("SELECT * FROM hs WHERE split IN ('test', 'valid')", ["SCAN hs VIRTUAL TABLE INDEX 2:split IN ?"]),
    ("SELECT * FROM hs WHERE split != 'train'", ["SCAN hs VIRTUAL TABLE INDEX 4:split!=?"]),
    ("SELECT * FROM hs WHERE split IS NOT 'train'", ["SCAN hs VIRTUAL TABLE INDEX 8:split IS NOT ?"]),
    ("SELECT * FROM hs WHERE id = 5", ['SCAN hs VIRTUAL TABLE INDEX 16:"id"=?1']),
    ("SELECT * FROM hs WHERE rowid = 5 AND split = 'train'",
     ["SCAN hs VIRTUAL TABLE INDEX 17:split=? AND rowid=?1"]),
    ("SELECT * FROM hs WHERE city = 'c1' AND split = 'test'",
     ['SCAN hs VIRTUAL TABLE INDEX 17:split=? AND "city"=?1']),
    ("SELECT price FROM hs WHERE split = 'train'", ["SCAN hs VIRTUAL TABLE INDEX 1:split=? columns(1)"]),
    ("SELECT count(*) FROM hs", ["SCAN hs VIRTUAL TABLE INDEX 0:columns()"]),
    ("SELECT ml_fit(price, sqft) FROM hs WHERE split = 'train'",
     ["SCAN hs VIRTUAL TABLE INDEX 1:split=? columns(1,2)"]),
]
for sql, want in PLANS:
    got = plan(sql)
    c.check(got == want, "plan of %s: %r" % (sql, got))
con.execute("CREATE TABLE orders(hid INTEGER)")
con.executemany("INSERT INTO orders VALUES (?)", [(i,) for i in range(1, 5001, 50)])
got = plan("SELECT sum(price) FROM orders JOIN hs ON hs.id = orders.hid WHERE split = 'test'")
c.check(got == ["SCAN orders", 'SCAN hs VIRTUAL TABLE INDEX 17:split=? AND "id"=?1 columns(0,1)'],
        "a join looks rows up by key: %r" % got)

# Rows read from the source, counted by a function in the source's WHERE.
reads = [0]


def tick():
    reads[0] += 1
    return 1


con.create_function("tick", 0, tick)
con.execute("CREATE TEMP VIEW counted AS SELECT * FROM houses WHERE tick()")
con.execute("CREATE VIRTUAL TABLE temp.cs USING ml_split(counted, key=id, test_size=0.2, seed=42)")
n_test = con.execute("SELECT count(*) FROM houses WHERE ml_split_of(id, 0.2, 42) = 'test'").fetchone()[0]
for sql, want_rows, want_reads in [
        ("SELECT * FROM cs WHERE id = 5", 1, 1),
        ("SELECT * FROM cs WHERE id IN (5, 6, 7, 99999)", 3, 3),
        ("SELECT * FROM cs WHERE city = 'c1'", 556, 556),
        ("SELECT * FROM cs WHERE split = 'test'", n_test, 5000),
        ("SELECT count(*) FROM (SELECT * FROM cs)", 1, 5000)]:
    reads[0] = 0
    rows = con.execute(sql).fetchall()
    c.check(len(rows) == want_rows and reads[0] == want_reads,
            "%s: %d rows, %d read from the source (expected %d, %d)"
            % (sql, len(rows), reads[0], want_rows, want_reads))
# A view has no indexes to look the key up in, so a join reads it once
# rather than once per order (the table above is looked up by key).
reads[0] = 0
got = con.execute("SELECT sum(price) FROM orders JOIN cs ON cs.id = orders.hid").fetchone()[0]
c.check(reads[0] == 5000 and got == sum(100 + i for i in range(1, 5001, 50)),
        "a join on a view's key reads the view once (%d rows)" % reads[0])

# ---- A database reopened: the table reconnects, with the same sides.
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "s.db")
    db = connect(a.ext, path)
    db.execute("CREATE TABLE h(id INTEGER PRIMARY KEY, x)")
    db.executemany("INSERT INTO h(x) VALUES (?)", [(i,) for i in range(500)])
    db.execute("CREATE VIRTUAL TABLE hsp USING ml_split(h, test_size=0.3, valid_size=0.1, seed=9)")
    first = db.execute("SELECT id, split FROM hsp").fetchall()
    db.commit()
    db.close()
    db = connect(a.ext, path)
    again = db.execute("SELECT id, split FROM hsp").fetchall()
    c.check(first == again and len(again) == 500, "reopened: the same 500 sides")
    db.close()

# ---- docs/split.md's example runs in the sqlite3 shell and says what it claims.
doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "split.md")).read()
example = re.search(r"```sql\n(.*?)```", doc, re.S).group(1)
p = subprocess.run([a.sqlite3, "-batch", ":memory:"], capture_output=True, text=True,
                   input=example.replace(".load ./dist/sqlml", ".load " + a.ext))
out = p.stdout.split()
c.check(p.returncode == 0 and not p.stderr and out[:2] == ["test|192", "train|808"] and out[-1] == "192",
        "docs/split.md example: %r %r" % (out, p.stderr))

print("split: %.1f s" % (time.time() - t_start))
c.done()
