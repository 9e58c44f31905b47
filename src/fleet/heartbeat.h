/* SPDX-License-Identifier: Apache-2.0
 *
 * heartbeat.h -- this qbackupd's sign of life in the catalogue: a thread
 * that every interval records the node (fleet_nodes) and the runs it owns
 * (runs.heartbeat_at) through store_fleet_beat.  The leader adopts the
 * runs of a node whose beats stopped (engine/recovery.h recovery_adopt),
 * so the beat runs on a thread of its own: a scheduler pass blocked on a
 * slow Qdrant must not make this node's runs look abandoned.
 * docs/internals/fleet.md.
 *
 * THREAD SAFETY
 * heartbeat_start and heartbeat_stop from one thread (main);
 * heartbeat_last from any thread.
 */
#ifndef QB_FLEET_HEARTBEAT_H
#define QB_FLEET_HEARTBEAT_H

#include "common.h"

struct store;
struct heartbeat;

struct heartbeat_config {
    const char *node;    /* node_name; copied */
    const char *version; /* copied */
    const char *address; /* public URL or NULL; copied */
    int64_t interval_s;  /* between beats, >= 1 */
};

/* Beats once (so the node is listed before it serves), then starts the
 * thread.  A failed first beat is logged, not fatal: the catalogue may be
 * busy for a moment, and the next beat tries again.  store is borrowed. */
enum qb_err heartbeat_start(struct store *store, const struct heartbeat_config *cfg,
                            struct heartbeat **out, char *err, size_t errlen) QB_MUSTCHECK;

/* Stops the thread and frees hb; NULL is a no-op. */
void heartbeat_stop(struct heartbeat *hb);

/* Unix seconds of the last beat that reached the catalogue (0: none). */
int64_t heartbeat_last(struct heartbeat *hb);

#endif /* QB_FLEET_HEARTBEAT_H */
