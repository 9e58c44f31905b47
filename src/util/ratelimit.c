/* SPDX-License-Identifier: Apache-2.0
 *
 * ratelimit.c -- token buckets and their registry (ratelimit.h).
 */
#include "util/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A sleeping taker wakes at least this often: the bound on how late a
 * rate change or a stop request is noticed. */
#define SLICE_US 100000
/* Burst: a tenth of a second of the rate, so even a transfer of a few
 * seconds stays within a few percent of the limit, but at least 16 KiB (a
 * typical network chunk). */
#define BURST_MIN   (16 * 1024)
#define BURST_SHARE 10

struct ratelimit {
    pthread_mutex_t lock;
    struct ratelimit_clock clock;
    uint64_t rate;   /* bytes/s, 0: unlimited */
    double tokens;   /* may be negative: debt */
    int64_t last_us; /* when tokens was last refilled */
};

void ratelimit_destroy(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static int64_t real_now(void *ud)
{
    (void)ud;
    return qb_mono_us();
}

static void real_sleep(void *ud, int64_t us)
{
    (void)ud;
    qb_sleep_ms((long)((us + 999) / 1000));
}

static double burst_of(uint64_t rate)
{
    double b = (double)rate / BURST_SHARE;
    return b < BURST_MIN ? BURST_MIN : b;
}

struct ratelimit *ratelimit_create(uint64_t rate, const struct ratelimit_clock *clock)
{
    struct ratelimit *rl = xcalloc(1, sizeof *rl);
    pthread_mutex_init(&rl->lock, NULL);
    rl->clock =
        clock ? *clock : (struct ratelimit_clock){.now_us = real_now, .sleep_us = real_sleep};
    rl->rate = rate;
    rl->tokens = burst_of(rate);
    rl->last_us = rl->clock.now_us(rl->clock.ud);
    return rl;
}

/* Adds what the elapsed time earned, up to the burst.  Lock held. */
static void refill(struct ratelimit *rl)
{
    int64_t now = rl->clock.now_us(rl->clock.ud);
    int64_t dt = now - rl->last_us;
    rl->last_us = now;
    if (!rl->rate) {
        rl->tokens = 0; /* unlimited: no debt carried into a later limit */
        return;
    }
    if (dt > 0)
        rl->tokens += (double)dt * (double)rl->rate / 1e6;
    double burst = burst_of(rl->rate);
    if (rl->tokens > burst)
        rl->tokens = burst;
}

void ratelimit_set_rate(struct ratelimit *rl, uint64_t rate)
{
    pthread_mutex_lock(&rl->lock);
    refill(rl); /* the time so far is earned at the old rate */
    if (!rl->rate && rate)
        rl->tokens = burst_of(rate);
    rl->rate = rate;
    pthread_mutex_unlock(&rl->lock);
}

uint64_t ratelimit_rate(struct ratelimit *rl)
{
    pthread_mutex_lock(&rl->lock);
    uint64_t r = rl->rate;
    pthread_mutex_unlock(&rl->lock);
    return r;
}

enum qb_err ratelimit_take(struct ratelimit *rl, uint64_t n, bool (*stop)(void *ud), void *stop_ud)
{
    if (!rl)
        return QB_OK;
    pthread_mutex_lock(&rl->lock);
    refill(rl);
    if (rl->rate)
        rl->tokens -= (double)n;
    for (;;) {
        if (!rl->rate || rl->tokens >= 0)
            break;
        double wait = -rl->tokens * 1e6 / (double)rl->rate;
        int64_t us = wait > SLICE_US ? SLICE_US : (int64_t)wait + 1;
        pthread_mutex_unlock(&rl->lock);
        rl->clock.sleep_us(rl->clock.ud, us);
        if (stop && stop(stop_ud))
            return QB_ERR_CANCELLED;
        pthread_mutex_lock(&rl->lock);
        refill(rl);
    }
    pthread_mutex_unlock(&rl->lock);
    return QB_OK;
}

/* ------------------------------------------------------------- registry */

struct entry {
    struct entry *next;
    char *key;
    uint64_t rate; /* as configured; the bucket runs at its share */
    struct ratelimit *rl;
};

struct ratelimits {
    pthread_mutex_t lock;
    struct entry *head; /* few entries: one per instance, destination, plan */
    unsigned share;     /* nodes sharing each limit (ratelimits_set_share) */
};

void ratelimits_destroy(struct ratelimits *r)
{
    if (!r)
        return;
    for (struct entry *e = r->head, *next; e; e = next) {
        next = e->next;
        ratelimit_destroy(e->rl);
        free(e->key);
        free(e);
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

struct ratelimits *ratelimits_create(void)
{
    struct ratelimits *r = xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->share = 1;
    return r;
}

/* This process's part of a configured rate (0: no limit stays none). */
static uint64_t share_of(const struct ratelimits *r, uint64_t rate)
{
    if (!rate)
        return 0;
    uint64_t part = rate / r->share;
    return part ? part : 1;
}

static struct entry *find(struct ratelimits *r, const char *key)
{
    for (struct entry *e = r->head; e; e = e->next)
        if (!strcmp(e->key, key))
            return e;
    return NULL;
}

struct ratelimit *ratelimits_get(struct ratelimits *r, const char *key, uint64_t rate)
{
    pthread_mutex_lock(&r->lock);
    struct entry *e = find(r, key);
    if (!e) {
        e = xcalloc(1, sizeof *e);
        e->key = xstrdup(key);
        e->rate = rate;
        e->rl = ratelimit_create(share_of(r, rate), NULL);
        e->next = r->head;
        r->head = e;
    }
    pthread_mutex_unlock(&r->lock);
    return e->rl;
}

void ratelimits_set(struct ratelimits *r, const char *key, uint64_t rate)
{
    pthread_mutex_lock(&r->lock);
    struct entry *e = find(r, key);
    if (e) {
        e->rate = rate;
        ratelimit_set_rate(e->rl, share_of(r, rate));
    }
    pthread_mutex_unlock(&r->lock);
}

void ratelimits_set_share(struct ratelimits *r, unsigned nodes)
{
    pthread_mutex_lock(&r->lock);
    r->share = nodes ? nodes : 1;
    for (struct entry *e = r->head; e; e = e->next)
        ratelimit_set_rate(e->rl, share_of(r, e->rate));
    pthread_mutex_unlock(&r->lock);
}
