/* SPDX-License-Identifier: Apache-2.0
 *
 * sched.h -- the public surface of src/sched/: when plans run.  Three
 * layers, each built on the one before:
 *
 *   cron       5-field cron expressions: parsing, "next fire time" and the
 *              typical interval of a schedule, evaluated in UTC or in a
 *              named time zone read from a TZif file (cron.c, cron_tz.c).
 *              Everything except cron_tz_load is a pure function of its
 *              arguments (no I/O, no globals), so any thread may call it.
 *   schedule   a plan's schedule as text (cron expression + zone name)
 *              turned into fire times, for the scheduler, the plans API
 *              (validation, next_run_at) and staleness (default
 *              alert_after); caches loaded zones (schedule.c).
 *   scheduler  one thread that queues a run when an enabled plan's
 *              schedule comes due (scheduler.c).
 *
 * Layering: main -> api -> sched -> engine/http -> remote ->
 * store/util/config -> common.  The scheduler queues runs in the catalogue
 * (store) and wakes the engine, so sched sits above engine; the API and
 * main include this header, engine and below never do.  cron_internal.h
 * is private to cron.c and cron_tz.c.
 *
 * Semantics (day-of-month/day-of-week OR rule, DST gaps and overlaps, the
 * catch-up rule) are described in docs/internals/scheduling.md.
 */
#ifndef QB_SCHED_H
#define QB_SCHED_H

#include "common.h"

#include <stdbool.h>
#include <stdint.h>

struct engine;
struct store;

/* ------------------------------------------------------------------ cron */

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

/* -------------------------------------------------------------- schedule */
/* Thin glue over cron: loads the zone from tzdata when not UTC (cached,
 * re-read every few minutes).  Any thread may call these. */

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

/* Seconds without a success after which a plan is stale: alert_after_s
 * when set (> 0), else twice schedule_interval(expr) near now, else 0
 * (no schedule, no promise: never stale). */
int64_t schedule_alert_after(const char *expr, const char *timezone, int64_t alert_after_s,
                             int64_t now);

/* ------------------------------------------------------------- scheduler */
/* One thread that queues a run when an enabled plan's schedule comes due.
 *
 * DESIGN
 * Each tick (one second) it reads the plans and, per scheduled plan, finds
 * the latest fire time after the last one it handled (plans.last_fire_at)
 * and not after now.  Several missed slots (qbackupd was down) collapse
 * into that one catch-up run.  The run is inserted with scheduled_for =
 * the slot, and a unique index on (plan, scheduled_for) makes a second
 * insert of the same slot impossible, also across restarts.  If the plan
 * still has a queued or running run, the slot is skipped and counted
 * (plans.skipped_fires), so a slow backup never piles up a queue.
 */

struct scheduler;

struct leader_config;
struct leader_info;

struct scheduler_config {
    /* Shifts the scheduler's idea of now (tests use it to reach a minute
     * boundary quickly; 0 in production). */
    int64_t clock_offset_s;
    /* Testing aid: from clock_anchor (unix seconds; 0: now) the
     * scheduler's clock runs clock_speed (>= 1) times faster than real
     * time, so a test sees many schedule ticks in little time; nodes of a
     * fleet given one anchor share one clock. */
    int64_t clock_speed;
    int64_t clock_anchor;
    /* NULL when this qbackupd is alone on its catalogue (SQLite): it
     * always schedules.  On a catalogue shared by a fleet (PostgreSQL) the
     * leadership lock's configuration (fleet/leader.h; copied): the
     * thread polls the lock before each pass and fires schedules,
     * finishes deletions, runs the Qdrant janitor, checks staleness and
     * adopts the runs of dead nodes only while it leads, so the fleet does
     * that work once.  A lost lock stops the passes at the next poll; a
     * fire doubled in the moment between is still refused by the
     * catalogue (one run per plan and slot). */
    const struct leader_config *leader;
    const char *node;     /* this node's name (adopting runs); copied */
    int64_t dead_after_s; /* a node silent this long has its runs adopted */
};

/* Starts the thread.  store and engine are borrowed. */
enum qb_err scheduler_start(struct store *store, struct engine *engine,
                            const struct scheduler_config *cfg, struct scheduler **out, char *err,
                            size_t errlen) QB_MUSTCHECK;

/* Whether this instance schedules for the fleet now (always, without a
 * leadership lock), and when info is not NULL the lock's state (zeroed and
 * `leader` true without one).  Any thread. */
bool scheduler_leads(struct scheduler *s, struct leader_info *info);

/* Microseconds the last pass over the plans' schedules took (0 before the
 * first, and on a node that does not lead).  Any thread. */
int64_t scheduler_tick_us(struct scheduler *s);

/* Stops and joins the thread.  NULL is a no-op. */
void scheduler_stop(struct scheduler *s);

/* One pass over the plans at time now (exposed for tests): queues each
 * due backup slot, then runs the re-verification pass
 * (engine/reverify.h) of each enabled plan whose `reverify` schedule has
 * a slot due, on the calling thread.
 * Caveat: a pass blocks the scheduler's thread (and a shutdown waits for
 * it) for as long as it reads, its max_bytes at the destination's speed;
 * backups due meanwhile are queued when it ends, late but not lost. */
void scheduler_tick(struct store *store, struct engine *engine, int64_t now);

/* Announces plan.stale (store_events.h) for each enabled plan whose last
 * success (or creation, without one) is older than its alert_after at
 * time now, once per stale spell: not when a plan.stale of the plan was
 * logged since that success.  Runs on the scheduler's thread about every
 * 30 s; exposed for tests. */
void scheduler_check_stale(struct store *store, int64_t now);

#endif /* QB_SCHED_H */
