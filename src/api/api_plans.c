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
#include "api/api_plan_body.h"
#include "api/api_plan_copies.h"
#include "engine/collsel.h"
#include "engine/retention_apply.h"
#include "sched/sched.h"
#include "engine/tasks.h"
#include "http/http_reply.h"
#include "remote/qdrant_client.h"
#include "storage/storage.h"
#include "store/store_destinations.h"
#include "store/store_instances.h"
#include "store/store_plans.h"
#include "store/store_runs.h"
#include "util/json_util.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long create and replace wait for the instance to list its
 * collections before writing the plan unchecked: long enough for a
 * healthy Qdrant far away, short enough for a person at a terminal. */
#define PLAN_CHECK_MS 5000

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
    api_add_rate(o, "max_bytes_per_second", p->max_bytes_per_second);
    cJSON *comp = cJSON_AddObjectToObject(o, "compression");
    cJSON_AddStringToObject(comp, "codec", p->compression ? p->compression : "none");
    cJSON_AddNumberToObject(comp, "level",
                            (double)(p->compression_level > 0 ? p->compression_level : 3));
    /* The reference (a path or a variable name), never a key. */
    cJSON *enc = p->encryption ? cJSON_Parse(p->encryption) : NULL;
    cJSON_AddItemToObject(o, "encryption", enc ? enc : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "copies", api_plan_copies_json(p));
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

static cJSON *plan_reply_json(struct http_request *req, const struct store_plan *p)
{
    (void)req;
    return api_plan_json(p);
}

API_DEFINE_REPLY_ROW(reply_plan, const char *, struct store_plan, store_plan_get, store_plan_free,
                     plan_reply_json)

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

API_DEFINE_LIST(api_plans_list, struct store_plan, store_plan_list, store_plan_list_free,
                api_plan_json)

/* A lock asked of a local folder is bad input, known without asking any
 * store (whether an S3 bucket has Object Lock is its run's first check). */
static bool lock_refused(struct http_request *req, const struct store_plan *p)
{
    struct app *app = http_req_app(req);
    struct retention_lock lock;
    struct store_destination *d = NULL;
    char err[QB_ERRBUF_SIZE];
    cJSON *ret = cJSON_Parse(p->retention);
    bool locks = retention_lock_from_json(ret, &lock, err, sizeof err) == QB_OK && lock.mode[0];
    cJSON_Delete(ret);
    if (!locks || store_destination_get(app->store, p->destination, false, &d, err, sizeof err))
        return false; /* a missing destination is the write's own 422 */
    bool local = strcmp(d->kind, "local") == 0;
    store_destination_free(d);
    if (local)
        http_reply_problem_field(req, API_ERR_INVALID_FIELD, "retention.object_lock",
                                 "retention.object_lock: destination %s is a local folder, which "
                                 "cannot lock objects (S3 Object Lock only)",
                                 p->destination);
    return local;
}

/* Inserts (create) or updates p and replies with the plan. */
static void write_plan(struct http_request *req, struct store_plan *p, bool create)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    if (lock_refused(req, p))
        return;
    enum qb_err rc = create ? store_plan_insert(app->store, p, err, sizeof err)
                            : store_plan_update(app->store, p, err, sizeof err);
    if (rc && !(create && rc == QB_ERR_CONFLICT)) {
        reply_write_error(req, rc, err);
    } else if (create) {
        api_reply_created(req, rc, err, "plan", p->name, p->max_bytes_per_second, reply_plan);
    } else {
        /* Running transfers slow down or speed up at once, not next run. */
        engine_set_limit(app->engine, "plan", p->name, p->max_bytes_per_second);
        reply_plan(req, p->name, 200);
    }
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

/* The plan `name` from body, written as a create or a replace of one that
 * exists (404 before anyone asks Qdrant anything otherwise). */
static void plan_from_request(struct http_request *req, const cJSON *body, const char *name,
                              bool create)
{
    struct app *app = http_req_app(req);
    struct store_plan p, *old = NULL;
    char err[QB_ERRBUF_SIZE];
    bool allow_missing = false;
    memset(&p, 0, sizeof p);
    if (!api_plan_from_body(req, body, &p, &allow_missing))
        goto out;
    enum qb_err rc = create ? QB_OK : store_plan_get(app->store, name, &old, err, sizeof err);
    store_plan_free(old);
    if (rc) {
        http_reply_error(req, rc, err);
        goto out;
    }
    p.name = xstrdup(name);
    check_and_write(req, &p, create, allow_missing);
out:
    store_plan_clear(&p);
}

void api_plans_create(struct http_request *req)
{
    const char *name = NULL;
    const cJSON *body = api_body_object(req);
    if (body)
        name = api_body_name(req, body);
    if (name)
        plan_from_request(req, body, name, true);
}

void api_plans_get(struct http_request *req)
{
    api_get_named(req, "plan", reply_plan);
}

void api_plans_replace(struct http_request *req)
{
    const char *name = NULL;
    const cJSON *body = api_replace_body(req, "plan", &name);
    if (body)
        plan_from_request(req, body, name, false);
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
