/* SPDX-License-Identifier: Apache-2.0
 *
 * test_backups_s3.c -- the backup pipeline into the real S3 server (Ceph
 * RGW, started by scripts/test): an S3 destination registered over the
 * API and checked, a run whose catalogued object matches what the bucket
 * holds (size and recorded SHA-256, read independently), and a kill -9
 * during a multipart upload followed by a restart that leaves no orphan
 * multipart upload, no object and a failed run; a download whose object
 * was deleted from the bucket answers 502.  Credentials never reach
 * the log.  Needs S3_ENDPOINT, AWS_* and QB_S3_BUCKET; exits 77 without
 * them unless QB_REQUIRE_S3=1.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"
#include "remote/http_client.h"
#include "remote/s3_client.h"
#include "remote/sigv4.h"
#include "s3_env.h"
#include "storage/storage.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct emu e;
static struct qbd d;
static struct s3_env s3e;
static char prefix[64];

static int objects_under(const char *sub)
{
    char p[128];
    snprintf(p, sizeof p, "%s%s", prefix, sub);
    return s3_env_objects(&s3e, p);
}

static bool request_ok(const char *method, const char *path, const char *body, long want,
                       struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

static void test_destination_registered_and_checked(void)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\":\"s3\",\"kind\":\"s3\",\"settings\":{\"bucket\":\"%s\",\"prefix\":\"%s\","
             "\"endpoint\":\"%s\",\"region\":\"%s\",\"path_style\":true,"
             "\"part_size\":5242880,\"download_part_size\":1048576,"
             "\"download_parts_in_flight\":3},"
             "\"credentials\":{\"access_key\":\"%s\",\"secret_key\":\"%s\"}}",
             s3e.bucket, prefix, s3e.endpoint, s3e.region, s3e.access_key, s3e.secret_key);
    struct resp r;
    TEST_ASSERT(request_ok("POST", "/v1/destinations", body, 201, &r));
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "credentials_set")));
    TEST_EXPECT(strstr(r.body, s3e.secret_key) == NULL);
    resp_free(&r);
    TEST_ASSERT(request_ok("POST", "/v1/destinations/s3/check", NULL, 200, &r));
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "ok")));
    resp_free(&r);
}

static void test_run_into_s3_matches_bucket(void)
{
    struct resp r;
    TEST_ASSERT(request_ok("POST", "/v1/plans",
                           "{\"name\":\"s3p\",\"destination\":\"s3\",\"collections\":[\"docs\"]}",
                           201, &r));
    resp_free(&r);
    TEST_ASSERT(request_ok("POST", "/v1/plans/s3p/runs?wait=120", NULL, 200, &r));
    double id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(request_ok("GET", path, NULL, 200, &r));
    const char *location = json_path_str(r.json, "location");
    char want[256];
    snprintf(want, sizeof want, "s3://%s/%s", s3e.bucket, prefix);
    TEST_EXPECT(location && strncmp(location, want, strlen(want)) == 0);
    TEST_EXPECT(json_path_str(r.json, "verified_at") != NULL);

    /* Read the bucket independently of qbackupd. */
    char key[512];
    snprintf(key, sizeof key, "%s", location ? location + strlen(want) : "");
    struct storage *st = NULL;
    struct storage_object_info info;
    char err[QB_ERRBUF_SIZE];
    TEST_EXPECT_INT(s3_env_storage(&s3e, prefix, &st, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(storage_verify(st, key, &info, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(info.sha256, json_path_str(r.json, "sha256"));
    TEST_EXPECT_INT((long long)info.size, (long long)json_path_num(r.json, "size"));
    storage_close(st);
    resp_free(&r);
    TEST_EXPECT_INT(s3_env_uploads(&s3e, prefix), 0);
}

/* On S3 the default quick verify proves a multipart object by its ETag
 * without reading it back, and full reads it; both report their phases. */
static void test_phases_and_verify_modes(void)
{
    struct resp r;
    TEST_ASSERT(request_ok("POST", "/v1/plans",
                           "{\"name\":\"s3q\",\"destination\":\"s3\",\"collections\":[\"big\"]}",
                           201, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "verify_mode"), "quick");
    resp_free(&r);
    TEST_ASSERT(request_ok("POST", "/v1/plans",
                           "{\"name\":\"s3f\",\"destination\":\"s3\",\"collections\":[\"big\"],"
                           "\"verify_mode\":\"full\"}",
                           201, &r));
    resp_free(&r);
    const char *plans[] = {"s3q", "s3f"}, *modes[] = {"quick", "full"};
    for (int i = 0; i < 2; i++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/plans/%s/runs?wait=120", plans[i]);
        TEST_ASSERT(request_ok("POST", path, NULL, 200, &r));
        double id = json_path_num(r.json, "id");
        resp_free(&r);
        snprintf(path, sizeof path, "/v1/runs/%.0f", id);
        TEST_ASSERT(request_ok("GET", path, NULL, 200, &r));
        const cJSON *res = json_path(r.json, "results.0");
        TEST_EXPECT_STR(json_path_str(res, "state"), "succeeded");
        TEST_EXPECT(cJSON_IsTrue(json_path(res, "verified")));
        TEST_EXPECT_STR(json_path_str(res, "verify_mode"), modes[i]);
        TEST_EXPECT(harness_backup_phases_ok(res));
        /* 24 MB in 5 MiB parts: the download and the upload both took time. */
        TEST_EXPECT(
            json_path_num(res, "phases.download_ms") + json_path_num(res, "phases.upload_ms") > 0);
        resp_free(&r);
    }
    TEST_EXPECT_INT(s3_env_uploads(&s3e, prefix), 0);
}

struct progress {
    long long id;
    double min_bytes;
    const char *state;
};

static bool run_reached(void *ctx)
{
    struct progress *p = ctx;
    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%lld", p->id);
    struct resp r;
    bool ok = false;
    if (qbd_request(&d, "GET", path, NULL, NULL, &r) == 0 && r.status == 200)
        ok = p->state ? strcmp(json_path_str(r.json, "state"), p->state) == 0
                      : json_path_num(r.json, "bytes_done") >= p->min_bytes;
    resp_free(&r);
    return ok;
}

static bool uploads_exist(void *ctx)
{
    (void)ctx;
    return s3_env_uploads(&s3e, prefix) > 0;
}

static void test_kill9_during_multipart_upload(void)
{
    struct resp r;
    TEST_ASSERT(request_ok("POST", "/v1/plans",
                           "{\"name\":\"s3k9\",\"destination\":\"s3\",\"collections\":[\"big\"]}",
                           201, &r));
    resp_free(&r);
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"throttle\",\"bytes_per_sec\":2097152,\"count\":0,"
                              "\"path_prefix\":\"/collections/big/snapshots/\"}") == 0);
    TEST_ASSERT(request_ok("POST", "/v1/plans/s3k9/runs", NULL, 202, &r));
    long long id = (long long)json_path_num(r.json, "id");
    resp_free(&r);
    /* Past the first 5 MiB part the upload is a multipart upload. */
    struct progress p = {.id = id, .min_bytes = 6 * 1048576.0};
    TEST_ASSERT(harness_wait_until(run_reached, &p, 60000));
    TEST_ASSERT(harness_wait_until(uploads_exist, NULL, 20000));
    TEST_ASSERT(qbd_kill(&d, SIGKILL) == 0);
    TEST_EXPECT(s3_env_uploads(&s3e, prefix) > 0);

    TEST_ASSERT(qbd_restart(&d) == 0);
    struct progress failed = {.id = id, .state = "failed"};
    TEST_ASSERT(harness_wait_until(run_reached, &failed, 20000));
    TEST_EXPECT_INT(s3_env_uploads(&s3e, prefix), 0);
    TEST_EXPECT_INT(objects_under("s3k9/"), 0);
    TEST_ASSERT(request_ok("GET", "/v1/snapshots?plan=s3k9", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), 0);
    resp_free(&r);
    TEST_ASSERT(emu_clear_faults(&e) == 0);
}

/* The disaster, with the backup in S3: delete the collection, restore
 * "latest" by upload (qbackupd streams from S3 into Qdrant) and by url
 * (Qdrant fetches a presigned S3 URL itself). */
static void test_restore_from_s3_both_methods(void)
{
    char *want = emu_points(&e, "docs");
    TEST_ASSERT(want != NULL);
    static const char *const methods[] = {"upload", "url"};
    for (size_t i = 0; i < 2; i++) {
        struct resp r;
        TEST_ASSERT(emu_request(&e, "DELETE", "/collections/docs", NULL, &r) == 0);
        resp_free(&r);
        char body[200];
        snprintf(body, sizeof body,
                 "{\"plan\":\"s3p\",\"collection\":\"docs\",\"snapshot\":\"latest\","
                 "\"method\":\"%s\"}",
                 methods[i]);
        TEST_ASSERT(request_ok("POST", "/v1/restores?wait=120", body, 200, &r));
        TEST_EXPECT_STR(json_path_str(r.json, "results.0.method"), methods[i]);
        resp_free(&r);
        char *now = emu_points(&e, "docs");
        TEST_EXPECT(now && strcmp(now, want) == 0);
        free(now);
    }
    free(want);
}

/* The 24 MB snapshot read in 1 MiB ranges by 3 workers (the destination's
 * download settings): restored by upload (Qdrant checks the catalogue's
 * SHA-256 before recovering) and downloaded byte for byte. */
static void test_ranged_reads_of_a_large_object(void)
{
    struct resp r;
    TEST_ASSERT(request_ok("GET", "/v1/snapshots?plan=s3f", NULL, 200, &r));
    double id = json_path_num(r.json, "items.0.id");
    char sha[65];
    /* A download serves the archive (decoded when the plan compressed it,
     * as new plans do): its size and checksum are raw_size and raw_sha256. */
    snprintf(sha, sizeof sha, "%s", json_path_str(r.json, "items.0.raw_sha256"));
    double size = json_path_num(r.json, "items.0.raw_size");
    resp_free(&r);
    TEST_ASSERT(id > 0 && size > 4 * 1048576);
    TEST_ASSERT(emu_request(&e, "DELETE", "/collections/big", NULL, &r) == 0);
    resp_free(&r);
    char body[200];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"method\":\"upload\"}", id);
    TEST_ASSERT(request_ok("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    resp_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/download", id);
    TEST_ASSERT(request_ok("GET", path, NULL, 200, &r));
    TEST_EXPECT_INT((long long)r.len, (long long)size);
    char got[SIGV4_HEX_LEN + 1];
    sigv4_sha256_hex(r.body, r.len, got);
    TEST_EXPECT_STR(got, sha);
    resp_free(&r);
}

/* An object deleted from the bucket behind qbackupd's back: the download
 * answers 502 after its HEAD, before any byte, not 404 as if the catalogue
 * had no such snapshot. */
static void test_download_of_deleted_object_is_502(void)
{
    struct resp r;
    TEST_ASSERT(request_ok("POST", "/v1/plans/s3p/runs?wait=120", NULL, 200, &r));
    double id = json_path_num(r.json, "results.0.snapshot_id");
    char location[512];
    snprintf(location, sizeof location, "%s", json_path_str(r.json, "results.0.location"));
    resp_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/download", id);
    TEST_ASSERT(request_ok("GET", path, NULL, 200, &r));
    resp_free(&r);

    char want[256];
    snprintf(want, sizeof want, "s3://%s/", s3e.bucket);
    TEST_ASSERT(strncmp(location, want, strlen(want)) == 0);
    struct s3_client *c = s3_env_client(&s3e);
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(c != NULL);
    TEST_EXPECT_INT(s3_delete_object(c, location + strlen(want), err, sizeof err), QB_OK);
    s3_client_destroy(c);
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 502, "remote_failed");
    resp_free(&r);
    const char *const range[] = {"Range: bytes=0-9", NULL};
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, range, &r) == 0);
    EXPECT_PROBLEM(r, 502, "remote_failed");
    resp_free(&r);
}

int main(void)
{
    int skip = s3_env_load(&s3e);
    if (skip)
        return skip;
    char err[QB_ERRBUF_SIZE];
    if (http_client_global_init(err, sizeof err))
        return 1;
    snprintf(prefix, sizeof prefix, "backups-%d/", (int)getpid());
    if (s3_env_create_bucket(&s3e) != 0)
        return 1;
    if (emu_start(&e, NULL) != 0 || emu_create_collection(&e, "docs", 4) ||
        emu_upsert(&e, "docs", 10, 3) || emu_create_collection(&e, "big", 4) ||
        emu_fill(&e, "big", 24))
        return 1;
    const char *const args[] = {"--qdrant-url", e.url, NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_destination_registered_and_checked);
    TEST_RUN(test_run_into_s3_matches_bucket);
    TEST_RUN(test_phases_and_verify_modes);
    TEST_RUN(test_restore_from_s3_both_methods);
    TEST_RUN(test_ranged_reads_of_a_large_object);
    TEST_RUN(test_download_of_deleted_object_is_502);
    TEST_RUN(test_kill9_during_multipart_upload);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    TEST_EXPECT(!qbd_log_contains(&d, s3e.secret_key));
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
    return TEST_RESULT();
}
