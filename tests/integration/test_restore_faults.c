/* SPDX-License-Identifier: Apache-2.0
 *
 * test_restore_faults.c -- restores under faults: a transient Qdrant error
 * is retried as backups are; a restore that fails after a safety snapshot
 * names it as the way back; a snapshot a restore is reading cannot be
 * deleted (409); and replaying the Idempotency-Key of a failed restore
 * replays its failure (424), saying it is a replay.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct emu e;
static struct qbd d;
static double snapshot_id;

static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

static void test_transient_fault_retried(void)
{
    struct resp r;
    TEST_ASSERT(
        call("POST", "/v1/plans", "{\"name\":\"p\",\"collections\":[\"products\"]}", 201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/p/runs?wait=60", NULL, 200, &r));
    snapshot_id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    TEST_ASSERT(emu_request(&e, "DELETE", "/collections/products", NULL, &r) == 0);
    resp_free(&r);
    /* Qdrant answers the first upload with a 503. */
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"fail\",\"status\":503,\"count\":1,\"method\":\"POST\","
                              "\"path_prefix\":\"/collections/products/snapshots/upload\"}") == 0);
    char body[96];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f}", snapshot_id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=60", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    resp_free(&r);
    TEST_EXPECT(qbd_log_contains(&d, "run.retry"));
}

static void test_failed_overwrite_offers_safety_snapshot(void)
{
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"fail\",\"status\":500,\"count\":0,\"method\":\"POST\","
                              "\"path_prefix\":\"/collections/products/snapshots/upload\"}") == 0);
    char body[128];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"overwrite\":true}", snapshot_id);
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/restores?wait=60", body, 424, &r));
    double safety = json_path_num(r.json, "run.results.0.safety_snapshot_id");
    TEST_EXPECT(safety > 0);
    char want[64];
    snprintf(want, sizeof want, "safety snapshot %.0f", safety);
    const char *error = json_path_str(r.json, "run.error");
    TEST_EXPECT(error && strstr(error, want));
    resp_free(&r);
    TEST_EXPECT_INT(emu_clear_faults(&e), 0);
}

static bool restore_running(void *ctx)
{
    long long id = *(long long *)ctx;
    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%lld", id);
    struct resp r;
    bool ok = qbd_request(&d, "GET", path, NULL, NULL, &r) == 0 && json_path_str(r.json, "phase") &&
              strcmp(json_path_str(r.json, "phase"), "restoring") == 0;
    resp_free(&r);
    return ok;
}

static void test_snapshot_in_use_not_deleted(void)
{
    /* Qdrant is slow to take the upload: the restore is reading. */
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"delay\",\"delay_ms\":3000,\"method\":\"POST\","
                              "\"path_prefix\":\"/collections/copy/snapshots/upload\"}") == 0);
    char body[128];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"copy\"}",
             snapshot_id);
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/restores", body, 202, &r));
    long long run = (long long)json_path_num(r.json, "id");
    resp_free(&r);
    TEST_ASSERT(harness_wait_until(restore_running, &run, 20000));
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", snapshot_id);
    TEST_ASSERT(qbd_request(&d, "DELETE", path, NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 409, "conflict");
    TEST_EXPECT(r.body && strstr(r.body, "being restored"));
    resp_free(&r);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/runs/%lld?wait=60", run);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    resp_free(&r);
    TEST_EXPECT_INT(emu_clear_faults(&e), 0);
}

static void test_replay_of_failed_restore(void)
{
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"fail\",\"status\":400,\"count\":0,\"method\":\"POST\","
                              "\"message\":\"Wrong input: injected\","
                              "\"path_prefix\":\"/collections/other/snapshots/upload\"}") == 0);
    char body[128];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"other\"}",
             snapshot_id);
    const char *const key[] = {"Idempotency-Key: rollback-1", NULL};
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/restores?wait=60", body, key, &r) == 0);
    TEST_EXPECT_INT(r.status, 424);
    resp_free(&r);
    /* Replayed without waiting, and waiting: the same failure, marked. */
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/restores", body, key, &r) == 0);
    TEST_EXPECT_INT(r.status, 424);
    TEST_EXPECT_STR(resp_header(&r, "Idempotent-Replayed"), "true");
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "failed");
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/restores?wait=30", body, key, &r) == 0);
    TEST_EXPECT_INT(r.status, 424);
    TEST_EXPECT_STR(resp_header(&r, "Idempotent-Replayed"), "true");
    resp_free(&r);
    TEST_EXPECT_INT(emu_clear_faults(&e), 0);
}

int main(void)
{
    if (emu_start(&e, NULL) != 0)
        return 1;
    if (emu_create_collection(&e, "products", 4) || emu_upsert(&e, "products", 20, 1))
        return 1;
    const char *const args[] = {"--qdrant-url", e.url, "--retry-base-ms", "20", NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_transient_fault_retried);
    TEST_RUN(test_failed_overwrite_offers_safety_snapshot);
    TEST_RUN(test_snapshot_in_use_not_deleted);
    TEST_RUN(test_replay_of_failed_restore);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
    return TEST_RESULT();
}
