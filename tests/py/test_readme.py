#!/usr/bin/python3
"""Every ```sql block of README.md runs, in order, in one sqlite3 shell
session, without an error: the documentation cannot drift from the code."""
import os
import re
import subprocess

from sqlml_test import Checker, args

a = args()
c = Checker("readme")
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
text = open(os.path.join(root, "README.md")).read()
blocks = re.findall(r"```sql\n(.*?)```", text, re.S)
c.check(len(blocks) >= 5, "README has SQL examples (%d blocks)" % len(blocks))
sql = "\n".join(blocks).replace(".load ./dist/sqlml", ".load " + a.ext)
p = subprocess.run([a.sqlite3, "-batch", ":memory:"], input=sql, capture_output=True, text=True,
                   cwd=root)
c.check(p.stderr == "", "the README's SQL runs without errors: %s" % p.stderr.strip())
c.check(p.returncode == 0, "sqlite3 exits 0")
c.check("house_price" in p.stdout, "the session trains and lists a model")
c.done()
