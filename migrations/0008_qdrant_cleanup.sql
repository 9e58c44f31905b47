-- Qdrant snapshots qbackupd no longer needs but could not delete (Qdrant
-- answered an error, or was down): kept here and retried with backoff by
-- the janitor (src/engine/qdrant_janitor.c), so no snapshot is left on a
-- Qdrant disk forever.
CREATE TABLE qdrant_cleanup (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_name TEXT    NOT NULL,
    url           TEXT,                      -- a cluster peer's REST URL; NULL: the instance's
    scope         TEXT    NOT NULL CHECK (scope IN ('collection', 'full', 'shard')),
    collection    TEXT,
    shard_id      INTEGER,
    snapshot      TEXT    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_at       INTEGER NOT NULL,
    last_error    TEXT,
    created_at    INTEGER NOT NULL
);
CREATE INDEX qdrant_cleanup_due ON qdrant_cleanup (next_at);
