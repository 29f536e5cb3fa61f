#!/usr/bin/python3
"""The bad-input matrix: every ml_ function against NULL, the empty string,
the wrong type, huge text, NaN, infinities, negative and zero sizes, 0-row
and 1-row sources, more features than rows, constant and all-NULL columns,
126 features, non-UTF-8 and quoted names, missing tables and columns, and
wrong argument counts.

Each row of CASES is a statement and its answer, run in order on the
fixture below: a value (the first column of the only row), JSON or BLOB
(a JSON text or a model BLOB), or E("...") with the exact error.  Where the
error quotes bytes that are not UTF-8 (the input's own), the message is
bytes: E(b"...").

Notes on answers that are documented rather than errors:
- NaN cannot reach a function from SQL: SQLite stores and binds NaN as NULL,
  so ml_predict(m, NaN) is NULL, as for any NULL feature.
- A NULL model gives NULL (ml_predict, ml_model_json, ml_merge), as SQL
  functions do; where the model must be there (ml_refine, ml_evaluate,
  ml_weights) it is an error.
- Any key has a side (ml_split_of): '', x'', Inf and 100 kB of text too.
- More features than rows (p > n) and constant columns are aliased, as R's
  lm does: the fit succeeds and the column's estimate is NULL.
"""
import json
import sqlite3

from sqlml_test import Checker, args, connect

FIXTURE = """
CREATE TABLE t(id INTEGER PRIMARY KEY, y REAL, x REAL, c TEXT, k REAL, n REAL, "we""ird" REAL, "é" REAL);
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 10)
INSERT INTO t SELECT i, 1 + 2 * i + (i % 3) * 0.5, i, 'c' || (i % 2), 5, NULL, i % 4, i % 3 FROM r;
CREATE TABLE empty(y REAL, x REAL);
CREATE TABLE one(y REAL, x REAL); INSERT INTO one VALUES (1, 2);
CREATE TABLE two(y REAL, x REAL, z REAL); INSERT INTO two VALUES (1, 2, 3), (2, 3, 5);
SELECT ml_train('m', 't', 'y', '["x"]', '{"test_size":0}');
SELECT ml_train('mc', 't', 'y', '["x","c"]', '{"test_size":0}');
CREATE TABLE blobs AS SELECT ml_fit(y, x) AS m FROM t;
"""


class E:
    """An error with exactly this message (str, or bytes when not UTF-8)."""
    def __init__(self, msg):
        self.msg = msg


JSON, BLOB = "a JSON text", "a model BLOB"

CASES = [
    ('SELECT ml_version(1)', E('wrong number of arguments to function ml_version()')),
    ('SELECT ml_fit(NULL, NULL)', E('ml_fit(): no usable rows: all 1 rows have a NULL response or feature')),
    ('SELECT ml_fit(y, x) FROM empty', E('ml_fit(): no rows to fit')),
    ('SELECT ml_fit(y, x) FROM one', BLOB),
    ('SELECT ml_fit(y, x, z) FROM two', BLOB),
    ("SELECT json_extract(ml_model_json(ml_fit(y, x, z)), '$.coefficients[2].aliased') FROM two", 1),
    ("SELECT json_extract(ml_model_json(ml_fit(y, x, k)), '$.coefficients[2].aliased') FROM t", 1),
    ('SELECT ml_fit(y, n) FROM t', E('ml_fit(): no usable rows: all 10 rows have a NULL response or feature')),
    ("SELECT ml_fit(y, '') FROM t", E("ml_fit(): argument 2 is text ('') in row 1; expected a number (if the text marks a missing value, NULLIF(column, 'text') makes it NULL)")),
    ('SELECT ml_fit(y, 1e999) FROM t', E('ml_fit(): argument 2 is infinite in row 1; values must be finite')),
    ('SELECT ml_fit(y, -1e999) FROM t', E('ml_fit(): argument 2 is infinite in row 1; values must be finite')),
    ('SELECT ml_fit(y, zeroblob(3)) FROM t', E('ml_fit(): argument 2 is a blob in row 1; expected a number')),
    ("SELECT ml_fit(y, printf('%.*c', 100000, 'x')) FROM t", E("ml_fit(): argument 2 is text ('xxxxxxxxxxxxxxxxxxxx') in row 1; expected a number (if the text marks a missing value, NULLIF(column, 'text') makes it NULL)")),
    ("SELECT ml_fit(y, CAST(x'ff' AS TEXT)) FROM t", E(b"ml_fit(): argument 2 is text ('\xff') in row 1; expected a number (if the text marks a missing value, NULLIF(column, 'text') makes it NULL)")),
    ("SELECT ml_fit_opts('', y, x) FROM t", E('ml_fit_opts(): options are not valid JSON: unexpected end of text at offset 0')),
    ('SELECT ml_fit_opts(NULL, y, x) FROM t', E('ml_fit_opts(): argument 1 must be a JSON object of options')),
    ('SELECT ml_fit_opts(42, y, x) FROM t', E('ml_fit_opts(): argument 1 must be a JSON object of options')),
    ('SELECT ml_fit_opts(\'{"l2":-1}\', y, x) FROM t', E('ml_fit_opts(): option l2 must be a number >= 0, got -1')),
    ('SELECT ml_fit_opts(\'{"tol":-1}\', y, x) FROM t', E('ml_fit_opts(): option tol must be a number in [0, 1), got -1')),
    ('SELECT ml_fit_opts(\'{"weights":true}\', -1, y, x) FROM t', E('ml_fit_opts(): argument 2 (the weight) is negative in row 1; weights must be >= 0')),
    ('SELECT ml_fit_opts(\'{"weights":true}\', 0, y, x) FROM t', E('ml_fit_opts(): no usable rows: all 10 rows have a NULL response or feature, or a NULL or zero weight')),
    ('SELECT ml_fit_opts(\'{"weights":true}\', 1e999, y, x) FROM t', E('ml_fit_opts(): argument 2 is infinite in row 1; values must be finite')),
    ('SELECT ml_fit_opts(\'{"l2":1e999}\', y, x) FROM t', E('ml_fit_opts(): option l2 must be a number >= 0, got Inf')),
    ("SELECT ml_fit_opts(CAST(x'7b22ff223a317d' AS TEXT), y, x) FROM t", E('ml_fit_opts(): options are not valid JSON: invalid UTF-8 at offset 2')),
    ('SELECT ml_merge(NULL)', None),
    ("SELECT ml_merge('')", E('ml_merge(): argument 1 must be a model BLOB, got text')),
    ('SELECT ml_merge(1)', E('ml_merge(): argument 1 must be a model BLOB, got a number')),
    ("SELECT ml_merge(x'')", E('ml_merge(): argument 1: invalid model BLOB: 0 bytes is too short')),
    ('SELECT ml_merge(NULL, NULL)', None),
    ('SELECT ml_merge(m, 1) FROM blobs', E('ml_merge(): argument 2 must be a model BLOB, got a number')),
    ('SELECT ml_refine(NULL, y, x) FROM t', E('ml_refine(): argument 1 must be a model BLOB, got NULL')),
    ('SELECT ml_refine(m, y, x) FROM blobs, empty', E('ml_refine(): no rows')),
    ("SELECT ml_refine('m', y, x) FROM t", E('ml_refine(): argument 1 must be a model BLOB, got text')),
    ('SELECT ml_predict(NULL, 1)', None),
    ("SELECT ml_predict('', 1)", E("ml_predict(): no model named ''")),
    ("SELECT ml_predict('m')", E('ml_predict(): the model expects 1 feature (x), got 0')),
    ("SELECT ml_predict('m', NULL)", None),
    ("SELECT ml_predict('m', '')", None),  # '' is a na_values text: NULL
    ("SELECT ml_predict('m', 1e999)", E('ml_predict(): feature 1 (x) is infinite; values must be finite')),
    ("SELECT ml_predict('m', x'00')", E('ml_predict(): feature 1 (x) is a blob; expected a number')),
    ("SELECT ml_predict('m', printf('%.*c', 100000, 'x'))", E("ml_predict(): feature 1 (x) is text ('xxxxxxxxxxxxxxxxxxxx'), not a number nor one of the model's na_values; expected a number or NULL")),
    ("SELECT ml_predict(printf('%.*c', 100000, 'x'), 1)", E("ml_predict(): no model named 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'")),
    ('SELECT ml_predict(1.5, 1)', E('ml_predict(): argument 1 must be a model BLOB or a model name, got a number')),
    ("SELECT ml_predict(x'', 1)", E('ml_predict(): argument 1: invalid model BLOB: 0 bytes is too short')),
    ("SELECT ml_predict('m@', 1)", E("ml_predict(): model 'm' has no alias ''")),
    ("SELECT ml_predict('m@0', 1)", E("ml_predict(): model 'm' has no version 0 (versions 1 to 1)")),
    ("SELECT ml_predict('m@-1', 1)", E("ml_predict(): model 'm' has no alias '-1'")),
    ("SELECT ml_predict('m@99999999999999999999', 1)", E("ml_predict(): model 'm' has no version 99999999999999999999 (versions 1 to 1)")),
    ("SELECT ml_predict('@', 1)", E("ml_predict(): no model named ''")),
    ("SELECT ml_predict(CAST(x'6dff' AS TEXT), 1)", E(b"ml_predict(): no model named 'm\xff'")),
    ("SELECT ml_predict('mc', 1, CAST(x'ff' AS TEXT))", E(b'ml_predict(): feature 2 (c) has level \'\xff\', unseen in training (known: \'c0\', \'c1\'; train with option "unseen":"zero" to read it as the reference level)')),
    ("SELECT ml_predict('mc', 1, '')", None),  # '' is a na_values text: NULL
    ("SELECT ml_predict('mc', 1, 0)", E('ml_predict(): feature 2 (c) has level \'0\', unseen in training (known: \'c0\', \'c1\'; train with option "unseen":"zero" to read it as the reference level)')),
    ("SELECT ml_predict('mc', 1, 'é' || printf('%.*c', 30, 'é'))", E('ml_predict(): feature 2 (c) has level \'ééééééééééééééééééééééééééééééé\', unseen in training (known: \'c0\', \'c1\'; train with option "unseen":"zero" to read it as the reference level)')),
    ("SELECT ml_predict_interval('m', NULL, 1)", E('ml_predict_interval(): level must be a number in (0, 1), like 0.95')),
    ("SELECT ml_predict_interval('m', 0, 1)", E('ml_predict_interval(): level must be a number in (0, 1), like 0.95')),
    ("SELECT ml_predict_interval('m', 1, 1)", E('ml_predict_interval(): level must be a number in (0, 1), like 0.95')),
    ("SELECT ml_predict_interval('m', -0.5, 1)", E('ml_predict_interval(): level must be a number in (0, 1), like 0.95')),
    ("SELECT ml_predict_interval('m', 1e999, 1)", E('ml_predict_interval(): level must be a number in (0, 1), like 0.95')),
    ("SELECT ml_predict_interval('m', '0.9', 1)", E('ml_predict_interval(): level must be a number in (0, 1), like 0.95')),
    ("SELECT ml_predict_interval('m')", E('ml_predict_interval(): expected a model, a level and its features')),
    ('SELECT ml_predict_interval(NULL, 0.9, 1)', None),
    ('SELECT ml_model_json(NULL)', None),
    ("SELECT ml_model_json('')", E("ml_model_json(): no model named ''")),
    ("SELECT ml_model_json('m', 0)", E('ml_model_json(): level must be a number in (0, 1), like 0.95')),
    ("SELECT ml_model_json('m', NULL)", E('ml_model_json(): level must be a number in (0, 1), like 0.95')),
    ("SELECT ml_model_json('m', 2)", E('ml_model_json(): level must be a number in (0, 1), like 0.95')),
    ('SELECT ml_model_json(3)', E('ml_model_json(): argument 1 must be a model BLOB or a model name, got a number')),
    ('SELECT ml_model_json()', E('wrong number of arguments to function ml_model_json()')),
    ("SELECT ml_model_json('m', 0.9, 1)", E('wrong number of arguments to function ml_model_json()')),
    ("SELECT ml_train(NULL, 't', 'y')", E('ml_train(): the model name must be a non-empty text')),
    ("SELECT ml_train('', 't', 'y')", E('ml_train(): the model name must be a non-empty text')),
    ("SELECT ml_train('a@b', 't', 'y')", E("ml_train(): model name 'a@b' holds '@', which starts a version or alias")),
    ("SELECT ml_train(1, 't', 'y')", E('ml_train(): the model name must be a non-empty text')),
    ("SELECT ml_train('z', NULL, 'y')", E('ml_train(): argument 2 must be a table, a view or a query')),
    ("SELECT ml_train('z', '', 'y')", E('ml_train(): the source is empty; give a table, a view or a query')),
    ("SELECT ml_train('z', 'nosuch', 'y')", E("ml_train(): no table or view named 'nosuch'")),
    ("SELECT ml_train('z', 't', 'nosuch')", E("ml_train(): the source 't' has no column 'nosuch' (the target)")),
    ("SELECT ml_train('z', 't', NULL)", E('ml_train(): argument 3 must be the name of the target column')),
    ("SELECT ml_train('z', 't', '')", E('ml_train(): argument 3 must be the name of the target column')),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["nosuch"]\')', E("ml_train(): the source 't' has no column 'nosuch'")),
    ("SELECT ml_train('z', 't', 'y', '[]')", E("ml_train(): features must be a JSON array of column names, or '*'")),
    ("SELECT ml_train('z', 't', 'y', '')", E('ml_train(): features are not valid JSON: unexpected end of text at offset 0')),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["x","x"]\')', E("ml_train(): feature 'x' is listed twice")),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["y"]\')', E("ml_train(): 'y' is the target; it cannot be a feature too")),
    ("SELECT ml_train('z', 't', 'y', 42)", E("ml_train(): argument 4 must be a JSON array of feature names, or '*'")),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["x"]\', \'\')', E('ml_train(): options are not valid JSON: unexpected end of text at offset 0')),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["x"]\', 42)', E('ml_train(): argument 5 must be a JSON object of options')),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["x"]\', \'{"test_size":-0.1}\')', E('ml_train(): option test_size must be a number in [0, 1), got -0.1')),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["x"]\', \'{"test_size":1}\')', E('ml_train(): option test_size must be a number in [0, 1), got 1')),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["x"]\', \'{"l2":-1}\')', E('ml_train(): option l2 must be a number >= 0, or (with cv) a non-empty array of them, got -1')),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["x"]\', \'{"seed":0.5}\')', E('ml_train(): option seed must be an integer, got 0.5')),
    ("SELECT ml_train('z', 'empty', 'y')", E('ml_train(): no rows to train on: 0 rows read, 0 skipped for a NULL, 0 in the test set')),
    ('SELECT ml_train(\'z\', \'one\', \'y\', \'["x"]\', \'{"test_size":0}\')', JSON),
    ('SELECT ml_train(\'z\', \'two\', \'y\', \'["x","z"]\', \'{"test_size":0}\')', JSON),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["n"]\')', E('ml_train(): no rows to train on: 10 rows read, 10 skipped for a NULL, 0 in the test set')),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["k"]\', \'{"test_size":0}\')', JSON),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["we\\"ird"]\', \'{"test_size":0}\')', JSON),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["é"]\', \'{"test_size":0}\')', JSON),
    ("SELECT ml_train('z', 'DELETE FROM t', 'y')", E("ml_train(): no table or view named 'DELETE FROM t'")),
    ("SELECT ml_train('z', 'SELECT * FROM t; DELETE FROM t', 'y')", E('ml_train(): the source must be one statement')),
    ("SELECT ml_train('z', 'SELECT * FROM nosuch', 'y')", E('ml_train(): the source query does not compile: no such table: nosuch')),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["x"]\', \'{"key":"nosuch"}\')', E("ml_train(): the source 't' has no column 'nosuch' (option key)")),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["x"]\', \'{"weights":"nosuch"}\')', E("ml_train(): the source 't' has no column 'nosuch' (option weights)")),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["x"]\', \'{"weights":"c"}\')', E('ml_train(): column \'c\' is text (\'c1\') in row 1 (rowid 1), not a number: if it marks a missing value, list it in option "na_values" (or use NULLIF("c", \'c1\') in a query source)')),
    ("SELECT ml_train('z', 't')", E('ml_train(): expected a name, a source, a target, [features, [options]], got 2 arguments')),
    ('SELECT ml_train(\'z\', \'t\', \'y\', \'["x"]\', \'{}\', 6)', E('ml_train(): expected a name, a source, a target, [features, [options]], got 6 arguments')),
    ("SELECT ml_train('z', CAST(x'74ff' AS TEXT), 'y')", E(b"ml_train(): no table or view named 't\xff'")),
    ("SELECT ml_evaluate(NULL, 't')", E('ml_evaluate(): argument 1 must be a model BLOB or a model name, got NULL')),
    ("SELECT ml_evaluate('m', NULL)", E('ml_evaluate(): argument 2 must be a table, a view or a query')),
    ("SELECT ml_evaluate('m', '')", E('ml_evaluate(): the source is empty; give a table, a view or a query')),
    ("SELECT ml_evaluate('m', 'nosuch')", E("ml_evaluate(): no table or view named 'nosuch'")),
    ("SELECT ml_evaluate('m', 'empty')", JSON),
    ("SELECT ml_evaluate('m', 't', 'nosuch')", E("ml_evaluate(): the source 't' has no column 'nosuch' (the target)")),
    ("SELECT ml_evaluate('m', 'two', 'y')", JSON),
    ("SELECT ml_evaluate('m', 't', 'c')", E("ml_evaluate(): column 'c' is text ('c1') in row 1; expected a number (if the text marks a missing value, NULLIF(column, 'text') makes it NULL)")),
    ("SELECT ml_evaluate('m')", E('wrong number of arguments to function ml_evaluate()')),
    ("SELECT ml_alias(NULL, 'p', 1)", E('ml_alias(): argument 1 must be a model name')),
    ("SELECT ml_alias('m', NULL, 1)", E('ml_alias(): argument 2 must be an alias name')),
    ("SELECT ml_alias('m', '', 1)", E('ml_alias(): argument 2 must be an alias name')),
    ("SELECT ml_alias('m', '12', 1)", E("ml_alias(): alias '12' would read as a version; use a name with a letter and no '@'")),
    ("SELECT ml_alias('m', 'a@b', 1)", E("ml_alias(): alias 'a@b' would read as a version; use a name with a letter and no '@'")),
    ("SELECT ml_alias('m', 'p', 0)", E('ml_alias(): argument 3 must be a version number, or NULL to remove the alias')),
    ("SELECT ml_alias('m', 'p', -1)", E('ml_alias(): argument 3 must be a version number, or NULL to remove the alias')),
    ("SELECT ml_alias('m', 'p', 99)", E("ml_alias(): model 'm' has no version 99")),
    ("SELECT ml_alias('m', 'p', 1.5)", E('ml_alias(): argument 3 must be a version number, or NULL to remove the alias')),
    ("SELECT ml_alias('m', 'p', '1')", E('ml_alias(): argument 3 must be a version number, or NULL to remove the alias')),
    ("SELECT ml_alias('nosuch', 'p', 1)", E("ml_alias(): model 'nosuch' has no version 1")),
    ("SELECT ml_alias('m', 'p')", E('wrong number of arguments to function ml_alias()')),
    ('SELECT ml_drop(NULL)', E('ml_drop(): argument 1 must be a model name')),
    ("SELECT ml_drop('')", E('ml_drop(): argument 1 must be a model name')),
    ("SELECT ml_drop('nosuch')", E("ml_drop(): no model named 'nosuch'")),
    ("SELECT ml_drop('m', 0)", E('ml_drop(): argument 2 must be a version number')),
    ("SELECT ml_drop('m', NULL)", E('ml_drop(): argument 2 must be a version number')),
    ("SELECT ml_drop('m', 99)", E("ml_drop(): model 'm' has no version 99")),
    ("SELECT ml_drop('m', 1, 2)", E('wrong number of arguments to function ml_drop()')),
    ('SELECT ml_split_of(NULL, 0.2, 1)', E('ml_split_of(): the key is NULL; a NULL key has no side')),
    ('SELECT ml_split_of(1, NULL, 1)', E('ml_split_of(): test_size must be a number in (0, 1), got NULL')),
    ('SELECT ml_split_of(1, 0, 1)', E('ml_split_of(): test_size must be a number in (0, 1), got 0')),
    ('SELECT ml_split_of(1, 1, 1)', E('ml_split_of(): test_size must be a number in (0, 1), got 1')),
    ('SELECT ml_split_of(1, -0.2, 1)', E('ml_split_of(): test_size must be a number in (0, 1), got -0.2')),
    ('SELECT ml_split_of(1, 1e999, 1)', E('ml_split_of(): test_size must be a number in (0, 1), got Inf')),
    ('SELECT ml_split_of(1, 0.2, NULL)', E('ml_split_of(): seed must be an integer, got NULL')),
    ('SELECT ml_split_of(1, 0.2, 1.5)', E('ml_split_of(): seed must be an integer, got 1.5')),
    ('SELECT ml_split_of(1, 0.2, 0.9, 1)', E('ml_split_of(): test_size + valid_size must be below 1, got 0.2 + 0.9')),
    ('SELECT ml_split_of(1, 0.2, -0.1, 1)', E('ml_split_of(): valid_size must be a number in [0, 1), got -0.1')),
    ("SELECT ml_split_of('', 0.2, 1)", 'train'),
    ("SELECT ml_split_of(x'', 0.2, 1)", 'train'),
    ('SELECT ml_split_of(1e999, 0.2, 1)', 'train'),
    ("SELECT ml_split_of(printf('%.*c', 100000, 'x'), 0.2, 1)", 'train'),
    ('SELECT ml_split_of(1, 0.2)', E('wrong number of arguments to function ml_split_of()')),
    ('SELECT * FROM ml_weights(NULL)', E('ml_weights(): the model must be a name or a model BLOB')),
    ("SELECT * FROM ml_weights('')", E("ml_weights(): no model named ''")),
    ('SELECT * FROM ml_weights(1)', E('ml_weights(): the model must be a name or a model BLOB')),
    ("SELECT * FROM ml_weights('m', 0)", E('ml_weights(): level must be a number in (0, 1), like 0.95')),
    ("SELECT * FROM ml_weights('m', NULL)", E('ml_weights(): level must be a number in (0, 1), like 0.95')),
    ("SELECT * FROM ml_weights('nosuch')", E("ml_weights(): no model named 'nosuch'")),
    ('SELECT * FROM ml_weights', E("ml_weights(): give a model: SELECT * FROM ml_weights('name')")),
    ("SELECT count(*) FROM ml_weights('m', 0.9, 1)", E('too many arguments on ml_weights() - max 2')),
    ('CREATE VIRTUAL TABLE s1 USING ml_split()', E('ml_split: missing the source: ml_split(table, test_size=..., seed=...)')),
    ('CREATE VIRTUAL TABLE s2 USING ml_split(nosuch)', E("ml_split: no table or view named 'nosuch' in schema 'main'")),
    ('CREATE VIRTUAL TABLE s3 USING ml_split(t, test_size=0)', E('ml_split: test_size must be a number in (0, 1), got 0')),
    ('CREATE VIRTUAL TABLE s4 USING ml_split(t, test_size=-1)', E('ml_split: test_size must be a number in (0, 1), got -1')),
    ('CREATE VIRTUAL TABLE s5 USING ml_split(t, test_size=NaN)', E('ml_split: test_size must be a number in (0, 1), got NaN')),
    ('CREATE VIRTUAL TABLE s6 USING ml_split(t, test_size=inf)', E('ml_split: test_size must be a number in (0, 1), got inf')),
    ('CREATE VIRTUAL TABLE s7 USING ml_split(t, seed=1.5)', E('ml_split: seed must be an integer, got 1.5')),
    ('CREATE VIRTUAL TABLE s8 USING ml_split(t, key=nosuch)', E('ml_split: key nosuch is not a column of t')),
    ("CREATE VIRTUAL TABLE s9 USING ml_split(t, test_size='')", E('ml_split: test_size must be a number in (0, 1), got nothing')),
    ('CREATE VIRTUAL TABLE s10 USING ml_split(empty)', []),
    ('CREATE VIRTUAL TABLE s11 USING ml_split(t, seed=99999999999999999999)', E('ml_split: seed must be an integer, got 99999999999999999999')),
    ('CREATE VIRTUAL TABLE s12 USING ml_split("we""ird")', E('ml_split: no table or view named \'we"ird\' in schema \'main\'')),
    ("SELECT ml_predict('m', 'é' || printf('%.*c', 30, 'é'))", E("ml_predict(): feature 1 (x) is text ('éééééééééééééééééééé'), not a number nor one of the model's na_values; expected a number or NULL")),
    ("SELECT ml_predict('m', ?)", None),

]


def answer(con, sql):
    params = (float("nan"),) if "?" in sql else ()
    try:
        rows = con.execute(sql, params).fetchall()
    except UnicodeDecodeError as e:  # Python cannot decode a message that quotes non-UTF-8 input
        return E(e.object)
    except sqlite3.Error as e:
        return E(str(e))
    return rows[0][0] if len(rows) == 1 and len(rows[0]) == 1 else rows


def matches(got, want):
    if isinstance(want, E):
        return isinstance(got, E) and got.msg == want.msg
    if isinstance(got, E):
        return False
    if want is JSON:
        return isinstance(got, str) and isinstance(json.loads(got), dict)
    if want is BLOB:
        return isinstance(got, bytes) and got[:4] == b"SQML"
    return got == want


a = args()
c = Checker("bad_inputs")
con = connect(a.ext)
con.executescript(FIXTURE)
for sql, want in CASES:
    got = answer(con, sql)
    c.check(matches(got, want), "%s: got %r, want %r" % (sql[:120], got.msg if isinstance(got, E) else got,
                                                        want.msg if isinstance(want, E) else want))

# 126 features (SQLite's argument limit leaves 126 after the response) and one past it.
cols = ", ".join("x AS x%d" % i for i in range(126))
con.execute("CREATE TABLE wide AS SELECT y, %s FROM t" % cols)
xs = ", ".join("x%d" % i for i in range(126))
c.check(matches(answer(con, "SELECT ml_fit(y, %s) FROM wide" % xs), BLOB), "ml_fit with 126 features")
p126 = answer(con, "SELECT ml_predict((SELECT ml_fit(y, %s) FROM wide), %s) FROM wide LIMIT 1" % (xs, xs))
p1 = answer(con, "SELECT ml_predict((SELECT ml_fit(y, x0) FROM wide), x0) FROM wide LIMIT 1")
c.check(abs(p126 - p1) < 1e-9 * abs(p1), "126 copies of one column: 125 aliased, the prediction of one (%r, %r)"
        % (p126, p1))
c.check(matches(answer(con, "SELECT ml_fit(y, %s, x0) FROM wide" % xs),
                E("too many arguments on function ml_fit")), "127 features: SQLite refuses")
c.check(matches(answer(con, "SELECT ml_train('w', 'wide', 'y', '*', '{\"test_size\":0}')"), JSON),
        "ml_train with 126 features")

# Regressions (issue 7): a query of 1100 columns crashed ml_train (a stack
# array of 1001); a text column of distinct values took minutes and memory
# without bound before the term limit was seen.
cols = ", ".join("%d AS c%d" % (i, i) for i in range(1100))
c.check(matches(answer(con, "SELECT ml_train('w', 'SELECT 1.0 AS y, %s UNION ALL SELECT 2.0, %s', 'y')"
                       % (cols, cols)),
                E("ml_train(): 1100 features, more than the 1000 terms a model can hold")),
        "1100 features from a query")
con.execute("CREATE TABLE names(y REAL, name TEXT)")
con.executemany("INSERT INTO names VALUES (?, ?)", [(i * 0.5, "n%d" % i) for i in range(20000)])
import time
t0 = time.monotonic()
got = answer(con, "SELECT ml_train('w', 'names', 'y', '*', '{\"test_size\":0}')")
took = time.monotonic() - t0
c.check(matches(got, E("ml_train(): feature 'name' has too many levels (1000 by row 1001): a model "
                       "holds at most 1000 terms")), "20000 distinct levels: %r" % (got.msg if isinstance(got, E) else got))
c.check(took < 60, "refused within 60 s (took %.1f s)" % took)
print("bad_inputs: %d cases in the matrix; 20000 levels refused in %.1f s" % (len(CASES), took))
c.done()
