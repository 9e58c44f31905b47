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
 *
 * A create qbackupd gave up on (its timeout, a lost answer, a kill -9) is
 * finished by Qdrant anyway, possibly much later, and its name never
 * reached qbackupd.  Such a create leaves a sweep entry, looked at every
 * JANITOR_SWEEP_EVERY_S until the create's window ends (sweep_until: the
 * give-up plus QDRANT_SWEEP_GRACE_S; it survives restarts, being a row).
 * A sweep deletes one snapshot, and only one it can prove is the
 * abandoned create's: of the same instance and target, named (Qdrant's
 * name carries its creation time) at or after the create's request
 * (sweep_since, one second of slack) and not after sweep_until, and
 * claimed by nothing: not catalogued, not the named snapshot of a running
 * run's in-flight intent (a retry's own), not waiting in a named entry.
 * While a running run of the same instance has a create whose answer has
 * not arrived (its in-flight intent has no name yet) the sweep waits: that
 * snapshot would be unclaimed too.  The oldest such snapshot goes, then
 * the entry is done (one create makes one snapshot); a window that ends
 * with none found ends the entry.  An operator's snapshot made outside
 * qbackupd's windows is never touched.
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

/* How long after giving up on a create its snapshot is still looked for. */
#define QDRANT_SWEEP_GRACE_S 300

/* Records a create of target t on instance, requested at `since` (Unix
 * seconds), that qbackupd gave up on: its snapshot, should Qdrant finish
 * it, is looked for until `until` and deleted (see above). */
void qdrant_janitor_sweep(struct store *store, const char *instance, const struct qdrant_target *t,
                          int64_t since, int64_t until);

/* Retries every due entry once; called about once a second. */
void qdrant_janitor_tick(struct store *store, long retry_base_ms, int64_t now);

#endif /* QB_QDRANT_JANITOR_H */
