/* SPDX-License-Identifier: Apache-2.0
 *
 * http_pipeline.h -- the per-request pipeline behind MHD's request
 * callbacks: request context, request id, size and NUL checks, route,
 * authentication, bounded body, strict JSON, handler, reply, access log,
 * HTTP metrics and the in-flight count.  Owns every struct http_request
 * (http_internal.h) from its request line to its completion.  Internal to
 * src/http/; http_server.c starts and stops it.
 */
#ifndef QB_HTTP_PIPELINE_H
#define QB_HTTP_PIPELINE_H

#include "http/http_server.h"

#include <microhttpd.h>

struct http_conns;
struct http_feeds;
struct http_poller;
struct http_pipeline;

/* A pipeline serving routes.  routes, auth, metrics, app, conns (whose
 * phases it moves), poller (where long polls wait) and feeds (where event
 * streams are served) are borrowed and must outlive it.  Caller frees with http_pipeline_destroy,
 * once MHD has stopped. */
struct http_pipeline *http_pipeline_create(const struct http_server_config *cfg,
                                           const struct http_route *routes, size_t nroutes,
                                           const struct auth *auth, struct metrics *metrics,
                                           void *app, struct http_conns *conns,
                                           struct http_poller *poller, struct http_feeds *feeds);
/* NULL is a no-op. */
void http_pipeline_destroy(struct http_pipeline *p);

/* MHD's callbacks; cls is the struct http_pipeline.  The request line
 * (MHD_OPTION_URI_LOG_CALLBACK) creates the request context, before any
 * decoding; access runs the pipeline; completed logs, counts and frees. */
void *http_pipeline_on_request_line(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result http_pipeline_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                        const char *method, const char *version,
                                        const char *upload_data, size_t *upload_data_size,
                                        void **con_cls);
void http_pipeline_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                                enum MHD_RequestTerminationCode toe);

/* Requests past their headers and not yet completed. */
unsigned http_pipeline_inflight(struct http_pipeline *p);

/* Waits up to grace_ms for the in-flight count to reach zero; returns
 * what is still in flight.  Call after MHD stopped accepting. */
unsigned http_pipeline_drain(struct http_pipeline *p, int grace_ms);

/* The token table (for redacting echoed text; see redact.h). */
const struct auth *http_pipeline_auth(const struct http_pipeline *p);

#endif /* QB_HTTP_PIPELINE_H */
