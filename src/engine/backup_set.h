/* SPDX-License-Identifier: Apache-2.0
 *
 * backup_set.h -- backing up one collection of a Qdrant cluster (or of a
 * single node in streamed mode) as a backup set: one object per shard,
 * each taken from a peer that holds an Active replica of it, plus a set
 * manifest with the collection's configuration, shard keys and aliases,
 * catalogued as one row (layout "shards") only when every shard is
 * stored, checked and (with verify) read back.  docs/internals/cluster.md
 * tells the algorithm.
 *
 * A set's objects live under its key K (the row's storage_key): shard N
 * is K/shard-N.snapshot, and the manifest is K.manifest.json, as for a
 * single snapshot.
 *
 * The set JSON (snapshots.backup_set, and the manifest's "set" member):
 *   {"format": 1, "shard_method": "snapshot"|"stream",
 *    "config": {params of GET /collections/{c}: vectors, shard_number,
 *               replication_factor, sharding_method, ...},
 *    "tuning": {"hnsw_config", "optimizer_config", "wal_config",
 *               "quantization_config", "metadata": the rest of that config,
 *               each when Qdrant reported it; absent in older sets},
 *    "payload_schema": {...}, "aliases": ["a", ...],
 *    "shard_keys": [{"key": <json>, "shards": n}, ...],
 *    "shards": [{"shard_id", "shard_key", "peer_id", "peer_url", "key",
 *                "size", "sha256", "qdrant_checksum", "points_count",
 *                "qdrant_snapshot"}, ...]}
 */
#ifndef QB_BACKUP_SET_H
#define QB_BACKUP_SET_H

#include "common.h"
#include "engine/topology.h"
#include "storage/storage.h"
#include "store/store_instances.h"
#include "store/store_plans.h"
#include "store/store_snapshots.h"

struct job; /* jobs.h: the run doing the backup */

/* Backs up collection from the instance described by topo (a cluster, or
 * a single node whose plan streams) into the plan's destination.  On
 * success the set is catalogued (*snapshot_id) and result (a JSON object)
 * describes it; on failure nothing of it is left in storage or on any
 * peer, and err names the collection, shard and peers.  plan->id == 0
 * means a plan-less (safety) set. */
enum qb_err backup_set_collection(struct job *j, const struct store_plan *plan,
                                  const struct store_instance *inst, const struct topology *topo,
                                  const char *collection, const char *qdrant_version, cJSON *result,
                                  int64_t *snapshot_id, char *err, size_t errlen) QB_MUSTCHECK;

/* True when plan takes shards over the streaming route (shard_method
 * "stream").  On a single node such a plan backs up every collection as a
 * set too, so that nothing is staged on the node's disk. */
bool backup_set_streams(const struct store_plan *plan);

/* Every storage key of a catalogued snapshot (the object or each shard
 * object, and the manifest), for deletion.  Caller frees with
 * qdrant_strings_free. */
void backup_set_keys(const struct store_snapshot *s, char ***keys, size_t *n);

/* Removes what an interrupted set left behind, from the run's inflight
 * record: shard snapshots on peers (including those whose creation was
 * under way) and uncatalogued objects. */
void backup_set_recover(struct store *store, const cJSON *inflight, int64_t run_id);

#endif /* QB_BACKUP_SET_H */
