-- 0001_initial: the catalogue's first schema.
--
-- Never edit this file once released; add NNNN_description.sql instead.
-- qbackupd runs each migration in one transaction and records it in
-- schema_migrations (created by the migrator itself).
--
-- Conventions: times are INTEGER Unix seconds (UTC); booleans are INTEGER 0/1
-- with a CHECK; JSON columns hold documents the API validated before writing;
-- names are the API's identifiers, ids are internal.  Secrets (API keys, S3
-- credentials) live only in the *_secret columns, which the API never returns.

-- Qdrant endpoints qbackup may drive.
CREATE TABLE instances (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    url            TEXT    NOT NULL,
    api_key_secret TEXT,                                   -- write-only in the API
    tls_verify     INTEGER NOT NULL DEFAULT 1 CHECK (tls_verify IN (0, 1)),
    ca_file        TEXT,
    max_concurrent INTEGER NOT NULL DEFAULT 1 CHECK (max_concurrent BETWEEN 1 AND 64),
    timeout_s      INTEGER NOT NULL DEFAULT 30 CHECK (timeout_s BETWEEN 1 AND 3600),
    -- 'config': defined by qbackupd's configuration and refreshed at start;
    -- the API refuses to change or delete it.  'api': created over the API.
    managed_by     TEXT    NOT NULL DEFAULT 'api' CHECK (managed_by IN ('api', 'config')),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- Where snapshots are stored.
CREATE TABLE destinations (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL CHECK (kind IN ('local', 's3')),
    settings      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(settings)), -- path, bucket, endpoint...
    secret        TEXT    CHECK (secret IS NULL OR json_valid(secret)),        -- S3 keys: write-only
    managed_by    TEXT    NOT NULL DEFAULT 'api' CHECK (managed_by IN ('api', 'config')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- What to back up, when, where to, and how long to keep it.
CREATE TABLE plans (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    instance_id    INTEGER NOT NULL REFERENCES instances (id) ON DELETE RESTRICT,
    destination_id INTEGER NOT NULL REFERENCES destinations (id) ON DELETE RESTRICT,
    -- 'collections': the listed ones; 'all': every collection at run time;
    -- 'full': a full-instance snapshot.
    scope          TEXT    NOT NULL CHECK (scope IN ('collections', 'all', 'full')),
    collections    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(collections)),
    schedule       TEXT,                                   -- 5-field cron or @daily etc; NULL: on demand only
    timezone       TEXT    NOT NULL DEFAULT 'UTC',
    key_prefix     TEXT    NOT NULL DEFAULT '',
    retention      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(retention)),
    verify         INTEGER NOT NULL DEFAULT 1 CHECK (verify IN (0, 1)),
    alert_after_s  INTEGER CHECK (alert_after_s IS NULL OR alert_after_s > 0),
    enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    labels         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
-- "which plans use this instance/destination" (delete checks, listings)
CREATE INDEX plans_instance ON plans (instance_id);
CREATE INDEX plans_destination ON plans (destination_id);

-- One execution of a plan (kind 'backup') or a restore (kind 'restore').
CREATE TABLE runs (
    id               INTEGER PRIMARY KEY,
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
    finished_at      INTEGER
);
-- GET /v1/runs?plan=X (newest first), and the status page's "last run of plan"
CREATE INDEX runs_plan_queued ON runs (plan_id, queued_at DESC, id DESC);
-- GET /v1/runs (newest first, cursor on id) with optional state/kind filters
CREATE INDEX runs_queued ON runs (queued_at DESC, id DESC);
-- the dispatcher's "what is waiting or running" scan, and crash recovery
CREATE INDEX runs_active ON runs (state) WHERE state IN ('queued', 'running');
-- Idempotency-Key replay: the same key for the same kind and plan is one run
CREATE UNIQUE INDEX runs_idempotency ON runs (kind, ifnull(plan_id, 0), idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- The catalogue: every snapshot that is fully stored and checksum-verified.
-- A row is inserted only after the object is complete and its SHA-256
-- matches; retention and DELETE remove the stored object before the row.
CREATE TABLE snapshots (
    id               INTEGER PRIMARY KEY,
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
    CHECK ((kind = 'full') = (collection IS NULL)),
    UNIQUE (destination_id, location)
);
-- retention per target and "latest snapshot of plan+collection" for restores
CREATE INDEX snapshots_plan_target ON snapshots (plan_id, collection, created_at DESC, id DESC);
-- GET /v1/snapshots?instance=X&collection=Y (newest first)
CREATE INDEX snapshots_instance_target ON snapshots (instance_id, collection, created_at DESC, id DESC);
-- GET /v1/snapshots (newest first, cursor)
CREATE INDEX snapshots_created ON snapshots (created_at DESC, id DESC);
-- snapshots produced by a run (run detail page)
CREATE INDEX snapshots_run ON snapshots (run_id);

-- A row readiness checks write to, proving the catalogue is writable.
CREATE TABLE heartbeat (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
INSERT INTO heartbeat (id, checked_at) VALUES (1, 0);
