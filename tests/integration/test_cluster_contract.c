/* SPDX-License-Identifier: Apache-2.0
 *
 * test_cluster_contract.c -- cluster behaviour the Qdrant contract allows
 * (shared/reference/qdrant/CONTRACT.md) beyond the emulator's usual
 * habits, on a 3-peer emulated cluster: a set restored with priority
 * no_sync gives every replica the data (§4: no_sync leaves the other
 * replicas alone, empty yet Active), priority replica is refused for a set
 * (the recreated collection's empty replicas would win), a peer that does
 * not know the collection (404) while the others hold every shard Active,
 * and a replica that only another peer's remote_shards calls Active is not
 * taken from (§7: a node listing it Active in its own local_shards); and
 * a u64 shard key (SPEC ShardKey) restored as a number; and a single
 * node's collection snapshot restored whole into the cluster;
 * and an instance whose key is a JWT probed with a Bearer token (§8); and
 * a key that may not read GET /cluster: fine on one node, refused where
 * shards live on other peers; and a single node's snapshot refused into
 * the cluster with priority no_sync or replica (which would not restore it);
 * and peers on one host with REST ports of their own: a guessed REST URL
 * that answers as another peer is named, and nodes fix it.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct emu_cluster c3;
static struct emu single;
static struct qbd d;

static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

/* A plan backing up collection of instance (NULL: the plan's default). */
static bool make_plan(const char *name, const char *collection, const char *instance)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\",%s%s%s\"collections\":[\"%s\"]}", name,
             instance ? "\"instance\":\"" : "", instance ? instance : "", instance ? "\"," : "",
             collection);
    struct resp r;
    bool ok = call("POST", "/v1/plans", body, 201, &r);
    resp_free(&r);
    return ok;
}

/* Registers instance name at url. */
static bool add_instance(const char *name, const char *url)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"url\":\"%s\"}", name, url);
    struct resp r;
    bool ok = call("POST", "/v1/instances", body, 201, &r);
    resp_free(&r);
    return ok;
}

/* Every local replica of coll on every peer: shard id and points count;
 * returns how many (at most max). */
static int local_counts(const char *coll, int *shard, double *points, int max)
{
    int n = 0;
    char path[128];
    snprintf(path, sizeof path, "/collections/%s/cluster", coll);
    for (int p = 0; p < c3.n; p++) {
        struct resp r;
        if (emu_request(&c3.peer[p], "GET", path, NULL, &r) != 0)
            return -1;
        const cJSON *s;
        cJSON_ArrayForEach(s, json_path(r.json, "result.local_shards"))
        {
            if (n < max) {
                shard[n] = (int)json_path_num(s, "shard_id");
                points[n++] = json_path_num(s, "points_count");
            }
        }
        resp_free(&r);
    }
    return n;
}

static void test_set_restore_no_sync_fills_every_replica(void)
{
    TEST_ASSERT(emu_cluster_create_collection(&c3, "ns", 4, 3, 2) == 0);
    TEST_ASSERT(emu_upsert_range(&c3.peer[0], "ns", 1, 240, 5, NULL) == 0);
    TEST_ASSERT(make_plan("ns", "ns", NULL));
    struct resp r;
    qbd_run_plan(&d, "ns", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    double id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    TEST_ASSERT(emu_request(&c3.peer[1], "DELETE", "/collections/ns", NULL, &r) == 0);
    resp_free(&r);

    char body[160];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"priority\":\"no_sync\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=180", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    resp_free(&r);
    /* Both replicas of every shard hold the shard's points: with no_sync
     * Qdrant does not heal the other replica from the recovered one. */
    int shard[16];
    double points[16];
    int n = local_counts("ns", shard, points, 16);
    TEST_EXPECT_INT(n, 6);
    double total = 0;
    for (int i = 0; i < n; i++) {
        TEST_EXPECT(points[i] > 0);
        for (int j = 0; j < n; j++)
            if (shard[i] == shard[j] && points[i] != points[j]) {
                fprintf(stderr, "shard %d: replicas hold %.0f and %.0f points\n", shard[i],
                        points[i], points[j]);
                TEST_EXPECT(false);
            }
        total += points[i];
    }
    TEST_EXPECT(total == 480.0); /* 240 points, two replicas each */
}

static void test_set_restore_priority_replica_refused(void)
{
    struct resp r;
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=ns", NULL, 200, &r));
    double id = json_path_num(r.json, "items.0.id");
    resp_free(&r);
    TEST_ASSERT(emu_clear_requests(&c3.peer[0]) == 0);
    char body[200];
    snprintf(body, sizeof body,
             "{\"snapshot_id\":%.0f,\"priority\":\"replica\",\"target_collection\":\"ns2\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=60", body, 400, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "field"), "priority");
    resp_free(&r);
    TEST_EXPECT_INT(emu_changes(&c3.peer[0]), 0);
}

static void test_peer_without_the_collection(void)
{
    /* Peer 2 answers 404 for the collection's cluster view (it does not
     * know it yet); peers 0 and 1 hold every shard Active (replication 3
     * gives every peer every shard, so nothing is missing). */
    TEST_ASSERT(emu_cluster_create_collection(&c3, "lag", 4, 2, 3) == 0);
    TEST_ASSERT(emu_upsert_range(&c3.peer[0], "lag", 1, 100, 6, NULL) == 0);
    TEST_ASSERT(emu_fault(&c3.peer[2], "{\"kind\":\"fail\",\"status\":404,\"count\":0,"
                                       "\"path_prefix\":\"/collections/lag/cluster\","
                                       "\"message\":\"Not found: Collection `lag` doesn't "
                                       "exist!\"}") == 0);
    TEST_ASSERT(make_plan("lag", "lag", NULL));
    struct resp r;
    qbd_run_plan(&d, "lag", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results.0.shards")), 2);
    TEST_EXPECT(!emu_shards_name_peer(json_path(r.json, "results.0.shards"), c3.peer_id[2]));
    resp_free(&r);
    TEST_ASSERT(emu_clear_faults(&c3.peer[2]) == 0);
}

static void test_collection_unknown_everywhere_is_not_found(void)
{
    /* Every peer 404: the collection is gone, and the run says so. */
    for (int p = 0; p < c3.n; p++)
        TEST_ASSERT(emu_fault(&c3.peer[p], "{\"kind\":\"fail\",\"status\":404,\"count\":0,"
                                           "\"path_prefix\":\"/collections/lag/cluster\","
                                           "\"message\":\"Not found: Collection `lag` "
                                           "doesn't exist!\"}") == 0);
    struct resp r;
    qbd_run_plan(&d, "lag", 180, &r);
    TEST_EXPECT_INT(r.status, 424);
    const char *error = json_path_str(r.json, "run.results.0.error");
    TEST_EXPECT(error && strstr(error, "404"));
    resp_free(&r);
    for (int p = 0; p < c3.n; p++)
        TEST_ASSERT(emu_clear_faults(&c3.peer[p]) == 0);
}

/* A u64 shard key of 16 digits (exact in the emulator's doubles, too long
 * for qbackupd's exact-integer parsing to keep as a double) comes back a
 * number, not the string of its digits: a string key would refuse every
 * write that names the key as a number. */
static void test_numeric_shard_key_stays_number(void)
{
    struct resp r;
    TEST_ASSERT(emu_request(&c3.peer[0], "PUT", "/collections/nk",
                            "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                            "\"sharding_method\":\"custom\",\"shard_number\":1}",
                            &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    TEST_ASSERT(emu_request(&c3.peer[0], "PUT", "/collections/nk/shards",
                            "{\"shard_key\":1234567890123456}", &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    static const char points[] =
        "{\"shard_key\":1234567890123456,\"points\":[{\"id\":1,\"vector\":[0.1,0.2,0.3,0.4]},"
        "{\"id\":2,\"vector\":[0.4,0.3,0.2,0.1]}]}";
    TEST_ASSERT(emu_request(&c3.peer[0], "PUT", "/collections/nk/points?wait=true", points, &r) ==
                0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    TEST_ASSERT(emu_cluster_wait_active(&c3, "nk", 10000) == 0);
    TEST_ASSERT(make_plan("nk", "nk", NULL));
    qbd_run_plan(&d, "nk", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    double id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT(strstr(r.body, "\"shard_key\":1234567890123456") != NULL);
    resp_free(&r);

    TEST_ASSERT(emu_request(&c3.peer[1], "DELETE", "/collections/nk", NULL, &r) == 0);
    resp_free(&r);
    char body[64];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=180", body, 200, &r));
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
    resp_free(&r);
    TEST_ASSERT(emu_request(&c3.peer[2], "GET", "/collections/nk/cluster", NULL, &r) == 0);
    TEST_EXPECT(strstr(r.body, "\"shard_key\":1234567890123456") != NULL);
    TEST_EXPECT(strstr(r.body, "\"shard_key\":\"1234567890123456\"") == NULL);
    resp_free(&r);
    TEST_ASSERT(emu_request(&c3.peer[0], "PUT", "/collections/nk/points?wait=true", points, &r) ==
                0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
}

/* A single node's collection snapshot (every shard's data in one archive)
 * restored into the cluster: route 6 on one peer makes it hold every shard
 * of the archive and the others heal from it (CONTRACT §4, §7), so every
 * point is back, whichever peer is asked. */
static void test_single_node_snapshot_into_cluster(void)
{
    TEST_ASSERT(emu_create_collection(&single, "solo", 4) == 0);
    TEST_ASSERT(emu_upsert(&single, "solo", 50, 9) == 0);
    char *want = emu_points(&single, "solo");
    TEST_ASSERT(want != NULL);
    TEST_ASSERT(add_instance("one", single.url));
    TEST_ASSERT(make_plan("solo", "solo", "one"));
    struct resp r;
    char body[256];
    qbd_run_plan(&d, "solo", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    double id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_instance\":\"default\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=180", body, 200, &r));
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
    resp_free(&r);
    TEST_ASSERT(emu_cluster_wait_active(&c3, "solo", 30000) == 0);
    for (int p = 0; p < c3.n; p++)
        TEST_EXPECT(emu_points_equal(&c3.peer[p], "solo", want));
    free(want);
}

/* Stand-in scenario zj: a single-node snapshot of three shards restored
 * into the 3-peer cluster, as a new collection and then with overwrite
 * over it (deleted and recreated, so placed anew).  Qdrant recovers an
 * archive only into the shards of the peer it is sent to; the others are
 * recovered on the peers hosting them, and every point is back.  Before,
 * the run reported success with the shards of the other peers empty. */
static void test_single_node_snapshot_every_shard_into_cluster(void)
{
    struct resp r;
    TEST_ASSERT(emu_request(&single, "PUT", "/collections/spread",
                            "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                            "\"shard_number\":3}",
                            &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    TEST_ASSERT(emu_upsert(&single, "spread", 90, 12) == 0);
    char *want = emu_points(&single, "spread");
    TEST_ASSERT(want != NULL);
    TEST_ASSERT(make_plan("spread", "spread", "one"));
    qbd_run_plan(&d, "spread", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    double id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    char body[200];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_instance\":\"default\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=180", body, 200, &r));
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
    TEST_EXPECT(cJSON_GetArraySize(json_path(r.json, "results.0.recovered_on")) >= 2);
    resp_free(&r);
    for (int p = 0; p < c3.n; p++)
        TEST_EXPECT(emu_points_equal(&c3.peer[p], "spread", want));

    TEST_ASSERT(emu_upsert(&c3.peer[1], "spread", 7, 13) == 0); /* the live data moved on */
    char *live = emu_points(&c3.peer[0], "spread");
    TEST_ASSERT(live != NULL);
    snprintf(body, sizeof body,
             "{\"snapshot_id\":%.0f,\"target_instance\":\"default\",\"overwrite\":true}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=180", body, 200, &r));
    double safety = json_path_num(r.json, "results.0.safety_snapshot_id");
    TEST_EXPECT(safety > 0);
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
    resp_free(&r);
    TEST_ASSERT(emu_cluster_wait_active(&c3, "spread", 30000) == 0);
    for (int p = 0; p < c3.n; p++)
        TEST_EXPECT(emu_points_equal(&c3.peer[p], "spread", want));
    /* The overwrite deleted the whole collection: its safety copy holds
     * every shard (a set), not only those of the instance URL's peer. */
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", safety);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "layout"), "shards");
    resp_free(&r);
    snprintf(body, sizeof body,
             "{\"snapshot_id\":%.0f,\"target_instance\":\"default\","
             "\"target_collection\":\"spread_undo\"}",
             safety);
    TEST_ASSERT(call("POST", "/v1/restores?wait=180", body, 200, &r));
    resp_free(&r);
    TEST_ASSERT(emu_cluster_wait_active(&c3, "spread_undo", 30000) == 0);
    TEST_EXPECT(emu_points_equal(&c3.peer[0], "spread_undo", live));
    free(live);
    free(want);
}

/* /readyz lists instance ctx as reachable. */
static bool instance_reachable(void *ctx)
{
    struct resp r;
    bool ok = false;
    if (qbd_request(&d, "GET", "/readyz", NULL, NULL, &r) == 0) {
        const cJSON *i;
        cJSON_ArrayForEach(i, json_path(r.json, "instances"))
        {
            const char *name = json_path_str(i, "name");
            if (name && strcmp(name, ctx) == 0 && cJSON_IsTrue(json_path(i, "reachable")))
                ok = true;
        }
    }
    resp_free(&r);
    return ok;
}

/* An instance whose key is a JWT is probed with it as a Bearer token too
 * (CONTRACT section 8), like every other call: the prober built its own
 * api-key header, so a Qdrant that reads JWTs from Authorization only
 * would have shown the instance unreachable. */
static void test_jwt_key_probed_as_bearer(void)
{
    static const char jwt[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2Nlc3MiOiJtIn0."
                              "c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";
    struct emu q;
    const char *const args[] = {"--api-key", jwt, NULL};
    TEST_ASSERT(emu_start(&q, args) == 0);
    char body[512];
    snprintf(body, sizeof body, "{\"name\":\"jwtq\",\"url\":\"%s\",\"api_key\":\"%s\"}", q.url,
             jwt);
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/instances", body, 201, &r));
    resp_free(&r);
    char name[] = "jwtq";
    TEST_EXPECT(harness_wait_until(instance_reachable, name, 20000));
    cJSON *reqs = emu_requests(&q);
    const cJSON *e;
    int root = 0;
    cJSON_ArrayForEach(e, reqs)
    {
        const char *path = json_path_str(e, "path");
        if (path && strcmp(path, "/") == 0)
            root++;
        TEST_EXPECT_STR(json_path_str(e, "auth"), "bearer");
    }
    TEST_EXPECT(root >= 1);
    cJSON_Delete(reqs);
    TEST_ASSERT(call("DELETE", "/v1/instances/jwtq", NULL, 204, &r));
    resp_free(&r);
    TEST_EXPECT_INT(emu_stop(&q), 0);
    emu_cleanup(&q);
}

/* A key that may not read GET /cluster (403: a JWT scoped to collections,
 * CONTRACT section 8), or a server without that route (404), on a single
 * node: every shard is local (GET /collections/{c}/cluster), so the
 * collection is backed up whole.  Before, the run failed on the 403. */
static void test_cluster_hidden_on_single_node(void)
{
    TEST_ASSERT(emu_create_collection(&single, "hid", 4) == 0);
    TEST_ASSERT(emu_upsert(&single, "hid", 40, 3) == 0);
    TEST_ASSERT(add_instance("hid", single.url));
    TEST_ASSERT(make_plan("hid", "hid", "hid"));
    struct resp r;
    static const char *const faults[] = {
        "{\"kind\":\"fail\",\"method\":\"GET\",\"path_prefix\":\"/cluster\",\"status\":403,"
        "\"count\":0,\"message\":\"Forbidden: Global access is required\"}",
        "{\"kind\":\"fail\",\"method\":\"GET\",\"path_prefix\":\"/cluster\",\"status\":404,"
        "\"count\":0,\"message\":\"Not found\"}",
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(faults); i++) {
        TEST_ASSERT(emu_fault(&single, faults[i]) == 0);
        qbd_run_plan(&d, "hid", 180, &r);
        TEST_EXPECT_INT(r.status, 200);
        TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
        TEST_EXPECT(json_path_num(r.json, "results.0.snapshot_id") > 0);
        resp_free(&r);
        TEST_ASSERT(emu_clear_faults(&single) == 0);
    }
}

/* The same refusal on a cluster whose shards live on three peers: one
 * peer's snapshot would miss two thirds of the collection, so the run
 * fails, says what access is missing, and catalogues nothing. */
static void test_cluster_hidden_on_cluster_refused(void)
{
    TEST_ASSERT(emu_cluster_create_collection(&c3, "hc", 4, 3, 1) == 0);
    TEST_ASSERT(emu_upsert_range(&c3.peer[0], "hc", 1, 90, 4, NULL) == 0);
    TEST_ASSERT(make_plan("hc", "hc", NULL));
    TEST_ASSERT(emu_fault(&c3.peer[0], "{\"kind\":\"fail\",\"method\":\"GET\",\"path_prefix\":"
                                       "\"/cluster\",\"status\":403,\"count\":0,\"message\":"
                                       "\"Forbidden: Global access is required\"}") == 0);
    struct resp r;
    qbd_run_plan(&d, "hc", 180, &r);
    TEST_EXPECT_INT(r.status, 424);
    const char *error = json_path_str(r.json, "run.results.0.error");
    TEST_EXPECT(error && strstr(error, "global read access") && strstr(error, "other peers"));
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=hc", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), 0);
    resp_free(&r);
    TEST_ASSERT(emu_clear_faults(&c3.peer[0]) == 0);
}

/* Restoring that kind of snapshot into the cluster with priority no_sync
 * (the other replicas stay as they are: empty and Active) or replica (they
 * win over the snapshot) would not give the collection back: refused,
 * nothing changed. */
static void test_single_node_snapshot_priority_refused_on_cluster(void)
{
    struct resp r;
    TEST_ASSERT(emu_request(&single, "PUT", "/collections/solo3",
                            "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                            "\"shard_number\":3}",
                            &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    TEST_ASSERT(emu_upsert(&single, "solo3", 60, 4) == 0);
    TEST_ASSERT(make_plan("solo3", "solo3", "one"));
    qbd_run_plan(&d, "solo3", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    double id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    static const char *const prio[] = {"no_sync", "replica"};
    for (size_t i = 0; i < 2; i++) {
        for (int p = 0; p < c3.n; p++)
            TEST_ASSERT(emu_clear_requests(&c3.peer[p]) == 0);
        char body[200];
        snprintf(body, sizeof body,
                 "{\"snapshot_id\":%.0f,\"target_instance\":\"default\",\"priority\":\"%s\"}", id,
                 prio[i]);
        TEST_ASSERT(qbd_request(&d, "POST", "/v1/restores?wait=120", body, NULL, &r) == 0);
        TEST_EXPECT_INT(r.status, 424);
        const char *error = json_path_str(r.json, "run.error");
        TEST_EXPECT(error && strstr(error, prio[i]) && strstr(error, "cluster of 3 peers") &&
                    strstr(error, "Nothing was changed"));
        resp_free(&r);
        for (int p = 0; p < c3.n; p++)
            TEST_EXPECT_INT(emu_changes(&c3.peer[p]), 0);
    }
    /* The default priority restores it whole. */
    char *want = emu_points(&single, "solo3");
    TEST_ASSERT(want != NULL);
    char body[160];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_instance\":\"default\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=180", body, 200, &r));
    resp_free(&r);
    TEST_ASSERT(emu_cluster_wait_active(&c3, "solo3", 30000) == 0);
    for (int p = 0; p < c3.n; p++)
        TEST_EXPECT(emu_points_equal(&c3.peer[p], "solo3", want));
    free(want);
}

/* Peers on one host, each with a REST port of its own (stand-ins on one
 * machine): the REST URL guessed from a p2p URI leads to peer 0.  Without
 * nodes, the run fails naming the guess and what to do, instead of asking
 * peer 0 for shards it does not hold; with every peer listed in nodes the
 * same plan backs up every shard. */
static void test_one_host_peers_need_nodes(void)
{
    struct emu_cluster oh;
    TEST_ASSERT(emu_cluster_start_one_host(&oh, 3, NULL) == 0);
    TEST_ASSERT(emu_cluster_create_collection(&oh, "oh", 4, 3, 1) == 0);
    TEST_ASSERT(emu_upsert_range(&oh.peer[0], "oh", 1, 90, 8, NULL) == 0);
    TEST_ASSERT(add_instance("onehost", oh.peer[0].url));
    TEST_ASSERT(make_plan("oh", "oh", "onehost"));
    struct resp r;
    char body[512];
    qbd_run_plan(&d, "oh", 180, &r);
    TEST_EXPECT_INT(r.status, 424);
    const char *error = json_path_str(r.json, "run.results.0.error");
    TEST_EXPECT(error && strstr(error, "answers as peer") && strstr(error, "nodes"));
    resp_free(&r);
    snprintf(body, sizeof body, "{\"url\":\"%s\",\"nodes\":[\"%s\",\"%s\",\"%s\"]}", oh.peer[0].url,
             oh.peer[0].url, oh.peer[1].url, oh.peer[2].url);
    TEST_ASSERT(call("PUT", "/v1/instances/onehost", body, 200, &r));
    resp_free(&r);
    qbd_run_plan(&d, "oh", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results.0.shards")), 3);
    resp_free(&r);
    TEST_EXPECT_INT(emu_cluster_stop(&oh), 0);
    emu_cluster_cleanup(&oh);
}

/* Peers on one host that show their REST address as their p2p URI (a
 * stand-in without a p2p port): the first guess (host + the instance
 * URL's port) leads to peer 0, the URI itself leads to each peer, which
 * says so; without nodes the plan backs up every shard. */
static void test_one_host_peers_at_their_uri(void)
{
    struct emu_cluster oh;
    const char *const args[] = {"--p2p-port", "0", NULL};
    TEST_ASSERT(emu_cluster_start_one_host(&oh, 3, args) == 0);
    TEST_ASSERT(emu_cluster_create_collection(&oh, "ohu", 4, 3, 1) == 0);
    TEST_ASSERT(emu_upsert_range(&oh.peer[0], "ohu", 1, 90, 8, NULL) == 0);
    TEST_ASSERT(add_instance("onehosturi", oh.peer[0].url));
    TEST_ASSERT(make_plan("ohu", "ohu", "onehosturi"));
    struct resp r;
    qbd_run_plan(&d, "ohu", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results.0.shards")), 3);
    resp_free(&r);
    TEST_EXPECT_INT(emu_cluster_stop(&oh), 0);
    emu_cluster_cleanup(&oh);
}

int main(void)
{
    if (emu_cluster_start(&c3, 3, NULL) != 0 || emu_start(&single, NULL) != 0)
        return 1;
    const char *const args[] = {"--qdrant-url", c3.peer[0].url, NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_set_restore_no_sync_fills_every_replica);
    TEST_RUN(test_set_restore_priority_replica_refused);
    TEST_RUN(test_peer_without_the_collection);
    TEST_RUN(test_collection_unknown_everywhere_is_not_found);
    TEST_RUN(test_numeric_shard_key_stays_number);
    TEST_RUN(test_single_node_snapshot_into_cluster);
    TEST_RUN(test_single_node_snapshot_every_shard_into_cluster);
    TEST_RUN(test_jwt_key_probed_as_bearer);
    TEST_RUN(test_cluster_hidden_on_single_node);
    TEST_RUN(test_cluster_hidden_on_cluster_refused);
    TEST_RUN(test_single_node_snapshot_priority_refused_on_cluster);
    TEST_RUN(test_one_host_peers_need_nodes);
    TEST_RUN(test_one_host_peers_at_their_uri);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_cluster_stop(&c3), 0);
    TEST_EXPECT_INT(emu_stop(&single), 0);
    emu_cluster_cleanup(&c3);
    emu_cleanup(&single);
    return TEST_RESULT();
}
