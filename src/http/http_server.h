/* SPDX-License-Identifier: Apache-2.0
 *
 * http_server.h -- the libmicrohttpd daemon: request contexts, limits,
 * authentication, routing, request ids, access log and HTTP metrics.
 *
 * DESIGN
 * A fixed thread pool (MHD's internal polling threads) serves a bounded
 * number of connections, each with an idle timeout, so a slow or hostile
 * client holds at most one connection slot and never a worker.  Idle
 * timeouts alone do not stop a client that sends one byte at a time, so
 * the server also tracks every connection (see DESIGN in http_conn.h):
 * the request line and headers must arrive within
 * header_timeout of the connection being ready, the body within
 * body_timeout, one address may hold max_connections_per_ip, and past
 * max_connections the oldest connection still waiting for its request
 * makes room (or the newcomer is answered 503), so a flood of half-sent
 * requests cannot keep /healthz or anyone else out.  For each
 * request the server: assigns a request id (a valid incoming X-Request-Id
 * is honoured), routes it (404 / 405 with Allow), authenticates it (401 /
 * 403) before reading the body, reads the body into a bounded buffer (413),
 * insists on JSON for bodies (415) and parses it with a depth limit (400),
 * then calls the route's handler and sends the one reply it left.
 *
 * Shutdown (http_server_stop) stops accepting, lets in-flight requests
 * finish for up to a grace period, then closes every connection.
 */
#ifndef QB_HTTP_SERVER_H
#define QB_HTTP_SERVER_H

#include "common.h"
#include "http/auth.h"
#include "http/http_router.h"
#include "metrics.h"

struct http_server_config {
    const char *host;                /* numeric address or "localhost" */
    int port;                        /* 0 picks a free port */
    unsigned threads;                /* size of the request thread pool */
    unsigned max_connections;        /* past this, evict a waiting one or answer 503 */
    unsigned max_connections_per_ip; /* per client address; 0: no limit */
    unsigned connection_timeout_s;   /* idle connections are closed after this */
    unsigned header_timeout_s;       /* request line + headers must arrive within this */
    unsigned body_timeout_s;         /* the body must arrive within this after the headers */
    size_t max_header_bytes;         /* request line + headers; 414/431 beyond */
    size_t max_body_bytes;           /* larger bodies get 413 */
    int max_json_depth;              /* deeper JSON gets 400 */
    /* Route patterns whose body is application/x-www-form-urlencoded, left
     * unparsed for the handler (http_req_body), e.g. because a signature
     * covers its exact bytes.  NULL-terminated; NULL for none.  Borrowed
     * until the server stops. */
    const char *const *form_routes;
    unsigned max_feeds; /* open feeds (event streams); more: 503 */
};

struct http_server;

/* Starts serving.  routes, auth (may be empty: then every caller is an
 * anonymous admin), metrics and app are borrowed and must outlive the
 * server.  Registers an in-flight gauge with metrics, so metrics must not
 * be rendered after http_server_stop.  On success *out is running; stop it
 * with http_server_stop. */
enum qb_err http_server_start(const struct http_server_config *cfg, const struct http_route *routes,
                              size_t nroutes, const struct auth *auth, struct metrics *metrics,
                              void *app, struct http_server **out, char *err,
                              size_t errlen) QB_MUSTCHECK;

/* The port actually bound (useful with port 0). */
int http_server_port(const struct http_server *s);

/* Asks the event streams to look for news now (http_feed.h); any thread.
 * s NULL is a no-op. */
void http_server_kick_feeds(void *s);

/* Requests currently being processed. */
unsigned http_server_inflight(struct http_server *s);

/* Stops accepting, waits up to grace_ms for in-flight requests, closes the
 * rest and frees s.  NULL is a no-op.  Call from the main thread. */
void http_server_stop(struct http_server *s, int grace_ms);

#endif /* QB_HTTP_SERVER_H */
