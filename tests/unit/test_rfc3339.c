/* SPDX-License-Identifier: Apache-2.0
 *
 * test_rfc3339.c -- the RFC 3339 parser (util/rfc3339.c): every optional
 * part behind its flag, the exact-two-digits grammar, impossible dates,
 * and the strictness each caller relies on (the runs filter's since/until,
 * a restore's latest_before, S3 listings, rescanned manifests).
 */
#include "unit.h"
#include "util/rfc3339.h"

#include <stdint.h>

struct tcase {
    const char *in;
    unsigned flags;
    bool ok;
    int64_t want;
};

static void test_table(void)
{
    const unsigned Z = 0, A = RFC3339_ANY;
    const struct tcase cases[] = {
        /* the core form, accepted under every flag set */
        {"2026-11-25T12:00:00Z", Z, true, 1795608000},
        {"2026-11-25T12:00:00Z", A, true, 1795608000},
        {"1970-01-01T00:00:00Z", Z, true, 0},
        {"1969-12-31T23:59:59Z", Z, true, -1},
        {"2024-02-29T00:00:00Z", Z, true, 1709164800},
        {"2026-12-31T23:59:60Z", Z, true, 1798761599}, /* leap second: the second before */
        /* +00:00 only where the caller allows it */
        {"2026-11-25T12:00:00+00:00", Z, false, 0},
        {"2026-11-25T12:00:00+00:00", RFC3339_PLUS_ZERO, true, 1795608000},
        {"2026-11-25T12:00:00-00:00", RFC3339_PLUS_ZERO, false, 0},
        {"2026-11-25T13:00:00+01:00", RFC3339_PLUS_ZERO, false, 0},
        {"2026-11-25T13:00:00+01:00", RFC3339_OFFSET, true, 1795608000},
        {"2026-11-25T06:30:00-05:30", RFC3339_OFFSET, true, 1795608000},
        {"2026-11-25T12:00:00+00:00", RFC3339_OFFSET, true, 1795608000},
        {"2026-11-25T12:00:00+24:00", RFC3339_OFFSET, false, 0},
        {"2026-11-25T12:00:00+01:60", RFC3339_OFFSET, false, 0},
        {"2026-11-25T12:00:00+0100", RFC3339_OFFSET, false, 0},
        /* fractions */
        {"2026-11-25T12:00:00.000Z", Z, false, 0},
        {"2026-11-25T12:00:00.000Z", RFC3339_FRACTION, true, 1795608000},
        {"2026-11-25T12:00:00.999999Z", RFC3339_FRACTION, true, 1795608000},
        {"2026-11-25T12:00:00.Z", RFC3339_FRACTION, false, 0},
        {"2026-11-25T13:00:00.5+01:00", A, true, 1795608000},
        /* lower case */
        {"2026-11-25t12:00:00z", Z, false, 0},
        {"2026-11-25T12:00:00z", Z, false, 0},
        {"2026-11-25t12:00:00z", RFC3339_LOWER, true, 1795608000},
        /* not RFC 3339 at all */
        {"", A, false, 0},
        {"2026-11-25", A, false, 0},
        {"2026-11-25 12:00:00Z", A, false, 0},
        {"2026-11-25T12:00:00", A, false, 0},
        {"2026-11-25T12:00Z", A, false, 0},
        {"2026-1-25T12:00:00Z", A, false, 0},
        {"2026-11-5T12:00:00Z", A, false, 0},
        {"2026-11-25T2:00:00Z", A, false, 0},
        {" 2026-11-25T12:00:00Z", A, false, 0},
        {"2026-11-25T12:00:00Z ", A, false, 0},
        {"2026-11-25T12:00:00ZZ", A, false, 0},
        {"+2026-11-25T12:00:00Z", A, false, 0},
        {"1795608000", A, false, 0},
        {"Wed, 25 Nov 2026 12:00:00 GMT", A, false, 0},
        /* impossible dates and times are refused, not normalised */
        {"2026-02-29T00:00:00Z", A, false, 0},
        {"2026-02-30T00:00:00Z", A, false, 0},
        {"2026-04-31T00:00:00Z", A, false, 0},
        {"2026-13-01T00:00:00Z", A, false, 0},
        {"2026-00-01T00:00:00Z", A, false, 0},
        {"2026-01-00T00:00:00Z", A, false, 0},
        {"2026-01-01T24:00:00Z", A, false, 0},
        {"2026-01-01T00:60:00Z", A, false, 0},
        {"2026-01-01T00:00:61Z", A, false, 0},
        {"1900-02-29T00:00:00Z", A, false, 0},
        {"2000-02-29T00:00:00Z", A, true, 951782400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = 42;
        bool ok = rfc3339_parse(cases[i].in, cases[i].flags, &got);
        if (ok != cases[i].ok)
            fprintf(stderr, "  case %zu: \"%s\" flags %u\n", i, cases[i].in, cases[i].flags);
        TEST_EXPECT_INT(ok, cases[i].ok);
        TEST_EXPECT_INT(got, cases[i].ok ? cases[i].want : 42); /* untouched on failure */
    }
}

static void test_null(void)
{
    int64_t got = 7;
    TEST_EXPECT(!rfc3339_parse(NULL, RFC3339_ANY, &got));
    TEST_EXPECT_INT(got, 7);
}

int main(void)
{
    TEST_RUN(test_table);
    TEST_RUN(test_null);
    return TEST_RESULT();
}
