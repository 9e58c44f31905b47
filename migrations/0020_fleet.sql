-- 0020_fleet: which qbackupd of a fleet runs what (issue 16 item 2;
-- docs/internals/fleet.md, "The work queue across instances").  Alone on
-- a SQLite catalogue, one node owns everything and these only record it.

-- runs.owner: the node_name of the qbackupd whose worker claimed the run
-- (NULL while queued, and for runs claimed before this migration).
-- runs.heartbeat_at: unix seconds of the owner's last sign of life while
-- the run is running; a run whose owner stopped beating is taken over by
-- the leader (failed, its leftovers cleaned, requeued by the plan's
-- requeue_interrupted), as a restart does with its own runs.
ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE runs ADD COLUMN heartbeat_at INTEGER;
-- The takeover's and the heartbeat's lookup: running runs by owner.
CREATE INDEX runs_running_owner ON runs (owner) WHERE state = 'running';

-- One row per qbackupd that has served this catalogue, written at start
-- and by its heartbeat; /v1/status lists them.  A node that stopped
-- stays until an operator forgets it (its age says it is gone).
CREATE TABLE fleet_nodes (
    name         TEXT    PRIMARY KEY,
    version      TEXT    NOT NULL,
    address      TEXT,                 -- its public URL, when known
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);
