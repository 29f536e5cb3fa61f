#!/usr/bin/python3
"""examples/node/app.js, as docs/apps.md shows it, with better-sqlite3 12 (from
examples/node/package-lock.json, installed by the Makefile outside the source
tree): it prints the same exact answers as the other examples."""
import os
import subprocess

from embed_test import ROOT, Checker, args, expected_output, apps_doc_shows

a = args("node-modules")
c = Checker("embed node")
apps_doc_shows(c, "examples/node/app.js", "js")
if not os.path.isdir(os.path.join(a.node_modules, "better-sqlite3")):
    # The Makefile says why it did not install it (Node.js older than 20).
    print("embed node: app.js SKIPPED: no better-sqlite3 in %s" % a.node_modules)
    c.done()
want = expected_output(a.ext)
env = dict(os.environ, NODE_PATH=os.path.abspath(a.node_modules))
p = subprocess.run(["node", "examples/node/app.js", a.ext], cwd=ROOT, env=env,
                   capture_output=True, text=True)
c.check(p.returncode == 0 and p.stderr == "", "app.js runs: %s" % p.stderr.strip())
c.check(p.stdout == want, "app.js prints\n%s\nexpected\n%s" % (p.stdout, want))
c.done()
