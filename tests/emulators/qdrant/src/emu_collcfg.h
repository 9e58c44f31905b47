/* SPDX-License-Identifier: Apache-2.0 */
/* emu_collcfg.h -- a collection's configuration as Qdrant keeps it in
 * config.json: validating a CreateCollection body (name, vectors, sparse
 * vectors, shard_number, sharding_method, replication_factor, …) and
 * filling in Qdrant's defaults, and the compatibility check snapshot
 * recovery makes against an existing collection.  Pure functions. */
#ifndef EMU_COLLCFG_H
#define EMU_COLLCFG_H

#include <cjson/cJSON.h>

#include "emu_common.h"

/* Validates a collection name like Qdrant (422 on failure). */
int emu_collcfg_check_name(const char *name, struct emu_status *st) EMU_MUSTCHECK;

/* config.json for a PUT /collections body (borrowed), with a fresh uuid.
 * default_shards is used when the body has no shard_number (Qdrant: the
 * number of peers with auto sharding, 1 with custom sharding).  NULL + st
 * (400/422) on invalid input.  Caller frees. */
cJSON *emu_collcfg_build(const cJSON *body, int default_shards, struct emu_status *st);

/* Recovery: 400 "Snapshot is not compatible with existing collection: …"
 * unless the snapshot's vectors and shard_number match the collection's. */
int emu_collcfg_compatible(const cJSON *current, const cJSON *snapshot,
                           struct emu_status *st) EMU_MUSTCHECK;

#endif
