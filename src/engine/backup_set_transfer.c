/* SPDX-License-Identifier: Apache-2.0
 *
 * backup_set_transfer.c -- moving a set's shards: one worker thread per
 * peer (each with its own Qdrant client and storage handle) takes its
 * shards one at a time, so no peer serves two snapshots at once; a shard
 * whose peer fails after the usual retries goes back to the queue for
 * another Active holder, and a shard with no holder left fails the set.
 * Each shard is taken by shard snapshot (routes 12-14, checked against
 * Qdrant's size and checksum) or streamed (route 15, checked as a whole
 * tar), stored under its key and, with verify, read back.  Before each
 * step the run's inflight record says what exists outside the catalogue.
 */
#include "engine/backup_set_internal.h"
#include "engine/create_gate.h"
#include "remote/qdrant_cluster.h"
#include "store/store_runs.h"
#include "util/log.h"
#include "util/tar_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Attempts on one peer before a shard moves to another holder. */
#define SET_PEER_ATTEMPTS 2

/* ---------------------------------------------------------------- inflight */

/* Writes the inflight record; call with lock held. */
static void inflight_save(struct set_run *sr)
{
    char *text = cJSON_PrintUnformatted(sr->inflight);
    char err[QB_ERRBUF_SIZE];
    if (!text || store_run_set_inflight(sr->job->store, sr->job->run->id, text, err, sizeof err))
        log_error("run.inflight_failed", "run=%lld", (long long)sr->job->run->id);
    free(text);
}

void set_inflight_init(struct set_run *sr)
{
    sr->inflight = cJSON_CreateObject();
    cJSON_AddStringToObject(sr->inflight, "kind", "set");
    cJSON_AddStringToObject(sr->inflight, "instance", sr->inst->name);
    cJSON_AddStringToObject(sr->inflight, "collection", sr->collection);
    cJSON_AddNumberToObject(sr->inflight, "destination_id", (double)sr->plan->destination_id);
    cJSON_AddStringToObject(sr->inflight, "set_key", sr->set_key);
    sr->keys = cJSON_AddArrayToObject(sr->inflight, "storage_keys");
    sr->snaps = cJSON_AddArrayToObject(sr->inflight, "shard_snapshots");
    pthread_mutex_lock(&sr->lock);
    inflight_save(sr);
    pthread_mutex_unlock(&sr->lock);
}

/* Records that a shard snapshot is being created on peer_url (intent
 * first: a kill before Qdrant answers still leaves a trace).  Returns the
 * entry to complete with the name. */
static cJSON *inflight_snapshot_intent(struct set_run *sr, const char *peer_url, unsigned shard)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "peer_url", peer_url);
    cJSON_AddNumberToObject(e, "shard_id", shard);
    cJSON_AddNumberToObject(e, "since", (double)(qb_now_ms() / 1000));
    pthread_mutex_lock(&sr->lock);
    cJSON_AddItemToArray(sr->snaps, e);
    inflight_save(sr);
    pthread_mutex_unlock(&sr->lock);
    return e;
}

static void inflight_snapshot_named(struct set_run *sr, cJSON *e, const char *name)
{
    pthread_mutex_lock(&sr->lock);
    cJSON_AddStringToObject(e, "name", name);
    inflight_save(sr);
    pthread_mutex_unlock(&sr->lock);
}

static void inflight_snapshot_gone(struct set_run *sr, cJSON *e)
{
    pthread_mutex_lock(&sr->lock);
    cJSON_DetachItemViaPointer(sr->snaps, e);
    cJSON_Delete(e);
    inflight_save(sr);
    pthread_mutex_unlock(&sr->lock);
}

void set_inflight_key(struct set_run *sr, const char *key)
{
    pthread_mutex_lock(&sr->lock);
    cJSON_AddItemToArray(sr->keys, cJSON_CreateString(key));
    inflight_save(sr);
    pthread_mutex_unlock(&sr->lock);
}

/* ---------------------------------------------------------------- workers */

/* Progress and cancellation, for a worker. */
static enum qb_err set_checkpoint(struct set_run *sr, int64_t add, char *err, size_t errlen)
{
    pthread_mutex_lock(&sr->lock);
    sr->job->bytes_done += add;
    enum qb_err rc = sr->stop ? qb_failf(QB_ERR_CANCELLED, err, errlen, "the set was abandoned")
                              : job_checkpoint(sr->job, NULL, err, errlen);
    if (rc)
        sr->stop = true;
    pthread_mutex_unlock(&sr->lock);
    return rc;
}

struct sink {
    struct set_run *sr;
    struct storage_writer *writer;
    struct codec_encoder *enc; /* NULL: stored as is */
    struct tar_check *tar;     /* stream mode */
    int64_t counted;
};

/* The encoder's output: the stored bytes. */
static enum qb_err store_write(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    return storage_write(ud, data, len, err, errlen);
}

/* While a rate limit holds a worker back: cancel, shutdown, and the set
 * abandoned by another worker. */
static enum qb_err sink_check(void *ud, char *err, size_t errlen)
{
    return set_checkpoint(ud, 0, err, errlen);
}

static enum qb_err sink_write(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct sink *s = ud;
    /* The run's limits are shared by all its workers (and other runs). */
    enum qb_err rc = job_throttle(s->sr->job, len, sink_check, s->sr, err, errlen);
    if (!rc && s->tar)
        rc = tar_check_feed(s->tar, data, len, err, errlen);
    if (!rc)
        rc = s->enc ? codec_encoder_write(s->enc, data, len, err, errlen)
                    : storage_write(s->writer, data, len, err, errlen);
    if (rc)
        return rc;
    s->counted += (int64_t)len;
    return set_checkpoint(s->sr, (int64_t)len, err, errlen);
}

/* One attempt at one shard from one peer: take it, store it, check it. */
static enum qb_err take_shard(struct set_run *sr, struct shard *s, struct qdrant_client *qc,
                              struct storage *st, const struct topo_peer *peer, char *err,
                              size_t errlen)
{
    struct qdrant_target t = {
        .scope = QDRANT_SCOPE_SHARD, .collection = sr->collection, .shard_id = s->id};
    struct qdrant_snapshot snap = {0};
    cJSON *intent = NULL;
    struct sink k = {.sr = sr};
    enum qb_err rc = QB_OK;
    bool gated = false, gone = false;
    if (!sr->stream) {
        /* Two runs snapshotting this shard in one second would share a
         * name (create_gate.h): held until the snapshot is deleted. */
        rc = create_gate_enter(peer->rest_url, sr->collection, sink_check, sr, err, errlen);
        if (rc)
            goto out;
        gated = true;
        intent = inflight_snapshot_intent(sr, peer->rest_url, s->id);
        rc = qdrant_snapshot_create(qc, &t, true, &snap, err, errlen);
        if (rc)
            goto out;
        inflight_snapshot_named(sr, intent, snap.name);
    }
    bool coded = sr->spec.compression != CODEC_COMPRESSION_NONE || sr->spec.keyring;
    rc = storage_write_begin(st, s->object_key, sr->stream ? 0 : snap.size, &k.writer, err, errlen);
    if (rc)
        goto out;
    if (coded &&
        (rc = codec_encoder_create(&sr->spec, store_write, k.writer, &k.enc, err, errlen))) {
        storage_write_abort(k.writer);
        goto out;
    }
    uint64_t got = 0;
    if (sr->stream) {
        k.tar = tar_check_new();
        rc = qdrant_shard_stream(qc, sr->collection, s->id, sink_write, &k, &got, err, errlen);
        /* Qdrant ends the body early, as if complete, when producing the
         * archive fails (and only logs it): like a dropped connection,
         * that attempt failed, and a new stream may well be whole. */
        if (!rc && tar_check_finish(k.tar, err, errlen))
            rc = QB_ERR_TRANSIENT;
    } else {
        rc = qdrant_snapshot_download(qc, &t, snap.name, sink_write, &k, &got, err, errlen);
    }
    memset(&s->raw, 0, sizeof s->raw);
    if (!rc && k.enc) {
        rc = codec_encoder_finish(k.enc, &s->raw, err, errlen);
        k.enc = NULL;
    }
    if (rc) {
        codec_encoder_abort(k.enc);
        storage_write_abort(k.writer);
        goto out;
    }
    free(s->stored.location);
    memset(&s->stored, 0, sizeof s->stored);
    rc = storage_write_finish(k.writer, &s->stored, err, errlen);
    if (rc)
        goto out;
    if (!coded) { /* the archive is what was stored */
        s->raw.raw_size = s->stored.size;
        qb_strlcpy(s->raw.raw_sha256, s->stored.sha256, sizeof s->raw.raw_sha256);
        qb_strlcpy(s->raw.codec, "none", sizeof s->raw.codec);
    }
    /* Qdrant's size and checksum are the archive's, before any codec. */
    if (!sr->stream && s->raw.raw_size != snap.size)
        rc = qb_failf(QB_ERR_TRANSIENT, err, errlen,
                      "size mismatch: Qdrant announced %llu bytes, %llu arrived",
                      (unsigned long long)snap.size, (unsigned long long)s->raw.raw_size);
    else if (snap.checksum && strcmp(snap.checksum, s->raw.raw_sha256) != 0)
        rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                      "checksum mismatch: Qdrant's checksum is %s but the received bytes hash "
                      "to %s",
                      snap.checksum, s->raw.raw_sha256);
    if (!rc && sr->plan->verify) {
        struct storage_object_info info;
        rc = storage_verify(st, s->object_key, &info, err, errlen);
        if (!rc && strcmp(info.sha256, s->stored.sha256) != 0)
            rc = qb_failf(QB_ERR_IO, err, errlen, "read-back checksum %s differs from %s",
                          info.sha256, s->stored.sha256);
    }
    if (!rc) {
        free(s->qdrant_checksum);
        s->qdrant_checksum = snap.checksum ? xstrdup(snap.checksum) : NULL;
        free(s->qdrant_snapshot);
        s->qdrant_snapshot = snap.name ? xstrdup(snap.name) : NULL;
    }
out:
    if (rc && k.counted)
        (void)set_checkpoint(sr, -k.counted, NULL, 0); /* a retry starts over */
    tar_check_free(k.tar);
    /* The object is in storage (or failed): Qdrant's copy is not needed,
     * and leaving it would fill the peer's disk. */
    if (snap.name) {
        char derr[QB_ERRBUF_SIZE];
        gone = qdrant_snapshot_delete(qc, &t, snap.name, derr, sizeof derr) == QB_OK;
        if (gone)
            inflight_snapshot_gone(sr, intent);
        else
            log_warn("run.qdrant_cleanup_failed", "run=%lld peer=%s snapshot=%s error=%s",
                     (long long)sr->job->run->id, log_q(peer->rest_url), log_q(snap.name),
                     log_q(derr));
    }
    /* A creation that failed (or whose answer was lost) stays in the
     * inflight record: the end of the set looks for it on the peer, and
     * the gate stays closed a while (create_gate.h). */
    if (gated)
        create_gate_leave(peer->rest_url, sr->collection, gone);
    qdrant_snapshot_clear(&snap);
    return rc;
}

/* The next shard this peer may take, or NULL; call with lock held. */
static struct shard *next_shard(struct set_run *sr, uint64_t peer)
{
    for (size_t i = 0; i < sr->nshards; i++)
        if (sr->shards[i].status == SHARD_PENDING && sr->shards[i].peer == peer)
            return &sr->shards[i];
    return NULL;
}

static bool work_left(struct set_run *sr)
{
    for (size_t i = 0; i < sr->nshards; i++)
        if (sr->shards[i].status == SHARD_PENDING || sr->shards[i].status == SHARD_RUNNING)
            return true;
    return false;
}

/* After s failed on its peer: another Active holder whose peer is not
 * down, or fail it; call with lock held. */
static void reassign(struct set_run *sr, struct shard *s, const char *why)
{
    for (size_t h = 0; h < s->nholders; h++)
        if (s->holders[h].peer == s->peer)
            s->tried[h] = 1;
    for (size_t h = 0; h < s->nholders; h++) {
        if (s->tried[h] || !holder_usable(&s->holders[h]))
            continue;
        bool down = false;
        for (size_t p = 0; p < sr->nslots; p++)
            if (sr->slots[p].peer->id == s->holders[h].peer && sr->slots[p].down)
                down = true;
        if (down)
            continue;
        log_warn("run.shard_moved", "run=%lld collection=%s shard=%u from_peer=%llu to_peer=%llu",
                 (long long)sr->job->run->id, log_q(sr->collection), s->id,
                 (unsigned long long)s->peer, (unsigned long long)s->holders[h].peer);
        s->peer = s->holders[h].peer;
        s->status = SHARD_PENDING;
        return;
    }
    s->status = SHARD_FAILED;
    free(s->error);
    s->error = xasprintf("collection %s: shard %u could not be taken from any Active replica; "
                         "last error (peer %llu): %s",
                         sr->collection, s->id, (unsigned long long)s->peer, why);
    if (!sr->first_error[0])
        snprintf(sr->first_error, sizeof sr->first_error, "%s", s->error);
    sr->stop = true;
}

static void *peer_worker(void *arg)
{
    struct peer_slot *slot = arg;
    struct set_run *sr = slot->sr;
    const struct topo_peer *peer = slot->peer;
    struct qdrant_client *qc = NULL;
    struct storage *st = NULL;
    char err[QB_ERRBUF_SIZE];
    enum qb_err orc =
        topology_client(sr->inst, peer->rest_url,
                        engine_config(sr->job->engine)->snapshot_timeout_ms, &qc, err, sizeof err);
    if (!orc)
        orc = resolve_storage(sr->job->store, sr->plan->destination_id, &st, err, sizeof err);
    if (!orc)
        orc = job_lock_apply(sr->job, st, err, sizeof err);
    pthread_mutex_lock(&sr->lock);
    for (;;) {
        struct shard *s = sr->stop || slot->down ? NULL : next_shard(sr, peer->id);
        if (!s) {
            if (sr->stop || slot->down || !work_left(sr))
                break;
            pthread_cond_wait(&sr->changed, &sr->lock);
            continue;
        }
        s->status = SHARD_RUNNING;
        pthread_mutex_unlock(&sr->lock);
        enum qb_err rc = orc;
        for (unsigned attempt = 1; !orc; attempt++) {
            rc = take_shard(sr, s, qc, st, peer, err, sizeof err);
            if (rc != QB_ERR_TRANSIENT || attempt >= SET_PEER_ATTEMPTS)
                break;
            log_warn("run.retry", "run=%lld collection=%s shard=%u peer=%llu attempt=%u error=%s",
                     (long long)sr->job->run->id, log_q(sr->collection), s->id,
                     (unsigned long long)peer->id, attempt, log_q(err));
            if (engine_sleep(sr->job->engine, engine_config(sr->job->engine)->retry_base_ms)) {
                rc = QB_ERR_CANCELLED;
                break;
            }
        }
        pthread_mutex_lock(&sr->lock);
        if (!rc) {
            s->status = SHARD_DONE;
        } else if (rc == QB_ERR_CANCELLED || sr->stop) {
            s->status = SHARD_FAILED;
            if (!sr->first_error[0])
                snprintf(sr->first_error, sizeof sr->first_error, "%s", err);
            sr->stop = true;
        } else if (rc == QB_ERR_TRANSIENT) {
            /* The peer is failing: its shards go to other replicas. */
            slot->down = true;
            reassign(sr, s, err);
            for (size_t i = 0; i < sr->nshards; i++)
                if (sr->shards[i].status == SHARD_PENDING && sr->shards[i].peer == peer->id)
                    reassign(sr, &sr->shards[i], err);
        } else {
            s->status = SHARD_FAILED;
            free(s->error);
            s->error = xasprintf("collection %s: shard %u from peer %llu: %s", sr->collection,
                                 s->id, (unsigned long long)peer->id, err);
            if (!sr->first_error[0])
                snprintf(sr->first_error, sizeof sr->first_error, "%s", s->error);
            sr->stop = true;
        }
        pthread_cond_broadcast(&sr->changed);
    }
    pthread_cond_broadcast(&sr->changed);
    pthread_mutex_unlock(&sr->lock);
    storage_close(st);
    qdrant_client_destroy(qc);
    return NULL;
}

/* Runs one worker per peer that has shards to give; returns when all are
 * done or the set failed. */
enum qb_err set_transfer_all(struct set_run *sr, char *err, size_t errlen)
{
    sr->nslots = sr->topo->npeers;
    sr->slots = xcalloc(sr->nslots, sizeof *sr->slots);
    for (size_t p = 0; p < sr->nslots; p++) {
        sr->slots[p].peer = &sr->topo->peers[p];
        sr->slots[p].sr = sr;
    }
    for (size_t p = 0; p < sr->nslots; p++) {
        struct peer_slot *slot = &sr->slots[p];
        bool holds = false;
        for (size_t i = 0; i < sr->nshards && !holds; i++)
            for (size_t h = 0; h < sr->shards[i].nholders; h++)
                if (sr->shards[i].holders[h].peer == slot->peer->id &&
                    holder_usable(&sr->shards[i].holders[h]))
                    holds = true;
        if (holds && pthread_create(&slot->thread, NULL, peer_worker, slot) == 0)
            slot->started = true;
    }
    for (size_t p = 0; p < sr->nslots; p++)
        if (sr->slots[p].started)
            pthread_join(sr->slots[p].thread, NULL);
    for (size_t i = 0; i < sr->nshards; i++)
        if (sr->shards[i].status != SHARD_DONE)
            return qb_failf(
                sr->job->cancelled || sr->job->stopping ? QB_ERR_CANCELLED : QB_ERR_REMOTE, err,
                errlen, "%s",
                sr->first_error[0] ? sr->first_error : "a shard was not taken (no worker could)");
    return QB_OK;
}
