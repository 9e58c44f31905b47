/* SPDX-License-Identifier: Apache-2.0
 *
 * test_crash.c -- a backup interrupted in each phase ends truthfully:
 * kill -9 while Qdrant is still creating the snapshot (the intent was
 * recorded first, so the snapshot Qdrant made anyway is removed after the
 * restart); kill -9 while cleaning up after the catalogue row was written
 * (the run is succeeded, as the catalogue proves); and SIGTERM mid-transfer
 * queues the run again when the plan asks for it, as kill -9 does; and a
 * Qdrant snapshot Qdrant refused to delete is deleted later by the janitor.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct emu e;
static struct qbd d;
static char products[] = "products";

static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

static long long start_run(const char *plan)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/plans/%s/runs", plan);
    struct resp r;
    long long id = 0;
    if (call("POST", path, NULL, 202, &r))
        id = (long long)json_path_num(r.json, "id");
    resp_free(&r);
    return id;
}

static int qdrant_snapshots(const char *collection)
{
    struct resp r;
    char path[256];
    snprintf(path, sizeof path, "/collections/%s/snapshots", collection);
    int n = -1;
    if (emu_request(&e, "GET", path, NULL, &r) == 0 && r.status == 200)
        n = cJSON_GetArraySize(json_path(r.json, "result"));
    resp_free(&r);
    return n;
}

/* The emulator has received (not yet answered) a request. */
struct seen {
    const char *method, *prefix;
};

static bool request_arrived(void *ctx)
{
    struct seen *s = ctx;
    cJSON *reqs = emu_requests(&e);
    const cJSON *q;
    bool found = false;
    cJSON_ArrayForEach(q, reqs)
    {
        const char *m = json_path_str(q, "method"), *p = json_path_str(q, "path");
        if (m && p && !strcmp(m, s->method) && !strncmp(p, s->prefix, strlen(s->prefix)))
            found = true;
    }
    cJSON_Delete(reqs);
    return found;
}

static bool snapshot_exists(void *ctx)
{
    return qdrant_snapshots(ctx) > 0;
}

static bool no_snapshot(void *ctx)
{
    return qdrant_snapshots(ctx) == 0;
}

struct run_state {
    long long id;
    const char *state;
};

static bool run_in_state(void *ctx)
{
    struct run_state *s = ctx;
    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%lld", s->id);
    struct resp r;
    bool ok = qbd_request(&d, "GET", path, NULL, NULL, &r) == 0 && json_path_str(r.json, "state") &&
              strcmp(json_path_str(r.json, "state"), s->state) == 0;
    resp_free(&r);
    return ok;
}

static bool run_moving(void *ctx)
{
    long long id = *(long long *)ctx;
    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%lld", id);
    struct resp r;
    bool ok = qbd_request(&d, "GET", path, NULL, NULL, &r) == 0 &&
              json_path_num(r.json, "bytes_done") > 0;
    resp_free(&r);
    return ok;
}

static void test_kill9_while_qdrant_snapshots(void)
{
    struct resp r;
    TEST_ASSERT(
        call("POST", "/v1/plans", "{\"name\":\"k6\",\"collections\":[\"products\"]}", 201, &r));
    resp_free(&r);
    TEST_ASSERT(emu_clear_requests(&e) == 0);
    /* Qdrant takes its time to answer the create. */
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"delay\",\"delay_ms\":1500,\"method\":\"POST\","
                              "\"path_prefix\":\"/collections/products/snapshots\"}") == 0);
    long long id = start_run("k6");
    TEST_ASSERT(id > 0);
    struct seen create = {"POST", "/collections/products/snapshots"};
    TEST_ASSERT(harness_wait_until(request_arrived, &create, 20000));
    TEST_ASSERT(qbd_kill(&d, SIGKILL) == 0);
    /* Qdrant finishes the snapshot nobody will download. */
    TEST_ASSERT(harness_wait_until(snapshot_exists, products, 20000));
    TEST_ASSERT(qbd_restart(&d) == 0);
    TEST_EXPECT(harness_wait_until(no_snapshot, products, 20000));
    struct run_state failed = {id, "failed"};
    TEST_EXPECT(harness_wait_until(run_in_state, &failed, 10000));
    TEST_EXPECT(qbd_log_contains(&d, "recovery.qdrant_cleaned"));
}

static void test_kill9_while_cleaning(void)
{
    struct resp r;
    TEST_ASSERT(
        call("POST", "/v1/plans", "{\"name\":\"k7\",\"collections\":[\"products\"]}", 201, &r));
    resp_free(&r);
    TEST_ASSERT(emu_clear_requests(&e) == 0);
    /* The snapshot is catalogued; Qdrant is slow to delete its copy. */
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"delay\",\"delay_ms\":1500,\"method\":\"DELETE\","
                              "\"path_prefix\":\"/collections/products/snapshots/\"}") == 0);
    long long id = start_run("k7");
    TEST_ASSERT(id > 0);
    struct seen del = {"DELETE", "/collections/products/snapshots/"};
    TEST_ASSERT(harness_wait_until(request_arrived, &del, 20000));
    TEST_ASSERT(qbd_kill(&d, SIGKILL) == 0);
    TEST_ASSERT(qbd_restart(&d) == 0);
    /* The catalogue holds the snapshot: the run succeeded. */
    struct run_state ok = {id, "succeeded"};
    TEST_EXPECT(harness_wait_until(run_in_state, &ok, 10000));
    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%lld", id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT(json_path_num(r.json, "results.0.snapshot_id") > 0);
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=k7", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), 1);
    TEST_EXPECT(json_path_num(r.json, "items.0.run_id") == (double)id);
    resp_free(&r);
    TEST_EXPECT(harness_wait_until(no_snapshot, products, 20000));
}

static void test_sigterm_requeues_like_kill9(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"k9t\",\"collections\":[\"big\"],\"requeue_interrupted\":true}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"throttle\",\"bytes_per_sec\":1048576,\"count\":0,"
                              "\"path_prefix\":\"/collections/big/snapshots/\"}") == 0);
    long long id = start_run("k9t");
    TEST_ASSERT(id > 0);
    TEST_ASSERT(harness_wait_until(run_moving, &id, 30000));
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    TEST_ASSERT(emu_clear_faults(&e) == 0);
    TEST_ASSERT(qbd_restart(&d) == 0);
    struct run_state failed = {id, "failed"};
    TEST_EXPECT(harness_wait_until(run_in_state, &failed, 10000));
    /* The plan asked for interrupted runs to be queued again. */
    TEST_ASSERT(call("GET", "/v1/runs?plan=k9t", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), 2);
    long long next = (long long)json_path_num(r.json, "items.0.id");
    TEST_EXPECT(next > id);
    TEST_EXPECT_STR(json_path_str(r.json, "items.0.triggered_by"), "recovery");
    resp_free(&r);
    struct run_state ok = {next, "succeeded"};
    TEST_EXPECT(harness_wait_until(run_in_state, &ok, 60000));
}

static void test_failed_qdrant_delete_retried_later(void)
{
    struct resp r;
    TEST_ASSERT(
        call("POST", "/v1/plans", "{\"name\":\"k10\",\"collections\":[\"products\"]}", 201, &r));
    resp_free(&r);
    /* Qdrant refuses every delete for now: the backup is safe in the
     * catalogue, its copy on Qdrant's disk must not stay forever. */
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"fail\",\"status\":500,\"count\":0,"
                              "\"method\":\"DELETE\","
                              "\"path_prefix\":\"/collections/products/snapshots/\"}") == 0);
    TEST_ASSERT(call("POST", "/v1/plans/k10/runs?wait=60", NULL, 200, &r));
    TEST_EXPECT(json_path_str(r.json, "results.0.warning") != NULL);
    resp_free(&r);
    TEST_EXPECT_INT(qdrant_snapshots("products"), 1);
    TEST_EXPECT(qbd_wait_log(&d, "janitor.qdrant_retry", 10000));
    TEST_ASSERT(emu_clear_faults(&e) == 0);
    TEST_EXPECT(harness_wait_until(no_snapshot, products, 20000));
    TEST_EXPECT(qbd_wait_log(&d, "janitor.qdrant_cleaned", 10000));
}

int main(void)
{
    if (emu_start(&e, NULL) != 0)
        return 1;
    if (emu_create_collection(&e, "products", 4) || emu_upsert(&e, "products", 20, 1) ||
        emu_create_collection(&e, "big", 4) || emu_fill(&e, "big", 16))
        return 1;
    const char *const args[] = {"--qdrant-url", e.url, "--retry-base-ms", "20", NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_kill9_while_qdrant_snapshots);
    TEST_RUN(test_kill9_while_cleaning);
    TEST_RUN(test_sigterm_requeues_like_kill9);
    TEST_RUN(test_failed_qdrant_delete_retried_later);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
    return TEST_RESULT();
}
