/* SPDX-License-Identifier: Apache-2.0 */
/* emu_dist_int.h -- helpers shared by emu_dist.c (writes, internal route)
 * and emu_dist_read.c (reads).  Not for other modules. */
#ifndef EMU_DIST_INT_H
#define EMU_DIST_INT_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "emu_common.h"

/* POST /debug/internal/{coll}/{sid}/{op} on peer `peer` (its REST url from
 * state).  On 200, *result gets the envelope's result (caller frees).
 * *transient is set for transport failures and 5xx answers. */
int dist_peer_call(const cJSON *state, uint64_t peer, const char *coll, unsigned sid,
                   const char *op, const cJSON *body, cJSON **result, int *transient,
                   struct emu_status *st);
/* Runs an internal op on this peer's local shard; NULL + st on failure. */
cJSON *dist_local_op(const char *coll, unsigned sid, const char *op, const cJSON *body,
                     struct emu_status *st);
/* The collection in a fresh copy of the state (*state, caller frees); NULL
 * + 404 when missing. */
cJSON *dist_load_coll(const char *coll, cJSON **state, struct emu_status *st);
/* Shards a request's shard_key selects (array of references into coll;
 * caller frees the array).  for_write: custom sharding needs a key. */
cJSON *dist_select_shards(const cJSON *coll, const cJSON *body, int for_write,
                          struct emu_status *st);

#endif
