-- The classic pipeline, in the sqlite3 shell: load a CSV, fit a linear
-- regression, look at it, predict for new data.  Run with `make demo`.
.load ../dist/sqlml
.headers on
.mode box

-- 1. Load data.csv (feature1, feature2, target) into a typed table.
CREATE TABLE data(feature1 REAL, feature2 REAL, target REAL);
.import --csv --skip 1 data.csv data
SELECT count(*) AS rows, ml_version() AS sqlml FROM data;

-- 2. Fit target ~ feature1 + feature2 where the rows are: the model is a BLOB.
CREATE TABLE model AS SELECT ml_fit(target, feature1, feature2) AS m FROM data;

-- 3. The coefficients, as R's summary(lm(...)) prints them.
SELECT json_extract(c.value, '$.term') AS term,
       printf('%.4f', json_extract(c.value, '$.estimate')) AS estimate,
       printf('%.4f', json_extract(c.value, '$.std_error')) AS std_error,
       printf('%.2f', json_extract(c.value, '$.t_stat')) AS t_stat,
       printf('%.3g', json_extract(c.value, '$.p_value')) AS p_value
  FROM model, json_each(ml_model_json(m), '$.coefficients') AS c;
SELECT printf('%.4f', json_extract(j, '$.r2')) AS r2,
       printf('%.4f', json_extract(j, '$.sigma')) AS sigma,
       json_extract(j, '$.n') AS n
  FROM (SELECT ml_model_json(m) AS j FROM model);

-- 4. Predict for new data: [[1.5, 2.0]].
SELECT 1.5 AS feature1, 2.0 AS feature2,
       printf('%.4f', ml_predict((SELECT m FROM model), 1.5, 2.0)) AS prediction;
