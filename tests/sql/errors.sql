-- Error messages: each names the function, the argument, what was expected
-- and what was found.  An `-- error:` line gives the exact text.

CREATE TABLE t(y REAL, x REAL, s TEXT);
INSERT INTO t VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 4, '1.5');
CREATE TABLE empty(y REAL, x REAL);
CREATE TABLE nulls(y REAL, x REAL);
INSERT INTO nulls VALUES (NULL, 1), (2, NULL);

-- error: ml_fit(): argument 2 is text ('a') in row 1; expected a number (if the text marks a missing value, NULLIF(column, 'text') makes it NULL)
SELECT ml_fit(y, s) FROM t;
-- error: ml_fit(): argument 3 is text ('1.5') in row 3; expected a number (CAST it AS REAL, or give the column a numeric type)
SELECT ml_fit(y, x, CASE WHEN rowid = 3 THEN s ELSE x END) FROM t;
-- error: ml_fit(): argument 1 is a blob in row 1; expected a number
SELECT ml_fit(x'00', x) FROM t;
-- error: ml_fit(): argument 2 is infinite in row 2; values must be finite
SELECT ml_fit(y, CASE WHEN rowid = 2 THEN 1e999 ELSE x END) FROM t;
-- error: ml_fit(): expected a response and at least one feature, got 1 arguments
SELECT ml_fit(y) FROM t;
-- error: ml_fit(): no rows to fit
SELECT ml_fit(y, x) FROM empty;
-- error: ml_fit(): no usable rows: all 2 rows have a NULL response or feature
SELECT ml_fit(y, x) FROM nulls;
-- error: ml_fit_opts(): no rows to fit
SELECT ml_fit_opts('{}', y, x) FROM empty;
-- error: ml_fit_opts(): unknown option 'intercpt' (known: intercept, weights, names, categorical, unseen, nulls, l2, robust, tol)
SELECT ml_fit_opts('{"intercpt":false}', y, x) FROM t;
-- error: ml_fit_opts(): options are not valid JSON: expected ',' or '}' at offset 18
SELECT ml_fit_opts('{"intercept":false', y, x) FROM t;
-- error: ml_fit_opts(): options must be a JSON object, got array
SELECT ml_fit_opts('[]', y, x) FROM t;
-- error: ml_fit_opts(): option intercept must be true or false, got 0
SELECT ml_fit_opts('{"intercept":0}', y, x) FROM t;
-- error: ml_fit_opts(): option tol must be a number in [0, 1), got 1
SELECT ml_fit_opts('{"tol":1}', y, x) FROM t;
-- error: ml_fit_opts(): argument 1 must be a JSON object of options
SELECT ml_fit_opts(NULL, y, x) FROM t;
-- error: ml_fit_opts(): the options changed between rows; they must be the same
SELECT ml_fit_opts(CASE WHEN rowid = 1 THEN '{}' ELSE '{"tol":0}' END, y, x) FROM t;
-- error: ml_fit_opts(): expected options, a response and at least one feature, got 2 arguments
SELECT ml_fit_opts('{}', y) FROM t;

-- error: ml_predict(): the model expects 1 feature (x1), got 2
SELECT ml_predict(ml_fit(y, x), 1, 2) FROM t;
-- error: ml_predict(): feature 1 (x1) is text ('abc'); expected a number (if the text marks a missing value, NULLIF(column, 'text') makes it NULL)
SELECT ml_predict((SELECT ml_fit(y, x) FROM t), 'abc');
-- error: ml_predict(): feature 2 (x2) is infinite; values must be finite
SELECT ml_predict((SELECT ml_fit(y, x, x * x) FROM t), 1, 1e999);
-- error: ml_predict(): argument 1 must be a model BLOB or a model name, got a number
SELECT ml_predict(42, 1);
-- error: ml_predict(): argument 1: not an sqlml model BLOB (bad magic)
SELECT ml_predict(x'0102030405060708090a0b0c0d0e0f10', 1);
-- error: ml_predict(): argument 1: invalid model BLOB: 3 bytes is too short
SELECT ml_predict(x'010203', 1);
-- error: ml_predict(): expected a model and its features
SELECT ml_predict();
-- A model with one byte cut off, or one byte changed.
CREATE TABLE m AS SELECT ml_fit(y, x) AS m FROM t;
-- error: ml_predict(): argument 1: invalid model BLOB: 227 bytes where its header says 228 (truncated or padded)
SELECT ml_predict(substr(m, 1, length(m) - 1), 1) FROM m;
-- error: ml_model_json(): argument 1: invalid model BLOB: checksum mismatch (corrupted)
SELECT ml_model_json(CAST(substr(m, 1, 40) || x'ff' || substr(m, 42) AS BLOB)) FROM m;

-- error: ml_merge(): argument 1 must be a model BLOB, got text
SELECT ml_merge('abc');
-- error: ml_merge(): cannot merge: the models have 1 and 2 features
SELECT ml_merge(a.m, b.m) FROM (SELECT ml_fit(y, x) AS m FROM t) a, (SELECT ml_fit(y, x, x * x) AS m FROM t) b;
-- error: ml_merge(): cannot merge: one model has an intercept and the other has not
SELECT ml_merge(m) FROM (SELECT ml_fit(y, x) AS m FROM t UNION ALL SELECT ml_fit_opts('{"intercept":false}', y, x) FROM t);
-- error: ml_merge(): cannot merge: feature 1 is 'x1' in one model and 'x' in the other
SELECT ml_merge(m) FROM (SELECT ml_fit(y, x) AS m FROM t UNION ALL SELECT ml_fit_opts('{"names":["x"]}', y, x) FROM t);
-- error: ml_fit_opts(): option names has 1 name for 2 features
SELECT ml_fit_opts('{"names":["x"]}', y, x, x * x) FROM t;
-- error: ml_fit_opts(): 's' (option categorical) is not a feature
SELECT ml_fit_opts('{"names":["x","t"],"categorical":["s"]}', y, x, s) FROM t;
SELECT 'merge_levels', json_extract(ml_model_json(ml_merge(m)), '$.features[1].levels') = '["1.5","a","b"]'
  FROM (SELECT ml_fit_opts('{"names":["x","s"],"categorical":["s"]}', y, x, s) AS m FROM t GROUP BY rowid = 1);

-- error: ml_refine(): the model was fit on 3 rows, but 2 of these rows are usable: refine over the same rows
SELECT ml_refine((SELECT m FROM m), y, x) FROM t WHERE rowid < 3;
-- error: ml_refine(): the model has 1 feature (x1), got 2
SELECT ml_refine((SELECT m FROM m), y, x, x) FROM t;
-- error: ml_refine(): these are not the rows the model was fitted on (n and fingerprint differ); refine over the same query
SELECT ml_refine((SELECT m FROM m), y, x * 2) FROM t;
SELECT 'refine_any_order', json_extract(ml_model_json(ml_refine((SELECT m FROM m), y, x)), '$.refined')
  FROM (SELECT * FROM t ORDER BY y DESC);
-- error: ml_refine(): the model changed between rows; it must be the same
SELECT ml_refine(CASE WHEN rowid = 1 THEN (SELECT m FROM m)
                 ELSE (SELECT ml_fit(y, x) FROM t WHERE rowid < 3) END, y, x) FROM t;
-- error: ml_refine(): expected a model, a response and features, got 2 arguments
SELECT ml_refine((SELECT m FROM m), y) FROM t;

-- error: wrong number of arguments to function ml_model_json()
SELECT ml_model_json();

-- The internal aggregate of ml_train's passes is of no use from SQL.
-- error: ml__pass(): internal to ml_train
SELECT ml__pass(1, 2, 3) FROM t;

-- One grammar (ext/options.c): the options ml_train and ml_fit_opts share
-- are refused by both in the same words; each of ml_train's own by its type
-- or range; the rules between options hold for both.
-- error: ml_train(): option intercept must be true or false, got "yes"
SELECT ml_train('g', 't', 'y', '["x"]', '{"intercept":"yes"}');
-- error: ml_fit_opts(): option nulls must be "skip", "error" or "mean", got 1
SELECT ml_fit_opts('{"nulls":1}', y, x) FROM t;
-- error: ml_train(): option unseen must be "error" or "zero", got null
SELECT ml_train('g', 't', 'y', '["x"]', '{"unseen":null}');
-- error: ml_fit_opts(): option unseen must be "error" or "zero", got true
SELECT ml_fit_opts('{"unseen":true}', y, x) FROM t;
-- error: ml_train(): option tol must be a number in [0, 1), got "0.1"
SELECT ml_train('g', 't', 'y', '["x"]', '{"tol":"0.1"}');
-- error: ml_fit_opts(): option robust must be "HC0", "HC1", "HC2" or "HC3", got "hc1"
SELECT ml_fit_opts('{"robust":"hc1"}', y, x) FROM t;
-- error: ml_fit_opts(): option l2 needs the intercept (the one term it leaves unpenalized)
SELECT ml_fit_opts('{"l2":1,"intercept":false}', y, x) FROM t;
-- error: ml_train(): option l2 needs the intercept (the one term it leaves unpenalized)
SELECT ml_train('g', 't', 'y', '["x"]', '{"l2":1,"intercept":false}');
-- error: ml_fit_opts(): option robust does not apply to a ridge fit (l2)
SELECT ml_fit_opts('{"l2":1,"robust":"HC0"}', y, x) FROM t;
-- error: ml_train(): option robust does not apply to a ridge fit (l2)
SELECT ml_train('g', 't', 'y', '["x"]', '{"l2":1,"robust":"HC0"}');
-- error: ml_fit_opts(): option weights must be true or false, got "w"
SELECT ml_fit_opts('{"weights":"w"}', y, x) FROM t;
-- error: ml_train(): option weights must be a column name, got true
SELECT ml_train('g', 't', 'y', '["x"]', '{"weights":true}');
-- error: ml_train(): option key must be a column name, got ""
SELECT ml_train('g', 't', 'y', '["x"]', '{"key":""}');
-- error: ml_train(): option seed must be an integer, got 1e+300
SELECT ml_train('g', 't', 'y', '["x"]', '{"seed":1e300}');
-- error: ml_train(): option refine must be true, false or "auto", got "always"
SELECT ml_train('g', 't', 'y', '["x"]', '{"refine":"always"}');
-- error: ml_train(): option metrics must be "basic" or "full", got "all"
SELECT ml_train('g', 't', 'y', '["x"]', '{"metrics":"all"}');
-- error: ml_train(): option progress must be true or false, got 1
SELECT ml_train('g', 't', 'y', '["x"]', '{"progress":1}');
-- error: ml_train(): option na_values must be an array of texts, got an array
SELECT ml_train('g', 't', 'y', '["x"]', '{"na_values":["NA",0]}');
-- error: ml_train(): option categorical must be an array of column names, got "x"
SELECT ml_train('g', 't', 'y', '["x"]', '{"categorical":"x"}');
-- error: ml_train(): options must be a JSON object, got array
SELECT ml_train('g', 't', 'y', '["x"]', '[]');
-- error: ml_train(): unknown option 'names' (known: test_size, seed, key, intercept, nulls, na_values, categorical, unseen, weights, l2, robust, refine, metrics, progress, tol, family, offset, max_iter, epsilon, keep_unconverged, auc_max_rows, cv, incremental, from, threads)
SELECT ml_train('g', 't', 'y', '["x"]', '{"names":["x"]}');
-- error: ml_fit_opts(): unknown option 'seed' (known: intercept, weights, names, categorical, unseen, nulls, l2, robust, tol)
SELECT ml_fit_opts('{"seed":1}', y, x) FROM t;
-- error: ml_fit_opts(): option family: an aggregate reads each row once and a GLM needs a pass per iteration; fit it with ml_train (docs/glm.md)
SELECT ml_fit_opts('{"family":1}', y, x) FROM t;
SELECT 'fit_opts_gaussian', ml_fit_opts('{"family":"gaussian"}', y, x) IS NOT NULL FROM t;
