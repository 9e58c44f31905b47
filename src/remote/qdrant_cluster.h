/* SPDX-License-Identifier: Apache-2.0
 *
 * qdrant_cluster.h -- Qdrant's distributed-mode views and the collection
 * administration a cluster restore needs, typed: GET /cluster (this peer,
 * every peer's p2p URI, the leader), GET /collections/{c}/cluster (which
 * shards this peer holds and in which state, where the other replicas are,
 * transfers and resharding in progress), the collection's configuration
 * and aliases, and creating collections, shard keys, payload indexes and
 * aliases.
 *
 * Peer ids are u64 and are read exactly (util/json_u64.h), never through a
 * double.  Errors follow qdrant_client.h.
 *
 * THREADS: as qdrant_client.h (one client per thread).
 */
#ifndef QB_QDRANT_CLUSTER_H
#define QB_QDRANT_CLUSTER_H

#include "common.h"
#include "remote/qdrant_client.h"

#include <cjson/cJSON.h>

struct qdrant_peer {
    uint64_t id;
    char *uri; /* p2p URI as Qdrant reports it, e.g. "http://qdrant-1:6335/" */
};

/* GET /cluster.  When Qdrant will not say, `hidden` holds why and
 * `enabled` is false: a 403 (a key without global read access, such as a
 * JWT scoped to collections, CONTRACT §8) or a 404 (a server without the
 * distributed-mode routes).  The instance may then still be a cluster:
 * a caller checks each collection's own view (qdrant_shard_view_get, which
 * such a key may read) before treating it as one node. */
struct qdrant_cluster {
    bool enabled;     /* false: Qdrant runs without distributed mode, or hidden */
    uint64_t peer_id; /* the answering peer */
    uint64_t leader;  /* 0 when unknown */
    struct qdrant_peer *peers;
    size_t npeers;
    char *hidden; /* why GET /cluster could not be read, or NULL; owned */
};
enum qb_err qdrant_cluster_get(struct qdrant_client *c, struct qdrant_cluster *out, char *err,
                               size_t errlen) QB_MUSTCHECK;
void qdrant_cluster_clear(struct qdrant_cluster *cl);

/* One replica of one shard, as seen by one peer. */
struct qdrant_replica {
    unsigned shard_id;
    uint64_t peer_id;
    char state[32];       /* "Active", "Dead", "Partial", ... */
    bool local;           /* listed in local_shards of the answering peer */
    int64_t points_count; /* local replicas only; -1 otherwise */
    char *shard_key;      /* JSON text of the shard key, or NULL */
};

/* GET /collections/{c}/cluster on one peer. */
struct qdrant_shard_view {
    uint64_t peer_id;
    unsigned shard_count;
    struct qdrant_replica *replicas;
    size_t nreplicas;
    size_t ntransfers; /* shard_transfers in progress */
    char *transfers;   /* the first transfer, described, or NULL */
    bool resharding;   /* resharding_operations present and not empty */
};
enum qb_err qdrant_shard_view_get(struct qdrant_client *c, const char *collection,
                                  struct qdrant_shard_view *out, char *err,
                                  size_t errlen) QB_MUSTCHECK;
void qdrant_shard_view_clear(struct qdrant_shard_view *v);

/* GET /collections/{c}: the whole `result` (config, payload_schema,
 * points_count...).  Caller cJSON_Deletes. */
enum qb_err qdrant_collection_get(struct qdrant_client *c, const char *collection, cJSON **result,
                                  char *err, size_t errlen) QB_MUSTCHECK;

/* GET /collections/{c}/aliases: alias names, free with qdrant_strings_free. */
enum qb_err qdrant_collection_aliases(struct qdrant_client *c, const char *collection,
                                      char ***aliases, size_t *n, char *err,
                                      size_t errlen) QB_MUSTCHECK;

/* PUT /collections/{c} with body (borrowed).  QB_ERR_CONFLICT when it
 * exists. */
enum qb_err qdrant_collection_create(struct qdrant_client *c, const char *collection,
                                     const cJSON *body, char *err, size_t errlen) QB_MUSTCHECK;

/* DELETE /collections/{c}.  QB_ERR_NOT_FOUND when it does not exist. */
enum qb_err qdrant_collection_delete(struct qdrant_client *c, const char *collection, char *err,
                                     size_t errlen) QB_MUSTCHECK;

/* PUT /collections/{c}/shards: creates shard key `key` (JSON text of a
 * string or integer) with shards_number shards (0: Qdrant's default) and
 * replication_factor (0: the collection's). */
enum qb_err qdrant_shard_key_create(struct qdrant_client *c, const char *collection,
                                    const char *key, unsigned shards_number,
                                    unsigned replication_factor, char *err,
                                    size_t errlen) QB_MUSTCHECK;

/* PUT /collections/{c}/index: a payload index on field with schema
 * (borrowed: a type name or a params object, as Qdrant reports it). */
enum qb_err qdrant_payload_index_create(struct qdrant_client *c, const char *collection,
                                        const char *field, const cJSON *schema, char *err,
                                        size_t errlen) QB_MUSTCHECK;

/* POST /collections/aliases: create_alias alias -> collection. */
enum qb_err qdrant_alias_create(struct qdrant_client *c, const char *collection, const char *alias,
                                char *err, size_t errlen) QB_MUSTCHECK;

/* Whether data taken from Qdrant `from` (e.g. "1.18.2") may be restored
 * into Qdrant `to`: Qdrant guarantees storage compatibility across one
 * minor version only (CONTRACT.md §12), so the same major and minors at
 * most one apart.  An unparsable version is not compatible. */
bool qdrant_version_compatible(const char *from, const char *to);

#endif /* QB_QDRANT_CLUSTER_H */
