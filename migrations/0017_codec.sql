-- 0017_codec: compression and client-side encryption of stored objects
-- (issue 13 items 2 and 3; src/codec/codec.h owns the formats).

-- plans.compression: how a plan's runs compress what they store, "none"
-- or "zstd" at plans.compression_level (1..19).  Plans stored before this
-- migration keep "none", so their behaviour does not change; new plans
-- default to zstd level 3 through the API (README, "Compression and
-- encryption").
ALTER TABLE plans ADD COLUMN compression TEXT NOT NULL DEFAULT 'none'
    CHECK (compression IN ('none', 'zstd'));
ALTER TABLE plans ADD COLUMN compression_level INTEGER NOT NULL DEFAULT 3
    CHECK (compression_level BETWEEN 1 AND 19);
-- plans.encryption / destinations.encryption: a JSON *reference* to the
-- key ring ({"key_file": path} or {"key_env": name}, optional
-- "read_keys"), never a key.  NULL: not encrypted.  A plan's reference
-- wins over its destination's for writing; both may decrypt.
ALTER TABLE plans ADD COLUMN encryption TEXT;
ALTER TABLE destinations ADD COLUMN encryption TEXT;

-- snapshots: what the stored object is.  size_bytes and sha256 stay the
-- STORED bytes (what storage verification checks); raw_size and
-- raw_sha256 are those of the archive Qdrant made (NULL when unknown: a
-- row catalogued by rescan from an object without its manifest); key_id
-- is the id of the key that encrypted it (8 hex digits, NULL when not
-- encrypted).  Rows stored before this migration are raw archives.
ALTER TABLE snapshots ADD COLUMN codec TEXT NOT NULL DEFAULT 'none';
ALTER TABLE snapshots ADD COLUMN raw_size INTEGER;
ALTER TABLE snapshots ADD COLUMN raw_sha256 TEXT;
ALTER TABLE snapshots ADD COLUMN key_id TEXT;
