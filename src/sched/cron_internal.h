/* SPDX-License-Identifier: Apache-2.0
 *
 * cron_internal.h -- what cron.c (grammar, search) and cron_tz.c (TZif and
 * POSIX TZ rules) share: the zone representation and calendar arithmetic.
 * Nothing outside these two files includes this.
 */
#ifndef QB_CRON_INTERNAL_H
#define QB_CRON_INTERNAL_H

#include "sched/sched.h"

#include <stddef.h>

#define DAY_S 86400
/* Longest piece of bad input quoted back in an error message. */
#define TOKEN_SHOW 32
/* Instants are accepted within about +-34,000 years of 1970, far inside
 * int64 range, so the calendar arithmetic below cannot overflow. */
#define T_LIMIT        ((int64_t)1 << 40)
#define ZONEINFO_DIR   "/usr/share/zoneinfo"
#define TZIF_MAX_BYTES (1u << 20) /* real files are < 100 KiB */
#define TZ_RULES_UNTIL 2400       /* footer rules are expanded up to this year */

struct cron_tz {
    char *name;
    size_t n;     /* number of transitions */
    int64_t *at;  /* strictly ascending instants where the offset changes */
    int32_t *off; /* off[i]: UTC offset (east positive) from at[i] to at[i+1] */
    int32_t off0; /* offset before at[0], or everywhere when n == 0 */
};

/* Proleptic Gregorian calendar, days since 1970-01-01 (civil_from_days is
 * the inverse).  Pure. */
int64_t cron_floor_div(int64_t a, int64_t b);
bool cron_is_leap(int64_t y);
int cron_days_in_month(int64_t y, int m);
int64_t cron_days_from_civil(int64_t y, int m, int d);
void cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d);
/* 0 = Sunday. */
int cron_weekday(int64_t days);
/* The UTC offset in effect during period i (-1: before the first). */
int32_t cron_period_offset(const struct cron_tz *tz, long i);

#endif /* QB_CRON_INTERNAL_H */
