#!/usr/bin/python3
"""ROC AUC of binomial models (ext/auc.c, docs/glm.md): ml_train's test
metrics and ml_evaluate against scikit-learn's roc_auc_score, to 1e-12, on
data sets with many tied probabilities (categorical features only), with
prior weights (sample_weight=), text levels and binomial proportions (each
row counted as its w y successes and w (1 - y) failures); the budget
(option auc_max_rows): at it the AUC is there, past it null with a warning
naming the option, never an estimate."""
import json
import math
import random

from sklearn.metrics import roc_auc_score

from sqlml_test import Checker, args, connect

a = args()
c = Checker("auc")
con = connect(a.ext)
rng = random.Random(16)


def close(got, want, what):
    c.check(got is not None and abs(got - want) <= 1e-12,
            "%s: auc %r, scikit-learn %r (difference %s)" %
            (what, got, want, None if got is None else abs(got - want)))


def make(name, n, label, weight=None):
    """Table name(id, x, g, h, y, w): x continuous, g and h categorical."""
    con.execute("DROP TABLE IF EXISTS %s" % name)
    con.execute("CREATE TABLE %s(id INTEGER PRIMARY KEY, x REAL, g TEXT, h TEXT, y, w REAL)" % name)
    rows = []
    for i in range(1, n + 1):
        x, g, h = rng.gauss(0, 1), "abcd"[rng.randrange(4)], "uv"[rng.randrange(2)]
        p = 1 / (1 + math.exp(-(0.8 * x + {"a": -1, "b": 0, "c": 0.5, "d": 1}[g] + (h == "v") * 0.7)))
        rows.append((i, x, g, h, label(rng.random() < p), weight() if weight else 1.0))
    con.executemany("INSERT INTO %s VALUES (?,?,?,?,?,?)" % name, rows)


def test_rows(name, feats, test_size, seed):
    """(probability, y, w) of the rows ml_train put in the test set (key id)."""
    args_sql = ", ".join(feats)
    return con.execute("SELECT ml_predict('m', %s), y, w FROM %s WHERE ml_split_of(id, ?, ?) = 'test'"
                       % (args_sql, name), (test_size, seed)).fetchall()


def train(name, feats, opts):
    opts = dict({"family": "binomial", "key": "id", "test_size": 0.3, "seed": 7}, **opts)
    s = con.execute("SELECT ml_train('m', ?, 'y', ?, ?)",
                    (name, json.dumps(feats), json.dumps(opts))).fetchone()[0]
    return json.loads(s), opts


# 1. Continuous and categorical features; 2. categorical only: a few distinct
# probabilities, so nearly every row ties with others; 3. and 4. weighted.
for name, feats, weight in [("cont", ["x", "g"], None), ("ties", ["g", "h"], None),
                            ("wcont", ["x", "h"], lambda: float(rng.randrange(1, 5))),
                            ("wties", ["g"], lambda: rng.choice([0.5, 1.0, 2.5, 3.0]))]:
    make(name, 3000, int, weight)
    s, opts = train(name, feats, {"weights": "w"} if weight else {})
    rows = test_rows(name, feats, opts["test_size"], opts["seed"])
    c.check(s["metrics"]["test"]["n"] == len(rows), "%s: test n %r, rows %d" %
            (name, s["metrics"]["test"]["n"], len(rows)))
    c.check("auc" not in s["metrics"]["train"], "%s: the train metrics have no auc" % name)
    want = roc_auc_score([r[1] for r in rows], [r[0] for r in rows],
                         sample_weight=[r[2] for r in rows] if weight else None)
    close(s["metrics"]["test"]["auc"], want, name)
    if name == "ties":
        c.check(len(set(r[0] for r in rows)) <= 8, "ties: at most 8 distinct probabilities")

# Text levels: 'no' is 0, 'yes' 1.
make("lev", 1000, lambda b: "yes" if b else "no")
s, opts = train("lev", ["x", "g"], {})
rows = test_rows("lev", ["x", "g"], opts["test_size"], opts["seed"])
close(s["metrics"]["test"]["auc"], roc_auc_score([r[1] == "yes" for r in rows], [r[0] for r in rows]),
      "text levels")

# Binomial proportions of w trials: a row is w y positives and w (1 - y) negatives.
make("prop", 1500, int, lambda: float(rng.randrange(1, 6)))
con.execute("UPDATE prop SET y = CAST(abs(random()) % (CAST(w AS INTEGER) + 1) AS REAL) / w")
s, opts = train("prop", ["x", "g"], {"weights": "w"})
rows = test_rows("prop", ["x", "g"], opts["test_size"], opts["seed"])
lab, sc, sw = [], [], []
for p, y, w in rows:
    for label, weight in ((1, w * y), (0, w * (1 - y))):
        if weight > 0:
            lab.append(label), sc.append(p), sw.append(weight)
close(s["metrics"]["test"]["auc"], roc_auc_score(lab, sc, sample_weight=sw), "proportions")

# ml_evaluate on new rows (unweighted, as its other metrics): ties and not.
for name, feats in [("cont", ["x", "g"]), ("ties", ["g", "h"])]:
    s, opts = train(name, feats, {})
    make("new", 2000, int)
    e = json.loads(con.execute("SELECT ml_evaluate('m', 'new')").fetchone()[0])
    rows = con.execute("SELECT ml_predict('m', %s), y FROM new" % ", ".join(feats)).fetchall()
    close(e["auc"], roc_auc_score([r[1] for r in rows], [r[0] for r in rows]), "ml_evaluate " + name)
    c.check("warnings" not in e, "ml_evaluate %s: no warning" % name)

# One class only: no AUC (scikit-learn refuses it too), null, not 0.5.
con.execute("CREATE TABLE one AS SELECT * FROM new")
con.execute("UPDATE one SET y = 1")
e = json.loads(con.execute("SELECT ml_evaluate('m', 'one')").fetchone()[0])
c.check(e["auc"] is None, "one class: auc %r, want null" % e["auc"])

# The budget: at it the AUC is exact; one entry past it, null and a warning.
s, opts = train("cont", ["x", "g"], {})
n_test = s["metrics"]["test"]["n"]
full = s["metrics"]["test"]["auc"]
s, _ = train("cont", ["x", "g"], {"auc_max_rows": n_test})
c.check(s["metrics"]["test"]["auc"] == full and not any("auc" in w for w in s.get("warnings", [])),
        "auc_max_rows = the test rows: auc %r, want %r" % (s["metrics"]["test"]["auc"], full))
for budget in (n_test - 1, 0):
    s, _ = train("cont", ["x", "g"], {"auc_max_rows": budget})
    warns = [w for w in s.get("warnings", []) if w.startswith("auc:")]
    c.check(s["metrics"]["test"]["auc"] is None, "auc_max_rows %d: auc %r, want null" %
            (budget, s["metrics"]["test"]["auc"]))
    c.check(len(warns) == 1 and "auc_max_rows (%d entries of 8 bytes" % budget in warns[0],
            "auc_max_rows %d: warning %r" % (budget, warns))
s, _ = train("cont", ["x", "g"], {"test_size": 0})
c.check("auc" not in s["metrics"]["test"], "no test rows: no auc key")

c.done()
