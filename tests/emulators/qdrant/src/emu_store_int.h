/* SPDX-License-Identifier: Apache-2.0 */
/* emu_store_int.h -- internals shared by emu_store.c (collections, disk
 * layout, recovery) and emu_points.c (ids, vectors, point operations).  Not
 * for other modules: they use emu_store.h.  Locking rules are those of
 * emu_store.h: every field of struct emu_coll except name/refs/next is read
 * under the collection's rwlock (shared) and written under it (exclusive). */
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

struct emu_coll {
    char *name;
    char dir[EMU_PATH_MAX];
    char seg[37];          /* uuid of the one segment */
    cJSON *config;         /* config.json */
    struct emu_point *pts; /* sorted by id */
    size_t n, cap;
    uint64_t op_seq;       /* last operation id */
    pthread_rwlock_t lock; /* guards everything above except name */
    int refs;              /* guarded by g_store.mu */
    struct emu_coll *next; /* guarded by g_store.mu */
};

/* Orders ids like Qdrant's ExtendedPointId: integers first, then UUIDs. */
int emu_pid_cmp(const struct emu_pid *a, const struct emu_pid *b);
/* Parses an id (u64 number or UUID string); 400 on failure. */
int emu_pid_parse(const cJSON *j, struct emu_pid *out, struct emu_status *st);
/* New JSON for an id; exact even above 2^53 (raw number). */
cJSON *emu_pid_json(const struct emu_pid *id);
/* Index of the first point with id >= key (caller holds the lock). */
size_t emu_pts_lower_bound(const struct emu_coll *c, const struct emu_pid *key);
/* Inserts or replaces, taking ownership of p's JSON (exclusive lock). */
void emu_pts_put(struct emu_coll *c, struct emu_point *p);
/* Frees n points and the array. */
void emu_pts_free(struct emu_point *pts, size_t n);
/* True for a single unnamed vector config ({"size":…,"distance":…}). */
int emu_vec_is_single(const cJSON *vectors);
/* Rewrites points.json (exclusive lock). */
int emu_coll_persist(struct emu_coll *c);

#endif
