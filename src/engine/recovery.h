/* SPDX-License-Identifier: Apache-2.0
 *
 * recovery.h -- settling what a killed qbackupd left behind, at start,
 * before any worker runs: every run still marked `running` is failed with
 * "interrupted by restart", the Qdrant snapshot it had created is deleted,
 * and its stored object (finished but never catalogued) or half-done
 * upload is removed.  An object that did reach the catalogue is never
 * touched: the catalogue row is the proof that a backup is good.  A
 * snapshot deletion that was marked but not finished (retention or DELETE
 * killed between its objects and its row) is finished.
 */
#ifndef QB_RECOVERY_H
#define QB_RECOVERY_H

#include "store/store.h"
#include "store/store_runs.h"

/* Runs the recovery; failures are logged, never fatal (a stuck Qdrant must
 * not keep qbackupd from starting).  node is NULL alone on the catalogue
 * (every running run was this process's); in a fleet it is this node's
 * name, and only its own runs (and unowned ones) are recovered: the
 * others belong to live nodes, or are adopted (recovery_adopt). */
void recovery_run(struct store *store, const char *node);

/* The leader's takeover: every run still running whose owner (another
 * node) has not beaten since now - dead_after_s is adopted by self (one
 * conditional update, so a node that comes back in that moment keeps its
 * run, or loses it, never both), cleaned up and settled as a restart
 * would, and requeued when its plan asks (requeue_interrupted).  Failures
 * are logged. */
void recovery_adopt(struct store *store, const char *self, int64_t now, int64_t dead_after_s);

/* Removes what an interrupted run stored on destination dest_id but never
 * catalogued: the objects keys[0..n) and any unfinished upload of the first
 * nuploads of them (a manifest is written in one request and has none).
 * Nothing is touched when the catalogue holds key on that destination: the
 * row proves the objects good.  The outcome is logged against key, run_id;
 * failures are never fatal.  Shared by single-object and set recovery. */
void recovery_clean_storage(struct store *store, int64_t dest_id, const char *key,
                            const char *const *keys, size_t n, size_t nuploads, int64_t run_id);

/* A backup run that a graceful shutdown (SIGTERM) interrupted is queued
 * again when its plan asks for it (requeue_interrupted), exactly as after
 * a kill -9. */
void recovery_requeue_after_shutdown(struct store *store, const struct store_run *r);

#endif /* QB_RECOVERY_H */
