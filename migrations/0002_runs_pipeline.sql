-- 0002_runs_pipeline: what the scheduler and the run pipeline need to be
-- exactly-once across restarts and to clean up after a crash.

-- The cron fire time a scheduled run was queued for.  With the unique index
-- below, a slot can never be queued twice, even by two qbackupd processes or
-- after a restart.
ALTER TABLE runs ADD COLUMN scheduled_for INTEGER;
-- scheduler: "was this slot of this plan queued already?"
CREATE UNIQUE INDEX runs_plan_slot ON runs (plan_id, scheduled_for)
    WHERE scheduled_for IS NOT NULL;

-- What a running run has created outside the catalogue and must remove if
-- it dies: {"instance": "...", "target": {...}, "qdrant_snapshot": "...",
-- "storage_key": "..."}.  Cleared when the run ends cleanly; read by crash
-- recovery at start.
ALTER TABLE runs ADD COLUMN inflight TEXT CHECK (inflight IS NULL OR json_valid(inflight));

-- Which worker claimed the run, for logs.
ALTER TABLE runs ADD COLUMN worker INTEGER;

-- Scheduler bookkeeping per plan: the latest fire time handled (queued or
-- skipped), and slots skipped because a run of the plan was still active.
ALTER TABLE plans ADD COLUMN last_fire_at INTEGER;
ALTER TABLE plans ADD COLUMN skipped_fires INTEGER NOT NULL DEFAULT 0 CHECK (skipped_fires >= 0);
ALTER TABLE plans ADD COLUMN last_skipped_at INTEGER;

-- The object's key inside its destination (location is the full URI shown
-- to people); retention, verify, delete and restore address objects by it.
ALTER TABLE snapshots ADD COLUMN storage_key TEXT NOT NULL DEFAULT '';
