#!/usr/bin/python3
"""The seed pipeline sqlml replaces, as users run it today: read the table
into pandas, hold out 20% (train_test_split, random_state=42), fit
scikit-learn's LinearRegression, score it on the held-out rows, save it with
joblib.  bench.py runs it in a fresh process for its peak RSS.

  pipeline.py DB TABLE TARGET FEATURES_JSON MODEL_OUT

Prints one JSON line: "seconds" from the read to the saved file (the work
ml_train does) and "cpu_seconds" of it, "import_seconds" for loading pandas and scikit-learn, which
a user's process pays too but which the comparison leaves out.  It reads only
the columns the model uses, which favours the baseline.
"""
import json
import sys
import time

t0 = time.perf_counter()
import sqlite3  # noqa: E402

import joblib  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.metrics import mean_squared_error, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

t1, c1 = time.perf_counter(), time.process_time()
db, table, target, features, out = sys.argv[1:6]
features = json.loads(features)
con = sqlite3.connect(db)
cols = ", ".join('"%s"' % c.replace('"', '""') for c in [target] + features)
df = pd.read_sql_query('SELECT %s FROM "%s"' % (cols, table.replace('"', '""')), con)
X, y = df[features], df[target]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
model = LinearRegression().fit(X_train, y_train)
pred = model.predict(X_test)
r2, rmse = r2_score(y_test, pred), mean_squared_error(y_test, pred) ** 0.5
joblib.dump(model, out)
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"seconds": t2 - t1, "cpu_seconds": c2 - c1, "import_seconds": t1 - t0, "r2_test": r2, "rmse_test": rmse}))
