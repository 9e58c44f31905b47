-- 0018_object_lock: S3 Object Lock on snapshots (issue 13 item 4).
-- (PostgreSQL twin of migrations/0018_object_lock.sql.)

-- snapshots.locked_until: the retain-until date (Unix seconds) the
-- snapshot's objects were written with under the plan's
-- retention.object_lock; NULL: not locked.  Retention keeps the row while
-- now < locked_until, and a delete before it is refused.
ALTER TABLE snapshots ADD COLUMN locked_until bigint
    CHECK (locked_until IS NULL OR locked_until > 0);
-- Retention of one target (store_snapshot_list_retention) reads this index
-- alone (0011, 0015); it now decides on locked_until too.
DROP INDEX snapshots_plan_target;
CREATE INDEX snapshots_plan_target ON snapshots
    (plan_id, collection, created_at DESC, id DESC, pinned, verified_at, deleting_at, keep_until,
     locked_until);
