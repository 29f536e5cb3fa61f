#!/usr/bin/python3
"""ml_feature_info and ml_drift against numpy.

- The profile ml_train keeps of its training rows (chosen here by
  ml_split_of, the rule ml_train uses): count, NULLs filled, mean, sd
  (ddof 1), min, max equal numpy's; level counts equal a Counter's; the PSI
  bins' shares equal numpy.histogram of the training values over the bins'
  edges, and the bins hold about a tenth of the rows each.
- ml_drift on a batch shifted by a known amount: mean, sd, standardized
  mean difference, sd ratio, share outside the training range, unseen
  levels, and PSI computed here from the documented formula; the shift is
  flagged, an unshifted batch is not; the Mahalanobis distance of the
  batch's design means equals numpy's with the training design covariance.
- A batch read as CSV text (numbers in text, 'NA') reads as the model
  reads; NULLs are counted, not compared.
- Errors: a model without a profile, a missing column, a text that is not
  a number, a source that is not one.
"""
import collections
import json

import numpy as np

from sqlml_test import Checker, args, connect, error_of

a = args()
c = Checker("drift")


def close(x, y, tol=1e-9):
    return x is not None and abs(x - y) <= tol * max(1.0, abs(y))



rng = np.random.default_rng(5)
con = connect(a.ext)
con.execute("CREATE TABLE h(id INTEGER PRIMARY KEY, sqft REAL, rooms REAL, city TEXT, price REAL)")
N = 3000
sqft = rng.lognormal(7, 0.4, N)
rooms = rng.integers(1, 7, N).astype(float)
city = rng.choice(["north", "south", "east"], N, p=[0.5, 0.3, 0.2])
price = 100 + 0.2 * sqft + 15 * rooms + rng.normal(0, 20, N)
rows = [(float(s), float(r), ci, float(p)) for s, r, ci, p in zip(sqft, rooms, city, price)]
for i in range(0, N, 37):  # NULL rooms, filled with the mean
    rows[i] = (rows[i][0], None, rows[i][2], rows[i][3])
con.executemany("INSERT INTO h(sqft, rooms, city, price) VALUES (?,?,?,?)", rows)
con.execute("SELECT ml_train('p', 'h', 'price', '[\"sqft\",\"rooms\",\"city\"]', "
            "'{\"test_size\":0.25,\"seed\":9,\"nulls\":\"mean\"}')").fetchall()
train = con.execute("SELECT sqft, rooms, city FROM h WHERE ml_split_of(id, 0.25, 9) = 'train' ORDER BY id").fetchall()
ts = np.array([r[0] for r in train])
tr = np.array([r[1] for r in train if r[1] is not None])
tc = [r[2] for r in train]

info = {r[0]: r for r in con.execute("SELECT feature, type, n, nulls, mean, sd, min, max, levels, bins "
                                     "FROM ml_feature_info('p')")}
c.check(list(info) == ["sqft", "rooms", "city"], "one row per feature, in order: %s" % list(info))
for name, vals, nulls in (("sqft", ts, 0), ("rooms", tr, len(train) - len(tr))):
    f = info[name]
    c.check(f[1] == "numeric" and f[2] == len(vals) and f[3] == nulls, "%s: counts %s" % (name, f[:4]))
    c.check(close(f[4], vals.mean(), 1e-12) and close(f[5], vals.std(ddof=1), 1e-12) and
            f[6] == vals.min() and f[7] == vals.max(), "%s: moments %s" % (name, f[4:8]))
    bins = json.loads(f[9])
    e, s = np.array(bins["edges"]), np.array(bins["shares"])
    counts = np.histogram(vals, bins=e)[0]
    c.check(np.all(np.diff(e) > 0) and e[0] == vals.min() and e[-1] == vals.max(), "%s: edges %s" % (name, e))
    c.check(np.allclose(s, counts / len(vals), rtol=0, atol=1e-15), "%s: shares as numpy.histogram" % name)
    if name == "sqft":
        c.check(len(s) >= 6 and s.max() < 0.2, "sqft: about tenths %s" % s)
f = info["city"]
c.check(f[1] == "categorical" and f[2] == len(tc) and f[3] == 0 and json.loads(f[8]) == dict(sorted(collections.Counter(tc).items())),
        "city: level counts %s" % f[8])

# ---- ml_drift ----
con.execute("CREATE TABLE batch(sqft REAL, rooms REAL, city TEXT)")
M = 1500
bs = rng.lognormal(7, 0.4, M) * 1.3 + 150  # shifted and stretched
br = rng.integers(1, 7, M).astype(float)
bc = rng.choice(["north", "south", "east", "west"], M, p=[0.3, 0.3, 0.2, 0.2])
con.executemany("INSERT INTO batch VALUES (?,?,?)", [(float(x), float(y), z) for x, y, z in zip(bs, br, bc)])
d = {r[0]: r for r in con.execute("SELECT feature, type, n, nulls, mean, sd, smd, sd_ratio, outside_range, "
                                  "unseen, psi, drifted, mahalanobis FROM ml_drift('p', 'batch')")}


def psi_ref(batch_vals, edges, shares):
    idx = np.clip(np.searchsorted(edges, batch_vals, side="right") - 1, 0, len(shares) - 1)
    b = np.bincount(idx, minlength=len(shares)) / len(batch_vals)
    b, t = np.maximum(b, 1e-4), np.maximum(np.array(shares), 1e-4)
    return float(np.sum((b - t) * np.log(b / t)))


for name, tv, bv in (("sqft", ts, bs), ("rooms", tr, br)):
    r = d[name]
    sd_t = tv.std(ddof=1)
    bins = json.loads(info[name][9])
    c.check(r[2] == len(bv) and r[3] == 0, "%s: counts %s" % (name, r[2:4]))
    c.check(close(r[4], bv.mean()) and close(r[5], bv.std(ddof=1)) and close(r[6], (bv.mean() - tv.mean()) / sd_t)
            and close(r[7], bv.std(ddof=1) / sd_t), "%s: moments %s" % (name, r[4:8]))
    c.check(close(r[8], float(np.mean((bv < tv.min()) | (bv > tv.max())))), "%s: outside %s" % (name, r[8]))
    c.check(close(r[10], psi_ref(bv, np.array(bins["edges"]), bins["shares"])), "%s: psi %s" % (name, r[10]))
c.check(d["sqft"][11] == 1 and d["rooms"][11] == 0, "the shifted feature drifted, the other not: %s %s" % (d["sqft"][11], d["rooms"][11]))
lv = sorted(set(tc))
tcount = collections.Counter(tc)
bcount = collections.Counter(bc)
psi_c = sum((max(bcount[l] / M, 1e-4) - max(tcount[l] / len(tc), 1e-4)) *
            np.log(max(bcount[l] / M, 1e-4) / max(tcount[l] / len(tc), 1e-4)) for l in lv)
unseen = bcount["west"] / M
psi_c += (unseen - 1e-4) * np.log(unseen / 1e-4)
r = d["city"]
c.check(close(r[9], unseen) and close(r[10], psi_c) and r[11] == 1, "city: unseen %s psi %s vs %s" % (r[9], r[10], psi_c))


def design(s, r_, ci, levels):
    return np.column_stack([s, r_] + [(np.array(ci) == l).astype(float) for l in levels[1:]])


# The training design (rooms filled with its training mean), as the model holds it.
rfill = np.array([x if x is not None else tr.mean() for x in (t[1] for t in train)])
X = design(ts, rfill, tc, lv)
S = np.cov(X, rowvar=False)
Xb = design(bs, br, bc, lv)
dm = Xb.mean(axis=0) - X.mean(axis=0)
dm[2:] = [np.mean(np.array(bc) == l) - np.mean(np.array(tc) == l) for l in lv[1:]]
ref = float(np.sqrt(dm @ np.linalg.solve(S, dm)))
c.check(close(d["*"][12], ref, 1e-8), "mahalanobis %s vs numpy %s" % (d["*"][12], ref))
same = {r[0]: r for r in con.execute("SELECT feature, psi, drifted FROM ml_drift('p', "
                                     "'SELECT * FROM h WHERE ml_split_of(id, 0.25, 9) = ''test''')")}
c.check(same["sqft"][2] == 0 and same["city"][2] == 0 and same["sqft"][1] < 0.1, "held-out rows of the same data: %s" % same)

# A CSV batch: every column text, 'NA' as missing.
con.execute("CREATE TABLE csv(sqft TEXT, rooms TEXT, city TEXT)")
con.executemany("INSERT INTO csv VALUES (?,?,?)", [(str(x), "NA" if i % 5 == 0 else str(y), z)
                                                   for i, (x, y, z) in enumerate(zip(bs, br, bc))])
t = {r[0]: r for r in con.execute("SELECT feature, n, nulls, mean FROM ml_drift('p', 'csv')")}
c.check(t["sqft"][1] == M and close(t["sqft"][3], bs.mean()), "numbers in text read as numbers: %s" % (t["sqft"],))
c.check(t["rooms"][2] == M // 5 and t["rooms"][1] == M - M // 5, "'NA' counted as NULL: %s" % (t["rooms"],))

# Errors.
con.execute("CREATE TABLE g(x REAL, y REAL)")
con.executemany("INSERT INTO g VALUES (?, ?)", [(i, 2 * i + 1) for i in range(20)])
for sql, want in [
    ("SELECT * FROM ml_feature_info((SELECT ml_fit(y, x) FROM g))", "keeps no profile"),
    ("SELECT * FROM ml_drift('p', 'g')", "has no column 'sqft'"),
    ("SELECT * FROM ml_drift('p', 'SELECT ''big'' AS sqft, 1 AS rooms, ''north'' AS city')", "feature sqft is not a number in row 1"),
    ("SELECT * FROM ml_drift('p', 42)", "argument 2 must be a table"),
    ("SELECT * FROM ml_drift('p')", "give a model and a source"),
    ("SELECT * FROM ml_feature_info('nope')", "no model named 'nope'"),
    ("SELECT * FROM ml_drift('p', 'DELETE FROM h')", "ml_drift()"),
]:
    err = error_of(con, sql)
    c.check(err is not None and want in err, "%s: %s" % (sql, err))
c.check(con.execute("SELECT count(*) FROM h").fetchone()[0] == N, "nothing written")

# A formula model profiles its raw columns as the same fit without a formula does.
con.execute("SELECT ml_train('pf', 'h', 'log(price) ~ sqft * city + rooms', NULL, "
            "'{\"test_size\":0.25,\"seed\":9}')").fetchall()
con.execute("SELECT ml_train('pl', 'h', 'price', '[\"sqft\",\"city\",\"rooms\"]', "
            "'{\"test_size\":0.25,\"seed\":9}')").fetchall()
info_f = con.execute("SELECT feature, n, mean, sd, min, max, levels, bins FROM ml_feature_info('pf')").fetchall()
info_l = con.execute("SELECT feature, n, mean, sd, min, max, levels, bins FROM ml_feature_info('pl')").fetchall()
c.check(info_f == info_l, "a formula model's profile: %s vs %s" % (info_f, info_l))
m = con.execute("SELECT mahalanobis FROM ml_drift('pf', 'batch') WHERE feature = '*'").fetchone()[0]
c.check(m is None, "no Mahalanobis figure for a formula model (its columns are terms): %s" % m)
c.done()
