-- snapshots.deleting_at: when a snapshot's deletion began (unix seconds),
-- NULL while it is a live backup.  A deletion marks the row, deletes the
-- stored objects, then the row; a row left marked (qbackupd died between
-- the two) is never offered for restore, download or verify, is not
-- listed, never counts as the newest verified backup, and crash recovery
-- finishes its deletion at start-up (src/engine/recovery.c).
-- (PostgreSQL twin of migrations/0009_snapshot_deleting.sql.)
ALTER TABLE snapshots ADD COLUMN deleting_at bigint;
