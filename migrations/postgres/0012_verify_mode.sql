-- plans.verify_mode: how a plan with verify on checks each new object
-- before cataloguing it.  'full' re-reads every byte (what verify always
-- did, so plans stored before this migration keep it); 'quick' compares
-- the S3 object's size, recorded SHA-256 and ETag with what the upload
-- produced (one HEAD, no second read), falling back to 'full' where that
-- proves nothing (src/storage/storage.h, storage_verify_written).  New
-- plans default to 'quick' through the API (README, "Verify").
-- (PostgreSQL twin of migrations/0012_verify_mode.sql.)
ALTER TABLE plans ADD COLUMN verify_mode text NOT NULL DEFAULT 'full'
    CHECK (verify_mode IN ('quick', 'full'));
