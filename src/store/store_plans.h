/* SPDX-License-Identifier: Apache-2.0
 *
 * store_plans.h -- the `plans` table: what to back up (a list of
 * collections, every collection, or the full instance), when (cron), where
 * to (destination and key prefix) and how long to keep it (retention).
 * JSON-valued fields are stored as the API validated them.
 */
#ifndef QB_STORE_PLANS_H
#define QB_STORE_PLANS_H

#include "common.h"
#include "store/store.h"

struct store_plan {
    int64_t id;
    char *name;
    char *instance;    /* instance name */
    char *destination; /* destination name */
    int64_t instance_id;
    int64_t destination_id;
    char *scope;       /* "collections", "all" or "full" */
    char *collections; /* JSON array of names and patterns (scope "collections") */
    char *exclude;     /* JSON array of names and patterns removed at run time */
    char *schedule;    /* cron expression or NULL: on demand only */
    char *timezone;    /* "UTC" or an IANA zone name */
    char *key_prefix;  /* "" or "a/b" */
    char *retention;   /* JSON object */
    bool verify;
    int64_t alert_after_s; /* 0: derived from the schedule */
    bool enabled;
    bool requeue_interrupted; /* queue again a run a restart interrupted */
    char *labels;             /* JSON object */
    char *reverify;           /* {"schedule", "max_bytes"} or NULL: no scheduled re-verification */
    int64_t last_reverify_at; /* latest re-verification slot handled (or the write), 0: none */
    char *shard_method;       /* clusters: "snapshot" (routes 12-14) or "stream" (route 15) */
    char *verify_mode;        /* with verify: "quick" or "full" (storage_verify_mode) */
    int64_t last_fire_at;     /* scheduler: latest slot handled, 0: none */
    int64_t skipped_fires;    /* slots skipped while a run was active */
    int64_t last_skipped_at;
    int64_t max_bytes_per_second; /* a cap on this plan's runs; 0: none */
    char *copies; /* JSON array [{"destination", "retention"}] (engine/copies.h), or NULL: [] */
    /* Read with the plan, not written with it: the limits of its instance
     * (reading Qdrant) and destination (writing), 0: none. */
    int64_t instance_max_read;
    int64_t destination_max_write;
    char *compression;            /* "none" or "zstd" */
    int64_t compression_level;    /* zstd 1..19 */
    char *encryption;             /* JSON key reference (engine/keyref.h), NULL: none */
    char *destination_encryption; /* read with the plan: its destination's */
    int64_t created_at;
    int64_t updated_at;
};

/* Frees every field of p and zeroes it, leaving p itself (a plan the
 * caller built in place); store_plan_free also frees p.  NULL fields are
 * fine. */
void store_plan_clear(struct store_plan *p);
void store_plan_free(struct store_plan *p);
void store_plan_list_free(struct store_plan **list, size_t n);

/* Inserts p, resolving p->instance and p->destination by name.
 * QB_ERR_CONFLICT: name taken; QB_ERR_NOT_FOUND: unknown instance or
 * destination (err says which). */
enum qb_err store_plan_insert(struct store *s, const struct store_plan *p, char *err,
                              size_t errlen) QB_MUSTCHECK;

/* Replaces every API-settable field of the plan named p->name (not the
 * scheduler bookkeeping).  Same errors as insert, plus QB_ERR_NOT_FOUND. */
enum qb_err store_plan_update(struct store *s, const struct store_plan *p, char *err,
                              size_t errlen) QB_MUSTCHECK;

enum qb_err store_plan_get(struct store *s, const char *name, struct store_plan **out, char *err,
                           size_t errlen) QB_MUSTCHECK;
enum qb_err store_plan_get_by_id(struct store *s, int64_t id, struct store_plan **out, char *err,
                                 size_t errlen) QB_MUSTCHECK;

/* All plans ordered by name; caller frees with store_plan_list_free. */
enum qb_err store_plan_list(struct store *s, struct store_plan ***out, size_t *n, char *err,
                            size_t errlen) QB_MUSTCHECK;

/* Deletes by name.  Runs and snapshots keep their history (plan_id is set
 * NULL).  QB_ERR_NOT_FOUND when absent; QB_ERR_CONFLICT while a run of the
 * plan is queued or running (checked in the same statement, so a trigger
 * racing the delete either queues before it, and the delete is refused, or
 * finds the plan gone). */
enum qb_err store_plan_delete(struct store *s, const char *name, char *err,
                              size_t errlen) QB_MUSTCHECK;

/* Scheduler: records that slot fire_at was handled; skipped counts it as a
 * slot not run because a run was still active. */
enum qb_err store_plan_mark_fire(struct store *s, int64_t plan_id, int64_t fire_at, bool skipped,
                                 char *err, size_t errlen) QB_MUSTCHECK;

/* Scheduler: records that re-verification slot `slot` was handled. */
enum qb_err store_plan_mark_reverify(struct store *s, int64_t plan_id, int64_t slot, char *err,
                                     size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_PLANS_H */
