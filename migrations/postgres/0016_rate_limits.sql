-- 0016_rate_limits: byte-rate limits (issue 13 item 1).  NULL: no limit.
-- Each is a token bucket shared by every transfer of its instance,
-- destination or plan (util/ratelimit.h); the API accepts 1 KiB/s..1 TiB/s.
-- (PostgreSQL twin of migrations/0016_rate_limits.sql.  In a fleet each
-- instance holds its own buckets today, so a limit holds per qbackupd, not
-- fleet-wide: docs/internals/fleet.md.)

-- instances.max_read_bytes_per_second: bytes a second read from this
-- Qdrant instance by all runs together.
ALTER TABLE instances ADD COLUMN max_read_bytes_per_second bigint
    CHECK (max_read_bytes_per_second IS NULL OR max_read_bytes_per_second > 0);
-- destinations.max_write_bytes_per_second: bytes a second written to this
-- destination by all runs together.
ALTER TABLE destinations ADD COLUMN max_write_bytes_per_second bigint
    CHECK (max_write_bytes_per_second IS NULL OR max_write_bytes_per_second > 0);
-- plans.max_bytes_per_second: a further cap on this plan's runs.
ALTER TABLE plans ADD COLUMN max_bytes_per_second bigint
    CHECK (max_bytes_per_second IS NULL OR max_bytes_per_second > 0);
