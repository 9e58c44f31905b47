/* SPDX-License-Identifier: Apache-2.0 */
/* emu_router.c -- route table and matcher (see emu_router.h).  Route numbers
 * in comments are those of CONTRACT.md §1. */
#include "emu_router.h"

#include <stdlib.h>
#include <string.h>

#include "emu_api_cluster.h"
#include "emu_api_collections.h"
#include "emu_api_snapshots.h"
#include "emu_debug.h"
#include "emu_dist.h"
#include "emu_recover.h"

#define C  "/collections/{collection_name}"
#define SH C "/shards/{shard_id}"

#define A EMU_RF_ALIAS

static const struct emu_route routes[] = {
    {"GET", "/", EMU_ACC_PUBLIC, 0, emu_api_root},
    {"GET", "/healthz", EMU_ACC_PUBLIC, 0, emu_api_healthz},
    {"GET", "/livez", EMU_ACC_PUBLIC, 0, emu_api_livez},
    {"GET", "/readyz", EMU_ACC_PUBLIC, 0, emu_api_readyz},
    {"GET", "/cluster", EMU_ACC_GLOBAL_READ, 0, emu_api_cluster},
    {"GET", "/collections", EMU_ACC_GLOBAL_READ, 0, emu_api_collections_list},
    {"GET", "/aliases", EMU_ACC_GLOBAL_READ, 0, emu_api_aliases_list},
    {"POST", "/collections/aliases", EMU_ACC_MANAGE, EMU_RF_JSON, emu_api_aliases_update},
    {"GET", C, EMU_ACC_COLL_READ, A, emu_api_collection_get},
    {"PUT", C, EMU_ACC_MANAGE, EMU_RF_JSON, emu_api_collection_create},
    {"DELETE", C, EMU_ACC_MANAGE, 0, emu_api_collection_delete},
    {"GET", C "/exists", EMU_ACC_COLL_READ, A, emu_api_collection_exists},
    {"GET", C "/cluster", EMU_ACC_COLL_READ, A, emu_api_collection_cluster},
    {"GET", C "/aliases", EMU_ACC_COLL_READ, 0, emu_api_collection_aliases},
    {"GET", C "/shards", EMU_ACC_COLL_READ, A, emu_api_shard_keys_get},
    {"PUT", C "/shards", EMU_ACC_MANAGE, EMU_RF_JSON | A, emu_api_shard_keys_put},
    {"POST", C "/shards/delete", EMU_ACC_MANAGE, EMU_RF_JSON | A, emu_api_shard_keys_delete},
    {"PUT", C "/index", EMU_ACC_COLL_WRITE, EMU_RF_JSON | A, emu_api_index_put},
    {"DELETE", C "/index/{field_name}", EMU_ACC_COLL_WRITE, A, emu_api_index_delete},
    {"PUT", C "/points", EMU_ACC_COLL_WRITE, EMU_RF_JSON | A, emu_api_points_upsert},
    {"POST", C "/points", EMU_ACC_COLL_READ, EMU_RF_JSON | A, emu_api_points_retrieve},
    {"GET", C "/points/{id}", EMU_ACC_COLL_READ, A, emu_api_point_get},
    {"POST", C "/points/delete", EMU_ACC_COLL_WRITE, EMU_RF_JSON | A, emu_api_points_delete},
    {"POST", C "/points/scroll", EMU_ACC_COLL_READ, EMU_RF_JSON | A, emu_api_points_scroll},
    {"POST", C "/points/count", EMU_ACC_COLL_READ, EMU_RF_JSON | A, emu_api_points_count},
    /* snapshots: routes 1-17 */
    {"GET", C "/snapshots", EMU_ACC_COLL_READ, A, emu_api_snap_list},                   /* 1 */
    {"POST", C "/snapshots", EMU_ACC_COLL_WRITE, EMU_RF_WAIT | A, emu_api_snap_create}, /* 2 */
    {"PUT", C "/snapshots/recover", EMU_ACC_MANAGE, EMU_RF_JSON | EMU_RF_WAIT | A,
     emu_recover_location}, /* 5 */
    {"POST", C "/snapshots/upload", EMU_ACC_MANAGE,
     EMU_RF_UPLOAD | EMU_RF_WAIT | EMU_RF_CHECKSUM_Q | A, emu_recover_upload}, /* 6 */
    {"GET", C "/snapshots/{snapshot_name}", EMU_ACC_COLL_READ, EMU_RF_PLAIN_ERR | A,
     emu_api_snap_download}, /* 3 */
    {"DELETE", C "/snapshots/{snapshot_name}", EMU_ACC_COLL_WRITE, EMU_RF_WAIT | A,
     emu_api_snap_delete},                                                    /* 4 */
    {"GET", "/snapshots", EMU_ACC_GLOBAL_READ, 0, emu_api_full_list},         /* 7 */
    {"POST", "/snapshots", EMU_ACC_MANAGE, EMU_RF_WAIT, emu_api_full_create}, /* 8 */
    {"GET", "/snapshots/{snapshot_name}", EMU_ACC_GLOBAL_READ, EMU_RF_PLAIN_ERR,
     emu_api_full_download}, /* 9 */
    {"DELETE", "/snapshots/{snapshot_name}", EMU_ACC_MANAGE, EMU_RF_WAIT,
     emu_api_full_delete},                                                                /* 10 */
    {"GET", SH "/snapshots", EMU_ACC_COLL_READ, A, emu_api_shard_list},                   /* 11 */
    {"POST", SH "/snapshots", EMU_ACC_COLL_WRITE, EMU_RF_WAIT | A, emu_api_shard_create}, /* 12 */
    {"PUT", SH "/snapshots/recover", EMU_ACC_MANAGE, EMU_RF_JSON | EMU_RF_WAIT | A,
     emu_recover_shard_location}, /* 16 */
    {"POST", SH "/snapshots/upload", EMU_ACC_MANAGE,
     EMU_RF_UPLOAD | EMU_RF_WAIT | EMU_RF_CHECKSUM_Q | A, emu_recover_shard_upload}, /* 17 */
    {"GET", SH "/snapshots/{snapshot_name}", EMU_ACC_COLL_READ, EMU_RF_PLAIN_ERR | A,
     emu_api_shard_download}, /* 13 */
    {"DELETE", SH "/snapshots/{snapshot_name}", EMU_ACC_COLL_WRITE, EMU_RF_WAIT | A,
     emu_api_shard_delete}, /* 14 */
    {"GET", SH "/snapshot", EMU_ACC_COLL_WRITE, EMU_RF_PLAIN_ERR | A,
     emu_api_shard_stream}, /* 15 */
    /* debug (emu_debug.c, emu_api_cluster.c) and peer-to-peer (emu_dist.c) */
    {"GET", "/debug/routes", EMU_ACC_DEBUG, 0, emu_debug_routes},
    {"GET", "/debug/requests", EMU_ACC_DEBUG, 0, emu_debug_requests_get},
    {"DELETE", "/debug/requests", EMU_ACC_DEBUG, 0, emu_debug_requests_clear},
    {"GET", "/debug/faults", EMU_ACC_DEBUG, 0, emu_debug_faults_get},
    {"POST", "/debug/faults", EMU_ACC_DEBUG, EMU_RF_JSON, emu_debug_faults_add},
    {"DELETE", "/debug/faults", EMU_ACC_DEBUG, 0, emu_debug_faults_clear},
    {"POST", "/debug/fill/{collection_name}", EMU_ACC_DEBUG, 0, emu_debug_fill},
    {"POST", "/debug/reset", EMU_ACC_DEBUG, 0, emu_debug_reset},
    {"POST", "/debug/cluster/replica", EMU_ACC_DEBUG, EMU_RF_JSON, emu_debug_cluster_replica},
    {"POST", "/debug/cluster/transfer", EMU_ACC_DEBUG, EMU_RF_JSON, emu_debug_cluster_transfer},
    {"DELETE", "/debug/cluster/transfers", EMU_ACC_DEBUG, 0, emu_debug_cluster_transfers_clear},
    {"POST", "/debug/internal/{collection_name}/{shard_id}/{op}", EMU_ACC_DEBUG, EMU_RF_JSON,
     emu_dist_internal},
};

const struct emu_route *emu_router_table(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}

static void clear_params(struct emu_req *r)
{
    for (int i = 0; i < r->nparams; i++) {
        free(r->params[i]);
        r->params[i] = NULL;
    }
    r->nparams = 0;
}

/* Matches one pattern against the raw path, segment by segment; captured
 * segments are percent-decoded only after splitting, so "%2F" stays inside a
 * parameter as it does in actix. */
static int match_one(struct emu_req *r, const char *pattern, const char *path)
{
    const char *p = pattern, *s = path;
    clear_params(r);
    for (;;) {
        if (*p == '\0' || *s == '\0')
            return *p == '\0' && *s == '\0';
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *pe = strchr(p, '/');
        const char *se = strchr(s, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p);
        size_t sl = se ? (size_t)(se - s) : strlen(s);
        if (pl > 0 && p[0] == '{') {
            if (sl == 0 || r->nparams >= 4)
                return 0;
            char *v = strndup(s, sl);
            if (!v)
                abort();
            if (emu_url_decode(v, 0) != 0) {
                free(v);
                return 0;
            }
            r->params[r->nparams++] = v;
        } else if (pl != sl || strncmp(p, s, pl) != 0) {
            return 0;
        }
        p += pl;
        s += sl;
    }
}

const struct emu_route *emu_router_match(struct emu_req *r, const char *method, const char *path)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(routes[i].method, method) != 0)
            continue;
        if (match_one(r, routes[i].pattern, path))
            return &routes[i];
    }
    clear_params(r);
    return NULL;
}
