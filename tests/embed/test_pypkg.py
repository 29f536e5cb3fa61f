#!/usr/bin/python3
"""The Python package `make python-package` writes: a py3-none-<platform>
wheel with the extension inside, which pip installs offline into a scratch
venv; there `import sqlml; sqlml.load(con)` gives a connection that trains
and predicts what exact least squares says, with extension loading off
again afterwards."""
import json
import os
import subprocess
import sys
import tempfile
import zipfile

from embed_test import HOUSES, ROOT, Checker, args, expected_output

a = args("wheel")
c = Checker("embed pypkg")
version = open(os.path.join(ROOT, "VERSION")).read().strip()
c.check(os.path.basename(a.wheel) == "sqlml-%s-py3-none-linux_%s.whl" % (version, os.uname().machine),
        "the wheel is tagged py3-none-linux_<machine>: %s" % a.wheel)
with zipfile.ZipFile(a.wheel) as z:
    names = sorted(n for n in z.namelist() if not n.startswith("sqlml-%s.dist-info/" % version))
    wheel_meta = z.read("sqlml-%s.dist-info/WHEEL" % version).decode()
c.check(names == ["sqlml/__init__.py", "sqlml/sqlml.so"], "the wheel's package: %s" % names)
c.check("Root-Is-Purelib: false" in wheel_meta, "a platform wheel (not purelib)")

venv = os.path.join(tempfile.mkdtemp(), "venv")
p = subprocess.run([sys.executable, "-m", "venv", venv], capture_output=True, text=True)
c.check(p.returncode == 0, "python3 -m venv: %s" % p.stderr)
python = os.path.join(venv, "bin", "python")
p = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "--no-index", "--no-build-isolation", os.path.abspath(a.wheel)],
                   capture_output=True, text=True)
c.check(p.returncode == 0, "pip install --no-index the wheel: %s" % p.stderr)

# Run in the venv, from a directory without the sources: only the installed
# package can answer `import sqlml`.
program = """
import json, sqlite3, sys
import sqlml

con = sqlite3.connect(":memory:")
sqlml.load(con)
con.execute("CREATE TABLE houses(id INTEGER PRIMARY KEY, price REAL, sqft REAL, rooms REAL, "
            "city TEXT)")
con.executemany("INSERT INTO houses(price, sqft, rooms, city) VALUES (?, ?, ?, ?)", %r)
(s,) = con.execute("SELECT ml_train('house_price', 'houses', 'price', '[\\"sqft\\",\\"rooms\\"]', "
                   "'{\\"test_size\\":0.25,\\"seed\\":42}')").fetchone()
s = json.loads(s)
lines = ["trained %%s version %%d on %%d rows; test r2 %%.4f on %%d rows"
         %% (s["model"], s["version"], s["n_train"], s["metrics"]["test"]["r2"], s["n_test"])]
lines += ["house %%d: %%.0f sqft, %%.0f rooms: predicted price %%.2f" %% row for row in con.execute(
    "SELECT id, sqft, rooms, ml_predict('house_price', sqft, rooms) FROM houses "
    "WHERE city = 'b' ORDER BY id")]
lines += ["model %%s@%%d: %%d training rows, test r2 %%.4f" %% row for row in con.execute(
    "SELECT name, version, n_train, r2_test FROM ml_models")]
try:
    con.execute("SELECT load_extension(?)", (sqlml.loadable_path(),))
    loading = "on"
except sqlite3.OperationalError as e:
    loading = str(e)
print(json.dumps({"out": "".join(l + "\\n" for l in lines), "path": sqlml.loadable_path(),
                  "version": sqlml.__version__, "loading": loading,
                  "ml_version": con.execute("SELECT ml_version()").fetchone()[0]}))
""" % (HOUSES,)
p = subprocess.run([python, "-c", program], cwd=tempfile.mkdtemp(), capture_output=True, text=True)
if c.check(p.returncode == 0 and p.stderr == "", "import sqlml; sqlml.load(con) in the venv: %s"
           % p.stderr.strip()):
    r = json.loads(p.stdout)
    want = expected_output(a.ext)
    c.check(r["out"] == want, "the installed package prints\n%s\nexpected\n%s" % (r["out"], want))
    c.check(r["path"].startswith(venv + os.sep), "loadable_path() is in the venv: %s" % r["path"])
    c.check(r["version"] == version and r["ml_version"] == version,
            "sqlml.__version__ and ml_version() are %s: %s, %s"
            % (version, r["version"], r["ml_version"]))
    c.check(r["loading"] == "not authorized", "after load(), SQL's load_extension() is refused: %s"
            % r["loading"])
c.done()
