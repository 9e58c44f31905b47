/* SPDX-License-Identifier: Apache-2.0 */
/* emu_store.c -- collections and points (see emu_store.h).
 *
 * DESIGN: a collection lives in storage_dir/<name>/ with Qdrant's top-level
 * files (config.json, payload_index.json, shard_key_mapping.json,
 * version.info) and one local shard 0/ holding replica_state.json,
 * shard_config.json, newest_clocks.json, wal/ and segments/<uuid>/.  The one
 * segment stores segment.json, version.info, points.json (the emulator's own
 * format: an array of {id, vector, payload}) and optionally fill.bin (debug
 * ballast).  Points are also kept in memory, sorted like Qdrant's
 * ExtendedPointId (integers before UUIDs), and points.json is rewritten
 * atomically after each change, so the directory is always a consistent
 * image that a snapshot can archive under the shared lock.
 *
 * Caveats: ids and payload integers above 2^53 lose precision (cJSON keeps
 * doubles); filters, named sparse/multi vectors and shard_number > 1 are
 * rejected rather than emulated. */
#include "emu_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_store_int.h"
#include "emu_util.h"

/* Lock-documented singleton (THREAD SAFETY NOTES in emu_store.h). */
static struct {
    pthread_mutex_t mu;
    struct emu_coll *head;
} g_store = {PTHREAD_MUTEX_INITIALIZER, NULL};

/* Index of the first point with id >= key. */

/* Inserts or replaces; takes ownership of p's JSON. */

/* ---- vectors ---- */

/* Validates one dense vector against its params and stores Qdrant's f32
 * (Cosine: normalised) values. */

/* ---- persistence ---- */

static int seg_path(const struct emu_coll *c, const char *file, char *buf, size_t size)
{
    return emu_pathf(buf, size, "%s/0/segments/%s/%s", c->dir, c->seg, file);
}

int emu_coll_persist(struct emu_coll *c)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < c->n; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddItemToObject(p, "id", emu_pid_json(&c->pts[i].id));
        cJSON_AddItemToObject(p, "vector",
                              c->pts[i].vector ? cJSON_Duplicate(c->pts[i].vector, 1)
                                               : cJSON_CreateObject());
        cJSON_AddItemToObject(p, "payload", cJSON_Duplicate(c->pts[i].payload, 1));
        cJSON_AddItemToArray(arr, p);
    }
    char path[EMU_PATH_MAX];
    int rc = seg_path(c, "points.json", path, sizeof(path));
    if (rc == 0)
        rc = emu_json_save(path, arr);
    cJSON_Delete(arr);
    if (rc != 0)
        emu_log("ERROR", "can't persist points of %s", c->name);
    return rc;
}

int emu_store_write_shard_meta(const char *shard_dir)
{
    const struct emu_config *cfg = emu_cfg();
    char path[EMU_PATH_MAX], text[256];
    int rc = emu_pathf(path, sizeof(path), "%s/wal", shard_dir);
    if (rc == 0)
        rc = emu_mkdirs(path);
    snprintf(text, sizeof(text),
             "{\"is_local\":true,\"this_peer_id\":%llu,\"peers\":{\"%llu\":\"Active\"}}",
             (unsigned long long)cfg->peer_id, (unsigned long long)cfg->peer_id);
    if (rc == 0)
        rc = emu_pathf(path, sizeof(path), "%s/replica_state.json", shard_dir);
    if (rc == 0)
        rc = emu_write_file_atomic(path, text, strlen(text));
    static const char shard_cfg[] = "{\"type\":\"ReplicaSet\"}";
    if (rc == 0)
        rc = emu_pathf(path, sizeof(path), "%s/shard_config.json", shard_dir);
    if (rc == 0)
        rc = emu_write_file_atomic(path, shard_cfg, sizeof(shard_cfg) - 1);
    static const char clocks[] = "{\"clocks\":[]}";
    if (rc == 0)
        rc = emu_pathf(path, sizeof(path), "%s/newest_clocks.json", shard_dir);
    if (rc == 0)
        rc = emu_write_file_atomic(path, clocks, sizeof(clocks) - 1);
    return rc;
}

static int write_segment_meta(const char *seg_dir)
{
    char path[EMU_PATH_MAX];
    static const char seg_json[] =
        "{\"version\":0,\"config\":{\"vector_data\":{},\"payload_storage_type\":{\"type\":"
        "\"mmap\"}},\"segment_type\":\"plain\"}";
    int rc = emu_mkdirs(seg_dir);
    if (rc == 0)
        rc = emu_pathf(path, sizeof(path), "%s/segment.json", seg_dir);
    if (rc == 0)
        rc = emu_write_file_atomic(path, seg_json, sizeof(seg_json) - 1);
    if (rc == 0)
        rc = emu_pathf(path, sizeof(path), "%s/version.info", seg_dir);
    if (rc == 0)
        rc = emu_write_file_atomic(path, "0.6.0", 5);
    return rc;
}

/* Loads points of every segment under shard_dir/segments.  [out] *seg gets the
 * first segment's uuid ("" when none). */
static int load_shard(const char *shard_dir, struct emu_coll *tmp, struct emu_status *st)
{
    char segs[EMU_PATH_MAX];
    if (emu_pathf(segs, sizeof(segs), "%s/segments", shard_dir) != 0)
        return emu_fail(st, 500, "Service internal error: path too long");
    tmp->seg[0] = '\0';
    DIR *d = opendir(segs);
    if (!d)
        return 0;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        char sd[EMU_PATH_MAX], pj[EMU_PATH_MAX];
        if (de->d_name[0] == '.' || emu_pathf(sd, sizeof(sd), "%s/%s", segs, de->d_name) != 0 ||
            !emu_is_dir(sd))
            continue;
        if (!tmp->seg[0])
            snprintf(tmp->seg, sizeof(tmp->seg), "%.36s", de->d_name);
        if (emu_pathf(pj, sizeof(pj), "%s/points.json", sd) != 0 || !emu_is_file(pj))
            continue;
        cJSON *arr = emu_json_load(pj);
        if (!cJSON_IsArray(arr)) {
            cJSON_Delete(arr);
            rc = emu_fail(st, 500, "Service internal error: Failed to read segment state");
            break;
        }
        const cJSON *p;
        cJSON_ArrayForEach(p, arr)
        {
            struct emu_point pt = {0};
            if (emu_pid_parse(cJSON_GetObjectItemCaseSensitive(p, "id"), &pt.id, st) != 0) {
                rc = emu_fail(st, 500, "Service internal error: Failed to read segment state");
                break;
            }
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "vector");
            const cJSON *pl = cJSON_GetObjectItemCaseSensitive(p, "payload");
            pt.vector = v ? cJSON_Duplicate(v, 1) : NULL;
            pt.payload = cJSON_IsObject(pl) ? cJSON_Duplicate(pl, 1) : cJSON_CreateObject();
            emu_pts_put(tmp, &pt);
        }
        cJSON_Delete(arr);
    }
    closedir(d);
    return rc;
}

int emu_store_validate_dir(const char *dir, struct emu_status *st)
{
    struct emu_coll tmp = {0};
    int rc = load_shard(dir, &tmp, st);
    emu_pts_free(tmp.pts, tmp.n);
    return rc;
}

/* (Re)loads config and points from c->dir, creating a segment if none. */
static int coll_load(struct emu_coll *c, struct emu_status *st)
{
    char path[EMU_PATH_MAX], shard[EMU_PATH_MAX];
    if (emu_pathf(path, sizeof(path), "%s/config.json", c->dir) != 0 ||
        emu_pathf(shard, sizeof(shard), "%s/0", c->dir) != 0)
        return emu_fail(st, 500, "Service internal error: path too long");
    cJSON *config = emu_json_load(path);
    if (!cJSON_IsObject(config)) {
        cJSON_Delete(config);
        return emu_fail(st, 400,
                        "Wrong input: Snapshot archive does not contain a collection config");
    }
    struct emu_coll tmp = {0};
    if (load_shard(shard, &tmp, st) != 0) {
        cJSON_Delete(config);
        emu_pts_free(tmp.pts, tmp.n);
        return -1;
    }
    cJSON_Delete(c->config);
    emu_pts_free(c->pts, c->n);
    c->config = config;
    c->pts = tmp.pts;
    c->n = tmp.n;
    c->cap = tmp.cap;
    snprintf(c->seg, sizeof(c->seg), "%s", tmp.seg);
    int fresh = !c->seg[0];
    if (fresh)
        emu_uuid4(c->seg);
    char sd[EMU_PATH_MAX];
    if (emu_pathf(sd, sizeof(sd), "%s/segments/%s", shard, c->seg) != 0 ||
        write_segment_meta(sd) != 0 || emu_store_write_shard_meta(shard) != 0)
        return emu_fail(st, 500, "Service internal error: can't write shard files");
    /* Points of any other segment are folded into ours: rewrite and drop them. */
    if (emu_coll_persist(c) != 0)
        return emu_fail(st, 500, "Service internal error: can't write points");
    char segs[EMU_PATH_MAX];
    if (emu_pathf(segs, sizeof(segs), "%s/segments", shard) == 0) {
        DIR *d = opendir(segs);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            char pj[EMU_PATH_MAX];
            if (de->d_name[0] == '.' || strcmp(de->d_name, c->seg) == 0)
                continue;
            if (emu_pathf(pj, sizeof(pj), "%s/%s/points.json", segs, de->d_name) == 0)
                unlink(pj);
        }
        if (d)
            closedir(d);
    }
    return 0;
}

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
    emu_pts_free(c->pts, c->n);
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

const char *emu_coll_segment(const struct emu_coll *c)
{
    return c->seg;
}

/* ---- collection lifecycle ---- */

int emu_store_check_name(const char *name, struct emu_status *st)
{
    static const char bad[] = "<>:\"/\\|?*";
    size_t n = strlen(name);
    if (n < 1 || n > 255)
        return emu_fail(st, 422,
                        "Validation error in path parameters: [name: value \"%.64s\" invalid, must "
                        "be from 1 to 255 characters]",
                        name);
    for (const char *p = name; *p; p++) {
        if (strchr(bad, *p) || *p == '\x1f')
            return emu_fail(st, 422,
                            "Validation error in path parameters: [name: collection name cannot "
                            "contain \"%c\" char]",
                            *p);
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || name[0] == '.')
        return emu_fail(st, 422,
                        "Validation error in path parameters: [name: emulator rejects names "
                        "starting with \".\"]");
    return 0;
}

static void merge_diff(cJSON *base, const cJSON *diff)
{
    if (!cJSON_IsObject(diff))
        return;
    const cJSON *e;
    cJSON_ArrayForEach(e, diff)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(base, e->string);
        cJSON_AddItemToObject(base, e->string, cJSON_Duplicate(e, 1));
    }
}

static int check_vector_params(const cJSON *p, struct emu_status *st)
{
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(p, "size");
    const cJSON *dist = cJSON_GetObjectItemCaseSensitive(p, "distance");
    if (!cJSON_IsNumber(size) || !cJSON_IsString(dist))
        return emu_fail(st, 400, "Format error in JSON body: missing field `size` or `distance`");
    if (size->valuedouble < 1)
        return emu_fail(st, 422,
                        "Validation error in JSON body: [vectors.size: value 0 invalid, must be "
                        "1 or larger]");
    const char *d = dist->valuestring;
    if (strcmp(d, "Cosine") && strcmp(d, "Euclid") && strcmp(d, "Dot") && strcmp(d, "Manhattan"))
        return emu_fail(st, 400,
                        "Format error in JSON body: unknown variant `%s`, expected one of "
                        "`Cosine`, `Euclid`, `Dot`, `Manhattan`",
                        d);
    return 0;
}

static cJSON *build_config(const cJSON *body, struct emu_status *st)
{
    const cJSON *vectors = cJSON_GetObjectItemCaseSensitive(body, "vectors");
    if (vectors && !cJSON_IsObject(vectors)) {
        emu_fail(st, 400, "Format error in JSON body: invalid type for `vectors`");
        return NULL;
    }
    if (emu_vec_is_single(vectors)) {
        if (check_vector_params(vectors, st) != 0)
            return NULL;
    } else if (vectors) {
        const cJSON *v;
        cJSON_ArrayForEach(v, vectors)
        {
            if (check_vector_params(v, st) != 0)
                return NULL;
        }
    }
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(body, "shard_number");
    if (cJSON_IsNumber(shards) && shards->valuedouble != 1) {
        emu_fail(st, 400, "Wrong input: qdrant-emu supports shard_number 1 only");
        return NULL;
    }
    cJSON *cfg = cJSON_CreateObject();
    cJSON *params = cJSON_AddObjectToObject(cfg, "params");
    cJSON_AddItemToObject(params, "vectors",
                          vectors ? cJSON_Duplicate(vectors, 1) : cJSON_CreateObject());
    cJSON_AddNumberToObject(params, "shard_number", 1);
    static const char *const copy[] = {"replication_factor", "write_consistency_factor",
                                       "on_disk_payload", "sparse_vectors", "sharding_method"};
    cJSON_AddNumberToObject(params, "replication_factor", 1);
    cJSON_AddNumberToObject(params, "write_consistency_factor", 1);
    cJSON_AddTrueToObject(params, "on_disk_payload");
    for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, copy[i]);
        if (v && !cJSON_IsNull(v)) {
            cJSON_DeleteItemFromObjectCaseSensitive(params, copy[i]);
            cJSON_AddItemToObject(params, copy[i], cJSON_Duplicate(v, 1));
        }
    }
    cJSON *hnsw = cJSON_Parse("{\"m\":16,\"ef_construct\":100,\"full_scan_threshold\":10000,"
                              "\"max_indexing_threads\":0,\"on_disk\":false}");
    merge_diff(hnsw, cJSON_GetObjectItemCaseSensitive(body, "hnsw_config"));
    cJSON_AddItemToObject(cfg, "hnsw_config", hnsw);
    cJSON *opt = cJSON_Parse(
        "{\"deleted_threshold\":0.2,\"vacuum_min_vector_number\":1000,\"default_segment_number\":"
        "0,\"max_segment_size\":null,\"memmap_threshold\":null,\"indexing_threshold\":10000,"
        "\"flush_interval_sec\":5,\"max_optimization_threads\":null}");
    merge_diff(opt, cJSON_GetObjectItemCaseSensitive(body, "optimizers_config"));
    cJSON_AddItemToObject(cfg, "optimizer_config", opt);
    cJSON *wal = cJSON_Parse("{\"wal_capacity_mb\":32,\"wal_segments_ahead\":0}");
    merge_diff(wal, cJSON_GetObjectItemCaseSensitive(body, "wal_config"));
    cJSON_AddItemToObject(cfg, "wal_config", wal);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(body, "quantization_config");
    cJSON_AddItemToObject(cfg, "quantization_config",
                          q ? cJSON_Duplicate(q, 1) : cJSON_CreateNull());
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(body, "metadata");
    if (cJSON_IsObject(meta))
        cJSON_AddItemToObject(cfg, "metadata", cJSON_Duplicate(meta, 1));
    char uuid[37];
    emu_uuid4(uuid);
    cJSON_AddStringToObject(cfg, "uuid", uuid);
    return cfg;
}

static int write_collection_files(const char *dir, const cJSON *config)
{
    char path[EMU_PATH_MAX];
    int rc = emu_mkdirs(dir);
    if (rc == 0)
        rc = emu_pathf(path, sizeof(path), "%s/config.json", dir);
    if (rc == 0)
        rc = emu_json_save(path, config);
    if (rc == 0)
        rc = emu_pathf(path, sizeof(path), "%s/payload_index.json", dir);
    if (rc == 0)
        rc = emu_write_file_atomic(path, "{\"schema\":{}}", 13);
    if (rc == 0)
        rc = emu_pathf(path, sizeof(path), "%s/shard_key_mapping.json", dir);
    if (rc == 0)
        rc = emu_write_file_atomic(path, "[]", 2);
    if (rc == 0)
        rc = emu_pathf(path, sizeof(path), "%s/version.info", dir);
    if (rc == 0)
        rc = emu_write_file_atomic(path, "0.4.2", 5);
    return rc;
}

/* Waits (bounded) for a deleted collection's directory to disappear. */
static void wait_dir_gone(const char *dir)
{
    for (int i = 0; i < 500 && emu_is_dir(dir); i++)
        emu_sleep_ms(10);
}

int emu_store_create(const char *name, const cJSON *body, struct emu_status *st)
{
    if (emu_store_check_name(name, st) != 0)
        return -1;
    cJSON *config = build_config(body, st);
    if (!config)
        return -1;
    struct emu_coll *c = coll_new(name);
    pthread_mutex_lock(&g_store.mu);
    if (find_locked(name)) {
        pthread_mutex_unlock(&g_store.mu);
        cJSON_Delete(config);
        coll_free(c);
        return emu_fail(st, 400, "Wrong input: Collection `%s` already exists!", name);
    }
    wait_dir_gone(c->dir);
    int rc = write_collection_files(c->dir, config);
    cJSON_Delete(config);
    if (rc == 0)
        rc = coll_load(c, st);
    else
        emu_fail(st, 500, "Service internal error: can't write collection files");
    if (rc == 0)
        link_sorted_locked(c);
    pthread_mutex_unlock(&g_store.mu);
    if (rc != 0) {
        emu_rm_rf(c->dir);
        coll_free(c);
    }
    return rc;
}

int emu_store_delete(const char *name)
{
    pthread_mutex_lock(&g_store.mu);
    struct emu_coll *c = find_locked(name);
    struct emu_coll **pp = &g_store.head;
    while (c && *pp != c)
        pp = &(*pp)->next;
    if (c) {
        *pp = c->next;
        c->refs++;
    }
    pthread_mutex_unlock(&g_store.mu);
    if (!c)
        return 0;
    pthread_rwlock_wrlock(&c->lock);
    char trash[EMU_PATH_MAX], uuid[37];
    emu_uuid4(uuid);
    if (emu_pathf(trash, sizeof(trash), "%s/.deleted-%s", emu_cfg()->storage_dir, uuid) == 0 &&
        rename(c->dir, trash) == 0)
        emu_rm_rf(trash);
    else
        emu_rm_rf(c->dir);
    emu_store_release(c);
    return 1;
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

/* ---- reads ---- */

static size_t vectors_per_point(const cJSON *vectors)
{
    if (emu_vec_is_single(vectors))
        return 1;
    return (size_t)cJSON_GetArraySize(vectors);
}

cJSON *emu_store_info(const char *name, struct emu_status *st)
{
    struct emu_coll *c = emu_store_acquire(name, 0, st);
    if (!c)
        return NULL;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "green");
    cJSON_AddStringToObject(r, "optimizer_status", "ok");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(c->config, "params");
    if (!emu_version_at_least(1, 13)) {
        size_t vpp = vectors_per_point(cJSON_GetObjectItemCaseSensitive(params, "vectors"));
        cJSON_AddNumberToObject(r, "vectors_count", (double)(c->n * vpp));
    }
    cJSON_AddNumberToObject(r, "indexed_vectors_count", 0);
    cJSON_AddNumberToObject(r, "points_count", (double)c->n);
    cJSON_AddNumberToObject(r, "segments_count", 1);
    cJSON *cfg = cJSON_AddObjectToObject(r, "config");
    static const char *const keys[] = {"params",     "hnsw_config",         "optimizer_config",
                                       "wal_config", "quantization_config", "metadata"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->config, keys[i]);
        if (v)
            cJSON_AddItemToObject(cfg, keys[i], cJSON_Duplicate(v, 1));
    }
    cJSON_AddObjectToObject(r, "payload_schema");
    emu_store_release(c);
    return r;
}

long long emu_store_points_count(const char *name)
{
    struct emu_status st;
    struct emu_coll *c = emu_store_acquire(name, 0, &st);
    if (!c)
        return -1;
    long long n = (long long)c->n;
    emu_store_release(c);
    return n;
}

/* ---- writes ---- */

/* Parses PointsList or PointsBatch into owned points. */

int emu_store_fill(const char *name, uint64_t mb, struct emu_status *st)
{
    struct emu_coll *c = emu_store_acquire(name, 1, st);
    if (!c)
        return -1;
    char path[EMU_PATH_MAX];
    int rc = seg_path(c, "fill.bin", path, sizeof(path));
    int fd = rc == 0 ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (fd < 0) {
        emu_store_release(c);
        return emu_fail(st, 500, "Service internal error: can't create fill data");
    }
    /* xorshift64 seeded by the name: deterministic, incompressible bytes. */
    uint64_t x = UINT64_C(0x9E3779B97F4A7C15);
    for (const char *p = name; *p; p++)
        x = (x ^ (unsigned char)*p) * UINT64_C(0x100000001B3);
    enum { CHUNK = 1 << 20 };
    uint64_t *buf = malloc(CHUNK);
    if (!buf)
        abort();
    for (uint64_t m = 0; m < mb && rc == 0; m++) {
        for (size_t i = 0; i < CHUNK / sizeof(uint64_t); i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = x;
        }
        const char *p = (const char *)buf;
        size_t left = CHUNK;
        while (left > 0) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = -1;
                break;
            }
            p += w;
            left -= (size_t)w;
        }
    }
    free(buf);
    if (close(fd) != 0)
        rc = -1;
    if (rc != 0)
        emu_fail(st, 500, "Service internal error: can't write fill data (disk full?)");
    c->op_seq++;
    emu_store_release(c);
    return rc;
}

/* ---- recovery ---- */

static int config_compatible(const cJSON *a, const cJSON *b, struct emu_status *st)
{
    const cJSON *pa = cJSON_GetObjectItemCaseSensitive(a, "params");
    const cJSON *pb = cJSON_GetObjectItemCaseSensitive(b, "params");
    const cJSON *va = cJSON_GetObjectItemCaseSensitive(pa, "vectors");
    const cJSON *vb = cJSON_GetObjectItemCaseSensitive(pb, "vectors");
    if (!cJSON_Compare(va, vb, 1))
        return emu_fail(st, 400,
                        "Wrong input: Snapshot is not compatible with existing collection: "
                        "Collection vectors configuration is different");
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(pa, "shard_number");
    const cJSON *sb = cJSON_GetObjectItemCaseSensitive(pb, "shard_number");
    double na = cJSON_IsNumber(sa) ? sa->valuedouble : 1,
           nb = cJSON_IsNumber(sb) ? sb->valuedouble : 1;
    if (na != nb)
        return emu_fail(st, 400,
                        "Wrong input: Snapshot is not compatible with existing collection: "
                        "Collection shard number: %g does not match the snapshot shard number: %g",
                        na, nb);
    return 0;
}

/* Swaps `from` into `to`, keeping the old tree at `old` until success. */
static int swap_dirs(const char *from, const char *to, const char *old)
{
    if (emu_is_dir(to) && rename(to, old) != 0)
        return -1;
    if (rename(from, to) != 0) {
        if (emu_is_dir(old))
            (void)!rename(old, to);
        return -1;
    }
    return 0;
}

int emu_store_install(const char *name, const char *prepared, int shard_only, struct emu_status *st)
{
    char pcfg[EMU_PATH_MAX], old[EMU_PATH_MAX], uuid[37];
    emu_uuid4(uuid);
    if (emu_pathf(old, sizeof(old), "%s/.replaced-%s", emu_cfg()->storage_dir, uuid) != 0)
        return emu_fail(st, 500, "Service internal error: path too long");
    cJSON *newcfg = NULL;
    if (!shard_only) {
        if (emu_pathf(pcfg, sizeof(pcfg), "%s/config.json", prepared) != 0)
            return emu_fail(st, 500, "Service internal error: path too long");
        newcfg = emu_json_load(pcfg);
        if (!cJSON_IsObject(newcfg)) {
            cJSON_Delete(newcfg);
            return emu_fail(st, 400,
                            "Wrong input: Snapshot archive does not contain a collection config");
        }
    }
    pthread_mutex_lock(&g_store.mu);
    struct emu_coll *c = find_locked(name);
    int created = c == NULL;
    if (created) {
        if (shard_only) {
            pthread_mutex_unlock(&g_store.mu);
            return emu_fail(st, 404, "Not found: Collection `%s` doesn't exist!", name);
        }
        c = coll_new(name);
        wait_dir_gone(c->dir);
        /* Locked before it becomes visible: nobody sees it half-built.  The
         * lock is fresh, so taking it under the global mutex cannot block. */
        pthread_rwlock_wrlock(&c->lock);
        link_sorted_locked(c);
    }
    c->refs++;
    pthread_mutex_unlock(&g_store.mu);
    if (!created)
        pthread_rwlock_wrlock(&c->lock);
    int rc = 0;
    if (!created && newcfg)
        rc = config_compatible(c->config, newcfg, st);
    cJSON_Delete(newcfg);
    char target[EMU_PATH_MAX];
    if (rc == 0 && emu_pathf(target, sizeof(target), shard_only ? "%s/0" : "%s", c->dir) != 0)
        rc = emu_fail(st, 500, "Service internal error: path too long");
    if (rc == 0 &&
        (emu_mkdirs(emu_cfg()->storage_dir) != 0 || swap_dirs(prepared, target, old) != 0))
        rc = emu_fail(st, 500, "Service internal error: can't move recovered data into place");
    if (rc == 0) {
        rc = coll_load(c, st);
        c->op_seq++;
    }
    emu_rm_rf(old);
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_lock(&g_store.mu);
    c->refs--;
    int drop = created && rc != 0;
    if (drop) {
        struct emu_coll **pp = &g_store.head;
        while (*pp && *pp != c)
            pp = &(*pp)->next;
        if (*pp)
            *pp = c->next;
    }
    int free_it = drop && c->refs == 0;
    pthread_mutex_unlock(&g_store.mu);
    if (drop)
        emu_rm_rf(c->dir);
    if (free_it)
        coll_free(c);
    return rc;
}
