-- 0005_run_instance: the Qdrant instance a run works on, so that each
-- instance's max_concurrent limit counts restores (whose target may be
-- another instance than their snapshot's plan) as well as backups.
-- (PostgreSQL twin of migrations/0005_run_instance.sql.)
ALTER TABLE runs ADD COLUMN instance_id bigint REFERENCES instances (id) ON DELETE SET NULL;
-- the claim query's "how many runs are going on this instance"
CREATE INDEX runs_instance_active ON runs (instance_id) WHERE state = 'running';
