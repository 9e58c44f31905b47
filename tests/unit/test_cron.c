/* SPDX-License-Identifier: Apache-2.0
 *
 * test_cron.c -- cron expressions: the grammar and every error message,
 * next-fire search in UTC (month ends, leap days, the day-of-month /
 * day-of-week OR rule, rollovers) cross-checked against a brute-force
 * minute scan, typical intervals, the TZif reader (including footer-only
 * "slim" files built here), and DST gaps and overlaps in Europe/Berlin and
 * America/New_York.  The named-zone cases are skipped, with a notice, only
 * when /usr/share/zoneinfo is missing.
 */
#include "unit.h"

#include "common.h"
#include "sched/sched.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define B(x) ((uint64_t)1 << (x))

/* "2026-03-29 01:00[:ss]" in UTC to Unix seconds. */
static int64_t T(const char *s)
{
    struct tm tm;
    int sec = 0;
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &sec) < 5)
        abort();
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_sec = sec;
    return (int64_t)timegm(&tm);
}

static const char *fmt(int64_t t, char *buf, size_t len)
{
    qb_format_time(t, buf, len);
    return buf;
}

static bool have_zoneinfo(void)
{
    static int warned;
    if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) == 0)
        return true;
    if (!warned++)
        fprintf(stderr, "NOTICE: /usr/share/zoneinfo missing, skipping named-zone cases\n");
    return false;
}

/* ---------------------------------------------------------------- parse */

static void test_parse_fields(void)
{
    static const struct {
        const char *expr;
        int field; /* 0 minute .. 4 day-of-week */
        uint64_t mask;
    } cases[] = {
        {"* * * * *", 0, (B(60) - 1)},
        {"*/15 * * * *", 0, B(0) | B(15) | B(30) | B(45)},
        {"0-10/5 * * * *", 0, B(0) | B(5) | B(10)},
        {"5/20 * * * *", 0, B(5) | B(25) | B(45)},
        {"10-50/20 * * * *", 0, B(10) | B(30) | B(50)},
        {"59 * * * *", 0, B(59)},
        {"0 1,2,5-7 * * *", 1, B(1) | B(2) | B(5) | B(6) | B(7)},
        {"0 */6 * * *", 1, B(0) | B(6) | B(12) | B(18)},
        {"0 23 * * *", 1, B(23)},
        {"0 0 1,15,31 * *", 2, B(1) | B(15) | B(31)},
        {"0 0 */10 * *", 2, B(1) | B(11) | B(21) | B(31)},
        {"0 0 * jan-MAR *", 3, B(1) | B(2) | B(3)},
        {"0 0 * Jul,dec *", 3, B(7) | B(12)},
        {"0 0 * 2-12/5 *", 3, B(2) | B(7) | B(12)},
        {"0 0 * * mon-fri", 4, B(1) | B(2) | B(3) | B(4) | B(5)},
        {"0 0 * * 7", 4, B(0)},
        {"0 0 * * 0", 4, B(0)},
        {"0 0 * * 5-7", 4, B(5) | B(6) | B(0)},
        {"0 0 * * SUN,sat", 4, B(0) | B(6)},
        {"0 0 * * */2", 4, B(0) | B(2) | B(4) | B(6)},
        {"0 0 * * 1-7", 4, B(7) - 1},
        {"0 0 * * FRI-SUN", 4, B(5) | B(6) | B(0)},
        {"0 0 * * 6-0", 4, B(6) | B(0)},
        {"  0\t 0  * * *  ", 0, B(0)},
        {"0 0 * * *\n", 0, B(0)},
        {"\r\n0 0 * * *\r\n", 0, B(0)},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        struct cron c;
        char err[QB_ERRBUF_SIZE] = "";
        enum qb_err rc = cron_parse(cases[i].expr, &c, err, sizeof err);
        TEST_EXPECT_INT(rc, QB_OK);
        if (rc) {
            fprintf(stderr, "  %s: %s\n", cases[i].expr, err);
            continue;
        }
        uint64_t got[5] = {c.minutes, c.hours, c.mdays, c.months, c.wdays};
        if (got[cases[i].field] != cases[i].mask)
            fprintf(stderr, "  case \"%s\"\n", cases[i].expr);
        TEST_EXPECT_INT(got[cases[i].field], cases[i].mask);
    }
}

static void test_parse_star_flags(void)
{
    static const struct {
        const char *expr;
        bool mday_star, wday_star;
    } cases[] = {
        {"0 0 * * *", true, true},        {"0 0 1 * *", false, true},   {"0 0 * * 1", true, false},
        {"0 0 1 * 1", false, false},      {"0 0 */2 * 1", true, false}, /* Vixie: first char */
        {"0 0 1-31 * 0-6", false, false}, {"@weekly", true, false},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        struct cron c;
        TEST_ASSERT(cron_parse(cases[i].expr, &c, NULL, 0) == QB_OK);
        TEST_EXPECT_INT(c.mday_star, cases[i].mday_star);
        TEST_EXPECT_INT(c.wday_star, cases[i].wday_star);
    }
}

static bool same_cron(const struct cron *a, const struct cron *b)
{
    return a->minutes == b->minutes && a->hours == b->hours && a->mdays == b->mdays &&
           a->months == b->months && a->wdays == b->wdays && a->mday_star == b->mday_star &&
           a->wday_star == b->wday_star;
}

static void test_parse_macros(void)
{
    static const struct {
        const char *macro, *expansion;
    } cases[] = {
        {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},     {"@midnight", "0 0 * * *"},
        {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"},   {"@yearly", "0 0 1 1 *"},
        {"@annually", "0 0 1 1 *"}, {"  @DAILY  ", "0 0 * * *"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        struct cron a, b;
        TEST_ASSERT(cron_parse(cases[i].macro, &a, NULL, 0) == QB_OK);
        TEST_ASSERT(cron_parse(cases[i].expansion, &b, NULL, 0) == QB_OK);
        TEST_EXPECT(same_cron(&a, &b));
    }
}

static void test_parse_errors(void)
{
    static const struct {
        const char *expr, *msg;
    } cases[] = {
        {NULL, "no cron expression"},
        {"", "expected 5 fields, got 0"},
        {"   ", "expected 5 fields, got 0"},
        {"* * * *", "expected 5 fields, got 4"},
        {"* * * * * *", "expected 5 fields, got 6"},
        {"0 24 * * *", "hour: 24 is out of range 0-23"},
        {"60 * * * *", "minute: 60 is out of range 0-59"},
        {"99999999999 * * * *", "minute: 99999999999 is out of range 0-59"},
        {"* * 0 * *", "day-of-month: 0 is out of range 1-31"},
        {"* * 32 * *", "day-of-month: 32 is out of range 1-31"},
        {"* * * 0 *", "month: 0 is out of range 1-12"},
        {"* * * 13 *", "month: 13 is out of range 1-12"},
        {"* * * * 8", "day-of-week: 8 is out of range 0-7"},
        {"* 1-30 * * *", "hour: 30 is out of range 0-23"},
        {"*/0 * * * *", "minute: step must be positive"},
        {"* 0-6/0 * * *", "hour: step must be positive"},
        {"*/ * * * *", "minute: step must be a number"},
        {"* * 1/x * *", "day-of-month: step must be a number"},
        {"*/61 * * * *", "minute: step 61 is out of range 1-60"},
        {"* * * */13 *", "month: step 13 is out of range 1-12"},
        {"5-3 * * * *", "minute: range 5-3 is backwards (start after end)"},
        {"* * * * FRI-MON", "day-of-week: range 5-1 is backwards (start after end)"},
        {"1,,2 * * * *", "minute: empty list element"},
        {"1, * * * *", "minute: empty list element"},
        {",1 * * * *", "minute: empty list element"},
        {"5- * * * *", "minute: missing value"},
        {"-1 * * * *", "minute: unexpected character '-'"},
        {"*x * * * *", "minute: unexpected character 'x'"},
        {"1.5 * * * *", "minute: unexpected character '.'"},
        {"1\x01 * * * *", "minute: unexpected byte 0x01"},
        {"*-5 * * * *", "minute: unexpected character '-'"},
        {"* ab * * *", "hour: \"ab\" is not a number"},
        {"* * MON * *", "day-of-month: \"MON\" is not a number"},
        {"* * * FOO *", "month: unknown name \"FOO\""},
        {"* * * January *", "month: unknown name \"January\""},
        {"* * * * MONDAY", "day-of-week: unknown name \"MONDAY\""},
        {"* * * * JAN", "day-of-week: unknown name \"JAN\""},
        {"* * * MON *", "month: unknown name \"MON\""},
        {"@reboot", "unknown macro \"@reboot\""},
        {"@", "unknown macro \"@\""},
        {"@daily 5", "@daily takes no fields"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        struct cron c;
        char err[QB_ERRBUF_SIZE] = "";
        TEST_EXPECT_INT(cron_parse(cases[i].expr, &c, err, sizeof err), QB_ERR_INVALID);
        TEST_EXPECT_STR(err, cases[i].msg);
    }
    /* A NULL error buffer is allowed. */
    struct cron c;
    TEST_EXPECT_INT(cron_parse("0 24 * * *", &c, NULL, 0), QB_ERR_INVALID);
}

/* ----------------------------------------------------------- next (UTC) */

static void test_next_utc(void)
{
    static const struct {
        const char *expr, *after, *next; /* next NULL: QB_ERR_NOT_FOUND */
    } cases[] = {
        /* 31st only in 31-day months. */
        {"0 0 31 * *", "2026-01-31 00:00", "2026-03-31 00:00"},
        {"0 0 31 * *", "2026-03-31 00:00", "2026-05-31 00:00"},
        {"0 0 31 * *", "2026-07-31 00:00", "2026-08-31 00:00"},
        {"0 0 31 * *", "2026-08-31 00:00", "2026-10-31 00:00"},
        /* Feb 29: leap years only; 2000 was one, 2100 is not. */
        {"0 0 29 2 *", "2026-01-01 00:00", "2028-02-29 00:00"},
        {"0 0 29 2 *", "1999-06-01 00:00", "2000-02-29 00:00"},
        {"0 0 29 2 *", "2096-03-01 00:00", "2104-02-29 00:00"},
        {"0 0 30 2 *", "2026-01-01 00:00", NULL},
        {"0 0 31 4,6,9,11 *", "2026-01-01 00:00", NULL},
        /* Steps with ranges. */
        {"*/20 9-10 * * *", "2026-05-05 10:40", "2026-05-06 09:00"},
        {"*/20 9-10 * * *", "2026-05-05 09:20", "2026-05-05 09:40"},
        {"10-50/20 * * * *", "2026-05-05 12:50", "2026-05-05 13:10"},
        {"5/20 */6 * * *", "2026-05-05 06:45", "2026-05-05 12:05"},
        /* Strictly after; seconds inside a minute. */
        {"0 12 * * *", "2026-05-05 12:00", "2026-05-06 12:00"},
        {"0 12 * * *", "2026-05-05 11:59:59", "2026-05-05 12:00"},
        {"0 12 * * *", "2026-05-05 12:00:30", "2026-05-06 12:00"},
        {"* * * * *", "2026-05-05 12:00:00", "2026-05-05 12:01"},
        {"* * * * *", "2026-05-05 12:00:59", "2026-05-05 12:01"},
        /* Rollovers: hour, day, month, year. */
        {"0 * * * *", "2026-05-05 23:30", "2026-05-06 00:00"},
        {"0 0 1 * *", "2026-12-15 00:00", "2027-01-01 00:00"},
        {"0 0 1 1 *", "2026-12-31 23:59", "2027-01-01 00:00"},
        {"59 23 31 12 *", "2026-12-31 23:59", "2027-12-31 23:59"},
        {"0 0 1 JAN,jul *", "2026-02-01 00:00", "2026-07-01 00:00"},
        /* @weekly: Sunday 00:00 (2026-11-25 is a Wednesday). */
        {"@weekly", "2026-11-25 10:00", "2026-11-29 00:00"},
        {"@weekly", "2026-11-29 00:00", "2026-12-06 00:00"},
        {"0 0 * * 7", "2026-11-25 10:00", "2026-11-29 00:00"},
        /* Vixie OR: both restricted -> 13th OR Friday (2026-02-06 is a Friday). */
        {"0 0 13 * 5", "2026-02-01 00:00", "2026-02-06 00:00"},
        {"0 0 13 * 5", "2026-02-06 00:00", "2026-02-13 00:00"},
        {"0 0 13 * 5", "2026-03-07 00:00", "2026-03-13 00:00"},
        {"0 0 1-7 * 1", "2026-03-08 00:00", "2026-03-09 00:00"},  /* any Monday */
        {"0 0 15 * MON", "2026-03-10 00:00", "2026-03-15 00:00"}, /* the 15th, a Sunday */
        /* ...but a '*'-led field ANDs: odd days that are Mondays. */
        {"0 0 */2 * 1", "2026-03-01 00:00", "2026-03-09 00:00"},
        {"0 0 */2 * 1", "2026-03-09 00:00", "2026-03-23 00:00"},
        {"0 0 * * 1", "2026-03-01 00:00", "2026-03-02 00:00"},
        {"0 0 1 * *", "2026-03-01 00:00", "2026-04-01 00:00"},
        /* Weekday ranges through 7 and names. */
        {"0 8 * * FRI-7", "2026-03-02 00:00", "2026-03-06 08:00"},
        {"0 8 * * fri-sun", "2026-03-08 08:00", "2026-03-13 08:00"},
        /* Before the epoch. */
        {"0 0 * * *", "1969-12-31 12:00", "1970-01-01 00:00"},
        {"30 6 * * *", "1969-12-30 07:00", "1969-12-31 06:30"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        struct cron c;
        int64_t next = -1;
        char a[32], b[32];
        TEST_ASSERT(cron_parse(cases[i].expr, &c, NULL, 0) == QB_OK);
        enum qb_err rc = cron_next(&c, NULL, T(cases[i].after), &next);
        if (!cases[i].next) {
            TEST_EXPECT_INT(rc, QB_ERR_NOT_FOUND);
            continue;
        }
        TEST_EXPECT_INT(rc, QB_OK);
        if (next != T(cases[i].next))
            fprintf(stderr, "  \"%s\" after %s: got %s, want %s\n", cases[i].expr, cases[i].after,
                    fmt(next, a, sizeof a), fmt(T(cases[i].next), b, sizeof b));
        TEST_EXPECT_INT(next, T(cases[i].next));
    }
}

static void test_next_weekly_is_sunday(void)
{
    struct cron c;
    TEST_ASSERT(cron_parse("@weekly", &c, NULL, 0) == QB_OK);
    int64_t t = T("2026-01-01 00:00");
    for (int i = 0; i < 60; i++) {
        int64_t next;
        TEST_ASSERT(cron_next(&c, NULL, t, &next) == QB_OK);
        time_t tt = (time_t)next;
        struct tm tm;
        gmtime_r(&tt, &tm);
        TEST_EXPECT_INT(tm.tm_wday, 0);
        TEST_EXPECT_INT(tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec, 0);
        if (i)
            TEST_EXPECT_INT(next - t, 7 * 86400);
        t = next;
    }
}

/* Brute force: scan minute by minute with cron_matches.  The fast search
 * must agree on every schedule here (all fire within 40 days). */
static void test_next_matches_brute_force(void)
{
    static const char *const exprs[] = {
        "* * * * *",     "*/7 * * * *",      "0 * * * *",       "13 */5 * * *",  "0 0 * * *",
        "30 23 * * *",   "0 9-17 * * 1-5",   "*/20 9-10 * * *", "0 0 * * 0",     "0 0 * * 6,0",
        "0 0 13 * 5",    "0 0 1-7 * 1",      "0 0 */2 * 1",     "0 12 1,15 * *", "5 4 * * sun",
        "0 0 28-31 * *", "10-50/20 1 * * *", "45 23 * * 7",     "0 0 */3 * *",   "0 0 * * */3",
        "0 6 30,31 * 3", "@hourly",          "@daily",          "59 23 * * *",
    };
    static const char *const starts[] = {
        "2026-01-01 00:00", "2026-02-27 23:59:59", "2028-02-28 12:00", "2026-12-30 23:30",
        "2026-03-31 00:00", "2026-05-05 12:34:56", "1970-01-01 00:00", "2100-02-27 00:00",
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(exprs); i++) {
        struct cron c;
        TEST_ASSERT(cron_parse(exprs[i], &c, NULL, 0) == QB_OK);
        for (size_t j = 0; j < QB_ARRAY_LEN(starts); j++) {
            int64_t after = T(starts[j]), next = 0, want = 0;
            for (int64_t t = (after / 60 + 1) * 60; t < after + 40 * 86400; t += 60) {
                if (cron_matches(&c, NULL, t)) {
                    want = t;
                    break;
                }
            }
            TEST_EXPECT(want != 0);
            TEST_EXPECT_INT(cron_next(&c, NULL, after, &next), QB_OK);
            if (next != want)
                fprintf(stderr, "  \"%s\" after %s\n", exprs[i], starts[j]);
            TEST_EXPECT_INT(next, want);
        }
    }
}

static void test_next_out_of_range(void)
{
    struct cron c;
    int64_t next;
    TEST_ASSERT(cron_parse("* * * * *", &c, NULL, 0) == QB_OK);
    TEST_EXPECT_INT(cron_next(&c, NULL, INT64_MAX, &next), QB_ERR_INVALID);
    TEST_EXPECT_INT(cron_next(&c, NULL, INT64_MIN, &next), QB_ERR_INVALID);
}

static void test_typical_interval(void)
{
    static const struct {
        const char *expr, *from;
        int64_t want;
    } cases[] = {
        {"* * * * *", "2026-05-05 12:00", 60},
        {"*/15 * * * *", "2026-05-05 12:00", 900},
        {"0 * * * *", "2026-05-05 12:00", 3600},
        {"@daily", "2026-05-05 12:00", 86400},
        {"@weekly", "2026-05-05 12:00", 7 * 86400},
        {"0 9 * * 1-5", "2026-05-05 12:00", 3 * 86400},             /* weekend */
        {"*/5 9-17 * * *", "2026-05-05 12:00", 15 * 3600 + 5 * 60}, /* night */
        {"0 0 1 * *", "2026-05-05 12:00", 31 * 86400},
        {"@yearly", "2026-06-01 00:00", 366 * 86400},     /* 2028 is leap */
        {"0 0 29 2 *", "2026-01-01 00:00", 1461 * 86400}, /* four years */
        {"0 0 30 2 *", "2026-01-01 00:00", 0},            /* never fires */
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        struct cron c;
        TEST_ASSERT(cron_parse(cases[i].expr, &c, NULL, 0) == QB_OK);
        int64_t got = cron_typical_interval(&c, NULL, T(cases[i].from));
        if (got != cases[i].want)
            fprintf(stderr, "  \"%s\"\n", cases[i].expr);
        TEST_EXPECT_INT(got, cases[i].want);
    }
}

/* ------------------------------------------------------------ time zones */

static void test_tz_names(void)
{
    static const struct {
        const char *name;
        enum qb_err rc;
    } cases[] = {
        {"", QB_ERR_INVALID},
        {"/etc/passwd", QB_ERR_INVALID},
        {"../../etc/passwd", QB_ERR_INVALID},
        {"Europe/../../etc/passwd", QB_ERR_INVALID},
        {"Europe/Berlin\n", QB_ERR_INVALID},
        {"Europe/Ber lin", QB_ERR_INVALID},
        {"UTC", QB_OK}, /* built in, works without tzdata */
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        struct cron_tz *tz = NULL;
        char err[QB_ERRBUF_SIZE] = "";
        TEST_EXPECT_INT(cron_tz_load(cases[i].name, &tz, err, sizeof err), cases[i].rc);
        if (cases[i].rc)
            TEST_EXPECT(strstr(err, "invalid time zone name") != NULL);
        cron_tz_destroy(tz);
    }
    struct cron_tz *tz = NULL;
    TEST_EXPECT_INT(cron_tz_load(NULL, &tz, NULL, 0), QB_ERR_INVALID);
    TEST_ASSERT(cron_tz_load("UTC", &tz, NULL, 0) == QB_OK);
    TEST_EXPECT_STR(cron_tz_name(tz), "UTC");
    TEST_EXPECT_INT(cron_tz_offset(tz, T("2026-07-01 00:00")), 0);
    cron_tz_destroy(tz);
    cron_tz_destroy(NULL);
    TEST_EXPECT_STR(cron_tz_name(NULL), "UTC");

    if (!have_zoneinfo())
        return;
    char err[QB_ERRBUF_SIZE] = "";
    TEST_EXPECT_INT(cron_tz_load("Europe/Nowhere", &tz, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_STR(err, "unknown time zone \"Europe/Nowhere\"");
    TEST_EXPECT_INT(cron_tz_load("Europe", &tz, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_INT(cron_tz_load("Europe/Berlin/x", &tz, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_ASSERT(cron_tz_load("Europe/Berlin", &tz, err, sizeof err) == QB_OK);
    TEST_EXPECT_STR(cron_tz_name(tz), "Europe/Berlin");
    cron_tz_destroy(tz);
}

/* A TZif file in memory, for footer-only ("slim") zones and malformed
 * input.  Both the v1 and the v2 block carry the same data. */
struct tzif {
    unsigned char b[8192];
    size_t n;
};

static void put32(struct tzif *z, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        z->b[z->n++] = (unsigned char)(v >> (8 * i));
}

static void put64(struct tzif *z, int64_t v)
{
    put32(z, (uint32_t)((uint64_t)v >> 32));
    put32(z, (uint32_t)v);
}

/* types[k] is a UTC offset; idx[k] the type of trans[k]. */
static void tzif_block(struct tzif *z, char version, size_t timesz, const int64_t *trans,
                       const unsigned char *idx, size_t nt, const int32_t *types, size_t ntypes,
                       uint32_t leapcnt)
{
    memcpy(z->b + z->n, "TZif", 4);
    z->b[z->n + 4] = (unsigned char)version;
    memset(z->b + z->n + 5, 0, 15);
    z->n += 20;
    put32(z, 0);       /* isutcnt */
    put32(z, 0);       /* isstdcnt */
    put32(z, leapcnt); /* leapcnt */
    put32(z, (uint32_t)nt);
    put32(z, (uint32_t)ntypes);
    put32(z, 4); /* charcnt: "ABC\0" */
    for (size_t k = 0; k < nt; k++) {
        if (timesz == 8)
            put64(z, trans[k]);
        else
            put32(z, (uint32_t)trans[k]);
    }
    for (size_t k = 0; k < nt; k++)
        z->b[z->n++] = idx[k];
    for (size_t k = 0; k < ntypes; k++) {
        put32(z, (uint32_t)types[k]);
        z->b[z->n++] = 0; /* isdst */
        z->b[z->n++] = 0; /* desigidx */
    }
    memcpy(z->b + z->n, "ABC", 4);
    z->n += 4;
    for (uint32_t k = 0; k < leapcnt; k++) {
        if (timesz == 8)
            put64(z, 0);
        else
            put32(z, 0);
        put32(z, 1);
    }
}

/* A v2 file with no transitions: the footer rule says everything. */
static void tzif_slim(struct tzif *z, int32_t utoff, const char *footer)
{
    z->n = 0;
    tzif_block(z, '2', 4, NULL, NULL, 0, &utoff, 1, 0);
    tzif_block(z, '2', 8, NULL, NULL, 0, &utoff, 1, 0);
    z->n += (size_t)snprintf((char *)z->b + z->n, sizeof z->b - z->n, "\n%s\n", footer);
}

static void test_tz_parse_synthetic(void)
{
    struct tzif z;
    struct cron_tz *tz = NULL;
    char err[QB_ERRBUF_SIZE] = "";

    /* v1 only, 32-bit times. */
    const int64_t trans[] = {T("2020-03-01 00:00"), T("2020-10-01 00:00")};
    const unsigned char idx[] = {1, 0};
    const int32_t types[] = {3600, 7200};
    z.n = 0;
    tzif_block(&z, 0, 4, trans, idx, 2, types, 2, 0);
    TEST_ASSERT(cron_tz_parse("v1", z.b, z.n, &tz, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(cron_tz_offset(tz, T("2019-01-01 00:00")), 3600);
    TEST_EXPECT_INT(cron_tz_offset(tz, T("2020-02-29 23:59:59")), 3600);
    TEST_EXPECT_INT(cron_tz_offset(tz, T("2020-03-01 00:00")), 7200);
    TEST_EXPECT_INT(cron_tz_offset(tz, T("2020-10-01 00:00")), 3600);
    TEST_EXPECT_INT(cron_tz_offset(tz, T("2030-10-01 00:00")), 3600);
    cron_tz_destroy(tz);

    /* Footer rules: Mm.w.d with a time, the Julian forms, <+0330> names. */
    static const struct {
        const char *footer;
        int32_t utoff;
        const char *at;
        int32_t want;
    } cases[] = {
        {"CET-1CEST,M3.5.0,M10.5.0/3", 3600, "2026-03-29 00:59:59", 3600},
        {"CET-1CEST,M3.5.0,M10.5.0/3", 3600, "2026-03-29 01:00", 7200},
        {"CET-1CEST,M3.5.0,M10.5.0/3", 3600, "2026-10-25 00:59:59", 7200},
        {"CET-1CEST,M3.5.0,M10.5.0/3", 3600, "2026-10-25 01:00", 3600},
        {"CET-1CEST,M3.5.0,M10.5.0/3", 3600, "2399-07-01 00:00", 7200},
        {"AEST-10AEDT,M10.1.0,M4.1.0/3", 36000, "2026-01-15 00:00", 39600},
        {"AEST-10AEDT,M10.1.0,M4.1.0/3", 36000, "2026-07-15 00:00", 36000},
        {"EST5EDT,M3.2.0,M11.1.0", -18000, "2026-03-08 06:59:59", -18000},
        {"EST5EDT,M3.2.0,M11.1.0", -18000, "2026-03-08 07:00", -14400},
        {"EST5EDT,M3.2.0,M11.1.0", -18000, "2026-11-01 05:59:59", -14400},
        {"EST5EDT,M3.2.0,M11.1.0", -18000, "2026-11-01 06:00", -18000},
        {"<+0330>-3:30", 12600, "2026-07-01 00:00", 12600},
        /* Permanent DST: each year's end meets the next year's start. */
        {"EST5EDT,0/0,J365/25", -18000, "2026-06-01 00:00", -14400},
        {"EST5EDT,0/0,J365/25", -18000, "2027-01-01 04:59:59", -14400},
        {"EST5EDT,0/0,J365/25", -18000, "2027-01-01 05:00", -14400},
        {"<-03>3<-02>,J60/2,J300/2", -10800, "2024-03-01 04:59:59", -10800}, /* Feb 29 skipped */
        {"<-03>3<-02>,J60/2,J300/2", -10800, "2024-03-01 05:00", -7200},
        {"<-03>3<-02>,59/2,299/2", -10800, "2024-02-29 05:00", -7200}, /* Feb 29 counted */
        {"<-03>3<-02>,59/2,299/2", -10800, "2023-03-01 05:00", -7200},
        {"<-03>3<-02>,59/2,299/2", -10800, "2023-03-01 04:59:59", -10800},
        /* Rule times outside 0-24 h (RFC 8536 v3): the day before / after. */
        {"XXX3YYY,M3.2.0/-1,M11.1.0/26", -10800, "2026-03-08 01:59:59", -10800},
        {"XXX3YYY,M3.2.0/-1,M11.1.0/26", -10800, "2026-03-08 02:00", -7200},
        {"XXX3YYY,M3.2.0/-1,M11.1.0/26", -10800, "2026-11-02 03:59:59", -7200},
        {"XXX3YYY,M3.2.0/-1,M11.1.0/26", -10800, "2026-11-02 04:00", -10800},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        tzif_slim(&z, cases[i].utoff, cases[i].footer);
        TEST_ASSERT(cron_tz_parse("slim", z.b, z.n, &tz, err, sizeof err) == QB_OK);
        int32_t got = cron_tz_offset(tz, T(cases[i].at));
        if (got != cases[i].want)
            fprintf(stderr, "  %s at %s\n", cases[i].footer, cases[i].at);
        TEST_EXPECT_INT(got, cases[i].want);
        cron_tz_destroy(tz);
    }
}

static void test_tz_parse_malformed(void)
{
    struct tzif z;
    struct cron_tz *tz = NULL;
    char err[QB_ERRBUF_SIZE] = "";
    const int64_t trans[] = {100, 50};
    const unsigned char idx[] = {0, 3};
    const int32_t types[] = {3600, 86400};

    TEST_EXPECT_INT(cron_tz_parse("x", (const unsigned char *)"nonsense", 8, &tz, err, sizeof err),
                    QB_ERR_INVALID);
    TEST_EXPECT_STR(err, "x: not a TZif file");

    tzif_slim(&z, 3600, "CET-1CEST,M3.5.0,M10.5.0/3");
    for (size_t cut = 0; cut < z.n; cut++) {
        enum qb_err rc = cron_tz_parse("x", z.b, cut, &tz, err, sizeof err);
        if (rc != QB_ERR_INVALID)
            fprintf(stderr, "  cut at %zu of %zu accepted\n", cut, z.n);
        TEST_EXPECT_INT(rc, QB_ERR_INVALID);
        if (!rc)
            cron_tz_destroy(tz);
    }

    z.n = 0; /* index out of range */
    tzif_block(&z, 0, 4, trans, idx, 2, types, 1, 0);
    TEST_EXPECT_INT(cron_tz_parse("x", z.b, z.n, &tz, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_STR(err, "x: bad transition 1");

    z.n = 0; /* not ascending */
    tzif_block(&z, 0, 4, trans, (const unsigned char *)"\0\0", 2, types, 1, 0);
    TEST_EXPECT_INT(cron_tz_parse("x", z.b, z.n, &tz, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_STR(err, "x: bad transition 1");

    z.n = 0; /* a whole day of offset */
    tzif_block(&z, 0, 4, NULL, NULL, 0, types, 2, 0);
    TEST_EXPECT_INT(cron_tz_parse("x", z.b, z.n, &tz, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_STR(err, "x: UTC offset 86400 is out of range");

    z.n = 0; /* leap seconds ("right/" zones) */
    tzif_block(&z, 0, 4, NULL, NULL, 0, types, 1, 1);
    TEST_EXPECT_INT(cron_tz_parse("x", z.b, z.n, &tz, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_STR(err, "x: leap-second time zones are not supported");

    z.n = 0; /* no time types */
    tzif_block(&z, 0, 4, NULL, NULL, 0, types, 0, 0);
    TEST_EXPECT_INT(cron_tz_parse("x", z.b, z.n, &tz, err, sizeof err), QB_ERR_INVALID);

    static const char *const bad_footers[] = {
        "CET-1CEST",
        "CET-1CEST,M3.5.0",
        "CET-1CEST,M13.5.0,M10.5.0",
        "CE-1",
        "CET-1CEST,M3.5.0,M10.5.0/3x",
        "<>-1",
        "CET",
        "CET-25",
        "CET-1CEST,M3.0.0,M10.5.0",
        "CET-1CEST,J0,J300",
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(bad_footers); i++) {
        tzif_slim(&z, 3600, bad_footers[i]);
        TEST_EXPECT_INT(cron_tz_parse("x", z.b, z.n, &tz, err, sizeof err), QB_ERR_INVALID);
        TEST_EXPECT(strstr(err, "unsupported TZ rule") != NULL);
    }
}

/* A footer-only file must agree with zic's full transition table. */
static void test_tz_slim_matches_fat(void)
{
    static const struct {
        const char *zone, *footer, *from;
        int32_t utoff;
    } cases[] = {
        {"Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3", "1997-01-01 00:00", 3600},
        {"America/New_York", "EST5EDT,M3.2.0,M11.1.0", "2008-01-01 00:00", -18000},
        {"Australia/Sydney", "AEST-10AEDT,M10.1.0,M4.1.0/3", "2009-01-01 00:00", 36000},
    };
    if (!have_zoneinfo())
        return;
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        struct cron_tz *fat = NULL, *slim = NULL;
        struct tzif z;
        char err[QB_ERRBUF_SIZE] = "";
        TEST_ASSERT(cron_tz_load(cases[i].zone, &fat, err, sizeof err) == QB_OK);
        tzif_slim(&z, cases[i].utoff, cases[i].footer);
        TEST_ASSERT(cron_tz_parse("slim", z.b, z.n, &slim, err, sizeof err) == QB_OK);
        int mismatches = 0;
        for (int64_t t = T(cases[i].from); t < T("2060-01-01 00:00"); t += 1800)
            if (cron_tz_offset(fat, t) != cron_tz_offset(slim, t))
                mismatches++;
        if (mismatches)
            fprintf(stderr, "  %s: %d mismatches\n", cases[i].zone, mismatches);
        TEST_EXPECT_INT(mismatches, 0);
        cron_tz_destroy(fat);
        cron_tz_destroy(slim);
    }
}

#define BER "Europe/Berlin"
#define NYC "America/New_York"

/* next-fire sequences across DST changes; instants are UTC. */
static void test_tz_dst(void)
{
    static const struct {
        const char *zone, *expr, *after;
        const char *fires; /* consecutive fires after `after`, ", "-separated */
    } cases[] = {
        /* Berlin spring-forward 2026-03-29: 02:00 CET -> 03:00 CEST (01:00Z).
         * 02:30 does not exist: it fires when the gap ends, 03:00 CEST. */
        {BER, "30 2 * * *", "2026-03-27 12:00",
         "2026-03-28 01:30, 2026-03-29 01:00, 2026-03-30 00:30"},
        {BER, "0 3 * * *", "2026-03-28 12:00", "2026-03-29 01:00, 2026-03-30 01:00"},
        /* The skipped quarter hours coalesce into the one at 03:00 CEST. */
        {BER, "*/15 * * * *", "2026-03-29 00:30",
         "2026-03-29 00:45, 2026-03-29 01:00, 2026-03-29 01:15"},
        /* Unlike Vixie cron, wildcard hours also fire at the gap's end. */
        {BER, "30 * * * *", "2026-03-29 00:00",
         "2026-03-29 00:30, 2026-03-29 01:00, 2026-03-29 01:30"},
        {BER, "0 * * * *", "2026-03-28 23:30",
         "2026-03-29 00:00, 2026-03-29 01:00, 2026-03-29 02:00"},
        /* Berlin fall-back 2026-10-25: 03:00 CEST -> 02:00 CET (01:00Z).
         * 02:xx happens twice; only the first (CEST) occurrence fires. */
        {BER, "30 2 * * *", "2026-10-24 12:00", "2026-10-25 00:30, 2026-10-26 01:30"},
        {BER, "*/30 * * * *", "2026-10-24 23:45",
         "2026-10-25 00:00, 2026-10-25 00:30, 2026-10-25 02:00, 2026-10-25 02:30"},
        {BER, "0 * * * *", "2026-10-24 23:30",
         "2026-10-25 00:00, 2026-10-25 02:00, 2026-10-25 03:00"},
        /* Strictly-after from inside the repeated hour (01:15Z = 02:15 CET). */
        {BER, "*/30 * * * *", "2026-10-25 01:15", "2026-10-25 02:00"},
        {BER, "0 12 * * *", "2026-01-10 00:00", "2026-01-10 11:00, 2026-01-11 11:00"},
        {BER, "0 12 * * *", "2026-07-10 00:00", "2026-07-10 10:00"},
        /* Beyond 2037 the zone comes from the TZif footer rule. */
        {BER, "0 12 1 7 *", "2050-01-01 00:00", "2050-07-01 10:00"},
        {BER, "0 12 1 1 *", "2050-01-01 00:00", "2050-01-01 11:00"},
        /* New York 2026: DST starts 03-08 (07:00Z), ends 11-01 (06:00Z). */
        {NYC, "30 2 * * *", "2026-03-07 12:00", "2026-03-08 07:00, 2026-03-09 06:30"},
        {NYC, "30 1 * * *", "2026-10-31 12:00", "2026-11-01 05:30, 2026-11-02 06:30"},
        {NYC, "0 0 * * *", "2026-10-31 12:00", "2026-11-01 04:00, 2026-11-02 05:00"},
        /* 2000: first Sunday of April, from zic's table, not the footer. */
        {NYC, "30 2 * * *", "2000-04-01 12:00", "2000-04-02 07:00, 2000-04-03 06:30"},
    };
    if (!have_zoneinfo())
        return;
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        struct cron_tz *tz = NULL;
        struct cron c;
        char err[QB_ERRBUF_SIZE] = "";
        TEST_ASSERT(cron_tz_load(cases[i].zone, &tz, err, sizeof err) == QB_OK);
        TEST_ASSERT(cron_parse(cases[i].expr, &c, NULL, 0) == QB_OK);
        int64_t t = T(cases[i].after);
        for (const char *f = cases[i].fires; f; f = strchr(f, ',') ? strchr(f, ',') + 2 : NULL) {
            int64_t next = 0;
            char a[32], b[32];
            TEST_EXPECT_INT(cron_next(&c, tz, t, &next), QB_OK);
            if (next != T(f))
                fprintf(stderr, "  %s \"%s\" after %s: got %s, want %.16s\n", cases[i].zone,
                        cases[i].expr, fmt(t, a, sizeof a), fmt(next, b, sizeof b), f);
            TEST_EXPECT_INT(next, T(f));
            t = next;
        }
        cron_tz_destroy(tz);
    }
}

/* Away from DST changes, a zone is UTC shifted by its offset: the
 * brute-force scan must agree in local time too. */
static void test_tz_brute_force(void)
{
    static const char *const exprs[] = {"0 9-17 * * 1-5", "*/7 * * * *", "0 0 13 * 5",
                                        "30 23 * * *", "0 0 1 * *"};
    static const char *const zones[] = {"Europe/Berlin", "America/New_York", "Asia/Kolkata",
                                        "Australia/Sydney"};
    if (!have_zoneinfo())
        return;
    for (size_t z = 0; z < QB_ARRAY_LEN(zones); z++) {
        struct cron_tz *tz = NULL;
        TEST_ASSERT(cron_tz_load(zones[z], &tz, NULL, 0) == QB_OK);
        for (size_t i = 0; i < QB_ARRAY_LEN(exprs); i++) {
            struct cron c;
            TEST_ASSERT(cron_parse(exprs[i], &c, NULL, 0) == QB_OK);
            int64_t after = T("2026-05-30 21:17:03"), next = 0, want = 0;
            for (int64_t t = (after / 60 + 1) * 60; t < after + 40 * 86400; t += 60) {
                if (cron_matches(&c, tz, t)) {
                    want = t;
                    break;
                }
            }
            TEST_EXPECT_INT(cron_next(&c, tz, after, &next), QB_OK);
            TEST_EXPECT_INT(next, want);
        }
        cron_tz_destroy(tz);
    }
}

static void test_tz_typical_interval(void)
{
    if (!have_zoneinfo())
        return;
    struct cron_tz *tz = NULL;
    struct cron c;
    TEST_ASSERT(cron_tz_load("Europe/Berlin", &tz, NULL, 0) == QB_OK);
    TEST_ASSERT(cron_parse("0 3 * * *", &c, NULL, 0) == QB_OK);
    TEST_EXPECT_INT(cron_typical_interval(&c, tz, T("2026-10-20 00:00")), 25 * 3600);
    TEST_EXPECT_INT(cron_typical_interval(&c, tz, T("2026-03-25 00:00")), 24 * 3600);
    TEST_EXPECT_INT(cron_typical_interval(&c, NULL, T("2026-10-20 00:00")), 24 * 3600);
    cron_tz_destroy(tz);
}

int main(void)
{
    TEST_RUN(test_parse_fields);
    TEST_RUN(test_parse_star_flags);
    TEST_RUN(test_parse_macros);
    TEST_RUN(test_parse_errors);
    TEST_RUN(test_next_utc);
    TEST_RUN(test_next_weekly_is_sunday);
    TEST_RUN(test_next_matches_brute_force);
    TEST_RUN(test_next_out_of_range);
    TEST_RUN(test_typical_interval);
    TEST_RUN(test_tz_names);
    TEST_RUN(test_tz_parse_synthetic);
    TEST_RUN(test_tz_parse_malformed);
    TEST_RUN(test_tz_slim_matches_fat);
    TEST_RUN(test_tz_dst);
    TEST_RUN(test_tz_brute_force);
    TEST_RUN(test_tz_typical_interval);
    return TEST_RESULT();
}
