/* SPDX-License-Identifier: Apache-2.0
 *
 * heartbeat.c -- the node's beat thread (see heartbeat.h).  Owns its
 * thread and copies of its configuration.
 */
#include "fleet/heartbeat.h"
#include "store/store_fleet.h"
#include "util/log.h"
#include "util/threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct heartbeat {
    struct store *store;
    char *node, *version, *address;
    int64_t interval_s;
    int64_t started_at;
    _Atomic int64_t last; /* heartbeat_last */
    pthread_t thread;
    pthread_mutex_t lock; /* guards stopping */
    pthread_cond_t cond;
    bool stopping;
    bool failing; /* the thread's own: the last beat failed (log once per spell) */
};

/* What heartbeat_start() copied, and hb itself: shared by its failure path
 * (no thread was started) and heartbeat_stop() (the thread has ended). */
static void heartbeat_free(struct heartbeat *hb)
{
    free(hb->node);
    free(hb->version);
    free(hb->address);
    free(hb);
}

void heartbeat_stop(struct heartbeat *hb)
{
    if (!hb)
        return;
    threads_stop_destroy(&hb->lock, &hb->cond, &hb->stopping, &hb->thread, 1);
    heartbeat_free(hb);
}

static void beat(struct heartbeat *hb)
{
    char err[QB_ERRBUF_SIZE];
    int64_t now = qb_now_ms() / 1000;
    if (store_fleet_beat(hb->store, hb->node, hb->version, hb->address, hb->started_at, now, NULL,
                         err, sizeof err)) {
        if (!hb->failing)
            log_warn("fleet.heartbeat_failed", "node=%s error=%s", log_q(hb->node), log_q(err));
        hb->failing = true;
        return;
    }
    if (hb->failing)
        log_info("fleet.heartbeat_ok", "node=%s", log_q(hb->node));
    hb->failing = false;
    atomic_store(&hb->last, now);
}

static void *heartbeat_main(void *arg)
{
    struct heartbeat *hb = arg;
    while (!threads_wait(&hb->lock, &hb->cond, &hb->stopping, (long)hb->interval_s * 1000))
        beat(hb);
    return NULL;
}

enum qb_err heartbeat_start(struct store *store, const struct heartbeat_config *cfg,
                            struct heartbeat **out, char *err, size_t errlen)
{
    QB_ASSERT(cfg->interval_s >= 1);
    struct heartbeat *hb = xcalloc(1, sizeof *hb);
    hb->store = store;
    hb->node = xstrdup(cfg->node);
    hb->version = xstrdup(cfg->version);
    hb->address = cfg->address ? xstrdup(cfg->address) : NULL;
    hb->interval_s = cfg->interval_s;
    hb->started_at = qb_now_ms() / 1000;
    beat(hb);
    enum qb_err rc = threads_start(&hb->lock, &hb->cond, &hb->thread, heartbeat_main, hb,
                                   "the heartbeat", err, errlen);
    if (rc) {
        heartbeat_free(hb);
        return rc;
    }
    *out = hb;
    return QB_OK;
}

int64_t heartbeat_last(struct heartbeat *hb)
{
    return hb ? atomic_load(&hb->last) : 0;
}
