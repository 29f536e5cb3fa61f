#!/usr/bin/python3
"""ml_train's options against R (lm, confint, predict, sandwich::vcovHC)
and ridge against scikit-learn, to 1e-8 relative.

Data sets are generated with a fixed seed: categorical columns (levels in
byte order, as R's sort(method = "radix")), weights (some zero), NULLs
skipped and imputed (a categorical NULL as its own level, R's addNA), no
intercept (the first factor fully coded, as R does), each HC type, and
confidence and prediction intervals at level 0.9.  Each is fitted by
ml_train (test_size 0, so both see the same rows) and, where it applies,
by ml_fit_opts; compared are estimates, standard errors, t, p, coefficient
intervals, sigma, R^2, adjusted R^2, F and its p, log-likelihood, AIC, BIC
and interval predictions.  R and scikit-learn are references at test time
only: without them this test says SKIPPED.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

from lm_vs_r import connect, rel

TOL = 1e-8
LEVELS = ["b", "a", "c", "Zed", "\u00e9t\u00e9"]


def dataset(name, r):
    """(columns, rows, ml_train options, R spec, ml_fit_opts call or None)."""
    rows = []
    n = 240
    for i in range(n):
        x = r.uniform(-3, 3)
        z = r.uniform(0, 10)
        city = LEVELS[i % len(LEVELS)] if name != "imbalanced" else LEVELS[min(i % 7, 4)]
        effect = {"a": 0, "b": 1.5, "c": -2, "Zed": 0.7, "\u00e9t\u00e9": 3}[city]
        noise = r.gauss(0, 1) * (1 + (abs(x) if name.startswith("hc") else 0))
        y = 1 + 2 * x - 0.3 * z + effect + noise
        w = r.choice([0, 0.5, 1, 2, 3.5]) if name == "weights" else None
        row = {"y": y, "x": x, "z": z, "city": city, "w": w}
        if name in ("nulls_skip", "nulls_mean") and i % 11 == 3:
            row["x"] = None
        if name in ("nulls_skip", "nulls_mean") and i % 13 == 5:
            row["city"] = None
        rows.append(row)
    cols = ["y", "x", "z", "city"] + (["w"] if name == "weights" else [])
    spec = {"categorical": ["factor=city"], "no_intercept": ["noint", "factor=city"],
            "weights": ["weights=w", "factor=city"], "nulls_skip": ["factor=city"],
            "nulls_mean": ["impute=x", "nafactor=city"], "hc0": ["hc=HC0"], "hc1": ["hc=HC1"],
            "hc2": ["hc=HC2"], "hc3": ["hc=HC3"], "imbalanced": ["factor=city"]}[name]
    opts = {"test_size": 0}
    if name == "no_intercept":
        opts["intercept"] = False
    if name == "weights":
        opts["weights"] = "w"
    if name == "nulls_mean":
        opts["nulls"] = "mean"
    if name.startswith("hc"):
        opts["robust"] = name.upper()
        cols = ["y", "x", "z"]
    return cols, rows, opts, spec


def write_csv(path, cols, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(cols) + "\n")
        for row in rows:
            f.write(",".join("NA" if row[c] is None else
                             ('"%s"' % row[c] if isinstance(row[c], str) else repr(row[c]))
                             for c in cols) + "\n")


def r_values(rscript, here, csv, spec):
    out = subprocess.run([rscript, os.path.join(here, "options.R"), csv, ",".join(spec)],
                         capture_output=True, text=True, check=True).stdout
    res = {"coef": {}, "stat": {}, "pred": {}}
    for line in out.splitlines():
        f = line.split()
        vals = [None if v == "NA" else float(v) for v in f[2:]]
        res[f[0]][f[1] if f[0] == "stat" else int(f[1]) - 1] = vals if f[0] != "stat" else vals[0]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", required=True)
    args = ap.parse_args()
    rscript = shutil.which("Rscript")
    if not rscript or subprocess.run([rscript, "-e", "library(sandwich)"], capture_output=True).returncode:
        print("options_vs_r: SKIPPED: Rscript with the sandwich package not found "
              "(Debian r-base-core, r-cran-sandwich)")
        return 0
    here = os.path.dirname(os.path.abspath(__file__))
    con = connect(args.ext)
    failures, compared = [], 0
    r = random.Random(5)
    new_rows = [{"x": 0.5, "z": 2.0, "city": "a"}, {"x": -2.0, "z": 7.5, "city": "Zed"},
                {"x": 2.5, "z": 0.1, "city": "\u00e9t\u00e9"}]

    def compare(what, a, b):
        nonlocal compared
        compared += 1
        e = rel(a, b)
        if e > TOL:
            failures.append("%s: sqlml %r, R %r" % (what, a, b))
        return e

    with tempfile.TemporaryDirectory() as tmp:
        for name in ["categorical", "no_intercept", "weights", "nulls_skip", "nulls_mean",
                     "hc0", "hc1", "hc2", "hc3", "imbalanced"]:
            cols, rows, opts, spec = dataset(name, r)
            csv = os.path.join(tmp, name + ".csv")
            write_csv(csv, cols, rows)
            feats = [c for c in cols if c not in ("y", "w")]
            newcsv = os.path.join(tmp, name + "_new.csv")
            write_csv(newcsv, feats, new_rows)
            ref = r_values(rscript, here, csv, spec + ["level=0.9", "new=" + newcsv])
            con.execute("DROP TABLE IF EXISTS d")
            con.execute("CREATE TABLE d(y REAL, x REAL, z REAL, city TEXT, w REAL)")
            con.executemany("INSERT INTO d VALUES (?,?,?,?,?)",
                            [(row["y"], row["x"], row["z"], row["city"], row["w"]) for row in rows])
            con.execute("SELECT ml_train(?, 'd', 'y', ?, ?)",
                        (name, json.dumps(feats), json.dumps(opts))).fetchone()
            worst = 0.0
            weights = con.execute("SELECT term, estimate, std_error, t_stat, p_value, conf_low, "
                                  "conf_high FROM ml_weights(?, 0.9)", (name,)).fetchall()
            if len(weights) != len(ref["coef"]):
                failures.append("%s: %d terms, R has %d" % (name, len(weights), len(ref["coef"])))
                continue
            for i, row in enumerate(weights):
                for k, (a, b) in enumerate(zip(row[1:], ref["coef"][i])):
                    worst = max(worst, compare("%s %s %s" % (name, row[0], ["estimate", "std_error",
                            "t_stat", "p_value", "conf_low", "conf_high"][k]), a, b))
            js = json.loads(con.execute("SELECT ml_model_json(?, 0.9)", (name,)).fetchone()[0])
            for key, b in ref["stat"].items():
                worst = max(worst, compare("%s %s" % (name, key), js[key], b))
            feat_args = ", ".join("?" * len(feats))
            for i, nr in enumerate(new_rows):
                iv = json.loads(con.execute("SELECT ml_predict_interval(?, 0.9, %s)" % feat_args,
                                            [name] + [nr[c] for c in feats]).fetchone()[0])
                mine = [iv["fit"], iv["conf_low"], iv["conf_high"], iv["pred_low"], iv["pred_high"]]
                for k, (a, b) in enumerate(zip(mine, ref["pred"][i])):
                    worst = max(worst, compare("%s interval %d %d" % (name, i, k), a, b))
            print("options_vs_r: %-12s %2d terms, largest relative difference %.1e" %
                  (name, len(weights), worst))
        # The aggregate form: ml_fit_opts with weights and with mean imputation, against
        # the ml_train fits above (which R has just checked).
        cols, rows, opts, spec = dataset("weights", random.Random(11))
        write_csv(os.path.join(tmp, "w.csv"), ["y", "x", "z", "w"], rows)
        ref = r_values(rscript, here, os.path.join(tmp, "w.csv"), ["weights=w"])
        con.execute("DROP TABLE IF EXISTS d")
        con.execute("CREATE TABLE d(y REAL, x REAL, z REAL, w REAL)")
        con.executemany("INSERT INTO d VALUES (?,?,?,?)", [(o["y"], o["x"], o["z"], o["w"]) for o in rows])
        blob = con.execute("SELECT ml_fit_opts('{\"weights\":true}', w, y, x, z) FROM d").fetchone()[0]
        got = con.execute("SELECT estimate, std_error FROM ml_weights(?)", (blob,)).fetchall()
        worst = 0.0
        for i, (est, se) in enumerate(got):
            worst = max(worst, compare("ml_fit_opts weights %d estimate" % i, est, ref["coef"][i][0]),
                        compare("ml_fit_opts weights %d std_error" % i, se, ref["coef"][i][1]))
        js = json.loads(con.execute("SELECT ml_model_json(?)", (blob,)).fetchone()[0])
        worst = max(worst, compare("ml_fit_opts weights aic", js["aic"], ref["stat"]["aic"]))
        print("options_vs_r: %-12s largest relative difference %.1e" % ("ml_fit_opts", worst))
        # Robust errors through ml_fit_opts + ml_refine.
        cols, rows, opts, spec = dataset("hc3", random.Random(12))
        write_csv(os.path.join(tmp, "h.csv"), cols, rows)
        ref = r_values(rscript, here, os.path.join(tmp, "h.csv"), ["hc=HC3"])
        con.execute("DELETE FROM d")
        con.executemany("INSERT INTO d VALUES (?,?,?,NULL)", [(o["y"], o["x"], o["z"]) for o in rows])
        blob = con.execute("SELECT ml_fit_opts('{\"robust\":\"HC3\"}', y, x, z) FROM d").fetchone()[0]
        blob = con.execute("SELECT ml_refine(?, y, x, z) FROM d", (blob,)).fetchone()[0]
        got = con.execute("SELECT std_error, p_value FROM ml_weights(?)", (blob,)).fetchall()
        worst = 0.0
        for i, (se, pv) in enumerate(got):
            worst = max(worst, compare("ml_refine HC3 %d std_error" % i, se, ref["coef"][i][1]),
                        compare("ml_refine HC3 %d p_value" % i, pv, ref["coef"][i][3]))
        print("options_vs_r: %-12s largest relative difference %.1e" % ("ml_refine HC3", worst))

    # Ridge against scikit-learn's Ridge on StandardScaler'd columns.
    try:
        import numpy as np
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        print("options_vs_r: ridge SKIPPED (Debian python3-sklearn)")
        np = None
    if np is not None:
        rr = random.Random(21)
        X = [[rr.uniform(0, 100), rr.gauss(5, 2), rr.uniform(-1, 1)] for _ in range(300)]
        y = [3 + 0.02 * a - 1.5 * b + 4 * c + rr.gauss(0, 1) for a, b, c in X]
        con.execute("CREATE TABLE rd(y REAL, a REAL, b REAL, c REAL)")
        con.executemany("INSERT INTO rd VALUES (?,?,?,?)", [[t] + x for t, x in zip(y, X)])
        worst = 0.0
        for lam in (0.1, 10.0, 1000.0):
            con.execute("SELECT ml_train(?, 'rd', 'y', '[\"a\",\"b\",\"c\"]', ?)",
                        ("ridge%g" % lam, json.dumps({"test_size": 0, "l2": lam}))).fetchone()
            got = [e for (e,) in con.execute("SELECT estimate FROM ml_weights(?)", ("ridge%g" % lam,))]
            sc = StandardScaler().fit(np.array(X))
            m = Ridge(alpha=lam, solver="cholesky", tol=1e-14).fit(sc.transform(np.array(X)), np.array(y))
            coef = m.coef_ / sc.scale_
            icpt = m.intercept_ - float(np.dot(coef, sc.mean_))
            for i, (a, b) in enumerate(zip(got, [icpt] + list(coef))):
                worst = max(worst, compare("ridge %g coefficient %d (scikit-learn)" % (lam, i), a, b))
        print("options_vs_r: %-12s largest relative difference %.1e" % ("ridge", worst))
    for f in failures:
        print("options_vs_r: FAIL " + f)
    print("options_vs_r: %d values compared, %s" % (compared, "FAILED" if failures else "all within %g" % TOL))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
