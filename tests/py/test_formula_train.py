#!/usr/bin/python3
"""ml_train with a formula as argument 3 (issue 14): what is built so far,
the formula parsed against the source, its columns checked, their kinds and
levels read, the design fixed; and every refusal on the way, each naming
what is wrong.  The fit itself is not built yet, and ml_train says so."""
import re
import sqlite3

from sqlml_test import Checker, args, connect

a = args()
c = Checker("formula_train")
con = connect(a.ext)
con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, y REAL, x REAL, n INTEGER, city TEXT, "
            "grp, w REAL)")
rows = [(i, 1.0 + i, 0.5 * i + 1, i % 4, "abc"[i % 3], ["u", "v"][i % 2], 1.0) for i in range(1, 41)]
con.executemany("INSERT INTO t VALUES (?,?,?,?,?,?,?)", rows)
con.execute("UPDATE t SET x = NULL WHERE id = 7")


def error_of(sql, *params):
    try:
        con.execute(sql, params).fetchall()
    except sqlite3.Error as e:
        return str(e)
    return None


def train_error(formula, features=None, source="t"):
    if features is None:
        return error_of("SELECT ml_train('m', ?, ?)", source, formula)
    return error_of("SELECT ml_train('m', ?, ?, ?)", source, formula, features)


# Syntax: the message points at the offending token by its byte offset.
e = train_error("y ~ x + )")
c.check(e is not None and e.startswith("ml_train(): formula: unexpected ')' at 8"), "bad syntax: %r" % e)
e = train_error("y ~ x + foo(x)")
c.check(e is not None and "unknown function" in e and "at 8" in e, "unknown function: %r" % e)

# A features list with a formula.
e = train_error("y ~ x", '["x"]')
c.check(e is not None and "argument 4 (features) must be omitted or NULL with a formula" in e
        and '["x"]' in e, "features with a formula: %r" % e)

# A column the source lacks, on either side.
e = train_error("y ~ x + z")
c.check(e == "ml_train(): the source 't' has no column 'z', which the formula \"y ~ x + z\" names",
        "missing column: %r" % e)
e = train_error("log(q) ~ x")
c.check(e is not None and "has no column 'q'" in e, "missing response column: %r" % e)

# No response.
e = train_error("~ x")
c.check(e is not None and "has no response" in e, "no response: %r" % e)

# A column's use that does not fit its kind, a level relevel() cannot find.
e = train_error("y ~ log(city)")
c.check(e is not None and e.startswith("ml_train(): formula: city is categorical"), "log of text: %r" % e)
e = train_error('y ~ relevel(city, "z")')
c.check(e == 'ml_train(): formula: relevel(city, "z"): "z" is not a level of city',
        "relevel to a missing level: %r" % e)


# A valid formula: the design is fixed (its columns counted as R's
# model.matrix counts them), then ml_train says the fit is not built yet.
def ncoef(formula):
    e = train_error(formula)
    m = re.search(r"is valid \((\d+) design columns\) but fitting a formula is not built yet", e or "")
    c.check(m is not None, "valid formula %r: %r" % (formula, e))
    return int(m.group(1)) if m else None


# city: 3 levels, grp: 2 (a column without a declared type), n: 4 values.
for formula, p in [("y ~ x", 2), ("y ~ 0 + x", 1), ("y ~ x * city", 6), ("y ~ city:grp", 7),
                   ("log(y) ~ x + I(x^2) + factor(n)", 6), ("y ~ . - id - w", 1 + 1 + 1 + 2 + 1),
                   ('y ~ relevel(city, "b") + poly(x, 2, raw = TRUE)', 5)]:
    got = ncoef(formula)
    c.check(got == p, "%s: %r design columns, expected %d" % (formula, got, p))

# A target without '~' trains as before.
con.execute("SELECT ml_train('plain', 't', 'y', '[\"x\", \"city\"]')").fetchall()
c.check(con.execute("SELECT count(*) FROM ml_weights('plain')").fetchone()[0] == 4, "plain target")

c.done()
