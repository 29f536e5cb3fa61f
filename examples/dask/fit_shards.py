#!/usr/bin/python3
"""Fit a linear model over SQLite shards on Dask, merged exactly with ml_merge.

    fit_shards.py [--scheduler ADDR] [--workers N] [--ext PATH]
                  --table T --target Y --features A,B,... FILE...
                  [--register NAME --into DB]

Each shard FILE is one SQLite database holding table T.  A Dask task per
shard opens it read-only on a worker, loads sqlml and returns the model BLOB
of `SELECT ml_fit(Y, A, B, ...) FROM T` (a few hundred bytes whatever the
number of rows); this process merges the BLOBs with ml_merge, which gives
the fit of all the rows (docs/scale-out.md), and prints the merged model's
ml_model_json on stdout, the times on stderr.

Without --scheduler, a Dask LocalCluster of N worker processes (the CPU
count, at most one per shard) runs here, every listener of it on 127.0.0.1:
the scheduler, the workers, their nannies and dashboards.  With it, the
tasks go to that scheduler's workers, which must see the same FILE paths
and the extension (--ext, default: this repository's dist/sqlml.so).

--register NAME --into DB stores the merged model as the next version of
NAME in DB's model registry (created if missing), as ml_train would, in one
transaction, with plain SQL (docs/scale-out.md, "Registering a merged model").
"""
import argparse
import json
import os
import sqlite3
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_EXT = os.path.join(HERE, "..", "..", "dist", "sqlml")
REGISTRY_SQL = os.path.join(HERE, "..", "..", "sql", "registry.sql")


def quote(name):
    return '"%s"' % name.replace('"', '""')


def read_only(path):
    """The URI that opens path read-only (ATTACH takes it too on a URI connection)."""
    return "file:%s?mode=ro" % urllib.request.pathname2url(os.path.abspath(path))


def connect(ext, path=None):
    """A connection with sqlml, which takes URI file names; path opens that
    file read-only."""
    db = sqlite3.connect(read_only(path) if path else ":memory:", uri=True)
    db.enable_load_extension(True)
    db.load_extension(ext)
    db.enable_load_extension(False)
    return db


def fit_shard(path, ext, table, target, features):
    """On a worker: (model BLOB, seconds) of ml_fit over one shard's table."""
    start = time.perf_counter()
    db = connect(ext, path)
    try:
        cols = ", ".join(quote(c) for c in [target] + features)
        (blob,) = db.execute("SELECT ml_fit(%s) FROM %s" % (cols, quote(table))).fetchone()
    finally:
        db.close()
    return blob, time.perf_counter() - start


def merge(ext, blobs):
    """The merged model BLOB, and its ml_model_json."""
    db = connect(ext)
    try:
        db.execute("CREATE TEMP TABLE shard(m BLOB)")
        db.executemany("INSERT INTO shard VALUES (?)", [(b,) for b in blobs])
        return db.execute("SELECT m, ml_model_json(m) FROM (SELECT ml_merge(m) AS m FROM shard)"
                          ).fetchone()
    finally:
        db.close()


def local_cluster(workers):
    """A LocalCluster whose every listener is on the loopback interface."""
    from dask.distributed import LocalCluster
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address="127.0.0.1:0",
                        worker_dashboard_address="127.0.0.1:0")


def fit_and_merge(client, ext, table, target, features, files):
    """Fits every shard on the client's workers, merges here.  Returns the
    merged BLOB, its JSON, and the times: fits (wall), longest shard, merge."""
    start = time.perf_counter()
    futures = client.map(fit_shard, [os.path.abspath(f) for f in files], ext=ext, table=table,
                         target=target, features=features, pure=False)
    results = client.gather(futures)
    fits = time.perf_counter() - start
    start = time.perf_counter()
    blob, js = merge(ext, [b for b, _ in results])
    return blob, js, {"fits": fits, "longest_shard": max(s for _, s in results),
                      "merge": time.perf_counter() - start}


def statements(script):
    """The statements of an SQL script, whole (a trigger's body holds semicolons)."""
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            yield buf
            buf = ""


def register(db_path, name, blob, js, table, target, features):
    """Stores the merged model as the next version of name in db_path's
    registry: the registry's own schema (CREATE ... IF NOT EXISTS), then one
    INSERT that numbers the version as ml_train does (max + 1), in one
    transaction.  Needs no sqlml: what the row says comes from js."""
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        with open(REGISTRY_SQL) as f:
            for stmt in statements(f.read()):
                db.execute(stmt)
        (version,) = db.execute(REGISTER_SQL, {
            "name": name, "model": blob, "json": js, "source": "fit_shards: %s" % table,
            "target": target, "features": json.dumps(features, separators=(",", ":"))}).fetchone()
        db.execute("COMMIT")
        return version
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()


# Everything but name, source and the BLOB comes from the BLOB's own JSON,
# read by SQLite's json functions: no sqlml needed to register.  A merged
# model has no test rows; its data_hash is its rows' fingerprint, the sum
# of the shards' (ml_merge adds them), so it names the union of the shards'
# rows whatever their order or sharding: 'rows:' and 16 hex digits, another
# scheme than ml_train's hash of the rows in scan order.
REGISTER_SQL = """
INSERT INTO ml_model_versions(name, version, created_at, kind, source, target, features, options,
                              n_train, n_test, n_skipped, metrics, data_hash, sqlml_version, model)
SELECT :name, (SELECT coalesce(max(version), 0) + 1 FROM ml_model_versions WHERE name = :name),
       strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), json_extract(j, '$.kind'), :source, :target,
       :features, '{"merged":true}', json_extract(j, '$.n'), 0, json_extract(j, '$.n_skipped'),
       json_object('train', json_object('n', json_extract(j, '$.n'), 'r2', json_extract(j, '$.r2')),
                   'test', json_object('n', 0, 'r2', NULL, 'rmse', NULL)),
       coalesce('rows:' || json_extract(j, '$.rows_fingerprint'), ''),
       json_extract(j, '$.sqlml_version'), :model
  FROM (SELECT :json AS j)
RETURNING version
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scheduler", help="address of a running Dask scheduler (default: a "
                    "LocalCluster on 127.0.0.1)")
    ap.add_argument("--workers", type=int, help="LocalCluster worker processes (default: the "
                    "CPU count, at most one per shard)")
    ap.add_argument("--ext", default=os.environ.get("SQLML_EXT", DEFAULT_EXT),
                    help="the sqlml extension, as load_extension takes it")
    ap.add_argument("--table", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--features", required=True, help="comma-separated column names")
    ap.add_argument("--register", metavar="NAME", help="store the merged model as NAME's next "
                    "version")
    ap.add_argument("--into", metavar="DB", help="the database whose registry --register writes")
    ap.add_argument("files", nargs="+", metavar="FILE")
    a = ap.parse_args()
    if bool(a.register) != bool(a.into):
        ap.error("--register and --into go together")
    features = [f.strip() for f in a.features.split(",") if f.strip()]
    ext = os.path.abspath(a.ext)
    for f in a.files:
        if not os.path.isfile(f):
            ap.error("no such shard file: %s" % f)

    from dask.distributed import Client
    start = time.perf_counter()
    cluster = None
    if a.scheduler:
        client = Client(a.scheduler)
    else:
        cluster = local_cluster(a.workers or min(len(a.files), os.cpu_count() or 1))
        client = Client(cluster)
    ready = time.perf_counter() - start
    try:
        blob, js, t = fit_and_merge(client, ext, a.table, a.target, features, a.files)
    finally:
        client.close()
        if cluster:
            cluster.close()
    sys.stdout.write(js + "\n")
    sys.stdout.flush()
    print("fit_shards: %d shards, %d rows; %s in %.2f s; fits %.3f s (longest shard %.3f s); "
          "merge %.2f ms; model BLOB %d bytes" % (
              len(a.files), json.loads(js)["n"], "scheduler " + a.scheduler if a.scheduler
              else "LocalCluster on 127.0.0.1", ready, t["fits"], t["longest_shard"],
              t["merge"] * 1e3, len(blob)), file=sys.stderr)
    if a.register:
        version = register(a.into, a.register, blob, js, a.table, a.target, features)
        print("fit_shards: stored as %s version %d in %s" % (a.register, version, a.into),
              file=sys.stderr)


if __name__ == "__main__":
    main()
