-- 0003_snapshot_key_index: "is the object at this key catalogued?"
-- asked by crash recovery (before deleting an interrupted run's object)
-- and by rescan (for every manifest); without it each question scans the
-- whole catalogue.  (PostgreSQL twin of migrations/0003_snapshot_key_index.sql.)
CREATE INDEX snapshots_destination_key ON snapshots (destination_id, storage_key);
