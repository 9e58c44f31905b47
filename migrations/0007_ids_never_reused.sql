-- 0007_ids_never_reused: snapshot and run ids are never handed out twice.
--
-- An INTEGER PRIMARY KEY without AUTOINCREMENT takes max(id) + 1, so
-- deleting the newest snapshot and taking another gave the new one the
-- deleted one's id: a link, a script's saved id or a download URL made
-- for the old snapshot then named a different one.  AUTOINCREMENT keeps
-- the high-water mark in sqlite_sequence and never goes below it.  Runs
-- (restores are runs) get the same guarantee although they are not
-- deleted today.
--
-- SQLite cannot add AUTOINCREMENT to an existing table, so both tables are
-- rebuilt (https://sqlite.org/lang_altertable.html, "Making Other Kinds Of
-- Table Schema Changes"): create the new table with every column and
-- constraint of 0001 plus the columns later migrations added (0002
-- scheduled_for, inflight, worker, storage_key; 0005 instance_id; 0006
-- layout, backup_set), in the same order, copy the rows with their ids,
-- drop the old table, rename, and recreate every index.  The migrator
-- runs this with foreign key enforcement off (dropping `runs` must not
-- null snapshots.run_id through ON DELETE SET NULL) and checks
-- PRAGMA foreign_key_check before it commits.
--
-- Copying rows with explicit ids sets sqlite_sequence to the largest id
-- copied.  For snapshots the sequence starts higher when runs recorded a
-- larger snapshot id (a backup result's snapshot_id or safety_snapshot_id,
-- a restore request's snapshot_id) that was deleted since; an id deleted
-- without any such trace cannot be recovered, and only ids above it are
-- safe from then on.

CREATE TABLE runs_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL CHECK (kind IN ('backup', 'restore')),
    plan_id          INTEGER REFERENCES plans (id) ON DELETE SET NULL,
    plan_name        TEXT,                                 -- kept when the plan is deleted
    trigger          TEXT    NOT NULL CHECK (trigger IN ('schedule', 'api')),
    triggered_by     TEXT,                                 -- token name for 'api'
    idempotency_key  TEXT,
    state            TEXT    NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'partial')),
    phase            TEXT    CHECK (phase IS NULL OR phase IN
                         ('snapshotting', 'transferring', 'verifying', 'cleaning', 'restoring')),
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    bytes_done       INTEGER NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),
    bytes_total      INTEGER CHECK (bytes_total IS NULL OR bytes_total >= 0),
    request          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(request)),  -- what was asked
    results          TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(results)),  -- per collection
    error            TEXT,
    queued_at        INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    -- 0002
    scheduled_for    INTEGER,
    inflight         TEXT    CHECK (inflight IS NULL OR json_valid(inflight)),
    worker           INTEGER,
    -- 0005
    instance_id      INTEGER REFERENCES instances (id) ON DELETE SET NULL
);
INSERT INTO runs_new (id, kind, plan_id, plan_name, trigger, triggered_by, idempotency_key,
                      state, phase, cancel_requested, bytes_done, bytes_total, request, results,
                      error, queued_at, started_at, finished_at, scheduled_for, inflight, worker,
                      instance_id)
    SELECT id, kind, plan_id, plan_name, trigger, triggered_by, idempotency_key,
           state, phase, cancel_requested, bytes_done, bytes_total, request, results,
           error, queued_at, started_at, finished_at, scheduled_for, inflight, worker,
           instance_id
    FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;

-- GET /v1/runs?plan=X (newest first), and the status page's "last run of plan"
CREATE INDEX runs_plan_queued ON runs (plan_id, queued_at DESC, id DESC);
-- GET /v1/runs (newest first, cursor on id) with optional state/kind filters
CREATE INDEX runs_queued ON runs (queued_at DESC, id DESC);
-- the dispatcher's "what is waiting or running" scan, and crash recovery
CREATE INDEX runs_active ON runs (state) WHERE state IN ('queued', 'running');
-- Idempotency-Key replay: the same key for the same kind and plan is one run
CREATE UNIQUE INDEX runs_idempotency ON runs (kind, ifnull(plan_id, 0), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- scheduler: "was this slot of this plan queued already?"
CREATE UNIQUE INDEX runs_plan_slot ON runs (plan_id, scheduled_for)
    WHERE scheduled_for IS NOT NULL;
-- the claim query's "how many runs are going on this instance"
CREATE INDEX runs_instance_active ON runs (instance_id) WHERE state = 'running';

CREATE TABLE snapshots_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id          INTEGER REFERENCES plans (id) ON DELETE SET NULL,
    run_id           INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    instance_id      INTEGER REFERENCES instances (id) ON DELETE SET NULL,
    instance_name    TEXT    NOT NULL,                     -- kept when the instance is deleted
    destination_id   INTEGER NOT NULL REFERENCES destinations (id) ON DELETE RESTRICT,
    kind             TEXT    NOT NULL CHECK (kind IN ('collection', 'full', 'shard')),
    collection       TEXT,                                 -- NULL for 'full'
    shard_id         INTEGER,
    qdrant_name      TEXT    NOT NULL,                     -- Qdrant's snapshot file name
    location         TEXT    NOT NULL,                     -- s3://bucket/key or file path
    size_bytes       INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256           TEXT    NOT NULL CHECK (length(sha256) = 64),
    qdrant_checksum  TEXT    CHECK (qdrant_checksum IS NULL OR length(qdrant_checksum) = 64),
    qdrant_version   TEXT,
    points_count     INTEGER CHECK (points_count IS NULL OR points_count >= 0),
    created_at       INTEGER NOT NULL,
    verified_at      INTEGER,
    verify_error     TEXT,                                 -- last failed verification, if any
    pinned           INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    -- 0002
    storage_key      TEXT    NOT NULL DEFAULT '',
    -- 0006
    layout           TEXT    NOT NULL DEFAULT 'snapshot' CHECK (layout IN ('snapshot', 'shards')),
    backup_set       TEXT    CHECK (backup_set IS NULL OR json_valid(backup_set)),
    CHECK ((kind = 'full') = (collection IS NULL)),
    UNIQUE (destination_id, location)
);
INSERT INTO snapshots_new (id, plan_id, run_id, instance_id, instance_name, destination_id, kind,
                           collection, shard_id, qdrant_name, location, size_bytes, sha256,
                           qdrant_checksum, qdrant_version, points_count, created_at, verified_at,
                           verify_error, pinned, storage_key, layout, backup_set)
    SELECT id, plan_id, run_id, instance_id, instance_name, destination_id, kind,
           collection, shard_id, qdrant_name, location, size_bytes, sha256,
           qdrant_checksum, qdrant_version, points_count, created_at, verified_at,
           verify_error, pinned, storage_key, layout, backup_set
    FROM snapshots;
DROP TABLE snapshots;
ALTER TABLE snapshots_new RENAME TO snapshots;

-- retention per target and "latest snapshot of plan+collection" for restores
CREATE INDEX snapshots_plan_target ON snapshots (plan_id, collection, created_at DESC, id DESC);
-- GET /v1/snapshots?instance=X&collection=Y (newest first)
CREATE INDEX snapshots_instance_target ON snapshots (instance_id, collection, created_at DESC, id DESC);
-- GET /v1/snapshots (newest first, cursor)
CREATE INDEX snapshots_created ON snapshots (created_at DESC, id DESC);
-- snapshots produced by a run (run detail page)
CREATE INDEX snapshots_run ON snapshots (run_id);
-- crash recovery and rescan: "is the object at this key catalogued?"
CREATE INDEX snapshots_destination_key ON snapshots (destination_id, storage_key);

-- The highest snapshot id the runs remember, when above every row's.
-- sqlite_sequence has a row for snapshots only once a row was copied, so
-- insert it when missing (an empty catalogue) and raise it otherwise.
CREATE TEMP TABLE qb_snapshot_ids AS
    SELECT coalesce(max(v), 0) AS high FROM (
        SELECT max(id) AS v FROM snapshots
        UNION ALL
        SELECT max(CAST(json_extract(r.value, '$.snapshot_id') AS INTEGER))
            FROM runs, json_each(runs.results) AS r
            WHERE json_type(runs.results) = 'array' AND r.type = 'object'
        UNION ALL
        SELECT max(CAST(json_extract(r.value, '$.safety_snapshot_id') AS INTEGER))
            FROM runs, json_each(runs.results) AS r
            WHERE json_type(runs.results) = 'array' AND r.type = 'object'
        UNION ALL
        SELECT max(CAST(json_extract(request, '$.snapshot_id') AS INTEGER))
            FROM runs WHERE kind = 'restore' AND json_type(request) = 'object'
    );
UPDATE sqlite_sequence SET seq = (SELECT high FROM qb_snapshot_ids)
    WHERE name = 'snapshots' AND seq < (SELECT high FROM qb_snapshot_ids);
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'snapshots', high FROM qb_snapshot_ids
    WHERE high > 0 AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'snapshots');
DROP TABLE qb_snapshot_ids;
