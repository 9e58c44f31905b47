-- 0014_webhooks: outgoing webhooks (subscriptions, a persistent outbox of
-- deliveries and a log of every attempt) and the chat-ops bookkeeping
-- (replay guard for signed slash commands, results owed to response URLs).
--
-- Delivery is at-least-once: a delivery row is written once per (webhook,
-- event of the log) -- the UNIQUE (webhook_id, event_key) makes a re-scan
-- after a crash a no-op -- and is retried until a receiver answers 2xx or the
-- attempts are spent ('dead').  Its delivery_id is stable across retries
-- and restarts, so a receiver can drop duplicates.

CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    url         TEXT    NOT NULL,
    events      TEXT    NOT NULL CHECK (json_valid(events)),   -- JSON array of event names
    plans       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(plans)),     -- [] = every plan
    instances   TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(instances)), -- [] = every instance
    format      TEXT    NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'slack')),
    secret      TEXT    NOT NULL,                               -- sealed (store_secrets.c); write-only
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- The outbox.  webhook_id NULL: a chat-ops result owed to a response URL
-- (url set, not signed).
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    delivery_id     TEXT    NOT NULL UNIQUE,                   -- stable; X-Qbackup-Delivery
    webhook_id      INTEGER REFERENCES webhooks (id) ON DELETE CASCADE,
    url             TEXT,                                      -- only for webhook_id NULL
    event           TEXT    NOT NULL,
    event_key       TEXT    NOT NULL,                          -- what produced it: ev:<event id>, test:...
    body            TEXT    NOT NULL,                          -- sent as is at every attempt
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at INTEGER NOT NULL,                          -- ms; also the lease of a sender
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
-- one delivery per webhook and event, whatever re-scans happen
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (ifnull(webhook_id, 0), event_key);
-- the sender's "what is due" claim
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
-- the dispatcher's pruning of finished deliveries older than a week
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (created_at) WHERE state != 'pending';
-- GET /v1/webhooks/{id}/deliveries (newest first)
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id DESC);

-- Every attempt of a delivery, for the delivery log.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY,
    delivery    INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,                              -- ms
    status      INTEGER,                                       -- HTTP status; NULL: no answer
    error       TEXT,
    duration_ms INTEGER NOT NULL
);
-- the delivery log lists the attempts of one delivery
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery, id);

-- The dispatcher's position in the event log (0013): events with an id
-- above events_after are still to be turned into deliveries.  One row.
-- It starts at the newest event, so webhooks are not sent the history.
CREATE TABLE webhook_cursor (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    events_after INTEGER NOT NULL CHECK (events_after >= 0)
);
INSERT INTO webhook_cursor (id, events_after)
VALUES (1, max((SELECT ifnull(max(id), 0) FROM events),
               ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)));

-- Signatures of slash commands already served: a replay inside the
-- five-minute window is refused.  Rows older than the window are purged.
CREATE TABLE chatops_seen (
    signature TEXT    PRIMARY KEY,
    at        INTEGER NOT NULL
);

-- A run started from chat whose outcome is owed to Slack's response URL.
CREATE TABLE chatops_followups (
    run_id       INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    response_url TEXT    NOT NULL,
    command      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
