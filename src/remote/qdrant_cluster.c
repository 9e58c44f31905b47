/* SPDX-License-Identifier: Apache-2.0
 *
 * qdrant_cluster.c -- distributed-mode views and collection administration
 * (see qdrant_cluster.h).
 */
#include "remote/qdrant_cluster.h"
#include "remote/qdrant_internal.h"
#include "util/json_u64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qdrant_cluster_clear(struct qdrant_cluster *cl)
{
    for (size_t i = 0; i < cl->npeers; i++)
        free(cl->peers[i].uri);
    free(cl->peers);
    free(cl->hidden);
    memset(cl, 0, sizeof *cl);
}

enum qb_err qdrant_cluster_get(struct qdrant_client *c, struct qdrant_cluster *out, char *err,
                               size_t errlen)
{
    memset(out, 0, sizeof *out);
    cJSON *r = NULL;
    long http = 0;
    struct qdrant_call k = {c->api, "GET", "/cluster", NULL, "cluster status", &r, &http};
    enum qb_err rc = qdrant_call_json(c, &k, err, errlen);
    if (rc && (http == 403 || http == 404)) {
        out->hidden = xstrdup(err);
        return QB_OK;
    }
    if (rc)
        return rc;
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "status"));
    if (!status || strcmp(status, "enabled") != 0) {
        cJSON_Delete(r);
        return QB_OK;
    }
    out->enabled = true;
    if (!json_u64(cJSON_GetObjectItemCaseSensitive(r, "peer_id"), &out->peer_id)) {
        cJSON_Delete(r);
        return qb_failf(QB_ERR_REMOTE, err, errlen, "GET /cluster: no peer_id in Qdrant's answer");
    }
    const cJSON *raft = cJSON_GetObjectItemCaseSensitive(r, "raft_info");
    if (!json_u64(cJSON_GetObjectItemCaseSensitive(raft, "leader"), &out->leader))
        out->leader = 0;
    const cJSON *peers = cJSON_GetObjectItemCaseSensitive(r, "peers");
    const cJSON *p;
    cJSON_ArrayForEach(p, peers)
    {
        cJSON key = {.type = cJSON_String, .valuestring = p->string};
        uint64_t id = 0;
        const char *uri = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "uri"));
        if (!p->string || !json_u64(&key, &id) || !uri)
            continue;
        out->peers = xrealloc(out->peers, (out->npeers + 1) * sizeof *out->peers);
        out->peers[out->npeers].id = id;
        out->peers[out->npeers].uri = xstrdup(uri);
        out->npeers++;
    }
    cJSON_Delete(r);
    if (out->npeers == 0) {
        qdrant_cluster_clear(out);
        return qb_failf(QB_ERR_REMOTE, err, errlen,
                        "GET /cluster: distributed mode is enabled but no peers are listed");
    }
    return QB_OK;
}

void qdrant_shard_view_clear(struct qdrant_shard_view *v)
{
    for (size_t i = 0; i < v->nreplicas; i++)
        free(v->replicas[i].shard_key);
    free(v->replicas);
    free(v->transfers);
    memset(v, 0, sizeof *v);
}

static void add_replica(struct qdrant_shard_view *v, const cJSON *s, bool local, uint64_t peer)
{
    uint64_t shard = 0;
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "state"));
    if (!json_u64(cJSON_GetObjectItemCaseSensitive(s, "shard_id"), &shard) || shard > 0xffffffffu)
        return;
    if (!local && !json_u64(cJSON_GetObjectItemCaseSensitive(s, "peer_id"), &peer))
        return;
    v->replicas = xrealloc(v->replicas, (v->nreplicas + 1) * sizeof *v->replicas);
    struct qdrant_replica *r = &v->replicas[v->nreplicas++];
    memset(r, 0, sizeof *r);
    r->shard_id = (unsigned)shard;
    r->peer_id = peer;
    r->local = local;
    snprintf(r->state, sizeof r->state, "%s", state ? state : "Unknown");
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(s, "points_count");
    r->points_count = local && cJSON_IsNumber(pc) ? (int64_t)pc->valuedouble : -1;
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(s, "shard_key");
    if (key && !cJSON_IsNull(key))
        r->shard_key = cJSON_PrintUnformatted(key);
}

enum qb_err qdrant_shard_view_get(struct qdrant_client *c, const char *collection,
                                  struct qdrant_shard_view *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cJSON *r = NULL;
    enum qb_err rc = qdrant_collection_cluster(c, collection, &r, err, errlen);
    if (rc)
        return rc;
    if (!json_u64(cJSON_GetObjectItemCaseSensitive(r, "peer_id"), &out->peer_id)) {
        cJSON_Delete(r);
        return qb_failf(QB_ERR_REMOTE, err, errlen,
                        "cluster info of %s: no peer_id in Qdrant's answer", collection);
    }
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(r, "shard_count");
    out->shard_count = cJSON_IsNumber(sc) ? (unsigned)sc->valuedouble : 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(r, "local_shards"))
        add_replica(out, s, true, out->peer_id);
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(r, "remote_shards"))
        add_replica(out, s, false, 0);
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(r, "shard_transfers");
    out->ntransfers = (size_t)cJSON_GetArraySize(tr);
    if (out->ntransfers) {
        const cJSON *t0 = cJSON_GetArrayItem(tr, 0);
        uint64_t shard = 0, from = 0, to = 0;
        (void)json_u64(cJSON_GetObjectItemCaseSensitive(t0, "shard_id"), &shard);
        (void)json_u64(cJSON_GetObjectItemCaseSensitive(t0, "from"), &from);
        (void)json_u64(cJSON_GetObjectItemCaseSensitive(t0, "to"), &to);
        out->transfers =
            xasprintf("shard %llu is being transferred from peer %llu to peer %llu",
                      (unsigned long long)shard, (unsigned long long)from, (unsigned long long)to);
    }
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(r, "resharding_operations");
    out->resharding = cJSON_GetArraySize(rs) > 0;
    cJSON_Delete(r);
    return QB_OK;
}

enum qb_err qdrant_collection_get(struct qdrant_client *c, const char *collection, cJSON **result,
                                  char *err, size_t errlen)
{
    *result = NULL;
    enum qb_err rc = qdrant_check_segment("collection", collection, err, errlen);
    if (rc)
        return rc;
    char *name = qdrant_esc(collection);
    char *path = xasprintf("/collections/%s", name);
    char *what = xasprintf("get collection %s", collection);
    struct qdrant_call k = {c->api, "GET", path, NULL, what, result, NULL};
    rc = qdrant_call_json(c, &k, err, errlen);
    free(what);
    free(path);
    free(name);
    return rc;
}

enum qb_err qdrant_collection_aliases(struct qdrant_client *c, const char *collection,
                                      char ***aliases, size_t *n, char *err, size_t errlen)
{
    *aliases = NULL;
    *n = 0;
    enum qb_err rc = qdrant_check_segment("collection", collection, err, errlen);
    if (rc)
        return rc;
    char *name = qdrant_esc(collection);
    char *path = xasprintf("/collections/%s/aliases", name);
    cJSON *result = NULL;
    struct qdrant_call k = {c->api, "GET", path, NULL, "list aliases", &result, NULL};
    rc = qdrant_call_json(c, &k, err, errlen);
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(result, "aliases"))
    {
        const char *alias = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "alias_name"));
        if (!alias)
            continue;
        *aliases = xrealloc(*aliases, (*n + 1) * sizeof **aliases);
        (*aliases)[(*n)++] = xstrdup(alias);
    }
    cJSON_Delete(result);
    free(path);
    free(name);
    return rc;
}

/* A write call with a JSON body on /collections/{c}<suffix>. */
static enum qb_err write_call(struct qdrant_client *c, const char *method, const char *collection,
                              const char *suffix, const cJSON *body, const char *what, char *err,
                              size_t errlen)
{
    enum qb_err rc = qdrant_check_segment("collection", collection, err, errlen);
    if (rc)
        return rc;
    char *name = qdrant_esc(collection);
    char *path = xasprintf("/collections/%s%s", name, suffix);
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    long status = 0;
    /* Creating a collection in a cluster goes through consensus: allow the
     * slow handle's patience. */
    struct qdrant_call k = {c->slow, method, path, text, what, NULL, &status};
    rc = qdrant_call_json(c, &k, err, errlen);
    if (rc == QB_ERR_REMOTE && status == 409)
        rc = QB_ERR_CONFLICT;
    free(text);
    free(path);
    free(name);
    return rc;
}

enum qb_err qdrant_collection_create(struct qdrant_client *c, const char *collection,
                                     const cJSON *body, char *err, size_t errlen)
{
    char *what = xasprintf("create collection %s", collection);
    enum qb_err rc = write_call(c, "PUT", collection, "?wait=true", body, what, err, errlen);
    free(what);
    return rc;
}

enum qb_err qdrant_collection_delete(struct qdrant_client *c, const char *collection, char *err,
                                     size_t errlen)
{
    char *what = xasprintf("delete collection %s", collection);
    enum qb_err rc = write_call(c, "DELETE", collection, "", NULL, what, err, errlen);
    free(what);
    return rc;
}

enum qb_err qdrant_shard_key_create(struct qdrant_client *c, const char *collection,
                                    const char *key, unsigned shards_number,
                                    unsigned replication_factor, char *err, size_t errlen)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *k = json_parse_exact(key, strlen(key)); /* a u64 key keeps its digits */
    if (!k) {
        cJSON_Delete(body);
        return qb_failf(QB_ERR_INVALID, err, errlen, "shard key %s is not JSON", key);
    }
    cJSON_AddItemToObject(body, "shard_key", k);
    if (shards_number)
        cJSON_AddNumberToObject(body, "shards_number", shards_number);
    if (replication_factor)
        cJSON_AddNumberToObject(body, "replication_factor", replication_factor);
    char *what = xasprintf("create shard key %s of %s", key, collection);
    enum qb_err rc = write_call(c, "PUT", collection, "/shards", body, what, err, errlen);
    free(what);
    cJSON_Delete(body);
    return rc;
}

enum qb_err qdrant_payload_index_create(struct qdrant_client *c, const char *collection,
                                        const char *field, const cJSON *schema, char *err,
                                        size_t errlen)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "field_name", field);
    if (schema)
        cJSON_AddItemToObject(body, "field_schema", cJSON_Duplicate(schema, true));
    char *what = xasprintf("create payload index %s of %s", field, collection);
    enum qb_err rc = write_call(c, "PUT", collection, "/index?wait=true", body, what, err, errlen);
    free(what);
    cJSON_Delete(body);
    return rc;
}

enum qb_err qdrant_alias_create(struct qdrant_client *c, const char *collection, const char *alias,
                                char *err, size_t errlen)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *create = cJSON_CreateObject();
    cJSON_AddStringToObject(create, "collection_name", collection);
    cJSON_AddStringToObject(create, "alias_name", alias);
    cJSON *action = cJSON_CreateObject();
    cJSON_AddItemToObject(action, "create_alias", create);
    cJSON *actions = cJSON_AddArrayToObject(body, "actions");
    cJSON_AddItemToArray(actions, action);
    char *text = cJSON_PrintUnformatted(body);
    char *what = xasprintf("create alias %s of %s", alias, collection);
    struct qdrant_call k = {c->slow, "POST", "/collections/aliases?wait=true", text, what,
                            NULL,    NULL};
    enum qb_err rc = qdrant_call_json(c, &k, err, errlen);
    free(what);
    free(text);
    cJSON_Delete(body);
    return rc;
}

static bool parse_version(const char *v, int *major, int *minor)
{
    if (!v)
        return false;
    if (*v == 'v' || *v == 'V')
        v++;
    return sscanf(v, "%d.%d", major, minor) == 2 && *major >= 0 && *minor >= 0;
}

bool qdrant_version_compatible(const char *from, const char *to)
{
    int fa, fi, ta, ti;
    if (!parse_version(from, &fa, &fi) || !parse_version(to, &ta, &ti))
        return false;
    return fa == ta && fi - ti <= 1 && ti - fi <= 1;
}
