/* SPDX-License-Identifier: Apache-2.0
 *
 * retention.h -- decides which snapshots of one target (plan, collection)
 * a retention policy deletes.  A pure function of its arguments: no I/O,
 * no globals, so any thread may call it and a dry run is the same call.
 * Acting on the verdict (catalogue rows, storage objects) is
 * retention_apply.h.
 *
 * The rules (grandfather-father-son buckets as restic's `forget` defines
 * them, pinned and held snapshots, the newest verified snapshot, max_age) are
 * specified in docs/internals/scheduling.md.
 */
#ifndef QB_RETENTION_H
#define QB_RETENTION_H

#include "common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every field 0 = "not set".  All zero is the empty policy, which keeps
 * everything (so a typo can never delete backups). */
struct retention_policy {
    int keep_last;     /* keep the N newest unpinned snapshots */
    int keep_hourly;   /* newest snapshot in each of the last N hours (UTC) with one */
    int keep_daily;    /* ... last N days */
    int keep_weekly;   /* ... last N ISO 8601 weeks (Monday to Sunday) */
    int keep_monthly;  /* ... last N calendar months */
    int keep_yearly;   /* ... last N years */
    int64_t max_age_s; /* delete snapshots older than this, even if a keep_* rule chose them */
};

struct retention_item {
    int64_t id;           /* larger id = created later, breaks created_at ties */
    int64_t created_at;   /* Unix seconds */
    bool pinned;          /* never deleted, and not counted by any keep_* rule */
    bool verified;        /* a restore check passed */
    int64_t keep_until;   /* held as if pinned while now < keep_until; 0: no hold */
    int64_t locked_until; /* S3 Object Lock: never deleted before; 0: not locked */
};

#define RETENTION_REASON_SIZE 48

struct retention_decision {
    int64_t id;                         /* copied from the item */
    bool keep;                          /* false = delete */
    char reason[RETENTION_REASON_SIZE]; /* "daily 2026-11-24", "pinned", ... */
};

/* QB_OK if every field is >= 0; otherwise QB_ERR_INVALID with a message
 * naming the field ("keep_daily must not be negative").  Pure. */
enum qb_err retention_policy_check(const struct retention_policy *p, char *err,
                                   size_t errlen) QB_MUSTCHECK;

/* True when no field is set (the policy keeps everything). */
bool retention_policy_is_empty(const struct retention_policy *p);

/* Decides every item: out[i] is the decision for items[i], in input order;
 * items need not be sorted.  now (Unix seconds) is the reference for
 * max_age.  items and out are borrowed for the call; out must hold n
 * entries.  Returns QB_ERR_INVALID (and writes nothing to out) if the
 * policy fails retention_policy_check.  Pure; allocates only a scratch
 * array. */
enum qb_err retention_decide(const struct retention_policy *p, const struct retention_item *items,
                             size_t n, int64_t now, struct retention_decision *out, char *err,
                             size_t errlen) QB_MUSTCHECK;

/* A plan's S3 Object Lock ("retention": {"object_lock": {...}}): what
 * mode objects are written in and for how long.  mode "" = no lock. */
struct retention_lock {
    char mode[16];    /* "GOVERNANCE" or "COMPLIANCE" (S3's spelling) */
    int64_t period_s; /* retain-until = written_at + period_s */
};

/* The retain-until date (Unix seconds) of an object written at written_at
 * under l, 0 when l locks nothing.  Pure. */
int64_t retention_lock_until(const struct retention_lock *l, int64_t written_at);

#endif /* QB_RETENTION_H */
