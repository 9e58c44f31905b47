/* SPDX-License-Identifier: Apache-2.0
 *
 * test_cluster.c -- cluster-aware backups end to end on the emulator in
 * distributed mode: a collection is backed up as a backup set (one object
 * per shard, taken by shard snapshot or by the streaming route), deleting
 * and restoring the set gives identical points, the set restores into a
 * single node too, a cut stream fails the run naming the shard and keeps
 * nothing, no shard snapshot is left on the peer, and after the catalogue
 * is lost a rescan brings the sets back, restorable.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct emu peer, single, old;
static struct qbd d;
static char *original;

static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

/* Shard snapshot files the emulator still holds for collection c. */
static int shard_snapshots_left(struct emu *e, const char *c)
{
    struct resp r;
    char path[128];
    snprintf(path, sizeof path, "/collections/%s/shards/0/snapshots", c);
    int n = -1;
    if (emu_request(e, "GET", path, NULL, &r) == 0 && r.status == 200)
        n = cJSON_GetArraySize(json_path(r.json, "result"));
    resp_free(&r);
    return n;
}

static void test_backup_set_and_restore(void)
{
    struct resp r;
    TEST_ASSERT(
        call("POST", "/v1/plans", "{\"name\":\"clu\",\"collections\":[\"products\"]}", 201, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "shard_method"), "snapshot");
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/clu/runs?wait=120", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.layout"), "shards");
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results.0.shards")), 1);
    TEST_EXPECT_INT(json_path_num(r.json, "results.0.points_count"), 25);
    double id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    TEST_EXPECT_INT(shard_snapshots_left(&peer, "products"), 0);

    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "layout"), "shards");
    TEST_EXPECT(json_path_str(r.json, "verified_at") != NULL);
    TEST_EXPECT_INT(json_path_num(r.json, "backup_set.shards.0.shard_id"), 0);
    TEST_EXPECT_INT(json_path_num(r.json, "backup_set.shards.0.points_count"), 25);
    TEST_EXPECT(json_path(r.json, "backup_set.config.vectors") != NULL);
    const char *shard_key = json_path_str(r.json, "backup_set.shards.0.key");
    TEST_EXPECT(shard_key && strstr(shard_key, "/shard-0.snapshot"));
    resp_free(&r);

    /* A set is not one file: its download is refused, clearly. */
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/download", id);
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 409);
    TEST_EXPECT(r.body && strstr(r.body, "backup set"));
    resp_free(&r);

    /* Verify re-reads every shard object. */
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/verify", id);
    TEST_ASSERT(qbd_request(&d, "POST", path, NULL, NULL, &r) == 0);
    TEST_EXPECT(r.status == 200 || r.status == 202);
    resp_free(&r);

    /* The colleague's script, then the restore of the set. */
    TEST_ASSERT(emu_request(&peer, "DELETE", "/collections/products", NULL, &r) == 0);
    resp_free(&r);
    char body[128];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.layout"), "shards");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.shards.0.state"), "restored");
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&peer, "products", original));

    /* By URL from a local folder: the shards are uploaded, with a warning. */
    snprintf(body, sizeof body,
             "{\"snapshot_id\":%.0f,\"method\":\"url\","
             "\"target_collection\":\"by-url\"}",
             id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    const char *warning = json_path_str(r.json, "results.0.warnings.0");
    TEST_EXPECT(warning && strstr(warning, "uploaded"));
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&peer, "by-url", original));

    /* Overwrite: a safety set first, then the set again. */
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"overwrite\":true}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT(json_path_num(r.json, "results.0.safety_snapshot_id") > 0);
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&peer, "products", original));
    TEST_EXPECT_INT(shard_snapshots_left(&peer, "products"), 0);

    /* Into a single node (distributed mode off) under another name. */
    snprintf(body, sizeof body, "{\"name\":\"single\",\"url\":\"%s\"}", single.url);
    TEST_ASSERT(call("POST", "/v1/instances", body, 201, &r));
    resp_free(&r);
    snprintf(body, sizeof body,
             "{\"snapshot_id\":%.0f,\"target_instance\":\"single\",\"target_collection\":\"copy\"}",
             id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&single, "copy", original));
}

static void test_streamed_set(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"streamed\",\"collections\":[\"products\"],"
                     "\"shard_method\":\"stream\"}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/streamed/runs?wait=120", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.layout"), "shards");
    double id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    /* Nothing was written to the peer's snapshot folder. */
    TEST_EXPECT_INT(shard_snapshots_left(&peer, "products"), 0);

    TEST_ASSERT(emu_request(&peer, "DELETE", "/collections/products", NULL, &r) == 0);
    resp_free(&r);
    char body[128];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&peer, "products", original));
}

static void test_cut_stream_fails_naming_shard(void)
{
    struct resp r;
    TEST_ASSERT(emu_fault(&peer,
                          "{\"kind\":\"truncate\",\"after_bytes\":1536,\"count\":0,"
                          "\"path_prefix\":\"/collections/products/shards/0/snapshot\"}") == 0);
    /* A failed run answers 424 with the run. */
    TEST_ASSERT(call("POST", "/v1/plans/streamed/runs?wait=120", NULL, 424, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "failed");
    const char *error = json_path_str(r.json, "run.results.0.error");
    TEST_EXPECT(error && strstr(error, "shard 0"));
    resp_free(&r);
    TEST_EXPECT_INT(emu_clear_faults(&peer), 0);
    /* Only the earlier, whole set is catalogued for the plan. */
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=streamed", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), 1);
    resp_free(&r);
}

static void test_version_preflight(void)
{
    struct resp r;
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"old\",\"url\":\"%s\"}", old.url);
    TEST_ASSERT(call("POST", "/v1/instances", body, 201, &r));
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=clu&limit=1", NULL, 200, &r));
    double id = json_path_num(r.json, "items.0.id");
    resp_free(&r);
    /* Taken from 1.19.0; 1.17 is two minors away: refused, nothing queued. */
    snprintf(body, sizeof body,
             "{\"snapshot_id\":%.0f,\"target_instance\":\"old\",\"target_collection\":\"x\"}", id);
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/restores?wait=60", body, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 409, "conflict");
    TEST_EXPECT(r.body && strstr(r.body, "1.19.0") && strstr(r.body, "1.17.0"));
    resp_free(&r);
    TEST_ASSERT(emu_request(&old, "GET", "/collections/x", NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 404);
    resp_free(&r);
}

/* The host loses its catalogue (the SQLite file with it); a rescan of the
 * destination brings every set back as one row each, a second rescan adds
 * nothing, and a rebuilt set restores with identical points. */
static void test_rescan_rebuilds_sets(void)
{
    struct resp r;
    char location[1024] = "", set_before[4096] = "";
    TEST_ASSERT(call("GET", "/v1/snapshots?limit=1000", NULL, 200, &r));
    int before = cJSON_GetArraySize(json_path(r.json, "items"));
    const cJSON *it;
    cJSON_ArrayForEach(it, json_path(r.json, "items"))
    {
        const char *plan = json_path_str(it, "plan");
        if (!location[0] && plan && strcmp(plan, "clu") == 0) {
            snprintf(location, sizeof location, "%s", json_path_str(it, "location"));
            char *text = cJSON_PrintUnformatted(json_path(it, "backup_set"));
            snprintf(set_before, sizeof set_before, "%s", text ? text : "");
            free(text);
        }
    }
    resp_free(&r);
    TEST_ASSERT(before > 0 && location[0]);

    TEST_ASSERT(qbd_lose_catalogue(&d) == 0);
    TEST_ASSERT(call("GET", "/v1/snapshots", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), 0);
    resp_free(&r);

    TEST_ASSERT(call("POST", "/v1/destinations/local/rescan", NULL, 200, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "imported"), before);
    TEST_EXPECT_INT(json_path_num(r.json, "skipped"), 0);
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/destinations/local/rescan", NULL, 200, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "imported"), 0);
    TEST_EXPECT_INT(json_path_num(r.json, "known"), before);
    resp_free(&r);

    TEST_ASSERT(call("GET", "/v1/snapshots?limit=1000", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), before);
    double id = 0;
    cJSON_ArrayForEach(it, json_path(r.json, "items"))
    {
        const char *loc = json_path_str(it, "location");
        if (!loc || strcmp(loc, location) != 0)
            continue;
        id = json_path_num(it, "id");
        TEST_EXPECT_STR(json_path_str(it, "layout"), "shards");
        char *text = cJSON_PrintUnformatted(json_path(it, "backup_set"));
        TEST_EXPECT_STR(text, set_before);
        free(text);
    }
    resp_free(&r);
    TEST_ASSERT(id > 0);
    char body[128];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"rebuilt\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.layout"), "shards");
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&peer, "rebuilt", original));
}

int main(void)
{
    const char *const cluster[] = {"--cluster", NULL};
    const char *const v117[] = {"--version", "1.17.0", NULL};
    if (emu_start(&peer, cluster) != 0 || emu_start(&single, NULL) != 0 ||
        emu_start(&old, v117) != 0)
        return 1;
    if (emu_create_collection(&peer, "products", 4) || emu_upsert(&peer, "products", 25, 1))
        return 1;
    original = emu_points(&peer, "products");
    const char *const args[] = {"--qdrant-url", peer.url, NULL};
    if (!original || qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_backup_set_and_restore);
    TEST_RUN(test_streamed_set);
    TEST_RUN(test_cut_stream_fails_naming_shard);
    TEST_RUN(test_version_preflight);
    TEST_RUN(test_rescan_rebuilds_sets); /* last: it drops the catalogue */
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&peer), 0);
    TEST_EXPECT_INT(emu_stop(&single), 0);
    TEST_EXPECT_INT(emu_stop(&old), 0);
    emu_cleanup(&old);
    emu_cleanup(&peer);
    emu_cleanup(&single);
    free(original);
    return TEST_RESULT();
}
