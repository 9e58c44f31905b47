/* SPDX-License-Identifier: Apache-2.0
 *
 * restore_job.c -- one restore run: put a catalogued snapshot back into a
 * Qdrant collection, on the instance it came from or another one, under
 * the same or another name.
 *
 * DESIGN
 * Everything that can be checked is checked before the target is touched:
 * the stored object exists with the catalogued size; the target instance
 * answers; an existing target collection is replaced only with overwrite,
 * and then (by default) only after a safety snapshot of it was taken and
 * catalogued, so a wrong restore is itself undoable.  Overwrite means
 * replace: recovered over a live collection, Qdrant would keep its
 * configuration and payload indexes (and refuse other vectors), so the
 * collection is deleted and Qdrant recreates it from the archive's
 * config.json and payload_index.json; its aliases are pointed back.
 * Since that deletion comes before Qdrant's own checksum check, the
 * stored object is read back and checked first.  Qdrant is always
 * given the catalogued SHA-256, and it verifies the bytes before it
 * replaces any data: a corrupted object fails the restore with a checksum
 * error and the collection is left as it was.
 *
 * Two methods.  "upload": qbackupd streams the object from storage into
 * Qdrant's upload endpoint (works when Qdrant cannot reach the storage).
 * "url": Qdrant fetches the object itself, from a presigned S3 URL, or
 * from qbackupd's download endpoint for a local destination (fastest when
 * Qdrant can reach it).  Afterwards the collection's point count is read
 * and compared with the count recorded at backup time.
 *
 * A compressed or encrypted object (codec/codec.h) is decoded on its way:
 * "upload" decodes while streaming; "url" gives Qdrant qbackupd's own
 * download endpoint, which serves it decoded (never a presigned URL of the
 * stored bytes).  Either way Qdrant is given the archive's checksum, and
 * the key is checked against the snapshot's key id before the target is
 * touched.
 */
#include "engine/backup_set.h"
#include "engine/copies.h"
#include "storage/bridge.h"
#include "engine/jobs.h"
#include "engine/restore_cover.h"
#include "engine/restore_set.h"
#include "engine/snapshot_verify.h"
#include "engine/topology.h"
#include "remote/qdrant_cluster.h"
#include "storage/storage_urls.h"
#include "store/store_destinations.h"
#include "store/store_instances.h"
#include "store/store_runs.h"
#include "store/store_snapshots.h"
#include "util/log.h"
#include "util/seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ring between storage and Qdrant: enough to keep both streams busy,
 * small enough not to matter. */
#define RESTORE_RING_BYTES (8u << 20)
/* How long a presigned or tokenised URL handed to Qdrant stays valid. */
#define RESTORE_URL_TTL_S 3600

struct restore {
    struct job *job;
    const cJSON *request;
    struct store_snapshot *snap;
    struct storage *storage; /* the primary destination: safety snapshots go there */
    struct storage *source;  /* where the object is read: the first healthy location */
    char *source_key;
    struct copies_set_sources *sources; /* a set no location holds whole: per shard */
    struct qdrant_client *qdrant;
    const char *instance;   /* target instance name */
    const char *collection; /* target collection name */
    const char *method;     /* "upload" or "url" */
    enum qdrant_priority priority;
    bool overwrite;
    bool safety;
    struct seal_keyring *ring; /* an encrypted snapshot's keys, else NULL */
    cJSON *result;             /* the run's result for this restore */
    char **aliases;            /* of the collection an overwrite replaces */
    size_t naliases;
};

/* Whether the stored object is not the archive itself (codec/codec.h):
 * then it is decoded on its way to Qdrant, which is given the archive's
 * size and checksum. */
static bool coded(const struct store_snapshot *s)
{
    return s->codec && strcmp(s->codec, "none") != 0;
}

static const char *req_str(const cJSON *req, const char *name, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static bool req_bool(const cJSON *req, const char *name, bool dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static enum qb_err restore_by_upload(struct restore *r, struct qdrant_client *qc,
                                     const struct qdrant_target *t, char *err, size_t errlen)
{
    struct restore_set_pull p = {.job = r->job};
    const struct store_snapshot *s = r->snap;
    /* Qdrant checks the whole archive against the checksum before it
     * replaces anything: a decoded stream cut by a bad chunk never passes. */
    enum qb_err rc = bridge_start_decoded(r->source, r->source_key, 0, 0, s->codec, r->ring,
                                          RESTORE_RING_BYTES, &p.bridge, err, errlen);
    if (rc)
        return rc;
    /* Qdrant keeps an uploaded file among the collection's snapshots under
     * the part's file name, replacing one of that name (CONTRACT §4): a
     * name of our own, removed afterwards, so a restore neither replaces
     * someone's snapshot nor leaves a full-size copy on Qdrant's disk. */
    char fname[64];
    snprintf(fname, sizeof fname, "qbackup-restore-run-%lld.snapshot", (long long)r->job->run->id);
    rc = qdrant_snapshot_upload(qc, t, r->priority, coded(s) ? s->raw_sha256 : s->sha256, fname,
                                (uint64_t)(coded(s) ? s->raw_size : s->size_bytes),
                                restore_set_pull_read, &p, err, errlen);
    bridge_stop(p.bridge);
    char derr[QB_ERRBUF_SIZE];
    enum qb_err drc = qdrant_snapshot_delete(qc, t, fname, derr, sizeof derr);
    if (drc && drc != QB_ERR_NOT_FOUND)
        log_warn("run.qdrant_cleanup_failed", "run=%lld snapshot=%s error=%s",
                 (long long)r->job->run->id, log_q(fname), log_q(derr));
    return rc;
}

static enum qb_err restore_by_url(struct restore *r, struct qdrant_client *qc,
                                  const struct qdrant_target *t, char *err, size_t errlen)
{
    char *url = NULL;
    const char *base = req_str(r->request, "download_base", NULL);
    /* A presigned URL would give Qdrant the stored bytes: an encoded
     * object is served decoded by qbackupd's own endpoint instead. */
    enum qb_err rc = coded(r->snap) ? storage_served_url(r->snap->storage_key, r->snap->id, base,
                                                         RESTORE_URL_TTL_S, &url, err, errlen)
                                    : storage_fetch_url(r->source, r->source_key, r->snap->id, base,
                                                        RESTORE_URL_TTL_S, &url, err, errlen);
    if (!rc)
        rc = qdrant_snapshot_recover(qc, t, url, r->priority,
                                     coded(r->snap) ? r->snap->raw_sha256 : r->snap->sha256, NULL,
                                     err, errlen);
    seal_wipe_free(url); /* it carries a signature or token: a capability */
    if (!rc)
        r->job->bytes_done += r->snap->size_bytes;
    return rc;
}

/* Recovers into t through qc (the instance URL's peer, or another peer
 * of its cluster), retrying transient failures (a reset, a 5xx, a
 * timeout) as backups do: a failed recovery leaves Qdrant's replica
 * cleared, so giving up at the first hiccup would leave it empty. */
static enum qb_err restore_with_retries(struct restore *r, struct qdrant_client *qc,
                                        const struct qdrant_target *t, char *err, size_t errlen)
{
    struct job *j = r->job;
    int64_t start = j->bytes_done;
    for (unsigned attempt = 1;; attempt++) {
        enum qb_err rc = strcmp(r->method, "url") == 0 ? restore_by_url(r, qc, t, err, errlen)
                                                       : restore_by_upload(r, qc, t, err, errlen);
        if (rc != QB_ERR_TRANSIENT || attempt >= engine_config(j->engine)->max_attempts)
            return rc;
        log_warn("run.retry", "run=%lld attempt=%u error=%s", (long long)j->run->id, attempt,
                 log_q(err));
        j->bytes_done = start; /* the retry streams it all again */
        if (job_backoff(j, attempt))
            return job_checkpoint(j, NULL, err, errlen);
    }
}

/* restore_cover_fn: the archive recovered on another peer. */
static enum qb_err recover_on(void *ud, struct qdrant_client *qc, char *err, size_t errlen)
{
    struct restore *r = ud;
    struct qdrant_target t = {.scope = QDRANT_SCOPE_COLLECTION, .collection = r->collection};
    return restore_with_retries(r, qc, &t, err, errlen);
}

/* The archive is recovered on a peer hosting each shard (restore_cover.c),
 * which takes every shard it hosts (CONTRACT §4, §7).  On a cluster of
 * several peers the other replicas are then either preferred to the archive
 * (`replica`: the restored data is dropped wherever another Active replica
 * exists, always so in a new collection) or left as they are (`no_sync`:
 * empty or old, yet Active and serving reads).  Neither restores the
 * collection, so both are refused before anything changes. */
static enum qb_err check_priority_on_cluster(struct restore *r, char *err, size_t errlen)
{
    struct qdrant_cluster cl;
    enum qb_err rc = qdrant_cluster_get(r->qdrant, &cl, err, errlen);
    if (!rc && cl.enabled && cl.npeers > 1)
        rc = qb_failf(QB_ERR_INVALID, err, errlen,
                      "priority \"%s\" cannot restore a collection snapshot into %s, a cluster of "
                      "%zu peers: Qdrant recovers it on one peer and %s, so the collection would "
                      "not be what was backed up; use \"snapshot\" (the default). Nothing was "
                      "changed",
                      qdrant_priority_name(r->priority), r->instance, cl.npeers,
                      r->priority == QDRANT_PRIORITY_REPLICA
                          ? "prefers the other replicas' data to the snapshot's"
                          : "leaves the other replicas as they are");
    qdrant_cluster_clear(&cl);
    return rc;
}

/* Points the aliases the replaced collection had at the restored one;
 * one that cannot be created is a warning (the data is back). */
static void restore_aliases(struct restore *r, cJSON *result)
{
    for (size_t i = 0; i < r->naliases; i++) {
        char sub[QB_ERRBUF_SIZE];
        const char *alias = r->aliases[i];
        if (qdrant_alias_create(r->qdrant, r->collection, alias, sub, sizeof sub)) {
            restore_warn(result, "alias %s not recreated: %s", alias, sub);
            continue;
        }
        cJSON *ra = cJSON_GetObjectItemCaseSensitive(result, "aliases");
        if (!ra)
            ra = cJSON_AddArrayToObject(result, "aliases");
        cJSON_AddItemToArray(ra, cJSON_CreateString(alias));
    }
}

/* The overwrite's read-back check: cancellable, with the run's progress
 * written as it goes (job_checkpoint does both, at most once a second). */
static enum qb_err judge_check(void *ud, char *err, size_t errlen)
{
    return job_checkpoint(ud, NULL, err, errlen);
}

/* Checks before anything changes on the target; fills *exists. */
static enum qb_err preflight(struct restore *r, bool *exists, char *err, size_t errlen)
{
    /* The first healthy location (engine/copies.h): the primary, else a
     * second copy, named in the result.  Checked before Qdrant is. */
    enum qb_err rc = copies_open_source(r->job->store, r->snap, &r->source, &r->source_key,
                                        r->result, err, errlen);
    if (rc)
        return rc;
    if (coded(r->snap) && (r->snap->raw_size < 0 || !r->snap->raw_sha256))
        return qb_failf(QB_ERR_CONFLICT, err, errlen,
                        "snapshot %lld (%s) was catalogued without its archive's size and "
                        "checksum (a rescan without its manifest); verify it first "
                        "(POST /v1/snapshots/%lld/verify)",
                        (long long)r->snap->id, r->snap->codec, (long long)r->snap->id);
    /* The key before anything on the target is touched. */
    rc = resolve_keyring(r->job->store, r->snap, &r->ring, err, errlen);
    if (rc)
        return rc;
    struct qdrant_collection_info ci;
    rc = qdrant_collection_info(r->qdrant, r->collection, &ci, err, errlen);
    *exists = rc == QB_OK;
    if (rc == QB_OK)
        qdrant_collection_info_free(&ci);
    if (rc == QB_ERR_NOT_FOUND)
        rc = QB_OK;
    if (!rc && *exists && !r->overwrite)
        rc = qb_failf(QB_ERR_CONFLICT, err, errlen,
                      "collection %s already exists on %s; restoring would replace it: send "
                      "\"overwrite\": true to do that (a safety snapshot is taken first)",
                      r->collection, r->instance);
    /* Overwrite deletes the collection before the recovery (see
     * restore()), and Qdrant's checksum check comes only with the
     * recovery: the stored object is read back and checked first, so a
     * damaged one leaves the collection as it is. */
    if (!rc && *exists) {
        struct store_snapshot at = *r->snap; /* as stored where it is read */
        at.storage_key = r->source_key;
        struct snapshot_verdict v;
        char sub[QB_ERRBUF_SIZE] = "";
        /* A large object takes a while: a cancel stops the read. */
        snapshot_judge_checked(r->job->store, r->source, &at, judge_check, r->job, &v, sub,
                               sizeof sub);
        if (v.stopped)
            rc = qb_failf(v.stopped, err, errlen, "%s", sub);
        else if (v.failed || v.unreadable)
            rc = qb_failf(v.unreadable ? QB_ERR_TRANSIENT : QB_ERR_IO, err, errlen,
                          "snapshot %lld fails its checksum check, so nothing was changed: %s",
                          (long long)r->snap->id, sub);
    }
    /* Qdrant drops a collection's aliases with it: read them while the
     * collection still stands, to point them at the restored one. */
    if (!rc && *exists) {
        rc = qdrant_collection_aliases(r->qdrant, r->collection, &r->aliases, &r->naliases, err,
                                       errlen);
        if (rc) {
            char sub[QB_ERRBUF_SIZE];
            snprintf(sub, sizeof sub, "%s", err);
            rc = qb_failf(rc, err, errlen,
                          "reading the aliases of %s (to recreate them after the restore) "
                          "failed, so nothing was changed: %s",
                          r->collection, sub);
        }
    }
    if (!rc && (r->priority == QDRANT_PRIORITY_REPLICA || r->priority == QDRANT_PRIORITY_NO_SYNC))
        rc = check_priority_on_cluster(r, err, errlen);
    return rc;
}

/* A restore by upload whose recovery failed after the collection was
 * deleted (or into a missing one) leaves its uploaded file among the
 * snapshots Qdrant keeps for that name, and no call deletes a snapshot of
 * a collection that does not exist.  So once a restore recreated the
 * collection, the uploads of earlier restore runs no longer going are
 * deleted.  Best effort: a failure is logged. */
static void remove_stale_uploads(struct restore *r)
{
    struct qdrant_target t = {.scope = QDRANT_SCOPE_COLLECTION, .collection = r->collection};
    struct qdrant_snapshot *list = NULL;
    size_t n = 0;
    char err[QB_ERRBUF_SIZE];
    if (qdrant_snapshot_list(r->qdrant, &t, &list, &n, err, sizeof err))
        return;
    for (size_t i = 0; i < n; i++) {
        long long id = 0;
        char tail[16] = "";
        if (sscanf(list[i].name, "qbackup-restore-run-%lld%15s", &id, tail) != 2 ||
            strcmp(tail, ".snapshot") != 0 || id == (long long)r->job->run->id)
            continue;
        struct store_run *run = NULL;
        enum qb_err rc = store_run_get(r->job->store, id, &run, err, sizeof err);
        bool going =
            !rc && (strcmp(run->state, "queued") == 0 || strcmp(run->state, "running") == 0);
        store_run_free(run);
        if ((rc && rc != QB_ERR_NOT_FOUND) || going)
            continue;
        rc = qdrant_snapshot_delete(r->qdrant, &t, list[i].name, err, sizeof err);
        if (rc && rc != QB_ERR_NOT_FOUND)
            log_warn("run.qdrant_cleanup_failed", "run=%lld snapshot=%s error=%s",
                     (long long)r->job->run->id, log_q(list[i].name), log_q(err));
    }
    qdrant_snapshots_free(list, n);
}

/* The safety snapshot of the collection an overwrite replaces, of the
 * whole collection: with topo (a cluster), a backup set of every shard
 * from a peer hosting it; else one snapshot through r->qdrant.  Fills
 * *safety_id. */
static enum qb_err safety_snapshot(struct restore *r, const struct store_instance *inst,
                                   const struct topology *topo, int64_t *safety_id, char *err,
                                   size_t errlen)
{
    struct job *j = r->job;
    if (!topo)
        return backup_safety_snapshot(j, r->qdrant, r->storage, r->instance, inst->id,
                                      r->snap->destination_id, r->collection, safety_id, err,
                                      errlen);
    char prefix[] = "_safety", retention[] = "{}", method[] = "snapshot";
    struct store_plan plan = {.name = inst->name,
                              .instance = inst->name,
                              .instance_id = inst->id,
                              .destination_id = r->snap->destination_id,
                              .key_prefix = prefix,
                              .retention = retention,
                              .verify = true,
                              .shard_method = method};
    /* Encrypted like everything else in an encrypted destination, as a
     * single safety snapshot is (backup_safety_snapshot). */
    struct store_destination *dest = NULL;
    enum qb_err rc =
        store_destination_get_by_id(j->store, r->snap->destination_id, false, &dest, err, errlen);
    if (!rc) {
        plan.destination_encryption = dest->encryption;
        cJSON *sr = cJSON_CreateObject();
        rc = backup_set_collection(j, &plan, inst, topo, r->collection,
                                   r->snap->qdrant_version ? r->snap->qdrant_version : "", sr,
                                   safety_id, err, errlen);
        cJSON_Delete(sr);
    }
    store_destination_free(dest);
    return rc;
}

/* A restore failed after the collection may have been replaced: err gets
 * where the replaced collection is kept, if it was.  Returns rc. */
static enum qb_err note_replaced(const struct restore *r, const cJSON *result, bool exists,
                                 enum qb_err rc, char *err, size_t errlen)
{
    const cJSON *safety = cJSON_GetObjectItemCaseSensitive(result, "safety_snapshot_id");
    size_t used = strlen(err);
    if (cJSON_IsNumber(safety))
        snprintf(err + used, errlen - used,
                 "; the collection as it was is kept as safety snapshot %.0f (restore it to "
                 "roll back)",
                 safety->valuedouble);
    else if (exists)
        snprintf(err + used, errlen - used,
                 "; collection %s was replaced without a safety snapshot (as requested)",
                 r->collection);
    return rc;
}

static enum qb_err restore(struct restore *r, cJSON *result, char *err, size_t errlen)
{
    struct job *j = r->job;
    bool exists = false;
    enum qb_err rc = job_checkpoint(j, "verifying", err, errlen);
    if (!rc)
        rc = preflight(r, &exists, err, errlen);
    if (rc)
        return rc;
    if (exists && r->safety) {
        struct store_instance *inst = NULL;
        struct topology *topo = NULL;
        int64_t safety_id = 0;
        rc = job_checkpoint(j, "snapshotting", err, errlen);
        if (!rc)
            rc = store_instance_get(j->store, r->instance, &inst, err, errlen);
        /* The overwrite deletes the whole collection: on a cluster of
         * several peers a snapshot of one peer would keep only its shards,
         * so the safety copy is then a set of every shard. */
        if (!rc)
            rc = topology_resolve(inst, (long)inst->timeout_s * 1000, &topo, err, errlen);
        if (!rc)
            rc = topology_check_local(topo, r->qdrant, r->collection, err, errlen);
        if (!rc)
            rc = safety_snapshot(r, inst, topo->cluster && topo->npeers > 1 ? topo : NULL,
                                 &safety_id, err, errlen);
        topology_free(topo);
        store_instance_free(inst);
        if (rc) {
            char sub[QB_ERRBUF_SIZE];
            snprintf(sub, sizeof sub, "%s", err);
            return qb_failf(rc, err, errlen,
                            "the safety snapshot of %s failed, so nothing was restored: %s",
                            r->collection, sub);
        }
        cJSON_AddNumberToObject(result, "safety_snapshot_id", (double)safety_id);
    }
    rc = job_checkpoint(j, "restoring", err, errlen);
    if (rc)
        return rc;
    /* Recovered over an existing collection, Qdrant keeps that
     * collection's configuration and payload indexes, and refuses an
     * archive whose vectors or shard_number differ (CONTRACT §4): so the
     * collection is deleted, and the recovery creates it again from the
     * archive's config.json and payload_index.json, as it was backed up. */
    if (exists) {
        rc = qdrant_collection_delete(r->qdrant, r->collection, err, errlen);
        if (rc == QB_ERR_NOT_FOUND)
            rc = QB_OK; /* deleted meanwhile by someone else */
    }
    struct qdrant_target t = {.scope = QDRANT_SCOPE_COLLECTION, .collection = r->collection};
    if (!rc)
        rc = restore_with_retries(r, r->qdrant, &t, err, errlen);
    /* Qdrant placed the shards of a collection it created on peers of its
     * choosing, and recovered only those of the peer the archive was sent
     * to: the others are recovered on peers hosting them. */
    struct restore_cover cover = {.job = j,
                                  .instance = r->instance,
                                  .collection = r->collection,
                                  .home = r->qdrant,
                                  .snapshot_timeout_ms =
                                      engine_config(j->engine)->snapshot_timeout_ms,
                                  .active_timeout_ms = 10L * 60 * 1000,
                                  .recover = recover_on,
                                  .ud = r};
    if (!rc)
        rc = restore_cover_run(&cover, result, err, errlen);
    if (rc)
        return note_replaced(r, result, exists, rc, err, errlen);
    restore_aliases(r, result);
    remove_stale_uploads(r);
    /* The count recorded at backup time was read just before Qdrant made
     * the snapshot, so a collection under writes differs by what was
     * written in between: a warning.  An empty collection where points
     * were recorded is data not restored, and the run must not say it
     * succeeded (restore_cover already recovers every shard where it is
     * hosted; this is the last look). */
    struct qdrant_collection_info ci;
    if (qdrant_collection_info(r->qdrant, r->collection, &ci, err, errlen) == QB_OK) {
        int64_t want = r->snap->points_count;
        cJSON_AddNumberToObject(result, "points_count", (double)ci.points_count);
        if (want >= 0)
            cJSON_AddBoolToObject(result, "points_match", ci.points_count == want);
        if (want > 0 && ci.points_count == 0)
            rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                          "collection %s holds no points after the restore, snapshot %lld "
                          "recorded %lld: the restore is incomplete",
                          r->collection, (long long)r->snap->id, (long long)want);
        else if (want >= 0 && ci.points_count != want)
            restore_warn(result,
                         "collection %s holds %lld points, the backup recorded %lld (writes "
                         "between the count and the snapshot, or not all of it restored)",
                         r->collection, (long long)ci.points_count, (long long)want);
        qdrant_collection_info_free(&ci);
    }
    return rc ? note_replaced(r, result, exists, rc, err, errlen) : QB_OK;
}

/* A backup set: every shard object present, then the target checked,
 * a safety copy of what is replaced, and the set restored shard by shard. */
static enum qb_err restore_sharded(struct restore *r, cJSON *result, char *err, size_t errlen)
{
    struct job *j = r->job;
    struct store_instance *inst = NULL;
    struct topology *topo = NULL;
    enum qb_err rc = job_checkpoint(j, "verifying", err, errlen);
    /* The API refuses it too; a run queued before that rule must not empty
     * the collection either (see api_restores.c). */
    if (!rc && r->priority == QDRANT_PRIORITY_REPLICA)
        rc = qb_failf(QB_ERR_INVALID, err, errlen,
                      "priority \"replica\" cannot restore a backup set: the collection is "
                      "recreated empty and Qdrant would replace the restored shards with its "
                      "empty replicas; nothing was changed");
    /* The first location holding every shard object as catalogued
     * (engine/copies.h): the primary, else a second copy, whole; else
     * each shard from the first location holding it (the primary lost
     * one shard, the copy another: together they hold the set). */
    if (!rc)
        rc = copies_open_source(j->store, r->snap, &r->source, &r->source_key, result, err, errlen);
    if (rc == QB_ERR_NOT_FOUND || rc == QB_ERR_IO) {
        char whole[QB_ERRBUF_SIZE];
        snprintf(whole, sizeof whole, "%s", err);
        rc = copies_open_set_sources(j->store, r->snap, whole, &r->sources, result, err, errlen);
        if (rc) {
            char sub[QB_ERRBUF_SIZE];
            snprintf(sub, sizeof sub, "%s", err);
            rc = qb_failf(rc, err, errlen,
                          "backup set %lld cannot be restored, so nothing was changed: no "
                          "location holds it whole (%s), and %s",
                          (long long)r->snap->id, whole, sub);
        }
    }
    /* The key before anything on the target is touched. */
    if (!rc)
        rc = resolve_keyring(j->store, r->snap, &r->ring, err, errlen);
    if (!rc)
        rc = store_instance_get(j->store, r->instance, &inst, err, errlen);
    if (!rc)
        rc = topology_resolve(inst, (long)inst->timeout_s * 1000, &topo, err, errlen);
    if (!rc)
        rc = topology_check_usable(topo, r->instance, err, errlen);
    bool exists = false;
    if (!rc) {
        struct qdrant_collection_info ci;
        rc = qdrant_collection_info(r->qdrant, r->collection, &ci, err, errlen);
        exists = rc == QB_OK;
        if (exists)
            qdrant_collection_info_free(&ci);
        if (rc == QB_ERR_NOT_FOUND)
            rc = QB_OK;
    }
    if (!rc && exists && !r->overwrite)
        rc = qb_failf(QB_ERR_CONFLICT, err, errlen,
                      "collection %s already exists on %s; restoring would replace it: send "
                      "\"overwrite\": true to do that (a safety snapshot is taken first)",
                      r->collection, r->instance);
    if (!rc && exists && r->safety) {
        int64_t safety_id = 0;
        rc = job_checkpoint(j, "snapshotting", err, errlen);
        if (!rc)
            rc = safety_snapshot(r, inst, topo->cluster ? topo : NULL, &safety_id, err, errlen);
        if (rc) {
            char sub[QB_ERRBUF_SIZE];
            snprintf(sub, sizeof sub, "%s", err);
            rc = qb_failf(rc, err, errlen,
                          "the safety snapshot of %s failed, so nothing was restored: %s",
                          r->collection, sub);
        } else {
            cJSON_AddNumberToObject(result, "safety_snapshot_id", (double)safety_id);
        }
    }
    /* Shard snapshots recover into existing shards of the recorded
     * layout: the collection is recreated from the set's configuration. */
    if (!rc && exists)
        rc = qdrant_collection_delete(r->qdrant, r->collection, err, errlen);
    if (!rc) {
        struct restore_set rs = {
            .job = j,
            .snap = r->snap,
            .inst = inst,
            .topo = topo,
            .qc = r->qdrant,
            .storage = r->source,
            .sources = r->sources,
            .instance = r->instance,
            .collection = r->collection,
            .by_url = strcmp(r->method, "url") == 0,
            .download_base = req_str(r->request, "download_base", NULL),
            .priority = r->priority,
            .snapshot_timeout_ms = engine_config(j->engine)->snapshot_timeout_ms,
            .active_timeout_ms = 10L * 60 * 1000,
            .ring = r->ring,
        };
        cJSON_AddStringToObject(result, "layout", "shards");
        rc = restore_set_run(&rs, result, err, errlen);
        const cJSON *safety = cJSON_GetObjectItemCaseSensitive(result, "safety_snapshot_id");
        if (rc && cJSON_IsNumber(safety)) {
            /* The collection it replaced is gone: say where it is kept. */
            size_t used = strlen(err);
            snprintf(err + used, errlen - used,
                     "; the collection it replaced is kept as safety snapshot %.0f",
                     safety->valuedouble);
        }
    }
    topology_free(topo);
    store_instance_free(inst);
    return rc;
}

const char *restore_job_run(struct job *j, cJSON *results, char *error, size_t errorlen)
{
    char err[QB_ERRBUF_SIZE];
    struct restore r = {.job = j};
    cJSON *request = cJSON_Parse(j->run->request);
    r.request = request;
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(request, "snapshot_id");
    enum qb_err rc =
        cJSON_IsNumber(sid)
            ? store_snapshot_get(j->store, (int64_t)sid->valuedouble, &r.snap, err, sizeof err)
            : qb_failf(QB_ERR_INVALID, err, sizeof err, "the request names no snapshot");
    cJSON *result = cJSON_CreateObject();
    cJSON_AddItemToArray(results, result);
    r.result = result;
    if (!rc) {
        r.instance = req_str(request, "target_instance", r.snap->instance_name);
        r.collection = req_str(request, "target_collection", r.snap->collection);
        r.method = req_str(request, "method", "upload");
        r.overwrite = req_bool(request, "overwrite", false);
        r.safety = req_bool(request, "safety_snapshot", r.overwrite);
        const char *prio = req_str(request, "priority", NULL);
        if (prio && !qdrant_parse_priority(prio, &r.priority))
            rc = qb_failf(QB_ERR_INVALID, err, sizeof err, "unknown priority %s", prio);
        cJSON_AddNumberToObject(result, "snapshot_id", (double)r.snap->id);
        cJSON_AddStringToObject(result, "target_instance", r.instance);
        cJSON_AddStringToObject(result, "target_collection", r.collection ? r.collection : "");
        cJSON_AddStringToObject(result, "method", r.method);
        if (r.snap->points_count >= 0)
            cJSON_AddNumberToObject(result, "expected_points_count", (double)r.snap->points_count);
    }
    if (!rc && !r.collection)
        rc = qb_failf(QB_ERR_INVALID, err, sizeof err,
                      "full-instance snapshots are restored at Qdrant's start, not over HTTP; "
                      "download it (GET /v1/snapshots/%lld/download) and follow the README",
                      (long long)r.snap->id);
    if (!rc) {
        rc = store_run_progress(j->store, j->run->id, NULL, 0, r.snap->size_bytes, err, sizeof err);
    }
    if (!rc)
        rc = resolve_storage(j->store, r.snap->destination_id, &r.storage, err, sizeof err);
    if (!rc)
        rc = resolve_qdrant(j->store, r.instance, engine_config(j->engine)->snapshot_timeout_ms,
                            &r.qdrant, err, sizeof err);
    if (!rc && strcmp(r.snap->layout, "shards") == 0)
        rc = restore_sharded(&r, result, err, sizeof err);
    else if (!rc)
        rc = restore(&r, result, err, sizeof err);
    const char *state = "succeeded";
    if (rc) {
        state = j->cancelled ? "cancelled" : "failed";
        if (j->stopping)
            snprintf(err, sizeof err, "interrupted by shutdown");
        snprintf(error, errorlen, "%s", err);
        cJSON_AddStringToObject(result, "error", err);
    }
    cJSON_AddStringToObject(result, "state", state);
    qdrant_client_destroy(r.qdrant);
    storage_close(r.source);
    free(r.source_key);
    copies_set_sources_close(r.sources);
    storage_close(r.storage);
    seal_keyring_destroy(r.ring);
    qdrant_strings_free(r.aliases, r.naliases);
    store_snapshot_free(r.snap);
    cJSON_Delete(request);
    return state;
}
