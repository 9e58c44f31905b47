/* SPDX-License-Identifier: Apache-2.0 */
/* emu_dist.h -- point operations across shards and peers, the part of
 * Qdrant's collection and replica-set code (lib/collection/src/shards/
 * replica_set/{update,execute_read_operation}.rs) a backup tool observes.
 *
 * Writes: each point goes to one shard -- auto sharding by a hash of its id
 * modulo the shard count, custom sharding among the shards of the request's
 * shard_key -- and is applied to every updatable replica of that shard,
 * locally or on the hosting peer through POST
 * /debug/internal/{c}/{shard}/{op} (no key, never logged or faulted, like
 * Qdrant's internal gRPC port).  A replica that cannot be reached while
 * another took the write is marked Dead (and healed later, as in Qdrant).
 *
 * Reads gather every selected shard from one readable replica, the local one
 * first, falling back to the others; a shard with none fails the read with
 * Qdrant's 500 texts.
 *
 * Handlers call these after resolving aliases; all take the collection name
 * as the state knows it.  Any thread. */
#ifndef EMU_DIST_H
#define EMU_DIST_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "emu_http.h"

/* PUT /collections/{c}/points body; [out] op_id. */
int emu_dist_upsert(const char *coll, const cJSON *body, uint64_t *op_id,
                    struct emu_status *st) EMU_MUSTCHECK;
/* POST /collections/{c}/points/delete body. */
int emu_dist_delete(const char *coll, const cJSON *body, uint64_t *op_id,
                    struct emu_status *st) EMU_MUSTCHECK;
/* ScrollResult for a ScrollRequest body.  Caller frees. */
cJSON *emu_dist_scroll(const char *coll, const cJSON *body, struct emu_status *st);
/* Records for a PointRequest body ({"ids":…}).  Caller frees. */
cJSON *emu_dist_retrieve(const char *coll, const cJSON *body, struct emu_status *st);
/* GET /collections/{c}/points/{id}.  Caller frees. */
cJSON *emu_dist_get_point(const char *coll, const char *id, struct emu_status *st);
/* POST /collections/{c}/points/count body. */
int emu_dist_count(const char *coll, const cJSON *body, uint64_t *count,
                   struct emu_status *st) EMU_MUSTCHECK;
/* Collection info: total points and, for each field of `fields` (an object
 * keyed by payload path), how many points have it ([out] *field_counts,
 * caller frees).  Fails like Qdrant's collection info when a shard has no
 * reachable readable replica. */
int emu_dist_info(const char *coll, const cJSON *fields, uint64_t *points, cJSON **field_counts,
                  struct emu_status *st) EMU_MUSTCHECK;
/* Points of this peer's local shard sid (GET …/cluster points_count); 0
 * when it holds none. */
uint64_t emu_dist_local_count(const char *coll, unsigned sid);

/* Every record of shard sid as peer `from` stores it (shard transfer).
 * [out] *records: caller frees. */
int emu_dist_fetch_shard(const char *coll, unsigned sid, uint64_t from, cJSON **records,
                         struct emu_status *st) EMU_MUSTCHECK;

/* POST /debug/internal/{collection_name}/{shard_id}/{op}: applies op
 * (upsert, delete, scroll, retrieve, count, fields) to the local shard. */
void emu_dist_internal(struct emu_req *r);

#endif
