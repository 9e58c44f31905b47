/* SPDX-License-Identifier: Apache-2.0
 *
 * cron.c -- owns the cron expression grammar, the calendar arithmetic and
 * the fire-time search in local wall-clock time.  Pure: the TZif reader
 * behind named zones is cron_tz.c.
 *
 * DESIGN
 * A schedule is matched against *local wall-clock time*, represented as
 * "local seconds" (the wall clock read as if it were UTC), so the calendar
 * search never consults the zone.  Instants map to local seconds by adding
 * the UTC offset; the way back uses one rule for every case:
 *
 *     fire(L) = the earliest instant u whose local time is >= L
 *
 * For a normal wall time that is its only instant; for a repeated wall time
 * (fall-back) it is the first occurrence; for a skipped wall time
 * (spring-forward) it is the instant the gap ends.  fire() never decreases
 * as L grows, so the first fire after instant A belongs to the first
 * matching L greater than M = max{local(u) : u <= A}.
 *
 * Caveats
 * - Zones whose UTC offset reaches a full day are rejected: the search
 *   windows above assume |offset| < 24 h (real zones stay within 15 h).
 * - Leap-second ("right/") zones are rejected.
 * - The POSIX TZ footer of a TZif file is expanded into transitions up to
 *   the year 2400; after that the last offset holds.
 */
#include "sched/sched.h"
#include "sched/cron_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ calendar */

int64_t cron_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0))
        q--;
    return q;
}

bool cron_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int cron_days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && cron_is_leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date.  Counting years
 * from March puts the leap day last, so the day-of-year formula needs no
 * leap test; 400-year eras make it exact for negative years too. */
int64_t cron_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = cron_floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = cron_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
int cron_weekday(int64_t days)
{
    return (int)(((days % 7) + 11) % 7);
}

/* ---------------------------------------------------------------- parse */

struct field_spec {
    const char *name;
    int lo, hi;
    const char *const *names; /* 3-letter names for lo.., or NULL */
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

/* Day-of-week runs to 7 so that "5-7" (Friday to Sunday) is a range. */
static const struct field_spec field_specs[5] = {
    {"minute", 0, 59, NULL},          {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},    {"month", 1, 12, month_names},
    {"day-of-week", 0, 7, day_names},
};

static const struct {
    const char *name;
    const char *expr;
} macros[] = {
    {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
};

/* Any white space separates fields, so a trailing newline from a config
 * file is harmless. */
static bool is_blank(char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/* Control bytes are shown in hex: the message may end up in a log line. */
static enum qb_err bad_char(const struct field_spec *f, char ch, char *err, size_t errlen)
{
    if (isprint((unsigned char)ch))
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: unexpected character '%c'", f->name, ch);
    return qb_failf(QB_ERR_INVALID, err, errlen, "%s: unexpected byte 0x%02x", f->name,
                    (unsigned char)ch);
}

/* Reads a number or (if the field has them) a name at s[*pos..end). */
static enum qb_err parse_value(const struct field_spec *f, const char *s, size_t end, size_t *pos,
                               int *out, char *err, size_t errlen)
{
    size_t i = *pos;
    if (i < end && isdigit((unsigned char)s[i])) {
        long v = 0;
        size_t start = i;
        for (; i < end && isdigit((unsigned char)s[i]); i++)
            if (v < 1000000)
                v = v * 10 + (s[i] - '0');
        if (v < f->lo || v > f->hi)
            return qb_failf(QB_ERR_INVALID, err, errlen, "%s: %.*s is out of range %d-%d", f->name,
                            (int)(i - start > TOKEN_SHOW ? TOKEN_SHOW : i - start), s + start,
                            f->lo, f->hi);
        *out = (int)v;
        *pos = i;
        return QB_OK;
    }
    size_t start = i;
    while (i < end && isalpha((unsigned char)s[i]))
        i++;
    if (i == start) {
        if (i < end)
            return bad_char(f, s[i], err, errlen);
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: missing value", f->name);
    }
    int shown = (int)(i - start > TOKEN_SHOW ? TOKEN_SHOW : i - start);
    if (!f->names)
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: \"%.*s\" is not a number", f->name, shown,
                        s + start);
    int count = f->hi - f->lo + 1 - (f->names == day_names); /* 7 has no name */
    for (int k = 0; i - start == 3 && k < count; k++) {
        if (strncasecmp(s + start, f->names[k], 3) == 0) {
            *out = f->lo + k;
            *pos = i;
            return QB_OK;
        }
    }
    return qb_failf(QB_ERR_INVALID, err, errlen, "%s: unknown name \"%.*s\"", f->name, shown,
                    s + start);
}

/* One list element: "*", "v", "a-b", each optionally followed by "/step". */
static enum qb_err parse_item(const struct field_spec *f, const char *s, size_t end, uint64_t *mask,
                              char *err, size_t errlen)
{
    size_t pos = 0;
    int lo, hi, step = 1;
    enum qb_err rc;
    if (end == 0)
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: empty list element", f->name);
    if (s[0] == '*') {
        lo = f->lo;
        hi = f->hi;
        pos = 1;
    } else {
        rc = parse_value(f, s, end, &pos, &lo, err, errlen);
        if (rc)
            return rc;
        hi = lo;
        if (pos < end && s[pos] == '-') {
            pos++;
            rc = parse_value(f, s, end, &pos, &hi, err, errlen);
            if (rc)
                return rc;
            /* "FRI-SUN": Sunday closing a weekday range is day 7. */
            if (f->names == day_names && hi == 0 && lo > 0)
                hi = 7;
            if (hi < lo)
                return qb_failf(QB_ERR_INVALID, err, errlen,
                                "%s: range %d-%d is backwards (start after end)", f->name, lo, hi);
        } else if (pos < end && s[pos] == '/') {
            hi = f->hi; /* "a/n" means "a-max/n" */
        }
    }
    if (pos < end && s[pos] == '/') {
        size_t start = ++pos;
        long v = 0;
        for (; pos < end && isdigit((unsigned char)s[pos]); pos++)
            if (v < 1000000)
                v = v * 10 + (s[pos] - '0');
        if (pos == start)
            return qb_failf(QB_ERR_INVALID, err, errlen, "%s: step must be a number", f->name);
        if (v == 0)
            return qb_failf(QB_ERR_INVALID, err, errlen, "%s: step must be positive", f->name);
        /* A step wider than the field can only be a typo ("*\/90" minutes). */
        if (v > f->hi - f->lo + 1)
            return qb_failf(QB_ERR_INVALID, err, errlen, "%s: step %ld is out of range 1-%d",
                            f->name, v, f->hi - f->lo + 1);
        step = (int)v;
    }
    if (pos < end)
        return bad_char(f, s[pos], err, errlen);
    for (int v = lo; v <= hi; v += step)
        *mask |= (uint64_t)1 << v;
    return QB_OK;
}

static enum qb_err parse_field(const struct field_spec *f, const char *s, size_t len,
                               uint64_t *mask, char *err, size_t errlen)
{
    *mask = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ',')
            continue;
        enum qb_err rc = parse_item(f, s + start, i - start, mask, err, errlen);
        if (rc)
            return rc;
        start = i + 1;
    }
    return QB_OK;
}

enum qb_err cron_parse(const char *expr, struct cron *out, char *err, size_t errlen)
{
    if (!expr)
        return qb_failf(QB_ERR_INVALID, err, errlen, "no cron expression");
    while (is_blank(*expr))
        expr++;
    if (*expr == '@') {
        size_t n = 0;
        while (expr[n] && !is_blank(expr[n]))
            n++;
        const char *rest = expr + n;
        while (is_blank(*rest))
            rest++;
        for (size_t k = 0; k < QB_ARRAY_LEN(macros); k++) {
            if (strlen(macros[k].name) != n || strncasecmp(expr, macros[k].name, n) != 0)
                continue;
            if (*rest)
                return qb_failf(QB_ERR_INVALID, err, errlen, "%s takes no fields", macros[k].name);
            return cron_parse(macros[k].expr, out, err, errlen);
        }
        return qb_failf(QB_ERR_INVALID, err, errlen, "unknown macro \"%.*s\"",
                        (int)(n > TOKEN_SHOW ? TOKEN_SHOW : n), expr);
    }

    const char *tok[5];
    size_t toklen[5];
    int nf = 0;
    for (const char *p = expr; *p;) {
        if (is_blank(*p)) {
            p++;
            continue;
        }
        const char *q = p;
        while (*q && !is_blank(*q))
            q++;
        if (nf < 5) {
            tok[nf] = p;
            toklen[nf] = (size_t)(q - p);
        }
        nf++;
        p = q;
    }
    if (nf != 5)
        return qb_failf(QB_ERR_INVALID, err, errlen, "expected 5 fields, got %d", nf);

    uint64_t m[5];
    for (int i = 0; i < 5; i++) {
        enum qb_err rc = parse_field(&field_specs[i], tok[i], toklen[i], &m[i], err, errlen);
        if (rc)
            return rc;
    }
    if (m[4] & (1u << 7)) /* 7 is another name for Sunday */
        m[4] = (m[4] & 0x7f) | 1u;
    memset(out, 0, sizeof *out);
    out->minutes = m[0];
    out->hours = (uint32_t)m[1];
    out->mdays = (uint32_t)m[2];
    out->months = (uint16_t)m[3];
    out->wdays = (uint8_t)m[4];
    /* Vixie cron decides "unrestricted" by the field's first character, so
     * "*\/2" in day-of-month still ANDs with day-of-week. */
    out->mday_star = tok[2][0] == '*';
    out->wday_star = tok[4][0] == '*';
    return QB_OK;
}

/* --------------------------------------------------------------- search */

static bool day_matches(const struct cron *c, int mday, int wday)
{
    bool dom = (c->mdays >> mday) & 1u;
    bool dow = (c->wdays >> wday) & 1u;
    /* Vixie: with both fields restricted, either may match. */
    if (c->mday_star || c->wday_star)
        return dom && dow;
    return dom || dow;
}

static int next_bit(uint64_t mask, int from, int hi)
{
    for (int i = from; i <= hi; i++)
        if ((mask >> i) & 1u)
            return i;
    return -1;
}

/* First matching wall-clock minute at or after `start` (local seconds,
 * minute aligned), searching CRON_HORIZON_YEARS ahead. */
static bool next_local(const struct cron *c, int64_t start, int64_t *out)
{
    int64_t days = cron_floor_div(start, DAY_S);
    int64_t limit = days + (int64_t)CRON_HORIZON_YEARS * 366;
    int64_t sod = start - days * DAY_S;
    int hour = (int)(sod / 3600), minute = (int)(sod % 3600 / 60);
    int64_t y;
    int m, d;
    cron_civil_from_days(days, &y, &m, &d);
    int wd = cron_weekday(days);

    while (days <= limit) {
        if (!((c->months >> m) & 1u)) {
            /* Whole month excluded: jump to its end in one step. */
            int left = cron_days_in_month(y, m) - d + 1;
            days += left;
            wd = (wd + left) % 7;
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
            hour = minute = 0;
            continue;
        }
        if (day_matches(c, d, wd)) {
            for (int h = next_bit(c->hours, hour, 23); h >= 0; h = next_bit(c->hours, h + 1, 23)) {
                int mi = next_bit(c->minutes, h == hour ? minute : 0, 59);
                if (mi >= 0) {
                    *out = days * DAY_S + h * 3600 + mi * 60;
                    return true;
                }
            }
        }
        days++;
        wd = (wd + 1) % 7;
        if (++d > cron_days_in_month(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
        hour = minute = 0;
    }
    return false;
}

/* ------------------------------------------------------------ time zone */

/* Largest i with at[i] <= t, or -1. */
static long period_index(const struct cron_tz *tz, int64_t t)
{
    size_t lo = 0, hi = tz->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

int32_t cron_period_offset(const struct cron_tz *tz, long i)
{
    return i < 0 ? tz->off0 : tz->off[i];
}

int32_t cron_tz_offset(const struct cron_tz *tz, int64_t t)
{
    return tz ? cron_period_offset(tz, period_index(tz, t)) : 0;
}

const char *cron_tz_name(const struct cron_tz *tz)
{
    return tz ? tz->name : "UTC";
}

/* M = the latest wall time shown at or before instant t.  Only periods
 * that ended within the last two days can beat t's own wall time, because
 * offsets differ by less than a day. */
static int64_t latest_local(const struct cron_tz *tz, int64_t t)
{
    long i = period_index(tz, t);
    int64_t m = t + cron_period_offset(tz, i);
    for (; i >= 0 && tz->at[i] > t - 2 * DAY_S; i--) {
        int64_t end = tz->at[i] - 1 + cron_period_offset(tz, i - 1);
        if (end > m)
            m = end;
    }
    return m;
}

/* fire(L): the earliest instant whose wall time is >= L.  No instant more
 * than two days before L can show L, so the scan starts there. */
static int64_t first_instant(const struct cron_tz *tz, int64_t local)
{
    for (long i = period_index(tz, local - 2 * DAY_S);; i++) {
        int64_t u = local - cron_period_offset(tz, i);
        if (i >= 0 && u < tz->at[i])
            u = tz->at[i];
        if ((size_t)(i + 1) >= tz->n || u < tz->at[i + 1])
            return u;
    }
}

bool cron_matches(const struct cron *c, const struct cron_tz *tz, int64_t t)
{
    int64_t local = t + cron_tz_offset(tz, t);
    int64_t days = cron_floor_div(local, DAY_S);
    int64_t sod = local - days * DAY_S;
    int64_t y;
    int m, d;
    cron_civil_from_days(days, &y, &m, &d);
    return ((c->months >> m) & 1u) && day_matches(c, d, cron_weekday(days)) &&
           ((c->hours >> (sod / 3600)) & 1u) && ((c->minutes >> (sod % 3600 / 60)) & 1u);
}

enum qb_err cron_next(const struct cron *c, const struct cron_tz *tz, int64_t after, int64_t *next)
{
    if (after < -T_LIMIT || after > T_LIMIT)
        return QB_ERR_INVALID;
    int64_t m = tz ? latest_local(tz, after) : after;
    int64_t local;
    if (!next_local(c, (cron_floor_div(m, 60) + 1) * 60, &local))
        return QB_ERR_NOT_FOUND;
    *next = tz ? first_instant(tz, local) : local;
    return QB_OK;
}

int64_t cron_typical_interval(const struct cron *c, const struct cron_tz *tz, int64_t from)
{
    /* Enough for a minutely schedule to cover the 8 days (11,520 fires). */
    enum { MAX_FIRES = 20000, MIN_GAPS = 4 };
    int64_t first, prev, next, longest = 0;
    if (cron_next(c, tz, from, &first))
        return 0;
    prev = first;
    for (int i = 0, gaps = 0; i < MAX_FIRES; i++) {
        if (cron_next(c, tz, prev, &next))
            break;
        if (next - prev > longest)
            longest = next - prev;
        prev = next;
        if (++gaps >= MIN_GAPS && prev - first >= 8 * DAY_S)
            break;
    }
    return longest;
}
