/* SPDX-License-Identifier: Apache-2.0
 *
 * schedule.h -- a plan's schedule as text (cron expression + time zone
 * name) turned into fire times, for the scheduler, the plans API
 * (validation, next_run_at) and staleness (default alert_after).  Thin
 * glue over the pure cron module; loads the zone from tzdata when not UTC.
 */
#ifndef QB_SCHEDULE_H
#define QB_SCHEDULE_H

#include "common.h"

/* Validates expr and timezone; err names the field ("schedule: ...",
 * "timezone: ..."). */
enum qb_err schedule_check(const char *expr, const char *timezone, char *err,
                           size_t errlen) QB_MUSTCHECK;

/* First fire time strictly after `after` (Unix seconds). */
enum qb_err schedule_next(const char *expr, const char *timezone, int64_t after, int64_t *next,
                          char *err, size_t errlen) QB_MUSTCHECK;

/* Latest fire time <= now and strictly after `after`, or 0 when there is
 * none (used for the one catch-up run after downtime). */
enum qb_err schedule_latest_due(const char *expr, const char *timezone, int64_t after, int64_t now,
                                int64_t *due, char *err, size_t errlen) QB_MUSTCHECK;

/* The longest gap between consecutive fires near `from`, in seconds; 0 on
 * error.  "Stale" defaults to twice this. */
int64_t schedule_interval(const char *expr, const char *timezone, int64_t from);

#endif /* QB_SCHEDULE_H */
