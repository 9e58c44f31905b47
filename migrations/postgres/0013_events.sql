-- 0013_events: the event log, the one place state changes are announced.
-- (PostgreSQL twin of migrations/0013_events.sql; the triggers are plpgsql
-- functions of the same names, json_object() is json_build_object(), and
-- unixepoch() is defined below as SQLite has it.)
--
-- Live event streams (GET /v1/events), webhooks and the status page read
-- this table; nothing else keeps a history of transitions.  It is a ring:
-- the newest `event_log.keep` rows stay (the daemon writes its events_keep
-- setting there at start), older ones are deleted as new ones arrive.
-- Ids come from an identity column (AUTOINCREMENT on SQLite, as in 0007),
-- so an id is never handed out twice, also once the ring dropped it: a
-- reader's "after id N" cursor stays meaningful across pruning and
-- restarts, and a reader whose N fell out of the ring can tell (the oldest
-- id left is above N + 1).
--
-- Caveat on PostgreSQL: ids are taken when a row is inserted, not when its
-- transaction commits, so with several writers an event with a lower id
-- can become visible after one with a higher id, and an "after id N"
-- reader may pass it.  docs/internals/fleet.md says how the readers close
-- that gap; the schema is the same.
--
-- Run and restore state changes are written by triggers on `runs`, in the
-- transaction that changes the state: every path that moves a run
-- (workers, the API's cancel, crash recovery, the scheduler) announces it,
-- and a crash can never keep the change and lose its event or the other
-- way round.  A failed verification (snapshots.verify_error set) is
-- announced the same way.  Other events (progress, plan staleness,
-- reachability) are inserted by the daemon (src/store/store_events.h).

-- SQLite's unixepoch(): the current time in whole Unix seconds (truncated,
-- as SQLite does; a bare ::bigint would round).  The statement's time, as
-- SQLite's 'now' is one value per statement.
CREATE FUNCTION unixepoch() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT floor(extract(epoch FROM statement_timestamp()))::bigint
$$;

CREATE TABLE events (
    id       bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       bigint  NOT NULL,                      -- unix seconds
    type     text    NOT NULL,                      -- run.succeeded, plan.stale, ...
    plan     text,                                  -- plan name, when about a plan
    instance text,                                  -- instance name, when about one
    run_id   bigint,                                -- run or restore id, when about one
    data     text    NOT NULL DEFAULT '{}' CHECK (json_valid(data))
);
-- plan.stale is announced once per stale spell: "is there a plan.stale of
-- this plan since its last success?" (store_events_last)
CREATE INDEX events_plan_type ON events (plan, type, id);

-- How many rows the ring keeps (one row; set by the daemon at start).
CREATE TABLE event_log (
    id   bigint  PRIMARY KEY CHECK (id = 1),
    keep bigint  NOT NULL CHECK (keep >= 1)
);
INSERT INTO event_log (id, keep) VALUES (1, 10000);

-- The ring: each new event drops what fell below the newest `keep`.  In
-- steady state that is one row, found through the primary key.
CREATE FUNCTION events_ring() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM events WHERE id <= NEW.id - (SELECT keep FROM event_log WHERE id = 1);
    RETURN NULL;
END
$$;
CREATE TRIGGER events_ring AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_ring();

-- A queued run or restore.
CREATE FUNCTION runs_event_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (at, type, plan, instance, run_id, data)
    VALUES (unixepoch(),
            CASE NEW.kind WHEN 'restore' THEN 'restore.' ELSE 'run.' END ||
                CASE NEW.state WHEN 'running' THEN 'started' ELSE NEW.state END,
            NEW.plan_name,
            (SELECT name FROM instances WHERE id = NEW.instance_id),
            NEW.id,
            json_build_object('run_id', NEW.id, 'kind', NEW.kind, 'state', NEW.state,
                              'trigger', NEW.trigger)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER runs_event_queued AFTER INSERT ON runs
    FOR EACH ROW EXECUTE FUNCTION runs_event_queued();

-- A run or restore changing state: started (running), then its outcome.
CREATE FUNCTION runs_event_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (at, type, plan, instance, run_id, data)
    VALUES (unixepoch(),
            CASE NEW.kind WHEN 'restore' THEN 'restore.' ELSE 'run.' END ||
                CASE NEW.state WHEN 'running' THEN 'started' ELSE NEW.state END,
            NEW.plan_name,
            (SELECT name FROM instances WHERE id = NEW.instance_id),
            NEW.id,
            json_build_object('run_id', NEW.id, 'kind', NEW.kind, 'state', NEW.state,
                              'trigger', NEW.trigger, 'error', NEW.error,
                              'bytes_done', NEW.bytes_done, 'bytes_total', NEW.bytes_total)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER runs_event_state AFTER UPDATE OF state ON runs
    FOR EACH ROW WHEN (NEW.state IS DISTINCT FROM OLD.state)
    EXECUTE FUNCTION runs_event_state();

-- A verification that failed (the API's verify, and any later re-check):
-- store_snapshot_set_verified records the reason in verify_error.
CREATE FUNCTION snapshots_event_verify_failed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (at, type, plan, instance, run_id, data)
    VALUES (unixepoch(), 'verify.failed',
            (SELECT name FROM plans WHERE id = NEW.plan_id),
            NEW.instance_name, NEW.run_id,
            json_build_object('snapshot_id', NEW.id, 'collection', NEW.collection,
                              'location', NEW.location, 'error', NEW.verify_error)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER snapshots_event_verify_failed AFTER UPDATE OF verify_error ON snapshots
    FOR EACH ROW WHEN (NEW.verify_error IS NOT NULL)
    EXECUTE FUNCTION snapshots_event_verify_failed();
