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
#include "codec/codec.h"
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

/* Everything a run's targets share. */
struct backup {
    struct job *job;
    struct store_plan *plan;
    struct qdrant_client *qdrant;
    struct storage *storage;
    char *qdrant_version;
    struct store_instance *inst;
    struct topology *topo;     /* a cluster: per-shard sets */
    size_t ntargets;           /* targets of this run, for crash recovery */
    struct codec_spec spec;    /* how objects are stored (codec/codec.h) */
    struct seal_keyring *ring; /* spec's keys, or NULL: not encrypted */
};

/* One target's progress through the pipeline. */
struct target {
    struct qdrant_target qt;
    char *collection;  /* borrowed; NULL for the full instance */
    const char *label; /* collection name or "(full)" */
    struct qdrant_snapshot snap;
    char *key; /* object key in the destination */
    struct storage_write_result stored;
    struct codec_result raw; /* the archive (raw_*) and the codec used */
    int64_t points_count;
    int64_t since;  /* when creation of its Qdrant snapshot was requested */
    struct phases { /* milliseconds, see the DESIGN note */
        int64_t snapshot, first_byte, download, upload, complete, verify;
    } ph;
};

/* ---------------------------------------------------------------- steps */

/* Retries fn while it fails transiently, up to max_attempts. */
#define WITH_RETRIES(job, rc, call)                                                                \
    do {                                                                                           \
        for (unsigned attempt_ = 1;; attempt_++) {                                                 \
            rc = (call);                                                                           \
            if (rc != QB_ERR_TRANSIENT || attempt_ >= engine_config((job)->engine)->max_attempts)  \
                break;                                                                             \
            log_warn("run.retry", "run=%lld attempt=%u error=%s", (long long)(job)->run->id,       \
                     attempt_, log_q(err));                                                        \
            if (job_backoff((job), attempt_)) {                                                    \
                rc = job_checkpoint((job), NULL, err, errlen);                                     \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* [<key_prefix>/]<plan>/<collection>/run-<run id>-<ms>-<Qdrant's snapshot
 * name>.  Qdrant names snapshots by the second, so two targets of one run
 * (a collection listed twice in a plan stored before such lists were
 * refused) can get the same name; without the milliseconds of the
 * object's creation the second would replace the first's object, or its
 * discard delete it under a catalogued row.  Targets of a run follow one
 * another on one thread, and one that gets catalogued takes far longer
 * than a millisecond (download, fsyncs, manifest, catalogue), so
 * <run id>-<ms> names one object; run ids are never reused (migration
 * 0007). */
static char *object_key(const struct store_plan *plan, const struct store_run *run,
                        const struct target *t)
{
    const char *prefix = plan->key_prefix && *plan->key_prefix ? plan->key_prefix : NULL;
    const char *coll = t->qt.scope == QDRANT_SCOPE_FULL ? "_full" : t->qt.collection;
    return xasprintf("%s%s%s/%s/run-%lld-%lld-%s", prefix ? prefix : "", prefix ? "/" : "",
                     plan->name, coll, (long long)run->id, (long long)qb_now_ms(), t->snap.name);
}

/* Records what exists outside the catalogue, for crash recovery. */
static void set_inflight(struct backup *b, const struct target *t, bool has_key)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "instance", b->plan->instance);
    cJSON_AddStringToObject(o, "scope", t->qt.scope == QDRANT_SCOPE_FULL ? "full" : "collection");
    if (t->qt.collection)
        cJSON_AddStringToObject(o, "collection", t->qt.collection);
    if (t->snap.name)
        cJSON_AddStringToObject(o, "qdrant_snapshot", t->snap.name);
    cJSON_AddNumberToObject(o, "destination_id", (double)b->plan->destination_id);
    /* Recorded before Qdrant is asked: a kill before its answer still
     * leaves what to look for (snapshots created since). */
    cJSON_AddNumberToObject(o, "since", (double)t->since);
    if (b->ntargets)
        cJSON_AddNumberToObject(o, "targets", (double)b->ntargets);
    if (has_key)
        cJSON_AddStringToObject(o, "storage_key", t->key);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char err[QB_ERRBUF_SIZE];
    if (!text || store_run_set_inflight(b->job->store, b->job->run->id, text, err, sizeof err))
        log_error("run.inflight_failed", "run=%lld", (long long)b->job->run->id);
    free(text);
}

struct sink {
    struct job *job;
    struct storage_writer *writer;
    struct codec_encoder *enc; /* NULL: stored as is */
    int64_t first_byte;        /* monotonic ms of the first byte, 0 before */
};

/* The encoder's output: the stored bytes. */
static enum qb_err store_write(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    return storage_write(ud, data, len, err, errlen);
}

/* While a rate limit holds the transfer back: cancel and shutdown. */
static enum qb_err sink_check(void *ud, char *err, size_t errlen)
{
    return job_checkpoint(ud, NULL, err, errlen);
}

/* The one place a snapshot's bytes pass from Qdrant to the destination:
 * the read and write limits are taken here (job_throttle). */
static enum qb_err sink_write(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct sink *s = ud;
    if (!s->first_byte && len)
        s->first_byte = qb_mono_ms();
    enum qb_err rc = job_throttle(s->job, len, sink_check, s->job, err, errlen);
    if (!rc)
        rc = s->enc ? codec_encoder_write(s->enc, data, len, err, errlen)
                    : storage_write(s->writer, data, len, err, errlen);
    if (rc)
        return rc;
    s->job->bytes_done += (int64_t)len;
    return job_checkpoint(s->job, NULL, err, errlen);
}

/* Streams the Qdrant snapshot into a new object; nothing is left under the
 * key unless the whole download arrived. */
static enum qb_err transfer(struct backup *b, struct target *t, char *err, size_t errlen)
{
    int64_t start_bytes = b->job->bytes_done;
    struct sink s = {.job = b->job};
    bool coded = b->spec.compression != CODEC_COMPRESSION_NONE || b->spec.keyring;
    enum qb_err rc = storage_write_begin(b->storage, t->key, t->snap.size, &s.writer, err, errlen);
    if (rc)
        return rc;
    if (coded) {
        rc = codec_encoder_create(&b->spec, store_write, s.writer, &s.enc, err, errlen);
        if (rc) {
            storage_write_abort(s.writer);
            return rc;
        }
    }
    uint64_t got = 0;
    int64_t asked = qb_mono_ms();
    rc = qdrant_snapshot_download(b->qdrant, &t->qt, t->snap.name, sink_write, &s, &got, err,
                                  errlen);
    if (!rc && s.enc) {
        memset(&t->raw, 0, sizeof t->raw);
        rc = codec_encoder_finish(s.enc, &t->raw, err, errlen);
        s.enc = NULL;
    }
    if (rc) {
        codec_encoder_abort(s.enc);
        storage_write_abort(s.writer);
        b->job->bytes_done = start_bytes; /* a retry starts over */
        return rc;
    }
    int64_t last = qb_mono_ms();
    if (!s.first_byte) /* an empty snapshot */
        s.first_byte = last;
    t->ph.first_byte = s.first_byte - asked;
    t->ph.download = last - s.first_byte;
    free(t->stored.location);
    memset(&t->stored, 0, sizeof t->stored);
    rc = storage_write_finish(s.writer, &t->stored, err, errlen);
    t->ph.upload = t->stored.drain_ms;
    t->ph.complete = t->stored.complete_ms;
    if (!rc && !coded) { /* the archive is what was stored */
        t->raw.raw_size = t->stored.size;
        qb_strlcpy(t->raw.raw_sha256, t->stored.sha256, sizeof t->raw.raw_sha256);
        qb_strlcpy(t->raw.codec, "none", sizeof t->raw.codec);
    }
    return rc;
}

static void add_phases(cJSON *result, const struct phases *ph, int64_t total)
{
    cJSON *o = cJSON_AddObjectToObject(result, "phases");
    cJSON_AddNumberToObject(o, "snapshot_ms", (double)ph->snapshot);
    cJSON_AddNumberToObject(o, "first_byte_ms", (double)ph->first_byte);
    cJSON_AddNumberToObject(o, "download_ms", (double)ph->download);
    cJSON_AddNumberToObject(o, "upload_ms", (double)ph->upload);
    cJSON_AddNumberToObject(o, "complete_ms", (double)ph->complete);
    cJSON_AddNumberToObject(o, "verify_ms", (double)ph->verify);
    cJSON_AddNumberToObject(o, "total_ms", (double)total);
}

/* The manifest lets a catalogue be rebuilt from the destination alone. */
static enum qb_err write_manifest(struct backup *b, const struct target *t, char *err,
                                  size_t errlen)
{
    struct manifest mf = {
        /* Plan-less snapshots (safety snapshots) say so (manifest.h). */
        .plan = b->plan->id ? b->plan->name : NULL,
        .instance = b->plan->instance,
        .kind = t->qt.scope == QDRANT_SCOPE_FULL ? "full" : "collection",
        .collection = t->qt.collection,
        .qdrant_snapshot = t->snap.name,
        .qdrant_version = b->qdrant_version,
        .qdrant_checksum = t->snap.checksum,
        .key = t->key,
        .shard_id = -1,
        .size = (int64_t)t->stored.size,
        .points_count = t->points_count,
        .created_at = qb_now_ms() / 1000,
        .run_id = b->job->run->id,
        .codec = t->raw.codec,
        .raw_size = (int64_t)t->raw.raw_size,
        .key_id = t->raw.key_id[0] ? t->raw.key_id : NULL,
    };
    qb_strlcpy(mf.sha256, t->stored.sha256, sizeof mf.sha256);
    qb_strlcpy(mf.raw_sha256, t->raw.raw_sha256, sizeof mf.raw_sha256);
    return manifest_write(b->storage, &mf, NULL, NULL, err, errlen);
}

/* Removes what a failed target left: the object, its manifest and the
 * Qdrant snapshot. */
static void discard(struct backup *b, struct target *t)
{
    char err[QB_ERRBUF_SIZE];
    if (t->key && t->stored.location) {
        char *manifest = manifest_key(t->key);
        const char *keys[2] = {t->key, manifest};
        if (storage_delete_many(b->storage, keys, 2, err, sizeof err))
            log_warn("run.discard_failed", "run=%lld key=%s error=%s", (long long)b->job->run->id,
                     log_q(t->key), log_q(err));
        free(manifest);
    }
    enum qb_err drc = t->snap.name
                          ? qdrant_snapshot_delete(b->qdrant, &t->qt, t->snap.name, err, sizeof err)
                          : QB_OK;
    if (drc && drc != QB_ERR_NOT_FOUND) {
        log_warn("run.qdrant_cleanup_failed", "run=%lld snapshot=%s error=%s",
                 (long long)b->job->run->id, log_q(t->snap.name), log_q(err));
        qdrant_janitor_enqueue(b->job->store, b->plan->instance, NULL, &t->qt, t->snap.name, err);
    }
}

/* One create attempt.  One that timed out or lost its answer may still be
 * finished by Qdrant, after the look below or a retry's success: the
 * janitor keeps looking for its snapshot (qdrant_janitor.h). */
static enum qb_err create_snapshot(struct backup *b, struct target *t, char *err, size_t errlen)
{
    int64_t asked = qb_now_ms() / 1000;
    enum qb_err rc = qdrant_snapshot_create(b->qdrant, &t->qt, true, &t->snap, err, errlen);
    if (rc == QB_ERR_TRANSIENT)
        qdrant_janitor_sweep(b->job->store, b->plan->instance, &t->qt, asked,
                             qb_now_ms() / 1000 + QDRANT_SWEEP_GRACE_S);
    return rc;
}

/* After a failed create: snapshots of the target that Qdrant may have
 * made anyway (a timeout, a lost answer) since the request. */
static void discard_unnamed(struct backup *b, struct target *t)
{
    char err[QB_ERRBUF_SIZE];
    size_t deleted = 0;
    if (qdrant_snapshot_delete_since(b->qdrant, &t->qt, t->since, &deleted, err, sizeof err))
        log_warn("run.qdrant_cleanup_failed", "run=%lld error=%s", (long long)b->job->run->id,
                 log_q(err));
    if (deleted)
        log_warn("run.qdrant_orphan_removed", "run=%lld collection=%s snapshots=%zu",
                 (long long)b->job->run->id, log_q(t->label), deleted);
}

static enum qb_err catalogue(struct backup *b, struct target *t, bool verified, int64_t *id,
                             char *err, size_t errlen)
{
    char kind_c[] = "collection", kind_f[] = "full";
    struct store_snapshot row = {
        .plan_id = b->plan->id,
        .run_id = b->job->run->id,
        .instance_id = b->plan->instance_id,
        .instance_name = b->plan->instance,
        .destination_id = b->plan->destination_id,
        .kind = t->qt.scope == QDRANT_SCOPE_FULL ? kind_f : kind_c,
        .collection = t->collection,
        .shard_id = -1,
        .qdrant_name = t->snap.name,
        .location = t->stored.location,
        .storage_key = t->key,
        .size_bytes = (int64_t)t->stored.size,
        .sha256 = t->stored.sha256,
        .qdrant_checksum = t->snap.checksum,
        .qdrant_version = b->qdrant_version,
        .points_count = t->points_count,
        .created_at = qb_now_ms() / 1000,
        .verified_at = verified ? qb_now_ms() / 1000 : 0,
        .codec = t->raw.codec,
        .raw_size = (int64_t)t->raw.raw_size,
        .raw_sha256 = t->raw.raw_sha256,
        .key_id = t->raw.key_id,
    };
    char *labels = b->plan->id ? job_snapshot_hold(b->job, &row) : NULL;
    enum qb_err rc = store_snapshot_insert(b->job->store, &row, id, err, errlen);
    free(labels);
    return rc;
}

/* Runs the pipeline for one target; fills result.  Returns QB_OK when the
 * snapshot was catalogued. */
static enum qb_err backup_target(struct backup *b, struct target *t, cJSON *result, char *err,
                                 size_t errlen)
{
    struct job *j = b->job;
    enum qb_err rc = QB_OK;
    bool verified = false;
    const char *verified_how = NULL;
    int64_t snapshot_id = 0, started = qb_mono_ms(), mark;
    t->points_count = -1;
    if (t->qt.scope != QDRANT_SCOPE_FULL) {
        struct qdrant_collection_info info;
        WITH_RETRIES(j, rc, qdrant_collection_info(b->qdrant, t->label, &info, err, errlen));
        if (rc)
            return rc;
        t->points_count = info.points_count;
        qdrant_collection_info_free(&info);
    }
    rc = job_checkpoint(j, "snapshotting", err, errlen);
    if (rc)
        return rc;
    t->since = qb_now_ms() / 1000;
    set_inflight(b, t, false);
    mark = qb_mono_ms();
    WITH_RETRIES(j, rc, create_snapshot(b, t, err, errlen));
    t->ph.snapshot = qb_mono_ms() - mark;
    if (rc) {
        /* A timeout or a lost answer may hide a snapshot Qdrant made
         * anyway; a refusal (4xx) made none. */
        if (rc == QB_ERR_TRANSIENT)
            discard_unnamed(b, t);
        return rc;
    }
    t->key = object_key(b->plan, j->run, t);
    set_inflight(b, t, true);
    /* Known from here: what this target adds to the run's total. */
    char perr[QB_ERRBUF_SIZE];
    if (store_run_progress(j->store, j->run->id, NULL, j->bytes_done,
                           j->bytes_done + (int64_t)t->snap.size, perr, sizeof perr))
        log_warn("run.progress_failed", "run=%lld error=%s", (long long)j->run->id, log_q(perr));
    if (storage_key_check(t->key, err, errlen)) {
        rc = QB_ERR_INVALID;
        goto fail;
    }
    rc = job_checkpoint(j, "transferring", err, errlen);
    if (!rc)
        WITH_RETRIES(j, rc, transfer(b, t, err, errlen));
    if (rc)
        goto fail;
    /* Qdrant's size and checksum are the archive's, before any codec. */
    if (t->raw.raw_size != t->snap.size) {
        rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                      "size mismatch: Qdrant announced %llu bytes, %llu arrived",
                      (unsigned long long)t->snap.size, (unsigned long long)t->raw.raw_size);
        goto fail;
    }
    if (t->snap.checksum && strcmp(t->snap.checksum, t->raw.raw_sha256) != 0) {
        rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                      "checksum mismatch: Qdrant's checksum is %s but the received bytes hash "
                      "to %s; nothing was kept",
                      t->snap.checksum, t->raw.raw_sha256);
        goto fail;
    }
    WITH_RETRIES(j, rc, write_manifest(b, t, err, errlen));
    if (rc)
        goto fail;
    if (b->plan->verify) {
        mark = qb_mono_ms();
        rc = job_checkpoint(j, "verifying", err, errlen);
        enum storage_verify_mode mode =
            b->plan->verify_mode && strcmp(b->plan->verify_mode, "quick") == 0
                ? STORAGE_VERIFY_QUICK
                : STORAGE_VERIFY_FULL;
        /* Compares size and checksum with what was written, too. */
        if (!rc)
            WITH_RETRIES(j, rc,
                         storage_verify_written(b->storage, t->key, &t->stored, mode, NULL,
                                                &verified_how, err, errlen));
        if (rc)
            goto fail;
        verified = true;
        t->ph.verify = qb_mono_ms() - mark;
    }
    rc = catalogue(b, t, verified, &snapshot_id, err, errlen);
    if (rc)
        goto fail;
    /* Catalogued: from here on, failures are warnings, never data loss. */
    char cerr[QB_ERRBUF_SIZE];
    if (job_checkpoint(j, "cleaning", cerr, sizeof cerr) == QB_OK) {
        enum qb_err drc;
        WITH_RETRIES(j, drc, qdrant_snapshot_delete(b->qdrant, &t->qt, t->snap.name, err, errlen));
        if (drc && drc != QB_ERR_NOT_FOUND) {
            cJSON_AddStringToObject(result, "warning", err);
            qdrant_janitor_enqueue(j->store, b->plan->instance, NULL, &t->qt, t->snap.name, err);
        }
    }
    /* Second copies: a failed one is shown, and tried again next run. */
    if (b->plan->id)
        copies_after_backup(j, b->plan, b->storage, snapshot_id, result);
    char rerr[QB_ERRBUF_SIZE];
    int dropped = 0;
    /* Plan-less snapshots (safety snapshots before a restore) have no
     * policy: they stay until someone deletes them. */
    if (b->plan->id &&
        (retention_apply_target(j->store, b->storage, b->plan, t->collection, false, NULL, &dropped,
                                rerr, sizeof rerr) ||
         copies_apply_retention(j->store, b->plan, t->collection, NULL, rerr, sizeof rerr)))
        cJSON_AddStringToObject(result, "retention_error", rerr);
    cJSON_AddNumberToObject(result, "retention_deleted", dropped);
    cJSON_AddNumberToObject(result, "snapshot_id", (double)snapshot_id);
    cJSON_AddNumberToObject(result, "size", (double)t->stored.size);
    cJSON_AddStringToObject(result, "sha256", t->stored.sha256);
    cJSON_AddStringToObject(result, "codec", t->raw.codec);
    cJSON_AddNumberToObject(result, "raw_size", (double)t->raw.raw_size);
    cJSON_AddNumberToObject(
        result, "ratio", t->raw.raw_size ? (double)t->stored.size / (double)t->raw.raw_size : 1.0);
    if (t->raw.key_id[0])
        cJSON_AddStringToObject(result, "key_id", t->raw.key_id);
    cJSON_AddStringToObject(result, "location", t->stored.location);
    cJSON_AddBoolToObject(result, "verified", verified);
    if (verified_how)
        cJSON_AddStringToObject(result, "verify_mode", verified_how);
    add_phases(result, &t->ph, qb_mono_ms() - started);
    job_add_rate(b->job, result, (int64_t)t->stored.size, t->ph.download);
    return QB_OK;
fail:
    discard(b, t);
    return rc;
}

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

static void target_clear(struct target *t)
{
    qdrant_snapshot_clear(&t->snap);
    free(t->key);
    free(t->stored.location);
    memset(t, 0, sizeof *t);
}

/* A cluster collection: one backup set, then retention as for a snapshot. */
static enum qb_err backup_set_target(struct backup *b, const char *collection, cJSON *result,
                                     int64_t *id, char *err, size_t errlen)
{
    enum qb_err rc = backup_set_collection(b->job, b->plan, b->inst, b->topo, collection,
                                           b->qdrant_version, result, id, err, errlen);
    if (rc)
        return rc;
    char rerr[QB_ERRBUF_SIZE];
    int dropped = 0;
    if (b->plan->id && retention_apply_target(b->job->store, b->storage, b->plan, collection, false,
                                              NULL, &dropped, rerr, sizeof rerr))
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
        else
            rc = backup_target(b, &t, result, err, sizeof err);
        cJSON_AddStringToObject(result, "state", rc ? "failed" : "succeeded");
        if (rc) {
            cJSON_AddStringToObject(result, "error", err);
            failed++;
            snprintf(error, errorlen, "%s: %s", t.label, err);
        } else {
            ok++;
        }
        cJSON_AddItemToArray(results, result);
        target_clear(&t);
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
        WITH_RETRIES(j, rc, qdrant_server_version(b.qdrant, &b.qdrant_version, err, sizeof err));
    if (!rc)
        rc = store_instance_get(j->store, b.plan->instance, &b.inst, err, sizeof err);
    if (!rc)
        WITH_RETRIES(j, rc, resolve_topology(&b, err, sizeof err));
    if (rc) {
        snprintf(error, errorlen, "%s", err);
        goto out;
    }
    state = run_targets(&b, results, error, errorlen);
out:
    seal_keyring_destroy(b.ring);
    topology_free(b.topo);
    store_instance_free(b.inst);
    free(b.qdrant_version);
    storage_close(b.storage);
    qdrant_client_destroy(b.qdrant);
    store_plan_free(b.plan);
    return state;
}

enum qb_err backup_safety_snapshot(struct job *j, struct qdrant_client *qc, struct storage *st,
                                   const char *instance, int64_t instance_id,
                                   int64_t destination_id, const char *collection,
                                   int64_t *snapshot_id, char *err, size_t errlen)
{
    char prefix[] = "_safety", retention[] = "{}";
    char *inst = xstrdup(instance), *coll = xstrdup(collection);
    /* A plan-shaped description of "this one snapshot": keys land under
     * _safety/<instance>/<collection>/, always verified, no retention. */
    struct store_plan plan = {.name = inst,
                              .instance = inst,
                              .instance_id = instance_id,
                              .destination_id = destination_id,
                              .key_prefix = prefix,
                              .retention = retention,
                              .verify = true};
    struct backup b = {.job = j, .plan = &plan, .qdrant = qc, .storage = st};
    struct target t = {.qt = {.scope = QDRANT_SCOPE_COLLECTION, .collection = coll},
                       .collection = coll,
                       .label = coll};
    cJSON *result = cJSON_CreateObject();
    /* Encrypted like everything else in an encrypted destination (not
     * compressed: plan-less, it has no compression setting). */
    struct store_destination *dest = NULL;
    enum qb_err rc =
        store_destination_get_by_id(j->store, destination_id, false, &dest, err, errlen);
    if (!rc) {
        plan.destination_encryption = dest->encryption;
        rc = keyref_plan_codec(&plan, &b.spec, &b.ring, err, errlen);
    }
    if (!rc)
        rc = qdrant_server_version(qc, &b.qdrant_version, err, errlen);
    if (!rc)
        rc = backup_target(&b, &t, result, err, errlen);
    if (!rc)
        *snapshot_id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(result, "snapshot_id"));
    cJSON_Delete(result);
    target_clear(&t);
    seal_keyring_destroy(b.ring);
    store_destination_free(dest);
    free(b.qdrant_version);
    free(inst);
    free(coll);
    return rc;
}
