#!/usr/bin/python3
"""examples/go/main.go, as docs/apps.md shows it, built offline in GOPATH mode
against Debian's golang-github-mattn-go-sqlite3-dev with the libsqlite3 tag
(so it links the system's SQLite, not mattn's copy): it prints the same
exact answers as the other examples."""
import os
import shutil
import subprocess
import tempfile

from embed_test import ROOT, Checker, args, expected_output, apps_doc_shows

a = args("gocache")
c = Checker("embed go")
apps_doc_shows(c, "examples/go/main.go", "go")
if shutil.which("go") is None:
    print("embed go: main.go SKIPPED: go not found (Debian golang-go)")
    c.done()
p = subprocess.run(["gofmt", "-l", "examples/go"], cwd=ROOT, capture_output=True, text=True)
c.check(p.returncode == 0 and p.stdout == "", "main.go is as gofmt writes it: %s%s"
        % (p.stdout, p.stderr))

tmp = tempfile.mkdtemp()
app = os.path.join(tmp, "app")
env = dict(os.environ, GO111MODULE="off", GOPATH=tmp + ":/usr/share/gocode", GOFLAGS="",
           GOCACHE=os.path.abspath(a.gocache or os.path.join(tmp, "cache")), CGO_ENABLED="1")
p = subprocess.run(["go", "build", "-tags", "libsqlite3", "-o", app, "./examples/go"], cwd=ROOT,
                   env=env, capture_output=True, text=True)
if c.check(p.returncode == 0, "go build -tags libsqlite3 ./examples/go: %s" % p.stderr.strip()):
    q = subprocess.run(["ldd", app], capture_output=True, text=True)
    c.check("libsqlite3.so" in q.stdout, "the program links the system's libsqlite3")
    want = expected_output(a.ext)
    q = subprocess.run([app, a.ext], cwd=ROOT, capture_output=True, text=True)
    c.check(q.returncode == 0 and q.stderr == "", "main.go runs: %s" % q.stderr.strip())
    c.check(q.stdout == want, "main.go prints\n%s\nexpected\n%s" % (q.stdout, want))
    # As docs/apps.md runs it: from the root, the default path dist/sqlml.
    if a.ext == os.path.join(ROOT, "dist", "sqlml.so"):
        q = subprocess.run([app], cwd=ROOT, capture_output=True, text=True)
        c.check(q.stdout == want, "main.go with its default path: %s" % q.stderr.strip())
c.done()
