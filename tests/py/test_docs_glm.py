#!/usr/bin/python3
"""Every ```sql block of docs/glm.md runs, in order, in one sqlite3 shell
session from a fresh database, without an error, and what it prints holds
together: the documentation cannot drift from the code."""
import os
import re
import subprocess

from sqlml_test import Checker, args

a = args()
c = Checker("docs_glm")
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
text = open(os.path.join(root, "docs", "glm.md")).read()
blocks = re.findall(r"```sql\n(.*?)```", text, re.S)
c.check(len(blocks) >= 5, "docs/glm.md has SQL examples (%d blocks)" % len(blocks))
sql = "\n".join(blocks).replace(".load ./dist/sqlml", ".load " + a.ext)
p = subprocess.run([a.sqlite3, "-batch", ":memory:"], input=sql, capture_output=True, text=True,
                   cwd=root)
c.check(p.stderr == "", "docs/glm.md's SQL runs without errors: %s" % p.stderr.strip())
c.check(p.returncode == 0, "sqlite3 exits 0")
out = p.stdout
c.check('["binomial",' in out and '"generalized_linear_model","log",1' in out,
        "the session trains a binomial and a poisson model: %s" % out[:400])
c.check(out.count("\n") >= 12, "the session prints its tables: %d lines" % out.count("\n"))
print(out)
c.done()
