-- 0004_requeue_interrupted: whether a backup run of the plan that a crash
-- or restart interrupted is queued again at start (crash recovery), so a
-- nightly backup killed by a redeploy still happens that night.
ALTER TABLE plans ADD COLUMN requeue_interrupted INTEGER NOT NULL DEFAULT 0
    CHECK (requeue_interrupted IN (0, 1));
