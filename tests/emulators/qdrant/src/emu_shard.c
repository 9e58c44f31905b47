/* SPDX-License-Identifier: Apache-2.0 */
/* emu_shard.c -- one local shard on disk: <collection>/<id>/ with
 * shard_config.json and replica_state.json (written by emu_store.c from the
 * cluster state), newest_clocks.json, wal/ and one segment
 * segments/<uuid>/{segment.json, version.info, points.json, fill.bin}.
 * points.json is the emulator's own format, an array of
 * {id, vector, payload}; it is rewritten atomically after each change. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_store_int.h"
#include "emu_util.h"

int emu_shard_dir(const struct emu_coll *c, unsigned sid, char *buf, size_t size)
{
    return emu_pathf(buf, size, "%s/%u", c->dir, sid);
}

struct emu_shard *emu_shard_find(struct emu_coll *c, unsigned sid)
{
    for (size_t i = 0; i < c->nsh; i++)
        if (c->sh[i].id == sid)
            return &c->sh[i];
    return NULL;
}

int emu_shard_seg_path(const struct emu_coll *c, const struct emu_shard *s, const char *file,
                       char *buf, size_t size)
{
    return emu_pathf(buf, size, "%s/%u/segments/%s/%s", c->dir, s->id, s->seg, file);
}

int emu_shard_has_data(const char *shard_dir)
{
    char a[EMU_PATH_MAX], b[EMU_PATH_MAX];
    return emu_pathf(a, sizeof(a), "%s/wal", shard_dir) == 0 &&
           emu_pathf(b, sizeof(b), "%s/segments", shard_dir) == 0 && emu_is_dir(a) && emu_is_dir(b);
}

int emu_store_folder_has_data(const char *shard_dir)
{
    return emu_shard_has_data(shard_dir);
}

void emu_shard_clear(const char *shard_dir)
{
    DIR *d = opendir(shard_dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char p[EMU_PATH_MAX];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, "replica_state.json") == 0 ||
            strcmp(de->d_name, "shard_config.json") == 0)
            continue;
        if (emu_pathf(p, sizeof(p), "%s/%s", shard_dir, de->d_name) == 0)
            emu_rm_rf(p);
    }
    if (d)
        closedir(d);
}

static void shard_free(struct emu_shard *s)
{
    emu_pts_free(s->pts, s->n);
    s->pts = NULL;
    s->n = s->cap = 0;
}

void emu_shard_forget(struct emu_coll *c, unsigned sid)
{
    struct emu_shard *s = emu_shard_find(c, sid);
    if (!s)
        return;
    shard_free(s);
    size_t i = (size_t)(s - c->sh);
    memmove(&c->sh[i], &c->sh[i + 1], (c->nsh - i - 1) * sizeof(*c->sh));
    c->nsh--;
}

void emu_shard_free_all(struct emu_coll *c)
{
    for (size_t i = 0; i < c->nsh; i++)
        shard_free(&c->sh[i]);
    free(c->sh);
    c->sh = NULL;
    c->nsh = 0;
}

int emu_shard_persist(struct emu_coll *c, struct emu_shard *s)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < s->n; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddItemToObject(p, "id", emu_pid_json(&s->pts[i].id));
        cJSON_AddItemToObject(p, "vector",
                              s->pts[i].vector ? cJSON_Duplicate(s->pts[i].vector, 1)
                                               : cJSON_CreateObject());
        cJSON_AddItemToObject(p, "payload", cJSON_Duplicate(s->pts[i].payload, 1));
        cJSON_AddItemToArray(arr, p);
    }
    char path[EMU_PATH_MAX];
    int rc = emu_shard_seg_path(c, s, "points.json", path, sizeof(path));
    if (rc == 0)
        rc = emu_json_save(path, arr);
    cJSON_Delete(arr);
    if (rc != 0)
        emu_log("ERROR", "can't persist points of %s/%u", c->name, s->id);
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

/* wal/ and newest_clocks.json: what makes a folder a shard with data. */
static int write_data_meta(const char *shard_dir)
{
    char path[EMU_PATH_MAX];
    static const char clocks[] = "{\"clocks\":[]}";
    int rc = emu_pathf(path, sizeof(path), "%s/wal", shard_dir);
    if (rc == 0)
        rc = emu_mkdirs(path);
    if (rc == 0)
        rc = emu_pathf(path, sizeof(path), "%s/newest_clocks.json", shard_dir);
    if (rc == 0 && !emu_is_file(path))
        rc = emu_write_file_atomic(path, clocks, sizeof(clocks) - 1);
    return rc;
}

/* Loads points of every segment under shard_dir/segments into tmp.  [out]
 * tmp->seg gets the first segment's uuid ("" when none). */
static int load_points(const char *shard_dir, struct emu_shard *tmp, struct emu_status *st)
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
            pt.vector = v && !cJSON_IsNull(v) ? cJSON_Duplicate(v, 1) : NULL;
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
    struct emu_shard tmp = {0};
    int rc = load_points(dir, &tmp, st);
    emu_pts_free(tmp.pts, tmp.n);
    return rc;
}

/* Points of any other segment were folded into ours: drop their files so a
 * point lives in one place only. */
static void drop_other_points(const char *shard_dir, const char *keep)
{
    char segs[EMU_PATH_MAX];
    if (emu_pathf(segs, sizeof(segs), "%s/segments", shard_dir) != 0)
        return;
    DIR *d = opendir(segs);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char pj[EMU_PATH_MAX];
        if (de->d_name[0] == '.' || strcmp(de->d_name, keep) == 0)
            continue;
        if (emu_pathf(pj, sizeof(pj), "%s/%s/points.json", segs, de->d_name) == 0)
            unlink(pj);
    }
    if (d)
        closedir(d);
}

int emu_shard_open(struct emu_coll *c, unsigned sid, struct emu_status *st)
{
    char dir[EMU_PATH_MAX], sd[EMU_PATH_MAX];
    if (emu_shard_dir(c, sid, dir, sizeof(dir)) != 0)
        return emu_fail(st, 500, "Service internal error: path too long");
    struct emu_shard tmp = {.id = sid};
    if (load_points(dir, &tmp, st) != 0) {
        emu_pts_free(tmp.pts, tmp.n);
        return -1;
    }
    if (!tmp.seg[0])
        emu_uuid4(tmp.seg);
    if (emu_pathf(sd, sizeof(sd), "%s/segments/%s", dir, tmp.seg) != 0 ||
        write_segment_meta(sd) != 0 || write_data_meta(dir) != 0) {
        emu_pts_free(tmp.pts, tmp.n);
        return emu_fail(st, 500, "Service internal error: can't write shard files");
    }
    emu_shard_forget(c, sid);
    size_t i = 0;
    while (i < c->nsh && c->sh[i].id < sid)
        i++;
    c->sh = realloc(c->sh, (c->nsh + 1) * sizeof(*c->sh));
    if (!c->sh)
        abort();
    memmove(&c->sh[i + 1], &c->sh[i], (c->nsh - i) * sizeof(*c->sh));
    c->sh[i] = tmp;
    c->nsh++;
    if (emu_shard_persist(c, &c->sh[i]) != 0)
        return emu_fail(st, 500, "Service internal error: can't write points");
    drop_other_points(dir, c->sh[i].seg);
    return 0;
}
