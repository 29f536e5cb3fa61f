#!/usr/bin/python3
"""In-place fits, as issue 11 saw them and as they are now.

- ml_fit_opts names its terms (option names) and one-hot encodes features
  named or numbered in option categorical; a wrong feature count in
  ml_predict / ml_predict_interval names the features the model expects.
- ml_merge of fits whose levels differ is the fit of the union of the rows,
  exactly: compared with one fit over all the rows and with R's lm.
- ml_refine refuses rows that are not the model's own (an order-independent
  fingerprint of the fitted rows is in the model), and accepts the same rows
  in any order.

R (Debian r-base-core) is the reference where it says so; without Rscript
those parts say SKIPPED.
"""
import json
import math
import os
import random
import shutil
import sqlite3
import subprocess
import tempfile

from sqlml_test import Checker, args, connect, sections

a = args()
c = Checker("fits")
con = connect(a.ext)
rnd = random.Random(20261129)
RSCRIPT = shutil.which("Rscript")


def one(sql, params=()):
    return con.execute(sql, params).fetchall()[0][0]


def error_of(sql, params=()):
    try:
        con.execute(sql, params).fetchall()
    except sqlite3.Error as e:
        return str(e)
    return None


def check_error(sql, want, what, params=()):
    got = error_of(sql, params)
    c.check(got == want, "%s: error %r, want %r" % (what, got, want))


def model_json(blob):
    return json.loads(one("SELECT ml_model_json(?)", (blob,)))


def rel(x, y):
    if x is None or y is None:
        return 0.0 if x is None and y is None else math.inf
    return abs(x - y) / max(abs(y), 1e-300) if x != y else 0.0


def same_fit(ja, jb, tol, what):
    """Terms, estimates, standard errors, R^2 and sigma of two model JSONs agree."""
    ta = [t["term"] for t in ja["coefficients"]]
    tb = [t["term"] for t in jb["coefficients"]]
    if not c.check(ta == tb, "%s: terms %r and %r" % (what, ta, tb)):
        return
    worst = 0.0
    for x, y in zip(ja["coefficients"], jb["coefficients"]):
        for key in ("estimate", "std_error"):
            worst = max(worst, rel(x[key], y[key]))
    for key in ("r2", "adj_r2", "sigma", "rss"):
        worst = max(worst, rel(ja[key], jb[key]))
    c.check(ja["n"] == jb["n"], "%s: n %r and %r" % (what, ja["n"], jb["n"]))
    c.check(worst <= tol, "%s: largest relative difference %.2e > %g" % (what, worst, tol))


def r_lm(rows, header, formula, factors=()):
    """R's lm on rows: {term: (estimate, std_error)}, r2, sigma; None without R."""
    if not RSCRIPT:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "d.csv")
        with open(path, "w") as f:
            f.write(",".join(header) + "\n")
            for row in rows:
                f.write(",".join(v if isinstance(v, str) else repr(float(v)) for v in row) + "\n")
        script = os.path.join(tmp, "lm.R")
        with open(script, "w") as f:
            f.write("d <- read.csv(commandArgs(TRUE)[1], stringsAsFactors = FALSE)\n")
            for name in factors:
                # Levels sorted by bytes, the first the reference: sqlml's order.
                f.write("d$%s <- factor(d$%s, levels = sort(unique(d$%s), method = 'radix'))\n"
                        % (name, name, name))
            f.write("s <- summary(lm(%s, data = d))\n" % formula)
            f.write("cf <- coef(s)\n")
            f.write("for (i in seq_len(nrow(cf))) cat('coef', rownames(cf)[i], "
                    "sprintf('%.17g', cf[i, 1]), sprintf('%.17g', cf[i, 2]), '\\n')\n")
            f.write("cat('stat r2', sprintf('%.17g', s$r.squared), '\\n')\n")
            f.write("cat('stat sigma', sprintf('%.17g', s$sigma), '\\n')\n")
        out = subprocess.run([RSCRIPT, script, path], capture_output=True, text=True,
                             check=True).stdout
    res = {"coef": {}}
    for line in out.splitlines():
        f = line.split()
        if f[0] == "coef":
            res["coef"][f[1]] = (float(f[2]), float(f[3]))
        else:
            res[f[1]] = float(f[2])
    return res


def against_r(js, r, term_of_r, what, tol=1e-10):
    if r is None:
        print("fits: %s against R: SKIPPED: Rscript not found (Debian r-base-core)" % what)
        return
    mine = {t["term"]: (t["estimate"], t["std_error"]) for t in js["coefficients"]}
    theirs = {term_of_r(k): v for k, v in r["coef"].items()}
    if not c.check(sorted(mine) == sorted(theirs), "%s: terms %r, R %r" % (what, sorted(mine),
                                                                              sorted(theirs))):
        return
    worst = max(max(rel(mine[t][i], theirs[t][i]) for i in (0, 1)) for t in mine)
    worst = max(worst, rel(js["r2"], r["r2"]), rel(js["sigma"], r["sigma"]))
    c.check(worst <= tol, "%s: against R, largest relative difference %.2e > %g" % (what, worst, tol))
    print("fits: %s against R: largest relative difference %.1e" % (what, worst))


# A table of houses: price from sqft, rooms and a city, with noise.
CITIES = ["Boston", "Austin", "Chicago", "Denver"]
con.execute("CREATE TABLE houses(id INTEGER PRIMARY KEY, price REAL, sqft REAL, rooms INTEGER, "
            "city TEXT, shard INTEGER)")
rows = []
for i in range(240):
    city = CITIES[i % 4] if i < 200 else "Boston"
    sqft, rooms = rnd.uniform(600, 3000), rnd.randint(1, 6)
    price = 40 + 0.12 * sqft + 9 * rooms + {"Boston": 60, "Austin": 0, "Chicago": 25,
                                            "Denver": -15}[city] + rnd.gauss(0, 12)
    # Shard 1 has no Denver; shard 2 no Austin; shard 3 only Boston and Chicago.
    shard = 1 + i % 3
    if (shard == 1 and city == "Denver") or (shard == 2 and city == "Austin") or \
       (shard == 3 and city not in ("Boston", "Chicago")):
        shard = 4
    rows.append((price, sqft, rooms, city, shard))
con.executemany("INSERT INTO houses(price, sqft, rooms, city, shard) VALUES (?, ?, ?, ?, ?)", rows)

# ---- item 8: names, categorical, and what ml_predict says it expects ----

# As seen: a per-group ml_fit names its terms x1, x2.
per_group = con.execute("SELECT city, ml_fit(price, sqft, rooms) FROM houses GROUP BY city").fetchall()
c.check([t["term"] for t in model_json(per_group[0][1])["coefficients"]] == ["(Intercept)", "x1", "x2"],
        "ml_fit names its terms x1, x2 (unchanged)")
# Now: option names carries the real names into ml_weights and ml_model_json.
OPTS_NAMES = '{"names":["sqft","rooms"]}'
for city, blob in con.execute("SELECT city, ml_fit_opts(?, price, sqft, rooms) FROM houses GROUP BY city",
                              (OPTS_NAMES,)).fetchall():
    terms = [t for (t,) in con.execute("SELECT term FROM ml_weights(?)", (blob,))]
    c.check(terms == ["(Intercept)", "sqft", "rooms"], "%s: ml_weights terms %r" % (city, terms))
    js = model_json(blob)
    c.check([f["name"] for f in js["features"]] == ["sqft", "rooms"], "%s: feature names" % city)
    plain = model_json(dict(per_group)[city])
    c.check(all(x["estimate"] == y["estimate"] for x, y in zip(js["coefficients"], plain["coefficients"])) or
            max(rel(x["estimate"], y["estimate"]) for x, y in zip(js["coefficients"], plain["coefficients"])) < 1e-12,
            "%s: the named fit is ml_fit's fit" % city)

# Categorical by name and by position: the same model, with R's treatment contrasts.
by_name = one("SELECT ml_fit_opts('{\"names\":[\"sqft\",\"rooms\",\"city\"],\"categorical\":[\"city\"]}', "
              "price, sqft, rooms, city) FROM houses")
by_pos = one("SELECT ml_fit_opts('{\"names\":[\"sqft\",\"rooms\",\"city\"],\"categorical\":[3]}', "
             "price, sqft, rooms, city) FROM houses")
c.check(by_name == by_pos, "categorical by name and by position give the same BLOB")
js = model_json(by_name)
c.check([t["term"] for t in js["coefficients"]] ==
        ["(Intercept)", "sqft", "rooms", "city=Boston", "city=Chicago", "city=Denver"],
        "categorical terms: %r" % [t["term"] for t in js["coefficients"]])
c.check(js["features"][2]["levels"] == ["Austin", "Boston", "Chicago", "Denver"] and
        js["features"][2]["reference"] == "Austin", "levels sorted, the first the reference")
r = r_lm([(p, s, k, ci) for p, s, k, ci, _ in rows], ["price", "sqft", "rooms", "city"],
         "price ~ sqft + rooms + city", factors=["city"])
against_r(js, r, lambda t: "city=" + t[4:] if t.startswith("city") else t, "categorical fit")
c.check(abs(one("SELECT ml_predict(?, 1500, 3, 'Denver')", (by_name,)) -
            (js["coefficients"][0]["estimate"] + 1500 * js["coefficients"][1]["estimate"] +
             3 * js["coefficients"][2]["estimate"] + js["coefficients"][5]["estimate"])) < 1e-9,
        "predict with a level")
check_error("SELECT ml_predict(?, 1500, 3, 'Miami')",
            "ml_predict(): feature 3 (city) has level 'Miami', unseen in training (known: 'Austin', "
            "'Boston', 'Chicago', 'Denver'; train with option "
            "\"unseen\":\"zero\" to read it as the reference level)", "unseen level", (by_name,))
unseen = one("SELECT ml_fit_opts('{\"names\":[\"sqft\",\"rooms\",\"city\"],\"categorical\":[3],"
             "\"unseen\":\"zero\"}', price, sqft, rooms, city) FROM houses")
c.check(one("SELECT ml_predict(?, 1500, 3, 'Miami') = ml_predict(?, 1500, 3, 'Austin')",
            (unseen, unseen)) == 1, "option unseen zero reads a new level as the reference")

# Option errors, with exact texts.
F = "SELECT ml_fit_opts('%s', price, sqft, rooms, city) FROM houses"
for opts, want in [
    ('{"names":["sqft","rooms"]}', "ml_fit_opts(): option names has 2 names for 3 features"),
    ('{"names":["sqft","rooms","city","x"]}', "ml_fit_opts(): option names has 4 names for 3 features"),
    ('{"names":"sqft"}', "ml_fit_opts(): option names must be an array of feature names, one per "
                         "feature, got string"),
    ('{"names":["sqft","rooms",3]}', "ml_fit_opts(): option names must be an array of non-empty "
                                     "strings, got number at position 3"),
    ('{"names":["sqft","","city"]}', 'ml_fit_opts(): option names must be an array of non-empty '
                                     'strings, got "" at position 2'),
    ('{"names":["sqft","Sqft","city"]}', "ml_fit_opts(): option names has 'Sqft' twice"),
    ('{"names":["sqft","rooms","city"],"categorical":["town"]}',
     "ml_fit_opts(): 'town' (option categorical) is not a feature"),
    ('{"categorical":["city"]}', "ml_fit_opts(): 'city' (option categorical) is not a feature "
                                 "(without option names the features are x1, x2, ...)"),
    ('{"categorical":[4]}', "ml_fit_opts(): 4 (option categorical) is not a feature position: "
                            "expected 1 to 3"),
    ('{"categorical":[0]}', "ml_fit_opts(): 0 (option categorical) is not a feature position: "
                            "expected 1 to 3"),
    ('{"categorical":[1.5]}', "ml_fit_opts(): 1.5 (option categorical) is not a feature position: "
                              "expected 1 to 3"),
    ('{"categorical":"city"}', "ml_fit_opts(): option categorical must be an array of feature names "
                               "or 1-based positions"),
    ('{"categorical":[null]}', "ml_fit_opts(): option categorical must be an array of feature names "
                               "or 1-based positions"),
    ('{"unseen":"skip"}', 'ml_fit_opts(): option unseen must be "error" or "zero", got "skip"'),
    ('{"nmes":[]}', "ml_fit_opts(): unknown option 'nmes' (known: intercept, weights, names, "
                    "categorical, unseen, nulls, l2, robust, tol)"),
]:
    check_error(F % opts, want, "options %s" % opts)
# A text value in a feature not declared categorical is still an error that says how.
check_error("SELECT ml_fit_opts('{\"names\":[\"sqft\",\"city\"]}', price, sqft, city) FROM houses",
            "ml_fit_opts(): argument 4 is text ('Boston') in row 1; expected a number (if the text "
            "marks a missing value, NULLIF(column, 'text') makes it NULL)", "text in a numeric feature")

# The wrong-count errors name the features, cut after ten.
check_error("SELECT ml_predict(?, 1500, 3)",
            "ml_predict(): the model expects 3 features (sqft, rooms, city), got 2", "predict count", (by_name,))
check_error("SELECT ml_predict_interval(?, 0.9, 1500, 3)",
            "ml_predict_interval(): the model expects 3 features (sqft, rooms, city), got 2",
            "interval count", (by_name,))
one_feature = one("SELECT ml_fit_opts('{\"names\":[\"sqft\"]}', price, sqft) FROM houses")
check_error("SELECT ml_predict(?, 1, 2)", "ml_predict(): the model expects 1 feature (sqft), got 2",
            "predict count, one feature", (one_feature,))
cols = ", ".join("sqft + %d" % j for j in range(12))
names = json.dumps({"names": ["f%d" % (j + 1) for j in range(12)]})
wide = one("SELECT ml_fit_opts(?, price, %s) FROM houses" % cols, (names,))
check_error("SELECT ml_predict(?, 1)", "ml_predict(): the model expects 12 features (f1, f2, f3, f4, "
            "f5, f6, f7, f8, f9, f10, ...), got 1", "predict count, cut after ten", (wide,))
check_error("SELECT ml_refine(?, price, sqft) FROM houses",
            "ml_refine(): the model has 3 features (sqft, rooms, city), got 1", "refine count", (by_name,))

# ---- item 7: ml_merge of fits whose levels differ ----

CAT = '{"names":["sqft","rooms","city"],"categorical":["city"]}'
shards = con.execute("SELECT shard, ml_fit_opts(?, price, sqft, rooms, city) FROM houses GROUP BY shard "
                     "ORDER BY shard", (CAT,)).fetchall()
levels = [model_json(m)["features"][2]["levels"] for _, m in shards]
c.check(levels == [["Austin", "Boston", "Chicago"], ["Boston", "Chicago", "Denver"], ["Boston", "Chicago"],
                   ["Austin", "Denver"]], "the shards have different levels: %r" % levels)
# As seen: 'feature 2 differs between the models ('Type' and 'Type')'.  Now exact.
con.execute("CREATE TABLE shard_fits AS SELECT shard, ml_fit_opts(?, price, sqft, rooms, city) AS m "
            "FROM houses GROUP BY shard", (CAT,))
merged = model_json(one("SELECT ml_merge(m) FROM shard_fits"))
direct = model_json(by_name)
same_fit(merged, direct, 1e-12, "merge of four shards with different levels vs one fit")
against_r(merged, r, lambda t: "city=" + t[4:] if t.startswith("city") else t, "merged fit")
# Any order, and the scalar form, pair by pair; a merge with a NULL is NULL.
merged_rev = model_json(one("SELECT ml_merge(m) FROM (SELECT m FROM shard_fits ORDER BY shard DESC)"))
same_fit(merged_rev, direct, 1e-12, "merge in the other order")
pair = model_json(one("SELECT ml_merge(ml_merge(a.m, b.m), ml_merge(c.m, d.m)) FROM shard_fits a, "
                      "shard_fits b, shard_fits c, shard_fits d WHERE a.shard = 3 AND b.shard = 2 AND "
                      "c.shard = 4 AND d.shard = 1"))
same_fit(pair, direct, 1e-12, "scalar merges, pair by pair")
two = model_json(one("SELECT ml_merge(a.m, b.m) FROM shard_fits a, shard_fits b "
                     "WHERE a.shard = 1 AND b.shard = 3"))
same_fit(two, model_json(one("SELECT ml_fit_opts(?, price, sqft, rooms, city) FROM houses "
                             "WHERE shard IN (1, 3)", (CAT,))), 1e-12, "two shards, one level fewer")
c.check(model_json(one("SELECT ml_merge(m) FROM shard_fits WHERE shard = 3"))["features"][2]["levels"] ==
        ["Boston", "Chicago"], "a merge of one model keeps its levels")

# Without an intercept the first factor has every level, the second a
# reference; NULL as a level (nulls mean) in one shard only.
con.execute("CREATE TABLE g(y REAL, x REAL, a TEXT, b TEXT, part INTEGER)")
grows = []
for i in range(150):
    ga, gb = "pqrs"[i % 4], "uvw"[(i // 4) % 3]
    part = 1 + i % 3
    if part == 1 and ga == "s": part = 2
    if part == 2 and gb == "u": part = 3
    if part == 3 and ga == "p": part = 1
    x = rnd.uniform(-3, 3)
    y = 2 * x + {"p": 1, "q": -2, "r": 0.5, "s": 3}[ga] + {"u": 0, "v": 1.5, "w": -1}[gb] + rnd.gauss(0, 0.3)
    gb_value = None if part == 1 and i % 7 == 0 else gb
    grows.append((y, x, ga, gb_value, part))
con.executemany("INSERT INTO g VALUES (?, ?, ?, ?, ?)", grows)
G = '{"intercept":false,"nulls":"mean","names":["x","a","b"],"categorical":["a","b"]}'
gparts = con.execute("SELECT ml_fit_opts(?, y, x, a, b) FROM g GROUP BY part", (G,)).fetchall()
gj = [model_json(m) for (m,) in gparts]
c.check([j["features"][1]["levels"] for j in gj] == [["p", "q", "r"], ["p", "r", "s"], ["q", "r", "s"]] and
        [j["features"][2]["levels"] for j in gj] == [["u", "v", "w"], ["v", "w"], ["u", "v", "w"]] and
        [j["features"][2].get("null_level", False) for j in gj] == [True, False, False],
        "no-intercept parts: levels and NULL level differ: %r" %
        [(j["features"][1]["levels"], j["features"][2]["levels"], j["features"][2].get("null_level")) for j in gj])
gm = model_json(one("SELECT ml_merge(m) FROM (SELECT ml_fit_opts(?, y, x, a, b) AS m FROM g GROUP BY part "
                    "ORDER BY part DESC)", (G,)))
gd = model_json(one("SELECT ml_fit_opts(?, y, x, a, b) FROM g", (G,)))
same_fit(gm, gd, 1e-12, "no intercept, two factors, a NULL level: merge vs one fit")

# What still cannot merge, said exactly.
m_sqft = one("SELECT ml_fit_opts('{\"names\":[\"sqft\",\"rooms\"]}', price, sqft, rooms) FROM houses")
m_size = one("SELECT ml_fit_opts('{\"names\":[\"size\",\"rooms\"]}', price, sqft, rooms) FROM houses")
check_error("SELECT ml_merge(?, ?)", "ml_merge(): cannot merge: feature 1 is 'sqft' in one model and "
            "'size' in the other", "merge names", (m_sqft, m_size))
m_num = one("SELECT ml_fit_opts('{\"names\":[\"sqft\",\"rooms\"]}', price, sqft, rooms) FROM houses")
m_cat = one("SELECT ml_fit_opts('{\"names\":[\"sqft\",\"rooms\"],\"categorical\":[2]}', price, sqft, "
            "rooms) FROM houses")
check_error("SELECT ml_merge(?, ?)", "ml_merge(): cannot merge: feature 2 (rooms) is numeric in one model "
            "and categorical in the other", "merge types", (m_num, m_cat))
MEAN = '{"nulls":"mean","names":["sqft","rooms"]}'
m1 = one("SELECT ml_fit_opts(?, price, CASE WHEN id % 5 = 0 THEN NULL ELSE sqft END, rooms) FROM houses "
         "WHERE id <= 100", (MEAN,))
m2 = one("SELECT ml_fit_opts(?, price, CASE WHEN id % 5 = 0 THEN NULL ELSE sqft END, rooms) FROM houses "
         "WHERE id > 100", (MEAN,))
check_error("SELECT ml_merge(?, ?)", "ml_merge(): cannot merge: feature 1 (sqft) reads NULL as its mean, "
            "which differs between the models: the merge would not be the fit of the union of the rows",
            "merge imputed means", (m1, m2))
# A union of levels wider than a model: 600 levels each, 1200 together.
con.execute("CREATE TABLE many(y REAL, x REAL, lvl TEXT, part INTEGER)")
con.executemany("INSERT INTO many VALUES (?, ?, ?, ?)",
                [(rnd.gauss(0, 1), rnd.gauss(0, 1), "L%04d" % (i % 1200), i % 1200 // 600)
                 for i in range(2400)])
check_error("SELECT ml_merge(m) FROM (SELECT ml_fit_opts('{\"categorical\":[2]}', y, x, lvl) AS m "
            "FROM many GROUP BY part)", "ml_merge(): cannot merge: the union of their levels makes 1201 "
            "terms, more than the 1000 a model can have", "merge too wide")
check_error("SELECT ml_fit_opts('{\"names\":[\"x\",\"lvl\"],\"categorical\":[\"lvl\"]}', y, x, lvl) "
            "FROM many", "ml_fit_opts(): feature 'lvl' (argument 4) has too many levels (1000 by row 1001): "
            "a model holds at most 1000 terms", "a categorical feature too wide for a model")

# ---- item 5: ml_refine refuses rows that are not the model's own ----

NOT_OURS = ("ml_refine(): these are not the rows the model was fitted on (n and fingerprint differ); "
            "refine over the same query")
con.execute("CREATE TABLE fit1 AS SELECT ml_fit(price, sqft, rooms) AS m FROM houses")
M = "(SELECT m FROM fit1)"
# As seen: another column over as many rows gave garbage with r2 = 1.  Now refused.
check_error("SELECT ml_refine(%s, price, sqft, shard) FROM houses" % M, NOT_OURS, "another column")
check_error("SELECT ml_refine(%s, price, rooms, sqft) FROM houses" % M, NOT_OURS, "columns swapped")
check_error("SELECT ml_refine(%s, sqft, price, rooms) FROM houses" % M, NOT_OURS, "response swapped")
# The same columns, each with its values, but paired with other rows: y shifted by one row.
check_error("SELECT ml_refine(%s, (SELECT price FROM houses h2 WHERE h2.id = 1 + h.id %% 240), sqft, rooms) "
            "FROM houses h" % M, NOT_OURS, "response paired with other rows")
check_error("SELECT ml_refine(%s, price + CASE WHEN id = 17 THEN 1e-9 ELSE 0 END, sqft, rooms) FROM houses"
            % M, NOT_OURS, "one value off by 1e-9")
check_error("SELECT ml_refine(%s, price, sqft, rooms) FROM houses WHERE id <= 200" % M,
            "ml_refine(): the model was fit on 240 rows, but 200 of these rows are usable: refine over "
            "the same rows", "fewer rows (unchanged)")
# The same rows: refined, in any order; integers and equal reals are the same values.
ref = model_json(one("SELECT ml_refine(%s, price, sqft, rooms) FROM houses" % M))
c.check(ref["refined"] is True and ref["n"] == 240, "the model's own rows refine")
same_fit(ref, model_json(one("SELECT m FROM fit1")), 1e-12, "refined vs fitted (a well-conditioned fit)")
for order in ("sqft DESC", "random()", "city, price"):
    other = model_json(one("SELECT ml_refine(%s, price, sqft, rooms) FROM (SELECT * FROM houses ORDER BY %s)"
                           % (M, order)))
    same_fit(other, ref, 1e-12, "refined over the rows ordered by %s" % order)
c.check(model_json(one("SELECT ml_refine(%s, price, sqft, CAST(rooms AS REAL)) FROM houses" % M))["refined"],
        "an integer column given as reals is the same rows")
# A per-group fit refines over its group; GROUP BY builds the same sums.
con.execute("CREATE TABLE gfits AS SELECT city, ml_fit_opts(?, price, sqft, rooms) AS m FROM houses "
            "GROUP BY city", (OPTS_NAMES,))
refined = con.execute("SELECT h.city, ml_refine(g.m, price, sqft, rooms) FROM houses h JOIN gfits g "
                      "USING (city) GROUP BY h.city").fetchall()
c.check(len(refined) == 4 and all(model_json(b)["refined"] for _, b in refined), "per-group refine")
check_error("SELECT ml_refine((SELECT m FROM gfits WHERE city = 'Austin'), price, sqft, rooms) FROM houses "
            "WHERE city = 'Chicago'", NOT_OURS, "another group's rows, as many")
# A merge's fingerprint is the sum of its parts': the union of the rows refines, other rows do not.
merged_blob = one("SELECT ml_merge(m) FROM shard_fits")
c.check(model_json(one("SELECT ml_refine(?, price, sqft, rooms, city) FROM houses ORDER BY random()",
                       (merged_blob,)))["refined"], "merged shards (levels differ) refine over all rows")
check_error("SELECT ml_refine(?, price, sqft, rooms, CASE WHEN id = 5 THEN 'Denver' ELSE city END) "
            "FROM houses", NOT_OURS, "merged model, one level changed", (merged_blob,))
# Options: weights, NULL as the mean, categorical: the values as the fit had them.
W = '{"weights":true,"nulls":"mean","names":["sqft","city"],"categorical":["city"]}'
con.execute("CREATE TABLE wfit AS SELECT ml_fit_opts(?, 1 + id % 3, price, "
            "CASE WHEN id % 11 = 0 THEN NULL ELSE sqft END, city) AS m FROM houses", (W,))
WM = "(SELECT m FROM wfit)"
c.check(model_json(one("SELECT ml_refine(%s, 1 + id %% 3, price, CASE WHEN id %% 11 = 0 THEN NULL ELSE sqft "
                       "END, city) FROM (SELECT * FROM houses ORDER BY price)" % WM))["refined"],
        "weighted, imputed, categorical: the same rows refine")
check_error("SELECT ml_refine(%s, 2 * (1 + id %% 3), price, CASE WHEN id %% 11 = 0 THEN NULL ELSE sqft END, "
            "city) FROM houses" % WM, NOT_OURS, "weights doubled")
check_error("SELECT ml_refine(%s, 1 + id %% 3, price, CASE WHEN id %% 11 = 1 THEN NULL ELSE sqft END, "
            "city) FROM houses" % WM, NOT_OURS, "NULLs in other rows")


def build(blob, secs):
    """A BLOB with blob's header and these sections, its length and checksum right."""
    import zlib
    body = b"".join(t.encode() + len(p).to_bytes(4, "little") + p for t, p in secs)
    head = blob[:8] + (12 + len(body) + 4).to_bytes(4, "little")
    return head + body + zlib.crc32(head + body).to_bytes(4, "little")


blob = one("SELECT m FROM fit1")
secs = sections(blob)
c.check(build(blob, secs) == blob, "the BLOB rebuilds byte for byte")
rfpr = [p for t, p in secs if t == "rfpr"]
c.check(len(rfpr) == 1 and len(rfpr[0]) == 12 and int.from_bytes(rfpr[0][:4], "little") == 1,
        "section rfpr: scheme 1 and a 64-bit sum")
# Older BLOBs (no rfpr, as every release before wrote them): today's behaviour, the count only.
old = build(blob, [(t, p) for t, p in secs if t != "rfpr"])
old_ref = model_json(one("SELECT ml_refine(?, price, sqft, rooms) FROM houses", (old,)))
same_fit(old_ref, ref, 0, "a model without a fingerprint refines over its rows as before")
c.check(one("SELECT ml_refine(?, price, sqft, shard) FROM houses", (old,)) is not None,
        "a model without a fingerprint is taken at its row count (documented)")
c.check(sections(one("SELECT ml_refine(?, price, sqft, rooms) FROM houses", (old,)))[-1][0] != "rfpr",
        "refining an old model does not invent a fingerprint")
c.check(one("SELECT ml_merge(?, m) FROM fit1", (old,)) is not None and
        "rfpr" not in [t for t, _ in sections(one("SELECT ml_merge(?, m) FROM fit1", (old,)))],
        "a merge with an old model has no fingerprint")
# The fixture written by an older release reads and refines over its rows.
fixture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "models-v1.db")
con.commit()
con.execute("ATTACH ? AS v1", ("file:%s?mode=ro" % fixture,))
c.check(model_json(one("SELECT ml_refine((SELECT m FROM v1.blobs WHERE what = 'fit'), price, sqft, rooms) "
                       "FROM v1.flats"))["refined"], "a format-1 model of an older release refines")
con.execute("DETACH v1")
# Another scheme is read as no fingerprint; a malformed or repeated section is refused.
other_scheme = build(blob, [(t, (2).to_bytes(4, "little") + p[4:] if t == "rfpr" else p) for t, p in secs])
c.check(one("SELECT ml_refine(?, price, sqft, shard) FROM houses", (other_scheme,)) is not None,
        "a fingerprint of another scheme is as none")
check_error("SELECT ml_model_json(?)", "ml_model_json(): argument 1: invalid model BLOB: section rfpr is "
            "malformed", "short rfpr", (build(blob, [(t, p[:8] if t == "rfpr" else p) for t, p in secs]),))
check_error("SELECT ml_model_json(?)", "ml_model_json(): argument 1: invalid model BLOB: repeated section "
            "rfpr", "repeated rfpr", (build(blob, secs + [("rfpr", rfpr[0])]),))

# ml_train models carry the fingerprint too: its training rows refine (in any
# order, with the split's own rule), other rows do not.
con.executescript("""
CREATE TABLE tr(id INTEGER PRIMARY KEY, y REAL, x REAL, z REAL, w REAL);
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 40)
INSERT INTO tr SELECT i, 3 + 2 * i + (i % 5), i, (i * 7) % 11, 1 + i % 3 FROM r;
SELECT ml_train('tr', 'tr', 'y', '["x","z"]', '{"test_size":0.3,"seed":1}');
SELECT ml_train('trw', 'tr', 'y', '["x","z"]', '{"test_size":0,"weights":"w"}');
""")
tr = one("SELECT model FROM ml_model_versions WHERE name = 'tr'")
trw = one("SELECT model FROM ml_model_versions WHERE name = 'trw'")
c.check("rfpr" in [t for t, _ in sections(tr)], "an ml_train model has a fingerprint")
c.check(model_json(one("SELECT ml_refine(?, y, x, z) FROM (SELECT * FROM tr WHERE "
                       "ml_split_of(id, 0.3, 1) = 'train' ORDER BY z DESC)", (tr,)))["refined"],
        "ml_train's training rows, in another order, refine")
check_error("SELECT ml_refine(?, y, z, x) FROM tr WHERE ml_split_of(id, 0.3, 1) = 'train'",
            "ml_refine(): these are not the rows the model was fitted on (n and fingerprint differ); "
            "refine over the same query", "ml_train model, features swapped", (tr,))
c.check(model_json(one("SELECT ml_refine(?, w, y, x, z) FROM tr", (trw,)))["refined"],
        "a weighted ml_train model refines over its rows")
check_error("SELECT ml_refine(?, 1, y, x, z) FROM tr",
            "ml_refine(): these are not the rows the model was fitted on (n and fingerprint differ); "
            "refine over the same query", "weighted ml_train model, other weights", (trw,))

c.done()
