/* SPDX-License-Identifier: Apache-2.0
 *
 * test_copies_s3.c -- second copies between two S3 destinations on the
 * same endpoint (Ceph RGW): the copy made and verified in the bucket; the
 * primary object deleted behind qbackupd's back and the restore, by both
 * methods, served from the copy; a copy destination that is down leaving
 * the primary catalogued and the copy failed, made by the next run once
 * the destination is fixed; a rescan of the copy destination finding only
 * known copies; an object over CopyObject's limit copied in parts, several
 * at once, and nothing left behind when a part fails.  Needs the S3 server
 * (label needs:s3).
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "fault_matrix.h"
#include "harness.h"
#include "remote/http_client.h"
#include "remote/s3_copy.h"
#include "remote/sigv4.h"
#include "s3_env.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct emu e;
static struct qbd d;
static struct s3_env s3e;
static char prefix_a[64], prefix_b[64], prefix_c[64];

static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

static bool add_destination(const char *method, const char *name, const char *prefix,
                            const char *endpoint)
{
    char body[1024], path[128];
    s3_env_destination_body(&s3e, name, prefix, endpoint, body, sizeof body);
    snprintf(path, sizeof path, "/v1/destinations%s%s", strcmp(method, "PUT") == 0 ? "/" : "",
             strcmp(method, "PUT") == 0 ? name : "");
    struct resp r;
    bool ok = call(method, path, body, strcmp(method, "PUT") == 0 ? 200 : 201, &r);
    resp_free(&r);
    return ok;
}

/* The snapshot's key inside its destination (location minus the URL of
 * the destination with prefix). */
static void key_of(const char *location, const char *prefix, char *key, size_t keylen)
{
    char base[256];
    snprintf(base, sizeof base, "s3://%s/%s", s3e.bucket, prefix);
    key[0] = '\0';
    if (location && strncmp(location, base, strlen(base)) == 0)
        snprintf(key, keylen, "%s", location + strlen(base));
}

static void test_copy_made_and_primary_loss_survived(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"sp\",\"destination\":\"s3a\",\"collections\":[\"docs\"],"
                     "\"copies\":[{\"destination\":\"s3b\"}]}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/sp/runs?wait=120", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.copies.0.state"), "stored");
    /* One endpoint and account: the server copied it. */
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.copies.0.method"), "server");
    double id = json_path_num(r.json, "results.0.snapshot_id");
    char key[512], sha[65];
    key_of(json_path_str(r.json, "results.0.location"), prefix_a, key, sizeof key);
    snprintf(sha, sizeof sha, "%s", json_path_str(r.json, "results.0.sha256"));
    resp_free(&r);
    TEST_ASSERT(key[0] != '\0');

    /* The copy, read independently of qbackupd: the same bytes, with its
     * checksum and manifest. */
    struct storage *b = NULL, *a = NULL;
    struct storage_object_info info;
    char err[QB_ERRBUF_SIZE], mkey[600];
    TEST_ASSERT(s3_env_storage(&s3e, prefix_b, &b, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(storage_verify(b, key, &info, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(info.sha256, sha);
    snprintf(mkey, sizeof mkey, "%s.manifest.json", key);
    TEST_EXPECT_INT(storage_head(b, mkey, &info, err, sizeof err), QB_OK);
    storage_close(b);
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.destination"), "s3b");
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    TEST_EXPECT(json_path_str(r.json, "copies.0.verified_at") != NULL);
    resp_free(&r);

    /* The primary is deleted behind qbackupd's back. */
    TEST_ASSERT(s3_env_storage(&s3e, prefix_a, &a, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(storage_delete(a, key, err, sizeof err), QB_OK);
    storage_close(a);
    char *want = emu_points(&e, "docs");
    TEST_ASSERT(want != NULL);
    static const char *const methods[] = {"upload", "url"};
    for (size_t i = 0; i < 2; i++) {
        char body[256], coll[32];
        snprintf(coll, sizeof coll, "docs_%s", methods[i]);
        snprintf(body, sizeof body,
                 "{\"snapshot_id\":%.0f,\"target_collection\":\"%s\",\"method\":\"%s\"}", id, coll,
                 methods[i]);
        TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
        TEST_EXPECT_STR(json_path_str(r.json, "results.0.source.destination"), "s3b");
        TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.source.copy")));
        resp_free(&r);
        char *now = emu_points(&e, coll);
        TEST_EXPECT(now && strcmp(now, want) == 0);
        free(now);
    }
    free(want);
}

static void test_copy_destination_down_then_back(void)
{
    struct resp r;
    TEST_ASSERT(add_destination("POST", "s3c", prefix_c, "http://127.0.0.1:9"));
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"sq\",\"destination\":\"s3a\",\"collections\":[\"docs\"],"
                     "\"copies\":[{\"destination\":\"s3c\"}]}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/sq/runs?wait=180", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.copies.0.state"), "failed");
    double id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "failed");
    TEST_EXPECT(json_path_str(r.json, "copies.0.error") != NULL);
    resp_free(&r);

    /* Fixed: the next run makes the copy. */
    TEST_ASSERT(add_destination("PUT", "s3c", prefix_c, s3e.endpoint));
    TEST_ASSERT(call("POST", "/v1/plans/sq/runs?wait=180", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.copies.0.state"), "stored");
    resp_free(&r);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    TEST_EXPECT_INT(json_path_num(r.json, "copies.0.attempts"), 2);
    resp_free(&r);
}

static void test_rescan_of_copy_destination(void)
{
    struct resp r;
    TEST_ASSERT(call("GET", "/v1/snapshots?limit=100", NULL, 200, &r));
    int before = cJSON_GetArraySize(json_path(r.json, "items"));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/destinations/s3b/rescan", NULL, 200, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "imported"), 0);
    TEST_EXPECT_INT(json_path_num(r.json, "known"), 1);
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/snapshots?limit=100", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), before);
    resp_free(&r);
}

/* Puts size bytes of a pattern (mul, shift) at key through c; sha gets
 * their SHA-256. */
static bool put_pattern(struct s3_client *c, const char *key, size_t size, uint32_t mul, int shift,
                        char sha[65])
{
    char err[QB_ERRBUF_SIZE];
    unsigned char *data = malloc(size);
    if (!data)
        return false;
    for (size_t i = 0; i < size; i++)
        data[i] = (unsigned char)(i * mul >> shift);
    sigv4_sha256_hex(data, size, sha);
    enum qb_err rc = s3_put_object(c, key, data, size, NULL, err, sizeof err);
    if (rc)
        fprintf(stderr, "put %s: %s\n", key, err);
    free(data);
    return rc == QB_OK;
}

/* The object at key under prefix_b is sha and size, as storage_verify reads it. */
static void expect_copy(const char *key, const char *sha, size_t size)
{
    char err[QB_ERRBUF_SIZE];
    struct storage *st = NULL;
    struct storage_object_info info;
    TEST_ASSERT(s3_env_storage(&s3e, prefix_b, &st, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(storage_verify(st, key, &info, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(info.sha256, sha);
    TEST_EXPECT_INT((long long)info.size, (long long)size);
    storage_close(st);
}

/* An object CopyObject cannot take (over 5 GiB) is copied in parts
 * (UploadPartCopy); shown here on 11 MiB in 5 MiB parts: the copy is the
 * same bytes, carries the SHA-256, and no upload is left behind, also
 * when the parts are refused. */
static void test_multipart_server_copy(void)
{
    const size_t size = 11u << 20;
    char sha[65], err[QB_ERRBUF_SIZE], src[128], dst[128], etag[48];
    snprintf(src, sizeof src, "%smp/src.bin", prefix_a);
    snprintf(dst, sizeof dst, "%smp/dst.bin", prefix_b);
    struct s3_client *a = s3_env_client(&s3e), *b = s3_env_client(&s3e);
    TEST_ASSERT(a && b);
    TEST_EXPECT(s3_copy_possible(b, a));
    TEST_ASSERT(put_pattern(a, src, size, 2654435761u, 13, sha));
    /* Parts under S3's 5 MiB minimum are refused before anything starts. */
    TEST_EXPECT_INT(
        s3_copy_object_multipart(b, a, src, dst, size, 4u << 20, sha, etag, err, sizeof err),
        QB_ERR_INVALID);
    TEST_EXPECT_INT(
        s3_copy_object_multipart(b, a, src, dst, size, 5u << 20, sha, etag, err, sizeof err),
        QB_OK);
    TEST_EXPECT(strchr(etag, '-') != NULL); /* a multipart object's ETag */
    struct s3_object_info head;
    TEST_ASSERT(s3_head_object(b, dst, &head, err, sizeof err) == QB_OK);
    TEST_EXPECT(s3_etag_equal(head.etag, etag)); /* what a quick verify compares */
    s3_object_info_free(&head);
    expect_copy("mp/dst.bin", sha, size);
    /* A source that is not there: the upload is aborted, nothing left. */
    snprintf(src, sizeof src, "%smp/nothing.bin", prefix_a);
    snprintf(dst, sizeof dst, "%smp/never.bin", prefix_b);
    TEST_EXPECT(s3_copy_object_multipart(b, a, src, dst, size, 5u << 20, sha, etag, err,
                                         sizeof err) != QB_OK);
    TEST_EXPECT_INT(s3_env_uploads(&s3e, prefix_b), 0);
    s3_client_destroy(a);
    s3_client_destroy(b);
}

/* A client of the bucket through endpoint, with fast retries (a refused
 * part must fail the copy in milliseconds, not seconds). */
static struct s3_client *client_at(const char *endpoint)
{
    struct s3_config cfg = {.endpoint = endpoint,
                            .region = s3e.region,
                            .bucket = s3e.bucket,
                            .access_key = s3e.access_key,
                            .secret_key = s3e.secret_key,
                            .path_style = true,
                            .retry = {.attempts = 2, .base_ms = 5, .max_ms = 20}};
    struct s3_client *c = NULL;
    char err[QB_ERRBUF_SIZE];
    if (s3_client_create(&cfg, &c, err, sizeof err))
        fprintf(stderr, "s3_client_create: %s\n", err);
    return c;
}

/* The parts of a multipart copy go parts_in_flight (default 4) at a time:
 * the server moves the bytes, so one after the other a 200 GB copy is
 * 6,000 waits in a row.  Through the s3fault proxy, which holds every
 * part's answer 300 ms (so parts in flight overlap for sure) and counts
 * how many it serves at once; then a part refused for good fails the copy
 * and leaves no upload behind. */
static void test_multipart_copy_parts_in_parallel(void)
{
    static struct s3fault proxy;
    char dir[] = "/tmp/qb-copies-s3fault-XXXXXX";
    TEST_ASSERT(mkdtemp(dir) != NULL);
    TEST_ASSERT(s3fault_start(&proxy, s3e.endpoint, dir) == 0);
    const size_t size = 26u << 20; /* 6 parts of 5 MiB */
    char sha[65], err[QB_ERRBUF_SIZE], src[128], dst[128], etag[48];
    snprintf(src, sizeof src, "%spar/src.bin", prefix_a);
    snprintf(dst, sizeof dst, "%spar/dst.bin", prefix_b);
    struct s3_client *a = client_at(proxy.url), *b = client_at(proxy.url);
    TEST_ASSERT(a && b);
    TEST_ASSERT(put_pattern(a, src, size, 2246822519u, 11, sha));
    TEST_ASSERT(s3fault_arm(&proxy, "op=part&action=slow_answer&delay_ms=300&count=0") == 0);
    TEST_EXPECT_INT(
        s3_copy_object_multipart(b, a, src, dst, size, 5u << 20, sha, etag, err, sizeof err),
        QB_OK);
    TEST_EXPECT_INT(s3fault_stat(&proxy, "part"), 6);
    long peak = s3fault_stat(&proxy, "part_peak");
    TEST_EXPECT(peak >= 2); /* 1 when the parts went one after the other */
    TEST_EXPECT(peak <= 4); /* never more than parts_in_flight */
    expect_copy("par/dst.bin", sha, size);
    /* Part 4 refused on every try: the copy fails, naming S3's answer, the
     * other threads take no new part, and the upload is aborted. */
    TEST_ASSERT(s3fault_clear(&proxy) == 0);
    TEST_ASSERT(s3fault_arm(&proxy, "op=part&part=4&action=error500&count=0") == 0);
    snprintf(dst, sizeof dst, "%spar/never.bin", prefix_b);
    TEST_EXPECT(s3_copy_object_multipart(b, a, src, dst, size, 5u << 20, sha, etag, err,
                                         sizeof err) != QB_OK);
    TEST_EXPECT(strstr(err, "InternalError") != NULL || strstr(err, "500") != NULL);
    TEST_EXPECT_INT(s3_env_uploads(&s3e, prefix_b), 0);
    struct s3_object_info head;
    TEST_EXPECT_INT(s3_head_object(b, dst, &head, err, sizeof err), QB_ERR_NOT_FOUND);
    s3_client_destroy(a);
    s3_client_destroy(b);
    TEST_EXPECT_INT(s3fault_stop(&proxy), 0);
    char *log = xasprintf("%s/s3fault.log", dir);
    unlink(log);
    free(log);
    rmdir(dir);
}

int main(void)
{
    int skip = s3_env_load(&s3e);
    if (skip)
        return skip;
    char err[QB_ERRBUF_SIZE];
    if (http_client_global_init(err, sizeof err))
        return 1;
    snprintf(prefix_a, sizeof prefix_a, "copies-a-%d/", (int)getpid());
    snprintf(prefix_b, sizeof prefix_b, "copies-b-%d/", (int)getpid());
    snprintf(prefix_c, sizeof prefix_c, "copies-c-%d/", (int)getpid());
    if (s3_env_create_bucket(&s3e) != 0)
        return 1;
    if (emu_start(&e, NULL) != 0 || emu_create_collection(&e, "docs", 4) ||
        emu_upsert(&e, "docs", 10, 3))
        return 1;
    const char *const args[] = {"--qdrant-url", e.url, NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    if (!add_destination("POST", "s3a", prefix_a, s3e.endpoint) ||
        !add_destination("POST", "s3b", prefix_b, s3e.endpoint))
        return 1;
    TEST_RUN(test_copy_made_and_primary_loss_survived);
    TEST_RUN(test_copy_destination_down_then_back);
    TEST_RUN(test_rescan_of_copy_destination);
    TEST_RUN(test_multipart_server_copy);
    TEST_RUN(test_multipart_copy_parts_in_parallel);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    TEST_EXPECT(!qbd_log_contains(&d, s3e.secret_key));
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
    return TEST_RESULT();
}
