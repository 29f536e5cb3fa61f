#!/usr/bin/python3
"""The documentation cannot drift from the code.  README.md, ARCHITECTURE.md
and docs/*.md:

(a) every ```sql block runs without an error, in order, one sqlite3 shell
    session per file.  A page of docs/ continues the README's session (its
    first sql block: the houses table, the model house_price, the alias
    production); FIXTURES adds what a page needs beyond that.  Blocks that
    must not run (shell commands, outputs, other languages) say so by their
    fence: ```sh, ``` (no language), ```python...;
(b) docs/reference.md has a heading for every function and module the
    extension registers and every table and view of the registry, and every
    heading there names one of them (ml__pass, internal to ml_train, is
    left out and said to be);
(c) every relative link points to a file that exists and, into a Markdown
    file, to a heading's anchor as GitHub computes it."""
import glob
import os
import re
import sqlite3
import subprocess
import tempfile

from sqlml_test import Checker, args

a = args()
c = Checker("docs")
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FILES = ["README.md", "ARCHITECTURE.md"] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
INTERNAL = {"ml__pass", "ml__more"}  # registered, but internal to ml_train: not headings of the reference

# What a page's SQL needs beyond the README's session.
FIXTURES = {
    # Four shard files with a table obs(y, a, b, c), for the ATTACH example.
    "docs/scale-out.md": "".join(
        "ATTACH 'shard%d.db' AS f;\n"
        "CREATE TABLE f.obs(y REAL, a REAL, b REAL, c REAL);\n"
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 20)\n"
        "INSERT INTO f.obs SELECT 1 + 2 * i + (i * i %% 7) + %d, i %% 5, i * i %% 11, i %% 3 FROM k;\n"
        "DETACH f;\n" % (s, s) for s in range(4)),
}


def read(path):
    return open(os.path.join(ROOT, path), encoding="utf-8").read()


def blocks(text):
    """(language, body, first line number of the body) of each fenced block,
    indented ones (inside a list item) dedented."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = re.match(r"^( *)```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start, body = len(m.group(1)), m.group(2), i + 1, []
        i += 1
        while i < len(lines) and not re.match(r"^ *```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        out.append((lang, "\n".join(body) + "\n", start + 1))
        i += 1
    return out


def prose(text):
    """The text outside fenced blocks."""
    return re.sub(r"^ *```.*?^ *```[ \t]*$", "", text, flags=re.S | re.M)


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped (links
    keep their text), spaces to hyphens."""
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text):
    seen, out = {}, set()
    for m in re.finditer(r"^#{1,6} +(.*?)\s*#*\s*$", prose(text), re.M):
        s = slug(m.group(1))
        out.add(s if s not in seen else "%s-%d" % (s, seen[s]))
        seen[s] = seen.get(s, 0) + 1
    return out


# ---- (a) every sql block runs.
session = [b for lang, b, _ in blocks(read("README.md")) if lang == "sql"][0]
for path in FILES:
    sql_blocks = [(b, line) for lang, b, line in blocks(read(path)) if lang == "sql"]
    if not sql_blocks:
        continue
    script, where = [], []  # where[n]: the page and line of the script's line n + 1

    def add(text, origin, first):
        for n, line in enumerate(text.rstrip("\n").split("\n")):
            script.append(line.replace(".load ./dist/sqlml", ".load " + a.ext))
            where.append("%s:%d" % (origin, first + n))

    if path != "README.md":
        add(session, "README.md (session)", 1)
    if path in FIXTURES:
        add(FIXTURES[path], "fixture of " + path, 1)
    for body, line in sql_blocks:
        add(body, path, line)
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(os.path.join(ROOT, "examples"), os.path.join(tmp, "examples"))
        p = subprocess.run([a.sqlite3, "-batch", "-bail", ":memory:"], input="\n".join(script) + "\n",
                           capture_output=True, text=True, cwd=tmp)
    err = p.stderr.strip()
    m = re.search(r"line (\d+)", err)
    if m and 0 < int(m.group(1)) <= len(where):
        err = "at %s: %s" % (where[int(m.group(1)) - 1], err)
    c.check(p.returncode == 0 and p.stderr == "",
            "%s: its %d sql blocks run: %s" % (path, len(sql_blocks), err))
c.check("house_price" in read("README.md"), "the README's session trains house_price")

# ---- (b) docs/reference.md names every function, module, table and view, and no other.
con = sqlite3.connect(":memory:")
con.enable_load_extension(True)
con.load_extension(a.ext)
functions = {r[0] for r in con.execute("SELECT name FROM pragma_function_list WHERE name LIKE 'ml%'")}
modules = {r[0] for r in con.execute("SELECT name FROM pragma_module_list WHERE name LIKE 'ml%'")}
con.execute("CREATE TABLE t(y REAL, x REAL)")
con.execute("INSERT INTO t VALUES (1, 1), (2, 2), (4, 3), (3, 4)")
con.execute("SELECT ml_train('m', 't', 'y', NULL, '{\"test_size\":0}')")
registry = {r[0] for r in con.execute("SELECT name FROM sqlite_schema "
                                      "WHERE type IN ('table', 'view') AND name LIKE 'ml%'")}
con.close()
c.check(INTERNAL <= functions, "ml__pass and ml__more are registered (and left out of the reference)")
c.check({"ml_model_versions", "ml_aliases", "ml_models"} <= registry, "the registry's objects: %s" % registry)
documented = functions - INTERNAL | modules | registry
reference = read("docs/reference.md")
headings = re.findall(r"^#{2,6} +(.*)$", prose(reference), re.M)
named = {}
for h in headings:
    m = re.search(r"\bml_\w+", h)
    c.check(m and m.group(0) in documented,
            "docs/reference.md: the heading %r names a registered function, module, table or view" % h)
    if m:
        named[m.group(0)] = h
missing = sorted(documented - set(named))
c.check(not missing, "docs/reference.md has a heading for each of the %d names: missing %s"
        % (len(documented), missing))
c.check("ml__pass" in prose(reference), "docs/reference.md says why ml__pass is not listed")

# ---- (c) every relative link resolves, anchors included.
links = 0
for path in FILES:
    for target in re.findall(r"\]\(([^)\s]+)\)", re.sub(r"`[^`\n]*`", "", prose(read(path)))):
        if re.match(r"[a-z]+:", target):
            continue
        links += 1
        file, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        if not c.check(os.path.exists(os.path.join(ROOT, dest)), "%s: link %s: no file %s" % (path, target, dest)):
            continue
        if anchor and dest.endswith(".md"):
            c.check(anchor in anchors(read(dest)), "%s: link %s: no heading of %s has the anchor #%s"
                    % (path, target, dest, anchor))
c.check(links > 50, "the pages link to each other (%d relative links)" % links)
c.done()
