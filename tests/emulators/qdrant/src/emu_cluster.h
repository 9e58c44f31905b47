/* SPDX-License-Identifier: Apache-2.0 */
/* emu_cluster.h -- the cluster views (GET /cluster, GET
 * /collections/{c}/cluster).  Today one peer owns every shard; the peer
 * table is kept separate from the views so a multi-peer topology (remote
 * shards, several uris) can be added without touching the handlers. */
#ifndef EMU_CLUSTER_H
#define EMU_CLUSTER_H

#include <cjson/cJSON.h>

/* ClusterStatus: {"status":"disabled"} standalone, or a one-peer consensus
 * view with --cluster.  Caller frees. */
cJSON *emu_cluster_status(void);
/* CollectionClusterInfo for a collection with points_count points. */
cJSON *emu_cluster_collection(long long points_count);

#endif
