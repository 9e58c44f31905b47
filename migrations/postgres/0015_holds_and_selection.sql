-- 0015_holds_and_selection: one-off labelled snapshots held by retention,
-- and collection selection by pattern with exclusions.
-- (PostgreSQL twin of migrations/0015_holds_and_selection.sql.)

-- snapshots.keep_until: retention keeps the snapshot until this Unix time
-- (a pre-migration snapshot taken with POST /v1/plans/{name}/runs
-- "keep_until"); NULL for none.
ALTER TABLE snapshots ADD COLUMN keep_until bigint CHECK (keep_until IS NULL OR keep_until > 0);
-- Retention of one target (store_snapshot_list_retention) reads this index
-- alone (0011); it now decides on keep_until too, so the index carries it.
DROP INDEX snapshots_plan_target;
CREATE INDEX snapshots_plan_target ON snapshots
    (plan_id, collection, created_at DESC, id DESC, pinned, verified_at, deleting_at, keep_until);
-- snapshots.labels: the labels of the run that took it ("reason":
-- "pre-deploy", "ticket": "OPS-12"), as the API validated them.
ALTER TABLE snapshots ADD COLUMN labels text NOT NULL DEFAULT '{}' CHECK (json_valid(labels));

-- plans.exclude: names and glob patterns removed from what `collections`
-- selects, at run time.  '[]': nothing excluded (every plan before this).
ALTER TABLE plans ADD COLUMN exclude text NOT NULL DEFAULT '[]' CHECK (json_valid(exclude));

-- runs.collections: the collection list a backup run resolved from its
-- plan's selection when it started (JSON array); NULL until then, for a
-- full-instance snapshot, and for restores.
ALTER TABLE runs ADD COLUMN collections text CHECK (collections IS NULL OR json_valid(collections));

-- Scheduled re-verification (a plan's "reverify"): plans.reverify is the
-- JSON object {"schedule": cron in the plan's timezone, "max_bytes"} as the API
-- validated it, NULL when off; plans.last_reverify_at the latest slot the
-- scheduler handled (a new or changed reverify counts from its write).
ALTER TABLE plans ADD COLUMN reverify text CHECK (reverify IS NULL OR json_valid(reverify));
ALTER TABLE plans ADD COLUMN last_reverify_at bigint;
-- snapshots.checked_at: when the stored object was last read back, with
-- either outcome (verified_at says when it last passed).  A pass takes the
-- plan's snapshots checked longest ago first, never-checked ones first:
-- store_snapshot_list_reverify reads them in this index's order.
ALTER TABLE snapshots ADD COLUMN checked_at bigint;
CREATE INDEX snapshots_plan_checked ON snapshots (plan_id, coalesce(checked_at, 0), id);
