/* SPDX-License-Identifier: Apache-2.0
 *
 * rfc3339.c -- RFC 3339 date-time parsing (rfc3339.h).  Hand-written
 * rather than strptime(): strptime takes one-digit fields and leading
 * blanks, knows no offsets, and timegm() then turns February 30 into
 * March 2 without a word.
 */
#include "util/rfc3339.h"

#include <string.h>
#include <time.h>

/* Reads n decimal digits at *p, advancing it; -1 if they are not digits. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

static bool expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* The zone designator at *p: Z, or a numeric offset when flags allow it.
 * *offset receives seconds east of UTC. */
static bool zone(const char **p, unsigned flags, int64_t *offset)
{
    *offset = 0;
    if (**p == 'Z' || (**p == 'z' && (flags & RFC3339_LOWER))) {
        (*p)++;
        return true;
    }
    if (**p != '+' && **p != '-')
        return false;
    int sign = *(*p)++ == '-' ? -1 : 1;
    int oh = digits(p, 2);
    int om = expect(p, ':') ? digits(p, 2) : -1;
    if (oh < 0 || oh > 23 || om < 0 || om > 59)
        return false;
    if (flags & RFC3339_OFFSET) {
        *offset = sign * (oh * 3600 + om * 60);
        return true;
    }
    return (flags & RFC3339_PLUS_ZERO) && sign > 0 && oh == 0 && om == 0;
}

bool rfc3339_parse(const char *s, unsigned flags, int64_t *out)
{
    if (!s)
        return false;
    const char *p = s;
    int y = digits(&p, 4);
    int mo = expect(&p, '-') ? digits(&p, 2) : -1;
    int d = expect(&p, '-') ? digits(&p, 2) : -1;
    if (!expect(&p, 'T') && !((flags & RFC3339_LOWER) && expect(&p, 't')))
        return false;
    int h = digits(&p, 2);
    int mi = expect(&p, ':') ? digits(&p, 2) : -1;
    int sec = expect(&p, ':') ? digits(&p, 2) : -1;
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return false;
    if ((flags & RFC3339_FRACTION) && expect(&p, '.')) {
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int64_t offset = 0;
    if (!zone(&p, flags, &offset) || *p)
        return false;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec == 60 ? 59 : sec; /* a leap second is the second before */
    /* Fields are in range, so timegm() only adds up; -1 is then a real
     * instant (1969-12-31T23:59:59Z), not an error. */
    *out = (int64_t)timegm(&tm) - offset;
    return true;
}
