-- Qdrant snapshots qbackupd no longer needs but could not delete (Qdrant
-- answered an error, or was down): kept here and retried with backoff by
-- the janitor (src/engine/qdrant_janitor.c), so no snapshot is left on a
-- Qdrant disk forever.  (PostgreSQL twin of migrations/0008_qdrant_cleanup.sql;
-- AUTOINCREMENT is an identity column.)
CREATE TABLE qdrant_cleanup (
    id            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_name text    NOT NULL,
    url           text,                      -- a cluster peer's REST URL; NULL: the instance's
    scope         text    NOT NULL CHECK (scope IN ('collection', 'full', 'shard')),
    collection    text,
    shard_id      bigint,
    snapshot      text    NOT NULL,
    attempts      bigint  NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_at       bigint  NOT NULL,
    last_error    text,
    created_at    bigint  NOT NULL
);
CREATE INDEX qdrant_cleanup_due ON qdrant_cleanup (next_at);
