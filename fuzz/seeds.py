#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/seed-*).

The seeds are small and committed; this script says how they were made and
makes them again:  /usr/bin/python3 fuzz/seeds.py --ext dist/sqlml.so
Model BLOBs come from the extension itself, so the model seeds are real
models of every kind (plain, no intercept, categorical, imputed, weighted,
ridge, robust, refined).
"""
import argparse
import os
import sqlite3
import struct

ap = argparse.ArgumentParser()
ap.add_argument("--ext", required=True)
a = ap.parse_args()
here = os.path.dirname(os.path.abspath(__file__))


def write(target, items):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.remove(os.path.join(d, f))
    for i, b in enumerate(items):
        with open(os.path.join(d, "seed-%03d" % i), "wb") as f:
            f.write(b)


con = sqlite3.connect(":memory:")
con.enable_load_extension(True)
con.load_extension(os.path.abspath(a.ext))
con.executescript("""
CREATE TABLE t(id INTEGER PRIMARY KEY, y REAL, a REAL, b REAL, c TEXT, w REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30)
INSERT INTO t SELECT i, 2 + 3 * i + (i % 5) * 0.5, i, (i * 7) % 11, 'c' || (i % 3), 1 + i % 2 FROM n;
UPDATE t SET c = NULL WHERE id % 7 = 0;
""")
queries = [
    "SELECT ml_fit(y, a) FROM t",
    "SELECT ml_fit(y, a, b, a + b) FROM t",
    "SELECT ml_fit_opts('{\"intercept\":false}', y, a) FROM t",
    "SELECT ml_fit_opts('{\"weights\":true,\"nulls\":\"mean\"}', w, y, a, b) FROM t",
    "SELECT ml_fit_opts('{\"l2\":0.5}', y, a, b) FROM t",
    "SELECT ml_refine((SELECT ml_fit_opts('{\"robust\":\"HC1\"}', y, a) FROM t), y, a) FROM t",
]
models = [con.execute(q).fetchone()[0] for q in queries]
for i, opts in enumerate(['{"test_size":0,"nulls":"mean"}', '{"test_size":0,"weights":"w"}',
                          '{"test_size":0,"intercept":false}', '{"test_size":0,"robust":"HC3","refine":true}']):
    con.execute("SELECT ml_train('s%d', 't', 'y', '[\"a\",\"c\"]', ?)" % i, (opts,)).fetchone()
# A model kept with its block (sections BFAC and tbfc): 70 levels.
con.executescript("""
CREATE TABLE tb(y REAL, a REAL, s TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO tb SELECT (i % 9) + 0.1 * (i % 70), i % 4, 'L' || (i % 70) FROM n;
""")
con.execute("SELECT ml_train('sb', 'tb', 'y', '[\"a\",\"s\"]', '{\"test_size\":0.2,\"unseen\":\"zero\"}')").fetchone()
models += [r[0] for r in con.execute("SELECT model FROM ml_model_versions ORDER BY name")]
seeds = [bytes([0]) + m for m in models] + [bytes([1]) + m for m in models]
seeds += [bytes([1]) + b"SQML" + bytes(12), bytes([0]) + b"garbage", bytes([1]) + models[0][:40]]
write("model", seeds)

write("split", [s.encode() for s in [
    "t, test_size=0.2, seed=42", "source=v, key=id", "w, key=k, valid_size=0.1, test_size=0.1",
    '"odd.name"', "aux.t, key=x", "t, test_size=1.5", "'t', seed='7'", "main.t, key=rowid",
    "t, tset_size=0.2", '[t], key="we""ird"', "t, key=k", "v", "t, seed=9223372036854775807",
    "t, test_size=0x1p-3", "temp.t", "t, key=b, test_size=0.5, valid_size=0.49"]])


def train_seed(source, target, feats, opts, null_feats=False, null_opts=False):
    sources = ["t", "v", "r", "one", "zero", "SELECT", "VALUES", '"t"', "missing"]
    targets = ["y", "a", "c", "nul", "column1", "Y", "missing", ""]
    choice = sources.index(source) + 9 * targets.index(target)
    choice |= (0x80 if null_feats else 0) | (0x40 if null_opts else 0)
    return bytes([choice]) + feats.encode() + (b"\0" + opts.encode() if opts is not None else b"")


write("train", [
    train_seed("t", "y", '["a","b"]', '{"test_size":0.2,"seed":42}'),
    train_seed("t", "y", '["a","c","many"]', '{"nulls":"mean","unseen":"zero"}'),
    train_seed("t", "y", '*', '{"weights":"w","robust":"HC1","metrics":"full"}'),
    train_seed("t", "y", '["a","b","konst"]', '{"l2":2,"test_size":0}'),
    train_seed("t", "y", '["a","nul"]', '{"nulls":"error"}'),
    train_seed("t", "y", '["d","k"]', '{"categorical":["d"],"key":"k","refine":true}'),
    train_seed("v", "y", '["a","c"]', '{"intercept":false,"tol":0.5}'),
    train_seed("r", "y", '["a"]', '{"key":"k","test_size":0.5}'),
    train_seed("one", "y", '["a"]', None, null_opts=True),
    train_seed("zero", "y", '', '{}', null_feats=True),
    train_seed("SELECT", "y", '["a","c"]', '{"seed":1e300}'),
    train_seed("VALUES", "column1", '["column2"]', '{"test_size":0}'),
    train_seed("t", "y", '["\\"q\\"\\"uote\\""]', '{"progress":false,"seed":-3}'),
    train_seed("t", "c", '["a"]', '{"test_size":0.99999}'),
    # "many" (80 levels) as a model kept with its block: refined, weighted; a GLM's IRLS on it.
    train_seed("t", "y", '["many","a"]', '{"weights":"w","refine":true,"metrics":"full"}'),
    train_seed("t", "a", '["many"]', '{"family":"poisson","test_size":0.3,"unseen":"zero"}'),
])

FN = ["ml_version", "ml_fit", "ml_fit_opts", "ml_merge", "ml_merge2", "ml_refine", "ml_predict",
      "ml_predict_interval", "ml_model_json", "ml_train", "ml_evaluate", "ml_alias", "ml_drop",
      "ml_split_of", "ml_weights"]
MIN = [0, 2, 3, 1, 2, 3, 1, 2, 1, 3, 2, 3, 1, 3, 1]
NULL, INT, I64, DBL, NOTABLE, TEXT, BLOB, MODEL, BADMODEL, REF, COL, STR, HUGE, _, SUB = range(15)
col = {n: i for i, n in enumerate(["y", "a", "b", "c", "d", "nul", "w", "id", "rowid"])}
txt = {n: i for i, n in enumerate([
    "{}", '{"intercept":false}', '{"weights":true}', '{"nulls":"mean"}', '{"l2":0.5}',
    '{"robust":"HC3"}', '["a","b"]', '["c"]', "*", '{"test_size":0}',
    '{"categorical":["b"],"test_size":0}', '{"metrics":"full","refine":true}', "t",
    "SELECT * FROM t", "v", "SELECT y, a FROM t WHERE id < 3", "y", "a", "prod", "1"])}


def call(fn, *args):
    out = [FN.index(fn), len(args) - MIN[FN.index(fn)]]
    for arg in args:
        out += list(arg)
    return bytes(out)


def dbl(x):
    return [DBL] + list(struct.pack("<d", x))


write("sql", [
    call("ml_version"),
    call("ml_fit", [COL, col["y"]], [COL, col["a"]], [COL, col["b"]]),
    call("ml_fit_opts", [STR, txt['{"weights":true}']], [COL, col["w"]], [COL, col["y"]], [COL, col["a"]]),
    call("ml_merge", [MODEL, 0]) + call("ml_merge2", [MODEL, 1], [BADMODEL, 2, 40, 0, 7]),
    call("ml_refine", [SUB], [COL, col["y"]], [COL, col["a"]]),
    call("ml_predict", [REF, 0], [COL, col["a"]], [INT, 130]),
    call("ml_predict", [MODEL, 3], dbl(float("nan")), [TEXT, 3] + list(b"\xff\xfeA")),
    call("ml_predict_interval", [REF, 4], [NOTABLE, 6], [COL, col["a"]], [COL, col["c"]]),
    call("ml_model_json", [REF, 3], [NOTABLE, 2]),
    call("ml_train", [STR, txt["a"]], [STR, txt["t"]], [STR, txt["y"]], [STR, txt["*"]], [STR, txt["{}"]]),
    call("ml_evaluate", [REF, 1], [STR, txt["SELECT * FROM t"]]),
    call("ml_alias", [STR, txt["y"]], [STR, txt["prod"]], [INT, 129]) + call("ml_drop", [REF, 0], [INT, 130]),
    call("ml_split_of", [COL, col["id"]], [NOTABLE, 3], [I64] + [1] * 8),
    call("ml_weights", [REF, 6], [NOTABLE, 6]),
    call("ml_predict", [HUGE], [NULL]),
])

# registry: 5-byte edits (row, offset lo, offset hi, value, op)
write("registry", [bytes(e) for e in [
    [], [0, 20, 0, 0xff, 0], [1, 100, 0, 0x41, 6], [2, 7, 0, 0, 2], [3, 50, 0, 9, 3],
    [4, 0, 0, 0, 4], [5, 0, 0, 0, 5], [6, 30, 0, 2, 1, 6, 31, 0, 0, 7], [0, 0, 0, 20, 8],
    [0, 0, 0, 0, 9], [1, 12, 0, 0x7f, 6, 1, 200, 0, 0x80, 6],
]])
# nest: statement programs (fuzz_nest.c): the attacks of issue 12 and their neighbours
write("nest", [bytes(e) for e in [
    [0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 4, 2, 0, 4],         # a split table whose source reads it
    [0, 0, 1, 7, 1, 0, 2, 0, 1],                         # a view that trains on itself
    [0, 0, 1, 6, 1, 0, 5, 0, 1, 1],                      # a view that evaluates on itself
    [3, 0, 0, 1, 10, 0, 0, 0, 1],                        # ?1 in a source
    [3, 0, 0, 1, 4, 0, 0, 1, 1],                         # ml_drop in a source, ';'
    [4, 0, 0, 2, 5, 0, 11, 6, 0, 3, 0],                  # ml_alias and a subquery, comments
    [5, 0, 0, 1, 12, 0, 0, 4],                           # ml_fit in a source; two statements
    [1, 1, 0, 6, 0, 0, 1, 1, 5, 6, 0, 1, 5],             # split over t, predictions over it
    [2, 0, 6, 2, 0, 7, 3, 0, 1, 6],                      # the registry as a source
]])
print("seeds written")
