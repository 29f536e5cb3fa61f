#!/usr/bin/python3
"""A categorical feature of many levels (issue 17, goal 3): its levels are a
diagonal block of the streaming factor (lsq.h, fitacc.h), not dense columns.

A table of 6,000 rows with a feature 'shop' of 120 levels (counts 1 to 5
apart), a feature 'kind' of 4 levels listed before it (dense: it never
reaches the block's threshold), numbers, weights and NULLs:

- against R (Debian r-base-core): lm with the factor, weighted, without an
  intercept, and with NULLs skipped (na.omit) to 1e-9 relative; glm binomial
  and poisson to 1e-8 (R's own convergence): estimates and standard errors;
- the same fits through a formula (ml_train's formula path keeps every
  design column dense, the path without the block) to 1e-12 relative:
  estimates, standard errors, train and test metrics, with a test split,
  weights, cv (its report), a ridge penalty, a binomial GLM, levels seen
  only in test rows with "unseen": "zero", and a feature of 20 levels that
  takes the block first and gives it to 'shop' (at 80 levels) mid-pass;
- ml_fit_opts (the aggregate) equals ml_train without a test split;
- an incremental retrain (the parent's levels seeded, the block built from
  them before any row) equals the full retrain to 1e-10;
- NULLs imputed ("nulls": "mean"): the feature's NULL indicator (a dense
  column beside the block) equals the estimate of the NULLs made a level.
"""
import json
import math
import os
import random
import shutil
import tempfile

from sqlml_test import Checker, args, connect, run_r

a = args()
c = Checker("levels")
con = connect(a.ext)
rnd = random.Random(20261129)
RSCRIPT = shutil.which("Rscript")

SHOPS = ["s%03d" % i for i in range(120)]
KINDS = ["apple", "fig", "kiwi", "pear"]
N = 6000
shop_w = [1 + i % 5 for i in range(120)]
effect = {s: rnd.uniform(-1, 1) for s in SHOPS}
kind_eff = {"apple": 0.0, "fig": 0.4, "kiwi": -0.3, "pear": 0.2}

con.execute("CREATE TABLE d(id INTEGER PRIMARY KEY, y REAL, yb INTEGER, yc INTEGER, x1 REAL, "
            "x2 REAL, kind TEXT, shop TEXT, shopn TEXT, w REAL, k20 TEXT)")
rows = []
for i in range(1, N + 1):
    s = rnd.choices(SHOPS, shop_w)[0]
    k = KINDS[i % 4]
    x1, x2 = rnd.uniform(-1, 1), rnd.uniform(0, 2)
    eta = 0.3 + 0.8 * x1 + effect[s] + kind_eff[k]
    y = 2 + 1.5 * x1 - 0.5 * x2 + 3 * effect[s] + kind_eff[k] + rnd.gauss(0, 0.5)
    yb = 1 if rnd.random() < 1 / (1 + math.exp(-eta)) else 0
    yc = min(int(rnd.expovariate(1 / math.exp(0.5 * eta))), 60)
    rows.append((i, y + 0.05 * (i % 20), yb, yc, x1, None if i % 13 == 0 else x2, k, s,
                 None if i % 17 == 0 else s, 0.5 + rnd.random(), "k%02d" % (i % 20)))
con.executemany("INSERT INTO d VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
# e: d and three shops of one row each (some only in the test rows).
con.execute("CREATE TABLE e AS SELECT * FROM d")
con.executemany("INSERT INTO e(id, y, x1, x2, kind, shop, w) VALUES (?, ?, ?, 1, 'fig', ?, 1)",
                [(N + j, 1.0 + j, 0.1 * j, "zz%d" % j) for j in range(1, 4)])


def rel(x, y):
    if x is None or y is None:
        return 0.0 if x is None and y is None else math.inf
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return 0.0
    return abs(x - y) / max(abs(y), 1e-300) if x != y else 0.0


def train(name, source, target, features, opts):
    out = json.loads(con.execute("SELECT ml_train(?, ?, ?, ?, ?)",
                                 (name, source, target, features and json.dumps(features),
                                  json.dumps(opts))).fetchone()[0])
    return out, json.loads(con.execute("SELECT ml_model_json(?)", (name,)).fetchone()[0])


def r_term(term):
    """An R coefficient name as sqlml's term: shops001 is shop=s001."""
    if term == "(Intercept)" or "=" in term:
        return term
    for col in ("shopn", "shop", "kind", "k20"):
        if term.startswith(col) and term != col:
            return "%s=%s" % (col, term[len(col):])
    return term


def coefs(js):
    """Estimates and standard errors by term (a formula's names as sqlml's, see
    r_term), aliased terms left out."""
    return {r_term(t["term"]): (t["estimate"], t["std_error"]) for t in js["coefficients"]
            if t["estimate"] is not None}


def worst_coef(ja, jb):
    """The largest relative difference of estimates and standard errors, each
    relative to the larger of its value and 1e-2 of the largest estimate: a
    ridge fit's small coefficients differ at rounding's level of the others."""
    ca, cb = coefs(ja), coefs(jb)
    if sorted(ca) != sorted(cb):
        return math.inf
    floor = 1e-2 * max(abs(v[0]) for v in cb.values())
    worst = 0.0
    for t in ca:
        for i in (0, 1):
            x, y = ca[t][i], cb[t][i]
            if x is None or y is None or (isinstance(x, float) and math.isnan(x)):
                worst = max(worst, 0.0 if x is y or (x is None) == (y is None) else math.inf)
            else:
                worst = max(worst, abs(x - y) / max(abs(y), floor, 1e-300))
    return worst


def json_worst(x, y):
    """The largest relative difference between the numbers of two JSON values
    of the same shape; inf when their shapes or their texts differ."""
    if isinstance(x, dict) and isinstance(y, dict):
        if sorted(x) != sorted(y):
            return math.inf
        return max([json_worst(x[k], y[k]) for k in x] + [0.0])
    if isinstance(x, list) and isinstance(y, list):
        if len(x) != len(y):
            return math.inf
        return max([json_worst(u, v) for u, v in zip(x, y)] + [0.0])
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return rel(x, y)
    return 0.0 if x == y else math.inf


# ---- against R ----

R_FITS = [
    # name, formula, family, weights, source table, sqlml target, features, options
    ("lm", "y ~ kind + x1 + shop", None, False, "d", "y", ["kind", "x1", "shop"], {}),
    ("lm_w", "y ~ kind + x1 + shop", None, True, "d", "y", ["kind", "x1", "shop"], {"weights": "w"}),
    ("lm_0", "y ~ 0 + kind + x1 + shop", None, False, "d", "y", ["kind", "x1", "shop"],
     {"intercept": False}),
    ("lm_na", "y ~ x2 + shopn + kind", None, False, "d", "y", ["x2", "shopn", "kind"], {"nulls": "skip"}),
    ("lm_rare", "y ~ kind + x1 + shop", None, False, "e", "y", ["kind", "x1", "shop"], {}),
    # k20 reaches 16 levels first and takes the block; shop, at 80, takes it over.
    ("lm_switch", "y ~ k20 + x1 + shop", None, True, "d", "y", ["k20", "x1", "shop"], {"weights": "w"}),
    ("binomial", "yb ~ kind + x1 + shop", "binomial", False, "d", "yb", ["kind", "x1", "shop"],
     {"family": "binomial"}),
    ("poisson", "yc ~ x1 + shop + kind", "poisson", False, "d", "yc", ["x1", "shop", "kind"],
     {"family": "poisson"}),
]


def r_fits():
    """R's estimates and standard errors of R_FITS, by name, in R's order; None without R."""
    if not RSCRIPT:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        script = ["d <- list()"]
        for tbl in ("d", "e"):
            path = os.path.join(tmp, tbl + ".csv")
            cur = con.execute("SELECT y, yb, yc, x1, x2, kind, shop, shopn, w, k20 FROM %s ORDER BY id" % tbl)
            with open(path, "w") as f:
                f.write("y,yb,yc,x1,x2,kind,shop,shopn,w,k20\n")
                for r in cur:
                    f.write(",".join("NA" if v is None else v if isinstance(v, str) else repr(v)
                                     for v in r) + "\n")
            script.append("t <- read.csv('%s', stringsAsFactors = FALSE)" % path)
            for col in ("kind", "shop", "shopn", "k20"):
                # Levels sorted by bytes, the first the reference: sqlml's order.
                script.append("t$%s <- factor(t$%s, levels = sort(unique(na.omit(t$%s)), method = 'radix'))"
                              % (col, col, col))
            script.append("d[['%s']] <- t" % tbl)
        for name, formula, fam, wt, tbl, _, _, _ in R_FITS:
            w = ", weights = w" if wt else ""
            fit = ("glm(%s, family = %s, data = d[['%s']]%s)" % (formula, fam, tbl, w) if fam else
                   "lm(%s, data = d[['%s']]%s)" % (formula, tbl, w))
            script.append("cf <- coef(summary(%s))" % fit)
            script.append("for (i in seq_len(nrow(cf))) cat('%s', rownames(cf)[i], sprintf('%%.17g', cf[i, 1]), "
                          "sprintf('%%.17g', cf[i, 2]), '\\n')" % name)
        out = run_r(RSCRIPT, script, tmp)
    res = {}
    for line in out.splitlines():
        name, term, est, se = line.split()
        res.setdefault(name, []).append((term, float(est), float(se)))
    return res


r = r_fits()
if r is None:
    print("levels: against R: SKIPPED: Rscript not found (Debian r-base-core)")
else:
    for name, _, fam, _, tbl, target, feats, opts in R_FITS:
        out, js = train("lv_" + name, tbl, target, feats, dict(opts, test_size=0))
        mine = {t["term"]: (t["estimate"], t["std_error"]) for t in js["coefficients"]}
        theirs = {r_term(t): (e, s) for t, e, s in r[name]}
        if not c.check(sorted(mine) == sorted(theirs), "%s: terms %r, R %r" % (
                name, sorted(mine)[:6], sorted(theirs)[:6])):
            continue
        tol = 1e-8 if fam else 1e-9
        worst = max(rel(mine[t][i], theirs[t][i]) for t in mine for i in (0, 1))
        c.check(worst <= tol, "%s: against R, largest relative difference %.2e > %g" % (name, worst, tol))
        print("levels: %s (%d terms) against R: largest relative difference %.1e" % (name, len(mine), worst))

# ---- the block against the dense path (a formula) ----

DENSE = [
    ("split", "d", {"test_size": 0.2, "seed": 42}),
    ("weights", "d", {"test_size": 0.25, "seed": 7, "weights": "w"}),
    ("cv", "d", {"test_size": 0.2, "seed": 5, "cv": 5}),
    ("l2", "d", {"test_size": 0.2, "seed": 42, "l2": 0.5}),
    ("binomial", "d", {"test_size": 0.2, "seed": 42, "family": "binomial"}),
    ("unseen", "e", {"test_size": 0.3, "seed": 11, "unseen": "zero"}),
    ("switch", "d", {"test_size": 0.2, "seed": 3, "cv": 4}),
]
for tag, tbl, opts in DENSE:
    target = "yb" if opts.get("family") == "binomial" else "y"
    cat = "k20" if tag == "switch" else "kind"
    ob, jb = train("lv_block_" + tag, tbl, target, [cat, "x1", "shop"], opts)
    od, jd = train("lv_dense_" + tag, tbl, "%s ~ %s + x1 + shop" % (target, cat), None, opts)
    c.check(len(coefs(jb)) == len(coefs(jd)) >= 120,
            "%s: %d terms, dense %d" % (tag, len(coefs(jb)), len(coefs(jd))))
    worst = max(worst_coef(jb, jd), json_worst(ob["metrics"], od["metrics"]))
    if tag == "unseen":
        seen = [t["term"] for t in jb["coefficients"] if t["term"].startswith("shop=zz")]
        c.check(ob["n_test"] > 0 and len(seen) < 3, "unseen: shops only in test rows, got %r" % seen)
    c.check(worst <= 1e-12, "%s: block against dense, largest relative difference %.2e" % (tag, worst))
    print("levels: %s: block against dense: largest relative difference %.1e" % (tag, worst))

# ---- ml_fit_opts, the aggregate, through the same accumulator ----

ob, jb = train("lv_agg", "d", "y", ["kind", "x1", "shop"], {"test_size": 0})
blob = con.execute("SELECT ml_fit_opts('{\"names\":[\"kind\",\"x1\",\"shop\"],\"categorical\":[\"kind\",\"shop\"]}', "
                   "y, kind, x1, shop) FROM d").fetchone()[0]
ja = json.loads(con.execute("SELECT ml_model_json(?)", (blob,)).fetchone()[0])
worst = worst_coef(ja, jb)
c.check(worst <= 1e-12, "ml_fit_opts against ml_train: %.2e" % worst)

# ---- an incremental retrain: the parent's levels seed the block ----

con.execute("CREATE TABLE g AS SELECT * FROM d WHERE id <= 4000")
U = {"test_size": 0.2, "seed": 42, "refine": False}  # refinement reads every row
train("lv_inc", "g", "y", ["kind", "x1", "shop"], U)
con.execute("INSERT INTO g SELECT * FROM d WHERE id > 4000")
oi, ji = train("lv_inc", "g", "y", ["kind", "x1", "shop"], dict(U, incremental=True))
of, jf = train("lv_full", "g", "y", ["kind", "x1", "shop"], U)
worst = max([worst_coef(ji, jf)] + [json_worst(oi["metrics"][s], of["metrics"][s]) for s in ("train", "test")])
c.check(oi.get("incremental") is True, "incremental: %r" % {k: oi.get(k) for k in ("incremental", "parent")})
c.check(worst <= 1e-10, "incremental against the full retrain: %.2e" % worst)

# ---- NULLs imputed: the indicator beside the block ----

_, jm = train("lv_mean", "d", "y", ["x1", "shopn"], {"test_size": 0, "nulls": "mean"})
con.execute("CREATE TABLE h AS SELECT id, y, x1, coalesce(shopn, '~null') AS shopn FROM d")
_, jl = train("lv_level", "h", "y", ["x1", "shopn"], {"test_size": 0})
em = {t["term"]: t["estimate"] for t in jm["coefficients"]}
el = {t["term"]: t["estimate"] for t in jl["coefficients"]}
nul = [t for t in em if t not in el]
c.check(len(nul) == 1 and "shopn=~null" in el, "nulls mean: the indicator %r" % nul)
if len(nul) == 1:
    em["shopn=~null"] = em.pop(nul[0])
    worst = max(rel(em[t], el[t]) for t in el) if sorted(em) == sorted(el) else math.inf
    c.check(worst <= 1e-12, "nulls mean: the indicator against a level: %.2e" % worst)

c.done()
