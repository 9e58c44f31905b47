/* SPDX-License-Identifier: Apache-2.0
 *
 * api_restores.c -- POST /v1/restores: queue a restore run.
 *
 * The body names what to restore: {"snapshot_id": 12}, or {"plan": "p",
 * "collection": "c", "snapshot": "latest"} (the newest verified snapshot),
 * or {"plan", "collection", "latest_before": "<RFC 3339>"}; and where:
 * "target_instance" (default: the snapshot's), "target_collection"
 * (default: the same name), "priority", "method" ("upload" default, or
 * "url"), "overwrite" (default false), "safety_snapshot" (default: equal to
 * overwrite).  ?wait and Idempotency-Key work as for backup runs.
 *
 * Before queueing, a task asks the target instance whether the collection
 * exists, so that restoring over it without "overwrite" is refused at once
 * with 409 and changes nothing (the run checks again before acting).
 */
#include "api/api.h"
#include "api/api_common.h"
#include "api/app.h"
#include "engine/resolve.h"
#include "engine/tasks.h"
#include "engine/topology.h"
#include "remote/qdrant_cluster.h"
#include "http/http_reply.h"
#include "store/store_instances.h"
#include "store/store_runs.h"
#include "store/store_snapshots.h"
#include "util/json_util.h"
#include "util/rfc3339.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESTORE_PRECHECK_MS 60000

static const char *const restore_fields[] = {
    "snapshot_id",
    "plan",
    "collection",
    "snapshot",
    "latest_before",
    "target_instance",
    "target_collection",
    "priority",
    "method",
    "overwrite",
    "safety_snapshot",
    NULL,
};

/* Finds the snapshot the body names; replies and returns NULL otherwise. */
static struct store_snapshot *snapshot_from_body(struct http_request *req, const cJSON *body)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    int64_t id = 0;
    const char *plan = NULL, *collection = NULL, *which = NULL, *before = NULL;
    enum qb_err rc = json_get_int(body, "snapshot_id", 1, INT64_MAX / 2, &id, err, sizeof err);
    if (rc == QB_ERR_INVALID) {
        api_reply_invalid(req, err);
        return NULL;
    }
    struct store_snapshot *snap = NULL;
    if (rc == QB_OK) {
        rc = store_snapshot_get(app->store, id, &snap, err, sizeof err);
        if (rc)
            http_reply_error(req, rc, err);
        return snap;
    }
    if (json_get_string(body, "plan", &plan, err, sizeof err) ||
        json_get_string(body, "collection", &collection, err, sizeof err)) {
        api_reply_invalid(req, "snapshot_id: required, or plan and collection with "
                               "\"snapshot\": \"latest\" or \"latest_before\"");
        return NULL;
    }
    if (json_get_string(body, "snapshot", &which, err, sizeof err) == QB_ERR_INVALID ||
        json_get_string(body, "latest_before", &before, err, sizeof err) == QB_ERR_INVALID) {
        api_reply_invalid(req, err);
        return NULL;
    }
    struct store_snapshot_filter f = {
        .plan = plan, .collection = collection, .verified_only = true, .limit = 1};
    if (before) {
        if (!rfc3339_parse(before, 0, &f.created_before)) {
            api_reply_invalid(req, "latest_before: must be an RFC 3339 UTC time like "
                                   "2026-11-25T12:00:00Z");
            return NULL;
        }
    } else if (!which || strcmp(which, "latest") != 0) {
        api_reply_invalid(req, "snapshot: must be \"latest\" (or use latest_before or "
                               "snapshot_id)");
        return NULL;
    }
    struct store_snapshot **list = NULL;
    size_t n = 0;
    rc = store_snapshot_list(app->store, &f, &list, &n, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return NULL;
    }
    if (n == 0) {
        store_snapshot_list_free(list, n);
        http_reply_problem(req, API_ERR_NOT_FOUND,
                           "plan %s has no verified snapshot of collection %s%s%s", plan,
                           collection, before ? " before " : "", before ? before : "");
        return NULL;
    }
    snap = list[0];
    list[0] = NULL;
    store_snapshot_list_free(list, n);
    return snap;
}

/* The resolved request the run executes, as GET /v1/runs/{id} shows it
 * (only the documented members: the engine resolves target_instance by
 * name again when the run starts).  [out] instance_id: the target's id,
 * for the run row's concurrency limit. */
static cJSON *build_request(struct http_request *req, const cJSON *body,
                            const struct store_snapshot *snap, int64_t *instance_id)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    const char *instance = snap->instance_name, *collection = snap->collection;
    const char *priority = NULL, *method = "upload";
    bool overwrite = false, safety = false;
    enum qb_err rc = QB_OK;
    if (json_get_string(body, "target_instance", &instance, err, sizeof err) == QB_ERR_INVALID ||
        json_get_string(body, "target_collection", &collection, err, sizeof err) ==
            QB_ERR_INVALID ||
        json_get_string(body, "priority", &priority, err, sizeof err) == QB_ERR_INVALID ||
        json_get_string(body, "method", &method, err, sizeof err) == QB_ERR_INVALID ||
        json_get_bool(body, "overwrite", &overwrite, err, sizeof err) == QB_ERR_INVALID)
        rc = QB_ERR_INVALID;
    safety = overwrite;
    if (!rc && json_get_bool(body, "safety_snapshot", &safety, err, sizeof err) == QB_ERR_INVALID)
        rc = QB_ERR_INVALID;
    enum qdrant_priority p;
    if (!rc && priority && !qdrant_parse_priority(priority, &p))
        rc = qb_failf(QB_ERR_INVALID, err, sizeof err, "priority: snapshot, replica or no_sync");
    /* A set restore recreates the collection: the replicas `replica` would
     * prefer are empty, and Qdrant would drop the restored data for them. */
    if (!rc && priority && p == QDRANT_PRIORITY_REPLICA && snap->layout &&
        strcmp(snap->layout, "shards") == 0)
        rc = qb_failf(QB_ERR_INVALID, err, sizeof err,
                      "priority: \"replica\" cannot restore a backup set: the collection is "
                      "recreated empty, so Qdrant would replace the restored shards with its "
                      "empty replicas; use \"snapshot\" (the default) or \"no_sync\"");
    if (!rc && strcmp(method, "upload") && strcmp(method, "url"))
        rc = qb_failf(QB_ERR_INVALID, err, sizeof err, "method: \"upload\" or \"url\"");
    if (!rc && (!*collection || strlen(collection) > 200 || strchr(collection, '/')))
        rc = qb_failf(QB_ERR_INVALID, err, sizeof err,
                      "target_collection: 1-200 characters without '/'");
    if (rc) {
        api_reply_invalid(req, err);
        return NULL;
    }
    struct store_instance *inst = NULL;
    if (store_instance_get(app->store, instance, &inst, err, sizeof err)) {
        http_reply_problem_field(req, API_ERR_UNPROCESSABLE, "target_instance", "%s", err);
        return NULL;
    }
    *instance_id = inst->id;
    store_instance_free(inst);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "snapshot_id", (double)snap->id);
    cJSON_AddStringToObject(r, "target_instance", instance);
    cJSON_AddStringToObject(r, "target_collection", collection);
    if (priority)
        cJSON_AddStringToObject(r, "priority", priority);
    cJSON_AddStringToObject(r, "method", method);
    cJSON_AddBoolToObject(r, "overwrite", overwrite);
    cJSON_AddBoolToObject(r, "safety_snapshot", safety);
    const char *base = atomic_load(&app->public_url);
    if (base)
        cJSON_AddStringToObject(r, "download_base", base);
    return r;
}

/* ---------------------------------------------------------------- long poll */

struct restore_req {
    struct task task;
    /* set by the submitter */
    struct store *store;
    struct engine *engine;
    char *instance, *collection;
    bool overwrite;
    char *request_json;
    int64_t plan_id;
    int64_t instance_id; /* the target: its concurrency limit applies */
    char *plan_name, *principal, *idem_key;
    long wait;            /* -1: do not wait */
    char *backup_version; /* Qdrant version the snapshot was taken from, or NULL */
    /* set by the precheck task */
    bool exists;
    char *conflict; /* a version pre-flight refusal, or NULL */
    enum qb_err rc;
    char err[QB_ERRBUF_SIZE];
    /* set by the poll */
    int64_t run_id;
    int64_t deadline;
};

/* Pre-flight (CONTRACT.md §12): every peer of the target on one version,
 * within one minor of the version the snapshot was taken from.  Sets
 * r->conflict when not; peers that do not answer are left to the run. */
static void check_versions(struct restore_req *r)
{
    struct store_instance *inst = NULL;
    struct topology *t = NULL;
    char err[QB_ERRBUF_SIZE];
    if (store_instance_get(r->store, r->instance, &inst, err, sizeof err) ||
        topology_resolve(inst, 10000, &t, err, sizeof err)) {
        store_instance_free(inst);
        return;
    }
    const struct topo_peer *first = NULL;
    for (size_t i = 0; i < t->npeers && !r->conflict; i++) {
        const struct topo_peer *p = &t->peers[i];
        if (!p->version)
            continue;
        if (!first)
            first = p;
        else if (strcmp(first->version, p->version) != 0)
            r->conflict = xasprintf(
                "the peers of %s run different Qdrant versions (peer %llu: %s, peer %llu: %s); "
                "finish the upgrade before restoring. Nothing was changed.",
                r->instance, (unsigned long long)first->id, first->version,
                (unsigned long long)p->id, p->version);
    }
    if (!r->conflict && first && r->backup_version &&
        !qdrant_version_compatible(r->backup_version, first->version))
        r->conflict = xasprintf(
            "the snapshot was taken from Qdrant %s but %s runs Qdrant %s; Qdrant keeps storage "
            "compatible across one minor version only: restore into a %s-compatible Qdrant, "
            "then upgrade step by step. Nothing was changed.",
            r->backup_version, r->instance, first->version, r->backup_version);
    topology_free(t);
    store_instance_free(inst);
}

static void precheck(struct task *t)
{
    struct restore_req *r = (struct restore_req *)t;
    struct qdrant_client *qc = NULL;
    struct qdrant_collection_info ci;
    r->rc = resolve_qdrant(r->store, r->instance, 60000, &qc, r->err, sizeof r->err);
    if (!r->rc) {
        enum qb_err rc = qdrant_collection_info(qc, r->collection, &ci, r->err, sizeof r->err);
        r->exists = rc == QB_OK;
        if (rc == QB_OK)
            qdrant_collection_info_free(&ci);
        else if (rc != QB_ERR_NOT_FOUND)
            r->rc = rc;
    }
    qdrant_client_destroy(qc);
    if (!r->rc)
        check_versions(r);
}

static void destroy_restore_req(struct task *t)
{
    struct restore_req *r = (struct restore_req *)t;
    char *owned[] = {r->instance,  r->collection, r->idem_key,       r->plan_name,
                     r->principal, r->conflict,   r->backup_version, r->request_json};
    for (size_t i = 0; i < QB_ARRAY_LEN(owned); i++)
        free(owned[i]);
    free(r);
}

static bool poll_restore(struct http_request *req, void *ctx, bool expired)
{
    struct restore_req *r = ctx;
    char err[QB_ERRBUF_SIZE];
    if (!r->run_id) {
        if (!atomic_load(&r->task.done)) {
            if (expired)
                http_reply_problem(req, API_ERR_UNAVAILABLE,
                                   "instance %s did not answer in time; nothing was queued",
                                   r->instance);
            return expired;
        }
        if (r->rc) {
            http_reply_problem_field(req, API_ERR_REMOTE_FAILED, "target_instance",
                                     "cannot reach instance %s: %s", r->instance, r->err);
            return true;
        }
        if (r->conflict) {
            http_reply_problem_field(req, API_ERR_CONFLICT, "target_instance", "%s", r->conflict);
            return true;
        }
        if (r->exists && !r->overwrite) {
            http_reply_problem_field(req, API_ERR_CONFLICT, "overwrite",
                                     "collection %s already exists on %s; a restore would "
                                     "replace it. Send \"overwrite\": true to replace it (a "
                                     "safety snapshot of it is taken first), or choose another "
                                     "target_collection. Nothing was changed.",
                                     r->collection, r->instance);
            return true;
        }
        struct store_run_new n = {.kind = "restore",
                                  .plan_id = r->plan_id,
                                  .plan_name = r->plan_name,
                                  .instance_id = r->instance_id,
                                  .trigger = "api",
                                  .triggered_by = r->principal,
                                  .idempotency_key = r->idem_key,
                                  .idempotency_window_s = API_IDEMPOTENCY_WINDOW_S,
                                  .request = r->request_json};
        bool existing = false;
        if (store_run_create(r->store, &n, &r->run_id, &existing, err, sizeof err)) {
            http_reply_error(req, QB_ERR_IO, err);
            return true;
        }
        engine_wake(r->engine);
        if (r->wait < 0) {
            api_reply_run(req, r->store, r->run_id, false, existing ? 200 : 202);
            return true;
        }
        r->deadline = qb_mono_ms() + r->wait * 1000;
    }
    struct store_run *run = NULL;
    bool done = false;
    if (store_run_get(r->store, r->run_id, &run, err, sizeof err) == QB_OK)
        done = strcmp(run->state, "queued") && strcmp(run->state, "running");
    store_run_free(run);
    if (done || qb_mono_ms() >= r->deadline || expired) {
        api_reply_run(req, r->store, r->run_id, true, 200);
        return true;
    }
    return false;
}

void api_restores_create(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    long wait = -1;
    if (!api_query_wait(req, &wait))
        return;
    const cJSON *body = api_body_object(req);
    if (!body)
        return;
    const char *key = NULL;
    if (!api_idempotency_key(req, &key))
        return;
    /* A retried request replays its run before anything else is checked:
     * after a successful restore the target exists, and a retry must not
     * turn into a 409. */
    int64_t replay = 0;
    if (key && store_run_find_idempotent(app->store, "restore", 0, key, API_IDEMPOTENCY_WINDOW_S,
                                         &replay, err, sizeof err)) {
        http_reply_error(req, QB_ERR_IO, err);
        return;
    }
    if (replay && wait >= 0) {
        api_wait_run(req, replay, wait, true);
        return;
    }
    if (replay) {
        /* The original outcome: a replay of a failed restore is the same
         * failure (424), never a bare 200. */
        struct store_run *run = NULL;
        bool ended = store_run_get(app->store, replay, &run, err, sizeof err) == QB_OK &&
                     strcmp(run->state, "queued") && strcmp(run->state, "running");
        store_run_free(run);
        api_reply_run(req, app->store, replay, ended, 200);
        http_reply_header(req, "Idempotent-Replayed", "true");
        return;
    }
    if (json_reject_unknown(body, restore_fields, err, sizeof err)) {
        api_reply_invalid(req, err);
        return;
    }
    struct store_snapshot *snap = snapshot_from_body(req, body);
    if (!snap)
        return;
    if (strcmp(snap->kind, "collection") != 0) {
        http_reply_problem(req, API_ERR_UNPROCESSABLE,
                           "snapshot %lld is a %s snapshot; Qdrant restores those only at start "
                           "(download it from /v1/snapshots/%lld/download and see the README)",
                           (long long)snap->id, snap->kind, (long long)snap->id);
        store_snapshot_free(snap);
        return;
    }
    int64_t instance_id = 0;
    cJSON *request = build_request(req, body, snap, &instance_id);
    if (!request) {
        store_snapshot_free(snap);
        return;
    }
    struct restore_req *r = xcalloc(1, sizeof *r);
    task_init(&r->task, precheck, destroy_restore_req);
    r->store = app->store;
    r->engine = app->engine;
    r->instance = xstrdup(cJSON_GetObjectItem(request, "target_instance")->valuestring);
    r->collection = xstrdup(cJSON_GetObjectItem(request, "target_collection")->valuestring);
    r->overwrite = cJSON_IsTrue(cJSON_GetObjectItem(request, "overwrite"));
    r->request_json = cJSON_PrintUnformatted(request);
    /* A restore is not a run of the plan: it must not block the plan's
     * schedule nor count against its instance; the name is kept for
     * display and filtering. */
    r->plan_id = 0;
    r->instance_id = instance_id;
    r->plan_name = snap->plan_name ? xstrdup(snap->plan_name) : NULL;
    r->backup_version = snap->qdrant_version ? xstrdup(snap->qdrant_version) : NULL;
    r->principal = xstrdup(http_req_principal(req));
    r->idem_key = key ? xstrdup(key) : NULL;
    r->wait = wait;
    cJSON_Delete(request);
    store_snapshot_free(snap);
    tasks_submit(app->tasks, &r->task);
    int64_t limit = RESTORE_PRECHECK_MS + (wait > 0 ? wait * 1000 : 0);
    http_req_defer(req, qb_mono_ms() + limit, poll_restore, r, task_release_ctx);
}
