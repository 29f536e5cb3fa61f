-- The loop of minimum viable production, one run per batch of new rows:
-- take the rows in, retrain, and move 'production' only if the new version
-- is better on its own held-out rows.  Run it with -bail, so that a gate
-- that fails stops the run and the exit code says so:
--
--   sqlite3 -bail -cmd '.load dist/sqlml' houses.db < examples/pipeline.sql
--
-- houses holds the rows trained on; incoming the new batch (an app writes
-- it, or `.import --csv batch.csv incoming`).

-- 1. The new rows join the training data, in one transaction.
BEGIN;
INSERT INTO houses(sqft, rooms, city, price) SELECT sqft, rooms, city, price FROM incoming;
DELETE FROM incoming;
COMMIT;

-- 2. A new version from every row, with the same split rule as before: a
--    row's side never changes, so old test rows stay test rows.
SELECT ml_train('price', 'houses', 'price', '["sqft","rooms","city"]',
                '{"test_size":0.25,"seed":42}') ->> '$.version' AS trained;

-- 3. The gate: the new version must beat production's rmse by 5% on the new
--    version's test rows (production is scored on the very same rows).  A
--    first run sets production.  "required" makes a failed gate an error.
SELECT ml_promote('price', 'production',
                  '{"metric":"rmse","min_improvement":0.05,"relative":true,"required":true}');
