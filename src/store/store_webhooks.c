/* SPDX-License-Identifier: Apache-2.0
 *
 * store_webhooks.c -- webhooks, their outbox and attempt log, the
 * dispatcher's run cursor, and the chat-ops bookkeeping (migration 0014).
 */
#include "store/store_webhooks.h"
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

#define WEBHOOK_COLUMNS                                                                            \
    "id, url, events, plans, instances, format, secret, enabled, description, created_at, "        \
    "updated_at"

#define STORE_ROW_T struct store_webhook
static const struct store_col webhook_cols[] = {STORE_COL(id),
                                                STORE_COL(url),
                                                STORE_COL(events),
                                                STORE_COL(plans),
                                                STORE_COL(instances),
                                                STORE_COL(format),
                                                STORE_COL_SECRET(secret, STORE_SECRET_WEBHOOK),
                                                STORE_COL(enabled),
                                                STORE_COL(description),
                                                STORE_COL(created_at),
                                                STORE_COL(updated_at)};
#undef STORE_ROW_T

/* ctx: the store, which opens the secret. */
STORE_TABLE_DEFINE(struct store_webhook, webhook_cols, webhook_rows, store_webhook_free,
                   store_webhook_list_free)

/* ?1 url ?2 events ?3 plans ?4 instances ?5 format ?6 sealed secret
 * ?7 enabled ?8 description ?9 now ?10 id */
static void bind_webhook(struct db_stmt *st, const void *obj, const char *sealed, bool keep)
{
    (void)keep; /* ?6 NULL keeps the stored secret: coalesce(?6, secret) */
    const struct store_webhook *w = obj;
    db_bind_text(st, 1, w->url);
    db_bind_text(st, 2, w->events);
    db_bind_text(st, 3, w->plans ? w->plans : "[]");
    db_bind_text(st, 4, w->instances ? w->instances : "[]");
    db_bind_text(st, 5, w->format ? w->format : "json");
    db_bind_text(st, 6, sealed);
    db_bind_int64(st, 7, w->enabled);
    db_bind_text(st, 8, w->description);
    db_bind_int64(st, 9, qb_now_ms() / 1000);
    db_bind_int64(st, 10, w->id);
}

/* bind_webhook without an id (?10 NULL). */
static void bind_new_webhook(struct db_stmt *st, const void *obj, const char *sealed, bool keep)
{
    bind_webhook(st, obj, sealed, keep);
    db_bind_null(st, 10);
}

enum qb_err store_webhook_insert(struct store *s, const struct store_webhook *w, int64_t *id,
                                 char *err, size_t errlen)
{
    return store_write_sealed(s,
                              "INSERT INTO webhooks (url, events, plans, instances, format, "
                              "secret, enabled, description, created_at, updated_at) VALUES "
                              "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) RETURNING id",
                              STORE_SECRET_WEBHOOK, w->secret, false, bind_new_webhook, w, id, NULL,
                              "inserting webhook", err, errlen);
}

enum qb_err store_webhook_update(struct store *s, const struct store_webhook *w, char *err,
                                 size_t errlen)
{
    int changes = 0;
    /* Without a new secret the row keeps its own. */
    enum qb_err rc =
        store_write_sealed(s,
                           "UPDATE webhooks SET url = ?1, events = ?2, plans = ?3, "
                           "instances = ?4, format = ?5, secret = coalesce(?6, secret), "
                           "enabled = ?7, description = ?8, updated_at = ?9 WHERE id = ?10",
                           STORE_SECRET_WEBHOOK, w->secret, !w->secret, bind_webhook, w, NULL,
                           &changes, "updating webhook", err, errlen);
    if (!rc && changes == 0)
        rc = store_not_found("webhook", NULL, w->id, err, errlen);
    return rc;
}

enum qb_err store_webhook_get(struct store *s, int64_t id, struct store_webhook **out, char *err,
                              size_t errlen)
{
    return store_get_by_key(s, "SELECT " WEBHOOK_COLUMNS " FROM webhooks WHERE id = ?1", NULL, id,
                            &webhook_rows, s, out, "webhook", err, errlen);
}

enum qb_err store_webhook_list(struct store *s, struct store_webhook ***out, size_t *n, char *err,
                               size_t errlen)
{
    void *list;
    enum qb_err rc = store_list(s, "SELECT " WEBHOOK_COLUMNS " FROM webhooks ORDER BY id",
                                &webhook_rows, s, &list, n, "listing webhooks", err, errlen);
    *out = list;
    return rc;
}

enum qb_err store_webhook_delete(struct store *s, int64_t id, char *err, size_t errlen)
{
    return store_delete_key(s, "DELETE FROM webhooks WHERE id = ?1", NULL, id, "webhook", NULL, err,
                            errlen);
}

/* ------------------------------------------------------------------ outbox */

#define DELIVERY_COLUMNS                                                                           \
    "id, delivery_id, webhook_id, url, event, body, attempts, state, next_attempt_at, "            \
    "created_at, delivered_at, last_status, last_error"

#define STORE_ROW_T struct store_delivery
static const struct store_col delivery_cols[] = {
    STORE_COL(id),         STORE_COL(delivery_id),  STORE_COL(webhook_id),
    STORE_COL(url),        STORE_COL(event),        STORE_COL(body),
    STORE_COL(attempts),   STORE_COL(state),        STORE_COL(next_attempt_at),
    STORE_COL(created_at), STORE_COL(delivered_at), STORE_COL(last_status),
    STORE_COL(last_error), STORE_COL(attempt_log)};
#undef STORE_ROW_T

STORE_TABLE_DEFINE(struct store_delivery, delivery_cols, delivery_rows, store_delivery_free,
                   store_delivery_list_free)

enum qb_err store_delivery_add(struct store *s, const struct store_delivery_new *d, bool *added,
                               char *err, size_t errlen)
{
    int changes = 0;
    int64_t now = qb_now_ms();
    enum qb_err rc = store_execf(
        s,
        "INSERT INTO webhook_deliveries (delivery_id, webhook_id, url, event, event_key, body, "
        "next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) "
        "ON CONFLICT DO NOTHING",
        &changes, "queueing a webhook delivery", err, errlen, "tztttti", d->delivery_id,
        d->webhook_id, d->url, d->event, d->event_key, d->body, now);
    if (added)
        *added = !rc && changes > 0;
    return rc;
}

enum qb_err store_delivery_claim(struct store *s, int64_t now_ms, int64_t lease_ms,
                                 struct store_delivery **out, char *err, size_t errlen)
{
    struct store_stmt q;
    bool found = false;
    *out = NULL;
    /* One statement: two senders never lease the same row.  The outer
     * test repeats the inner one for PostgreSQL, where two senders (of one
     * node or of a fleet) may pick the same row under READ COMMITTED: the
     * second finds it leased when its turn comes, and leases nothing this
     * time rather than the same delivery again. */
    enum qb_err rc = store_stmt_openf(
        s,
        "UPDATE webhook_deliveries SET next_attempt_at = ?2 WHERE state = 'pending' AND "
        "next_attempt_at <= ?1 AND id = (SELECT id FROM "
        "webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY "
        "next_attempt_at, id LIMIT 1) RETURNING " DELIVERY_COLUMNS ", NULL",
        &q, err, errlen, "ii", now_ms, now_ms + lease_ms);
    if (rc)
        return rc;
    rc = store_stmt_one(&q, &delivery_rows, NULL, out, &found, "leasing a webhook delivery", err,
                        errlen);
    if (!rc && !found)
        *out = NULL;
    return rc;
}

enum qb_err store_delivery_record(struct store *s, int64_t id, int64_t at_ms, int status,
                                  const char *error, int64_t duration_ms, const char *state,
                                  int64_t retry_at_ms, char *err, size_t errlen)
{
    struct db_conn *db = store_acquire(s);
    struct db_stmt *ins = NULL, *up = NULL;
    enum qb_err rc = db_begin(db, DB_TX_WRITE, err, errlen);
    if (!rc)
        rc = db_prepare(db,
                        "INSERT INTO webhook_attempts (delivery, at, status, error, "
                        "duration_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                        &ins, err, errlen);
    if (!rc)
        rc = db_prepare(db,
                        "UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?2, "
                        "next_attempt_at = ?3, last_status = ?4, last_error = ?5, "
                        "delivered_at = CASE WHEN ?2 = 'delivered' THEN CAST(?6 AS BIGINT) END "
                        "WHERE id = ?1",
                        &up, err, errlen);
    if (rc)
        goto out;
    store_bindf(ins, "iizti", id, at_ms, (int64_t)status, error, duration_ms);
    rc = store_step_done(ins, NULL, "logging a webhook attempt", err, errlen);
    if (rc)
        goto out;
    store_bindf(up, "itizti", id, state, retry_at_ms, (int64_t)status, error, at_ms + duration_ms);
    rc = store_step_done(up, NULL, "updating a webhook delivery", err, errlen);
    if (!rc)
        rc = db_commit(db, err, errlen);
out:
    db_finalize(ins);
    db_finalize(up);
    store_release(s, db); /* rolls back when a step failed */
    return rc;
}

enum qb_err store_delivery_prune(struct store *s, int64_t before_ms, int *removed, char *err,
                                 size_t errlen)
{
    /* Attempts go with their delivery (ON DELETE CASCADE). */
    return store_write(
        s, "DELETE FROM webhook_deliveries WHERE state != 'pending' AND created_at < ?1", before_ms,
        0, 0, NULL, removed, "pruning webhook deliveries", err, errlen);
}

enum qb_err store_delivery_counts(struct store *s, struct store_delivery_counts *c, char *err,
                                  size_t errlen)
{
    struct store_stmt q;
    memset(c, 0, sizeof *c);
    enum qb_err rc = store_stmt_open(
        s, "SELECT state, count(*) FROM webhook_deliveries GROUP BY state", &q, err, errlen);
    if (rc)
        return rc;
    bool row = false;
    while (!(rc = db_step(q.st, &row, "counting webhook deliveries", err, errlen)) && row) {
        const char *state = db_column_text(q.st, 0);
        int64_t n = db_column_int64(q.st, 1);
        if (strcmp(state, "pending") == 0)
            c->pending = n;
        else if (strcmp(state, "delivered") == 0)
            c->delivered = n;
        else
            c->dead = n;
    }
    store_stmt_close(&q);
    return rc;
}

enum qb_err store_delivery_list(struct store *s, int64_t webhook_id, int limit,
                                struct store_delivery ***out, size_t *n, char *err, size_t errlen)
{
    /* The attempts as one JSON array; PostgreSQL's JSON is spaced
     * differently, which the reader (a JSON parser) does not mind. */
    static const char *const sql[] = {
        [DB_SQLITE] =
            "SELECT " DELIVERY_COLUMNS ", (SELECT json_group_array(json_object('at', "
            "strftime('%Y-%m-%dT%H:%M:%fZ', a.at / 1000.0, 'unixepoch'), 'status', a.status, "
            "'error', a.error, 'duration_ms', a.duration_ms)) FROM (SELECT * FROM "
            "webhook_attempts WHERE delivery = d.id ORDER BY id) a) FROM webhook_deliveries d "
            "WHERE webhook_id = ?1 ORDER BY id DESC LIMIT ?2",
        [DB_POSTGRES] =
            "SELECT " DELIVERY_COLUMNS ", (SELECT coalesce(json_agg(json_build_object('at', "
            "to_char(to_timestamp(a.at / 1000.0) AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'status', a.status, 'error', a.error, "
            "'duration_ms', a.duration_ms) ORDER BY a.id), '[]')::text FROM webhook_attempts a "
            "WHERE a.delivery = d.id) FROM webhook_deliveries d "
            "WHERE webhook_id = ?1 ORDER BY id DESC LIMIT ?2",
    };
    void *list;
    enum qb_err rc =
        store_listf(s, sql[store_dialect(s)], &delivery_rows, NULL, &list, n,
                    "listing webhook deliveries", err, errlen, "ii", webhook_id, (int64_t)limit);
    *out = list;
    return rc;
}

/* ------------------------------------------------- the event log cursor */

enum qb_err store_webhook_cursor(struct store *s, int64_t *after, char *err, size_t errlen)
{
    return store_queryf_int(s, "SELECT events_after FROM webhook_cursor WHERE id = 1", after, NULL,
                            "reading the webhook cursor", err, errlen, "");
}

enum qb_err store_webhook_cursor_set(struct store *s, int64_t after, char *err, size_t errlen)
{
    return store_write(
        s,
        "UPDATE webhook_cursor SET events_after = CASE WHEN events_after > ?1 THEN events_after "
        "ELSE ?1 END WHERE id = 1",
        after, 0, 0, NULL, NULL, "moving the webhook cursor", err, errlen);
}

/* ---------------------------------------------------------------- chat-ops */

enum qb_err store_chatops_seen(struct store *s, const char *signature, int64_t now,
                               int64_t window_s, char *err, size_t errlen)
{
    struct db_conn *db = store_acquire(s);
    struct db_stmt *del = NULL, *ins = NULL;
    enum qb_err rc = db_begin(db, DB_TX_WRITE, err, errlen);
    if (!rc)
        rc = db_prepare(db, "DELETE FROM chatops_seen WHERE at < ?1", &del, err, errlen);
    if (!rc)
        rc = db_prepare(db, "INSERT INTO chatops_seen (signature, at) VALUES (?1, ?2)", &ins, err,
                        errlen);
    if (rc)
        goto out;
    db_bind_int64(del, 1, now - window_s);
    rc = store_step_done(del, NULL, "forgetting old chat commands", err, errlen);
    if (rc)
        goto out;
    db_bind_text(ins, 1, signature);
    db_bind_int64(ins, 2, now);
    rc = store_step_done(ins, NULL, "recording a chat command", err, errlen);
    if (rc == QB_ERR_CONFLICT)
        qb_failf(rc, err, errlen, "this signed request was already served (a replay)");
    if (!rc)
        rc = db_commit(db, err, errlen);
out:
    db_finalize(del);
    db_finalize(ins);
    store_release(s, db);
    return rc;
}

enum qb_err store_chatops_followup(struct store *s, int64_t run_id, const char *response_url,
                                   const char *command, char *err, size_t errlen)
{
    return store_execf(s,
                       "INSERT INTO chatops_followups (run_id, response_url, "
                       "command, created_at) VALUES (?1, ?2, ?3, ?4) "
                       "ON CONFLICT (run_id) DO UPDATE SET response_url = ?2, "
                       "command = ?3, created_at = ?4",
                       NULL, "recording a chat follow-up", err, errlen, "itti", run_id,
                       response_url, command, qb_now_ms() / 1000);
}

struct followup {
    char *url;
    char *cmd;
};
#define STORE_ROW_T struct followup
static const struct store_col followup_cols[] = {STORE_COL(url), STORE_COL(cmd)};
#undef STORE_ROW_T
static const struct store_rows followup_rows = STORE_TABLE_ROWS(struct followup, followup_cols);

enum qb_err store_chatops_followup_get(struct store *s, int64_t run_id, char **url, char **cmd,
                                       char *err, size_t errlen)
{
    struct followup *f = NULL;
    *url = *cmd = NULL;
    enum qb_err rc =
        store_get_by_key(s, "SELECT response_url, command FROM chatops_followups WHERE run_id = ?1",
                         NULL, run_id, &followup_rows, NULL, &f, "chat follow-up", err, errlen);
    if (rc == QB_ERR_NOT_FOUND)
        return QB_OK;
    if (!rc) {
        *url = f->url;
        *cmd = f->cmd;
        free(f);
    }
    return rc;
}

enum qb_err store_chatops_followup_done(struct store *s, int64_t run_id, char *err, size_t errlen)
{
    return store_write(s, "DELETE FROM chatops_followups WHERE run_id = ?1", run_id, 0, 0, NULL,
                       NULL, "forgetting a chat follow-up", err, errlen);
}
