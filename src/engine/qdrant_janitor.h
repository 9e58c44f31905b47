/* SPDX-License-Identifier: Apache-2.0
 *
 * qdrant_janitor.h -- deleting again the Qdrant snapshots qbackupd could
 * not delete when it was done with them.
 *
 * A snapshot left on Qdrant's disk costs production disk space forever,
 * and the delete after a backup is best effort (the backup itself is
 * safe in the catalogue).  So a failed delete is recorded
 * (store_cleanup.h) and retried by the scheduler's thread with backoff
 * (the engine's retry base, doubled per attempt, capped at 6 hours) until
 * Qdrant deletes it or says it is gone.
 */
#ifndef QB_QDRANT_JANITOR_H
#define QB_QDRANT_JANITOR_H

#include "common.h"
#include "remote/qdrant_client.h"
#include "store/store.h"

/* Records snapshot `name` of target t on instance (url: a cluster peer's
 * REST URL, or NULL for the instance's) for a later delete.  error is why
 * the delete failed.  Failures to record are logged. */
void qdrant_janitor_enqueue(struct store *store, const char *instance, const char *url,
                            const struct qdrant_target *t, const char *name, const char *error);

/* Retries every due entry once; called about once a second. */
void qdrant_janitor_tick(struct store *store, long retry_base_ms, int64_t now);

#endif /* QB_QDRANT_JANITOR_H */
