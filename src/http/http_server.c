/* SPDX-License-Identifier: Apache-2.0
 *
 * http_server.c -- the server's lifecycle: resolving and binding the
 * listen address, starting libmicrohttpd with our limits and callbacks,
 * MHD's own log messages (rate limited), the in-flight and connection
 * metrics, and the ordered shutdown.  Owns the MHD daemon and the three
 * parts it wires together: the connection table (http_conn.h), the
 * long-poll thread (http_poll.h) and the request pipeline
 * (http_pipeline.h).
 *
 * THREAD SAFETY NOTES
 * Start and stop run on the main thread.  on_mhd_log runs on MHD's
 * threads; `log_lock` guards its rate-limit window and takes no other
 * lock.  The parts keep their own locks, and none is held while another
 * part is called, so there is no lock order to keep.
 */
#include "http/http_server.h"
#include "http/http_conn.h"
#include "http/http_feed.h"
#include "http/http_pipeline.h"
#include "http/http_poll.h"
#include "util/log.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_conns *conns;
    struct http_poller *poller;
    struct http_feeds *feeds;
    struct http_pipeline *pipeline;
    int port;
    pthread_mutex_t log_lock; /* guards the on_mhd_log window below */
    int64_t log_window_ms;    /* on_mhd_log rate limit: window start */
    unsigned log_lines, log_suppressed;
};

static void on_mhd_log(void *cls, const char *fmt, va_list ap) QB_PRINTF(2, 0);

/* MHD's own messages (its format strings, our log line).  MHD writes one
 * per refused connection, so under a flood at most MHD_LOG_PER_SECOND
 * lines a second get through and the rest are counted. */
#define MHD_LOG_PER_SECOND 20
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *s = cls;
    int64_t now = qb_mono_ms();
    unsigned suppressed = 0;
    bool drop = false;
    pthread_mutex_lock(&s->log_lock);
    if (now - s->log_window_ms >= 1000) {
        suppressed = s->log_suppressed;
        s->log_window_ms = now;
        s->log_lines = 0;
        s->log_suppressed = 0;
    }
    if (++s->log_lines > MHD_LOG_PER_SECOND) {
        s->log_suppressed++;
        drop = true;
    }
    pthread_mutex_unlock(&s->log_lock);
    if (suppressed)
        log_warn("http.mhd", "msg=\"messages suppressed\" count=%u", suppressed);
    if (drop)
        return;
    char msg[512], quoted[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warn("http.mhd", "msg=%s", log_quote(quoted, sizeof quoted, msg));
}

/* ---------------------------------------------------------------- lifecycle */

static bool render_inflight(struct buf *out, void *ctx)
{
    struct http_server *s = ctx;
    return metrics_head(out, METRIC_HTTP_INFLIGHT) &&
           metrics_sample(out, METRIC_HTTP_INFLIGHT, " %u\n",
                          http_pipeline_inflight(s->pipeline)) &&
           metrics_head(out, METRIC_HTTP_STREAMS) &&
           metrics_sample(out, METRIC_HTTP_STREAMS, " %u\n", http_feeds_open(s->feeds)) &&
           http_conns_render(s->conns, out);
}

/* The connection deadline sweep, run on the poll thread. */
static void sweep_tick(void *ctx)
{
    http_conns_sweep(ctx);
}

enum qb_err http_server_start(const struct http_server_config *cfg, const struct http_route *routes,
                              size_t nroutes, const struct auth *auth, struct metrics *metrics,
                              void *app, struct http_server **out, char *err, size_t errlen)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0)
        return qb_failf(QB_ERR_INVALID, err, errlen, "listen: cannot resolve %s: %s", cfg->host,
                        gai_strerror(gai));

    struct http_server *s = xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->log_lock, NULL);
    s->conns = http_conns_create(cfg->max_connections, cfg->header_timeout_s, cfg->body_timeout_s);
    enum qb_err rc = http_poller_start(sweep_tick, s->conns, &s->poller, err, errlen);
    if (!rc)
        rc = http_feeds_start(cfg->max_feeds, &s->feeds, err, errlen);
    if (rc) {
        freeaddrinfo(ai);
        http_server_stop(s, 0);
        return rc;
    }
    s->pipeline = http_pipeline_create(cfg, routes, nroutes, auth, metrics, app, s->conns,
                                       s->poller, s->feeds);

    /* Suspend/resume: long polls wait without holding a pool thread. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Room above max_connections for newcomers that are answered 503 or
     * make an idle connection give way (see "Connection limits"). */
    unsigned hard_limit = cfg->max_connections * 2 + 16;
    /* Headers up to max_header_bytes get our 414/431; MHD needs room for
     * the header block, its parsed form and reading ahead, and answers
     * with its own HTML page only past this pool (allocated on use). */
    size_t pool_bytes = cfg->max_header_bytes * 4 < 65536 ? 65536 : cfg->max_header_bytes * 4;
    /* One option and its arguments per line. */
    /* clang-format off */
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, http_pipeline_on_access, s->pipeline,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, hard_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool_bytes,
        MHD_OPTION_NOTIFY_CONNECTION, http_conns_notify, s->conns,
        MHD_OPTION_NOTIFY_COMPLETED, http_pipeline_on_completed, s->pipeline,
        MHD_OPTION_URI_LOG_CALLBACK, http_pipeline_on_request_line, s->pipeline,
        MHD_OPTION_END);
    /* clang-format on */
    int saved_errno = errno;
    freeaddrinfo(ai);
    if (!s->daemon) {
        http_server_stop(s, 0);
        return qb_failf(QB_ERR_IO, err, errlen, "listen: cannot listen on %s:%d: %s", cfg->host,
                        cfg->port, strerror(saved_errno));
    }
    metrics_add_collector(metrics, render_inflight, s);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    *out = s;
    return QB_OK;
}

int http_server_port(const struct http_server *s)
{
    return s->port;
}

void http_server_kick_feeds(void *ctx)
{
    struct http_server *s = ctx;
    if (s && s->feeds)
        http_feeds_kick(s->feeds);
}

unsigned http_server_inflight(struct http_server *s)
{
    return http_pipeline_inflight(s->pipeline);
}

void http_server_stop(struct http_server *s, int grace_ms)
{
    if (!s)
        return;
    /* Waiting clients get their "still running" answer now rather than
     * a dropped connection. */
    http_poller_stop(s->poller);
    if (s->daemon) {
        /* The listen socket is ours to close, but only once the daemon
         * stopped: its polling thread drops it from epoll with some delay,
         * and closing it before aborts the process ("Failed to remove
         * listen FD from epoll set"), as a CI run showed. */
        MHD_socket fd = MHD_quiesce_daemon(s->daemon);
        /* Event streams end now, or they would hold the grace period. */
        http_feeds_close(s->feeds);
        unsigned left = http_pipeline_drain(s->pipeline, grace_ms);
        if (left)
            log_warn("http.shutdown", "msg=\"grace period over; closing\" inflight=%u", left);
        MHD_stop_daemon(s->daemon);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
    /* MHD has reported every connection closed and completed every
     * request: nothing refers to the parts any more. */
    http_pipeline_destroy(s->pipeline);
    http_feeds_destroy(s->feeds);
    http_conns_destroy(s->conns);
    pthread_mutex_destroy(&s->log_lock);
    free(s);
}
