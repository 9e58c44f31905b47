/* SPDX-License-Identifier: Apache-2.0 */
/* emu_api_collections.c -- service, collection, point and cluster handlers.
 * Handlers validate, call emu_store_* and answer with Qdrant's envelopes. */
#include "emu_api_collections.h"

#include "emu_cluster.h"
#include "emu_reply.h"
#include "emu_store.h"

void emu_api_root(struct emu_req *r)
{
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "title", "qdrant - vector search engine");
    cJSON_AddStringToObject(v, "version", emu_cfg()->version);
    cJSON_AddStringToObject(v, "commit", "0000000000000000000000000000000000000000");
    emu_reply_json(r, 200, v);
}

void emu_api_healthz(struct emu_req *r)
{
    emu_reply_text(r, 200, "healthz check passed", "text/plain; charset=utf-8");
}

void emu_api_livez(struct emu_req *r)
{
    emu_reply_text(r, 200, "livez check passed", "text/plain; charset=utf-8");
}

void emu_api_readyz(struct emu_req *r)
{
    emu_reply_text(r, 200, "all shards are ready", "text/plain; charset=utf-8");
}

void emu_api_cluster(struct emu_req *r)
{
    emu_reply_ok(r, emu_cluster_status());
}

void emu_api_collections_list(struct emu_req *r)
{
    cJSON *names = emu_store_names();
    cJSON *res = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(res, "collections");
    const cJSON *n;
    cJSON_ArrayForEach(n, names)
    {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "name", n->valuestring);
        cJSON_AddItemToArray(arr, d);
    }
    cJSON_Delete(names);
    emu_reply_ok(r, res);
}

void emu_api_collection_get(struct emu_req *r)
{
    struct emu_status st;
    cJSON *info = emu_store_info(r->params[0], &st);
    if (!info)
        emu_reply_st(r, &st);
    else
        emu_reply_ok(r, info);
}

void emu_api_collection_create(struct emu_req *r)
{
    struct emu_status st;
    if (emu_store_create(r->params[0], r->json, &st) != 0)
        emu_reply_st(r, &st);
    else
        emu_reply_ok(r, cJSON_CreateTrue());
}

void emu_api_collection_delete(struct emu_req *r)
{
    emu_reply_ok(r, cJSON_CreateBool(emu_store_delete(r->params[0])));
}

void emu_api_collection_exists(struct emu_req *r)
{
    cJSON *res = cJSON_CreateObject();
    cJSON_AddBoolToObject(res, "exists", emu_store_exists(r->params[0]));
    emu_reply_ok(r, res);
}

void emu_api_collection_cluster(struct emu_req *r)
{
    long long n = emu_store_points_count(r->params[0]);
    if (n < 0) {
        struct emu_status st;
        emu_fail(&st, 404, "Not found: Collection `%s` doesn't exist!", r->params[0]);
        emu_reply_st(r, &st);
        return;
    }
    emu_reply_ok(r, emu_cluster_collection(n));
}

static void update_result(struct emu_req *r, uint64_t op_id)
{
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "operation_id", (double)op_id);
    cJSON_AddStringToObject(res, "status", emu_req_wait(r) ? "completed" : "acknowledged");
    emu_reply_ok(r, res);
}

void emu_api_points_upsert(struct emu_req *r)
{
    struct emu_status st;
    uint64_t op = 0;
    if (emu_store_upsert(r->params[0], r->json, &op, &st) != 0)
        emu_reply_st(r, &st);
    else
        update_result(r, op);
}

void emu_api_points_delete(struct emu_req *r)
{
    struct emu_status st;
    uint64_t op = 0;
    if (emu_store_delete_points(r->params[0], r->json, &op, &st) != 0)
        emu_reply_st(r, &st);
    else
        update_result(r, op);
}

void emu_api_points_retrieve(struct emu_req *r)
{
    struct emu_status st;
    cJSON *res = emu_store_retrieve(r->params[0], r->json, &st);
    if (!res)
        emu_reply_st(r, &st);
    else
        emu_reply_ok(r, res);
}

void emu_api_point_get(struct emu_req *r)
{
    struct emu_status st;
    cJSON *res = emu_store_get_point(r->params[0], r->params[1], &st);
    if (!res)
        emu_reply_st(r, &st);
    else
        emu_reply_ok(r, res);
}

void emu_api_points_scroll(struct emu_req *r)
{
    struct emu_status st;
    cJSON *res = emu_store_scroll(r->params[0], r->json, &st);
    if (!res)
        emu_reply_st(r, &st);
    else
        emu_reply_ok(r, res);
}

void emu_api_points_count(struct emu_req *r)
{
    struct emu_status st;
    uint64_t n = 0;
    if (emu_store_count(r->params[0], r->json, &n, &st) != 0) {
        emu_reply_st(r, &st);
        return;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "count", (double)n);
    emu_reply_ok(r, res);
}
