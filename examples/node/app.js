// sqlml from Node.js with better-sqlite3: train a model, predict inside an
// ordinary query, read the registry.  From the repository root, after make:
//   npm install --prefix examples/node && node examples/node/app.js
"use strict";
const Database = require("better-sqlite3");

const extension = process.argv[2] || "dist/sqlml"; // SQLite adds the .so

const db = new Database(":memory:"); // or a file: the models are stored in it
db.loadExtension(extension);

db.exec("CREATE TABLE houses(id INTEGER PRIMARY KEY, price REAL, sqft REAL, rooms REAL, " +
  "city TEXT)");
const insert = db.prepare("INSERT INTO houses(price, sqft, rooms, city) VALUES (?, ?, ?, ?)");
for (const row of [
  [300, 1400, 3, "a"], [410, 2000, 4, "a"], [250, 1100, 2, "b"], [520, 2600, 5, "b"],
  [330, 1500, 3, "a"], [480, 2300, 4, "b"], [365, 1750, 3, "b"], [290, 1300, 2, "a"]])
  insert.run(row);

// Train: the next version of 'house_price' in this database's registry.
const s = JSON.parse(db.prepare("SELECT ml_train('house_price', 'houses', 'price', ?, ?)")
  .pluck().get('["sqft","rooms"]', '{"test_size":0.25,"seed":42}'));
console.log(`trained ${s.model} version ${s.version} on ${s.n_train} rows; ` +
  `test r2 ${s.metrics.test.r2.toFixed(4)} on ${s.n_test} rows`);

// Predict inside a query, by the model's name (its latest version).
for (const h of db.prepare("SELECT id, sqft, rooms, ml_predict('house_price', sqft, rooms) " +
  "AS predicted FROM houses WHERE city = 'b' ORDER BY id").iterate())
  console.log(`house ${h.id}: ${h.sqft.toFixed(0)} sqft, ${h.rooms.toFixed(0)} rooms: ` +
    `predicted price ${h.predicted.toFixed(2)}`);

// The registry: one row per model version.
for (const m of db.prepare("SELECT name, version, n_train, r2_test FROM ml_models").all())
  console.log(`model ${m.name}@${m.version}: ${m.n_train} training rows, ` +
    `test r2 ${m.r2_test.toFixed(4)}`);
db.close();
