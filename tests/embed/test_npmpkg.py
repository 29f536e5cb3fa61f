#!/usr/bin/python3
"""The npm package `make npm-package` writes: a tarball with the extension
inside and sqlml's version, which npm installs offline into a scratch
project; there `require("sqlml").load(db)` on a better-sqlite3 database
(the one the Makefile installed for the Node example) trains and predicts
what exact least squares says."""
import json
import os
import subprocess
import tarfile
import tempfile

from embed_test import HOUSES, ROOT, Checker, args, expected_output

a = args("tgz", "node-modules")
c = Checker("embed npmpkg")
version = open(os.path.join(ROOT, "VERSION")).read().strip()
with tarfile.open(a.tgz) as t:
    names = sorted(t.getnames())
    meta = json.load(t.extractfile("package/package.json"))
c.check(names == ["package/README.md", "package/index.d.ts", "package/index.js",
                  "package/package.json", "package/sqlml.so"], "the tarball's files: %s" % names)
c.check(meta.get("name") == "sqlml" and meta.get("version") == version,
        "package.json: sqlml %s: %s %s" % (version, meta.get("name"), meta.get("version")))
node_arch = subprocess.run(["node", "-p", "process.arch"], capture_output=True,
                           text=True).stdout.strip()
c.check(meta.get("os") == ["linux"] and meta.get("cpu") == [node_arch],
        "package.json: os linux, cpu %s: %s %s" % (node_arch, meta.get("os"), meta.get("cpu")))

# npm installs the tarball into a project of its own, from the file alone.
project = tempfile.mkdtemp()
with open(os.path.join(project, "package.json"), "w") as f:
    json.dump({"name": "scratch", "version": "1.0.0", "private": True}, f)
env = dict(os.environ, npm_config_cache=os.path.join(project, ".npm-cache"),
           npm_config_update_notifier="false")
p = subprocess.run(["npm", "install", "--offline", "--no-audit", "--no-fund",
                    os.path.abspath(a.tgz)], cwd=project, env=env, capture_output=True, text=True)
c.check(p.returncode == 0, "npm install --offline the tarball: %s" % p.stderr.strip())
installed = json.load(open(os.path.join(project, "package.json")))
c.check(installed.get("dependencies", {}).get("sqlml", "").startswith("file:"),
        "the project depends on the tarball: %s" % installed.get("dependencies"))

if not os.path.isdir(os.path.join(a.node_modules, "better-sqlite3")):
    # The Makefile says why it did not install it (Node.js older than 20).
    print("embed npmpkg: load SKIPPED: no better-sqlite3 in %s" % a.node_modules)
    c.done()

program = """
const Database = require("better-sqlite3");
const sqlml = require("sqlml");
const db = new Database(":memory:");
sqlml.load(db);
db.exec("CREATE TABLE houses(id INTEGER PRIMARY KEY, price REAL, sqft REAL, rooms REAL, city TEXT)");
const insert = db.prepare("INSERT INTO houses(price, sqft, rooms, city) VALUES (?, ?, ?, ?)");
for (const row of %s) insert.run(row);
const s = JSON.parse(db.prepare("SELECT ml_train('house_price', 'houses', 'price', ?, ?)")
  .pluck().get('["sqft","rooms"]', '{"test_size":0.25,"seed":42}'));
const lines = [`trained ${s.model} version ${s.version} on ${s.n_train} rows; ` +
  `test r2 ${s.metrics.test.r2.toFixed(4)} on ${s.n_test} rows`];
for (const h of db.prepare("SELECT id, sqft, rooms, ml_predict('house_price', sqft, rooms) " +
  "AS predicted FROM houses WHERE city = 'b' ORDER BY id").iterate())
  lines.push(`house ${h.id}: ${h.sqft.toFixed(0)} sqft, ${h.rooms.toFixed(0)} rooms: ` +
    `predicted price ${h.predicted.toFixed(2)}`);
for (const m of db.prepare("SELECT name, version, n_train, r2_test FROM ml_models").all())
  lines.push(`model ${m.name}@${m.version}: ${m.n_train} training rows, ` +
    `test r2 ${m.r2_test.toFixed(4)}`);
console.log(JSON.stringify({ out: lines.map((l) => l + "\\n").join(""),
  path: sqlml.getLoadablePath(),
  version: db.prepare("SELECT ml_version()").pluck().get() }));
""" % json.dumps([list(h) for h in HOUSES])
env = dict(os.environ, NODE_PATH=os.path.abspath(a.node_modules))
p = subprocess.run(["node", "-e", program], cwd=project, env=env, capture_output=True, text=True)
if c.check(p.returncode == 0 and p.stderr == "", 'require("sqlml").load(db): %s'
           % p.stderr.strip()):
    r = json.loads(p.stdout)
    want = expected_output(a.ext)
    c.check(r["out"] == want, "the installed package prints\n%s\nexpected\n%s" % (r["out"], want))
    c.check(r["path"] == os.path.join(os.path.realpath(project), "node_modules", "sqlml", "sqlml.so"),
            "getLoadablePath() is in the project's node_modules: %s" % r["path"])
    c.check(r["version"] == version, "ml_version() is %s: %s" % (version, r["version"]))
c.done()
