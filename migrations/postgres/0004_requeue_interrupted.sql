-- 0004_requeue_interrupted: whether a backup run of the plan that a crash
-- or restart interrupted is queued again at start (crash recovery), so a
-- nightly backup killed by a redeploy still happens that night.  In a fleet
-- the same flag decides whether a run whose owner stopped heartbeating is
-- requeued by another instance (docs/internals/fleet.md).
-- (PostgreSQL twin of migrations/0004_requeue_interrupted.sql.)
ALTER TABLE plans ADD COLUMN requeue_interrupted bigint NOT NULL DEFAULT 0
    CHECK (requeue_interrupted IN (0, 1));
