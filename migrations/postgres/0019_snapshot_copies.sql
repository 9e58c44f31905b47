-- 0019_snapshot_copies: second copies of a snapshot in other destinations
-- (3-2-1, issue 13 item 5).  (PostgreSQL twin of
-- migrations/0019_snapshot_copies.sql; the comments there say why.)

-- plans.copies: the plan's copy destinations, in order.
ALTER TABLE plans ADD COLUMN copies text NOT NULL DEFAULT '[]' CHECK (json_valid(copies));

-- A destination a plan copies to cannot be deleted, as one a plan stores
-- to cannot (its foreign key).  SQLite raises ABORT from its trigger;
-- here the trigger raises a foreign-key violation, which the store maps to
-- the same 409 "used by a plan".
CREATE FUNCTION destinations_copy_in_use() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM plans p, jsonb_array_elements(p.copies::jsonb) j
               WHERE j.value ->> 'destination' = OLD.name) THEN
        RAISE EXCEPTION 'destination is a copy destination of a plan'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER destinations_copy_in_use BEFORE DELETE ON destinations
    FOR EACH ROW EXECUTE FUNCTION destinations_copy_in_use();

CREATE TABLE snapshot_copies (
    id             bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    snapshot_id    bigint  NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    position       bigint  NOT NULL,
    destination_id bigint  NOT NULL REFERENCES destinations (id) ON DELETE RESTRICT,
    storage_key    text    NOT NULL,
    state          text    NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'copying', 'stored', 'failed')),
    sha256         text    CHECK (sha256 IS NULL OR length(sha256) = 64),
    size_bytes     bigint  CHECK (size_bytes IS NULL OR size_bytes >= 0),
    verified_at    bigint,
    attempts       bigint  NOT NULL DEFAULT 0,
    last_error     text,
    created_at     bigint  NOT NULL,
    UNIQUE (snapshot_id, destination_id)
);
CREATE INDEX snapshot_copies_unfinished ON snapshot_copies (snapshot_id)
    WHERE state <> 'stored';
CREATE INDEX snapshot_copies_destination_key ON snapshot_copies (destination_id, storage_key);
