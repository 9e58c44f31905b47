/* SPDX-License-Identifier: Apache-2.0
 *
 * api_plans.c -- /v1/plans: what to back up, when, where, for how long.
 *
 * {"name", "instance", "destination", "collections": ["a","prod_*"] | "*",
 *  "exclude": ["prod_tmp*"], "full_instance": false,
 *  "schedule": "0 3 * * *" | null, "timezone": "UTC",
 *  "key_prefix": "", "retention": {...}, "verify": true, "verify_mode": "quick",
 *  "alert_after": seconds | null, "enabled": true, "labels": {"k": "v"}}
 *
 * Collection names must be ones Qdrant could have (see
 * qdrant_collection_name_ok) and appear once; an entry with `*` or `?` is a
 * pattern (engine/collsel.h), resolved when each run starts.  When the
 * instance answers, create and replace also check that each named (not
 * pattern) collection exists there
 * (422 naming the missing one), on a task thread while the request waits;
 * "allow_missing_collections": true in the body skips that check for
 * collections created later.  An instance that does not answer within
 * PLAN_CHECK_MS does not stop the write: a missing collection then fails
 * its part of each run, in words.
 */
#include "api/api.h"
#include "api/api_common.h"
#include "api/app.h"
#include "engine/collsel.h"
#include "engine/retention_apply.h"
#include "engine/reverify.h"
#include "sched/sched.h"
#include "engine/tasks.h"
#include "http/http_reply.h"
#include "remote/qdrant_client.h"
#include "storage/storage.h"
#include "store/store_instances.h"
#include "store/store_plans.h"
#include "store/store_runs.h"
#include "util/json_util.h"
#include "util/log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long create and replace wait for the instance to list its
 * collections before writing the plan unchecked: long enough for a
 * healthy Qdrant far away, short enough for a person at a terminal. */
#define PLAN_CHECK_MS 5000

/* Settable members, then read-only ones a client may send back unchanged
 * (GET, edit, PUT): accepted and ignored. */
static const char *const plan_fields[] = {
    "name",
    "instance",
    "destination",
    "collections",
    "exclude",
    "full_instance",
    "schedule",
    "timezone",
    "key_prefix",
    "retention",
    "verify",
    "verify_mode",
    "alert_after",
    "enabled",
    "requeue_interrupted",
    "shard_method",
    "labels",
    "reverify",
    /* request-only: skip the existence check of this create or replace */
    "allow_missing_collections",
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
    return schedule_alert_after(p->schedule, p->timezone, p->alert_after_s, qb_now_ms() / 1000);
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
    cJSON_AddItemToObject(o, "exclude", cJSON_Parse(p->exclude ? p->exclude : "[]"));
    cJSON_AddItemToObject(o, "schedule",
                          p->schedule ? cJSON_CreateString(p->schedule) : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "timezone", p->timezone);
    cJSON_AddStringToObject(o, "key_prefix", p->key_prefix);
    cJSON_AddItemToObject(o, "retention", cJSON_Parse(p->retention));
    cJSON_AddBoolToObject(o, "verify", p->verify);
    cJSON_AddStringToObject(o, "verify_mode", p->verify_mode ? p->verify_mode : "full");
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
    cJSON *rv = p->reverify ? cJSON_Parse(p->reverify) : NULL;
    cJSON_AddItemToObject(o, "reverify", rv ? rv : cJSON_CreateNull());
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

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* Whether name could be a Qdrant collection; *why says what is wrong.
 * Qdrant refuses to create a collection whose name is empty or over 255
 * characters or contains one of < > : " / \ | ? * NUL U+001F
 * (qdrant/qdrant src/actix/api/mod.rs StrictCollectionPath, and
 * validate_collection_name in lib/common/common/src/validation.rs), so
 * such a name (say "prod_*", meant as a pattern) can only fail every run.
 * Names also become one segment of object keys (storage.h): at most 200
 * bytes, not "." or "..", no control characters, valid UTF-8, not a
 * temp-file name; storage_key_check applies those rules. */
static bool qdrant_collection_name_ok(const char *name, const char **why)
{
    static const char forbidden[] = "<>:\"/\\|?*";
    char probe[256], sub[QB_ERRBUF_SIZE];
    const char *bad = strpbrk(name, forbidden);
    if (!*name) {
        *why = "it is empty";
        return false;
    }
    if (bad) {
        static const char *const reasons[] = {
            "it contains '<', which Qdrant refuses in collection names",
            "it contains '>', which Qdrant refuses in collection names",
            "it contains ':', which Qdrant refuses in collection names",
            "it contains '\"', which Qdrant refuses in collection names",
            "it contains '/', which Qdrant refuses in collection names",
            "it contains '\\', which Qdrant refuses in collection names",
            "it contains '|', which Qdrant refuses in collection names",
            "it contains '?', which Qdrant refuses in collection names",
            ("it contains '*', which Qdrant refuses in collection names (patterns are not "
             "supported: list the names, or use \"*\" alone for every collection)"),
        };
        *why = reasons[strchr(forbidden, *bad) - forbidden];
        return false;
    }
    if (strlen(name) > 200) {
        *why = "it is longer than 200 bytes (one object-key segment)";
        return false;
    }
    if (has_control(name)) {
        *why = "it contains a control character";
        return false;
    }
    snprintf(probe, sizeof probe, "p/%s/k", name);
    if (storage_key_check(probe, sub, sizeof sub)) {
        *why = "it cannot be part of an object key (\".\", \"..\", \".qb-tmp.\" or not UTF-8)";
        return false;
    }
    return true;
}

/* One entry of "collections" or "exclude": a name Qdrant could have, or a
 * pattern (engine/collsel.h) whose other characters could be one. */
static enum qb_err check_entry(const char *field, int i, const cJSON *item, char *err,
                               size_t errlen)
{
    const char *why = NULL;
    if (!cJSON_IsString(item))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "%s[%d]: must be a string (a collection name or pattern)", field, i);
    const char *s = item->valuestring;
    bool pattern = collsel_is_pattern(s);
    char *probe = xstrdup(s);
    for (char *c = probe; pattern && *c; c++)
        if (*c == '*' || *c == '?')
            *c = 'x'; /* a wildcard stands for name characters */
    bool ok = qdrant_collection_name_ok(probe, &why);
    free(probe);
    if (!ok)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "%s[%d]: \"%.64s%s\" cannot be a Qdrant collection name%s: %s", field, i, s,
                        strlen(s) > 64 ? "..." : "", pattern ? " pattern" : "", why);
    char perr[QB_ERRBUF_SIZE / 2];
    if (pattern && collsel_pattern_check(s, perr, sizeof perr))
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s[%d]: \"%.64s\": %s", field, i, s, perr);
    return QB_OK;
}

/* A list of names and patterns, each once; empty allowed only when
 * allow_empty. */
static enum qb_err check_list(const char *field, const cJSON *list, bool allow_empty, char *err,
                              size_t errlen)
{
    if (!cJSON_IsArray(list) || (!allow_empty && cJSON_GetArraySize(list) == 0))
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: must be a %slist of names or patterns",
                        field, allow_empty ? "" : "non-empty ");
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, list)
    {
        enum qb_err rc = check_entry(field, i, item, err, errlen);
        if (rc)
            return rc;
        /* A twin would back the collection up twice in one run; each
         * snapshot is kept apart (backup_job.c object_key), but a list
         * naming one twice is a mistake worth saying. */
        const cJSON *prev = list->child;
        for (int j = 0; j < i; j++, prev = prev->next)
            if (strcmp(prev->valuestring, item->valuestring) == 0)
                return qb_failf(QB_ERR_INVALID, err, errlen,
                                "%s[%d]: \"%.200s\" is listed twice (also %s[%d])", field, i,
                                item->valuestring, field, j);
        i++;
    }
    return QB_OK;
}

/* Reads "exclude": names and patterns removed from the selection. */
static enum qb_err parse_exclude(const cJSON *body, struct store_plan *p, char *err, size_t errlen)
{
    const cJSON *exc = cJSON_GetObjectItemCaseSensitive(body, "exclude");
    if (!exc || cJSON_IsNull(exc)) {
        p->exclude = xstrdup("[]");
        return QB_OK;
    }
    if (strcmp(p->scope, "full") == 0)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "exclude: must be omitted when full_instance is true (a full snapshot "
                        "holds every collection)");
    enum qb_err rc = check_list("exclude", exc, true, err, errlen);
    if (rc)
        return rc;
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, exc)
    {
        if (strspn(item->valuestring, "*") == strlen(item->valuestring))
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "exclude[%d]: \"%s\" would exclude every collection", i,
                            item->valuestring);
        i++;
    }
    p->exclude = cJSON_PrintUnformatted(exc);
    return QB_OK;
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
        return parse_exclude(body, p, err, errlen);
    }
    if (!has_cols)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "collections: is required (a list of names, or \"*\" for every "
                        "collection) unless full_instance is true");
    bool star = cJSON_IsString(cols) && strcmp(cols->valuestring, "*") == 0;
    const cJSON *first = cJSON_IsArray(cols) ? cJSON_GetArrayItem(cols, 0) : NULL;
    if (!star && cJSON_IsString(first) && strcmp(first->valuestring, "*") == 0) {
        if (cJSON_GetArraySize(cols) != 1)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "collections[1]: \"*\" already selects every collection; list "
                            "what to leave out in \"exclude\"");
        star = true;
    }
    if (star) {
        p->scope = xstrdup("all");
        return parse_exclude(body, p, err, errlen);
    }
    rc = check_list("collections", cols, false, err, errlen);
    if (rc)
        return rc;
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, cols)
    {
        if (strcmp(item->valuestring, "*") == 0)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "collections[%d]: \"*\" cannot be combined with names", i);
        i++;
    }
    p->scope = xstrdup("collections");
    p->collections = cJSON_PrintUnformatted(cols);
    return parse_exclude(body, p, err, errlen);
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
    /* The parsers are lenient about spaces at the ends and never see a
     * control character as such; the stored text must be what runs. */
    if (schedule && (!*schedule || isspace((unsigned char)schedule[0]) ||
                     isspace((unsigned char)schedule[strlen(schedule) - 1])))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "schedule: must not be empty or start or end with white space (leave it "
                        "out, or null, for on-demand only)");
    if (schedule && has_control(schedule))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "schedule: must not contain control characters");
    if (!*tz || has_control(tz))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "timezone: must be an IANA time zone name such as \"UTC\" or "
                        "\"Europe/Berlin\" (leave it out for UTC)");
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

/* Reads "reverify": {"schedule": cron (in the plan's timezone),
 * "max_bytes": budget per pass} or null/absent for none. */
static enum qb_err parse_reverify(const cJSON *body, struct store_plan *p, char *err, size_t errlen)
{
    static const char *const fields[] = {"schedule", "max_bytes", NULL};
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(body, "reverify");
    const char *expr = NULL;
    int64_t max = REVERIFY_MAX_BYTES_DEFAULT;
    char sub[QB_ERRBUF_SIZE / 2];
    if (!rv || cJSON_IsNull(rv))
        return QB_OK;
    if (!cJSON_IsObject(rv))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "reverify: must be an object {\"schedule\", \"max_bytes\"} or null");
    enum qb_err rc = json_reject_unknown(rv, fields, sub, sizeof sub);
    if (!rc)
        rc = json_get_string(rv, "schedule", &expr, sub, sizeof sub);
    if (rc == QB_ERR_NOT_FOUND)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "reverify.schedule: is required (a cron expression, as for schedule)");
    if (!rc && (!*expr || has_control(expr) || isspace((unsigned char)expr[0]) ||
                isspace((unsigned char)expr[strlen(expr) - 1])))
        rc = qb_failf(QB_ERR_INVALID, sub, sizeof sub,
                      "schedule: must not be empty, start or end with white space");
    if (!rc)
        rc = schedule_check(expr, p->timezone, sub, sizeof sub);
    if (!rc)
        rc = json_get_int(rv, "max_bytes", 1, INT64_C(1) << 53, &max, sub, sizeof sub);
    if (rc && rc != QB_ERR_NOT_FOUND)
        return qb_failf(QB_ERR_INVALID, err, errlen, "reverify.%s", sub);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "schedule", expr);
    cJSON_AddNumberToObject(o, "max_bytes", (double)max);
    p->reverify = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return QB_OK;
}

/* Fills p from body (all fields but name) and *allow_missing from the
 * request-only "allow_missing_collections".  Replies and returns false on
 * invalid input. */
static bool plan_from_body(struct http_request *req, const cJSON *body, struct store_plan *p,
                           bool *allow_missing)
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
    if (!rc)
        rc = parse_reverify(body, p, err, sizeof err);
    const cJSON *retention = cJSON_GetObjectItemCaseSensitive(body, "retention");
    if (!rc)
        rc = retention_policy_from_json(retention, &policy, err, sizeof err);
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_bool(body, "verify", &p->verify, err, sizeof err);
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_bool(body, "enabled", &p->enabled, err, sizeof err);
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_bool(body, "requeue_interrupted", &p->requeue_interrupted, err, sizeof err);
    *allow_missing = false;
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_bool(body, "allow_missing_collections", allow_missing, err, sizeof err);
    const char *method = NULL;
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_string(body, "shard_method", &method, err, sizeof err);
    if (rc == QB_OK && strcmp(method, "snapshot") != 0 && strcmp(method, "stream") != 0) {
        snprintf(err, sizeof err, "shard_method: must be \"snapshot\" or \"stream\"");
        rc = QB_ERR_INVALID;
    }
    /* Omitted: "quick" for a new or replaced plan (migration 0012 keeps
     * "full" on plans stored before the setting existed). */
    const char *vmode = NULL;
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_string(body, "verify_mode", &vmode, err, sizeof err);
    if (rc == QB_OK && strcmp(vmode, "quick") != 0 && strcmp(vmode, "full") != 0) {
        snprintf(err, sizeof err, "verify_mode: must be \"quick\" or \"full\"");
        rc = QB_ERR_INVALID;
    }
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_int(body, "alert_after", 60, 366LL * 86400, &alert, err, sizeof err);
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(body, "labels");
    if ((!rc || rc == QB_ERR_NOT_FOUND) && labels && !cJSON_IsNull(labels))
        rc = api_labels_check(labels, err, sizeof err);
    if (rc && rc != QB_ERR_NOT_FOUND) {
        api_reply_invalid(req, err);
        return false;
    }
    p->retention =
        retention && !cJSON_IsNull(retention) ? cJSON_PrintUnformatted(retention) : xstrdup("{}");
    p->labels = labels && !cJSON_IsNull(labels) ? cJSON_PrintUnformatted(labels) : xstrdup("{}");
    p->alert_after_s = alert;
    p->shard_method = xstrdup(method ? method : "snapshot");
    p->verify_mode = xstrdup(vmode ? vmode : "quick");
    return true;
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
    cJSON *items = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(items, api_plan_json(list[i]));
    store_plan_list_free(list, n);
    api_reply_items(req, items);
}

/* Inserts (create) or updates p and replies with the plan. */
static void write_plan(struct http_request *req, struct store_plan *p, bool create)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = create ? store_plan_insert(app->store, p, err, sizeof err)
                            : store_plan_update(app->store, p, err, sizeof err);
    if (rc && !(create && rc == QB_ERR_CONFLICT))
        reply_write_error(req, rc, err);
    else if (create)
        api_reply_created(req, rc, err, "/v1/plans", p->name, reply_plan);
    else
        reply_plan(req, p->name, 200);
}

/* ------------------------------------------------- the existence check */

/* A create or replace waiting for the instance to say which of the named
 * collections exist.  Shared by the task thread (reads plan, writes the
 * result fields) and the request (reads the result once task.done is
 * set, or reads only plan when it stops waiting first). */
struct plan_write {
    struct task task;
    struct store *store;
    struct store_plan plan; /* owned */
    bool create;
    /* set by the task */
    bool checked;             /* the instance answered for every name */
    cJSON *missing;           /* [{"index": i, "name": n}] of names it does not have */
    char why[QB_ERRBUF_SIZE]; /* when !checked: why not */
};

/* Whether the instance has collection name: in its list, or by asking for
 * it (an alias is not listed but is backed up like its collection).
 * QB_ERR_NOT_FOUND when it has none such. */
static enum qb_err has_collection(struct qdrant_client *qc, char **names, size_t n,
                                  const char *name, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return QB_OK;
    struct qdrant_collection_info info;
    enum qb_err rc = qdrant_collection_info(qc, name, &info, err, errlen);
    if (!rc)
        qdrant_collection_info_free(&info);
    return rc;
}

static void check_collections(struct task *t)
{
    struct plan_write *w = (struct plan_write *)t;
    struct store_instance *inst = NULL;
    struct qdrant_client *qc = NULL;
    char **names = NULL;
    size_t n = 0;
    cJSON *cols = NULL;
    enum qb_err rc = store_instance_get(w->store, w->plan.instance, &inst, w->why, sizeof w->why);
    if (rc)
        goto out; /* an unknown instance is the write's 422 */
    long timeout = (long)inst->timeout_s * 1000;
    struct qdrant_config cfg = {
        .url = inst->url,
        .api_key = inst->api_key,
        .insecure = !inst->tls_verify,
        .ca_file = inst->ca_file,
        .timeout_ms = timeout < PLAN_CHECK_MS ? timeout : PLAN_CHECK_MS,
        .connect_timeout_ms = PLAN_CHECK_MS,
    };
    rc = qdrant_client_create(&cfg, &qc, w->why, sizeof w->why);
    if (!rc)
        rc = qdrant_list_collections(qc, &names, &n, w->why, sizeof w->why);
    cols = rc ? NULL : cJSON_Parse(w->plan.collections);
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, cols)
    {
        if (collsel_is_pattern(item->valuestring)) {
            i++;
            continue; /* matched at run time; matching nothing is no error now */
        }
        enum qb_err hrc = has_collection(qc, names, n, item->valuestring, w->why, sizeof w->why);
        if (hrc == QB_ERR_NOT_FOUND) {
            if (!w->missing)
                w->missing = cJSON_CreateArray();
            cJSON *m = cJSON_CreateObject();
            cJSON_AddNumberToObject(m, "index", i);
            cJSON_AddStringToObject(m, "name", item->valuestring);
            cJSON_AddItemToArray(w->missing, m);
        } else if (hrc) {
            rc = hrc;
            break;
        }
        i++;
    }
    w->checked = cols && !rc;
out:
    cJSON_Delete(cols);
    qdrant_strings_free(names, n);
    qdrant_client_destroy(qc);
    store_instance_free(inst);
}

static void destroy_plan_write(struct task *t)
{
    struct plan_write *w = (struct plan_write *)t;
    store_plan_clear(&w->plan);
    cJSON_Delete(w->missing);
    free(w);
}

/* 422 naming the first missing collection (and the others in words). */
static void reply_missing(struct http_request *req, const struct plan_write *w)
{
    const cJSON *first = cJSON_GetArrayItem(w->missing, 0);
    int index = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(first, "index"));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "name"));
    char field[32], others[QB_ERRBUF_SIZE / 2] = "";
    snprintf(field, sizeof field, "collections[%d]", index);
    size_t used = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, w->missing)
    {
        if (m == first || used >= sizeof others - 1)
            continue;
        const char *other = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "name"));
        int k = snprintf(others + used, sizeof others - used, "%s\"%.64s\"",
                         used ? ", " : "; also missing: ", other ? other : "");
        used += k > 0 ? (size_t)k : 0;
    }
    http_reply_problem_field(req, API_ERR_UNPROCESSABLE, field,
                             "%s: collection \"%.64s\" does not exist on instance %s%s. Create "
                             "it first, or send \"allow_missing_collections\": true to keep it "
                             "in the plan (its runs fail for it until it exists)",
                             field, name ? name : "", w->plan.instance, others);
}

static bool poll_plan_write(struct http_request *req, void *ctx, bool expired)
{
    struct plan_write *w = ctx;
    bool done = atomic_load(&w->task.done);
    if (!done && !expired)
        return false;
    if (done && w->checked && w->missing) {
        reply_missing(req, w);
        return true;
    }
    if (!done || !w->checked)
        log_info("plan.collections_unchecked", "plan=%s instance=%s reason=%s", log_q(w->plan.name),
                 log_q(w->plan.instance),
                 log_q(done ? w->why : "the instance did not answer in time"));
    write_plan(req, &w->plan, w->create);
    return true;
}

/* Writes p once the instance says its collections exist; takes p's
 * contents (p is left empty). */
static void check_then_write(struct http_request *req, struct store_plan *p, bool create)
{
    struct app *app = http_req_app(req);
    struct plan_write *w = xcalloc(1, sizeof *w);
    task_init(&w->task, check_collections, destroy_plan_write);
    w->store = app->store;
    w->plan = *p;
    memset(p, 0, sizeof *p);
    w->create = create;
    tasks_submit(app->tasks, &w->task);
    /* A little past the client's own timeout, so an answer that comes
     * just in time is still used. */
    http_req_defer(req, qb_mono_ms() + PLAN_CHECK_MS + 1000, poll_plan_write, w, task_release_ctx);
}

/* Writes the plan, after the existence check when it names collections. */
static void check_and_write(struct http_request *req, struct store_plan *p, bool create,
                            bool allow_missing)
{
    if (strcmp(p->scope, "collections") == 0 && !allow_missing)
        check_then_write(req, p, create);
    else
        write_plan(req, p, create);
}

void api_plans_create(struct http_request *req)
{
    struct store_plan p;
    const char *name = NULL;
    bool allow_missing = false;
    memset(&p, 0, sizeof p);
    const cJSON *body = api_body_object(req);
    if (!body)
        return;
    name = api_body_name(req, body);
    if (!name)
        return;
    if (!plan_from_body(req, body, &p, &allow_missing))
        goto out;
    p.name = xstrdup(name);
    check_and_write(req, &p, true, allow_missing);
out:
    store_plan_clear(&p);
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
    struct store_plan p, *old = NULL;
    char err[QB_ERRBUF_SIZE];
    bool allow_missing = false;
    memset(&p, 0, sizeof p);
    const char *name = NULL;
    const cJSON *body = api_replace_body(req, "plan", &name);
    if (!body)
        return;
    if (!plan_from_body(req, body, &p, &allow_missing))
        goto out;
    /* A missing plan is 404 before anyone asks Qdrant anything. */
    enum qb_err rc = store_plan_get(app->store, name, &old, err, sizeof err);
    store_plan_free(old);
    if (rc) {
        http_reply_error(req, rc, err);
        goto out;
    }
    p.name = xstrdup(name);
    check_and_write(req, &p, false, allow_missing);
out:
    store_plan_clear(&p);
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
