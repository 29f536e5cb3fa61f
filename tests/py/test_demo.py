#!/usr/bin/python3
"""examples/demo.sql, what `make demo` runs, runs without an error and says
what the README promises: the split, two versions, the alias, predictions
and metrics on unseen rows."""
import os
import subprocess

from sqlml_test import Checker, args

a = args()
c = Checker("demo")
examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")
sql = open(os.path.join(examples, "demo.sql")).read().replace(".load ../dist/sqlml", ".load " + a.ext)
p = subprocess.run([a.sqlite3, "-batch"], input=sql, capture_output=True, text=True, cwd=examples)
c.check(p.returncode == 0 and p.stderr == "", "the demo runs without errors: %s" % p.stderr.strip())
out = p.stdout
for want in ("│ test  │ 36", "│ train │ 164", "│ demo │ 1", "│ demo │ 2", "production", "feature1",
             "explained_variance"):
    c.check(want in out, "the demo prints %r" % want)
c.done()
