/* SPDX-License-Identifier: Apache-2.0
 *
 * retention.c -- owns the retention rules: which snapshots of one target a
 * policy keeps and why.  Pure: the caller loads the snapshots and acts on
 * the decisions.
 *
 * DESIGN
 * Snapshots are walked newest first (created_at, then id, descending).
 * Each keep_* rule has its own quota and remembers the bucket of the last
 * snapshot it kept; a snapshot in a new bucket is kept by that rule and
 * uses one unit of its quota.  This is restic's `forget` algorithm, so
 * "keep_daily 7" means "the newest snapshot of each of the 7 most recent
 * days that have one", not "of the last 7 calendar days".  Rules are
 * independent: one snapshot may satisfy several of them at once.
 * Pinned snapshots, and held ones (keep_until still ahead: a one-off
 * pre-migration snapshot), are skipped by the walk, so they neither use
 * quota nor occupy a bucket: a one-off never pushes a scheduled backup out
 * of keep_last.  Once a hold passes, the snapshot is walked like any
 * other.  A pinned or held snapshot still counts as "seen verified": it is
 * kept anyway, so the newest verified backup survives either way, and when
 * its hold ends it is the newest verified one if nothing newer is.  The
 * final verdict is then (first match wins):
 *
 *     pinned                         -> keep   "pinned"
 *     keep_until still ahead         -> keep   "held until <time>"
 *     empty policy                   -> keep   "empty policy"
 *     chosen by a rule, not too old  -> keep   "<rule> <bucket>"
 *     no count rule set, not too old -> keep   "within max_age"
 *     newest verified snapshot       -> keep   "newest verified"
 *     newest snapshot, when none is
 *     verified (verify off)          -> keep   "newest (none verified)"
 *     older than max_age             -> delete "older than max_age"
 *     otherwise                      -> delete "not selected by any rule"
 *
 * A snapshot the rules delete but whose objects are under S3 Object Lock
 * (locked_until still ahead) is kept instead, "locked until <time>": the
 * store would refuse the delete.  Unlike a hold it is walked like any
 * other, so a lock changes what is deleted when, never what the rules
 * choose.
 */
#include "engine/retention.h"

#include <stdio.h>
#include <stdlib.h>

#define DAY_S 86400

enum rule { R_LAST, R_HOURLY, R_DAILY, R_WEEKLY, R_MONTHLY, R_YEARLY, R_COUNT };

struct entry {
    int64_t created_at;
    int64_t id;
    size_t idx; /* position in the caller's array */
    int rule;   /* first rule that chose it, or -1 */
};

enum qb_err retention_policy_check(const struct retention_policy *p, char *err, size_t errlen)
{
    const struct {
        const char *name;
        int64_t value;
    } f[] = {
        {"keep_last", p->keep_last},       {"keep_hourly", p->keep_hourly},
        {"keep_daily", p->keep_daily},     {"keep_weekly", p->keep_weekly},
        {"keep_monthly", p->keep_monthly}, {"keep_yearly", p->keep_yearly},
        {"max_age_s", p->max_age_s},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(f); i++)
        if (f[i].value < 0)
            return qb_failf(QB_ERR_INVALID, err, errlen, "%s must not be negative", f[i].name);
    return QB_OK;
}

bool retention_policy_is_empty(const struct retention_policy *p)
{
    return !p->keep_last && !p->keep_hourly && !p->keep_daily && !p->keep_weekly &&
           !p->keep_monthly && !p->keep_yearly && !p->max_age_s;
}

/* ------------------------------------------------------------ calendar */

/* The calendar helpers duplicate a few lines of src/sched/cron.c on
 * purpose: sched sits above engine (sched.h), its calendar is private to
 * it, and common.h stays tiny. */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0))
        q--;
    return q;
}

/* Proleptic Gregorian date of a day number (days since 1970-01-01). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468; /* shift the epoch to 0000-03-01: leap days come last */
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Days since 1970-01-01 of January 1st of year y. */
static int64_t days_of_jan1(int64_t y)
{
    int64_t p = y - 1; /* leap days before year y, counted from year 0 */
    int64_t leaps = floor_div(p, 4) - floor_div(p, 100) + floor_div(p, 400) + 1;
    return 365 * y + leaps - 719528; /* 719528 = days from 0000-01-01 to 1970-01-01 */
}

/* Monday of the ISO week holding day `days`; 1970-01-01 was a Thursday. */
static int64_t iso_monday(int64_t days)
{
    return days - ((days % 7 + 10) % 7);
}

/* Bucket of instant t for rule r: equal keys mean the same hour, day, ISO
 * week, month or year (UTC).  keep_last has no buckets: every snapshot is
 * a new one. */
static int64_t bucket_of(int r, int64_t t)
{
    int64_t days = floor_div(t, DAY_S), y;
    int m, d;
    switch (r) {
    case R_HOURLY:
        return floor_div(t, 3600);
    case R_DAILY:
        return days;
    case R_WEEKLY:
        return iso_monday(days);
    case R_MONTHLY:
        civil_from_days(days, &y, &m, &d);
        return y * 12 + m;
    case R_YEARLY:
        civil_from_days(days, &y, &m, &d);
        return y;
    }
    return 0;
}

/* Names the bucket of the snapshot created at t: "daily 2026-11-24". */
static void reason_for(int r, int64_t t, char *out, size_t outlen)
{
    int64_t days = floor_div(t, DAY_S), y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    switch (r) {
    case R_HOURLY:
        snprintf(out, outlen, "hourly %04lld-%02d-%02dT%02d", (long long)y, m, d,
                 (int)((t - days * DAY_S) / 3600));
        break;
    case R_DAILY:
        snprintf(out, outlen, "daily %04lld-%02d-%02d", (long long)y, m, d);
        break;
    case R_WEEKLY: {
        /* ISO 8601: the week belongs to the year of its Thursday. */
        int64_t thursday = iso_monday(days) + 3;
        civil_from_days(thursday, &y, &m, &d);
        int week = (int)((thursday - days_of_jan1(y)) / 7 + 1);
        snprintf(out, outlen, "weekly %04lld-W%02d", (long long)y, week);
        break;
    }
    case R_MONTHLY:
        snprintf(out, outlen, "monthly %04lld-%02d", (long long)y, m);
        break;
    case R_YEARLY:
        snprintf(out, outlen, "yearly %04lld", (long long)y);
        break;
    default:
        snprintf(out, outlen, "keep_last");
        break;
    }
}

/* ---------------------------------------------------------------- apply */

/* Newest first; among equal created_at the larger id is newer. */
static int newest_first(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->created_at != y->created_at)
        return x->created_at > y->created_at ? -1 : 1;
    if (x->id != y->id)
        return x->id > y->id ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx; /* duplicates: keep input order */
}

static void decide(struct retention_decision *o, int64_t id, bool keep, const char *reason)
{
    o->id = id;
    o->keep = keep;
    snprintf(o->reason, sizeof o->reason, "%s", reason);
}

enum qb_err retention_decide(const struct retention_policy *p, const struct retention_item *items,
                             size_t n, int64_t now, struct retention_decision *out, char *err,
                             size_t errlen)
{
    enum qb_err rc = retention_policy_check(p, err, errlen);
    if (rc)
        return rc;
    if (n == 0)
        return QB_OK;
    QB_ASSERT(items && out);

    struct entry *e = xmalloc(n * sizeof *e);
    for (size_t i = 0; i < n; i++) {
        e[i].created_at = items[i].created_at;
        e[i].id = items[i].id;
        e[i].idx = i;
        e[i].rule = -1;
    }
    qsort(e, n, sizeof *e, newest_first);

    const int quota0[R_COUNT] = {p->keep_last,   p->keep_hourly,  p->keep_daily,
                                 p->keep_weekly, p->keep_monthly, p->keep_yearly};
    int quota[R_COUNT];
    int64_t last_bucket[R_COUNT];
    bool any_rule = false, have_bucket[R_COUNT] = {false};
    for (int r = 0; r < R_COUNT; r++) {
        quota[r] = quota0[r];
        any_rule = any_rule || quota0[r] > 0;
    }
    for (size_t k = 0; k < n; k++) {
        if (items[e[k].idx].pinned || items[e[k].idx].keep_until > now)
            continue; /* pinned and held snapshots neither use quota nor fill a bucket */
        for (int r = 0; r < R_COUNT; r++) {
            if (quota[r] <= 0)
                continue;
            int64_t b = bucket_of(r, e[k].created_at);
            if (r != R_LAST && have_bucket[r] && b == last_bucket[r])
                continue;
            quota[r]--;
            last_bucket[r] = b;
            have_bucket[r] = true;
            if (e[k].rule < 0)
                e[k].rule = r;
        }
    }

    /* now - max_age_s without overflow; INT64_MIN means "nothing is old". */
    int64_t cutoff = INT64_MIN;
    if (p->max_age_s > 0 && now >= INT64_MIN + p->max_age_s)
        cutoff = now - p->max_age_s;
    bool empty = retention_policy_is_empty(p), seen_verified = false, any_verified = false;
    for (size_t i = 0; i < n; i++)
        any_verified = any_verified || items[i].verified;

    for (size_t k = 0; k < n; k++) {
        const struct retention_item *it = &items[e[k].idx];
        struct retention_decision *o = &out[e[k].idx];
        bool old = it->created_at < cutoff;
        /* Walking newest first, the first verified one is the newest. */
        bool newest_verified = it->verified && !seen_verified;
        seen_verified = seen_verified || it->verified;

        if (it->pinned) {
            decide(o, it->id, true, "pinned");
        } else if (it->keep_until > now) {
            char when[32];
            qb_format_time(it->keep_until, when, sizeof when);
            snprintf(o->reason, sizeof o->reason, "held until %s", when);
            o->id = it->id;
            o->keep = true;
        } else if (empty) {
            decide(o, it->id, true, "empty policy");
        } else if (e[k].rule >= 0 && !old) {
            decide(o, it->id, true, "");
            reason_for(e[k].rule, it->created_at, o->reason, sizeof o->reason);
        } else if (!any_rule && !old) {
            decide(o, it->id, true, "within max_age");
        } else if (newest_verified) {
            decide(o, it->id, true, "newest verified");
        } else if (!any_verified && k == 0) {
            /* A plan without verify has no verified snapshot; its last
             * backup must not go either (backups stopped, max_age ran). */
            decide(o, it->id, true, "newest (none verified)");
        } else if (old) {
            decide(o, it->id, false, "older than max_age");
        } else {
            decide(o, it->id, false, "not selected by any rule");
        }
        if (!o->keep && it->locked_until > now) {
            char when[32];
            qb_format_time(it->locked_until, when, sizeof when);
            snprintf(o->reason, sizeof o->reason, "locked until %s", when);
            o->keep = true;
        }
    }
    free(e);
    return QB_OK;
}

int64_t retention_lock_until(const struct retention_lock *l, int64_t written_at)
{
    if (!l->mode[0] || l->period_s <= 0)
        return 0;
    return written_at > INT64_MAX - l->period_s ? INT64_MAX : written_at + l->period_s;
}
