/* SPDX-License-Identifier: Apache-2.0 */
/* emu_debug.c -- /debug/… handlers (see emu_debug.h). */
#include "emu_debug.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "emu_faults.h"
#include "emu_ops.h"
#include "emu_reply.h"
#include "emu_reqlog.h"
#include "emu_router.h"
#include "emu_store.h"
#include "emu_util.h"

void emu_debug_routes(struct emu_req *r)
{
    static const char *const acc[] = {"public",     "coll-read", "global-read",
                                      "coll-write", "manage",    "debug"};
    size_t n;
    const struct emu_route *t = emu_router_table(&n);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "method", t[i].method);
        cJSON_AddStringToObject(o, "path", t[i].pattern);
        cJSON_AddStringToObject(o, "access", acc[t[i].access]);
        cJSON_AddBoolToObject(o, "wait", (t[i].flags & EMU_RF_WAIT) != 0);
        cJSON_AddItemToArray(arr, o);
    }
    emu_reply_ok(r, arr);
}

void emu_debug_requests_get(struct emu_req *r)
{
    emu_reply_ok(r, emu_reqlog_dump());
}

void emu_debug_requests_clear(struct emu_req *r)
{
    emu_reqlog_clear();
    emu_reply_ok(r, cJSON_CreateTrue());
}

void emu_debug_faults_get(struct emu_req *r)
{
    emu_reply_ok(r, emu_faults_list());
}

void emu_debug_faults_add(struct emu_req *r)
{
    struct emu_status st;
    const cJSON *rules = r->json;
    if (cJSON_IsObject(rules)) {
        if (emu_faults_add(rules, &st) != 0) {
            emu_reply_st(r, &st);
            return;
        }
    } else if (cJSON_IsArray(rules)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, rules)
        {
            if (emu_faults_add(e, &st) != 0) {
                emu_reply_st(r, &st);
                return;
            }
        }
    } else {
        emu_reply_error(r, 400, "POST /debug/faults wants a rule object or an array of rules");
        return;
    }
    emu_reply_ok(r, emu_faults_list());
}

void emu_debug_faults_clear(struct emu_req *r)
{
    emu_faults_clear();
    emu_reply_ok(r, cJSON_CreateTrue());
}

void emu_debug_fill(struct emu_req *r)
{
    const char *mb = emu_req_query(r, "mb");
    const char *content = emu_req_query(r, "content");
    const char *dim_s = emu_req_query(r, "dim");
    char *end = NULL;
    unsigned long long n = mb ? strtoull(mb, &end, 10) : 0;
    if (!mb || !*mb || *end || n > 1024ULL * 1024) {
        emu_reply_error(r, 400, "POST /debug/fill/{collection}?mb=N wants 0 <= N <= 1048576");
        return;
    }
    enum emu_fill_content kind = EMU_FILL_RANDOM;
    if (content && strcmp(content, "embeddings") == 0)
        kind = EMU_FILL_EMBEDDINGS;
    else if (content && strcmp(content, "random") != 0) {
        emu_reply_error(r, 400, "POST /debug/fill: content is random or embeddings");
        return;
    }
    unsigned long long dim = 384;
    if (dim_s) {
        end = NULL;
        dim = strtoull(dim_s, &end, 10);
        if (!*dim_s || *end || dim < 1 || dim > EMU_FILL_DIM_MAX) {
            emu_reply_error(r, 400, "POST /debug/fill: dim wants 1 <= N <= 65536");
            return;
        }
    }
    struct emu_status st;
    if (emu_store_fill(r->params[0], n, kind, (unsigned)dim, &st) != 0) {
        emu_reply_st(r, &st);
        return;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "collection", r->params[0]);
    cJSON_AddNumberToObject(res, "mb", (double)n);
    cJSON_AddStringToObject(res, "content", kind == EMU_FILL_EMBEDDINGS ? "embeddings" : "random");
    if (kind == EMU_FILL_EMBEDDINGS)
        cJSON_AddNumberToObject(res, "dim", (double)dim);
    emu_reply_ok(r, res);
}

void emu_debug_reset(struct emu_req *r)
{
    /* The whole cluster: a new epoch in the shared state makes every peer
     * drop its collections and snapshots (emu_sync.c); this peer's own
     * snapshots go now, so the answer means "empty here". */
    struct emu_status st;
    if (emu_ops_reset(&st) != 0) {
        emu_reply_st(r, &st);
        return;
    }
    const char *dir = emu_cfg()->snapshots_dir;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char p[EMU_PATH_MAX];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, "tmp") == 0)
            continue;
        if (emu_pathf(p, sizeof(p), "%s/%s", dir, de->d_name) == 0)
            emu_rm_rf(p);
    }
    if (d)
        closedir(d);
    emu_faults_clear();
    emu_reqlog_clear();
    emu_reply_ok(r, cJSON_CreateTrue());
}
