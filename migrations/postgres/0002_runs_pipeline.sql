-- 0002_runs_pipeline: what the scheduler and the run pipeline need to be
-- exactly-once across restarts and to clean up after a crash.
-- (PostgreSQL twin of migrations/0002_runs_pipeline.sql.)

-- The cron fire time a scheduled run was queued for.  With the unique index
-- below, a slot can never be queued twice, even by two qbackupd processes or
-- after a restart.  On PostgreSQL this is the fleet's exactly-once fire key
-- (docs/internals/fleet.md): an INSERT of a slot another instance queued
-- fails with unique_violation whoever the leader was.
ALTER TABLE runs ADD COLUMN scheduled_for bigint;
-- scheduler: "was this slot of this plan queued already?"
CREATE UNIQUE INDEX runs_plan_slot ON runs (plan_id, scheduled_for)
    WHERE scheduled_for IS NOT NULL;

-- What a running run has created outside the catalogue and must remove if
-- it dies: {"instance": "...", "target": {...}, "qdrant_snapshot": "...",
-- "storage_key": "..."}.  Cleared when the run ends cleanly; read by crash
-- recovery at start.
ALTER TABLE runs ADD COLUMN inflight text CHECK (inflight IS NULL OR json_valid(inflight));

-- Which worker claimed the run, for logs.
ALTER TABLE runs ADD COLUMN worker bigint;

-- Scheduler bookkeeping per plan: the latest fire time handled (queued or
-- skipped), and slots skipped because a run of the plan was still active.
ALTER TABLE plans ADD COLUMN last_fire_at bigint;
ALTER TABLE plans ADD COLUMN skipped_fires bigint NOT NULL DEFAULT 0 CHECK (skipped_fires >= 0);
ALTER TABLE plans ADD COLUMN last_skipped_at bigint;

-- The object's key inside its destination (location is the full URI shown
-- to people); retention, verify, delete and restore address objects by it.
ALTER TABLE snapshots ADD COLUMN storage_key text NOT NULL DEFAULT '';
