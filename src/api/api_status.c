/* SPDX-License-Identifier: Apache-2.0
 *
 * api_status.c -- GET /v1/status (what a dashboard shows: per plan the
 * last run, the last success and its age, the next scheduled time, and
 * whether backups are stale) and the backup series of /metrics.
 *
 * A plan is stale when its last success is older than alert_after (by
 * default twice the schedule's longest gap), or when it never succeeded
 * and was created more than alert_after ago.  A plan without schedule and
 * without alert_after is never stale: nobody promised it would run.
 */
#include "api/api.h"
#include "api/app.h"
#include "sched/sched.h"
#include "fleet/leader.h"
#include "http/http_reply.h"
#include "store/store_fleet.h"
#include "store/store_plans.h"
#include "store/store_run_summary.h"
#include "store/store_snapshots.h"
#include "util/json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct plan_health {
    const struct store_run_brief *last;    /* newest run, or NULL */
    const struct store_run_brief *success; /* newest succeeded run, or NULL */
    int64_t alert_after;
    bool stale;
};

/* The newest runs of every plan, read with two small statements per
 * request whatever the number of plans (see store_run_latest_cached):
 * this is what dashboards poll, so its cost must not grow with plans or
 * runs.
 *
 * THREAD SAFETY NOTES
 * latest_cache is the process's one cache for app->store (qbackupd opens
 * one store); its own mutex guards it, and it lives until exit. */
static struct store_run_latest_cache latest_cache = STORE_RUN_LATEST_CACHE_INIT;

/* The run totals of /metrics, read in one pass and only when the runs
 * fingerprint changed (see store_run_counts_cached); same lifetime and
 * locking as latest_cache. */
static struct store_run_counts_cache counts_cache = STORE_RUN_COUNTS_CACHE_INIT;

struct latest_runs {
    struct store_run_latest *v; /* by plan id */
    size_t n;
};

static const struct store_run_latest *latest_find(const struct latest_runs *lr, int64_t plan_id)
{
    size_t lo = 0, hi = lr->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lr->v[mid].plan_id == plan_id)
            return &lr->v[mid];
        if (lr->v[mid].plan_id < plan_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL; /* created after the runs were read: none yet */
}

static void plan_health(const struct latest_runs *lr, const struct store_plan *p, int64_t now,
                        struct plan_health *h)
{
    memset(h, 0, sizeof *h);
    const struct store_run_latest *l = latest_find(lr, p->id);
    h->last = l && l->last.id ? &l->last : NULL;
    h->success = l && l->success.id ? &l->success : NULL;
    h->alert_after = api_plan_alert_after(p);
    if (h->alert_after > 0 && p->enabled) {
        int64_t since = h->success ? h->success->finished_at : p->created_at;
        h->stale = now - since > h->alert_after;
    }
}

/* Adds o[key]: an empty object returned for the caller to fill when
 * present, else null (and NULL returned). */
static cJSON *object_or_null(cJSON *o, const char *key, bool present)
{
    if (present)
        return cJSON_AddObjectToObject(o, key);
    cJSON_AddNullToObject(o, key);
    return NULL;
}

void api_status(struct http_request *req)
{
    char err[QB_ERRBUF_SIZE];
    cJSON *body = NULL;
    enum qb_err rc = api_status_build(http_req_app(req), &body, err, sizeof err);
    if (rc)
        http_reply_error(req, rc, err);
    else
        http_reply_json_steal(req, 200, body);
}

/* The nodes that beat in this catalogue, and whether each still does:
 * silent for fleet_dead_after, its runs are adopted by the leader. */
static void add_nodes(struct app *app, cJSON *fleet)
{
    char err[QB_ERRBUF_SIZE];
    struct store_fleet_node **nodes = NULL;
    size_t n = 0;
    int64_t now = qb_now_ms() / 1000;
    if (store_fleet_nodes(app->store, &nodes, &n, err, sizeof err))
        return; /* the status page still shows the rest */
    cJSON *arr = cJSON_AddArrayToObject(fleet, "nodes");
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", nodes[i]->name);
        cJSON_AddStringToObject(o, "version", nodes[i]->version);
        cJSON_AddItemToObject(o, "address",
                              nodes[i]->address ? cJSON_CreateString(nodes[i]->address)
                                                : cJSON_CreateNull());
        json_add_time(o, "started_at", nodes[i]->started_at);
        json_add_time(o, "heartbeat_at", nodes[i]->heartbeat_at);
        cJSON_AddNumberToObject(o, "heartbeat_age_s", (double)(now - nodes[i]->heartbeat_at));
        cJSON_AddBoolToObject(o, "alive",
                              now - nodes[i]->heartbeat_at < app->cfg->fleet_dead_after);
        cJSON_AddItemToArray(arr, o);
    }
    store_fleet_nodes_free(nodes, n);
}

/* Which catalogue this qbackupd shares and whether it is the one that
 * schedules (the leadership lock of a fleet, fleet/leader.h). */
static void add_fleet(struct app *app, cJSON *body)
{
    struct leader_info li;
    bool leads = scheduler_leads(app->scheduler, &li);
    bool shared = config_catalogue_is_postgres(app->cfg);
    cJSON *f = cJSON_AddObjectToObject(body, "fleet");
    cJSON_AddStringToObject(f, "catalogue", shared ? "postgres" : "sqlite");
    cJSON_AddStringToObject(f, "node", app->cfg->node_name);
    cJSON_AddBoolToObject(f, "leader", leads);
    add_nodes(app, f);
    if (!shared)
        return;
    json_add_time(f, "since", li.since);
    /* "qbackupd:<node>" is how each instance names its lock session. */
    const char *holder = strncmp(li.holder, "qbackupd:", 9) == 0 ? li.holder + 9 : li.holder;
    cJSON_AddItemToObject(f, "leader_node",
                          *holder ? cJSON_CreateString(holder) : cJSON_CreateNull());
    cJSON_AddBoolToObject(f, "lock_connected", li.connected);
    cJSON_AddItemToObject(f, "last_error",
                          *li.last_error ? cJSON_CreateString(li.last_error) : cJSON_CreateNull());
}

enum qb_err api_status_build(struct app *app, cJSON **out, char *err, size_t errlen)
{
    struct store_plan **plans = NULL;
    size_t n = 0;
    int64_t now = qb_now_ms() / 1000;
    *out = NULL;
    enum qb_err rc = store_plan_list(app->store, &plans, &n, err, errlen);
    if (rc)
        return rc;
    struct latest_runs lr = {0};
    rc = store_run_latest_cached(app->store, &latest_cache, &lr.v, &lr.n, err, errlen);
    if (rc) {
        store_plan_list_free(plans, n);
        return rc;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *items = cJSON_CreateArray();
    int stale = 0, failing = 0;
    for (size_t i = 0; i < n; i++) {
        struct plan_health h;
        plan_health(&lr, plans[i], now, &h);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "plan", plans[i]->name);
        cJSON_AddBoolToObject(o, "enabled", plans[i]->enabled);
        cJSON *last = object_or_null(o, "last_run", h.last != NULL);
        if (h.last) {
            cJSON_AddNumberToObject(last, "id", (double)h.last->id);
            cJSON_AddStringToObject(last, "state", h.last->state);
            json_add_time(last, "queued_at", h.last->queued_at);
            json_add_time(last, "finished_at", h.last->finished_at);
            failing +=
                strcmp(h.last->state, "failed") == 0 || strcmp(h.last->state, "partial") == 0;
        }
        cJSON *succ = object_or_null(o, "last_success", h.success != NULL);
        if (h.success) {
            cJSON_AddNumberToObject(succ, "run_id", (double)h.success->id);
            json_add_time(succ, "finished_at", h.success->finished_at);
            cJSON_AddNumberToObject(succ, "age_s", (double)(now - h.success->finished_at));
        }
        int64_t next = 0;
        if (plans[i]->schedule && plans[i]->enabled &&
            schedule_next(plans[i]->schedule, plans[i]->timezone, now, &next, err, errlen))
            next = 0;
        json_add_time(o, "next_run_at", next);
        cJSON_AddItemToObject(o, "alert_after",
                              h.alert_after > 0 ? cJSON_CreateNumber((double)h.alert_after)
                                                : cJSON_CreateNull());
        cJSON_AddBoolToObject(o, "stale", h.stale);
        cJSON_AddNumberToObject(o, "skipped_runs", (double)plans[i]->skipped_fires);
        cJSON_AddItemToArray(items, o);
        stale += h.stale;
    }
    store_plan_list_free(plans, n);
    free(lr.v);
    cJSON_AddStringToObject(body, "status", stale ? "stale" : failing ? "failing" : "ok");
    cJSON_AddNumberToObject(body, "stale_plans", stale);
    cJSON_AddNumberToObject(body, "failing_plans", failing);
    json_add_time(body, "generated_at", now);
    cJSON_AddItemToObject(body, "plans", items);
    /* Reachability and topology of every instance (and destination), as
     * the prober last saw them: a dashboard sees a down peer here. */
    bool all_ok = false;
    prober_report(app->prober, body, &all_ok);
    add_fleet(app, body);
    *out = body;
    return QB_OK;
}

/* ---------------------------------------------------------------- metrics */

bool api_status_metrics(struct buf *out, void *ctx)
{
    struct app *app = ctx;
    char err[QB_ERRBUF_SIZE];
    struct store_plan **plans = NULL;
    size_t n = 0;
    int64_t now = qb_now_ms() / 1000;
    if (store_plan_list(app->store, &plans, &n, err, sizeof err))
        return buf_appends(out, "# catalogue unavailable\n");
    static const enum metric_family heads[] = {METRIC_PLAN_LAST_SUCCESS, METRIC_PLAN_LAST_DURATION,
                                               METRIC_PLAN_STALE, METRIC_PLAN_ALERT_AFTER};
    bool ok = true;
    struct plan_health *h = xcalloc(n ? n : 1, sizeof *h);
    struct latest_runs lr = {0};
    if (store_run_latest_cached(app->store, &latest_cache, &lr.v, &lr.n, err, sizeof err))
        for (size_t i = 0; i < n; i++)
            h[i].alert_after = -1; /* marks a plan whose health is unknown */
    else
        for (size_t i = 0; i < n; i++)
            plan_health(&lr, plans[i], now, &h[i]);
    for (size_t k = 0; ok && k < QB_ARRAY_LEN(heads); k++) {
        ok = metrics_head(out, heads[k]);
        for (size_t i = 0; ok && i < n; i++) {
            const char *name = plans[i]->name;
            const struct store_run_brief *last = h[i].last;
            long long v;
            switch (heads[k]) {
            case METRIC_PLAN_LAST_SUCCESS:
                v = h[i].success ? h[i].success->finished_at : 0;
                break;
            case METRIC_PLAN_LAST_DURATION:
                if (!last || !last->finished_at || !last->started_at)
                    continue; /* no finished run: no sample rather than a made-up 0 */
                v = last->finished_at - last->started_at;
                break;
            case METRIC_PLAN_STALE:
                v = h[i].stale ? 1 : 0;
                break;
            default:
                v = h[i].alert_after > 0 ? h[i].alert_after : 0;
                break;
            }
            ok = metrics_sample(out, heads[k], "{plan=\"%s\"} %lld\n", name, v);
        }
    }
    /* The newest run's state as a 0/1 set over the fixed states: an alert
     * on state="failed" ends when the next run starts. */
    static const char *const states[] = {"queued", "running", "succeeded",
                                         "failed", "partial", "cancelled"};
    ok = ok && metrics_head(out, METRIC_PLAN_LAST_RUN_STATE);
    for (size_t i = 0; ok && i < n; i++) {
        const struct store_run_brief *last = h[i].last;
        for (size_t k = 0; ok && last && last->id && k < QB_ARRAY_LEN(states); k++)
            ok = metrics_sample(out, METRIC_PLAN_LAST_RUN_STATE, "{plan=\"%s\",state=\"%s\"} %d\n",
                                plans[i]->name, states[k], strcmp(last->state, states[k]) == 0);
    }
    free(lr.v);
    free(h);
    store_plan_list_free(plans, n);

    struct store_run_count *counts = NULL;
    size_t ncounts = 0;
    if (ok &&
        store_run_counts_cached(app->store, &counts_cache, &counts, &ncounts, err, sizeof err))
        ok = false;
    ok = ok && api_metrics_runs(out, counts, ncounts);
    store_run_counts_free(counts, ncounts);
    int64_t count = 0, bytes = 0;
    if (ok && store_snapshot_totals(app->store, &count, &bytes, err, sizeof err) == QB_OK)
        ok = metrics_head(out, METRIC_CATALOGUE_SNAPSHOTS) &&
             metrics_sample(out, METRIC_CATALOGUE_SNAPSHOTS, " %lld\n", (long long)count) &&
             metrics_head(out, METRIC_CATALOGUE_BYTES) &&
             metrics_sample(out, METRIC_CATALOGUE_BYTES, " %lld\n", (long long)bytes);
    ok = ok && metrics_head(out, METRIC_FLEET_LEADER) &&
         metrics_sample(out, METRIC_FLEET_LEADER, " %d\n", scheduler_leads(app->scheduler, NULL));
    ok = ok && metrics_head(out, METRIC_SCHEDULER_TICK) &&
         metrics_sample(out, METRIC_SCHEDULER_TICK, " %.6f\n",
                        (double)scheduler_tick_us(app->scheduler) / 1e6);
    return ok;
}
