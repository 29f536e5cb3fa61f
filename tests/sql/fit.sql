-- ml_fit, ml_fit_opts, ml_predict, ml_merge, ml_refine, ml_model_json: results.
-- Each SELECT returns 'name|1' when the check holds.  Data with an exact
-- linear relation make the expected values a matter of arithmetic.

CREATE TABLE t(y REAL, x1 REAL, x2 REAL, g TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO t SELECT 2 + 3 * (i % 17) - 0.5 * (i * i % 29), i % 17, i * i % 29,
                     CASE WHEN i % 3 = 0 THEN 'a' ELSE 'b' END FROM n;
CREATE TABLE fits AS SELECT ml_fit(y, x1, x2) AS m FROM t;
CREATE VIEW j AS SELECT ml_model_json(m) AS j FROM fits;

SELECT 'fit_blob', typeof(m) = 'blob' AND substr(m, 1, 4) = CAST('SQML' AS BLOB) FROM fits;
SELECT 'fit_b0', abs(json_extract(j, '$.coefficients[0].estimate') - 2) < 1e-12 FROM j;
SELECT 'fit_b1', abs(json_extract(j, '$.coefficients[1].estimate') - 3) < 1e-12 FROM j;
SELECT 'fit_b2', abs(json_extract(j, '$.coefficients[2].estimate') + 0.5) < 1e-12 FROM j;
SELECT 'fit_terms', json_extract(j, '$.coefficients[0].term') = '(Intercept)'
   AND json_extract(j, '$.coefficients[2].term') = 'x2' FROM j;
SELECT 'fit_n', json_extract(j, '$.n') = 1000 AND json_extract(j, '$.n_skipped') = 0 FROM j;
SELECT 'fit_r2', json_extract(j, '$.r2') = 1 FROM j;
SELECT 'fit_df', json_extract(j, '$.df_model') = 2 AND json_extract(j, '$.df_resid') = 997 FROM j;
SELECT 'fit_kind', json_extract(j, '$.kind') = 'linear_regression'
   AND json_extract(j, '$.format_version') = 1 AND json_extract(j, '$.intercept') = 1 FROM j;
SELECT 'fit_version', json_extract(j, '$.sqlml_version') = ml_version() FROM j;

-- NULLs: the row is skipped and counted, whichever argument holds it.
INSERT INTO t VALUES (NULL, 1, 1, 'a'), (1, NULL, 1, 'a'), (1, 1, NULL, 'b');
SELECT 'null_skip', json_extract(ml_model_json(ml_fit(y, x1, x2)), '$.n_skipped') = 3
   AND json_extract(ml_model_json(ml_fit(y, x1, x2)), '$.n') = 1000 FROM t;

-- Integers are numbers too.
SELECT 'fit_int', abs(json_extract(ml_model_json(ml_fit(CAST(y * 2 AS INTEGER), CAST(x1 AS INTEGER),
       CAST(x2 AS INTEGER))), '$.coefficients[1].estimate') - 6) < 1e-12 FROM t;

-- One model per group.
CREATE TABLE byg AS SELECT g, ml_fit(y + (g = 'a') * x1, x1, x2) AS m FROM t GROUP BY g;
SELECT 'group_count', count(*) = 2 FROM byg;
SELECT 'group_a', abs(json_extract(ml_model_json(m), '$.coefficients[1].estimate') - 4) < 1e-12
  FROM byg WHERE g = 'a';
SELECT 'group_b', abs(json_extract(ml_model_json(m), '$.coefficients[1].estimate') - 3) < 1e-12
  FROM byg WHERE g = 'b';

-- Prediction: from a constant BLOB, a scalar subquery, a column.
SELECT 'predict_exact', max(abs(ml_predict((SELECT m FROM fits), x1, x2) - y)) < 1e-10
  FROM t WHERE y IS NOT NULL AND x1 IS NOT NULL AND x2 IS NOT NULL;
SELECT 'predict_join', max(abs(ml_predict(m, x1, x2) - y)) < 1e-10
  FROM t, fits WHERE y IS NOT NULL AND x1 IS NOT NULL AND x2 IS NOT NULL;
SELECT 'predict_value', abs(ml_predict(m, 1.5, 2.0) - (2 + 4.5 - 1)) < 1e-12 FROM fits;
SELECT 'predict_null', ml_predict(m, NULL, 2) IS NULL FROM fits;
SELECT 'predict_null_last', ml_predict(m, 1.5, NULL) IS NULL FROM fits;
SELECT 'predict_integers', abs(ml_predict(m, 3, 2) - (2 + 9 - 1)) < 1e-12 FROM fits;
SELECT 'predict_null_model', ml_predict(NULL, 1, 2) IS NULL;
SELECT 'predict_per_group', count(*) = 1000 AND max(abs(ml_predict(m, x1, x2) - y - (t.g = 'a') * x1)) < 1e-10
  FROM t JOIN byg USING (g) WHERE y IS NOT NULL AND x1 IS NOT NULL AND x2 IS NOT NULL;

-- Merge: shards fit apart and merged equal the fit of the whole.
CREATE TABLE noisy(y REAL, x1 REAL, x2 REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO noisy SELECT 1 + 0.5 * (i % 13) - 2 * ((i * 7) % 11) + ((i * 7919) % 101) / 100.0,
                         i % 13, (i * 7) % 11 FROM n;
CREATE TABLE shards AS SELECT rowid % 4 AS s, ml_fit(y, x1, x2) AS m FROM noisy GROUP BY rowid % 4;
CREATE VIEW whole AS SELECT ml_model_json(ml_fit(y, x1, x2)) AS j FROM noisy;
CREATE VIEW merged AS SELECT ml_model_json(ml_merge(m)) AS j FROM shards;
SELECT 'merge_agg_' || k, abs(json_extract(w.j, '$.coefficients[' || k || '].estimate')
                            - json_extract(m.j, '$.coefficients[' || k || '].estimate'))
                        <= 1e-10 * abs(json_extract(w.j, '$.coefficients[' || k || '].estimate'))
                    AND abs(json_extract(w.j, '$.coefficients[' || k || '].std_error')
                            - json_extract(m.j, '$.coefficients[' || k || '].std_error'))
                        <= 1e-10 * json_extract(w.j, '$.coefficients[' || k || '].std_error')
  FROM whole w, merged m, (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2);
SELECT 'merge_agg_n', json_extract(j, '$.n') = 2000 FROM merged;
SELECT 'merge_agg_rss', abs(json_extract(w.j, '$.rss') - json_extract(m.j, '$.rss'))
                        <= 1e-10 * json_extract(w.j, '$.rss') FROM whole w, merged m;
SELECT 'merge_scalar', abs(json_extract(ml_model_json(ml_merge(a.m, b.m)), '$.coefficients[1].estimate')
                           - json_extract(ml_model_json(ml_fit(y, x1, x2)), '$.coefficients[1].estimate')) < 1e-12
  FROM noisy, shards a, shards b WHERE a.s = 0 AND b.s = 1 AND noisy.rowid % 4 IN (0, 1);
SELECT 'merge_nulls', ml_merge(m) IS NULL FROM (SELECT NULL AS m);
SELECT 'merge_scalar_null', ml_merge(m, NULL) IS NULL FROM fits;

-- Refinement keeps the fit's shape and marks it.
CREATE VIEW refined AS SELECT ml_model_json(ml_refine((SELECT ml_fit(y, x1, x2) FROM noisy), y, x1, x2)) AS j FROM noisy;
SELECT 'refine_flag', json_extract(j, '$.refined') = 1 FROM refined;
SELECT 'refine_same', abs(json_extract(r.j, '$.coefficients[1].estimate')
                          - json_extract(w.j, '$.coefficients[1].estimate')) < 1e-12
                      AND abs(json_extract(r.j, '$.rss') - json_extract(w.j, '$.rss')) < 1e-9 * json_extract(w.j, '$.rss')
  FROM refined r, whole w;

-- Without an intercept.
SELECT 'noint', abs(json_extract(ml_model_json(ml_fit_opts('{"intercept":false}', 3 * x1 - x2, x1, x2)),
                    '$.coefficients[0].estimate') - 3) < 1e-12
   AND json_extract(ml_model_json(ml_fit_opts('{"intercept":false}', 3 * x1 - x2, x1, x2)), '$.intercept') = 0
  FROM noisy;
SELECT 'noint_predict', abs(ml_predict(ml_fit_opts('{"intercept":false}', 2 * x1, x1), 10) - 20) < 1e-12 FROM noisy;

-- Rank deficiency: R's answer.  x3 = 2 * x1 and a constant beside the
-- intercept are aliased (NULL estimate); the fit uses the other columns.
CREATE VIEW alias AS SELECT ml_model_json(ml_fit(y, x1, 2 * x1, 7, x2)) AS j FROM noisy;
SELECT 'alias_flags', json_extract(j, '$.coefficients[2].aliased') = 1
   AND json_extract(j, '$.coefficients[3].aliased') = 1
   AND json_extract(j, '$.coefficients[1].aliased') = 0 AND json_extract(j, '$.rank') = 3 FROM alias;
SELECT 'alias_null', json_extract(j, '$.coefficients[2].estimate') IS NULL
   AND json_extract(j, '$.coefficients[2].std_error') IS NULL FROM alias;
SELECT 'alias_same_fit', abs(json_extract(a.j, '$.coefficients[4].estimate')
                             - json_extract(w.j, '$.coefficients[2].estimate')) < 1e-12
   AND json_extract(a.j, '$.df_resid') = 1997 FROM alias a, whole w;
SELECT 'alias_predict', abs(ml_predict((SELECT ml_fit(y, x1, 2 * x1, 7, x2) FROM noisy), 1, 2, 7, 3)
                            - ml_predict((SELECT ml_fit(y, x1, x2) FROM noisy), 1, 3)) < 1e-12;
-- More features than rows: the first ones carry the fit.
SELECT 'p_gt_n', json_extract(ml_model_json(ml_fit(y, x1, x2, x1 * x2, x1 * x1)), '$.rank') = 3
   AND json_extract(ml_model_json(ml_fit(y, x1, x2, x1 * x2, x1 * x1)), '$.coefficients[4].aliased') = 1
  FROM (SELECT * FROM noisy LIMIT 3);
-- A single row: an exact fit of the intercept, with no degrees of freedom left.
SELECT 'one_row', json_extract(j, '$.rank') = 1 AND json_extract(j, '$.sigma') IS NULL
  FROM (SELECT ml_model_json(ml_fit(y, x1)) AS j FROM (SELECT * FROM noisy LIMIT 1));

-- Every argument count from 1 feature up: here 20.
SELECT 'wide', abs(ml_predict(ml_fit(x1+x2, x1, x2, x1*x1, x2*x2, x1*x2, x1+1, x2+2, x1*3, x2*4, x1-x2,
  x1*x1*x1, x2*x2*x2, x1*x2*x2, x1*x1*x2, x1/(x2+1), x2/(x1+1), sin(x1), cos(x2), x1%3, x2%5),
  1, 2, 1, 4, 2, 2, 4, 3, 8, -1, 1, 8, 4, 2, 1.0/3, 1.0, sin(1), cos(2), 1, 2) - 3) < 1e-9 FROM noisy;

-- A model is a value: store it, read it back, predict.
CREATE TABLE store(name TEXT, m BLOB);
INSERT INTO store SELECT 'noisy', ml_fit(y, x1, x2) FROM noisy;
SELECT 'stored', abs(ml_predict((SELECT m FROM store), 3, 4) - json_extract(ml_model_json(m), '$.coefficients[0].estimate')
   - 3 * json_extract(ml_model_json(m), '$.coefficients[1].estimate')
   - 4 * json_extract(ml_model_json(m), '$.coefficients[2].estimate')) < 1e-9 FROM store;
