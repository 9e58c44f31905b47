/* SPDX-License-Identifier: Apache-2.0
 *
 * unit.h -- the tiny table-driven test framework shared by unit and
 * integration tests.  TEST_ASSERT stops the current test function on
 * failure; TEST_EXPECT records the failure and carries on.  A test file
 * lists its functions in main() with TEST_RUN and returns TEST_RESULT().
 */
#ifndef QB_UNIT_H
#define QB_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failures;
static int unit_checks;
static const char *unit_current;

#define TEST_FAIL_AT(file, line, ...)                                                              \
    do {                                                                                           \
        unit_failures++;                                                                           \
        fprintf(stderr, "FAIL %s (%s:%d): ", unit_current, file, line);                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
    } while (0)

/* Non-fatal: report and continue. */
#define TEST_EXPECT(cond)                                                                          \
    do {                                                                                           \
        unit_checks++;                                                                             \
        if (!(cond))                                                                               \
            TEST_FAIL_AT(__FILE__, __LINE__, "expected %s", #cond);                                \
    } while (0)

/* Fatal for the current test function (which must return void). */
#define TEST_ASSERT(cond)                                                                          \
    do {                                                                                           \
        unit_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            TEST_FAIL_AT(__FILE__, __LINE__, "assertion %s", #cond);                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define TEST_EXPECT_INT(a, b)                                                                      \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        unit_checks++;                                                                             \
        if (a_ != b_)                                                                              \
            TEST_FAIL_AT(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, a_, #b, b_);   \
    } while (0)

#define TEST_EXPECT_STR(a, b)                                                                      \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        unit_checks++;                                                                             \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            TEST_FAIL_AT(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a,                  \
                         a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                  \
    } while (0)

#define TEST_RUN(fn)                                                                               \
    do {                                                                                           \
        int before_ = unit_failures;                                                               \
        unit_current = #fn;                                                                        \
        fn();                                                                                      \
        fprintf(stderr, "%s %s\n", unit_failures == before_ ? "ok  " : "FAIL", #fn);               \
    } while (0)

/* A test binary that ran no checks is a broken test, not a passing one. */
#define TEST_RESULT()                                                                              \
    (fprintf(stderr, "%d checks, %d failures\n", unit_checks, unit_failures),                      \
     (unit_failures == 0 && unit_checks > 0) ? 0 : 1)

#endif /* QB_UNIT_H */
