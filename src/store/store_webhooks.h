/* SPDX-License-Identifier: Apache-2.0
 *
 * store_webhooks.h -- the webhook tables of migration 0014: subscriptions
 * (`webhooks`, whose secret is sealed like every stored secret), the
 * outbox of deliveries with their attempt log, the dispatcher's cursor
 * in the event log, and the chat-ops replay guard and follow-ups.
 *
 * The outbox is the durable half of notify/webhooks.c: a delivery row is
 * written once per (webhook, event key) -- a second insert of the same
 * pair is ignored -- and a sender leases it by moving next_attempt_at past
 * the send's deadline, so a delivery whose sender died is due again once
 * the lease runs out (at-least-once, across restarts).
 */
#ifndef QB_STORE_WEBHOOKS_H
#define QB_STORE_WEBHOOKS_H

#include "common.h"
#include "store/store.h"

struct store_webhook {
    int64_t id;
    char *url;
    char *events;    /* JSON array of event names */
    char *plans;     /* JSON array of plan names; "[]": every plan */
    char *instances; /* JSON array of instance names; "[]": every instance */
    char *format;    /* "json" or "slack" */
    char *secret;    /* opened secret; never shown by the API */
    bool enabled;
    char *description; /* or NULL */
    int64_t created_at;
    int64_t updated_at;
};

void store_webhook_free(struct store_webhook *w);
void store_webhook_list_free(struct store_webhook **list, size_t n);

/* Inserts w (id and times set here) and returns its id in *id. */
enum qb_err store_webhook_insert(struct store *s, const struct store_webhook *w, int64_t *id,
                                 char *err, size_t errlen) QB_MUSTCHECK;
/* Replaces every field of webhook w->id but created_at; a NULL secret
 * keeps the stored one.  QB_ERR_NOT_FOUND when absent. */
enum qb_err store_webhook_update(struct store *s, const struct store_webhook *w, char *err,
                                 size_t errlen) QB_MUSTCHECK;
/* *out: a new webhook with its secret opened (caller frees), or
 * QB_ERR_NOT_FOUND. */
enum qb_err store_webhook_get(struct store *s, int64_t id, struct store_webhook **out, char *err,
                              size_t errlen) QB_MUSTCHECK;
/* Every webhook by id, secrets opened; caller frees the list. */
enum qb_err store_webhook_list(struct store *s, struct store_webhook ***out, size_t *n, char *err,
                               size_t errlen) QB_MUSTCHECK;
/* Deletes a webhook and its deliveries.  QB_ERR_NOT_FOUND when absent. */
enum qb_err store_webhook_delete(struct store *s, int64_t id, char *err,
                                 size_t errlen) QB_MUSTCHECK;

/* ------------------------------------------------------------------ outbox */

/* One delivery to queue.  webhook_id 0: a chat-ops result for url. */
struct store_delivery_new {
    const char *delivery_id; /* stable, unique */
    int64_t webhook_id;
    const char *url; /* only with webhook_id 0 */
    const char *event;
    const char *event_key;
    const char *body;
};

/* Queues d, due now.  *added (may be NULL): false when the (webhook,
 * event key) pair was already queued, which is not an error. */
enum qb_err store_delivery_add(struct store *s, const struct store_delivery_new *d, bool *added,
                               char *err, size_t errlen) QB_MUSTCHECK;

/* A delivery leased by a sender. */
struct store_delivery {
    int64_t id;
    char *delivery_id;
    int64_t webhook_id; /* 0: chat-ops result */
    char *url;          /* NULL for a webhook's delivery */
    char *event;
    char *body;
    int attempts; /* before this one */
    char *state;
    int64_t next_attempt_at; /* ms */
    int64_t created_at;      /* ms */
    int64_t delivered_at;    /* ms; 0: not delivered */
    int last_status;         /* 0: none */
    char *last_error;
    char *attempt_log; /* JSON array, filled by store_delivery_list only */
};

void store_delivery_free(struct store_delivery *d);
void store_delivery_list_free(struct store_delivery **list, size_t n);

/* Leases the delivery due soonest (next_attempt_at <= now_ms) for lease_ms:
 * *out is NULL when none is due. */
enum qb_err store_delivery_claim(struct store *s, int64_t now_ms, int64_t lease_ms,
                                 struct store_delivery **out, char *err,
                                 size_t errlen) QB_MUSTCHECK;

/* Records one attempt (status 0: no HTTP answer; error may be NULL) and
 * the delivery's new state: "delivered", "dead", or "pending" again at
 * retry_at_ms. */
enum qb_err store_delivery_record(struct store *s, int64_t id, int64_t at_ms, int status,
                                  const char *error, int64_t duration_ms, const char *state,
                                  int64_t retry_at_ms, char *err, size_t errlen) QB_MUSTCHECK;

/* Forgets delivered and dead deliveries (and their attempts) created
 * before before_ms; *removed (may be NULL) receives how many. */
enum qb_err store_delivery_prune(struct store *s, int64_t before_ms, int *removed, char *err,
                                 size_t errlen) QB_MUSTCHECK;

/* How many deliveries are in each state, for /metrics. */
struct store_delivery_counts {
    int64_t pending, delivered, dead;
};
enum qb_err store_delivery_counts(struct store *s, struct store_delivery_counts *c, char *err,
                                  size_t errlen) QB_MUSTCHECK;

/* The newest deliveries of a webhook (up to limit), each with its
 * attempt_log; caller frees the list. */
enum qb_err store_delivery_list(struct store *s, int64_t webhook_id, int limit,
                                struct store_delivery ***out, size_t *n, char *err,
                                size_t errlen) QB_MUSTCHECK;

/* ------------------------------------------------- the event log cursor */

/* The id of the last event of the log (store_events.h) the dispatcher
 * turned into deliveries. */
enum qb_err store_webhook_cursor(struct store *s, int64_t *after, char *err,
                                 size_t errlen) QB_MUSTCHECK;
/* Moves the cursor forward to after (never back). */
enum qb_err store_webhook_cursor_set(struct store *s, int64_t after, char *err,
                                     size_t errlen) QB_MUSTCHECK;

/* ---------------------------------------------------------------- chat-ops */

/* Records the signature of a slash command served at now (Unix s) and
 * forgets those older than window_s.  QB_ERR_CONFLICT when it was
 * already seen: a replay. */
enum qb_err store_chatops_seen(struct store *s, const char *signature, int64_t now,
                               int64_t window_s, char *err, size_t errlen) QB_MUSTCHECK;
/* Owes run_id's outcome to response_url (the dispatcher queues it when
 * the run settles). */
enum qb_err store_chatops_followup(struct store *s, int64_t run_id, const char *response_url,
                                   const char *command, char *err, size_t errlen) QB_MUSTCHECK;
/* The response URL and command owed run_id's outcome into *url and *cmd
 * (caller frees), or both NULL when none is. */
enum qb_err store_chatops_followup_get(struct store *s, int64_t run_id, char **url, char **cmd,
                                       char *err, size_t errlen) QB_MUSTCHECK;
/* The follow-up of run_id was queued: forget it. */
enum qb_err store_chatops_followup_done(struct store *s, int64_t run_id, char *err,
                                        size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_WEBHOOKS_H */
