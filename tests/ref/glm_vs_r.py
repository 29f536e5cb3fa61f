#!/usr/bin/python3
"""ml_train's binomial and poisson families against R's glm(), to 1e-8 relative.

Generates data sets with a fixed seed (a factor, NULLs, prior weights, an
offset, proportions with weights as trials, no intercept, an aliased column,
a test split, a target of two text levels), trains each with ml_train and fits it with R (on the training
rows), and compares estimates, standard errors, z values, p-values, Wald
intervals, deviance, null deviance, their df, AIC, and predictions with the
link-scale standard error; iterations must be within one of R's.  Each
fit is made again from a query source that counts the rows it reads: the
same numbers to the bit, in iterations + 1 passes (with --wrong-guesses,
for the build of `make glm-guess` whose every guess of the last pass is
wrong: more passes, the same numbers).  The
metrics of the test rows (the summary's and ml_evaluate's) are checked
against scikit-learn's log_loss, accuracy_score, brier_score_loss,
roc_auc_score and mean_poisson_deviance.  Then the speed figure: a binomial fit of 200,000
rows x 5 features, its CPU time against one scan of the same rows (printed,
not asserted).  R is a test-time reference only: without Rscript, SKIPPED.
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
import time
from refcheck import rel, connect

TOL = 1e-8


def poisson_draw(r, lam):
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= r.random()
        if p < limit:
            return k
        k += 1


def datasets():
    """(name, family, features, factors, intercept, weights, offset, test_size, rows)."""
    r = random.Random(20261129)

    def base(n, null_rate=0.0):
        rows = []
        for i in range(n):
            x1, x2 = r.gauss(0, 1), r.uniform(-2, 2)
            g = r.choice("abc")
            rows.append({"id": i + 1, "x1": None if r.random() < null_rate else x1, "x2": x2,
                         "g": g, "w": r.choice([1, 2, 3, 4]), "off": r.uniform(-0.5, 0.5),
                         "expo": r.uniform(0.5, 3), "lx": x1, "gl": {"a": 0, "b": 0.5, "c": -0.4}[g]})
        return rows

    def binary(rows, shift=0.0):
        for d in rows:
            eta = 0.2 + 0.9 * d["lx"] - 0.6 * d["x2"] + d["gl"] + shift * d["off"]
            d["y"] = 1 if r.random() < 1 / (1 + math.exp(-eta)) else 0
        return rows

    def counts(rows):
        for d in rows:
            d["lexpo"] = math.log(d["expo"])
            d["y"] = poisson_draw(r, math.exp(0.3 + 0.4 * d["lx"] - 0.2 * d["x2"] + d["gl"] + d["lexpo"]))
        return rows

    yield "binom_factor_nulls", "binomial", ["x1", "x2", "g"], ["g"], True, None, None, 0, \
        binary(base(400, 0.03))
    yield "binom_weights_offset", "binomial", ["x1", "x2", "g"], ["g"], True, "w", "off", 0, \
        binary(base(300), 1.0)
    rows = base(250)
    for d in rows:
        p = 1 / (1 + math.exp(-(0.4 * d["lx"] - 0.3 + d["gl"])))
        d["y"] = sum(r.random() < p for _ in range(d["w"])) / d["w"]
    yield "binom_proportions", "binomial", ["x1", "g"], ["g"], True, "w", None, 0, rows
    rows = binary(base(200))
    for d in rows:
        d["x3"] = d["x1"] + 2 * d["x2"]
    yield "binom_aliased", "binomial", ["x1", "x2", "x3"], [], True, None, None, 0, rows
    rows = binary(base(300))
    for d in rows:
        d["y"] = "yes" if d["y"] else "no"
    yield "binom_text_levels", "binomial", ["x1", "x2", "g"], ["g"], True, "w", None, 0, rows
    yield "binom_split", "binomial", ["x1", "x2", "g"], ["g"], True, None, None, 0.3, binary(base(500))
    yield "pois_factor_nulls", "poisson", ["x1", "x2", "g"], ["g"], True, None, None, 0, \
        counts(base(400, 0.03))
    yield "pois_weights_offset", "poisson", ["x1", "x2", "g"], ["g"], True, "w", "lexpo", 0, \
        counts(base(300))
    yield "pois_no_intercept", "poisson", ["x1", "g"], ["g"], False, None, "lexpo", 0, counts(base(200))
    yield "pois_split", "poisson", ["x1", "x2"], [], True, None, "lexpo", 0.25, counts(base(500))


# Data sets on which R's glm halves a step, as (name, family, formula, maxit,
# features, rows of (y, off, features...)); see step_cases.
STEP_CASES = []

COLS = ["id", "y", "x1", "x2", "x3", "g", "w", "off", "expo", "lexpo"]


def run_r(rscript, here, tmp, name, family, feats, factors, intercept, weights, offset, rows, train):
    path = os.path.join(tmp, name + ".csv")
    with open(path, "w") as f:
        f.write(",".join(COLS + ["train"]) + "\n")
        for d in rows:
            vals = [d.get(c) for c in COLS] + [1 if d["id"] in train else 0]
            f.write(",".join("NA" if v is None else v if isinstance(v, str) else repr(v)
                             for v in vals) + "\n")
    out = subprocess.run([rscript, os.path.join(here, "glm.R"), path, family, ",".join(feats),
                          ",".join(factors) or "-", "1" if intercept else "0", weights or "-",
                          offset or "-"], capture_output=True, text=True, check=True).stdout
    coef, stat, ci, pred = {}, {}, {}, []
    for line in out.splitlines():
        f = line.split()
        val = [None if v == "NA" else float(v) for v in f[2:]]
        if f[0] == "coef":
            coef[int(f[1]) - 1] = val
        elif f[0] == "stat":
            stat[f[1]] = val[0]
        elif f[0] == "ci":
            ci[int(f[1]) - 1] = val
        else:
            pred.append((int(f[1]), val))
    return coef, stat, ci, pred


def sklearn_metrics(family, ys, ps):
    from sklearn import metrics
    if family == "binomial":
        return {"log_loss": metrics.log_loss(ys, ps, labels=[0, 1]),
                "accuracy": metrics.accuracy_score(ys, [1 if p > 0.5 else 0 for p in ps]),
                "brier": metrics.brier_score_loss(ys, ps),
                "auc": metrics.roc_auc_score(ys, ps)}
    return {"mean_deviance": metrics.mean_poisson_deviance(ys, ps)}


def step_cases(con, rscript, here, tmp, cmp, failures):
    """Divergence, against R: at iteration 1 R's glm stops ("no valid set of
    coefficients has been found"), and so must ml_train; later, R halves the
    step toward the coefficients before it (warning "step size truncated due
    to divergence"), and ml_train must land on the same fit."""
    cases = [("pois_overflow_at_1", "poisson", "y ~ x + offset(off)", 25, ["x"],
              [(5.0 + i % 3, 0.0, i % 2) for i in range(10)] + [(0.0, 800.0, 0)])]
    for name, family, formula, maxit, feats, rows in cases + STEP_CASES:
        path = os.path.join(tmp, name + ".csv")
        with open(path, "w") as f:
            f.write(",".join(["y", "off"] + feats) + "\n")
            for r in rows:
                f.write(",".join(repr(float(v)) for v in r) + "\n")
        out = subprocess.run([rscript, os.path.join(here, "glm_step.R"), path, family, formula,
                              str(maxit)], capture_output=True, text=True, check=True).stdout
        r_err = [l[6:].strip() for l in out.splitlines() if l.startswith("error ")]
        r_warn = [l[8:].strip() for l in out.splitlines() if l.startswith("warning ")]
        con.execute("DROP TABLE IF EXISTS h")
        con.execute("CREATE TABLE h(%s)" % ", ".join(["y", "off"] + feats))
        con.executemany("INSERT INTO h VALUES (%s)" % ",".join("?" * (2 + len(feats))), rows)
        opts = {"family": family, "test_size": 0, "offset": "off", "max_iter": maxit}
        try:
            s = json.loads(con.execute("SELECT ml_train(?, 'h', 'y', ?, ?)", (
                name, json.dumps(feats), json.dumps(opts))).fetchone()[0])
            err = None
        except sqlite3.Error as e:
            s, err = None, str(e)
        if r_err:
            ok = err is not None and "no valid set of coefficients has been found" in err and \
                "no valid set of coefficients has been found" in r_err[0]
            if not ok:
                failures.append("%s: R stops with %r; sqlml %r" % (name, r_err, err or s))
            print("glm_vs_r: %-21s R: %s; sqlml: %s" % (name, r_err[0], err))
            continue
        if err:
            failures.append("%s: sqlml failed: %s" % (name, err))
            continue
        coef = [float(l.split()[1]) for l in out.splitlines() if l.startswith("coef ")]
        stat = {l.split()[1]: float(l.split()[2]) for l in out.splitlines() if l.startswith("stat ")}
        js = json.loads(con.execute("SELECT ml_model_json(?)", (name,)).fetchone()[0])
        worst = max([cmp(name, "estimate %d" % i, c["estimate"], b)
                     for i, (c, b) in enumerate(zip(js["coefficients"], coef))] +
                    [cmp(name, "deviance", s["deviance"], stat["deviance"])])
        halved = any("step size truncated due to divergence" in w for w in s.get("warnings", []))
        if s["iterations"] != stat["iterations"] or not halved or \
                "step size truncated due to divergence" not in r_warn:
            failures.append("%s: iterations %d, R %d; halving warned: sqlml %r, R %r" % (
                name, s["iterations"], stat["iterations"], halved, r_warn))
        print("glm_vs_r: %-21s step halved (R too), iterations %d (R %d), largest relative "
              "difference %.1e" % (name, s["iterations"], stat["iterations"], worst))


def same_fit_counted(con, name, feats, opts, s, js, wrong, extra):
    """The fit of table d again from 'SELECT * FROM d WHERE tick()', which
    counts the rows each pass reads: every number equal to the bit, and
    iterations + 1 passes (docs/glm.md); more with wrong guesses.  Returns
    a failure or None; adds the passes beyond iterations + 1 to extra."""
    reads = [0]

    def tick():
        reads[0] += 1
        return 1
    con.create_function("tick", 0, tick)
    n = con.execute("SELECT count(*) FROM d").fetchone()[0]
    q = json.loads(con.execute("SELECT ml_train(?, 'SELECT * FROM d WHERE tick()', 'y', ?, ?)", (
        name + "_q", json.dumps(feats), json.dumps(dict(opts, key="id")))).fetchone()[0])
    qjs = json.loads(con.execute("SELECT ml_model_json(?)", (name + "_q",)).fetchone()[0])
    for key in ("iterations", "deviance", "null_deviance", "aic", "metrics"):
        if q[key] != s[key]:
            return "%s from a query: %s %r, from the table %r" % (name, key, q[key], s[key])
    if [c["estimate"] for c in qjs["coefficients"]] != [c["estimate"] for c in js["coefficients"]] or \
            [c["std_error"] for c in qjs["coefficients"]] != [c["std_error"] for c in js["coefficients"]]:
        return "%s from a query: coefficients differ from the table's" % name
    # Less than a pass: the plan's look at the first row; a text target's
    # levels are one query of their own (docs/glm.md).
    passes = reads[0] // n - (1 if s.get("target_levels") else 0)
    extra[0] += passes - (s["iterations"] + 1)
    if passes != s["iterations"] + 1 and not (wrong and passes > s["iterations"] + 1):
        return "%s: %g passes for %d iterations, not iterations + 1" % (name, passes, s["iterations"])
    return None


def speed(con):
    """CPU seconds of a 200k x 5 binomial fit against one scan of its rows."""
    r = random.Random(7)
    con.execute("CREATE TABLE big(y INTEGER, a REAL, b REAL, c REAL, d REAL, e REAL)")
    rows = []
    for _ in range(200000):
        x = [r.gauss(0, 1) for _ in range(5)]
        eta = 0.1 + 0.5 * x[0] - 0.4 * x[1] + 0.3 * x[2] - 0.2 * x[3] + 0.1 * x[4]
        rows.append([1 if r.random() < 1 / (1 + math.exp(-eta)) else 0] + x)
    con.executemany("INSERT INTO big VALUES (?,?,?,?,?,?)", rows)
    con.execute("SELECT count(*) FROM big").fetchone()
    t0 = time.process_time()
    con.execute("SELECT sum(y), sum(a), sum(b), sum(c), sum(d), sum(e) FROM big").fetchone()
    scan = time.process_time() - t0
    t0 = time.process_time()
    s = json.loads(con.execute("SELECT ml_train('big', 'big', 'y', '[\"a\",\"b\",\"c\",\"d\",\"e\"]', "
                               "'{\"family\":\"binomial\",\"test_size\":0}')").fetchone()[0])
    fit = time.process_time() - t0
    t0 = time.process_time()
    con.execute("SELECT ml_train('big_lm', 'big', 'y', '[\"a\",\"b\",\"c\",\"d\",\"e\"]', "
                "'{\"test_size\":0}')").fetchone()
    linear = time.process_time() - t0
    passes = s["iterations"] + 1
    print("glm_vs_r: speed: binomial 200000 x 5: %d iterations, %d passes (a numeric target: no "
          "query for text levels); fit %.2f s CPU, one scan (sum of the 6 columns) %.3f s CPU: "
          "%.1f scans, %.1f per pass, %.2f per iteration; the linear fit of the same rows (one "
          "pass) %.2f s CPU, the GLM %.1f times it"
          % (s["iterations"], passes, fit, scan, fit / scan, fit / scan / passes,
             fit / scan / s["iterations"], linear, fit / linear))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", required=True)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--wrong-guesses", action="store_true",
                    help="the extension guesses the last pass wrong (make glm-guess)")
    args = ap.parse_args()
    rscript = shutil.which("Rscript")
    if not rscript:
        print("glm_vs_r: SKIPPED: Rscript not found (Debian r-base-core)")
        return 0
    here = os.path.dirname(os.path.abspath(__file__))
    con = connect(args.ext)
    failures, compared, extra = [], 0, [0]

    def cmp(name, what, a, b, tol=TOL):
        nonlocal compared
        e = rel(a, b)
        compared += 1
        if e > tol:
            failures.append("%s: %s: sqlml %r, R %r" % (name, what, a, b))
        return e

    with tempfile.TemporaryDirectory() as tmp:
        for name, family, feats, factors, ic, weights, offset, test_size, rows in datasets():
            con.execute("DROP TABLE IF EXISTS d")
            con.execute("CREATE TABLE d(id INTEGER PRIMARY KEY, y REAL, x1 REAL, x2 REAL, x3 REAL, "
                        "g TEXT, w REAL, off REAL, expo REAL, lexpo REAL)")
            con.executemany("INSERT INTO d VALUES (%s)" % ",".join("?" * len(COLS)),
                            [[d.get(c) for c in COLS] for d in rows])
            opts = {"family": family, "test_size": test_size, "seed": 42, "intercept": ic}
            if weights:
                opts["weights"] = weights
            if offset:
                opts["offset"] = offset
            s = json.loads(con.execute("SELECT ml_train(?, 'd', 'y', ?, ?)",
                                       (name, json.dumps(feats), json.dumps(opts))).fetchone()[0])
            js = json.loads(con.execute("SELECT ml_model_json(?)", (name,)).fetchone()[0])
            wt = con.execute("SELECT estimate, std_error, t_stat, p_value, conf_low, conf_high "
                             "FROM ml_weights(?)", (name,)).fetchall()
            test = {i for (i,) in con.execute(
                "SELECT id FROM d WHERE ml_split_of(id, ?, 42) = 'test'", (test_size,))} \
                if test_size else set()
            train = {d["id"] for d in rows} - test
            coef, stat, ci, pred = run_r(rscript, here, tmp, name, family, feats, factors, ic,
                                         weights, offset, rows, train)
            worst = 0.0
            for i, c in enumerate(js["coefficients"]):
                for what, a, b in zip(("estimate", "std_error", "z_value", "p_value"),
                                      [c["estimate"], c["std_error"], c["z_value"], c["p_value"]],
                                      coef[i]):
                    worst = max(worst, cmp(name, "%s %s" % (c["term"], what), a, b))
                for what, a, b in zip(("conf_low", "conf_high"), [c["conf_low"], c["conf_high"]],
                                      ci[i]):
                    worst = max(worst, cmp(name, "%s %s" % (c["term"], what), a, b))
                for what, a, b in zip(("ml_weights estimate", "std_error", "t_stat (z)", "p_value",
                                       "conf_low", "conf_high"), wt[i], coef[i] + ci[i]):
                    worst = max(worst, cmp(name, "%s %s" % (c["term"], what), a, b))
            for key in ("deviance", "null_deviance", "df_null", "df_resid", "aic"):
                worst = max(worst, cmp(name, key, js[key], stat[key]))
                worst = max(worst, cmp(name, "summary " + key, s[key], stat[key]))
            compared += 1
            if abs(s["iterations"] - stat["iterations"]) > 1 or not s["converged"]:
                failures.append("%s: iterations %d (converged %r), R %d" % (
                    name, s["iterations"], s["converged"], stat["iterations"]))
            byid = {d["id"]: d for d in rows}
            feat_sql = ", ".join(feats + ([offset] if offset else []))
            for i, (mu, eta, se) in pred:
                got = con.execute("SELECT ml_predict(?, %s), ml_predict_interval(?, 0.95, %s) FROM d "
                                  "WHERE id = ?" % (feat_sql, feat_sql), (name, name, i)).fetchone()
                iv = json.loads(got[1])
                worst = max(worst, cmp(name, "prediction %d" % i, got[0], mu))
                worst = max(worst, cmp(name, "interval fit %d" % i, iv["fit"], mu))
                worst = max(worst, cmp(name, "link %d" % i, iv["link"], eta))
                worst = max(worst, cmp(name, "se_link %d" % i, iv["se_link"], se))
                inv = (lambda v: 1 / (1 + math.exp(-v))) if family == "binomial" else math.exp
                worst = max(worst, cmp(name, "conf_low %d" % i, iv["conf_low"], inv(eta - 1.959963984540054 * se)))
            if test:
                # The test rows, measured with the final coefficients.
                sel = "SELECT y, ml_predict(?, %s) FROM d WHERE id IN (%s) AND %s" % (
                    feat_sql, ",".join(map(str, sorted(test))),
                    " AND ".join("%s IS NOT NULL" % c for c in feats))
                ys, ps = zip(*con.execute(sel, (name,)).fetchall())
                want = sklearn_metrics(family, ys, ps)
                ev = json.loads(con.execute(
                    "SELECT ml_evaluate(?, 'SELECT * FROM d WHERE ml_split_of(id, %r, 42) = ''test''')"
                    % test_size, (name,)).fetchone()[0])
                for key, b in want.items():
                    worst = max(worst, cmp(name, "test " + key, s["metrics"]["test"][key], b))
                    worst = max(worst, cmp(name, "ml_evaluate " + key, ev[key], b))
                if s["metrics"]["test"]["n"] != len(ys):
                    failures.append("%s: test n %d, rows %d" % (name, s["metrics"]["test"]["n"], len(ys)))
            bad = same_fit_counted(con, name, feats, opts, s, js, args.wrong_guesses, extra)
            if bad:
                failures.append(bad)
            print("glm_vs_r: %-21s n=%-4d terms=%-2d iterations %d (R %d) largest relative "
                  "difference %.1e" % (name, js["n"], len(js["coefficients"]), s["iterations"],
                                       stat["iterations"], worst))
        step_cases(con, rscript, here, tmp, cmp, failures)
    if not args.no_speed:
        speed(con)
    print("glm_vs_r: passes beyond iterations + 1: %g%s" % (
        extra[0], " (every guess of the last pass wrong)" if args.wrong_guesses else ""))
    if args.wrong_guesses and extra[0] == 0:
        failures.append("--wrong-guesses, yet no fit took more than iterations + 1 passes")
    for f in failures:
        print("glm_vs_r: FAIL " + f)
    print("glm_vs_r: %d values compared with R and scikit-learn, %s" %
          (compared, "FAILED" if failures else "all within %g" % TOL))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
