/* SPDX-License-Identifier: Apache-2.0
 *
 * store_snapshots.h -- the catalogue proper: one row per snapshot that is
 * fully stored and whose SHA-256 matched.  Rows are inserted only after
 * the object is complete.  Deleting marks the row deleting, removes the
 * stored objects (the caller's job), then the row; a marked row is
 * invisible to get and list (never restored, downloaded, verified or
 * counted as the newest verified backup) until crash recovery or the
 * periodic pass for old marks finishes it (store_snapshot_list_deleting).
 */
#ifndef QB_STORE_SNAPSHOTS_H
#define QB_STORE_SNAPSHOTS_H

#include "common.h"
#include "store/store.h"

struct store_snapshot {
    int64_t id;
    int64_t plan_id;     /* 0 when the plan was deleted */
    char *plan_name;     /* NULL when the plan was deleted */
    int64_t run_id;      /* 0 when unknown */
    int64_t instance_id; /* 0 when the instance was deleted */
    char *instance_name;
    int64_t destination_id;
    char *destination_name;
    char *kind;       /* "collection", "full", "shard" */
    char *collection; /* NULL for full */
    int64_t shard_id; /* -1 when not a shard snapshot */
    char *qdrant_name;
    char *location;    /* s3://bucket/key or an absolute path */
    char *storage_key; /* key inside the destination */
    int64_t size_bytes;
    char *sha256;
    char *qdrant_checksum; /* or NULL */
    char *qdrant_version;  /* or NULL */
    int64_t points_count;  /* -1: unknown */
    int64_t created_at;
    int64_t verified_at; /* 0: never verified */
    char *verify_error;  /* last failed verification, or NULL */
    bool pinned;
    char *layout;       /* "snapshot": one object; "shards": a cluster backup set */
    char *backup_set;   /* layout "shards": the set's JSON (see backup_set.h), else NULL */
    int64_t keep_until; /* retention keeps it until this Unix time; 0: no such hold */
    char *labels;       /* JSON object: the labels of the run that took it */
    int64_t checked_at; /* last read back (either outcome); 0: never */
    /* What the stored object is (codec/codec.h).  size_bytes and sha256
     * above are the STORED bytes; raw_* the archive's.  Inserts: a NULL
     * codec is "none"; raw_size -1 and raw_sha256 NULL: unknown. */
    char *codec;          /* "none", "zstd", "aes256gcm", "zstd+aes256gcm" */
    int64_t raw_size;     /* -1: unknown */
    char *raw_sha256;     /* or NULL */
    char *key_id;         /* 8 hex digits, NULL when not encrypted */
    int64_t locked_until; /* S3 Object Lock retain-until (Unix time) of its objects; 0: none */
};

void store_snapshot_free(struct store_snapshot *s);
void store_snapshot_list_free(struct store_snapshot **list, size_t n);

/* Inserts the row (id ignored); *id receives the new id. */
enum qb_err store_snapshot_insert(struct store *s, const struct store_snapshot *snap, int64_t *id,
                                  char *err, size_t errlen) QB_MUSTCHECK;

/* The same for a backup run cataloguing what it made: inserted only while
 * snap->run_id is still running and owned by owner (the node that claimed
 * it, store_run_claim; "" for none), in the same statement.  A run taken
 * or settled meanwhile by someone else (a fleet node that adopted it while
 * this one was paused past fleet_dead_after, store_fleet.h) gets
 * QB_ERR_CONFLICT and nothing is inserted: the caller discards its
 * objects, so a run is never catalogued by two nodes. */
enum qb_err store_snapshot_insert_for_run(struct store *s, const struct store_snapshot *snap,
                                          const char *owner, int64_t *id, char *err,
                                          size_t errlen) QB_MUSTCHECK;

enum qb_err store_snapshot_get(struct store *s, int64_t id, struct store_snapshot **out, char *err,
                               size_t errlen) QB_MUSTCHECK;

struct store_snapshot_filter {
    const char *plan;        /* plan name, or NULL */
    const char *collection;  /* or NULL */
    const char *instance;    /* instance name, or NULL */
    const char *kind;        /* or NULL */
    int64_t plan_id;         /* 0: any */
    int64_t run_id;          /* 0: any; else the snapshots this run catalogued */
    bool collection_is_null; /* with plan_id: the full-instance target */
    bool verified_only;
    int64_t created_before; /* 0: any; else created_at < this */
    int64_t before_id;      /* cursor (with before_created): rows after */
    int64_t before_created; /* (before_created, before_id) in list order */
    int limit;              /* 0: no limit */
};

/* Snapshots matching f, newest first (created_at, then id). */
enum qb_err store_snapshot_list(struct store *s, const struct store_snapshot_filter *f,
                                struct store_snapshot ***out, size_t *n, char *err,
                                size_t errlen) QB_MUSTCHECK;

/* What retention decides on, per snapshot. */
struct store_snapshot_brief {
    int64_t id;
    int64_t created_at;
    int64_t verified_at; /* 0: never verified */
    bool pinned;
    int64_t keep_until;   /* 0: not held */
    int64_t locked_until; /* 0: not under S3 Object Lock */
};

/* The snapshots of one retention target (plan_id and collection; NULL:
 * the full-instance target) that are not being deleted, newest first, as
 * briefs read from an index alone: a target's history can be long, and
 * retention needs the whole row only of what it deletes.  Caller frees
 * *out with free(); *out is NULL when there is none. */
enum qb_err store_snapshot_list_retention(struct store *s, int64_t plan_id, const char *collection,
                                          struct store_snapshot_brief **out, size_t *n, char *err,
                                          size_t errlen) QB_MUSTCHECK;

/* The retention targets of a plan: the collections it has snapshots of
 * (an element is NULL for the full-instance target), the one with the
 * newest snapshot first.  Free with store_snapshot_targets_free. */
enum qb_err store_snapshot_targets(struct store *s, int64_t plan_id, char ***out, size_t *n,
                                   char *err, size_t errlen) QB_MUSTCHECK;
void store_snapshot_targets_free(char **list, size_t n);

/* Replaces the backup_set JSON of a set row (per-shard verification
 * results).  QB_ERR_NOT_FOUND when absent. */
enum qb_err store_snapshot_set_backup_set(struct store *s, int64_t id, const char *json, char *err,
                                          size_t errlen) QB_MUSTCHECK;

/* Deletes the row.  QB_ERR_NOT_FOUND when absent. */
enum qb_err store_snapshot_delete(struct store *s, int64_t id, char *err,
                                  size_t errlen) QB_MUSTCHECK;

/* Marks the row deleting (on), before its objects are deleted, or clears
 * the mark when their deletion failed.  Marking a row already marked, or
 * absent, is QB_ERR_NOT_FOUND: only one deletion owns a row. */
enum qb_err store_snapshot_mark_deleting(struct store *s, int64_t id, bool on, char *err,
                                         size_t errlen) QB_MUSTCHECK;

/* The rows marked deleting at or before marked_before (Unix seconds;
 * INT64_MAX: all) whose deletion never finished, oldest first; free with
 * store_snapshot_list_free.  A recent mark may belong to a deletion that
 * is running now, so the periodic pass asks only for old ones. */
enum qb_err store_snapshot_list_deleting(struct store *s, int64_t marked_before,
                                         struct store_snapshot ***out, size_t *n, char *err,
                                         size_t errlen) QB_MUSTCHECK;

enum qb_err store_snapshot_set_pinned(struct store *s, int64_t id, bool pinned, char *err,
                                      size_t errlen) QB_MUSTCHECK;

/* The snapshots of plan_id read back longest ago first (never first, then
 * by id), at most limit: a scheduled re-verification pass works down this
 * list until its byte budget is spent, so over the passes every snapshot
 * is read.  Free with store_snapshot_list_free. */
enum qb_err store_snapshot_list_reverify(struct store *s, int64_t plan_id, int limit,
                                         struct store_snapshot ***out, size_t *n, char *err,
                                         size_t errlen) QB_MUSTCHECK;

/* Records the archive's size and SHA-256 of a row that had none (a
 * compressed or encrypted object catalogued by a rescan without its
 * manifest, once a verify decoded it).  A row that has them is left. */
enum qb_err store_snapshot_set_raw(struct store *s, int64_t id, int64_t raw_size,
                                   const char *raw_sha256, char *err, size_t errlen) QB_MUSTCHECK;

/* Records a verification (checked_at in both cases): ok sets verified_at and clears verify_error;
 * otherwise verify_error is set and verified_at cleared, so that
 * "newest verified" never means a snapshot whose last check failed. */
enum qb_err store_snapshot_set_verified(struct store *s, int64_t id, bool ok, const char *error,
                                        char *err, size_t errlen) QB_MUSTCHECK;

/* True when a catalogued snapshot lives at key in destination_id. */
enum qb_err store_snapshot_key_exists(struct store *s, int64_t destination_id, const char *key,
                                      bool *exists, char *err, size_t errlen) QB_MUSTCHECK;

/* True when a catalogued snapshot of instance was made from Qdrant
 * snapshot `qdrant_name`. */
enum qb_err store_snapshot_qdrant_name_exists(struct store *s, const char *instance,
                                              const char *qdrant_name, bool *exists, char *err,
                                              size_t errlen) QB_MUSTCHECK;

/* How many snapshots are catalogued in destination_id. */
enum qb_err store_snapshot_count_in_destination(struct store *s, int64_t destination_id, int64_t *n,
                                                char *err, size_t errlen) QB_MUSTCHECK;

/* Catalogue totals for metrics: every row, also one being deleted; one
 * row kept by triggers (0011), whatever the size of the catalogue. */
enum qb_err store_snapshot_totals(struct store *s, int64_t *count, int64_t *bytes, char *err,
                                  size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_SNAPSHOTS_H */
