-- 0017_codec: compression and client-side encryption of stored objects
-- (issue 13 items 2 and 3; src/codec/codec.h owns the formats).
-- (PostgreSQL twin of migrations/0017_codec.sql; the comments there say why
-- each column is what it is.)

-- plans.compression / compression_level: "none" for plans stored before
-- this migration; the API gives new plans zstd level 3.
ALTER TABLE plans ADD COLUMN compression text NOT NULL DEFAULT 'none'
    CHECK (compression IN ('none', 'zstd'));
ALTER TABLE plans ADD COLUMN compression_level bigint NOT NULL DEFAULT 3
    CHECK (compression_level BETWEEN 1 AND 19);
-- A JSON reference to a key ring, never a key; NULL: not encrypted.
ALTER TABLE plans ADD COLUMN encryption text;
ALTER TABLE destinations ADD COLUMN encryption text;

-- snapshots: size_bytes and sha256 stay the stored bytes; raw_* are the
-- archive's (NULL: unknown); key_id NULL when not encrypted.
ALTER TABLE snapshots ADD COLUMN codec text NOT NULL DEFAULT 'none';
ALTER TABLE snapshots ADD COLUMN raw_size bigint;
ALTER TABLE snapshots ADD COLUMN raw_sha256 text;
ALTER TABLE snapshots ADD COLUMN key_id text;
