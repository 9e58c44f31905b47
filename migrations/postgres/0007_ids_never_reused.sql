-- 0007_ids_never_reused: snapshot and run ids are never handed out twice.
-- (PostgreSQL twin of migrations/0007_ids_never_reused.sql.)
--
-- On SQLite an INTEGER PRIMARY KEY without AUTOINCREMENT took max(id) + 1,
-- so deleting the newest snapshot and taking another gave the new one the
-- deleted one's id: a link, a script's saved id or a download URL made for
-- the old snapshot then named a different one.  SQLite's fix rebuilds
-- `runs` and `snapshots` with AUTOINCREMENT.
--
-- On PostgreSQL every id has been an identity column since 0001, whose
-- sequence never goes back, so there is nothing to rebuild.  What remains
-- of the SQLite migration is its second half: the snapshots' sequence
-- starts above the highest snapshot id the runs remember (a backup
-- result's snapshot_id or safety_snapshot_id, a restore request's
-- snapshot_id), for a catalogue whose rows were copied in from SQLite
-- before this ran.  On a new catalogue it does nothing.  Values that are
-- not JSON integers are ignored (SQLite's CAST made them 0).
SELECT setval(pg_get_serial_sequence('snapshots', 'id'), h.high)
FROM (
    SELECT coalesce(max(v), 0) AS high FROM (
        SELECT max(id) AS v FROM snapshots
        UNION ALL
        SELECT max(CASE WHEN jsonb_typeof(r.value -> 'snapshot_id') = 'number'
                        THEN (r.value ->> 'snapshot_id')::numeric::bigint END)
            FROM runs, jsonb_array_elements(CASE WHEN jsonb_typeof(runs.results::jsonb) = 'array'
                                                 THEN runs.results::jsonb ELSE '[]' END) AS r
            WHERE jsonb_typeof(r.value) = 'object'
        UNION ALL
        SELECT max(CASE WHEN jsonb_typeof(r.value -> 'safety_snapshot_id') = 'number'
                        THEN (r.value ->> 'safety_snapshot_id')::numeric::bigint END)
            FROM runs, jsonb_array_elements(CASE WHEN jsonb_typeof(runs.results::jsonb) = 'array'
                                                 THEN runs.results::jsonb ELSE '[]' END) AS r
            WHERE jsonb_typeof(r.value) = 'object'
        UNION ALL
        SELECT max(CASE WHEN jsonb_typeof(request::jsonb -> 'snapshot_id') = 'number'
                        THEN (request::jsonb ->> 'snapshot_id')::numeric::bigint END)
            FROM runs WHERE kind = 'restore' AND jsonb_typeof(request::jsonb) = 'object'
    ) AS ids
) AS h
WHERE h.high > 0
  AND h.high > coalesce(pg_sequence_last_value(pg_get_serial_sequence('snapshots', 'id')), 0);
