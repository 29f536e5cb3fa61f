"""sqlml, linear regression inside SQLite, for Python's sqlite3 module.

    import sqlite3
    import sqlml

    con = sqlite3.connect("app.db")
    sqlml.load(con)
    con.execute("SELECT ml_version()")

The package ships the loadable extension itself (sqlml.so, next to this
file); it needs a sqlite3 module built with extension loading, as Debian's
is, and LAPACKE and a BLAS on the system (Debian: liblapacke,
libopenblas0-serial).
"""
import os
from importlib.metadata import version as _version

__version__ = _version(__name__)


def loadable_path():
    """The extension's path without its suffix, which SQLite adds, as
    Connection.load_extension() and SQL's load_extension() take it."""
    return os.path.normpath(os.path.join(os.path.dirname(__file__), "sqlml"))


def load(conn):
    """Loads sqlml into the sqlite3.Connection conn.  Extension loading is
    on only for this call: afterwards SQL cannot load any other library
    with load_extension()."""
    conn.enable_load_extension(True)
    try:
        conn.load_extension(loadable_path())
    finally:
        conn.enable_load_extension(False)
