-- 0001_initial: the catalogue's first schema, on PostgreSQL.
--
-- The PostgreSQL twin of migrations/0001_initial.sql (docs/internals/fleet.md):
-- the same tables, columns, constraints, indexes and names, so the store's
-- queries run on both.  Deliberate differences: INTEGER columns are bigint
-- (SQLite's integers are 64-bit); an INTEGER PRIMARY KEY that SQLite fills
-- from the rowid is a bigint identity here; booleans stay 0/1 integers with
-- their CHECK (the store binds and reads them as integers on both); JSON
-- columns stay text, checked by json_valid() below, so a document is read
-- back byte for byte as the API wrote it (jsonb would re-order its keys).
--
-- Never edit this file once released; add NNNN_description.sql (and its
-- twin here) instead.  qbackupd runs each migration in one transaction and
-- records it in schema_migrations (created by the migrator itself).
--
-- Conventions: times are INTEGER Unix seconds (UTC); booleans are INTEGER 0/1
-- with a CHECK; JSON columns hold documents the API validated before writing;
-- names are the API's identifiers, ids are internal.  Secrets (API keys, S3
-- credentials) live only in the *_secret columns, which the API never returns.

-- SQLite's json_valid(): true when the text parses as JSON, NULL for NULL.
-- Named as in SQLite so that the CHECKs (and any store query using it) read
-- the same on both backends.  A cast that fails raises a data exception
-- (class 22), caught here so a bad document is a CHECK violation, as in
-- SQLite, and not a different error.
CREATE FUNCTION json_valid(doc text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    PERFORM doc::json;
    RETURN true;
EXCEPTION WHEN data_exception THEN
    RETURN false;
END
$$;

-- Qdrant endpoints qbackup may drive.
CREATE TABLE instances (
    id             bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text    NOT NULL UNIQUE,
    url            text    NOT NULL,
    api_key_secret text,                                   -- write-only in the API
    tls_verify     bigint  NOT NULL DEFAULT 1 CHECK (tls_verify IN (0, 1)),
    ca_file        text,
    max_concurrent bigint  NOT NULL DEFAULT 1 CHECK (max_concurrent BETWEEN 1 AND 64),
    timeout_s      bigint  NOT NULL DEFAULT 30 CHECK (timeout_s BETWEEN 1 AND 3600),
    -- 'config': defined by qbackupd's configuration and refreshed at start;
    -- the API refuses to change or delete it.  'api': created over the API.
    managed_by     text    NOT NULL DEFAULT 'api' CHECK (managed_by IN ('api', 'config')),
    created_at     bigint  NOT NULL,
    updated_at     bigint  NOT NULL
);

-- Where snapshots are stored.
CREATE TABLE destinations (
    id            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text    NOT NULL UNIQUE,
    kind          text    NOT NULL CHECK (kind IN ('local', 's3')),
    settings      text    NOT NULL DEFAULT '{}' CHECK (json_valid(settings)), -- path, bucket, endpoint...
    secret        text    CHECK (secret IS NULL OR json_valid(secret)),        -- S3 keys: write-only
    managed_by    text    NOT NULL DEFAULT 'api' CHECK (managed_by IN ('api', 'config')),
    created_at    bigint  NOT NULL,
    updated_at    bigint  NOT NULL
);

-- What to back up, when, where to, and how long to keep it.
CREATE TABLE plans (
    id             bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text    NOT NULL UNIQUE,
    instance_id    bigint  NOT NULL REFERENCES instances (id) ON DELETE RESTRICT,
    destination_id bigint  NOT NULL REFERENCES destinations (id) ON DELETE RESTRICT,
    -- 'collections': the listed ones; 'all': every collection at run time;
    -- 'full': a full-instance snapshot.
    scope          text    NOT NULL CHECK (scope IN ('collections', 'all', 'full')),
    collections    text    NOT NULL DEFAULT '[]' CHECK (json_valid(collections)),
    schedule       text,                                   -- 5-field cron or @daily etc; NULL: on demand only
    timezone       text    NOT NULL DEFAULT 'UTC',
    key_prefix     text    NOT NULL DEFAULT '',
    retention      text    NOT NULL DEFAULT '{}' CHECK (json_valid(retention)),
    verify         bigint  NOT NULL DEFAULT 1 CHECK (verify IN (0, 1)),
    alert_after_s  bigint  CHECK (alert_after_s IS NULL OR alert_after_s > 0),
    enabled        bigint  NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    labels         text    NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
    created_at     bigint  NOT NULL,
    updated_at     bigint  NOT NULL
);
-- "which plans use this instance/destination" (delete checks, listings)
CREATE INDEX plans_instance ON plans (instance_id);
CREATE INDEX plans_destination ON plans (destination_id);

-- One execution of a plan (kind 'backup') or a restore (kind 'restore').
CREATE TABLE runs (
    id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text    NOT NULL CHECK (kind IN ('backup', 'restore')),
    plan_id          bigint  REFERENCES plans (id) ON DELETE SET NULL,
    plan_name        text,                                 -- kept when the plan is deleted
    trigger          text    NOT NULL CHECK (trigger IN ('schedule', 'api')),
    triggered_by     text,                                 -- token name for 'api'
    idempotency_key  text,
    state            text    NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'partial')),
    phase            text    CHECK (phase IS NULL OR phase IN
                         ('snapshotting', 'transferring', 'verifying', 'cleaning', 'restoring')),
    cancel_requested bigint  NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    bytes_done       bigint  NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),
    bytes_total      bigint  CHECK (bytes_total IS NULL OR bytes_total >= 0),
    request          text    NOT NULL DEFAULT '{}' CHECK (json_valid(request)),  -- what was asked
    results          text    NOT NULL DEFAULT '[]' CHECK (json_valid(results)),  -- per collection
    error            text,
    queued_at        bigint  NOT NULL,
    started_at       bigint,
    finished_at      bigint
);
-- GET /v1/runs?plan=X (newest first), and the status page's "last run of plan"
CREATE INDEX runs_plan_queued ON runs (plan_id, queued_at DESC, id DESC);
-- GET /v1/runs (newest first, cursor on id) with optional state/kind filters
CREATE INDEX runs_queued ON runs (queued_at DESC, id DESC);
-- the dispatcher's "what is waiting or running" scan, and crash recovery
CREATE INDEX runs_active ON runs (state) WHERE state IN ('queued', 'running');
-- Idempotency-Key replay: the same key for the same kind and plan is one run
-- (coalesce: PostgreSQL has no ifnull)
CREATE UNIQUE INDEX runs_idempotency ON runs (kind, coalesce(plan_id, 0), idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- The catalogue: every snapshot that is fully stored and checksum-verified.
-- A row is inserted only after the object is complete and its SHA-256
-- matches; retention and DELETE remove the stored object before the row.
CREATE TABLE snapshots (
    id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id          bigint  REFERENCES plans (id) ON DELETE SET NULL,
    run_id           bigint  REFERENCES runs (id) ON DELETE SET NULL,
    instance_id      bigint  REFERENCES instances (id) ON DELETE SET NULL,
    instance_name    text    NOT NULL,                     -- kept when the instance is deleted
    destination_id   bigint  NOT NULL REFERENCES destinations (id) ON DELETE RESTRICT,
    kind             text    NOT NULL CHECK (kind IN ('collection', 'full', 'shard')),
    collection       text,                                 -- NULL for 'full'
    shard_id         bigint,
    qdrant_name      text    NOT NULL,                     -- Qdrant's snapshot file name
    location         text    NOT NULL,                     -- s3://bucket/key or file path
    size_bytes       bigint  NOT NULL CHECK (size_bytes >= 0),
    sha256           text    NOT NULL CHECK (length(sha256) = 64),
    qdrant_checksum  text    CHECK (qdrant_checksum IS NULL OR length(qdrant_checksum) = 64),
    qdrant_version   text,
    points_count     bigint  CHECK (points_count IS NULL OR points_count >= 0),
    created_at       bigint  NOT NULL,
    verified_at      bigint,
    verify_error     text,                                 -- last failed verification, if any
    pinned           bigint  NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
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
    id         bigint  PRIMARY KEY CHECK (id = 1),
    checked_at bigint  NOT NULL
);
INSERT INTO heartbeat (id, checked_at) VALUES (1, 0);
