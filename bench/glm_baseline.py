#!/usr/bin/python3
"""The baselines of make bench's binomial GLM case: read the rows from the
SQLite file (Python's sqlite3 into numpy) and fit a logistic regression with
statsmodels' GLM(Binomial) (IRLS) or scikit-learn's
LogisticRegression(penalty=None) (lbfgs).

  glm_baseline.py DB TABLE TARGET FEATURES_JSON statsmodels|sklearn

Prints one JSON line: seconds and cpu_seconds from after the imports to the
fitted coefficients (the read included), the iteration count, the
coefficients (intercept first)."""
import json
import sqlite3
import sys
import time
import warnings

import numpy as np

db, table, target, features, how = sys.argv[1:6]
features = json.loads(features)
if how == "statsmodels":
    import statsmodels.api as sm
else:
    from sklearn.linear_model import LogisticRegression

w0, c0 = time.perf_counter(), time.process_time()
con = sqlite3.connect(db)
cols = ", ".join('"%s"' % c for c in [target] + features)
data = np.array(con.execute("SELECT %s FROM \"%s\"" % (cols, table)).fetchall(), dtype=float)
con.close()
y, X = data[:, 0], data[:, 1:]
if how == "statsmodels":
    res = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit()
    coef, iterations = list(res.params), int(res.fit_history["iteration"])
else:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a ConvergenceWarning is reported by n_iter_ below
        lr = LogisticRegression(penalty=None, max_iter=1000).fit(X, y)
    coef, iterations = [lr.intercept_[0]] + list(lr.coef_[0]), int(lr.n_iter_[0])
print(json.dumps({"seconds": time.perf_counter() - w0, "cpu_seconds": time.process_time() - c0,
                  "iterations": iterations, "coefficients": coef}))
