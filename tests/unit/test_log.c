/* SPDX-License-Identifier: Apache-2.0
 *
 * test_log.c -- logfmt value quoting: what a log line carries from error
 * messages, keys and request paths must not forge fields or break lines.
 */
#include "unit.h"
#include "util/log.h"

#include <string.h>

struct quote_case {
    const char *in;
    const char *out;
};

static void test_quote(void)
{
    static const struct quote_case cases[] = {
        {"plain", "plain"},
        {"", "\"\""},
        {"two words", "\"two words\""},
        {"a=b", "\"a=b\""},
        {"say \"hi\"", "\"say \\\"hi\\\"\""},
        {"back\\slash", "\"back\\\\slash\""},
        {"line\nbreak", "\"line\\nbreak\""},
        {"tab\there", "\"tab?here\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        TEST_EXPECT_STR(log_quote(buf, sizeof buf, cases[i].in), cases[i].out);
    }
    char small[8];
    const char *q = log_quote(small, sizeof small, "a long value with spaces");
    TEST_EXPECT(strlen(q) < sizeof small);
    TEST_EXPECT(q[0] == '"' && q[strlen(q) - 1] == '"');
}

static void test_log_q_keeps_four_results(void)
{
    const char *a = log_q("one 1"), *b = log_q("two 2"), *c = log_q("three"), *d = log_q("x=y");
    TEST_EXPECT_STR(a, "\"one 1\"");
    TEST_EXPECT_STR(b, "\"two 2\"");
    TEST_EXPECT_STR(c, "three");
    TEST_EXPECT_STR(d, "\"x=y\"");
    TEST_EXPECT_STR(log_q(NULL), "\"\"");
}

static void test_levels(void)
{
    enum log_level l;
    TEST_EXPECT(log_parse_level("WARNING", &l) && l == LOG_LEVEL_WARN);
    TEST_EXPECT(log_parse_level("debug", &l) && l == LOG_LEVEL_DEBUG);
    TEST_EXPECT(!log_parse_level("chatty", &l));
    log_set_level(LOG_LEVEL_WARN);
    TEST_EXPECT(!log_enabled(LOG_LEVEL_INFO));
    TEST_EXPECT(log_enabled(LOG_LEVEL_ERROR));
}

int main(void)
{
    TEST_RUN(test_quote);
    TEST_RUN(test_log_q_keeps_four_results);
    TEST_RUN(test_levels);
    return TEST_RESULT();
}
