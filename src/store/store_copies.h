/* SPDX-License-Identifier: Apache-2.0
 *
 * store_copies.h -- the `snapshot_copies` table (migration 0019): every
 * location of a snapshot beyond the primary one in its snapshots row, with
 * its own state (pending, copying, stored, failed), checksum and
 * verification time.  engine/copies.h makes and deletes the copies; this
 * file only records them.
 */
#ifndef QB_STORE_COPIES_H
#define QB_STORE_COPIES_H

#include "common.h"
#include "store/store.h"

struct store_copy {
    int64_t id;
    int64_t snapshot_id;
    int64_t position; /* index in the plan's copies: the restore fallback order */
    int64_t destination_id;
    char *destination_name;
    char *storage_key; /* key inside the copy's destination */
    char *state;       /* "pending", "copying", "stored", "failed" */
    char *sha256;      /* as stored in the copy, or NULL before */
    int64_t size_bytes;
    int64_t verified_at; /* 0: never verified */
    int64_t attempts;
    char *last_error; /* or NULL */
    int64_t created_at;
};

void store_copy_list_free(struct store_copy **list, size_t n);

/* Records a copy to make (state pending) of snapshot_id in destination_id
 * under key; a copy already recorded for that pair is left as it is. */
enum qb_err store_copy_insert(struct store *s, int64_t snapshot_id, int64_t position,
                              int64_t destination_id, const char *key, char *err,
                              size_t errlen) QB_MUSTCHECK;

/* The copies of snapshot_id in fallback order (position).  Caller frees
 * with store_copy_list_free; *out is NULL when there is none. */
enum qb_err store_copy_list(struct store *s, int64_t snapshot_id, struct store_copy ***out,
                            size_t *n, char *err, size_t errlen) QB_MUSTCHECK;

/* The copies of plan_id's snapshots (not being deleted) that are not
 * stored and have had fewer than max_attempts tries, oldest snapshot
 * first.  Free with store_copy_list_free. */
enum qb_err store_copy_list_unfinished(struct store *s, int64_t plan_id, int64_t max_attempts,
                                       struct store_copy ***out, size_t *n, char *err,
                                       size_t errlen) QB_MUSTCHECK;

/* Marks copy id copying and counts the attempt. */
enum qb_err store_copy_begin(struct store *s, int64_t id, char *err, size_t errlen) QB_MUSTCHECK;

/* Records the outcome of an attempt: ok sets state stored with sha256
 * (borrowed), size and verified_at now, clearing last_error; otherwise
 * state failed with error (borrowed). */
enum qb_err store_copy_finish(struct store *s, int64_t id, bool ok, const char *sha256,
                              int64_t size, const char *error, char *err,
                              size_t errlen) QB_MUSTCHECK;

/* Deletes the row (its object is the caller's to delete first). */
enum qb_err store_copy_delete(struct store *s, int64_t id, char *err, size_t errlen) QB_MUSTCHECK;

/* What per-copy retention decides on (store_snapshot_brief's fields, the
 * copy's verification in verified_at). */
struct store_copy_brief {
    int64_t id; /* the snapshot's id, as retention identifies items */
    int64_t created_at;
    int64_t verified_at;
    bool pinned;
    int64_t keep_until;
    int64_t copy_id;
};

/* The stored copies in destination_id of the snapshots of one retention
 * target (plan_id, collection; NULL: the full instance) not being
 * deleted, newest first.  Caller frees *out with free(). */
enum qb_err store_copy_list_retention(struct store *s, int64_t plan_id, const char *collection,
                                      int64_t destination_id, struct store_copy_brief **out,
                                      size_t *n, char *err, size_t errlen) QB_MUSTCHECK;

/* Rescan: key in destination_id as a copy.  *existed: a copy row is
 * already there (nothing done).  Else, when a catalogued snapshot of
 * (instance, collection (NULL: full), Qdrant snapshot name) with the same
 * sha256 lives in another destination, records a stored copy of it and
 * sets *snapshot_id (0: no such snapshot, nothing done). */
enum qb_err store_copy_link(struct store *s, int64_t destination_id, const char *key,
                            const char *instance, const char *collection, const char *qdrant_name,
                            const char *sha256, int64_t size, bool *existed, int64_t *snapshot_id,
                            char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_COPIES_H */
