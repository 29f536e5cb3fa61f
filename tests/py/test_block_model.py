#!/usr/bin/python3
"""A model kept with its block (issue 17, goal 3): a feature of many levels
whose factor stays [diag(a) G; 0 R] in the model and its BLOB (sfac.h,
section BFAC), so that 1,050 or 100,000 levels train, store and predict
without a dense factor of (levels)^2 numbers.

- 1,050 levels (more terms than a dense model holds) against R's lm
  (Debian r-base-core): estimates, standard errors, sigma, R^2, the F test,
  and predict.lm's confidence and prediction intervals, to 1e-8; weighted,
  with NULLs skipped, without an intercept; the JSON's covariance is null;
- a feature nested in the many-level one (a region of stores): the
  predictions equal R's fitted values, and the aliased terms are named;
- 100,000 levels over 200,000 rows against the within (fixed effects)
  estimator computed apart in numpy: the slope, every level's coefficient
  and predictions; the BLOB is O(levels), not O(levels^2);
- 300 levels (a dense factor fits): ml_compare against numpy's rmse on the
  test rows, ml_merge of two halves equal to the fit of all rows, ml_refine,
  an incremental retrain, threads, all as for any model;
- a CSV loaded with .import --csv (every column TEXT, 'NA') equals the
  typed table; a source in an ATTACHed schema with quoted names;
- the errors: a second feature of many levels, a merge or an incremental
  retrain of a model past 1,000 terms, say what to do.
"""
import json
import math
import os
import shutil
import subprocess
import tempfile

import numpy as np

from sqlml_test import Checker, args, connect, error_of, run_r, sections

a = args()
c = Checker("block_model")
RSCRIPT = shutil.which("Rscript")
tmp = tempfile.mkdtemp()
con = connect(a.ext)
rng = np.random.default_rng(20261129)


def rel(x, y, floor=1e-300):
    return abs(x - y) / max(abs(y), floor)


def train(name, source, target, features, opts):
    out = json.loads(con.execute("SELECT ml_train(?, ?, ?, ?, ?)", (name, source, target,
                                 json.dumps(features), json.dumps(opts))).fetchone()[0])
    return out, json.loads(con.execute("SELECT ml_model_json(?)", (name,)).fetchone()[0])


def blob_of(name):
    return con.execute("SELECT model FROM ml_model_versions WHERE name = ? ORDER BY version DESC "
                       "LIMIT 1", (name,)).fetchone()[0]


# ---- 1,050 levels against R ----

N, L = 5000, 1050
store = rng.integers(0, L, N)
store[:L] = np.arange(L)  # every level seen
effect = rng.normal(0, 1, L)
x1, x2 = rng.normal(size=N), rng.uniform(0, 2, N)
kind = rng.integers(0, 3, N)
w = rng.uniform(0.5, 2, N)
y = 1 + 1.5 * x1 - 0.5 * x2 + effect[store] + 0.3 * kind + rng.normal(0, 0.5, N)
con.execute("CREATE TABLE s(id INTEGER PRIMARY KEY, y REAL, x1 REAL, x2 REAL, kind TEXT, store TEXT, "
            "region TEXT, w REAL)")
rows = [(i + 1, float(y[i]), float(x1[i]), None if i % 11 == 0 else float(x2[i]), "k%d" % kind[i],
         "st%04d" % store[i], "r%02d" % (store[i] % 40), float(w[i])) for i in range(N)]
con.executemany("INSERT INTO s VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

FITS = [
    # name, R formula, R weights, features, options
    ("plain", "y ~ kind + x1 + store", False, ["kind", "x1", "store"], {}),
    ("weighted", "y ~ x2 + store + x1", True, ["x2", "store", "x1"], {"weights": "w"}),
    ("no_intercept", "y ~ 0 + store + x1", False, ["store", "x1"], {"intercept": False}),
]


def r_term(t):
    for col in ("store", "kind", "region"):
        if t.startswith(col) and t != col:
            return "%s=%s" % (col, t[len(col):])
    return t


def r_fits():
    """R's coefficients, fit statistics and intervals of FITS on rows 1..20."""
    csv = os.path.join(tmp, "s.csv")
    with open(csv, "w") as f:
        f.write("y,x1,x2,kind,store,region,w\n")
        for r in con.execute("SELECT y, x1, x2, kind, store, region, w FROM s ORDER BY id"):
            f.write(",".join("NA" if v is None else v if isinstance(v, str) else repr(v) for v in r) + "\n")
    script = ["d <- read.csv('%s', stringsAsFactors = FALSE)" % csv]
    for col in ("kind", "store", "region"):
        script.append("d$%s <- factor(d$%s, levels = sort(unique(d$%s), method = 'radix'))" % (col, col, col))
    for name, formula, wt, _, _ in FITS:
        script.append("f <- lm(%s, data = d%s)" % (formula, ", weights = w" if wt else ""))
        script.append("s <- summary(f); cf <- coef(s)")
        script.append("for (i in seq_len(nrow(cf))) cat('%s coef', rownames(cf)[i], sprintf('%%.17g', cf[i, 1]), "
                      "sprintf('%%.17g', cf[i, 2]), '\\n')" % name)
        script.append("cat('%s fit', sprintf('%%.17g', c(s$sigma, s$r.squared, s$fstatistic[1])), '\\n')" % name)
        script.append("nd <- d[1:20, ]; pc <- predict(f, nd, interval = 'confidence', level = 0.9); "
                      "pp <- predict(f, nd, interval = 'prediction', level = 0.9%s)"
                      % (", weights = 1" if wt else ""))
        script.append("for (i in 1:20) cat('%s iv', i, sprintf('%%.17g', c(pc[i, ], pp[i, 2:3])), '\\n')" % name)
        script.append("fv <- fitted(f); cat('%s fitted', sprintf('%%.17g', fv[1:50]), '\\n')" % name)
    out = run_r(RSCRIPT, script, tmp)
    res = {}
    for line in out.splitlines():
        parts = line.split()
        res.setdefault(parts[0], {}).setdefault(parts[1], []).append(parts[2:])
    return res


def check_against_r(name, r, out, js):
    coef = {t["term"]: t for t in js["coefficients"]}
    worst = 0.0
    for term, est, se in r["coef"]:
        t = coef.get(r_term(term))
        if not c.check(t is not None, "%s: term %s" % (name, term)):
            return
        worst = max(worst, rel(t["estimate"], float(est), 1e-3), rel(t["std_error"], float(se), 1e-3))
    c.check(len(r["coef"]) == sum(1 for t in js["coefficients"] if t["estimate"] is not None),
            "%s: as many estimates as R" % name)
    c.check(worst < 1e-8, "%s: estimates and standard errors within 1e-8 of R's: %.3g" % (name, worst))
    sigma, r2, fstat = (float(v) for v in r["fit"][0])
    fit = js.get("fit", js)
    c.check(rel(fit["sigma"], sigma) < 1e-9 and rel(fit["r2"], r2) < 1e-9 and rel(fit["f_stat"], fstat) < 1e-8,
            "%s: sigma, R^2, F as R's: %r" % (name, (fit["sigma"], fit["r2"], fit["f_stat"], sigma, r2, fstat)))
    c.check(js["covariance"] is None, "%s: %d terms, no covariance matrix" % (name, len(js["coefficients"])))
    print("block_model: %s: %d terms against R: largest relative difference %.1e" % (
        name, len(js["coefficients"]), worst))
    return worst


r = r_fits() if RSCRIPT else None
if r is None:
    print("block_model: against R: SKIPPED: Rscript not found (Debian r-base-core)")
for name, _, _, feats, opts in FITS:
    out, js = train("b_" + name, "s", "y", feats, dict(opts, test_size=0))
    c.check(out["terms"] > 1000 and "BFAC" in [t for t, _ in sections(blob_of("b_" + name))],
            "%s: %d terms, kept with the block" % (name, out["terms"]))
    if r is None:
        continue
    check_against_r(name, r[name], out, js)
    cols = ", ".join(feats)
    worst = 0.0
    for i, iv in enumerate(con.execute("SELECT ml_predict_interval('b_%s', 0.9, %s) FROM s WHERE id <= 20 "
                                       "ORDER BY id" % (name, cols))):
        want = [float("nan") if v == "NA" else float(v) for v in r[name]["iv"][i][1:]]
        if iv[0] is None:
            c.check(all(math.isnan(v) for v in want), "%s: a NULL feature, no interval, as R's NA" % name)
            continue
        got = json.loads(iv[0])
        mine = [got["fit"], got["conf_low"], got["conf_high"], got["pred_low"], got["pred_high"]]
        worst = max(worst, max(rel(u, v, 1e-3) for u, v in zip(mine, want)))
    c.check(worst < 1e-8, "%s: intervals within 1e-8 of R's predict.lm: %.3g" % (name, worst))

# A region of stores: R aliases the store terms after the region's; a model
# kept with its block judges the block first, so it aliases region terms.
# The fit is the same (a region adds nothing to its stores): its predictions
# are the fitted values of R's fit without the region ("plain").
out, js = train("b_nested", "s", "y", ["region", "kind", "x1", "store"], {"test_size": 0})
aliased = [t["term"] for t in js["coefficients"] if t["estimate"] is None]
c.check(len(aliased) == 39 and all(t.startswith("region=") for t in aliased) and
        any("aliased" in wn and "region=" in wn for wn in out["warnings"]),
        "nested: the 39 region terms aliased and named: %r" % out["warnings"][-1:])
if r is not None:
    want = [float(v) for v in r["plain"]["fitted"][0]]
    got = [v for (v,) in con.execute("SELECT ml_predict('b_nested', region, kind, x1, store) FROM s "
                                     "ORDER BY id LIMIT 50")]
    worst = max(rel(u, v, 1e-3) for u, v in zip(got, want))
    c.check(worst < 1e-8, "nested: predictions equal R's fitted values: %.3g" % worst)

# ---- 100,000 levels against the within estimator ----

NB, LB = 200000, 100000
g = np.arange(NB) % LB
xb = rng.normal(size=NB)
eb = rng.normal(0, 2, LB)
yb = 3 * xb + eb[g] + rng.normal(0, 0.3, NB)
con.execute("CREATE TABLE big(id INTEGER PRIMARY KEY, y REAL, x REAL, g TEXT)")
con.executemany("INSERT INTO big VALUES (?, ?, ?, ?)",
                ((i + 1, float(yb[i]), float(xb[i]), "g%06d" % g[i]) for i in range(NB)))
out, _ = train("b_big", "big", "y", ["x", "g"], {"test_size": 0})
blob = blob_of("b_big")
c.check(out["terms"] == LB + 1 and len(blob) < 200 * LB,
        "100k levels: %d terms in a BLOB of %.1f MB" % (out["terms"], len(blob) / 1e6))
# The within estimator: the slope from the levels' deviations, each level's
# mean of y - slope x; the coefficient of level l is its mean less the
# reference's (level 0, g000000), the intercept the reference's.
cnt = np.bincount(g)
xm, ym = np.bincount(g, xb) / cnt, np.bincount(g, yb) / cnt
slope = np.sum((xb - xm[g]) * (yb - ym[g])) / np.sum((xb - xm[g]) ** 2)
alpha = ym - slope * xm
weights = {t: e for t, e in con.execute("SELECT term, estimate FROM ml_weights('b_big')")}
c.check(rel(weights["x"], slope) < 1e-10, "100k levels: the slope %r, the within estimator's %r" % (weights["x"], slope))
worst = max(abs(weights["g=g%06d" % l] - (alpha[l] - alpha[0])) for l in range(1, LB, 997))
worst = max(worst, abs(weights["(Intercept)"] - alpha[0]))
c.check(worst < 1e-9, "100k levels: level coefficients as the within estimator's: %.3g" % worst)
pred = [v for (v,) in con.execute("SELECT ml_predict('b_big', x, g) FROM big WHERE id % 7919 = 0 ORDER BY id")]
ids = np.arange(7919, NB + 1, 7919) - 1
worst = max(abs(p - (alpha[g[i]] + slope * xb[i])) for p, i in zip(pred, ids))
c.check(len(pred) == len(ids) and worst < 1e-9, "100k levels: predictions: %.3g" % worst)
ev = json.loads(con.execute("SELECT ml_evaluate('b_big', 'big')").fetchone()[0])
resid = yb - (alpha[g] + slope * xb)
c.check(rel(ev["rmse"], math.sqrt(np.mean(resid ** 2))) < 1e-9,
        "100k levels: ml_evaluate over every row: rmse %r" % ev["rmse"])
iv = json.loads(con.execute("SELECT ml_predict_interval('b_big', 0.95, 0.5, 'g000123')").fetchone()[0])
c.check(iv["conf_low"] < iv["fit"] < iv["conf_high"] and iv["pred_low"] < iv["conf_low"],
        "100k levels: an interval: %r" % iv)

# ---- GLMs: their IRLS steps keep the block too ----

# Poisson counts of 1,050 levels alone: the fit is closed-form. exp(b0) is the
# reference level's mean count and b_l the log of level l's mean over it; the
# standard errors (dispersion 1) sqrt(1/S_l + 1/S_ref) and sqrt(1/S_ref), S a
# level's total count.  IRLS run to epsilon 1e-14 (at R's 1e-8 the last
# step's weights leave the errors 7e-5 from the limit, as R's would be).
counts = rng.poisson(np.exp(1.5 + 0.4 * np.sin(store)), N)
con.execute("CREATE TABLE pc(id INTEGER PRIMARY KEY, n INTEGER, store TEXT)")
con.executemany("INSERT INTO pc VALUES (?, ?, ?)", [(i + 1, int(counts[i]), "st%04d" % store[i]) for i in range(N)])
out, js = train("b_pois", "pc", "n", ["store"], {"family": "poisson", "test_size": 0, "epsilon": 1e-14})
tot, cnt = np.bincount(store, counts, L), np.bincount(store, minlength=L)
coef = {t["term"]: t for t in js["coefficients"]}
worst = max(rel(coef["(Intercept)"]["estimate"], math.log(tot[0] / cnt[0])),
            rel(coef["(Intercept)"]["std_error"], math.sqrt(1 / tot[0])) / 1e3)
for l in range(1, L, 7):
    t = coef["store=st%04d" % l]
    worst = max(worst, rel(t["estimate"], math.log(tot[l] / cnt[l] / (tot[0] / cnt[0])), 1e-3),
                rel(t["std_error"], math.sqrt(1 / tot[l] + 1 / tot[0])) / 1e3)
# estimates to 1e-10, standard errors to 1e-7 (the weights of the step before the last)
c.check(out["terms"] == L and out["converged"] and worst < 1e-10 and
        "BFAC" in [t for t, _ in sections(blob_of("b_pois"))],
        "poisson, %d levels: the closed form's estimates and errors: %.3g" % (L, worst))
# A binomial GLM of 300 levels with a numeric feature: on 2 readers as on one.
path_g = os.path.join(tmp, "g.db")
gcon = connect(a.ext, path_g)
gcon.execute("CREATE TABLE b(id INTEGER PRIMARY KEY, yb INTEGER, x1 REAL, shop TEXT)")
gcon.executemany("INSERT INTO b VALUES (?, ?, ?, ?)",
                 [(i + 1, int(rng.uniform() < 1 / (1 + math.exp(-(x1[i] + effect[store[i]] / 2)))), float(x1[i]),
                   "m%d" % (store[i] % 300)) for i in range(N)])
gcon.commit()
one = json.loads(gcon.execute("SELECT ml_train('g', 'b', 'yb', '[\"x1\",\"shop\"]', "
                              "'{\"family\":\"binomial\",\"seed\":3,\"unseen\":\"zero\"}')").fetchone()[0])
two = json.loads(gcon.execute("SELECT ml_train('g', 'b', 'yb', '[\"x1\",\"shop\"]', "
                              "'{\"family\":\"binomial\",\"seed\":3,\"unseen\":\"zero\",\"threads\":2}')").fetchone()[0])
g1 = {t: e for t, e in gcon.execute("SELECT term, estimate FROM ml_weights('g@1')")}
g2 = {t: e for t, e in gcon.execute("SELECT term, estimate FROM ml_weights('g@2')")}
gw = max(rel(g2[t], g1[t], 1e-3) for t in g1)
c.check(one["iterations"] == two["iterations"] and rel(two["deviance"], one["deviance"]) < 1e-12 and
        gw < 1e-10 and rel(two["metrics"]["test"]["auc"], one["metrics"]["test"]["auc"]) < 1e-12,
        "binomial, 300 levels: 2 readers equal one connection (estimates %.2g, deviance %.2g)"
        % (gw, rel(two["deviance"], one["deviance"])))
gcon.close()

# ---- 300 levels: what works on dense factors works on these ----

con.execute("CREATE TABLE m AS SELECT id, y, x1, kind, 'm' || (CAST(substr(store, 3) AS INTEGER) % 300) AS shop, w "
            "FROM s")
opts = {"test_size": 0.25, "seed": 5}
out, js = train("b_m", "m", "y", ["x1", "shop"], opts)
c.check("BFAC" in [t for t, _ in sections(blob_of("b_m"))], "300 levels: kept with the block")
cmp = json.loads(con.execute("SELECT ml_compare('b_m', 'b_m')").fetchone()[0])
# The model's residuals on the same test rows (ml_split_of: ml_train's rule), summed apart.
res = [yy - p for yy, p in con.execute("SELECT y, ml_predict('b_m', x1, shop) FROM m "
                                        "WHERE ml_split_of(rowid, 0.25, 5) = 'test'")]
rmse = math.sqrt(sum(e * e for e in res) / len(res))
c.check(rel(cmp["on_b_test_rows"]["a"]["rmse"], rmse) < 1e-9, "300 levels: ml_compare's rmse %r, the residuals' %r"
        % (cmp["on_b_test_rows"]["a"]["rmse"], rmse))
c.check(cmp["on_b_test_rows"]["n"] == out["n_test"] and cmp["rows_read"] == 0,
        "300 levels: ml_compare from the test factor, no row read: %r" % cmp)
# Two halves merged equal the fit of all rows (their union of levels).
for half, where in (("h1", "id % 2 = 0"), ("h2", "id % 2 = 1")):
    con.execute("CREATE TABLE m_%s AS SELECT * FROM m WHERE %s" % (half, where))
    train("b_" + half, "m_" + half, "y", ["x1", "shop"], {"test_size": 0})
train("b_all", "m", "y", ["x1", "shop"], {"test_size": 0})
mw = {t: e for t, e in con.execute(
    "SELECT term, estimate FROM ml_weights((SELECT ml_merge(a.model, b.model) FROM ml_model_versions a, "
    "ml_model_versions b WHERE a.name = 'b_h1' AND b.name = 'b_h2'))")}
aw = {t: e for t, e in con.execute("SELECT term, estimate FROM ml_weights('b_all')")}
c.check(sorted(mw) == sorted(aw) and max(rel(mw[t], aw[t], 1e-3) for t in aw) < 1e-9,
        "300 levels: the merge of two halves is the fit of all rows")
# ml_refine over the rows: the refined fit of the same coefficients.
ref = con.execute("SELECT ml_refine((SELECT model FROM ml_model_versions WHERE name = 'b_all'), y, x1, shop) "
                  "FROM m").fetchone()[0]
rw = {t: e for t, e in con.execute("SELECT term, estimate FROM ml_weights(?)", (ref,))}
c.check(sorted(rw) == sorted(aw) and max(rel(rw[t], aw[t], 1e-3) for t in aw) < 1e-9 and
        "BFAC" in [t for t, _ in sections(ref)], "300 levels: ml_refine keeps the block and the fit")
# An incremental retrain builds on it (as a dense factor), equal to a full retrain.
# (Without refinement, which would read every row: on both sides.)
con.execute("CREATE TABLE inc AS SELECT * FROM m WHERE id <= 3500")
train("b_inc", "inc", "y", ["x1", "shop"], {"test_size": 0, "refine": False})
con.execute("INSERT INTO inc SELECT * FROM m WHERE id > 3500")
o_inc, _ = train("b_inc", "inc", "y", ["x1", "shop"], {"test_size": 0, "incremental": True, "refine": False})
train("b_all", "m", "y", ["x1", "shop"], {"test_size": 0, "refine": False})
aw = {t: e for t, e in con.execute("SELECT term, estimate FROM ml_weights('b_all')")}
iw = {t: e for t, e in con.execute("SELECT term, estimate FROM ml_weights('b_inc')")}
c.check(max(rel(iw[t], aw[t], 1e-3) for t in aw) < 1e-9, "300 levels: an incremental retrain from the block's model")

# ---- threads, a CSV, an ATTACHed schema ----

path = os.path.join(tmp, "f.db")
fcon = connect(a.ext, path)
fcon.execute("CREATE TABLE s(id INTEGER PRIMARY KEY, y REAL, x1 REAL, store TEXT)")
fcon.executemany("INSERT INTO s VALUES (?, ?, ?, ?)", [(r_[0], r_[1], r_[2], r_[5]) for r_ in rows])
fcon.commit()
one = json.loads(fcon.execute("SELECT ml_train('t', 's', 'y', '[\"x1\",\"store\"]', '{\"seed\":3,\"unseen\":\"zero\"}')").fetchone()[0])
two = json.loads(fcon.execute("SELECT ml_train('t', 's', 'y', '[\"x1\",\"store\"]', '{\"seed\":3,\"unseen\":\"zero\",\"threads\":2}')").fetchone()[0])
w1 = {t: e for t, e in fcon.execute("SELECT term, estimate FROM ml_weights('t@1')")}
w2 = {t: e for t, e in fcon.execute("SELECT term, estimate FROM ml_weights('t@2')")}
c.check(one["data_hash"] == two["data_hash"] and max(rel(w2[t], w1[t], 1e-3) for t in w1) < 1e-12 and
        rel(two["metrics"]["test"]["rmse"], one["metrics"]["test"]["rmse"]) < 1e-12,
        "threads: 2 readers equal one connection to 1e-12")
fcon.close()
csv = os.path.join(tmp, "s.csv")
with open(csv, "w") as f:
    f.write("id,y,x1,x2,store\n")
    for r_ in rows:
        f.write("%d,%r,%r,%s,%s\n" % (r_[0], r_[1], r_[2], "NA" if r_[3] is None else repr(r_[3]), r_[5]))
cdb = os.path.join(tmp, "csv.db")
subprocess.run([a.sqlite3, cdb, ".import --csv %s \"sales data\"" % csv], check=True)
con.execute("ATTACH ? AS \"other schema\"", (cdb,))
o_csv, j_csv = train("b_csv", '"other schema"."sales data"', "y", ["x2", "store", "x1"], {"test_size": 0})
o_typ, j_typ = train("b_typ", "s", "y", ["x2", "store", "x1"], {"test_size": 0})
ec = {t["term"]: t["estimate"] for t in j_csv["coefficients"]}
et = {t["term"]: t["estimate"] for t in j_typ["coefficients"]}
c.check(o_csv["n_train"] == o_typ["n_train"] and sorted(ec) == sorted(et) and
        max(rel(ec[t], et[t], 1e-3) for t in et) < 1e-12 and "x2" in o_csv["read_from_text"],
        ".import --csv (all TEXT, 'NA') in an ATTACHed schema: the typed table's fit")

# ---- a ROLLBACK takes the version with it ----

con.commit()
con.execute("BEGIN")
con.execute("SELECT ml_train('b_rolled', 's', 'y', '[\"store\",\"x1\"]', '{\"test_size\":0}')").fetchone()
c.check(con.execute("SELECT ml_predict('b_rolled', 'st0001', 0.5)").fetchone()[0] is not None,
        "rollback: the version predicts inside its transaction")
con.rollback()
e = error_of(con, "SELECT ml_predict('b_rolled', 'st0001', 0.5)")
c.check(e is not None and "b_rolled" in e, "rollback: the block model is gone, and said so: %r" % e)

# ---- errors that say what to do ----

con.execute("CREATE TABLE two AS SELECT y, x1, store, 'a' || (id % 1500) AS other FROM s")
e = error_of(con, "SELECT ml_train('e', 'two', 'y', '[\"x1\",\"store\",\"other\"]')")
c.check(e is not None and "too many levels" in e and "one feature of many levels" in e,
        "a second feature of many levels: %r" % e)
e = error_of(con, "SELECT ml_merge(model) FROM ml_model_versions WHERE name = 'b_plain'")
c.check(e is not None and "merge holds at most 1000" in e and "train on the union" in e, "merge past 1000: %r" % e)
con.execute("CREATE TABLE grow AS SELECT * FROM s")
train("b_grow", "grow", "y", ["x1", "store"], {"test_size": 0})
con.execute("INSERT INTO grow SELECT id + 100000, y, x1, x2, kind, store, region, w FROM s LIMIT 10")
e = error_of(con, "SELECT ml_train('b_grow', 'grow', 'y', '[\"x1\",\"store\"]', '{\"test_size\":0,\"incremental\":true}')")
c.check(e is not None and "without \"incremental\"" in e, "incremental past 1000 terms: %r" % e)

shutil.rmtree(tmp)
c.done()
