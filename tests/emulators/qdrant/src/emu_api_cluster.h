/* SPDX-License-Identifier: Apache-2.0 */
/* emu_api_cluster.h -- handlers for shard keys, payload indexes, aliases
 * and the cluster debug routes (replica states, transfers). */
#ifndef EMU_API_CLUSTER_H
#define EMU_API_CLUSTER_H

#include "emu_http.h"

void emu_api_shard_keys_get(struct emu_req *r);     /* GET  C/shards */
void emu_api_shard_keys_put(struct emu_req *r);     /* PUT  C/shards */
void emu_api_shard_keys_delete(struct emu_req *r);  /* POST C/shards/delete */
void emu_api_index_put(struct emu_req *r);          /* PUT  C/index */
void emu_api_index_delete(struct emu_req *r);       /* DELETE C/index/{field_name} */
void emu_api_aliases_update(struct emu_req *r);     /* POST /collections/aliases */
void emu_api_aliases_list(struct emu_req *r);       /* GET  /aliases */
void emu_api_collection_aliases(struct emu_req *r); /* GET C/aliases */

/* POST /debug/cluster/replica {"collection","shard_id","peer_id","state"} */
void emu_debug_cluster_replica(struct emu_req *r);
/* POST /debug/cluster/transfer {"collection","shard_id","from","to","sync"?,"method"?} */
void emu_debug_cluster_transfer(struct emu_req *r);
/* DELETE /debug/cluster/transfers */
void emu_debug_cluster_transfers_clear(struct emu_req *r);

#endif
