#!/usr/bin/python3
"""ml_train with option "threads": the first pass read by several
connections at once (train_threads.c).

References: numpy least squares on the training rows that ml_split_of
picks (the documented rule), with R's treatment coding (levels sorted, the
first the reference); and the one-connection fit of the same call, which
the threaded one must equal to 1e-12 (a merge of factors is exact up to
rounding), with the same counts and data_hash (a sum of row hashes).

The data is made so that each reader sees something the others do not: a
categorical feature whose levels appear in another order in each range and
that only the upper range has enough of to make a diagonal block, NULLs
only in some ranges, and, in a CSV loaded by the shell's .import --csv,
a text that makes a guessed-numeric column categorical only in the last
range (that reader starts the pass again for all).  Pinning: a writer
process commits to every row while ml_train reads; every fit must be of one
commit's rows (the rows shifted alike), in WAL and rollback-journal modes.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import numpy as np

from sqlml_test import Checker, args, connect, error_of

a = args()
c = Checker("threads")
tmp = tempfile.mkdtemp()
N = 6000


def open_file(path, **kw):
    """A connection to a test file, without fsync: these files need no durability."""
    con = connect(a.ext, path, isolation_level=None, **kw)
    con.execute("PRAGMA synchronous = OFF")
    return con


def close(x, y, tol=1e-12):
    return abs(x - y) <= tol * max(1.0, abs(y))


def make(path, mode="delete", n=N):
    con = open_file(path)
    con.execute("PRAGMA journal_mode=%s" % mode)
    con.execute("CREATE TABLE h(id INTEGER PRIMARY KEY, x1 REAL, x2 REAL, city TEXT, w REAL, y REAL)")
    rng = np.random.default_rng(5)
    rows = []
    for i in range(1, n + 1):
        # lower half: 8 cities, upper half: 40, met in another order
        city = "c%02d" % (i % 8 if i <= n // 2 else (39 - i % 40))
        x1, x2 = rng.normal(10, 3), rng.uniform(0, 5)
        if i > n // 3 and i % 17 == 0:
            x2 = None
        y = 3 + 2 * x1 - (x2 or 0) + int(city[1:]) * 0.25 + rng.normal(0, 1)
        rows.append((i, x1, x2, city, rng.uniform(0.5, 2), y))
    con.executemany("INSERT INTO h VALUES (?,?,?,?,?,?)", rows)
    return con


def train(con, opts, name="m", source="h", feats='["x1","x2","city"]'):
    r = json.loads(con.execute("SELECT ml_train(?, ?, 'y', ?, ?)",
                               (name, source, feats, json.dumps(opts))).fetchone()[0])
    v = r["version"]
    w = con.execute("SELECT term, estimate, std_error FROM ml_weights(?)", ("%s@%d" % (name, v),)).fetchall()
    h = con.execute("SELECT data_hash, n_train, n_test, n_skipped FROM ml_model_versions "
                    "WHERE name = ? AND version = ?", (name, v)).fetchone()
    return r, w, h


def same_fit(what, one, many, tol=1e-12):
    r1, w1, h1 = one
    r2, w2, h2 = many
    c.check([t for t, _, _ in w1] == [t for t, _, _ in w2], "%s: the same terms" % what)
    d = max(max(abs(x[1] - y[1]) / max(1, abs(x[1])), abs((x[2] or 0) - (y[2] or 0)) / max(1, abs(x[2] or 0)))
            for x, y in zip(w1, w2))
    c.check(d <= tol, "%s: estimates and errors equal to %g, got %g" % (what, tol, d))
    c.check(h1 == h2, "%s: data_hash and counts equal: %r %r" % (what, h1, h2))
    m1, m2 = r1["metrics"], r2["metrics"]
    for side in ("train", "test"):
        for k in ("rmse", "r2"):
            c.check(close(m1[side][k], m2[side][k], 1e-11),
                    "%s: %s %s %r %r" % (what, side, k, m1[side][k], m2[side][k]))


def numpy_fit(con, seed, weighted=False):
    rows = con.execute("SELECT x1, x2, city, w, y FROM h WHERE x2 IS NOT NULL AND "
                       "ml_split_of(id, 0.2, ?) = 'train'", (seed,)).fetchall()
    levels = sorted({r[2] for r in rows})
    X = np.array([[1, r[0], r[1]] + [1.0 if r[2] == l else 0.0 for l in levels[1:]] for r in rows])
    y = np.array([r[4] for r in rows])
    if weighted:
        s = np.sqrt([r[3] for r in rows])
        X, y = X * s[:, None], y * s
    return np.linalg.lstsq(X, y, rcond=None)[0]


# ---- equal to one connection, and to numpy, in both journal modes ----
for mode in ("delete", "wal"):
    path = os.path.join(tmp, "h_%s.db" % mode)
    con = make(path, mode)
    for opts in ({}, {"weights": "w"}, {"nulls": "mean"}, {"cv": 4}, {"robust": "HC1"},
                 {"metrics": "full", "refine": False}):
        base = dict(opts, seed=7)
        one = train(con, base)
        for n in (2, 3):
            same_fit("%s %s threads %d" % (mode, json.dumps(opts), n), one, train(con, dict(base, threads=n)))
    for formula in ("y ~ exp(x2) + x1 * city", "y ~ poly(x1, 2, raw = TRUE) + city - 1"):
        def ftrain(n):
            r = json.loads(con.execute("SELECT ml_train('f', 'h', ?, ?)",
                                       (formula, json.dumps({"seed": 7, "threads": n}))).fetchone()[0])
            w = con.execute("SELECT term, estimate, std_error FROM ml_weights(?)", ("f@%d" % r["version"],)).fetchall()
            h = con.execute("SELECT data_hash, n_train, n_test, n_skipped FROM ml_model_versions "
                            "WHERE name = 'f' AND version = ?", (r["version"],)).fetchone()
            return r, w, h
        one = ftrain(1)
        for n in (2, 3):
            same_fit("%s formula %s threads %d" % (mode, formula, n), one, ftrain(n))
    for weighted in (False, True):
        ref = numpy_fit(con, 7, weighted)
        _, w, _ = train(con, dict({"seed": 7, "threads": 2}, **({"weights": "w"} if weighted else {})))
        d = max(abs(e - r) / max(1, abs(r)) for (_, e, _), r in zip(w, ref))
        c.check(len(w) == len(ref) and d < 1e-9, "%s weighted=%s: numpy lstsq within 1e-9, got %g" % (mode, weighted, d))
    # an ATTACHed file, and names that need quoting
    aux = os.path.join(tmp, "aux_%s.db" % mode)
    con.execute("ATTACH ? AS \"a'ux\"", (aux,))
    con.execute("CREATE TABLE \"a'ux\".\"we\"\"ird t\"(\"x \"\"q\"\"\" REAL, x2 REAL, city TEXT, y REAL)")
    con.execute("INSERT INTO \"a'ux\".\"we\"\"ird t\" SELECT x1, x2, city, y FROM h")
    src = "\"a'ux\".\"we\"\"ird t\""
    feats = '["x \\"q\\"","x2","city"]'
    same_fit("%s attached, quoted" % mode, train(con, {"seed": 3}, "q", src, feats),
             train(con, {"seed": 3, "threads": 2}, "q", src, feats))
    # a ROLLBACK leaves no version (in WAL mode a transaction is refused), and no reader keeps a lock
    con.execute("BEGIN")
    if mode == "wal":
        e = error_of(con, "SELECT ml_train('rb', 'h', 'y', '[\"x1\"]', '{\"threads\":2}')")
        c.check(e and "outside BEGIN" in e, "wal: inside BEGIN, refused: %r" % e)
    else:
        train(con, {"threads": 2}, "rb")
    con.execute("ROLLBACK")
    c.check(con.execute("SELECT count(*) FROM ml_model_versions WHERE name = 'rb'").fetchone()[0] == 0,
            "%s: a version trained with threads inside a rolled-back transaction is gone" % mode)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    c.check(error_of(other, "BEGIN IMMEDIATE") is None, "%s: no lock left behind" % mode)
    other.execute("ROLLBACK")
    other.close()
    con.close()

# ---- GLMs: every IRLS pass read by the readers; binomial of 0/1 and of text levels, poisson ----
def flat(d, pre=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, pre + k + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[pre + k] = v
    return out


path = os.path.join(tmp, "glm.db")
con = open_file(path)
con.execute("CREATE TABLE g(id INTEGER PRIMARY KEY, x1 REAL, x2 REAL, city TEXT, yb INTEGER, yt TEXT, "
            "cnt INTEGER, expo REAL)")
rng = np.random.default_rng(8)
rows = []
for i in range(1, 5001):
    x1, x2, city = rng.normal(0, 1), rng.uniform(0, 2), "c%d" % (i % 5 if i < 2500 else i % 23)
    p = 1 / (1 + np.exp(-(-0.5 + 0.8 * x1 - 0.4 * x2)))
    yb = int(rng.uniform() < p)
    expo = rng.uniform(0.5, 3)
    cnt = int(rng.poisson(expo * np.exp(0.2 + 0.3 * x1)))
    rows.append((i, x1, x2 if i % 41 else None, city, yb, "yes" if yb else "no", cnt, expo))
con.executemany("INSERT INTO g VALUES (?,?,?,?,?,?,?,?)", rows)
con.execute("CREATE TABLE gl AS SELECT id, x1, x2, city, yb, yt, cnt, expo, log(expo) AS lexpo FROM g")
for target, opts in [("yb", {"family": "binomial"}), ("yt", {"family": "binomial"}),
                     ("yb ~ x1 * x2 + city", {"family": "binomial"}),
                     ("yb", {"family": "binomial", "weights": "expo"}),
                     ("cnt", {"family": "poisson", "offset": "lexpo"})]:
    base = dict(opts, seed=5)
    res = []
    for n in (1, 2, 3):
        sql = ("SELECT ml_train('g', 'gl', ?, ?)" if "~" in target else
               "SELECT ml_train('g', 'gl', ?, '[\"x1\",\"x2\",\"city\"]', ?)")
        r = json.loads(con.execute(sql, (target, json.dumps(dict(base, threads=n)))).fetchone()[0])
        w = con.execute("SELECT term, estimate, std_error FROM ml_weights(?)", ("g@%d" % r["version"],)).fetchall()
        h = con.execute("SELECT data_hash, n_train, n_test, n_skipped FROM ml_model_versions "
                        "WHERE name = 'g' AND version = ?", (r["version"],)).fetchone()
        res.append((r, w, h))
    for n, (r, w, h) in zip((2, 3), res[1:]):
        r1, w1, h1 = res[0]
        what = "%s %s threads %d" % (target, json.dumps(opts), n)
        d = max(max(abs(x[1] - y[1]) / max(1, abs(x[1])), abs(x[2] - y[2]) / max(1, abs(x[2])))
                for x, y in zip(w1, w))
        c.check([x[0] for x in w1] == [x[0] for x in w] and d < 1e-9, "%s: estimates and errors within 1e-9, got %g" % (what, d))
        c.check(h1 == h, "%s: data_hash and counts: %r %r" % (what, h1, h))
        f1, f2 = flat(r1["metrics"]), flat(r["metrics"])
        bad = [k for k in f1 if k not in f2 or not close(f1[k], f2[k], 1e-9)]
        c.check(f1.keys() == f2.keys() and not bad, "%s: metrics within 1e-9: %r" % (what, [(k, f1[k], f2.get(k)) for k in bad][:3]))
        c.check(r1.get("iterations") == r.get("iterations") and r1.get("warnings") == r.get("warnings"),
                "%s: iterations and warnings: %r %r" % (what, (r1.get("iterations"), r1.get("warnings")), (r.get("iterations"), r.get("warnings"))))
# R's glm on the training rows (ml_split_of's rule), against the fit with 3 threads
RSCRIPT = shutil.which("Rscript")
if RSCRIPT is None:
    print("threads: glm against R: SKIPPED: Rscript not found (Debian r-base-core)")
else:
    r = json.loads(con.execute("SELECT ml_train('gr', 'gl', 'cnt', '[\"x1\",\"x2\",\"city\"]', "
                               "'{\"family\":\"poisson\",\"offset\":\"lexpo\",\"seed\":5,\"threads\":3}')").fetchone()[0])
    mine = {t: (e, se) for t, e, se in con.execute("SELECT term, estimate, std_error FROM ml_weights(?)",
                                                   ("gr@%d" % r["version"],))}
    csv = os.path.join(tmp, "glm.csv")
    with open(csv, "w") as f:
        f.write("x1,x2,city,cnt,lexpo\n")
        for row in con.execute("SELECT x1, x2, city, cnt, lexpo FROM gl WHERE x2 IS NOT NULL AND "
                               "ml_split_of(id, 0.2, 5) = 'train'"):
            f.write("%r,%r,%s,%d,%r\n" % row)
    out = subprocess.run([RSCRIPT, "-e", "d <- read.csv('%s'); m <- glm(cnt ~ x1 + x2 + city, poisson, d, "
                          "offset = lexpo, control = glm.control(epsilon = 1e-12, maxit = 100)); "
                          "s <- coef(summary(m)); for (i in seq_len(nrow(s))) "
                          "cat(rownames(s)[i], sprintf('%%.17g', s[i, 1]), sprintf('%%.17g', s[i, 2]), '\\n')" % csv],
                         capture_output=True, text=True)
    theirs = {l.split()[0]: (float(l.split()[1]), float(l.split()[2])) for l in out.stdout.splitlines() if l.strip()}
    def name(k):  # R's cityc1 is sqlml's city=c1
        return "city=" + k[4:] if k.startswith("city") else k
    ok = sorted(mine) == sorted(name(k) for k in theirs)
    worst = max((abs(mine[name(k)][i] - v[i]) / max(1, abs(v[i])) for k, v in theirs.items() for i in (0, 1)),
                default=1) if ok else 1
    print("threads: poisson with an offset, 3 threads, against R's glm: largest relative difference %.1e" % worst)
    c.check(ok and worst < 1e-8, "poisson with an offset, 3 threads, against R's glm: %r %r, worst %g"
            % (sorted(mine), sorted(theirs), worst))
con.close()

# ---- an error in one reader's range is the caller's, as one connection reports it ----
path = os.path.join(tmp, "h_err.db")
con = make(path)
e1 = error_of(con, "SELECT ml_train('e', 'h', 'y', '[\"x1\",\"x2\"]', '{\"nulls\":\"error\"}')")
e2 = error_of(con, "SELECT ml_train('e', 'h', 'y', '[\"x1\",\"x2\"]', '{\"nulls\":\"error\",\"threads\":2}')")
row = e1 and e1[e1.index("(rowid ") + 7:].split(")")[0]
c.check(e1 and "column 'x2' is NULL" in e1 and e2 and "column 'x2' is NULL in the row of rowid %s," % row in e2,
        "a NULL under nulls=error in the second range: %r / %r" % (e1, e2))

# ---- .import --csv: every column TEXT, 'NA', a column proven categorical in the last range ----
csv = os.path.join(tmp, "imp.csv")
with open(csv, "w") as f:
    f.write("y,x,grade\n")
    rng = np.random.default_rng(9)
    for i in range(3000):
        x = rng.normal(0, 1)
        g = str(i % 3) if i < 2500 else "ABC"[i % 3]
        y = 1 + 2 * x + (0.5 * (i % 3)) + rng.normal(0, 0.1)
        f.write("%s,%s,%s\n" % ("NA" if i % 97 == 5 else repr(y), repr(x), g))
imp = os.path.join(tmp, "imp.db")
subprocess.run([a.sqlite3, imp, ".import --csv %s t" % csv], check=True)
con = open_file(imp)
one = train(con, {"seed": 1}, "i", "t", '["x","grade"]')
many = train(con, {"seed": 1, "threads": 2}, "i", "t", '["x","grade"]')
same_fit(".import --csv, grade categorical only past row 2500", one, many)
c.check(many[0]["nulls"]["y"] == one[0]["nulls"]["y"] > 0, "'NA' targets counted alike: %r" % many[0]["nulls"])
c.check([t for t, _, _ in many[1] if t.startswith("grade")] == ["grade1", "grade2", "gradeA", "gradeB", "gradeC"]
        or len([t for t, _, _ in many[1] if t.startswith("grade")]) == 5,
        "grade's levels: %r" % [t for t, _, _ in many[1]])
con.close()

# ---- what '*' leaves out, a split key, listed levels, unseen levels: as one connection ----
path = os.path.join(tmp, "star.db")
con = open_file(path)
con.execute("CREATE TABLE s(id INTEGER PRIMARY KEY, k TEXT, y REAL, x REAL, b INTEGER, name TEXT, wide TEXT)")
rng = np.random.default_rng(4)
rows = []
for i in range(1, 4001):
    x, b = rng.normal(), int(rng.integers(0, 6))
    # wide: 600 levels in each half, 1200 in all (more than a model holds); name: one per row
    wide = "w%d" % (i % 600 + (600 if i > 2000 else 0))
    rows.append((i, "k%07d" % ((i * 7919) % 100003), 1 + 2 * x + 0.3 * b + rng.normal(0, 0.1), x, b,
                 "n%d" % i, wide))
con.executemany("INSERT INTO s VALUES (?,?,?,?,?,?,?)", rows)
for feats, opts, what in [("*", {}, "'*' with a name and a 1200-level column"),
                          ('["x","b"]', {"key": "k"}, "split by a text key"),
                          ('["x","b"]', {"categorical": ["b"]}, "listed levels of numbers"),
                          ('["x","b"]', {"categorical": ["b"], "unseen": "zero", "test_size": 0.5}, "unseen zero")]:
    one = train(con, dict(opts, seed=9), "st", "s", feats)
    many = train(con, dict(opts, seed=9, threads=2), "st", "s", feats)
    same_fit("%s, threads 2" % what, one, many)
    c.check(one[0]["warnings"] == many[0]["warnings"] and one[0]["features"] == many[0]["features"],
            "%s: the same features and warnings: %r / %r" % (what, one[0]["warnings"], many[0]["warnings"]))
# Robust errors keep the model's factor dense (a block of many levels is for
# plain linear fits), so 1000 terms is the limit.
e1 = error_of(con, "SELECT ml_train('st', 's', 'y', '[\"x\",\"wide\"]', '{\"robust\":\"HC1\"}')")
e2 = error_of(con, "SELECT ml_train('st', 's', 'y', '[\"x\",\"wide\"]', "
                   "'{\"robust\":\"HC1\",\"threads\":2}')")
c.check(e1 and e2 and "feature 'wide' has too many levels" in e2 and e1.split(" (")[0] == e2.split(" (")[0],
        "a listed feature of too many levels in all, not in either range: %r / %r" % (e1, e2))
con.close()

# ---- few rows: fewer readers than asked, no connection left open; none: the one error ----
path = os.path.join(tmp, "few.db")
con = open_file(path)
con.execute("CREATE TABLE s(x REAL, y REAL)")
con.execute("CREATE TABLE e(x REAL, y REAL)")
con.executemany("INSERT INTO s(rowid, x, y) VALUES (?, ?, ?)", [(1, 1, 2.5), (2, 2, 3.9), (3, 3, 6.2), (10**12, 4, 8.1)])
fits = [json.loads(con.execute("SELECT ml_train('s', 's', 'y', '[\"x\"]', ?)",
                               (json.dumps({"test_size": 0, "threads": n}),)).fetchone()[0]) for n in (1, 8)]
c.check(fits[0]["n_train"] == fits[1]["n_train"] == 4 and close(fits[0]["metrics"]["train"]["rmse"],
                                                                 fits[1]["metrics"]["train"]["rmse"]),
        "4 rows (one at rowid 1e12), 8 threads: %r" % fits[1]["metrics"])
e1 = error_of(con, "SELECT ml_train('e', 'e', 'y', '[\"x\"]')")
e2 = error_of(con, "SELECT ml_train('e', 'e', 'y', '[\"x\"]', '{\"threads\":4}')")
c.check(e1 and e1 == e2, "an empty table: the same error: %r / %r" % (e1, e2))
other = sqlite3.connect(path, isolation_level=None, timeout=0)
c.check(error_of(other, "BEGIN EXCLUSIVE") is None, "few rows: no reader's lock left behind")
other.execute("ROLLBACK")
other.close()
con.close()

# ---- refused, with what to do ----
mem = connect(a.ext, ":memory:")
mem.execute("CREATE TABLE h(x REAL, y REAL)")
mem.execute("INSERT INTO h VALUES (1, 2), (2, 3), (3, 5)")
con = make(os.path.join(tmp, "h_ref.db"))
con.execute("CREATE TEMP TABLE tt AS SELECT * FROM h")
con.execute("CREATE VIEW v AS SELECT * FROM h")
for db, src, opts, want in [
        (mem, "h", {}, "a table in an in-memory database"),
        (con, "tt", {}, "a temporary table"),
        (con, "v", {}, "a view"),
        (con, "SELECT * FROM h", {}, "a query"),
        (con, "h", {"incremental": True}, "an incremental version")]:
    e = error_of(db, "SELECT ml_train('r', ?, 'y', '[\"x1\"]', ?)" if db is con else
                 "SELECT ml_train('r', ?, 'y', '[\"x\"]', ?)", src, json.dumps(dict(opts, threads=2)))
    c.check(e and want in e and "without \"threads\"" in e, "refused: %s: %r" % (want, e))
e = error_of(con, "SELECT ml_train('r', 'h', 'y', '[\"x1\"]', '{\"threads\":0}')")
c.check(e and "threads must be an integer from 1 to 64" in e, "threads 0: %r" % e)
con.execute("BEGIN")
con.execute("INSERT INTO h(x1, y) VALUES (1, 1)")
e = error_of(con, "SELECT ml_train('r', 'h', 'y', '[\"x1\"]', '{\"threads\":2}')")
c.check(e and "uncommitted changes" in e, "uncommitted writes: %r" % e)
con.execute("ROLLBACK")
# rollback journal inside a read transaction: the caller's lock already pins it
con.execute("BEGIN")
con.execute("SELECT count(*) FROM h").fetchone()
many = train(con, {"seed": 2, "threads": 2}, "tx")
one = train(con, {"seed": 2}, "tx")
con.execute("COMMIT")
same_fit("rollback journal inside BEGIN", one, many)
con.close()
con = make(os.path.join(tmp, "h_wtx.db"), "wal")
con.execute("BEGIN")
con.execute("SELECT count(*) FROM h").fetchone()
e = error_of(con, "SELECT ml_train('r', 'h', 'y', '[\"x1\"]', '{\"threads\":2}')")
con.execute("ROLLBACK")
c.check(e and "outside BEGIN" in e, "WAL inside a read transaction: %r" % e)
# the authorizer of the caller decides what the readers read
con.set_authorizer(lambda op, a1, a2, db, src: sqlite3.SQLITE_DENY if op == sqlite3.SQLITE_READ and a2 == "x2" else sqlite3.SQLITE_OK)
e1 = error_of(con, "SELECT ml_train('r', 'h', 'y', '[\"x1\",\"x2\"]')")
e2 = error_of(con, "SELECT ml_train('r', 'h', 'y', '[\"x1\",\"x2\"]', '{\"threads\":2}')")
c.check(e1 is not None and e1 == e2, "authorizer: refused alike: %r / %r" % (e1, e2))
con.set_authorizer(None)
con.close()

# ---- one snapshot: a writer shifts every row's y by 1 per commit while ml_train reads ----
WRITER = r'''
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
con.execute("PRAGMA synchronous = OFF")
end = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < end:
    con.execute("UPDATE h SET y = y + 1")
    n += 1
print(n)
'''
# The registry is in another database (main, in memory), so that the fits
# do not wait for the writer to store their versions: many fits, 8 readers
# each, so that a commit landing while the readers begin would be seen.
for mode in ("wal", "delete"):
    path = os.path.join(tmp, "pin_%s.db" % mode)
    make(path, mode, 20000).close()
    con = connect(a.ext, ":memory:", isolation_level=None)
    con.execute("ATTACH ? AS src", (path,))
    con.execute("PRAGMA busy_timeout = 30000")
    _, w0, _ = train(con, {"seed": 4, "test_size": 0}, "p0", "src.h", '["x1","x2"]')
    rss0 = json.loads(con.execute("SELECT ml_train('p0', 'src.h', 'y', '[\"x1\",\"x2\"]', "
                                  "'{\"seed\":4,\"test_size\":0}')").fetchone()[0])["metrics"]["train"]["rmse"]
    wr = subprocess.Popen([sys.executable, "-c", WRITER, path, "3"], stdout=subprocess.PIPE, text=True)
    fits, bad = 0, []
    import time
    end = time.monotonic() + 3
    while time.monotonic() < end:
        try:
            r, w, _ = train(con, {"seed": 4, "test_size": 0, "threads": 8}, "p", "src.h", '["x1","x2"]')
        except sqlite3.OperationalError as ex:
            if "locked" in str(ex) or "busy" in str(ex):
                continue
            raise
        fits += 1
        shift = w[0][1] - w0[0][1]
        if not (abs(shift - round(shift)) < 1e-8 and close(r["metrics"]["train"]["rmse"], rss0, 1e-9)):
            bad.append((shift, r["metrics"]["train"]["rmse"], rss0))
    commits = int(wr.communicate()[0])
    print("threads: %s: %d fits while %d commits landed" % (mode, fits, commits))
    c.check(fits > 0 and commits > 0 and not bad,
            "%s: %d fits during %d commits, each of one commit's rows: %r" % (mode, fits, commits, bad[:3]))
    con.close()

# ---- sqlite3_interrupt on the caller stops the readers too ----
import threading
import time
path = os.path.join(tmp, "intr.db")
con = open_file(path, check_same_thread=False)
con.execute("CREATE TABLE t(y, a, b, c, d)")
con.execute("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 2000000) "
            "INSERT INTO t SELECT random() % 100, random() % 7, random() % 11, random() % 13, random() % 17 FROM s")
TRAIN = "SELECT ml_train('i', 't', 'y', '*', '{\"threads\":2,\"refine\":false}')"
t0 = time.monotonic()
con.execute(TRAIN).fetchone()
full = time.monotonic() - t0
threading.Timer(0.05, con.interrupt).start()
t0 = time.monotonic()
e = error_of(con, TRAIN)
took = time.monotonic() - t0
c.check(e == "ml_train(): interrupted" and took < 0.6 * full,
        "interrupted after 0.05 s: %r after %.2f s (the whole fit: %.2f s)" % (e, took, full))
c.check(con.execute("SELECT count(*) FROM ml_model_versions WHERE name = 'i'").fetchone()[0] == 1,
        "the interrupted fit stored no version")
con.close()

# ---- fits on two connections in two threads of the host: each its own answer ----
# (Debian's serial OpenBLAS is not safe to call from two threads at once;
# every BLAS call of sqlml holds one lock: blas_lock.h.)
path = os.path.join(tmp, "wide.db")
con = open_file(path)
cols = ", ".join("x%d" % j for j in range(40))
con.execute("CREATE TABLE w(y, %s)" % cols)
rng = np.random.default_rng(3)
X = rng.normal(size=(20000, 40))
con.executemany("INSERT INTO w VALUES (%s)" % ",".join("?" * 41),
                [(float(X[i].sum() + rng.normal()),) + tuple(map(float, X[i])) for i in range(20000)])
FIT = "SELECT ml_fit(y, %s) FROM w WHERE rowid %% 2 = ?" % cols
want = [con.execute(FIT, (k,)).fetchone()[0] for k in (0, 1)]
con.close()
wrong = []


def fit_often(k):
    cn = connect(a.ext, path, check_same_thread=False)
    for _ in range(20):
        if cn.execute(FIT, (k,)).fetchone()[0] != want[k]:
            wrong.append(k)
    cn.close()


ths = [threading.Thread(target=fit_often, args=(k,)) for k in (0, 1)]
for t in ths:
    t.start()
for t in ths:
    t.join()
c.check(not wrong, "ml_fit on two connections in two threads: the one-thread BLOB each time, %d wrong" % len(wrong))

shutil.rmtree(tmp)
c.done()
