-- 0014_webhooks: outgoing webhooks (subscriptions, a persistent outbox of
-- deliveries and a log of every attempt) and the chat-ops bookkeeping
-- (replay guard for signed slash commands, results owed to response URLs).
-- (PostgreSQL twin of migrations/0014_webhooks.sql.)
--
-- Delivery is at-least-once: a delivery row is written once per (webhook,
-- event of the log) -- the UNIQUE (webhook_id, event_key) makes a re-scan
-- after a crash a no-op -- and is retried until a receiver answers 2xx or the
-- attempts are spent ('dead').  Its delivery_id is stable across retries
-- and restarts, so a receiver can drop duplicates.  The same unique key
-- makes two instances scanning the log at once write one delivery.

CREATE TABLE webhooks (
    id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         text    NOT NULL,
    events      text    NOT NULL CHECK (json_valid(events)),   -- JSON array of event names
    plans       text    NOT NULL DEFAULT '[]' CHECK (json_valid(plans)),     -- [] = every plan
    instances   text    NOT NULL DEFAULT '[]' CHECK (json_valid(instances)), -- [] = every instance
    format      text    NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'slack')),
    secret      text    NOT NULL,                               -- sealed (store_secrets.c); write-only
    enabled     bigint  NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    description text,
    created_at  bigint  NOT NULL,
    updated_at  bigint  NOT NULL
);

-- The outbox.  webhook_id NULL: a chat-ops result owed to a response URL
-- (url set, not signed).
CREATE TABLE webhook_deliveries (
    id              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id     text    NOT NULL UNIQUE,                   -- stable; X-Qbackup-Delivery
    webhook_id      bigint  REFERENCES webhooks (id) ON DELETE CASCADE,
    url             text,                                      -- only for webhook_id NULL
    event           text    NOT NULL,
    event_key       text    NOT NULL,                          -- what produced it: ev:<event id>, test:...
    body            text    NOT NULL,                          -- sent as is at every attempt
    state           text    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        bigint  NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at bigint  NOT NULL,                          -- ms; also the lease of a sender
    last_status     bigint,
    last_error      text,
    created_at      bigint  NOT NULL,
    delivered_at    bigint
);
-- one delivery per webhook and event, whatever re-scans happen
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (coalesce(webhook_id, 0), event_key);
-- the sender's "what is due" claim
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
-- the dispatcher's pruning of finished deliveries older than a week
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (created_at) WHERE state != 'pending';
-- GET /v1/webhooks/{id}/deliveries (newest first)
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id DESC);

-- Every attempt of a delivery, for the delivery log.
CREATE TABLE webhook_attempts (
    id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery    bigint  NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          bigint  NOT NULL,                              -- ms
    status      bigint,                                        -- HTTP status; NULL: no answer
    error       text,
    duration_ms bigint  NOT NULL
);
-- the delivery log lists the attempts of one delivery
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery, id);

-- The dispatcher's position in the event log (0013): events with an id
-- above events_after are still to be turned into deliveries.  One row.
-- It starts at the newest event, so webhooks are not sent the history
-- (the events' sequence stands for SQLite's sqlite_sequence row; NULL
-- until its first use).
CREATE TABLE webhook_cursor (
    id           bigint  PRIMARY KEY CHECK (id = 1),
    events_after bigint  NOT NULL CHECK (events_after >= 0)
);
INSERT INTO webhook_cursor (id, events_after)
VALUES (1, greatest((SELECT coalesce(max(id), 0) FROM events),
                    coalesce(pg_sequence_last_value(pg_get_serial_sequence('events', 'id')), 0)));

-- Signatures of slash commands already served: a replay inside the
-- five-minute window is refused.  Rows older than the window are purged.
CREATE TABLE chatops_seen (
    signature text    PRIMARY KEY,
    at        bigint  NOT NULL
);

-- A run started from chat whose outcome is owed to Slack's response URL.
CREATE TABLE chatops_followups (
    run_id       bigint  PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    response_url text    NOT NULL,
    command      text    NOT NULL,
    created_at   bigint  NOT NULL
);
