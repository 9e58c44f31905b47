/* SPDX-License-Identifier: Apache-2.0
 *
 * retention_apply.h -- applies a plan's retention policy (retention.h, the
 * pure decision) to the catalogue and the destination: for one target
 * (plan + collection), decide, then delete each snapshot to drop: mark its
 * row deleting, delete its objects (and manifest), then the row.  A failed
 * storage delete keeps the row and is reported, so the catalogue never
 * forgets an object that still exists; a crash after the mark leaves a
 * row that start-up recovery finishes deleting, so the catalogue never
 * lists a snapshot whose objects are gone.
 */
#ifndef QB_RETENTION_APPLY_H
#define QB_RETENTION_APPLY_H

#include "common.h"
#include "engine/retention.h"
#include "storage/storage.h"
#include "store/store.h"
#include "store/store_plans.h"
#include "store/store_snapshots.h"

#include <cjson/cJSON.h>

/* Parses a plan's "retention" object: keep_last, keep_hourly, keep_daily,
 * keep_weekly, keep_monthly, keep_yearly (integers >= 0) and max_age
 * (seconds, or a string like "30d", "12h", "2w").  Unknown members are
 * refused.  Errors name the field ("retention.keep_daily: ..."). */
enum qb_err retention_policy_from_json(const cJSON *obj, struct retention_policy *p, char *err,
                                       size_t errlen) QB_MUSTCHECK;

/* Parses the "object_lock" member of a plan's "retention" object (also
 * checked by retention_policy_from_json): {"mode": "governance" |
 * "compliance", "days": 1..36500}; without days the lock lasts max_age,
 * and without max_age days is required (keep_* counts give no date).  No
 * member: l->mode is "".  Errors name the field
 * ("retention.object_lock.days: ..."). */
enum qb_err retention_lock_from_json(const cJSON *retention, struct retention_lock *l, char *err,
                                     size_t errlen) QB_MUSTCHECK;

/* Applies plan's policy to its snapshots of collection (NULL: the full
 * instance target).  With dry_run nothing is deleted.  decisions (a cJSON
 * array, may be NULL) receives {"snapshot_id", "keep", "reason"} per
 * snapshot, plus "deleted": true/false or "error" for each one dropped;
 * *deleted (may be NULL) counts what was removed.  storage must be the
 * plan's destination (may be NULL with dry_run). */
enum qb_err retention_apply_target(struct store *store, struct storage *storage,
                                   const struct store_plan *plan, const char *collection,
                                   bool dry_run, cJSON *decisions, int *deleted, char *err,
                                   size_t errlen) QB_MUSTCHECK;

/* Deletes catalogued snapshot s for good (retention and DELETE
 * /v1/snapshots/{id}): marks its row deleting (store_snapshot_mark_deleting),
 * deletes every object (each shard of a set, the manifest) from s's own
 * destination -- storage when storage_dest is s's, else opened here --
 * then the row.  A failed object delete clears the mark: the row stays
 * listed and the error is returned.  marked: the row is already marked
 * (recovery); it is not marked again and stays marked on failure.  A row
 * another deletion already marked is QB_ERR_NOT_FOUND. */
enum qb_err retention_delete_snapshot(struct store *store, struct storage *storage,
                                      int64_t storage_dest, const struct store_snapshot *s,
                                      bool marked, char *err, size_t errlen) QB_MUSTCHECK;

/* Finishes the deletions that were marked at or before marked_before but
 * never done: at start-up (crash recovery, at_startup, INT64_MAX: every
 * mark is a dead process's) and periodically from the scheduler's thread
 * for marks older than RETENTION_STALE_MARK_S (a start-up attempt that
 * failed, e.g. the destination was unreachable), so such a row does not
 * wait for the next restart.  One that fails stays marked (hidden) for the
 * next pass.  Returns how many were finished. */
#define RETENTION_STALE_MARK_S 900
size_t retention_finish_deletions(struct store *store, int64_t marked_before, bool at_startup);

#endif /* QB_RETENTION_APPLY_H */
