-- The ml_split virtual table: columns, sides, filters, live reads, sources
-- of every kind, quoting, DIRECTONLY, and the exact text of every error.
-- Plans and proportions are checked in tests/py/test_split.py.

SELECT 'module', count(*) = 1 FROM pragma_module_list WHERE name = 'ml_split';

CREATE TABLE houses(id INTEGER PRIMARY KEY, price REAL, sqft "my, type", rooms DECIMAL(10, 2),
                    city TEXT);
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 1000)
INSERT INTO houses SELECT i, 1000 + i, 10 * i, i % 5, 'c' || (i % 7) FROM k;
CREATE VIRTUAL TABLE hs USING ml_split(houses, test_size=0.2, seed=42);

-- Every column of the source, with its name and declared type, then split.
SELECT 'columns', group_concat(name || ':' || type, ',') =
       'id:INTEGER,price:REAL,sqft:my, type,rooms:DECIMAL(10, 2),city:TEXT,split:TEXT'
  FROM pragma_table_xinfo('hs');
SELECT 'affinity', typeof(sqft) = 'integer' AND typeof(price) = 'real' FROM hs WHERE id = 1;
SELECT 'values', count(*) = 1000 AND sum(price) = 1500500 AND sum(id = rowid) = 1000 FROM hs;

-- The side is ml_split_of of the key, the rowid by default.
SELECT 'same_as_scalar', count(*) = 1000 AND sum(split = ml_split_of(rowid, 0.2, 42)) = 1000 FROM hs;
SELECT 'sides', group_concat(split, ',') = 'test,train' FROM (SELECT DISTINCT split FROM hs ORDER BY 1);
CREATE VIRTUAL TABLE hd USING ml_split(houses);
SELECT 'defaults', count(*) = 1000 AND sum(split = ml_split_of(rowid, 0.2, 0)) = 1000 FROM hd;

-- Filters on split, each against the same count computed without them.
CREATE TABLE sides AS SELECT split, count(*) AS n FROM hs GROUP BY split;
SELECT 'eq_test', (SELECT count(*) FROM hs WHERE split = 'test') = (SELECT n FROM sides WHERE split = 'test');
SELECT 'eq_train', (SELECT count(*) FROM hs WHERE split = 'train') = (SELECT n FROM sides WHERE split = 'train');
SELECT 'is_test', (SELECT count(*) FROM hs WHERE split IS 'test') = (SELECT n FROM sides WHERE split = 'test');
SELECT 'in', (SELECT count(*) FROM hs WHERE split IN ('test', 'valid', 'nope')) = (SELECT n FROM sides WHERE split = 'test');
SELECT 'in_both', (SELECT count(*) FROM hs WHERE split IN ('test', 'train')) = 1000;
SELECT 'ne', (SELECT count(*) FROM hs WHERE split != 'train') = (SELECT n FROM sides WHERE split = 'test');
SELECT 'is_not', (SELECT count(*) FROM hs WHERE split IS NOT 'test') = (SELECT n FROM sides WHERE split = 'train');
SELECT 'eq_other', (SELECT count(*) FROM hs WHERE split = 'TEST') = 0;
SELECT 'eq_number', (SELECT count(*) FROM hs WHERE split = 1) = 0;
SELECT 'eq_null', (SELECT count(*) FROM hs WHERE split = NULL) = 0;
SELECT 'ne_null', (SELECT count(*) FROM hs WHERE split != NULL) = 0;
SELECT 'is_not_null', (SELECT count(*) FROM hs WHERE split IS NOT NULL) = 1000;
SELECT 'is_null', (SELECT count(*) FROM hs WHERE split IS NULL) = 0;
SELECT 'nocase', (SELECT count(*) FROM hs WHERE split = 'TEST' COLLATE NOCASE) = (SELECT n FROM sides WHERE split = 'test');
SELECT 'like', (SELECT count(*) FROM hs WHERE split LIKE 'TE%') = (SELECT n FROM sides WHERE split = 'test');
SELECT 'param', (SELECT count(*) FROM hs WHERE split = (SELECT 'test')) = (SELECT n FROM sides WHERE split = 'test');
SELECT 'join', (SELECT count(*) FROM sides JOIN hs USING (split)) = 1000;
SELECT 'and_lookup', (SELECT count(*) FROM hs WHERE split = 'test' AND id = 2)
       = (SELECT count(*) FROM hs WHERE id = 2 AND ml_split_of(2, 0.2, 42) = 'test');

-- Lookups on the key, the rowid and other columns go to the source.
SELECT 'lookup_id', (SELECT price FROM hs WHERE id = 5) = 1005;
SELECT 'lookup_rowid', (SELECT price FROM hs WHERE rowid = 7) = 1007;
SELECT 'lookup_in', (SELECT sum(price) FROM hs WHERE id IN (1, 2, 3, 1000000)) = 3006;
SELECT 'lookup_text', (SELECT count(*) FROM hs WHERE city = 'c3') = (SELECT count(*) FROM houses WHERE city = 'c3');
SELECT 'lookup_affinity', (SELECT price FROM hs WHERE id = '5') = 1005;
SELECT 'lookup_none', (SELECT count(*) FROM hs WHERE id = 0) = 0;
SELECT 'self_join', (SELECT count(*) FROM hs a JOIN hs b ON a.id = b.id + 1 WHERE a.split = b.split)
       = (SELECT count(*) FROM houses a JOIN houses b ON a.id = b.id + 1
           WHERE ml_split_of(a.id, 0.2, 42) = ml_split_of(b.id, 0.2, 42));

-- Live: rows inserted, changed or deleted after CREATE VIRTUAL TABLE show.
INSERT INTO houses(price) VALUES (1), (2);
DELETE FROM houses WHERE id = 3;
UPDATE houses SET price = -1 WHERE id = 4;
SELECT 'live', count(*) = 1001 AND max(id) = 1002 AND sum(id = 3) = 0 FROM hs;
SELECT 'live_update', price = -1 FROM hs WHERE id = 4;
SELECT 'live_side', split = ml_split_of(1002, 0.2, 42) FROM hs WHERE id = 1002;
-- A statement that writes the source while reading its split sees the rows
-- there were when its scan started, as it would reading the source itself.
CREATE TABLE small(id INTEGER PRIMARY KEY, x);
INSERT INTO small VALUES (1, 1), (2, 2), (3, 3);
CREATE VIRTUAL TABLE ss USING ml_split(small, test_size=0.5, seed=3);
INSERT INTO small(x) SELECT x FROM ss;
SELECT 'insert_select_all', count(*) = 6 FROM small;
INSERT INTO small(x) SELECT x FROM ss WHERE split = 'test';
SELECT 'insert_select_test', count(*) = 6 + (SELECT count(*) FROM ss WHERE split = 'test' AND id <= 6) FROM small;

-- Read-only.
-- error: table hs may not be modified
INSERT INTO hs(price) VALUES (1);
-- error: table hs may not be modified
UPDATE hs SET price = 0;
-- error: table hs may not be modified
DELETE FROM hs WHERE split = 'test';

-- Three ways.
CREATE VIRTUAL TABLE h3 USING ml_split(houses, test_size=0.1, valid_size=0.1, seed=7);
SELECT 'three_way', count(*) = 1001 AND sum(split = ml_split_of(rowid, 0.1, 0.1, 7)) = 1001 FROM h3;
SELECT 'three_sides', count(DISTINCT split) = 3 FROM h3;
SELECT 'valid_in', (SELECT count(*) FROM h3 WHERE split IN ('valid', 'test'))
       = (SELECT count(*) FROM h3 WHERE split <> 'train');
SELECT 'valid_eq', (SELECT count(*) FROM h3 WHERE split = 'valid')
       = (SELECT count(*) FROM houses WHERE ml_split_of(rowid, 0.1, 0.1, 7) = 'valid');

-- A key column: views, WITHOUT ROWID tables, text keys.
CREATE TABLE events(event_id TEXT PRIMARY KEY, v REAL) WITHOUT ROWID;
INSERT INTO events SELECT 'e' || id, price FROM houses;
CREATE VIRTUAL TABLE es USING ml_split(events, test_size=0.1, valid_size=0.1, seed=7, key=event_id);
SELECT 'without_rowid', count(*) = 1001 AND sum(split = ml_split_of(event_id, 0.1, 0.1, 7)) = 1001 FROM es;
SELECT 'without_rowid_lookup', v = 1005 FROM es WHERE event_id = 'e5';
CREATE VIEW cheap AS SELECT id AS house, price FROM houses WHERE price < 1100;
CREATE VIRTUAL TABLE vs USING ml_split(cheap, key=house, seed=42);
SELECT 'view', count(*) = (SELECT count(*) FROM cheap) AND sum(split <> ml_split_of(house, 0.2, 42)) = 0
  FROM vs;
SELECT 'view_types', group_concat(name || ':' || type, ',') = 'house:INTEGER,price:REAL,split:TEXT'
  FROM pragma_table_xinfo('vs');
SELECT 'view_lookup', price = 1010 FROM vs WHERE house = 10;
-- The key column INTEGER PRIMARY KEY is the rowid: the same split.
CREATE VIRTUAL TABLE hk USING ml_split(houses, key=ID, seed=42);
SELECT 'ipk_key', (SELECT group_concat(split) FROM hk) = (SELECT group_concat(split) FROM hs);
-- REAL keys with an integer value are the integer; text is not.
CREATE TABLE reals(k REAL);
INSERT INTO reals VALUES (5), (5.5), (-0.0);
CREATE VIRTUAL TABLE rs USING ml_split(reals, key=k, test_size=0.5, seed=1);
SELECT 'real_key', count(*) = 3 AND sum(split = ml_split_of(k, 0.5, 1)) = 3 FROM rs;
SELECT 'real_integral', ml_split_of(5.0, 0.5, 1) = ml_split_of(5, 0.5, 1)
       AND ml_split_of(-0.0, 0.5, 1) = ml_split_of(0, 0.5, 1);
-- A column named rowid is what rowid means in SQL, so it is the default key.
CREATE TABLE shadowed(rowid TEXT, x);
INSERT INTO shadowed VALUES ('a', 1), ('b', 2), ('c', 3);
CREATE VIRTUAL TABLE sh USING ml_split(shadowed, test_size=0.5);
SELECT 'rowid_column', count(*) = 3 AND sum(split = ml_split_of(rowid, 0.5, 0)) = 3 FROM sh;

-- Names: quotes, spaces, keywords, schemas; and one built as an injection.
CREATE TABLE "a""b; DROP TABLE houses; --"("select" INTEGER, "my col" TEXT);
INSERT INTO "a""b; DROP TABLE houses; --" VALUES (1, 'x'), (2, 'y');
CREATE VIRTUAL TABLE q1 USING ml_split("a""b; DROP TABLE houses; --", key="select", test_size=0.5);
SELECT 'quoted', count(*) = 2 AND sum(split = ml_split_of("select", 0.5, 0)) = 2 FROM q1;
SELECT 'quoted_columns', group_concat(name, ',') = 'select,my col,split' FROM pragma_table_xinfo('q1');
SELECT 'quoted_lookup', "my col" = 'y' FROM q1 WHERE "select" = 2;
CREATE VIRTUAL TABLE q2 USING ml_split([a"b; DROP TABLE houses; --], key=[my col]);
SELECT 'brackets', count(*) = 2 FROM q2;
CREATE VIRTUAL TABLE q3 USING ml_split(source=main.houses, test_size='0.2', seed='42', key=`id`);
SELECT 'quoted_values', count(*) = 0 FROM q3 WHERE split <> ml_split_of(id, 0.2, 42);
CREATE VIRTUAL TABLE q4 USING ml_split(main.houses, seed = -7 ,  test_size = 2.5e-1);
SELECT 'spaces_signs', count(*) = 0 FROM q4 WHERE split <> ml_split_of(id, 0.25, -7);
-- error: ml_split: no table or view named 'a"; DROP TABLE houses; --' in schema 'main'
CREATE VIRTUAL TABLE q5 USING ml_split('a"; DROP TABLE houses; --');
SELECT 'injection', count(*) = 1001 FROM houses;
-- In temp, the source is found as SQL finds it; elsewhere, in the same schema.
CREATE TEMP TABLE scratch(x);
INSERT INTO scratch VALUES (1), (2);
CREATE VIRTUAL TABLE temp.ts USING ml_split(scratch);
CREATE VIRTUAL TABLE temp.tm USING ml_split(houses);
SELECT 'temp', (SELECT count(*) FROM ts) = 2 AND (SELECT count(*) FROM tm) = 1001;
-- error: ml_split: no table or view named 'scratch' in schema 'main'
CREATE VIRTUAL TABLE ms USING ml_split(scratch);
CREATE VIRTUAL TABLE ms USING ml_split(temp.scratch);
SELECT 'schema', count(*) = 2 FROM ms;
ATTACH ':memory:' AS aux;
CREATE TABLE aux.houses(x);
INSERT INTO aux.houses VALUES (1);
CREATE VIRTUAL TABLE aux.hs USING ml_split(houses);
SELECT 'attached', (SELECT count(*) FROM aux.hs) = 1 AND (SELECT count(*) FROM main.hs) = 1001;

-- DIRECTONLY: a view or trigger in the schema may not use the table; temp ones may.
CREATE VIEW uses_split AS SELECT * FROM hs;
-- error: unsafe use of virtual table "hs"
SELECT count(*) FROM uses_split;
CREATE TABLE log(n);
CREATE TRIGGER on_insert AFTER INSERT ON small BEGIN INSERT INTO log SELECT count(*) FROM hs; END;
-- error: unsafe use of virtual table "hs"
INSERT INTO small(x) VALUES (0);
DROP TRIGGER on_insert;
CREATE TEMP VIEW temp_uses_split AS SELECT * FROM hs;
SELECT 'temp_view', count(*) = 1001 FROM temp_uses_split;

-- The scalar: DETERMINISTIC and INNOCUOUS, so it works in schema objects.
CREATE INDEX houses_side ON houses(ml_split_of(id, 0.2, 42));
SELECT 'index', count(*) = (SELECT count(*) FROM hs WHERE split = 'test')
  FROM houses WHERE ml_split_of(id, 0.2, 42) = 'test';

-- Arguments.
-- error: ml_split: unknown argument 'tset_size' (expected source, test_size, valid_size, seed or key)
CREATE VIRTUAL TABLE e USING ml_split(houses, tset_size=0.2);
-- error: ml_split: missing the source: ml_split(table, test_size=..., seed=...)
CREATE VIRTUAL TABLE e USING ml_split(test_size=0.2);
-- error: ml_split: missing the source: ml_split(table, test_size=..., seed=...)
CREATE VIRTUAL TABLE e USING ml_split;
-- error: ml_split: more than one source argument
CREATE VIRTUAL TABLE e USING ml_split(houses, source=houses);
-- error: ml_split: more than one seed argument
CREATE VIRTUAL TABLE e USING ml_split(houses, seed=1, SEED=2);
-- error: ml_split: no table or view named 'housse' in schema 'main'
CREATE VIRTUAL TABLE e USING ml_split(housse);
-- error: ml_split: no table or view named 'houses' in schema 'nosuch'
CREATE VIRTUAL TABLE e USING ml_split(nosuch.houses);
-- error: ml_split: the source 'main.' is not a name: expected table, schema.table or a query (SELECT, WITH or VALUES)
CREATE VIRTUAL TABLE e USING ml_split(main.);
-- error: ml_split: the source 'a.b.c' is not a name: expected table, schema.table or a query (SELECT, WITH or VALUES)
CREATE VIRTUAL TABLE e USING ml_split(a.b.c);
-- error: ml_split: source e is this split table itself
CREATE VIRTUAL TABLE e USING ml_split(e);
-- error: ml_split: test_size must be a number in (0, 1), got 1.5
CREATE VIRTUAL TABLE e USING ml_split(houses, test_size=1.5);
-- error: ml_split: test_size must be a number in (0, 1), got 0
CREATE VIRTUAL TABLE e USING ml_split(houses, test_size=0);
-- error: ml_split: test_size must be a number in (0, 1), got 1
CREATE VIRTUAL TABLE e USING ml_split(houses, test_size=1);
-- error: ml_split: test_size must be a number in (0, 1), got abc
CREATE VIRTUAL TABLE e USING ml_split(houses, test_size=abc);
-- error: ml_split: test_size must be a number in (0, 1), got nothing
CREATE VIRTUAL TABLE e USING ml_split(houses, test_size=);
-- error: ml_split: test_size must be a number in (0, 1), got 0x1p-2
CREATE VIRTUAL TABLE e USING ml_split(houses, test_size='0x1p-2');
-- error: ml_split: test_size must be a number in (0, 1), got nan
CREATE VIRTUAL TABLE e USING ml_split(houses, test_size=nan);
-- error: ml_split: valid_size must be a number in [0, 1), got -0.1
CREATE VIRTUAL TABLE e USING ml_split(houses, valid_size=-0.1);
-- error: ml_split: test_size + valid_size must be below 1, got 0.5 + 0.5
CREATE VIRTUAL TABLE e USING ml_split(houses, test_size=0.5, valid_size=0.5);
-- error: ml_split: test_size + valid_size must be below 1, got 0.2 + 0.8
CREATE VIRTUAL TABLE e USING ml_split(houses, valid_size=0.8);
-- error: ml_split: seed must be an integer, got 4.2
CREATE VIRTUAL TABLE e USING ml_split(houses, seed=4.2);
-- error: ml_split: seed must be an integer, got 9223372036854775808
CREATE VIRTUAL TABLE e USING ml_split(houses, seed=9223372036854775808);
-- error: ml_split: key price_ is not a column of houses
CREATE VIRTUAL TABLE e USING ml_split(houses, key=price_);
-- error: ml_split: source cheap is a view, which has no rowid: give key=<column>
CREATE VIRTUAL TABLE e USING ml_split(cheap);
-- error: ml_split: source events is a WITHOUT ROWID table, which has no rowid: give key=<column>
CREATE VIRTUAL TABLE e USING ml_split(events, key=oid);
CREATE TABLE has_split(x, Split);
-- error: ml_split: source has_split already has a column named Split
CREATE VIRTUAL TABLE e USING ml_split(has_split);
SELECT 'no_leftovers', count(*) = 0 FROM sqlite_schema WHERE name = 'e';
CREATE VIRTUAL TABLE hx USING ml_split(houses, seed=-9223372036854775808);
SELECT 'seed_range', count(*) = 1001 AND sum(split = ml_split_of(id, 0.2, -9223372036854775808)) = 1001 FROM hx;

-- A NULL key has no side: an error naming the key and the row.
CREATE TABLE nullkey(k, x);
INSERT INTO nullkey VALUES (1, 1), (NULL, 2);
CREATE VIRTUAL TABLE nk USING ml_split(nullkey, key=k);
-- error: ml_split: key k is NULL in the row of nullkey with rowid 2; a NULL key has no side
SELECT count(*) FROM nk;
SELECT 'null_key_lookup', split = ml_split_of(1, 0.2, 0) FROM nk WHERE k = 1;
CREATE VIEW nullview AS SELECT k, x FROM nullkey;
CREATE VIRTUAL TABLE nv USING ml_split(nullview, key=k);
-- error: ml_split: key k is NULL in a row of nullview; a NULL key has no side
SELECT count(*) FROM nv;

-- When the source goes, the table says so when read.
CREATE TABLE gone(x);
CREATE VIRTUAL TABLE gs USING ml_split(gone);
DROP TABLE gone;
-- error: ml_split: reading gone: no such table: main.gone
SELECT * FROM gs;
DROP TABLE gs;
SELECT 'dropped', count(*) = 0 FROM sqlite_schema WHERE name = 'gs';
-- A column added to the source appears.
ALTER TABLE small ADD COLUMN extra DEFAULT 9;
SELECT 'added_column', count(*) = count(extra) FROM ss;

-- The scalar's errors.
-- error: ml_split_of(): test_size must be a number in (0, 1), got 2
SELECT ml_split_of(1, 2, 1);
-- error: ml_split_of(): test_size must be a number in (0, 1), got '0.2'
SELECT ml_split_of(1, '0.2', 1);
-- error: ml_split_of(): valid_size must be a number in [0, 1), got NULL
SELECT ml_split_of(1, 0.2, NULL, 1);
-- error: ml_split_of(): test_size + valid_size must be below 1, got 0.5 + 0.5
SELECT ml_split_of(1, 0.5, 0.5, 1);
-- error: ml_split_of(): seed must be an integer, got 4.2
SELECT ml_split_of(1, 0.2, 4.2);
-- error: ml_split_of(): seed must be an integer, got a blob
SELECT ml_split_of(1, 0.2, x'01');
-- error: ml_split_of(): the key is NULL; a NULL key has no side
SELECT ml_split_of(NULL, 0.2, 1);
SELECT 'empty_keys', ml_split_of('', 0.5, 1) IS NOT NULL AND ml_split_of(x'', 0.5, 1) IS NOT NULL;
SELECT 'zeroblob', ml_split_of(zeroblob(3), 0.5, 9) = ml_split_of(x'000000', 0.5, 9);
