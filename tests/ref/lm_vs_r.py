#!/usr/bin/python3
"""ml_fit against R's lm() and summary.lm(), to 1e-8 relative.

Generates data sets with a fixed seed (numeric, without intercept, with an
aliased column, with NULLs, tiny, wide), fits each with sqlml and with R, and
compares estimates, standard errors, t statistics, p-values, sigma, R^2,
adjusted R^2, F and its p-value, log-likelihood, AIC, BIC and predictions.
R is a test-time reference only: without Rscript the test says SKIPPED.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from refcheck import rel, connect

TOL = 1e-8


def datasets():
    r = random.Random(20261126)

    def gen(n, k, coefs, noise, null_rate=0.0, extra=None):
        rows = []
        for _ in range(n):
            x = [r.uniform(-5, 5) * (j + 1) for j in range(k)]
            if extra:
                x = extra(x)
            y = coefs[0] + sum(c * v for c, v in zip(coefs[1:], x)) + r.gauss(0, noise)
            row = [y] + x
            if null_rate:
                row = [None if r.random() < null_rate else v for v in row]
            rows.append(row)
        return rows
    yield "basic", True, gen(200, 3, [1, 2, -1, 0.5], 1.0)
    yield "no_intercept", False, gen(50, 2, [0, 3, -2], 0.5)
    yield "aliased", True, gen(100, 2, [1, 1, 1], 0.3, extra=lambda x: x + [x[0] + x[1]])
    yield "nulls", True, gen(150, 3, [-2, 0.1, 0.2, 0.3], 2.0, null_rate=0.05)
    yield "tiny", True, gen(5, 2, [1, 1, 1], 0.1)
    yield "wide", True, gen(300, 20, [0.5] + [0.1 * j for j in range(20)], 1.0)
    yield "weak", True, gen(80, 2, [10, 1e-4, -1e-4], 3.0)


def r_values(rscript, here, tmp, name, intercept, rows):
    path = os.path.join(tmp, name + ".csv")
    with open(path, "w") as f:
        f.write(",".join(["y"] + ["x%d" % (j + 1) for j in range(len(rows[0]) - 1)]) + "\n")
        for row in rows:
            f.write(",".join("NA" if v is None else repr(v) for v in row) + "\n")
    out = subprocess.run([rscript, os.path.join(here, "lm.R"), path, "1" if intercept else "0"],
                         capture_output=True, text=True, check=True).stdout
    coef, stat, pred = {}, {}, []
    for line in out.splitlines():
        f = line.split()
        val = [None if v == "NA" else float(v) for v in f[2:]]
        if f[0] == "coef":
            coef[int(f[1]) - 1] = val
        elif f[0] == "stat":
            stat[f[1]] = val[0]
        else:
            pred.append(val[0])
    return coef, stat, pred


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", required=True)
    args = ap.parse_args()
    rscript = shutil.which("Rscript")
    if not rscript:
        print("lm_vs_r: SKIPPED: Rscript not found (Debian r-base-core)")
        return 0
    here = os.path.dirname(os.path.abspath(__file__))
    con = connect(args.ext)
    failures, compared = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, intercept, rows in datasets():
            k = len(rows[0]) - 1
            cols = ", ".join("x%d" % (j + 1) for j in range(k))
            con.execute("DROP TABLE IF EXISTS d")
            con.execute("CREATE TABLE d(y REAL, %s)" % cols)
            con.executemany("INSERT INTO d VALUES (%s)" % ",".join("?" * (k + 1)), rows)
            call = "ml_fit(y, %s)" % cols if intercept else \
                "ml_fit_opts('{\"intercept\":false}', y, %s)" % cols
            blob = con.execute("SELECT %s FROM d" % call).fetchone()[0]
            js = json.loads(con.execute("SELECT ml_model_json(?)", (blob,)).fetchone()[0])
            complete = [r for r in rows if None not in r][:3]
            preds = [con.execute("SELECT ml_predict(?, %s)" % ",".join("?" * k), [blob] + r[1:])
                     .fetchone()[0] for r in complete]
            coef, stat, rpred = r_values(rscript, here, tmp, name, intercept, rows)
            worst = 0.0
            for i, c in enumerate(js["coefficients"]):
                mine = [c["estimate"], c["std_error"], c["t_stat"], c["p_value"]]
                for what, a, b in zip(("estimate", "std_error", "t_stat", "p_value"), mine, coef[i]):
                    e = rel(a, b)
                    compared += 1
                    worst = max(worst, e)
                    if e > TOL:
                        failures.append("%s: %s %s: sqlml %r, R %r" % (name, c["term"], what, a, b))
            for key, b in stat.items():
                a = js[key]
                e = rel(a, b)
                compared += 1
                worst = max(worst, e)
                if e > TOL:
                    failures.append("%s: %s: sqlml %r, R %r" % (name, key, a, b))
            for a, b in zip(preds, rpred):
                e = rel(a, b)
                compared += 1
                worst = max(worst, e)
                if e > TOL:
                    failures.append("%s: prediction: sqlml %r, R %r" % (name, a, b))
            print("lm_vs_r: %-13s n=%-4d k=%-2d largest relative difference %.1e" %
                  (name, len(rows), k, worst))
    for f in failures:
        print("lm_vs_r: FAIL " + f)
    print("lm_vs_r: %d values compared with R, %s" %
          (compared, "FAILED" if failures else "all within %g" % TOL))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
