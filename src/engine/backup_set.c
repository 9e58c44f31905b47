/* SPDX-License-Identifier: Apache-2.0
 *
 * backup_set.c -- one cluster collection as a backup set (see
 * backup_set.h and docs/internals/cluster.md).
 *
 * DESIGN
 * 1. Shard map: every peer's GET /collections/{c}/cluster.  A replica's
 *    state is the one its own peer reports (local_shards); a transfer or
 *    resharding in any view, a shard no peer holds Active, or a peer that
 *    does not answer fails the collection before anything is created.
 * 2. Assignment: each shard goes to an Active holder, the least loaded
 *    first, so the work spreads across peers.
 * 3. Transfer: one worker thread per peer (each with its own Qdrant
 *    client and storage handle) takes its shards one at a time, so no peer
 *    serves two snapshots at once.  A shard whose peer fails (after the
 *    usual retries) goes back to the queue for another Active holder; a
 *    shard with no holder left fails the set.
 * 4. Only when every shard object is stored, size- and checksum-checked
 *    and (with verify) read back, the manifest is written and the set is
 *    catalogued as one row.  Any failure removes every object of the set.
 *
 * Crash safety: the run's inflight record lists, before each step, the
 * shard snapshot being created (peer, shard, start time) and every storage
 * key, so backup_set_recover() can remove all of it after a kill -9.
 *
 * THREADS: `lock` guards the shard table, the inflight record and every
 * use of the job (progress, cancel checks) by the workers.
 */
#include "engine/backup_set.h"
#include "remote/qdrant_cluster.h"
#include "remote/storage_janitor.h"
#include "store/store_runs.h"
#include "util/json_u64.h"
#include "util/log.h"
#include "util/tar_check.h"
#include "version.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Attempts on one peer before a shard moves to another holder. */
#define SET_PEER_ATTEMPTS 2

enum shard_status { SHARD_PENDING, SHARD_RUNNING, SHARD_DONE, SHARD_FAILED };

struct holder {
    uint64_t peer;
    char state[32];
    int64_t points_count;
};

struct shard {
    unsigned id;
    char *key_json; /* shard key as JSON text, or NULL */
    struct holder *holders;
    size_t nholders;
    enum shard_status status;
    uint64_t peer; /* assigned (PENDING, RUNNING) or taken from (DONE) */
    char *tried;   /* per holder index: this peer failed for this shard */
    /* Results. */
    char *object_key;
    struct storage_write_result stored;
    char *qdrant_checksum;
    char *qdrant_snapshot;
    int64_t points_count;
    char *error;
};

struct peer_slot {
    const struct topo_peer *peer;
    bool down; /* failed a shard: take nothing more from it */
    pthread_t thread;
    bool started;
    struct set_run *sr;
};

struct set_run {
    struct job *job;
    const struct store_plan *plan;
    const struct store_instance *inst;
    const struct topology *topo;
    const char *collection;
    bool stream;
    char *set_key;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct shard *shards;
    size_t nshards;
    struct peer_slot *slots;
    size_t nslots;
    cJSON *inflight; /* the run's inflight record */
    cJSON *snaps;    /* inflight "shard_snapshots" (borrowed from inflight) */
    cJSON *keys;     /* inflight "storage_keys" */
    bool stop;       /* cancelled, shutting down, or a shard failed for good */
    char first_error[QB_ERRBUF_SIZE];
};

static void recover_snapshot(const struct store_instance *inst, const char *collection,
                             const cJSON *e, int64_t run_id);

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

static void inflight_init(struct set_run *sr)
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

static void inflight_key(struct set_run *sr, const char *key)
{
    pthread_mutex_lock(&sr->lock);
    cJSON_AddItemToArray(sr->keys, cJSON_CreateString(key));
    inflight_save(sr);
    pthread_mutex_unlock(&sr->lock);
}

/* ---------------------------------------------------------------- shard map */

static void shards_free(struct set_run *sr)
{
    for (size_t i = 0; i < sr->nshards; i++) {
        struct shard *s = &sr->shards[i];
        free(s->key_json);
        free(s->holders);
        free(s->tried);
        free(s->object_key);
        free(s->stored.location);
        free(s->qdrant_checksum);
        free(s->qdrant_snapshot);
        free(s->error);
    }
    free(sr->shards);
}

static struct shard *shard_get(struct set_run *sr, unsigned id, bool create)
{
    for (size_t i = 0; i < sr->nshards; i++)
        if (sr->shards[i].id == id)
            return &sr->shards[i];
    if (!create)
        return NULL;
    sr->shards = xrealloc(sr->shards, (sr->nshards + 1) * sizeof *sr->shards);
    struct shard *s = &sr->shards[sr->nshards++];
    memset(s, 0, sizeof *s);
    s->id = id;
    s->points_count = -1;
    return s;
}

static struct holder *holder_get(struct shard *s, uint64_t peer)
{
    for (size_t i = 0; i < s->nholders; i++)
        if (s->holders[i].peer == peer)
            return &s->holders[i];
    s->holders = xrealloc(s->holders, (s->nholders + 1) * sizeof *s->holders);
    struct holder *h = &s->holders[s->nholders++];
    memset(h, 0, sizeof *h);
    h->peer = peer;
    h->points_count = -1;
    return h;
}

static int shard_cmp(const void *a, const void *b)
{
    const struct shard *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Describes every holder of s: "peer 1 (Dead), peer 2 (Partial)". */
static void describe_holders(const struct shard *s, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < s->nholders && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%speer %llu (%s)", i ? ", " : "",
                                 (unsigned long long)s->holders[i].peer, s->holders[i].state);
    if (!s->nholders)
        snprintf(buf, len, "no peer holds it");
}

/* Reads every peer's view of the collection into sr->shards. */
static enum qb_err build_shard_map(struct set_run *sr, char *err, size_t errlen)
{
    unsigned shard_count = 0;
    for (size_t p = 0; p < sr->topo->npeers; p++) {
        const struct topo_peer *peer = &sr->topo->peers[p];
        struct qdrant_client *qc = NULL;
        struct qdrant_shard_view v = {0};
        char sub[QB_ERRBUF_SIZE];
        enum qb_err rc = topology_client(sr->inst, peer->rest_url, 0, &qc, sub, sizeof sub);
        if (!rc)
            rc = qdrant_shard_view_get(qc, sr->collection, &v, sub, sizeof sub);
        qdrant_client_destroy(qc);
        if (rc) {
            qdrant_shard_view_clear(&v);
            return qb_failf(rc, err, errlen, "reading the shard map of %s from peer %llu (%s): %s",
                            sr->collection, (unsigned long long)peer->id, peer->rest_url, sub);
        }
        if (v.ntransfers || v.resharding) {
            rc = qb_failf(QB_ERR_CONFLICT, err, errlen,
                          "collection %s is being rebalanced (%s); a backup taken now could "
                          "miss points, so none was taken: retry when the transfer is over",
                          sr->collection, v.transfers ? v.transfers : "resharding in progress");
            qdrant_shard_view_clear(&v);
            return rc;
        }
        if (v.shard_count > shard_count)
            shard_count = v.shard_count;
        for (size_t i = 0; i < v.nreplicas; i++) {
            const struct qdrant_replica *r = &v.replicas[i];
            struct shard *s = shard_get(sr, r->shard_id, true);
            if (!s->key_json && r->shard_key)
                s->key_json = xstrdup(r->shard_key);
            struct holder *h = holder_get(s, r->peer_id);
            /* A peer is the authority on its own replicas. */
            if (r->local || !h->state[0])
                snprintf(h->state, sizeof h->state, "%s", r->state);
            if (r->local)
                h->points_count = r->points_count;
        }
        qdrant_shard_view_clear(&v);
    }
    qsort(sr->shards, sr->nshards, sizeof *sr->shards, shard_cmp);
    if (sr->nshards == 0 || sr->nshards < shard_count)
        return qb_failf(QB_ERR_REMOTE, err, errlen,
                        "collection %s has %u shards but the peers report only %zu of them",
                        sr->collection, shard_count, sr->nshards);
    return QB_OK;
}

/* Picks an Active holder for every shard, the least loaded peer first. */
static enum qb_err assign(struct set_run *sr, char *err, size_t errlen)
{
    size_t *load = xcalloc(sr->topo->npeers, sizeof *load);
    enum qb_err rc = QB_OK;
    for (size_t i = 0; i < sr->nshards && !rc; i++) {
        struct shard *s = &sr->shards[i];
        s->tried = xcalloc(s->nholders ? s->nholders : 1, 1);
        size_t best = SIZE_MAX;
        for (size_t h = 0; h < s->nholders; h++) {
            if (strcmp(s->holders[h].state, "Active") != 0)
                continue;
            for (size_t p = 0; p < sr->topo->npeers; p++)
                if (sr->topo->peers[p].id == s->holders[h].peer &&
                    (best == SIZE_MAX || load[p] < load[best]))
                    best = p;
        }
        if (best == SIZE_MAX) {
            char who[QB_ERRBUF_SIZE / 2];
            describe_holders(s, who, sizeof who);
            rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                          "collection %s: shard %u has no Active replica (%s); a backup "
                          "without it would miss its points, so none was taken",
                          sr->collection, s->id, who);
            break;
        }
        load[best]++;
        s->peer = sr->topo->peers[best].id;
        s->status = SHARD_PENDING;
    }
    free(load);
    return rc;
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
    struct tar_check *tar; /* stream mode */
    int64_t counted;
};

static enum qb_err sink_write(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct sink *s = ud;
    enum qb_err rc = s->tar ? tar_check_feed(s->tar, data, len, err, errlen) : QB_OK;
    if (!rc)
        rc = storage_write(s->writer, data, len, err, errlen);
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
    if (!sr->stream) {
        intent = inflight_snapshot_intent(sr, peer->rest_url, s->id);
        rc = qdrant_snapshot_create(qc, &t, true, &snap, err, errlen);
        if (rc)
            goto out;
        inflight_snapshot_named(sr, intent, snap.name);
    }
    rc = storage_write_begin(st, s->object_key, sr->stream ? 0 : snap.size, &k.writer, err, errlen);
    if (rc)
        goto out;
    uint64_t got = 0;
    if (sr->stream) {
        k.tar = tar_check_new();
        rc = qdrant_shard_stream(qc, sr->collection, s->id, sink_write, &k, &got, err, errlen);
        if (!rc)
            rc = tar_check_finish(k.tar, err, errlen);
    } else {
        rc = qdrant_snapshot_download(qc, &t, snap.name, sink_write, &k, &got, err, errlen);
    }
    if (rc) {
        storage_write_abort(k.writer);
        goto out;
    }
    free(s->stored.location);
    memset(&s->stored, 0, sizeof s->stored);
    rc = storage_write_finish(k.writer, &s->stored, err, errlen);
    if (rc)
        goto out;
    if (!sr->stream && s->stored.size != snap.size)
        rc = qb_failf(QB_ERR_TRANSIENT, err, errlen,
                      "size mismatch: Qdrant announced %llu bytes, %llu arrived",
                      (unsigned long long)snap.size, (unsigned long long)s->stored.size);
    else if (snap.checksum && strcmp(snap.checksum, s->stored.sha256) != 0)
        rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                      "checksum mismatch: Qdrant's checksum is %s but the received bytes hash "
                      "to %s",
                      snap.checksum, s->stored.sha256);
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
        if (qdrant_snapshot_delete(qc, &t, snap.name, derr, sizeof derr) == QB_OK)
            inflight_snapshot_gone(sr, intent);
        else
            log_warn("run.qdrant_cleanup_failed", "run=%lld peer=%s snapshot=%s error=%s",
                     (long long)sr->job->run->id, log_q(peer->rest_url), log_q(snap.name),
                     log_q(derr));
    }
    /* A creation that failed (or whose answer was lost) stays in the
     * inflight record: the end of the set looks for it on the peer. */
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
        if (s->tried[h] || strcmp(s->holders[h].state, "Active") != 0)
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
        orc = job_open_storage(sr->job->store, sr->plan->destination_id, &st, err, sizeof err);
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
static enum qb_err transfer_all(struct set_run *sr, char *err, size_t errlen)
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
                    strcmp(sr->shards[i].holders[h].state, "Active") == 0)
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

/* ---------------------------------------------------------------- the set */

/* The collection's configuration, payload indexes and aliases. */
static enum qb_err read_config(struct set_run *sr, cJSON *set, char *err, size_t errlen)
{
    struct qdrant_client *qc = NULL;
    cJSON *info = NULL;
    char **aliases = NULL;
    size_t naliases = 0;
    enum qb_err rc = topology_client(sr->inst, NULL, 0, &qc, err, errlen);
    if (!rc)
        rc = qdrant_collection_get(qc, sr->collection, &info, err, errlen);
    if (!rc) {
        /* Aliases are worth keeping but not worth failing a backup for: a
         * server without the route (404) simply has none we can see. */
        char sub[QB_ERRBUF_SIZE];
        enum qb_err arc =
            qdrant_collection_aliases(qc, sr->collection, &aliases, &naliases, sub, sizeof sub);
        if (arc == QB_ERR_NOT_FOUND)
            log_warn("run.aliases_unknown", "run=%lld collection=%s error=%s",
                     (long long)sr->job->run->id, log_q(sr->collection), log_q(sub));
        else if (arc)
            rc = qb_failf(arc, err, errlen, "%s", sub);
    }
    if (!rc) {
        cJSON *config = cJSON_GetObjectItemCaseSensitive(info, "config");
        cJSON *params = cJSON_DetachItemFromObjectCaseSensitive(config, "params");
        cJSON_AddItemToObject(set, "config", params ? params : cJSON_CreateObject());
        cJSON *schema = cJSON_DetachItemFromObjectCaseSensitive(info, "payload_schema");
        cJSON_AddItemToObject(set, "payload_schema", schema ? schema : cJSON_CreateObject());
        cJSON *a = cJSON_AddArrayToObject(set, "aliases");
        for (size_t i = 0; i < naliases; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(aliases[i]));
    }
    qdrant_strings_free(aliases, naliases);
    cJSON_Delete(info);
    qdrant_client_destroy(qc);
    return rc;
}

/* Shard keys with their shard counts, in shard order. */
static void add_shard_keys(struct set_run *sr, cJSON *set)
{
    cJSON *keys = cJSON_AddArrayToObject(set, "shard_keys");
    for (size_t i = 0; i < sr->nshards; i++) {
        const char *k = sr->shards[i].key_json;
        if (!k)
            continue;
        cJSON *found = NULL, *e;
        cJSON_ArrayForEach(e, keys)
        {
            char *t = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(e, "key"));
            if (t && strcmp(t, k) == 0)
                found = e;
            free(t);
        }
        if (found) {
            cJSON *n = cJSON_GetObjectItemCaseSensitive(found, "shards");
            cJSON_SetNumberValue(n, n->valuedouble + 1);
            continue;
        }
        e = cJSON_CreateObject();
        cJSON_AddItemToObject(e, "key", cJSON_Parse(k));
        cJSON_AddNumberToObject(e, "shards", 1);
        cJSON_AddItemToArray(keys, e);
    }
}

static cJSON *shard_json(const struct set_run *sr, const struct shard *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "shard_id", s->id);
    cJSON_AddItemToObject(o, "shard_key",
                          s->key_json ? cJSON_Parse(s->key_json) : cJSON_CreateNull());
    json_add_u64(o, "peer_id", s->peer);
    const struct topo_peer *p = topology_peer(sr->topo, s->peer);
    cJSON_AddStringToObject(o, "peer_url", p && p->rest_url ? p->rest_url : "");
    cJSON_AddStringToObject(o, "key", s->object_key);
    cJSON_AddNumberToObject(o, "size", (double)s->stored.size);
    cJSON_AddStringToObject(o, "sha256", s->stored.sha256);
    if (s->qdrant_checksum)
        cJSON_AddStringToObject(o, "qdrant_checksum", s->qdrant_checksum);
    if (s->qdrant_snapshot)
        cJSON_AddStringToObject(o, "qdrant_snapshot", s->qdrant_snapshot);
    for (size_t h = 0; h < s->nholders; h++)
        if (s->holders[h].peer == s->peer && s->holders[h].points_count >= 0)
            cJSON_AddNumberToObject(o, "points_count", (double)s->holders[h].points_count);
    return o;
}

static void sha256_hex(const char *text, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Writes K.manifest.json; *sha receives the manifest's SHA-256. */
static enum qb_err write_manifest(struct set_run *sr, struct storage *st, const cJSON *set,
                                  const char *qdrant_version, int64_t points, char sha[65],
                                  char *err, size_t errlen)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", "qbackup-manifest-v1");
    if (sr->plan->id)
        cJSON_AddStringToObject(m, "plan", sr->plan->name);
    else
        cJSON_AddNullToObject(m, "plan");
    cJSON_AddStringToObject(m, "instance", sr->inst->name);
    cJSON_AddStringToObject(m, "kind", "collection");
    cJSON_AddStringToObject(m, "layout", "shards");
    cJSON_AddStringToObject(m, "collection", sr->collection);
    cJSON_AddStringToObject(m, "qdrant_snapshot", sr->collection);
    cJSON_AddStringToObject(m, "qdrant_version", qdrant_version);
    cJSON_AddStringToObject(m, "key", sr->set_key);
    int64_t size = 0;
    for (size_t i = 0; i < sr->nshards; i++)
        size += (int64_t)sr->shards[i].stored.size;
    cJSON_AddNumberToObject(m, "size", (double)size);
    if (points >= 0)
        cJSON_AddNumberToObject(m, "points_count", (double)points);
    char ts[32];
    qb_format_time(qb_now_ms() / 1000, ts, sizeof ts);
    cJSON_AddStringToObject(m, "created_at", ts);
    cJSON_AddNumberToObject(m, "run_id", (double)sr->job->run->id);
    cJSON_AddStringToObject(m, "qbackup_version", QB_VERSION);
    cJSON_AddItemToObject(m, "set", cJSON_Duplicate(set, true));
    char *text = cJSON_Print(m);
    cJSON_Delete(m);
    if (!text)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "encoding the manifest");
    sha256_hex(text, strlen(text), sha);
    char *key = xasprintf("%s.manifest.json", sr->set_key);
    inflight_key(sr, key);
    struct storage_writer *w = NULL;
    enum qb_err rc = storage_write_begin(st, key, strlen(text), &w, err, errlen);
    if (!rc)
        rc = storage_write(w, text, strlen(text), err, errlen);
    if (!rc)
        rc = storage_write_finish(w, NULL, err, errlen);
    else
        storage_write_abort(w);
    free(key);
    free(text);
    return rc;
}

/* Removes every object of the failed set. */
static void discard(struct set_run *sr, struct storage *st)
{
    char err[QB_ERRBUF_SIZE];
    const cJSON *k;
    cJSON_ArrayForEach(k, sr->keys)
    {
        const char *key = cJSON_GetStringValue(k);
        if (!key)
            continue;
        if (storage_delete_many(st, &key, 1, err, sizeof err) ||
            storage_discard_incomplete(st, key, err, sizeof err))
            log_warn("run.discard_failed", "run=%lld key=%s error=%s", (long long)sr->job->run->id,
                     log_q(key), log_q(err));
    }
}

enum qb_err backup_set_collection(struct job *j, const struct store_plan *plan,
                                  const struct store_instance *inst, const struct topology *topo,
                                  const char *collection, const char *qdrant_version, cJSON *result,
                                  int64_t *snapshot_id, char *err, size_t errlen)
{
    struct set_run sr = {
        .job = j, .plan = plan, .inst = inst, .topo = topo, .collection = collection};
    struct storage *st = NULL;
    cJSON *set = cJSON_CreateObject();
    pthread_mutex_init(&sr.lock, NULL);
    pthread_cond_init(&sr.changed, NULL);
    sr.stream = plan->shard_method && strcmp(plan->shard_method, "stream") == 0;
    const char *prefix = plan->key_prefix && *plan->key_prefix ? plan->key_prefix : NULL;
    sr.set_key = xasprintf("%s%s%s/%s/run-%lld-set-%lld", prefix ? prefix : "", prefix ? "/" : "",
                           plan->name, collection, (long long)j->run->id, (long long)qb_now_ms());
    enum qb_err rc = storage_key_check(sr.set_key, err, errlen);
    if (!rc)
        rc = topology_check_usable(topo, inst->name, err, errlen);
    if (!rc)
        rc = job_checkpoint(j, "snapshotting", err, errlen);
    if (!rc)
        rc = build_shard_map(&sr, err, errlen);
    if (!rc)
        rc = assign(&sr, err, errlen);
    if (!rc)
        rc = read_config(&sr, set, err, errlen);
    if (!rc)
        rc = job_open_storage(j->store, plan->destination_id, &st, err, errlen);
    if (rc)
        goto out;
    inflight_init(&sr);
    for (size_t i = 0; i < sr.nshards; i++) {
        sr.shards[i].object_key = xasprintf("%s/shard-%u.snapshot", sr.set_key, sr.shards[i].id);
        inflight_key(&sr, sr.shards[i].object_key);
    }
    rc = job_checkpoint(j, "transferring", err, errlen);
    if (!rc)
        rc = transfer_all(&sr, err, errlen);
    if (rc)
        goto fail;
    cJSON_AddNumberToObject(set, "format", 1);
    cJSON_AddStringToObject(set, "shard_method", sr.stream ? "stream" : "snapshot");
    add_shard_keys(&sr, set);
    cJSON *shards = cJSON_AddArrayToObject(set, "shards");
    int64_t points = 0, size = 0;
    for (size_t i = 0; i < sr.nshards; i++) {
        cJSON *sj = shard_json(&sr, &sr.shards[i]);
        const cJSON *pc = cJSON_GetObjectItemCaseSensitive(sj, "points_count");
        points = points >= 0 && cJSON_IsNumber(pc) ? points + (int64_t)pc->valuedouble : -1;
        size += (int64_t)sr.shards[i].stored.size;
        cJSON_AddItemToArray(shards, sj);
    }
    char sha[65];
    rc = write_manifest(&sr, st, set, qdrant_version, points, sha, err, errlen);
    if (rc)
        goto fail;
    char *set_text = cJSON_PrintUnformatted(set);
    char kind[] = "collection", layout[] = "shards", qname[] = "shards";
    char *location = xasprintf("%s/%s", storage_url(st), sr.set_key);
    struct store_snapshot row = {
        .plan_id = plan->id,
        .run_id = j->run->id,
        .instance_id = inst->id,
        .instance_name = inst->name,
        .destination_id = plan->destination_id,
        .kind = kind,
        .collection = (char *)(uintptr_t)collection,
        .shard_id = -1,
        .qdrant_name = qname,
        .location = location,
        .storage_key = sr.set_key,
        .size_bytes = size,
        .sha256 = sha,
        .qdrant_version = (char *)(uintptr_t)qdrant_version,
        .points_count = points,
        .created_at = qb_now_ms() / 1000,
        .verified_at = plan->verify ? qb_now_ms() / 1000 : 0,
        .layout = layout,
        .backup_set = set_text,
    };
    rc = store_snapshot_insert(j->store, &row, snapshot_id, err, errlen);
    free(set_text);
    if (rc) {
        free(location);
        goto fail;
    }
    cJSON_AddStringToObject(result, "layout", "shards");
    cJSON_AddNumberToObject(result, "snapshot_id", (double)*snapshot_id);
    cJSON_AddNumberToObject(result, "size", (double)size);
    cJSON_AddStringToObject(result, "sha256", sha);
    cJSON_AddStringToObject(result, "location", location);
    cJSON_AddBoolToObject(result, "verified", plan->verify);
    if (points >= 0)
        cJSON_AddNumberToObject(result, "points_count", (double)points);
    cJSON_AddItemToObject(result, "shards", cJSON_Duplicate(shards, true));
    free(location);
    goto out;
fail:
    discard(&sr, st);
out:
    if (sr.inflight) {
        /* Shard snapshots whose deletion failed, or whose creation failed
         * or went unanswered, may still be on their peers. */
        const cJSON *e;
        cJSON_ArrayForEach(e, sr.snaps) recover_snapshot(inst, collection, e, j->run->id);
        /* Catalogued or discarded: nothing is left to clean up. */
        char ierr[QB_ERRBUF_SIZE];
        if (store_run_set_inflight(j->store, j->run->id, NULL, ierr, sizeof ierr))
            log_warn("run.inflight_failed", "run=%lld error=%s", (long long)j->run->id,
                     log_q(ierr));
    }
    storage_close(st);
    cJSON_Delete(sr.inflight);
    cJSON_Delete(set);
    free(sr.slots);
    shards_free(&sr);
    free(sr.set_key);
    pthread_cond_destroy(&sr.changed);
    pthread_mutex_destroy(&sr.lock);
    return rc;
}

/* ---------------------------------------------------------------- catalogue helpers */

void backup_set_keys(const struct store_snapshot *s, char ***keys, size_t *n)
{
    *keys = NULL;
    *n = 0;
    cJSON *set = s->backup_set ? cJSON_Parse(s->backup_set) : NULL;
    const cJSON *sh;
    if (s->layout && strcmp(s->layout, "shards") == 0) {
        cJSON_ArrayForEach(sh, cJSON_GetObjectItemCaseSensitive(set, "shards"))
        {
            const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "key"));
            if (!k)
                continue;
            *keys = xrealloc(*keys, (*n + 1) * sizeof **keys);
            (*keys)[(*n)++] = xstrdup(k);
        }
    } else {
        *keys = xrealloc(*keys, sizeof **keys);
        (*keys)[(*n)++] = xstrdup(s->storage_key);
    }
    *keys = xrealloc(*keys, (*n + 1) * sizeof **keys);
    (*keys)[(*n)++] = xasprintf("%s.manifest.json", s->storage_key);
    cJSON_Delete(set);
}

enum qb_err backup_set_verify(struct storage *st, const struct store_snapshot *s, char *err,
                              size_t errlen)
{
    cJSON *set = s->backup_set ? cJSON_Parse(s->backup_set) : NULL;
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(set, "shards");
    enum qb_err rc =
        cJSON_GetArraySize(shards) > 0
            ? QB_OK
            : qb_failf(QB_ERR_INTERNAL, err, errlen, "snapshot %lld is a backup set without shards",
                       (long long)s->id);
    const cJSON *sh;
    cJSON_ArrayForEach(sh, shards)
    {
        if (rc)
            break;
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "key"));
        const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "sha256"));
        int id = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sh, "shard_id"));
        struct storage_object_info info;
        char sub[QB_ERRBUF_SIZE];
        rc = key && want ? storage_verify(st, key, &info, sub, sizeof sub) : QB_ERR_INTERNAL;
        if (!rc && strcmp(info.sha256, want) != 0) {
            snprintf(sub, sizeof sub, "expected sha256 %s, found %s", want, info.sha256);
            rc = QB_ERR_IO;
        }
        if (rc)
            qb_failf(rc, err, errlen, "shard %d (%s): %s", id, key ? key : "?",
                     rc == QB_ERR_INTERNAL ? "the catalogue entry is incomplete" : sub);
    }
    cJSON_Delete(set);
    return rc;
}

/* ---------------------------------------------------------------- crash recovery */

/* "<c>-shard-<id>-YYYY-MM-DD-HH-MM-SS.snapshot": its time, or -1. */
static int64_t snapshot_time(const char *name)
{
    size_t len = strlen(name);
    const char *suffix = ".snapshot";
    if (len < 28 || strcmp(name + len - strlen(suffix), suffix) != 0)
        return -1;
    const char *ts = name + len - strlen(suffix) - 19;
    struct tm tm = {0};
    if (sscanf(ts, "%4d-%2d-%2d-%2d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

static void recover_snapshot(const struct store_instance *inst, const char *collection,
                             const cJSON *e, int64_t run_id)
{
    const char *url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "peer_url"));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name"));
    double since = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "since"));
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(e, "shard_id");
    if (!url || !cJSON_IsNumber(sid))
        return;
    struct qdrant_target t = {.scope = QDRANT_SCOPE_SHARD,
                              .collection = collection,
                              .shard_id = (unsigned)sid->valuedouble};
    struct qdrant_client *qc = NULL;
    struct qdrant_snapshot *list = NULL;
    size_t n = 0;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = topology_client(inst, url, 30000, &qc, err, sizeof err);
    if (!rc && name) {
        rc = qdrant_snapshot_delete(qc, &t, name, err, sizeof err);
        if (rc == QB_ERR_NOT_FOUND)
            rc = QB_OK;
    } else if (!rc) {
        /* The kill came before Qdrant named it: remove the shard's
         * snapshots created since the intent was recorded. */
        rc = qdrant_snapshot_list(qc, &t, &list, &n, err, sizeof err);
        for (size_t i = 0; !rc && i < n; i++) {
            int64_t at = snapshot_time(list[i].name);
            if (at >= (int64_t)since - 1)
                rc = qdrant_snapshot_delete(qc, &t, list[i].name, err, sizeof err);
        }
    }
    if (rc)
        log_warn("recovery.qdrant_failed",
                 "run=%lld peer=%s collection=%s shard=%u error=%s msg=\"delete it by hand\"",
                 (long long)run_id, log_q(url), log_q(collection), t.shard_id, log_q(err));
    else
        log_info("recovery.qdrant_cleaned", "run=%lld peer=%s collection=%s shard=%u",
                 (long long)run_id, log_q(url), log_q(collection), t.shard_id);
    qdrant_snapshots_free(list, n);
    qdrant_client_destroy(qc);
}

void backup_set_recover(struct store *store, const cJSON *inflight, int64_t run_id)
{
    const char *instance =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inflight, "instance"));
    const char *collection =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inflight, "collection"));
    const char *set_key =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inflight, "set_key"));
    const cJSON *dest = cJSON_GetObjectItemCaseSensitive(inflight, "destination_id");
    char err[QB_ERRBUF_SIZE];
    struct store_instance *inst = NULL;
    if (instance && collection &&
        store_instance_get(store, instance, &inst, err, sizeof err) == QB_OK) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(inflight, "shard_snapshots"))
            recover_snapshot(inst, collection, e, run_id);
    }
    store_instance_free(inst);
    bool catalogued = false;
    struct storage *st = NULL;
    if (!set_key || !cJSON_IsNumber(dest))
        return;
    int64_t dest_id = (int64_t)dest->valuedouble;
    enum qb_err rc =
        store_snapshot_key_exists(store, dest_id, set_key, &catalogued, err, sizeof err);
    if (!rc && catalogued)
        return; /* the row proves every object good */
    if (!rc)
        rc = job_open_storage(store, dest_id, &st, err, sizeof err);
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(inflight, "storage_keys"))
    {
        const char *key = cJSON_GetStringValue(k);
        if (rc || !key)
            break;
        rc = storage_delete_many(st, &key, 1, err, sizeof err);
        if (!rc)
            rc = storage_discard_incomplete(st, key, err, sizeof err);
    }
    if (rc)
        log_warn("recovery.storage_failed", "run=%lld key=%s error=%s", (long long)run_id,
                 log_q(set_key), log_q(err));
    else
        log_info("recovery.storage_cleaned", "run=%lld key=%s", (long long)run_id, log_q(set_key));
    storage_close(st);
}
