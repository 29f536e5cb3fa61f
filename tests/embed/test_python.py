#!/usr/bin/python3
"""examples/python/app.py, as docs/apps.md shows it, with Python's standard
sqlite3 module: it prints the exact least-squares answers, which docs/apps.md
shows too."""
import os
import subprocess
import sys

from embed_test import APPS_DOC, ROOT, Checker, args, expected_output, apps_doc_shows

a = args()
c = Checker("embed python")
want = expected_output(a.ext)
p = subprocess.run([sys.executable, "examples/python/app.py", a.ext], cwd=ROOT,
                   capture_output=True, text=True)
c.check(p.returncode == 0 and p.stderr == "", "app.py runs: %s" % p.stderr.strip())
c.check(p.stdout == want, "app.py prints\n%s\nexpected\n%s" % (p.stdout, want))
# As docs/apps.md runs it: from the root, the default path dist/sqlml.
if a.ext == os.path.join(ROOT, "dist", "sqlml.so"):
    p = subprocess.run([sys.executable, "examples/python/app.py"], cwd=ROOT, capture_output=True,
                       text=True)
    c.check(p.stdout == want, "app.py with its default path: %s" % p.stderr.strip())
apps_doc_shows(c, "examples/python/app.py", "python")
doc = open(APPS_DOC).read()
c.check("```\n%s```\n" % want in doc, "docs/apps.md shows what the examples print")
c.done()
