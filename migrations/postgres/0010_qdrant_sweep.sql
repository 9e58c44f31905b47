-- A Qdrant snapshot create that qbackupd gave up on (a timeout, a lost
-- answer, a kill -9) may still be finished by Qdrant later.  A sweep entry
-- (sweep_since set, snapshot '') keeps looking for that snapshot until
-- sweep_until: one of the target's snapshots named at or after
-- sweep_since that nothing in qbackupd claims (src/engine/qdrant_janitor.h
-- states the rule).  Named entries (a failed delete) leave both NULL.
-- (PostgreSQL twin of migrations/0010_qdrant_sweep.sql.)
ALTER TABLE qdrant_cleanup ADD COLUMN sweep_since bigint;
ALTER TABLE qdrant_cleanup ADD COLUMN sweep_until bigint;
