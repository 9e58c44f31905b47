/* SPDX-License-Identifier: Apache-2.0
 *
 * cron.c -- owns the cron expression grammar, the fire-time search and the
 * TZif reader behind named time zones.  Only cron_tz_load touches the file
 * system; everything else is a pure function.
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
#include "engine/cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DAY_S 86400
/* Instants are accepted within about +-34,000 years of 1970, far inside
 * int64 range, so the calendar arithmetic below cannot overflow. */
#define T_LIMIT        ((int64_t)1 << 40)
#define ZONEINFO_DIR   "/usr/share/zoneinfo"
#define TZIF_MAX_BYTES (1u << 20) /* real files are < 100 KiB */
#define TZ_RULES_UNTIL 2400       /* footer rules are expanded up to this year */

/* ------------------------------------------------------------ calendar */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0))
        q--;
    return q;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date.  Counting years
 * from March puts the leap day last, so the day-of-year formula needs no
 * leap test; 400-year eras make it exact for negative years too. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int weekday(int64_t days)
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

/* Quoted tokens in messages are cut here so a pasted novel stays readable. */
#define TOKEN_SHOW 32

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
    int64_t days = floor_div(start, DAY_S);
    int64_t limit = days + (int64_t)CRON_HORIZON_YEARS * 366;
    int64_t sod = start - days * DAY_S;
    int hour = (int)(sod / 3600), minute = (int)(sod % 3600 / 60);
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int wd = weekday(days);

    while (days <= limit) {
        if (!((c->months >> m) & 1u)) {
            /* Whole month excluded: jump to its end in one step. */
            int left = days_in_month(y, m) - d + 1;
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
        if (++d > days_in_month(y, m)) {
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

struct cron_tz {
    char *name;
    size_t n;     /* number of transitions */
    int64_t *at;  /* strictly ascending instants where the offset changes */
    int32_t *off; /* off[i]: UTC offset (east positive) from at[i] to at[i+1] */
    int32_t off0; /* offset before at[0], or everywhere when n == 0 */
};

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

static int32_t period_offset(const struct cron_tz *tz, long i)
{
    return i < 0 ? tz->off0 : tz->off[i];
}

int32_t cron_tz_offset(const struct cron_tz *tz, int64_t t)
{
    return tz ? period_offset(tz, period_index(tz, t)) : 0;
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
    int64_t m = t + period_offset(tz, i);
    for (; i >= 0 && tz->at[i] > t - 2 * DAY_S; i--) {
        int64_t end = tz->at[i] - 1 + period_offset(tz, i - 1);
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
        int64_t u = local - period_offset(tz, i);
        if (i >= 0 && u < tz->at[i])
            u = tz->at[i];
        if ((size_t)(i + 1) >= tz->n || u < tz->at[i + 1])
            return u;
    }
}

bool cron_matches(const struct cron *c, const struct cron_tz *tz, int64_t t)
{
    int64_t local = t + cron_tz_offset(tz, t);
    int64_t days = floor_div(local, DAY_S);
    int64_t sod = local - days * DAY_S;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    return ((c->months >> m) & 1u) && day_matches(c, d, weekday(days)) &&
           ((c->hours >> (sod / 3600)) & 1u) && ((c->minutes >> (sod % 3600 / 60)) & 1u);
}

enum qb_err cron_next(const struct cron *c, const struct cron_tz *tz, int64_t after, int64_t *next)
{
    if (after < -T_LIMIT || after > T_LIMIT)
        return QB_ERR_INVALID;
    int64_t m = tz ? latest_local(tz, after) : after;
    int64_t local;
    if (!next_local(c, (floor_div(m, 60) + 1) * 60, &local))
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

/* ------------------------------------------------- POSIX TZ footer rules */

struct tz_rule {
    char kind;    /* 'J' (1-365, no Feb 29), 'N' (0-365), 'M' (month.week.day) */
    int n, m, w;  /* day number, or month and week (5 = last) for 'M' */
    int32_t time; /* seconds after local midnight; may be negative or > 24 h */
};

struct posix_tz {
    int32_t std_off, dst_off; /* UTC offsets, east positive */
    bool has_dst;
    struct tz_rule start, end; /* start in standard time, end in DST */
};

static bool ptz_name(const char **s)
{
    const char *p = *s;
    if (*p == '<') {
        const char *q = strchr(p, '>');
        if (!q || q == p + 1)
            return false;
        *s = q + 1;
        return true;
    }
    while (isalpha((unsigned char)*p))
        p++;
    if (p - *s < 3)
        return false;
    *s = p;
    return true;
}

static bool ptz_num(const char **s, int max, int *out)
{
    if (!isdigit((unsigned char)**s))
        return false;
    int v = 0;
    while (isdigit((unsigned char)**s)) {
        v = v * 10 + (*(*s)++ - '0');
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

/* [+-]hh[:mm[:ss]], hours up to max_h; returns seconds. */
static bool ptz_hms(const char **s, int max_h, int32_t *out)
{
    int sign = 1, h, mi = 0, sec = 0;
    if (**s == '+' || **s == '-')
        sign = *(*s)++ == '-' ? -1 : 1;
    if (!ptz_num(s, max_h, &h))
        return false;
    if (**s == ':' && ((*s)++, !ptz_num(s, 59, &mi)))
        return false;
    if (**s == ':' && ((*s)++, !ptz_num(s, 59, &sec)))
        return false;
    *out = sign * (h * 3600 + mi * 60 + sec);
    return true;
}

static bool ptz_rule(const char **s, struct tz_rule *r)
{
    r->time = 7200; /* POSIX default: 02:00 */
    if (**s == 'M') {
        (*s)++;
        r->kind = 'M';
        if (!ptz_num(s, 12, &r->m) || r->m < 1 || *(*s)++ != '.' || !ptz_num(s, 5, &r->w) ||
            r->w < 1 || *(*s)++ != '.' || !ptz_num(s, 6, &r->n))
            return false;
    } else if (**s == 'J') {
        (*s)++;
        r->kind = 'J';
        if (!ptz_num(s, 365, &r->n) || r->n < 1)
            return false;
    } else {
        r->kind = 'N';
        if (!ptz_num(s, 365, &r->n))
            return false;
    }
    if (**s == '/') {
        (*s)++;
        return ptz_hms(s, 167, &r->time);
    }
    return true;
}

static bool ptz_parse(const char *s, struct posix_tz *p)
{
    int32_t v;
    memset(p, 0, sizeof *p);
    if (!ptz_name(&s) || !ptz_hms(&s, 24, &v))
        return false;
    p->std_off = -v; /* POSIX offsets count hours west of Greenwich */
    if (!*s)
        return true;
    if (!ptz_name(&s))
        return false;
    p->has_dst = true;
    p->dst_off = p->std_off + 3600;
    if (*s && *s != ',') {
        if (!ptz_hms(&s, 24, &v))
            return false;
        p->dst_off = -v;
    }
    /* POSIX leaves the default rules to the implementation; TZif footers
     * always spell them out, so insist. */
    if (*s++ != ',' || !ptz_rule(&s, &p->start) || *s++ != ',' || !ptz_rule(&s, &p->end))
        return false;
    return *s == '\0';
}

/* Instant at which rule r fires in year y, given the offset before it. */
static int64_t rule_instant(const struct tz_rule *r, int64_t y, int32_t off_before)
{
    int64_t jan1 = days_from_civil(y, 1, 1), day;
    if (r->kind == 'J') {
        day = jan1 + r->n - 1 + (is_leap(y) && r->n >= 60);
    } else if (r->kind == 'N') {
        day = jan1 + r->n;
    } else {
        int64_t first = days_from_civil(y, r->m, 1);
        day = first + (r->n - weekday(first) + 7) % 7 + (r->w - 1) * 7;
        if (day >= first + days_in_month(y, r->m)) /* week 5 = last */
            day -= 7;
    }
    return day * DAY_S + r->time - off_before;
}

static void tz_append(struct cron_tz *tz, size_t *cap, int64_t at, int32_t off)
{
    if (tz->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        tz->at = xrealloc(tz->at, *cap * sizeof *tz->at);
        tz->off = xrealloc(tz->off, *cap * sizeof *tz->off);
    }
    tz->at[tz->n] = at;
    tz->off[tz->n] = off;
    tz->n++;
}

/* Appends a rule-generated transition, dropping those the table already
 * covers and those that would not change the offset. */
static void tz_push(struct cron_tz *tz, size_t *cap, int64_t at, int32_t off)
{
    if (tz->n && tz->at[tz->n - 1] >= at) {
        if (tz->at[tz->n - 1] == at) /* rules meeting end to end */
            tz->off[tz->n - 1] = off;
        return;
    }
    if (period_offset(tz, (long)tz->n - 1) != off)
        tz_append(tz, cap, at, off);
}

/* Continues the transition table with the footer's yearly rules. */
static void tz_extend(struct cron_tz *tz, size_t *cap, const struct posix_tz *p)
{
    if (!p->has_dst) {
        if (!tz->n)
            tz->off0 = p->std_off;
        return;
    }
    int64_t y0 = 1969, y;
    int m, d;
    if (tz->n)
        civil_from_days(floor_div(tz->at[tz->n - 1], DAY_S), &y0, &m, &d);
    if (!tz->n) {
        /* Southern zones start the year in DST. */
        bool north =
            rule_instant(&p->start, y0, p->std_off) < rule_instant(&p->end, y0, p->dst_off);
        tz->off0 = north ? p->std_off : p->dst_off;
    }
    for (y = y0; y <= TZ_RULES_UNTIL; y++) {
        int64_t s = rule_instant(&p->start, y, p->std_off);
        int64_t e = rule_instant(&p->end, y, p->dst_off);
        if (s < e) {
            tz_push(tz, cap, s, p->dst_off);
            tz_push(tz, cap, e, p->std_off);
        } else {
            tz_push(tz, cap, e, p->std_off);
            tz_push(tz, cap, s, p->dst_off);
        }
    }
}

/* ------------------------------------------------------------ TZif data */

struct tzif_hdr {
    char version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Parses a header at d[pos]; returns the size of the data block after it
 * (with timesz-byte times), or 0 if the header is malformed. */
static size_t tzif_header(const unsigned char *d, size_t len, size_t pos, size_t timesz,
                          struct tzif_hdr *h)
{
    if (len - pos < 44 || memcmp(d + pos, "TZif", 4) != 0)
        return 0;
    h->version = (char)d[pos + 4];
    uint32_t *c[6] = {&h->isutcnt, &h->isstdcnt, &h->leapcnt,
                      &h->timecnt, &h->typecnt,  &h->charcnt};
    for (int i = 0; i < 6; i++) {
        *c[i] = be32(d + pos + 20 + 4 * i);
        if (*c[i] > TZIF_MAX_BYTES)
            return 0;
    }
    return h->timecnt * (timesz + 1) + h->typecnt * 6 + h->charcnt + h->leapcnt * (timesz + 4) +
           h->isstdcnt + h->isutcnt;
}

/* The v2+ footer, "\n<POSIX TZ string>\n" at data[pos]: the string may be
 * empty, the newlines are mandatory.  Its rule continues the table. */
static enum qb_err tzif_footer(struct cron_tz *tz, size_t *cap, const unsigned char *data,
                               size_t len, size_t pos, char *err, size_t errlen)
{
    const unsigned char *nl = NULL;
    if (pos < len && data[pos] == '\n')
        nl = memchr(data + pos + 1, '\n', len - pos - 1);
    if (!nl)
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: truncated TZif file", tz->name);
    size_t flen = (size_t)(nl - data) - pos - 1;
    if (flen == 0)
        return QB_OK;
    char *footer = xstrndup((const char *)data + pos + 1, flen);
    struct posix_tz p;
    enum qb_err rc = QB_OK;
    if (ptz_parse(footer, &p) && p.std_off > -DAY_S && p.std_off < DAY_S && p.dst_off > -DAY_S &&
        p.dst_off < DAY_S)
        tz_extend(tz, cap, &p);
    else
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "%s: unsupported TZ rule \"%.*s\"", tz->name,
                      TOKEN_SHOW, footer);
    free(footer);
    return rc;
}

enum qb_err cron_tz_parse(const char *name, const unsigned char *data, size_t len,
                          struct cron_tz **out, char *err, size_t errlen)
{
    struct tzif_hdr h;
    size_t timesz = 4, pos = 0;
    size_t body = tzif_header(data, len, pos, timesz, &h);
    if (!body || len - 44 < body)
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: not a TZif file", name);
    if (h.version >= '2') {
        /* Skip the 32-bit block; the 64-bit one after it is authoritative. */
        pos = 44 + body;
        timesz = 8;
        body = tzif_header(data, len, pos, timesz, &h);
        if (!body || len - pos - 44 < body)
            return qb_failf(QB_ERR_INVALID, err, errlen, "%s: truncated TZif file", name);
    }
    if (h.leapcnt)
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: leap-second time zones are not supported",
                        name);
    if (!h.typecnt)
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: TZif file has no time types", name);

    const unsigned char *times = data + pos + 44;
    const unsigned char *idx = times + (size_t)h.timecnt * timesz;
    const unsigned char *types = idx + h.timecnt;
    for (uint32_t k = 0; k < h.typecnt; k++) {
        int32_t off = (int32_t)be32(types + 6 * k);
        if (off <= -DAY_S || off >= DAY_S)
            return qb_failf(QB_ERR_INVALID, err, errlen, "%s: UTC offset %d is out of range", name,
                            (int)off);
    }

    struct cron_tz *tz = xcalloc(1, sizeof *tz);
    size_t cap = 0;
    int64_t prev = 0;
    enum qb_err rc;
    tz->name = xstrdup(name);
    tz->off0 = (int32_t)be32(types);
    for (uint32_t k = 0; k < h.timecnt; k++) {
        int64_t at = timesz == 8 ? be64(times + 8 * k) : (int32_t)be32(times + 4 * k);
        if (idx[k] >= h.typecnt || (k && at <= prev)) {
            cron_tz_destroy(tz);
            return qb_failf(QB_ERR_INVALID, err, errlen, "%s: bad transition %u", name,
                            (unsigned)k);
        }
        prev = at;
        /* zic's "big bang" entry (-2^59) and the like lie outside the range
         * cron_next accepts; they only set the offset of the distant past. */
        if (at < -T_LIMIT) {
            tz->off0 = (int32_t)be32(types + 6 * idx[k]);
            continue;
        }
        if (at > T_LIMIT)
            break;
        tz_append(tz, &cap, at, (int32_t)be32(types + 6 * idx[k]));
    }

    rc = timesz == 8 ? tzif_footer(tz, &cap, data, len, pos + 44 + body, err, errlen) : QB_OK;
    if (rc) {
        cron_tz_destroy(tz);
        return rc;
    }
    *out = tz;
    return QB_OK;
}

void cron_tz_destroy(struct cron_tz *tz)
{
    if (!tz)
        return;
    free(tz->name);
    free(tz->at);
    free(tz->off);
    free(tz);
}

static bool tz_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 255 || name[0] == '/' || strstr(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (!isalnum(ch) && !strchr("_+-./", ch))
            return false;
    }
    return true;
}

enum qb_err cron_tz_load(const char *name, struct cron_tz **out, char *err, size_t errlen)
{
    if (!name || !tz_name_ok(name))
        return qb_failf(QB_ERR_INVALID, err, errlen, "invalid time zone name \"%.*s\"", TOKEN_SHOW,
                        name ? name : "");
    if (strcmp(name, "UTC") == 0) {
        /* Built in, so UTC schedules work without tzdata installed. */
        struct cron_tz *tz = xcalloc(1, sizeof *tz);
        tz->name = xstrdup(name);
        *out = tz;
        return QB_OK;
    }

    char path[sizeof ZONEINFO_DIR + 256];
    snprintf(path, sizeof path, "%s/%s", ZONEINFO_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR)
            return qb_failf(QB_ERR_NOT_FOUND, err, errlen, "unknown time zone \"%s\"", name);
        return qb_failf(QB_ERR_IO, err, errlen, "cannot open %s: %s", path, strerror(errno));
    }
    size_t cap = 8192, len = 0, got;
    unsigned char *buf = xmalloc(cap);
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            if (cap >= TZIF_MAX_BYTES)
                break;
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    enum qb_err rc;
    if (read_errno == EISDIR)
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "unknown time zone \"%s\"", name);
    else if (read_errno)
        rc = qb_failf(QB_ERR_IO, err, errlen, "cannot read %s: %s", path, strerror(read_errno));
    else if (len >= TZIF_MAX_BYTES)
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "%s: file too large", name);
    else
        rc = cron_tz_parse(name, buf, len, out, err, errlen);
    free(buf);
    return rc;
}
