/* SPDX-License-Identifier: Apache-2.0
 *
 * backup_target.c -- one target of a backup run (a collection, or the full
 * instance) through the pipeline: create the Qdrant snapshot, stream it
 * through the codec into the destination while hashing, check it against
 * Qdrant's checksum, write the manifest, verify, catalogue it, delete the
 * snapshot from Qdrant; and the plan-less safety snapshot a restore takes
 * first, which is the same pipeline.  The run around it (which targets,
 * retention after) is backup_job.c; the DESIGN note there covers both.
 */
#include "engine/backup_internal.h"
#include "engine/backup_set.h"
#include "engine/collsel.h"
#include "engine/keyref.h"
#include "engine/copies.h"
#include "engine/create_gate.h"
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

/* ---------------------------------------------------------------- steps */

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
 * Qdrant snapshot.  Returns whether that snapshot is gone (or none was
 * named): a failed delete leaves it to the janitor. */
static bool discard(struct backup *b, struct target *t)
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
        return false;
    }
    return true;
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

static enum qb_err gate_check(void *ud, char *err, size_t errlen)
{
    return job_checkpoint(ud, NULL, err, errlen);
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
    enum qb_err rc = store_snapshot_insert_for_run(
        b->job->store, &row, engine_config(b->job->engine)->node, id, err, errlen);
    free(labels);
    return rc;
}

/* Runs the pipeline for one target; fills result.  Returns QB_OK when the
 * snapshot was catalogued. */
enum qb_err backup_target(struct backup *b, struct target *t, cJSON *result, char *err,
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
    /* Another run creating this collection's snapshot in the same second
     * would get the same name (create_gate.h): the gate is held until this
     * run's snapshot is deleted from Qdrant again. */
    const char *node = qdrant_client_url(b->qdrant);
    mark = qb_mono_ms();
    rc = create_gate_enter(node, t->collection, gate_check, j, err, errlen);
    if (rc)
        return rc;
    t->since = qb_now_ms() / 1000;
    set_inflight(b, t, false);
    WITH_RETRIES(j, rc, create_snapshot(b, t, err, errlen));
    /* A timeout or a lost answer may hide a snapshot Qdrant made anyway;
     * a refusal (4xx) made none. */
    if (rc == QB_ERR_TRANSIENT)
        discard_unnamed(b, t);
    t->ph.snapshot = qb_mono_ms() - mark;
    if (rc) {
        /* A refusal made no snapshot; a lost answer may have. */
        create_gate_leave(node, t->collection, rc != QB_ERR_TRANSIENT);
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
    bool gone = false;
    if (job_checkpoint(j, "cleaning", cerr, sizeof cerr) == QB_OK) {
        enum qb_err drc;
        WITH_RETRIES(j, drc, qdrant_snapshot_delete(b->qdrant, &t->qt, t->snap.name, err, errlen));
        gone = !drc || drc == QB_ERR_NOT_FOUND;
        if (!gone) {
            cJSON_AddStringToObject(result, "warning", err);
            qdrant_janitor_enqueue(j->store, b->plan->instance, NULL, &t->qt, t->snap.name, err);
        }
    }
    create_gate_leave(node, t->collection, gone);
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
    create_gate_leave(node, t->collection, discard(b, t));
    return rc;
}

void backup_target_clear(struct target *t)
{
    qdrant_snapshot_clear(&t->snap);
    free(t->key);
    free(t->stored.location);
    memset(t, 0, sizeof *t);
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
    backup_target_clear(&t);
    seal_keyring_destroy(b.ring);
    store_destination_free(dest);
    free(b.qdrant_version);
    free(inst);
    free(coll);
    return rc;
}
