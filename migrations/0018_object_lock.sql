-- 0018_object_lock: S3 Object Lock on snapshots (issue 13 item 4).
-- snapshots.locked_until: the retain-until date (Unix seconds) the
-- snapshot's objects (each shard object, sidecars, manifest) were written
-- with under the plan's retention.object_lock; NULL: not locked.
-- Retention keeps a row while now < locked_until ("locked until <time>"),
-- a delete before it is refused without asking the store, and a locked
-- row's objects are deleted version by version (storage_delete_versions).
ALTER TABLE snapshots ADD COLUMN locked_until INTEGER
    CHECK (locked_until IS NULL OR locked_until > 0);
-- Retention of one target (store_snapshot_list_retention) reads this index
-- alone (0011, 0015); it now decides on locked_until too.
DROP INDEX snapshots_plan_target;
CREATE INDEX snapshots_plan_target ON snapshots
    (plan_id, collection, created_at DESC, id DESC, pinned, verified_at, deleting_at, keep_until,
     locked_until);
