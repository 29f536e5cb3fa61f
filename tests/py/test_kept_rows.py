#!/usr/bin/python3
"""The refinement step and robust errors over the training rows the first
pass kept (ext/fitacc_rows.c) equal those that read the source again.

"metrics": "full" needs the test rows too, so with it the first pass keeps
no rows and the second look reads the source: {"refine": true, "metrics":
"full"} refines from the source and {"refine": true} from the kept rows,
and the same for "robust".  The same rows in the same order, so the same
sums, and every coefficient and standard error equal to the last bit.  On messy data as users have it: a CSV loaded by the sqlite3
shell's .import --csv (every column TEXT, 'NA' for missing, numbers as
text), NULLs skipped or read as the mean, weights, no intercept, integer
levels, levels few (a dense model) and many (one kept with its block), a
column that the pass first reads as numbers and then finds a level in
(the pass starts again), and an ATTACHed schema with quoted names.
"""
import csv
import json
import os
import random
import subprocess
import tempfile

from sqlml_test import Checker, args, connect

a = args()
c = Checker("kept_rows")
tmp = tempfile.mkdtemp()

# ---- the CSV, loaded as the shell loads it ----
random.seed(11)
path = os.path.join(tmp, "shops.csv")
with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["spend", "visits", "shop", "region", "weight", "band"])
    for i in range(4000):
        shop = "shop %d" % random.randrange(150)
        region = random.choice(["north", "south", "east", "west", "NA"])
        visits = "NA" if random.random() < 0.03 else "%.3f" % random.uniform(0, 20)
        band = str(random.randrange(4))
        base = 100 + 3 * (float(visits) if visits != "NA" else 10) + (hash(shop) % 11)
        w.writerow(["%.6f" % (base + random.gauss(0, 0.5)), visits, shop, region,
                    "%.3f" % random.uniform(0.5, 2), band])
db = os.path.join(tmp, "main.db")
shop_db = os.path.join(tmp, "attached.db")
for target, table in ((db, "shops"), (shop_db, "Shop \"Data\"")):
    r = subprocess.run([a.sqlite3, target], input=".import --csv %s '%s'\n" % (path, table.replace("'", "''")),
                       capture_output=True, text=True)
    c.check(r.returncode == 0, ".import --csv into %s: %s" % (target, r.stderr.strip()))

con = connect(a.ext, db, isolation_level=None)
con.execute("ATTACH ? AS \"other db\"", (shop_db,))
# A column read as numbers for 2000 rows, then a level: the first pass starts again.
con.execute("CREATE TABLE turns AS SELECT * FROM shops")
con.execute("ALTER TABLE turns ADD COLUMN code")
con.execute("UPDATE turns SET code = CASE WHEN rowid <= 3000 THEN rowid % 7 ELSE 'c' || (rowid % 7) END")


def fit(source, features, opts):
    name = "m"
    con.execute("SELECT ml_train(?, ?, 'spend', ?, ?)", (name, source, json.dumps(features), json.dumps(opts)))
    js = json.loads(con.execute("SELECT ml_model_json(?)", (name,)).fetchone()[0])
    return [(t["term"], t["estimate"], t.get("std_error")) for t in js["coefficients"]], js


cases = [
    ("shops", ["visits", "shop"], {}),
    ("shops", ["visits", "shop", "region"], {"nulls": "mean"}),
    ("shops", ["visits", "shop"], {"weights": "weight", "test_size": 0.25}),
    ("shops", ["visits", "shop", "band"], {"categorical": ["band"], "intercept": False}),
    ("shops", ["visits", "region", "band"], {"categorical": ["band"]}),
    ("\"other db\".\"Shop \"\"Data\"\"\"", ["visits", "shop"], {"nulls": "mean"}),
    ("turns", ["visits", "code", "shop"], {}),
]
for source, features, opts in cases:
    what = "%s %s %s" % (source, features, json.dumps(opts))
    kept, js = fit(source, features, dict(opts, refine=True))
    read, _ = fit(source, features, dict(opts, refine=True, metrics="full"))
    c.check(js.get("refined") is True, "%s: refined" % what)
    c.check(kept == read, "%s: from the kept rows as from the source (%d terms)" % (what, len(kept)))
    auto, _ = fit(source, features, opts)
    c.check(len(auto) == len(kept), "%s: auto makes the same terms" % what)

# Robust errors: after a refinement, and alone, on a dense and a numeric model.
for source, features, opts in (
        ("shops", ["visits", "shop"], {"robust": "HC3"}),
        ("shops", ["visits", "region", "band"], {"robust": "HC1", "categorical": ["band"], "nulls": "mean"}),
        ("shops", ["visits", "weight"], {"robust": "HC0", "refine": False}),
        ("shops", ["visits"], {"robust": "HC3", "weights": "weight"})):
    what = "%s %s" % (features, json.dumps(opts))
    kept, js = fit(source, features, opts)
    read, _ = fit(source, features, dict(opts, metrics="full"))
    c.check(js.get("robust") == opts["robust"], "%s: robust errors" % what)
    c.check(kept == read, "%s: from the kept rows as from the source (%d terms)" % (what, len(kept)))

con.close()
c.done()
