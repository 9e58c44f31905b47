/* SPDX-License-Identifier: Apache-2.0
 *
 * test_fault_matrix_s3.c -- the S3 side of the fault matrix
 * (docs/internals/faults.md): qbackupd's S3 destination points at the
 * s3fault proxy in front of the real S3 server (Ceph RGW), and each cell is
 * one S3 fault (503 SlowDown, 500 on part N, a connection cut mid-part, a
 * CompleteMultipartUpload whose answer is lost with or without the server
 * forgetting the upload, an answer held while qbackupd is killed -9) in one
 * phase of a backup: upload part, complete, verify (read back), delete
 * (retention).  Every cell ends with the checks of fault_matrix.h plus: no
 * multipart upload left in progress under the plan.
 *
 * The snapshots are a little over 5 MiB (two parts of the 5 MiB minimum).
 * --max-attempts 1: the S3 client's own retries (5, from 200 ms) are the
 * ones under test, and a fault that outlasts them fails the run at once.
 *
 * The cell "lost answer, upload forgotten / complete" fails without commit
 * 114601a ("a Complete whose answer was lost is proven by HEAD"): with only
 * that commit's change to src/remote/s3_upload.c reversed (`git show
 * 114601a -- src/remote/s3_upload.c | git apply -R`), the retried Complete
 * got 404 NoSuchUpload, the run failed and the object S3 had assembled
 * stayed in the bucket, uncatalogued (checked by reversing it, running
 * this cell and restoring the file).
 *
 * Needs S3_ENDPOINT, AWS_* and QB_S3_BUCKET; exits 77 without them unless
 * QB_REQUIRE_S3=1.
 */
#include "unit.h"
#include "common.h"
#include "fault_matrix.h"
#include "remote/http_client.h"
#include "remote/s3_client.h"
#include "s3_env.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct emu e;
static struct qbd d;
static struct s3fault proxy;
static struct storage *bucket_st; /* the destination, read directly (not through the proxy) */
static struct s3_env s3e;
static char prefix[64];

struct cell {
    const char *name;          /* "fault / phase" */
    const char *rule;          /* s3fault rule (query string) */
    bool retention;            /* the delete phase: a clean run first, keep_last 1 */
    bool kill9;                /* kill -9 once the proxy holds S3's answer, then restart */
    const char *state, *error; /* the truthful outcome */
    bool retention_fails;      /* the run says retention could not delete */
};

static const struct cell cells[] = {
    {"503 SlowDown once / part", "op=part&part=1&action=slowdown&count=1", false, false,
     "succeeded", NULL, false},
    {"500 on part 2 / part", "op=part&part=2&action=error500&count=0", false, false, "failed",
     "InternalError", false},
    {"connection drop mid-part once / part", "op=part&part=2&action=drop_mid&count=1", false, false,
     "succeeded", NULL, false},
    {"held answer + kill -9 / part", "op=part&part=1&action=slow_answer&delay_ms=4000&count=1",
     false, true, "failed", "interrupted by restart", false},
    {"503 SlowDown once / complete", "op=complete&action=slowdown&count=1", false, false,
     "succeeded", NULL, false},
    {"lost answer / complete", "op=complete&action=lose_answer&count=1", false, false, "succeeded",
     NULL, false},
    {"lost answer, upload forgotten / complete", "op=complete&action=lose_answer_gone&count=1",
     false, false, "succeeded", NULL, false},
    {"held answer + kill -9 / complete", "op=complete&action=slow_answer&delay_ms=4000&count=1",
     false, true, "failed", "interrupted by restart", false},
    {"500 once / verify", "op=get&action=error500&count=1", false, false, "succeeded", NULL, false},
    {"500 / verify", "op=get&action=error500&count=0", false, false, "failed", "InternalError",
     false},
    {"connection drop once / verify", "op=get&action=drop_mid&count=1", false, false, "succeeded",
     NULL, false},
    {"held answer + kill -9 / verify", "op=get&action=slow_answer&delay_ms=4000&count=1", false,
     true, "failed", "interrupted by restart", false},
    {"503 SlowDown once / delete", "op=batchdelete&action=slowdown&count=1", true, false,
     "succeeded", NULL, false},
    {"500 / delete", "op=batchdelete&action=error500&count=0", true, false, "succeeded", NULL,
     true},
    {"lost answer once / delete", "op=batchdelete&action=lose_answer&count=1", true, false,
     "succeeded", NULL, false},
    /* Killed between the objects and the row: the row was marked
     * deleting first, so it is never listed without its object, and
     * start-up recovery deletes it. */
    {"held answer + kill -9 / delete", "op=batchdelete&action=slow_answer&delay_ms=4000&count=1",
     true, true, "succeeded", NULL, false},
};

static enum qb_err add_key(void *ud, const struct s3_list_entry *ent)
{
    fm_keys_add(ud, ent->key + strlen(prefix));
    return QB_OK;
}

/* Every object under <prefix><plan>/, relative to the destination. */
static bool raw_keys(const char *plan, struct fm_keys *out)
{
    char p[128];
    snprintf(p, sizeof p, "%s%s/", prefix, plan);
    struct s3_client *c = s3_env_client(&s3e);
    char err[QB_ERRBUF_SIZE];
    bool ok = c && s3_list_objects(c, p, 0, add_key, out, err, sizeof err) == QB_OK;
    if (c && !ok)
        fprintf(stderr, "listing %s: %s\n", p, err);
    s3_client_destroy(c);
    return ok;
}

/* Runs cell c with collection b<i> and plan s<i>. */
static void run_cell(const struct cell *c, size_t i)
{
    fprintf(stderr, "--- cell %zu: %s\n", i, c->name);
    char plan[16], coll[16], body[512];
    snprintf(plan, sizeof plan, "s%zu", i);
    snprintf(coll, sizeof coll, "b%zu", i);
    TEST_ASSERT(emu_create_collection(&e, coll, 4) == 0 && emu_fill(&e, coll, 6) == 0);
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"destination\":\"s3f\",\"collections\":[\"%s\"],\"verify\":true%s}",
             plan, coll, c->retention ? ",\"retention\":{\"keep_last\":1}" : "");
    TEST_ASSERT(fm_call(&d, "POST", "/v1/plans", body, 201));
    TEST_ASSERT(s3fault_clear(&proxy) == 0);
    struct fm_run run;
    if (c->retention) { /* something for retention to delete */
        long long first = fm_start_run(&d, plan);
        TEST_ASSERT(first > 0 && fm_wait_settled(&d, first, 60000, &run));
        TEST_ASSERT(strcmp(run.state, "succeeded") == 0);
    }
    long held = s3fault_stat(&proxy, "held"), fired = s3fault_stat(&proxy, "fired");
    TEST_ASSERT(s3fault_arm(&proxy, c->rule) == 0);
    long long id = fm_start_run(&d, plan);
    TEST_ASSERT(id > 0);
    if (c->kill9) {
        /* S3 has acted; its answer is held: qbackupd dies not knowing. */
        TEST_ASSERT(s3fault_wait_stat(&proxy, "held", held + 1, 60000));
        TEST_ASSERT(qbd_kill(&d, SIGKILL) == 0);
        TEST_ASSERT(qbd_restart(&d) == 0);
    }
    TEST_ASSERT(fm_wait_settled(&d, id, 60000, &run));
    TEST_EXPECT(s3fault_stat(&proxy, "fired") > fired); /* the cell tested its fault */
    TEST_EXPECT_INT(s3fault_clear(&proxy), 0);
    if (strstr(c->rule, "lose_answer_gone")) /* proven by HEAD, not by a second Complete */
        TEST_EXPECT(qbd_log_contains(&d, "s3.complete_confirmed"));
    struct fm_keys raw = {0};
    TEST_EXPECT(raw_keys(plan, &raw));
    TEST_EXPECT(fm_check_truth(&d, bucket_st, &raw, plan, &run, c->state, c->error));
    fm_keys_free(&raw);
    char uploads[128];
    snprintf(uploads, sizeof uploads, "%s%s/", prefix, plan);
    TEST_EXPECT_INT(s3_env_uploads(&s3e, uploads), 0);
    TEST_EXPECT(fm_wait_no_qdrant_snapshot(&e, coll, 20000));
    if (c->retention) {
        if (!c->kill9)
            TEST_EXPECT(c->retention_fails == (run.retention_error[0] != '\0'));
        else /* the marked deletion was finished by start-up recovery */
            TEST_EXPECT(qbd_log_contains(&d, "recovery.deletion_finished"));
        char path[64];
        snprintf(path, sizeof path, "/v1/snapshots?plan=%s", plan);
        struct resp r;
        TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
        /* keep_last 1, unless the delete failed (then both stay, stored). */
        TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), c->retention_fails ? 2 : 1);
        resp_free(&r);
    }
}

static void test_matrix(void)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(cells); i++)
        run_cell(&cells[i], i);
}

static int setup(void)
{
    char err[QB_ERRBUF_SIZE];
    if (http_client_global_init(err, sizeof err))
        return -1;
    snprintf(prefix, sizeof prefix, "matrix-%d/", (int)getpid());
    if (s3_env_create_bucket(&s3e) != 0)
        return -1;
    if (s3_env_storage(&s3e, prefix, &bucket_st, err, sizeof err)) {
        fprintf(stderr, "storage: %s\n", err);
        return -1;
    }
    if (emu_start(&e, NULL) != 0)
        return -1;
    const char *const args[] = {
        "--qdrant-url", e.url, "--retry-base-ms", "20", "--max-attempts", "1", NULL};
    if (qbd_start(&d, args, NULL) != 0 || s3fault_start(&proxy, s3e.endpoint, d.dir) != 0)
        return -1;
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\":\"s3f\",\"kind\":\"s3\",\"settings\":{\"bucket\":\"%s\",\"prefix\":\"%s\","
             "\"endpoint\":\"%s\",\"region\":\"%s\",\"path_style\":true,"
             "\"part_size\":5242880},"
             "\"credentials\":{\"access_key\":\"%s\",\"secret_key\":\"%s\"}}",
             s3e.bucket, prefix, proxy.url, s3e.region, s3e.access_key, s3e.secret_key);
    return fm_call(&d, "POST", "/v1/destinations", body, 201) ? 0 : -1;
}

int main(int argc, char **argv)
{
    int skip = s3_env_load(&s3e);
    if (skip)
        return skip;
    if (setup() != 0)
        return 1;
    /* One cell by index, for debugging: test_fault_matrix_s3 N. */
    if (argc > 1 && strtoul(argv[1], NULL, 10) < QB_ARRAY_LEN(cells))
        run_cell(&cells[strtoul(argv[1], NULL, 10)], strtoul(argv[1], NULL, 10));
    else
        TEST_RUN(test_matrix);
    TEST_EXPECT_INT(s3fault_stop(&proxy), 0);
    storage_close(bucket_st);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    TEST_EXPECT(!qbd_log_contains(&d, s3e.secret_key));
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
    return TEST_RESULT();
}
