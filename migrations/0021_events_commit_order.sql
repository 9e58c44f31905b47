-- 0021_events_commit_order: nothing to do on SQLite.  Readers of the event
-- log ask for the events "after id N" (GET /v1/events, the webhook
-- dispatcher), which is right only if an event never becomes visible after
-- one with a higher id.  SQLite has one writer at a time, so ids are taken
-- in commit order already.  PostgreSQL takes an id at insert, not at
-- commit: its twin makes event-writing transactions take turns
-- (migrations/postgres/0021_events_commit_order.sql).
SELECT 1;
