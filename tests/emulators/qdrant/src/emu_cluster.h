/* SPDX-License-Identifier: Apache-2.0 */
/* emu_cluster.h -- the cluster views, built from the shared cluster state
 * (emu_meta.h) as this peer sees it: GET /cluster (Qdrant's ClusterStatus,
 * lib/storage/src/types.rs) and GET /collections/{c}/cluster
 * (CollectionClusterInfo, lib/collection/src/operations/types.rs).  Peer
 * ids are exact JSON integers. */
#ifndef EMU_CLUSTER_H
#define EMU_CLUSTER_H

#include <cjson/cJSON.h>

#include "emu_common.h"

/* ClusterStatus: {"status":"disabled"} standalone, else the peers, raft
 * info (the first registered peer leads) and consensus thread status.
 * Caller frees. */
cJSON *emu_cluster_status(void);
/* CollectionClusterInfo of collection coll; NULL + 404 when missing. */
cJSON *emu_cluster_collection(const char *coll, struct emu_status *st);

#endif
