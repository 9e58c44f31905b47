/* SPDX-License-Identifier: Apache-2.0
 *
 * recovery.c -- crash recovery of interrupted runs at start-up.
 */
#include "engine/recovery.h"
#include "store/store_fleet.h"
#include "engine/backup_set.h"
#include "engine/jobs.h"
#include "engine/manifest.h"
#include "engine/qdrant_janitor.h"
#include "engine/retention_apply.h"
#include "store/store_plans.h"
#include "store/store_runs.h"
#include "storage/storage_janitor.h"
#include "store/store_snapshots.h"
#include "util/log.h"

#include <stdio.h>
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
    const cJSON *since = cJSON_GetObjectItemCaseSensitive(inflight, "since");
    if (!instance || (!snap && !cJSON_IsNumber(since)))
        return;
    char err[QB_ERRBUF_SIZE];
    struct qdrant_client *qc = NULL;
    struct qdrant_target t = {
        .scope = scope && strcmp(scope, "full") == 0 ? QDRANT_SCOPE_FULL : QDRANT_SCOPE_COLLECTION,
        .collection = collection,
    };
    enum qb_err rc =
        resolve_qdrant(store, instance, RECOVERY_QDRANT_TIMEOUT_MS, &qc, err, sizeof err);
    if (!rc && snap) {
        rc = qdrant_snapshot_delete(qc, &t, snap, err, sizeof err);
    } else if (!rc) {
        /* Killed between asking Qdrant and its answer: the snapshot, if
         * Qdrant made one, is the target's newest since the request. */
        size_t deleted = 0;
        rc = qdrant_snapshot_delete_since(qc, &t, (int64_t)since->valuedouble, &deleted, err,
                                          sizeof err);
        if (deleted)
            snap = "(found by time)";
        else if (rc != QB_ERR_NOT_FOUND)
            /* Qdrant may finish that create later still (or is down
             * now): the janitor keeps looking for its snapshot. */
            qdrant_janitor_sweep(store, instance, &t, (int64_t)since->valuedouble,
                                 qb_now_ms() / 1000 + QDRANT_SWEEP_GRACE_S);
        if (!rc && !snap) {
            qdrant_client_destroy(qc);
            return;
        }
    }
    if (rc && rc != QB_ERR_NOT_FOUND) {
        log_warn("recovery.qdrant_failed", "run=%lld instance=%s snapshot=%s error=%s",
                 (long long)run_id, log_q(instance), log_q(snap ? snap : "-"), log_q(err));
        /* Qdrant is down or refusing: the janitor tries again later. */
        if (snap && strcmp(snap, "(found by time)") != 0)
            qdrant_janitor_enqueue(store, instance, NULL, &t, snap, err);
    } else
        log_info("recovery.qdrant_cleaned", "run=%lld snapshot=%s", (long long)run_id, log_q(snap));
    qdrant_client_destroy(qc);
}

/* Removes what the run stored but never catalogued: a finished object,
 * its manifest, or an unfinished upload. */
void recovery_clean_storage(struct store *store, int64_t dest_id, const char *key,
                            const char *const *keys, size_t n, size_t nuploads, int64_t run_id)
{
    char err[QB_ERRBUF_SIZE];
    bool catalogued = false;
    struct storage *st = NULL;
    enum qb_err rc = store_snapshot_key_exists(store, dest_id, key, &catalogued, err, sizeof err);
    if (!rc && catalogued)
        return; /* it made it: the row proves the objects good */
    if (!rc)
        rc = resolve_storage(store, dest_id, &st, err, sizeof err);
    if (!rc && n)
        rc = storage_delete_many(st, keys, n, err, sizeof err);
    for (size_t i = 0; i < nuploads && !rc; i++)
        rc = storage_discard_incomplete(st, keys[i], err, sizeof err);
    if (rc)
        log_warn("recovery.storage_failed", "run=%lld key=%s error=%s", (long long)run_id,
                 log_q(key), log_q(err));
    else
        log_info("recovery.storage_cleaned", "run=%lld key=%s", (long long)run_id, log_q(key));
    storage_close(st);
}

static void clean_storage(struct store *store, const cJSON *inflight, int64_t run_id)
{
    const char *key = str(inflight, "storage_key");
    const cJSON *dest = cJSON_GetObjectItemCaseSensitive(inflight, "destination_id");
    if (!key || !cJSON_IsNumber(dest))
        return;
    char *manifest = manifest_key(key);
    const char *keys[2] = {key, manifest};
    recovery_clean_storage(store, (int64_t)dest->valuedouble, key, keys, 2, 1, run_id);
    free(manifest);
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

/* Ends an interrupted run in the state the catalogue proves: succeeded
 * when every target (total, 0 when unknown) was catalogued before the
 * kill (it died cleaning up), partial when some were, failed otherwise. */
static void settle(struct store *store, const struct store_run *r, int64_t total,
                   const char *reason)
{
    char err[QB_ERRBUF_SIZE];
    struct store_snapshot_filter f = {.run_id = r->id};
    struct store_snapshot **rows = NULL;
    size_t n = 0;
    if (strcmp(r->kind, "backup") != 0 ||
        store_snapshot_list(store, &f, &rows, &n, err, sizeof err) != QB_OK)
        n = 0;
    cJSON *results = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "collection",
                              rows[i]->collection ? cJSON_CreateString(rows[i]->collection)
                                                  : cJSON_CreateNull());
        cJSON_AddStringToObject(o, "state", "succeeded");
        cJSON_AddNumberToObject(o, "snapshot_id", (double)rows[i]->id);
        cJSON_AddNumberToObject(o, "size", (double)rows[i]->size_bytes);
        cJSON_AddStringToObject(o, "sha256", rows[i]->sha256);
        cJSON_AddStringToObject(o, "location", rows[i]->location);
        cJSON_AddBoolToObject(o, "verified", rows[i]->verified_at > 0);
        cJSON_AddItemToArray(results, o);
    }
    store_snapshot_list_free(rows, n);
    bool all = n > 0 && total > 0 && (int64_t)n >= total;
    const char *state = all ? "succeeded" : n > 0 ? "partial" : "failed";
    char error[256];
    snprintf(error, sizeof error,
             "%s; %zu snapshot(s) had been catalogued, what else it had started was cleaned up",
             reason, n);
    char *text = cJSON_PrintUnformatted(results);
    cJSON_Delete(results);
    int64_t requeue = all ? 0 : requeue_wanted(store, r);
    if (store_run_finish(store, r->id, state, n ? text : NULL, all ? NULL : error, err, sizeof err))
        log_error("recovery.failed", "run=%lld error=%s", (long long)r->id, log_q(err));
    else
        log_warn("recovery.run_settled", "run=%lld plan=%s state=%s catalogued=%zu reason=%s",
                 (long long)r->id, r->plan_name ? r->plan_name : "-", state, n, log_q(reason));
    free(text);
    if (requeue)
        requeue_run(store, r, requeue);
}

void recovery_requeue_after_shutdown(struct store *store, const struct store_run *r)
{
    int64_t instance = requeue_wanted(store, r);
    if (instance)
        requeue_run(store, r, instance);
}

/* Cleans up what the interrupted run r had started and settles it. */
static void recover_one(struct store *store, const struct store_run *r, const char *reason)
{
    cJSON *inflight = r->inflight ? cJSON_Parse(r->inflight) : NULL;
    const char *kind = str(inflight, "kind");
    if (inflight && kind && strcmp(kind, "set") == 0) {
        backup_set_recover(store, inflight, r->id);
    } else if (inflight) {
        clean_storage(store, inflight, r->id);
        clean_qdrant(store, inflight, r->id);
    }
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(inflight, "targets");
    int64_t total = cJSON_IsNumber(targets) ? (int64_t)targets->valuedouble : 0;
    cJSON_Delete(inflight);
    settle(store, r, total, reason);
}

/* The running runs a start recovers: all of them alone on the catalogue;
 * in a fleet only this node's own and those nobody owns (the others' are
 * running elsewhere, or are adopted by the leader when their node stops
 * beating). */
static enum qb_err runs_to_recover(struct store *store, const char *node, struct store_run ***out,
                                   size_t *n, char *err, size_t errlen)
{
    if (!node)
        return store_run_list_running(store, out, n, err, errlen);
    struct store_fleet_run **mine = NULL;
    size_t nmine = 0;
    *out = NULL;
    *n = 0;
    enum qb_err rc = store_fleet_runs(store, node, NULL, 0, &mine, &nmine, err, errlen);
    if (!rc && nmine)
        *out = xcalloc(nmine, sizeof **out);
    for (size_t i = 0; !rc && i < nmine; i++) {
        rc = store_run_get(store, mine[i]->id, &(*out)[*n], err, errlen);
        if (!rc)
            (*n)++;
    }
    store_fleet_runs_free(mine, nmine);
    if (rc) {
        store_run_list_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void recovery_run(struct store *store, const char *node)
{
    char err[QB_ERRBUF_SIZE];
    struct store_run **runs = NULL;
    size_t n = 0;
    if (runs_to_recover(store, node, &runs, &n, err, sizeof err)) {
        log_error("recovery.failed", "error=%s", log_q(err));
        return;
    }
    for (size_t i = 0; i < n; i++)
        recover_one(store, runs[i],
                    "interrupted by restart: qbackupd stopped while this run was going");
    store_run_list_free(runs, n);
    /* After the runs: a run killed in its retention pass has settled on
     * the catalogue as it was, and what that pass began deleting goes. */
    (void)retention_finish_deletions(store, INT64_MAX, true);
}

void recovery_adopt(struct store *store, const char *self, int64_t now, int64_t dead_after_s)
{
    char err[QB_ERRBUF_SIZE];
    struct store_fleet_run **orphans = NULL;
    size_t n = 0;
    if (store_fleet_runs(store, NULL, self, now - dead_after_s, &orphans, &n, err, sizeof err)) {
        log_error("recovery.adopt_failed", "error=%s", log_q(err));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_fleet_run *o = orphans[i];
        /* A node only stopped (not dead) still has its sessions, perhaps
         * inside a transaction holding a lock the live nodes wait on
         * (an event, a claim): end them first, once per node. */
        bool seen = false;
        for (size_t k = 0; k < i; k++)
            seen |= o->owner && orphans[k]->owner && strcmp(o->owner, orphans[k]->owner) == 0;
        int64_t ended = 0;
        if (!seen && o->owner &&
            store_fleet_end_node_sessions(store, o->owner, &ended, err, sizeof err) == QB_OK &&
            ended)
            log_warn("recovery.sessions_ended", "node=%s sessions=%lld", log_q(o->owner),
                     (long long)ended);
        bool adopted = false;
        struct store_run *r = NULL;
        if (store_fleet_adopt(store, o, self, now, &adopted, err, sizeof err) ||
            (adopted && store_run_get(store, o->id, &r, err, sizeof err))) {
            log_error("recovery.adopt_failed", "run=%lld error=%s", (long long)o->id, log_q(err));
            continue;
        }
        if (!adopted)
            continue; /* its node beat again, or another leader was quicker */
        char reason[256];
        snprintf(reason, sizeof reason,
                 "interrupted: its qbackupd (node %s) stopped heartbeating while this run was "
                 "going, and node %s took it over",
                 o->owner ? o->owner : "?", self);
        log_warn("recovery.adopted", "run=%lld from=%s", (long long)o->id, log_q(o->owner));
        recover_one(store, r, reason);
        store_run_free(r);
    }
    store_fleet_runs_free(orphans, n);
}
