/* SPDX-License-Identifier: Apache-2.0
 *
 * payload.h -- what a webhook delivery says: the event names a webhook may
 * subscribe to, and the body of a delivery in each format ("json": the
 * stable WebhookEvent schema of api/openapi.yaml; "slack": an incoming-
 * webhook message with `text` and `blocks`).  Pure: no I/O, any thread.
 *
 * A body is built once, when the delivery is queued, and sent unchanged
 * at every attempt, so a receiver sees the same bytes (and delivery id)
 * however often it is retried.
 */
#ifndef QB_NOTIFY_PAYLOAD_H
#define QB_NOTIFY_PAYLOAD_H

#include "common.h"

#include <cjson/cJSON.h>

/* True when name is an event a webhook may subscribe to. */
bool payload_event_known(const char *name);
/* The known names, comma-separated, for error messages. */
const char *payload_event_names(void);

/* The event of a run that settled in state (kind "backup" or
 * "restore"): run.succeeded, run.failed (failed or partial),
 * run.cancelled, restore.succeeded, restore.failed, or NULL. */
const char *payload_run_event(const char *kind, const char *state);

/* The JSON body of delivery_id for event at occurred_at (Unix s) with
 * data (taken).  format "json" or "slack".  Caller frees. */
char *payload_body(const char *format, const char *delivery_id, const char *event,
                   int64_t occurred_at, cJSON *data);

/* One line a person reads: "qbackup: run 12 of plan p failed: <error>". */
char *payload_summary(const char *event, const cJSON *data);

#endif /* QB_NOTIFY_PAYLOAD_H */
