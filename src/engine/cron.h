/* SPDX-License-Identifier: Apache-2.0
 *
 * cron.h -- 5-field cron expressions: parsing, "next fire time" and the
 * typical interval of a schedule, evaluated in UTC or in a named time zone
 * read from a TZif file.  Everything except cron_tz_load is a pure function
 * of its arguments (no I/O, no globals), so any thread may call it.
 *
 * Semantics (day-of-month/day-of-week OR rule, DST gaps and overlaps) are
 * described in docs/internals/scheduling.md.
 */
#ifndef QB_CRON_H
#define QB_CRON_H

#include "common.h"

#include <stdbool.h>
#include <stdint.h>

/* A parsed expression.  A plain value: copy it freely. */
struct cron {
    uint64_t minutes; /* bit m set: minute m (0-59) matches */
    uint32_t hours;   /* bit h: hour h (0-23) */
    uint32_t mdays;   /* bit d: day of month d (1-31) */
    uint16_t months;  /* bit m: month m (1-12) */
    uint8_t wdays;    /* bit w: weekday w (0-6, 0 = Sunday; 7 is folded into 0) */
    bool mday_star;   /* day-of-month field began with '*' (Vixie DOM_STAR) */
    bool wday_star;   /* day-of-week field began with '*' (Vixie DOW_STAR) */
};

/* A loaded time zone: UTC offsets by instant.  Opaque; immutable once
 * loaded, so it may be shared between threads without locking. */
struct cron_tz;

/* How far ahead cron_next searches before giving up.  Long enough for a
 * Feb 29 schedule across 2100 (8 years) and for Feb-29-on-a-weekday
 * combinations (28-year weekday cycle). */
#define CRON_HORIZON_YEARS 50

/* Parses expr ("30 2 * * MON-FRI", "@daily", ...) into *out.
 * Returns QB_ERR_INVALID with a message naming the field ("hour: 24 is out
 * of range 0-23") on bad input; *out is then unspecified.  Pure. */
enum qb_err cron_parse(const char *expr, struct cron *out, char *err, size_t errlen) QB_MUSTCHECK;

/* True if the local wall-clock minute containing instant t (Unix seconds)
 * matches c.  tz NULL means UTC.  Does not apply the DST gap rule: a wall
 * time that does not exist never "contains" an instant.  Pure. */
bool cron_matches(const struct cron *c, const struct cron_tz *tz, int64_t t);

/* Stores in *next the first fire time strictly after `after` (Unix
 * seconds; the result is second 0 of a local minute).  tz NULL means UTC;
 * otherwise the fields are matched against local wall-clock time, a wall
 * time skipped by a DST gap fires at the end of the gap, and a repeated wall
 * time fires only at its first occurrence.  Returns QB_ERR_NOT_FOUND when
 * nothing fires within CRON_HORIZON_YEARS ("0 0 30 2 *"), QB_ERR_INVALID
 * when `after` is absurdly far from 1970.  c and tz are borrowed.  Pure. */
enum qb_err cron_next(const struct cron *c, const struct cron_tz *tz, int64_t after,
                      int64_t *next) QB_MUSTCHECK;

/* The longest gap, in seconds, between consecutive fires after `from`,
 * looking at least 8 days and 4 gaps ahead (so weekends, month lengths and
 * DST days are seen).  Used for "alert when no backup for twice the
 * interval": the maximum avoids false alarms on irregular schedules.
 * Returns 0 if the schedule fires fewer than twice within the horizon.
 * Pure. */
int64_t cron_typical_interval(const struct cron *c, const struct cron_tz *tz, int64_t from);

/* Loads /usr/share/zoneinfo/<name> ("Europe/Berlin").  "UTC" is built in
 * and needs no file.  name must be relative, without "..", made of
 * [A-Za-z0-9_+-./].  On success *out is owned by the caller, who frees it
 * with cron_tz_destroy.  Errors: QB_ERR_INVALID (bad name or malformed
 * file), QB_ERR_NOT_FOUND (no such zone), QB_ERR_IO.  The only function in
 * this module that does I/O; any thread may call it. */
enum qb_err cron_tz_load(const char *name, struct cron_tz **out, char *err,
                         size_t errlen) QB_MUSTCHECK;

/* Parses TZif data (RFC 8536, v1 to v4) already in memory; name is copied
 * for cron_tz_name.  Same ownership and errors as cron_tz_load.  Pure. */
enum qb_err cron_tz_parse(const char *name, const unsigned char *data, size_t len,
                          struct cron_tz **out, char *err, size_t errlen) QB_MUSTCHECK;

/* Frees tz.  NULL is a no-op. */
void cron_tz_destroy(struct cron_tz *tz);

/* The name given at load time; borrowed until cron_tz_destroy.  "UTC" for
 * a NULL tz. */
const char *cron_tz_name(const struct cron_tz *tz);

/* UTC offset in seconds (east positive) in effect at instant t; 0 for a
 * NULL tz.  Pure. */
int32_t cron_tz_offset(const struct cron_tz *tz, int64_t t);

#endif /* QB_CRON_H */
