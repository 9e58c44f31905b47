-- 0011_catalogue_scale: indexes that keep the catalogue's hot queries
-- independent of how many snapshots and runs it holds (an hourly plan on
-- 50 collections adds ~440k snapshot rows a year).  Each query below is
-- assembled from the filters it was given (store_snapshot_list,
-- store_run_list), so SQLite sees plain equalities and a keyset range it
-- can seek to; bench/catalogue-scale.sh measures them at 10k-1M rows.

-- Retention of one target and "latest snapshot of plan+collection"
-- (restores): the same order as snapshots_plan_target plus the columns
-- retention decides on, so store_snapshot_list_retention reads the index
-- alone and never the rows (a target may hold tens of thousands of them).
DROP INDEX snapshots_plan_target;
CREATE INDEX snapshots_plan_target ON snapshots
    (plan_id, collection, created_at DESC, id DESC, pinned, verified_at, deleting_at);
-- GET /v1/snapshots?plan=X (newest first, keyset cursor)
CREATE INDEX snapshots_plan_created ON snapshots (plan_id, created_at DESC, id DESC);
-- GET /v1/snapshots?collection=Y and ?instance=X&collection=Y (newest first)
CREATE INDEX snapshots_collection_created ON snapshots (collection, created_at DESC, id DESC);
-- crash recovery and the scheduler's periodic pass: deletions left marked
CREATE INDEX snapshots_deleting ON snapshots (deleting_at) WHERE deleting_at IS NOT NULL;
-- the Qdrant janitor's sweep: "is this Qdrant snapshot name catalogued?"
CREATE INDEX snapshots_qdrant_name ON snapshots (instance_name, qdrant_name);

-- GET /v1/runs?plan=X (by name: runs keep it after the plan is deleted),
-- newest first by id (the list's order and cursor)
CREATE INDEX runs_plan_name ON runs (plan_name, id DESC);
-- the scheduler's "does this plan have a run queued or running?"
CREATE INDEX runs_plan_active ON runs (plan_id) WHERE state IN ('queued', 'running');
