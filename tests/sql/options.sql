-- ml_train's statistical options, seen from SQL: categorical features,
-- NULL policies, weights, ridge, robust errors, intervals.  (Their numbers
-- are checked against R and scikit-learn in tests/ref/options_vs_r.py.)

CREATE TABLE h(id INTEGER PRIMARY KEY, price REAL, sqft REAL, city TEXT, zip INTEGER, w REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
INSERT INTO h SELECT i, 100 + 0.1 * (1000 + i * 7 % 900)
                        + CASE i % 3 WHEN 0 THEN 0 WHEN 1 THEN 25 ELSE -10 END
                        + CASE i % 2 WHEN 0 THEN 0 ELSE 5 END,
                     1000 + i * 7 % 900, CASE i % 3 WHEN 0 THEN 'Austin' WHEN 1 THEN 'Boston' ELSE 'Chicago' END,
                     90000 + i % 2, 1 + i % 4 FROM n;

-- A TEXT column is categorical: dummies against the first level, by byte order.
CREATE TABLE t1 AS SELECT ml_train('cat', 'h', 'price', '["sqft","city"]', '{"test_size":0}') AS j;
SELECT 'cat_terms', group_concat(term, ',') = '(Intercept),sqft,city=Boston,city=Chicago'
  FROM ml_weights('cat');
SELECT 'cat_estimates', abs(estimate - 25) < 1 FROM ml_weights('cat') WHERE term = 'city=Boston';
SELECT 'cat_levels', json_extract(ml_model_json('cat'), '$.features[1].levels') = '["Austin","Boston","Chicago"]'
   AND json_extract(ml_model_json('cat'), '$.features[1].reference') = 'Austin';
-- ml_predict takes the raw level.
SELECT 'cat_predict', abs(ml_predict('cat', 1500, 'Boston') - (100 + 150 + 25 + 2.5)) < 3;
SELECT 'cat_predict_exact', abs(ml_predict('cat', 1500, 'Boston') - ml_predict('cat', 1500, 'Austin')
                              - (SELECT estimate FROM ml_weights('cat') WHERE term = 'city=Boston')) < 1e-9;
-- error: ml_predict(): feature 2 (city) has level 'Denver', unseen in training (known: 'Austin', 'Boston', 'Chicago'; train with option "unseen":"zero" to read it as the reference level)
SELECT ml_predict('cat', 1500, 'Denver');
SELECT 'cat_null', ml_predict('cat', 1500, NULL) IS NULL;
-- With "unseen":"zero", an unseen level reads as the reference.
SELECT 'train_cat0', ml_train('cat0', 'h', 'price', '["sqft","city"]', '{"test_size":0,"unseen":"zero"}') IS NOT NULL;
SELECT 'unseen_zero', ml_predict('cat0', 1500, 'Denver') = ml_predict('cat0', 1500, 'Austin');

-- An integer column made categorical.
CREATE TABLE t2 AS SELECT ml_train('zip', 'h', 'price', '["sqft","city","zip"]',
                                   '{"test_size":0,"categorical":["zip"]}') AS j;
SELECT 'zip_term', count(*) = 1 FROM ml_weights('zip') WHERE term = 'zip=90001' AND abs(estimate - 5) < 1e-9;
SELECT 'zip_predict_int', ml_predict('zip', 1500, 'Boston', 90001) = ml_predict('zip', 1500, 'Boston', '90001');
-- error: ml_train(): 'city' (option categorical) is not a feature
SELECT ml_train('x', 'h', 'price', '["sqft"]', '{"categorical":["city"]}');

-- A level only in the test rows is refused unless unseen = zero.
CREATE TABLE h2 AS SELECT * FROM h;
UPDATE h2 SET city = 'Denver' WHERE id = (SELECT min(id) FROM h2 WHERE ml_split_of(id, 0.5, 3) = 'test');
-- error: ml_train(): feature 'city' has level 'Denver' only in the test rows: the model could not predict them (option "unseen":"zero" reads it as the reference level)
SELECT ml_train('x', 'h2', 'price', '["sqft","city"]', '{"test_size":0.5,"seed":3}');
SELECT 'test_only_level_zero', json_extract(ml_train('x', 'h2', 'price', '["sqft","city"]',
         '{"test_size":0.5,"seed":3,"unseen":"zero"}'), '$.n_test') > 0;

-- NULL policies.
CREATE TABLE hn AS SELECT * FROM h;
UPDATE hn SET sqft = NULL WHERE id % 10 = 0;
UPDATE hn SET city = NULL WHERE id % 15 = 1;
CREATE TABLE t3 AS SELECT ml_train('skip', 'hn', 'price', '["sqft","city"]', '{"test_size":0}') AS j;
SELECT 'nulls_skip', json_extract(j, '$.n_skipped') = 50 AND json_extract(j, '$.nulls.sqft') = 30
   AND json_extract(j, '$.nulls.city') = 20 AND json_extract(j, '$.n_train') = 250 FROM t3;
-- error: ml_train(): column 'city' is NULL in row 1 (rowid 1), and option nulls is "error"
SELECT ml_train('err', 'hn', 'price', '["sqft","city"]', '{"nulls":"error"}');
CREATE TABLE t4 AS SELECT ml_train('mean', 'hn', 'price', '["sqft","city"]', '{"test_size":0,"nulls":"mean"}') AS j;
SELECT 'nulls_mean', json_extract(j, '$.n_skipped') = 0 AND json_extract(j, '$.n_train') = 300
   AND json_extract(j, '$.nulls.sqft') = 30 FROM t4;
SELECT 'mean_stored', abs(json_extract(ml_model_json('mean'), '$.features[0].impute')
                          - (SELECT avg(sqft) FROM hn)) < 1e-9;
SELECT 'mean_null_level', count(*) = 1 FROM ml_weights('mean') WHERE term = 'city IS NULL';
SELECT 'mean_predict', ml_predict('mean', NULL, 'Boston') = ml_predict('mean', (SELECT avg(sqft) FROM hn), 'Boston')
   AND ml_predict('mean', 1200, NULL) IS NOT NULL;
-- error: ml_train(): option nulls must be "skip", "error" or "mean", got "drop"
SELECT ml_train('x', 'h', 'price', '["sqft"]', '{"nulls":"drop"}');

-- Weights: zero weights leave the fit (and its degrees of freedom).
UPDATE h SET w = 0 WHERE id % 50 = 0;
CREATE TABLE t5 AS SELECT ml_train('wls', 'h', 'price', '["sqft","city"]', '{"test_size":0,"weights":"w"}') AS j;
SELECT 'weights_n', json_extract(j, '$.n_train') = 294 AND json_extract(j, '$.n_zero_weight') = 6 FROM t5;
SELECT 'weights_df', json_extract(ml_model_json('wls'), '$.df_resid') = 294 - 4
   AND json_extract(ml_model_json('wls'), '$.weighted') = 1;
SELECT 'weights_not_feature', json_extract(ml_train('wls2', 'h', 'price', '*', '{"test_size":0,"weights":"w"}'),
                                           '$.terms') = 5;
UPDATE h SET w = -1 WHERE id = 7;
-- error: ml_train(): column 'w' is negative in row 7 (rowid 7); weights must be >= 0
SELECT ml_train('x', 'h', 'price', '["sqft"]', '{"weights":"w"}');
UPDATE h SET w = 1 WHERE id = 7;
-- error: ml_train(): the source 'h' has no column 'weight' (option weights)
SELECT ml_train('x', 'h', 'price', '["sqft"]', '{"weights":"weight"}');
-- error: ml_train(): 'w' is the weight; it cannot be a feature too
SELECT ml_train('x', 'h', 'price', '["sqft","w"]', '{"weights":"w"}');

-- Ridge: coefficients shrink toward 0 as lambda grows; no least-squares inference.
SELECT 'train_r1', ml_train('r1', 'h', 'price', '["sqft","city"]', '{"test_size":0,"l2":1}') IS NOT NULL;
SELECT 'train_r2', ml_train('r2', 'h', 'price', '["sqft","city"]', '{"test_size":0,"l2":1000}') IS NOT NULL;
SELECT 'ridge_shrinks', (SELECT abs(estimate) FROM ml_weights('r2') WHERE term = 'sqft') <
                        (SELECT abs(estimate) FROM ml_weights('r1') WHERE term = 'sqft');
SELECT 'ridge_no_se', count(*) = 4 AND max(std_error) IS NULL FROM ml_weights('r1');
SELECT 'ridge_json', json_extract(ml_model_json('r1'), '$.l2') = 1 AND json_extract(ml_model_json('r1'), '$.r2') > 0.9
   AND json_extract(ml_model_json('r1'), '$.aic') IS NULL;
-- error: ml_train(): option l2 needs the intercept (the one term it leaves unpenalized)
SELECT ml_train('x', 'h', 'price', '["sqft"]', '{"l2":1,"intercept":false}');
-- error: ml_predict_interval(): a ridge model has no least-squares intervals
SELECT ml_predict_interval('r1', 0.95, 1500, 'Boston');

-- Robust errors: the same estimates, other standard errors.
SELECT 'train_hc', ml_train('hc', 'h', 'price', '["sqft","city"]', '{"test_size":0,"robust":"HC3"}') IS NOT NULL;
SELECT 'robust_same_estimates', (SELECT group_concat(printf('%.12g', estimate)) FROM ml_weights('hc')) =
                                (SELECT group_concat(printf('%.12g', estimate)) FROM ml_weights('cat'));
SELECT 'robust_json', json_extract(ml_model_json('hc'), '$.robust') = 'HC3'
   AND json_extract(ml_model_json('hc'), '$.robust_computed') = 1;
-- error: ml_train(): option robust must be "HC0", "HC1", "HC2" or "HC3", got "HC4"
SELECT ml_train('x', 'h', 'price', '["sqft"]', '{"robust":"HC4"}');

-- Intervals: the confidence interval lies inside the prediction interval.
CREATE TABLE iv AS SELECT ml_predict_interval('cat', 0.9, 1500, 'Boston') AS j;
SELECT 'interval_order', json_extract(j, '$.pred_low') < json_extract(j, '$.conf_low')
   AND json_extract(j, '$.conf_low') < json_extract(j, '$.fit')
   AND json_extract(j, '$.fit') < json_extract(j, '$.conf_high')
   AND json_extract(j, '$.conf_high') < json_extract(j, '$.pred_high') FROM iv;
SELECT 'interval_fit', abs(json_extract(j, '$.fit') - ml_predict('cat', 1500, 'Boston')) < 1e-12 FROM iv;
SELECT 'interval_null', ml_predict_interval('cat', 0.9, NULL, 'Boston') IS NULL;
-- error: ml_predict_interval(): level must be a number in (0, 1), like 0.95
SELECT ml_predict_interval('cat', 95, 1500, 'Boston');
-- error: ml_predict_interval(): the model expects 2 features (sqft, city), got 1
SELECT ml_predict_interval('cat', 0.95, 1500);
SELECT 'json_level', json_extract(ml_model_json('cat', 0.5), '$.level') = 0.5
   AND json_extract(ml_model_json('cat', 0.5), '$.coefficients[1].conf_low') >
       json_extract(ml_model_json('cat', 0.99), '$.coefficients[1].conf_low');

-- The same options through the aggregate.
SELECT 'fit_opts_weights', abs(json_extract(ml_model_json(ml_fit_opts('{"weights":true}', w, price, sqft)),
                                            '$.coefficients[1].estimate')
                               - (SELECT estimate FROM ml_weights('wls_sqft') WHERE term = 'sqft')) < 1e-12
  FROM h, (SELECT ml_train('wls_sqft', 'h', 'price', '["sqft"]', '{"test_size":0,"weights":"w"}'));
SELECT 'fit_opts_mean', json_extract(ml_model_json(ml_fit_opts('{"nulls":"mean"}', price, sqft)), '$.n') = 300 FROM hn;
-- error: ml_fit_opts(): argument 3 is NULL in row 10, and option nulls is "error"
SELECT ml_fit_opts('{"nulls":"error"}', price, sqft) FROM hn;
-- error: ml_refine(): a ridge model (l2) is not a least-squares solution to refine
SELECT ml_refine((SELECT ml_fit_opts('{"l2":1}', price, sqft) FROM h), price, sqft) FROM h;

-- Weighted shards merge into the weighted fit of all rows, likelihood included.
CREATE TABLE wshards AS SELECT id % 3 AS s, ml_fit_opts('{"weights":true}', w, price, sqft) AS m FROM h GROUP BY id % 3;
SELECT 'merge_weighted', abs(json_extract(ml_model_json(ml_merge(m)), '$.loglik')
                             - (SELECT json_extract(ml_model_json(ml_fit_opts('{"weights":true}', w, price, sqft)), '$.loglik') FROM h)) < 1e-8
   AND abs(json_extract(ml_model_json(ml_merge(m)), '$.coefficients[1].estimate')
           - (SELECT json_extract(ml_model_json(ml_fit_opts('{"weights":true}', w, price, sqft)), '$.coefficients[1].estimate') FROM h)) < 1e-12
  FROM wshards;

-- A later pass skips zero-weight rows too (a refined weighted fit once came back NULL).
SELECT 'weights_refined', json_extract(j, '$.refined') = 1 AND json_extract(j, '$.n_train') = 294
  FROM (SELECT ml_train('wref', 'h', 'price', '["sqft"]', '{"test_size":0,"weights":"w","refine":true,"metrics":"full"}') AS j);
