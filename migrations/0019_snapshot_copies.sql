-- 0019_snapshot_copies: second copies of a snapshot in other destinations
-- (3-2-1, issue 13 item 5; README "Second copies (3-2-1)").  The primary
-- location stays where it always was, in the snapshots row; each extra
-- location is a row here, so nothing that reads snapshots changes.

-- plans.copies: the plan's copy destinations, in order (the order a
-- restore falls back in): [{"destination": "<name>", "retention": {...}}],
-- as the API validated it (src/api/api_plan_copies.c).
ALTER TABLE plans ADD COLUMN copies TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(copies));
-- A destination a plan copies to cannot be deleted, as one a plan stores
-- to cannot (its foreign key): the delete fails as a constraint, which
-- the store reports as "used by a plan" (409).  Plans are few: the scan
-- of their copies is cheap.
CREATE TRIGGER destinations_copy_in_use BEFORE DELETE ON destinations
WHEN EXISTS (SELECT 1 FROM plans p, json_each(p.copies) j
             WHERE json_extract(j.value, '$.destination') = OLD.name)
BEGIN
    SELECT RAISE(ABORT, 'destination is a copy destination of a plan');
END;

-- One row per copy of a snapshot in another destination.  state:
--   pending  catalogued, not tried yet (or a crash interrupted a try);
--   copying  a run is copying it now (a crash leaves it, and the next run
--            of the plan takes it up again: storage's atomic publish means
--            nothing half-written is ever under the key);
--   stored   copied and verified against the primary's SHA-256;
--   failed   the last try failed (last_error); the next run of the plan
--            tries again while attempts < COPIES_MAX_ATTEMPTS.
-- Deleting the snapshot row deletes its copy rows (the objects go first,
-- engine/retention_apply.c).
CREATE TABLE snapshot_copies (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    snapshot_id    INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,         -- index in the plan's copies when made
    destination_id INTEGER NOT NULL REFERENCES destinations (id) ON DELETE RESTRICT,
    storage_key    TEXT    NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'copying', 'stored', 'failed')),
    sha256         TEXT    CHECK (sha256 IS NULL OR length(sha256) = 64),
    size_bytes     INTEGER CHECK (size_bytes IS NULL OR size_bytes >= 0),
    verified_at    INTEGER,
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    created_at     INTEGER NOT NULL,
    UNIQUE (snapshot_id, destination_id)
);
-- GET /v1/snapshots/{id} copies, restore fallback order: the UNIQUE index
-- (snapshot_id, destination_id) serves "WHERE snapshot_id = ?", sorted by
-- position in memory (a handful of rows).
-- the next run's "copies of this plan still to make": few rows, by state
CREATE INDEX snapshot_copies_unfinished ON snapshot_copies (snapshot_id)
    WHERE state <> 'stored';
-- retention per copy destination and rescan: "which copies live in this
-- destination (at this key)?"
CREATE INDEX snapshot_copies_destination_key ON snapshot_copies (destination_id, storage_key);
