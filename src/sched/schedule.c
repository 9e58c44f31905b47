/* SPDX-License-Identifier: Apache-2.0
 *
 * schedule.c -- cron text + zone name to fire times.
 *
 * Loaded zones are cached: loading one reads its TZif file and expands its
 * rules into transitions, which cost more than the cron arithmetic, and
 * GET /v1/status asks for every plan's next fire and interval on every
 * poll.  A zone is re-read once it is ZONE_TTL_S old (tzdata updates).
 *
 * THREAD SAFETY NOTES
 * zone_cache.lock guards the table and every zone's refs/cached; a
 * cron_tz is immutable once loaded, so it is used outside the lock while
 * its zone holds a reference.
 */
#include "sched/sched.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZONE_CACHE_MAX 32 /* distinct zones cached; more are loaded per call */
#define ZONE_TTL_S     300

struct zone {
    char *name;
    struct cron_tz *tz;
    int64_t loaded_at;
    unsigned refs; /* callers using tz, plus one while in the table */
};

static struct {
    pthread_mutex_t lock;
    struct zone *z[ZONE_CACHE_MAX];
} zone_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void zone_unref_locked(struct zone *z)
{
    if (z && --z->refs == 0) {
        cron_tz_destroy(z->tz);
        free(z->name);
        free(z);
    }
}

static void zone_release(struct zone *z)
{
    if (!z)
        return;
    pthread_mutex_lock(&zone_cache.lock);
    zone_unref_locked(z);
    pthread_mutex_unlock(&zone_cache.lock);
}

/* The zone called name, from the cache or loaded (and cached when there
 * is room); the caller releases it with zone_release. */
static enum qb_err zone_get(const char *name, struct zone **out, char *err, size_t errlen)
{
    int64_t now = qb_now_ms() / 1000;
    size_t slot = ZONE_CACHE_MAX;
    pthread_mutex_lock(&zone_cache.lock);
    for (size_t i = 0; i < ZONE_CACHE_MAX; i++) {
        struct zone *z = zone_cache.z[i];
        if (z && strcmp(z->name, name) == 0) {
            if (now - z->loaded_at < ZONE_TTL_S && now >= z->loaded_at) {
                z->refs++;
                *out = z;
                pthread_mutex_unlock(&zone_cache.lock);
                return QB_OK;
            }
            zone_cache.z[i] = NULL; /* expired: freed when its last user is done */
            zone_unref_locked(z);
        }
        if (!zone_cache.z[i] && slot == ZONE_CACHE_MAX)
            slot = i;
    }
    pthread_mutex_unlock(&zone_cache.lock);
    /* Loaded outside the lock: two threads may both load it, and the
     * second one's copy is simply not cached. */
    struct cron_tz *tz = NULL;
    enum qb_err rc = cron_tz_load(name, &tz, err, errlen);
    if (rc)
        return rc;
    struct zone *z = xcalloc(1, sizeof *z);
    z->name = xstrdup(name);
    z->tz = tz;
    z->loaded_at = now;
    z->refs = 1;
    pthread_mutex_lock(&zone_cache.lock);
    if (slot < ZONE_CACHE_MAX && !zone_cache.z[slot]) {
        zone_cache.z[slot] = z;
        z->refs++;
    }
    pthread_mutex_unlock(&zone_cache.lock);
    *out = z;
    return QB_OK;
}

/* Parses both; on success the caller releases *zone (NULL for UTC). */
static enum qb_err load(const char *expr, const char *tz_name, struct cron *c, struct zone **zone,
                        char *err, size_t errlen)
{
    char sub[QB_ERRBUF_SIZE / 2];
    *zone = NULL;
    if (cron_parse(expr, c, sub, sizeof sub))
        return qb_failf(QB_ERR_INVALID, err, errlen, "schedule: %s", sub);
    if (tz_name && *tz_name && strcmp(tz_name, "UTC") != 0) {
        enum qb_err rc = zone_get(tz_name, zone, sub, sizeof sub);
        if (rc)
            return qb_failf(QB_ERR_INVALID, err, errlen, "timezone: %s", sub);
    }
    return QB_OK;
}

static const struct cron_tz *zone_tz(const struct zone *z)
{
    return z ? z->tz : NULL;
}

enum qb_err schedule_check(const char *expr, const char *tz_name, char *err, size_t errlen)
{
    struct cron c;
    struct zone *zone = NULL;
    int64_t next = 0;
    enum qb_err rc = load(expr, tz_name, &c, &zone, err, errlen);
    if (!rc && cron_next(&c, zone_tz(zone), qb_now_ms() / 1000, &next) != QB_OK)
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "schedule: \"%s\" never fires", expr);
    zone_release(zone);
    return rc;
}

enum qb_err schedule_next(const char *expr, const char *tz_name, int64_t after, int64_t *next,
                          char *err, size_t errlen)
{
    struct cron c;
    struct zone *zone = NULL;
    enum qb_err rc = load(expr, tz_name, &c, &zone, err, errlen);
    if (!rc) {
        rc = cron_next(&c, zone_tz(zone), after, next);
        if (rc)
            qb_failf(rc, err, errlen, "schedule: \"%s\" has no next fire time", expr);
    }
    zone_release(zone);
    return rc;
}

enum qb_err schedule_latest_due(const char *expr, const char *tz_name, int64_t after, int64_t now,
                                int64_t *due, char *err, size_t errlen)
{
    struct cron c;
    struct zone *zone = NULL;
    enum qb_err rc = load(expr, tz_name, &c, &zone, err, errlen);
    *due = 0;
    /* Walk forward from `after`.  A plan down for a year at one fire per
     * minute would be 500k steps, so start instead two of the schedule's
     * longest gaps (plus a day) before now: the latest slot <= now is
     * always within one gap of now. */
    int64_t t = after;
    int64_t gap = rc ? 0 : cron_typical_interval(&c, zone_tz(zone), after);
    if (gap > 0 && now - t > 2 * gap + 86400)
        t = now - 2 * gap - 86400;
    while (!rc) {
        int64_t next = 0;
        if (cron_next(&c, zone_tz(zone), t, &next) != QB_OK || next > now)
            break;
        *due = next;
        t = next;
    }
    zone_release(zone);
    return rc;
}

int64_t schedule_alert_after(const char *expr, const char *tz_name, int64_t alert_after_s,
                             int64_t now)
{
    if (alert_after_s > 0)
        return alert_after_s;
    if (!expr)
        return 0;
    return 2 * schedule_interval(expr, tz_name, now);
}

int64_t schedule_interval(const char *expr, const char *tz_name, int64_t from)
{
    struct cron c;
    struct zone *zone = NULL;
    char err[QB_ERRBUF_SIZE];
    if (load(expr, tz_name, &c, &zone, err, sizeof err))
        return 0;
    int64_t iv = cron_typical_interval(&c, zone_tz(zone), from);
    zone_release(zone);
    return iv;
}
