/* SPDX-License-Identifier: Apache-2.0 */
/* emu_store_int.h -- internals shared by emu_store.c (local collections),
 * emu_shard.c (one local shard on disk) and emu_points.c (ids, vectors,
 * point operations).  Not for other modules: they use emu_store.h.  Locking
 * rules are those of emu_store.h: every field of struct emu_coll except
 * name/refs/next/applied is read under the collection's rwlock (shared) and
 * written under it (exclusive); uuid and applied only change in
 * emu_store_apply, which emu_sync.c runs one at a time. */
#ifndef EMU_STORE_INT_H
#define EMU_STORE_INT_H

#include <pthread.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "emu_store.h"

struct emu_pid {
    int is_uuid;
    uint64_t num;
    char uuid[37];
};

struct emu_point {
    struct emu_pid id;
    cJSON *vector;  /* owned; NULL = no vectors */
    cJSON *payload; /* owned; object */
};

/* One local shard: its single segment and its points, sorted by id. */
struct emu_shard {
    unsigned id;
    char seg[37]; /* uuid of the one segment */
    struct emu_point *pts;
    size_t n, cap;
};

struct emu_coll {
    char *name;
    char dir[EMU_PATH_MAX];
    char uuid[64];        /* the cluster state's uuid of this collection */
    char *applied;        /* state entry last applied (text), under the store mutex */
    cJSON *config;        /* config.json */
    struct emu_shard *sh; /* local shards with data, sorted by id */
    size_t nsh;
    uint64_t op_seq;       /* last operation id */
    pthread_rwlock_t lock; /* guards everything above except name */
    int refs;              /* guarded by the store mutex */
    struct emu_coll *next; /* guarded by the store mutex */
};

/* ---- emu_points.c ---- */

/* Orders ids like Qdrant's ExtendedPointId: integers first, then UUIDs. */
int emu_pid_cmp(const struct emu_pid *a, const struct emu_pid *b);
/* Parses an id (u64 number or UUID string); 400 on failure. */
int emu_pid_parse(const cJSON *j, struct emu_pid *out, struct emu_status *st);
/* New JSON for an id; exact even above 2^53 (raw number). */
cJSON *emu_pid_json(const struct emu_pid *id);
/* Index of the first point with id >= key (caller holds the lock). */
size_t emu_pts_lower_bound(const struct emu_shard *s, const struct emu_pid *key);
/* Inserts or replaces, taking ownership of p's JSON (exclusive lock). */
void emu_pts_put(struct emu_shard *s, struct emu_point *p);
/* Frees n points and the array. */
void emu_pts_free(struct emu_point *pts, size_t n);
/* True for a single unnamed vector config ({"size":…,"distance":…}). */
int emu_vec_is_single(const cJSON *vectors);

/* ---- emu_shard.c ---- */

/* Path of shard sid's folder in c. */
int emu_shard_dir(const struct emu_coll *c, unsigned sid, char *buf, size_t size) EMU_MUSTCHECK;
/* The local shard sid of c, or NULL. */
struct emu_shard *emu_shard_find(struct emu_coll *c, unsigned sid);
/* Loads (or, when it holds no data, creates) local shard sid from its
 * folder into c, replacing what c held for it (exclusive lock). */
int emu_shard_open(struct emu_coll *c, unsigned sid, struct emu_status *st) EMU_MUSTCHECK;
/* Forgets local shard sid (memory only). */
void emu_shard_forget(struct emu_coll *c, unsigned sid);
/* Frees every shard of c (memory only). */
void emu_shard_free_all(struct emu_coll *c);
/* Rewrites the shard's points.json (exclusive lock). */
int emu_shard_persist(struct emu_coll *c, struct emu_shard *s);
/* Path of a file in the shard's segment. */
int emu_shard_seg_path(const struct emu_coll *c, const struct emu_shard *s, const char *file,
                       char *buf, size_t size) EMU_MUSTCHECK;
/* 1 when a shard folder holds data (wal/ and segments/, as Qdrant's
 * check_data). */
int emu_shard_has_data(const char *shard_dir);
/* Removes a shard folder's data, keeping replica_state.json and
 * shard_config.json (LocalShard::clear). */
void emu_shard_clear(const char *shard_dir);

#endif
