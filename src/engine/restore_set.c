/* SPDX-License-Identifier: Apache-2.0
 *
 * restore_set.c -- restoring a backup set (a cluster collection backed up
 * shard by shard, see backup_set.h) to a cluster or to a single node.
 *
 * DESIGN
 * A shard snapshot can only be recovered into an existing shard, so the
 * collection is first recreated from the recorded configuration (vectors,
 * shard_number, sharding method; the replication factor capped to the
 * peers there are, with a warning), with its shard keys and payload
 * indexes.  Backup shards are then matched to the new collection's shards
 * (by id with automatic sharding; by shard key and order with custom
 * sharding, since Qdrant numbers a new key's shards itself), each is
 * recovered on a peer that hosts it (upload of the object, or Qdrant
 * fetching a URL), Qdrant checking the catalogued SHA-256 first.  The
 * restore then waits until every replica of every shard is Active, and
 * compares each shard's point count with the one recorded at backup time
 * (another count fails the run: the collection is new, so it means data
 * was not restored).
 * Aliases come back when the collection keeps its name.
 *
 * A failed shard is named in the result with the shards already restored,
 * and the run fails: nothing is left half-restored without saying so.
 */
#include "engine/restore_set.h"
#include "engine/backup_set.h"
#include "engine/copies.h"
#include "storage/bridge.h"
#include "remote/qdrant_cluster.h"
#include "storage/storage_urls.h"
#include "util/json_u64.h"
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESTORE_SET_RING_BYTES (8u << 20)
#define RESTORE_SET_URL_TTL_S  3600
/* How long replicas may take to become Active after the recovery. */
#define RESTORE_SET_ACTIVE_TIMEOUT_MS (10L * 60 * 1000) /* default */
#define RESTORE_SET_POLL_MS           250

/* The collection parameters a new collection is created with, next to
 * the recorded collection-wide settings (the set's "tuning"). */
static const char *const create_params[] = {
    "vectors",
    "sparse_vectors",
    "shard_number",
    "sharding_method",
    "replication_factor",
    "write_consistency_factor",
    "on_disk_payload",
    NULL,
};

void restore_warn(cJSON *result, const char *fmt, ...)
{
    char buf[QB_ERRBUF_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cJSON *w = cJSON_GetObjectItemCaseSensitive(result, "warnings");
    if (!w)
        w = cJSON_AddArrayToObject(result, "warnings");
    cJSON_AddItemToArray(w, cJSON_CreateString(buf));
}

/* Creates the collection, its shard keys and payload indexes. */
static enum qb_err recreate(const struct restore_set *rs, const cJSON *set, cJSON *result,
                            char *err, size_t errlen)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(set, "config");
    cJSON *body = cJSON_CreateObject();
    for (size_t i = 0; create_params[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, create_params[i]);
        if (v && !cJSON_IsNull(v))
            cJSON_AddItemToObject(body, create_params[i], cJSON_Duplicate(v, true));
    }
    /* Collection-wide settings (sets written before they were recorded
     * have none: Qdrant's defaults then).  Qdrant reports the optimizer's
     * as optimizer_config and takes it as optimizers_config. */
    static const char *const tuning[][2] = {{"hnsw_config", "hnsw_config"},
                                            {"optimizer_config", "optimizers_config"},
                                            {"wal_config", "wal_config"},
                                            {"quantization_config", "quantization_config"},
                                            {"metadata", "metadata"}};
    const cJSON *recorded = cJSON_GetObjectItemCaseSensitive(set, "tuning");
    for (size_t i = 0; i < QB_ARRAY_LEN(tuning); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(recorded, tuning[i][0]);
        if (v && !cJSON_IsNull(v))
            cJSON_AddItemToObject(body, tuning[i][1], cJSON_Duplicate(v, true));
    }
    size_t peers = rs->topo->cluster ? rs->topo->npeers : 1;
    cJSON *rf = cJSON_GetObjectItemCaseSensitive(body, "replication_factor");
    if (cJSON_IsNumber(rf) && rf->valuedouble > (double)peers) {
        restore_warn(
            result,
            "replication_factor %d capped to %zu: the target has only %zu peer(s); raise it "
            "when peers are added",
            (int)rf->valuedouble, peers, peers);
        cJSON_SetNumberValue(rf, (double)peers);
    }
    cJSON *wcf = cJSON_GetObjectItemCaseSensitive(body, "write_consistency_factor");
    if (cJSON_IsNumber(wcf) && wcf->valuedouble > (double)peers)
        cJSON_SetNumberValue(wcf, (double)peers);
    unsigned replication = cJSON_IsNumber(rf) ? (unsigned)rf->valuedouble : 0;
    enum qb_err rc = qdrant_collection_create(rs->qc, rs->collection, body, err, errlen);
    cJSON_Delete(body);
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(set, "shard_keys"))
    {
        if (rc)
            break;
        char *key = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(k, "key"));
        int n = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(k, "shards"));
        rc = qdrant_shard_key_create(rs->qc, rs->collection, key ? key : "null",
                                     n > 0 ? (unsigned)n : 0, replication, err, errlen);
        free(key);
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(set, "payload_schema"))
    {
        if (rc)
            break;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "params");
        const cJSON *schema =
            p && !cJSON_IsNull(p) ? p : cJSON_GetObjectItemCaseSensitive(f, "data_type");
        rc = qdrant_payload_index_create(rs->qc, rs->collection, f->string, schema, err, errlen);
    }
    return rc;
}

/* Every peer's view of the new collection: replicas by shard. */
struct target_map {
    struct qdrant_replica *r;
    size_t n;
};

static void map_clear(struct target_map *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->r[i].shard_key);
    free(m->r);
    memset(m, 0, sizeof *m);
}

static enum qb_err read_map(const struct restore_set *rs, struct target_map *m, char *err,
                            size_t errlen)
{
    map_clear(m);
    for (size_t p = 0; p < rs->topo->npeers; p++) {
        struct qdrant_client *qc = NULL;
        struct qdrant_shard_view v = {0};
        enum qb_err rc =
            topology_client(rs->inst, rs->topo->peers[p].rest_url, 0, &qc, err, errlen);
        if (!rc)
            rc = qdrant_shard_view_get(qc, rs->collection, &v, err, errlen);
        qdrant_client_destroy(qc);
        if (rc) {
            qdrant_shard_view_clear(&v);
            return rc;
        }
        /* Each peer speaks for its own replicas. */
        for (size_t i = 0; i < v.nreplicas; i++) {
            if (!v.replicas[i].local)
                continue;
            m->r = xrealloc(m->r, (m->n + 1) * sizeof *m->r);
            m->r[m->n] = v.replicas[i];
            m->r[m->n].shard_key =
                v.replicas[i].shard_key ? xstrdup(v.replicas[i].shard_key) : NULL;
            m->n++;
        }
        qdrant_shard_view_clear(&v);
    }
    return QB_OK;
}

static bool same_key(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The target shard id for backup shard `shard` (index-th of its key). */
static int64_t target_shard(const struct target_map *m, const char *key, int index)
{
    /* Distinct shard ids of that key, ascending. */
    int64_t ids[1024];
    size_t n = 0;
    for (size_t i = 0; i < m->n && n < QB_ARRAY_LEN(ids); i++) {
        if (!same_key(m->r[i].shard_key, key))
            continue;
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            seen = seen || ids[j] == m->r[i].shard_id;
        if (!seen)
            ids[n++] = m->r[i].shard_id;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            int64_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    return index >= 0 && (size_t)index < n ? ids[index] : -1;
}

enum qb_err restore_set_pull_read(void *ud, void *buf, size_t cap, size_t *n, char *err,
                                  size_t errlen)
{
    struct restore_set_pull *p = ud;
    enum qb_err rc = bridge_read(p->bridge, buf, cap, n, err, errlen);
    if (rc)
        return rc;
    p->job->bytes_done += (int64_t)*n;
    return job_checkpoint(p->job, NULL, err, errlen);
}

/* Recovers one backup shard into target shard `to` on peer url. */
static enum qb_err recover_shard(struct restore_set *rs, const cJSON *sh, unsigned to,
                                 const char *url, char *err, size_t errlen)
{
    const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "key"));
    const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "sha256"));
    double size = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sh, "size"));
    /* A shard with a codec: Qdrant gets the decoded archive and its size
     * and checksum. */
    const char *codec = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "codec"));
    if (codec) {
        sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "raw_sha256"));
        size = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sh, "raw_size"));
    }
    struct qdrant_target t = {
        .scope = QDRANT_SCOPE_SHARD, .collection = rs->collection, .shard_id = to};
    struct storage *st = rs->sources ? copies_set_source_for(rs->sources, key) : rs->storage;
    if (!st)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "no location was chosen for shard object %s",
                        key ? key : "?");
    struct qdrant_client *qc = NULL;
    enum qb_err rc = topology_client(rs->inst, url, rs->snapshot_timeout_ms, &qc, err, errlen);
    if (rc)
        return rc;
    if (rs->by_url && !codec && storage_kind(st) != STORAGE_LOCAL) {
        char *u = NULL;
        rc = storage_fetch_url(st, key, rs->snap->id, rs->download_base, RESTORE_SET_URL_TTL_S, &u,
                               err, errlen);
        if (!rc)
            rc = qdrant_snapshot_recover(qc, &t, u, rs->priority, sha, NULL, err, errlen);
        if (u) {
            memset(u, 0, strlen(u));
            free(u);
        }
        if (!rc)
            rs->job->bytes_done += (int64_t)size;
    } else {
        struct bridge *b = NULL;
        rc = bridge_start_decoded(st, key, 0, 0, codec, rs->ring, RESTORE_SET_RING_BYTES, &b, err,
                                  errlen);
        if (!rc) {
            struct restore_set_pull p = {.job = rs->job, .bridge = b};
            rc = qdrant_snapshot_upload(qc, &t, rs->priority, sha, NULL, (uint64_t)size,
                                        restore_set_pull_read, &p, err, errlen);
            bridge_stop(b);
        }
    }
    qdrant_client_destroy(qc);
    return rc;
}

/* Waits until every replica of the collection is Active. */
static enum qb_err wait_active(struct restore_set *rs, struct target_map *m, char *err,
                               size_t errlen)
{
    int64_t deadline = qb_mono_ms() + rs->active_timeout_ms;
    for (;;) {
        enum qb_err rc = read_map(rs, m, err, errlen);
        if (rc && rc != QB_ERR_TRANSIENT)
            return rc;
        const struct qdrant_replica *bad = NULL;
        for (size_t i = 0; !rc && i < m->n && !bad; i++)
            if (strcmp(m->r[i].state, "Active") != 0)
                bad = &m->r[i];
        if (!rc && !bad)
            return QB_OK;
        if (qb_mono_ms() > deadline) {
            if (bad)
                return qb_failf(QB_ERR_REMOTE, err, errlen,
                                "shard %u on peer %llu is still %s %ld s after its recovery; "
                                "the collection is restored but not fully replicated",
                                bad->shard_id, (unsigned long long)bad->peer_id, bad->state,
                                rs->active_timeout_ms / 1000);
            return rc;
        }
        rc = job_checkpoint(rs->job, NULL, err, errlen);
        if (rc)
            return rc;
        if (engine_sleep(rs->job->engine, RESTORE_SET_POLL_MS))
            return qb_failf(QB_ERR_CANCELLED, err, errlen, "interrupted by shutdown");
    }
}

enum qb_err restore_set_run(struct restore_set *rs, cJSON *result, char *err, size_t errlen)
{
    cJSON *set = json_parse_exact(rs->snap->backup_set, strlen(rs->snap->backup_set));
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(set, "shards");
    cJSON *out = cJSON_AddArrayToObject(result, "shards");
    struct target_map m = {0};
    enum qb_err rc = cJSON_GetArraySize(shards) > 0
                         ? QB_OK
                         : qb_failf(QB_ERR_INTERNAL, err, errlen, "the backup set lists no shards");
    if (!rc)
        rc = job_checkpoint(rs->job, "restoring", err, errlen);
    if (!rc)
        rc = recreate(rs, set, result, err, errlen);
    if (rc) {
        char sub[QB_ERRBUF_SIZE];
        snprintf(sub, sizeof sub, "%s", err);
        qb_failf(rc, err, errlen, "recreating collection %s on %s: %s", rs->collection,
                 rs->instance, sub);
        goto out;
    }
    if (rs->by_url && rs->storage && storage_kind(rs->storage) == STORAGE_LOCAL) {
        /* Qdrant would fetch from qbackupd's download route, which serves
         * whole snapshots, not the objects of a set: stream them instead. */
        restore_warn(result,
                     "method url: the shards of a set in a local folder are uploaded to Qdrant "
                     "instead (only S3 destinations give Qdrant a URL per shard)");
        rs->by_url = false;
    }
    rc = read_map(rs, &m, err, errlen);
    /* Index of each backup shard within its key, in shard order. */
    const cJSON *sh;
    size_t done = 0, total = (size_t)cJSON_GetArraySize(shards);
    cJSON_ArrayForEach(sh, shards)
    {
        if (rc)
            break;
        int from = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sh, "shard_id"));
        const cJSON *kj = cJSON_GetObjectItemCaseSensitive(sh, "shard_key");
        char *key = kj && !cJSON_IsNull(kj) ? cJSON_PrintUnformatted(kj) : NULL;
        int index = 0;
        const cJSON *o;
        cJSON_ArrayForEach(o, shards)
        {
            if (o == sh)
                break;
            const cJSON *ok = cJSON_GetObjectItemCaseSensitive(o, "shard_key");
            char *okey = ok && !cJSON_IsNull(ok) ? cJSON_PrintUnformatted(ok) : NULL;
            index += same_key(key, okey);
            free(okey);
        }
        int64_t to = target_shard(&m, key, index);
        free(key);
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "shard_id", from);
        cJSON_AddItemToArray(out, r);
        /* The peers hosting the target shard.  With no_sync Qdrant leaves
         * the other replicas as they are (CONTRACT §4): empty, in a
         * recreated collection, yet Active and serving reads; so every
         * replica is recovered.  Otherwise one recovery is enough: Qdrant
         * marks the others Dead and heals them from it. */
        const char *urls[64];
        uint64_t peers[64];
        size_t nhosts = 0;
        for (size_t i = 0; to >= 0 && i < m.n && nhosts < QB_ARRAY_LEN(urls); i++) {
            if (m.r[i].shard_id != (unsigned)to)
                continue;
            const struct topo_peer *p = topology_peer(rs->topo, m.r[i].peer_id);
            if (!p || !p->rest_url)
                continue;
            urls[nhosts] = p->rest_url;
            peers[nhosts++] = m.r[i].peer_id;
            if (rs->priority != QDRANT_PRIORITY_NO_SYNC)
                break;
        }
        if (!nhosts && !rs->topo->cluster) {
            urls[0] = rs->topo->peers[0].rest_url;
            peers[nhosts++] = 0;
        }
        const char *url = nhosts ? urls[0] : NULL;
        uint64_t peer = nhosts ? peers[0] : 0;
        if (to < 0 || !url) {
            rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                          "shard %d: the recreated collection %s has no matching shard on any "
                          "reachable peer; %zu of %zu shards were restored",
                          from, rs->collection, done, total);
            cJSON_AddStringToObject(r, "state", "failed");
            cJSON_AddStringToObject(r, "error", err);
            break;
        }
        cJSON_AddNumberToObject(r, "target_shard_id", (double)to);
        if (rs->topo->cluster)
            json_add_u64(r, "peer_id", peer);
        char sub[QB_ERRBUF_SIZE];
        for (size_t h = 0; !rc && h < nhosts; h++) {
            url = urls[h];
            int64_t start = rs->job->bytes_done;
            for (unsigned attempt = 1;; attempt++) {
                rc = recover_shard(rs, sh, (unsigned)to, url, sub, sizeof sub);
                if (rc != QB_ERR_TRANSIENT ||
                    attempt >= engine_config(rs->job->engine)->max_attempts)
                    break;
                log_warn("run.retry", "run=%lld shard=%d attempt=%u error=%s",
                         (long long)rs->job->run->id, from, attempt, log_q(sub));
                rs->job->bytes_done = start;
                if (job_backoff(rs->job, attempt)) {
                    rc = job_checkpoint(rs->job, NULL, sub, sizeof sub);
                    break;
                }
            }
        }
        if (rc) {
            qb_failf(rc, err, errlen,
                     "shard %d (into shard %lld on %s) failed: %s; %zu of %zu shards were "
                     "restored, collection %s is incomplete",
                     from, (long long)to, url, sub, done, total, rs->collection);
            cJSON_AddStringToObject(r, "state", "failed");
            cJSON_AddStringToObject(r, "error", sub);
            break;
        }
        cJSON_AddStringToObject(r, "state", "restored");
        done++;
    }
    if (!rc)
        rc = wait_active(rs, &m, err, errlen);
    if (rc)
        goto out;
    /* Point counts per shard, from an Active replica of each. */
    int64_t total_points = 0;
    bool all_match = true, known = true;
    int emptied = -1; /* a target shard left empty, or -1 */
    cJSON *r;
    cJSON_ArrayForEach(r, out)
    {
        unsigned to =
            (unsigned)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "target_shard_id"));
        int from = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "shard_id"));
        int64_t got = -1;
        for (size_t i = 0; i < m.n && got < 0; i++)
            if (m.r[i].shard_id == to)
                got = m.r[i].points_count;
        int64_t want = -1;
        cJSON_ArrayForEach(sh, shards)
        {
            const cJSON *pc = cJSON_GetObjectItemCaseSensitive(sh, "points_count");
            if ((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sh, "shard_id")) ==
                    from &&
                cJSON_IsNumber(pc))
                want = (int64_t)pc->valuedouble;
        }
        if (got >= 0)
            cJSON_AddNumberToObject(r, "points_count", (double)got);
        if (want >= 0)
            cJSON_AddNumberToObject(r, "expected_points_count", (double)want);
        if (got >= 0 && want >= 0)
            cJSON_AddBoolToObject(r, "points_match", got == want);
        all_match = all_match && (got < 0 || want < 0 || got == want);
        if (got == 0 && want > 0 && emptied < 0)
            emptied = (int)to;
        known = known && got >= 0;
        total_points += got > 0 ? got : 0;
    }
    if (known)
        cJSON_AddNumberToObject(result, "points_count", (double)total_points);
    cJSON_AddBoolToObject(result, "points_match", all_match);
    /* Aliases follow the collection only under its own name. */
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(set, "aliases"))
    {
        const char *alias = cJSON_GetStringValue(a);
        char sub[QB_ERRBUF_SIZE];
        if (!alias)
            continue;
        if (strcmp(rs->collection, rs->snap->collection) != 0) {
            restore_warn(result, "alias %s not restored: the collection was restored as %s", alias,
                         rs->collection);
            continue;
        }
        if (qdrant_alias_create(rs->qc, rs->collection, alias, sub, sizeof sub))
            restore_warn(result, "alias %s: %s", alias, sub);
        else {
            cJSON *ra = cJSON_GetObjectItemCaseSensitive(result, "aliases");
            if (!ra)
                ra = cJSON_AddArrayToObject(result, "aliases");
            cJSON_AddItemToArray(ra, cJSON_CreateString(alias));
        }
    }
    /* Counts were read just before each shard's snapshot, so shards under
     * writes differ by what was written in between: a warning.  A shard
     * left empty where points were recorded was not restored, and the run
     * must not say it succeeded. */
    if (emptied >= 0)
        rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                      "shard %d of %s holds no points after the restore, the backup recorded "
                      "some: the restore is incomplete",
                      emptied, rs->collection);
    else if (!all_match)
        restore_warn(result, "some shards hold another number of points than at backup time");
out:
    map_clear(&m);
    cJSON_Delete(set);
    return rc;
}
