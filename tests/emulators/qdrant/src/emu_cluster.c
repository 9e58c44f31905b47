/* SPDX-License-Identifier: Apache-2.0 */
/* emu_cluster.c -- cluster views (see emu_cluster.h). */
#include "emu_cluster.h"

#include <stdio.h>
#include <time.h>

#include "emu_common.h"

struct peer {
    unsigned long long id;
    char uri[128];
    int local;
};

/* The peer table: one local peer for now. */
static int peers(struct peer *out, int max)
{
    const struct emu_config *cfg = emu_cfg();
    if (max < 1)
        return 0;
    out[0].id = (unsigned long long)cfg->peer_id;
    snprintf(out[0].uri, sizeof(out[0].uri), "http://%s:%u/", cfg->host, cfg->port + 2);
    out[0].local = 1;
    return 1;
}

static void id_key(unsigned long long id, char *buf, size_t size)
{
    snprintf(buf, size, "%llu", id);
}

cJSON *emu_cluster_status(void)
{
    cJSON *r = cJSON_CreateObject();
    if (!emu_cfg()->cluster_enabled) {
        cJSON_AddStringToObject(r, "status", "disabled");
        return r;
    }
    struct peer ps[8];
    int n = peers(ps, 8);
    cJSON_AddStringToObject(r, "status", "enabled");
    cJSON_AddNumberToObject(r, "peer_id", (double)emu_cfg()->peer_id);
    cJSON *po = cJSON_AddObjectToObject(r, "peers");
    for (int i = 0; i < n; i++) {
        char key[32];
        id_key(ps[i].id, key, sizeof(key));
        cJSON *p = cJSON_AddObjectToObject(po, key);
        cJSON_AddStringToObject(p, "uri", ps[i].uri);
    }
    cJSON *raft = cJSON_AddObjectToObject(r, "raft_info");
    cJSON_AddNumberToObject(raft, "term", 1);
    cJSON_AddNumberToObject(raft, "commit", 1);
    cJSON_AddNumberToObject(raft, "pending_operations", 0);
    cJSON_AddNumberToObject(raft, "leader", (double)emu_cfg()->peer_id);
    cJSON_AddStringToObject(raft, "role", "Leader");
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
    return r;
}

cJSON *emu_cluster_collection(long long points_count)
{
    struct peer ps[8];
    int n = peers(ps, 8);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "peer_id", (double)emu_cfg()->peer_id);
    cJSON_AddNumberToObject(r, "shard_count", 1);
    cJSON *local = cJSON_AddArrayToObject(r, "local_shards");
    cJSON *remote = cJSON_AddArrayToObject(r, "remote_shards");
    for (int i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddNumberToObject(s, "shard_id", 0);
        if (ps[i].local) {
            cJSON_AddNumberToObject(s, "points_count", (double)points_count);
            cJSON_AddStringToObject(s, "state", "Active");
            cJSON_AddItemToArray(local, s);
        } else {
            cJSON_AddNumberToObject(s, "peer_id", (double)ps[i].id);
            cJSON_AddStringToObject(s, "state", "Active");
            cJSON_AddItemToArray(remote, s);
        }
    }
    cJSON_AddArrayToObject(r, "shard_transfers");
    return r;
}
