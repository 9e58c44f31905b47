/* SPDX-License-Identifier: Apache-2.0 */
/* emu_api_cluster.c -- shard key, payload index, alias and cluster debug
 * handlers (see emu_api_cluster.h).  Shapes follow the v1.19 OpenAPI spec;
 * results of the update routes are `true` like Qdrant's
 * do_update_collection_cluster and alias changes. */
#include "emu_api_cluster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "emu_api_collections.h"
#include "emu_meta.h"
#include "emu_ops.h"
#include "emu_reply.h"
#include "emu_topo.h"
#include "emu_util.h"

static void reply_true_or(struct emu_req *r, int rc, const struct emu_status *st)
{
    if (rc != 0)
        emu_reply_st(r, st);
    else
        emu_reply_ok(r, cJSON_CreateTrue());
}

void emu_api_shard_keys_get(struct emu_req *r)
{
    cJSON *state = emu_meta_get();
    const cJSON *coll = emu_topo_coll(state, r->params[0]);
    if (!coll) {
        struct emu_status st;
        emu_fail(&st, 404, "Not found: Collection `%s` doesn't exist!", r->params[0]);
        cJSON_Delete(state);
        emu_reply_st(r, &st);
        return;
    }
    cJSON *res = cJSON_CreateObject();
    if (emu_topo_is_custom(coll)) {
        /* ShardKeysResponse: keys only with custom sharding, else omitted */
        cJSON *keys = cJSON_AddArrayToObject(res, "shard_keys");
        cJSON *mapping = emu_topo_key_mapping(coll);
        const cJSON *pair;
        cJSON_ArrayForEach(pair, mapping)
        {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddItemToObject(
                d, "key", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(pair, "key"), 1));
            cJSON_AddItemToArray(keys, d);
        }
        cJSON_Delete(mapping);
    }
    cJSON_Delete(state);
    emu_reply_ok(r, res);
}

void emu_api_shard_keys_put(struct emu_req *r)
{
    struct emu_status st;
    reply_true_or(r, emu_ops_shard_key_create(r->params[0], r->json, &st), &st);
}

void emu_api_shard_keys_delete(struct emu_req *r)
{
    struct emu_status st;
    reply_true_or(r, emu_ops_shard_key_delete(r->params[0], r->json, &st), &st);
}

/* The operation id of a consensus change: the state's version. */
static uint64_t op_id(void)
{
    return emu_meta_version();
}

void emu_api_index_put(struct emu_req *r)
{
    struct emu_status st;
    const cJSON *field = cJSON_GetObjectItemCaseSensitive(r->json, "field_name");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(r->json, "field_schema");
    if (!cJSON_IsString(field)) {
        emu_reply_error(r, 400, "Format error in JSON body: missing field `field_name`");
        return;
    }
    if (!schema || cJSON_IsNull(schema)) {
        emu_reply_error(r, 400,
                        "Bad request: Can't auto-detect field type, please specify `field_schema` "
                        "in the request");
        return;
    }
    if (!cJSON_IsString(schema) &&
        !(cJSON_IsObject(schema) &&
          cJSON_IsString(cJSON_GetObjectItemCaseSensitive(schema, "type")))) {
        emu_reply_error(r, 400,
                        "Format error in JSON body: data did not match any variant of untagged "
                        "enum PayloadFieldSchema");
        return;
    }
    if (emu_ops_index(r->params[0], field->valuestring, schema, &st) != 0)
        emu_reply_st(r, &st);
    else
        emu_api_update_result(r, op_id());
}

void emu_api_index_delete(struct emu_req *r)
{
    struct emu_status st;
    if (emu_ops_index(r->params[0], r->params[1], NULL, &st) != 0)
        emu_reply_st(r, &st);
    else
        emu_api_update_result(r, op_id());
}

void emu_api_aliases_update(struct emu_req *r)
{
    struct emu_status st;
    reply_true_or(r, emu_ops_aliases(cJSON_GetObjectItemCaseSensitive(r->json, "actions"), &st),
                  &st);
}

static int by_alias(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* CollectionsAliasesResponse of every alias, or those of one collection. */
static cJSON *aliases(const char *coll)
{
    cJSON *state = emu_meta_get();
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(state, "aliases");
    size_t n = (size_t)cJSON_GetArraySize(all), k = 0;
    const cJSON **v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        abort();
    const cJSON *a;
    cJSON_ArrayForEach(a, all)
    {
        if (cJSON_IsString(a) && (!coll || strcmp(a->valuestring, coll) == 0))
            v[k++] = a;
    }
    qsort(v, k, sizeof(*v), by_alias);
    cJSON *res = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(res, "aliases");
    for (size_t i = 0; i < k; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "alias_name", v[i]->string);
        cJSON_AddStringToObject(d, "collection_name", v[i]->valuestring);
        cJSON_AddItemToArray(arr, d);
    }
    free(v);
    cJSON_Delete(state);
    return res;
}

void emu_api_aliases_list(struct emu_req *r)
{
    emu_reply_ok(r, aliases(NULL));
}

void emu_api_collection_aliases(struct emu_req *r)
{
    /* No existence check: Qdrant answers an empty list for a missing one. */
    emu_reply_ok(r, aliases(r->params[0]));
}

/* ---- debug ---- */

static int shard_member(const cJSON *body, unsigned *sid)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(body, "shard_id");
    if (!cJSON_IsNumber(s) || s->valuedouble < 0 || s->valuedouble > 4294967295.0 ||
        s->valuedouble != floor(s->valuedouble))
        return -1;
    *sid = (unsigned)s->valuedouble;
    return 0;
}

static int peer_member(const cJSON *body, const char *key, uint64_t *peer)
{
    cJSON *state = emu_meta_get();
    int rc = emu_topo_peer_from_json(state, cJSON_GetObjectItemCaseSensitive(body, key), peer);
    cJSON_Delete(state);
    return rc;
}

void emu_debug_cluster_replica(struct emu_req *r)
{
    const cJSON *coll = cJSON_GetObjectItemCaseSensitive(r->json, "collection");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(r->json, "state");
    unsigned sid;
    uint64_t peer;
    struct emu_status st;
    if (!cJSON_IsString(coll) || !cJSON_IsString(state) || shard_member(r->json, &sid) != 0) {
        emu_reply_error(r, 400,
                        "POST /debug/cluster/replica wants collection, shard_id, "
                        "peer_id and state");
        return;
    }
    if (peer_member(r->json, "peer_id", &peer) != 0) {
        emu_reply_error(r, 400, "POST /debug/cluster/replica: unknown peer_id");
        return;
    }
    reply_true_or(r, emu_ops_set_replica(coll->valuestring, sid, peer, state->valuestring, &st),
                  &st);
}

void emu_debug_cluster_transfer(struct emu_req *r)
{
    const cJSON *coll = cJSON_GetObjectItemCaseSensitive(r->json, "collection");
    const cJSON *sync = cJSON_GetObjectItemCaseSensitive(r->json, "sync");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(r->json, "method");
    unsigned sid;
    uint64_t from, to;
    struct emu_status st;
    if (!cJSON_IsString(coll) || shard_member(r->json, &sid) != 0 ||
        (method && !cJSON_IsNull(method) && !cJSON_IsString(method))) {
        emu_reply_error(r, 400,
                        "POST /debug/cluster/transfer wants collection, shard_id, from, "
                        "to, sync? and method?");
        return;
    }
    if (peer_member(r->json, "from", &from) != 0 || peer_member(r->json, "to", &to) != 0) {
        emu_reply_error(r, 400, "POST /debug/cluster/transfer: unknown peer in from/to");
        return;
    }
    reply_true_or(r,
                  emu_ops_add_transfer(coll->valuestring, sid, from, to,
                                       sync ? cJSON_IsTrue(sync) : 1,
                                       cJSON_IsString(method) ? method->valuestring : NULL, &st),
                  &st);
}

void emu_debug_cluster_transfers_clear(struct emu_req *r)
{
    struct emu_status st;
    reply_true_or(r, emu_ops_clear_transfers(&st), &st);
}
