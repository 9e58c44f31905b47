/* SPDX-License-Identifier: Apache-2.0
 *
 * test_retry.c -- util/retry: the backoff bounds, which statuses are worth
 * another try, and, against a tiny HTTP server on loopback that counts the
 * requests it answers, that an S3 request is tried exactly the policy's
 * number of times however many layers above it would retry (issue 12: one
 * policy, one layer), and that the Qdrant client leaves retrying to its
 * caller.
 */
#include "remote/http_client.h"
#include "remote/qdrant_client.h"
#include "remote/s3_client.h"
#include "util/retry.h"
#include "unit.h"
#include "fake_http.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct s3_client *s3_at(const struct fake_http *f, const struct retry_policy *p)
{
    char ep[64], err[QB_ERRBUF_SIZE];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", f->port);
    struct s3_config cfg = {
        .endpoint = ep,
        .region = "us-east-1",
        .bucket = "b",
        .access_key = "AKIDEXAMPLE",
        .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        .path_style = true,
    };
    if (p)
        cfg.retry = *p;
    struct s3_client *c = NULL;
    if (s3_client_create(&cfg, &c, err, sizeof err) != QB_OK)
        fprintf(stderr, "s3_client_create: %s\n", err);
    return c;
}

/* ------------------------------------------------------------------ tests */

static void test_delay_bounds(void)
{
    const struct retry_policy p = {.attempts = 10, .base_ms = 100, .max_ms = 1000};
    unsigned seed = 42;
    for (unsigned n = 1; n <= 12; n++) {
        long d = 100;
        for (unsigned i = 1; i < n; i++)
            d = d * 2 > 1000 ? 1000 : d * 2;
        long lo = d, hi = 0;
        for (int k = 0; k < 2000; k++) {
            long got = retry_delay_ms(&p, n, &seed);
            lo = got < lo ? got : lo;
            hi = got > hi ? got : hi;
        }
        TEST_EXPECT(lo >= d / 2);
        TEST_EXPECT(hi <= d);
        TEST_EXPECT(hi > lo); /* jittered, not fixed */
    }
    /* A cap below the base is raised to it; huge counts do not overflow. */
    struct retry_policy q = retry_policy_resolve(&(struct retry_policy){3, 500, 10});
    TEST_EXPECT_INT(q.max_ms, 500);
    long got = retry_delay_ms(&q, 1000, &seed);
    TEST_EXPECT(got >= 250 && got <= 500);
}

static void test_defaults(void)
{
    struct retry_policy p = retry_policy_resolve(NULL);
    TEST_EXPECT_INT(p.attempts, RETRY_DEFAULT_ATTEMPTS);
    TEST_EXPECT_INT(p.base_ms, RETRY_DEFAULT_BASE_MS);
    TEST_EXPECT_INT(p.max_ms, RETRY_DEFAULT_MAX_MS);
    retry_policy_set_default(&(struct retry_policy){.attempts = 2, .base_ms = 7});
    p = retry_policy_resolve(&(struct retry_policy){.base_ms = 9});
    TEST_EXPECT_INT(p.attempts, 2);
    TEST_EXPECT_INT(p.base_ms, 9);
    TEST_EXPECT_INT(p.max_ms, RETRY_DEFAULT_MAX_MS);
    retry_policy_set_default(NULL);
    TEST_EXPECT_INT(retry_policy_default()->attempts, RETRY_DEFAULT_ATTEMPTS);
}

static void test_statuses(void)
{
    static const long yes[] = {408, 429, 500, 502, 503, 504};
    static const long no[] = {200, 301, 400, 401, 403, 404, 405, 409, 411, 412, 416, 501, 505};
    for (size_t i = 0; i < QB_ARRAY_LEN(yes); i++) {
        TEST_EXPECT(retry_status_retryable(yes[i]));
        TEST_EXPECT_INT(http_client_status_err(yes[i]), QB_ERR_TRANSIENT);
    }
    for (size_t i = 0; i < QB_ARRAY_LEN(no); i++) {
        TEST_EXPECT(!retry_status_retryable(no[i]));
        TEST_EXPECT(http_client_status_err(no[i]) != QB_ERR_TRANSIENT);
    }
}

/* What backup_job.c's WITH_RETRIES does around a storage call. */
static enum qb_err outer_layer(struct s3_client *c, unsigned attempts, char *err, size_t errlen)
{
    enum qb_err rc = QB_ERR_INTERNAL;
    for (unsigned i = 0; i < attempts; i++) {
        rc = s3_put_object(c, "k", "data", 4, NULL, err, errlen);
        if (rc != QB_ERR_TRANSIENT)
            break;
    }
    return rc;
}

static void test_slowdown_one_layer(void)
{
    struct fake_http f;
    const long st[] = {503};
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(fake_http_start(&f, st, 1, FAKE_HTTP_SLOWDOWN));
    const struct retry_policy p = {.attempts = 3, .base_ms = 20, .max_ms = 40};
    struct s3_client *c = s3_at(&f, &p);
    TEST_ASSERT(c != NULL);
    int64_t t0 = qb_mono_ms();
    /* Four tries above, three below: 3 requests, not 12. */
    TEST_EXPECT_INT(outer_layer(c, 4, err, sizeof err), QB_ERR_REMOTE);
    int64_t took = qb_mono_ms() - t0;
    TEST_EXPECT_INT(atomic_load(&f.requests), 3);
    TEST_EXPECT(strstr(err, "SlowDown") != NULL);
    TEST_EXPECT(strstr(err, "(gave up after 3 tries)") != NULL);
    /* Two pauses, each at least half its nominal delay: 10 + 20 ms. */
    TEST_EXPECT(took >= 30);
    s3_client_destroy(c);
    fake_http_stop(&f);
}

static void test_default_policy_applies(void)
{
    struct fake_http f;
    const long st[] = {500};
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(fake_http_start(&f, st, 1, NULL));
    retry_policy_set_default(&(struct retry_policy){.attempts = 2, .base_ms = 1, .max_ms = 2});
    struct s3_client *c = s3_at(&f, NULL);
    retry_policy_set_default(NULL);
    TEST_ASSERT(c != NULL);
    TEST_EXPECT_INT(outer_layer(c, 4, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT_INT(atomic_load(&f.requests), 2);
    s3_client_destroy(c);
    fake_http_stop(&f);
}

static void test_recovers_within_budget(void)
{
    struct fake_http f;
    const long st[] = {503, 429, 200};
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(fake_http_start(&f, st, 3, FAKE_HTTP_SLOWDOWN));
    struct s3_client *c = s3_at(&f, &(struct retry_policy){.attempts = 3, .base_ms = 1});
    TEST_ASSERT(c != NULL);
    TEST_EXPECT_INT(s3_put_object(c, "k", "data", 4, NULL, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(atomic_load(&f.requests), 3);
    s3_client_destroy(c);
    fake_http_stop(&f);
}

static void test_refusal_not_retried(void)
{
    struct fake_http f;
    const long st[] = {403};
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(fake_http_start(&f, st, 1, FAKE_HTTP_DENIED));
    struct s3_client *c = s3_at(&f, &(struct retry_policy){.attempts = 5, .base_ms = 1});
    TEST_ASSERT(c != NULL);
    TEST_EXPECT_INT(s3_put_object(c, "k", "data", 4, NULL, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT_INT(atomic_load(&f.requests), 1);
    TEST_EXPECT(strstr(err, "AccessDenied") != NULL);
    TEST_EXPECT(strstr(err, "gave up") == NULL);
    s3_client_destroy(c);
    fake_http_stop(&f);
}

static enum qb_err sink(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    (void)ud, (void)data, (void)len, (void)err, (void)errlen;
    return QB_OK;
}

static void test_streamed_get(void)
{
    struct fake_http f;
    const long st[] = {502};
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(fake_http_start(&f, st, 1, NULL));
    struct s3_client *c = s3_at(&f, &(struct retry_policy){.attempts = 4, .base_ms = 1});
    TEST_ASSERT(c != NULL);
    TEST_EXPECT_INT(s3_get_object(c, "k", 0, 0, sink, NULL, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT_INT(atomic_load(&f.requests), 4);
    TEST_EXPECT(strstr(err, "(gave up after 4 tries)") != NULL);
    s3_client_destroy(c);
    fake_http_stop(&f);
}

/* The Qdrant client sends once and reports the transient failure: the
 * engine's step retries are its one layer. */
static void test_qdrant_sends_once(void)
{
    struct fake_http f;
    const long st[] = {503};
    char err[QB_ERRBUF_SIZE], url[64];
    TEST_ASSERT(fake_http_start(&f, st, 1, NULL));
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
    struct qdrant_client *q = NULL;
    struct qdrant_config cfg = {.url = url};
    TEST_ASSERT(qdrant_client_create(&cfg, &q, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(qdrant_ready(q, err, sizeof err), QB_ERR_TRANSIENT);
    TEST_EXPECT_INT(atomic_load(&f.requests), 1);
    qdrant_client_destroy(q);
    fake_http_stop(&f);
}

int main(void)
{
    char err[QB_ERRBUF_SIZE];
    if (http_client_global_init(err, sizeof err) != QB_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    TEST_RUN(test_delay_bounds);
    TEST_RUN(test_defaults);
    TEST_RUN(test_statuses);
    TEST_RUN(test_slowdown_one_layer);
    TEST_RUN(test_default_policy_applies);
    TEST_RUN(test_recovers_within_budget);
    TEST_RUN(test_refusal_not_retried);
    TEST_RUN(test_streamed_get);
    TEST_RUN(test_qdrant_sends_once);
    return TEST_RESULT();
}
