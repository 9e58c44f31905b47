/* SPDX-License-Identifier: Apache-2.0
 *
 * store_cleanup.h -- the `qdrant_cleanup` table: Qdrant snapshots waiting
 * to be deleted again after a failed delete (see engine/qdrant_janitor.h).
 */
#ifndef QB_STORE_CLEANUP_H
#define QB_STORE_CLEANUP_H

#include "common.h"
#include "store/store.h"

struct store_cleanup {
    int64_t id;
    char *instance_name;
    char *url;   /* a cluster peer's REST URL, or NULL: the instance's */
    char *scope; /* "collection", "full" or "shard" */
    char *collection;
    int64_t shard_id; /* -1 unless scope "shard" */
    char *snapshot;
    int64_t attempts;
    int64_t next_at;
    char *last_error;
    int64_t sweep_since; /* 0: a named entry; else a sweep (snapshot ""): the */
    int64_t sweep_until; /* abandoned create's window (qdrant_janitor.h) */
};

void store_cleanup_list_free(struct store_cleanup **list, size_t n);

/* Adds an entry due at next_at (id, attempts, last_error as given). */
enum qb_err store_cleanup_add(struct store *s, const struct store_cleanup *c, char *err,
                              size_t errlen) QB_MUSTCHECK;

/* Entries due at `now`, oldest first, at most limit. */
enum qb_err store_cleanup_due(struct store *s, int64_t now, int limit, struct store_cleanup ***out,
                              size_t *n, char *err, size_t errlen) QB_MUSTCHECK;

/* Done: the snapshot is gone. */
enum qb_err store_cleanup_done(struct store *s, int64_t id, char *err, size_t errlen) QB_MUSTCHECK;

/* Failed again: the next attempt at next_at. */
enum qb_err store_cleanup_retry(struct store *s, int64_t id, int64_t next_at, const char *error,
                                char *err, size_t errlen) QB_MUSTCHECK;

/* True when a named entry for snapshot `name` of instance waits. */
enum qb_err store_cleanup_has(struct store *s, const char *instance, const char *name, bool *found,
                              char *err, size_t errlen) QB_MUSTCHECK;

/* How many named entries wait (for status and tests); sweeps, which
 * look for a snapshot that may never exist, are not counted. */
enum qb_err store_cleanup_count(struct store *s, int64_t *n, char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_CLEANUP_H */
