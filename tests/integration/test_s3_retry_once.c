/* SPDX-License-Identifier: Apache-2.0
 *
 * test_s3_retry_once.c -- one retry layer for S3, end to end (issue 12):
 * qbackupd backs up into an "S3" that answers every request 503 SlowDown
 * (tests/unit/fake_http.h on loopback, so no real S3 is needed).  The
 * snapshot's PUT must be tried s3_attempts times in all: the engine's
 * per-step retries (max_attempts) must not repeat what the S3 client gave
 * up on (before: max_attempts x s3_attempts PUTs).
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "fake_http.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct emu e;
static struct qbd d;
static struct fake_http s3;

static void test_put_tried_s3_attempts_times(void)
{
    char body[1024];
    snprintf(
        body, sizeof body,
        "{\"name\":\"slow\",\"kind\":\"s3\",\"settings\":{\"bucket\":\"qb-fake\",\"prefix\":\"p/\","
        "\"endpoint\":\"http://127.0.0.1:%d\",\"region\":\"us-east-1\",\"path_style\":true},"
        "\"credentials\":{\"access_key\":\"AKIDEXAMPLE\",\"secret_key\":\"secretsecret\"}}",
        s3.port);
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/destinations", body, NULL, &r) == 0);
    if (r.status != 201)
        fprintf(stderr, "%s\n", r.body);
    TEST_EXPECT_INT(r.status, 201);
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/plans",
                            "{\"name\":\"p\",\"destination\":\"slow\",\"collections\":[\"docs\"]}",
                            NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 201);
    resp_free(&r);
    int before = atomic_load(&s3.puts);
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/plans/p/runs?wait=60", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 424);
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "failed");
    const char *error = json_path_str(r.json, "run.error");
    TEST_EXPECT(error && strstr(error, "SlowDown") && strstr(error, "(gave up after 2 tries)"));
    resp_free(&r);
    /* --s3-attempts 2 under --max-attempts 3: 2 PUTs, not 6. */
    TEST_EXPECT_INT(atomic_load(&s3.puts) - before, 2);
}

int main(void)
{
    const long statuses[] = {503};
    if (!fake_http_start(&s3, statuses, 1, FAKE_HTTP_SLOWDOWN))
        return 1;
    if (emu_start(&e, NULL) != 0 || emu_create_collection(&e, "docs", 4) ||
        emu_upsert(&e, "docs", 10, 1))
        return 1;
    const char *const args[] = {"--qdrant-url",
                                e.url,
                                "--max-attempts",
                                "3",
                                "--retry-base-ms",
                                "20",
                                "--s3-attempts",
                                "2",
                                "--s3-retry-base-ms",
                                "5",
                                "--s3-retry-max-ms",
                                "10",
                                NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_put_tried_s3_attempts_times);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
    fake_http_stop(&s3);
    return TEST_RESULT();
}
