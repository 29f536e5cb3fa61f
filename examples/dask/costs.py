#!/usr/bin/python3
"""The measured costs behind docs/scale-out.md's cost model, on this machine.

    costs.py [--ext dist/sqlml] [--p 4,25,100] [--shards 1000]

For each number of features p: the scan (ml_fit over rows of p random
features, rows per second, in one connection), the size of a model BLOB,
and ml_merge over --shards BLOBs (seconds per merged shard).
"""
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fit_shards import DEFAULT_EXT, connect  # noqa: E402


def best(f, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", default=DEFAULT_EXT)
    ap.add_argument("--p", default="4,25,100", help="features per model")
    ap.add_argument("--shards", type=int, default=1000)
    ap.add_argument("--cells", type=int, default=4000000, help="rows x p scanned per p")
    a = ap.parse_args()
    db = connect(os.path.abspath(a.ext))
    print("| p | rows scanned | scan, rows/s | model BLOB, bytes | ml_merge, us per shard |")
    print("|---|---|---|---|---|")
    for p in [int(x) for x in a.p.split(",")]:
        rnd = random.Random(p)
        rows = a.cells // p
        cols = ["x%d" % i for i in range(p)]
        db.execute("DROP TABLE IF EXISTS t")
        db.execute("CREATE TABLE t(y REAL, %s)" % ", ".join("%s REAL" % c for c in cols))
        db.executemany("INSERT INTO t VALUES (%s)" % ", ".join("?" * (p + 1)),
                       ([rnd.gauss(0, 1) for _ in range(p + 1)] for _ in range(rows)))
        fit = "SELECT ml_fit(y, %s) FROM t" % ", ".join(cols)
        scan = best(lambda: db.execute(fit).fetchone())
        (blob,) = db.execute(fit).fetchone()
        db.execute("DROP TABLE IF EXISTS shard")
        db.execute("CREATE TABLE shard(m BLOB)")
        db.executemany("INSERT INTO shard VALUES (?)", [(blob,)] * a.shards)
        merge = best(lambda: db.execute("SELECT length(ml_merge(m)) FROM shard").fetchone())
        print("| %d | %d | %.3g | %d | %.1f |" % (p, rows, rows / scan, len(blob),
                                                 merge / a.shards * 1e6))
    db.close()


if __name__ == "__main__":
    main()
