#!/usr/bin/python3
"""NIST StRD linear regression accuracy test.

Fits all 11 NIST StRD datasets with ml_fit, then refines the fit with one
ml_refine pass, and scores each against NIST's certified values (computed in
500-digit arithmetic) by the log relative error (LRE): the number of correct
significant digits, capped at 15.  The refined fit must reach LRE 7 on every
coefficient and 6 on every standard error, the residual standard deviation
and R-squared; where the certified value is 0 (Wampler1/2 fit exactly) the
computed value must be below 1e-9.  Prints a table of the LREs.

Where python3-mpmath is installed, a last column scores the refined
coefficients against the exact least-squares solution of the data as
rounded to doubles (50-digit arithmetic): the accuracy of the algorithm
itself, apart from what rounding the data costs.

The data is read from the NIST folder (default ../shared/data/nist-strd,
or $NIST_DIR); it is not part of this repository.  Predictor powers x^k are
rounded once from the exact decimal data, so the only error is ours.
"""
import argparse
import json
import math
import os
import re
import sqlite3
import sys
from fractions import Fraction

DATASETS = ["Norris", "Pontius", "NoInt1", "NoInt2", "Filip", "Longley",
            "Wampler1", "Wampler2", "Wampler3", "Wampler4", "Wampler5"]


def parse(path):
    lines = open(path).read().splitlines()
    cert = {"b": [], "sd": []}
    for line in lines[:60]:
        m = re.match(r"\s*B(\d+)\s+(\S+)\s+(\S+)", line)
        if m:
            cert["b"].append(float(m.group(2)))
            cert["sd"].append(float(m.group(3)))
        m = re.match(r"\s*Standard Deviation\s+(\S+)", line)
        if m:
            cert["sigma"] = float(m.group(1))
        m = re.match(r"\s*R-Squared\s+(\S+)", line)
        if m:
            cert["r2"] = float(m.group(1))
    rows = [l.split() for l in lines[60:] if l.strip()]
    return cert, rows


def lre(est, cert):
    if est is None or not math.isfinite(est):
        return 0.0
    if cert == 0:
        return 15.0 if est == 0 else max(0.0, min(15.0, -math.log10(abs(est))))
    if est == cert:
        return 15.0
    return max(0.0, min(15.0, -math.log10(abs(est - cert) / abs(cert))))


def design(name, cert, rows):
    """Predictor columns as exact fractions rounded once, and the intercept flag."""
    p = len(cert["b"])
    intercept = not name.startswith("NoInt")
    if name == "Longley":
        xs = [[float(v) for v in r[1:]] for r in rows]
    else:
        deg = p - 1 if intercept else p
        xs = [[float(Fraction(r[1]) ** k) for k in range(1, deg + 1)] for r in rows]
    ys = [float(r[0]) for r in rows]
    return ys, xs, intercept


def exact_solution(ys, xs, intercept):
    """Least squares of the double data in 50-digit arithmetic, or None."""
    try:
        import mpmath as mp
    except ImportError:
        return None
    mp.mp.dps = 50
    A = mp.matrix([([1] if intercept else []) + [mp.mpf(v) for v in x] for x in xs])
    y = mp.matrix([mp.mpf(v) for v in ys])
    return [float(v) for v in mp.lu_solve(A.T * A, A.T * y)]


def fit(con, name, cert, rows):
    ys, xs, intercept = design(name, cert, rows)
    k = len(xs[0])
    cols = ", ".join("x%d" % (j + 1) for j in range(k))
    con.execute("DROP TABLE IF EXISTS d")
    con.execute("CREATE TABLE d(y REAL, %s)" % ", ".join("x%d REAL" % (j + 1) for j in range(k)))
    con.executemany("INSERT INTO d VALUES (%s)" % ", ".join("?" * (k + 1)),
                    [[y] + x for y, x in zip(ys, xs)])
    if intercept:
        call = "ml_fit(y, %s)" % cols
    else:
        call = "ml_fit_opts('{\"intercept\":false}', y, %s)" % cols
    one = con.execute("SELECT %s FROM d" % call).fetchone()[0]
    refined = con.execute("SELECT ml_refine(?, y, %s) FROM d" % cols, (one,)).fetchone()[0]
    return [json.loads(con.execute("SELECT ml_model_json(?)", (b,)).fetchone()[0])
            for b in (one, refined)], exact_solution(ys, xs, intercept)


def score(name, cert, js):
    coefs = js["coefficients"]
    b = [lre(c["estimate"], v) for c, v in zip(coefs, cert["b"])]
    exact = name in ("Wampler1", "Wampler2")
    if exact:
        # Certified SDs are 0: the digits-of-zero score is -log10|value|.
        sd_ok = all(abs(c["std_error"]) < 1e-9 for c in coefs) and abs(js["sigma"]) < 1e-9
    sd = [lre(c["std_error"], v) for c, v in zip(coefs, cert["sd"])]
    return {
        "b": min(b), "sd": min(sd), "sigma": lre(js["sigma"], cert["sigma"]),
        "r2": lre(js["r2"], cert["r2"]), "exact": exact,
        "sd_ok": sd_ok if exact else None,
        "max_sd": max([abs(c["std_error"]) for c in coefs] + [abs(js["sigma"])]),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", required=True)
    ap.add_argument("--data", default=os.environ.get("NIST_DIR", os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data", "nist-strd")))
    args = ap.parse_args()
    if not os.path.isdir(args.data):
        print("nist: SKIPPED: NIST StRD data not found at %s (set NIST_DIR)" % args.data)
        return 0
    con = sqlite3.connect(":memory:")
    con.enable_load_extension(True)
    con.load_extension(os.path.abspath(args.ext))
    failures = []
    print("NIST StRD: minimum LRE (correct digits) over the coefficients (b) and their")
    print("standard errors (sd), and LRE of the residual SD (sigma) and R-squared.")
    print("%-9s | one pass: %5s %5s %5s %5s | refined: %5s %5s %5s %5s | b vs exact" %
          ("dataset", "b", "sd", "sigma", "r2", "b", "sd", "sigma", "r2"))
    for name in DATASETS:
        cert, rows = parse(os.path.join(args.data, name + ".dat"))
        fits, exact = fit(con, name, cert, rows)
        one, ref = (score(name, cert, js) for js in fits)
        vs_exact = "%10s" % "-" if exact is None else "%10.1f" % min(
            lre(c["estimate"], e) for c, e in zip(fits[1]["coefficients"], exact))

        def cells(s):
            if s["exact"]:
                return "%5.1f %5s %5s %5.1f" % (s["b"], "<1e-9" if s["sd_ok"] else "FAIL",
                                                 "(0)", s["r2"])
            return "%5.1f %5.1f %5.1f %5.1f" % (s["b"], s["sd"], s["sigma"], s["r2"])
        print("%-9s | %s | %s | %s" % (name, " " * 10 + cells(one), " " * 9 + cells(ref), vs_exact))
        if ref["b"] < 7:
            failures.append("%s: coefficient LRE %.1f < 7" % (name, ref["b"]))
        if ref["exact"]:
            if not ref["sd_ok"]:
                failures.append("%s: an SD is %.3g, not below 1e-9" % (name, ref["max_sd"]))
        elif min(ref["sd"], ref["sigma"]) < 6:
            failures.append("%s: SD LRE %.1f < 6" % (name, min(ref["sd"], ref["sigma"])))
        if ref["r2"] < 6:
            failures.append("%s: R-squared LRE %.1f < 6" % (name, ref["r2"]))
    for f in failures:
        print("nist: FAIL " + f)
    print("nist: %s" % ("FAILED" if failures else "all 11 datasets meet the bar"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
