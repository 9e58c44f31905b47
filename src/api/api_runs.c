/* SPDX-License-Identifier: Apache-2.0
 *
 * api_runs.c -- /v1/runs and /v1/plans/{name}/runs: trigger, list, read,
 * cancel and wait for runs; /v1/plans/{name}/retention.
 *
 * ?wait=SECONDS (up to 3600) turns trigger, read and cancel into a long
 * poll without holding a request thread (http_req_defer).  With wait, the
 * status says how the run ended, so a CI step is one `curl --fail`:
 *   200  the run succeeded
 *   424  run_failed: it failed, was partial or was cancelled (body has "run")
 *   504  wait_expired: still queued or running (poll Location)
 * Without wait: 202 for a new run, 200 for an Idempotency-Key replay.
 * A trigger's body may label the run's snapshots and hold them against
 * retention ("labels", "keep_until", "pinned"; run_request).
 */
#include "api/api.h"
#include "api/api_common.h"
#include "api/app.h"
#include "engine/resolve.h"
#include "engine/retention_apply.h"
#include "engine/tasks.h"
#include "http/http_reply.h"
#include "store/store_plans.h"
#include "store/store_runs.h"
#include "store/store_snapshots.h"
#include "util/json_util.h"
#include "util/rfc3339.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUN_WAIT_MAX_S   3600
#define RUN_LIST_DEFAULT 50
#define RUN_LIST_MAX     500

static bool terminal(const char *state)
{
    return strcmp(state, "queued") != 0 && strcmp(state, "running") != 0;
}

static cJSON *api_run_json(const struct store_run *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)r->id);
    cJSON_AddStringToObject(o, "kind", r->kind);
    cJSON_AddItemToObject(o, "plan",
                          r->plan_name ? cJSON_CreateString(r->plan_name) : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "trigger", r->trigger);
    cJSON_AddItemToObject(o, "triggered_by",
                          r->triggered_by ? cJSON_CreateString(r->triggered_by)
                                          : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "state", r->state);
    cJSON_AddItemToObject(o, "phase", r->phase ? cJSON_CreateString(r->phase) : cJSON_CreateNull());
    cJSON_AddBoolToObject(o, "cancel_requested", r->cancel_requested);
    cJSON_AddNumberToObject(o, "bytes_done", (double)r->bytes_done);
    cJSON_AddItemToObject(o, "bytes_total",
                          r->bytes_total >= 0 ? cJSON_CreateNumber((double)r->bytes_total)
                                              : cJSON_CreateNull());
    /* Stored text goes out as it is: results hold u64 peer ids that a
     * parse through doubles would round. */
    cJSON *results = cJSON_Parse(r->results);
    if (results && cJSON_IsArray(results))
        cJSON_AddRawToObject(o, "results", r->results);
    else
        cJSON_AddItemToObject(o, "results", cJSON_CreateArray());
    cJSON_Delete(results);
    cJSON *request = cJSON_Parse(r->request);
    /* Restores queued by earlier versions stored the target's internal id
     * in the request too; it is not part of the API. */
    cJSON_DeleteItemFromObjectCaseSensitive(request, "target_instance_id");
    cJSON_AddItemToObject(o, "request", request ? request : cJSON_CreateObject());
    cJSON_AddItemToObject(o, "error", r->error ? cJSON_CreateString(r->error) : cJSON_CreateNull());
    api_add_json(o, "collections", r->collections, "null");
    json_add_time(o, "queued_at", r->queued_at);
    json_add_time(o, "started_at", r->started_at);
    json_add_time(o, "finished_at", r->finished_at);
    json_add_time(o, "scheduled_for", r->scheduled_for);
    if (r->started_at && r->finished_at)
        cJSON_AddNumberToObject(o, "duration_s", (double)(r->finished_at - r->started_at));
    else
        cJSON_AddNullToObject(o, "duration_s");
    return o;
}

static void set_location(struct http_request *req, int64_t id)
{
    char location[64];
    snprintf(location, sizeof location, "/v1/runs/%lld", (long long)id);
    http_reply_header(req, "Location", location);
}

/* The answer for a run after waiting (or giving up waiting). */
static void reply_waited(struct http_request *req, const struct store_run *r)
{
    /* Problem bodies carry the run too, so a pipeline can log it. */
    if (!terminal(r->state))
        http_reply_problem_ext(req, API_ERR_WAIT_EXPIRED, "run", api_run_json(r),
                               "run %lld is still %s; poll its Location for the outcome",
                               (long long)r->id, r->state);
    else if (strcmp(r->state, "succeeded") == 0)
        http_reply_json_steal(req, 200, api_run_json(r));
    else
        http_reply_problem_ext(req, API_ERR_RUN_FAILED, "run", api_run_json(r),
                               "run %lld ended %s: %s", (long long)r->id, r->state,
                               r->error ? r->error : "no error recorded");
    set_location(req, r->id);
}

void api_reply_run(struct http_request *req, struct store *store, int64_t id, bool waited,
                   unsigned status)
{
    struct store_run *r = NULL;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = store_run_get(store, id, &r, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    if (waited) {
        reply_waited(req, r);
    } else {
        http_reply_json_steal(req, status, api_run_json(r));
        set_location(req, id);
    }
    store_run_free(r);
}

struct run_wait {
    int64_t id;
    uint64_t seen_seq; /* engine_finished_seq when last checked */
    bool replayed;     /* an Idempotency-Key replay: say so in the answer */
};

static bool poll_run(struct http_request *req, void *ctx, bool expired)
{
    struct run_wait *w = ctx;
    struct app *app = http_req_app(req);
    uint64_t seq = engine_finished_seq(app->engine);
    /* Re-read only when some run ended (or at the deadline). */
    if (!expired && seq == w->seen_seq)
        return false;
    w->seen_seq = seq;
    struct store_run *r = NULL;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = store_run_get(app->store, w->id, &r, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return true;
    }
    bool done = terminal(r->state) || expired;
    if (done) {
        reply_waited(req, r);
        if (w->replayed)
            http_reply_header(req, "Idempotent-Replayed", "true");
    }
    store_run_free(r);
    return done;
}

void api_wait_run(struct http_request *req, int64_t id, long wait, bool replayed)
{
    struct run_wait *w = xcalloc(1, sizeof *w);
    w->id = id;
    w->seen_seq = (uint64_t)-1; /* first poll reads the run */
    w->replayed = replayed;
    http_req_defer(req, qb_mono_ms() + wait * 1000L, poll_run, w, free);
}

/* The one-off hold a trigger may ask for; the snapshots the run catalogues
 * carry it (engine/jobs.h job_snapshot_hold). */
static const char *const trigger_fields[] = {"labels", "keep_until", "pinned", NULL};

/* The request JSON text of a trigger (caller frees): "{}" without a body,
 * else its labels, keep_until (as canonical RFC 3339 UTC) and pinned.
 * Replies 400 naming the field and returns NULL on bad input. */
static char *run_request(struct http_request *req)
{
    char err[QB_ERRBUF_SIZE];
    const cJSON *body = http_req_json(req);
    if (!body)
        return xstrdup("{}");
    if (!cJSON_IsObject(body)) {
        http_reply_problem(req, API_ERR_INVALID_FIELD,
                           "the body must be a JSON object (labels, keep_until, pinned)");
        return NULL;
    }
    cJSON *out = cJSON_CreateObject();
    bool pinned = false;
    const char *until = NULL;
    int64_t t = 0;
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(body, "labels");
    enum qb_err rc = json_reject_unknown(body, trigger_fields, err, sizeof err);
    if (!rc && labels && !cJSON_IsNull(labels))
        rc = api_labels_check(labels, err, sizeof err);
    if (!rc)
        rc = json_get_bool(body, "pinned", &pinned, err, sizeof err);
    if (rc == QB_ERR_NOT_FOUND)
        rc = QB_OK;
    if (!rc)
        rc = json_get_string(body, "keep_until", &until, err, sizeof err);
    if (rc == QB_OK && !rfc3339_parse(until, RFC3339_ANY, &t))
        rc = qb_failf(QB_ERR_INVALID, err, sizeof err,
                      "keep_until: must be an RFC 3339 time (\"2026-12-31T00:00:00Z\")");
    else if (rc == QB_OK && t <= qb_now_ms() / 1000)
        rc = qb_failf(QB_ERR_INVALID, err, sizeof err,
                      "keep_until: %s is not in the future; a hold must end later than now", until);
    if (rc && rc != QB_ERR_NOT_FOUND) {
        cJSON_Delete(out);
        api_reply_invalid(req, err);
        return NULL;
    }
    if (labels && !cJSON_IsNull(labels))
        cJSON_AddItemToObject(out, "labels", cJSON_Duplicate(labels, true));
    if (t > 0)
        json_add_time(out, "keep_until", t);
    if (pinned)
        cJSON_AddTrueToObject(out, "pinned");
    char *text = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    return text;
}

void api_runs_trigger(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    struct store_plan *p = NULL;
    long wait = -1;
    const char *name = api_path_name(req, "plan");
    if (!name || !api_query_wait(req, &wait))
        return;
    char *request = run_request(req);
    if (!request)
        return;
    const char *key = NULL;
    if (!api_idempotency_key(req, &key)) {
        free(request);
        return;
    }
    enum qb_err rc = store_plan_get(app->store, name, &p, err, sizeof err);
    if (rc) {
        free(request);
        http_reply_error(req, rc, err);
        return;
    }
    struct store_run_new n = {
        .kind = "backup",
        .plan_id = p->id,
        .plan_name = p->name,
        .instance_id = p->instance_id,
        .trigger = "api",
        .triggered_by = http_req_principal(req),
        .idempotency_key = key,
        .idempotency_window_s = API_IDEMPOTENCY_WINDOW_S,
        .request = request,
    };
    int64_t id = 0;
    bool existing = false;
    rc = store_run_create(app->store, &n, &id, &existing, err, sizeof err);
    store_plan_free(p);
    free(request);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    if (!existing)
        engine_wake(app->engine);
    if (wait >= 0) {
        api_wait_run(req, id, wait, existing);
        return;
    }
    api_reply_run(req, app->store, id, false, existing ? 200 : 202);
    if (existing)
        http_reply_header(req, "Idempotent-Replayed", "true");
}

void api_runs_get(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    int64_t id = 0;
    long wait = -1;
    if (!api_path_id(req, "run", &id) || !api_query_wait(req, &wait))
        return;
    struct store_run *r = NULL;
    enum qb_err rc = store_run_get(app->store, id, &r, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    if (wait >= 0 && !terminal(r->state))
        api_wait_run(req, id, wait, false);
    else if (wait >= 0)
        reply_waited(req, r);
    else
        http_reply_json_steal(req, 200, api_run_json(r));
    store_run_free(r);
}

void api_runs_cancel(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    int64_t id = 0;
    long wait = -1;
    char *state = NULL;
    if (!api_path_id(req, "run", &id) || !api_query_wait(req, &wait))
        return;
    enum qb_err rc = store_run_cancel(app->store, id, &state, err, sizeof err);
    free(state);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    engine_wake(app->engine);
    if (wait >= 0) {
        api_wait_run(req, id, wait, false);
        return;
    }
    api_reply_run(req, app->store, id, false, 202);
}

/* RFC 3339 ("2026-11-25T12:00:00Z") or Unix seconds. */
static bool parse_time(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end != s && *end == '\0' && v >= 0) {
        *out = v;
        return true;
    }
    return rfc3339_parse(s, RFC3339_PLUS_ZERO, out);
}

static cJSON *run_item(const void *rows, size_t i)
{
    return api_run_json(((struct store_run *const *)rows)[i]);
}

void api_runs_list(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    struct store_run_filter f = {0};
    static const char *const states[] = {"queued",    "running", "succeeded", "failed",
                                         "cancelled", "partial", NULL};
    static const char *const kinds[] = {"backup", "restore", NULL};
    f.plan = http_req_query(req, "plan");
    if (!api_query_one_of(req, "state", states,
                          "state: one of queued, running, succeeded, failed, cancelled, partial",
                          &f.state) ||
        !api_query_one_of(req, "kind", kinds, "kind: backup or restore", &f.kind))
        return;
    const char *since = http_req_query(req, "since"), *until = http_req_query(req, "until");
    const char *cursor = http_req_query(req, "cursor");
    bool bad_since = since && !parse_time(since, &f.since);
    if (bad_since || (until && !parse_time(until, &f.until))) {
        http_reply_problem_field(req, API_ERR_INVALID_PARAMETER, bad_since ? "since" : "until",
                                 "%s: RFC 3339 UTC time or Unix seconds",
                                 bad_since ? "since" : "until");
        return;
    }
    char *end = NULL;
    bool cursor_ok = !cursor || ((f.before_id = strtoll(cursor, &end, 10)) > 0 && !*end);
    if (!api_query_page(req, cursor_ok, RUN_LIST_DEFAULT, RUN_LIST_MAX, &f.limit))
        return;
    struct store_run **list = NULL;
    size_t n = 0;
    char next[32] = "";
    enum qb_err rc = store_run_list(app->store, &f, &list, &n, err, sizeof err);
    if (!rc && n > 0)
        snprintf(next, sizeof next, "%lld", (long long)list[n - 1]->id);
    api_reply_rows_page(req, rc, err, list, n, f.limit, run_item, next);
    store_run_list_free(list, n);
}

/* ---------------------------------------------------------------- retention */

struct retention_task {
    struct task task;
    struct store *store;
    char *plan;
    bool dry_run;
    enum qb_err rc;
    char err[QB_ERRBUF_SIZE];
    cJSON *report; /* {"targets": [{"collection", "decisions": [...]}]} */
};

static void run_retention(struct task *t)
{
    struct retention_task *rt = (struct retention_task *)t;
    struct store_plan *p = NULL;
    struct storage *st = NULL;
    rt->report = cJSON_CreateObject();
    cJSON *targets = cJSON_AddArrayToObject(rt->report, "targets");
    cJSON_AddBoolToObject(rt->report, "dry_run", rt->dry_run);
    /* A dry run only reads the catalogue: no destination to open. */
    rt->rc =
        resolve_plan(rt->store, rt->plan, &p, rt->dry_run ? NULL : &st, rt->err, sizeof rt->err);
    if (rt->rc)
        goto out;
    /* Targets: every collection the catalogue holds for this plan. */
    char **targets_of = NULL;
    size_t n = 0;
    rt->rc = store_snapshot_targets(rt->store, p->id, &targets_of, &n, rt->err, sizeof rt->err);
    int total = 0;
    for (size_t i = 0; !rt->rc && i < n; i++) {
        cJSON *target = cJSON_CreateObject();
        cJSON_AddItemToObject(target, "collection",
                              targets_of[i] ? cJSON_CreateString(targets_of[i])
                                            : cJSON_CreateNull());
        cJSON *decisions = cJSON_AddArrayToObject(target, "decisions");
        cJSON_AddItemToArray(targets, target);
        int deleted = 0;
        rt->rc = retention_apply_target(rt->store, st, p, targets_of[i], rt->dry_run, decisions,
                                        &deleted, rt->err, sizeof rt->err);
        total += deleted;
    }
    cJSON_AddNumberToObject(rt->report, "deleted", total);
    store_snapshot_targets_free(targets_of, n);
out:
    storage_close(st);
    store_plan_free(p);
}

static void destroy_retention(struct task *t)
{
    struct retention_task *rt = (struct retention_task *)t;
    cJSON_Delete(rt->report);
    free(rt->plan);
    free(rt);
}

static bool poll_retention(struct http_request *req, void *ctx, bool expired)
{
    struct retention_task *rt = ctx;
    if (!atomic_load(&rt->task.done)) {
        if (expired)
            http_reply_problem(req, API_ERR_WAIT_EXPIRED,
                               "retention is still running; see the run results and logs");
        return expired;
    }
    if (rt->rc == QB_ERR_TRANSIENT || rt->rc == QB_ERR_REMOTE) {
        /* The destination failed: say so, with what was done until then. */
        http_reply_problem_ext(req, API_ERR_REMOTE_FAILED, "report",
                               cJSON_Duplicate(rt->report, true), "%s", rt->err);
        return true;
    }
    if (rt->rc) {
        http_reply_error(req, rt->rc, rt->err);
        return true;
    }
    http_reply_json_steal(req, 200, cJSON_Duplicate(rt->report, true));
    return true;
}

void api_plans_retention(struct http_request *req)
{
    struct app *app = http_req_app(req);
    const char *name = api_path_name(req, "plan");
    if (!name)
        return;
    const char *dry = http_req_query(req, "dry_run");
    if (dry && strcmp(dry, "true") && strcmp(dry, "false")) {
        http_reply_problem_field(req, API_ERR_INVALID_PARAMETER, "dry_run",
                                 "dry_run: true or false");
        return;
    }
    bool dry_run = dry && strcmp(dry, "true") == 0;
    /* Looking is an operator's right; deleting backups is an admin's. */
    if (!dry_run && http_req_role(req) < AUTH_ROLE_ADMIN) {
        http_reply_problem(req, API_ERR_FORBIDDEN,
                           "applying retention deletes snapshots and needs an admin token; "
                           "use ?dry_run=true to see what it would delete");
        return;
    }
    struct retention_task *rt = xcalloc(1, sizeof *rt);
    task_init(&rt->task, run_retention, destroy_retention);
    rt->store = app->store;
    rt->plan = xstrdup(name);
    rt->dry_run = dry_run;
    tasks_submit(app->tasks, &rt->task);
    http_req_defer(req, qb_mono_ms() + 300000, poll_retention, rt, task_release_ctx);
}
