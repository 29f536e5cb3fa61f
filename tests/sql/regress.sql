-- Regressions: each block is a bug the hardening work (issue 7) found, with
-- the answer it must give now.  Inputs that crashed a fuzz target are
-- replayed from tests/regress/<target>/ by `make regress`.

CREATE TABLE t(y REAL, x REAL, w REAL, g INT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
INSERT INTO t SELECT 1 + 2 * i + (i % 5) * 0.3, i, 1 + (i % 3), i % 2 FROM n;

-- ml_merge of weighted fits kept the first model's total weight and sum of
-- log weights: the log-likelihood (so AIC, BIC) and a weighted ridge fit
-- were those of the first shard.
CREATE TABLE whole AS SELECT ml_fit_opts('{"weights":true}', w, y, x) AS m,
                             ml_fit_opts('{"weights":true,"l2":1}', w, y, x) AS r FROM t;
CREATE TABLE shards AS SELECT ml_fit_opts('{"weights":true}', w, y, x) AS m,
                              ml_fit_opts('{"weights":true,"l2":1}', w, y, x) AS r FROM t GROUP BY g;
SELECT 'merge_weighted_loglik',
       abs(json_extract(ml_model_json((SELECT ml_merge(m) FROM shards)), '$.loglik')
           - json_extract(ml_model_json(m), '$.loglik')) < 1e-9 FROM whole;
SELECT 'merge_weighted_ridge',
       abs(json_extract(ml_model_json((SELECT ml_merge(r) FROM shards)), '$.coefficients[1].estimate')
           - json_extract(ml_model_json(r), '$.coefficients[1].estimate')) < 1e-12 FROM whole;

-- ml_fit_opts() without arguments read argv[0]: the host crashed.
-- error: ml_fit_opts(): expected options, a response and at least one feature, got 0 arguments
SELECT ml_fit_opts() FROM t;

-- A seed beyond int64 was converted before its range was checked (undefined).
-- error: ml_train(): option seed must be an integer, got 1e+300
SELECT ml_train('m', 't', 'y', '["x"]', '{"seed":1e300}');
