-- 0011_catalogue_scale: indexes that keep the catalogue's hot queries
-- independent of how many snapshots and runs it holds (an hourly plan on
-- 50 collections adds ~440k snapshot rows a year).  Each query below is
-- assembled from the filters it was given (store_snapshot_list,
-- store_run_list), so the planner sees plain equalities and a keyset range
-- it can seek to; bench/catalogue-scale.sh measures them at 10k-1M rows
-- (on SQLite).  (PostgreSQL twin of migrations/0011_catalogue_scale.sql;
-- the triggers are plpgsql functions of the same names.)

-- Retention of one target and "latest snapshot of plan+collection"
-- (restores): the same order as snapshots_plan_target plus the columns
-- retention decides on, so store_snapshot_list_retention reads the index
-- alone and never the rows (a target may hold tens of thousands of them).
-- PostgreSQL reads an index alone only for pages the visibility map marks
-- all-visible (autovacuum's job), so there it saves most reads, not all.
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
-- GET /v1/status's "last success of each plan": a seek, where
-- runs_plan_queued walks every run of a plan that has not succeeded lately
-- (store_run_summary.c, latest_query)
CREATE INDEX runs_plan_succeeded ON runs (plan_id, queued_at DESC, id DESC)
    WHERE kind = 'backup' AND state = 'succeeded';

-- The catalogue's totals per destination (/metrics: snapshots, bytes stored,
-- snapshots failing verification; the catalogue's sums are the sums of these
-- few rows), kept by triggers in the same transaction as each row change, so
-- a scrape reads one row per destination instead of a count and sums over
-- every snapshot (~0.8 s at 1M rows, on every scrape).  Counted as the sums
-- always counted: every row, also one being deleted.  On PostgreSQL two
-- instances inserting snapshots of one destination serialise on its row
-- here until they commit: one short wait per catalogued snapshot.
CREATE TABLE snapshot_totals (
    destination_id bigint PRIMARY KEY,
    count          bigint NOT NULL DEFAULT 0,
    bytes          bigint NOT NULL DEFAULT 0,
    verify_failed  bigint NOT NULL DEFAULT 0
);
INSERT INTO snapshot_totals (destination_id, count, bytes, verify_failed)
    SELECT destination_id, count(*), coalesce(sum(size_bytes), 0),
           coalesce(sum((verify_error IS NOT NULL)::int), 0)
    FROM snapshots GROUP BY destination_id;

-- INSERT OR IGNORE is INSERT ... ON CONFLICT DO NOTHING; a boolean is
-- added as (b)::int.
CREATE FUNCTION snapshot_totals_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO snapshot_totals (destination_id) VALUES (NEW.destination_id)
        ON CONFLICT DO NOTHING;
    UPDATE snapshot_totals SET count = count + 1, bytes = bytes + NEW.size_bytes,
           verify_failed = verify_failed + (NEW.verify_error IS NOT NULL)::int
     WHERE destination_id = NEW.destination_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER snapshot_totals_insert AFTER INSERT ON snapshots
    FOR EACH ROW EXECUTE FUNCTION snapshot_totals_insert();

CREATE FUNCTION snapshot_totals_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE snapshot_totals SET count = count - 1, bytes = bytes - OLD.size_bytes,
           verify_failed = verify_failed - (OLD.verify_error IS NOT NULL)::int
     WHERE destination_id = OLD.destination_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER snapshot_totals_delete AFTER DELETE ON snapshots
    FOR EACH ROW EXECUTE FUNCTION snapshot_totals_delete();

CREATE FUNCTION snapshot_totals_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE snapshot_totals SET count = count - 1, bytes = bytes - OLD.size_bytes,
           verify_failed = verify_failed - (OLD.verify_error IS NOT NULL)::int
     WHERE destination_id = OLD.destination_id;
    INSERT INTO snapshot_totals (destination_id) VALUES (NEW.destination_id)
        ON CONFLICT DO NOTHING;
    UPDATE snapshot_totals SET count = count + 1, bytes = bytes + NEW.size_bytes,
           verify_failed = verify_failed + (NEW.verify_error IS NOT NULL)::int
     WHERE destination_id = NEW.destination_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER snapshot_totals_update
    AFTER UPDATE OF size_bytes, verify_error, destination_id ON snapshots
    FOR EACH ROW EXECUTE FUNCTION snapshot_totals_update();

-- GET /v1/runs?plan=X&state=Y and ?state=Y (e.g. the failed runs): a seek
-- to the matching runs instead of a walk over all of them (3% of runs fail
-- on the bench's catalogue: ~30 runs read per run listed)
CREATE INDEX runs_plan_state ON runs (plan_name, state, id DESC);
CREATE INDEX runs_state ON runs (state, id DESC);
