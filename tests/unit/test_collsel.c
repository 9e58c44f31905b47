/* SPDX-License-Identifier: Apache-2.0
 *
 * test_collsel.c -- collection selection (engine/collsel.c): the glob
 * matcher on a table of cases (anchoring, `?` as one byte, stars that must
 * backtrack, a pathological pattern), the `**` refusal, and the selection
 * rule: listed order, each name once, exclusions by name and pattern.
 */
#include "engine/collsel.h"
#include "unit.h"

#include <stdint.h>

static void test_match_table(void)
{
    const struct {
        const char *pattern, *name;
        bool match;
    } cases[] = {
        {"*", "", true},
        {"*", "anything", true},
        {"prod_*", "prod_", true},
        {"prod_*", "prod_users", true},
        {"prod_*", "stage_prod_users", false}, /* anchored at the start */
        {"*_tmp", "prod_tmp", true},
        {"*_tmp", "prod_tmp2", false}, /* anchored at the end */
        {"prod_?", "prod_a", true},
        {"prod_?", "prod_ab", false},
        {"prod_?", "prod_", false},
        {"p*d*s", "prod_users", true},
        {"p*d*x", "prod_users", false},
        {"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false}, /* backtracking */
        {"*a*b", "xaxxaxxb", true},
        {"Prod_*", "prod_users", false}, /* case-sensitive, like Qdrant */
        {"[ab]", "a", false},            /* [ is literal */
        {"[ab]*", "[ab]x", true},
        {"!prod", "!prod", true}, /* ! is a name character */
        {"exact", "exact", true},
        {"exact", "exactly", false},
        {"", "", true},
        {"", "x", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = collsel_match(cases[i].pattern, cases[i].name);
        if (got != cases[i].match)
            fprintf(stderr, "  case %zu: \"%s\" ~ \"%s\"\n", i, cases[i].pattern, cases[i].name);
        TEST_EXPECT_INT(got, cases[i].match);
    }
}

static void test_is_pattern_and_check(void)
{
    char err[256];
    TEST_EXPECT(collsel_is_pattern("prod_*"));
    TEST_EXPECT(collsel_is_pattern("a?c"));
    TEST_EXPECT(!collsel_is_pattern("prod_[x]"));
    TEST_EXPECT(!collsel_is_pattern(NULL));
    TEST_EXPECT_INT(collsel_pattern_check("prod_*", err, sizeof err), QB_OK);
    TEST_EXPECT_INT(collsel_pattern_check("*_?", err, sizeof err), QB_OK);
    TEST_EXPECT_INT(collsel_pattern_check("prod_**", err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT(strstr(err, "**") != NULL);
}

static void test_resolve(void)
{
    const char *have[] = {"prod_users", "prod_tmp1", "stage_users", "prod_orders", "prod_tmp"};
    const char *inc[] = {"prod_orders", "prod_*", "gone"};
    const char *exc[] = {"prod_tmp*"};
    char **out = NULL;
    size_t n = 0;
    collsel_resolve(inc, 3, exc, 1, have, 5, &out, &n);
    /* listed order; prod_orders once; a listed missing name stays */
    TEST_ASSERT(n == 3);
    TEST_EXPECT_STR(out[0], "prod_orders");
    TEST_EXPECT_STR(out[1], "prod_users");
    TEST_EXPECT_STR(out[2], "gone");
    collsel_free(out, n);

    /* "*" minus names and patterns */
    const char *all[] = {"*"}, *exc2[] = {"stage_users", "*_tmp?"};
    collsel_resolve(all, 1, exc2, 2, have, 5, &out, &n);
    TEST_ASSERT(n == 3);
    TEST_EXPECT_STR(out[0], "prod_users");
    TEST_EXPECT_STR(out[1], "prod_orders");
    TEST_EXPECT_STR(out[2], "prod_tmp");
    collsel_free(out, n);

    /* a pattern after a listed name does not add it again; a legacy
     * twin of listed names stays as it was stored */
    const char *twin[] = {"prod_*", "prod_users", "prod_users"};
    collsel_resolve(twin, 3, exc, 1, have, 5, &out, &n);
    TEST_ASSERT(n == 3);
    TEST_EXPECT_STR(out[0], "prod_orders");
    TEST_EXPECT_STR(out[1], "prod_users");
    TEST_EXPECT_STR(out[2], "prod_users");
    collsel_free(out, n);

    /* nothing matches: an empty selection, not an error */
    const char *none[] = {"qa_*"};
    collsel_resolve(none, 1, NULL, 0, have, 5, &out, &n);
    TEST_EXPECT(n == 0);
    collsel_free(out, n);
}

int main(void)
{
    TEST_RUN(test_match_table);
    TEST_RUN(test_is_pattern_and_check);
    TEST_RUN(test_resolve);
    return TEST_RESULT();
}
