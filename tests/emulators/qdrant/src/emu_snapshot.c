/* SPDX-License-Identifier: Apache-2.0 */
/* emu_snapshot.c -- snapshot archives and their files (see emu_snapshot.h). */
#include "emu_snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu_faults.h"
#include "emu_http.h"
#include "emu_meta.h"
#include "emu_store.h"
#include "emu_tar.h"
#include "emu_topo.h"
#include "emu_util.h"

/* The collection exists in the cluster (not only on this peer). */
static int meta_has(const char *coll)
{
    cJSON *state = emu_meta_get();
    int found = emu_topo_coll(state, coll) != NULL;
    cJSON_Delete(state);
    return found;
}

int emu_snap_dir(enum emu_snap_kind kind, const char *coll, unsigned shard, char *buf, size_t size)
{
    const char *base = emu_cfg()->snapshots_dir;
    switch (kind) {
    case EMU_SNAP_COLLECTION:
        return emu_pathf(buf, size, "%s/%s", base, coll);
    case EMU_SNAP_SHARD:
        return emu_pathf(buf, size, "%s/%s/shards/%u", base, coll, shard);
    default:
        return emu_pathf(buf, size, "%s", base);
    }
}

int emu_snap_check_shard(const char *coll, unsigned shard, enum emu_shard_check check,
                         struct emu_status *st)
{
    cJSON *state = emu_meta_get();
    const cJSON *c = emu_topo_coll(state, coll);
    const cJSON *s = c ? emu_topo_shard(c, shard) : NULL;
    int local = s && emu_topo_replica(s, emu_cfg()->peer_id) != NULL;
    cJSON_Delete(state);
    if (!c)
        return emu_fail(st, 404, "Not found: Collection `%s` doesn't exist!", coll);
    if (!s)
        return emu_fail(st, 404, "Not found: shard %u not found", shard);
    if (local || check == EMU_SHARD_EXISTS)
        return 0;
    /* ShardHolder::assert_shard_is_local(_or_queue_proxy) */
    return emu_fail(st, 400, "Wrong input: Shard %u is not a local %sshard", shard,
                    check == EMU_SHARD_LOCAL ? "" : "or queue proxy ");
}

/* ---- archive writing ---- */

/* Adds every regular file of dir as prefix/<file>. */
static int add_dir_files(struct emu_tar *t, const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    while (!t->err && (de = readdir(d)) != NULL) {
        char path[EMU_PATH_MAX], name[EMU_PATH_MAX];
        if (de->d_name[0] == '.' || emu_pathf(path, sizeof(path), "%s/%s", dir, de->d_name) != 0 ||
            !emu_is_file(path))
            continue;
        if (emu_pathf(name, sizeof(name), "%s%s", prefix, de->d_name) != 0)
            t->err = -1;
        else
            emu_tar_add_file(t, name, path);
    }
    closedir(d);
    return t->err;
}

/* Size of the nested segment tar: two directory entries, the files, trailer. */
static uint64_t segment_tar_size(const char *seg_dir)
{
    uint64_t size = 2 * 512 + emu_tar_trailer_span();
    DIR *d = opendir(seg_dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char path[EMU_PATH_MAX], name[EMU_PATH_MAX];
        struct stat sb;
        if (de->d_name[0] == '.' ||
            emu_pathf(path, sizeof(path), "%s/%s", seg_dir, de->d_name) != 0 ||
            stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) ||
            emu_pathf(name, sizeof(name), "snapshot/files/%s", de->d_name) != 0)
            continue;
        size += emu_tar_entry_span(name, (uint64_t)sb.st_size);
    }
    if (d)
        closedir(d);
    return size;
}

/* Writes one shard directory's content under prefix ("0/" or "").  nested:
 * segments as segments/<uuid>.tar (stored snapshots); else as
 * segments/<uuid>/files/… directories (route 15 stream format). */
static int write_shard(struct emu_tar *t, const char *shard_dir, const char *prefix, int nested)
{
    char segs[EMU_PATH_MAX], name[EMU_PATH_MAX], path[EMU_PATH_MAX];
    if (!emu_store_folder_has_data(shard_dir))
        return add_dir_files(t, shard_dir, prefix); /* another peer's replica */
    if (emu_pathf(segs, sizeof(segs), "%s/segments", shard_dir) != 0 ||
        emu_pathf(name, sizeof(name), "%ssegments", prefix) != 0)
        return t->err = -1;
    emu_tar_add_dir(t, name);
    DIR *d = opendir(segs);
    struct dirent *de;
    while (d && !t->err && (de = readdir(d)) != NULL) {
        char sd[EMU_PATH_MAX];
        if (de->d_name[0] == '.' || emu_pathf(sd, sizeof(sd), "%s/%s", segs, de->d_name) != 0 ||
            !emu_is_dir(sd))
            continue;
        if (nested) {
            uint64_t size = segment_tar_size(sd);
            if (emu_pathf(name, sizeof(name), "%ssegments/%s.tar", prefix, de->d_name) != 0)
                break;
            emu_tar_begin_entry(t, name, size);
            struct emu_tar inner;
            emu_tar_init_nested(&inner, t);
            emu_tar_add_dir(&inner, "snapshot");
            emu_tar_add_dir(&inner, "snapshot/files");
            add_dir_files(&inner, sd, "snapshot/files/");
            emu_tar_finish(&inner);
            if (inner.pos != size)
                t->err = -1; /* a file changed size under the lock: refuse */
            emu_tar_end_entry(t, size);
        } else {
            char pfx[EMU_PATH_MAX];
            if (emu_pathf(name, sizeof(name), "%ssegments/%s", prefix, de->d_name) != 0 ||
                emu_pathf(pfx, sizeof(pfx), "%ssegments/%s/files/", prefix, de->d_name) != 0)
                break;
            emu_tar_add_dir(t, name);
            emu_tar_add_dir(t, pfx);
            add_dir_files(t, sd, pfx);
        }
    }
    if (d)
        closedir(d);
    if (emu_pathf(name, sizeof(name), "%swal", prefix) != 0 ||
        emu_pathf(path, sizeof(path), "%s/wal", shard_dir) != 0)
        return t->err = -1;
    emu_tar_add_dir(t, name);
    if (emu_pathf(name, sizeof(name), "%swal/", prefix) == 0)
        add_dir_files(t, path, name);
    return add_dir_files(t, shard_dir, prefix);
}

/* Writes the archive into a temp file, renames it to dir/name and writes the
 * sidecar.  what: 0 collection, 1 shard (route 15 streams, see
 * emu_snap_stream_shard). */
static int write_archive(const char *coll, unsigned sid, const char *dir, const char *name,
                         int what, cJSON **desc, struct emu_status *st);

static int cmp_uint(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

/* Every shard folder of a collection directory as <id>/…, in id order:
 * segments and WAL only where this peer holds data (CONTRACT.md §7). */
static void write_shards(struct emu_tar *t, const char *coll_dir)
{
    unsigned ids[4096];
    size_t n = 0;
    DIR *d = opendir(coll_dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        uint64_t v;
        if (emu_u64_parse(de->d_name, &v) == 0 && v <= 0xffffffffu &&
            n < sizeof(ids) / sizeof(ids[0]))
            ids[n++] = (unsigned)v;
    }
    if (d)
        closedir(d);
    qsort(ids, n, sizeof(ids[0]), cmp_uint);
    for (size_t i = 0; i < n && !t->err; i++) {
        char dir[EMU_PATH_MAX], prefix[32];
        snprintf(prefix, sizeof(prefix), "%u/", ids[i]);
        if (emu_pathf(dir, sizeof(dir), "%s/%u", coll_dir, ids[i]) != 0) {
            t->err = -1;
            break;
        }
        emu_tar_add_dir(t, prefix);
        write_shard(t, dir, prefix, 1);
    }
}

static cJSON *describe(const char *path, const char *name)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return NULL;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", name);
    char ct[32];
    if (emu_birth_time(path, ct, sizeof(ct)))
        cJSON_AddStringToObject(d, "creation_time", ct);
    else
        cJSON_AddNullToObject(d, "creation_time");
    cJSON_AddNumberToObject(d, "size", (double)sb.st_size);
    char side[EMU_PATH_MAX], *text = NULL;
    size_t len;
    if (emu_version_at_least(1, 8) && emu_pathf(side, sizeof(side), "%s.checksum", path) == 0 &&
        emu_read_file(side, 256, &text, &len) == 0) {
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
            text[--len] = '\0';
        cJSON_AddStringToObject(d, "checksum", text);
        free(text);
    }
    return d;
}

static int finish_file(const char *tmp, const char *final, const char *hex, cJSON **desc,
                       const char *name, struct emu_status *st)
{
    char side[EMU_PATH_MAX];
    if (emu_pathf(side, sizeof(side), "%s.checksum", final) != 0)
        return emu_fail(st, 500, "Service internal error: path too long");
    unlink(side); /* a listing between rename and sidecar shows no checksum */
    if (rename(tmp, final) != 0) {
        unlink(tmp);
        return emu_fail(st, 500, "Service internal error: can't move snapshot into place");
    }
    if (emu_version_at_least(1, 8)) {
        char sum[65];
        snprintf(sum, sizeof(sum), "%s", hex);
        if (emu_faults_take_checksum())
            sum[0] = sum[0] == '0' ? '1' : '0'; /* injected: a checksum that lies */
        if (emu_write_file_atomic(side, sum, 64) != 0)
            return emu_fail(st, 500, "Service internal error: can't write checksum file");
    }
    *desc = describe(final, name);
    return *desc ? 0 : emu_fail(st, 500, "Service internal error: snapshot vanished");
}

static int open_tmp(char *tmp, size_t size, struct emu_status *st)
{
    if (emu_mkdirs(emu_cfg()->tmp_dir) != 0 ||
        emu_pathf(tmp, size, "%s/snapshot-XXXXXX", emu_cfg()->tmp_dir) != 0)
        return emu_fail(st, 500, "Service internal error: can't create temp directory");
    int fd = mkstemp(tmp);
    if (fd < 0)
        return emu_fail(st, 500, "Service internal error: can't create temp file");
    return fd;
}

static int write_archive(const char *coll, unsigned sid, const char *dir, const char *name,
                         int what, cJSON **desc, struct emu_status *st)
{
    st->http = 0;
    char tmp[EMU_PATH_MAX], final[EMU_PATH_MAX];
    if (emu_mkdirs(dir) != 0 || emu_pathf(final, sizeof(final), "%s/%s", dir, name) != 0)
        return emu_fail(st, 500, "Service internal error: can't create snapshot directory");
    int fd = open_tmp(tmp, sizeof(tmp), st);
    if (fd < 0)
        return -1;
    struct emu_coll *c = emu_store_acquire(coll, 0, st);
    if (!c) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    struct emu_tar t;
    emu_tar_init(&t, fd, 1);
    char shard[EMU_PATH_MAX];
    if (emu_pathf(shard, sizeof(shard), "%s/%u", emu_coll_dir(c), sid) != 0)
        t.err = -1;
    if (what != 0 && !emu_coll_has_shard(c, sid)) {
        t.err = -1; /* its replica went away meanwhile */
        emu_fail(st, 400, "Wrong input: Shard %u is not a local or queue proxy shard", sid);
    }
    if (what == 0) {
        static const char *const top[] = {"version.info", "config.json", "shard_key_mapping.json",
                                          "payload_index.json"};
        write_shards(&t, emu_coll_dir(c));
        for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
            char p[EMU_PATH_MAX];
            if (emu_pathf(p, sizeof(p), "%s/%s", emu_coll_dir(c), top[i]) == 0 && emu_is_file(p))
                emu_tar_add_file(&t, top[i], p);
        }
    } else {
        write_shard(&t, shard, "", 1);
    }
    emu_tar_finish(&t);
    emu_store_release(c);
    int rc = t.err;
    if (rc != 0 && st->http == 400) {
        emu_tar_cleanup(&t);
        close(fd);
        unlink(tmp);
        return -1;
    }
    char hex[65] = "";
    if (t.md)
        emu_tar_digest(&t, hex);
    emu_tar_cleanup(&t);
    if (close(fd) != 0 || rc != 0) {
        unlink(tmp);
        return emu_fail(st, 500, "Service internal error: can't write snapshot (disk full?)");
    }
    return finish_file(tmp, final, hex, desc, name, st);
}

int emu_snap_create_collection(const char *coll, cJSON **desc, struct emu_status *st)
{
    char dir[EMU_PATH_MAX], name[EMU_PATH_MAX], ts[32];
    if (!meta_has(coll))
        return emu_fail(st, 404, "Not found: Collection `%s` doesn't exist!", coll);
    emu_ts_name(ts, sizeof(ts));
    if (emu_snap_dir(EMU_SNAP_COLLECTION, coll, 0, dir, sizeof(dir)) != 0 ||
        emu_pathf(name, sizeof(name), "%s-%llu-%s.snapshot", coll,
                  (unsigned long long)emu_cfg()->peer_id, ts) != 0)
        return emu_fail(st, 500, "Service internal error: path too long");
    return write_archive(coll, 0, dir, name, 0, desc, st);
}

int emu_snap_create_shard(const char *coll, unsigned shard, cJSON **desc, struct emu_status *st)
{
    char dir[EMU_PATH_MAX], name[EMU_PATH_MAX], ts[32];
    if (emu_snap_check_shard(coll, shard, EMU_SHARD_LOCAL_OR_PROXY, st) != 0)
        return -1;
    emu_ts_name(ts, sizeof(ts));
    if (emu_snap_dir(EMU_SNAP_SHARD, coll, shard, dir, sizeof(dir)) != 0 ||
        emu_pathf(name, sizeof(name), "%s-shard-%u-%s.snapshot", coll, shard, ts) != 0)
        return emu_fail(st, 500, "Service internal error: path too long");
    return write_archive(coll, shard, dir, name, 1, desc, st);
}

/* Route 15's producer: writes the streamable archive into the pipe while
 * the connection thread sends what it reads from the other end. */
struct stream_job {
    char coll[EMU_PATH_MAX]; /* locked (shared) by the producer while it writes */
    unsigned sid;
    int fd; /* the pipe's write end */
};

static void stream_main(void *arg)
{
    struct stream_job *s = arg;
    struct emu_tar t;
    struct emu_status st = {0};
    char shard[EMU_PATH_MAX];
    emu_tar_init(&t, s->fd, 0);
    t.idle_ms = EMU_STREAM_IDLE_MS;
    /* The lock is taken here, on the thread that releases it: a rwlock
     * unlocked by another thread than its locker is undefined behaviour
     * (and ThreadSanitizer reads it as a lock-order inversion).  A
     * collection deleted between the 200 and this point gives a body that
     * ends at once, as a failure mid-stream does. */
    struct emu_coll *c = emu_store_acquire(s->coll, 0, &st);
    if (!c || !emu_coll_has_shard(c, s->sid) ||
        emu_pathf(shard, sizeof(shard), "%s/%u", emu_coll_dir(c), s->sid) != 0)
        t.err = -1;
    else
        write_shard(&t, shard, "", 0);
    /* After a failure nothing more is written, not even the end-of-archive
     * blocks: the client gets a body that ends early (Qdrant only logs). */
    emu_tar_finish(&t);
    if (c)
        emu_store_release(c);
    if (t.err)
        emu_log("WARN",
                "Failed to stream shard snapshot: shard %u (client gone, stalled or "
                "write error)",
                s->sid);
    emu_tar_cleanup(&t);
    close(s->fd);
    free(s);
}

int emu_snap_stream_shard(const char *coll, unsigned shard, char *name, size_t name_size,
                          struct emu_status *st)
{
    char ts[32];
    st->http = 0;
    if (emu_snap_check_shard(coll, shard, EMU_SHARD_LOCAL_OR_PROXY, st) != 0)
        return -1;
    emu_ts_name(ts, sizeof(ts));
    if (emu_pathf(name, name_size, "%s-shard-%u-%s.snapshot", coll, shard, ts) != 0)
        return emu_fail(st, 500, "Service internal error: path too long");
    struct emu_coll *c = emu_store_acquire(coll, 0, st);
    if (!c)
        return -1;
    if (!emu_coll_has_shard(c, shard)) { /* its replica went away meanwhile */
        emu_store_release(c);
        return emu_fail(st, 400, "Wrong input: Shard %u is not a local or queue proxy shard",
                        shard);
    }
    emu_store_release(c); /* the producer locks it again on its own thread */
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return emu_fail(st, 500, "Service internal error: can't create snapshot stream");
    struct stream_job *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    snprintf(s->coll, sizeof(s->coll), "%s", coll);
    s->sid = shard;
    s->fd = fds[1];
    emu_http_spawn(stream_main, s);
    return fds[0];
}

int emu_snap_create_full(cJSON **desc, struct emu_status *st)
{
    cJSON *state = emu_meta_get();
    cJSON *names = cJSON_CreateArray();
    const cJSON *cj;
    cJSON_ArrayForEach(cj, emu_topo_colls(state))
        cJSON_AddItemToArray(names, cJSON_CreateString(cj->string));
    cJSON *alias_map = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(state, "aliases"), 1);
    cJSON_Delete(state);
    cJSON *mapping = cJSON_CreateObject();
    cJSON *files = cJSON_CreateArray(); /* paths of the collection snapshots */
    int rc = 0;
    const cJSON *n;
    cJSON_ArrayForEach(n, names)
    {
        cJSON *d = NULL;
        char dir[EMU_PATH_MAX], path[EMU_PATH_MAX];
        if (emu_snap_create_collection(n->valuestring, &d, st) != 0) {
            if (st->http == 404)
                continue; /* deleted meanwhile */
            rc = -1;
            break;
        }
        const char *fname = cJSON_GetObjectItemCaseSensitive(d, "name")->valuestring;
        if (emu_snap_dir(EMU_SNAP_COLLECTION, n->valuestring, 0, dir, sizeof(dir)) != 0 ||
            emu_pathf(path, sizeof(path), "%s/%s", dir, fname) != 0) {
            cJSON_Delete(d);
            rc = emu_fail(st, 500, "Service internal error: path too long");
            break;
        }
        cJSON_AddStringToObject(mapping, n->valuestring, fname);
        cJSON_AddItemToArray(files, cJSON_CreateString(path));
        cJSON_Delete(d);
    }
    cJSON_Delete(names);
    char tmp[EMU_PATH_MAX], final[EMU_PATH_MAX], name[128], ts[32];
    int fd = rc == 0 ? open_tmp(tmp, sizeof(tmp), st) : -1;
    if (fd >= 0) {
        struct emu_tar t;
        emu_tar_init(&t, fd, 1);
        const cJSON *f;
        cJSON_ArrayForEach(f, files)
        {
            const char *base = strrchr(f->valuestring, '/') + 1;
            emu_tar_add_file(&t, base, f->valuestring);
        }
        cJSON *cfg = cJSON_CreateObject();
        cJSON_AddItemToObject(cfg, "collections_mapping", mapping);
        mapping = NULL;
        cJSON_AddItemToObject(cfg, "collections_aliases",
                              alias_map ? alias_map : cJSON_CreateObject());
        alias_map = NULL;
        char *text = cJSON_PrintUnformatted(cfg);
        cJSON_Delete(cfg);
        emu_tar_add_mem(&t, "config.json", text, strlen(text));
        cJSON_free(text);
        emu_tar_finish(&t);
        char hex[65];
        emu_tar_digest(&t, hex);
        rc = t.err;
        emu_tar_cleanup(&t);
        if (close(fd) != 0)
            rc = -1;
        emu_ts_name(ts, sizeof(ts));
        snprintf(name, sizeof(name), "full-snapshot-%s.snapshot", ts);
        if (rc != 0 ||
            emu_pathf(final, sizeof(final), "%s/%s", emu_cfg()->snapshots_dir, name) != 0) {
            unlink(tmp);
            rc = emu_fail(st, 500, "Service internal error: can't write full snapshot");
        } else {
            rc = finish_file(tmp, final, hex, desc, name, st);
        }
    } else {
        rc = -1;
    }
    /* The collection snapshots were moved into the full one. */
    const cJSON *f;
    cJSON_ArrayForEach(f, files)
    {
        char side[EMU_PATH_MAX];
        unlink(f->valuestring);
        if (emu_pathf(side, sizeof(side), "%s.checksum", f->valuestring) == 0)
            unlink(side);
    }
    cJSON_Delete(files);
    cJSON_Delete(mapping);
    cJSON_Delete(alias_map);
    return rc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Route 11 lists with assert_shard_is_local; 13/14 resolve the path with
 * assert_shard_is_local_or_queue_proxy (their texts differ). */
static int kind_check(enum emu_snap_kind kind, const char *coll, unsigned shard, int listing,
                      struct emu_status *st)
{
    if (kind == EMU_SNAP_FULL)
        return 0;
    if (kind == EMU_SNAP_SHARD)
        return emu_snap_check_shard(coll, shard,
                                    listing ? EMU_SHARD_LOCAL : EMU_SHARD_LOCAL_OR_PROXY, st);
    if (!meta_has(coll))
        return emu_fail(st, 404, "Not found: Collection `%s` doesn't exist!", coll);
    return 0;
}

cJSON *emu_snap_list(enum emu_snap_kind kind, const char *coll, unsigned shard,
                     struct emu_status *st)
{
    char dir[EMU_PATH_MAX];
    if (kind_check(kind, coll, shard, 1, st) != 0)
        return NULL;
    if (emu_snap_dir(kind, coll, shard, dir, sizeof(dir)) != 0) {
        emu_fail(st, 500, "Service internal error: path too long");
        return NULL;
    }
    cJSON *arr = cJSON_CreateArray();
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char path[EMU_PATH_MAX];
        if (de->d_name[0] == '.' || !ends_with(de->d_name, ".snapshot") ||
            emu_pathf(path, sizeof(path), "%s/%s", dir, de->d_name) != 0 || !emu_is_file(path))
            continue;
        cJSON *desc = describe(path, de->d_name);
        if (desc)
            cJSON_AddItemToArray(arr, desc);
    }
    if (d)
        closedir(d);
    return arr;
}

int emu_snap_path(enum emu_snap_kind kind, const char *coll, unsigned shard, const char *name,
                  char *buf, size_t size, struct emu_status *st)
{
    char dir[EMU_PATH_MAX];
    if (kind_check(kind, coll, shard, 0, st) != 0)
        return -1;
    if (strchr(name, '/') || strcmp(name, "..") == 0 || strcmp(name, ".") == 0 || !name[0] ||
        emu_snap_dir(kind, coll, shard, dir, sizeof(dir)) != 0 ||
        emu_pathf(buf, size, "%s/%s", dir, name) != 0 || !emu_is_file(buf))
        return emu_fail(st, 404, "Not found: Snapshot %s not found", name);
    return 0;
}

int emu_snap_delete(enum emu_snap_kind kind, const char *coll, unsigned shard, const char *name,
                    struct emu_status *st)
{
    char path[EMU_PATH_MAX], side[EMU_PATH_MAX];
    if (emu_snap_path(kind, coll, shard, name, path, sizeof(path), st) != 0)
        return -1;
    if (unlink(path) != 0)
        return emu_fail(st, 500, "Service internal error: can't delete snapshot");
    if (emu_pathf(side, sizeof(side), "%s.checksum", path) == 0)
        unlink(side);
    return 0;
}
