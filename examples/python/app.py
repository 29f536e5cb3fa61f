"""sqlml from Python's standard sqlite3 module: train a model, predict inside
an ordinary query, read the registry.  From the repository root, after make:
    /usr/bin/python3 examples/python/app.py"""
import json
import sqlite3
import sys

extension = sys.argv[1] if len(sys.argv) > 1 else "dist/sqlml"  # SQLite adds the .so

con = sqlite3.connect(":memory:")  # or a file: the models are stored in it
con.enable_load_extension(True)
con.load_extension(extension)
con.enable_load_extension(False)  # and SQL cannot load any other (load_extension())

con.execute("CREATE TABLE houses(id INTEGER PRIMARY KEY, price REAL, sqft REAL, rooms REAL, "
            "city TEXT)")
con.executemany("INSERT INTO houses(price, sqft, rooms, city) VALUES (?, ?, ?, ?)", [
    (300, 1400, 3, "a"), (410, 2000, 4, "a"), (250, 1100, 2, "b"), (520, 2600, 5, "b"),
    (330, 1500, 3, "a"), (480, 2300, 4, "b"), (365, 1750, 3, "b"), (290, 1300, 2, "a")])

# Train: the next version of 'house_price' in this database's registry.
(summary,) = con.execute("SELECT ml_train('house_price', 'houses', 'price', ?, ?)",
                         ('["sqft","rooms"]', '{"test_size":0.25,"seed":42}')).fetchone()
s = json.loads(summary)
print("trained %s version %d on %d rows; test r2 %.4f on %d rows"
      % (s["model"], s["version"], s["n_train"], s["metrics"]["test"]["r2"], s["n_test"]))

# Predict inside a query, by the model's name (its latest version).
for id, sqft, rooms, predicted in con.execute(
        "SELECT id, sqft, rooms, ml_predict('house_price', sqft, rooms) FROM houses "
        "WHERE city = 'b' ORDER BY id"):
    print("house %d: %.0f sqft, %.0f rooms: predicted price %.2f" % (id, sqft, rooms, predicted))

# The registry: one row per model version.
for name, version, n_train, r2_test in con.execute(
        "SELECT name, version, n_train, r2_test FROM ml_models"):
    print("model %s@%d: %d training rows, test r2 %.4f" % (name, version, n_train, r2_test))
con.commit()  # ml_train wrote inside the transaction that the INSERTs opened
