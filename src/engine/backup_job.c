/* SPDX-License-Identifier: Apache-2.0
 *
 * backup_job.c -- one backup run: for each target (a collection, or the
 * full instance) create a Qdrant snapshot, stream it into the destination
 * while hashing, check it against Qdrant's checksum, write the manifest,
 * optionally verify by reading back, catalogue it, delete the snapshot
 * from Qdrant, and apply retention.
 *
 * DESIGN
 * The catalogue row is the last step that makes a snapshot "exist": it is
 * inserted only once the object is complete, its size and checksum match
 * what Qdrant announced, and (with verify) it was read back intact.  Before
 * anything is created outside the catalogue, the run records it in its
 * `inflight` column, so crash recovery (recovery.c) can remove a Qdrant
 * snapshot or a partial upload that a killed process left behind.
 * Nothing is staged on local disk: bytes flow from libcurl's download
 * callback straight into the storage writer.
 * Each succeeded target reports where its time went ("phases" in its
 * result, api/openapi.yaml BackupPhases): consecutive, non-overlapping
 * spans measured on the monotonic clock, so they add up to at most the
 * target's total.
 */
#include "engine/backup_internal.h"
#include "engine/backup_set.h"
#include "engine/collsel.h"
#include "engine/keyref.h"
#include "engine/copies.h"
#include "engine/jobs.h"
#include "engine/manifest.h"
#include "engine/qdrant_janitor.h"
#include "engine/retention_apply.h"
#include "engine/topology.h"
#include "store/store_destinations.h"
#include "store/store_instances.h"
#include "store/store_plans.h"
#include "store/store_snapshots.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- the run */

/* Strings of a JSON array text (non-strings skipped); *n receives the
 * count.  The array borrows from *arr, which the caller deletes. */
static const char **json_strings(const char *text, cJSON **arr, size_t *n)
{
    *arr = cJSON_Parse(text ? text : "[]");
    const char **out = xcalloc((size_t)cJSON_GetArraySize(*arr) + 1, sizeof *out);
    const cJSON *item;
    *n = 0;
    cJSON_ArrayForEach(item, *arr)
    {
        if (cJSON_IsString(item))
            out[(*n)++] = item->valuestring;
    }
    return out;
}

/* The collections a run covers, per its plan's scope and selection
 * (engine/collsel.h): the instance is listed only when a pattern or "*"
 * needs it, so a plan of plain names runs as it always did. */
static enum qb_err list_targets(struct backup *b, char ***names, size_t *n, char *err,
                                size_t errlen)
{
    *names = NULL;
    *n = 0;
    bool full = strcmp(b->plan->scope, "full") == 0;
    if (full && !b->topo)
        return QB_OK;
    bool all = full || strcmp(b->plan->scope, "all") == 0;
    cJSON *inc_arr = NULL, *exc_arr = NULL;
    size_t n_inc = 0, n_exc = 0, n_have = 0;
    const char *star[] = {"*"};
    const char **inc = all ? NULL : json_strings(b->plan->collections, &inc_arr, &n_inc);
    const char **exc = json_strings(full ? "[]" : b->plan->exclude, &exc_arr, &n_exc);
    bool need_list = all;
    for (size_t i = 0; i < n_inc && !need_list; i++)
        need_list = collsel_is_pattern(inc[i]);
    char **have = NULL;
    enum qb_err rc = QB_OK;
    if (need_list)
        WITH_RETRIES(b->job, rc, qdrant_list_collections(b->qdrant, &have, &n_have, err, errlen));
    if (!rc)
        collsel_resolve(all ? star : inc, all ? 1 : n_inc, exc, n_exc, (const char *const *)have,
                        n_have, names, n);
    qdrant_strings_free(have, n_have);
    free(inc);
    free(exc);
    cJSON_Delete(inc_arr);
    cJSON_Delete(exc_arr);
    return rc;
}

/* The run shows what its selection resolved to (GET /v1/runs/{id}
 * "collections"); a failed write costs only that display. */
static void record_targets(struct backup *b, char **names, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(names[i]));
    char *text = cJSON_PrintUnformatted(arr);
    char err[QB_ERRBUF_SIZE];
    if (store_run_set_collections(b->job->store, b->job->run->id, text, err, sizeof err))
        log_warn("run.collections_unrecorded", "run=%lld error=%s", (long long)b->job->run->id,
                 log_q(err));
    free(text);
    cJSON_Delete(arr);
}

/* A cluster collection: one backup set, then its copies and retention as
 * for a snapshot. */
static enum qb_err backup_set_target(struct backup *b, const char *collection, cJSON *result,
                                     int64_t *id, char *err, size_t errlen)
{
    enum qb_err rc = backup_set_collection(b->job, b->plan, b->inst, b->topo, collection,
                                           b->qdrant_version, result, id, err, errlen);
    if (rc)
        return rc;
    /* Second copies of every shard object, as of a single snapshot. */
    if (b->plan->id)
        copies_after_backup(b->job, b->plan, b->storage, *id, result);
    char rerr[QB_ERRBUF_SIZE];
    int dropped = 0;
    if (b->plan->id &&
        (retention_apply_target(b->job->store, b->storage, b->plan, collection, false, NULL,
                                &dropped, rerr, sizeof rerr) ||
         copies_apply_retention(b->job->store, b->plan, collection, NULL, rerr, sizeof rerr)))
        cJSON_AddStringToObject(result, "retention_error", rerr);
    cJSON_AddNumberToObject(result, "retention_deleted", dropped);
    return QB_OK;
}

static const char *run_targets(struct backup *b, cJSON *results, char *error, size_t errorlen)
{
    struct job *j = b->job;
    char err[QB_ERRBUF_SIZE];
    char **names = NULL;
    size_t n = 0, ok = 0, failed = 0;
    enum qb_err rc = list_targets(b, &names, &n, err, sizeof err);
    if (rc) {
        snprintf(error, errorlen, "listing collections on %s: %s", b->plan->instance, err);
        return "failed";
    }
    /* A cluster's full snapshot holds only one peer's shards: on a cluster
     * a full-instance plan backs up every collection as a set instead. */
    bool full = strcmp(b->plan->scope, "full") == 0 && !b->topo;
    b->ntargets = full ? 1 : n;
    if (!full)
        record_targets(b, names, n);
    if (!full && n == 0) {
        snprintf(error, errorlen,
                 strcmp(b->plan->scope, "collections") != 0 &&
                         strcmp(b->plan->exclude ? b->plan->exclude : "[]", "[]") == 0
                     ? "instance %s has no collections to back up"
                     : "no collection of instance %s matches the plan's collections and exclude",
                 b->plan->instance);
        return "failed";
    }
    for (size_t i = 0; i < (full ? 1 : n); i++) {
        struct target t = {.qt = {.scope = full ? QDRANT_SCOPE_FULL : QDRANT_SCOPE_COLLECTION,
                                  .collection = full ? NULL : names[i]},
                           .collection = full ? NULL : names[i],
                           .label = full ? "(full)" : names[i]};
        cJSON *result = cJSON_CreateObject();
        cJSON_AddItemToObject(result, "collection",
                              full ? cJSON_CreateNull() : cJSON_CreateString(names[i]));
        int64_t set_id = 0;
        if (j->cancelled || j->stopping)
            rc = job_checkpoint(j, NULL, err, sizeof err);
        else if (b->topo)
            rc = backup_set_target(b, names[i], result, &set_id, err, sizeof err);
        else {
            /* One node taken without proof: a collection with replicas on
             * peers that cannot be listed must not pass as whole. */
            rc = full || !b->unproven
                     ? QB_OK
                     : topology_check_local(b->unproven, b->qdrant, names[i], err, sizeof err);
            if (!rc)
                rc = backup_target(b, &t, result, err, sizeof err);
        }
        cJSON_AddStringToObject(result, "state", rc ? "failed" : "succeeded");
        if (rc) {
            cJSON_AddStringToObject(result, "error", err);
            failed++;
            snprintf(error, errorlen, "%s: %s", t.label, err);
        } else {
            ok++;
        }
        cJSON_AddItemToArray(results, result);
        backup_target_clear(&t);
    }
    qdrant_strings_free(names, n);
    if (j->cancelled)
        return "cancelled";
    if (j->stopping) {
        snprintf(error, errorlen, "interrupted by shutdown");
        return "failed";
    }
    if (failed && ok) {
        size_t used = strlen(error);
        snprintf(error + used, errorlen - used, " (%zu of %zu targets failed)", failed,
                 ok + failed);
    }
    return failed == 0 ? "succeeded" : ok == 0 ? "failed" : "partial";
}

/* A Qdrant cluster is backed up shard by shard: a collection snapshot
 * holds only the answering peer's shards.  With one peer that would still
 * be whole, but the set path is right for any cluster and a peer may join
 * at any time.  A single node (distributed mode off) keeps the
 * one-snapshot path unless its plan asks for streamed shards (shard_method
 * "stream": sets read over Qdrant's streaming route, nothing staged on the
 * node's disk; docs/internals/cluster.md). */
static enum qb_err resolve_topology(struct backup *b, char *err, size_t errlen)
{
    struct topology *t = NULL;
    enum qb_err rc = topology_resolve(b->inst, (long)b->inst->timeout_s * 1000, &t, err, errlen);
    if (rc)
        return rc;
    if (t->cluster || backup_set_streams(b->plan)) {
        b->topo = t;
        return QB_OK;
    }
    /* GET /cluster refused or unknown: the instance is taken for one node,
     * and each collection's own view must show no replica elsewhere. */
    if (t->hidden) {
        log_warn("run.peers_hidden", "run=%lld instance=%s why=%s", (long long)b->job->run->id,
                 log_q(b->plan->instance), log_q(t->hidden));
        b->unproven = t;
        return QB_OK;
    }
    topology_free(t);
    return QB_OK;
}

const char *backup_job_run(struct job *j, cJSON *results, char *error, size_t errorlen)
{
    struct backup b = {.job = j};
    char err[QB_ERRBUF_SIZE];
    size_t errlen = sizeof err; /* for WITH_RETRIES */
    const char *state = "failed";
    enum qb_err rc = j->run->plan_id
                         ? store_plan_get_by_id(j->store, j->run->plan_id, &b.plan, err, sizeof err)
                         : qb_failf(QB_ERR_NOT_FOUND, err, errlen, "its plan was deleted");
    /* The keys first: a run that could not store what it reads must fail
     * before anything is created on Qdrant. */
    if (!rc)
        rc = keyref_plan_codec(b.plan, &b.spec, &b.ring, err, sizeof err);
    if (!rc) {
        job_limits_open(j, b.plan);
        /* Copies earlier runs could not make go first, whether or not
         * Qdrant answers: this run's own failures then wait for the next
         * run (copies.h). */
        copies_retry_unfinished(j, b.plan);
        rc = resolve_qdrant(j->store, b.plan->instance,
                            engine_config(j->engine)->snapshot_timeout_ms, &b.qdrant, err,
                            sizeof err);
    }
    if (!rc)
        rc = resolve_storage(j->store, b.plan->destination_id, &b.storage, err, sizeof err);
    if (!rc) /* before Qdrant is touched: a lock that cannot be kept fails the run */
        rc = job_lock_open(j, b.plan, b.storage, err, sizeof err);
    if (!rc)
        rc = store_instance_get(j->store, b.plan->instance, &b.inst, err, sizeof err);
    /* The topology first: with the instance URL's peer down, a cluster
     * that lists its nodes is reached through one that answers. */
    if (!rc)
        WITH_RETRIES(j, rc, resolve_topology(&b, err, sizeof err));
    if (!rc && b.topo && strcmp(b.topo->entry, b.inst->url) != 0) {
        qdrant_client_destroy(b.qdrant);
        b.qdrant = NULL;
        rc = topology_client(b.inst, b.topo->entry, engine_config(j->engine)->snapshot_timeout_ms,
                             &b.qdrant, err, sizeof err);
    }
    if (!rc)
        WITH_RETRIES(j, rc, qdrant_server_version(b.qdrant, &b.qdrant_version, err, sizeof err));
    if (rc) {
        snprintf(error, errorlen, "%s", err);
        goto out;
    }
    state = run_targets(&b, results, error, errorlen);
out:
    seal_keyring_destroy(b.ring);
    topology_free(b.topo);
    topology_free(b.unproven);
    store_instance_free(b.inst);
    free(b.qdrant_version);
    storage_close(b.storage);
    qdrant_client_destroy(b.qdrant);
    store_plan_free(b.plan);
    return state;
}
