"""Shared by the tests of docs/apps.md, "Use from your app": what every
example must print, computed by exact arithmetic, and the check that
docs/apps.md shows each example file as it is."""
import argparse
import os
import sqlite3
import sys
from fractions import Fraction

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "py"))
from sqlml_test import Checker  # noqa: E402,F401

# The table of every example: price, sqft, rooms, city; ids 1..8 in this order.
HOUSES = [(300, 1400, 3, "a"), (410, 2000, 4, "a"), (250, 1100, 2, "b"), (520, 2600, 5, "b"),
          (330, 1500, 3, "a"), (480, 2300, 4, "b"), (365, 1750, 3, "b"), (290, 1300, 2, "a")]


def args(*extra):
    """--ext (the loadable extension) and the options each test names."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", required=True)
    for name in extra:
        ap.add_argument("--" + name, default="")
    a = ap.parse_args()
    a.ext = os.path.abspath(a.ext)
    return a


def _solve(A, b):
    """A x = b by Gauss-Jordan elimination in exact rationals."""
    n = len(b)
    M = [row[:] + [b[i]] for i, row in enumerate(A)]
    for i in range(n):
        piv = next(r for r in range(i, n) if M[r][i] != 0)
        M[i], M[piv] = M[piv], M[i]
        for r in range(n):
            if r != i and M[r][i] != 0:
                f = M[r][i] / M[i][i]
                M[r] = [x - f * y for x, y in zip(M[r], M[i])]
    return [M[i][n] / M[i][i] for i in range(n)]


def expected_output(ext):
    """The lines each example prints: least squares on the training rows
    solved exactly, the sides of the split from ml_split_of (key = id)."""
    con = sqlite3.connect(":memory:")
    con.enable_load_extension(True)
    con.load_extension(ext)
    side = {i: con.execute("SELECT ml_split_of(?, 0.25, 42)", (i,)).fetchone()[0]
            for i in range(1, len(HOUSES) + 1)}
    con.close()
    rows = [(i, Fraction(p), [Fraction(1), Fraction(s), Fraction(r)], city)
            for i, (p, s, r, city) in enumerate(HOUSES, 1)]
    train = [r for r in rows if side[r[0]] == "train"]
    test = [r for r in rows if side[r[0]] == "test"]
    XtX = [[sum(x[j] * x[k] for _, _, x, _ in train) for k in range(3)] for j in range(3)]
    Xty = [sum(x[j] * y for _, y, x, _ in train) for j in range(3)]
    b = _solve(XtX, Xty)

    def predict(x):
        return sum(bj * xj for bj, xj in zip(b, x))

    mean = sum(y for _, y, _, _ in test) / len(test)
    sse = sum((y - predict(x)) ** 2 for _, y, x, _ in test)
    r2 = 1 - sse / sum((y - mean) ** 2 for _, y, _, _ in test)
    lines = ["trained house_price version 1 on %d rows; test r2 %.4f on %d rows"
             % (len(train), float(r2), len(test))]
    for i, _, x, city in rows:
        if city == "b":
            lines.append("house %d: %.0f sqft, %.0f rooms: predicted price %.2f"
                         % (i, float(x[1]), float(x[2]), float(predict(x))))
    lines.append("model house_price@1: %d training rows, test r2 %.4f" % (len(train), float(r2)))
    return "".join(line + "\n" for line in lines)


APPS_DOC = os.path.join(ROOT, "docs", "apps.md")


def apps_doc_shows(c, path, lang):
    """docs/apps.md has the file, whole, as a ```lang block."""
    text = open(os.path.join(ROOT, path)).read()
    doc = open(APPS_DOC).read()
    c.check("```%s\n%s```\n" % (lang, text) in doc, "docs/apps.md shows %s as it is" % path)
