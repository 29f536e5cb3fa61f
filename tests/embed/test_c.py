#!/usr/bin/python3
"""sqlml linked statically: dist/libsqlml.a and dist/sqlml.h, with the
command line of docs/apps.md.  examples/c/app.c prints the exact answers;
static_check.c checks sqlite3_auto_extension on several connections; the
archive and the loadable extension define no global symbol but
sqlite3_sqlml_init."""
import os
import shlex
import subprocess
import tempfile

from embed_test import ROOT, Checker, args, expected_output, apps_doc_shows

a = args("lib", "include", "cc", "cflags")
c = Checker("embed c")
tmp = tempfile.mkdtemp()
version = open(os.path.join(ROOT, "VERSION")).read().strip()


def build(source, out):
    """cc -Idist -o app SOURCE dist/libsqlml.a -lsqlite3 -llapacke -lblas -lm (as docs/apps.md
    says), with this build's flags (the sanitizers') and warnings on."""
    cmd = (shlex.split(a.cc or "cc") + shlex.split(a.cflags)
           + ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-I" + a.include, "-o", out, source,
              a.lib, "-lsqlite3", "-llapacke", "-lblas", "-lm"])
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    c.check(p.returncode == 0 and p.stderr == "", "%s builds without a warning: %s\n%s"
            % (source, " ".join(cmd), p.stderr))
    return p.returncode == 0


def global_symbols(*nm_args):
    p = subprocess.run(["nm"] + list(nm_args), capture_output=True, text=True, check=True)
    return sorted(line.split()[-1] for line in p.stdout.splitlines()
                  if len(line.split()) >= 2 and line.split()[-2] not in ("U", "w", "v"))


apps_doc_shows(c, "examples/c/app.c", "c")
app = os.path.join(tmp, "app")
if build("examples/c/app.c", app):
    want = expected_output(a.ext)
    p = subprocess.run([app], capture_output=True, text=True)
    c.check(p.returncode == 0 and p.stderr == "", "app runs: %s" % p.stderr.strip())
    c.check(p.stdout == want, "app prints\n%s\nexpected\n%s" % (p.stdout, want))
    leaked = [s for s in global_symbols("-g", "--defined-only", app) if s.startswith("ml_")]
    c.check(leaked == [], "the app has no global ml_ symbol: %s" % leaked[:5])

check = os.path.join(tmp, "static_check")
if build("tests/embed/static_check.c", check):
    p = subprocess.run([check, version], capture_output=True, text=True)
    print(p.stdout, end="")
    c.check(p.returncode == 0, "static_check passes")

lib_syms = global_symbols("-g", "--defined-only", a.lib)
c.check(lib_syms == ["sqlite3_sqlml_init"],
        "%s defines one global symbol: %s" % (a.lib, lib_syms[:10]))
all_syms = subprocess.run(["nm", a.lib], capture_output=True, text=True).stdout
c.check("sqlite3_api" not in all_syms, "the archive calls SQLite directly (SQLITE_CORE), "
        "not through a table of routines")
so_syms = global_symbols("-D", "--defined-only", a.ext)
c.check(so_syms == ["sqlite3_sqlml_init"], "%s exports one symbol: %s" % (a.ext, so_syms[:10]))
c.done()
