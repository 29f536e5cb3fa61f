// sqlml, linear regression inside SQLite, for Node.js: the loadable
// extension, shipped in this package, and a loader for better-sqlite3 (or
// any database object with a loadExtension(path) method).
//
//   const Database = require("better-sqlite3");
//   const db = new Database("app.db");
//   require("sqlml").load(db);
"use strict";
const fs = require("fs");
const path = require("path");

// The extension's full path inside this package.
function getLoadablePath() {
  const file = path.join(__dirname, "sqlml.so");
  if (!fs.existsSync(file))
    throw new Error(`sqlml: ${file} is missing: this package was not built with make npm-package`);
  return file;
}

// Loads sqlml into db, a better-sqlite3 Database.
function load(db) {
  db.loadExtension(getLoadablePath());
}

module.exports = { getLoadablePath, load };
