#!/usr/bin/python3
"""make bench: sqlml against the floor and against the pipeline users run
today, side by side on the same data, as ratios.

  bench.py --ext dist/sqlml.so --out build/bench [--quick] [--reps N] [--only WORD]

Each case is a pair: sqlml's command and a baseline that does the same job
another way, or the least work that reads the same values (the "floor").
Every run is a fresh process, so its peak RSS (wait4's ru_maxrss) is its own.
The two sides alternate (AB BA AB ...) after one untimed run of each, so they
share the machine's noise and the same warm page cache; the table reports
medians.  Times are the statement's own (the sqlite3 shell's .timer), or for
the Python pipeline its own clock after its imports: process start-up is in
neither.  Both sides of an SQL case load the extension.

Data are generated inside SQLite by a recursive CTE, deterministically: x_j
of row i is a Weyl sequence ((i * M_j + C_j) mod P) scaled to [-1, 1), with
a distinct multiplier per column, and y = 3 + sum(j * x_j) + 0.1 * noise.
They are cached in the output folder and regenerated only when missing.

Exit status: 1 if any case failed to run.  Goals are reported, never
asserted: the machines here are noisy, and only ratios are meaningful.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GNU_TIME = shutil.which("time") or "/usr/bin/time"  # Debian package time

SIZES = {
    "full": dict(rows=1_000_000, big=10_000_000, groups=10_000, wide=200_000, reps=7,
                 requests=20_000, opens=200, models=1000, model_rows=200_000, small_groups=100_000,
                 glm_rows=1_000_000, cat_rows=200_000),
    "quick": dict(rows=20_000, big=100_000, groups=200, wide=5_000, reps=2,
                  requests=500, opens=10, models=50, model_rows=5_000, small_groups=2_000,
                  glm_rows=20_000, cat_rows=5_000),
}
WIDE_TRAIN = 126  # the widest ml_train accepts
WIDTHS = (10, 50, 100)
K = 10  # features of the main table

MOD = 2147483647  # the prime 2^31 - 1


def weyl(j):
    """SQL for column j's value in [-1, 1) at row i (j = 0 is the noise)."""
    return "(((i * %d + %d) %% %d) / %.1f - 1)" % (pow(48271, j + 11, MOD), 12345 * j, MOD, MOD / 2)


def fill_sql(name, n, p, groups=None):
    xs = ", ".join("%s AS x%d" % (weyl(j), j) for j in range(1, p + 1))
    y = "3 + " + " + ".join("%d * x%d" % (j, j) for j in range(1, p + 1)) + " + 0.1 * e"
    g = "(i * 7919) %% %d, " % groups if groups else ""
    return ("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d), "
            "u AS (SELECT i, %s, %s AS e FROM s) "
            "INSERT INTO %s SELECT i, %s%s, %s FROM u"
            % (n, xs, weyl(0), name, g, y, ", ".join("x%d" % j for j in range(1, p + 1))))


def start_db(path):
    """A fresh database beside path (path + ".tmp"), written fast: its connection, name and start time."""
    t0 = time.perf_counter()
    tmp = path + ".tmp"
    if os.path.exists(tmp):
        os.remove(tmp)
    con = sqlite3.connect(tmp, isolation_level=None)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    return con, tmp, t0


def end_db(con, tmp, path, t0):
    """Puts the database start_db made at path, whole."""
    con.close()
    os.replace(tmp, path)
    print("bench: generated %s in %.1f s" % (os.path.basename(path), time.perf_counter() - t0), flush=True)


def generate(path, tables):
    """Creates the database at path with tables [(name, rows, p, groups)], unless it exists."""
    if os.path.exists(path):
        return
    con, tmp, t0 = start_db(path)
    for name, n, p, groups in tables:
        cols = ", ".join("x%d REAL" % j for j in range(1, p + 1))
        con.execute("CREATE TABLE %s(id INTEGER PRIMARY KEY, %sy REAL, %s)"
                    % (name, "g INTEGER, " if groups else "", cols))
        con.execute(fill_sql(name, n, p, groups))
    end_db(con, tmp, path, t0)


def generate_glm(path, n):
    """The binomial GLM case's table b(id, y, x1..x10): y is 1 when the noise
    column, mapped to [0, 1), is below the logistic of 0.2 + sum(+-j/10 x_j)."""
    if os.path.exists(path):
        return
    con, tmp, t0 = start_db(path)
    con.execute("CREATE TABLE b(id INTEGER PRIMARY KEY, y INTEGER, %s)"
                % ", ".join("x%d REAL" % j for j in range(1, K + 1)))
    xs = ", ".join("%s AS x%d" % (weyl(j), j) for j in range(1, K + 1))
    eta = "0.2 + " + " + ".join("%s%.1f * x%d" % ("-" if j % 2 else "", j / 10, j) for j in range(1, K + 1))
    con.execute("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d), "
                "u AS (SELECT i, %s, %s AS e FROM s) "
                "INSERT INTO b SELECT i, (e + 1) / 2 < 1 / (1 + exp(-(%s))), %s FROM u"
                % (n, xs, weyl(0), eta, feats(K)))
    end_db(con, tmp, path, t0)


def generate_cat(path, n):
    """The categorical cases' table c(id, y, x1, c100, c1000, c100k): level j
    of cL is 'L' || (i * 7919 mod L) (every level about n / L rows; c100k,
    n / 2 levels of 2 rows), x1 the first Weyl column, and y = 3 + 2 x1 + an
    effect of the c1000 level + noise."""
    if os.path.exists(path):
        return
    con, tmp, t0 = start_db(path)
    con.execute("CREATE TABLE c(id INTEGER PRIMARY KEY, y REAL, x1 REAL, c100 TEXT, c1000 TEXT, "
                "c100k TEXT)")
    con.execute("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d), "
                "u AS (SELECT i, %s AS x1, %s AS e, (i * 7919) %% 1000 AS g FROM s) "
                "INSERT INTO c SELECT i, 3 + 2 * x1 + (g %% 13) * 0.1 + 0.1 * e, x1, "
                "'L' || (g %% 100), 'L' || g, 'K' || ((i * 7919) %% %d) FROM u"
                % (n, weyl(1), weyl(0), n // 2))
    end_db(con, tmp, path, t0)


# ---- running one side of a case ----

class CaseError(Exception):
    pass


class Sample:
    def __init__(self, seconds, cpu, rss, extra=None, out=""):
        self.seconds, self.cpu, self.rss, self.extra, self.out = seconds, cpu, rss, extra or {}, out


def spawn(argv, stdin_text):
    """Runs argv in a fresh process; returns (status, stdout, stderr, peak RSS in bytes).

    The peak RSS comes from GNU time, not from our own wait4: Linux carries a
    process's high-water RSS across exec, so a child forked from this Python
    (pandas and all) would report at least our size.  time is small."""
    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout, \
            tempfile.TemporaryFile() as ferr, tempfile.NamedTemporaryFile("r") as frss:
        fin.write(stdin_text.encode())
        fin.seek(0)
        rc = subprocess.run([GNU_TIME, "-f", "%M", "-o", frss.name] + argv, stdin=fin, stdout=fout,
                            stderr=ferr).returncode
        fout.seek(0)
        ferr.seek(0)
        kib = frss.read().split()
        return (rc, fout.read().decode(errors="replace"), ferr.read().decode(errors="replace"),
                int(kib[-1]) * 1024 if kib else None)


TIMER = re.compile(r"Run Time: real ([0-9.]+) user ([0-9.]+) sys ([0-9.]+)")


def shell(cfg, db, sql, setup=""):
    """A run of one statement in the sqlite3 shell, timed by .timer."""
    script = '.load "%s"\n%s\n.timer on\n%s;\n' % (cfg.ext, setup, sql)
    argv = [cfg.sqlite3, "-bail", db]

    def run():
        rc, out, err, rss = spawn(argv, script)
        times = TIMER.findall(out)
        if rc != 0 or err.strip() or not times:
            raise CaseError("%s: %s" % (sql[:70], err.strip() or out.strip()[-300:] or "exit %d" % rc))
        rows = "\n".join(l for l in out.splitlines() if not TIMER.match(l))
        real, user, system = map(float, times[-1])
        return Sample(real, user + system, rss, out=rows)
    return run


def pipeline(cfg, db, table, target, features):
    """A run of bench/pipeline.py (pandas + scikit-learn + joblib)."""
    argv = [sys.executable, os.path.join(HERE, "pipeline.py"), db, table, target,
            json.dumps(features), os.path.join(cfg.out, "pipeline-model.pkl")]

    def run():
        rc, out, err, rss = spawn(argv, "")
        if rc != 0:
            raise CaseError("pipeline.py: %s" % (err.strip()[-500:] or "exit %d" % rc))
        r = json.loads(out.strip().splitlines()[-1])
        return Sample(r["seconds"], r["cpu_seconds"], rss, r)
    return run


def program(cfg, argv):
    """A run of a program that prints one JSON line with seconds and cpu_seconds."""
    def run():
        rc, out, err, rss = spawn(argv, "")
        if rc != 0:
            raise CaseError("%s: %s" % (os.path.basename(argv[0]), err.strip()[-500:] or "exit %d" % rc))
        r = json.loads(out.strip().splitlines()[-1])
        return Sample(r["seconds"], r["cpu_seconds"], rss, r)
    return run


# One prediction per statement from Python: the sqlite3 module keeps the
# statement prepared (its statement cache) and steps it per call.
PY_LOOP = r"""
import json, sqlite3, sys, time
db, ext, n, mode, model, k = sys.argv[1:]
n, k = int(n), int(k)
con = sqlite3.connect(db, isolation_level=None)
con.enable_load_extension(True)
con.load_extension(ext)
args = ", ".join("?" for _ in range(k))
if mode == "blob":
    blob = con.execute("SELECT model FROM ml_model_versions WHERE name = ? ORDER BY version DESC LIMIT 1",
                       (model,)).fetchone()[0]
    sql, first = "SELECT ml_predict(?, %s)" % args, (blob,)
else:
    sql, first = "SELECT ml_predict('%s', %s)" % (model, args), ()
rows = [first + tuple(((i + j) % 100) / 50 - 1 for j in range(k)) for i in range(n)]
w0, c0 = time.perf_counter(), time.process_time()
s = 0.0
for r in rows:
    s += con.execute(sql, r).fetchone()[0]
print(json.dumps({"seconds": time.perf_counter() - w0, "cpu_seconds": time.process_time() - c0, "sum": s}))
"""


def py_loop(cfg, db, n, mode, model, k):
    return program(cfg, [sys.executable, "-c", PY_LOOP, db, cfg.ext, str(n), mode, model, str(k)])


def same_numbers(x, y):
    try:
        return all(abs(float(u) - float(v)) <= 1e-9 * max(abs(float(u)), abs(float(v)), 1)
                   for u, v in zip(x.split(), y.split(), strict=True))
    except ValueError:
        return False


def measure(a, b, reps, same=False):
    """Times a and b alternately; with same, their outputs must agree (to 1e-9)."""
    wa, wb = a(), b()  # untimed: warms the page cache and the libraries' pages
    if same and not same_numbers(wa.out, wb.out):
        raise CaseError("the two sides disagree: %r against %r" % (wa.out, wb.out))
    sa, sb = [], []
    for r in range(reps):
        order = ((a, sa), (b, sb)) if r % 2 == 0 else ((b, sb), (a, sa))
        for run, out in order:
            out.append(run())
    return sa, sb


def med(samples, attr="seconds"):
    return statistics.median(getattr(s, attr) for s in samples)


# ---- formatting ----

def fmt_time(s):
    if s is None:
        return ""
    if s >= 1:
        return "%.2f s" % s
    return "%.1f ms" % (s * 1e3) if s < 0.01 else "%.0f ms" % (s * 1e3)


def fmt_mib(b):
    return "" if b is None else "%.1f MiB" % (b / 2**20)


def fmt_rows(n):
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return "%dM" % (n // 1_000_000)
    if n >= 1000 and n % 1000 == 0:
        return "%dk" % (n // 1000)
    return str(n)


def feats(p):
    return ", ".join("x%d" % j for j in range(1, p + 1))


def floor_sql(table, p):
    return "SELECT sum(y + %s) FROM %s" % (" + ".join("x%d" % j for j in range(1, p + 1)), table)


# ---- the machine ----

def machine(cfg):
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or "unknown CPU"
    info["cores"] = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(l.split()[1] for l in f if l.startswith("MemTotal")))
        info["memory"] = "%.0f GiB" % (kib / 2**20)
    except (OSError, StopIteration):
        info["memory"] = "?"
    info["kernel"] = platform.system() + " " + platform.release()
    try:
        with open("/etc/debian_version") as f:
            info["os"] = "Debian " + f.read().strip()
    except OSError:
        info["os"] = platform.platform()
    out = subprocess.run([cfg.sqlite3, "--version"], capture_output=True, text=True).stdout.split()
    info["sqlite"] = out[0] if out else "?"
    # Which LAPACK the extension really loads (Debian switches it by alternatives).
    info["lapack"] = "?"
    con = sqlite3.connect(":memory:")
    con.enable_load_extension(True)
    con.load_extension(cfg.ext)
    with open("/proc/self/maps") as f:
        libs = {l.split()[-1] for l in f if "liblapack.so" in l}
    con.close()
    for lib in libs:
        real = os.path.realpath(lib)
        pkg = subprocess.run(["dpkg", "-S", real], capture_output=True, text=True).stdout.split(":")[0]
        ver = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True,
                             text=True).stdout if pkg else ""
        info["lapack"] = "%s %s (%s)" % (pkg or os.path.basename(os.path.dirname(real)), ver,
                                         os.path.basename(os.path.dirname(real)))
    info["python"] = platform.python_version()
    try:
        import pandas
        import sklearn
        info["pandas"], info["sklearn"] = pandas.__version__, sklearn.__version__
    except ImportError:
        info["pandas"] = info["sklearn"] = "missing"
    return info


# ---- the cases ----

class Bench:
    def __init__(self, cfg):
        self.cfg = cfg
        self.size = dict(SIZES["quick" if cfg.quick else "full"])
        if cfg.reps:
            self.size["reps"] = cfg.reps
        self.rows = []      # the main table's rows
        self.width = []     # the width table's rows
        self.failed = []
        self.skipped = []
        self.samples = {}   # case -> (sqlml samples, baseline samples)

    def verdict(self, met):
        """Small data say nothing about the goals: bench-quick only checks that cases run."""
        return "ran" if self.cfg.quick else "met" if met else "MISSED"

    def wanted(self, name):
        return not self.cfg.only or any(w.lower() in name.lower() for w in self.cfg.only)

    def setup_con(self, db):
        con = sqlite3.connect(db, isolation_level=None)
        con.enable_load_extension(True)
        con.load_extension(self.cfg.ext)
        return con

    def request_wal_db(self, db, fjson):
        """A WAL database of t's first 10k rows and bench_request trained on them."""
        path = os.path.join(self.cfg.out, "request-wal.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        con = self.setup_con(path)
        con.execute("PRAGMA journal_mode=wal")
        con.execute("ATTACH ? AS src", (db,))
        con.execute("CREATE TABLE t AS SELECT * FROM src.t WHERE id <= 10000")
        con.execute("DETACH src")
        con.execute("SELECT ml_train('bench_request', 't', 'y', ?, '{\"test_size\":0}')", (fjson,))
        con.close()
        return path

    def pair(self, name, a, b, goal=None, limit=None, note="", same=False, reps=None):
        """Measures sqlml run a against baseline b; goal is met when ratio <= limit.
        With same, both must print the same numbers; reps overrides the size's."""
        if not self.wanted(name):
            return None
        print("bench: %s ..." % name, flush=True)
        try:
            sa, sb = measure(a, b, reps or self.size["reps"], same)
        except CaseError as e:
            print("bench: FAILED %s: %s" % (name, e), flush=True)
            self.failed.append(name)
            self.rows.append(dict(case=name, error=str(e), goal=goal or ""))
            return None
        self.samples[name] = (sa, sb)
        ta, tb = med(sa), med(sb)
        ratio = ta / tb if tb > 0 else float("inf")
        ca, cb = med(sa, "cpu"), med(sb, "cpu")
        row = dict(case=name, a=ta, b=tb, ratio=ratio, cpu_ratio=ca / cb if cb > 0 else float("inf"),
                   rss_a=med(sa, "rss"), rss_b=med(sb, "rss"),
                   goal=goal or "", note=note, spread_a=(min(s.seconds for s in sa), max(s.seconds for s in sa)),
                   spread_b=(min(s.seconds for s in sb), max(s.seconds for s in sb)))
        if limit is not None:
            row["met"] = ratio <= limit
            row["result"] = "%s (%.2f)" % (self.verdict(row["met"]), ratio)
        self.rows.append(row)
        print("bench:   sqlml %s, baseline %s, ratio %.3f" % (fmt_time(ta), fmt_time(tb), ratio), flush=True)
        return row

    def run(self):
        cfg, z = self.cfg, self.size
        os.makedirs(cfg.out, exist_ok=True)
        n, big, groups, nw = z["rows"], z["big"], z["groups"], z["wide"]
        db = os.path.join(cfg.out, "data-%d.db" % n)
        dbig = os.path.join(cfg.out, "data-%d.db" % big)
        dwide = os.path.join(cfg.out, "wide-%d.db" % nw)
        if any(self.wanted(w) for w in ("fit floor", "memory")):
            generate(dbig, [("t", big, K, groups)])
        generate(db, [("t", n, K, groups)])
        if self.wanted("width"):
            generate(dwide, [("w%d" % p, nw, p, None) for p in WIDTHS])
        N, NB = fmt_rows(n), fmt_rows(big)
        fit = "SELECT length(ml_fit(y, %s)) FROM t" % feats(K)
        floor = floor_sql("t", K)
        fjson = json.dumps(["x%d" % j for j in range(1, K + 1)])

        # fit floor: ml_fit against a sum over the same values.
        self.pair("fit floor, %s rows" % N, shell(cfg, db, fit), shell(cfg, db, floor), "<= 1.15", 1.15)
        big_row = self.pair("fit floor, %s rows" % NB, shell(cfg, dbig, fit), shell(cfg, dbig, floor),
                            "<= 1.15", 1.15)

        # memory: what ml_fit holds beyond the scan, at the larger size.
        if big_row and self.wanted("memory"):
            d = big_row["rss_a"] - big_row["rss_b"]
            self.rows.append(dict(case="memory: ml_fit minus floor peak RSS, %s rows" % NB,
                                  rss_a=big_row["rss_a"], rss_b=big_row["rss_b"], goal="< 8 MiB",
                                  met=d < 8 * 2**20, result="%s (%+.2f MiB)" % (
                                      self.verdict(d < 8 * 2**20), d / 2**20)))

        # The seed pipeline against ml_train, which also splits, evaluates and stores.
        train = ("SELECT length(ml_train('bench_train', 't', 'y', '%s', '{\"test_size\":0.2,\"seed\":42}'))"
                 % fjson)
        train_refined = train.replace('\"seed\":42', '\"seed\":42,\"refine\":true')
        if any(self.wanted(w) for w in ("pipeline", "ml_train")):
            con = self.setup_con(db)
            self.drop(con, "bench_train")
            row = self.pair("seed pipeline (pandas + scikit-learn + joblib) vs ml_train, %s rows" % N,
                            shell(cfg, db, train), pipeline(cfg, db, "t", "y", json.loads(fjson)),
                            ">= 10x faster, >= 20x less memory")
            if row:
                speed, mem = 1 / row["ratio"], row["rss_b"] / row["rss_a"]
                row["met"] = speed >= 10 and mem >= 20
                row["result"] = "%s (%.1fx faster, %.1fx less memory)" % (
                    self.verdict(row["met"]), speed, mem)
                imp = statistics.median(s.extra["import_seconds"] for s in self.samples[row["case"]][1])
                row["note"] = "pipeline's imports (%s) not counted" % fmt_time(imp)
            self.pair("ml_train vs floor, %s rows" % N, shell(cfg, db, train), shell(cfg, db, floor),
                      "<= 1.5", 1.5)
            self.pair("ml_train, refinement forced, vs floor, %s rows" % N, shell(cfg, db, train_refined),
                      shell(cfg, db, floor), "report")
            self.drop(con, "bench_train")
            con.close()

        if self.wanted("incremental"):
            self.incremental_case(db, n, fjson)

        if self.wanted("glm"):
            self.glm_cases()

        if self.wanted("categorical"):
            self.categorical_cases()

        if self.wanted("threads"):
            generate(dbig, [("t", big, K, groups)])
            self.threads_case(dbig, big, fjson)

        # Predict by name, and from a BLOB literal, against the same sum written out.
        if self.wanted("predict"):
            con = self.setup_con(db)
            self.drop(con, "bench_predict")
            con.execute("SELECT ml_train('bench_predict', 't', 'y', ?, '{\"test_size\":0.2,\"seed\":42}')",
                        (fjson,))
            coef = json.loads(con.execute("SELECT ml_model_json('bench_predict')").fetchone()[0])["coefficients"]
            blob = con.execute("SELECT model FROM ml_model_versions WHERE name = 'bench_predict'").fetchone()[0]
            con.close()
            inline = " + ".join([repr(coef[0]["estimate"])] +
                                ["%r * x%d" % (c["estimate"], j) for j, c in enumerate(coef[1:], 1)])
            base = "SELECT sum(%s) FROM t" % inline
            self.pair("ml_predict by name vs inline arithmetic, %s rows" % N,
                      shell(cfg, db, "SELECT sum(ml_predict('bench_predict', %s)) FROM t" % feats(K)),
                      shell(cfg, db, base), "<= 0.9", 0.9, same=True)
            self.pair("ml_predict of a BLOB vs inline arithmetic, %s rows" % N,
                      shell(cfg, db, "SELECT sum(ml_predict(X'%s', %s)) FROM t" % (blob.hex(), feats(K))),
                      shell(cfg, db, base), "<= 0.9", 0.9, same=True)

        # One model per group against one sum per group.
        self.pair("per group: %s groups over %s rows" % (fmt_rows(groups), N),
                  shell(cfg, db, "SELECT count(*), sum(length(f)) FROM "
                                 "(SELECT g, ml_fit(y, x1, x2) AS f FROM t GROUP BY g)"),
                  shell(cfg, db, "SELECT count(*), sum(s) FROM (SELECT g, sum(y + x1 + x2) AS s FROM t GROUP BY g)"),
                  "<= 1.5", 1.5)

        # Small groups: the cost per group of ml_fit's state, BLOB and checksum.
        sg = z["small_groups"]
        self.pair("per group: %s groups over %s rows, p = 2" % (fmt_rows(sg), N),
                  shell(cfg, db, "SELECT count(*), sum(length(f)) FROM "
                                 "(SELECT ml_fit(y, x1, x2) AS f FROM t GROUP BY id %% %d)" % sg),
                  shell(cfg, db, "SELECT count(*), sum(s) FROM "
                                 "(SELECT sum(y + x1 + x2) AS s FROM t GROUP BY id %% %d)" % sg),
                  "<= 1.3", 1.3)

        # One prediction per statement (a service's request), by name against a bound BLOB.
        if any(self.wanted(w) for w in ("request", "first")):
            con = self.setup_con(db)
            self.drop(con, "bench_request")
            con.execute("SELECT ml_train('bench_request', 'SELECT * FROM t WHERE id <= 10000', 'y', ?, "
                        "'{\"test_size\":0}')", (fjson,))
            con.close()
            nreq, nopen = z["requests"], z["opens"]
            # The rollback-journal file, then a WAL one, where a commit's trace is in shared memory.
            for mode, path in (("", db), (", WAL", self.request_wal_db(db, fjson))):
                def loop(how, model="bench_request"):
                    return program(cfg, [cfg.predict_loop, path, cfg.ext, str(nreq), how, model, str(K)])
                if cfg.predict_loop:
                    self.pair("request%s: ml_predict by name vs a bound BLOB, one per statement, C, %s requests"
                              % (mode, fmt_rows(nreq)), loop("name"), loop("blob"), "<= 1.5", 1.5)
                if cfg.predict_loop and not mode:
                    # The fair floor of a statement that reads the file: its read transaction.
                    self.pair("request: ml_predict by name vs a one-row SELECT from a table of the same file "
                              "(the read transaction's floor), one per statement, C, %s requests"
                              % fmt_rows(nreq), loop("name"), loop("row", "t"), "report")
                self.pair("request%s: ml_predict by name vs a bound BLOB, one per statement, Python, %s requests"
                          % (mode, fmt_rows(nreq)), py_loop(cfg, path, nreq, "name", "bench_request", K),
                          py_loop(cfg, path, nreq, "blob", "bench_request", K), "<= 1.5", 1.5)
            if cfg.predict_loop:
                self.pair("first: first prediction by name after opening vs first query loading the schema, "
                          "%d opens" % nopen,
                          program(cfg, [cfg.predict_loop, db, cfg.ext, str(nopen), "first-predict",
                                        "bench_request", str(K)]),
                          program(cfg, [cfg.predict_loop, db, cfg.ext, str(nopen), "first-schema",
                                        "bench_request", str(K)]), "<= 1.2", 1.2)
            con = self.setup_con(db)
            self.drop(con, "bench_request")
            con.close()

        # Many models: one per group, by a name from a column or a BLOB from a join,
        # against a join to a table of their coefficients.
        if self.wanted("models"):
            nm, nr = z["models"], z["model_rows"]
            con = self.setup_con(db)
            for tbl in ("bench_models", "bench_coef"):
                con.execute("DROP TABLE IF EXISTS %s" % tbl)
            con.execute("DELETE FROM ml_model_versions WHERE name LIKE 'bench\\_m%' ESCAPE '\\'"
                        if con.execute("SELECT 1 FROM sqlite_schema WHERE name = 'ml_model_versions'").fetchone()
                        else "SELECT 1")
            con.execute("CREATE TABLE bench_models(mid INTEGER PRIMARY KEY, m BLOB)")
            con.execute("INSERT INTO bench_models SELECT g %% %d, ml_fit(y, x1, x2) FROM t GROUP BY g %% %d"
                        % (nm, nm))
            con.execute("CREATE TABLE bench_coef(mid INTEGER PRIMARY KEY, b0 REAL, b1 REAL, b2 REAL)")
            for mid, m in con.execute("SELECT mid, m FROM bench_models").fetchall():
                co = json.loads(con.execute("SELECT ml_model_json(?)", (m,)).fetchone()[0])["coefficients"]
                con.execute("INSERT INTO bench_coef VALUES (?, ?, ?, ?)", (mid,) + tuple(c["estimate"] for c in co))
            # Registry rows for the names: a trained version's row, with each model's BLOB.
            con.execute("SELECT ml_train('bench_m', 'SELECT * FROM t WHERE id <= 1000', 'y', "
                        "'[\"x1\",\"x2\"]', '{\"test_size\":0}')")
            cols = [r[1] for r in con.execute("PRAGMA table_info(ml_model_versions)")]
            con.execute("INSERT INTO ml_model_versions(%s) SELECT %s FROM ml_model_versions v, bench_models b "
                        "WHERE v.name = 'bench_m'" % (", ".join(cols), ", ".join(
                            "'bench_m' || b.mid" if c == "name" else "b.m" if c == "model" else "v." + c
                            for c in cols)))
            con.close()
            rows = "t.id <= %d" % nr
            base = shell(cfg, db, "SELECT sum(c.b0 + c.b1 * t.x1 + c.b2 * t.x2) FROM t JOIN bench_coef c "
                                  "ON c.mid = t.g %% %d WHERE %s" % (nm, rows))
            self.pair("models: ml_predict by a name per row, %d models, %s rows, vs a join to coefficients"
                      % (nm, fmt_rows(nr)),
                      shell(cfg, db, "SELECT sum(ml_predict('bench_m' || (t.g %% %d), t.x1, t.x2)) FROM t WHERE %s"
                            % (nm, rows)), base, "<= 1.5", 1.5, same=True)
            self.pair("models: ml_predict of a BLOB from a join, %d models, %s rows, vs a join to coefficients"
                      % (nm, fmt_rows(nr)),
                      shell(cfg, db, "SELECT sum(ml_predict(b.m, t.x1, t.x2)) FROM t JOIN bench_models b "
                                     "ON b.mid = t.g %% %d WHERE %s" % (nm, rows)), base, "<= 1.5", 1.5, same=True)
            con = self.setup_con(db)
            con.execute("DELETE FROM ml_model_versions WHERE name LIKE 'bench\\_m%' ESCAPE '\\'")
            con.execute("DROP TABLE bench_models")
            con.execute("DROP TABLE bench_coef")
            con.close()

        # ---- split: the ml_split virtual table against a scan of its source ----
        # The module is built on another branch.  Until it is in this tree the
        # case is skipped with a message; once pragma_module_list lists
        # ml_split, it measures.  Both sides read every column of the source.
        if self.wanted("split"):
            con = self.setup_con(db)
            has_split = con.execute("SELECT 1 FROM pragma_module_list WHERE name = 'ml_split'").fetchone()
            con.close()
            name = "split: scan of the ml_split vtab vs SELECT * FROM source, %s rows" % N
            cols = "count(*), sum(id), sum(g), sum(y + %s)" % " + ".join("x%d" % j for j in range(1, K + 1))
            if has_split:
                self.pair(name,
                          shell(cfg, db, "SELECT %s, count(split) FROM temp.bench_split" % cols,
                                setup="CREATE VIRTUAL TABLE temp.bench_split USING "
                                      "ml_split(t, test_size=0.2, seed=42);"),
                          shell(cfg, db, "SELECT %s, count(*) FROM t" % cols), "<= 1.3", 1.3)
            else:
                msg = "skipped: this build has no ml_split module (not in pragma_module_list)"
                print("bench: %s: %s" % (name, msg), flush=True)
                self.skipped.append(name)
                self.rows.append(dict(case=name, goal="<= 1.3", result=msg))

        # Width: fit time and GFLOP/s of the QR updates for p = 10, 50, 100.
        if self.wanted("width"):
            kernel = self.kernel(nw)
            for p in WIDTHS:
                row = self.pair("width: ml_fit, p = %d, %s rows" % (p, fmt_rows(nw)),
                                shell(cfg, dwide, "SELECT length(ml_fit(y, %s)) FROM w%d" % (feats(p), p)),
                                shell(cfg, dwide, floor_sql("w%d" % p, p)), "report")
                if row:
                    self.width.append(dict(p=p, how="ml_fit", fit=row["a"], scan=row["b"],
                                           kernel=kernel.get(p + 1)))
            p = WIDTHS[-1]
            con = self.setup_con(dwide)
            self.drop(con, "bench_wide")
            row = self.pair("width: ml_train, p = %d, %s rows" % (p, fmt_rows(nw)),
                            shell(cfg, dwide, "SELECT length(ml_train('bench_wide', 'w%d', 'y', '*', "
                                              "'{\"test_size\":0.2,\"seed\":42}'))" % p),
                            shell(cfg, dwide, floor_sql("w%d" % p, p)), "report")
            self.drop(con, "bench_wide")
            con.close()
            if row:
                self.width.append(dict(p=p, how="ml_train", fit=row["a"], scan=row["b"],
                                       kernel=kernel.get(p + 1)))
            # ml_train at its widest against ml_fit of the same table.
            pw = WIDE_TRAIN
            dw126 = os.path.join(cfg.out, "wide%d-%d.db" % (pw, nw))
            generate(dw126, [("w%d" % pw, nw, pw, None)])
            con = self.setup_con(dw126)
            self.drop(con, "bench_wide")
            self.pair("width: ml_train vs ml_fit, p = %d, %s rows" % (pw, fmt_rows(nw)),
                      shell(cfg, dw126, "SELECT length(ml_train('bench_wide', 'w%d', 'y', '*', "
                                        "'{\"test_size\":0.2,\"seed\":42}'))" % pw),
                      shell(cfg, dw126, "SELECT length(ml_fit(y, %s)) FROM w%d" % (feats(pw), pw)),
                      "<= 1.15", 1.15)
            self.drop(con, "bench_wide")
            con.close()
            fits = {w["p"]: w["fit"] for w in self.width if w["how"] == "ml_fit"}
            if WIDTHS[0] in fits and WIDTHS[-1] in fits:
                lo, hi = WIDTHS[0], WIDTHS[-1]
                growth, bound = fits[hi] / fits[lo], (hi / lo) ** 2
                self.rows.append(dict(case="width: ml_fit time, p = %d over p = %d" % (hi, lo),
                                      a=fits[hi], b=fits[lo], ratio=growth,
                                      goal="<= (p ratio)^2 = %g" % bound, met=growth <= bound,
                                      result="%s (%.2f)" % (self.verdict(growth <= bound), growth)))

    def glm_cases(self):
        """A binomial GLM of 1M rows x 10 features from the file: ml_train against
        (iterations) x (one scan of the same columns), then against statsmodels'
        GLM(Binomial) and scikit-learn's LogisticRegression(penalty=None), each
        timed with its read of the rows from the same file."""
        cfg, n = self.cfg, self.size["glm_rows"]
        db = os.path.join(cfg.out, "glm-%d.db" % n)
        generate_glm(db, n)
        fjson = json.dumps(["x%d" % j for j in range(1, K + 1)])
        train = ("SELECT json_extract(ml_train('bench_glm', 'b', 'y', '%s', '{\"family\":\"binomial\","
                 "\"test_size\":0}'), '$.iterations')" % fjson)
        con = self.setup_con(db)
        self.drop(con, "bench_glm")
        iters = con.execute(train).fetchone()[0]
        self.drop(con, "bench_glm")
        con.close()
        N = fmt_rows(n)
        scan = "(SELECT sum(y + %s) FROM b)" % " + ".join("x%d" % j for j in range(1, K + 1))
        note = "%d IRLS iterations, %d passes" % (iters, iters + 1)
        self.pair("glm: binomial ml_train vs %d x one scan (its iterations), %s rows x %d" % (iters, N, K),
                  shell(cfg, db, train), shell(cfg, db, "SELECT " + " + ".join([scan] * iters)),
                  "<= 1.3", 1.3, note=note)
        for how, label in (("statsmodels", "statsmodels GLM(Binomial)"),
                           ("sklearn", "scikit-learn LogisticRegression(penalty=None)")):
            base = program(cfg, [sys.executable, os.path.join(HERE, "glm_baseline.py"), db, "b", "y",
                                 fjson, how])
            # bench-quick: one timed run, as the imports (not timed) cost seconds
            row = self.pair("glm: binomial ml_train vs %s, read from the file, %s rows x %d"
                            % (label, N, K), shell(cfg, db, train), base, "< 1 (faster)", 1.0,
                            reps=1 if cfg.quick else None)
            if row:
                its = statistics.median(s.extra["iterations"] for s in self.samples[row["case"]][1])
                row["note"] = "%s; %s: %d iterations; imports not counted" % (note, how, its)

    def categorical_cases(self):
        """ml_train of one categorical feature of 100 and of 1000 levels against
        ml_train of one numeric feature, the same rows of one table (issue 17,
        goal 3).  Each run inside BEGIN, left open (the shell's exit rolls it
        back): the version's INSERT is timed, the registry does not grow."""
        cfg, n = self.cfg, self.size["cat_rows"]
        db = os.path.join(cfg.out, "cat-%d.db" % n)
        generate_cat(db, n)
        opts = '{"test_size":0.2,"seed":42}'
        base = shell(cfg, db, "SELECT length(ml_train('bench_cat', 'c', 'y', '[\"x1\"]', '%s'))" % opts,
                     setup="BEGIN;")
        for lv in (100, 1000):
            cat = shell(cfg, db, "SELECT length(ml_train('bench_cat', 'c', 'y', '[\"c%d\"]', '%s'))"
                        % (lv, opts), setup="BEGIN;")
            self.pair("categorical: ml_train, one feature of %d levels vs one numeric feature, %s rows"
                      % (lv, fmt_rows(n)), cat, base, "<= 2" if lv == 1000 else "report",
                      2.0 if lv == 1000 else None)
        # The same without the refinement pass that "auto" runs for the levels'
        # fit (its error bound) and not for the numeric one: the fit's own cost.
        plain = opts[:-1] + ',"refine":false}'
        cat = shell(cfg, db, "SELECT length(ml_train('bench_cat', 'c', 'y', '[\"c1000\"]', '%s'))" % plain,
                    setup="BEGIN;")
        self.pair("categorical: the same, 1000 levels, \"refine\": false, vs one numeric feature, %s rows"
                  % fmt_rows(n), cat, base, "report")
        # n / 2 levels (100,000 at 200k rows), two rows each: time and peak RSS.
        cat = shell(cfg, db, "SELECT length(ml_train('bench_cat', 'c', 'y', '[\"x1\",\"c100k\"]', '%s'))"
                    % opts.replace('}', ',"unseen":"zero"}'), setup="BEGIN;")
        self.pair("categorical: ml_train, one numeric feature and one of %s levels vs the numeric "
                  "feature alone, %s rows" % (fmt_rows(n // 2), fmt_rows(n)), cat, base, "report")

    def threads_case(self, db, n, fjson):
        """ml_train with "threads": 2 against the same call on one connection, the
        big table (issue 17, goal 5: wall time <= 0.6 on 2 cores).  Each run
        inside BEGIN, left open: the registry does not grow.  Refinement off on
        both sides: it is a second pass, on the caller's connection."""
        cfg = self.cfg
        call = ("SELECT length(ml_train('bench_threads', 't', 'y', '%s', "
                "'{\"test_size\":0.2,\"seed\":42,\"refine\":false%s}'))")
        cores = os.cpu_count()
        self.pair("ml_train, \"threads\": 2 vs one connection, %s rows (%d CPUs)" % (fmt_rows(n), cores),
                  shell(cfg, db, call % (fjson, ',\"threads\":2'), setup="BEGIN;"),
                  shell(cfg, db, call % (fjson, ""), setup="BEGIN;"), "<= 0.6", 0.6)
        # a binomial GLM: every IRLS pass on the readers
        ng = self.size["glm_rows"]
        gdb = os.path.join(cfg.out, "glm-%d.db" % ng)
        generate_glm(gdb, ng)
        glm = ("SELECT length(ml_train('bench_threads', 'b', 'y', '%s', "
               "'{\"family\":\"binomial\",\"test_size\":0%s}'))")
        self.pair("glm: binomial ml_train, \"threads\": 2 vs one connection, %s rows (%d CPUs)"
                  % (fmt_rows(ng), cores),
                  shell(cfg, gdb, glm % (fjson, ',\"threads\":2'), setup="BEGIN;"),
                  shell(cfg, gdb, glm % (fjson, ""), setup="BEGIN;"), "<= 0.6", 0.6)

    def kernel(self, n):
        """GFLOP/s of the QR updates alone (lsq_bench), keyed by lsq's p (features + intercept)."""
        if not self.cfg.lsq_bench:
            return {}
        out = subprocess.run([self.cfg.lsq_bench, str(n)] + [str(p + 1) for p in WIDTHS],
                             capture_output=True, text=True)
        if out.returncode:
            print("bench: lsq_bench failed: %s" % out.stderr.strip(), flush=True)
            self.failed.append("width: lsq_bench")
            return {}
        res = {}
        for line in out.stdout.splitlines():
            p, rows, sec, gf = line.split()
            res[int(p)] = (float(sec), float(gf))
        return res

    def incremental_case(self, db, n, fjson):
        """1% appended to n rows: ml_train with "incremental" (from the version before the
        append, so every run reads the same new rows) against a full retrain."""
        cfg, old = self.cfg, n - n // 100
        con = self.setup_con(db)
        for name in ("bench_inc", "bench_full"):
            self.drop(con, name)
        con.execute("DROP TABLE IF EXISTS grow")
        con.execute("CREATE TABLE grow AS SELECT * FROM t WHERE 0")
        con.execute("INSERT INTO grow SELECT * FROM t WHERE id <= ? ORDER BY id", (old,))
        opts = '{"test_size":0.2,"seed":42}'
        con.execute("SELECT ml_train('bench_inc', 'grow', 'y', ?, ?)", (fjson, opts))
        con.execute("INSERT INTO grow SELECT * FROM t WHERE id > ? ORDER BY id", (old,))
        inc = ("SELECT length(ml_train('bench_inc', 'grow', 'y', '%s', '{\"test_size\":0.2,\"seed\":42,"
               "\"incremental\":true,\"from\":\"bench_inc@1\"}'))" % fjson)
        full = "SELECT length(ml_train('bench_full', 'grow', 'y', '%s', '%s'))" % (fjson, opts)
        self.pair("incremental ml_train (1%% appended) vs full retrain, %s rows" % fmt_rows(n),
                  shell(cfg, db, inc), shell(cfg, db, full), "<= 0.05", 0.05)
        for name in ("bench_inc", "bench_full"):
            self.drop(con, name)
        con.execute("DROP TABLE grow")
        con.close()

    def drop(self, con, name):
        try:
            con.execute("SELECT ml_drop(?)", (name,))
        except sqlite3.Error:
            pass  # nothing to drop yet

    # ---- the report ----

    def markdown(self, info, elapsed):
        z, cfg = self.size, self.cfg
        lines = [
            "- Machine: %s, %s cores, %s RAM; %s; %s." % (info["cpu"], info["cores"], info["memory"],
                                                        info["os"], info["kernel"]),
            "- Software: SQLite %s; LAPACK %s; Python %s, pandas %s, scikit-learn %s." % (
                info["sqlite"], info["lapack"], info["python"], info["pandas"], info["sklearn"]),
            "- Run: `%s` on %s, %d timed runs of each side (alternating, after one untimed run), "
            "medians; %.0f s in all." % (cfg.command, datetime.datetime.now(datetime.timezone.utc)
                                         .strftime("%Y-%m-%d %H:%M UTC"), z["reps"], elapsed),
            "",
            "| case | sqlml | baseline | ratio | CPU ratio | sqlml peak RSS | baseline peak RSS | goal | result |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            if "error" in r:
                lines.append("| %s | | | | | | | %s | FAILED: %s |" % (r["case"], r["goal"],
                                                                    r["error"].replace("|", "/")[:200]))
                continue
            ratio = "%.2f" % r["ratio"] if "ratio" in r else ""
            cpu = "%.2f" % r["cpu_ratio"] if "cpu_ratio" in r else ""
            res = r.get("result") or ("" if r.get("goal") != "report" else "-")
            if r.get("note"):
                res = (res + "; " if res else "") + r["note"]
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["case"], fmt_time(r.get("a")), fmt_time(r.get("b")), ratio, cpu, fmt_mib(r.get("rss_a")),
                fmt_mib(r.get("rss_b")), r.get("goal", ""), res))
        if self.width:
            lines += [
                "",
                "Width, %s rows: cost against n p^2, and GFLOP/s of the QR updates (2 n m^2 flops, "
                "m = p + 2 columns of [1 X y]), over the whole fit and for lsq.c alone "
                "(bench/lsq_bench.c, no SQLite)." % fmt_rows(z["wide"]),
                "",
                "| p | via | fit | floor scan | fit / fit(p = %d) | (p / %d)^2 | GFLOP/s, whole fit | "
                "GFLOP/s, QR alone |" % (WIDTHS[0], WIDTHS[0]),
                "|---|---|---|---|---|---|---|---|",
            ]
            base = next((w["fit"] for w in self.width if w["p"] == WIDTHS[0]), None)
            for w in self.width:
                m = w["p"] + 2
                flops = 2.0 * z["wide"] * m * m
                lines.append("| %d | %s | %s | %s | %s | %g | %.2f | %s |" % (
                    w["p"], w["how"], fmt_time(w["fit"]), fmt_time(w["scan"]),
                    "%.2f" % (w["fit"] / base) if base else "", (w["p"] / WIDTHS[0]) ** 2,
                    flops / w["fit"] / 1e9, "%.2f" % w["kernel"][1] if w["kernel"] else ""))
        lines += [
            "",
            "Ratio: sqlml's median time over the baseline's (below 1: sqlml is faster); goals are "
            "judged on it.  CPU ratio: the same for user + system CPU time, which other processes "
            "on a busy machine disturb less.  Floor: "
            "`SELECT sum(y + x1 + ... + xk)` over the same table, the cost of reading the values.  "
            "ml_train cases train with a 0.2 test split (seed 42) and store a version; the pipeline "
            "reads the columns it needs with pandas.read_sql_query, splits (test_size=0.2), fits "
            "LinearRegression, scores the test rows and saves the model with joblib.",
        ]
        if cfg.quick:
            lines.append("Small data (bench-quick): this run checks that every case runs; goals are "
                         "judged by `make bench` only.")
        if self.skipped:
            lines.append("Skipped: " + "; ".join(self.skipped) + ".")
        if self.failed:
            lines.append("FAILED: " + "; ".join(self.failed) + ".")
        return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ext", required=True, help="the extension, e.g. dist/sqlml.so")
    ap.add_argument("--sqlite3", default="sqlite3")
    ap.add_argument("--out", required=True, help="folder for data and results")
    ap.add_argument("--lsq-bench", help="the lsq_bench program (GFLOP/s of the QR updates alone)")
    ap.add_argument("--predict-loop", help="the predict_loop program (one prediction per statement, from C)")
    ap.add_argument("--quick", action="store_true", help="small data: checks that every case runs")
    ap.add_argument("--reps", type=int, help="timed runs of each side")
    ap.add_argument("--only", action="append", help="run the cases whose name contains this")
    ap.add_argument("--command", default="make bench", help="the command named in the report")
    cfg = ap.parse_args()
    cfg.ext = os.path.abspath(cfg.ext)
    cfg.out = os.path.abspath(cfg.out)
    t0 = time.perf_counter()
    b = Bench(cfg)
    info = machine(cfg)
    b.run()
    md = b.markdown(info, time.perf_counter() - t0)
    name = "results-quick.md" if cfg.quick else "results.md"
    with open(os.path.join(cfg.out, name), "w") as f:
        f.write(md)
    with open(os.path.join(cfg.out, name.replace(".md", ".json")), "w") as f:
        json.dump(dict(machine=info, size=b.size, rows=b.rows, width=b.width, skipped=b.skipped,
                       failed=b.failed), f, indent=1, default=str)
    print()
    print(md)
    print("bench: wrote %s" % os.path.join(cfg.out, name))
    if b.failed:
        print("bench: %d case(s) failed to run: %s" % (len(b.failed), "; ".join(b.failed)))
        sys.exit(1)


if __name__ == "__main__":
    main()
