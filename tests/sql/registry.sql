-- The registry: ml_train, versions, aliases, predict by name, ml_models,
-- ml_weights, ml_evaluate, ml_drop.  Data with an exact relation (price =
-- 50 + 0.1 sqft + 10 rooms) make expected values a matter of arithmetic.

CREATE TABLE houses(id INTEGER PRIMARY KEY, price REAL, sqft REAL, rooms REAL, year INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO houses SELECT i, 50 + 0.1 * (1000 + (i * 37) % 2000) + 10 * (1 + i % 5),
                          1000 + (i * 37) % 2000, 1 + i % 5, 2000 + i % 25 FROM n;

-- Loading sqlml creates nothing: the registry appears on first use.
SELECT 'no_registry_yet', count(*) = 0 FROM sqlite_schema WHERE name LIKE 'ml\_%' ESCAPE '\';
-- error: ml_predict(): no model named 'house_price' (this database has no models yet: ml_train() makes one)
SELECT ml_predict('house_price', 1500, 3);

CREATE TABLE r1 AS SELECT ml_train('house_price', 'houses', 'price', '["sqft","rooms"]',
                                   '{"test_size":0.2,"seed":42}') AS j;
SELECT 'train_json', json_extract(j, '$.model') = 'house_price' AND json_extract(j, '$.version') = 1
   AND json_extract(j, '$.n_train') + json_extract(j, '$.n_test') = 1000
   AND json_extract(j, '$.n_skipped') = 0 FROM r1;
-- The split is ml_split_of's, on rowid.
SELECT 'train_split', json_extract(j, '$.n_test') =
       (SELECT count(*) FROM houses WHERE ml_split_of(rowid, 0.2, 42) = 'test') FROM r1;
SELECT 'train_metrics', json_extract(j, '$.metrics.train.r2') > 0.999999999
   AND json_extract(j, '$.metrics.test.rmse') < 1e-9
   AND json_extract(j, '$.metrics.test.n') = json_extract(j, '$.n_test') FROM r1;
SELECT 'train_hash', length(json_extract(j, '$.data_hash')) = 32 FROM r1;
SELECT 'registry_made', count(*) = 3 FROM sqlite_schema
 WHERE name IN ('ml_model_versions', 'ml_aliases', 'ml_models');

-- Predict by name: the latest version.
SELECT 'predict_latest', abs(ml_predict('house_price', 1500, 3) - 230) < 1e-9;
SELECT 'predict_rows', max(abs(ml_predict('house_price', sqft, rooms) - price)) < 1e-9 FROM houses;

-- A second version, from a query.
CREATE TABLE r2 AS SELECT ml_train('house_price', 'SELECT * FROM houses WHERE year >= 2020',
                                   'price', '["sqft","rooms"]') AS j;
SELECT 'version_2', json_extract(j, '$.version') = 2
   AND json_extract(j, '$.n_train') + json_extract(j, '$.n_test') = 200 FROM r2;
SELECT 'pinned', abs(ml_predict('house_price@1', 1500, 3) - 230) < 1e-9
   AND abs(ml_predict('house_price@2', 1500, 3) - 230) < 1e-9;
SELECT 'models_view', count(*) = 2 AND min(version) = 1 AND max(version) = 2
   AND sum(r2_train > 0.999999) = 2 FROM ml_models WHERE name = 'house_price';
SELECT 'models_source', source = 'SELECT * FROM houses WHERE year >= 2020'
   AND json_extract(options, '$.key') IS NULL AND json_extract(options, '$.test_size') = 0.2
  FROM ml_models WHERE version = 2;
SELECT 'models_created', created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z'
  FROM ml_models WHERE version = 1;

-- Aliases: set, use, move, remove.
SELECT 'alias_set', ml_alias('house_price', 'production', 1) = 1;
SELECT 'alias_view', aliases = '["production"]' FROM ml_models WHERE version = 1;
SELECT 'alias_predict', abs(ml_predict('house_price@production', 1500, 3) - 230) < 1e-9;
SELECT 'alias_move', ml_alias('house_price', 'production', 2) = 2
   AND (SELECT aliases FROM ml_models WHERE version = 2) = '["production"]'
   AND (SELECT aliases FROM ml_models WHERE version = 1) = '[]';
SELECT 'alias_remove', ml_alias('house_price', 'production', NULL) IS NULL
   AND (SELECT count(*) FROM ml_aliases) = 0;
-- error: ml_alias(): alias '3' would read as a version; use a name with a letter and no '@'
SELECT ml_alias('house_price', '3', 1);
-- error: ml_alias(): model 'house_price' has no version 9
SELECT ml_alias('house_price', 'staging', 9);
-- error: ml_alias(): argument 3 must be a version number, or NULL to remove the alias
SELECT ml_alias('house_price', 'staging', 'one');
-- error: ml_predict(): model 'house_price' has no version 7 (versions 1 to 2)
SELECT ml_predict('house_price@7', 1, 2);
-- error: ml_predict(): model 'house_price' has no alias 'staging'
SELECT ml_predict('house_price@staging', 1, 2);
-- error: ml_predict(): no model named 'nope'
SELECT ml_predict('nope', 1, 2);
-- error: ml_predict(): the model expects 2 features (sqft, rooms), got 1
SELECT ml_predict('house_price', 1);

-- ml_weights: one row per term.
SELECT 'weights', count(*) = 3 AND sum(term = '(Intercept)' AND abs(estimate - 50) < 1e-8) = 1
   AND sum(term = 'sqft' AND abs(estimate - 0.1) < 1e-12) = 1
   AND sum(term = 'rooms' AND abs(estimate - 10) < 1e-10) = 1
  FROM ml_weights('house_price@1');
SELECT 'weights_level', conf_low < estimate AND estimate < conf_high
  FROM ml_weights('house_price', 0.9) WHERE term = 'sqft';
SELECT 'weights_blob', count(*) = 2 FROM ml_weights((SELECT ml_fit(price, sqft) FROM houses));
-- error: ml_weights(): no model named 'nope'
SELECT * FROM ml_weights('nope');
-- error: ml_weights(): level must be a number in (0, 1), like 0.95
SELECT * FROM ml_weights('house_price', 2);

-- ml_evaluate on new data.
CREATE TABLE houses_2026(price REAL, sqft REAL, rooms REAL);
INSERT INTO houses_2026 VALUES (250, 1500, 5), (280, 1800, 5), (NULL, 1000, 1), (200, 1000, 3);
CREATE TABLE ev AS SELECT ml_evaluate('house_price', 'SELECT * FROM houses_2026') AS j;
SELECT 'evaluate_n', json_extract(j, '$.n') = 3 AND json_extract(j, '$.n_skipped') = 1 FROM ev;
-- Residuals 250-250 = 0, 280-280 = 0, 200-180 = 20.
SELECT 'evaluate_mae', abs(json_extract(j, '$.mae') - 20.0 / 3) < 1e-9
   AND abs(json_extract(j, '$.max_error') - 20) < 1e-9
   AND abs(json_extract(j, '$.rmse') - sqrt(400.0 / 3)) < 1e-9
   AND abs(json_extract(j, '$.mape') - 0.1 / 3) < 1e-9 FROM ev;
SELECT 'evaluate_target', json_extract(ml_evaluate('house_price@1', 'houses', 'price'), '$.rmse') < 1e-9;
-- error: ml_evaluate(): the source 'SELECT price, sqft FROM houses' has no column 'rooms' (a feature of the model)
SELECT ml_evaluate('house_price', 'SELECT price, sqft FROM houses');

-- The fingerprint: same data, same hash; one value changed, another hash.
CREATE TABLE again(j);
INSERT INTO again SELECT ml_train('again', 'houses', 'price', '["sqft","rooms"]', '{"test_size":0.2,"seed":42}');
SELECT 'hash_same', (SELECT data_hash FROM ml_models WHERE name = 'again') =
                    (SELECT data_hash FROM ml_models WHERE name = 'house_price' AND version = 1);
UPDATE houses SET sqft = sqft + 1e-9 WHERE id = (SELECT min(id) FROM houses WHERE ml_split_of(id, 0.2, 42) = 'train');
INSERT INTO again SELECT ml_train('again', 'houses', 'price', '["sqft","rooms"]', '{"test_size":0.2,"seed":42}');
SELECT 'hash_changed', count(DISTINCT data_hash) = 2 FROM ml_models WHERE name = 'again';
-- A test row does not enter the fingerprint of the training data.
UPDATE houses SET price = price + 1 WHERE id = (SELECT min(id) FROM houses WHERE ml_split_of(id, 0.2, 42) = 'test');
INSERT INTO again SELECT ml_train('again', 'houses', 'price', '["sqft","rooms"]', '{"test_size":0.2,"seed":42}');
SELECT 'hash_test_row', (SELECT data_hash FROM ml_models WHERE name = 'again' AND version = 3) =
                        (SELECT data_hash FROM ml_models WHERE name = 'again' AND version = 2);

-- Features '*': every column but the target and the rowid (id is its alias).
SELECT 'star', json_extract(ml_train('star', 'houses', 'price', '*'), '$.version') = 1
   AND (SELECT features FROM ml_models WHERE name = 'star') = '["sqft","rooms","year"]';
-- No test set; a key column; no intercept; full metrics; refinement forced.
CREATE TABLE opts AS SELECT ml_train('opts', 'houses', 'price', '["sqft","rooms"]',
  '{"test_size":0,"key":"year","intercept":true,"metrics":"full","refine":true}') AS j;
SELECT 'options', json_extract(j, '$.n_test') = 0 AND json_extract(j, '$.metrics.test.r2') IS NULL
   AND json_extract(j, '$.refined') = 1 AND json_extract(j, '$.metrics.train.mae') < 0.01
   AND json_extract(j, '$.version') = 1 FROM opts;
CREATE TABLE noint AS SELECT ml_train('noint', 'houses', 'price', '["sqft","rooms"]', '{"intercept":false}') AS j;
SELECT 'no_intercept', (SELECT count(*) FROM ml_weights('noint')) = 2
   AND json_extract(ml_model_json('noint'), '$.intercept') = 0;

-- Errors leave the registry exactly as it was.
CREATE TABLE before AS SELECT name, version FROM ml_model_versions;
-- error: ml_train(): unknown option 'test_sise' (known: test_size, seed, key, intercept, nulls, na_values, categorical, unseen, weights, l2, robust, refine, metrics, progress, tol, family, offset, max_iter, epsilon, keep_unconverged, auc_max_rows, cv, incremental, from, threads)
SELECT ml_train('house_price', 'houses', 'price', '["sqft"]', '{"test_sise":0.3}');
-- error: ml_train(): no table or view named 'housez'
SELECT ml_train('house_price', 'housez', 'price');
-- error: ml_train(): the source 'houses' has no column 'cost' (the target)
SELECT ml_train('house_price', 'houses', 'cost');
-- error: ml_train(): the source 'houses' has no column 'size'
SELECT ml_train('house_price', 'houses', 'price', '["size"]');
-- error: ml_train(): feature 'SQFT' is listed twice
SELECT ml_train('house_price', 'houses', 'price', '["sqft","SQFT"]');
-- error: ml_train(): 'price' is the target; it cannot be a feature too
SELECT ml_train('house_price', 'houses', 'price', '["sqft","price"]');
-- error: ml_train(): features must be a JSON array of column names, or '*'
SELECT ml_train('house_price', 'houses', 'price', '{"sqft":1}');
-- error: ml_train(): model name 'a@b' holds '@', which starts a version or alias
SELECT ml_train('a@b', 'houses', 'price');
-- error: ml_train(): the source query must be read-only
SELECT ml_train('house_price', 'WITH x AS (SELECT 1) DELETE FROM houses', 'price');
-- error: ml_train(): the source must be one statement
SELECT ml_train('house_price', 'SELECT * FROM houses; DROP TABLE houses', 'price');
-- error: ml_train(): the source 'SELECT * FROM houses' has no rowid (option key)
SELECT ml_train('house_price', 'SELECT * FROM houses', 'price', '["sqft"]', '{"key":"rowid"}');
-- error: ml_train(): the source 'houses' has no column 'nokey' (option key)
SELECT ml_train('house_price', 'houses', 'price', '["sqft"]', '{"key":"nokey"}');
-- error: ml_train(): option test_size must be a number in [0, 1), got 1
SELECT ml_train('house_price', 'houses', 'price', '["sqft"]', '{"test_size":1}');
-- error: ml_train(): column 'sqft' is text ('big') in row 1000, not a number: if it marks a missing value, list it in option "na_values" (or use NULLIF("sqft", 'big') in a query source); if the column holds categories, list it in option "categorical"
SELECT ml_train('house_price', 'SELECT price, CASE WHEN id = 1000 THEN ''big'' ELSE sqft END AS sqft FROM houses', 'price');
-- error: ml_train(): no rows to train on: 0 rows read, 0 skipped for a NULL, 0 in the test set
SELECT ml_train('house_price', 'SELECT * FROM houses WHERE 0', 'price', '["sqft"]');
-- error: ml_train(): expected a name, a source, a target, [features, [options]], got 2 arguments
SELECT ml_train('house_price', 'houses');
SELECT 'atomic', (SELECT count(*) FROM before) = (SELECT count(*) FROM ml_model_versions)
   AND NOT EXISTS (SELECT name, version FROM ml_model_versions EXCEPT SELECT * FROM before);

-- A hostile name is only ever an identifier.
CREATE TABLE "a""b; DROP TABLE houses; --"(y REAL, x REAL);
INSERT INTO "a""b; DROP TABLE houses; --" VALUES (1, 1), (2, 2), (3, 3), (4, 4.5);
SELECT 'injection', json_extract(ml_train('inj', 'a"b; DROP TABLE houses; --', 'y', '["x"]',
                                          '{"test_size":0}'), '$.n_train') = 4
   AND (SELECT count(*) FROM houses) = 1000;
SELECT 'quoted_source', json_extract(ml_train('inj', '"a""b; DROP TABLE houses; --"', 'y', '["x"]',
                                              '{"test_size":0}'), '$.version') = 2;

-- DIRECTONLY: a trigger or a view in the schema cannot train, alias or drop.
CREATE TABLE log(x);
CREATE TRIGGER sneaky AFTER INSERT ON log BEGIN SELECT ml_drop('house_price'); END;
-- error: unsafe use of ml_drop()
INSERT INTO log VALUES (1);
CREATE VIEW sneaky_view AS SELECT ml_train('v', 'houses', 'price') AS j;
-- error: unsafe use of ml_train()
SELECT * FROM sneaky_view;
SELECT 'still_there', count(*) = 2 FROM ml_model_versions WHERE name = 'house_price';

-- Drop: a version held by an alias stays until the alias moves.
SELECT 'alias_again', ml_alias('house_price', 'production', 1) = 1;
-- error: ml_drop(): version 1 of 'house_price' is held by alias production: move or remove it first (ml_alias)
SELECT ml_drop('house_price', 1);
SELECT 'drop_one', ml_drop('house_price', 2) = 1
   AND (SELECT max(version) FROM ml_model_versions WHERE name = 'house_price') = 1;
-- The next version is max + 1, so a dropped latest number is used again.
SELECT 'drop_renumber', json_extract(ml_train('house_price', 'houses', 'price', '["sqft","rooms"]'),
                                     '$.version') = 2;
SELECT 'drop_all', ml_drop('house_price') = 2
   AND (SELECT count(*) FROM ml_aliases WHERE name = 'house_price') = 0;
-- error: ml_drop(): no model named 'house_price'
SELECT ml_drop('house_price');

-- Registry integrity: an object sqlml did not make stops the registry until
-- it is removed; here a trigger that would discard every new version.
CREATE TRIGGER keep_out BEFORE INSERT ON ml_model_versions BEGIN SELECT RAISE(IGNORE); END;
-- error: ml_train(): the registry in this database was not made by sqlml: trigger 'keep_out' on ml_model_versions is not sqlml's; remove it (DROP TRIGGER "keep_out") or use another database
SELECT ml_train('again', 'houses', 'price', '["sqft"]');
-- error: ml_predict(): the registry in this database was not made by sqlml: trigger 'keep_out' on ml_model_versions is not sqlml's; remove it (DROP TRIGGER "keep_out") or use another database
SELECT ml_predict('again', 1000, 3);
DROP TRIGGER keep_out;
SELECT 'integrity_restored', json_extract(ml_train('again', 'houses', 'price', '["sqft"]'), '$.version') = 4;
-- A version is an integer (a CHECK: readable by any SQLite, unlike STRICT).
-- error: CHECK constraint failed: typeof(version) = 'integer' AND version >= 1 (19)
UPDATE ml_model_versions SET version = 4.5 WHERE name = 'again' AND version = 4;
-- A TEMP table of the same name is not the registry.
CREATE TEMP TABLE ml_model_versions(name, version, model);
SELECT 'temp_shadow', json_extract(ml_train('again', 'houses', 'price', '["sqft"]'), '$.version') = 5
   AND (SELECT count(*) FROM temp.ml_model_versions) = 0
   AND abs(ml_predict('again@5', 1000) - ml_predict('again@4', 1000)) < 1e-9;
DROP TABLE temp.ml_model_versions;
