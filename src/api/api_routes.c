/* SPDX-License-Identifier: Apache-2.0
 *
 * api_routes.c -- the one table of every route the API serves.  It is the
 * source of truth that tests compare with api/openapi.yaml in both
 * directions (`qbackupd list-routes`), so the two cannot drift.
 */
#include "api/api.h"

#include <string.h>

static const struct http_route api_route_table[] = {
    {"GET", "/", AUTH_ROLE_VIEWER, api_page},
    {"GET", "/healthz", AUTH_ROLE_PUBLIC, api_healthz},
    {"GET", "/readyz", AUTH_ROLE_VIEWER, api_readyz},
    {"GET", "/metrics", AUTH_ROLE_VIEWER, api_metrics},
    {"GET", "/v1/version", AUTH_ROLE_VIEWER, api_version},

    {"GET", "/v1/instances", AUTH_ROLE_VIEWER, api_instances_list},
    {"POST", "/v1/instances", AUTH_ROLE_ADMIN, api_instances_create},
    {"GET", "/v1/instances/{name}", AUTH_ROLE_VIEWER, api_instances_get},
    {"PUT", "/v1/instances/{name}", AUTH_ROLE_ADMIN, api_instances_replace},
    {"DELETE", "/v1/instances/{name}", AUTH_ROLE_ADMIN, api_instances_delete},

    {"GET", "/v1/destinations", AUTH_ROLE_VIEWER, api_destinations_list},
    {"POST", "/v1/destinations", AUTH_ROLE_ADMIN, api_destinations_create},
    {"GET", "/v1/destinations/{name}", AUTH_ROLE_VIEWER, api_destinations_get},
    {"PUT", "/v1/destinations/{name}", AUTH_ROLE_ADMIN, api_destinations_replace},
    {"DELETE", "/v1/destinations/{name}", AUTH_ROLE_ADMIN, api_destinations_delete},
    {"POST", "/v1/destinations/{name}/check", AUTH_ROLE_OPERATOR, api_destinations_check},
    {"POST", "/v1/destinations/{name}/rescan", AUTH_ROLE_ADMIN, api_destinations_rescan},

    {"GET", "/v1/plans", AUTH_ROLE_VIEWER, api_plans_list},
    {"POST", "/v1/plans", AUTH_ROLE_ADMIN, api_plans_create},
    {"GET", "/v1/plans/{name}", AUTH_ROLE_VIEWER, api_plans_get},
    {"PUT", "/v1/plans/{name}", AUTH_ROLE_ADMIN, api_plans_replace},
    {"DELETE", "/v1/plans/{name}", AUTH_ROLE_ADMIN, api_plans_delete},
    {"POST", "/v1/plans/{name}/runs", AUTH_ROLE_OPERATOR, api_runs_trigger},
    {"POST", "/v1/plans/{name}/retention", AUTH_ROLE_OPERATOR, api_plans_retention},

    {"GET", "/v1/runs", AUTH_ROLE_VIEWER, api_runs_list},
    {"GET", "/v1/runs/{id}", AUTH_ROLE_VIEWER, api_runs_get},
    {"POST", "/v1/runs/{id}/cancel", AUTH_ROLE_OPERATOR, api_runs_cancel},

    {"GET", "/v1/snapshots", AUTH_ROLE_VIEWER, api_snapshots_list},
    {"GET", "/v1/snapshots/{id}", AUTH_ROLE_VIEWER, api_snapshots_get},
    {"DELETE", "/v1/snapshots/{id}", AUTH_ROLE_ADMIN, api_snapshots_delete},
    {"POST", "/v1/snapshots/{id}/pin", AUTH_ROLE_OPERATOR, api_snapshots_pin},
    {"POST", "/v1/snapshots/{id}/unpin", AUTH_ROLE_OPERATOR, api_snapshots_unpin},
    {"POST", "/v1/snapshots/{id}/verify", AUTH_ROLE_OPERATOR, api_snapshots_verify},
    /* Public in the table: the handler accepts a viewer token or a
     * download token minted by qbackupd (Qdrant has no bearer token). */
    {"GET", "/v1/snapshots/{id}/download", AUTH_ROLE_PUBLIC, api_snapshots_download},

    {"POST", "/v1/restores", AUTH_ROLE_OPERATOR, api_restores_create},

    {"GET", "/v1/status", AUTH_ROLE_VIEWER, api_status},
    {"GET", "/v1/events", AUTH_ROLE_VIEWER, api_events_stream},

    {"GET", "/v1/webhooks", AUTH_ROLE_ADMIN, api_webhooks_list},
    {"POST", "/v1/webhooks", AUTH_ROLE_ADMIN, api_webhooks_create},
    {"GET", "/v1/webhooks/{id}", AUTH_ROLE_ADMIN, api_webhooks_get},
    {"PUT", "/v1/webhooks/{id}", AUTH_ROLE_ADMIN, api_webhooks_replace},
    {"DELETE", "/v1/webhooks/{id}", AUTH_ROLE_ADMIN, api_webhooks_delete},
    {"GET", "/v1/webhooks/{id}/deliveries", AUTH_ROLE_ADMIN, api_webhooks_deliveries},
    {"POST", "/v1/webhooks/{id}/test", AUTH_ROLE_ADMIN, api_webhooks_test},
    /* Public in the table: the request carries Slack's signature instead
     * of a token, checked by the handler over the raw form body. */
    {"POST", "/v1/chatops/slack", AUTH_ROLE_PUBLIC, api_chatops_slack},
};

const char *const api_form_routes[] = {"/v1/chatops/slack", NULL};

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
