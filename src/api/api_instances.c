/* SPDX-License-Identifier: Apache-2.0
 *
 * api_instances.c -- /v1/instances: the Qdrant endpoints qbackup drives.
 *
 * The API key is write-only: requests may set it, responses only say
 * whether one is set ("api_key_set").  The instance defined by the
 * configuration (qdrant_url) is managed_by "config": the API shows it but
 * refuses to change or delete it, since the next start would undo that.
 */
#include "api/api.h"
#include "api/api_common.h"
#include "api/app.h"
#include "engine/prober.h"
#include "engine/topology.h"
#include "http/http_reply.h"
#include "store/store_instances.h"
#include "util/json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INSTANCE_API_KEY_MAX 4096

static const char *const instance_fields[] = {
    "name",       "url",     "api_key",
    "tls_verify", "ca_file", "max_concurrent",
    "timeout_s",  "nodes",   "max_read_bytes_per_second",
    NULL,
};

static cJSON *instance_json(const struct store_instance *inst)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", inst->name);
    cJSON_AddStringToObject(o, "url", inst->url);
    cJSON_AddBoolToObject(o, "api_key_set", inst->api_key && *inst->api_key);
    cJSON_AddBoolToObject(o, "tls_verify", inst->tls_verify);
    cJSON_AddItemToObject(o, "ca_file",
                          inst->ca_file ? cJSON_CreateString(inst->ca_file) : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "max_concurrent", inst->max_concurrent);
    cJSON_AddNumberToObject(o, "timeout_s", inst->timeout_s);
    api_add_rate(o, "max_read_bytes_per_second", inst->max_read_bytes_per_second);
    cJSON_AddStringToObject(o, "managed_by", inst->managed_by);
    json_add_time(o, "created_at", inst->created_at);
    json_add_time(o, "updated_at", inst->updated_at);
    api_add_json(o, "nodes", inst->nodes, "[]");
    return o;
}

/* The latest probed topology of the instance, or null before the first
 * probe. */
static void add_topology(struct http_request *req, cJSON *o, const char *name)
{
    struct app *app = http_req_app(req);
    cJSON *t = prober_topology(app->prober, name);
    cJSON_AddItemToObject(o, "topology", t ? t : cJSON_CreateNull());
}

/* Checks `nodes`: an array of distinct http(s) URLs.  Replies and returns
 * false when it is not; *out receives its JSON text. */
static bool nodes_from_body(struct http_request *req, const cJSON *body, char **out)
{
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(body, "nodes");
    char sub[QB_ERRBUF_SIZE / 2];
    *out = NULL;
    if (!nodes || cJSON_IsNull(nodes)) {
        *out = xstrdup("[]");
        return true;
    }
    if (!cJSON_IsArray(nodes)) {
        api_reply_invalid(req, "nodes: must be an array of URLs");
        return false;
    }
    if (cJSON_GetArraySize(nodes) > 64) {
        api_reply_invalid(req, "nodes: at most 64 entries");
        return false;
    }
    int i = 0;
    const cJSON *n;
    cJSON_ArrayForEach(n, nodes)
    {
        char err[QB_ERRBUF_SIZE];
        if (!cJSON_IsString(n)) {
            snprintf(err, sizeof err, "nodes[%d]: must be a URL string", i);
            api_reply_invalid(req, err);
            return false;
        }
        if (api_check_http_url(n->valuestring, sub, sizeof sub)) {
            snprintf(err, sizeof err, "nodes[%d]: %s", i, sub);
            api_reply_invalid(req, err);
            return false;
        }
        int j = 0;
        const cJSON *m;
        cJSON_ArrayForEach(m, nodes)
        {
            if (j >= i)
                break;
            if (topology_same_url(n->valuestring, m->valuestring)) {
                snprintf(err, sizeof err, "nodes[%d]: %s is listed twice (also nodes[%d])", i,
                         n->valuestring, j);
                api_reply_invalid(req, err);
                return false;
            }
            j++;
        }
        i++;
    }
    *out = cJSON_PrintUnformatted(nodes);
    return true;
}

/* With nodes listed, every node must answer as a peer of the instance's
 * cluster, each a different one: 422 naming the entry otherwise.  A run
 * takes a node that does not answer for a peer that is down, but here it
 * is as likely a typo, which must not be stored (t->unanswered). */
static bool nodes_check_cluster(struct http_request *req, const struct store_instance *inst)
{
    if (strcmp(inst->nodes, "[]") == 0)
        return true;
    char err[QB_ERRBUF_SIZE];
    struct topology *t = NULL;
    enum qb_err rc = topology_resolve(inst, 10000, &t, err, sizeof err);
    if (!rc && t->unanswered)
        rc = qb_failf(QB_ERR_REMOTE, err, sizeof err, "%s", t->unanswered);
    topology_free(t);
    if (rc) {
        http_reply_problem_field(req, API_ERR_UNPROCESSABLE, "nodes", "%s", err);
        return false;
    }
    return true;
}

/* Reads an optional field: absent is fine (rc QB_ERR_NOT_FOUND becomes OK). */
static bool optional_ok(enum qb_err rc)
{
    return rc == QB_OK || rc == QB_ERR_NOT_FOUND;
}

/* Fills inst from body.  *api_key_given says whether the body carried
 * "api_key" (a replace without it keeps the stored key).  Replies and
 * returns false on invalid input. */
static bool instance_from_body(struct http_request *req, const cJSON *body,
                               struct store_instance *inst, bool *api_key_given)
{
    char err[QB_ERRBUF_SIZE], sub[QB_ERRBUF_SIZE / 2];
    const char *url = NULL, *api_key = NULL, *ca_file = NULL;
    int64_t max_concurrent = 1, timeout_s = 30, max_read = 0;
    bool tls_verify = true;

    if (json_reject_unknown(body, instance_fields, err, sizeof err)) {
        api_reply_invalid(req, err);
        return false;
    }
    enum qb_err rc = json_get_string(body, "url", &url, err, sizeof err);
    if (rc == QB_ERR_NOT_FOUND) {
        api_reply_invalid(req, "url: is required");
        return false;
    }
    if (!rc && api_check_http_url(url, sub, sizeof sub)) {
        snprintf(err, sizeof err, "url: %s", sub);
        rc = QB_ERR_INVALID;
    }
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_string(body, "api_key", &api_key, err, sizeof err);
    if (rc == QB_OK && strlen(api_key) > INSTANCE_API_KEY_MAX) {
        snprintf(err, sizeof err, "api_key: must be at most %d bytes", INSTANCE_API_KEY_MAX);
        rc = QB_ERR_INVALID;
    }
    *api_key_given = rc == QB_OK;
    if (optional_ok(rc))
        rc = json_get_bool(body, "tls_verify", &tls_verify, err, sizeof err);
    if (optional_ok(rc))
        rc = json_get_string(body, "ca_file", &ca_file, err, sizeof err);
    if (rc == QB_OK && ca_file[0] != '/') {
        snprintf(err, sizeof err, "ca_file: must be an absolute path");
        rc = QB_ERR_INVALID;
    }
    if (optional_ok(rc))
        rc = json_get_int(body, "max_concurrent", 1, 64, &max_concurrent, err, sizeof err);
    if (optional_ok(rc))
        rc = json_get_int(body, "timeout_s", 1, 3600, &timeout_s, err, sizeof err);
    if (optional_ok(rc))
        rc = api_get_rate(body, "max_read_bytes_per_second", &max_read, err, sizeof err);
    if (!optional_ok(rc)) {
        api_reply_invalid(req, err);
        return false;
    }
    /* Well-formed but contradictory: a CA file is meaningless without TLS. */
    if (ca_file && strncmp(url, "https://", 8) != 0) {
        http_reply_problem_field(req, API_ERR_UNPROCESSABLE, "ca_file",
                                 "ca_file is only used for https:// URLs; this url is http://");
        return false;
    }
    if (!nodes_from_body(req, body, &inst->nodes))
        return false;
    inst->url = xstrdup(url);
    inst->api_key = api_key && *api_key ? xstrdup(api_key) : NULL;
    inst->ca_file = ca_file ? xstrdup(ca_file) : NULL;
    inst->tls_verify = tls_verify;
    inst->max_concurrent = (int)max_concurrent;
    inst->timeout_s = (int)timeout_s;
    inst->max_read_bytes_per_second = max_read;
    return true;
}

/* An instance's own GET answer: its row and its latest topology. */
static cJSON *instance_reply_json(struct http_request *req, const struct store_instance *inst)
{
    cJSON *o = instance_json(inst);
    add_topology(req, o, inst->name);
    return o;
}

/* Replies with the stored instance `name` and the given status. */
API_DEFINE_REPLY_ROW(reply_instance, const char *, struct store_instance, store_instance_get,
                     store_instance_free, instance_reply_json)

API_DEFINE_LIST(api_instances_list, struct store_instance, store_instance_list,
                store_instance_list_free, instance_json)

void api_instances_create(struct http_request *req)
{
    struct app *app = http_req_app(req);
    /* On the heap so that the store's own free releases it (and wipes the key). */
    struct store_instance *inst = xcalloc(1, sizeof *inst);
    char err[QB_ERRBUF_SIZE];
    const char *name = NULL;
    bool api_key_given = false;

    const cJSON *body = api_body_object(req);
    if (body)
        name = api_body_name(req, body);
    if (!name || !instance_from_body(req, body, inst, &api_key_given))
        goto out;
    inst->name = xstrdup(name);
    if (!nodes_check_cluster(req, inst))
        goto out;
    enum qb_err rc = store_instance_insert(app->store, inst, err, sizeof err);
    api_reply_created(req, rc, err, "instance", name, inst->max_read_bytes_per_second,
                      reply_instance);
out:
    store_instance_free(inst);
}

void api_instances_get(struct http_request *req)
{
    api_get_named(req, "instance", reply_instance);
}

/* Refuses changes to configuration-managed instances: 409. */
static bool check_api_managed(struct http_request *req, const char *name)
{
    struct app *app = http_req_app(req);
    struct store_instance *cur = NULL;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = store_instance_get(app->store, name, &cur, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return false;
    }
    bool ok = api_check_managed(req, "instance", name, cur->managed_by, "qdrant_url");
    store_instance_free(cur);
    return ok;
}

void api_instances_replace(struct http_request *req)
{
    struct app *app = http_req_app(req);
    struct store_instance *inst = xcalloc(1, sizeof *inst);
    char err[QB_ERRBUF_SIZE];
    bool api_key_given = false;

    const char *name = NULL;
    const cJSON *body = api_replace_body(req, "instance", &name);
    if (!body || !check_api_managed(req, name) ||
        !instance_from_body(req, body, inst, &api_key_given))
        goto out;
    inst->name = xstrdup(name);
    if (!api_key_given) {
        /* The nodes check talks to Qdrant with the key that stays. */
        struct store_instance *old = NULL;
        if (store_instance_get(app->store, name, &old, err, sizeof err) == QB_OK && old->api_key)
            inst->api_key = xstrdup(old->api_key);
        store_instance_free(old);
    }
    if (!nodes_check_cluster(req, inst))
        goto out;
    enum qb_err rc = store_instance_update(app->store, inst, !api_key_given, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        goto out;
    }
    /* Running transfers slow down or speed up at once, not next run. */
    engine_set_limit(app->engine, "instance", name, inst->max_read_bytes_per_second);
    reply_instance(req, name, 200);
out:
    store_instance_free(inst);
}

void api_instances_delete(struct http_request *req)
{
    api_delete_named(req, "instance", check_api_managed, store_instance_delete);
}
