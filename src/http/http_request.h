/* SPDX-License-Identifier: Apache-2.0
 *
 * http_request.h -- what a handler sees of one HTTP request, and how it
 * answers.  Handlers never touch libmicrohttpd: they read the request
 * through these accessors and leave exactly one reply with http_reply_*
 * (http_reply.h); the server sends it after the handler returns.
 *
 * Handlers run on the server's thread pool.  They must not block for long:
 * slow work (snapshots, transfers) is queued for worker threads.
 */
#ifndef QB_HTTP_REQUEST_H
#define QB_HTTP_REQUEST_H

#include "common.h"
#include "http/auth.h"

#include <cjson/cJSON.h>

struct http_request;

/* All returned strings are borrowed from the request and valid until the
 * handler returns. */
const char *http_req_id(const struct http_request *req);
const char *http_req_method(const struct http_request *req);
const char *http_req_path(const struct http_request *req);
/* Value of a {name} path parameter of the matched route, or NULL. */
const char *http_req_param(const struct http_request *req, const char *name);
/* Value of a query-string argument, or NULL. */
const char *http_req_query(const struct http_request *req, const char *name);
/* Value of a request header (case-insensitive name), or NULL. */
const char *http_req_header(const struct http_request *req, const char *name);
/* The parsed JSON body, or NULL when the request had no body. */
const cJSON *http_req_json(const struct http_request *req);
/* The raw body and its length in *len; NULL when there is none.  Bodies
 * of the routes in http_server_config.form_routes are only available
 * this way (they are not parsed as JSON).  NUL-terminated. */
const char *http_req_body(const struct http_request *req, size_t *len);
/* Who is calling: the token's name ("anonymous" with auth off) and role. */
const char *http_req_principal(const struct http_request *req);
enum auth_role http_req_role(const struct http_request *req);
/* The application context given to http_server_start. */
void *http_req_app(const struct http_request *req);

/* Long polls.  A handler that must wait for something (a run to finish)
 * calls http_req_defer instead of replying: the connection is suspended,
 * which holds no thread, and poll(req, ctx, false) is called from the
 * server's poll thread about every 100 ms until it returns true having left
 * a reply.  When deadline_ms (monotonic, qb_mono_ms) passes, or the server
 * shuts down, poll(req, ctx, true) is called once and must leave a reply.
 * ctx is owned by the request from then on and released with free_ctx
 * (may be NULL).  poll must not block for long. */
typedef bool (*http_poll_fn)(struct http_request *req, void *ctx, bool expired);
void http_req_defer(struct http_request *req, int64_t deadline_ms, http_poll_fn poll, void *ctx,
                    void (*free_ctx)(void *ctx));

#endif /* QB_HTTP_REQUEST_H */
