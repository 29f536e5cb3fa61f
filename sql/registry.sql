-- The model registry: created by sqlml on first use (ml_train), inside the
-- database that holds the data.  Embedded into the extension at build time.
-- Plain tables, a trigger and a view: readable without sqlml loaded.
-- Every change sqlml makes to it is a single statement, so each is atomic
-- by SQLite's own guarantee whatever the calling context (README).
--
-- sqlml trusts these objects only as written here (registry.c compares
-- sqlite_schema with this text): each statement starts a line with CREATE
-- and names its object `IF NOT EXISTS main.name`, which SQLite stores as
-- plain `name`.  A text changed here must leave the old one accepted
-- (registry.c lists the texts of earlier releases).

-- One row per trained version of a model.  A version is an integer, by a
-- CHECK rather than STRICT: a STRICT table makes the whole file unreadable
-- to SQLite before 3.37.
CREATE TABLE IF NOT EXISTS main.ml_model_versions (
  name          TEXT    NOT NULL,
  version       INTEGER NOT NULL CHECK (typeof(version) = 'integer' AND version >= 1),
  created_at    TEXT    NOT NULL,  -- UTC, ISO-8601: 2026-11-26T10:09:45Z
  kind          TEXT    NOT NULL,  -- 'linear_regression'
  source        TEXT    NOT NULL,  -- the table, view or query, as given
  target        TEXT    NOT NULL,
  features      TEXT    NOT NULL,  -- JSON array of column names
  options       TEXT    NOT NULL,  -- JSON object, as given (defaults filled in)
  n_train       INTEGER NOT NULL,
  n_test        INTEGER NOT NULL,
  n_skipped     INTEGER NOT NULL,
  metrics       TEXT    NOT NULL,  -- JSON: {"train": {...}, "test": {...}}
  data_hash     TEXT    NOT NULL,  -- fingerprint of the training rows (README)
  sqlml_version TEXT    NOT NULL,
  model         BLOB    NOT NULL,  -- the model BLOB (README: The model BLOB)
  PRIMARY KEY (name, version)
) WITHOUT ROWID;

-- Named pointers to versions: 'house_price@production'.
CREATE TABLE IF NOT EXISTS main.ml_aliases (
  name    TEXT    NOT NULL,
  alias   TEXT    NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (name, alias)
) WITHOUT ROWID;

-- A dropped version takes its aliases with it, in the same statement.
CREATE TRIGGER IF NOT EXISTS main.ml_model_versions_drop AFTER DELETE ON ml_model_versions
BEGIN
  DELETE FROM ml_aliases WHERE name = old.name AND version = old.version;
END;

-- One row per version, with its aliases, without the BLOB.  A row whose
-- metrics are not JSON shows NULL metrics rather than failing the view.
CREATE VIEW IF NOT EXISTS main.ml_models AS
SELECT v.name, v.version, v.created_at, v.kind, v.target, v.features,
       v.n_train, v.n_test, v.n_skipped,
       CASE WHEN json_valid(v.metrics) THEN json_extract(v.metrics, '$.train.r2') END AS r2_train,
       CASE WHEN json_valid(v.metrics) THEN json_extract(v.metrics, '$.test.r2') END AS r2_test,
       CASE WHEN json_valid(v.metrics) THEN json_extract(v.metrics, '$.test.rmse') END AS rmse_test,
       (SELECT json_group_array(a.alias) FROM
          (SELECT alias FROM ml_aliases a WHERE a.name = v.name AND a.version = v.version
           ORDER BY alias) AS a) AS aliases,
       v.data_hash, v.metrics, v.options, v.source, v.sqlml_version
  FROM ml_model_versions AS v;

-- Every move of an alias made through ml_alias or ml_promote, oldest first,
-- never changed: the move itself is this table's INSERT (its trigger sets
-- ml_aliases), so the record and the move are one statement.  figures holds
-- ml_promote's decision (JSON); NULL for ml_alias.
CREATE TABLE IF NOT EXISTS main.ml_alias_history (
  seq          INTEGER PRIMARY KEY,
  moved_at     TEXT    NOT NULL,  -- UTC, ISO-8601
  name         TEXT    NOT NULL,
  alias        TEXT    NOT NULL,
  from_version INTEGER,           -- NULL: the alias is new
  to_version   INTEGER,           -- NULL: the alias was removed
  moved_by     TEXT    NOT NULL,  -- 'ml_alias' or 'ml_promote'
  figures      TEXT
);

CREATE TRIGGER IF NOT EXISTS main.ml_alias_history_move AFTER INSERT ON ml_alias_history
BEGIN
  DELETE FROM ml_aliases WHERE name = new.name AND alias = new.alias AND new.to_version IS NULL;
  INSERT OR REPLACE INTO ml_aliases(name, alias, version)
    SELECT new.name, new.alias, new.to_version WHERE new.to_version IS NOT NULL;
END;

CREATE TRIGGER IF NOT EXISTS main.ml_alias_history_keep BEFORE UPDATE ON ml_alias_history
BEGIN
  SELECT RAISE(ABORT, 'ml_alias_history is append-only');
END;

CREATE TRIGGER IF NOT EXISTS main.ml_alias_history_kept BEFORE DELETE ON ml_alias_history
BEGIN
  SELECT RAISE(ABORT, 'ml_alias_history is append-only');
END;
