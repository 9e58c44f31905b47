/* SPDX-License-Identifier: Apache-2.0
 *
 * api.h -- the REST API's route table and its handlers, one file per
 * resource (api_<resource>.c).  Handlers validate input, call store_* or
 * queue work, and answer with http_reply_*; they never hold SQLite or
 * libcurl handles.
 */
#ifndef QB_API_H
#define QB_API_H

#include "http/http_router.h"

/* Fills routes (capacity cap) with the API's route table, applying the
 * public/token setting of /metrics and /readyz; returns the count. */
size_t api_routes(struct http_route *routes, size_t cap, bool metrics_public, bool readyz_public);

/* Upper bound on the number of routes, for sizing the table. */
#define API_MAX_ROUTES 128

/* api_health.c */
void api_healthz(struct http_request *req);
void api_readyz(struct http_request *req);
void api_version(struct http_request *req);
void api_metrics(struct http_request *req);

/* api_instances.c */
void api_instances_list(struct http_request *req);
void api_instances_create(struct http_request *req);
void api_instances_get(struct http_request *req);
void api_instances_replace(struct http_request *req);
void api_instances_delete(struct http_request *req);

#endif /* QB_API_H */
