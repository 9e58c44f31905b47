/* SPDX-License-Identifier: Apache-2.0
 *
 * http_feed.c -- feeds: suspended chunked replies filled by one thread
 * (see http_feed.h).
 */
#include "http/http_feed.h"
#include "http/http_internal.h"
#include "http/http_reply.h"
#include "util/log.h"
#include "util/threads.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* How often drained feeds are asked for more: the latency of a live view,
 * and a mutex round trip per feed when nothing happened. */
#define FEED_ROUND_MS 100
/* What one fill may append: a bound on a feed's memory, not on its rate
 * (the next fill follows as soon as the client took these bytes). */
#define FEED_FILL_MAX (256 * 1024)
/* MHD's read size for a feed's response. */
#define FEED_BLOCK_SIZE 16384

struct feed {
    struct http_feeds *hub;
    struct MHD_Connection *conn;
    int fd; /* the connection's socket (MHD's): to notice a client gone */
    http_feed_fn fill;
    void *ctx;
    void (*free_ctx)(void *ctx);
    struct buf pending; /* bytes not yet handed to MHD, from `sent` on */
    size_t sent;
    bool suspended; /* the reader suspended the connection: resume it */
    bool ended;     /* end of stream after pending */
    bool busy;      /* being filled by the thread, outside the lock */
    struct feed *next;
};

struct http_feeds {
    pthread_mutex_t lock; /* guards everything below and every feed */
    pthread_cond_t wake;  /* a feed ran dry, or stop */
    pthread_cond_t idle;  /* a feed's fill finished (its free may go on) */
    struct feed *list;
    unsigned open, max;
    bool stop;   /* http_feeds_close ran: refuse new feeds */
    bool kicked; /* a round is wanted now (http_feeds_kick, a feed ran dry) */
    pthread_t thread;
    bool started;
};

/* ---------------------------------------------------------------- MHD side */

/* MHD wants bytes.  None pending: suspend (returning 0 is allowed once the
 * connection is suspended) and let the thread fill and resume. */
static ssize_t feed_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct feed *f = cls;
    struct http_feeds *h = f->hub;
    (void)pos;
    pthread_mutex_lock(&h->lock);
    ssize_t n = 0;
    if (f->sent < f->pending.len) {
        size_t left = f->pending.len - f->sent;
        size_t take = left < max ? left : max;
        memcpy(out, f->pending.data + f->sent, take);
        f->sent += take;
        if (f->sent == f->pending.len) {
            buf_reset(&f->pending);
            f->sent = 0;
        }
        n = (ssize_t)take;
    } else if (f->ended) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        f->suspended = true;
        MHD_suspend_connection(f->conn);
        h->kicked = true;
        pthread_cond_signal(&h->wake);
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* The response is gone (client left, or served to the end). */
static void feed_free(void *cls)
{
    struct feed *f = cls;
    struct http_feeds *h = f->hub;
    pthread_mutex_lock(&h->lock);
    while (f->busy)
        pthread_cond_wait(&h->idle, &h->lock);
    for (struct feed **p = &h->list; *p; p = &(*p)->next) {
        if (*p == f) {
            *p = f->next;
            break;
        }
    }
    h->open--;
    pthread_mutex_unlock(&h->lock);
    if (f->free_ctx)
        f->free_ctx(f->ctx);
    buf_free(&f->pending);
    free(f);
}

enum qb_err http_reply_feed(struct http_request *req, const char *content_type, http_feed_fn fill,
                            void *ctx, void (*free_ctx)(void *ctx))
{
    struct http_feeds *h = http_req_feeds(req);
    if (!h)
        return QB_ERR_BUSY;
    pthread_mutex_lock(&h->lock);
    bool full = h->stop || h->open >= h->max;
    if (!full)
        h->open++;
    pthread_mutex_unlock(&h->lock);
    if (full)
        return QB_ERR_BUSY;
    struct feed *f = xcalloc(1, sizeof *f);
    f->hub = h;
    f->conn = req->conn;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    f->fd = ci ? ci->connect_fd : -1;
    f->fill = fill;
    f->ctx = ctx;
    f->free_ctx = free_ctx;
    buf_init(&f->pending, FEED_FILL_MAX);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, FEED_BLOCK_SIZE,
                                                                  feed_read, f, feed_free);
    if (!resp) {
        f->free_ctx = NULL; /* the caller keeps ctx on failure */
        pthread_mutex_lock(&h->lock);
        h->open--;
        pthread_mutex_unlock(&h->lock);
        buf_free(&f->pending);
        free(f);
        return QB_ERR_BUSY;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    /* Proxies (nginx) must pass the bytes on as they come. */
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    pthread_mutex_lock(&h->lock);
    f->next = h->list;
    h->list = f;
    pthread_mutex_unlock(&h->lock);
    req->feed = true;
    http_reply_set(req, 200, resp);
    return QB_OK;
}

/* ------------------------------------------------------------- the thread */

/* True when the client of a suspended feed hung up.  MHD does not watch
 * a suspended connection, so without this a gone client would hold its
 * feed slot until the next heartbeat found the socket closed.  A look
 * that takes nothing from the socket: poll() with no wait. */
static bool peer_gone(int fd)
{
    if (fd < 0)
        return false;
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Fills every drained feed once; closing gives each its last fill. */
static void feed_round(struct http_feeds *h, bool closing)
{
    struct buf scratch;
    buf_init(&scratch, FEED_FILL_MAX);
    pthread_mutex_lock(&h->lock);
    for (struct feed *f = h->list; f; f = f->next) {
        if (f->ended || (f->pending.len > f->sent && !closing))
            continue;
        if (f->suspended && peer_gone(f->fd)) {
            f->ended = true; /* resumed: MHD sees the closed socket and frees it */
            f->suspended = false;
            MHD_resume_connection(f->conn);
            continue;
        }
        f->busy = true;
        pthread_mutex_unlock(&h->lock);
        /* The list may change meanwhile, but f stays (its free waits for
         * busy) and so does f->next's place after it: feeds are only
         * added at the head and removed under the lock by feed_free,
         * which cannot remove f. */
        buf_reset(&scratch);
        bool more = f->fill(f->ctx, &scratch, closing) && !closing;
        pthread_mutex_lock(&h->lock);
        if (scratch.len && !buf_append(&f->pending, scratch.data, scratch.len))
            more = false; /* cannot happen: pending was drained */
        f->ended = !more;
        f->busy = false;
        pthread_cond_broadcast(&h->idle);
        if (f->suspended && (f->pending.len > f->sent || f->ended)) {
            f->suspended = false;
            MHD_resume_connection(f->conn);
        }
    }
    pthread_mutex_unlock(&h->lock);
    buf_free(&scratch);
}

void http_feeds_kick(struct http_feeds *h)
{
    pthread_mutex_lock(&h->lock);
    h->kicked = true;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
}

static void *feed_main(void *arg)
{
    struct http_feeds *h = arg;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        bool stop = h->stop, any = h->list != NULL;
        h->kicked = false;
        pthread_mutex_unlock(&h->lock);
        if (stop)
            break;
        if (any)
            feed_round(h, false);
        /* Until the next tick (heartbeats, hang-ups), a kick or stop. */
        struct timespec until;
        threads_deadline(&until, FEED_ROUND_MS);
        pthread_mutex_lock(&h->lock);
        while (!h->stop && !h->kicked)
            if (pthread_cond_timedwait(&h->wake, &h->lock, &until) == ETIMEDOUT)
                break;
        pthread_mutex_unlock(&h->lock);
    }
    return NULL;
}

enum qb_err http_feeds_start(unsigned max_feeds, struct http_feeds **out, char *err, size_t errlen)
{
    struct http_feeds *h = xcalloc(1, sizeof *h);
    h->max = max_feeds;
    pthread_cond_init(&h->idle, NULL);
    enum qb_err rc =
        threads_start(&h->lock, &h->wake, &h->thread, feed_main, h, "the feed thread", err, errlen);
    if (rc) {
        pthread_cond_destroy(&h->idle);
        free(h);
        return rc;
    }
    h->started = true;
    *out = h;
    return QB_OK;
}

void http_feeds_close(struct http_feeds *h)
{
    if (!h || !h->started)
        return;
    threads_stop(&h->lock, &h->wake, &h->stop, &h->thread, 1);
    h->started = false;
    feed_round(h, true);
}

void http_feeds_destroy(struct http_feeds *h)
{
    if (!h)
        return;
    http_feeds_close(h);
    QB_ASSERT(h->list == NULL);
    pthread_cond_destroy(&h->idle);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

unsigned http_feeds_open(struct http_feeds *h)
{
    pthread_mutex_lock(&h->lock);
    unsigned n = h->open;
    pthread_mutex_unlock(&h->lock);
    return n;
}
