/* SPDX-License-Identifier: Apache-2.0
 *
 * schedule.c -- cron text + zone name to fire times.
 */
#include "engine/schedule.h"
#include "engine/cron.h"

#include <stdio.h>
#include <string.h>

/* Parses both; on success the caller destroys *tz (NULL for UTC). */
static enum qb_err load(const char *expr, const char *timezone, struct cron *c, struct cron_tz **tz,
                        char *err, size_t errlen)
{
    char sub[QB_ERRBUF_SIZE / 2];
    *tz = NULL;
    if (cron_parse(expr, c, sub, sizeof sub))
        return qb_failf(QB_ERR_INVALID, err, errlen, "schedule: %s", sub);
    if (timezone && *timezone && strcmp(timezone, "UTC") != 0) {
        enum qb_err rc = cron_tz_load(timezone, tz, sub, sizeof sub);
        if (rc)
            return qb_failf(QB_ERR_INVALID, err, errlen, "timezone: %s", sub);
    }
    return QB_OK;
}

enum qb_err schedule_check(const char *expr, const char *timezone, char *err, size_t errlen)
{
    struct cron c;
    struct cron_tz *tz = NULL;
    int64_t next = 0;
    enum qb_err rc = load(expr, timezone, &c, &tz, err, errlen);
    if (!rc && cron_next(&c, tz, qb_now_ms() / 1000, &next) != QB_OK)
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "schedule: \"%s\" never fires", expr);
    cron_tz_destroy(tz);
    return rc;
}

enum qb_err schedule_next(const char *expr, const char *timezone, int64_t after, int64_t *next,
                          char *err, size_t errlen)
{
    struct cron c;
    struct cron_tz *tz = NULL;
    enum qb_err rc = load(expr, timezone, &c, &tz, err, errlen);
    if (!rc) {
        rc = cron_next(&c, tz, after, next);
        if (rc)
            qb_failf(rc, err, errlen, "schedule: \"%s\" has no next fire time", expr);
    }
    cron_tz_destroy(tz);
    return rc;
}

enum qb_err schedule_latest_due(const char *expr, const char *timezone, int64_t after, int64_t now,
                                int64_t *due, char *err, size_t errlen)
{
    struct cron c;
    struct cron_tz *tz = NULL;
    enum qb_err rc = load(expr, timezone, &c, &tz, err, errlen);
    *due = 0;
    /* Walk forward from `after`.  A plan down for a year at one fire per
     * minute would be 500k steps, so start instead two of the schedule's
     * longest gaps (plus a day) before now: the latest slot <= now is
     * always within one gap of now. */
    int64_t t = after;
    int64_t gap = rc ? 0 : cron_typical_interval(&c, tz, after);
    if (gap > 0 && now - t > 2 * gap + 86400)
        t = now - 2 * gap - 86400;
    while (!rc) {
        int64_t next = 0;
        if (cron_next(&c, tz, t, &next) != QB_OK || next > now)
            break;
        *due = next;
        t = next;
    }
    cron_tz_destroy(tz);
    return rc;
}

int64_t schedule_interval(const char *expr, const char *timezone, int64_t from)
{
    struct cron c;
    struct cron_tz *tz = NULL;
    char err[QB_ERRBUF_SIZE];
    if (load(expr, timezone, &c, &tz, err, sizeof err))
        return 0;
    int64_t iv = cron_typical_interval(&c, tz, from);
    cron_tz_destroy(tz);
    return iv;
}
