-- The whole pipeline in the sqlite3 shell: load a CSV, split it, train a
-- model into the registry, list versions, promote one to production,
-- predict new rows by name, evaluate on rows the model did not train on.
-- Run with `make demo`.  Each step prints a heading that says what its
-- table shows: the shell does not echo these comments.
.load ../dist/sqlml
.headers on
.mode box

.print "sqlml demo: linear regression inside SQLite (examples/demo.sql)"
.print
.print "1. Load data.csv (feature1, feature2, target) into the table data."
CREATE TABLE data(id INTEGER PRIMARY KEY, feature1 REAL, feature2 REAL, target REAL);
CREATE TEMP TABLE csv(feature1 REAL, feature2 REAL, target REAL);
.import --csv --skip 1 data.csv csv
INSERT INTO data(feature1, feature2, target) SELECT * FROM csv;
SELECT count(*) AS rows, ml_version() AS sqlml FROM data;

-- The split depends on nothing but the row's id and the seed, so a row
-- keeps its side when rows are added; the ml_split table is a live view of
-- data with the side as a column.
.print
.print "2. Split the rows, 20% to test, by a hash of each row's id and the seed 42."
CREATE VIRTUAL TABLE temp.data_split USING ml_split(data, test_size=0.2, seed=42);
SELECT split, count(*) AS rows FROM data_split GROUP BY split;

-- ml_train makes the same split from the same test_size and seed.
.print
.print "3. Train version 1 of the model 'demo': fit on the train rows, score on the test rows."
SELECT json_extract(j, '$.version') AS version, json_extract(j, '$.n_train') AS n_train,
       json_extract(j, '$.n_test') AS n_test,
       printf('%.4f', json_extract(j, '$.metrics.test.r2')) AS test_r2,
       printf('%.4f', json_extract(j, '$.metrics.test.rmse')) AS test_rmse
  FROM (SELECT ml_train('demo', 'data', 'target', '["feature1","feature2"]',
                        '{"test_size":0.2,"seed":42}') AS j);

.print
.print "   And version 2, trained on the first 100 rows only."
SELECT json_extract(ml_train('demo', 'SELECT * FROM data WHERE id <= 100', 'target',
                             '["feature1","feature2"]'), '$.version') AS version;

.print
.print "4. The registry: every version of 'demo', its test metrics and a fingerprint of its data."
SELECT name, version, n_train, n_test, printf('%.4f', r2_test) AS r2_test, data_hash
  FROM ml_models;

.print
.print "   Version 1's coefficients, with standard errors, p-values and 95% confidence intervals."
SELECT term, printf('%.4f', estimate) AS estimate, printf('%.4f', std_error) AS std_error,
       printf('%.3g', p_value) AS p_value,
       printf('[%.3f, %.3f]', conf_low, conf_high) AS ci95
  FROM ml_weights('demo@1');

.print
.print "5. Promote version 1: the alias 'production' names it from now on."
SELECT ml_alias('demo', 'production', 1) AS production;

.print
.print "6. Predict by name, with 'demo@production': the point (1.5, 2.0), then a table of new rows."
SELECT printf('%.4f', ml_predict('demo@production', 1.5, 2.0)) AS prediction;
CREATE TABLE new_rows(feature1 REAL, feature2 REAL);
INSERT INTO new_rows VALUES (1.5, 2.0), (3.0, 0.5), (4.2, 3.9);
SELECT feature1, feature2, printf('%.4f', ml_predict('demo@production', feature1, feature2)) AS prediction
  FROM new_rows;

-- ml_evaluate takes any query; its r2 and rmse on the test side are those
-- ml_train reported in step 3.
.print
.print "7. Evaluate 'demo@production' on rows it did not train on: the test side of the split."
SELECT key AS metric, printf('%.6g', value) AS value
  FROM json_each(ml_evaluate('demo@production', 'SELECT * FROM data_split WHERE split = ''test'''));
