-- The registered functions are exactly these, with these flags
-- (DETERMINISTIC 0x800, DIRECTONLY 0x80000, INNOCUOUS 0x200000).
SELECT 'function_list', group_concat(name || '/' || narg || '/' || type || '/' ||
         printf('%x', flags & 0x280800), ' ') =
       'ml__more/-1/s/80000 ml__pass/-1/a/80000 ml_alias/3/s/80000 ml_compare/2/s/80000 ml_drop/1/s/80000 ml_drop/2/s/80000 ml_evaluate/2/s/80000 ' ||
       'ml_evaluate/3/s/80000 ml_fit/-1/a/200800 ml_fit_opts/-1/a/200800 ml_fold_of/3/s/200800 ml_merge/1/a/200800 ' ||
       'ml_merge/2/s/200800 ml_model_json/1/s/0 ml_model_json/2/s/0 ' ||
       'ml_predict/-1/s/0 ml_predict_interval/-1/s/0 ml_promote/2/s/80000 ml_promote/3/s/80000 ' ||
       'ml_refine/-1/a/200800 ml_split_of/3/s/200800 ml_split_of/4/s/200800 ' ||
       'ml_train/-1/s/80000 ml_verify/1/s/80000 ml_version/0/s/200800'
  FROM (SELECT * FROM pragma_function_list WHERE name LIKE 'ml\_%' ESCAPE '\' ORDER BY name, narg);
SELECT 'module_list', group_concat(name, ' ') = 'ml_drift ml_feature_info ml_model_cache ml_predictions ml_split ml_weights'
  FROM (SELECT name FROM pragma_module_list WHERE name LIKE 'ml\_%' ESCAPE '\' ORDER BY name);
SELECT 'version', ml_version() GLOB '[0-9]*.[0-9]*.[0-9]*';
-- Loading twice into one connection replaces the functions cleanly.
.load $EXT
SELECT 'reload', ml_version() IS NOT NULL;
-- Pure functions work in a view, an index and a generated column.  ml_predict
-- reads the registry by name, so it is not INNOCUOUS: in a view only while
-- the schema is trusted (the default).
CREATE TABLE t(y REAL, x REAL);
INSERT INTO t VALUES (1, 1), (3, 2), (5, 3);
CREATE TABLE models AS SELECT ml_fit(y, x) AS m FROM t;
CREATE VIEW v AS SELECT x, ml_predict((SELECT m FROM models), x) AS yhat FROM t;
SELECT 'in_view', abs(sum(yhat) - 9) < 1e-12 FROM v;
PRAGMA trusted_schema = OFF;
-- error: unsafe use of ml_predict()
SELECT * FROM v;
PRAGMA trusted_schema = ON;
CREATE TABLE g(id INTEGER PRIMARY KEY, side TEXT AS (ml_split_of(id, 0.5, 1)));
INSERT INTO g(id) VALUES (1), (2), (3), (4);
CREATE INDEX g_side ON g(ml_split_of(id, 0.2, 7));
SELECT 'in_generated_column', count(*) = 4 AND sum(side = ml_split_of(id, 0.5, 1)) = 4 FROM g;
SELECT 'in_index', count(*) = (SELECT count(*) FROM g WHERE ml_split_of(id + 0, 0.2, 7) = 'train')
  FROM g WHERE ml_split_of(id, 0.2, 7) = 'train';
-- ml_predict takes a model name, which a retrain moves to a new version:
-- so it is not deterministic, and SQLite keeps it out of generated columns.
-- error: non-deterministic functions prohibited in generated columns
CREATE TABLE g2(x REAL, m BLOB, yhat REAL AS (ml_predict(m, x)));
