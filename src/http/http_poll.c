/* SPDX-License-Identifier: Apache-2.0
 *
 * http_poll.c -- long polls without a pool thread: the deferred list and
 * the thread that drives it (see http_poll.h).
 */
#include "http/http_poll.h"
#include "http/http_internal.h"
#include "http/http_reply.h"
#include "util/threads.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct http_poller {
    pthread_mutex_t lock;          /* guards deferred and stop */
    pthread_cond_t wake;           /* a new long poll, or stop */
    struct http_request *deferred; /* suspended long polls */
    bool stop;
    pthread_t thread;
    void (*tick)(void *ctx);
    void *tick_ctx;
};

void http_req_defer(struct http_request *req, int64_t deadline_ms, http_poll_fn poll, void *ctx,
                    void (*free_ctx)(void *ctx))
{
    req->poll = poll;
    req->poll_ctx = ctx;
    req->poll_free = free_ctx;
    req->poll_deadline = deadline_ms;
}

void http_poller_suspend(struct http_poller *p, struct http_request *req)
{
    pthread_mutex_lock(&p->lock);
    req->suspended = true;
    req->next_deferred = p->deferred;
    p->deferred = req;
    MHD_suspend_connection(req->conn);
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

/* Takes the deferred list; the poll thread works on it without the lock
 * and puts back what is still waiting. */
static struct http_request *take_deferred(struct http_poller *p)
{
    pthread_mutex_lock(&p->lock);
    struct http_request *list = p->deferred;
    p->deferred = NULL;
    pthread_mutex_unlock(&p->lock);
    return list;
}

static void poll_round(struct http_poller *p, bool expire_all)
{
    struct http_request *list = take_deferred(p), *keep = NULL;
    int64_t now = qb_mono_ms();
    while (list) {
        struct http_request *req = list;
        list = req->next_deferred;
        bool expired = expire_all || now >= req->poll_deadline;
        bool done = req->poll(req, req->poll_ctx, expired) || expired;
        if (done && !req->response)
            http_reply_problem(req, API_ERR_INTERNAL, "the long poll produced no response");
        if (!done) {
            req->next_deferred = keep;
            keep = req;
            continue;
        }
        pthread_mutex_lock(&p->lock);
        req->suspended = false;
        MHD_resume_connection(req->conn);
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_lock(&p->lock);
    while (keep) {
        struct http_request *req = keep;
        keep = req->next_deferred;
        req->next_deferred = p->deferred;
        p->deferred = req;
    }
    pthread_mutex_unlock(&p->lock);
}

/* Drives long polls, about ten rounds a second while any are waiting, and
 * runs the tick about four times a second. */
static void *poll_main(void *arg)
{
    struct http_poller *p = arg;
    int64_t next_tick = 0;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        bool stop = p->stop, deferred = p->deferred != NULL;
        pthread_mutex_unlock(&p->lock);
        if (stop)
            break;
        if (deferred)
            poll_round(p, false);
        if (qb_mono_ms() >= next_tick) {
            p->tick(p->tick_ctx);
            next_tick = qb_mono_ms() + 250;
        }
        struct timespec until;
        threads_deadline(&until, deferred ? 100 : 250);
        pthread_mutex_lock(&p->lock);
        /* A new long poll or stop wakes us early; with long polls waiting,
         * rounds stay about 100 ms apart. */
        if (!p->stop && (deferred || !p->deferred))
            pthread_cond_timedwait(&p->wake, &p->lock, &until);
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

enum qb_err http_poller_start(void (*tick)(void *ctx), void *tick_ctx, struct http_poller **out,
                              char *err, size_t errlen)
{
    struct http_poller *p = xcalloc(1, sizeof *p);
    p->tick = tick;
    p->tick_ctx = tick_ctx;
    enum qb_err rc = threads_start(&p->lock, &p->wake, &p->thread, poll_main, p,
                                   "the long-poll thread", err, errlen);
    if (rc)
        free(p);
    else
        *out = p;
    return rc;
}

void http_poller_stop(struct http_poller *p)
{
    if (!p)
        return;
    threads_stop(&p->lock, &p->wake, &p->stop, &p->thread, 1);
    poll_round(p, true);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
