-- 0020_fleet: which qbackupd of a fleet runs what (issue 16 item 2).
-- (PostgreSQL twin of migrations/0020_fleet.sql; the comments there say
-- why.)

ALTER TABLE runs ADD COLUMN owner text;
ALTER TABLE runs ADD COLUMN heartbeat_at bigint;
CREATE INDEX runs_running_owner ON runs (owner) WHERE state = 'running';

CREATE TABLE fleet_nodes (
    name         text    PRIMARY KEY,
    version      text    NOT NULL,
    address      text,
    started_at   bigint  NOT NULL,
    heartbeat_at bigint  NOT NULL
);
