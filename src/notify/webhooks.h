/* SPDX-License-Identifier: Apache-2.0
 *
 * webhooks.h -- delivering events to webhooks: the dispatcher that turns
 * new events of the event log into outbox rows, and the senders that post
 * them, signed, with retries that survive restarts.  Owns its threads; the
 * outbox itself is in the catalogue (store/store_webhooks.h).
 *
 * DESIGN
 * One dispatcher thread follows the event log (store/store_events.h),
 * woken by each commit of an event: events with an id above its persisted
 * cursor become one delivery per matching webhook, keyed (webhook,
 * "ev:<event id>") with the delivery id "wh<webhook>-ev<event>", so a
 * re-scan after a crash adds nothing (the store ignores a known key) and
 * a receiver sees the same id on every retry.  The event that ends a run
 * started from chat also queues a message to its Slack response URL.
 *
 * `senders` threads each lease the delivery due soonest (the lease is its
 * next_attempt_at moved past the send's deadline), POST it with a timeout,
 * and record the attempt: 2xx delivered; otherwise pending again after
 * util/retry.h's capped exponential delay with jitter, or "dead" once
 * max_attempts are spent.  A delivery leased by a process that died is due
 * again when its lease ends: at-least-once, with a stable delivery id for
 * receivers to drop duplicates.  Runs never wait on any of this: a hung or
 * failing receiver only occupies a sender for timeout_ms per attempt.
 *
 * THREAD SAFETY NOTES
 * `lock` guards `stopping` and `kicks`; it is never held during I/O or
 * store calls.  webhooks_wake may be called from any thread.
 */
#ifndef QB_NOTIFY_WEBHOOKS_H
#define QB_NOTIFY_WEBHOOKS_H

#include "common.h"
#include "store/store.h"
#include "store/store_webhooks.h"

struct webhooks;

struct webhooks_config {
    unsigned senders;      /* deliveries in flight at once, >= 1 */
    long timeout_ms;       /* one attempt, connect to last byte */
    unsigned max_attempts; /* then "dead" */
    long retry_base_ms;    /* delay after the first failure, doubled per failure */
    long retry_max_ms;     /* cap of one delay */
    long poll_ms;          /* how often the outbox and the runs are looked at */
};

/* Starts the dispatcher and the senders on store (borrowed until
 * webhooks_stop).  Caller stops with webhooks_stop. */
enum qb_err webhooks_start(struct store *store, const struct webhooks_config *cfg,
                           struct webhooks **out, char *err, size_t errlen) QB_MUSTCHECK;

/* Stops and joins the threads (a send in flight ends within timeout_ms);
 * leased deliveries are due again at their lease's end.  NULL is a no-op. */
void webhooks_stop(struct webhooks *w);

/* Something is due now (a test-fire, a chat follow-up): look at once. */
void webhooks_wake(struct webhooks *w);

/* Queues a "webhook.test" delivery to hook (its format and secret) and
 * returns its delivery id in *delivery_id (caller frees).  Any thread. */
enum qb_err webhooks_test_fire(struct store *store, const struct store_webhook *hook,
                               char **delivery_id, char *err, size_t errlen) QB_MUSTCHECK;

/* Prometheus collector (metrics_add_collector) of the outbox: deliveries
 * by state, read from the catalogue at scrape time.  ctx: the store. */
struct buf;
bool webhooks_metrics(struct buf *out, void *store);

#endif /* QB_NOTIFY_WEBHOOKS_H */
