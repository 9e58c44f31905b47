/* SPDX-License-Identifier: Apache-2.0
 *
 * backup_set.c -- one cluster collection (or a single node's, streamed)
 * as a backup set (see backup_set.h and docs/internals/cluster.md).
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
 * The transfer is backup_set_transfer.c; catalogue helpers and crash
 * recovery are backup_set_catalog.c.
 */
#include "engine/backup_set_internal.h"
#include "engine/keyref.h"
#include "engine/manifest.h"
#include "remote/qdrant_cluster.h"
#include "storage/storage_janitor.h"
#include "store/store_runs.h"
#include "util/json_u64.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* How many peers did not answer for the shard map; *one (may be NULL)
 * receives one of them. */
static size_t count_silent(const struct set_run *sr, const struct topo_peer **one)
{
    size_t n = 0;
    for (size_t p = 0; sr->silent && p < sr->topo->npeers; p++) {
        if (sr->silent[p]) {
            n++;
            if (one)
                *one = &sr->topo->peers[p];
        }
    }
    return n;
}

/* A set taken while peers did not answer is whole (every shard came from
 * a replica its own peer confirmed Active), but the cluster is not: the
 * result says so, for whoever reads the run. */
static void add_silent_warning(const struct set_run *sr, cJSON *result)
{
    const struct topo_peer *one = NULL;
    size_t silent = count_silent(sr, &one);
    if (!silent)
        return;
    char *w = xasprintf("%zu peer(s) did not answer (peer %llu at %s among them): every shard was "
                        "taken from a replica that another peer holds Active; the backup is whole, "
                        "the cluster is not",
                        silent, (unsigned long long)one->id,
                        one->rest_url ? one->rest_url : "no REST URL");
    cJSON_AddStringToObject(result, "warning", w);
    free(w);
}

/* Describes every holder of s: "peer 1 (Dead), peer 2 (Partial)". */
static void describe_holders(const struct set_run *sr, const struct shard *s, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < s->nholders && used < len; i++) {
        const struct holder *h = &s->holders[i];
        const struct topo_peer *tp = topology_peer(sr->topo, h->peer);
        bool silent = tp && sr->silent[tp - sr->topo->peers];
        used += (size_t)snprintf(buf + used, len - used, "%speer %llu (%s%s%s%s)", i ? ", " : "",
                                 (unsigned long long)h->peer, h->state,
                                 h->local ? ""
                                 : silent ? ", that peer does not answer"
                                          : ", not confirmed by that peer",
                                 !h->local && silent && tp && tp->error ? ": " : "",
                                 !h->local && silent && tp && tp->error ? tp->error : "");
    }
    if (!s->nholders)
        snprintf(buf, len, "no peer holds it");
}

/* Reads every peer's view of the collection into sr->shards.  A peer
 * that does not know the collection (404: it has not caught up with the
 * cluster yet), or that does not answer (down, or failing transiently),
 * holds none of it for us; the others must then account for every shard,
 * each with a replica Active by its own peer's account, as always: a peer
 * down in a replicated cluster costs nothing, and a shard whose replicas
 * were all on it fails the collection, naming it (assign). */
static enum qb_err build_shard_map(struct set_run *sr, char *err, size_t errlen)
{
    unsigned shard_count = 0;
    size_t answered = 0;
    char unknown[QB_ERRBUF_SIZE] = "";
    sr->silent = xcalloc(sr->topo->npeers ? sr->topo->npeers : 1, sizeof *sr->silent);
    for (size_t p = 0; p < sr->topo->npeers; p++) {
        const struct topo_peer *peer = &sr->topo->peers[p];
        struct qdrant_client *qc = NULL;
        struct qdrant_shard_view v = {0};
        char sub[QB_ERRBUF_SIZE];
        enum qb_err rc = peer->reachable
                             ? topology_client(sr->inst, peer->rest_url, 0, &qc, sub, sizeof sub)
                             : qb_failf(QB_ERR_TRANSIENT, sub, sizeof sub, "%s",
                                        peer->error ? peer->error : "it does not answer");
        if (!rc)
            rc = qdrant_shard_view_get(qc, sr->collection, &v, sub, sizeof sub);
        qdrant_client_destroy(qc);
        if (rc == QB_ERR_TRANSIENT) {
            qdrant_shard_view_clear(&v);
            sr->silent[p] = true;
            qb_strlcpy(unknown, sub, sizeof unknown);
            log_warn("run.peer_silent", "run=%lld collection=%s peer=%llu url=%s error=%s",
                     (long long)sr->job->run->id, log_q(sr->collection),
                     (unsigned long long)peer->id, log_q(peer->rest_url), log_q(sub));
            continue;
        }
        if (rc == QB_ERR_NOT_FOUND) {
            qdrant_shard_view_clear(&v);
            qb_strlcpy(unknown, sub, sizeof unknown);
            log_warn("run.peer_collection_unknown", "run=%lld collection=%s peer=%llu error=%s",
                     (long long)sr->job->run->id, log_q(sr->collection),
                     (unsigned long long)peer->id, log_q(sub));
            continue;
        }
        if (rc) {
            qdrant_shard_view_clear(&v);
            return qb_failf(rc, err, errlen, "reading the shard map of %s from peer %llu (%s): %s",
                            sr->collection, (unsigned long long)peer->id, peer->rest_url, sub);
        }
        answered++;
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
            /* Without distributed mode Qdrant still answers with its own
             * (persistent, random) peer id, which GET /cluster does not
             * tell ("disabled"): the node's replicas are the topology's one
             * peer.  A single node has no remote replicas to consider. */
            if (!sr->topo->cluster && !r->local)
                continue;
            uint64_t holder = sr->topo->cluster ? r->peer_id : peer->id;
            struct shard *s = shard_get(sr, r->shard_id, true);
            if (!s->key_json && r->shard_key)
                s->key_json = xstrdup(r->shard_key);
            struct holder *h = holder_get(s, holder);
            /* A peer is the authority on its own replicas. */
            if (r->local || !h->state[0])
                snprintf(h->state, sizeof h->state, "%s", r->state);
            if (r->local) {
                h->points_count = r->points_count;
                h->local = true;
            }
        }
        qdrant_shard_view_clear(&v);
    }
    size_t silent = count_silent(sr, NULL);
    if (!answered)
        return qb_failf(silent ? QB_ERR_TRANSIENT : QB_ERR_NOT_FOUND, err, errlen,
                        "reading the shard map of %s: %s (%s)", sr->collection,
                        silent ? "no peer answers" : "no peer knows the collection", unknown);
    qsort(sr->shards, sr->nshards, sizeof *sr->shards, shard_cmp);
    if (sr->nshards == 0 || sr->nshards < shard_count)
        return qb_failf(QB_ERR_REMOTE, err, errlen,
                        "collection %s has %u shards but the peers report only %zu of them%s",
                        sr->collection, shard_count, sr->nshards,
                        silent ? " (some peers do not answer)" : "");
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
            if (!holder_usable(&s->holders[h]))
                continue;
            for (size_t p = 0; p < sr->topo->npeers; p++)
                if (sr->topo->peers[p].id == s->holders[h].peer &&
                    (best == SIZE_MAX || load[p] < load[best]))
                    best = p;
        }
        if (best == SIZE_MAX) {
            char who[QB_ERRBUF_SIZE];
            describe_holders(sr, s, who, sizeof who);
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

/* ---------------------------------------------------------------- the set */

/* Members of GET /collections/{c}'s config besides params that a restore
 * gives back (restore_set.c). */
static const char *const tuning_members[] = {
    "hnsw_config", "optimizer_config", "wal_config", "quantization_config", "metadata", NULL};

/* The collection's configuration, payload indexes and aliases. */
static enum qb_err read_config(struct set_run *sr, cJSON *set, char *err, size_t errlen)
{
    struct qdrant_client *qc = NULL;
    cJSON *info = NULL;
    char **aliases = NULL;
    size_t naliases = 0;
    /* the node the topology was read from: it answers, the instance URL may not */
    enum qb_err rc = topology_client(sr->inst, sr->topo->entry, 0, &qc, err, errlen);
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
        /* The collection-wide settings, as Qdrant reported them, so that a
         * restore does not fall back to Qdrant's defaults. */
        cJSON *tuning = cJSON_AddObjectToObject(set, "tuning");
        for (size_t i = 0; tuning_members[i]; i++) {
            cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(config, tuning_members[i]);
            if (v)
                cJSON_AddItemToObject(tuning, tuning_members[i], v);
        }
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
        cJSON_AddItemToObject(e, "key", json_parse_exact(k, strlen(k)));
        cJSON_AddNumberToObject(e, "shards", 1);
        cJSON_AddItemToArray(keys, e);
    }
}

static cJSON *shard_json(const struct set_run *sr, const struct shard *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "shard_id", s->id);
    cJSON_AddItemToObject(o, "shard_key",
                          s->key_json ? json_parse_exact(s->key_json, strlen(s->key_json))
                                      : cJSON_CreateNull());
    json_add_u64(o, "peer_id", s->peer);
    const struct topo_peer *p = topology_peer(sr->topo, s->peer);
    cJSON_AddStringToObject(o, "peer_url", p && p->rest_url ? p->rest_url : "");
    cJSON_AddStringToObject(o, "key", s->object_key);
    cJSON_AddNumberToObject(o, "size", (double)s->stored.size);
    cJSON_AddStringToObject(o, "sha256", s->stored.sha256);
    if (s->qdrant_checksum)
        cJSON_AddStringToObject(o, "qdrant_checksum", s->qdrant_checksum);
    /* A shard stored with a codec: what the archive was (restore and
     * rescan read these; qdrant_checksum is the archive's). */
    if (strcmp(s->raw.codec, "none") != 0) {
        cJSON_AddStringToObject(o, "codec", s->raw.codec);
        cJSON_AddNumberToObject(o, "raw_size", (double)s->raw.raw_size);
        cJSON_AddStringToObject(o, "raw_sha256", s->raw.raw_sha256);
        if (s->raw.key_id[0])
            cJSON_AddStringToObject(o, "key_id", s->raw.key_id);
    }
    if (s->qdrant_snapshot)
        cJSON_AddStringToObject(o, "qdrant_snapshot", s->qdrant_snapshot);
    for (size_t h = 0; h < s->nholders; h++)
        if (s->holders[h].peer == s->peer && s->holders[h].points_count >= 0)
            cJSON_AddNumberToObject(o, "points_count", (double)s->holders[h].points_count);
    return o;
}

/* Writes K.manifest.json; *sha receives the manifest's SHA-256. */
static enum qb_err write_manifest(struct set_run *sr, struct storage *st, const cJSON *set,
                                  const char *qdrant_version, int64_t points, char sha[65],
                                  char *err, size_t errlen)
{
    int64_t size = 0;
    for (size_t i = 0; i < sr->nshards; i++)
        size += (int64_t)sr->shards[i].stored.size;
    struct manifest mf = {
        .plan = sr->plan->id ? sr->plan->name : NULL,
        .instance = sr->inst->name,
        .kind = "collection",
        .set = true,
        .collection = sr->collection,
        .qdrant_snapshot = sr->collection,
        .qdrant_version = qdrant_version,
        .key = sr->set_key,
        .shard_id = -1,
        .size = size,
        .points_count = points,
        .created_at = qb_now_ms() / 1000,
        .run_id = sr->job->run->id,
        .codec = codec_spec_name(&sr->spec),
        .key_id = sr->nshards && sr->shards[0].raw.key_id[0] ? sr->shards[0].raw.key_id : NULL,
    };
    char *key = manifest_key(sr->set_key);
    set_inflight_key(sr, key);
    free(key);
    return manifest_write(st, &mf, set, sha, err, errlen);
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

bool backup_set_streams(const struct store_plan *plan)
{
    return plan->shard_method && strcmp(plan->shard_method, "stream") == 0;
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
    sr.stream = backup_set_streams(plan);
    const char *prefix = plan->key_prefix && *plan->key_prefix ? plan->key_prefix : NULL;
    sr.set_key = xasprintf("%s%s%s/%s/run-%lld-set-%lld", prefix ? prefix : "", prefix ? "/" : "",
                           plan->name, collection, (long long)j->run->id, (long long)qb_now_ms());
    enum qb_err rc = storage_key_check(sr.set_key, err, errlen);
    /* The keys first: nothing is taken from a peer that could not be
     * stored as the plan says. */
    if (!rc)
        rc = keyref_plan_codec(plan, &sr.spec, &sr.ring, err, errlen);
    if (!rc) /* a peer that does not answer only holds nothing (build_shard_map) */
        rc = topology_check_mapped(topo, inst->name, err, errlen);
    if (!rc)
        rc = job_checkpoint(j, "snapshotting", err, errlen);
    if (!rc)
        rc = build_shard_map(&sr, err, errlen);
    if (!rc)
        rc = assign(&sr, err, errlen);
    if (!rc)
        rc = read_config(&sr, set, err, errlen);
    if (!rc)
        rc = resolve_storage(j->store, plan->destination_id, &st, err, errlen);
    if (!rc)
        rc = job_lock_apply(j, st, err, errlen);
    if (rc)
        goto out;
    set_inflight_init(&sr);
    for (size_t i = 0; i < sr.nshards; i++) {
        sr.shards[i].object_key = xasprintf("%s/shard-%u.snapshot", sr.set_key, sr.shards[i].id);
        set_inflight_key(&sr, sr.shards[i].object_key);
    }
    rc = job_checkpoint(j, "transferring", err, errlen);
    int64_t transfer_started = qb_mono_ms();
    if (!rc)
        rc = set_transfer_all(&sr, err, errlen);
    int64_t transfer_ms = qb_mono_ms() - transfer_started;
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
        .codec = (char *)(uintptr_t)codec_spec_name(&sr.spec),
        .key_id = sr.nshards ? sr.shards[0].raw.key_id : NULL,
    };
    char *labels = job_snapshot_hold(j, &row);
    rc = store_snapshot_insert_for_run(j->store, &row, engine_config(j->engine)->node, snapshot_id,
                                       err, errlen);
    free(labels);
    free(set_text);
    if (rc) {
        free(location);
        goto fail;
    }
    cJSON_AddStringToObject(result, "layout", "shards");
    cJSON_AddNumberToObject(result, "snapshot_id", (double)*snapshot_id);
    cJSON_AddNumberToObject(result, "size", (double)size);
    cJSON_AddStringToObject(result, "sha256", sha);
    cJSON_AddStringToObject(result, "codec", codec_spec_name(&sr.spec));
    if (sr.ring && sr.nshards)
        cJSON_AddStringToObject(result, "key_id", sr.shards[0].raw.key_id);
    cJSON_AddStringToObject(result, "location", location);
    cJSON_AddBoolToObject(result, "verified", plan->verify);
    if (points >= 0)
        cJSON_AddNumberToObject(result, "points_count", (double)points);
    cJSON_AddItemToObject(result, "shards", cJSON_Duplicate(shards, true));
    add_silent_warning(&sr, result);
    job_add_rate(j, result, size, transfer_ms);
    free(location);
    goto out;
fail:
    discard(&sr, st);
out:
    if (sr.inflight) {
        /* Shard snapshots whose deletion failed, or whose creation failed
         * or went unanswered, may still be on their peers. */
        const cJSON *e;
        cJSON_ArrayForEach(e, sr.snaps)
            set_recover_snapshot(j->store, inst, collection, e, j->run->id);
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
    free(sr.silent);
    seal_keyring_destroy(sr.ring);
    pthread_cond_destroy(&sr.changed);
    pthread_mutex_destroy(&sr.lock);
    return rc;
}
