-- The whole pipeline in the sqlite3 shell: load a CSV, split it, train a
-- model into the registry, list versions, promote one to production,
-- predict new rows by name, evaluate on new data.  Run with `make demo`.
.load ../dist/sqlml
.headers on
.mode box

-- 1. Load data.csv (feature1, feature2, target) into a typed table.
CREATE TABLE data(id INTEGER PRIMARY KEY, feature1 REAL, feature2 REAL, target REAL);
CREATE TEMP TABLE csv(feature1 REAL, feature2 REAL, target REAL);
.import --csv --skip 1 data.csv csv
INSERT INTO data(feature1, feature2, target) SELECT * FROM csv;
SELECT count(*) AS rows, ml_version() AS sqlml FROM data;

-- 2. The split: 20% test, by a hash of each row's id and the seed.  A row
--    keeps its side when rows are added: it depends on nothing else.  The
--    ml_split table is a live view of data with its side as a column.
CREATE VIRTUAL TABLE temp.data_split USING ml_split(data, test_size=0.2, seed=42);
SELECT split, count(*) AS rows FROM data_split GROUP BY split;

-- 3. Train: fit on the training rows, measure on the test rows (the same
--    split: ml_train uses the same assignment), store version 1 of 'demo'.
SELECT json_extract(j, '$.version') AS version, json_extract(j, '$.n_train') AS n_train,
       json_extract(j, '$.n_test') AS n_test,
       printf('%.4f', json_extract(j, '$.metrics.test.r2')) AS test_r2,
       printf('%.4f', json_extract(j, '$.metrics.test.rmse')) AS test_rmse
  FROM (SELECT ml_train('demo', 'data', 'target', '["feature1","feature2"]',
                        '{"test_size":0.2,"seed":42}') AS j);

-- A second version, on the first 100 rows only.
SELECT json_extract(ml_train('demo', 'SELECT * FROM data WHERE id <= 100', 'target',
                             '["feature1","feature2"]'), '$.version') AS version;

-- 4. The registry: every version, with its metrics and data fingerprint.
SELECT name, version, n_train, n_test, printf('%.4f', r2_test) AS r2_test, data_hash
  FROM ml_models;
SELECT term, printf('%.4f', estimate) AS estimate, printf('%.4f', std_error) AS std_error,
       printf('%.3g', p_value) AS p_value,
       printf('[%.3f, %.3f]', conf_low, conf_high) AS ci95
  FROM ml_weights('demo@1');

-- 5. Promote version 1 to production.
SELECT ml_alias('demo', 'production', 1) AS production;

-- 6. Predict new data by name: [[1.5, 2.0]], and a table of new rows.
SELECT printf('%.4f', ml_predict('demo@production', 1.5, 2.0)) AS prediction;
CREATE TABLE new_rows(feature1 REAL, feature2 REAL);
INSERT INTO new_rows VALUES (1.5, 2.0), (3.0, 0.5), (4.2, 3.9);
SELECT feature1, feature2, printf('%.4f', ml_predict('demo@production', feature1, feature2)) AS prediction
  FROM new_rows;

-- 7. Evaluate on data the model has not seen (here: the last 50 rows).
SELECT key AS metric, printf('%.6g', value) AS value
  FROM json_each(ml_evaluate('demo@production', 'SELECT * FROM data WHERE id > 150'));
