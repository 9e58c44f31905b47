/* SPDX-License-Identifier: Apache-2.0
 *
 * test_retention.c -- retention decisions as scenarios: grandfather-father-
 * son over 40 daily snapshots, hourly buckets, bucket gaps (restic's "last
 * N buckets that hold a snapshot"), ISO weeks across New Year, pinned
 * snapshots outside the quotas, the newest-verified guarantee against
 * max_age, ties and unsorted input, empty input and the empty policy, and
 * policy validation messages.
 */
#include "unit.h"

#include "common.h"
#include "engine/retention.h"
#include "engine/retention_apply.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR 3600
#define DAY  86400
#define MAXN 64

/* "2026-11-25 02:00" in UTC to Unix seconds. */
static int64_t T(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%d-%d-%d %d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min) != 5)
        abort();
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

struct want {
    int64_t id;
    const char *reason; /* expected reason; keep is implied by it */
};

static bool reason_keeps(const char *reason)
{
    return strcmp(reason, "older than max_age") != 0 &&
           strcmp(reason, "not selected by any rule") != 0;
}

/* Runs the policy and checks every item: ids listed in `kept` must have
 * that reason; every other id must have `other` (usually a delete). */
static void check(const char *name, const struct retention_policy *p,
                  const struct retention_item *items, size_t n, int64_t now,
                  const struct want *kept, size_t nkept, const char *other)
{
    struct retention_decision out[MAXN];
    char err[QB_ERRBUF_SIZE] = "";
    TEST_ASSERT(n <= MAXN);
    memset(out, 0xa5, sizeof out);
    TEST_EXPECT_INT(retention_decide(p, items, n, now, out, err, sizeof err), QB_OK);
    for (size_t i = 0; i < n; i++) {
        const char *want = other;
        for (size_t k = 0; k < nkept; k++)
            if (kept[k].id == items[i].id)
                want = kept[k].reason;
        TEST_EXPECT_INT(out[i].id, items[i].id);
        if (strcmp(out[i].reason, want) != 0 || out[i].keep != reason_keeps(want))
            fprintf(stderr, "  %s: id %lld: got %s \"%s\", want \"%s\"\n", name,
                    (long long)items[i].id, out[i].keep ? "keep" : "delete", out[i].reason, want);
        TEST_EXPECT_STR(out[i].reason, want);
        TEST_EXPECT_INT(out[i].keep, reason_keeps(want));
    }
}

/* n snapshots `step` seconds apart, the last at `last`; ids 1..n oldest
 * first. */
static size_t series(struct retention_item *items, size_t n, int64_t last, int64_t step)
{
    for (size_t i = 0; i < n; i++) {
        items[i].id = (int64_t)i + 1;
        items[i].created_at = last - (int64_t)(n - 1 - i) * step;
        items[i].pinned = false;
        items[i].verified = false;
        items[i].keep_until = 0;
        items[i].locked_until = 0;
    }
    return n;
}

/* 40 daily snapshots 2026-10-17 .. 2026-11-25 (ids 1..40, id k on Oct 16+k). */
static const struct want gfs_kept[] = {
    {40, "daily 2026-11-25"}, {39, "daily 2026-11-24"}, {38, "daily 2026-11-23"},
    {37, "daily 2026-11-22"}, {36, "daily 2026-11-21"}, {35, "daily 2026-11-20"},
    {34, "daily 2026-11-19"}, {30, "weekly 2026-W46"},  {23, "weekly 2026-W45"},
    {15, "monthly 2026-10"},
};

static void test_gfs_daily_weekly_monthly(void)
{
    struct retention_item items[MAXN];
    struct retention_policy p = {.keep_daily = 7, .keep_weekly = 4, .keep_monthly = 2};
    size_t n = series(items, 40, T("2026-11-25 02:00"), DAY);
    check("gfs", &p, items, n, T("2026-11-25 03:00"), gfs_kept, QB_ARRAY_LEN(gfs_kept),
          "not selected by any rule");
}

/* The same snapshots in a scrambled order give the same verdict per id. */
static void test_unsorted_input(void)
{
    struct retention_item items[MAXN], tmp;
    struct retention_policy p = {.keep_daily = 7, .keep_weekly = 4, .keep_monthly = 2};
    size_t n = series(items, 40, T("2026-11-25 02:00"), DAY);
    for (size_t i = 0; i < n; i++) { /* a fixed permutation: i -> 17 i mod 40 */
        size_t j = (i * 17) % n;
        tmp = items[i];
        items[i] = items[j];
        items[j] = tmp;
    }
    check("unsorted", &p, items, n, T("2026-11-25 03:00"), gfs_kept, QB_ARRAY_LEN(gfs_kept),
          "not selected by any rule");
}

static void test_hourly_and_last(void)
{
    /* Every 20 minutes from 00:00 to 05:40: ids 1..18. */
    struct retention_item items[MAXN];
    struct retention_policy p = {.keep_last = 2, .keep_hourly = 3};
    size_t n = series(items, 18, T("2026-11-25 05:40"), 20 * 60);
    static const struct want kept[] = {
        {18, "keep_last"}, /* also hourly 05: the first rule names it */
        {17, "keep_last"},
        {15, "hourly 2026-11-25T04"},
        {12, "hourly 2026-11-25T03"},
    };
    check("hourly", &p, items, n, T("2026-11-25 06:00"), kept, QB_ARRAY_LEN(kept),
          "not selected by any rule");
}

/* restic semantics: the last N buckets *that hold a snapshot*, not the
 * last N calendar days. */
static void test_bucket_gaps(void)
{
    struct retention_item items[3] = {
        {1, T("2026-11-01 10:00"), false, false, 0, 0},
        {2, T("2026-11-05 10:00"), false, false, 0, 0},
        {3, T("2026-11-10 10:00"), false, false, 0, 0},
    };
    struct retention_policy p = {.keep_daily = 2};
    static const struct want kept[] = {{3, "daily 2026-11-10"}, {2, "daily 2026-11-05"}};
    check("gaps", &p, items, 3, T("2026-11-25 00:00"), kept, QB_ARRAY_LEN(kept),
          "not selected by any rule");
}

/* Several snapshots per bucket: the newest of each bucket is the one kept. */
static void test_newest_in_bucket(void)
{
    struct retention_item items[6] = {
        {1, T("2026-11-23 01:00"), false, false, 0, 0},
        {2, T("2026-11-23 23:00"), false, false, 0, 0},
        {3, T("2026-11-24 00:00"), false, false, 0, 0},
        {4, T("2026-11-24 12:00"), false, false, 0, 0},
        {5, T("2026-11-24 23:59"), false, false, 0, 0},
        {6, T("2026-11-25 00:00"), false, false, 0, 0},
    };
    struct retention_policy p = {.keep_daily = 3};
    static const struct want kept[] = {
        {6, "daily 2026-11-25"}, {5, "daily 2026-11-24"}, {2, "daily 2026-11-23"}};
    check("newest in bucket", &p, items, 6, T("2026-11-25 12:00"), kept, QB_ARRAY_LEN(kept),
          "not selected by any rule");
}

static void test_weekly_iso_year_boundary(void)
{
    /* 2026-12-31 (Thu) and 2027-01-01 (Fri) are both in ISO week 2026-W53;
     * 2024-12-30 (Mon) is in 2025-W01; 2021-01-03 (Sun) in 2020-W53. */
    struct retention_item items[5] = {
        {1, T("2021-01-03 10:00"), false, false, 0, 0},
        {2, T("2024-12-30 10:00"), false, false, 0, 0},
        {3, T("2026-12-28 10:00"), false, false, 0, 0},
        {4, T("2026-12-31 10:00"), false, false, 0, 0},
        {5, T("2027-01-01 10:00"), false, false, 0, 0},
    };
    struct retention_policy p = {.keep_weekly = 10};
    static const struct want kept[] = {
        {5, "weekly 2026-W53"}, {2, "weekly 2025-W01"}, {1, "weekly 2020-W53"}};
    check("iso weeks", &p, items, 5, T("2027-01-02 00:00"), kept, QB_ARRAY_LEN(kept),
          "not selected by any rule");
}

static void test_monthly_yearly(void)
{
    /* The 1st of every month, 2024-01 .. 2026-12: ids 1..36. */
    struct retention_item items[MAXN];
    size_t n = 0;
    for (int y = 2024; y <= 2026; y++) {
        for (int m = 1; m <= 12; m++) {
            char s[48];
            snprintf(s, sizeof s, "%d-%02d-01 00:00", y, m);
            items[n] = (struct retention_item){(int64_t)n + 1, T(s), false, false, 0, 0};
            n++;
        }
    }
    struct retention_policy p = {.keep_monthly = 3, .keep_yearly = 5};
    static const struct want kept[] = {
        {36, "monthly 2026-12"}, {35, "monthly 2026-11"}, {34, "monthly 2026-10"},
        {24, "yearly 2025"},     {12, "yearly 2024"},
    };
    check("monthly/yearly", &p, items, n, T("2027-01-15 00:00"), kept, QB_ARRAY_LEN(kept),
          "not selected by any rule");
}

static void test_pinned_not_counted(void)
{
    struct retention_item items[MAXN];
    size_t n = series(items, 5, T("2026-11-25 02:00"), DAY);
    items[4].pinned = true; /* the newest */
    items[0].pinned = true; /* and the oldest */
    struct retention_policy p = {.keep_last = 2};
    static const struct want kept[] = {
        {5, "pinned"}, {4, "keep_last"}, {3, "keep_last"}, {1, "pinned"}};
    check("pinned", &p, items, n, T("2026-11-26 00:00"), kept, QB_ARRAY_LEN(kept),
          "not selected by any rule");

    /* A pinned snapshot does not fill its day's bucket either. */
    struct retention_item day[2] = {
        {1, T("2026-11-25 01:00"), false, false, 0, 0},
        {2, T("2026-11-25 02:00"), true, false, 0, 0},
    };
    struct retention_policy daily = {.keep_daily = 1};
    static const struct want kept2[] = {{2, "pinned"}, {1, "daily 2026-11-25"}};
    check("pinned bucket", &daily, day, 2, T("2026-11-26 00:00"), kept2, QB_ARRAY_LEN(kept2),
          "not selected by any rule");

    /* Pinned survives max_age. */
    struct retention_policy old = {.keep_last = 10, .max_age_s = DAY};
    static const struct want kept3[] = {{2, "pinned"}};
    check("pinned old", &old, day, 2, T("2026-12-25 00:00"), kept3, QB_ARRAY_LEN(kept3),
          "older than max_age");
}

/* keep_until (a one-off pre-migration snapshot): kept while the hold is
 * ahead, outside every quota; afterwards an ordinary snapshot again, and
 * the newest verified backup survives throughout. */
static void test_held_until(void)
{
    struct retention_item items[MAXN];
    size_t n = series(items, 5, T("2026-11-25 02:00"), DAY);
    int64_t now = T("2026-11-26 00:00");
    items[4].keep_until = T("2026-12-01 00:00"); /* the newest, id 5 */
    struct retention_policy p = {.keep_last = 2};
    static const struct want kept[] = {
        {5, "held until 2026-12-01T00:00:00Z"}, {4, "keep_last"}, {3, "keep_last"}};
    check("held", &p, items, n, now, kept, QB_ARRAY_LEN(kept), "not selected by any rule");

    /* A hold that has passed is no hold: id 5 is walked again. */
    static const struct want after[] = {{5, "keep_last"}, {4, "keep_last"}};
    check("hold passed", &p, items, n, T("2026-12-01 00:00"), after, QB_ARRAY_LEN(after),
          "not selected by any rule");

    /* max_age has passed for all; the held one is also the newest
     * verified, so the older verified one may go, and once the hold ends
     * the held one stays as the newest verified. */
    items[4].verified = true;
    items[2].verified = true;
    struct retention_policy old = {.max_age_s = DAY};
    int64_t later = T("2026-11-30 00:00");
    static const struct want held[] = {{5, "held until 2026-12-01T00:00:00Z"}};
    check("held verified", &old, items, n, later, held, QB_ARRAY_LEN(held), "older than max_age");
    static const struct want ended[] = {{5, "newest verified"}};
    check("hold ended", &old, items, n, T("2026-12-02 00:00"), ended, QB_ARRAY_LEN(ended),
          "older than max_age");
}

static void test_newest_verified_survives_max_age(void)
{
    /* Backups stopped a month ago: every snapshot is older than max_age. */
    struct retention_item items[MAXN];
    size_t n = series(items, 10, T("2026-10-25 02:00"), DAY);
    items[1].verified = true;
    items[4].verified = true; /* id 5: the newest verified */
    struct retention_policy p = {.keep_last = 3, .max_age_s = 7 * DAY};
    static const struct want kept[] = {{5, "newest verified"}};
    check("verified vs max_age", &p, items, n, T("2026-11-25 00:00"), kept, QB_ARRAY_LEN(kept),
          "older than max_age");
}

static void test_unverified_newest_not_protected(void)
{
    struct retention_item items[MAXN];
    size_t n = series(items, 5, T("2026-11-25 02:00"), DAY);
    items[2].verified = true; /* id 3 */
    struct retention_policy p = {.keep_last = 1};
    static const struct want kept[] = {{5, "keep_last"}, {3, "newest verified"}};
    check("unverified newest", &p, items, n, T("2026-11-26 00:00"), kept, QB_ARRAY_LEN(kept),
          "not selected by any rule");

    /* Under max_age alone the unverified newest goes, the verified stays. */
    struct retention_policy age = {.max_age_s = DAY};
    static const struct want kept2[] = {{3, "newest verified"}};
    check("unverified newest, max_age", &age, items, n, T("2026-12-26 00:00"), kept2,
          QB_ARRAY_LEN(kept2), "older than max_age");

    /* When the newest verified snapshot is pinned, nothing else is shielded. */
    items[4].verified = true;
    items[4].pinned = true;
    static const struct want kept3[] = {{5, "pinned"}};
    check("verified pinned", &age, items, n, T("2026-12-26 00:00"), kept3, QB_ARRAY_LEN(kept3),
          "older than max_age");
}

static void test_last_backup_kept_without_verification(void)
{
    /* verify off, backups stopped a month ago, max_age a week: the newest
     * snapshot is all that is left, and it stays. */
    struct retention_item items[MAXN];
    size_t n = series(items, 6, T("2026-10-25 02:00"), DAY);
    struct retention_policy p = {.max_age_s = 7 * DAY};
    static const struct want kept[] = {{6, "newest (none verified)"}};
    check("none verified", &p, items, n, T("2026-11-25 00:00"), kept, QB_ARRAY_LEN(kept),
          "older than max_age");
    /* A pinned newest is kept as pinned; the fallback is not needed. */
    items[5].pinned = true;
    static const struct want kept2[] = {{6, "pinned"}};
    check("none verified, pinned", &p, items, n, T("2026-11-25 00:00"), kept2, QB_ARRAY_LEN(kept2),
          "older than max_age");
}

static void test_max_age_only(void)
{
    /* No count rule: everything younger than max_age is kept. */
    struct retention_item items[MAXN];
    size_t n = series(items, 6, T("2026-11-25 00:00"), DAY);
    items[5].created_at = T("2026-11-27 00:00"); /* from the future (clock skew) */
    struct retention_policy p = {.max_age_s = 3 * DAY};
    static const struct want kept[] = {
        {6, "within max_age"},
        {5, "within max_age"},
        {4, "within max_age"},
        {3, "within max_age"}, /* exactly max_age old: kept */
    };
    check("max_age only", &p, items, n, T("2026-11-25 00:00"), kept, QB_ARRAY_LEN(kept),
          "older than max_age");

    /* With a count rule, max_age is an upper bound on what it selects. */
    struct retention_policy both = {.keep_last = 5, .max_age_s = 3 * DAY};
    static const struct want kept2[] = {
        {6, "keep_last"}, {5, "keep_last"}, {4, "keep_last"}, {3, "keep_last"}};
    check("max_age bound", &both, items, n, T("2026-11-25 00:00"), kept2, QB_ARRAY_LEN(kept2),
          "older than max_age");

    /* Younger but not selected: "not selected", not "older than max_age". */
    struct retention_policy one = {.keep_last = 1, .max_age_s = 3 * DAY};
    static const struct want kept3[] = {{6, "keep_last"},
                                        {5, "not selected by any rule"},
                                        {4, "not selected by any rule"},
                                        {3, "not selected by any rule"}};
    check("max_age and keep_last 1", &one, items, n, T("2026-11-25 00:00"), kept3,
          QB_ARRAY_LEN(kept3), "older than max_age");
}

static void test_ties_ordered_by_id(void)
{
    int64_t t = T("2026-11-25 02:00");
    struct retention_item items[4] = {{7, t, false, false, 0, 0},
                                      {9, t, false, true, 0, 0},
                                      {8, t, false, true, 0, 0},
                                      {3, t - 1, false, true, 0, 0}};
    struct retention_policy p = {.keep_last = 1};
    static const struct want kept[] = {{9, "keep_last"}};
    check("ties", &p, items, 4, t, kept, QB_ARRAY_LEN(kept), "not selected by any rule");

    struct retention_policy d = {.keep_daily = 1};
    static const struct want kept2[] = {{9, "daily 2026-11-25"}};
    check("ties daily", &d, items, 4, t, kept2, QB_ARRAY_LEN(kept2), "not selected by any rule");

    /* Newest verified among ties is the larger id too. */
    items[1].verified = false; /* id 9 */
    struct retention_policy age = {.max_age_s = 60};
    static const struct want kept3[] = {{8, "newest verified"}};
    check("ties verified", &age, items, 4, t + DAY, kept3, QB_ARRAY_LEN(kept3),
          "older than max_age");
}

static void test_empty_input_and_policy(void)
{
    struct retention_policy p = {.keep_last = 1};
    struct retention_decision out[1];
    TEST_EXPECT_INT(retention_decide(&p, NULL, 0, 0, out, NULL, 0), QB_OK);

    struct retention_policy empty = {0};
    TEST_EXPECT(retention_policy_is_empty(&empty));
    TEST_EXPECT(!retention_policy_is_empty(&p));
    struct retention_item items[MAXN];
    size_t n = series(items, 10, T("2020-01-01 00:00"), DAY);
    items[3].pinned = true;
    static const struct want kept[] = {{4, "pinned"}};
    check("empty policy", &empty, items, n, T("2026-11-25 00:00"), kept, QB_ARRAY_LEN(kept),
          "empty policy");
}

static void test_policy_check(void)
{
    static const struct {
        struct retention_policy p;
        const char *msg; /* NULL: valid */
    } cases[] = {
        {{0}, NULL},
        {{1, 2, 3, 4, 5, 6, 7}, NULL},
        {{.keep_last = -1}, "keep_last must not be negative"},
        {{.keep_hourly = -1}, "keep_hourly must not be negative"},
        {{.keep_daily = -7}, "keep_daily must not be negative"},
        {{.keep_weekly = -1}, "keep_weekly must not be negative"},
        {{.keep_monthly = -1}, "keep_monthly must not be negative"},
        {{.keep_yearly = -1}, "keep_yearly must not be negative"},
        {{.max_age_s = -86400}, "max_age_s must not be negative"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        char err[QB_ERRBUF_SIZE] = "";
        enum qb_err rc = retention_policy_check(&cases[i].p, err, sizeof err);
        if (!cases[i].msg) {
            TEST_EXPECT_INT(rc, QB_OK);
            continue;
        }
        TEST_EXPECT_INT(rc, QB_ERR_INVALID);
        TEST_EXPECT_STR(err, cases[i].msg);

        /* retention_decide refuses the policy and leaves out alone. */
        struct retention_item item = {1, 0, false, false, 0, 0};
        struct retention_decision out = {.id = 42};
        err[0] = '\0';
        TEST_EXPECT_INT(retention_decide(&cases[i].p, &item, 1, 0, &out, err, sizeof err),
                        QB_ERR_INVALID);
        TEST_EXPECT_STR(err, cases[i].msg);
        TEST_EXPECT_INT(out.id, 42);
    }
}

/* Extreme inputs must not overflow (UBSan watches). */
static void test_extremes(void)
{
    struct retention_item items[3] = {{1, INT64_MIN, false, false, 0, 0},
                                      {2, INT64_MAX, false, false, 0, 0},
                                      {3, 0, false, false, 0, 0}};
    struct retention_policy p = {1, 1, 1, 1, 1, 1, INT64_MAX};
    struct retention_decision out[3];
    TEST_EXPECT_INT(retention_decide(&p, items, 3, INT64_MIN, out, NULL, 0), QB_OK);
    TEST_EXPECT_INT(retention_decide(&p, items, 3, INT64_MAX, out, NULL, 0), QB_OK);
    TEST_EXPECT(out[1].keep);
}

/* Object Lock: a snapshot the rules delete is kept while locked, with its
 * date as the reason, and goes once the date has passed. */
static void test_locked_until(void)
{
    struct retention_item items[MAXN];
    size_t n = series(items, 3, T("2026-11-25 02:00"), DAY);
    items[0].locked_until = T("2026-12-01 00:00"); /* the oldest, id 1 */
    struct retention_policy p = {.keep_last = 1};
    static const struct want kept[] = {{3, "keep_last"}, {1, "locked until 2026-12-01T00:00:00Z"}};
    check("locked", &p, items, n, T("2026-11-28 00:00"), kept, QB_ARRAY_LEN(kept),
          "not selected by any rule");
    static const struct want after[] = {{3, "keep_last"}};
    check("lock passed", &p, items, n, T("2026-12-01 00:00"), after, QB_ARRAY_LEN(after),
          "not selected by any rule");
    /* A lock does not change what the rules choose: the locked snapshot
     * still fills its slot in keep_last when it is the newest. */
    items[2].locked_until = T("2026-12-01 00:00");
    static const struct want newest[] = {{3, "keep_last"},
                                         {1, "locked until 2026-12-01T00:00:00Z"}};
    check("locked newest", &p, items, n, T("2026-11-28 00:00"), newest, QB_ARRAY_LEN(newest),
          "not selected by any rule");
}

/* The retain-until date derived from a plan's retention. */
static void test_lock_from_json(void)
{
    static const struct {
        const char *json;
        const char *mode; /* NULL: refused */
        int64_t period_s;
        const char *msg; /* the refusal names the field */
    } cases[] = {
        {"{\"keep_last\": 3}", "", 0, NULL},
        {"{\"object_lock\": null}", "", 0, NULL},
        {"{\"keep_last\": 3, \"object_lock\": {\"mode\": \"governance\", \"days\": 7}}",
         "GOVERNANCE", 7 * 86400, NULL},
        {"{\"max_age\": \"30d\", \"object_lock\": {\"mode\": \"compliance\"}}", "COMPLIANCE",
         30 * 86400, NULL},
        {"{\"max_age\": 3600, \"object_lock\": {\"mode\": \"compliance\", \"days\": 2}}",
         "COMPLIANCE", 2 * 86400, NULL},
        {"{\"keep_last\": 3, \"object_lock\": {\"mode\": \"governance\"}}", NULL, 0,
         "retention.object_lock.days: required when retention has no max_age"},
        {"{\"object_lock\": {\"mode\": \"GOVERNANCE\", \"days\": 1}}", NULL, 0,
         "retention.object_lock.mode: must be"},
        {"{\"object_lock\": {\"days\": 1}}", NULL, 0, "retention.object_lock.mode: must be"},
        {"{\"object_lock\": {\"mode\": \"governance\", \"days\": 0}}", NULL, 0,
         "retention.object_lock.days: must be between 1 and 36500"},
        {"{\"object_lock\": {\"mode\": \"governance\", \"days\": 1, \"bypass\": true}}", NULL, 0,
         "retention.object_lock.bypass"},
        {"{\"object_lock\": true}", NULL, 0, "retention.object_lock: must be an object"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        char err[QB_ERRBUF_SIZE] = "";
        struct retention_lock l;
        struct retention_policy p;
        cJSON *j = cJSON_Parse(cases[i].json);
        TEST_ASSERT(j != NULL);
        enum qb_err rc = retention_lock_from_json(j, &l, err, sizeof err);
        /* The plan body's validation refuses exactly the same. */
        char perr[QB_ERRBUF_SIZE] = "";
        enum qb_err prc = retention_policy_from_json(j, &p, perr, sizeof perr);
        cJSON_Delete(j);
        TEST_EXPECT_INT(prc, rc);
        if (!cases[i].mode) {
            TEST_EXPECT_INT(rc, QB_ERR_INVALID);
            TEST_EXPECT(strstr(err, cases[i].msg) == err);
            TEST_EXPECT(strstr(perr, cases[i].msg) == perr);
            continue;
        }
        TEST_EXPECT_INT(rc, QB_OK);
        TEST_EXPECT_STR(l.mode, cases[i].mode);
        TEST_EXPECT_INT(l.period_s, cases[i].period_s);
        int64_t at = T("2026-12-06 12:00");
        TEST_EXPECT_INT(retention_lock_until(&l, at),
                        cases[i].period_s ? at + cases[i].period_s : 0);
    }
    struct retention_lock big = {"GOVERNANCE", INT64_MAX};
    TEST_EXPECT_INT(retention_lock_until(&big, 10), INT64_MAX); /* no overflow */
}

int main(void)
{
    TEST_RUN(test_gfs_daily_weekly_monthly);
    TEST_RUN(test_unsorted_input);
    TEST_RUN(test_hourly_and_last);
    TEST_RUN(test_bucket_gaps);
    TEST_RUN(test_newest_in_bucket);
    TEST_RUN(test_weekly_iso_year_boundary);
    TEST_RUN(test_monthly_yearly);
    TEST_RUN(test_pinned_not_counted);
    TEST_RUN(test_held_until);
    TEST_RUN(test_newest_verified_survives_max_age);
    TEST_RUN(test_unverified_newest_not_protected);
    TEST_RUN(test_last_backup_kept_without_verification);
    TEST_RUN(test_max_age_only);
    TEST_RUN(test_ties_ordered_by_id);
    TEST_RUN(test_empty_input_and_policy);
    TEST_RUN(test_policy_check);
    TEST_RUN(test_extremes);
    TEST_RUN(test_locked_until);
    TEST_RUN(test_lock_from_json);
    return TEST_RESULT();
}
