#!/usr/bin/python3
"""ml_fit's fast path for one or two features (issue 17, goal 4).

With k + 2 <= 4 columns ([1 X y]) ml_fit folds rows itself (lsq.h's small
fold) and encodes its model without allocating one; wider fits and
ml_fit_opts keep the LAPACK fold.  Over groups of 1 to 100 rows (across the
fold's 32-row block), badly scaled columns, NULLs and an aliased column:

- the coefficients, standard errors, sigma and R-squared equal numpy's least
  squares (numpy.linalg.lstsq, and the covariance sigma^2 (X'X)^-1 from
  R from numpy's QR) to 1e-9 relative: the reference;
- they equal ml_fit_opts('{}', ...) over the same rows (the LAPACK fold) to
  1e-13 relative (1e-9 for the aliased group), and n, n_skipped, the rank and the fingerprint exactly;
- ml_merge of the per-group fits equals one ml_fit over all the rows.
"""
import json
import random

import numpy as np

from sqlml_test import Checker, args, connect

a = args()
c = Checker("small_groups")
con = connect(a.ext)
rnd = random.Random(20261129)

con.execute("CREATE TABLE t(g INTEGER, y REAL, x1 REAL, x2 REAL)")
sizes = [1, 2, 3, 4, 5, 10, 31, 32, 33, 63, 64, 65, 100]
rows = []
for g, n in enumerate(sizes * 3):
    scale = [1.0, 1e6, 1e-4][g % 3]
    for i in range(n):
        x1 = rnd.uniform(-1, 1) * scale + 3 * scale
        x2 = rnd.uniform(0, 2)
        if g == 10:  # aliased: x2 a multiple of x1
            x2 = 2 * x1
        y = 1.5 + 2 * x1 / scale - 0.5 * x2 + rnd.gauss(0, 0.1)
        if i % 7 == 3:  # a NULL in some rows: skipped and counted
            row = (g, None if i % 3 == 2 else y, None if i % 3 == 0 else x1, None if i % 3 == 1 else x2)
        else:
            row = (g, y, x1, x2)
        rows.append(row)
con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)


def model(blob):
    return json.loads(con.execute("SELECT ml_model_json(?)", (blob,)).fetchone()[0])


def rel(a_, b_):
    return abs(a_ - b_) / max(abs(b_), 1e-300)


def near(got, want, tol, what):
    ok = (got == want) or (got is not None and want is not None and rel(got, want) <= tol)
    c.check(ok, "%s: %r, want %r (tolerance %g)" % (what, got, want, tol))


def reference(g, feats):
    data = [r for r in rows if r[0] == g and all(v is not None for v in r[1:2 + len(feats)])]
    y = np.array([r[1] for r in data])
    X = np.array([[1.0] + [r[2 + j] for j in range(len(feats))] for r in data])
    return X, y


def compare_numpy(js, X, y, what):
    n, q = X.shape
    if n <= q:  # too few rows for standard errors: the coefficients only where determined
        return
    rank = np.linalg.matrix_rank(X)
    if rank < q:
        c.check(js["rank"] == rank, "%s: rank %r, want %r" % (what, js["rank"], rank))
        return
    b, _, _, _ = np.linalg.lstsq(X, y, rcond=None)
    res = y - X @ b
    s2 = res @ res / (n - q)
    Ri = np.linalg.inv(np.linalg.qr(X, mode="r"))  # (X'X)^-1 = R^-1 R^-T, without forming X'X
    se = np.sqrt(s2 * (Ri * Ri).sum(axis=1))
    tss = ((y - y.mean()) ** 2).sum()
    for j, co in enumerate(js["coefficients"]):
        near(co["estimate"], b[j], 1e-9, "%s: coefficient %d against numpy" % (what, j))
        near(co["std_error"], se[j], 1e-9, "%s: std error %d against numpy" % (what, j))
    near(js["sigma"], float(np.sqrt(s2)), 1e-9, "%s: sigma against numpy" % what)
    near(js["r2"], float(1 - (res @ res) / tss), 1e-9, "%s: r2 against numpy" % what)


def compare_lapack(js, jo, what, tol):
    for key in ("n", "n_skipped", "rank", "rows_fingerprint"):
        c.check(js[key] == jo[key], "%s: %s %r, LAPACK fold %r" % (what, key, js[key], jo[key]))
    for key in ("sigma", "r2"):
        if jo.get(key) is not None and js["df_resid"] > 0:
            near(js[key], jo[key], tol, "%s: %s against the LAPACK fold" % (what, key))
    for cs, co in zip(js["coefficients"], jo["coefficients"]):
        c.check(cs["aliased"] == co["aliased"], "%s: %s aliased differs" % (what, cs["term"]))
        near(cs["estimate"], co["estimate"], tol, "%s: %s against the LAPACK fold" % (what, cs["term"]))
        if js["df_resid"] > 0 and co["std_error"] is not None:
            near(cs["std_error"], co["std_error"], tol,
                 "%s: %s std error against the LAPACK fold" % (what, cs["term"]))


for feats in (["x1"], ["x1", "x2"]):
    cols = ", ".join(feats)
    got = con.execute("SELECT g, ml_fit(y, %s), ml_fit_opts('{}', y, %s) FROM t GROUP BY g"
                      % (cols, cols)).fetchall()
    c.check(len(got) == len(sizes) * 3, "one model a group: %d" % len(got))
    for g, small, lapack in got:
        what = "group %d (%d rows), y ~ %s" % (g, sizes[g % len(sizes)], " + ".join(feats))
        js, jo = model(small), model(lapack)
        # An aliased column is dropped and the rest re-triangularized: the
        # rounding of two folds then shows at 1e-11.
        compare_lapack(js, jo, what, 1e-9 if g == 10 else 1e-13)
        X, y = reference(g, feats)
        compare_numpy(js, X, y, what)
    # The per-group models merge into the fit of all the rows (groups of one scale).
    merged = con.execute("SELECT ml_merge(m) FROM (SELECT ml_fit(y, %s) AS m FROM t "
                         "WHERE g %% 3 = 0 AND g != 10 GROUP BY g)" % cols).fetchone()[0]
    whole = con.execute("SELECT ml_fit(y, %s) FROM t WHERE g %% 3 = 0 AND g != 10" % cols).fetchone()[0]
    jm, jw = model(merged), model(whole)
    c.check(jm["n"] == jw["n"] and jm["rows_fingerprint"] == jw["rows_fingerprint"],
            "merge of y ~ %s: n and fingerprint" % cols)
    for cm, cw in zip(jm["coefficients"], jw["coefficients"]):
        near(cm["estimate"], cw["estimate"], 1e-12, "merge of y ~ %s: %s" % (cols, cm["term"]))

# A group with no usable row is still an error, named as before.
try:
    con.execute("SELECT ml_fit(y, x1) FROM t WHERE y IS NULL").fetchall()
    c.check(False, "all-NULL rows: no error")
except Exception as e:
    c.check("no usable rows" in str(e), "all-NULL rows: %s" % e)

c.done()
