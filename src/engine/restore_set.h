/* SPDX-License-Identifier: Apache-2.0
 *
 * restore_set.h -- restoring a backup set (backup_set.h) into a new
 * collection on a cluster or a single node; see restore_set.c.
 */
#ifndef QB_RESTORE_SET_H
#define QB_RESTORE_SET_H

#include "common.h"
#include "storage/bridge.h"
#include "engine/jobs.h"
#include "engine/topology.h"
#include "store/store_instances.h"
#include "store/store_snapshots.h"

struct copies_set_sources;

/* Everything borrowed from the caller (restore_job.c). */
struct restore_set {
    struct job *job;
    const struct store_snapshot *snap; /* layout "shards" */
    const struct store_instance *inst; /* the target instance */
    const struct topology *topo;       /* its topology */
    struct qdrant_client *qc;          /* on the target instance's URL */
    struct storage *storage;           /* the location holding the set whole, or NULL ... */
    /* ... when its shards are read from several (copies.h); a shard in a
     * local folder is then uploaded even with by_url. */
    const struct copies_set_sources *sources;
    const char *instance;      /* target instance name */
    const char *collection;    /* target collection (must not exist) */
    bool by_url;               /* method "url": Qdrant fetches each shard */
    const char *download_base; /* for local destinations with by_url */
    enum qdrant_priority priority;
    long snapshot_timeout_ms;
    long active_timeout_ms; /* replicas must be Active within this */
    /* Keys of an encrypted set (resolve_keyring), or NULL.  Shards stored
     * with a codec are decoded on their way to Qdrant, by upload also when
     * "url" was asked (a presigned URL would give Qdrant encoded bytes). */
    const struct seal_keyring *ring;
};

/* Recreates the collection and recovers every shard; result (a JSON
 * object) receives "shards" (per shard: target shard, peer, state, point
 * counts), "points_count", "points_match", "aliases" and "warnings". */
/* Appends a formatted message to result's "warnings" array (made when
 * missing): what a restore did not do although its data is back. */
void restore_warn(cJSON *result, const char *fmt, ...) QB_PRINTF(2, 3);

enum qb_err restore_set_run(struct restore_set *rs, cJSON *result, char *err,
                            size_t errlen) QB_MUSTCHECK;

/* The upload pull callback (qdrant_snapshot_upload's reader), shared with
 * restore_job.c: reads the bridge, counts the bytes as the job's progress
 * and checkpoints (so a cancel stops the upload). */
struct restore_set_pull {
    struct job *job;
    struct bridge *bridge;
};
enum qb_err restore_set_pull_read(void *ud, void *buf, size_t cap, size_t *n, char *err,
                                  size_t errlen);

#endif /* QB_RESTORE_SET_H */
