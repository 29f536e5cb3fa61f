-- The registered functions are exactly these, with these flags
-- (DETERMINISTIC 0x800, DIRECTONLY 0x80000, INNOCUOUS 0x200000).
SELECT 'function_list', group_concat(name || '/' || narg || '/' || type || '/' ||
         printf('%x', flags & 0x280800), ' ') =
       'ml_fit/-1/a/200800 ml_fit_opts/-1/a/200800 ml_merge/1/a/200800 ml_merge/2/s/200800 ' ||
       'ml_model_json/1/s/200800 ml_predict/-1/s/200800 ml_refine/-1/a/200800 ' ||
       'ml_split_of/3/s/200800 ml_split_of/4/s/200800 ml_version/0/s/200800'
  FROM (SELECT * FROM pragma_function_list WHERE name LIKE 'ml\_%' ESCAPE '\' ORDER BY name, narg);
SELECT 'version', ml_version() GLOB '[0-9]*.[0-9]*.[0-9]*';
-- Loading twice into one connection replaces the functions cleanly.
.load $EXT
SELECT 'reload', ml_version() IS NOT NULL;
-- Pure functions work in a view, an index and a generated column.
CREATE TABLE t(y REAL, x REAL);
INSERT INTO t VALUES (1, 1), (3, 2), (5, 3);
CREATE TABLE models AS SELECT ml_fit(y, x) AS m FROM t;
CREATE VIEW v AS SELECT x, ml_predict((SELECT m FROM models), x) AS yhat FROM t;
SELECT 'in_view', abs(sum(yhat) - 9) < 1e-12 FROM v;
CREATE TABLE g(x REAL, m BLOB, yhat REAL AS (ml_predict(m, x)));
INSERT INTO g(x, m) SELECT 4, m FROM models;
CREATE INDEX g_yhat ON g(ml_predict(m, x + 1));
SELECT 'in_generated_column', abs(yhat - 7) < 1e-12 FROM g;
SELECT 'in_index', count(*) = 1 FROM g WHERE ml_predict(m, x + 1) > 8.5;
