/* SPDX-License-Identifier: Apache-2.0 */
/* emu_meta.c -- the shared cluster state file (see emu_meta.h). */
#include "emu_meta.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "emu_util.h"

/* Lock-documented singleton: every field guarded by mu.  `state` is the
 * last version read or written; (ino, size, mtime) identify its file. */
static struct {
    pthread_mutex_t mu;
    cJSON *state;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char path[EMU_PATH_MAX];
    char lock_path[EMU_PATH_MAX];
} g_meta = {.mu = PTHREAD_MUTEX_INITIALIZER};

int64_t emu_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cJSON *empty_state(void)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "version", 0);
    cJSON_AddNumberToObject(s, "epoch", 0);
    cJSON_AddArrayToObject(s, "peers");
    cJSON_AddObjectToObject(s, "collections");
    cJSON_AddObjectToObject(s, "aliases");
    cJSON_AddArrayToObject(s, "transfers");
    return s;
}

/* Adds any top-level member a hand-edited or older file lacks. */
static void complete(cJSON *s)
{
    cJSON *e = empty_state();
    cJSON *it;
    cJSON_ArrayForEach(it, e)
    {
        if (!cJSON_GetObjectItemCaseSensitive(s, it->string))
            cJSON_AddItemToObject(s, it->string, cJSON_Duplicate(it, 1));
    }
    cJSON_Delete(e);
}

/* Caller holds mu.  Re-reads the file when it is not the one cached. */
static void refresh_locked(void)
{
    struct stat sb;
    if (stat(g_meta.path, &sb) != 0) {
        if (!g_meta.state)
            g_meta.state = empty_state();
        return;
    }
    if (g_meta.state && sb.st_ino == g_meta.ino && sb.st_size == g_meta.size &&
        sb.st_mtim.tv_sec == g_meta.mtime.tv_sec && sb.st_mtim.tv_nsec == g_meta.mtime.tv_nsec)
        return;
    cJSON *s = emu_json_load(g_meta.path);
    if (!cJSON_IsObject(s)) {
        cJSON_Delete(s); /* cannot happen with atomic renames; keep what we had */
        if (!g_meta.state)
            g_meta.state = empty_state();
        return;
    }
    complete(s);
    cJSON_Delete(g_meta.state);
    g_meta.state = s;
    g_meta.ino = sb.st_ino;
    g_meta.size = sb.st_size;
    g_meta.mtime = sb.st_mtim;
}

cJSON *emu_meta_get(void)
{
    pthread_mutex_lock(&g_meta.mu);
    refresh_locked();
    cJSON *copy = cJSON_Duplicate(g_meta.state, 1);
    pthread_mutex_unlock(&g_meta.mu);
    if (!copy)
        abort();
    return copy;
}

uint64_t emu_meta_version(void)
{
    pthread_mutex_lock(&g_meta.mu);
    refresh_locked();
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(g_meta.state, "version");
    uint64_t n = cJSON_IsNumber(v) ? (uint64_t)v->valuedouble : 0;
    pthread_mutex_unlock(&g_meta.mu);
    return n;
}

/* Writes s as the new file.  emu_write_file_atomic's fixed temp name is
 * safe: only the holder of the file lock writes. */
static int save(const cJSON *s)
{
    char *text = cJSON_PrintUnformatted(s);
    if (!text)
        abort();
    int rc = emu_write_file_atomic(g_meta.path, text, strlen(text));
    cJSON_free(text);
    return rc;
}

int emu_meta_update(emu_meta_fn fn, void *arg, struct emu_status *st)
{
    pthread_mutex_lock(&g_meta.mu);
    int fd = open(g_meta.lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        if (fd >= 0)
            close(fd);
        pthread_mutex_unlock(&g_meta.mu);
        return emu_fail(st, 500, "Service internal error: can't lock the cluster state");
    }
    cJSON *s = emu_json_load(g_meta.path);
    if (!cJSON_IsObject(s)) {
        cJSON_Delete(s);
        s = empty_state();
    }
    complete(s);
    char *before = cJSON_PrintUnformatted(s);
    int rc = fn(s, arg, st);
    char *after = rc == 0 ? cJSON_PrintUnformatted(s) : NULL;
    if (rc == 0 && strcmp(before, after) != 0) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "version");
        cJSON_SetNumberValue(v, (cJSON_IsNumber(v) ? v->valuedouble : 0) + 1);
        if (save(s) != 0)
            rc = emu_fail(st, 500, "Service internal error: can't write the cluster state");
    }
    cJSON_free(before);
    cJSON_free(after);
    cJSON_Delete(s);
    /* The cache catches up on the next read (the file has a new inode). */
    refresh_locked();
    flock(fd, LOCK_UN);
    close(fd);
    pthread_mutex_unlock(&g_meta.mu);
    return rc;
}

int emu_meta_init(void)
{
    const struct emu_config *cfg = emu_cfg();
    if (emu_mkdirs(cfg->meta_dir) != 0 ||
        emu_pathf(g_meta.path, sizeof(g_meta.path), "%s/cluster.json", cfg->meta_dir) != 0 ||
        emu_pathf(g_meta.lock_path, sizeof(g_meta.lock_path), "%s/cluster.lock", cfg->meta_dir) !=
            0)
        return -1;
    return 0;
}

static int register_fn(cJSON *state, void *arg, struct emu_status *st)
{
    (void)arg;
    (void)st;
    const struct emu_config *cfg = emu_cfg();
    char id[24];
    emu_u64_str(cfg->peer_id, id, sizeof(id));
    cJSON *peers = cJSON_GetObjectItemCaseSensitive(state, "peers");
    cJSON *p, *mine = NULL;
    cJSON_ArrayForEach(p, peers)
    {
        const cJSON *pid = cJSON_GetObjectItemCaseSensitive(p, "id");
        if (cJSON_IsString(pid) && strcmp(pid->valuestring, id) == 0)
            mine = p;
    }
    if (!mine) {
        mine = cJSON_CreateObject();
        cJSON_AddStringToObject(mine, "id", id);
        cJSON_AddItemToArray(peers, mine);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(mine, "uri");
    cJSON_DeleteItemFromObjectCaseSensitive(mine, "url");
    cJSON_AddStringToObject(mine, "uri", cfg->p2p_uri);
    cJSON_AddStringToObject(mine, "url", cfg->rest_url);
    return 0;
}

int emu_meta_register(void)
{
    struct emu_status st;
    int rc = emu_meta_update(register_fn, NULL, &st);
    if (rc != 0)
        emu_log("ERROR", "can't register in %s: %s", g_meta.path, st.msg);
    return rc;
}
