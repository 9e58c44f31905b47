/* SPDX-License-Identifier: Apache-2.0
 *
 * api_plans.c -- /v1/plans: what to back up, when, where, for how long.
 *
 * {"name", "instance", "destination", "collections": ["a","b"] | "*",
 *  "full_instance": false, "schedule": "0 3 * * *" | null, "timezone": "UTC",
 *  "key_prefix": "", "retention": {...}, "verify": true,
 *  "alert_after": seconds | null, "enabled": true, "labels": {"k": "v"}}
 *
 * Collections named explicitly are not checked against Qdrant here (it may
 * be down, or the collection created later); a missing one fails its part
 * of the run, in words.
 */
#include "api/api.h"
#include "api/api_common.h"
#include "api/app.h"
#include "engine/retention_apply.h"
#include "engine/schedule.h"
#include "http/http_reply.h"
#include "remote/storage.h"
#include "store/store_plans.h"
#include "store/store_runs.h"
#include "util/json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Settable members, then read-only ones a client may send back unchanged
 * (GET, edit, PUT): accepted and ignored. */
static const char *const plan_fields[] = {
    "name",
    "instance",
    "destination",
    "collections",
    "full_instance",
    "schedule",
    "timezone",
    "key_prefix",
    "retention",
    "verify",
    "alert_after",
    "enabled",
    "requeue_interrupted",
    "shard_method",
    "labels",
    /* read-only */
    "effective_alert_after",
    "next_run_at",
    "last_scheduled_at",
    "skipped_runs",
    "created_at",
    "updated_at",
    NULL,
};

/* alert_after when the plan sets none: twice the schedule's longest gap. */
int64_t api_plan_alert_after(const struct store_plan *p)
{
    if (p->alert_after_s > 0)
        return p->alert_after_s;
    if (!p->schedule)
        return 0;
    return 2 * schedule_interval(p->schedule, p->timezone, qb_now_ms() / 1000);
}

cJSON *api_plan_json(const struct store_plan *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", p->name);
    cJSON_AddStringToObject(o, "instance", p->instance);
    cJSON_AddStringToObject(o, "destination", p->destination);
    bool full = strcmp(p->scope, "full") == 0;
    cJSON_AddBoolToObject(o, "full_instance", full);
    if (strcmp(p->scope, "all") == 0)
        cJSON_AddStringToObject(o, "collections", "*");
    else if (full)
        cJSON_AddNullToObject(o, "collections");
    else
        cJSON_AddItemToObject(o, "collections", cJSON_Parse(p->collections));
    cJSON_AddItemToObject(o, "schedule",
                          p->schedule ? cJSON_CreateString(p->schedule) : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "timezone", p->timezone);
    cJSON_AddStringToObject(o, "key_prefix", p->key_prefix);
    cJSON_AddItemToObject(o, "retention", cJSON_Parse(p->retention));
    cJSON_AddBoolToObject(o, "verify", p->verify);
    int64_t alert = api_plan_alert_after(p);
    cJSON_AddItemToObject(o, "alert_after",
                          p->alert_after_s > 0 ? cJSON_CreateNumber((double)p->alert_after_s)
                                               : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "effective_alert_after",
                          alert > 0 ? cJSON_CreateNumber((double)alert) : cJSON_CreateNull());
    cJSON_AddBoolToObject(o, "enabled", p->enabled);
    cJSON_AddBoolToObject(o, "requeue_interrupted", p->requeue_interrupted);
    cJSON_AddStringToObject(o, "shard_method", p->shard_method ? p->shard_method : "snapshot");
    cJSON_AddItemToObject(o, "labels", cJSON_Parse(p->labels));
    int64_t next = 0;
    char err[QB_ERRBUF_SIZE];
    if (p->schedule && p->enabled &&
        schedule_next(p->schedule, p->timezone, qb_now_ms() / 1000, &next, err, sizeof err))
        next = 0;
    json_add_time(o, "next_run_at", next);
    json_add_time(o, "last_scheduled_at", p->last_fire_at);
    cJSON_AddNumberToObject(o, "skipped_runs", (double)p->skipped_fires);
    json_add_time(o, "created_at", p->created_at);
    json_add_time(o, "updated_at", p->updated_at);
    return o;
}

static bool valid_labels(const cJSON *labels, char *err, size_t errlen)
{
    const cJSON *item;
    int n = 0;
    cJSON_ArrayForEach(item, labels)
    {
        if (!cJSON_IsString(item) || strlen(item->string) > 63 || strlen(item->valuestring) > 256)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "labels: values must be strings (keys up to 63, values up to 256 "
                            "characters)"),
                   false;
        if (++n > 64)
            return qb_failf(QB_ERR_INVALID, err, errlen, "labels: at most 64 labels"), false;
    }
    return true;
}

/* Reads "collections" / "full_instance" into scope and the JSON array. */
static enum qb_err parse_scope(const cJSON *body, struct store_plan *p, char *err, size_t errlen)
{
    bool full = false;
    enum qb_err rc = json_get_bool(body, "full_instance", &full, err, errlen);
    if (rc == QB_ERR_INVALID)
        return rc;
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(body, "collections");
    bool has_cols = cols && !cJSON_IsNull(cols);
    if (full && has_cols)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "collections: must be omitted when full_instance is true");
    if (full) {
        p->scope = xstrdup("full");
        return QB_OK;
    }
    if (!has_cols)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "collections: is required (a list of names, or \"*\" for every "
                        "collection) unless full_instance is true");
    if (cJSON_IsString(cols) && strcmp(cols->valuestring, "*") == 0) {
        p->scope = xstrdup("all");
        return QB_OK;
    }
    if (!cJSON_IsArray(cols) || cJSON_GetArraySize(cols) == 0)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "collections: must be a non-empty list of names or \"*\"");
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, cols)
    {
        /* Names become object-key segments (storage.h): at most 200
         * bytes, no '/', not "." or "..". */
        if (!cJSON_IsString(item) || !*item->valuestring || strlen(item->valuestring) > 200 ||
            strchr(item->valuestring, '/') || strcmp(item->valuestring, ".") == 0 ||
            strcmp(item->valuestring, "..") == 0)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "collections[%d]: each must be a collection name (1-200 characters, "
                            "no '/', not \".\" or \"..\")",
                            i);
        if (strcmp(item->valuestring, "*") == 0) {
            if (cJSON_GetArraySize(cols) != 1)
                return qb_failf(QB_ERR_INVALID, err, errlen,
                                "collections[%d]: \"*\" cannot be combined with names", i);
            p->scope = xstrdup("all");
            return QB_OK;
        }
        /* A twin would back the collection up twice in one run; each
         * snapshot is kept apart (backup_job.c object_key), but a list
         * naming one twice is a mistake worth saying. */
        const cJSON *prev = cols->child;
        for (int j = 0; j < i; j++, prev = prev->next)
            if (strcmp(prev->valuestring, item->valuestring) == 0)
                return qb_failf(QB_ERR_INVALID, err, errlen,
                                "collections[%d]: \"%.200s\" is listed twice (also "
                                "collections[%d])",
                                i, item->valuestring, j);
        i++;
    }
    p->scope = xstrdup("collections");
    p->collections = cJSON_PrintUnformatted(cols);
    return QB_OK;
}

static enum qb_err parse_strings(const cJSON *body, struct store_plan *p, char *err, size_t errlen)
{
    const char *instance = "default", *destination = "local", *schedule = NULL, *tz = "UTC",
               *prefix = "";
    enum qb_err rc = json_get_string(body, "instance", &instance, err, errlen);
    if (rc != QB_ERR_INVALID)
        rc = json_get_string(body, "destination", &destination, err, errlen);
    if (rc != QB_ERR_INVALID)
        rc = json_get_string(body, "schedule", &schedule, err, errlen);
    if (rc != QB_ERR_INVALID)
        rc = json_get_string(body, "timezone", &tz, err, errlen);
    if (rc != QB_ERR_INVALID)
        rc = json_get_string(body, "key_prefix", &prefix, err, errlen);
    if (rc == QB_ERR_INVALID)
        return rc;
    /* The zone is checked even without a schedule: a plan may get one
     * later, and a stored typo would surface only then. */
    if (schedule_check(schedule ? schedule : "@daily", tz, err, errlen))
        return QB_ERR_INVALID;
    char sub[QB_ERRBUF_SIZE / 2];
    if (*prefix && storage_key_check(prefix, sub, sizeof sub))
        return qb_failf(QB_ERR_INVALID, err, errlen, "key_prefix: %s", sub);
    p->instance = xstrdup(instance);
    p->destination = xstrdup(destination);
    p->schedule = schedule ? xstrdup(schedule) : NULL;
    p->timezone = xstrdup(tz);
    p->key_prefix = xstrdup(prefix);
    return QB_OK;
}

/* Fills p from body (all fields but name).  Replies and returns false on
 * invalid input. */
static bool plan_from_body(struct http_request *req, const cJSON *body, struct store_plan *p)
{
    char err[QB_ERRBUF_SIZE];
    struct retention_policy policy;
    int64_t alert = 0;
    p->verify = true;
    p->enabled = true;
    enum qb_err rc = json_reject_unknown(body, plan_fields, err, sizeof err);
    if (!rc)
        rc = parse_scope(body, p, err, sizeof err);
    if (!rc)
        rc = parse_strings(body, p, err, sizeof err);
    const cJSON *retention = cJSON_GetObjectItemCaseSensitive(body, "retention");
    if (!rc)
        rc = retention_policy_from_json(retention, &policy, err, sizeof err);
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_bool(body, "verify", &p->verify, err, sizeof err);
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_bool(body, "enabled", &p->enabled, err, sizeof err);
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_bool(body, "requeue_interrupted", &p->requeue_interrupted, err, sizeof err);
    const char *method = NULL;
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_string(body, "shard_method", &method, err, sizeof err);
    if (rc == QB_OK && strcmp(method, "snapshot") != 0 && strcmp(method, "stream") != 0) {
        snprintf(err, sizeof err, "shard_method: must be \"snapshot\" or \"stream\"");
        rc = QB_ERR_INVALID;
    }
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_int(body, "alert_after", 60, 366LL * 86400, &alert, err, sizeof err);
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(body, "labels");
    if ((!rc || rc == QB_ERR_NOT_FOUND) && labels && !cJSON_IsNull(labels) &&
        (!cJSON_IsObject(labels) || !valid_labels(labels, err, sizeof err))) {
        if (!cJSON_IsObject(labels))
            snprintf(err, sizeof err, "labels: must be an object of strings");
        rc = QB_ERR_INVALID;
    }
    if (rc && rc != QB_ERR_NOT_FOUND) {
        api_reply_invalid(req, err);
        return false;
    }
    p->retention =
        retention && !cJSON_IsNull(retention) ? cJSON_PrintUnformatted(retention) : xstrdup("{}");
    p->labels = labels && !cJSON_IsNull(labels) ? cJSON_PrintUnformatted(labels) : xstrdup("{}");
    p->alert_after_s = alert;
    p->shard_method = xstrdup(method ? method : "snapshot");
    return true;
}

static void clear_plan(struct store_plan *p)
{
    free(p->name);
    free(p->instance);
    free(p->destination);
    free(p->scope);
    free(p->collections);
    free(p->schedule);
    free(p->timezone);
    free(p->key_prefix);
    free(p->retention);
    free(p->labels);
    free(p->shard_method);
    memset(p, 0, sizeof *p);
}

static void reply_plan(struct http_request *req, const char *name, unsigned status)
{
    struct app *app = http_req_app(req);
    struct store_plan *p = NULL;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = store_plan_get(app->store, name, &p, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    http_reply_json_steal(req, status, api_plan_json(p));
    store_plan_free(p);
}

/* Maps store errors of insert/update: unknown references are the client's
 * 422 (well-formed, but naming nothing). */
static void reply_write_error(struct http_request *req, enum qb_err rc, const char *err)
{
    if (rc == QB_ERR_NOT_FOUND &&
        (strncmp(err, "instance:", 9) == 0 || strncmp(err, "destination:", 12) == 0)) {
        char field[16];
        snprintf(field, sizeof field, "%.*s", (int)strcspn(err, ":"), err);
        http_reply_problem_field(req, API_ERR_UNPROCESSABLE, field, "%s", err);
    } else if (rc == QB_ERR_CONFLICT && strstr(err, "already exists")) {
        http_reply_problem_field(req, API_ERR_ALREADY_EXISTS, "name", "%s", err);
    } else {
        http_reply_error(req, rc, err);
    }
}

void api_plans_list(struct http_request *req)
{
    struct app *app = http_req_app(req);
    struct store_plan **list = NULL;
    size_t n = 0;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = store_plan_list(app->store, &list, &n, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(body, "items");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(items, api_plan_json(list[i]));
    store_plan_list_free(list, n);
    http_reply_json_steal(req, 200, body);
}

void api_plans_create(struct http_request *req)
{
    struct app *app = http_req_app(req);
    struct store_plan p;
    char err[QB_ERRBUF_SIZE];
    const char *name = NULL;
    memset(&p, 0, sizeof p);
    const cJSON *body = api_body_object(req);
    if (!body)
        return;
    name = api_body_name(req, body);
    if (!name)
        return;
    if (!plan_from_body(req, body, &p))
        goto out;
    p.name = xstrdup(name);
    enum qb_err rc = store_plan_insert(app->store, &p, err, sizeof err);
    if (rc) {
        reply_write_error(req, rc, err);
        goto out;
    }
    reply_plan(req, name, 201);
    char location[128];
    snprintf(location, sizeof location, "/v1/plans/%s", name);
    http_reply_header(req, "Location", location);
out:
    clear_plan(&p);
}

void api_plans_get(struct http_request *req)
{
    const char *name = api_path_name(req, "plan");
    if (name)
        reply_plan(req, name, 200);
}

void api_plans_replace(struct http_request *req)
{
    struct app *app = http_req_app(req);
    struct store_plan p;
    char err[QB_ERRBUF_SIZE];
    const char *body_name = NULL;
    memset(&p, 0, sizeof p);
    const char *name = api_path_name(req, "plan");
    const cJSON *body = name ? api_body_object(req) : NULL;
    if (!body)
        return;
    if (json_get_string(body, "name", &body_name, err, sizeof err) == QB_OK &&
        strcmp(body_name, name) != 0) {
        http_reply_problem_field(req, API_ERR_UNPROCESSABLE, "name", "plans cannot be renamed");
        return;
    }
    if (!plan_from_body(req, body, &p))
        goto out;
    p.name = xstrdup(name);
    enum qb_err rc = store_plan_update(app->store, &p, err, sizeof err);
    if (rc) {
        reply_write_error(req, rc, err);
        goto out;
    }
    reply_plan(req, name, 200);
out:
    clear_plan(&p);
}

void api_plans_delete(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    struct store_plan *p = NULL;
    bool active = false;
    const char *name = api_path_name(req, "plan");
    if (!name)
        return;
    enum qb_err rc = store_plan_get(app->store, name, &p, err, sizeof err);
    if (!rc)
        rc = store_run_plan_active(app->store, p->id, &active, err, sizeof err);
    if (!rc && active)
        rc = qb_failf(QB_ERR_CONFLICT, err, sizeof err,
                      "plan \"%s\" has a queued or running run; cancel it first", name);
    if (!rc)
        rc = store_plan_delete(app->store, name, err, sizeof err);
    store_plan_free(p);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    http_reply_empty(req, 204);
}
