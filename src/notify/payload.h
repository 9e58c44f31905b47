/* SPDX-License-Identifier: Apache-2.0
 *
 * payload.h -- what a webhook delivery says: the event names a webhook may
 * subscribe to (the event log's types, store/store_events.h, plus
 * webhook.test), and the body of a delivery in each format ("json": the
 * stable WebhookDelivery schema of api/openapi.yaml; "slack": an
 * incoming-webhook message with `text` and `blocks`).  Pure: no I/O, any
 * thread.
 *
 * A body is built once, when the delivery is queued, and sent unchanged
 * at every attempt, so a receiver sees the same bytes (and delivery id)
 * however often it is retried.
 */
#ifndef QB_NOTIFY_PAYLOAD_H
#define QB_NOTIFY_PAYLOAD_H

#include "common.h"

/* True when name is an event a webhook may subscribe to. */
bool payload_event_known(const char *name);
/* The known names, comma-separated, for error messages. */
const char *payload_event_names(void);

/* True for the event that ends a run or restore (succeeded, partial,
 * failed, cancelled): a chat command's result. */
bool payload_event_final(const char *type);

/* What a delivery is about: an event of the log, or a test (id 0). */
struct payload_event {
    int64_t id; /* event log id; 0: not from the log (webhook.test) */
    const char *type;
    int64_t at;           /* Unix seconds */
    const char *plan;     /* or NULL */
    const char *instance; /* or NULL */
    int64_t run_id;       /* 0: none */
    const char *data;     /* JSON object text */
};

/* The body of delivery_id about e, in format "json" or "slack".  Caller
 * frees. */
char *payload_body(const char *format, const char *delivery_id, const struct payload_event *e);

/* One line a person reads, e.g. "qbackup: run.failed: plan p, run 12 on
 * instance q: <error>".  Caller frees. */
char *payload_summary(const struct payload_event *e);

#endif /* QB_NOTIFY_PAYLOAD_H */
