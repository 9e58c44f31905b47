/* SPDX-License-Identifier: Apache-2.0
 *
 * test_redact.c -- token-looking words are replaced in echoed text; hex
 * digests, request ids, object keys and ordinary messages are left alone.
 */
#include "unit.h"
#include "http/redact.h"

#include <string.h>

#define TOKEN "ci-token-0123456789abcdef" /* lower case: only the table knows it */

static void test_redact_table(void)
{
    struct auth *a = auth_create();
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(auth_add(a, "ci", "admin", TOKEN, err, sizeof err) == QB_OK);
    static const struct {
        const char *in, *bearer, *out;
    } cases[] = {
        {"timezone: unknown time zone \"" TOKEN "\"", NULL,
         "timezone: unknown time zone \"" HTTP_REDACTED "\""},
        {TOKEN ": unknown field", NULL, HTTP_REDACTED ": unknown field"},
        {"got Bearer abc.def", NULL, "got Bearer " HTTP_REDACTED},
        {"got bearer x", NULL, "got bearer " HTTP_REDACTED},
        /* The caller's own credential, even with separators inside it. */
        {"name: \"my:secret,value\" is bad", "Bearer my:secret,value",
         "name: \"" HTTP_REDACTED "\" is bad"},
        {"short ab", "Bearer ab", "short ab"}, /* too short to mean anything */
        /* Random-looking keys: long runs mixing upper, lower and digits. */
        {"key Zx9Kq2Lm8Np4Rt6Vw1Yb3Cd5Fg7Hj0Ks here", NULL, "key " HTTP_REDACTED " here"},
        {"/v1/plans/Zx9Kq2Lm8Np4Rt6Vw1Yb3Cd5Fg7Hj0Ks/runs", NULL,
         "/v1/plans/" HTTP_REDACTED "/runs"},
        {"/v1/plans/" TOKEN, NULL, "/v1/plans/" HTTP_REDACTED},
        /* Left alone: digests, request ids, object keys, plain words. */
        {"sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", NULL,
         "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"see request_id 3b391e6d5f3c48e1f21a6dd3", NULL,
         "see request_id 3b391e6d5f3c48e1f21a6dd3"},
        {"the stored object nightly/products/20261125T030000Z-42.snapshot is missing", NULL,
         "the stored object nightly/products/20261125T030000Z-42.snapshot is missing"},
        {"retention.keep_daily: must be between 0 and 1000", NULL,
         "retention.keep_daily: must be between 0 and 1000"},
        {"", NULL, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        http_redact(cases[i].in, cases[i].bearer, a, out, sizeof out);
        if (strcmp(out, cases[i].out) != 0)
            TEST_FAIL_AT(__FILE__, __LINE__, "case %zu: \"%s\" -> \"%s\", want \"%s\"", i,
                         cases[i].in, out, cases[i].out);
        unit_checks++;
    }
    TEST_EXPECT(http_secret_like(TOKEN, NULL, a));
    TEST_EXPECT(!http_secret_like("ci-job-1234", NULL, a));
    TEST_EXPECT(http_secret_like("ci-job-1234-abcdef", "Bearer ci-job-1234-abcdef", NULL));
    /* Truncation keeps the output terminated. */
    char tiny[8];
    http_redact("a fairly long message", NULL, NULL, tiny, sizeof tiny);
    TEST_EXPECT_STR(tiny, "a fairl");
    auth_destroy(a);
}

int main(void)
{
    TEST_RUN(test_redact_table);
    return TEST_RESULT();
}
