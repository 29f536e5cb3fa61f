"""What the comparisons against R share: the relative difference, and a
connection with the extension loaded."""
import math
import os
import sqlite3


def rel(a, b):
    """Relative difference of a from b; None (a NULL or NA) only equals None."""
    if a is None or b is None:
        return 0.0 if a is None and b is None else math.inf
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(b), 1e-300)


def connect(ext):
    """An in-memory database with the extension at path ext loaded."""
    con = sqlite3.connect(":memory:")
    con.enable_load_extension(True)
    con.load_extension(os.path.abspath(ext))
    return con
