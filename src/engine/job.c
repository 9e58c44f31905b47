/* SPDX-License-Identifier: Apache-2.0
 *
 * job.c -- running one claimed run: dispatch by kind, checkpoints
 * (progress, cancel, shutdown) and backoff.
 */
#include "engine/jobs.h"
#include "engine/recovery.h"
#include "engine/retention_apply.h"
#include "store/store_events.h"
#include "util/log.h"
#include "util/rfc3339.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Progress is written and cancellation checked at most this often: a
 * catalogue write per second per run is negligible, and a cancel takes
 * effect within about a second. */
#define JOB_CHECK_INTERVAL_MS 1000

/* A run.progress (restore.progress) event, at most one a second per run
 * however often phases change: live views need motion, not every step. */
static void publish_progress(struct job *j, int64_t now)
{
    if (j->last_event_ms && now - j->last_event_ms < JOB_CHECK_INTERVAL_MS)
        return;
    j->last_event_ms = now;
    bool restore = strcmp(j->run->kind, "restore") == 0;
    cJSON *data = cJSON_CreateObject();
    cJSON_AddNumberToObject(data, "run_id", (double)j->run->id);
    cJSON_AddStringToObject(data, "kind", j->run->kind);
    if (j->phase)
        cJSON_AddStringToObject(data, "phase", j->phase);
    cJSON_AddNumberToObject(data, "bytes_done", (double)j->bytes_done);
    char err[QB_ERRBUF_SIZE];
    if (store_events_publish(j->store, restore ? "restore.progress" : "run.progress",
                             j->run->plan_name, NULL, j->run->id, data, NULL, err, sizeof err))
        log_warn("run.event_failed", "run=%lld error=%s", (long long)j->run->id, log_q(err));
    cJSON_Delete(data);
}

enum qb_err job_checkpoint(struct job *j, const char *phase, char *err, size_t errlen)
{
    int64_t now = qb_mono_ms();
    if (j->cancelled || j->stopping)
        goto stop;
    /* A new phase is written at once; bytes at most once a second. */
    bool new_phase = phase && phase != j->phase;
    if (!new_phase && now - j->last_check_ms < JOB_CHECK_INTERVAL_MS)
        return QB_OK;
    if (new_phase)
        j->phase = phase;
    j->last_check_ms = now;
    char perr[QB_ERRBUF_SIZE];
    if (store_run_progress(j->store, j->run->id, phase, j->bytes_done, -1, perr, sizeof perr))
        log_warn("run.progress_failed", "run=%lld error=%s", (long long)j->run->id, log_q(perr));
    else
        publish_progress(j, now);
    j->stopping = engine_stopping(j->engine);
    j->cancelled = !j->stopping && store_run_cancel_requested(j->store, j->run->id);
    if (!j->cancelled && !j->stopping)
        return QB_OK;
stop:
    return qb_failf(QB_ERR_CANCELLED, err, errlen, "%s",
                    j->stopping ? "interrupted by shutdown" : "cancelled on request");
}

bool job_backoff(struct job *j, unsigned attempt)
{
    const struct engine_config *cfg = engine_config(j->engine);
    long delay = cfg->retry_base_ms;
    for (unsigned i = 1; i < attempt && delay < 60000; i++)
        delay *= 2;
    unsigned short r = 0;
    if (getrandom(&r, sizeof r, 0) == (ssize_t)sizeof r)
        delay += (long)((double)delay * 0.5 * r / 65535.0);
    /* Sleep in slices so that a cancel request is noticed. */
    for (long slept = 0; slept < delay; slept += 200) {
        long slice = delay - slept < 200 ? delay - slept : 200;
        if (engine_sleep(j->engine, slice)) {
            j->stopping = true;
            return true;
        }
        if (store_run_cancel_requested(j->store, j->run->id)) {
            j->cancelled = true;
            return true;
        }
    }
    return false;
}

void job_execute(struct engine *e, struct store *store, struct metrics *metrics,
                 const struct store_run *run)
{
    (void)metrics;
    struct job j = {.engine = e, .store = store, .run = run, .last_check_ms = qb_mono_ms()};
    char error[1024] = "";
    cJSON *results = cJSON_CreateArray();
    const char *state;
    if (strcmp(run->kind, "backup") == 0) {
        state = backup_job_run(&j, results, error, sizeof error);
    } else if (strcmp(run->kind, "restore") == 0) {
        state = restore_job_run(&j, results, error, sizeof error);
    } else {
        state = "failed";
        snprintf(error, sizeof error, "runs of kind \"%s\" are not supported by this version",
                 run->kind);
    }
    char *text = cJSON_PrintUnformatted(results);
    cJSON_Delete(results);
    char err[QB_ERRBUF_SIZE];
    /* The last checkpoint may be up to a second old. */
    if (store_run_progress(store, run->id, NULL, j.bytes_done, -1, err, sizeof err))
        log_warn("run.progress_failed", "run=%lld error=%s", (long long)run->id, log_q(err));
    if (store_run_finish(store, run->id, state, text, *error ? error : NULL, err, sizeof err))
        log_error("run.finish_failed", "run=%lld error=%s", (long long)run->id, log_q(err));
    else if (j.stopping && strcmp(state, "succeeded") != 0)
        recovery_requeue_after_shutdown(store, run);
    char quoted[1100];
    log_info("run.end", "run=%lld state=%s bytes=%lld error=%s", (long long)run->id, state,
             (long long)j.bytes_done, log_quote(quoted, sizeof quoted, error));
    free(text);
}

char *job_snapshot_hold(const struct job *j, struct store_snapshot *row)
{
    char *labels = NULL;
    if (strcmp(j->run->kind, "backup") != 0)
        return NULL;
    /* The API validated the request before queuing it: anything else here
     * is a hand-edited catalogue, read as "no hold". */
    cJSON *req = cJSON_Parse(j->run->request);
    const cJSON *pinned = cJSON_GetObjectItemCaseSensitive(req, "pinned");
    const cJSON *until = cJSON_GetObjectItemCaseSensitive(req, "keep_until");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(req, "labels");
    int64_t t = 0;
    if (cJSON_IsTrue(pinned))
        row->pinned = true;
    if (cJSON_IsString(until) && rfc3339_parse(until->valuestring, RFC3339_ANY, &t) && t > 0)
        row->keep_until = t;
    if (cJSON_IsObject(l))
        labels = cJSON_PrintUnformatted(l);
    row->labels = labels;
    row->locked_until = j->locked_until;
    cJSON_Delete(req);
    return labels;
}

enum qb_err job_lock_open(struct job *j, const struct store_plan *plan, struct storage *st,
                          char *err, size_t errlen)
{
    struct retention_lock lock;
    struct storage_lock_info info;
    cJSON *ret = cJSON_Parse(plan->retention);
    enum qb_err rc = retention_lock_from_json(ret, &lock, err, errlen);
    cJSON_Delete(ret);
    if (rc || !lock.mode[0])
        return rc;
    rc = storage_object_lock(st, &info, err, errlen);
    if (rc)
        return rc;
    if (!info.enabled)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "plan %s asks for retention.object_lock but destination %s (%s) %s; "
                        "nothing was backed up",
                        plan->name, plan->destination, storage_url(st),
                        info.supported ? "is a bucket without S3 Object Lock enabled"
                                       : "is not S3 and cannot lock objects");
    qb_strlcpy(j->lock_mode, lock.mode, sizeof j->lock_mode);
    j->locked_until = retention_lock_until(&lock, qb_now_ms() / 1000);
    return job_lock_apply(j, st, err, errlen);
}

enum qb_err job_lock_apply(const struct job *j, struct storage *st, char *err, size_t errlen)
{
    return j->lock_mode[0] ? storage_set_lock(st, j->lock_mode, j->locked_until, err, errlen)
                           : QB_OK;
}

void job_limits_open(struct job *j, const struct store_plan *plan)
{
    j->limit_read = engine_limit(j->engine, "instance", plan->instance, plan->instance_max_read);
    j->limit_write =
        engine_limit(j->engine, "destination", plan->destination, plan->destination_max_write);
    j->limit_plan = engine_limit(j->engine, "plan", plan->name, plan->max_bytes_per_second);
}

struct throttle {
    enum qb_err (*check)(void *ud, char *err, size_t errlen);
    void *ud;
    char *err;
    size_t errlen;
    enum qb_err rc;
};

/* Called every slice (100 ms); check itself is cheap between its own
 * once-a-second looks (job_checkpoint). */
static bool throttle_stop(void *ud)
{
    struct throttle *t = ud;
    t->rc = t->check ? t->check(t->ud, t->err, t->errlen) : QB_OK;
    return t->rc != QB_OK;
}

enum qb_err job_throttle(struct job *j, size_t n,
                         enum qb_err (*check)(void *ud, char *err, size_t errlen), void *ud,
                         char *err, size_t errlen)
{
    struct throttle t = {.check = check, .ud = ud, .err = err, .errlen = errlen};
    /* In series: the bytes pass every limit, so the slowest one rules;
     * time spent waiting on one refills the others. */
    struct ratelimit *limits[] = {j->limit_read, j->limit_write, j->limit_plan};
    for (size_t i = 0; i < QB_ARRAY_LEN(limits); i++)
        if (ratelimit_take(limits[i], n, throttle_stop, &t))
            return t.rc ? t.rc : qb_failf(QB_ERR_CANCELLED, err, errlen, "stopped");
    return QB_OK;
}

void job_add_rate(const struct job *j, cJSON *result, int64_t bytes, int64_t ms)
{
    struct ratelimit *limits[] = {j->limit_read, j->limit_write, j->limit_plan};
    static const char *const names[] = {"instance", "destination", "plan"};
    uint64_t best = 0;
    const char *by = NULL;
    for (size_t i = 0; i < QB_ARRAY_LEN(limits); i++) {
        uint64_t r = limits[i] ? ratelimit_rate(limits[i]) : 0;
        if (r && (!best || r < best)) {
            best = r;
            by = names[i];
        }
    }
    cJSON *o = cJSON_AddObjectToObject(result, "rate");
    cJSON_AddNumberToObject(o, "bytes_per_second",
                            ms > 0 ? (double)(bytes * 1000 / ms) : (double)bytes);
    cJSON_AddItemToObject(o, "limit_bytes_per_second",
                          best ? cJSON_CreateNumber((double)best) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "limited_by", by ? cJSON_CreateString(by) : cJSON_CreateNull());
}
