"""Shared helpers of the Python tests: arguments, a connection with the
extension loaded, and checks that count and report."""
import argparse
import os
import sqlite3
import subprocess
import sys


class Checker:
    def __init__(self, name):
        self.name, self.count, self.failures = name, 0, []

    def check(self, ok, what):
        self.count += 1
        if not ok:
            self.failures.append(what)
            print("%s: FAIL %s" % (self.name, what))
        return ok

    def done(self):
        print("%s: %d checks, %d failed" % (self.name, self.count, len(self.failures)))
        sys.exit(1 if self.failures else 0)


def args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", required=True)
    ap.add_argument("--sqlite3", default="sqlite3")
    a = ap.parse_args()
    a.ext = os.path.abspath(a.ext)
    return a


def connect(ext, path=":memory:", **kw):
    con = sqlite3.connect(path, **kw)
    con.enable_load_extension(True)
    con.load_extension(ext)
    return con


SQL_PROCESS = r"""
import sqlite3, sys
con = sqlite3.connect(sys.argv[2], isolation_level=None, timeout=10)
con.enable_load_extension(True)
con.load_extension(sys.argv[1])
for line in sys.stdin:
    try:
        con.execute(line).fetchall()
        print("ok", flush=True)
    except sqlite3.Error as e:
        print("error: %s" % e, flush=True)
"""


class SqlProcess:
    """Another process with its own connection to the database at path and
    the extension loaded: run() executes one statement in autocommit, so it
    is committed when it answers "ok" (or "error: ...")."""

    def __init__(self, ext, path):
        self.p = subprocess.Popen([sys.executable, "-c", SQL_PROCESS, ext, path], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)

    def run(self, sql):
        self.p.stdin.write(sql.replace("\n", " ") + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def error_of(con, sql, *params):
    """The error message of running sql on con, or None when it runs."""
    try:
        con.execute(sql, params).fetchall()
    except sqlite3.Error as e:
        return str(e)
    return None


def sections(blob):
    """The sections of a model BLOB after its 12-byte header: [(tag, payload)]."""
    out, i = [], 12
    while i < len(blob) - 4:
        tag, n = blob[i:i + 4].decode(), int.from_bytes(blob[i + 4:i + 8], "little")
        out.append((tag, blob[i + 8:i + 8 + n]))
        i += 8 + n
    return out


def run_r(rscript, lines, tmpdir):
    """Runs an R script of these lines (written to tmpdir/fits.R) with Rscript; its stdout."""
    path = os.path.join(tmpdir, "fits.R")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return subprocess.run([rscript, path], capture_output=True, text=True, check=True).stdout
