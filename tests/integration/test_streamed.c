/* SPDX-License-Identifier: Apache-2.0
 *
 * test_streamed.c -- streamed mode on a single node (distributed mode off)
 * end to end against the emulator: a plan with shard_method "stream" backs
 * each collection up as a backup set of its shards read over Qdrant's
 * streaming route (nothing created on the node, no shard snapshot route
 * used), the set is catalogued, verified, restored (fresh, over the live
 * collection with a safety snapshot, and into a cluster) with identical
 * points; a full-instance plan streams every collection as its own set;
 * "snapshot" keeps the one-snapshot path; a stream that ended early once
 * is taken again; one cut short every time (cleanly ended, or the
 * connection dropped) fails the run and leaves nothing catalogued or
 * stored; a rescan rebuilds the sets from their manifests.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SHARDS 3
#define POINTS 300

static struct emu node, clu;
static struct qbd d;
static char *original;

static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

/* Snapshot files the node holds for collection c: collection snapshots and
 * every shard's (routes 1 and 11). */
static int node_snapshots(const char *c)
{
    struct resp r;
    char path[128];
    int n = 0;
    snprintf(path, sizeof path, "/collections/%s/snapshots", c);
    if (emu_request(&node, "GET", path, NULL, &r) != 0 || r.status != 200)
        n = -1000;
    n += cJSON_GetArraySize(json_path(r.json, "result"));
    resp_free(&r);
    for (int s = 0; s < SHARDS; s++) {
        snprintf(path, sizeof path, "/collections/%s/shards/%d/snapshots", c, s);
        if (emu_request(&node, "GET", path, NULL, &r) != 0 || r.status != 200)
            n = -1000;
        n += cJSON_GetArraySize(json_path(r.json, "result"));
        resp_free(&r);
    }
    return n;
}

/* Requests in the node's log whose method is m and path contains needle. */
static int requests_like(const char *m, const char *needle)
{
    cJSON *log = emu_requests(&node);
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, log)
    {
        const char *method = json_path_str(e, "method"), *path = json_path_str(e, "path");
        if (method && path && strcmp(method, m) == 0 && strstr(path, needle))
            n++;
    }
    cJSON_Delete(log);
    return n;
}

/* Regular files under dir (recursively), temp files included. */
static int files_under(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return 0;
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(dp)) != NULL) {
        if (ent->d_name[0] == '.' && (!ent->d_name[1] || strcmp(ent->d_name, "..") == 0))
            continue;
        char path[1024];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        if (stat(path, &st) != 0)
            continue;
        n += S_ISDIR(st.st_mode) ? files_under(path) : 1;
    }
    closedir(dp);
    return n;
}

static int plan_files(const char *plan)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/var/backups/%s", d.dir, plan);
    return files_under(dir);
}

static int catalogued(const char *plan)
{
    struct resp r;
    char path[128];
    snprintf(path, sizeof path, "/v1/snapshots?plan=%s&limit=100", plan);
    int n = -1;
    if (qbd_request(&d, "GET", path, NULL, NULL, &r) == 0 && r.status == 200)
        n = cJSON_GetArraySize(json_path(r.json, "items"));
    resp_free(&r);
    return n;
}

/* The collection-wide settings main() created products with. */
static bool tuning_kept(const char *c)
{
    struct resp r;
    char path[128];
    snprintf(path, sizeof path, "/collections/%s", c);
    bool ok = emu_request(&node, "GET", path, NULL, &r) == 0 && r.status == 200 &&
              json_path_num(r.json, "result.config.hnsw_config.m") == 32 &&
              json_path_num(r.json, "result.config.optimizer_config.indexing_threshold") == 12345 &&
              json_path_num(r.json, "result.config.wal_config.wal_capacity_mb") == 48 &&
              json_path_str(r.json, "result.config.metadata.team") &&
              strcmp(json_path_str(r.json, "result.config.metadata.team"), "search") == 0;
    if (!ok)
        fprintf(stderr, "settings of %s not kept: %s\n", c, r.body ? r.body : "(none)");
    resp_free(&r);
    return ok;
}

static double set_id;

static void test_streamed_round_trip(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"streamed\",\"collections\":[\"products\"],"
                     "\"shard_method\":\"stream\",\"verify\":true}",
                     201, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "shard_method"), "stream");
    resp_free(&r);
    TEST_ASSERT(emu_clear_requests(&node) == 0);
    TEST_ASSERT(call("POST", "/v1/plans/streamed/runs?wait=120", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.layout"), "shards");
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results.0.shards")), SHARDS);
    TEST_EXPECT_INT(json_path_num(r.json, "results.0.points_count"), POINTS);
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.verified")));
    set_id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);

    /* Every shard came over the streaming route; nothing was created on
     * the node, and no snapshot file is left there. */
    TEST_EXPECT_INT(requests_like("GET", "/shards/0/snapshot"), 1);
    TEST_EXPECT_INT(requests_like("GET", "/shards/2/snapshot"), 1);
    TEST_EXPECT_INT(requests_like("POST", "/snapshots"), 0);
    TEST_EXPECT_INT(node_snapshots("products"), 0);

    /* The catalogue row and the manifest say what a restore needs. */
    char path[128];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", set_id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "layout"), "shards");
    TEST_EXPECT_STR(json_path_str(r.json, "backup_set.shard_method"), "stream");
    TEST_EXPECT_INT(json_path_num(r.json, "backup_set.config.shard_number"), SHARDS);
    TEST_EXPECT(json_path(r.json, "backup_set.config.vectors") != NULL);
    TEST_EXPECT_INT(json_path_num(r.json, "backup_set.tuning.hnsw_config.m"), 32);
    TEST_EXPECT_INT(json_path_num(r.json, "backup_set.shards.2.shard_id"), 2);
    /* A single node is the topology's one peer: id 0, the instance URL. */
    TEST_EXPECT_INT(json_path_num(r.json, "backup_set.shards.0.peer_id"), 0);
    TEST_EXPECT_STR(json_path_str(r.json, "backup_set.shards.0.peer_url"), node.url);
    /* Qdrant gives a stream neither name nor checksum. */
    TEST_EXPECT(json_path(r.json, "backup_set.shards.0.qdrant_checksum") == NULL);
    TEST_EXPECT(json_path(r.json, "backup_set.shards.0.qdrant_snapshot") == NULL);
    TEST_EXPECT(json_path_str(r.json, "verified_at") != NULL);
    resp_free(&r);
    /* The shard objects and the manifest, each with its .sha256 sidecar. */
    TEST_EXPECT_INT(plan_files("streamed"), 2 * (SHARDS + 1));

    /* Verify re-reads every shard object. */
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/verify", set_id);
    TEST_ASSERT(call("POST", path, NULL, 200, &r));
    resp_free(&r);

    /* Lost collection: the set brings it back, point for point. */
    TEST_ASSERT(emu_request(&node, "DELETE", "/collections/products", NULL, &r) == 0);
    resp_free(&r);
    TEST_ASSERT(emu_clear_requests(&node) == 0);
    char body[160];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f}", set_id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.layout"), "shards");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.shards.2.state"), "restored");
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
    TEST_EXPECT_INT(json_path_num(r.json, "results.0.points_count"), POINTS);
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&node, "products", original));
    TEST_EXPECT(tuning_kept("products"));
    /* Shard by shard over the shard upload route (17). */
    TEST_EXPECT_INT(requests_like("POST", "/snapshots/upload"), SHARDS);

    /* Over the live collection: a safety snapshot first (the single-node
     * kind), then the set again. */
    TEST_ASSERT(emu_upsert_range(&node, "products", 100000, 5, 3, NULL) == 0);
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"overwrite\":true}", set_id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    double safety = json_path_num(r.json, "results.0.safety_snapshot_id");
    TEST_EXPECT(safety > 0);
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&node, "products", original));
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", safety);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "points_count"), POINTS + 5);
    resp_free(&r);

    /* Under another name next to it. */
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"copy\"}", set_id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&node, "copy", original));
}

/* A single node's set restores into a cluster too (here one peer in
 * distributed mode): the set path does not care where it came from. */
static void test_restore_into_cluster(void)
{
    struct resp r;
    char body[160];
    snprintf(body, sizeof body, "{\"name\":\"clu\",\"url\":\"%s\"}", clu.url);
    TEST_ASSERT(call("POST", "/v1/instances", body, 201, &r));
    resp_free(&r);
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_instance\":\"clu\"}", set_id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
    resp_free(&r);
    char *there = emu_points(&clu, "products");
    TEST_EXPECT(there && original && strcmp(there, original) == 0);
    free(there);
}

static void test_snapshot_method_keeps_one_snapshot(void)
{
    struct resp r;
    TEST_ASSERT(
        call("POST", "/v1/plans", "{\"name\":\"whole\",\"collections\":[\"products\"]}", 201, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "shard_method"), "snapshot");
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/whole/runs?wait=120", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT(json_path(r.json, "results.0.layout") == NULL);
    double id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "layout"), "snapshot");
    resp_free(&r);
}

static void test_full_instance_streams_each_collection(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"everything\",\"full_instance\":true,\"shard_method\":\"stream\"}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/everything/runs?wait=120", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    /* products and copy: one set each, no full snapshot. */
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results")), 2);
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.layout"), "shards");
    TEST_EXPECT_STR(json_path_str(r.json, "results.1.layout"), "shards");
    resp_free(&r);
    TEST_EXPECT_INT(catalogued("everything"), 2);
    struct resp s;
    TEST_ASSERT(emu_request(&node, "GET", "/snapshots", NULL, &s) == 0);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(s.json, "result")), 0);
    resp_free(&s);
}

/* A stream that ends early fails the run: nothing catalogued, nothing
 * stored.  clean: the chunked body ends normally (what Qdrant does when
 * producing the archive fails); else the connection drops. */
static void cut_stream(bool clean)
{
    struct resp r;
    int before = catalogued("streamed"), files = plan_files("streamed");
    char rule[256];
    snprintf(rule, sizeof rule,
             "{\"kind\":\"truncate\",\"after_bytes\":2048,\"count\":0,\"clean\":%s,"
             "\"path_prefix\":\"/collections/products/shards/1/snapshot\"}",
             clean ? "true" : "false");
    TEST_ASSERT(emu_fault(&node, rule) == 0);
    TEST_ASSERT(call("POST", "/v1/plans/streamed/runs?wait=120", NULL, 424, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "failed");
    const char *error = json_path_str(r.json, "run.results.0.error");
    TEST_EXPECT(error && strstr(error, "shard 1"));
    resp_free(&r);
    TEST_EXPECT_INT(emu_clear_faults(&node), 0);
    TEST_EXPECT_INT(catalogued("streamed"), before);
    TEST_EXPECT_INT(plan_files("streamed"), files);
    TEST_EXPECT_INT(node_snapshots("products"), 0);
}

/* One stream ended early (Qdrant failing to produce it) is taken again:
 * the run succeeds with a whole shard. */
static void test_cut_stream_taken_again(void)
{
    struct resp r;
    int before = catalogued("streamed");
    TEST_ASSERT(emu_fault(&node,
                          "{\"kind\":\"truncate\",\"after_bytes\":2048,\"clean\":true,"
                          "\"path_prefix\":\"/collections/products/shards/1/snapshot\"}") == 0);
    TEST_ASSERT(emu_clear_requests(&node) == 0);
    TEST_ASSERT(call("POST", "/v1/plans/streamed/runs?wait=120", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    resp_free(&r);
    TEST_EXPECT_INT(requests_like("GET", "/shards/1/snapshot"), 2);
    TEST_EXPECT_INT(catalogued("streamed"), before + 1);
    TEST_EXPECT_INT(emu_clear_faults(&node), 0);
}

static void test_clean_cut_stream_fails(void)
{
    cut_stream(true);
}

static void test_dropped_stream_fails(void)
{
    cut_stream(false);
}

/* The catalogue lost: a rescan of the destination brings the single
 * node's sets back, byte for byte, and one restores. */
static void test_rescan_rebuilds_streamed_sets(void)
{
    struct resp r;
    char location[1024] = "", set_before[8192] = "";
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", set_id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    snprintf(location, sizeof location, "%s", json_path_str(r.json, "location"));
    char *text = cJSON_PrintUnformatted(json_path(r.json, "backup_set"));
    snprintf(set_before, sizeof set_before, "%s", text ? text : "");
    free(text);
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/snapshots?limit=100", NULL, 200, &r));
    int before = cJSON_GetArraySize(json_path(r.json, "items"));
    resp_free(&r);

    TEST_ASSERT(qbd_lose_catalogue(&d) == 0);
    TEST_ASSERT(call("POST", "/v1/destinations/local/rescan", NULL, 200, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "imported"), before);
    TEST_EXPECT_INT(json_path_num(r.json, "skipped"), 0);
    resp_free(&r);

    TEST_ASSERT(call("GET", "/v1/snapshots?limit=100", NULL, 200, &r));
    double id = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, json_path(r.json, "items"))
    {
        const char *loc = json_path_str(it, "location");
        if (!loc || strcmp(loc, location) != 0)
            continue;
        id = json_path_num(it, "id");
        TEST_EXPECT_STR(json_path_str(it, "layout"), "shards");
        text = cJSON_PrintUnformatted(json_path(it, "backup_set"));
        TEST_EXPECT_STR(text, set_before);
        free(text);
    }
    resp_free(&r);
    TEST_ASSERT(id > 0);
    char body[128];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"rebuilt\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&node, "rebuilt", original));
}

int main(void)
{
    const char *const cluster[] = {"--cluster", NULL};
    if (emu_start(&node, NULL) != 0 || emu_start(&clu, cluster) != 0)
        return 1;
    char body[512];
    /* Collection-wide settings off Qdrant's defaults, for the restore to
     * give back. */
    snprintf(body, sizeof body,
             "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},\"shard_number\":%d,"
             "\"hnsw_config\":{\"m\":32},\"optimizers_config\":{\"indexing_threshold\":12345},"
             "\"wal_config\":{\"wal_capacity_mb\":48},\"metadata\":{\"team\":\"search\"}}",
             SHARDS);
    struct resp r;
    if (emu_request(&node, "PUT", "/collections/products", body, &r) != 0 || r.status != 200)
        return 1;
    resp_free(&r);
    if (emu_upsert(&node, "products", POINTS, 1))
        return 1;
    original = emu_points(&node, "products");
    const char *const args[] = {"--qdrant-url", node.url, NULL};
    if (!original || qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_streamed_round_trip);
    TEST_RUN(test_restore_into_cluster);
    TEST_RUN(test_snapshot_method_keeps_one_snapshot);
    TEST_RUN(test_full_instance_streams_each_collection);
    TEST_RUN(test_cut_stream_taken_again);
    TEST_RUN(test_clean_cut_stream_fails);
    TEST_RUN(test_dropped_stream_fails);
    TEST_RUN(test_rescan_rebuilds_streamed_sets); /* last: it drops the catalogue */
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&node), 0);
    TEST_EXPECT_INT(emu_stop(&clu), 0);
    emu_cleanup(&node);
    emu_cleanup(&clu);
    free(original);
    return TEST_RESULT();
}
