/* SPDX-License-Identifier: Apache-2.0
 *
 * restore_cover.h -- after a collection snapshot was recovered on the
 * instance URL's peer, recovering it on the other peers that host shards
 * that peer does not, so every shard of the archive is restored somewhere;
 * see restore_cover.c.
 */
#ifndef QB_RESTORE_COVER_H
#define QB_RESTORE_COVER_H

#include "common.h"
#include "engine/jobs.h"
#include "remote/qdrant_client.h"

#include <cjson/cJSON.h>

/* Recovers the archive into the collection through qc (a client on one
 * peer, borrowed), with the caller's retries. */
typedef enum qb_err (*restore_cover_fn)(void *ud, struct qdrant_client *qc, char *err,
                                        size_t errlen);

/* Everything borrowed from the caller (restore_job.c). */
struct restore_cover {
    struct job *job;
    const char *instance;       /* target instance name */
    const char *collection;     /* the collection just recovered through home */
    struct qdrant_client *home; /* on the instance URL: recovered there already */
    long snapshot_timeout_ms;
    long active_timeout_ms; /* replicas must be Active within this */
    restore_cover_fn recover;
    void *ud;
};

/* Reads the collection's shard placement from home; recovers the archive
 * (c->recover) on a peer hosting each shard no recovered peer hosts, until
 * every shard was recovered on a peer hosting a replica of it; then waits
 * until every replica is Active.  result (a JSON object) receives
 * "recovered_on" (peer ids, a cluster only).  Fails naming the shard when
 * no peer hosting it can be reached: its data would be missing.  Nothing
 * to do on a single node (one extra GET). */
enum qb_err restore_cover_run(const struct restore_cover *c, cJSON *result, char *err,
                              size_t errlen) QB_MUSTCHECK;

#endif /* QB_RESTORE_COVER_H */
