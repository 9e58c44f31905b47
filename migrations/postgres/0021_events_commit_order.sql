-- 0021_events_commit_order: events become visible in id order
-- (issue 16 item 4; docs/internals/fleet.md "The event log's order").
-- Readers ask for the events "after id N" (GET /v1/events, the webhook
-- dispatcher, on any node of a fleet).  An identity takes its value at
-- insert, not at commit: of two transactions writing events, the one with
-- the lower id may commit last, and a reader that has already read the
-- higher id never sees it (a webhook never sent).  So every INSERT into
-- events first takes a transaction-level advisory lock (held to COMMIT or
-- ROLLBACK: event-writing transactions take turns, and they are short
-- state changes) in a statement-level trigger, which fires before the
-- rows' ids are drawn: ids then follow commit order, without gaps that
-- the event ring (events_keep, 0013) would count.  The key is the store's
-- STORE_LOCK_EVENTS (src/store/store_internal.h): "qbkp" and 0x110.
-- A deadlock this may cause is 40P01, which the store answers as busy.
-- PostgreSQL only (SQLite's ids are in commit order by construction): a
-- deliberate difference in tests/pg/test_pg_schema.py.
CREATE FUNCTION events_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(8170210802784010512);
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_commit_order BEFORE INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_commit_order();
