/* SPDX-License-Identifier: Apache-2.0 */
/* emu_sync.h -- the peer side of qdrant-emu's consensus: keeps this peer's
 * local storage (emu_store.h) in line with the shared cluster state
 * (emu_meta.h) and runs what a Qdrant peer runs on its own, namely the
 * automatic recovery of its Dead replicas by a shard transfer from an
 * active one.
 *
 * A reconcile happens whenever the state's version moved: on demand at the
 * start of every request (emu_sync_now) and from a background thread every
 * 50 ms, which also drives healing.  It creates local collections and
 * shards the state assigns to this peer, drops those it no longer does
 * (collections deleted, recreated under the same name, shard keys dropped,
 * replicas removed), rewrites replica_state.json files, and after a
 * /debug/reset (a new epoch) empties this peer's snapshot directory.
 *
 * THREAD SAFETY: one recursive mutex serialises reconciles; a recovery
 * holds it (emu_sync_lock) while it installs a shard and registers it in the
 * state, so a reconcile never sees the data before the state does. */
#ifndef EMU_SYNC_H
#define EMU_SYNC_H

#include "emu_common.h"

/* First reconcile at startup (main thread).  On a single node, collections
 * found on disk but unknown to the state are adopted into it. */
int emu_sync_init(void) EMU_MUSTCHECK;
/* Starts / stops the background thread. */
int emu_sync_start(void) EMU_MUSTCHECK;
void emu_sync_stop(void);

/* Reconciles now when the state changed since the last reconcile. */
void emu_sync_now(void);

void emu_sync_lock(void);
void emu_sync_unlock(void);

#endif
