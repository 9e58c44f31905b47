/* SPDX-License-Identifier: Apache-2.0
 *
 * http_internal.h -- the request context, made and freed by
 * http_pipeline.c, answered through http_reply.c and, for long polls,
 * driven by http_poll.c.  Nothing outside src/http/ includes this.
 */
#ifndef QB_HTTP_INTERNAL_H
#define QB_HTTP_INTERNAL_H

#include "http/http_request.h"
#include "http/http_router.h"
#include "util/buf.h"

#include <microhttpd.h>

#define HTTP_REQUEST_ID_MAX 64

struct http_pipeline;
struct http_conn;

struct http_request {
    struct http_pipeline *pipe; /* the pipeline serving it */
    struct MHD_Connection *conn;
    struct http_conn *hconn;          /* the connection's tracking record, or NULL */
    char id[HTTP_REQUEST_ID_MAX + 1]; /* echoed in X-Request-Id and logs */
    char method[16];
    char *raw_uri;                 /* owned: the request target as sent */
    char *path;                    /* owned copy of the decoded URL path */
    bool started;                  /* the access handler has seen it */
    struct http_route_match match; /* valid when route_label is a pattern */
    const char *route_label;       /* route pattern, or "unmatched": metrics */
    struct buf body;               /* bounded request body */
    bool body_too_large;           /* body exceeded the limit: 413 */
    bool handled;                  /* the final access-handler call ran */
    cJSON *json;                   /* owned parsed body, or NULL */
    enum auth_role role;
    const char *principal;         /* borrowed from struct auth, or static */
    int64_t start_us;              /* monotonic, for the latency histogram */
    unsigned status;               /* status of the pending response */
    struct MHD_Response *response; /* owned until queued */
    /* Long poll (http_req_defer): set by the handler, driven by the
     * poll thread (http_poll.h) while the connection is suspended. */
    http_poll_fn poll;
    void *poll_ctx;
    void (*poll_free)(void *ctx);
    int64_t poll_deadline;
    bool suspended;                     /* waiting for the poll thread */
    struct http_request *next_deferred; /* in the poller's deferred list */
    bool feed;                          /* the reply is a feed (http_feed.h) */
};

/* Sets req's one pending response (http_reply.c): resp NULL (MHD could
 * not allocate) becomes an empty 500; a second reply replaces the first
 * and is logged as a handler bug. */
void http_reply_set(struct http_request *req, unsigned status, struct MHD_Response *resp);

/* The feeds of the pipeline serving req (http_pipeline.c). */
struct http_feeds *http_req_feeds(const struct http_request *req);

#endif /* QB_HTTP_INTERNAL_H */
