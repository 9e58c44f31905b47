/* SPDX-License-Identifier: Apache-2.0 */
/* emu_topo.h -- reading and editing the cluster state document of
 * emu_meta.h: peers, collections, shards, replicas, shard keys, aliases and
 * transfers; placement of new shards; and Qdrant's replica-state rules
 * (lib/collection/src/shards/replica_set/replica_set_state.rs).
 *
 * Pure functions of the document they are given: no I/O, no locks, no
 * state, so any thread may call them.  Pointers returned point into that
 * document and live as long as it does. */
#ifndef EMU_TOPO_H
#define EMU_TOPO_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "emu_common.h"

/* ---- replica states ---- */

/* 1 for one of the SPEC's ReplicaState names. */
int emu_state_valid(const char *s);
/* Serves reads: Active, ReshardingScaleDown, ActiveRead. */
int emu_state_readable(const char *s);
/* Receives updates: Active, Partial, Initializing, Listener, Resharding,
 * ReshardingScaleDown, ActiveRead. */
int emu_state_updatable(const char *s);
/* Counts as an active replica: Active, ReshardingScaleDown. */
int emu_state_active(const char *s);

/* ---- peers ---- */

int emu_topo_npeers(const cJSON *state);
/* The i-th registered peer ({"id","uri","url"}), or NULL. */
const cJSON *emu_topo_peer_at(const cJSON *state, int i);
const cJSON *emu_topo_peer(const cJSON *state, uint64_t id);
/* Id of a peer object (0 when malformed). */
uint64_t emu_topo_peer_id(const cJSON *peer);
/* REST base url of peer id, or NULL. */
const char *emu_topo_peer_url(const cJSON *state, uint64_t id);
/* The first registered peer, 0 when none. */
uint64_t emu_topo_leader(const cJSON *state);
/* A peer id given in a request: a decimal string, or a JSON number, which
 * cJSON has rounded to a double, so it names the registered peer whose id
 * rounds to the same double.  0 on success, -1 when no peer matches. */
int emu_topo_peer_from_json(const cJSON *state, const cJSON *j, uint64_t *out);

/* ---- collections, shards, replicas ---- */

cJSON *emu_topo_colls(const cJSON *state);
cJSON *emu_topo_coll(const cJSON *state, const char *name);
/* The collection an alias points to, or name itself. */
const char *emu_topo_resolve(const cJSON *state, const char *name);
cJSON *emu_topo_config(const cJSON *coll);
cJSON *emu_topo_params(const cJSON *coll);
int emu_topo_is_custom(const cJSON *coll);
/* A number in config.params (e.g. "replication_factor"), or def. */
int emu_topo_param_int(const cJSON *coll, const char *key, int def);
cJSON *emu_topo_shards(const cJSON *coll);
cJSON *emu_topo_shard(const cJSON *coll, unsigned sid);
unsigned emu_topo_shard_id(const cJSON *shard);
/* The shard's key (string or number JSON) or NULL for auto sharding. */
const cJSON *emu_topo_shard_key(const cJSON *shard);
cJSON *emu_topo_replicas(const cJSON *shard);
cJSON *emu_topo_replica(const cJSON *shard, uint64_t peer);
uint64_t emu_topo_replica_peer(const cJSON *replica);
const char *emu_topo_replica_state(const cJSON *replica);
/* Sets state and drops heal_at/heal_from (a state set by hand is final). */
void emu_topo_set_state(cJSON *replica, const char *state);
/* Adds peer as a replica of shard in `state` (or updates it); returns it. */
cJSON *emu_topo_add_replica(cJSON *shard, uint64_t peer, const char *state);
/* Highest shard id, -1 when none. */
long emu_topo_max_shard_id(const cJSON *coll);

/* ---- shard keys ---- */

/* 1 when two keys (string or number JSON) are the same key. */
int emu_topo_key_equal(const cJSON *a, const cJSON *b);
/* Qdrant's Display of a key: the string itself, or the number. */
void emu_topo_key_text(const cJSON *key, char *buf, size_t size);
/* Valid ShardKey JSON: a string or a non-negative integer. */
int emu_topo_key_valid(const cJSON *key);
/* shard_key_mapping.json content: [{"key":k,"shard_ids":[…]}], new JSON. */
cJSON *emu_topo_key_mapping(const cJSON *coll);

/* ---- placement ---- */

/* A new shard object: replicas on rf consecutive peers (registration order,
 * or the order of `pool`, an array of peer ids, when given) starting at
 * sid mod N, all in `initial` state.  Returns NULL when there is no peer. */
cJSON *emu_topo_new_shard(const cJSON *state, unsigned sid, const cJSON *key, int rf,
                          const uint64_t *pool, int npool, const char *initial);

/* ---- transfers ---- */

cJSON *emu_topo_transfers(const cJSON *state);
/* The transfer of coll/sid, or NULL. */
cJSON *emu_topo_transfer(const cJSON *state, const char *coll, unsigned sid);
/* Removes every transfer of coll (sid < 0: of every shard). */
void emu_topo_drop_transfers(cJSON *state, const char *coll, long sid);

#endif
