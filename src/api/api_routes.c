/* SPDX-License-Identifier: Apache-2.0
 *
 * api_routes.c -- the one table of every route the API serves.  It is the
 * source of truth that tests compare with api/openapi.yaml in both
 * directions (`qbackupd list-routes`), so the two cannot drift.
 */
#include "api/api.h"

#include <string.h>

static const struct http_route api_route_table[] = {
    {"GET", "/healthz", AUTH_ROLE_PUBLIC, api_healthz},
    {"GET", "/readyz", AUTH_ROLE_VIEWER, api_readyz},
    {"GET", "/metrics", AUTH_ROLE_VIEWER, api_metrics},
    {"GET", "/v1/version", AUTH_ROLE_VIEWER, api_version},

    {"GET", "/v1/instances", AUTH_ROLE_VIEWER, api_instances_list},
    {"POST", "/v1/instances", AUTH_ROLE_ADMIN, api_instances_create},
    {"GET", "/v1/instances/{name}", AUTH_ROLE_VIEWER, api_instances_get},
    {"PUT", "/v1/instances/{name}", AUTH_ROLE_ADMIN, api_instances_replace},
    {"DELETE", "/v1/instances/{name}", AUTH_ROLE_ADMIN, api_instances_delete},
};

size_t api_routes(struct http_route *routes, size_t cap, bool metrics_public, bool readyz_public)
{
    size_t n = QB_ARRAY_LEN(api_route_table);
    QB_ASSERT(n <= cap);
    for (size_t i = 0; i < n; i++) {
        routes[i] = api_route_table[i];
        if ((metrics_public && strcmp(routes[i].pattern, "/metrics") == 0) ||
            (readyz_public && strcmp(routes[i].pattern, "/readyz") == 0))
            routes[i].role = AUTH_ROLE_PUBLIC;
    }
    return n;
}
