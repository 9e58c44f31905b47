/* SPDX-License-Identifier: Apache-2.0 */
/* emu_sync.c -- local storage follows the cluster state; healing of Dead
 * replicas (see emu_sync.h).
 *
 * DESIGN (healing, after Qdrant's Collection::sync_local_state): a replica
 * marked Dead with heal_at (snapshot recovery with priority `snapshot`, a
 * write it missed) is healed by the peer that hosts it, once heal_at has
 * passed: it registers a transfer {from: an Active replica, to: itself,
 * sync: true, method: wal_delta} and sets its replica to Recovery, as
 * Qdrant's wal_delta transfer does; --heal-ms later it copies the source's
 * points (internal scroll), removes the transfer and turns Active.  If the
 * copy fails, the transfer is dropped and the replica stays Dead, to be
 * retried --heal-ms later.  Replicas set Dead by the debug API carry no
 * heal_at and stay Dead. */
#include "emu_sync.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu_dist.h"
#include "emu_meta.h"
#include "emu_store.h"
#include "emu_topo.h"
#include "emu_util.h"

/* Lock-documented singleton: epoch guarded by mu (a recursive mutex);
 * last_version and synced written under mu with atomic stores and read
 * atomically without it (emu_sync_now's fast path); stop and the thread by
 * tmu/cv. */
static struct {
    pthread_mutex_t mu;
    uint64_t last_version;
    int synced;
    double epoch;
    pthread_mutex_t tmu;
    pthread_cond_t cv;
    int stop;
    int running;
    pthread_t thread;
} g_sync = {.tmu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

void emu_sync_lock(void)
{
    pthread_mutex_lock(&g_sync.mu);
}

void emu_sync_unlock(void)
{
    pthread_mutex_unlock(&g_sync.mu);
}

/* ---- epoch: /debug/reset empties every peer ---- */

static int epoch_path(char *buf, size_t size)
{
    return emu_pathf(buf, size, "%s/emu_epoch", emu_cfg()->data_dir);
}

static double epoch_seen(void)
{
    char p[EMU_PATH_MAX], *text = NULL;
    size_t len;
    double e = -1;
    if (epoch_path(p, sizeof(p)) == 0 && emu_read_file(p, 64, &text, &len) == 0)
        e = strtod(text, NULL);
    free(text);
    return e;
}

static void epoch_store(double e)
{
    char p[EMU_PATH_MAX], text[32];
    snprintf(text, sizeof(text), "%.0f", e);
    if (epoch_path(p, sizeof(p)) != 0 || emu_write_file_atomic(p, text, strlen(text)) != 0)
        emu_log("WARN", "can't record the cluster epoch");
}

/* Snapshot files of this peer, all but tmp/ (uploads in flight). */
static void wipe_snapshots(void)
{
    const char *dir = emu_cfg()->snapshots_dir;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char p[EMU_PATH_MAX];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, "tmp") == 0)
            continue;
        if (emu_pathf(p, sizeof(p), "%s/%s", dir, de->d_name) == 0)
            emu_rm_rf(p);
    }
    if (d)
        closedir(d);
}

static void check_epoch(const cJSON *state)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(state, "epoch");
    double now = cJSON_IsNumber(e) ? e->valuedouble : 0;
    if (now == g_sync.epoch)
        return;
    if (g_sync.epoch >= 0 && now > g_sync.epoch) {
        emu_log("INFO", "cluster reset (epoch %.0f): dropping snapshots", now);
        wipe_snapshots();
    }
    g_sync.epoch = now;
    epoch_store(now);
}

/* ---- reconcile ---- */

static void reconcile(int force)
{
    uint64_t v = emu_meta_version();
    if (!force && g_sync.synced && v == g_sync.last_version)
        return;
    cJSON *state = emu_meta_get();
    const cJSON *vj = cJSON_GetObjectItemCaseSensitive(state, "version");
    uint64_t seen = cJSON_IsNumber(vj) ? (uint64_t)vj->valuedouble : v;
    check_epoch(state);
    cJSON *names = emu_store_names();
    const cJSON *n;
    cJSON_ArrayForEach(n, names)
    {
        if (!emu_topo_coll(state, n->valuestring))
            emu_store_drop(n->valuestring);
    }
    cJSON_Delete(names);
    int ok = 1;
    const cJSON *coll;
    cJSON_ArrayForEach(coll, emu_topo_colls(state))
    {
        struct emu_status st;
        if (emu_store_apply(coll->string, coll, &st) != 0) {
            emu_log("ERROR", "can't follow the cluster state for %s: %s", coll->string, st.msg);
            ok = 0;
        }
    }
    cJSON_Delete(state);
    __atomic_store_n(&g_sync.last_version, seen, __ATOMIC_RELEASE);
    __atomic_store_n(&g_sync.synced, ok, __ATOMIC_RELEASE);
}

void emu_sync_now(void)
{
    /* Fast path without the mutex: nothing changed since the last
     * reconcile.  A recovery may hold the mutex for as long as a snapshot
     * of the same collection keeps the collection lock; requests must not
     * queue behind it for nothing. */
    if (__atomic_load_n(&g_sync.synced, __ATOMIC_ACQUIRE) &&
        emu_meta_version() == __atomic_load_n(&g_sync.last_version, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&g_sync.mu);
    reconcile(0);
    pthread_mutex_unlock(&g_sync.mu);
}

/* ---- adoption (single node) ---- */

static cJSON *load_in(const char *dir, const char *file)
{
    char p[EMU_PATH_MAX];
    return emu_pathf(p, sizeof(p), "%s/%s", dir, file) == 0 ? emu_json_load(p) : NULL;
}

/* A state entry for a collection directory nobody registered (data of an
 * older emulator, or a crash between the two steps of a change). */
static cJSON *describe_local(const char *name)
{
    char dir[EMU_PATH_MAX];
    if (emu_pathf(dir, sizeof(dir), "%s/%s", emu_cfg()->storage_dir, name) != 0)
        return NULL;
    cJSON *config = load_in(dir, "config.json");
    if (!cJSON_IsObject(config)) {
        cJSON_Delete(config);
        return NULL;
    }
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(config, "uuid"))) {
        char uuid[37];
        emu_uuid4(uuid);
        cJSON_AddStringToObject(config, "uuid", uuid);
    }
    cJSON *coll = cJSON_CreateObject();
    cJSON_AddItemToObject(coll, "config", config);
    cJSON *pi = load_in(dir, "payload_index.json");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(pi, "schema");
    cJSON_AddItemToObject(coll, "payload_schema",
                          cJSON_IsObject(schema) ? cJSON_Duplicate(schema, 1)
                                                 : cJSON_CreateObject());
    cJSON_Delete(pi);
    cJSON *mapping = load_in(dir, "shard_key_mapping.json");
    cJSON *shards = cJSON_AddArrayToObject(coll, "shards");
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        uint64_t sid;
        if (emu_u64_parse(de->d_name, &sid) != 0 || sid > 0xffffffffu)
            continue;
        const cJSON *key = NULL, *pair;
        cJSON_ArrayForEach(pair, mapping)
        {
            const cJSON *id;
            cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(pair, "shard_ids"))
            {
                if (cJSON_IsNumber(id) && (uint64_t)id->valuedouble == sid)
                    key = cJSON_GetObjectItemCaseSensitive(pair, "key");
            }
        }
        cJSON *shard = cJSON_CreateObject();
        cJSON_AddNumberToObject(shard, "id", (double)sid);
        cJSON_AddItemToObject(shard, "key", key ? cJSON_Duplicate(key, 1) : cJSON_CreateNull());
        cJSON_AddArrayToObject(shard, "replicas");
        emu_topo_add_replica(shard, emu_cfg()->peer_id, "Active");
        cJSON_AddItemToArray(shards, shard);
    }
    if (d)
        closedir(d);
    cJSON_Delete(mapping);
    return coll;
}

static int adopt_fn(cJSON *state, void *arg, struct emu_status *st)
{
    (void)st;
    const cJSON *n;
    cJSON_ArrayForEach(n, (const cJSON *)arg)
    {
        if (emu_topo_coll(state, n->valuestring))
            continue;
        cJSON *coll = describe_local(n->valuestring);
        if (coll) {
            emu_log("INFO", "adopting collection %s found on disk", n->valuestring);
            cJSON_AddItemToObject(emu_topo_colls(state), n->valuestring, coll);
        }
    }
    return 0;
}

int emu_sync_init(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&g_sync.mu, &attr);
    pthread_mutexattr_destroy(&attr);
    g_sync.epoch = epoch_seen();
    if (!emu_cfg()->cluster_enabled) {
        cJSON *names = emu_store_names();
        struct emu_status st;
        int rc = emu_meta_update(adopt_fn, names, &st);
        cJSON_Delete(names);
        if (rc != 0)
            return -1;
    }
    pthread_mutex_lock(&g_sync.mu);
    reconcile(1);
    pthread_mutex_unlock(&g_sync.mu);
    return 0;
}

/* ---- healing ---- */

struct heal {
    char coll[256];
    unsigned sid;
    uint64_t from;
    int ok;
};

static int64_t num_or(const cJSON *o, const char *key, int64_t def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
}

/* An Active replica to copy from: heal_from when still Active, else any. */
static uint64_t heal_source(const cJSON *shard, const cJSON *replica)
{
    uint64_t me = emu_cfg()->peer_id, want = 0;
    const cJSON *hf = cJSON_GetObjectItemCaseSensitive(replica, "heal_from");
    if (cJSON_IsString(hf) && emu_u64_parse(hf->valuestring, &want) == 0) {
        const cJSON *r = emu_topo_replica(shard, want);
        if (r && want != me && emu_state_active(emu_topo_replica_state(r)))
            return want;
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, emu_topo_replicas(shard))
    {
        if (emu_topo_replica_peer(r) != me && emu_state_active(emu_topo_replica_state(r)))
            return emu_topo_replica_peer(r);
    }
    return 0;
}

static int heal_start_fn(cJSON *state, void *arg, struct emu_status *st)
{
    struct heal *h = arg;
    (void)st;
    uint64_t me = emu_cfg()->peer_id;
    cJSON *shard = emu_topo_shard(emu_topo_coll(state, h->coll), h->sid);
    cJSON *r = emu_topo_replica(shard, me);
    if (!r || strcmp(emu_topo_replica_state(r), "Dead") != 0 ||
        !cJSON_GetObjectItemCaseSensitive(r, "heal_at") ||
        emu_topo_transfer(state, h->coll, h->sid))
        return 0; /* changed meanwhile */
    h->from = heal_source(shard, r);
    if (!h->from)
        return 0;
    cJSON *t = cJSON_CreateObject();
    char from[24], to[24];
    emu_u64_str(h->from, from, sizeof(from));
    emu_u64_str(me, to, sizeof(to));
    cJSON_AddStringToObject(t, "collection", h->coll);
    cJSON_AddNumberToObject(t, "shard_id", h->sid);
    cJSON_AddStringToObject(t, "from", from);
    cJSON_AddStringToObject(t, "to", to);
    cJSON_AddBoolToObject(t, "sync", 1);
    cJSON_AddStringToObject(t, "method", "wal_delta");
    cJSON_AddBoolToObject(t, "heal", 1);
    cJSON_AddNumberToObject(t, "finish_at", (double)(emu_wall_ms() + emu_cfg()->heal_ms));
    cJSON_AddItemToArray(emu_topo_transfers(state), t);
    emu_topo_set_state(r, "Recovery"); /* Qdrant: wal_delta receivers start in Recovery */
    h->ok = 1;
    return 0;
}

static int heal_finish_fn(cJSON *state, void *arg, struct emu_status *st)
{
    struct heal *h = arg;
    (void)st;
    uint64_t me = emu_cfg()->peer_id;
    emu_topo_drop_transfers(state, h->coll, (long)h->sid);
    cJSON *r = emu_topo_replica(emu_topo_shard(emu_topo_coll(state, h->coll), h->sid), me);
    if (!r)
        return 0;
    if (h->ok) {
        emu_topo_set_state(r, "Active");
    } else {
        emu_topo_set_state(r, "Dead");
        cJSON_AddNumberToObject(r, "heal_at", (double)(emu_wall_ms() + emu_cfg()->heal_ms));
    }
    return 0;
}

static void heal_finish(struct heal *h)
{
    struct emu_status st;
    cJSON *records = NULL;
    h->ok = emu_dist_fetch_shard(h->coll, h->sid, h->from, &records, &st) == 0;
    emu_sync_now(); /* our replica's local shard must be open */
    if (h->ok && emu_store_replace(h->coll, h->sid, records, &st) != 0)
        h->ok = 0;
    if (!h->ok)
        emu_log("WARN", "healing %s/%u from %llu failed: %s", h->coll, h->sid,
                (unsigned long long)h->from, st.msg);
    cJSON_Delete(records);
    if (emu_meta_update(heal_finish_fn, h, &st) != 0)
        emu_log("WARN", "can't finish the transfer of %s/%u: %s", h->coll, h->sid, st.msg);
}

/* One pass: start due heals of our Dead replicas, finish due transfers. */
static void heal_tick(void)
{
    cJSON *state = emu_meta_get();
    uint64_t me = emu_cfg()->peer_id;
    int64_t now = emu_wall_ms();
    const cJSON *coll;
    cJSON_ArrayForEach(coll, emu_topo_colls(state))
    {
        const cJSON *shard;
        cJSON_ArrayForEach(shard, emu_topo_shards(coll))
        {
            const cJSON *r = emu_topo_replica(shard, me);
            if (!r || strcmp(emu_topo_replica_state(r), "Dead") != 0 ||
                num_or(r, "heal_at", INT64_MAX) > now ||
                emu_topo_transfer(state, coll->string, emu_topo_shard_id(shard)))
                continue;
            struct heal h = {.sid = emu_topo_shard_id(shard)};
            struct emu_status st;
            snprintf(h.coll, sizeof(h.coll), "%s", coll->string);
            if (emu_meta_update(heal_start_fn, &h, &st) == 0 && h.ok)
                emu_log("INFO", "healing %s/%u from peer %llu", h.coll, h.sid,
                        (unsigned long long)h.from);
        }
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, emu_topo_transfers(state))
    {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "collection");
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(t, "to");
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(t, "from");
        uint64_t to_id = 0;
        struct heal h = {0};
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "heal")) || !cJSON_IsString(c) ||
            !cJSON_IsString(to) || emu_u64_parse(to->valuestring, &to_id) != 0 || to_id != me ||
            !cJSON_IsString(from) || emu_u64_parse(from->valuestring, &h.from) != 0 ||
            num_or(t, "finish_at", 0) > now)
            continue;
        snprintf(h.coll, sizeof(h.coll), "%s", c->valuestring);
        h.sid = (unsigned)num_or(t, "shard_id", 0);
        heal_finish(&h);
    }
    cJSON_Delete(state);
}

/* ---- background thread ---- */

static void *sync_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_sync.tmu);
    while (!g_sync.stop) {
        pthread_mutex_unlock(&g_sync.tmu);
        emu_sync_now();
        heal_tick();
        pthread_mutex_lock(&g_sync.tmu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!g_sync.stop)
            pthread_cond_timedwait(&g_sync.cv, &g_sync.tmu, &ts);
    }
    pthread_mutex_unlock(&g_sync.tmu);
    return NULL;
}

int emu_sync_start(void)
{
    if (pthread_create(&g_sync.thread, NULL, sync_main, NULL) != 0)
        return -1;
    g_sync.running = 1;
    return 0;
}

void emu_sync_stop(void)
{
    if (!g_sync.running)
        return;
    pthread_mutex_lock(&g_sync.tmu);
    g_sync.stop = 1;
    pthread_cond_broadcast(&g_sync.cv);
    pthread_mutex_unlock(&g_sync.tmu);
    pthread_join(g_sync.thread, NULL);
    g_sync.running = 0;
}
