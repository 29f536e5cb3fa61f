-- Sources as the shell user writes them: qualified, quoted, queries with a
-- trailing semicolon or comment; parameters refused; ml_predictions by name.
CREATE TABLE t(id INTEGER PRIMARY KEY, y REAL, x REAL);
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 40)
INSERT INTO t SELECT i, 1 + 2 * i, i FROM r;
ATTACH ':memory:' AS aux;
CREATE TABLE aux.t(id INTEGER PRIMARY KEY, y REAL, x REAL);
INSERT INTO aux.t SELECT id, 5 - x, x FROM main.t WHERE id <= 20;
CREATE TABLE "odd ""name"""(y REAL, x REAL);
INSERT INTO "odd ""name""" SELECT y, x FROM t;

CREATE TEMP TABLE trained AS SELECT ml_train('m', 't', 'y', '["x"]') AS j
  UNION ALL SELECT ml_train('a', 'aux.t', 'y', '["x"]');
SELECT 'main_t', json_extract(j, '$.n_train') + json_extract(j, '$.n_test') = 40
  FROM trained WHERE json_extract(j, '$.model') = 'm';
SELECT 'aux_t', json_extract(j, '$.n_train') + json_extract(j, '$.n_test') = 20
  FROM trained WHERE json_extract(j, '$.model') = 'a';
SELECT 'evaluate_main', json_extract(ml_evaluate('m', 't'), '$.n') = 40;
SELECT 'aux_slope', abs(estimate + 1) < 1e-12 FROM ml_weights('a') WHERE term = 'x';
SELECT 'quoted', json_extract(ml_evaluate('m', '"odd ""name"""'), '$.n') = 40;
SELECT 'semicolon', json_extract(ml_evaluate('m', 'SELECT * FROM t WHERE id > 30;'), '$.n') = 10;
SELECT 'comment', json_extract(ml_evaluate('m', 'SELECT * FROM t WHERE id > 30 -- the last ten'), '$.n') = 10;
SELECT 'both', json_extract(ml_evaluate('m', 'SELECT * FROM t WHERE id > 30; /* ten */ -- rows
'), '$.n') = 10;
-- error: ml_train(): the source query has a parameter (?1); write its value into the query
SELECT ml_train('p', 'SELECT * FROM t WHERE id > ?1', 'y', '["x"]');
-- error: ml_evaluate(): the source query has a parameter (:lo); write its value into the query
SELECT ml_evaluate('m', 'SELECT * FROM t WHERE id > :lo');
-- error: ml_split: the source query has a parameter ($lo); write its value into the query
CREATE VIRTUAL TABLE e USING ml_split('SELECT * FROM t WHERE id > $lo', key=id);
-- error: ml_evaluate(): no table or view named 'nosuch' in schema 'aux'
SELECT ml_evaluate('m', 'aux.nosuch');

-- ml_split reads the same sources: a query, with its key.
CREATE VIRTUAL TABLE q USING ml_split('SELECT id, y, x FROM t WHERE id <= 30;', key=id, seed=4);
SELECT 'split_query', count(*) = 30 AND sum(split = ml_split_of(id, 0.2, 4)) = 30 FROM q;
-- error: ml_split: source SELECT * FROM t is a query, which has no rowid: give key=<column>
CREATE VIRTUAL TABLE e USING ml_split('SELECT * FROM t');
CREATE VIRTUAL TABLE k USING ml_split(t, key=oid, seed=4);
SELECT 'key_oid', sum(split = ml_split_of(id, 0.2, 4)) = 40 FROM k;

-- ml_predictions: by column name, whatever the order.
CREATE TABLE fresh(name TEXT, x REAL);
INSERT INTO fresh VALUES ('a', 100), ('b', NULL), ('c', -3);
SELECT 'predictions', group_concat(coalesce(prediction, 'null'), ' ') = '201.0 null -5.0'
  FROM (SELECT round(prediction, 9) AS prediction FROM ml_predictions('m', 'fresh') ORDER BY source_rowid);
SELECT 'joined', group_concat(f.name || '=' || round(p.prediction), ' ') = 'a=201.0 c=-5.0'
  FROM fresh AS f JOIN ml_predictions('m', 'fresh') AS p ON p.source_rowid = f.rowid
 WHERE p.prediction IS NOT NULL;
CREATE TABLE only_name(name TEXT);
-- error: ml_predictions(): the source 'only_name' has no column 'x' (the model 'm' needs x)
SELECT * FROM ml_predictions('m', 'only_name');
