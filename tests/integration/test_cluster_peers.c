/* SPDX-License-Identifier: Apache-2.0
 *
 * test_cluster_peers.c -- cluster backups and restores on a 3-peer
 * emulated Qdrant cluster (peers on 127.0.0.1-3, one port, found by
 * qbackupd from GET /cluster's p2p URIs): shard_number 6 with replication
 * 1 and 2, and custom sharding with 2 shard keys, each backed up as a set
 * taken from several peers, deleted and restored with identical points;
 * restored into a 2-peer cluster and into a single node; a Dead replica
 * skipped when another is Active; a shard with no Active replica, a
 * rebalancing, a cut stream and a down peer holding a shard's only
 * replica failing the collection by name, while a replicated collection
 * is backed up whole without it; a failing peer's shards moved to other
 * replicas; a nodes list
 * checked at create; and kill -9 mid-run leaving no shard snapshot on
 * any peer.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct emu_cluster c3, c2;
static struct emu single;
static struct qbd d;

static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

static bool make_plan(const char *name, const char *collection, const char *extra)
{
    char body[512];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"collections\":[\"%s\"]%s}", name, collection,
             extra ? extra : "");
    struct resp r;
    bool ok = call("POST", "/v1/plans", body, 201, &r);
    resp_free(&r);
    return ok;
}

/* How many distinct peers the run's first result took shards from. */
static int peers_used(const cJSON *run)
{
    const cJSON *shards = json_path(run, "results.0.shards"), *s;
    char seen[8][32];
    int n = 0;
    cJSON_ArrayForEach(s, shards)
    {
        char *id = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(s, "peer_id"));
        bool dup = false;
        for (int i = 0; i < n; i++)
            dup = dup || strcmp(seen[i], id) == 0;
        if (!dup && n < 8)
            snprintf(seen[n++], sizeof seen[0], "%s", id);
        free(id);
    }
    return n;
}

/* Backs up collection with plan, deletes it, restores the set and
 * compares every point; *id receives the set's snapshot id. */
static void roundtrip(const char *plan, const char *collection, int shards, double *id)
{
    char *before = emu_points(&c3.peer[1], collection);
    TEST_ASSERT(before != NULL);
    struct resp r;
    qbd_run_plan(&d, plan, 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.layout"), "shards");
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results.0.shards")), shards);
    TEST_EXPECT(peers_used(r.json) >= 2); /* the work was spread */
    /* Peer ids in the run's result are exact integers, not rounded. */
    char id1[32];
    snprintf(id1, sizeof id1, "\"peer_id\":%llu", c3.peer_id[0]);
    char id2[32], id3[32];
    snprintf(id2, sizeof id2, "\"peer_id\":%llu", c3.peer_id[1]);
    snprintf(id3, sizeof id3, "\"peer_id\":%llu", c3.peer_id[2]);
    TEST_EXPECT(strstr(r.body, id1) || strstr(r.body, id2) || strstr(r.body, id3));
    *id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    TEST_EXPECT_INT(emu_cluster_snapshot_files(&c3, collection), 0);

    char path[128], body[128];
    snprintf(path, sizeof path, "/collections/%s", collection);
    TEST_ASSERT(emu_request(&c3.peer[2], "DELETE", path, NULL, &r) == 0);
    resp_free(&r);
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f}", *id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=180", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.layout"), "shards");
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results.0.shards")), shards);
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&c3.peer[0], collection, before));
    TEST_EXPECT(emu_points_equal(&c3.peer[2], collection, before));
    TEST_EXPECT_INT(emu_cluster_snapshot_files(&c3, collection), 0);
    free(before);
}

static void test_six_shards_replication_1(void)
{
    TEST_ASSERT(emu_cluster_create_collection(&c3, "r1", 4, 6, 1) == 0);
    TEST_ASSERT(emu_upsert_range(&c3.peer[0], "r1", 1, 300, 1, NULL) == 0);
    TEST_ASSERT(make_plan("r1", "r1", NULL));
    double id = 0;
    roundtrip("r1", "r1", 6, &id);
}

static void test_six_shards_replication_2_and_other_targets(void)
{
    TEST_ASSERT(emu_cluster_create_collection(&c3, "r2", 4, 6, 2) == 0);
    TEST_ASSERT(emu_upsert_range(&c3.peer[1], "r2", 1, 300, 2, NULL) == 0);
    TEST_ASSERT(make_plan("r2", "r2", NULL));
    double id = 0;
    roundtrip("r2", "r2", 6, &id);
    char *want = emu_points(&c3.peer[0], "r2");
    TEST_ASSERT(want != NULL);

    /* Into a 2-peer cluster (other peer ids, other count). */
    struct resp r;
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"two\",\"url\":\"%s\"}", c2.peer[0].url);
    TEST_ASSERT(call("POST", "/v1/instances", body, 201, &r));
    resp_free(&r);
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_instance\":\"two\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=180", body, 200, &r));
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&c2.peer[1], "r2", want));

    /* Into a single node: replication capped to 1, with a warning. */
    snprintf(body, sizeof body, "{\"name\":\"one\",\"url\":\"%s\"}", single.url);
    TEST_ASSERT(call("POST", "/v1/instances", body, 201, &r));
    resp_free(&r);
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_instance\":\"one\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=180", body, 200, &r));
    const char *warning = json_path_str(r.json, "results.0.warnings.0");
    TEST_EXPECT(warning && strstr(warning, "replication_factor 2 capped to 1"));
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&single, "r2", want));
    free(want);
}

static void test_custom_sharding_two_keys(void)
{
    const char *const keys[] = {"eu", "us", NULL};
    TEST_ASSERT(emu_cluster_create_custom(&c3, "custom", 4, keys, 2, 1) == 0);
    TEST_ASSERT(emu_upsert_range(&c3.peer[0], "custom", 1, 100, 3, "eu") == 0);
    TEST_ASSERT(emu_upsert_range(&c3.peer[0], "custom", 101, 80, 4, "us") == 0);
    TEST_ASSERT(make_plan("custom", "custom", NULL));
    double id = 0;
    roundtrip("custom", "custom", 4, &id);
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    struct resp r;
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "backup_set.shard_keys")), 2);
    TEST_EXPECT_STR(json_path_str(r.json, "backup_set.config.sharding_method"), "custom");
    resp_free(&r);
}

static void test_full_instance_plan_with_aliases(void)
{
    struct resp r;
    TEST_ASSERT(emu_request(&c3.peer[1], "POST", "/collections/aliases",
                            "{\"actions\":[{\"create_alias\":{\"collection_name\":\"r1\","
                            "\"alias_name\":\"r1-live\"}}]}",
                            &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans", "{\"name\":\"whole\",\"full_instance\":true}", 201, &r));
    resp_free(&r);
    /* A cluster's full snapshot would hold one peer's shards: every
     * collection is backed up as a set instead. */
    qbd_run_plan(&d, "whole", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results")), 3);
    const cJSON *res;
    double r1_id = 0;
    cJSON_ArrayForEach(res, json_path(r.json, "results"))
    {
        TEST_EXPECT_STR(json_path_str(res, "layout"), "shards");
        if (json_path_str(res, "collection") && !strcmp(json_path_str(res, "collection"), "r1"))
            r1_id = json_path_num(res, "snapshot_id");
    }
    resp_free(&r);
    TEST_ASSERT(r1_id > 0);
    char *before = emu_points(&c3.peer[0], "r1");
    TEST_ASSERT(emu_request(&c3.peer[0], "DELETE", "/collections/r1", NULL, &r) == 0);
    resp_free(&r);
    char body[96];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f}", r1_id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=180", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.aliases.0"), "r1-live");
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&c3.peer[2], "r1", before));
    free(before);
    TEST_ASSERT(emu_request(&c3.peer[2], "GET", "/collections/r1/aliases", NULL, &r) == 0);
    TEST_EXPECT_STR(json_path_str(r.json, "result.aliases.0.alias_name"), "r1-live");
    resp_free(&r);
}

static void test_dead_replica_skipped(void)
{
    /* Shard 0 of r2 lives on two peers: kill one replica's state. */
    struct resp r;
    TEST_ASSERT(emu_request(&c3.peer[0], "GET", "/collections/r2/cluster", NULL, &r) == 0);
    unsigned long long dead = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, json_path(r.json, "result.local_shards"))
    {
        if (json_path_num(s, "shard_id") == 0)
            dead = c3.peer_id[0];
    }
    if (!dead) {
        cJSON_ArrayForEach(s, json_path(r.json, "result.remote_shards"))
        {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(s, "peer_id");
            if (json_path_num(s, "shard_id") == 0 && !dead)
                dead = (unsigned long long)strtoull(cJSON_PrintUnformatted(p), NULL, 10);
        }
    }
    resp_free(&r);
    TEST_ASSERT(dead != 0);
    TEST_ASSERT(emu_set_replica_state(&c3, "r2", 0, dead, "Dead") == 0);
    qbd_run_plan(&d, "r2", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    char want[32];
    snprintf(want, sizeof want, "%llu", dead);
    cJSON_ArrayForEach(s, json_path(r.json, "results.0.shards"))
    {
        if (json_path_num(s, "shard_id") != 0)
            continue;
        char *got = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(s, "peer_id"));
        TEST_EXPECT(strcmp(got, want) != 0);
        free(got);
    }
    resp_free(&r);
    TEST_ASSERT(emu_set_replica_state(&c3, "r2", 0, dead, "Active") == 0);
}

static void test_no_active_replica_fails_naming_shard(void)
{
    struct resp r;
    TEST_ASSERT(emu_request(&c3.peer[0], "GET", "/collections/r1/cluster", NULL, &r) == 0);
    /* Shard 3 has one replica: which peer holds it. */
    unsigned long long holder = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, json_path(r.json, "result.local_shards"))
    {
        if (json_path_num(s, "shard_id") == 3)
            holder = c3.peer_id[0];
    }
    cJSON_ArrayForEach(s, json_path(r.json, "result.remote_shards"))
    {
        if (json_path_num(s, "shard_id") == 3 && !holder) {
            char *t = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(s, "peer_id"));
            holder = strtoull(t, NULL, 10);
            free(t);
        }
    }
    resp_free(&r);
    TEST_ASSERT(holder != 0);
    TEST_ASSERT(emu_set_replica_state(&c3, "r1", 3, holder, "Partial") == 0);
    int before = 0;
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=r1", NULL, 200, &r));
    before = cJSON_GetArraySize(json_path(r.json, "items"));
    resp_free(&r);
    qbd_run_plan(&d, "r1", 180, &r);
    TEST_EXPECT_INT(r.status, 424);
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "failed");
    const char *error = json_path_str(r.json, "run.results.0.error");
    TEST_EXPECT(error && strstr(error, "shard 3 has no Active replica") &&
                strstr(error, "Partial"));
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=r1", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), before);
    resp_free(&r);
    TEST_EXPECT_INT(emu_cluster_snapshot_files(&c3, "r1"), 0);
    TEST_ASSERT(emu_set_replica_state(&c3, "r1", 3, holder, "Active") == 0);
}

static void test_transfer_in_progress_refused(void)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"collection\":\"r1\",\"shard_id\":1,\"from\":%llu,\"to\":%llu,\"sync\":false}",
             c3.peer_id[0], c3.peer_id[1]);
    struct resp r;
    TEST_ASSERT(emu_request(&c3.peer[0], "POST", "/debug/cluster/transfer", body, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    qbd_run_plan(&d, "r1", 180, &r);
    TEST_EXPECT_INT(r.status, 424);
    const char *error = json_path_str(r.json, "run.results.0.error");
    TEST_EXPECT(error && strstr(error, "rebalanced"));
    resp_free(&r);
    TEST_ASSERT(emu_request(&c3.peer[0], "DELETE", "/debug/cluster/transfers", NULL, &r) == 0);
    resp_free(&r);
}

static void test_clean_cut_stream_detected(void)
{
    TEST_ASSERT(make_plan("r1s", "r1", ",\"shard_method\":\"stream\""));
    struct resp r;
    qbd_run_plan(&d, "r1s", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    /* Every peer ends its streams early but cleanly, as Qdrant may. */
    for (int i = 0; i < c3.n; i++)
        TEST_ASSERT(emu_fault(&c3.peer[i], "{\"kind\":\"truncate\",\"after_bytes\":2048,"
                                           "\"clean\":true,\"count\":0,"
                                           "\"path_prefix\":\"/collections/r1/shards/\"}") == 0);
    qbd_run_plan(&d, "r1s", 180, &r);
    TEST_EXPECT_INT(r.status, 424);
    const char *error = json_path_str(r.json, "run.results.0.error");
    TEST_EXPECT(error && strstr(error, "truncated") && strstr(error, "shard"));
    resp_free(&r);
    for (int i = 0; i < c3.n; i++)
        TEST_EXPECT_INT(emu_clear_faults(&c3.peer[i]), 0);
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=r1s", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), 1);
    resp_free(&r);
}

static void test_failing_peer_shards_move(void)
{
    /* Peer 1 drops every shard download of r2 (replication 2): its shards
     * are taken from their other replicas. */
    TEST_ASSERT(emu_fault(&c3.peer[1], "{\"kind\":\"drop\",\"count\":0,\"method\":\"GET\","
                                       "\"path_prefix\":\"/collections/r2/shards/\"}") == 0);
    struct resp r;
    qbd_run_plan(&d, "r2", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    char bad[32];
    snprintf(bad, sizeof bad, "%llu", c3.peer_id[1]);
    const cJSON *s;
    cJSON_ArrayForEach(s, json_path(r.json, "results.0.shards"))
    {
        char *got = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(s, "peer_id"));
        TEST_EXPECT(strcmp(got, bad) != 0);
        free(got);
    }
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results.0.shards")), 6);
    resp_free(&r);
    TEST_EXPECT_INT(emu_clear_faults(&c3.peer[1]), 0);
    TEST_EXPECT_INT(emu_cluster_snapshot_files(&c3, "r2"), 0);
}

/* /readyz's entry for the default instance names peer `want`. */
static bool readyz_names_peer(void *ctx)
{
    const char *want = ctx;
    struct resp r;
    bool ok = false;
    if (qbd_request(&d, "GET", "/readyz", NULL, NULL, &r) == 0) {
        const char *detail = json_path_str(r.json, "instances.0.detail");
        ok = detail && strstr(detail, want) && strstr(detail, "does not answer");
    }
    resp_free(&r);
    return ok;
}

static bool topology_probed(void *ctx)
{
    (void)ctx;
    struct resp r;
    bool ok = qbd_request(&d, "GET", "/v1/instances/default", NULL, NULL, &r) == 0 &&
              cJSON_GetArraySize(json_path(r.json, "topology.peers")) == 3;
    resp_free(&r);
    return ok;
}

static void test_topology_shown(void)
{
    TEST_ASSERT(harness_wait_until(topology_probed, NULL, 10000));
    struct resp r;
    TEST_ASSERT(call("GET", "/v1/instances/default", NULL, 200, &r));
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "topology.cluster")));
    /* Peer ids are exact integers, whatever their size. */
    char want[32];
    snprintf(want, sizeof want, "%llu", c3.peer_id[1]);
    TEST_EXPECT(strstr(r.body, want) != NULL);
    int leaders = 0, reachable = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, json_path(r.json, "topology.peers"))
    {
        leaders += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "leader"));
        reachable += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "reachable"));
        TEST_EXPECT_STR(json_path_str(p, "version"), "1.19.0");
    }
    TEST_EXPECT_INT(leaders, 1);
    TEST_EXPECT_INT(reachable, 3);
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/status", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "instances.0.topology.peers")), 3);
    resp_free(&r);
}

static void test_down_peer_fails_only_unreplicated(void)
{
    TEST_ASSERT(emu_peer_kill(&c3, 2) == 0);
    char peer_name[48];
    snprintf(peer_name, sizeof peer_name, "peer %llu", c3.peer_id[2]);
    TEST_EXPECT(harness_wait_until(readyz_names_peer, peer_name, 15000));
    struct resp r;
    qbd_run_plan(&d, "r1", 180, &r);
    TEST_EXPECT_INT(r.status, 424);
    const char *error = json_path_str(r.json, "run.error");
    char want[64];
    snprintf(want, sizeof want, "peer %llu", c3.peer_id[2]);
    TEST_EXPECT(error && strstr(error, want) && strstr(error, "does not answer"));
    resp_free(&r);
    /* Replication 2: every shard also has an Active replica on peer 0 or
     * 1, so the backup is whole without peer 2 and takes nothing from it.
     * Before, any peer down failed every collection. */
    qbd_run_plan(&d, "r2", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results.0.shards")), 6);
    const char *warning = json_path_str(r.json, "results.0.warning");
    TEST_EXPECT(warning && strstr(warning, "did not answer") && strstr(warning, want));
    TEST_EXPECT(!emu_shards_name_peer(json_path(r.json, "results.0.shards"), c3.peer_id[2]));
    resp_free(&r);
    TEST_ASSERT(emu_peer_restart(&c3, 2) == 0);
}

static void test_nodes_list_checked(void)
{
    struct resp r;
    char body[512];
    /* Every peer listed: accepted, and the topology names them. */
    snprintf(body, sizeof body,
             "{\"name\":\"listed\",\"url\":\"%s\",\"nodes\":[\"%s\",\"%s\",\"%s\"]}",
             c3.peer[0].url, c3.peer[0].url, c3.peer[1].url, c3.peer[2].url);
    TEST_EXPECT(call("POST", "/v1/instances", body, 201, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "nodes")), 3);
    resp_free(&r);
    /* Twice the same URL: 400 naming the entry. */
    snprintf(body, sizeof body, "{\"name\":\"dup\",\"url\":\"%s\",\"nodes\":[\"%s\",\"%s/\"]}",
             c3.peer[0].url, c3.peer[0].url, c3.peer[0].url);
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/instances", body, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 400, "invalid_field");
    TEST_EXPECT(strstr(r.body, "nodes[1]") != NULL);
    resp_free(&r);
    /* A node of another cluster: 422 naming it. */
    snprintf(body, sizeof body, "{\"name\":\"mixed\",\"url\":\"%s\",\"nodes\":[\"%s\",\"%s\"]}",
             c3.peer[0].url, c3.peer[1].url, c2.peer[1].url);
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/instances", body, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 422);
    TEST_EXPECT(strstr(r.body, "nodes[1]") && strstr(r.body, "another cluster"));
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/instances/mixed", NULL, 404, &r));
    resp_free(&r);
}

static void test_corrupt_shard_named_in_restore(void)
{
    struct resp r;
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=r1&limit=1", NULL, 200, &r));
    double id = json_path_num(r.json, "items.0.id");
    char file[1024];
    snprintf(file, sizeof file, "%s/var/backups/%s", d.dir,
             json_path_str(r.json, "items.0.backup_set.shards.3.key"));
    resp_free(&r);
    /* Flip one byte in the middle of shard 3's object: same size. */
    FILE *f = fopen(file, "r+b");
    TEST_ASSERT(f != NULL);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size / 2, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(ch ^ 0xff, f);
    fclose(f);
    char body[128];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"r1-copy\"}", id);
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/restores?wait=180", body, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 424);
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "failed");
    const char *error = json_path_str(r.json, "run.error");
    TEST_EXPECT(error && strstr(error, "shard 3") && strstr(error, "incomplete"));
    const cJSON *s, *failed = NULL;
    int restored = 0;
    cJSON_ArrayForEach(s, json_path(r.json, "run.results.0.shards"))
    {
        const char *state = json_path_str(s, "state");
        if (state && !strcmp(state, "failed"))
            failed = s;
        restored += state && !strcmp(state, "restored");
    }
    TEST_EXPECT(failed && json_path_num(failed, "shard_id") == 3);
    TEST_EXPECT_INT(restored, 3);
    resp_free(&r);
    /* Put the byte back: the catalogued set is whole again. */
    f = fopen(file, "r+b");
    TEST_ASSERT(f != NULL);
    fseek(f, size / 2, SEEK_SET);
    fputc(ch, f);
    fclose(f);
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

static bool run_failed(void *ctx)
{
    long long id = *(long long *)ctx;
    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%lld", id);
    struct resp r;
    bool ok = qbd_request(&d, "GET", path, NULL, NULL, &r) == 0 && json_path_str(r.json, "state") &&
              strcmp(json_path_str(r.json, "state"), "failed") == 0;
    resp_free(&r);
    return ok;
}

static void test_kill9_mid_run_leaves_no_shard_snapshot(void)
{
    /* Slow shard downloads on every peer, so the kill lands mid-transfer. */
    for (int i = 0; i < c3.n; i++)
        TEST_ASSERT(emu_fault(&c3.peer[i], "{\"kind\":\"throttle\",\"bytes_per_sec\":2048,"
                                           "\"count\":0,\"method\":\"GET\","
                                           "\"path_prefix\":\"/collections/r2/shards/\"}") == 0);
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans/r2/runs", NULL, 202, &r));
    long long id = (long long)json_path_num(r.json, "id");
    resp_free(&r);
    TEST_ASSERT(harness_wait_until(run_moving, &id, 60000));
    TEST_ASSERT(qbd_kill(&d, SIGKILL) == 0);
    TEST_EXPECT(emu_cluster_snapshot_files(&c3, "r2") > 0); /* the crash left them */
    for (int i = 0; i < c3.n; i++)
        TEST_EXPECT_INT(emu_clear_faults(&c3.peer[i]), 0);
    TEST_ASSERT(qbd_restart(&d) == 0);
    TEST_EXPECT(harness_wait_until(run_failed, &id, 30000));
    TEST_EXPECT_INT(emu_cluster_snapshot_files(&c3, "r2"), 0);
}

int main(void)
{
    if (emu_cluster_start(&c3, 3, NULL) != 0 || emu_cluster_start(&c2, 2, NULL) != 0 ||
        emu_start(&single, NULL) != 0)
        return 1;
    const char *const args[] = {"--qdrant-url", c3.peer[0].url, NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_topology_shown);
    TEST_RUN(test_six_shards_replication_1);
    TEST_RUN(test_six_shards_replication_2_and_other_targets);
    TEST_RUN(test_custom_sharding_two_keys);
    TEST_RUN(test_full_instance_plan_with_aliases);
    TEST_RUN(test_dead_replica_skipped);
    TEST_RUN(test_no_active_replica_fails_naming_shard);
    TEST_RUN(test_transfer_in_progress_refused);
    TEST_RUN(test_clean_cut_stream_detected);
    TEST_RUN(test_failing_peer_shards_move);
    TEST_RUN(test_down_peer_fails_only_unreplicated);
    TEST_RUN(test_nodes_list_checked);
    TEST_RUN(test_corrupt_shard_named_in_restore);
    TEST_RUN(test_kill9_mid_run_leaves_no_shard_snapshot);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_cluster_stop(&c3), 0);
    TEST_EXPECT_INT(emu_cluster_stop(&c2), 0);
    TEST_EXPECT_INT(emu_stop(&single), 0);
    emu_cluster_cleanup(&c3);
    emu_cluster_cleanup(&c2);
    emu_cleanup(&single);
    return TEST_RESULT();
}
