/* SPDX-License-Identifier: Apache-2.0
 *
 * http_pipeline.c -- the per-request pipeline: request contexts from the
 * request line to completion, request ids, the checks before a handler
 * runs (sizes, encoded NULs, route, authentication, Content-Length), the
 * bounded body and its strict JSON parse, the handler call, the reply, the
 * access log line and the in-flight count.  Owns every struct
 * http_request (http_internal.h) and the accessors of http_request.h.
 *
 * THREAD SAFETY NOTES
 * Callbacks run on MHD's pool threads.  Each request context is touched
 * by one thread at a time (MHD serialises callbacks of a connection; a
 * suspended request belongs to the poll thread, http_poll.h).  `lock`
 * guards `inflight`; `drained` is signalled when it drops to zero.  No
 * other lock is taken while `lock` is held.
 */
#include "http/http_pipeline.h"
#include "http/http_conn.h"
#include "http/http_internal.h"
#include "http/http_poll.h"
#include "http/http_reply.h"
#include "http/redact.h"
#include "util/json_util.h"
#include "util/log.h"
#include "util/threads.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

struct http_pipeline {
    size_t max_header_bytes; /* see struct http_server_config */
    size_t max_body_bytes;
    int max_json_depth;
    const char *const *form_routes; /* borrowed; NULL-terminated */
    unsigned max_connections;       /* named in the 503 for the limit */
    const struct http_route *routes;
    size_t nroutes;
    const struct auth *auth;
    struct metrics *metrics;
    void *app;
    struct http_conns *conns;   /* borrowed: phases and the 503 count */
    struct http_poller *poller; /* borrowed: where long polls wait */
    struct http_feeds *feeds;   /* borrowed: where event streams are served */
    pthread_mutex_t lock;       /* guards inflight */
    pthread_cond_t drained;     /* inflight dropped to zero */
    unsigned inflight;
};

void http_pipeline_destroy(struct http_pipeline *p)
{
    if (!p)
        return;
    pthread_cond_destroy(&p->drained);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

struct http_pipeline *http_pipeline_create(const struct http_server_config *cfg,
                                           const struct http_route *routes, size_t nroutes,
                                           const struct auth *auth, struct metrics *metrics,
                                           void *app, struct http_conns *conns,
                                           struct http_poller *poller, struct http_feeds *feeds)
{
    struct http_pipeline *p = xcalloc(1, sizeof *p);
    p->max_header_bytes = cfg->max_header_bytes;
    p->max_body_bytes = cfg->max_body_bytes;
    p->max_json_depth = cfg->max_json_depth;
    p->form_routes = cfg->form_routes;
    p->max_connections = cfg->max_connections;
    p->routes = routes;
    p->nroutes = nroutes;
    p->auth = auth;
    p->metrics = metrics;
    p->app = app;
    p->conns = conns;
    p->poller = poller;
    p->feeds = feeds;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->drained, NULL);
    return p;
}

const struct auth *http_pipeline_auth(const struct http_pipeline *p)
{
    return p->auth;
}

unsigned http_pipeline_inflight(struct http_pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    unsigned n = p->inflight;
    pthread_mutex_unlock(&p->lock);
    return n;
}

unsigned http_pipeline_drain(struct http_pipeline *p, int grace_ms)
{
    struct timespec deadline;
    threads_deadline(&deadline, grace_ms);
    pthread_mutex_lock(&p->lock);
    while (p->inflight > 0) {
        if (pthread_cond_timedwait(&p->drained, &p->lock, &deadline) == ETIMEDOUT)
            break;
    }
    unsigned left = p->inflight;
    pthread_mutex_unlock(&p->lock);
    return left;
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

const char *http_req_body(const struct http_request *req, size_t *len)
{
    *len = req->body.len;
    return req->body.len ? req->body.data : NULL;
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
    return req->pipe->app;
}

struct http_feeds *http_req_feeds(const struct http_request *req)
{
    return req->pipe->feeds;
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

/* MHD's URI log callback: the request line has arrived, nothing of it is
 * decoded yet.  The context made here is the request's from now on (MHD
 * passes it as con_cls), so the raw target stays available for checks
 * that decoding would defeat, and on_completed sees requests MHD itself
 * refuses before the access handler runs. */
void *http_pipeline_on_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_request *req = xcalloc(1, sizeof *req);
    req->pipe = cls;
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
    struct http_pipeline *s = req->pipe;
    struct MHD_Connection *conn = req->conn;
    req->started = true;
    req->path = xstrdup(url);
    qb_strlcpy(req->method, method, sizeof req->method);
    buf_init(&req->body, s->max_body_bytes);

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
    struct http_pipeline *s = req->pipe;
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
    struct http_pipeline *s = req->pipe;
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
    struct http_pipeline *s = req->pipe;
    size_t uri = strlen(req->raw_uri);
    size_t uri_max = s->max_header_bytes / 2;
    if (uri > uri_max) {
        http_reply_problem(req, API_ERR_URI_TOO_LONG,
                           "the request target is %zu bytes; the limit is %zu", uri, uri_max);
        return false;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (ci && ci->header_size > s->max_header_bytes) {
        http_reply_problem(req, API_ERR_HEADER_TOO_LARGE,
                           "the request line and headers are %zu bytes; the limit is %zu",
                           ci->header_size, s->max_header_bytes);
        return false;
    }
    return true;
}

/* Routing and authentication happen before the body is read, so an
 * unauthenticated client cannot make the server buffer a body.  Returns
 * false with a reply set when the request is refused. */
static bool admit(struct http_request *req)
{
    struct http_pipeline *s = req->pipe;
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
        /* A browser's Basic credentials: reads only (auth.h says why). */
        bool safe = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
        if (ar == AUTH_MISSING && safe)
            ar = auth_check_basic(s->auth, hdr, &req->role, &req->principal);
        if (ar != AUTH_OK) {
            /* A browser (it asks for HTML) gets a login prompt; the
             * token goes in the password field, never in the URL. */
            const char *accept = http_req_header(req, MHD_HTTP_HEADER_ACCEPT);
            bool browser = safe && accept && strstr(accept, "text/html");
            http_reply_problem(req, API_ERR_UNAUTHENTICATED, "%s",
                               ar == AUTH_MISSING ? "send \"Authorization: Bearer <token>\""
                                                  : "the bearer token is not recognised");
            http_reply_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                              ar == AUTH_MISSING ? "Bearer realm=\"qbackup\""
                                                 : "Bearer realm=\"qbackup\", "
                                                   "error=\"invalid_token\"");
            if (browser)
                http_reply_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                  "Basic realm=\"qbackup\", charset=\"UTF-8\"");
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
        if (errno == 0 && end != cl && n > s->max_body_bytes) {
            http_reply_problem(req, API_ERR_BODY_TOO_LARGE,
                               "the body is %llu bytes; the limit is %zu", n, s->max_body_bytes);
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

static bool is_form_route(const struct http_pipeline *s, const char *pattern)
{
    for (const char *const *p = s->form_routes; p && *p; p++)
        if (strcmp(*p, pattern) == 0)
            return true;
    return false;
}

/* Validates and parses the body; returns false with a reply set. */
static bool parse_body(struct http_request *req)
{
    struct http_pipeline *s = req->pipe;
    if (req->body_too_large) {
        http_reply_problem(req, API_ERR_BODY_TOO_LARGE, "the body exceeds the limit of %zu bytes",
                           s->max_body_bytes);
        return false;
    }
    if (req->body.len == 0)
        return true;
    const char *ct = http_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (is_form_route(s, req->match.route->pattern)) {
        if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
            return true;
        http_reply_problem(req, API_ERR_UNSUPPORTED_MEDIA_TYPE,
                           "this route takes application/x-www-form-urlencoded (got %s)",
                           ct ? ct : "no Content-Type");
        return false;
    }
    if (!is_json_type(ct)) {
        http_reply_problem(req, API_ERR_UNSUPPORTED_MEDIA_TYPE,
                           "request bodies must be application/json (got %s)",
                           ct ? ct : "no Content-Type");
        return false;
    }
    char err[QB_ERRBUF_SIZE], field[128];
    if (json_parse_bounded(req->body.data, req->body.len, s->max_json_depth, &req->json, err,
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
    struct http_pipeline *s = req->pipe;
    http_conns_count_refused(s->conns);
    req->handled = true;
    http_reply_problem(req, API_ERR_UNAVAILABLE,
                       "qbackupd is serving its limit of %u connections; retry shortly",
                       s->max_connections);
    http_reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    http_reply_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
    return send_reply(req);
}

enum MHD_Result http_pipeline_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                        const char *method, const char *version,
                                        const char *upload_data, size_t *upload_data_size,
                                        void **con_cls)
{
    struct http_pipeline *s = cls;
    struct http_request *req = *con_cls;
    (void)version;

    if (!req) { /* not seen by on_request_line: cannot happen with MHD >= 0.9.71 */
        req = http_pipeline_on_request_line(s, url, conn);
        *con_cls = req;
    }
    if (!req->started) {
        request_start(req, url, method);
        if (http_conn_over_limit(req->hconn)) {
            http_conns_set_phase(s->conns, req->hconn, HTTP_CONN_BUSY);
            return refuse_over_limit(req);
        }
        if (!admit(req)) {
            http_conns_set_phase(s->conns, req->hconn, HTTP_CONN_BUSY);
            req->handled = true; /* refused: never run the handler */
            return send_reply(req);
        }
        http_conns_set_phase(s->conns, req->hconn, HTTP_CONN_BODY);
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
    http_conns_set_phase(s->conns, req->hconn, HTTP_CONN_BUSY);
    if (parse_body(req))
        req->match.route->handler(req);
    if (req->poll && !req->response) {
        http_poller_suspend(s->poller, req);
        return MHD_YES;
    }
    return send_reply(req);
}

void http_pipeline_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                                enum MHD_RequestTerminationCode toe)
{
    struct http_pipeline *s = cls;
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
    /* A request the client asked to hold (?wait=, the API's one long-poll
     * parameter) measures the run it waited for, not our latency
     * (metrics.h).  Other deferred requests (a destination check, a verify)
     * are work the client waits on: they stay latency.  A feed lasts as
     * long as its client listens, which says nothing about either: it is
     * counted by qbackup_http_streams_open instead. */
    bool long_poll = req->poll && req->started && http_req_query(req, "wait");
    if (!req->feed)
        metrics_http_observe(s->metrics, req->route_label, req->method, status, seconds, long_poll);
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
    http_conns_set_phase(s->conns, req->hconn, HTTP_CONN_WAITING);
    request_destroy(req);
}
