/* SPDX-License-Identifier: Apache-2.0 */
/* emu_store.c -- local collections (see emu_store.h).
 *
 * DESIGN: a collection lives in storage_dir/<name>/ with Qdrant's top-level
 * files (config.json, payload_index.json, shard_key_mapping.json,
 * version.info) and a folder per shard of the collection.  Every folder has
 * replica_state.json ({"is_local","this_peer_id","peers":{id:state}}) and
 * shard_config.json; only the shards this peer hosts also have data
 * (emu_shard.c).  All of it follows the cluster state: emu_store_apply
 * rewrites what differs and is the only place that creates or removes
 * shards, so the directory is always a consistent image a snapshot can
 * archive under the shared lock.
 *
 * Caveats: ids and payload integers above 2^53 lose precision (cJSON keeps
 * doubles); filters and multi-vectors are rejected rather than emulated. */
#include "emu_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_fill.h"
#include "emu_store_int.h"
#include "emu_topo.h"
#include "emu_util.h"

/* Lock-documented singleton (THREAD SAFETY NOTES in emu_store.h). */
static struct {
    pthread_mutex_t mu;
    struct emu_coll *head;
} g_store = {PTHREAD_MUTEX_INITIALIZER, NULL};

/* ---- registry ---- */

static struct emu_coll *coll_new(const char *name)
{
    struct emu_coll *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->name = strdup(name);
    if (!c->name)
        abort();
    if (emu_pathf(c->dir, sizeof(c->dir), "%s/%s", emu_cfg()->storage_dir, name) != 0)
        c->dir[0] = '\0'; /* unusable; every file operation on it fails */
    pthread_rwlock_init(&c->lock, NULL);
    return c;
}

static void coll_free(struct emu_coll *c)
{
    if (!c)
        return;
    free(c->applied);
    emu_shard_free_all(c);
    cJSON_Delete(c->config);
    pthread_rwlock_destroy(&c->lock);
    free(c->name);
    free(c);
}

/* Caller holds g_store.mu. */
static struct emu_coll *find_locked(const char *name)
{
    for (struct emu_coll *c = g_store.head; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void link_sorted_locked(struct emu_coll *c)
{
    struct emu_coll **pp = &g_store.head;
    while (*pp && strcmp((*pp)->name, c->name) < 0)
        pp = &(*pp)->next;
    c->next = *pp;
    *pp = c;
}

static void unlink_locked(struct emu_coll *c)
{
    struct emu_coll **pp = &g_store.head;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
}

struct emu_coll *emu_store_acquire(const char *name, int exclusive, struct emu_status *st)
{
    pthread_mutex_lock(&g_store.mu);
    struct emu_coll *c = find_locked(name);
    if (c)
        c->refs++;
    pthread_mutex_unlock(&g_store.mu);
    if (!c) {
        emu_fail(st, 404, "Not found: Collection `%s` doesn't exist!", name);
        return NULL;
    }
    if (exclusive)
        pthread_rwlock_wrlock(&c->lock);
    else
        pthread_rwlock_rdlock(&c->lock);
    return c;
}

void emu_store_release(struct emu_coll *c)
{
    if (!c)
        return;
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_lock(&g_store.mu);
    int gone = --c->refs == 0 && find_locked(c->name) != c;
    pthread_mutex_unlock(&g_store.mu);
    if (gone)
        coll_free(c);
}

const char *emu_coll_dir(const struct emu_coll *c)
{
    return c->dir;
}

int emu_coll_has_shard(struct emu_coll *c, unsigned sid)
{
    return emu_shard_find(c, sid) != NULL;
}

int emu_store_exists(const char *name)
{
    pthread_mutex_lock(&g_store.mu);
    int found = find_locked(name) != NULL;
    pthread_mutex_unlock(&g_store.mu);
    return found;
}

cJSON *emu_store_names(void)
{
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&g_store.mu);
    for (struct emu_coll *c = g_store.head; c; c = c->next)
        cJSON_AddItemToArray(arr, cJSON_CreateString(c->name));
    pthread_mutex_unlock(&g_store.mu);
    return arr;
}

static void set_uuid(struct emu_coll *c)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(c->config, "uuid");
    snprintf(c->uuid, sizeof(c->uuid), "%s", cJSON_IsString(u) ? u->valuestring : "");
}

/* ---- start and stop ---- */

static int is_shard_name(const char *s)
{
    uint64_t v;
    return emu_u64_parse(s, &v) == 0 && v <= 0xffffffffu;
}

/* Loads config.json and every shard folder holding data. */
static int coll_load(struct emu_coll *c, struct emu_status *st)
{
    char path[EMU_PATH_MAX];
    if (emu_pathf(path, sizeof(path), "%s/config.json", c->dir) != 0)
        return emu_fail(st, 500, "Service internal error: path too long");
    c->config = emu_json_load(path);
    if (!cJSON_IsObject(c->config))
        return emu_fail(st, 500, "Service internal error: no config.json");
    set_uuid(c);
    DIR *d = opendir(c->dir);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && d && (de = readdir(d)) != NULL) {
        char sd[EMU_PATH_MAX];
        if (!is_shard_name(de->d_name) ||
            emu_pathf(sd, sizeof(sd), "%s/%s", c->dir, de->d_name) != 0 || !emu_shard_has_data(sd))
            continue;
        rc = emu_shard_open(c, (unsigned)strtoul(de->d_name, NULL, 10), st);
    }
    if (d)
        closedir(d);
    return rc;
}

int emu_store_init(void)
{
    const char *dir = emu_cfg()->storage_dir;
    if (emu_mkdirs(dir) != 0)
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        struct emu_coll *c = coll_new(de->d_name);
        struct emu_status st;
        if (!emu_is_dir(c->dir) || coll_load(c, &st) != 0) {
            emu_log("WARN", "skipping %s: not a loadable collection", de->d_name);
            coll_free(c);
            continue;
        }
        link_sorted_locked(c); /* single-threaded at startup */
    }
    closedir(d);
    return 0;
}

void emu_store_shutdown(void)
{
    pthread_mutex_lock(&g_store.mu);
    struct emu_coll *c = g_store.head;
    g_store.head = NULL;
    pthread_mutex_unlock(&g_store.mu);
    while (c) {
        struct emu_coll *next = c->next;
        coll_free(c);
        c = next;
    }
}

/* ---- lifecycle ---- */

/* Waits (bounded) for a dropped collection's directory to disappear. */
static void wait_dir_gone(const char *dir)
{
    for (int i = 0; i < 500 && emu_is_dir(dir); i++)
        emu_sleep_ms(10);
}

static void remove_dir(const char *dir)
{
    char trash[EMU_PATH_MAX], uuid[37];
    emu_uuid4(uuid);
    /* Renamed first, so a collection created again under the same name never
     * sees a half-deleted directory. */
    if (emu_pathf(trash, sizeof(trash), "%s/.deleted-%s", emu_cfg()->storage_dir, uuid) == 0 &&
        rename(dir, trash) == 0)
        emu_rm_rf(trash);
    else
        emu_rm_rf(dir);
}

int emu_store_drop(const char *name)
{
    pthread_mutex_lock(&g_store.mu);
    struct emu_coll *c = find_locked(name);
    if (c) {
        unlink_locked(c);
        c->refs++;
    }
    pthread_mutex_unlock(&g_store.mu);
    if (!c)
        return 0;
    pthread_rwlock_wrlock(&c->lock);
    remove_dir(c->dir);
    emu_store_release(c);
    return 1;
}

/* Writes text to dir/file unless the file already holds exactly that. */
static int write_if_changed(const char *dir, const char *file, const char *text)
{
    char path[EMU_PATH_MAX], *old = NULL;
    size_t len;
    if (emu_pathf(path, sizeof(path), "%s/%s", dir, file) != 0)
        return -1;
    if (emu_read_file(path, (size_t)64 << 20, &old, &len) == 0 && strcmp(old, text) == 0) {
        free(old);
        return 0;
    }
    free(old);
    return emu_write_file_atomic(path, text, strlen(text));
}

static int write_json_if_changed(const char *dir, const char *file, const cJSON *j)
{
    char *text = cJSON_PrintUnformatted(j);
    if (!text)
        abort();
    int rc = write_if_changed(dir, file, text);
    cJSON_free(text);
    return rc;
}

static int write_top_files(struct emu_coll *c, const cJSON *coll)
{
    const cJSON *config = emu_topo_config(coll);
    cJSON *pi = cJSON_CreateObject();
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(coll, "payload_schema");
    cJSON_AddItemToObject(pi, "schema", schema ? cJSON_Duplicate(schema, 1) : cJSON_CreateObject());
    cJSON *mapping = emu_topo_key_mapping(coll);
    int rc = emu_mkdirs(c->dir);
    if (rc == 0)
        rc = write_json_if_changed(c->dir, "config.json", config);
    if (rc == 0)
        rc = write_json_if_changed(c->dir, "payload_index.json", pi);
    if (rc == 0)
        rc = write_json_if_changed(c->dir, "shard_key_mapping.json", mapping);
    if (rc == 0)
        rc = write_if_changed(c->dir, "version.info", "0.4.2");
    cJSON_Delete(pi);
    cJSON_Delete(mapping);
    if (rc == 0 && !cJSON_Compare(c->config, config, 1)) {
        cJSON_Delete(c->config);
        c->config = cJSON_Duplicate(config, 1);
        set_uuid(c);
    }
    return rc;
}

/* replica_state.json of one shard as this peer sees it. */
static cJSON *replica_state(const cJSON *shard, int hosted)
{
    uint64_t me = emu_cfg()->peer_id;
    cJSON *rs = cJSON_CreateObject();
    cJSON_AddBoolToObject(rs, "is_local", hosted);
    emu_json_add_u64(rs, "this_peer_id", me);
    cJSON *peers = cJSON_AddObjectToObject(rs, "peers");
    const cJSON *r;
    cJSON_ArrayForEach(r, emu_topo_replicas(shard))
    {
        char id[24];
        emu_u64_str(emu_topo_replica_peer(r), id, sizeof(id));
        cJSON_AddStringToObject(peers, id, emu_topo_replica_state(r));
    }
    return rs;
}

static int apply_shard(struct emu_coll *c, const cJSON *shard, struct emu_status *st)
{
    unsigned sid = emu_topo_shard_id(shard);
    int hosted = emu_topo_replica(shard, emu_cfg()->peer_id) != NULL;
    char dir[EMU_PATH_MAX];
    if (emu_shard_dir(c, sid, dir, sizeof(dir)) != 0 || emu_mkdirs(dir) != 0)
        return emu_fail(st, 500, "Service internal error: can't create shard folder");
    cJSON *rs = replica_state(shard, hosted);
    int rc = write_json_if_changed(dir, "replica_state.json", rs);
    cJSON_Delete(rs);
    if (rc == 0)
        rc = write_if_changed(dir, "shard_config.json", "{\"type\":\"ReplicaSet\"}");
    if (rc != 0)
        return emu_fail(st, 500, "Service internal error: can't write shard files");
    if (hosted && !emu_shard_find(c, sid))
        return emu_shard_open(c, sid, st);
    if (!hosted && (emu_shard_find(c, sid) || emu_shard_has_data(dir))) {
        emu_shard_forget(c, sid);
        emu_shard_clear(dir);
    }
    return 0;
}

/* Shard folders the state no longer lists (a dropped shard key). */
static void remove_stale_shards(struct emu_coll *c, const cJSON *coll)
{
    DIR *d = opendir(c->dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char p[EMU_PATH_MAX];
        if (!is_shard_name(de->d_name))
            continue;
        unsigned sid = (unsigned)strtoul(de->d_name, NULL, 10);
        if (emu_topo_shard(coll, sid))
            continue;
        emu_shard_forget(c, sid);
        if (emu_pathf(p, sizeof(p), "%s/%s", c->dir, de->d_name) == 0)
            emu_rm_rf(p);
    }
    if (d)
        closedir(d);
}

int emu_store_apply(const char *name, const cJSON *coll, struct emu_status *st)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(emu_topo_config(coll), "uuid");
    const char *uuid = cJSON_IsString(u) ? u->valuestring : "";
    char *text = cJSON_PrintUnformatted(coll);
    if (!text)
        abort();
    pthread_mutex_lock(&g_store.mu);
    struct emu_coll *c = find_locked(name);
    /* Unchanged since the last apply: nothing to do, and no lock to wait
     * for behind a long snapshot of this collection. */
    int same = c && c->applied && strcmp(c->applied, text) == 0;
    int recreated = c && strcmp(c->uuid, uuid) != 0;
    pthread_mutex_unlock(&g_store.mu);
    if (same) {
        cJSON_free(text);
        return 0;
    }
    if (recreated)
        emu_store_drop(name); /* deleted and created again meanwhile */
    pthread_mutex_lock(&g_store.mu);
    c = find_locked(name);
    if (!c) {
        c = coll_new(name);
        wait_dir_gone(c->dir);
        /* Locked before it becomes visible: nobody sees it half-built.  The
         * lock is fresh, so taking it under the global mutex cannot block. */
        pthread_rwlock_wrlock(&c->lock);
        link_sorted_locked(c);
        c->refs++;
        pthread_mutex_unlock(&g_store.mu);
    } else {
        c->refs++;
        pthread_mutex_unlock(&g_store.mu);
        pthread_rwlock_wrlock(&c->lock);
    }
    int rc = write_top_files(c, coll);
    if (rc != 0)
        emu_fail(st, 500, "Service internal error: can't write collection files");
    const cJSON *shard;
    cJSON_ArrayForEach(shard, emu_topo_shards(coll))
    {
        if (rc == 0)
            rc = apply_shard(c, shard, st);
    }
    if (rc == 0)
        remove_stale_shards(c, coll);
    /* emu_store_release, with `applied` set under the store mutex once the
     * collection lock is gone (lock order: store mutex first). */
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_lock(&g_store.mu);
    free(c->applied);
    c->applied = rc == 0 ? text : NULL;
    int gone = --c->refs == 0 && find_locked(c->name) != c;
    pthread_mutex_unlock(&g_store.mu);
    if (rc != 0)
        cJSON_free(text);
    if (gone)
        coll_free(c);
    return rc;
}

/* ---- recovery ---- */

int emu_store_install_shard(const char *name, unsigned sid, const char *prepared,
                            struct emu_status *st)
{
    struct emu_coll *c = emu_store_acquire(name, 1, st);
    if (!c)
        return -1;
    char dir[EMU_PATH_MAX], old[EMU_PATH_MAX], uuid[37];
    emu_uuid4(uuid);
    int rc = 0;
    if (emu_shard_dir(c, sid, dir, sizeof(dir)) != 0 ||
        emu_pathf(old, sizeof(old), "%s/.replaced-%s", emu_cfg()->storage_dir, uuid) != 0)
        rc = emu_fail(st, 500, "Service internal error: path too long");
    /* The folder's replica_state.json and shard_config.json stay ours: the
     * cluster state, not the archive, says who holds the shard. */
    static const char *const keep[] = {"replica_state.json", "shard_config.json"};
    for (size_t i = 0; rc == 0 && i < sizeof(keep) / sizeof(keep[0]); i++) {
        char a[EMU_PATH_MAX], b[EMU_PATH_MAX];
        if (emu_pathf(a, sizeof(a), "%s/%s", dir, keep[i]) != 0 ||
            emu_pathf(b, sizeof(b), "%s/%s", prepared, keep[i]) != 0)
            rc = emu_fail(st, 500, "Service internal error: path too long");
        else if (emu_is_file(a) && emu_move_file(a, b) != 0)
            rc = emu_fail(st, 500, "Service internal error: can't keep shard files");
    }
    if (rc == 0 && emu_is_dir(dir) && rename(dir, old) != 0)
        rc = emu_fail(st, 500, "Service internal error: can't move old shard away");
    if (rc == 0 && rename(prepared, dir) != 0) {
        (void)!rename(old, dir);
        rc = emu_fail(st, 500, "Service internal error: can't move recovered data into place");
    }
    if (rc == 0) {
        rc = emu_shard_open(c, sid, st);
        c->op_seq++;
    }
    emu_rm_rf(old);
    emu_store_release(c);
    return rc;
}

/* ---- debug fill ---- */

int emu_store_fill(const char *name, uint64_t mb, enum emu_fill_content content, unsigned dim,
                   struct emu_status *st)
{
    struct emu_coll *c = emu_store_acquire(name, 1, st);
    if (!c)
        return -1;
    char path[EMU_PATH_MAX];
    int rc = c->nsh ? emu_shard_seg_path(c, &c->sh[0], "fill.bin", path, sizeof(path)) : -1;
    int fd = rc == 0 ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (fd < 0) {
        emu_store_release(c);
        return emu_fail(st, 500, "Service internal error: can't create fill data");
    }
    rc = emu_fill_write(fd, name, mb, content, dim);
    if (close(fd) != 0)
        rc = -1;
    if (rc != 0)
        emu_fail(st, 500, "Service internal error: can't write fill data (disk full?)");
    c->op_seq++;
    emu_store_release(c);
    return rc;
}
