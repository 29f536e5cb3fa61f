#!/usr/bin/python3
"""Sharded fits on Dask (examples/dask/fit_shards.py), on 127.0.0.1 only.

    tests/shards/test_shards.py --ext dist/sqlml.so [--rows 100000]

Four SQLite shards; their fits, merged with ml_merge, must be the fit of all
the rows (estimates, standard errors, R², sigma to 1e-12, relative), done
three ways: Dask tasks on a LocalCluster here, the script against that
cluster's scheduler (--scheduler), and the script with its own LocalCluster;
and one machine with ATTACH.  Every listening socket of the test's process
tree and of the script's, seen while they run, must be on 127.0.0.1.  The
merged model registered (--register) predicts by name as its BLOB does.
Bounded at 90 s (an alarm); the clusters are closed, whatever happens.
"""
import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "examples", "dask", "fit_shards.py")
sys.path.insert(0, os.path.dirname(SCRIPT))
import fit_shards  # noqa: E402

FEATURES = ["a", "b", "c"]
TOL = 1e-12
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def make_shards(tmp, n_shards, rows):
    """Shards of one linear relation, with features of different scales."""
    files = []
    for s in range(n_shards):
        path = os.path.join(tmp, "shard%d.db" % s)
        rnd = random.Random(1000 + s)
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE obs(y REAL, a REAL, b REAL, c INTEGER)")
        data = []
        for _ in range(rows):
            a, b, c = rnd.uniform(0, 10), rnd.gauss(100, 20), rnd.randrange(1000)
            data.append((3 + 2 * a - 0.5 * b + 0.01 * c + rnd.gauss(0, 1.5), a, b, c))
        db.executemany("INSERT INTO obs VALUES (?, ?, ?, ?)", data)
        db.commit()
        db.close()
        files.append(path)
    return files


def attached(ext, files):
    db = fit_shards.connect(ext)
    for i, f in enumerate(files):
        db.execute("ATTACH ? AS s%d" % i, (fit_shards.read_only(f),))
    return db


def one_fit(ext, files):
    """The reference: one ml_fit over every row of every shard; its seconds."""
    db = attached(ext, files)
    union = " UNION ALL ".join("SELECT * FROM s%d.obs" % i for i in range(len(files)))
    start = time.perf_counter()
    (js,) = db.execute("SELECT ml_model_json(ml_fit(y, a, b, c)) FROM (%s)" % union).fetchone()
    secs = time.perf_counter() - start
    db.close()
    return json.loads(js), secs


def attach_merge(ext, files):
    """The one-machine form (docs/scale-out.md): ATTACH, a fit per shard, ml_merge."""
    db = attached(ext, files)
    fits = " UNION ALL ".join("SELECT ml_fit(y, a, b, c) AS m FROM s%d.obs" % i
                              for i in range(len(files)))
    (js,) = db.execute("SELECT ml_model_json(ml_merge(m)) FROM (%s)" % fits).fetchone()
    db.close()
    return json.loads(js)


def close(x, y):
    return abs(x - y) <= TOL * max(1.0, abs(y))


def same_fit(m, ref, what):
    check(m["n"] == ref["n"], "%s: n %s, expected %s" % (what, m["n"], ref["n"]))
    for cm, cr in zip(m["coefficients"], ref["coefficients"]):
        for k in ("estimate", "std_error"):
            check(close(cm[k], cr[k]), "%s: %s %s %r, expected %r" % (what, cr["term"], k, cm[k],
                                                                       cr[k]))
    check(len(m["coefficients"]) == len(ref["coefficients"]) == 4, "%s: 4 terms" % what)
    for k in ("r2", "sigma"):
        check(close(m[k], ref[k]), "%s: %s %r, expected %r" % (what, k, m[k], ref[k]))


def listeners(pids):
    """(pid, ip, port) of every listening TCP socket of these processes."""
    out = set()
    for pid in pids:
        try:
            conns = psutil.Process(pid).connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        out |= {(pid, c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}
    return out


def tree(pid):
    try:
        p = psutil.Process(pid)
        return [pid] + [c.pid for c in p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def loopback_only(seen, what, at_least):
    bad = [x for x in seen if x[1] != "127.0.0.1"]
    check(not bad, "%s: listeners beyond 127.0.0.1: %r" % (what, bad))
    check(len(seen) >= at_least, "%s: %d listeners seen, expected at least %d (the check saw "
          "nothing?)" % (what, len(seen), at_least))


def run_script(args, timeout):
    """Runs fit_shards.py, watching its process tree's listeners while it runs."""
    p = subprocess.Popen([sys.executable, SCRIPT] + args, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    seen = set()
    deadline = time.monotonic() + timeout
    try:
        while p.poll() is None:
            seen |= listeners(tree(p.pid))
            if time.monotonic() > deadline:
                raise TimeoutError("fit_shards.py ran over %d s" % timeout)
            time.sleep(0.05)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            for pid in reversed(tree(p.pid)):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p.wait()
    check(p.returncode == 0, "fit_shards.py %s: exit %d: %s" % (" ".join(args), p.returncode, err))
    return json.loads(out), err.strip(), seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", required=True)
    ap.add_argument("--rows", type=int, default=100000, help="rows per shard")
    ap.add_argument("--seconds", type=int, default=90, help="the whole test's bound")
    a = ap.parse_args()
    ext = os.path.abspath(os.path.splitext(a.ext)[0])

    def too_long(*_):
        raise TimeoutError("test_shards: over %d s" % a.seconds)

    signal.signal(signal.SIGALRM, too_long)
    signal.alarm(a.seconds)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        files = make_shards(tmp, 4, a.rows)
        ref, one_secs = one_fit(ext, files)
        same_fit(attach_merge(ext, files), ref, "ATTACH and ml_merge")
        check(ref["n"] == 4 * a.rows, "every row fitted")

        from dask.distributed import Client
        with fit_shards.local_cluster(2) as cluster, Client(cluster) as client:
            blob, js, t = fit_shards.fit_and_merge(client, ext, "obs", "y", FEATURES, files)
            same_fit(json.loads(js), ref, "Dask, in this process")
            loopback_only(listeners(tree(os.getpid())), "this test's LocalCluster", 5)
            out, err, _ = run_script(["--scheduler", cluster.scheduler_address, "--ext", ext,
                                      "--table", "obs", "--target", "y", "--features",
                                      ",".join(FEATURES)] + files, 60)
            same_fit(out, ref, "fit_shards.py --scheduler")
        print("shards: 4 x %d rows: one fit %.3f s; Dask, 2 workers: fits %.3f s (longest shard "
              "%.3f s), merge %.2f ms; speedup %.2f" % (a.rows, one_secs, t["fits"],
                                                       t["longest_shard"], t["merge"] * 1e3,
                                                       one_secs / t["fits"]))

        db_path = os.path.join(tmp, "registry.db")
        out, err, seen = run_script(["--ext", ext, "--workers", "2", "--table", "obs", "--target",
                                     "y", "--features", ",".join(FEATURES), "--register",
                                     "merged", "--into", db_path] + files, 60)
        same_fit(out, ref, "fit_shards.py with its LocalCluster")
        loopback_only(seen, "fit_shards.py's LocalCluster", 3)
        print("shards: %s" % err.replace("\n", "\nshards: "))
        check_registered(ext, db_path, blob, ref)
    signal.alarm(0)
    print("shards: %d checks passed in %.1f s" % (checks, time.monotonic() - start))


def check_registered(ext, db_path, blob, ref):
    """The registered version predicts by name exactly as the merged BLOB,
    shows in ml_models, its data_hash is the rows' fingerprint of one fit
    over all the rows (the shards' combined), and ml_train numbers the next
    version after it."""
    db = sqlite3.connect(db_path)
    db.enable_load_extension(True)
    db.load_extension(ext)
    (n,) = db.execute("SELECT json_extract(ml_model_json(?), '$.n')", (blob,)).fetchone()
    rows = db.execute("SELECT name, version, kind, target, features, n_train, n_test FROM ml_models"
                      ).fetchall()
    check(rows == [("merged", 1, "linear_regression", "y", '["a","b","c"]', n, 0)],
          "ml_models: %r" % rows)
    (stored,) = db.execute("SELECT model FROM ml_model_versions").fetchone()
    check(stored == blob, "the stored BLOB is the merged one")
    (data_hash,) = db.execute("SELECT data_hash FROM ml_model_versions").fetchone()
    check(data_hash == "rows:" + ref["rows_fingerprint"],
          "data_hash %r: the fingerprint of one fit over every row, %r" % (data_hash,
                                                                          ref["rows_fingerprint"]))
    for x in [(1.0, 90.0, 10), (7.5, 130.0, 999), (0.0, 0.0, 0)]:
        by_name, by_blob = db.execute("SELECT ml_predict('merged', ?, ?, ?), ml_predict(?, ?, ?, ?)",
                                      x + (blob,) + x).fetchone()
        check(by_name == by_blob, "ml_predict by name %r, by BLOB %r" % (by_name, by_blob))
    db.execute("CREATE TABLE small(y REAL, a REAL, b REAL, c REAL)")
    db.executemany("INSERT INTO small VALUES (?, ?, ?, ?)",
                   [(i * 1.5 + (i % 3), i, i % 7, i % 5) for i in range(20)])
    (js,) = db.execute("SELECT ml_train('merged', 'small', 'y')").fetchone()
    check(json.loads(js)["version"] == 2, "ml_train after a registered merge: version 2")
    db.close()


if __name__ == "__main__":
    main()
