/* SPDX-License-Identifier: Apache-2.0
 *
 * qdrant_client.c -- Qdrant's REST API over http_client.  Owns three HTTP
 * handles with different time limits (see struct qdrant_client), URL
 * building with escaped names, and the envelope/error mapping.
 */
#include "remote/qdrant_client.h"
#include "remote/qdrant_cluster.h"
#include "remote/qdrant_internal.h"
#include "util/json_u64.h"
#include "remote/sigv4.h"
#include "version.h"
#include "util/seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define QDRANT_DEFAULT_TIMEOUT_MS  30000L
#define QDRANT_DEFAULT_CONNECT_MS  10000L
#define QDRANT_DEFAULT_SNAPSHOT_MS 3600000L
#define QDRANT_DEFAULT_POLL_MS     500L
/* A download that delivers nothing for this long is stalled. */
#define QDRANT_STALL_S 60L

void qdrant_client_destroy(struct qdrant_client *c)
{
    if (!c)
        return;
    http_client_destroy(c->api);
    http_client_destroy(c->transfer);
    http_client_destroy(c->slow);
    seal_wipe_free(c->api_key);
    free(c->ca_file);
    free(c->url);
    free(c);
}

const char *qdrant_client_url(const struct qdrant_client *c)
{
    return c->url;
}

enum qb_err qdrant_client_create(const struct qdrant_config *cfg, struct qdrant_client **out,
                                 char *err, size_t errlen)
{
    if (!cfg->url || (strncmp(cfg->url, "http://", 7) != 0 && strncmp(cfg->url, "https://", 8)))
        return qb_failf(QB_ERR_INVALID, err, errlen, "Qdrant URL must start with http(s)://");
    struct qdrant_client *c = xcalloc(1, sizeof *c);
    c->url = xstrdup(cfg->url);
    size_t n = strlen(c->url);
    while (n > 0 && c->url[n - 1] == '/')
        c->url[--n] = '\0';
    c->api_key = cfg->api_key && *cfg->api_key ? xstrdup(cfg->api_key) : NULL;
    c->ca_file = cfg->ca_file ? xstrdup(cfg->ca_file) : NULL;
    c->cfg = *cfg;
    c->cfg.url = c->url;
    c->cfg.api_key = c->api_key;
    c->cfg.ca_file = c->ca_file;
    if (c->cfg.timeout_ms <= 0)
        c->cfg.timeout_ms = QDRANT_DEFAULT_TIMEOUT_MS;
    if (c->cfg.connect_timeout_ms <= 0)
        c->cfg.connect_timeout_ms = QDRANT_DEFAULT_CONNECT_MS;
    if (c->cfg.snapshot_timeout_ms <= 0)
        c->cfg.snapshot_timeout_ms = QDRANT_DEFAULT_SNAPSHOT_MS;
    if (c->cfg.poll_interval_ms <= 0)
        c->cfg.poll_interval_ms = QDRANT_DEFAULT_POLL_MS;

    struct http_client_options api = {
        .connect_timeout_ms = c->cfg.connect_timeout_ms,
        .total_timeout_ms = c->cfg.timeout_ms,
        .insecure = cfg->insecure,
        .ca_file = c->ca_file,
        .user_agent = "qbackup/" QB_VERSION,
    };
    struct http_client_options transfer = api;
    transfer.total_timeout_ms = 0;
    transfer.low_speed_time_s = QDRANT_STALL_S;
    struct http_client_options slow = api;
    slow.total_timeout_ms = c->cfg.snapshot_timeout_ms;
    slow.low_speed_time_s = c->cfg.snapshot_timeout_ms / 1000 + 1;
    enum qb_err rc = http_client_create(&api, &c->api, err, errlen);
    if (!rc)
        rc = http_client_create(&transfer, &c->transfer, err, errlen);
    if (!rc)
        rc = http_client_create(&slow, &c->slow, err, errlen);
    if (rc) {
        qdrant_client_destroy(c);
        return rc;
    }
    *out = c;
    return QB_OK;
}

/* ---------------------------------------------------------------- plumbing */

/* A JSON Web Token: three base64url parts joined by dots, the first a
 * JSON object ("eyJ" is base64 for '{"'). */
static bool looks_like_jwt(const char *k)
{
    int dots = 0;
    if (strncmp(k, "eyJ", 3) != 0)
        return false;
    for (const char *p = k; *p; p++) {
        if (*p == '.')
            dots++;
        else if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '='))
            return false;
    }
    return dots == 2;
}

char *qdrant_add_key(const struct qdrant_client *c, const char **headers, size_t *n)
{
    if (!c->api_key)
        return NULL;
    /* Qdrant takes a key in either header, but CONTRACT §8 names only
     * "Authorization: Bearer" for JWTs (jwt_rbac): a JWT goes there. */
    char *h = looks_like_jwt(c->api_key) ? xasprintf("Authorization: Bearer %s", c->api_key)
                                         : xasprintf("api-key: %s", c->api_key);
    headers[(*n)++] = h;
    return h;
}

void qdrant_free_key(char *header)
{
    seal_wipe_free(header);
}

/* Escapes one path segment (collection or snapshot names may hold any
 * character); caller frees. */
char *qdrant_esc(const char *s)
{
    return sigv4_uri_encode(s, strlen(s), false);
}

enum qb_err qdrant_check_segment(const char *kind, const char *s, char *err, size_t errlen)
{
    if (!s || !*s)
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s name is empty", kind);
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s name \"%s\" is not allowed", kind, s);
    return QB_OK;
}

/* Base path of the target's snapshot routes; caller frees. */
char *qdrant_snapshots_path(const struct qdrant_target *t)
{
    if (t->scope == QDRANT_SCOPE_FULL)
        return xstrdup("/snapshots");
    char *c = qdrant_esc(t->collection ? t->collection : "");
    char *p = t->scope == QDRANT_SCOPE_SHARD
                  ? xasprintf("/collections/%s/shards/%u/snapshots", c, t->shard_id)
                  : xasprintf("/collections/%s/snapshots", c);
    free(c);
    return p;
}

/* Turns a non-2xx answer into a message and an error class.  Qdrant's
 * envelope carries status.error; download routes, 401s and multipart
 * errors answer plain text. */
enum qb_err qdrant_answer_error(const struct http_client_response *resp, const char *what,
                                char *err, size_t errlen)
{
    char detail[400] = "";
    cJSON *json = resp->body ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(json, "status");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(status, "error");
    if (cJSON_IsString(e))
        snprintf(detail, sizeof detail, "%s", e->valuestring);
    else if (resp->body && resp->body_len)
        snprintf(detail, sizeof detail, "%.*s", (int)(resp->body_len < 300 ? resp->body_len : 300),
                 resp->body);
    cJSON_Delete(json);
    for (char *p = detail; *p; p++) {
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    }
    enum qb_err rc = http_client_status_err(resp->status);
    if (resp->status == 401 || resp->status == 403)
        rc = QB_ERR_REMOTE;
    return qb_failf(rc, err, errlen, "%s: Qdrant answered %ld%s%s", what, resp->status,
                    *detail ? ": " : "", detail);
}

/* Performs a JSON call and unwraps {"result": ..., "status": "ok"}. */
enum qb_err qdrant_call_json(struct qdrant_client *c, const struct qdrant_call *k, char *err,
                             size_t errlen)
{
    char *url = xasprintf("%s%s", c->url, k->path);
    const char *headers[3];
    size_t nh = 0;
    char *auth = qdrant_add_key(c, headers, &nh);
    if (k->body)
        headers[nh++] = "Content-Type: application/json";
    struct http_client_request req = {
        .method = k->method,
        .url = url,
        .headers = headers,
        .n_headers = nh,
        .body = k->body,
        .body_len = k->body ? strlen(k->body) : 0,
        .max_body = QDRANT_MAX_JSON,
    };
    struct http_client_response resp = {0};
    enum qb_err rc = http_client_perform(k->via, &req, &resp, err, errlen);
    if (rc)
        goto out;
    if (k->status)
        *k->status = resp.status;
    if (resp.status < 200 || resp.status > 299) {
        rc = qdrant_answer_error(&resp, k->what, err, errlen);
        goto out;
    }
    if (k->result) {
        /* Exact integers: peer ids are u64 values beyond a double's 2^53. */
        cJSON *json = json_parse_exact(resp.body ? resp.body : "", resp.body_len);
        cJSON *result = cJSON_DetachItemFromObjectCaseSensitive(json, "result");
        cJSON_Delete(json);
        if (!result && resp.status != 202) {
            rc = qb_failf(QB_ERR_REMOTE, err, errlen, "%s: Qdrant's answer has no result", k->what);
            goto out;
        }
        *k->result = result;
    }
out:
    http_client_response_free(&resp);
    qdrant_free_key(auth);
    free(url);
    return rc;
}

/* ---------------------------------------------------------------- service */

enum qb_err qdrant_server_version(struct qdrant_client *c, char **version, char *err, size_t errlen)
{
    char *url = xasprintf("%s/", c->url);
    const char *headers[1];
    size_t nh = 0;
    char *auth = qdrant_add_key(c, headers, &nh);
    struct http_client_request req = {.method = "GET",
                                      .url = url,
                                      .headers = headers,
                                      .n_headers = nh,
                                      .max_body = QDRANT_MAX_JSON};
    struct http_client_response resp = {0};
    enum qb_err rc = http_client_perform(c->api, &req, &resp, err, errlen);
    if (!rc && resp.status != 200)
        rc = qdrant_answer_error(&resp, "server info", err, errlen);
    if (!rc) {
        /* GET / is not enveloped: {"title": "qdrant - ...", "version": ...} */
        cJSON *json = cJSON_ParseWithLength(resp.body ? resp.body : "", resp.body_len);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, "version");
        if (cJSON_IsString(v))
            *version = xstrdup(v->valuestring);
        else
            rc = qb_failf(QB_ERR_REMOTE, err, errlen, "server info: the answer is not Qdrant's");
        cJSON_Delete(json);
    }
    http_client_response_free(&resp);
    qdrant_free_key(auth);
    free(url);
    return rc;
}

enum qb_err qdrant_ready(struct qdrant_client *c, char *err, size_t errlen)
{
    struct qdrant_call k = {c->api, "GET", "/readyz", NULL, "readiness", NULL, NULL};
    return qdrant_call_json(c, &k, err, errlen);
}

void qdrant_strings_free(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

enum qb_err qdrant_list_collections(struct qdrant_client *c, char ***names, size_t *n, char *err,
                                    size_t errlen)
{
    cJSON *result = NULL;
    struct qdrant_call k = {c->api, "GET", "/collections", NULL, "list collections", &result, NULL};
    enum qb_err rc = qdrant_call_json(c, &k, err, errlen);
    *names = NULL;
    *n = 0;
    if (rc)
        return rc;
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(result, "collections");
    const cJSON *item;
    cJSON_ArrayForEach(item, cols)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
        if (!cJSON_IsString(name))
            continue;
        *names = xrealloc(*names, (*n + 1) * sizeof **names);
        (*names)[(*n)++] = xstrdup(name->valuestring);
    }
    cJSON_Delete(result);
    return QB_OK;
}

static int64_t json_count(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

enum qb_err qdrant_collection_info(struct qdrant_client *c, const char *collection,
                                   struct qdrant_collection_info *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cJSON *result = NULL;
    enum qb_err rc = qdrant_collection_get(c, collection, &result, err, errlen);
    if (!rc) {
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(result, "status");
        out->status = xstrdup(cJSON_IsString(status) ? status->valuestring : "unknown");
        out->points_count = json_count(result, "points_count");
        out->vectors_count = json_count(result, "vectors_count");
    }
    cJSON_Delete(result);
    return rc;
}

void qdrant_collection_info_free(struct qdrant_collection_info *info)
{
    QB_FREE(info->status);
}

enum qb_err qdrant_collection_cluster(struct qdrant_client *c, const char *collection,
                                      cJSON **result, char *err, size_t errlen)
{
    *result = NULL;
    enum qb_err rc = qdrant_check_segment("collection", collection, err, errlen);
    if (rc)
        return rc;
    char *name = qdrant_esc(collection);
    char *path = xasprintf("/collections/%s/cluster", name);
    struct qdrant_call k = {c->api, "GET", path, NULL, "collection cluster info", result, NULL};
    rc = qdrant_call_json(c, &k, err, errlen);
    free(path);
    free(name);
    return rc;
}

enum qb_err qdrant_cluster_status(struct qdrant_client *c, cJSON **result, char *err, size_t errlen)
{
    struct qdrant_call k = {c->api, "GET", "/cluster", NULL, "cluster status", result, NULL};
    return qdrant_call_json(c, &k, err, errlen);
}
