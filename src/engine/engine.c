/* SPDX-License-Identifier: Apache-2.0
 *
 * engine.c -- worker threads and their queue loop.  Owns the threads, the
 * stop flag and the "a run finished" sequence number.
 */
#include "engine/engine.h"
#include "engine/jobs.h"
#include "store/store_runs.h"
#include "util/log.h"
#include "util/threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct engine {
    struct store *store;
    struct metrics *metrics;
    struct engine_config cfg;
    pthread_t *threads;
    unsigned nthreads;
    pthread_mutex_t lock; /* guards the fields below */
    pthread_cond_t wake;
    bool stopping;
    uint64_t finished_seq;
    uint64_t wake_seq;
    struct ratelimits *limits; /* shared byte-rate buckets (own lock) */
};

void engine_stop(struct engine *e)
{
    if (!e)
        return;
    threads_stop_destroy(&e->lock, &e->wake, &e->stopping, e->threads, e->nthreads);
    free(e->threads);
    ratelimits_destroy(e->limits); /* after the join: no job takes any more */
    free(e);
}

bool engine_sleep(struct engine *e, long ms)
{
    return threads_wait(&e->lock, &e->wake, &e->stopping, ms);
}

bool engine_stopping(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    bool s = e->stopping;
    pthread_mutex_unlock(&e->lock);
    return s;
}

uint64_t engine_finished_seq(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    uint64_t seq = e->finished_seq;
    pthread_mutex_unlock(&e->lock);
    return seq;
}

const struct engine_config *engine_config(const struct engine *e)
{
    return &e->cfg;
}

void engine_wake(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->wake_seq++;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
}

static void note_finished(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->finished_seq++;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
}

struct worker_arg {
    struct engine *e;
    int index;
};

/* Waits for work: returns true when the engine stops. */
static bool idle_wait(struct engine *e, uint64_t seen_wake)
{
    struct timespec until;
    threads_deadline(&until, e->cfg.poll_ms);
    pthread_mutex_lock(&e->lock);
    while (!e->stopping && e->wake_seq == seen_wake) {
        if (pthread_cond_timedwait(&e->wake, &e->lock, &until) == ETIMEDOUT)
            break;
    }
    bool stopping = e->stopping;
    pthread_mutex_unlock(&e->lock);
    return stopping;
}

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    struct engine *e = wa->e;
    int index = wa->index;
    free(wa);
    for (;;) {
        pthread_mutex_lock(&e->lock);
        uint64_t seen_wake = e->wake_seq;
        bool stopping = e->stopping;
        pthread_mutex_unlock(&e->lock);
        if (stopping)
            break;
        char err[QB_ERRBUF_SIZE];
        struct store_run *run = NULL;
        if (store_run_claim(e->store, index, e->cfg.node ? e->cfg.node : "", &run, err,
                            sizeof err) != QB_OK) {
            log_error("engine.claim_failed", "worker=%d error=%s", index, log_q(err));
        } else if (run) {
            log_info("run.start", "run=%lld kind=%s plan=%s worker=%d", (long long)run->id,
                     run->kind, run->plan_name ? run->plan_name : "-", index);
            job_execute(e, e->store, e->metrics, run);
            store_run_free(run);
            note_finished(e);
            continue; /* there may be more queued */
        }
        if (idle_wait(e, seen_wake))
            break;
    }
    return NULL;
}

enum qb_err engine_start(struct store *store, struct metrics *metrics,
                         const struct engine_config *cfg, struct engine **out, char *err,
                         size_t errlen)
{
    struct engine *e = xcalloc(1, sizeof *e);
    e->store = store;
    e->metrics = metrics;
    e->cfg = *cfg;
    if (e->cfg.max_attempts < 1)
        e->cfg.max_attempts = 1;
    if (e->cfg.poll_ms <= 0)
        e->cfg.poll_ms = 1000;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    e->limits = ratelimits_create();
    e->threads = xcalloc(cfg->workers ? cfg->workers : 1, sizeof *e->threads);
    for (unsigned i = 0; i < cfg->workers; i++) {
        struct worker_arg *wa = xmalloc(sizeof *wa);
        wa->e = e;
        wa->index = (int)i;
        int rc = pthread_create(&e->threads[i], NULL, worker_main, wa);
        if (rc) {
            free(wa);
            engine_stop(e);
            return qb_failf(QB_ERR_INTERNAL, err, errlen, "starting worker %u: %s", i,
                            strerror(rc));
        }
        e->nthreads++;
    }
    *out = e;
    return QB_OK;
}

/* Buckets are keyed "<kind>:<name>": names are unique per kind and a PUT
 * cannot rename. */
struct ratelimit *engine_limit(struct engine *e, const char *kind, const char *name, int64_t rate)
{
    char *key = xasprintf("%s:%s", kind, name);
    struct ratelimit *rl = ratelimits_get(e->limits, key, rate > 0 ? (uint64_t)rate : 0);
    free(key);
    return rl;
}

void engine_set_fleet_share(struct engine *e, unsigned nodes)
{
    if (e)
        ratelimits_set_share(e->limits, nodes);
}

void engine_set_limit(struct engine *e, const char *kind, const char *name, int64_t rate)
{
    if (!e)
        return;
    char *key = xasprintf("%s:%s", kind, name);
    ratelimits_set(e->limits, key, rate > 0 ? (uint64_t)rate : 0);
    free(key);
}
