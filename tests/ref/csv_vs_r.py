#!/usr/bin/python3
"""Real CSV files in, R's model out, to 1e-8 relative.

R writes its own data sets to CSV (mtcars with its car names, airquality with
its NAs, ToothGrowth, iris, warpbreaks, and stackloss with an ID column,
numbers padded with spaces and a missing value); the real sqlite3 shell loads
each with `.import --csv` into a new table, where every column is TEXT and
R's NA is the text 'NA'; sqlml trains on that table as it is, and R fits
lm(formula, data = read.csv(...)), with factor() where a numeric column is
listed categorical.  Compared: the coefficients by name (R's 'factor(cyl)6'
is sqlml's 'cyl=6', R's 'suppVC' is 'supp=VC'), aliased ones included, the
number of rows used, R^2, and the prediction of every row of the CSV read
back from the TEXT table by ml_predict (NA where R's predict gives NA).
R runs with LC_ALL=C, so that it sorts text levels by bytes, as sqlml does.
R is a test-time reference only: without Rscript the test says SKIPPED.
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from refcheck import rel

TOL = 1e-8

# R code writing each data set as a CSV file named <name>.csv in the folder
# given as its argument, as a user would get it (write.csv: text quoted, NA).
WRITE = r"""
dir <- commandArgs(TRUE)[1]
out <- function(d, name) write.csv(d, file.path(dir, paste0(name, ".csv")), row.names = FALSE)
out(cbind(model = rownames(mtcars), mtcars), "mtcars")
out(airquality, "airquality")
out(ToothGrowth, "toothgrowth")
out(iris, "iris")
out(warpbreaks, "warpbreaks")
s <- stackloss
s$id <- sprintf("run-%02d", seq_len(nrow(s)))
s$Air.Flow <- sprintf(" %d ", s$Air.Flow)
s$Acid.Conc. <- as.character(s$Acid.Conc.)
s$Acid.Conc.[5] <- NA
s$Flow.x2 <- 2 * stackloss$Air.Flow
out(s[, c("id", "stack.loss", "Air.Flow", "Water.Temp", "Acid.Conc.", "Flow.x2")], "stackloss")
"""

# name, csv, target, features (None: '*', and R fits the features sqlml says
# it chose, after checking it said why it left each other column out),
# columns listed categorical.
CASES = [
    ("mtcars_numeric", "mtcars", "mpg",
     ["cyl", "disp", "hp", "drat", "wt", "qsec", "vs", "am", "gear", "carb"], []),
    ("mtcars_factors", "mtcars", "mpg", ["wt", "cyl", "gear", "am"], ["cyl", "gear"]),
    ("mtcars_star", "mtcars", "mpg", None, []),
    ("mtcars_two_factors", "mtcars", "mpg", ["wt", "cyl", "carb"], ["cyl", "carb"]),
    ("airquality", "airquality", "Ozone", ["Solar.R", "Wind", "Temp", "Month"], ["Month"]),
    ("airquality_star", "airquality", "Ozone", None, []),
    ("toothgrowth", "toothgrowth", "len", ["supp", "dose"], ["dose"]),
    ("toothgrowth_numeric", "toothgrowth", "len", ["supp", "dose"], []),
    ("iris", "iris", "Sepal.Length", ["Sepal.Width", "Petal.Length", "Petal.Width", "Species"],
     []),
    ("warpbreaks", "warpbreaks", "breaks", ["wool", "tension"], []),
    ("stackloss", "stackloss", "stack.loss", ["Air.Flow", "Water.Temp", "Acid.Conc."], []),
    ("stackloss_aliased", "stackloss", "stack.loss", ["Air.Flow", "Flow.x2", "Water.Temp"], []),
    ("stackloss_star", "stackloss", "stack.loss", None, []),
]


def r_name(feature, level, categorical):
    """R's name of the coefficient of sqlml's term feature=level."""
    return ("factor(%s)" % feature if feature in categorical else feature) + level


def r_fit(rscript, csv, target, features, categorical, tmp):
    """R's coefficients (name -> value or None), n, R^2 and predictions of every row."""
    rhs = " + ".join("factor(`%s`)" % f if f in categorical else "`%s`" % f for f in features)
    code = r"""
d <- read.csv(%s)
fit <- lm(`%s` ~ %s, data = d)
b <- coef(fit)
for (i in seq_along(b)) cat("coef", names(b)[i], if (is.na(b[i])) "NA" else sprintf("%%.17g", b[i]), "\n", sep = "\t")
cat("n", nobs(fit), "\n", sep = "\t")
cat("r2", sprintf("%%.17g", summary(fit)$r.squared), "\n", sep = "\t")
p <- suppressWarnings(predict(fit, newdata = d))
for (v in p) cat("pred", if (is.na(v)) "NA" else sprintf("%%.17g", v), "\n", sep = "\t")
""" % (json.dumps(csv), target, rhs)
    path = os.path.join(tmp, "fit.R")
    with open(path, "w") as f:
        f.write(code)
    env = dict(os.environ, LC_ALL="C")
    out = subprocess.run([rscript, path], capture_output=True, text=True, check=True, env=env).stdout
    coef, n, r2, pred = {}, None, None, []
    for line in out.splitlines():
        f = line.split("\t")
        if f[0] == "coef":
            coef[f[1]] = None if f[2] == "NA" else float(f[2])
        elif f[0] == "n":
            n = int(f[1])
        elif f[0] == "r2":
            r2 = float(f[1])
        elif f[0] == "pred":
            pred.append(None if f[1] == "NA" else float(f[1]))
    return coef, n, r2, pred


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", required=True)
    ap.add_argument("--sqlite3", default="sqlite3")
    args = ap.parse_args()
    rscript = shutil.which("Rscript")
    if not rscript:
        print("csv_vs_r: SKIPPED: Rscript not found (Debian r-base-core)")
        return 0
    failures, compared, worst_all = [], 0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([rscript, "-e", WRITE, tmp], check=True, capture_output=True)
        db = os.path.join(tmp, "csv.db")
        script = "".join(".import --csv %s %s\n" % (os.path.join(tmp, n + ".csv"), n)
                         for n in sorted({c[1] for c in CASES}))
        subprocess.run(args.sqlite3.split() + [db], input=script, text=True, check=True)
        con = sqlite3.connect(db)
        con.enable_load_extension(True)
        con.load_extension(os.path.abspath(args.ext))
        for name, table, target, features, categorical in CASES:
            types = {r[1]: r[2] for r in con.execute("SELECT * FROM pragma_table_info(?)", (table,))}
            if set(types.values()) != {"TEXT"}:
                failures.append("%s: .import --csv made columns %r, not all TEXT" % (name, types))
            opts = json.dumps({"test_size": 0, "categorical": categorical})
            summary = json.loads(con.execute(
                "SELECT ml_train(?, ?, ?, ?, ?)",
                (name, table, target, json.dumps(features) if features else "*", opts)).fetchone()[0])
            used = summary["features"]
            if features is None:
                # '*': every column but the target and what sqlml says it left out.
                left_out = [c for c in types if c != target and c not in used]
                said = " ".join(summary["warnings"])
                for c in left_out:
                    if "'%s' left out of '*'" % c not in said:
                        failures.append("%s: '*' left out %s without a warning" % (name, c))
            js = json.loads(con.execute("SELECT ml_model_json(model) FROM ml_model_versions "
                                        "WHERE name = ?", (name,)).fetchone()[0])
            coef, n, r2, rpred = r_fit(rscript, os.path.join(tmp, table + ".csv"), target, used,
                                       categorical, tmp)
            worst = 0.0
            names = []
            for c in js["coefficients"]:
                term = c["term"]
                if "=" in term:
                    f, level = term.split("=", 1)
                    term = r_name(f, level, categorical)
                names.append(term)
                e = rel(c["estimate"], coef.get(term, "missing"))
                compared += 1
                worst = max(worst, e)
                if term not in coef or e > TOL:
                    failures.append("%s: %s: sqlml %r, R %r" % (name, term, c["estimate"],
                                                               coef.get(term, "no such term")))
            if sorted(names) != sorted(coef):
                failures.append("%s: terms differ: sqlml %s, R %s" % (name, names, list(coef)))
            for what, a, b in (("n", js["n"], n), ("r2", js["r2"], r2)):
                e = rel(a, b)
                compared += 1
                worst = max(worst, e)
                if e > TOL:
                    failures.append("%s: %s: sqlml %r, R %r" % (name, what, a, b))
            cols = ", ".join('"%s"' % f.replace('"', '""') for f in used)
            preds = [r[0] for r in con.execute("SELECT ml_predict(?, %s) FROM \"%s\" ORDER BY rowid"
                                               % (cols, table), (name,))]
            if len(preds) != len(rpred):
                failures.append("%s: %d predictions, R %d" % (name, len(preds), len(rpred)))
            for i, (a, b) in enumerate(zip(preds, rpred)):
                e = rel(a, b)
                compared += 1
                worst = max(worst, e)
                if e > TOL:
                    failures.append("%s: prediction of row %d: sqlml %r, R %r" % (name, i + 1, a, b))
            worst_all = max(worst_all, worst)
            print("csv_vs_r: %-20s n=%-4d terms=%-3d largest relative difference %.1e" %
                  (name, js["n"], len(names), worst))
    for f in failures:
        print("csv_vs_r: FAIL " + f)
    print("csv_vs_r: %d values compared with R, %s" %
          (compared, "FAILED" if failures else "all within %g (largest %.1e)" % (TOL, worst_all)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
