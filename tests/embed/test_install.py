#!/usr/bin/python3
"""make install into a scratch DESTDIR (default PREFIX, then another one):
the four files land where docs/apps.md says, pkg-config finds them (through
PKG_CONFIG_SYSROOT_DIR, as for any staged install), examples/c/app.c builds
with `pkg-config --cflags --libs sqlml` alone and prints the exact answers,
the installed extension loads from `extensiondir`, and make uninstall takes
every file away.  A make that runs this test passes its variables (B, SO,
OPT...) on to the make here through MAKEFLAGS, so `make asan` installs and
checks its own build."""
import os
import shlex
import sqlite3
import subprocess
import tempfile

from embed_test import ROOT, Checker, args, expected_output

a = args("cc", "cflags", "make")
c = Checker("embed install")
version = open(os.path.join(ROOT, "VERSION")).read().strip()
want = expected_output(a.ext)


def files_under(d):
    return sorted(os.path.relpath(os.path.join(top, f), d) for top, _, fs in os.walk(d) for f in fs)


for prefix in ("/usr/local", "/opt/sqlml"):
    dest = tempfile.mkdtemp()
    make = shlex.split(a.make or "make") + ["-s", "DESTDIR=" + dest]
    if prefix != "/usr/local":
        make.append("PREFIX=" + prefix)  # else the Makefile's default
    p = subprocess.run(make + ["install"], cwd=ROOT, capture_output=True, text=True)
    if not c.check(p.returncode == 0, "make install %s: %s" % (prefix, p.stderr)):
        continue
    rel = prefix.lstrip("/")
    c.check(files_under(dest) == [rel + "/include/sqlml.h", rel + "/lib/libsqlml.a",
                                  rel + "/lib/pkgconfig/sqlml.pc", rel + "/lib/sqlite3/sqlml.so"],
            "PREFIX=%s: the installed files: %s" % (prefix, files_under(dest)))

    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(dest, rel, "lib", "pkgconfig"),
               PKG_CONFIG_SYSROOT_DIR=dest)

    def pkg_config(*what):
        q = subprocess.run(["pkg-config"] + list(what) + ["sqlml"], env=env, capture_output=True,
                           text=True)
        c.check(q.returncode == 0, "pkg-config %s sqlml: %s" % (" ".join(what), q.stderr.strip()))
        return q.stdout.strip()

    c.check(pkg_config("--modversion") == version, "pkg-config knows version %s" % version)
    flags = pkg_config("--cflags", "--libs")
    for f in ("-I%s/%s/include" % (dest, rel), "-L%s/%s/lib" % (dest, rel), "-lsqlml",
              "-llapacke", "-lblas", "-lm", "-lsqlite3"):
        c.check(f in flags.split(), "pkg-config --cflags --libs has %s: %s" % (f, flags))

    app = os.path.join(dest, "app")
    cmd = (shlex.split(a.cc or "cc") + shlex.split(a.cflags) + ["-o", app, "examples/c/app.c"]
           + shlex.split(flags))
    q = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if c.check(q.returncode == 0, "the C example builds with pkg-config's flags: %s\n%s"
               % (" ".join(cmd), q.stderr)):
        q = subprocess.run([app], capture_output=True, text=True)
        c.check(q.stdout == want and q.returncode == 0,
                "the C example built against the install prints\n%s%s" % (q.stdout, q.stderr))

    extdir = pkg_config("--variable=extensiondir")
    c.check(extdir == os.path.join(dest, rel, "lib", "sqlite3"), "extensiondir: %s" % extdir)
    try:
        con = sqlite3.connect(":memory:")
        con.enable_load_extension(True)
        con.load_extension(os.path.join(extdir, "sqlml"))
        c.check(con.execute("SELECT ml_version()").fetchone()[0] == version,
                "the installed extension loads from extensiondir")
    except sqlite3.Error as e:
        c.check(False, "load the installed extension: %s" % e)

    p = subprocess.run(make + ["uninstall"], cwd=ROOT, capture_output=True, text=True)
    left = [f for f in files_under(dest) if f != "app"]
    c.check(p.returncode == 0 and left == [], "make uninstall removes every file: %s %s"
            % (left, p.stderr))
c.done()
