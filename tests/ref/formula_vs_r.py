"""formula.c against R: for formulas covering every element of the grammar,
over generated data with numeric and factor columns and NAs, the design
columns of R's model.matrix() (names byte for byte, every value to 1e-12
relative), the response, and which rows R's na.omit drops or where a
transform is undefined (log of 0: R gives -Inf).

  formula_vs_r.py --check build/ref/formula_check

R is Debian's r-base-core (Rscript); formula.R prints R's side,
formula_check (tests/ref/formula_check.c) formula.c's, after a round trip
through its serialized form.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile

from refcheck import rel

TOL = 1e-12
HERE = os.path.dirname(os.path.abspath(__file__))

FORMULAS = [
    "y ~ x",
    "y ~ x + z",
    "y ~ a:b",
    "y ~ x:f",
    "y ~ f*g",
    "y ~ (a+b+c)^2 - a:b",
    "y ~ 0 + f",
    "y ~ f - 1",
    "y ~ x + f + x:f",
    "y ~ f:x",
    "y ~ poly(x, 3, raw = TRUE) * f",
    'y ~ relevel(f, "c") + x',
    "y ~ log(x) + I(x^2) + I(1/x)",
    "log(y) ~ .",
    "y ~ . - id",
    "y ~ factor(n)",
    "y ~ f*g*h",
    "y ~ (a+b+c)^3",
    "y ~ a*b - a",
    "y ~ f:g",
    "y ~ 0 + f:g",
    "y ~ 0 + x + f",
    "y ~ 0 + x:f + g",
    "y ~ f + f:g",
    "y ~ g:f + f",
    "y ~ x*f*g",
    "y ~ log2(x) + log10(x) + log1p(z^2) + exp(a/10) + sqrt(x) + abs(z)",
    "y ~ log(x + 1) + sqrt(abs(z))",
    "y ~ I(-x) + I(x - -1) + I(2 * (x + 1)) + I(x/100000) + I(x*0.0001)",
    "y ~ I(x^-1) + I((a + b)^2) + I(x^0.5)",
    "sqrt(y) ~ x + f",
    "I(y/100) ~ x",
    "y ~ `my col` + x",
    "y ~ relevel(g, 'v') * x",
    'y ~ relevel(factor(n), "2") + x',
    "y ~ factor(n):f",
    "y ~ poly(x, 2, raw = TRUE)",
    "y ~ poly(z, degree = 3, raw = TRUE) + f",
    "y ~ poly(x, 1, raw = TRUE) + poly(log(x), 2, raw = TRUE)",
    "y ~ log(w)",
    "y ~ sqrt(w) + I(1/w)",
    "y ~ x + 1 - 1",
    "y ~ -1 + x + f",
    "y ~ 0 + f + g",
    "y ~ x + 0",
    "y ~ 0 + x + 1 + f",
    "y ~ 1",
    "y ~ (f + g + x)^2",
    "y ~ f*x - x",
    "y ~ f:x + g",
    "y ~ x + z + x:z + f:z",
    "log(y) ~ log(x) * f",
    "y ~ h + x:h + poly(x, 2, raw = TRUE):g",
    "y ~ a + b + c - b",
    "y ~ n + factor(n)",
    "y ~ (a + b) * (f + g)",
    "y ~ a:b:c + a",
    "~ x + f",
    "y ~ exp(-x) + I(-x^2)",
    "y ~ x + f + x:f - f",
    "y ~ f:g:h + f",
    "y ~ (.)^2 - . + x",
    "y ~ 0 + x + x:f",
    "y ~ 0 + x:f:g + f",
    "y ~ poly(x, 2, raw = TRUE):f + f",
    "y ~ relevel(f, 'b'):relevel(g, 'v')",
    "y ~ log(x):f + I(z^2):x",
    "y ~ x*z*a - x:z:a",
    "y ~ f*g - f - g",
    "abs(y - 10) ~ log1p(x) + f",
    "y ~ x:z:a + x:z:f",
    "y ~ f:g:x + h:f + g:h",
]


def make_data(dirname, seed=14):
    """40 rows: numbers (w with zeros and negatives), factors, NAs, an id."""
    rnd = random.Random(seed)
    names = ["y", "x", "z", "w", "a", "b", "c", "f", "g", "h", "n", "id", "my col"]
    types = ["num"] * 7 + ["cat"] * 3 + ["num", "num", "num"]
    rows = []
    for i in range(40):
        r = [round(rnd.uniform(0.5, 50), 3), round(rnd.uniform(0.1, 9), 4),
             round(rnd.gauss(0, 2), 3), rnd.choice([0, -1.5, 2.25, 3, 0.5]),
             round(rnd.uniform(-3, 3), 2), round(rnd.uniform(0, 5), 2), rnd.randint(-4, 4),
             "abc"[i % 3], "uv"[(i // 3) % 2], "pqrs"[rnd.randint(0, 3)],
             [1, 2, 3, 100000][rnd.randint(0, 3)], i + 1, round(rnd.uniform(0, 1), 3)]
        rows.append(r)
    for i, col in [(2, 1), (4, 7), (6, 11), (9, 0), (12, 8), (15, 10), (20, 12), (25, 4)]:
        rows[i][col] = None  # x, f, id, y, g, n, my col, a
    with open(os.path.join(dirname, "data.tsv"), "w") as fp:
        fp.write("\t".join(names) + "\n")
        for r in rows:
            fp.write("\t".join("NA" if v is None else str(v) for v in r) + "\n")
    with open(os.path.join(dirname, "types.tsv"), "w") as fp:
        fp.write("\t".join(types) + "\n")
    with open(os.path.join(dirname, "formulas.txt"), "w") as fp:
        fp.write("\n".join(FORMULAS) + "\n")


def cases(text):
    """{formula: ("error", msg) or (names, [row fields])} from either side's output."""
    out, cur, key = {}, None, None
    for line in text.splitlines():
        f = line.rstrip("\t ").split("\t")
        if f[0] == "case":
            key, cur = line[5:], [None, []]
        elif f[0] == "names":
            cur[0] = f[1:]
        elif f[0] == "row":
            cur[1].append(f[1:])
        elif f[0] == "error":
            cur[0] = ("error", line[6:])
        elif f[0] == "end":
            out[key] = cur
    return out


def num(s):
    return None if s == "NA" else float(s)


def compare_row(formula, i, r, c, failures):
    """r: R's complete, response, values; c: ours: status, response status, response, values."""
    complete, ry, rx = r[0] == "1", num(r[1]), [num(v) for v in r[2:]]
    st, sty, cy, cx = int(c[0]), int(c[1]), float(c[2]), [float(v) for v in c[3:]]
    if sty == 1:  # the response's column is NULL: training drops the row
        st = 1
    finite = all(v is not None and abs(v) != float("inf") for v in rx)
    want = 1 if not complete else 0 if finite else 2
    if st != want:
        failures.append("%s: row %d: status %d, R says %d (%s)" % (formula, i + 1, st, want, rx))
        return 0
    worst = 0.0
    for a, b in zip(cx, rx) if st == 0 else []:
        worst = max(worst, rel(a, b))
    if sty >= 0 and complete:
        yfinite = ry is not None and abs(ry) != float("inf")
        if (sty == 0) != yfinite:
            failures.append("%s: row %d: response status %d, R %s" % (formula, i + 1, sty, ry))
        elif sty == 0:
            worst = max(worst, rel(cy, ry))
    if worst > TOL:
        failures.append("%s: row %d: relative difference %.2e" % (formula, i + 1, worst))
    return len(cx) + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", required=True, help="the formula_check program")
    args = ap.parse_args()
    if not shutil.which("Rscript"):
        print("formula_vs_r: SKIPPED: Rscript not found (Debian r-base-core)")
        return 0
    tmp = tempfile.mkdtemp(prefix="formula_vs_r.")
    try:
        make_data(tmp)
        files = [os.path.join(tmp, n) for n in ("data.tsv", "types.tsv", "formulas.txt")]
        r_out = subprocess.run(["Rscript", os.path.join(HERE, "formula.R")] + files, check=True,
                               capture_output=True, text=True, env=dict(os.environ, LANG="C")).stdout
        c_out = subprocess.run([args.check] + files, check=True, capture_output=True,
                               text=True).stdout
    finally:
        shutil.rmtree(tmp)
    want, got = cases(r_out), cases(c_out)
    failures, compared = [], 0
    for formula in FORMULAS:
        r, c = want.get(formula), got.get(formula)
        if r is None or c is None or r[0] is None or c[0] is None:
            failures.append("%s: no output (R %r, ours %r)" % (formula, r, c))
            continue
        if isinstance(r[0], tuple) or isinstance(c[0], tuple):
            failures.append("%s: R: %s; ours: %s" % (formula, r[0], c[0]))
            continue
        if r[0] != c[0]:
            failures.append("%s: names %s, R %s" % (formula, c[0], r[0]))
            continue
        for i, (rr, cr) in enumerate(zip(r[1], c[1])):
            compared += compare_row(formula, i, rr, cr, failures)
        print("formula_vs_r: %-55s %2d columns as R's" % (formula, len(r[0])))
    for f in failures:
        print("formula_vs_r: FAIL " + f)
    print("formula_vs_r: %d formulas, %d values compared with R, %s" %
          (len(FORMULAS), compared, "FAILED" if failures else "all within %g" % TOL))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
