/* SPDX-License-Identifier: Apache-2.0
 *
 * recovery.c -- crash recovery of interrupted runs at start-up.
 */
#include "engine/recovery.h"
#include "engine/backup_set.h"
#include "engine/jobs.h"
#include "store/store_plans.h"
#include "store/store_runs.h"
#include "remote/storage_janitor.h"
#include "store/store_snapshots.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

/* Qdrant calls at start-up get a short leash: recovery must not hold up
 * the service for long when Qdrant is down. */
#define RECOVERY_QDRANT_TIMEOUT_MS 30000

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Deletes the Qdrant snapshot an interrupted run created. */
static void clean_qdrant(struct store *store, const cJSON *inflight, int64_t run_id)
{
    const char *instance = str(inflight, "instance"), *snap = str(inflight, "qdrant_snapshot");
    const char *scope = str(inflight, "scope"), *collection = str(inflight, "collection");
    if (!instance || !snap)
        return;
    char err[QB_ERRBUF_SIZE];
    struct qdrant_client *qc = NULL;
    struct qdrant_target t = {
        .scope = scope && strcmp(scope, "full") == 0 ? QDRANT_SCOPE_FULL : QDRANT_SCOPE_COLLECTION,
        .collection = collection,
    };
    enum qb_err rc =
        job_open_qdrant(store, instance, RECOVERY_QDRANT_TIMEOUT_MS, &qc, err, sizeof err);
    if (!rc)
        rc = qdrant_snapshot_delete(qc, &t, snap, err, sizeof err);
    if (rc && rc != QB_ERR_NOT_FOUND)
        log_warn("recovery.qdrant_failed",
                 "run=%lld instance=%s snapshot=%s error=%s msg=\"delete it by hand\"",
                 (long long)run_id, log_q(instance), log_q(snap), log_q(err));
    else
        log_info("recovery.qdrant_cleaned", "run=%lld snapshot=%s", (long long)run_id, log_q(snap));
    qdrant_client_destroy(qc);
}

/* Removes what the run stored but never catalogued: a finished object,
 * its manifest, or an unfinished upload. */
static void clean_storage(struct store *store, const cJSON *inflight, int64_t run_id)
{
    const char *key = str(inflight, "storage_key");
    const cJSON *dest = cJSON_GetObjectItemCaseSensitive(inflight, "destination_id");
    if (!key || !cJSON_IsNumber(dest))
        return;
    char err[QB_ERRBUF_SIZE];
    bool catalogued = false;
    struct storage *st = NULL;
    int64_t dest_id = (int64_t)dest->valuedouble;
    enum qb_err rc = store_snapshot_key_exists(store, dest_id, key, &catalogued, err, sizeof err);
    if (!rc && catalogued)
        return; /* it made it: the row proves the object good */
    if (!rc)
        rc = job_open_storage(store, dest_id, &st, err, sizeof err);
    if (!rc) {
        char *manifest = xasprintf("%s.manifest.json", key);
        const char *keys[2] = {key, manifest};
        rc = storage_delete_many(st, keys, 2, err, sizeof err);
        free(manifest);
    }
    if (!rc)
        rc = storage_discard_incomplete(st, key, err, sizeof err);
    if (rc)
        log_warn("recovery.storage_failed", "run=%lld key=%s error=%s", (long long)run_id,
                 log_q(key), log_q(err));
    else
        log_info("recovery.storage_cleaned", "run=%lld key=%s", (long long)run_id, log_q(key));
    storage_close(st);
}

/* The plan asks for interrupted backups to be run again: its instance,
 * or 0 when not. */
static int64_t requeue_wanted(struct store *store, const struct store_run *r)
{
    char err[QB_ERRBUF_SIZE];
    struct store_plan *p = NULL;
    if (strcmp(r->kind, "backup") != 0 || !r->plan_id ||
        store_plan_get_by_id(store, r->plan_id, &p, err, sizeof err))
        return 0;
    int64_t instance = p->requeue_interrupted && p->enabled ? p->instance_id : 0;
    store_plan_free(p);
    return instance;
}

/* Queues a fresh run of the interrupted run's plan (not its schedule
 * slot, which the failed run keeps). */
static void requeue_run(struct store *store, const struct store_run *r, int64_t instance_id)
{
    char err[QB_ERRBUF_SIZE];
    struct store_run_new n = {.kind = "backup",
                              .plan_id = r->plan_id,
                              .plan_name = r->plan_name,
                              .instance_id = instance_id,
                              .trigger = r->trigger,
                              .triggered_by = "recovery",
                              .request = "{}"};
    int64_t id = 0;
    bool existing = false;
    if (store_run_create(store, &n, &id, &existing, err, sizeof err))
        log_error("recovery.requeue_failed", "run=%lld error=%s", (long long)r->id, log_q(err));
    else
        log_info("recovery.requeued", "run=%lld new_run=%lld plan=%s", (long long)r->id,
                 (long long)id, r->plan_name ? r->plan_name : "-");
}

void recovery_run(struct store *store)
{
    char err[QB_ERRBUF_SIZE];
    struct store_run **runs = NULL;
    size_t n = 0;
    if (store_run_list_running(store, &runs, &n, err, sizeof err)) {
        log_error("recovery.failed", "error=%s", log_q(err));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_run *r = runs[i];
        cJSON *inflight = r->inflight ? cJSON_Parse(r->inflight) : NULL;
        const char *kind = str(inflight, "kind");
        if (inflight && kind && strcmp(kind, "set") == 0) {
            backup_set_recover(store, inflight, r->id);
        } else if (inflight) {
            clean_storage(store, inflight, r->id);
            clean_qdrant(store, inflight, r->id);
        }
        cJSON_Delete(inflight);
        int64_t requeue = requeue_wanted(store, r);
        if (store_run_finish(store, r->id, "failed", NULL,
                             "interrupted by restart: qbackupd stopped while this run was "
                             "going; what it had started was cleaned up",
                             err, sizeof err))
            log_error("recovery.failed", "run=%lld error=%s", (long long)r->id, log_q(err));
        else
            log_warn("recovery.run_failed", "run=%lld plan=%s reason=\"interrupted by restart\"",
                     (long long)r->id, r->plan_name ? r->plan_name : "-");
        if (requeue)
            requeue_run(store, r, requeue);
    }
    store_run_list_free(runs, n);
}
