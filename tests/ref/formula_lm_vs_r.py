"""ml_train with a formula against R's lm() and glm() (issue 14): over
generated data with numeric and factor columns and NAs, for formulas that
cover every element of the grammar, names(coef) must equal ml_weights'
terms, and the estimates, standard errors, R^2 (the deviance for glm) and
predict(..., interval = "prediction") of new rows (ml_predict_interval, the
raw columns in the model's order) must agree to 1e-8 relative.  The data
are loaded twice: with declared types, and as all-TEXT CSV through the
sqlite3 shell's .import --csv (then na_values "NA").

  formula_lm_vs_r.py --ext dist/sqlml.so [--sqlite3 sqlite3]

R is Debian's r-base-core (Rscript), running formula_lm.R.
"""
import argparse
import json
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile

from refcheck import rel

TOL = 1e-8
HERE = os.path.dirname(os.path.abspath(__file__))

# (kind, formula): kind lm, lm_w (weights w) or binomial.
CASES = [
    ("lm", "y ~ x"),
    ("lm", "y ~ x + z"),
    ("lm", "y ~ x * f"),
    ("lm", "y ~ f * g"),
    ("lm", "y ~ f:g"),
    ("lm", "y ~ x:f"),
    ("lm", "y ~ x + z + x:z"),
    ("lm", "y ~ (x + z + f)^2"),
    ("lm", "y ~ (x + z + f)^2 - x:z"),
    ("lm", "y ~ . - id - w - yb"),
    ("lm", "y ~ 0 + x + f"),
    ("lm", "y ~ x - 1"),
    ("lm", "y ~ 0 + f:g"),
    ("lm", "y ~ x + I(x^2) + I(1/x)"),
    ("lm", "log(y) ~ log(x) + f"),
    ("lm", "sqrt(y) ~ sqrt(x) + exp(z/10) + abs(z)"),
    ("lm", "y ~ log2(x) + log10(z^2 + 1) + log1p(x)"),
    ("lm", "y ~ factor(n) + x"),
    ("lm", "y ~ factor(n):f"),
    ("lm", 'y ~ relevel(f, "b") + x'),
    ("lm", 'y ~ relevel(f, "c") * g'),
    ("lm", "y ~ poly(x, 2, raw = TRUE)"),
    ("lm", "y ~ poly(x, 3, raw = TRUE) + f"),
    ("lm", "y ~ f + g + h"),
    ("lm", "y ~ x * f * g"),
    ("lm", "log(y) ~ x + log1p(z^2) + h"),
    ("lm", "I(y/100) ~ x + f"),
    ("lm", "y ~ n + factor(n)"),
    ("lm_w", "y ~ x + f"),
    ("lm_w", "log(y) ~ x * f + I(z^2)"),
    ("binomial", "yb ~ x + f"),
    ("binomial", "yb ~ log(x) + f:g"),
]

NAMES = ["y", "x", "z", "w", "f", "g", "h", "n", "id", "yb"]
TYPES = ["num", "num", "num", "num", "cat", "cat", "cat", "num", "num", "num"]
DECL = ["REAL", "REAL", "REAL", "REAL", "TEXT", "TEXT", "TEXT", "INTEGER", "INTEGER", "INTEGER"]


def make_rows(seed=1414):
    rnd = random.Random(seed)
    rows = []
    for i in range(90):
        x, z = round(rnd.uniform(0.5, 9), 4), round(rnd.gauss(0, 2), 3)
        f, g, h, n = "abc"[rnd.randint(0, 2)], "uv"[rnd.randint(0, 1)], "pqrs"[rnd.randint(0, 3)], rnd.randint(1, 3)
        y = round(20 + 2 * x - 0.3 * x * x / 4 + z + (f == "b") * 3 + (g == "v") * (f == "c") * 2 + n +
                  rnd.gauss(0, 1.5), 4)
        rows.append([y, x, z, round(rnd.uniform(0.5, 2), 3), f, g, h, n, i + 1,
                     1 if y + rnd.gauss(0, 3) > 30 else 0])
    for i, col in [(3, 1), (8, 4), (13, 0), (21, 7), (30, 2), (44, 5)]:
        rows[i][col] = None  # x, f, y, n, z, g
    return rows


def write_tsv(path, rows, header=True):
    with open(path, "w") as fp:
        if header:
            fp.write("\t".join(NAMES) + "\n")
        for r in rows:
            fp.write("\t".join("NA" if v is None else str(v) for v in r) + "\n")


def r_side(tmp, rows, new):
    write_tsv(os.path.join(tmp, "data.tsv"), rows)
    write_tsv(os.path.join(tmp, "new.tsv"), new)
    with open(os.path.join(tmp, "types.tsv"), "w") as fp:
        fp.write("\t".join(TYPES) + "\n")
    with open(os.path.join(tmp, "cases.txt"), "w") as fp:
        fp.write("\n".join("%s\t%s" % c for c in CASES) + "\n")
    files = [os.path.join(tmp, n) for n in ("data.tsv", "types.tsv", "cases.txt", "new.tsv")]
    out = subprocess.run(["Rscript", os.path.join(HERE, "formula_lm.R")] + files, check=True,
                         capture_output=True, text=True, env=dict(os.environ, LANG="C")).stdout
    res, cur, key = {}, None, None
    for line in out.splitlines():
        f = line.rstrip("\t").split("\t")
        if f[0] == "case":
            key, cur = line[5:], {"pred": []}
        elif f[0] == "names":
            cur["names"] = f[1:]
        elif f[0] in ("coef", "se"):
            cur[f[0]] = [None if v == "NA" else float(v) for v in f[1:]]
        elif f[0] == "stat":
            cur["stat"] = float(f[1])
        elif f[0] == "pred":
            cur["pred"].append([None if v == "NA" else float(v) for v in f[1:]])
        elif f[0] == "end":
            res[key] = cur
    return res


def load_typed(con, rows, new):
    cols = ", ".join('"%s" %s' % (n, t) for n, t in zip(NAMES, DECL))
    for table, data in (("d", rows), ("nd", new)):
        con.execute("CREATE TABLE %s(%s)" % (table, cols))
        con.executemany("INSERT INTO %s VALUES (%s)" % (table, ",".join("?" * len(NAMES))), data)


def load_csv(sqlite3_shell, path, rows):
    """The same rows as all-TEXT columns, through the shell's .import --csv."""
    csv = path + ".csv"
    with open(csv, "w") as fp:
        fp.write(",".join(NAMES) + "\n")
        for r in rows:
            fp.write(",".join("NA" if v is None else str(v) for v in r) + "\n")
    subprocess.run([sqlite3_shell, path], input=".import --csv %s dc\n" % csv, check=True,
                   text=True, capture_output=True)


class Run:
    def __init__(self):
        self.failures, self.compared = [], 0

    def close(self, what, got, want):
        self.compared += 1
        if (got is None) != (want is None) or (want is not None and rel(got, want) > TOL):
            self.failures.append("%s: %r, R %r" % (what, got, want))


def ours(con, source, i, kind, formula, opts):
    name = "m%s%d" % (source, i)
    o = {"test_size": 0}
    o.update(opts)
    if kind == "lm_w":
        o["weights"] = "w"
    if kind == "binomial":
        o["family"] = "binomial"
    con.execute("SELECT ml_train(?, ?, ?, NULL, ?)", (name, source, formula, json.dumps(o))).fetchall()
    w = con.execute("SELECT term, estimate, std_error FROM ml_weights(?)", (name,)).fetchall()
    js = json.loads(con.execute("SELECT ml_model_json(?)", (name,)).fetchone()[0])
    feats = [f["name"] for f in js["features"]]
    args = "".join(', "%s"' % f for f in feats)
    if kind == "binomial":
        pred = [[r[0]] for r in con.execute("SELECT ml_predict(?%s) FROM nd ORDER BY id" % args, (name,))]
        stat = js.get("deviance")
    else:
        pred = []
        for (j,) in con.execute("SELECT ml_predict_interval(?, 0.95%s) FROM nd ORDER BY id" % args, (name,)):
            p = json.loads(j) if j else None
            pred.append([p["fit"], p["pred_low"], p["pred_high"]] if p else [None, None, None])
        stat = js.get("r2")
    return w, stat, pred


def compare(run, source, i, kind, formula, want, got):
    w, stat, pred = got
    what = "%s %s %s" % (source, kind, formula)
    names = [t for t, _, _ in w]
    if names != want["names"]:
        run.failures.append("%s: terms %s, R %s" % (what, names, want["names"]))
        return
    for (t, b, se), rb, rse in zip(w, want["coef"], want["se"]):
        run.close("%s: %s estimate" % (what, t), b, rb)
        run.close("%s: %s std_error" % (what, t), se, rse)
    run.close("%s: %s" % (what, "deviance" if kind == "binomial" else "r2"), stat, want["stat"])
    for k, (p, rp) in enumerate(zip(pred, want["pred"])):
        for a, b in zip(p, rp):
            run.close("%s: prediction of new row %d" % (what, k + 1), a, b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", required=True)
    ap.add_argument("--sqlite3", default="sqlite3")
    a = ap.parse_args()
    if not shutil.which("Rscript"):
        print("formula_lm_vs_r: SKIPPED: Rscript not found (Debian r-base-core)")
        return 0
    rows = make_rows()
    new = [r for r in make_rows(seed=77)[:12] if r[0] is not None]
    tmp = tempfile.mkdtemp(prefix="formula_lm_vs_r.")
    try:
        want = r_side(tmp, rows, new)
        db = os.path.join(tmp, "d.db")
        load_csv(a.sqlite3, db, rows)
        con = sqlite3.connect(db)
        con.enable_load_extension(True)
        con.load_extension(os.path.abspath(a.ext))
        load_typed(con, rows, new)
        run = Run()
        for source, opts in (("d", {}), ("dc", {"na_values": ["NA"]})):
            for i, (kind, formula) in enumerate(CASES):
                r = want.get("%s\t%s" % (kind, formula))
                try:
                    got = ours(con, source, i, kind, formula, opts)
                except sqlite3.Error as e:
                    run.failures.append("%s %s: %s" % (source, formula, e))
                    continue
                before = len(run.failures)
                compare(run, source, i, kind, formula, r, got)
                if source == "d":
                    print("formula_lm_vs_r: %-8s %-45s %s" % (kind, formula,
                          "as R" if len(run.failures) == before else "DIFFERS"))
        con.close()
    finally:
        shutil.rmtree(tmp)
    for f in run.failures:
        print("formula_lm_vs_r: FAIL " + f)
    print("formula_lm_vs_r: %d cases x 2 loads, %d values compared with R, %s" %
          (len(CASES), run.compared, "FAILED" if run.failures else "all within %g" % TOL))
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
