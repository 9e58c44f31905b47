/* SPDX-License-Identifier: Apache-2.0
 *
 * retention_apply.h -- applies a plan's retention policy (retention.h, the
 * pure decision) to the catalogue and the destination: for one target
 * (plan + collection), decide, then delete each object to drop (and its
 * manifest) before its row.  A failed storage delete keeps the row and is
 * reported, so the catalogue never forgets an object that still exists.
 */
#ifndef QB_RETENTION_APPLY_H
#define QB_RETENTION_APPLY_H

#include "common.h"
#include "engine/retention.h"
#include "storage/storage.h"
#include "store/store.h"
#include "store/store_plans.h"

#include <cjson/cJSON.h>

/* Parses a plan's "retention" object: keep_last, keep_hourly, keep_daily,
 * keep_weekly, keep_monthly, keep_yearly (integers >= 0) and max_age
 * (seconds, or a string like "30d", "12h", "2w").  Unknown members are
 * refused.  Errors name the field ("retention.keep_daily: ..."). */
enum qb_err retention_policy_from_json(const cJSON *obj, struct retention_policy *p, char *err,
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

#endif /* QB_RETENTION_APPLY_H */
