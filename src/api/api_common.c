/* SPDX-License-Identifier: Apache-2.0
 *
 * api_common.c -- shared validation and reply helpers for handlers.
 */
#include "api/api_common.h"
#include "api/app.h"
#include "engine/engine.h"
#include "http/http_reply.h"
#include "util/json_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_NAME_MAX            63
#define API_URL_MAX             2048
#define API_IDEMPOTENCY_KEY_MAX 128

bool api_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > API_NAME_MAX || !isalnum((unsigned char)name[0]))
        return false;
    for (const char *p = name; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("._-", *p);
        if (!ok)
            return false;
    }
    return true;
}

enum qb_err api_check_http_url(const char *url, char *err, size_t errlen)
{
    const char *host;
    if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else
        return qb_failf(QB_ERR_INVALID, err, errlen, "must start with http:// or https://");
    if (strlen(url) > API_URL_MAX)
        return qb_failf(QB_ERR_INVALID, err, errlen, "must be at most %d bytes", API_URL_MAX);
    if (*host == '\0' || *host == '/' || *host == ':')
        return qb_failf(QB_ERR_INVALID, err, errlen, "must name a host");
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "must not contain spaces or control characters");
    }
    const char *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(end - host));
    if (at)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "must not embed credentials; use the api_key field instead");
    /* Anywhere after the host, not only right after it: API paths are
     * appended to this URL and would land inside a query or fragment. */
    if (strpbrk(end, "?#"))
        return qb_failf(QB_ERR_INVALID, err, errlen, "must not have a query or fragment");
    return QB_OK;
}

const cJSON *api_body_object(struct http_request *req)
{
    const cJSON *body = http_req_json(req);
    if (!body) {
        http_reply_problem(req, API_ERR_MALFORMED_JSON,
                           "this request needs a JSON object body (Content-Type: "
                           "application/json)");
        return NULL;
    }
    if (!cJSON_IsObject(body)) {
        http_reply_problem(req, API_ERR_MALFORMED_JSON, "the body must be a JSON object");
        return NULL;
    }
    return body;
}

void api_reply_invalid(struct http_request *req, const char *msg)
{
    char field[64];
    const char *colon = strstr(msg, ": ");
    size_t n = colon ? (size_t)(colon - msg) : 0;
    if (n > 0 && n < sizeof field) {
        memcpy(field, msg, n);
        field[n] = '\0';
        http_reply_problem_field(req, API_ERR_INVALID_FIELD, field, "%s", msg);
    } else {
        http_reply_problem(req, API_ERR_INVALID_FIELD, "%s", msg);
    }
}

const char *api_path_name(struct http_request *req, const char *what)
{
    const char *name = http_req_param(req, "name");
    if (!name || !api_valid_name(name)) {
        http_reply_problem(req, API_ERR_NOT_FOUND,
                           "no %s has that name (names are 1-63 "
                           "characters of a-z, 0-9, '.', '_', '-')",
                           what);
        return NULL;
    }
    return name;
}

const char *api_body_name(struct http_request *req, const cJSON *body)
{
    char err[QB_ERRBUF_SIZE];
    const char *name = NULL;
    enum qb_err rc = json_get_string(body, "name", &name, err, sizeof err);
    if (rc == QB_ERR_NOT_FOUND)
        api_reply_invalid(req, "name: is required");
    else if (rc)
        api_reply_invalid(req, err);
    else if (!api_valid_name(name))
        api_reply_invalid(req, "name: must be 1-63 characters of a-z, 0-9, '.', '_', '-', "
                               "starting with a letter or digit");
    return rc || !api_valid_name(name) ? NULL : name;
}

/* The query parameter `name` as a whole number from lo to hi into *v:
 * QB_ERR_NOT_FOUND when absent, QB_ERR_INVALID when it is anything else
 * (*v is then unchanged). */
static enum qb_err query_long(struct http_request *req, const char *name, long lo, long hi, long *v)
{
    const char *s = http_req_query(req, name);
    if (!s)
        return QB_ERR_NOT_FOUND;
    char *end = NULL;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi)
        return QB_ERR_INVALID;
    *v = x;
    return QB_OK;
}

bool api_query_wait(struct http_request *req, long *wait)
{
    *wait = -1;
    if (query_long(req, "wait", 0, API_WAIT_MAX_S, wait) != QB_ERR_INVALID)
        return true;
    http_reply_problem_field(req, API_ERR_INVALID_PARAMETER, "wait",
                             "wait: must be whole seconds from 0 to %d", API_WAIT_MAX_S);
    return false;
}

bool api_idempotency_key(struct http_request *req, const char **key)
{
    const char *k = http_req_header(req, "Idempotency-Key");
    *key = k;
    if (!k)
        return true;
    size_t n = strlen(k);
    bool ok = n > 0 && n <= API_IDEMPOTENCY_KEY_MAX;
    for (const char *p = k; ok && *p; p++)
        ok = isprint((unsigned char)*p);
    if (!ok) {
        http_reply_problem_field(req, API_ERR_INVALID_PARAMETER, "Idempotency-Key",
                                 "Idempotency-Key: must be 1-%d printable characters",
                                 API_IDEMPOTENCY_KEY_MAX);
        *key = NULL;
    }
    return ok;
}

void api_reply_created(struct http_request *req, enum qb_err rc, const char *err, const char *what,
                       const char *name, int64_t rate, api_reply_named_fn reply)
{
    struct app *app = http_req_app(req);
    if (rc == QB_ERR_CONFLICT) {
        http_reply_problem_field(req, API_ERR_ALREADY_EXISTS, "name", "%s", err);
        return;
    }
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    engine_set_limit(app->engine, what, name, rate);
    reply(req, name, 201);
    char location[128];
    snprintf(location, sizeof location, "/v1/%ss/%s", what, name);
    http_reply_header(req, "Location", location);
}

void api_get_named(struct http_request *req, const char *what, api_reply_named_fn reply)
{
    const char *name = api_path_name(req, what);
    if (name)
        reply(req, name, 200);
}

void api_reply_in_progress(struct http_request *req, const char *detail)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "status", "in_progress");
    cJSON_AddStringToObject(body, "detail", detail);
    http_reply_json_steal(req, 202, body);
}

bool api_check_managed(struct http_request *req, const char *what, const char *name,
                       const char *managed_by, const char *setting)
{
    if (strcmp(managed_by, "api") == 0)
        return true;
    http_reply_problem(req, API_ERR_CONFLICT,
                       "%s \"%s\" comes from qbackupd's configuration (%s); change the "
                       "configuration instead",
                       what, name, setting);
    return false;
}

void api_delete_named(struct http_request *req, const char *what, api_name_check_fn check,
                      api_store_delete_fn del)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    const char *name = api_path_name(req, what);
    if (!name || !check(req, name))
        return;
    enum qb_err rc = del(app->store, name, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    http_reply_empty(req, 204);
}

const cJSON *api_replace_body(struct http_request *req, const char *what, const char **name)
{
    char err[QB_ERRBUF_SIZE];
    const char *body_name = NULL;
    *name = api_path_name(req, what);
    const cJSON *body = *name ? api_body_object(req) : NULL;
    if (!body)
        return NULL;
    enum qb_err rc = json_get_string(body, "name", &body_name, err, sizeof err);
    if (rc == QB_ERR_INVALID) {
        api_reply_invalid(req, err);
        return NULL;
    }
    if (rc == QB_OK && strcmp(body_name, *name) != 0) {
        http_reply_problem_field(req, API_ERR_UNPROCESSABLE, "name",
                                 "name in the body (\"%s\") differs from the URL (\"%s\"); "
                                 "%ss cannot be renamed",
                                 body_name, *name, what);
        return NULL;
    }
    return body;
}

bool api_path_id(struct http_request *req, const char *what, int64_t *id)
{
    const char *s = http_req_param(req, "id");
    char *end = NULL;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v <= 0) {
        http_reply_problem(req, API_ERR_NOT_FOUND, "%s ids are positive integers", what);
        return false;
    }
    *id = v;
    return true;
}

bool api_query_limit(struct http_request *req, int def, int max, int *limit)
{
    long v = def;
    *limit = def;
    if (query_long(req, "limit", 1, max, &v) == QB_ERR_INVALID) {
        http_reply_problem_field(req, API_ERR_INVALID_PARAMETER, "limit", "limit: 1 to %d", max);
        return false;
    }
    *limit = (int)v;
    return true;
}

bool api_query_one_of(struct http_request *req, const char *field, const char *const *allowed,
                      const char *msg, const char **value)
{
    *value = http_req_query(req, field);
    if (!*value)
        return true;
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(*value, allowed[i]) == 0)
            return true;
    http_reply_problem_field(req, API_ERR_INVALID_PARAMETER, field, "%s", msg);
    return false;
}

bool api_query_page(struct http_request *req, bool cursor_ok, int def, int max, int *limit)
{
    if (!cursor_ok) {
        http_reply_problem_field(req, API_ERR_INVALID_PARAMETER, "cursor",
                                 "cursor: use next_cursor from the previous page");
        return false;
    }
    return api_query_limit(req, def, max, limit);
}

void api_reply_items(struct http_request *req, cJSON *items)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddItemToObject(body, "items", items);
    http_reply_json_steal(req, 200, body);
}

void api_reply_read(struct http_request *req, enum qb_err rc, const char *err, unsigned status,
                    cJSON *json)
{
    if (rc)
        http_reply_error(req, rc, err);
    else
        http_reply_json_steal(req, status, json);
}

static cJSON *rows_json(const void *rows, size_t n, api_row_item_fn item)
{
    cJSON *items = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(items, item(rows, i));
    return items;
}

void api_reply_rows(struct http_request *req, enum qb_err rc, const char *err, const void *rows,
                    size_t n, api_row_item_fn item)
{
    if (rc)
        http_reply_error(req, rc, err);
    else
        api_reply_items(req, rows_json(rows, n, item));
}

void api_reply_rows_page(struct http_request *req, enum qb_err rc, const char *err,
                         const void *rows, size_t n, int limit, api_row_item_fn item,
                         const char *next)
{
    if (rc)
        http_reply_error(req, rc, err);
    else
        api_reply_page(req, rows_json(rows, n, item), n == (size_t)limit && n > 0 ? next : NULL);
}

void api_reply_page(struct http_request *req, cJSON *items, const char *next)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddItemToObject(body, "items", items);
    cJSON_AddItemToObject(body, "next_cursor",
                          next ? cJSON_CreateString(next) : cJSON_CreateNull());
    http_reply_json_steal(req, 200, body);
}

enum qb_err api_get_rate(const cJSON *body, const char *field, int64_t *out, char *err,
                         size_t errlen)
{
    *out = 0;
    enum qb_err rc = json_get_int(body, field, API_RATE_MIN, API_RATE_MAX, out, err, errlen);
    if (rc == QB_ERR_NOT_FOUND)
        return QB_OK;
    if (rc == QB_ERR_INVALID)
        qb_failf(rc, err, errlen,
                 "%s: must be an integer number of bytes a second from %lld to %lld, or null "
                 "for no limit",
                 field, API_RATE_MIN, API_RATE_MAX);
    return rc;
}

void api_add_rate(cJSON *o, const char *field, int64_t rate)
{
    cJSON_AddItemToObject(o, field,
                          rate > 0 ? cJSON_CreateNumber((double)rate) : cJSON_CreateNull());
}

void api_add_json(cJSON *o, const char *field, const char *text, const char *dflt)
{
    cJSON *v = text ? cJSON_Parse(text) : NULL;
    cJSON_AddItemToObject(o, field, v ? v : cJSON_Parse(dflt));
}

enum qb_err api_labels_check(const cJSON *labels, char *err, size_t errlen)
{
    const cJSON *item;
    int n = 0;
    if (!cJSON_IsObject(labels))
        return qb_failf(QB_ERR_INVALID, err, errlen, "labels: must be an object of strings");
    cJSON_ArrayForEach(item, labels)
    {
        if (!cJSON_IsString(item) || strlen(item->string) > 63 || strlen(item->valuestring) > 256)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "labels: values must be strings (keys up to 63, values up to 256 "
                            "characters)");
        if (++n > 64)
            return qb_failf(QB_ERR_INVALID, err, errlen, "labels: at most 64 labels");
    }
    return QB_OK;
}
