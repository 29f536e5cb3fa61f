#!/usr/bin/python3
"""Compatibility: tests/fixtures/models-v1.db holds models written in BLOB
format 1 by sqlml 0.1.0 (made by tests/fixtures/make_models_v1.py: plain,
categorical with an imputed NULL level, weighted with unseen levels read as
the reference, ridge, robust HC3, no intercept, an alias, and BLOBs of
ml_fit, ml_fit_opts and ml_merge).  The predictions and weights below were
taken when the fixture was made; any later change to the format must keep
reading these models to the same numbers.
"""
import os
import shutil
import tempfile

from sqlml_test import Checker, args, connect

a = args()
c = Checker("fixture")
here = os.path.dirname(os.path.abspath(__file__))
# A copy: the test must not change the committed file, even by a journal.
path = os.path.join(tempfile.mkdtemp(), "models-v1.db")
shutil.copy(os.path.join(here, "..", "fixtures", "models-v1.db"), path)
con = connect(a.ext, path)

PREDICTIONS = [
    ("SELECT ml_predict('plain@1', 1500, 3)", 240.98557087524574),
    ("SELECT ml_predict('plain@production', 900, 1)", 160.82791057450984),
    ("SELECT ml_predict('plain', 1500, 3, 'Boston')", 261.80183936280946),
    ("SELECT ml_predict('plain', 1500, 3, NULL)", 243.15475177057752),
    ("SELECT ml_predict('weighted', 1200, 'Chicago')", 190.2434772306731),
    ("SELECT ml_predict('weighted', 1200, 'Denver')", 201.09121001992804),
    ("SELECT ml_predict('ridge', 1500, 3)", 240.69692761814625),
    ("SELECT ml_predict('robust', 1500, 3)", 240.85853924221837),
    ("SELECT ml_predict('noint', 1500, 'Austin')", 230.8701653684363),
    ("SELECT ml_predict(m, 1500, 3) FROM blobs WHERE what = 'fit'", 240.85853924221837),
    ("SELECT ml_predict(m, 1500) FROM blobs WHERE what = 'fit_opts'", 234.41803128270493),
    ("SELECT ml_predict(m, 1500) FROM blobs WHERE what = 'merge'", 234.7503256247357),
    ("SELECT json_extract(ml_predict_interval('robust', 0.9, 1500, 3), '$.pred_high')", 267.032567717796),
    ("SELECT json_extract(ml_model_json('plain'), '$.r2')", 0.9795624601232655),
    ("SELECT json_extract(ml_model_json('weighted'), '$.loglik')", -223.61925494758435),
]
WEIGHTS = {
    'plain@1': [('(Intercept)', 63.90423373707604, 10.638180805518386), ('sqft', 0.0947414111451097, 0.006846413827563374), ('rooms', 11.656406806835056, 1.9152475167967127)],
    'plain@2': [('(Intercept)', 43.469980350205645, 3.857760733952712), ('sqft', 0.1042814184378972, 0.0022799932881916386), ('rooms', 12.513747507179868, 0.6614043195223339), ('city=Boston', 24.368488834218375, 1.884530380779348), ('city=Chicago', -11.447112236162294, 1.8750761516721473), ('city IS NULL', 5.721401241986455, 2.878055028445967)],
    'weighted': [('(Intercept)', 82.9347177081611, 8.789015003573788), ('sqft', 0.09846374359313913, 0.00594618233552717), ('city=Boston', 23.17764587573662, 4.648640896445281), ('city=Chicago', -10.84773278925493, 4.7023532393533465)],
    'ridge': [('(Intercept)', 57.334268092709195, None), ('sqft', 0.09856693926379685, None), ('rooms', 11.837416876580592, None)],
    'robust': [('(Intercept)', 55.935695791739086, 10.78664347581691), ('sqft', 0.09939747960220686, 0.006515350444498037), ('rooms', 11.942208015722999, 1.8665428275932063)],
    'noint': [('sqft', 0.09827605271023868, 0.005913101239818923), ('city=Austin', 83.4560863030783, 8.867526830787806), ('city=Boston', 105.66651058321187, 8.50271312999011), ('city=Chicago', 71.75978914367236, 8.974015349916701)],
}


def near(x, y, tol):
    if x is None or y is None:
        return x is y
    return abs(x - y) <= tol * max(1.0, abs(y))


# A prediction is a dot product of stored coefficients: it must not move.
for q, want in PREDICTIONS:
    got = con.execute(q).fetchone()[0]
    c.check(near(got, want, 1e-13), "%s: %r, written down %r" % (q, got, want))
# Standard errors are computed from the stored factor when read (LAPACK):
# allow for another BLAS's rounding.
for ref, want in WEIGHTS.items():
    got = con.execute("SELECT term, estimate, std_error FROM ml_weights(?)", (ref,)).fetchall()
    c.check(len(got) == len(want), "%s: %d terms" % (ref, len(want)))
    for (t, e, s), (wt, we, ws) in zip(got, want):
        c.check(t == wt and near(e, we, 1e-13) and near(s, ws, 1e-9),
                "%s %s: (%r, %r), written down (%r, %r)" % (ref, wt, e, s, we, ws))
fmt = {r[0] for r in con.execute("SELECT json_extract(ml_model_json(model), '$.format_version') "
                                 "FROM ml_model_versions UNION SELECT json_extract(ml_model_json(m), "
                                 "'$.format_version') FROM blobs")}
c.check(fmt == {1}, "every model in the fixture is format 1: %r" % fmt)
# Still a registry this sqlml can write to.
v = con.execute("SELECT json_extract(ml_train('plain', 'flats', 'price', '[\"sqft\"]'), '$.version')").fetchone()[0]
c.check(v == 3, "a new version after the old ones: %r" % v)
c.done()
