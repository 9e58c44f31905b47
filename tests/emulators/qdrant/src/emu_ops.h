/* SPDX-License-Identifier: Apache-2.0 */
/* emu_ops.h -- collection meta operations, the changes Qdrant sends through
 * consensus: create and delete collections (placing their shards), shard
 * keys, payload indexes, aliases, replica states and shard transfers, and
 * the replica-state steps of snapshot recovery (activate, priorities).
 * Each is one read-modify-write of the cluster state (emu_meta.h) followed
 * by a local reconcile (emu_sync.h).  Messages are Qdrant's (sources named
 * at each function in emu_ops.c).  Any thread. */
#ifndef EMU_OPS_H
#define EMU_OPS_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "emu_common.h"

/* Creates collection name with config (taken over): auto sharding places
 * shard_number shards; custom sharding starts without shards, or -- for a
 * startup restore -- with the keys and shard ids of `mapping` (the
 * archive's shard_key_mapping.json, may be NULL).  409 when it exists. */
int emu_ops_create(const char *name, cJSON *config, const cJSON *mapping,
                   struct emu_status *st) EMU_MUSTCHECK;
/* Deletes a collection with its aliases and transfers; 1 when it existed. */
int emu_ops_delete(const char *name);

/* PUT /collections/{c}/shards and POST …/shards/delete bodies. */
int emu_ops_shard_key_create(const char *coll, const cJSON *body,
                             struct emu_status *st) EMU_MUSTCHECK;
int emu_ops_shard_key_delete(const char *coll, const cJSON *body,
                             struct emu_status *st) EMU_MUSTCHECK;

/* Payload index on field (schema: a type name or params object); schema
 * NULL deletes it. */
int emu_ops_index(const char *coll, const char *field, const cJSON *schema,
                  struct emu_status *st) EMU_MUSTCHECK;

/* POST /collections/aliases actions, applied atomically. */
int emu_ops_aliases(const cJSON *actions, struct emu_status *st) EMU_MUSTCHECK;

/* Debug: a replica's state (final: no healing), a transfer, no transfers. */
int emu_ops_set_replica(const char *coll, unsigned sid, uint64_t peer, const char *state,
                        struct emu_status *st) EMU_MUSTCHECK;
int emu_ops_add_transfer(const char *coll, unsigned sid, uint64_t from, uint64_t to, int sync,
                         const char *method, struct emu_status *st) EMU_MUSTCHECK;
int emu_ops_clear_transfers(struct emu_status *st) EMU_MUSTCHECK;
/* Debug reset: no collections, aliases or transfers; a new epoch. */
int emu_ops_reset(struct emu_status *st) EMU_MUSTCHECK;

/* ---- snapshot recovery (lib/storage/src/content_manager/snapshots/
 * recover.rs, src/common/snapshots.rs) ---- */

enum emu_priority { EMU_PRIO_SNAPSHOT, EMU_PRIO_REPLICA, EMU_PRIO_NO_SYNC };

/* Sets this peer's replicas of coll to ManualRecovery; [out] *previous: an
 * object shard id -> previous state, for emu_ops_recover_revert. */
int emu_ops_recover_begin(const char *coll, cJSON **previous, struct emu_status *st) EMU_MUSTCHECK;
/* Puts a replica skipped by the recovery back in its previous state. */
void emu_ops_recover_revert(const char *coll, unsigned sid, const cJSON *previous);
/* Makes this peer a replica of coll/sid whose data was just installed and
 * applies the priority to the other active replicas.  collection_level:
 * routes 5/6 (replicas beyond replication_factor are removed) rather than
 * 16/17. */
int emu_ops_recover_activate(const char *coll, unsigned sid, enum emu_priority prio,
                             int collection_level, struct emu_status *st) EMU_MUSTCHECK;
/* Registers this peer as a replica of coll/sid in `state` before its data
 * is installed (a shard it did not host). */
int emu_ops_recover_adopt(const char *coll, unsigned sid, struct emu_status *st) EMU_MUSTCHECK;

#endif
