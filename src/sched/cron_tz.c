/* SPDX-License-Identifier: Apache-2.0
 *
 * cron_tz.c -- named time zones for cron: reads a TZif file (RFC 8536,
 * v1-v4) from tzdata into transitions, and expands its POSIX TZ footer
 * into transitions up to the year 2400.  cron_tz_load is the only function
 * of the cron modules that touches the file system.
 */
#include "sched/cron_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    int64_t jan1 = cron_days_from_civil(y, 1, 1), day;
    if (r->kind == 'J') {
        day = jan1 + r->n - 1 + (cron_is_leap(y) && r->n >= 60);
    } else if (r->kind == 'N') {
        day = jan1 + r->n;
    } else {
        int64_t first = cron_days_from_civil(y, r->m, 1);
        day = first + (r->n - cron_weekday(first) + 7) % 7 + (r->w - 1) * 7;
        if (day >= first + cron_days_in_month(y, r->m)) /* week 5 = last */
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
    if (cron_period_offset(tz, (long)tz->n - 1) != off)
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
        cron_civil_from_days(cron_floor_div(tz->at[tz->n - 1], DAY_S), &y0, &m, &d);
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

void cron_tz_destroy(struct cron_tz *tz)
{
    if (!tz)
        return;
    free(tz->name);
    free(tz->at);
    free(tz->off);
    free(tz);
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
