/* SPDX-License-Identifier: Apache-2.0
 *
 * api_health.c -- liveness, readiness, version and Prometheus metrics.
 *
 * /healthz says only that the process answers.  /readyz says whether it can
 * do its job: 503 when the catalogue is not writable or the service is
 * shutting down; 200 otherwise, with "status": "degraded" and the details
 * when a Qdrant instance is unreachable or a destination unusable.  An
 * unreachable Qdrant does not make qbackupd unready: its API (listing
 * snapshots, restoring elsewhere) is exactly what an operator needs then.
 */
#include "api/api.h"
#include "api/app.h"
#include "http/http_reply.h"
#include "store/migrate.h"
#include "util/buf.h"
#include "version.h"

#include <stdlib.h>

/* Metrics output is a few KB per route; the cap only guards against a
 * runaway collector. */
#define METRICS_MAX_BYTES (8u << 20)

void api_healthz(struct http_request *req)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "status", "ok");
    http_reply_json_steal(req, 200, body);
}

void api_readyz(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    cJSON *body = cJSON_CreateObject();
    cJSON *db = cJSON_CreateObject();
    bool db_ok = store_heartbeat(app->store, err, sizeof err) == QB_OK;
    cJSON_AddBoolToObject(db, "writable", db_ok);
    if (!db_ok)
        cJSON_AddStringToObject(db, "detail", err);
    bool all_ok = false;
    prober_report(app->prober, body, &all_ok);
    cJSON_AddItemToObject(body, "database", db);
    bool stopping = atomic_load(&app->shutting_down);
    const char *status = stopping ? "shutting_down"
                         : !db_ok ? "unavailable"
                         : all_ok ? "ready"
                                  : "degraded";
    cJSON_AddStringToObject(body, "status", status);
    http_reply_json_steal(req, db_ok && !stopping ? 200 : 503, body);
}

void api_version(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    int schema = 0;
    enum qb_err rc = store_schema_version(app->store, &schema, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "version", QB_VERSION);
    cJSON_AddStringToObject(body, "api", "v1");
    cJSON_AddNumberToObject(body, "schema_version", schema);
    cJSON_AddNumberToObject(body, "schema_version_supported", migrate_latest_version());
    http_reply_json_steal(req, 200, body);
}

void api_metrics(struct http_request *req)
{
    struct app *app = http_req_app(req);
    struct buf out;
    buf_init(&out, METRICS_MAX_BYTES);
    if (!metrics_render(app->metrics, &out)) {
        buf_free(&out);
        http_reply_error(req, QB_ERR_INTERNAL, "metrics exposition exceeded its size cap");
        return;
    }
    http_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data ? out.data : "",
                    out.len);
    buf_free(&out);
}
