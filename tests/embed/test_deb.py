#!/usr/bin/python3
"""The Debian package `make deb` writes: its control fields (name, version,
architecture, the dependencies dpkg-shlibdeps derived, OpenBLAS first), its
files where Debian puts them, owned by root, with the copyright file and
changelog policy asks for; apt accepts it on this machine (a simulated
install); unpacked into a scratch root (dpkg -x, which changes nothing on
the machine) its extension loads into the sqlite3 shell with
`.load <root>/usr/lib/sqlite3/sqlml` and predicts what exact arithmetic
says, and its sqlml.pc points pkg-config at the files it unpacked, with
which examples/c/app.c builds and prints the same."""
import gzip
import os
import shlex
import subprocess
import tempfile

from embed_test import HOUSES, ROOT, Checker, args, expected_output

a = args("deb", "sqlite3", "cc", "cflags")
c = Checker("embed deb")
version = open(os.path.join(ROOT, "VERSION")).read().strip()
arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                      text=True).stdout.strip()
multiarch = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                           text=True).stdout.strip()
c.check(os.path.basename(a.deb) == "sqlml_%s_%s.deb" % (version, arch),
        "the package is named sqlml_VERSION_ARCH.deb: %s" % a.deb)


def field(name):
    p = subprocess.run(["dpkg-deb", "-f", a.deb, name], capture_output=True, text=True)
    c.check(p.returncode == 0, "dpkg-deb -f %s: %s" % (name, p.stderr.strip()))
    return p.stdout.strip()


c.check(field("Package") == "sqlml", "Package: sqlml")
c.check(field("Version") == version, "Version: %s" % version)
c.check(field("Architecture") == arch, "Architecture: %s" % arch)
c.check(field("Maintainer") != "", "a Maintainer")
depends = [d.strip() for d in field("Depends").split(",")]
for want in ("libsqlite3-0 (>= 3.38)", "libopenblas0-serial | libblas3 | libblas.so.3"):
    c.check(want in depends, "Depends has %r: %s" % (want, depends))
c.check(any(d.startswith("liblapacke (>= ") for d in depends), "Depends has liblapacke (>= ...)")
c.check(any(d.startswith("libc6 (>= ") for d in depends), "Depends has libc6 (>= ...)")
c.check(int(field("Installed-Size")) > 0, "an Installed-Size")

p = subprocess.run(["dpkg-deb", "-c", a.deb], capture_output=True, text=True)
listing = {}
for line in p.stdout.splitlines():
    mode, owner, _size, _day, _time, path = line.split(None, 5)
    listing[path[1:].rstrip("/") or "/"] = (mode, owner)
files = sorted(f for f, (mode, _) in listing.items() if not mode.startswith("d"))
c.check(files == sorted(["/usr/lib/sqlite3/sqlml.so", "/usr/lib/%s/libsqlml.a" % multiarch,
                         "/usr/lib/%s/pkgconfig/sqlml.pc" % multiarch, "/usr/include/sqlml.h",
                         "/usr/share/doc/sqlml/copyright", "/usr/share/doc/sqlml/changelog.gz"]),
        "the package's files: %s" % files)
c.check(all(owner == "root/root" for _, owner in listing.values()), "every file owned by root")
modes = {f: listing[f][0] for f in files}
c.check(all(m == "-rw-r--r--" for m in modes.values()),
        "every file 644, the extension too, as Debian's sqlite3-pcre has it: %s" % modes)

# apt resolves the dependencies without installing anything.
p = subprocess.run(["apt-get", "install", "-s", os.path.abspath(a.deb)], capture_output=True,
                   text=True, env=dict(os.environ, LC_ALL="C"))
c.check(p.returncode == 0 and "Inst sqlml (%s" % version in p.stdout,
        "apt-get install -s accepts the package: %s%s" % (p.stdout[-300:], p.stderr))

root = tempfile.mkdtemp()
p = subprocess.run(["dpkg", "-x", a.deb, root], capture_output=True, text=True)
c.check(p.returncode == 0, "dpkg -x: %s" % p.stderr)
doc = os.path.join(root, "usr/share/doc/sqlml")
copyright = open(os.path.join(doc, "copyright")).read()
c.check(copyright.startswith("Format: https://www.debian.org/doc/packaging-manuals/"
                             "copyright-format/1.0/") and "Files: *" in copyright
        and "License:" in copyright, "copyright in Debian's machine-readable format")
with gzip.open(os.path.join(doc, "changelog.gz"), "rt") as f:
    top = f.readline()
c.check(top.startswith("sqlml (%s) " % version), "the changelog's top entry is %s: %s"
        % (version, top.strip()))
so = os.path.join(root, "usr/lib/sqlite3/sqlml.so")
p = subprocess.run(["readelf", "-S", so], capture_output=True, text=True)
c.check(p.returncode == 0 and ".debug_info" not in p.stdout and ".symtab" not in p.stdout,
        "the packaged extension is stripped, as policy asks")

# The extension from the package, in the sqlite3 shell.
values = ", ".join("(%d, %d, %d, '%s')" % h for h in HOUSES)
sql = """.load %s
CREATE TABLE houses(id INTEGER PRIMARY KEY, price REAL, sqft REAL, rooms REAL, city TEXT);
INSERT INTO houses(price, sqft, rooms, city) VALUES %s;
SELECT printf('trained %%s version %%d on %%d rows; test r2 %%.4f on %%d rows',
  json_extract(s, '$.model'), json_extract(s, '$.version'), json_extract(s, '$.n_train'),
  json_extract(s, '$.metrics.test.r2'), json_extract(s, '$.n_test'))
  FROM (SELECT ml_train('house_price', 'houses', 'price', '["sqft","rooms"]',
                        '{"test_size":0.25,"seed":42}') AS s);
SELECT printf('house %%d: %%.0f sqft, %%.0f rooms: predicted price %%.2f',
  id, sqft, rooms, ml_predict('house_price', sqft, rooms)) FROM houses WHERE city = 'b' ORDER BY id;
SELECT printf('model %%s@%%d: %%d training rows, test r2 %%.4f', name, version, n_train, r2_test)
  FROM ml_models;
""" % (os.path.join(root, "usr/lib/sqlite3/sqlml"), values)
p = subprocess.run([a.sqlite3 or "sqlite3", "-batch", ":memory:"], input=sql, capture_output=True,
                   text=True)
want = expected_output(a.ext)
c.check(p.returncode == 0 and p.stderr == "", "the sqlite3 shell loads the packaged extension: %s"
        % p.stderr.strip())
c.check(p.stdout == want, "the packaged extension prints\n%s\nexpected\n%s" % (p.stdout, want))

# sqlml.pc, relocated into the scratch root as pkg-config does for any sysroot.
env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(root, "usr/lib", multiarch, "pkgconfig"),
           PKG_CONFIG_SYSROOT_DIR=root)
for what, path in (("--variable=extensiondir", root + "/usr/lib/sqlite3"),
                   ("--libs-only-L", "-L%s/usr/lib/%s" % (root, multiarch)),
                   ("--cflags-only-I", "-I%s/usr/include" % root)):
    p = subprocess.run(["pkg-config", what, "sqlml"], env=env, capture_output=True, text=True)
    c.check(p.stdout.strip() == path, "pkg-config %s sqlml: %r, expected %r%s"
            % (what, p.stdout.strip(), path, p.stderr))
p = subprocess.run(["pkg-config", "--cflags", "--libs", "sqlml"], env=env, capture_output=True,
                   text=True)
app = os.path.join(root, "app")
cmd = (shlex.split(a.cc or "cc") + shlex.split(a.cflags) + ["-o", app, "examples/c/app.c"]
       + shlex.split(p.stdout))
p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
if c.check(p.returncode == 0, "the C example builds against the package: %s\n%s"
           % (" ".join(cmd), p.stderr)):
    p = subprocess.run([app], capture_output=True, text=True)
    c.check(p.stdout == want and p.returncode == 0,
            "the C example linked with the package's libsqlml.a prints\n%s%s" % (p.stdout, p.stderr))
c.done()
