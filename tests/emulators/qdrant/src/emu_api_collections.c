/* SPDX-License-Identifier: Apache-2.0 */
/* emu_api_collections.c -- service, collection and point handlers.
 * Handlers validate, call emu_ops_* (cluster state) or emu_dist_* (points
 * across shards and peers) and answer with Qdrant's envelopes.  The HTTP
 * layer has already reconciled local storage and resolved aliases
 * (emu_api_prepare). */
#include "emu_api_collections.h"

#include <stdlib.h>
#include <string.h>

#include "emu_cluster.h"
#include "emu_collcfg.h"
#include "emu_dist.h"
#include "emu_meta.h"
#include "emu_ops.h"
#include "emu_reply.h"
#include "emu_router.h"
#include "emu_sync.h"
#include "emu_topo.h"
#include "emu_util.h"

void emu_api_prepare(struct emu_req *r)
{
    emu_sync_now();
    if (!(r->route->flags & EMU_RF_ALIAS) || r->nparams < 1)
        return;
    cJSON *state = emu_meta_get();
    const char *real = emu_topo_resolve(state, r->params[0]);
    if (real != r->params[0] && strcmp(real, r->params[0]) != 0) {
        char *copy = strdup(real);
        if (!copy)
            abort();
        free(r->params[0]);
        r->params[0] = copy;
    }
    cJSON_Delete(state);
}

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

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void emu_api_collections_list(struct emu_req *r)
{
    cJSON *state = emu_meta_get();
    const cJSON *colls = emu_topo_colls(state);
    size_t n = (size_t)cJSON_GetArraySize(colls), k = 0;
    const char **names = calloc(n ? n : 1, sizeof(*names));
    if (!names)
        abort();
    const cJSON *c;
    cJSON_ArrayForEach(c, colls) names[k++] = c->string;
    qsort(names, n, sizeof(*names), by_string); /* Qdrant keeps a BTreeMap */
    cJSON *res = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(res, "collections");
    for (size_t i = 0; i < n; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "name", names[i]);
        cJSON_AddItemToArray(arr, d);
    }
    free(names);
    cJSON_Delete(state);
    emu_reply_ok(r, res);
}

static size_t vectors_per_point(const cJSON *params)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "vectors");
    if (cJSON_GetObjectItemCaseSensitive(v, "size"))
        return 1;
    return (size_t)cJSON_GetArraySize(v);
}

/* PayloadIndexInfo from a stored PayloadFieldSchema: a type name, or
 * params whose `type` is the data type. */
static cJSON *index_info(const cJSON *schema, double points)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *type =
        cJSON_IsString(schema) ? schema : cJSON_GetObjectItemCaseSensitive(schema, "type");
    cJSON_AddStringToObject(o, "data_type", cJSON_IsString(type) ? type->valuestring : "keyword");
    if (cJSON_IsObject(schema))
        cJSON_AddItemToObject(o, "params", cJSON_Duplicate(schema, 1));
    cJSON_AddNumberToObject(o, "points", points);
    return o;
}

void emu_api_collection_get(struct emu_req *r)
{
    struct emu_status st;
    cJSON *state = emu_meta_get();
    const cJSON *coll = emu_topo_coll(state, r->params[0]);
    if (!coll) {
        cJSON_Delete(state);
        emu_fail(&st, 404, "Not found: Collection `%s` doesn't exist!", r->params[0]);
        emu_reply_st(r, &st);
        return;
    }
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(coll, "payload_schema");
    uint64_t points = 0;
    cJSON *counts = NULL;
    if (emu_dist_info(r->params[0], schema, &points, &counts, &st) != 0) {
        cJSON_Delete(state);
        emu_reply_st(r, &st);
        return;
    }
    const cJSON *config = emu_topo_config(coll);
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "status", "green");
    cJSON_AddStringToObject(res, "optimizer_status", "ok");
    if (!emu_version_at_least(1, 13))
        cJSON_AddNumberToObject(res, "vectors_count",
                                (double)(points * vectors_per_point(emu_topo_params(coll))));
    cJSON_AddNumberToObject(res, "indexed_vectors_count", 0);
    cJSON_AddNumberToObject(res, "points_count", (double)points);
    cJSON_AddNumberToObject(res, "segments_count", cJSON_GetArraySize(emu_topo_shards(coll)));
    cJSON *cfg = cJSON_AddObjectToObject(res, "config");
    static const char *const keys[] = {"params",     "hnsw_config",         "optimizer_config",
                                       "wal_config", "quantization_config", "metadata"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, keys[i]);
        if (v)
            cJSON_AddItemToObject(cfg, keys[i], cJSON_Duplicate(v, 1));
    }
    cJSON *ps = cJSON_AddObjectToObject(res, "payload_schema");
    const cJSON *f;
    cJSON_ArrayForEach(f, schema)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(counts, f->string);
        cJSON_AddItemToObject(ps, f->string, index_info(f, cJSON_IsNumber(n) ? n->valuedouble : 0));
    }
    cJSON_Delete(counts);
    cJSON_Delete(state);
    emu_reply_ok(r, res);
}

void emu_api_collection_create(struct emu_req *r)
{
    struct emu_status st;
    if (emu_collcfg_check_name(r->params[0], &st) != 0) {
        emu_reply_st(r, &st);
        return;
    }
    /* Qdrant's default shard_number in distributed mode is one per peer. */
    int shards = 1;
    if (emu_cfg()->cluster_enabled) {
        cJSON *state = emu_meta_get();
        shards = emu_topo_npeers(state) > 0 ? emu_topo_npeers(state) : 1;
        cJSON_Delete(state);
    }
    cJSON *config = emu_collcfg_build(r->json, shards, &st);
    if (!config || emu_ops_create(r->params[0], config, NULL, &st) != 0)
        emu_reply_st(r, &st);
    else
        emu_reply_ok(r, cJSON_CreateTrue());
}

void emu_api_collection_delete(struct emu_req *r)
{
    emu_reply_ok(r, cJSON_CreateBool(emu_ops_delete(r->params[0])));
}

void emu_api_collection_exists(struct emu_req *r)
{
    cJSON *state = emu_meta_get();
    cJSON *res = cJSON_CreateObject();
    cJSON_AddBoolToObject(res, "exists", emu_topo_coll(state, r->params[0]) != NULL);
    cJSON_Delete(state);
    emu_reply_ok(r, res);
}

void emu_api_collection_cluster(struct emu_req *r)
{
    struct emu_status st;
    cJSON *res = emu_cluster_collection(r->params[0], &st);
    if (!res)
        emu_reply_st(r, &st);
    else
        emu_reply_ok(r, res);
}

void emu_api_update_result(struct emu_req *r, uint64_t op_id)
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
    if (emu_dist_upsert(r->params[0], r->json, &op, &st) != 0)
        emu_reply_st(r, &st);
    else
        emu_api_update_result(r, op);
}

void emu_api_points_delete(struct emu_req *r)
{
    struct emu_status st;
    uint64_t op = 0;
    if (emu_dist_delete(r->params[0], r->json, &op, &st) != 0)
        emu_reply_st(r, &st);
    else
        emu_api_update_result(r, op);
}

static void reply_or_error(struct emu_req *r, cJSON *res, const struct emu_status *st)
{
    if (!res)
        emu_reply_st(r, st);
    else
        emu_reply_ok(r, res);
}

void emu_api_points_retrieve(struct emu_req *r)
{
    struct emu_status st;
    reply_or_error(r, emu_dist_retrieve(r->params[0], r->json, &st), &st);
}

void emu_api_point_get(struct emu_req *r)
{
    struct emu_status st;
    reply_or_error(r, emu_dist_get_point(r->params[0], r->params[1], &st), &st);
}

void emu_api_points_scroll(struct emu_req *r)
{
    struct emu_status st;
    reply_or_error(r, emu_dist_scroll(r->params[0], r->json, &st), &st);
}

void emu_api_points_count(struct emu_req *r)
{
    struct emu_status st;
    uint64_t n = 0;
    if (emu_dist_count(r->params[0], r->json, &n, &st) != 0) {
        emu_reply_st(r, &st);
        return;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "count", (double)n);
    emu_reply_ok(r, res);
}
