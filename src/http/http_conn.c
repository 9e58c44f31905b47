/* SPDX-License-Identifier: Apache-2.0
 *
 * http_conn.c -- connection admission, limits and deadlines.  Owns the
 * list of open connections and the counters of those we closed or
 * refused; http_conn.h says why connections have phases.
 */
#include "http/http_conn.h"
#include "common.h"
#include "metrics.h"
#include "util/log.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* One client connection, from MHD's STARTED to its CLOSED notification. */
struct http_conn {
    struct http_conn *prev, *next; /* in the table's list */
    MHD_socket fd;
    enum http_conn_phase phase;
    int64_t since_ms; /* monotonic: when the current phase began */
    bool over_limit;  /* arrived past max_connections: answer 503 */
    bool shut;        /* we shut it down; MHD will close it */
};

enum conn_close_reason { CLOSE_HEADER_TIMEOUT, CLOSE_BODY_TIMEOUT, CLOSE_EVICTED, CLOSE_REASONS_ };
static const char *const close_reason_names[CLOSE_REASONS_] = {"header_timeout", "body_timeout",
                                                               "evicted"};

struct http_conns {
    pthread_mutex_t lock; /* guards everything below and every record */
    unsigned max_connections;
    int64_t header_ms, body_ms;      /* the phase deadlines */
    struct http_conn *conns;         /* every open connection, newest first */
    unsigned nconns;                 /* in the list, shut ones included */
    unsigned nshut;                  /* of which shut down by us, not yet closed */
    uint64_t closed[CLOSE_REASONS_]; /* connections we shut down, by reason */
    uint64_t over_limit;             /* connections answered 503 for the limit */
};

void http_conns_destroy(struct http_conns *t)
{
    if (!t)
        return;
    while (t->conns) {
        struct http_conn *c = t->conns;
        t->conns = c->next;
        free(c);
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

struct http_conns *http_conns_create(unsigned max_connections, unsigned header_timeout_s,
                                     unsigned body_timeout_s)
{
    struct http_conns *t = xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    t->max_connections = max_connections;
    t->header_ms = (int64_t)header_timeout_s * 1000;
    t->body_ms = (int64_t)body_timeout_s * 1000;
    return t;
}

/* Moves c to a phase; call with t->lock held. */
static void conn_phase_locked(struct http_conn *c, enum http_conn_phase phase)
{
    c->phase = phase;
    c->since_ms = qb_mono_ms();
}

void http_conns_set_phase(struct http_conns *t, struct http_conn *c, enum http_conn_phase phase)
{
    if (!c)
        return;
    pthread_mutex_lock(&t->lock);
    conn_phase_locked(c, phase);
    pthread_mutex_unlock(&t->lock);
}

bool http_conn_over_limit(const struct http_conn *c)
{
    return c && c->over_limit;
}

void http_conns_count_refused(struct http_conns *t)
{
    pthread_mutex_lock(&t->lock);
    t->over_limit++;
    pthread_mutex_unlock(&t->lock);
}

/* Shuts c's socket down so MHD closes it; call with t->lock held. */
static void conn_shut_locked(struct http_conns *t, struct http_conn *c, enum conn_close_reason why)
{
    if (c->shut)
        return;
    c->shut = true;
    t->nshut++;
    t->closed[why]++;
    shutdown(c->fd, SHUT_RDWR);
}

/* Past max_connections: close the oldest connection still waiting for a
 * request, or else mark c to be answered 503.  Call with t->lock held. */
static void conn_make_room_locked(struct http_conns *t, struct http_conn *c)
{
    if (t->nconns - t->nshut <= t->max_connections)
        return;
    struct http_conn *oldest = NULL;
    for (struct http_conn *o = t->conns; o; o = o->next) {
        if (o != c && !o->shut && o->phase == HTTP_CONN_WAITING &&
            (!oldest || o->since_ms <= oldest->since_ms))
            oldest = o;
    }
    if (oldest)
        conn_shut_locked(t, oldest, CLOSE_EVICTED);
    else
        c->over_limit = true;
}

void http_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode code)
{
    struct http_conns *t = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct http_conn *c = xcalloc(1, sizeof *c);
        c->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
        pthread_mutex_lock(&t->lock);
        conn_phase_locked(c, HTTP_CONN_WAITING);
        c->next = t->conns;
        if (t->conns)
            t->conns->prev = c;
        t->conns = c;
        t->nconns++;
        if (c->fd != MHD_INVALID_SOCKET)
            conn_make_room_locked(t, c);
        pthread_mutex_unlock(&t->lock);
        *socket_context = c;
        return;
    }
    struct http_conn *c = *socket_context;
    if (!c)
        return;
    pthread_mutex_lock(&t->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->nconns--;
    if (c->shut)
        t->nshut--;
    pthread_mutex_unlock(&t->lock);
    *socket_context = NULL;
    free(c);
}

void http_conns_sweep(struct http_conns *t)
{
    int64_t now = qb_mono_ms();
    unsigned headers = 0, bodies = 0;
    pthread_mutex_lock(&t->lock);
    for (struct http_conn *c = t->conns; c; c = c->next) {
        if (c->shut)
            continue;
        if (c->phase == HTTP_CONN_WAITING && now - c->since_ms >= t->header_ms) {
            conn_shut_locked(t, c, CLOSE_HEADER_TIMEOUT);
            headers++;
        } else if (c->phase == HTTP_CONN_BODY && now - c->since_ms >= t->body_ms) {
            conn_shut_locked(t, c, CLOSE_BODY_TIMEOUT);
            bodies++;
        }
    }
    pthread_mutex_unlock(&t->lock);
    /* One line per sweep, not per connection: a flood must not flood the log. */
    if (headers || bodies)
        log_info("http.deadline", "closed_header_timeout=%u closed_body_timeout=%u", headers,
                 bodies);
}

bool http_conns_render(struct http_conns *t, struct buf *out)
{
    pthread_mutex_lock(&t->lock);
    unsigned conns = t->nconns - t->nshut;
    uint64_t closed[CLOSE_REASONS_], over = t->over_limit;
    memcpy(closed, t->closed, sizeof closed);
    pthread_mutex_unlock(&t->lock);
    bool ok = metrics_head(out, METRIC_HTTP_CONNECTIONS) &&
              metrics_sample(out, METRIC_HTTP_CONNECTIONS, " %u\n", conns) &&
              metrics_head(out, METRIC_HTTP_CLOSED);
    for (int i = 0; ok && i < CLOSE_REASONS_; i++)
        ok = metrics_sample(out, METRIC_HTTP_CLOSED, "{reason=\"%s\"} %llu\n",
                            close_reason_names[i], (unsigned long long)closed[i]);
    return ok && metrics_head(out, METRIC_HTTP_REFUSED) &&
           metrics_sample(out, METRIC_HTTP_REFUSED, " %llu\n", (unsigned long long)over);
}
