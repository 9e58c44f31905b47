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
#include "util/buf.h"

#include <cjson/cJSON.h>

/* Fills routes (capacity cap) with the API's route table, applying the
 * public/token setting of /metrics and /readyz; returns the count. */
size_t api_routes(struct http_route *routes, size_t cap, bool metrics_public, bool readyz_public);

/* Patterns of the routes whose body is a form read raw by the handler
 * (http_server_config.form_routes). */
extern const char *const api_form_routes[];

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

/* api_destinations.c */
void api_destinations_list(struct http_request *req);
void api_destinations_create(struct http_request *req);
void api_destinations_get(struct http_request *req);
void api_destinations_replace(struct http_request *req);
void api_destinations_delete(struct http_request *req);
void api_destinations_check(struct http_request *req);
void api_destinations_rescan(struct http_request *req);

/* api_plans.c */
struct store_plan;
void api_plans_list(struct http_request *req);
void api_plans_create(struct http_request *req);
void api_plans_get(struct http_request *req);
void api_plans_replace(struct http_request *req);
void api_plans_delete(struct http_request *req);
/* The plan as the API shows it; caller owns the result. */
cJSON *api_plan_json(const struct store_plan *p);
/* Seconds without a success after which the plan is stale (0: never). */
int64_t api_plan_alert_after(const struct store_plan *p);

/* api_runs.c */
void api_runs_trigger(struct http_request *req);
void api_runs_list(struct http_request *req);
void api_runs_get(struct http_request *req);
void api_runs_cancel(struct http_request *req);
void api_plans_retention(struct http_request *req);
struct store;
/* Answers with run id and its Location.  waited: as after ?wait (200
 * succeeded, 424 run_failed, 504 wait_expired, the run in the body);
 * otherwise status (202 new, 200 replay) with the run. */
void api_reply_run(struct http_request *req, struct store *store, int64_t id, bool waited,
                   unsigned status);
/* Defers req until run id ends or wait seconds pass, then answers as
 * api_reply_run(waited); replayed adds Idempotent-Replayed: true.  Holds
 * no thread while waiting. */
void api_wait_run(struct http_request *req, int64_t id, long wait, bool replayed);

/* api_snapshots.c */
void api_snapshots_list(struct http_request *req);
void api_snapshots_get(struct http_request *req);
void api_snapshots_delete(struct http_request *req);
void api_snapshots_pin(struct http_request *req);
void api_snapshots_unpin(struct http_request *req);
void api_snapshots_verify(struct http_request *req);

/* api_restores.c, api_download.c */
void api_restores_create(struct http_request *req);
void api_snapshots_download(struct http_request *req);

/* api_webhooks.c */
void api_webhooks_list(struct http_request *req);
void api_webhooks_create(struct http_request *req);
void api_webhooks_get(struct http_request *req);
void api_webhooks_replace(struct http_request *req);
void api_webhooks_delete(struct http_request *req);
void api_webhooks_deliveries(struct http_request *req);
void api_webhooks_test(struct http_request *req);

/* api_chatops.c */
void api_chatops_slack(struct http_request *req);
/* api_events.c */
struct store_event;
void api_events_stream(struct http_request *req);
/* The Event object of api/openapi.yaml; caller owns the result. */
cJSON *api_event_json(const struct store_event *e);

/* api_status.c */
struct app;
void api_status(struct http_request *req);
/* The body of GET /v1/status (api/openapi.yaml, Status) into *out; caller
 * owns it.  Reads the catalogue (cached) and the prober's last round. */
enum qb_err api_status_build(struct app *app, cJSON **out, char *err, size_t errlen) QB_MUSTCHECK;

/* api_page.c */
void api_page(struct http_request *req);
/* Prometheus collector for backup series (registered by main). */
bool api_status_metrics(struct buf *out, void *app);

/* api_metrics.c */
struct store_run_count;
/* The run families (runs, bytes, duration and bytes histograms, restores,
 * queue) from the rows of store_run_counts_cached (n of them). */
bool api_metrics_runs(struct buf *out, const struct store_run_count *v, size_t n);
/* Prometheus collector for what each destination holds and what the
 * prober reaches (registered by main). */
bool api_metrics_storage(struct buf *out, void *app);

#endif /* QB_API_H */
