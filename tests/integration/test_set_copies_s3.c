/* SPDX-License-Identifier: Apache-2.0
 *
 * test_set_copies_s3.c -- copies of a cluster backup set between two S3
 * destinations on one endpoint (Ceph RGW), where the S3 server copies
 * each shard object: the set copied whole (shard objects and manifest,
 * "method": "server"), a shard object of the primary deleted behind
 * qbackupd's back and the set restored from the copy by both methods with
 * identical points, the copy judged by the snapshot's verify, and
 * deleting the set deleting its copy.  Needs the S3 server (needs:s3).
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"
#include "remote/http_client.h"
#include "s3_env.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct emu peer;
static struct qbd d;
static struct s3_env s3e;
static char prefix_a[64], prefix_b[64];

static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

/* Whether key exists in the destination on prefix. */
static bool present(const char *prefix, const char *key)
{
    struct storage *st = NULL;
    struct storage_object_info info;
    char err[QB_ERRBUF_SIZE];
    bool found = s3_env_storage(&s3e, prefix, &st, err, sizeof err) == QB_OK &&
                 storage_head(st, key, &info, err, sizeof err) == QB_OK;
    storage_close(st);
    return found;
}

static void test_set_copied_by_the_server(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"sp\",\"destination\":\"s3a\",\"collections\":[\"docs\"],"
                     "\"copies\":[{\"destination\":\"s3b\"}]}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/sp/runs?wait=120", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.layout"), "shards");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.copies.0.state"), "stored");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.copies.0.method"), "server");
    double id = json_path_num(r.json, "results.0.snapshot_id");
    char shard[512] = "", manifest[600] = "";
    const char *k = json_path_str(r.json, "results.0.shards.0.key");
    if (k) {
        snprintf(shard, sizeof shard, "%s", k);
        const char *slash = strrchr(k, '/');
        snprintf(manifest, sizeof manifest, "%.*s.manifest.json", slash ? (int)(slash - k) : 0, k);
    }
    resp_free(&r);
    TEST_ASSERT(shard[0] != '\0');
    TEST_EXPECT(present(prefix_b, shard));
    TEST_EXPECT(present(prefix_b, manifest));

    /* Verify judges the copy too (a server copy is re-read whole). */
    char path[96];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/verify", id);
    TEST_ASSERT(call("POST", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    TEST_EXPECT(json_path_str(r.json, "copies.0.verified_at") != NULL);
    resp_free(&r);

    /* A shard object of the primary is deleted behind qbackupd's back. */
    struct storage *a = NULL;
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(s3_env_storage(&s3e, prefix_a, &a, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(storage_delete(a, shard, err, sizeof err), QB_OK);
    storage_close(a);
    char *want = emu_points(&peer, "docs");
    TEST_ASSERT(want != NULL);
    static const char *const methods[] = {"upload", "url"};
    for (size_t i = 0; i < 2; i++) {
        char body[256], coll[32];
        snprintf(coll, sizeof coll, "docs_%s", methods[i]);
        snprintf(body, sizeof body,
                 "{\"snapshot_id\":%.0f,\"target_collection\":\"%s\",\"method\":\"%s\"}", id, coll,
                 methods[i]);
        TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
        TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
        TEST_EXPECT_STR(json_path_str(r.json, "results.0.source.destination"), "s3b");
        TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.source.copy")));
        resp_free(&r);
        char *now = emu_points(&peer, coll);
        TEST_EXPECT(now && strcmp(now, want) == 0);
        free(now);
    }
    free(want);

    /* Deleting the set deletes its copy. */
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("DELETE", path, NULL, 204, &r));
    resp_free(&r);
    TEST_EXPECT(!present(prefix_b, shard));
    TEST_EXPECT(!present(prefix_b, manifest));
    TEST_EXPECT(!present(prefix_a, manifest));
}

int main(void)
{
    int skip = s3_env_load(&s3e);
    if (skip)
        return skip;
    char err[QB_ERRBUF_SIZE];
    if (http_client_global_init(err, sizeof err))
        return 1;
    snprintf(prefix_a, sizeof prefix_a, "set-copies-a-%d/", (int)getpid());
    snprintf(prefix_b, sizeof prefix_b, "set-copies-b-%d/", (int)getpid());
    if (s3_env_create_bucket(&s3e) != 0)
        return 1;
    const char *const cluster[] = {"--cluster", NULL};
    if (emu_start(&peer, cluster) != 0 || emu_create_collection(&peer, "docs", 4) ||
        emu_upsert(&peer, "docs", 20, 3))
        return 1;
    const char *const args[] = {"--qdrant-url", peer.url, NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    char body[1024];
    struct resp r;
    s3_env_destination_body(&s3e, "s3a", prefix_a, s3e.endpoint, body, sizeof body);
    if (!call("POST", "/v1/destinations", body, 201, &r))
        return 1;
    resp_free(&r);
    s3_env_destination_body(&s3e, "s3b", prefix_b, s3e.endpoint, body, sizeof body);
    if (!call("POST", "/v1/destinations", body, 201, &r))
        return 1;
    resp_free(&r);
    TEST_RUN(test_set_copied_by_the_server);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    TEST_EXPECT(!qbd_log_contains(&d, s3e.secret_key));
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&peer), 0);
    emu_cleanup(&peer);
    return TEST_RESULT();
}
