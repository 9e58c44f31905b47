/* SPDX-License-Identifier: Apache-2.0
 *
 * api_webhooks.c -- /v1/webhooks: subscriptions to qbackupd's events, their
 * delivery log and test-fire.  The delivery itself is notify/webhooks.c's.
 *
 * The secret is write-only: requests set it (at least WEBHOOK_SECRET_MIN
 * bytes, so a guessable one is refused), responses only say it is set.
 * Every route is admin: a webhook's URL may itself be a credential (a
 * Slack incoming-webhook URL is).
 */
#include "api/api.h"
#include "api/api_common.h"
#include "api/app.h"
#include "http/http_reply.h"
#include "notify/payload.h"
#include "notify/webhooks.h"
#include "store/store_webhooks.h"
#include "util/json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEBHOOK_SECRET_MIN 16
#define WEBHOOK_SECRET_MAX 1024
#define WEBHOOK_DESC_MAX   200
#define WEBHOOK_FILTER_MAX 64
#define DELIVERIES_DEFAULT 50
#define DELIVERIES_MAX     200

static const char *const webhook_fields[] = {
    "url", "events", "secret", "format", "plans", "instances", "enabled", "description", NULL,
};

static cJSON *webhook_json(const struct store_webhook *w)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)w->id);
    cJSON_AddStringToObject(o, "url", w->url);
    api_add_json(o, "events", w->events, "[]");
    api_add_json(o, "plans", w->plans, "[]");
    api_add_json(o, "instances", w->instances, "[]");
    cJSON_AddStringToObject(o, "format", w->format);
    cJSON_AddBoolToObject(o, "enabled", w->enabled);
    cJSON_AddItemToObject(o, "description",
                          w->description ? cJSON_CreateString(w->description) : cJSON_CreateNull());
    cJSON_AddBoolToObject(o, "secret_set", true);
    json_add_time(o, "created_at", w->created_at);
    json_add_time(o, "updated_at", w->updated_at);
    return o;
}

/* Checks `field`, an array of strings each accepted by ok (which writes
 * the reason), at most max entries; *out: its JSON text.  Absent: "[]"
 * unless required.  Writes "<field>...: reason" into err on failure. */
static bool string_array(const cJSON *body, const char *field, bool required, size_t max,
                         bool (*ok)(const char *v, char *why, size_t whylen), char **out, char *err,
                         size_t errlen)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(body, field);
    *out = NULL;
    if (!a || cJSON_IsNull(a)) {
        if (required) {
            snprintf(err, errlen, "%s: is required", field);
            return false;
        }
        *out = xstrdup("[]");
        return true;
    }
    if (!cJSON_IsArray(a) || (required && cJSON_GetArraySize(a) == 0) ||
        (size_t)cJSON_GetArraySize(a) > max) {
        snprintf(err, errlen, "%s: must be an array of %s1 to %zu strings", field,
                 required ? "" : "0 or ", max);
        return false;
    }
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        char why[QB_ERRBUF_SIZE / 2] = "must be a string";
        if (!cJSON_IsString(e) || !ok(e->valuestring, why, sizeof why)) {
            snprintf(err, errlen, "%s[%d]: %s", field, i, why);
            return false;
        }
        i++;
    }
    *out = cJSON_PrintUnformatted(a);
    return true;
}

static bool event_ok(const char *v, char *why, size_t whylen)
{
    if (payload_event_known(v))
        return true;
    snprintf(why, whylen, "unknown event \"%.64s\"; known: %s", v, payload_event_names());
    return false;
}

static bool name_ok(const char *v, char *why, size_t whylen)
{
    if (api_valid_name(v))
        return true;
    snprintf(why, whylen, "not a valid name");
    return false;
}

/* Fills w from body (secret_required on create).  Replies 400 naming the
 * field and returns false on invalid input. */
static bool webhook_from_body(struct http_request *req, const cJSON *body, bool secret_required,
                              struct store_webhook *w)
{
    char err[QB_ERRBUF_SIZE], sub[QB_ERRBUF_SIZE / 2];
    const char *url = NULL, *secret = NULL, *format = "json", *desc = NULL;
    bool enabled = true;
    if (json_reject_unknown(body, webhook_fields, err, sizeof err))
        goto invalid;
    enum qb_err rc = json_get_string(body, "url", &url, err, sizeof err);
    if (rc == QB_ERR_NOT_FOUND)
        snprintf(err, sizeof err, "url: is required");
    if (rc)
        goto invalid;
    if (api_check_http_url(url, sub, sizeof sub)) {
        snprintf(err, sizeof err, "url: %s", sub);
        goto invalid;
    }
    rc = json_get_string(body, "secret", &secret, err, sizeof err);
    if (rc == QB_ERR_NOT_FOUND && secret_required)
        snprintf(err, sizeof err, "secret: is required (at least %d bytes)", WEBHOOK_SECRET_MIN);
    if (rc == QB_ERR_INVALID || (rc == QB_ERR_NOT_FOUND && secret_required))
        goto invalid;
    if (secret && (strlen(secret) < WEBHOOK_SECRET_MIN || strlen(secret) > WEBHOOK_SECRET_MAX)) {
        /* Never echo it: only its length is wrong. */
        snprintf(err, sizeof err, "secret: must be %d to %d bytes", WEBHOOK_SECRET_MIN,
                 WEBHOOK_SECRET_MAX);
        goto invalid;
    }
    if (json_get_string(body, "format", &format, err, sizeof err) == QB_ERR_INVALID)
        goto invalid;
    if (strcmp(format, "json") && strcmp(format, "slack")) {
        snprintf(err, sizeof err, "format: \"json\" or \"slack\"");
        goto invalid;
    }
    if (json_get_bool(body, "enabled", &enabled, err, sizeof err) == QB_ERR_INVALID)
        goto invalid;
    if (json_get_string(body, "description", &desc, err, sizeof err) == QB_ERR_INVALID)
        goto invalid;
    if (desc && strlen(desc) > WEBHOOK_DESC_MAX) {
        snprintf(err, sizeof err, "description: at most %d bytes", WEBHOOK_DESC_MAX);
        goto invalid;
    }
    if (!string_array(body, "events", true, 32, event_ok, &w->events, err, sizeof err) ||
        !string_array(body, "plans", false, WEBHOOK_FILTER_MAX, name_ok, &w->plans, err,
                      sizeof err) ||
        !string_array(body, "instances", false, WEBHOOK_FILTER_MAX, name_ok, &w->instances, err,
                      sizeof err))
        goto invalid;
    w->url = xstrdup(url);
    w->secret = secret ? xstrdup(secret) : NULL;
    w->format = xstrdup(format);
    w->enabled = enabled;
    w->description = desc ? xstrdup(desc) : NULL;
    return true;
invalid:
    api_reply_invalid(req, err);
    return false;
}

static cJSON *webhook_reply_json(struct http_request *req, const struct store_webhook *w)
{
    (void)req;
    return webhook_json(w);
}

API_DEFINE_REPLY_ROW(reply_webhook, int64_t, struct store_webhook, store_webhook_get,
                     store_webhook_free, webhook_reply_json)

API_DEFINE_LIST(api_webhooks_list, struct store_webhook, store_webhook_list,
                store_webhook_list_free, webhook_json)

void api_webhooks_create(struct http_request *req)
{
    struct app *app = http_req_app(req);
    /* On the heap so that the store's own free releases it (and wipes the secret). */
    struct store_webhook *w = xcalloc(1, sizeof *w);
    char err[QB_ERRBUF_SIZE];
    const cJSON *body = api_body_object(req);
    if (!body || !webhook_from_body(req, body, true, w))
        goto out;
    int64_t id = 0;
    enum qb_err rc = store_webhook_insert(app->store, w, &id, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        goto out;
    }
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/webhooks/%lld", (long long)id);
    reply_webhook(req, id, 201);
    http_reply_header(req, "Location", loc);
out:
    store_webhook_free(w);
}

void api_webhooks_get(struct http_request *req)
{
    int64_t id = 0;
    if (api_path_id(req, "webhook", &id))
        reply_webhook(req, id, 200);
}

void api_webhooks_replace(struct http_request *req)
{
    struct app *app = http_req_app(req);
    struct store_webhook *w = xcalloc(1, sizeof *w);
    char err[QB_ERRBUF_SIZE];
    int64_t id = 0;
    const cJSON *body = NULL;
    if (!api_path_id(req, "webhook", &id) || !(body = api_body_object(req)) ||
        !webhook_from_body(req, body, false, w))
        goto out;
    w->id = id;
    enum qb_err rc = store_webhook_update(app->store, w, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        goto out;
    }
    reply_webhook(req, id, 200);
out:
    store_webhook_free(w);
}

void api_webhooks_delete(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    int64_t id = 0;
    if (!api_path_id(req, "webhook", &id))
        return;
    enum qb_err rc = store_webhook_delete(app->store, id, err, sizeof err);
    if (rc)
        http_reply_error(req, rc, err);
    else
        http_reply_empty(req, 204);
}

static cJSON *delivery_json(const struct store_delivery *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", d->delivery_id);
    cJSON_AddStringToObject(o, "event", d->event);
    cJSON_AddStringToObject(o, "state", d->state);
    cJSON_AddNumberToObject(o, "attempts", d->attempts);
    json_add_time(o, "created_at", d->created_at / 1000);
    if (strcmp(d->state, "pending") == 0)
        json_add_time(o, "next_attempt_at", d->next_attempt_at / 1000);
    else
        cJSON_AddNullToObject(o, "next_attempt_at");
    if (d->delivered_at)
        json_add_time(o, "delivered_at", d->delivered_at / 1000);
    else
        cJSON_AddNullToObject(o, "delivered_at");
    if (d->last_status)
        cJSON_AddNumberToObject(o, "last_status", d->last_status);
    else
        cJSON_AddNullToObject(o, "last_status");
    cJSON_AddItemToObject(o, "last_error",
                          d->last_error ? cJSON_CreateString(d->last_error) : cJSON_CreateNull());
    api_add_json(o, "attempt_log", d->attempt_log, "[]");
    api_add_json(o, "payload", d->body, "null");
    return o;
}

void api_webhooks_deliveries(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    int64_t id = 0;
    int limit = 0;
    if (!api_path_id(req, "webhook", &id) ||
        !api_query_limit(req, DELIVERIES_DEFAULT, DELIVERIES_MAX, &limit))
        return;
    struct store_webhook *w = NULL;
    enum qb_err rc = store_webhook_get(app->store, id, &w, err, sizeof err);
    store_webhook_free(w);
    struct store_delivery **list = NULL;
    size_t n = 0;
    if (!rc)
        rc = store_delivery_list(app->store, id, limit, &list, &n, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    cJSON *items = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(items, delivery_json(list[i]));
    store_delivery_list_free(list, n);
    api_reply_items(req, items);
}

void api_webhooks_test(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    int64_t id = 0;
    if (!api_path_id(req, "webhook", &id))
        return;
    struct store_webhook *w = NULL;
    char *delivery = NULL;
    enum qb_err rc = store_webhook_get(app->store, id, &w, err, sizeof err);
    if (!rc)
        rc = webhooks_test_fire(app->store, w, &delivery, err, sizeof err);
    store_webhook_free(w);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    webhooks_wake(app->webhooks);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "delivery_id", delivery);
    cJSON_AddStringToObject(o, "event", "webhook.test");
    free(delivery);
    http_reply_json_steal(req, 202, o);
}
