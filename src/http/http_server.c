/* SPDX-License-Identifier: Apache-2.0
 *
 * http_server.c -- libmicrohttpd daemon and the per-request pipeline.
 * Owns the MHD daemon, the in-flight counter and every request context.
 *
 * THREAD SAFETY NOTES
 * Access and completion callbacks run on MHD's pool threads.  Each request
 * context is touched by one thread at a time (MHD serialises callbacks of a
 * connection).  `lock` guards `inflight`, the deferred list and the
 * connection list with every struct http_conn in it; `drained` is signalled
 * when inflight drops to zero during shutdown.  A deferred (long-poll)
 * request is touched only by the poll thread while its connection is
 * suspended, and by MHD again once resumed.  The poll thread also sweeps
 * the connection list for deadlines and may shutdown(2) a connection's
 * socket under `lock`: MHD reports the connection closed (removing it from
 * the list, under `lock`) before it closes the descriptor, so the
 * descriptor cannot have been reused by then.
 *
 * Connection limits
 * MHD's connection timeout is an idle timer that every received byte
 * resets, and at its connection limit MHD stops accepting, leaving new
 * clients hanging in the listen backlog.  So 200 clients sending a request
 * line one byte at a time took the API down.  Now each connection has a
 * phase:
 *   WAITING  accepted, or its previous response sent; the request line and
 *            headers must arrive within header_timeout;
 *   BODY     headers in, the body must arrive within body_timeout;
 *   BUSY     being handled, suspended in a long poll or sending: no
 *            deadline of ours (MHD's idle timeout still applies).
 * The poll thread shuts down connections past their deadline.  MHD itself
 * gets twice max_connections as its hard limit and enforces
 * max_connections_per_ip (it closes the excess at accept).  When a
 * connection arrives past max_connections, the oldest WAITING connection
 * is shut down to make room; when none is WAITING (every slot is doing
 * real work) the newcomer is marked over the limit and its request is
 * answered 503 with Connection: close.  So half-sent requests can delay
 * nobody for long, and real work is never cut to make room.
 */
#include "http/http_server.h"
#include "http/http_internal.h"
#include "http/http_reply.h"
#include "http/redact.h"
#include "util/json_util.h"
#include "util/log.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum conn_phase { CONN_WAITING, CONN_BODY, CONN_BUSY };

/* One client connection, from MHD's STARTED to its CLOSED notification. */
struct http_conn {
    struct http_conn *prev, *next; /* in the server's list */
    MHD_socket fd;
    enum conn_phase phase;
    int64_t since_ms; /* monotonic: when the current phase began */
    bool over_limit;  /* arrived past max_connections: answer 503 */
    bool shut;        /* we shut it down; MHD will close it */
};

enum conn_close_reason { CLOSE_HEADER_TIMEOUT, CLOSE_BODY_TIMEOUT, CLOSE_EVICTED, CLOSE_REASONS_ };
static const char *const close_reason_names[CLOSE_REASONS_] = {"header_timeout", "body_timeout",
                                                               "evicted"};

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_server_config cfg;
    const struct http_route *routes;
    size_t nroutes;
    const struct auth *auth;
    struct metrics *metrics;
    void *app;
    int port;
    pthread_mutex_t lock; /* guards inflight, deferred, poll_stop */
    pthread_cond_t drained;
    unsigned inflight;
    struct http_request *deferred; /* suspended long polls */
    pthread_t poll_thread;
    bool poll_thread_started;
    bool poll_stop;
    pthread_cond_t poll_wake;
    struct http_conn *conns;         /* every open connection, newest first */
    unsigned nconns;                 /* in the list, shut ones included */
    unsigned nshut;                  /* of which shut down by us, not yet closed */
    uint64_t closed[CLOSE_REASONS_]; /* connections we shut down, by reason */
    uint64_t over_limit;             /* connections answered 503 for the limit */
    int64_t log_window_ms;           /* on_mhd_log rate limit: window start */
    unsigned log_lines, log_suppressed;
};

void *http_server_app(const struct http_server *s)
{
    return s->app;
}

const struct auth *http_server_auth(const struct http_server *s)
{
    return s->auth;
}

/* ---------------------------------------------------------------- accessors */

const char *http_req_id(const struct http_request *req)
{
    return req->id;
}

const char *http_req_method(const struct http_request *req)
{
    return req->method;
}

const char *http_req_path(const struct http_request *req)
{
    return req->path;
}

const char *http_req_param(const struct http_request *req, const char *name)
{
    return http_route_param(&req->match, name);
}

const char *http_req_query(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_req_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const cJSON *http_req_json(const struct http_request *req)
{
    return req->json;
}

const char *http_req_principal(const struct http_request *req)
{
    return req->principal;
}

enum auth_role http_req_role(const struct http_request *req)
{
    return req->role;
}

void *http_req_app(const struct http_request *req)
{
    return req->server->app;
}

/* ---------------------------------------------------------------- request ids */

/* Accepts ids a log line can carry unquoted and a header can echo safely. */
static bool valid_request_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > HTTP_REQUEST_ID_MAX)
        return false;
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("-_.:", *p))
            return false;
    }
    return true;
}

static void new_request_id(char *out, size_t outlen)
{
    unsigned char raw[12];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        /* Ids need uniqueness, not secrecy: fall back to time and address. */
        int64_t t = qb_mono_ms();
        memcpy(raw, &t, sizeof t);
        uintptr_t a = (uintptr_t)out;
        memcpy(raw + 8, &a, 4);
    }
    size_t o = 0;
    for (size_t i = 0; i < sizeof raw && o + 2 < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%02x", raw[i]);
}

/* ---------------------------------------------------------------- connections */

/* Moves c to a phase; call with s->lock held. */
static void conn_phase_locked(struct http_conn *c, enum conn_phase phase)
{
    c->phase = phase;
    c->since_ms = qb_mono_ms();
}

static void conn_set_phase(struct http_server *s, struct http_conn *c, enum conn_phase phase)
{
    if (!c)
        return;
    pthread_mutex_lock(&s->lock);
    conn_phase_locked(c, phase);
    pthread_mutex_unlock(&s->lock);
}

/* Shuts c's socket down so MHD closes it; call with s->lock held. */
static void conn_shut_locked(struct http_server *s, struct http_conn *c, enum conn_close_reason why)
{
    if (c->shut)
        return;
    c->shut = true;
    s->nshut++;
    s->closed[why]++;
    shutdown(c->fd, SHUT_RDWR);
}

/* Past max_connections: close the oldest connection still waiting for a
 * request, or else mark c to be answered 503.  Call with s->lock held. */
static void conn_make_room_locked(struct http_server *s, struct http_conn *c)
{
    if (s->nconns - s->nshut <= s->cfg.max_connections)
        return;
    struct http_conn *oldest = NULL;
    for (struct http_conn *o = s->conns; o; o = o->next) {
        if (o != c && !o->shut && o->phase == CONN_WAITING &&
            (!oldest || o->since_ms <= oldest->since_ms))
            oldest = o;
    }
    if (oldest)
        conn_shut_locked(s, oldest, CLOSE_EVICTED);
    else
        c->over_limit = true;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct http_conn *c = xcalloc(1, sizeof *c);
        c->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
        pthread_mutex_lock(&s->lock);
        conn_phase_locked(c, CONN_WAITING);
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->nconns++;
        if (c->fd != MHD_INVALID_SOCKET)
            conn_make_room_locked(s, c);
        pthread_mutex_unlock(&s->lock);
        *socket_context = c;
        return;
    }
    struct http_conn *c = *socket_context;
    if (!c)
        return;
    pthread_mutex_lock(&s->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    if (c->shut)
        s->nshut--;
    pthread_mutex_unlock(&s->lock);
    *socket_context = NULL;
    free(c);
}

/* Shuts down connections past their header or body deadline (poll thread). */
static void sweep_deadlines(struct http_server *s)
{
    int64_t now = qb_mono_ms();
    int64_t header_ms = (int64_t)s->cfg.header_timeout_s * 1000;
    int64_t body_ms = (int64_t)s->cfg.body_timeout_s * 1000;
    unsigned headers = 0, bodies = 0;
    pthread_mutex_lock(&s->lock);
    for (struct http_conn *c = s->conns; c; c = c->next) {
        if (c->shut)
            continue;
        if (c->phase == CONN_WAITING && now - c->since_ms >= header_ms) {
            conn_shut_locked(s, c, CLOSE_HEADER_TIMEOUT);
            headers++;
        } else if (c->phase == CONN_BODY && now - c->since_ms >= body_ms) {
            conn_shut_locked(s, c, CLOSE_BODY_TIMEOUT);
            bodies++;
        }
    }
    pthread_mutex_unlock(&s->lock);
    /* One line per sweep, not per connection: a flood must not flood the log. */
    if (headers || bodies)
        log_info("http.deadline", "closed_header_timeout=%u closed_body_timeout=%u", headers,
                 bodies);
}

/* ---------------------------------------------------------------- pipeline */

/* MHD's URI log callback: the request line has arrived, nothing of it is
 * decoded yet.  The context made here is the request's from now on (MHD
 * passes it as con_cls), so the raw target stays available for checks
 * that decoding would defeat, and on_completed sees requests MHD itself
 * refuses before the access handler runs. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_request *req = xcalloc(1, sizeof *req);
    req->server = cls;
    req->conn = conn;
    req->start_us = qb_mono_us();
    req->raw_uri = xstrdup(uri ? uri : "");
    req->route_label = "unmatched";
    req->principal = "-";
    qb_strlcpy(req->method, "-", sizeof req->method);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    req->hconn = ci ? ci->socket_context : NULL;
    return req;
}

/* The headers are in: the rest of the request context. */
static void request_start(struct http_request *req, const char *url, const char *method)
{
    struct http_server *s = req->server;
    struct MHD_Connection *conn = req->conn;
    req->started = true;
    req->path = xstrdup(url);
    qb_strlcpy(req->method, method, sizeof req->method);
    buf_init(&req->body, s->cfg.max_body_bytes);

    const char *incoming = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    const char *bearer =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    /* An id that looks like a token is not echoed: a fresh one replaces it. */
    if (incoming && valid_request_id(incoming) && !http_secret_like(incoming, bearer, s->auth))
        qb_strlcpy(req->id, incoming, sizeof req->id);
    else
        new_request_id(req->id, sizeof req->id);

    pthread_mutex_lock(&s->lock);
    s->inflight++;
    pthread_mutex_unlock(&s->lock);
}

static void request_destroy(struct http_request *req)
{
    struct http_server *s = req->server;
    bool started = req->started;
    if (req->poll_free)
        req->poll_free(req->poll_ctx);
    if (req->response)
        MHD_destroy_response(req->response);
    cJSON_Delete(req->json);
    buf_free(&req->body);
    free(req->path);
    free(req->raw_uri);
    free(req);
    if (!started)
        return;
    pthread_mutex_lock(&s->lock);
    if (--s->inflight == 0)
        pthread_cond_broadcast(&s->drained);
    pthread_mutex_unlock(&s->lock);
}

static enum MHD_Result send_reply(struct http_request *req)
{
    if (!req->response) {
        rlog_error(req->id, "http.no_reply", "route=%s", req->route_label);
        http_reply_problem(req, API_ERR_INTERNAL, "the handler produced no response");
    }
    MHD_add_response_header(req->response, "X-Request-Id", req->id);
    MHD_add_response_header(req->response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result r = MHD_queue_response(req->conn, req->status, req->response);
    MHD_destroy_response(req->response);
    req->response = NULL;
    return r;
}

/* Routing and authentication happen before the body is read, so an
 * unauthenticated client cannot make the server buffer a body.  Returns
 * false with a reply set when the request is refused. */
struct query_nul {
    const char *key; /* the first argument holding a NUL, or NULL */
};

static enum MHD_Result find_query_nul(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    struct query_nul *q = cls;
    (void)kind;
    if (memchr(key, '\0', key_size) || (value && memchr(value, '\0', value_size))) {
        q->key = key;
        return MHD_NO;
    }
    return MHD_YES;
}

/* Refuses an encoded NUL (%00) in the path or a query argument: decoding
 * makes it a terminator, so "1%00" would reach a handler as "1".  Checked
 * once here, for every route.  Returns false with a reply set. */
static bool reject_nul(struct http_request *req)
{
    struct http_server *s = req->server;
    char name[HTTP_PARAM_NAME_MAX];
    if (http_router_path_nul(s->routes, s->nroutes, req->raw_uri, name, sizeof name)) {
        http_reply_problem_field(req, API_ERR_INVALID_PARAMETER, name,
                                 "%s: contains an encoded NUL byte (%%00), which is not allowed",
                                 name);
        return false;
    }
    struct query_nul q = {NULL};
    MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, find_query_nul, &q);
    if (q.key) {
        const char *key = *q.key ? q.key : "query";
        http_reply_problem_field(req, API_ERR_INVALID_PARAMETER, key,
                                 "%s: contains an encoded NUL byte (%%00), which is not allowed",
                                 key);
        return false;
    }
    return true;
}

/* Request-target and header-block limits, answered as problem+json.  MHD
 * gets a memory pool four times max_header_bytes, so only requests larger
 * than that meet MHD's own HTML error page (docs/internals/http.md). */
static bool check_sizes(struct http_request *req)
{
    struct http_server *s = req->server;
    size_t uri = strlen(req->raw_uri);
    size_t uri_max = s->cfg.max_header_bytes / 2;
    if (uri > uri_max) {
        http_reply_problem(req, API_ERR_URI_TOO_LONG,
                           "the request target is %zu bytes; the limit is %zu", uri, uri_max);
        return false;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (ci && ci->header_size > s->cfg.max_header_bytes) {
        http_reply_problem(req, API_ERR_HEADER_TOO_LARGE,
                           "the request line and headers are %zu bytes; the limit is %zu",
                           ci->header_size, s->cfg.max_header_bytes);
        return false;
    }
    return true;
}

static bool admit(struct http_request *req)
{
    struct http_server *s = req->server;
    char allow[128];
    if (!check_sizes(req) || !reject_nul(req))
        return false;
    enum http_router_result r = http_router_match(s->routes, s->nroutes, req->method, req->path,
                                                  &req->match, allow, sizeof allow);
    if (r == HTTP_ROUTER_NOT_FOUND) {
        http_reply_problem(req, API_ERR_ROUTE_NOT_FOUND, "no route matches this path");
        return false;
    }
    if (r == HTTP_ROUTER_METHOD_NOT_ALLOWED) {
        http_reply_problem(req, API_ERR_METHOD_NOT_ALLOWED, "%s is not allowed here; use %s",
                           strcmp(metrics_method_label(req->method), "other") != 0 ? req->method
                                                                                   : "this method",
                           allow);
        http_reply_header(req, MHD_HTTP_HEADER_ALLOW, allow);
        return false;
    }
    req->route_label = req->match.route->pattern;

    if (auth_count(s->auth) == 0) {
        req->role = AUTH_ROLE_ADMIN;
        req->principal = "anonymous";
    } else if (req->match.route->role != AUTH_ROLE_PUBLIC) {
        const char *hdr = http_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
        enum auth_result ar = auth_check(s->auth, hdr, &req->role, &req->principal);
        if (ar != AUTH_OK) {
            http_reply_problem(req, API_ERR_UNAUTHENTICATED, "%s",
                               ar == AUTH_MISSING ? "send \"Authorization: Bearer <token>\""
                                                  : "the bearer token is not recognised");
            http_reply_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                              ar == AUTH_MISSING ? "Bearer realm=\"qbackup\""
                                                 : "Bearer realm=\"qbackup\", "
                                                   "error=\"invalid_token\"");
            return false;
        }
        if (req->role < req->match.route->role) {
            http_reply_problem(req, API_ERR_FORBIDDEN, "token \"%s\" has role %s; this needs %s",
                               req->principal, auth_role_name(req->role),
                               auth_role_name(req->match.route->role));
            return false;
        }
    }

    const char *cl = http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl && n > s->cfg.max_body_bytes) {
            http_reply_problem(req, API_ERR_BODY_TOO_LARGE,
                               "the body is %llu bytes; the limit is %zu", n,
                               s->cfg.max_body_bytes);
            return false;
        }
    }
    return true;
}

static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    size_t n = strcspn(ct, ";");
    while (n > 0 && isspace((unsigned char)ct[n - 1]))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    /* application/<anything>+json, e.g. merge-patch+json */
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* Validates and parses the body; returns false with a reply set. */
static bool parse_body(struct http_request *req)
{
    struct http_server *s = req->server;
    if (req->body_too_large) {
        http_reply_problem(req, API_ERR_BODY_TOO_LARGE, "the body exceeds the limit of %zu bytes",
                           s->cfg.max_body_bytes);
        return false;
    }
    if (req->body.len == 0)
        return true;
    const char *ct = http_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!is_json_type(ct)) {
        http_reply_problem(req, API_ERR_UNSUPPORTED_MEDIA_TYPE,
                           "request bodies must be application/json (got %s)",
                           ct ? ct : "no Content-Type");
        return false;
    }
    char err[QB_ERRBUF_SIZE], field[128];
    if (json_parse_bounded(req->body.data, req->body.len, s->cfg.max_json_depth, &req->json, err,
                           sizeof err) != QB_OK) {
        http_reply_problem(req, API_ERR_MALFORMED_JSON, "%s", err);
        return false;
    }
    /* Every body, once, before any handler: NULs in strings and duplicate
     * keys (json_check_strict says why they matter). */
    if (json_check_strict(req->body.data, req->body.len, req->json, field, sizeof field, err,
                          sizeof err) != QB_OK) {
        if (*field)
            http_reply_problem_field(req, API_ERR_INVALID_FIELD, field, "%s", err);
        else
            http_reply_problem(req, API_ERR_INVALID_FIELD, "%s", err);
        return false;
    }
    return true;
}

/* A connection that arrived past max_connections while every slot was
 * doing real work: a quick 503 rather than a hang in the listen backlog. */
static enum MHD_Result refuse_over_limit(struct http_request *req)
{
    struct http_server *s = req->server;
    pthread_mutex_lock(&s->lock);
    s->over_limit++;
    pthread_mutex_unlock(&s->lock);
    req->handled = true;
    http_reply_problem(req, API_ERR_UNAVAILABLE,
                       "qbackupd is serving its limit of %u connections; retry shortly",
                       s->cfg.max_connections);
    http_reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    http_reply_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
    return send_reply(req);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct http_server *s = cls;
    struct http_request *req = *con_cls;
    (void)version;

    if (!req) { /* not seen by on_request_line: cannot happen with MHD >= 0.9.71 */
        req = on_request_line(s, url, conn);
        *con_cls = req;
    }
    if (!req->started) {
        request_start(req, url, method);
        if (req->hconn && req->hconn->over_limit) {
            conn_set_phase(s, req->hconn, CONN_BUSY);
            return refuse_over_limit(req);
        }
        if (!admit(req)) {
            conn_set_phase(s, req->hconn, CONN_BUSY);
            req->handled = true; /* refused: never run the handler */
            return send_reply(req);
        }
        conn_set_phase(s, req->hconn, CONN_BODY);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* Past the limit the rest is drained and dropped; 413 follows. */
        if (!req->handled && !req->body_too_large &&
            !buf_append(&req->body, upload_data, *upload_data_size))
            req->body_too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->handled) {
        /* Re-entered after a long poll resumed the connection. */
        if (req->poll && !req->suspended && req->response)
            return send_reply(req);
        return MHD_YES;
    }
    req->handled = true;
    conn_set_phase(s, req->hconn, CONN_BUSY);
    if (parse_body(req))
        req->match.route->handler(req);
    if (req->poll && !req->response) {
        pthread_mutex_lock(&s->lock);
        req->suspended = true;
        req->next_deferred = s->deferred;
        s->deferred = req;
        MHD_suspend_connection(conn);
        pthread_cond_signal(&s->poll_wake);
        pthread_mutex_unlock(&s->lock);
        return MHD_YES;
    }
    return send_reply(req);
}

void http_req_defer(struct http_request *req, int64_t deadline_ms, http_poll_fn poll, void *ctx,
                    void (*free_ctx)(void *ctx))
{
    req->poll = poll;
    req->poll_ctx = ctx;
    req->poll_free = free_ctx;
    req->poll_deadline = deadline_ms;
}

/* Takes the deferred list; the poll thread works on it without the lock
 * and puts back what is still waiting. */
static struct http_request *take_deferred(struct http_server *s)
{
    pthread_mutex_lock(&s->lock);
    struct http_request *list = s->deferred;
    s->deferred = NULL;
    pthread_mutex_unlock(&s->lock);
    return list;
}

static void poll_round(struct http_server *s, bool expire_all)
{
    struct http_request *list = take_deferred(s), *keep = NULL;
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
        pthread_mutex_lock(&s->lock);
        req->suspended = false;
        MHD_resume_connection(req->conn);
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_lock(&s->lock);
    while (keep) {
        struct http_request *req = keep;
        keep = req->next_deferred;
        req->next_deferred = s->deferred;
        s->deferred = req;
    }
    pthread_mutex_unlock(&s->lock);
}

/* Drives long polls, about ten rounds a second while any are waiting, and
 * sweeps connection deadlines about four times a second. */
static void *poll_main(void *arg)
{
    struct http_server *s = arg;
    int64_t next_sweep = 0;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        bool stop = s->poll_stop, deferred = s->deferred != NULL;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;
        if (deferred)
            poll_round(s, false);
        if (qb_mono_ms() >= next_sweep) {
            sweep_deadlines(s);
            next_sweep = qb_mono_ms() + 250;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (deferred ? 100 : 250) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&s->lock);
        /* A new long poll or stop wakes us early; with long polls waiting,
         * rounds stay about 100 ms apart. */
        if (!s->poll_stop && (deferred || !s->deferred))
            pthread_cond_timedwait(&s->poll_wake, &s->lock, &until);
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct http_request *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    double seconds = (double)(qb_mono_us() - req->start_us) / 1e6;
    unsigned status = req->status ? req->status : 499; /* 499: client went away */
    if (!req->started) {
        /* libmicrohttpd answered (or dropped) it before the access handler
         * ran: a malformed or oversize request. */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
        status = ci && ci->http_status ? ci->http_status : 499;
        new_request_id(req->id, sizeof req->id);
    }
    metrics_http_observe(s->metrics, req->route_label, req->method, status, seconds);
    /* Never the query (MHD-refused requests have only the raw target), and
     * no token-looking path segment: logs must not keep secrets. */
    char shown[300], safe[300], path[300];
    const char *target = req->path ? req->path : req->raw_uri;
    snprintf(shown, sizeof shown, "%.*s", (int)strcspn(target, "?"), target);
    http_redact(shown, NULL, s->auth, safe, sizeof safe);
    log_quote(path, sizeof path, safe);
    enum log_level level = status >= 500 ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO;
    if (log_enabled(level))
        log_write(level, req->id, "http.request",
                  "method=%s path=%s route=%s status=%u duration_ms=%.1f principal=%s%s",
                  req->method, path, req->route_label, status, seconds * 1000, req->principal,
                  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=true");
    /* Keep-alive: the connection now waits for its next request. */
    conn_set_phase(s, req->hconn, CONN_WAITING);
    request_destroy(req);
}

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
    pthread_mutex_lock(&s->lock);
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
    pthread_mutex_unlock(&s->lock);
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
    pthread_mutex_lock(&s->lock);
    unsigned inflight = s->inflight, conns = s->nconns - s->nshut;
    uint64_t closed[CLOSE_REASONS_], over = s->over_limit;
    memcpy(closed, s->closed, sizeof closed);
    pthread_mutex_unlock(&s->lock);
    bool ok = metrics_head(out, METRIC_HTTP_INFLIGHT) &&
              metrics_sample(out, METRIC_HTTP_INFLIGHT, " %u\n", inflight) &&
              metrics_head(out, METRIC_HTTP_CONNECTIONS) &&
              metrics_sample(out, METRIC_HTTP_CONNECTIONS, " %u\n", conns) &&
              metrics_head(out, METRIC_HTTP_CLOSED);
    for (int i = 0; ok && i < CLOSE_REASONS_; i++)
        ok = metrics_sample(out, METRIC_HTTP_CLOSED, "{reason=\"%s\"} %llu\n",
                            close_reason_names[i], (unsigned long long)closed[i]);
    return ok && metrics_head(out, METRIC_HTTP_REFUSED) &&
           metrics_sample(out, METRIC_HTTP_REFUSED, " %llu\n", (unsigned long long)over);
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
    s->cfg = *cfg;
    s->routes = routes;
    s->nroutes = nroutes;
    s->auth = auth;
    s->metrics = metrics;
    s->app = app;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->drained, NULL);
    pthread_cond_init(&s->poll_wake, NULL);
    if (pthread_create(&s->poll_thread, NULL, poll_main, s) != 0) {
        freeaddrinfo(ai);
        http_server_stop(s, 0);
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "cannot start the long-poll thread");
    }
    s->poll_thread_started = true;

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
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, hard_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool_bytes,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_URI_LOG_CALLBACK, on_request_line, s,
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

unsigned http_server_inflight(struct http_server *s)
{
    pthread_mutex_lock(&s->lock);
    unsigned n = s->inflight;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void http_server_stop(struct http_server *s, int grace_ms)
{
    if (!s)
        return;
    if (s->poll_thread_started) {
        pthread_mutex_lock(&s->lock);
        s->poll_stop = true;
        pthread_cond_broadcast(&s->poll_wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->poll_thread, NULL);
        /* Waiting clients get their "still running" answer now rather
         * than a dropped connection. */
        poll_round(s, true);
    }
    if (s->daemon) {
        /* The listen socket is ours to close, but only once the daemon
         * stopped: its polling thread drops it from epoll with some delay,
         * and closing it before aborts the process ("Failed to remove
         * listen FD from epoll set"), as a CI run showed. */
        MHD_socket fd = MHD_quiesce_daemon(s->daemon);
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += grace_ms / 1000;
        deadline.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&s->lock);
        while (s->inflight > 0) {
            if (pthread_cond_timedwait(&s->drained, &s->lock, &deadline) == ETIMEDOUT)
                break;
        }
        unsigned left = s->inflight;
        pthread_mutex_unlock(&s->lock);
        if (left)
            log_warn("http.shutdown", "msg=\"grace period over; closing\" inflight=%u", left);
        MHD_stop_daemon(s->daemon);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
    pthread_cond_destroy(&s->drained);
    pthread_cond_destroy(&s->poll_wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
