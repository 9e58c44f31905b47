/* SPDX-License-Identifier: Apache-2.0
 *
 * scheduler.c -- cron-driven run queueing.  Owns its thread.
 */
#include "sched/sched.h"
#include "engine/engine.h"
#include "engine/qdrant_janitor.h"
#include "engine/recovery.h"
#include "engine/retention_apply.h"
#include "engine/reverify.h"
#include "fleet/leader.h"
#include "store/store_destinations.h"
#include "store/store_fleet.h"
#include "store/store_instances.h"
#include "store/store_events.h"
#include "store/store_plans.h"
#include "store/store_run_summary.h"
#include "store/store_runs.h"
#include "util/log.h"
#include "util/threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

struct scheduler {
    struct store *store;
    struct engine *engine;
    int64_t clock_offset_s;
    int64_t clock_speed, clock_anchor; /* scheduler_config */
    pthread_t thread;
    pthread_mutex_t lock; /* guards stopping */
    pthread_cond_t cond;
    bool stopping;
    /* The thread's own (no lock): */
    struct leader *leader; /* NULL: alone on the catalogue */
    char *node;            /* adopts runs as this node */
    int64_t dead_after_s;
    bool led;                /* what the last poll said */
    int64_t poll_failed_log; /* when a failed poll was last logged */
    _Atomic int64_t tick_us; /* how long the last scheduler_tick took (any thread reads) */
};

/* What scheduler_start() made besides the thread, and s itself: shared by
 * its failure path (no thread was started) and scheduler_stop(). */
static void scheduler_free(struct scheduler *s)
{
    leader_destroy(s->leader);
    free(s->node);
    free(s);
}

void scheduler_stop(struct scheduler *s)
{
    if (!s)
        return;
    threads_stop_destroy(&s->lock, &s->cond, &s->stopping, &s->thread, 1);
    /* After the thread: it was the lock's owner.  Releasing the lock lets
     * a follower take over at its next poll rather than when the server
     * notices this session gone. */
    scheduler_free(s);
}

static void plan_tick(struct store *store, struct engine *engine, const struct store_plan *p,
                      int64_t now)
{
    char err[QB_ERRBUF_SIZE];
    int64_t base = p->last_fire_at ? p->last_fire_at : p->created_at;
    int64_t due = 0;
    if (schedule_latest_due(p->schedule, p->timezone, base, now, &due, err, sizeof err)) {
        log_warn("scheduler.bad_schedule", "plan=%s error=%s", p->name, log_q(err));
        return;
    }
    if (!due)
        return;
    bool active = false;
    if (store_run_plan_active(store, p->id, &active, err, sizeof err)) {
        log_warn("scheduler.failed", "plan=%s error=%s", p->name, log_q(err));
        return;
    }
    if (active) {
        log_warn("scheduler.skipped", "plan=%s slot=%lld reason=\"a run is still active\"", p->name,
                 (long long)due);
    } else {
        struct store_run_new n = {.kind = "backup",
                                  .plan_id = p->id,
                                  .plan_name = p->name,
                                  .instance_id = p->instance_id,
                                  .trigger = "schedule",
                                  .request = "{}",
                                  .scheduled_for = due};
        int64_t id = 0;
        bool existing = false;
        if (store_run_create(store, &n, &id, &existing, err, sizeof err)) {
            log_warn("scheduler.failed", "plan=%s error=%s", p->name, log_q(err));
            return;
        }
        if (!existing) {
            log_info("scheduler.queued", "plan=%s run=%lld slot=%lld", p->name, (long long)id,
                     (long long)due);
            engine_wake(engine);
        }
    }
    if (store_plan_mark_fire(store, p->id, due, active, err, sizeof err))
        log_warn("scheduler.failed", "plan=%s error=%s", p->name, log_q(err));
}

/* One plan's re-verification slot, when due: the slot is recorded first,
 * so a pass that dies (or a restart) does not run it again, and a pass
 * that overruns its next slot collapses the missed ones into one, as
 * backups do. */
static void plan_reverify(struct store *store, const struct store_plan *p, int64_t now)
{
    char err[QB_ERRBUF_SIZE];
    cJSON *rv = cJSON_Parse(p->reverify);
    const char *expr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rv, "schedule"));
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(rv, "max_bytes");
    int64_t budget = cJSON_IsNumber(max) && max->valuedouble >= 1 ? (int64_t)max->valuedouble
                                                                  : REVERIFY_MAX_BYTES_DEFAULT;
    int64_t base = p->last_reverify_at ? p->last_reverify_at : p->created_at, due = 0;
    if (!expr || schedule_latest_due(expr, p->timezone, base, now, &due, err, sizeof err)) {
        log_warn("scheduler.bad_reverify", "plan=%s error=%s", p->name,
                 log_q(expr ? err : "no schedule"));
        goto out;
    }
    if (!due)
        goto out;
    if (store_plan_mark_reverify(store, p->id, due, err, sizeof err)) {
        log_warn("scheduler.failed", "plan=%s error=%s", p->name, log_q(err));
        goto out;
    }
    struct reverify_report rep;
    if (reverify_plan(store, p, budget, &rep, err, sizeof err))
        log_warn("reverify.pass_failed", "plan=%s slot=%lld error=%s", p->name, (long long)due,
                 log_q(err));
    else
        log_info("reverify.pass",
                 "plan=%s slot=%lld checked=%d failed=%d copies_checked=%d copies_failed=%d "
                 "bytes=%lld",
                 p->name, (long long)due, rep.checked, rep.failed, rep.copies_checked,
                 rep.copies_failed, (long long)rep.bytes);
out:
    cJSON_Delete(rv);
}

void scheduler_tick(struct store *store, struct engine *engine, int64_t now)
{
    char err[QB_ERRBUF_SIZE];
    struct store_plan **plans = NULL;
    size_t n = 0;
    if (store_plan_list(store, &plans, &n, err, sizeof err)) {
        log_warn("scheduler.failed", "error=%s", log_q(err));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (plans[i]->enabled && plans[i]->schedule)
            plan_tick(store, engine, plans[i], now);
    }
    /* Backups first: a pass may read for a while (sched.h). */
    for (size_t i = 0; i < n; i++) {
        if (plans[i]->enabled && plans[i]->reverify)
            plan_reverify(store, plans[i], now);
    }
    store_plan_list_free(plans, n);
}

/* The newest success of plan_id in latest (ordered by plan id), or 0. */
static int64_t last_success_at(const struct store_run_latest *latest, size_t n, int64_t plan_id)
{
    for (size_t i = 0; i < n; i++)
        if (latest[i].plan_id == plan_id)
            return latest[i].success.id ? latest[i].success.finished_at : 0;
    return 0;
}

void scheduler_check_stale(struct store *store, int64_t now)
{
    char err[QB_ERRBUF_SIZE];
    struct store_plan **plans = NULL;
    struct store_run_latest *latest = NULL;
    size_t n = 0, nl = 0;
    if (store_plan_list(store, &plans, &n, err, sizeof err) ||
        store_run_latest_per_plan(store, &latest, &nl, err, sizeof err)) {
        log_warn("scheduler.stale_check_failed", "error=%s", log_q(err));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_plan *p = plans[i];
        int64_t alert_after = schedule_alert_after(p->schedule, p->timezone, p->alert_after_s, now);
        if (!p->enabled || alert_after <= 0)
            continue;
        int64_t success = last_success_at(latest, nl, p->id);
        int64_t since = success ? success : p->created_at;
        if (now - since <= alert_after)
            continue;
        /* Once per stale spell: a plan.stale of this plan since its last
         * success (or creation) was announced already. */
        int64_t announced = 0;
        if (store_events_last(store, "plan.stale", p->name, since, &announced, err, sizeof err) ||
            announced)
            continue;
        cJSON *data = cJSON_CreateObject();
        cJSON_AddNumberToObject(data, "alert_after", (double)alert_after);
        cJSON_AddNumberToObject(data, "age", (double)(now - since));
        char ts[32];
        qb_format_time(success, ts, sizeof ts);
        cJSON_AddItemToObject(data, "last_success_at",
                              success ? cJSON_CreateString(ts) : cJSON_CreateNull());
        if (store_events_publish(store, "plan.stale", p->name, p->instance, 0, data, NULL, err,
                                 sizeof err))
            log_warn("scheduler.stale_check_failed", "plan=%s error=%s", p->name, log_q(err));
        else
            log_warn("plan.stale", "plan=%s age=%lld alert_after=%lld", p->name,
                     (long long)(now - since), (long long)alert_after);
        cJSON_Delete(data);
    }
out:
    store_plan_list_free(plans, n);
    free(latest);
}

/* How often the scheduler's thread looks for plans gone stale: staleness
 * is measured in hours, and the check reads every plan's newest runs. */
#define STALE_CHECK_EVERY_S 30

/* How often the scheduler's thread looks for deletions left marked. */
#define STALE_DELETIONS_EVERY_S 60

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The scheduler's idea of now (scheduler_config's testing aids). */
static int64_t scheduler_now(const struct scheduler *s)
{
    int64_t real = qb_now_ms() / 1000;
    return s->clock_anchor + (real - s->clock_anchor) * s->clock_speed + s->clock_offset_s;
}

/* One poll of the leadership lock; logs each change (and each failure
 * while following, at most once a minute, so a down server is visible
 * without flooding).  Returns whether this instance leads. */
static bool poll_leader(struct scheduler *s)
{
    char err[QB_ERRBUF_SIZE];
    bool leads = false;
    enum qb_err rc = leader_poll(s->leader, &leads, err, sizeof err);
    int64_t now = qb_now_ms() / 1000;
    if (leads != s->led) {
        if (leads)
            log_info("fleet.leader", "msg=\"this instance now fires schedules and runs "
                                     "retention and the janitor\"");
        else
            log_warn("fleet.follower", "error=%s msg=\"this instance no longer leads\"",
                     rc ? log_q(err) : "\"\"");
        s->led = leads;
    } else if (rc && now - s->poll_failed_log >= 60) {
        s->poll_failed_log = now;
        log_warn("fleet.leader_poll_failed", "error=%s", log_q(err));
    }
    return leads;
}

/* How often a fleet's node re-reads its share of the byte-rate limits. */
#define FLEET_LIMITS_EVERY_S 10

/* Byte-rate limits in a fleet: each node keeps to its share (the limit
 * over the live nodes), and limits another node's API changed reach this
 * node's running transfers (the API only tells its own engine). */
static void sync_fleet_limits(struct scheduler *s, int64_t now)
{
    char err[QB_ERRBUF_SIZE];
    struct store_fleet_node **nodes = NULL;
    size_t n = 0;
    unsigned alive = 0;
    if (store_fleet_nodes(s->store, &nodes, &n, err, sizeof err) == QB_OK) {
        for (size_t i = 0; i < n; i++)
            alive += now - nodes[i]->heartbeat_at < s->dead_after_s;
        engine_set_fleet_share(s->engine, alive);
    }
    store_fleet_nodes_free(nodes, n);
    struct store_instance **insts = NULL;
    if (store_instance_list(s->store, &insts, &n, err, sizeof err) == QB_OK)
        for (size_t i = 0; i < n; i++)
            engine_set_limit(s->engine, "instance", insts[i]->name,
                             insts[i]->max_read_bytes_per_second);
    store_instance_list_free(insts, n);
    struct store_destination **dests = NULL;
    if (store_destination_list(s->store, &dests, &n, err, sizeof err) == QB_OK)
        for (size_t i = 0; i < n; i++)
            engine_set_limit(s->engine, "destination", dests[i]->name,
                             dests[i]->max_write_bytes_per_second);
    store_destination_list_free(dests, n);
    struct store_plan **plans = NULL;
    if (store_plan_list(s->store, &plans, &n, err, sizeof err) == QB_OK)
        for (size_t i = 0; i < n; i++)
            engine_set_limit(s->engine, "plan", plans[i]->name, plans[i]->max_bytes_per_second);
    store_plan_list_free(plans, n);
}

/* A follower's guard against a leader that hangs without dying (stopped,
 * stuck in the kernel): its lock session stays open, so nobody else would
 * schedule or adopt runs until it woke.  When the lock's holder is a node
 * whose heartbeat is older than fleet_dead_after, its session is ended,
 * which frees the lock for the next poll; if it wakes, its own next poll
 * finds the lock gone and it follows. */
static void fence_silent_leader(struct scheduler *s)
{
    struct leader_info li;
    char err[QB_ERRBUF_SIZE];
    leader_info(s->leader, &li);
    const char *holder = strncmp(li.holder, "qbackupd:", 9) == 0 ? li.holder + 9 : NULL;
    if (!holder || !*holder || li.holder_pid <= 0 || strcmp(holder, s->node) == 0)
        return;
    struct store_fleet_node **nodes = NULL;
    size_t n = 0;
    int64_t now = qb_now_ms() / 1000, beat = 0;
    if (store_fleet_nodes(s->store, &nodes, &n, err, sizeof err))
        return;
    for (size_t i = 0; i < n; i++)
        if (strcmp(nodes[i]->name, holder) == 0)
            beat = nodes[i]->heartbeat_at;
    store_fleet_nodes_free(nodes, n);
    if (!beat || now - beat < s->dead_after_s)
        return; /* beating (or not a node we know): a live leader */
    bool ended = false;
    if (store_fleet_end_session(s->store, li.holder_pid, &ended, err, sizeof err))
        log_warn("fleet.fence_failed", "leader=%s error=%s", log_q(holder), log_q(err));
    else if (ended)
        log_warn("fleet.leader_fenced",
                 "leader=%s silent_s=%lld msg=\"ended the session of a leader that stopped "
                 "heartbeating; the lock goes to the next poll\"",
                 log_q(holder), (long long)(now - beat));
}

static void *scheduler_main(void *arg)
{
    struct scheduler *s = arg;
    int64_t deletions_at = 0, stale_at = 0, limits_at = 0;
    for (;;) {
        int64_t real = qb_now_ms() / 1000;
        if (s->leader && real - limits_at >= FLEET_LIMITS_EVERY_S) {
            limits_at = real;
            sync_fleet_limits(s, real);
        }
        if (s->leader && !poll_leader(s)) {
            fence_silent_leader(s);
            goto wait;
        }
        int64_t t0 = mono_us();
        scheduler_tick(s->store, s->engine, scheduler_now(s));
        atomic_store(&s->tick_us, mono_us() - t0);
        /* Real time, not the shifted clock: backoff is about Qdrant. */
        int64_t now = qb_now_ms() / 1000;
        qdrant_janitor_tick(s->store, engine_config(s->engine)->retry_base_ms, now);
        /* Real time too: a mark's age is about a deletion that may still be
         * running, which a shifted clock must not make look abandoned. */
        if (now - deletions_at >= STALE_DELETIONS_EVERY_S) {
            deletions_at = now;
            (void)retention_finish_deletions(s->store, now - RETENTION_STALE_MARK_S, false);
        }
        if (now - stale_at >= STALE_CHECK_EVERY_S) {
            stale_at = now;
            scheduler_check_stale(s->store, now);
        }
        /* Only a fleet has other nodes whose runs may need adopting. */
        if (s->leader)
            recovery_adopt(s->store, s->node, now, s->dead_after_s);
    wait:
        if (threads_wait(&s->lock, &s->cond, &s->stopping, 1000))
            break;
    }
    return NULL;
}

enum qb_err scheduler_start(struct store *store, struct engine *engine,
                            const struct scheduler_config *cfg, struct scheduler **out, char *err,
                            size_t errlen)
{
    struct scheduler *s = xcalloc(1, sizeof *s);
    s->store = store;
    s->engine = engine;
    s->clock_offset_s = cfg->clock_offset_s;
    s->clock_speed = cfg->clock_speed > 1 ? cfg->clock_speed : 1;
    s->clock_anchor = cfg->clock_anchor ? cfg->clock_anchor : qb_now_ms() / 1000;
    s->node = xstrdup(cfg->node ? cfg->node : "");
    s->dead_after_s = cfg->dead_after_s;
    enum qb_err rc = cfg->leader ? leader_create(cfg->leader, &s->leader, err, errlen) : QB_OK;
    if (!rc)
        rc = threads_start(&s->lock, &s->cond, &s->thread, scheduler_main, s, "the scheduler", err,
                           errlen);
    if (rc)
        scheduler_free(s);
    else
        *out = s;
    return rc;
}

int64_t scheduler_tick_us(struct scheduler *s)
{
    return s ? atomic_load(&s->tick_us) : 0;
}

bool scheduler_leads(struct scheduler *s, struct leader_info *info)
{
    struct leader_info own;
    if (!info)
        info = &own;
    memset(info, 0, sizeof *info);
    if (!s || !s->leader) {
        info->leader = true;
        return true;
    }
    leader_info(s->leader, info);
    return info->leader;
}
