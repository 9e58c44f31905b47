/* SPDX-License-Identifier: Apache-2.0
 *
 * test_topology.c -- the pure parts of cluster handling: mapping a peer's
 * p2p URI to its REST URL (two guesses), and Qdrant's one-minor-version rule for
 * restores.
 */
#include "unit.h"
#include "engine/topology.h"
#include "remote/qdrant_cluster.h"

#include <stdlib.h>

static void test_rest_from_p2p(void)
{
    static const struct {
        const char *p2p, *base, *want;
    } cases[] = {
        {"http://qdrant-1:6335/", "http://qdrant-0:6333", "http://qdrant-1:6333"},
        {"http://10.0.0.7:6335", "https://qdrant.internal:443/", "https://10.0.0.7:443"},
        {"http://qdrant-2:6335/", "http://qdrant-0", "http://qdrant-2"},
        {"http://[fd00::2]:6335/", "http://[fd00::1]:6333", "http://[fd00::2]:6333"},
        {"qdrant-2:6335", "http://qdrant-0:6333", NULL},
        {"http://:6335/", "http://qdrant-0:6333", NULL},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        char *got = topology_rest_from_p2p(cases[i].p2p, cases[i].base);
        if (cases[i].want)
            TEST_EXPECT_STR(got, cases[i].want);
        else
            TEST_EXPECT(got == NULL);
        free(got);
    }
}

/* The second guess: the p2p URI itself as a REST base URL. */
static void test_rest_as_p2p(void)
{
    static const struct {
        const char *p2p, *want;
    } cases[] = {
        {"http://127.0.0.1:6402/", "http://127.0.0.1:6402"},
        {"http://qdrant-2:6335", "http://qdrant-2:6335"},
        {"https://[fd00::2]:6335/x", "https://[fd00::2]:6335"},
        {"http://qdrant-2/", "http://qdrant-2"},
        {"qdrant-2:6335", NULL},
        {"http://:6335/", NULL},
        {NULL, NULL},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        char *got = topology_rest_as_p2p(cases[i].p2p);
        if (cases[i].want)
            TEST_EXPECT_STR(got, cases[i].want);
        else
            TEST_EXPECT(got == NULL);
        free(got);
    }
}

static void test_version_compatible(void)
{
    TEST_EXPECT(qdrant_version_compatible("1.19.0", "1.19.0"));
    TEST_EXPECT(qdrant_version_compatible("1.18.2", "1.19.0"));
    TEST_EXPECT(qdrant_version_compatible("1.19.1", "1.18.0"));
    TEST_EXPECT(qdrant_version_compatible("v1.19.0", "1.20.3"));
    TEST_EXPECT(!qdrant_version_compatible("1.17.0", "1.19.0"));
    TEST_EXPECT(!qdrant_version_compatible("1.19.0", "2.19.0"));
    TEST_EXPECT(!qdrant_version_compatible("dev", "1.19.0"));
    TEST_EXPECT(!qdrant_version_compatible(NULL, "1.19.0"));
}

int main(void)
{
    TEST_RUN(test_rest_from_p2p);
    TEST_RUN(test_rest_as_p2p);
    TEST_RUN(test_version_compatible);
    return TEST_RESULT();
}
