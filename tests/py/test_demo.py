#!/usr/bin/python3
"""examples/demo.sql, what `make demo` runs, runs without an error, reads
as steps (a numbered heading, printed by .print, before each step's
tables, so a person sees what each table shows), and says what the docs
promises: the split, two versions, the alias, predictions, and metrics on
the rows the production model did not train on, which agree with what
ml_train reported for them."""
import os
import re
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

lines = out.splitlines()
c.check(lines and lines[0].startswith("sqlml demo:"), "the demo starts with its title: %r"
        % (lines[:1],))
steps = [int(m.group(1)) for m in (re.match(r"(\d+)\. \S", line) for line in lines) if m]
c.check(steps == list(range(1, 8)), "the steps are headed 1. to 7., in order: %s" % steps)
# A heading (a line that is not part of a box) comes right before a table.
headings = [i for i, line in enumerate(lines)
            if line.strip() and line[0] not in "┌│├└" and not line.startswith("sqlml demo:")]
for i in headings:
    c.check(i + 1 < len(lines) and lines[i + 1].startswith("┌"),
            "a table follows the heading %r" % lines[i])
tables = [i for i, line in enumerate(lines) if line.startswith("┌")]
# Every table but the second in step 6 (the table of new rows, which its
# heading announces) comes right after a heading.
unheaded = [lines[i + 1] for i in tables if i == 0 or not lines[i - 1].strip()
            or lines[i - 1][0] in "┌│├└"]
c.check(len(unheaded) == 1 and "feature1" in unheaded[0],
        "each table has a heading, but the new rows' one: %s" % unheaded)

# Step 7 evaluates on the test side of the split: the 36 rows, and the r2
# that step 3 reported for them.
step3 = re.search(r"│ 1 +│ 164 +│ 36 +│ ([0-9.]+) +│", out)
r2 = re.search(r"│ r2 +│ ([0-9.]+) +│", out)
n = re.search(r"│ n +│ ([0-9]+) +│", out)
c.check(n is not None and n.group(1) == "36", "step 7 evaluates on the 36 test rows")
c.check(step3 is not None and r2 is not None and "%.4f" % float(r2.group(1)) == step3.group(1),
        "step 7's r2 is step 3's test r2: %s, %s" % (step3 and step3.group(1), r2 and r2.group(1)))
c.done()
