/* SPDX-License-Identifier: Apache-2.0 */
/* emu_cluster.c -- cluster views (see emu_cluster.h). */
#include "emu_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu_dist.h"
#include "emu_meta.h"
#include "emu_topo.h"
#include "emu_util.h"

cJSON *emu_cluster_status(void)
{
    const struct emu_config *cfg = emu_cfg();
    cJSON *r = cJSON_CreateObject();
    if (!cfg->cluster_enabled) {
        cJSON_AddStringToObject(r, "status", "disabled");
        return r;
    }
    cJSON *state = emu_meta_get();
    cJSON_AddStringToObject(r, "status", "enabled");
    emu_json_add_u64(r, "peer_id", cfg->peer_id);
    cJSON *po = cJSON_AddObjectToObject(r, "peers");
    for (int i = 0; i < emu_topo_npeers(state); i++) {
        const cJSON *p = emu_topo_peer_at(state, i);
        const cJSON *uri = cJSON_GetObjectItemCaseSensitive(p, "uri");
        char key[24];
        emu_u64_str(emu_topo_peer_id(p), key, sizeof(key));
        cJSON *info = cJSON_AddObjectToObject(po, key);
        cJSON_AddStringToObject(info, "uri", cJSON_IsString(uri) ? uri->valuestring : "");
    }
    uint64_t leader = emu_topo_leader(state);
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(state, "version");
    cJSON *raft = cJSON_AddObjectToObject(r, "raft_info");
    cJSON_AddNumberToObject(raft, "term", 1);
    cJSON_AddNumberToObject(raft, "commit", cJSON_IsNumber(version) ? version->valuedouble : 0);
    cJSON_AddNumberToObject(raft, "pending_operations", 0);
    if (leader)
        emu_json_add_u64(raft, "leader", leader);
    else
        cJSON_AddNullToObject(raft, "leader");
    cJSON_AddStringToObject(raft, "role", leader == cfg->peer_id ? "Leader" : "Follower");
    cJSON_AddTrueToObject(raft, "is_voter");
    cJSON *cts = cJSON_AddObjectToObject(r, "consensus_thread_status");
    cJSON_AddStringToObject(cts, "consensus_thread_status", "working");
    char ts[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
    cJSON_AddStringToObject(cts, "last_update", ts);
    cJSON_AddObjectToObject(r, "message_send_failures");
    cJSON_Delete(state);
    return r;
}

static void add_key(cJSON *o, const cJSON *shard)
{
    const cJSON *key = emu_topo_shard_key(shard);
    if (key)
        cJSON_AddItemToObject(o, "shard_key", cJSON_Duplicate(key, 1));
}

static int by_shard_id(const void *a, const void *b)
{
    unsigned x = emu_topo_shard_id(*(const cJSON *const *)a);
    unsigned y = emu_topo_shard_id(*(const cJSON *const *)b);
    return x < y ? -1 : x > y;
}

cJSON *emu_cluster_collection(const char *name, struct emu_status *st)
{
    uint64_t me = emu_cfg()->peer_id;
    cJSON *state = emu_meta_get();
    const cJSON *coll = emu_topo_coll(state, name);
    if (!coll) {
        cJSON_Delete(state);
        emu_fail(st, 404, "Not found: Collection `%s` doesn't exist!", name);
        return NULL;
    }
    int n = cJSON_GetArraySize(emu_topo_shards(coll));
    const cJSON *sorted[4096];
    int k = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, emu_topo_shards(coll))
    {
        if (k < (int)(sizeof(sorted) / sizeof(sorted[0])))
            sorted[k++] = s;
    }
    qsort(sorted, (size_t)k, sizeof(sorted[0]), by_shard_id);
    cJSON *r = cJSON_CreateObject();
    emu_json_add_u64(r, "peer_id", me);
    cJSON_AddNumberToObject(r, "shard_count", n);
    cJSON *local = cJSON_AddArrayToObject(r, "local_shards");
    cJSON *remote = cJSON_AddArrayToObject(r, "remote_shards");
    for (int i = 0; i < k; i++) {
        unsigned sid = emu_topo_shard_id(sorted[i]);
        const cJSON *rep;
        cJSON_ArrayForEach(rep, emu_topo_replicas(sorted[i]))
        {
            uint64_t peer = emu_topo_replica_peer(rep);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "shard_id", sid);
            add_key(o, sorted[i]);
            if (peer == me) {
                cJSON_AddNumberToObject(o, "points_count", (double)emu_dist_local_count(name, sid));
                cJSON_AddStringToObject(o, "state", emu_topo_replica_state(rep));
                cJSON_AddItemToArray(local, o);
            } else {
                emu_json_add_u64(o, "peer_id", peer);
                cJSON_AddStringToObject(o, "state", emu_topo_replica_state(rep));
                cJSON_AddItemToArray(remote, o);
            }
        }
    }
    cJSON *transfers = cJSON_AddArrayToObject(r, "shard_transfers");
    const cJSON *t;
    cJSON_ArrayForEach(t, emu_topo_transfers(state))
    {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "collection");
        if (!cJSON_IsString(c) || strcmp(c->valuestring, name) != 0)
            continue;
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive(t, "shard_id");
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(t, "from");
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(t, "to");
        const cJSON *method = cJSON_GetObjectItemCaseSensitive(t, "method");
        uint64_t f = 0, d = 0;
        if (cJSON_IsString(from) && emu_u64_parse(from->valuestring, &f) != 0)
            f = 0;
        if (cJSON_IsString(to) && emu_u64_parse(to->valuestring, &d) != 0)
            d = 0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "shard_id", cJSON_IsNumber(sid) ? sid->valuedouble : 0);
        emu_json_add_u64(o, "from", f);
        emu_json_add_u64(o, "to", d);
        cJSON_AddBoolToObject(o, "sync", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "sync")));
        if (cJSON_IsString(method))
            cJSON_AddStringToObject(o, "method", method->valuestring);
        cJSON_AddItemToArray(transfers, o);
    }
    cJSON_Delete(state);
    return r;
}
