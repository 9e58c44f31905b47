/* SPDX-License-Identifier: Apache-2.0
 *
 * test_cluster_nodes.c -- a cluster registered with every peer's REST URL
 * in `nodes` (3 emulated peers), backed up with a peer down: a listed node
 * that does not answer stands for a peer that is down, as without nodes,
 * instead of failing the run.  A replicated collection is backed up whole
 * with a warning naming the peer and its URL; a collection with shards
 * only on that peer fails naming shard and peer while another of the same
 * run succeeds (partial); /readyz names the peer; the peer of the
 * instance URL itself down still leaves a replicated collection backed up
 * through the other nodes, whether or not it is listed among them.
 * Registering such a list with a node down is still refused (422).
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct emu_cluster c3;
static struct qbd d;

static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

/* A plan backing up collections (a JSON array's inside) of instance. */
static bool make_plan(const char *name, const char *instance, const char *collections)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"instance\":\"%s\",\"collections\":[%s]}", name,
             instance, collections);
    struct resp r;
    bool ok = call("POST", "/v1/plans", body, 201, &r);
    resp_free(&r);
    return ok;
}

/* The string at path in r holds a and (when not NULL) b. */
static bool mentions(const struct resp *r, const char *path, const char *a, const char *b)
{
    const char *s = json_path_str(r->json, path);
    return s && strstr(s, a) && (!b || strstr(s, b));
}

/* /readyz's entry for instance "listed" says peer 2 does not answer at
 * its node's URL (ctx: "peer <id>"), and shows the topology.  Before, the
 * whole topology failed ("topology: nodes[2] ..."). */
static bool readyz_names_peer(void *ctx)
{
    struct resp r;
    bool ok = false;
    if (qbd_request(&d, "GET", "/readyz", NULL, NULL, &r) == 0) {
        const cJSON *e;
        cJSON_ArrayForEach(e, json_path(r.json, "instances"))
        {
            const char *name = json_path_str(e, "name"), *detail = json_path_str(e, "detail");
            if (name && strcmp(name, "listed") == 0)
                ok = detail && strstr(detail, ctx) && strstr(detail, c3.peer[2].url) &&
                     strstr(detail, "does not answer") &&
                     cJSON_GetArraySize(json_path(e, "topology.peers")) == 3;
        }
    }
    resp_free(&r);
    return ok;
}

static void test_setup(void)
{
    struct resp r;
    char body[512];
    snprintf(body, sizeof body,
             "{\"name\":\"listed\",\"url\":\"%s\",\"nodes\":[\"%s\",\"%s\",\"%s\"]}",
             c3.peer[0].url, c3.peer[0].url, c3.peer[1].url, c3.peer[2].url);
    TEST_ASSERT(call("POST", "/v1/instances", body, 201, &r));
    resp_free(&r);
    TEST_ASSERT(emu_cluster_create_collection(&c3, "rep2", 4, 6, 2) == 0);
    TEST_ASSERT(emu_upsert_range(&c3.peer[0], "rep2", 1, 300, 3, NULL) == 0);
    TEST_ASSERT(emu_cluster_create_collection(&c3, "rep1", 4, 6, 1) == 0);
    TEST_ASSERT(emu_upsert_range(&c3.peer[0], "rep1", 1, 300, 4, NULL) == 0);
    TEST_ASSERT(make_plan("rep2", "listed", "\"rep2\""));
    TEST_ASSERT(make_plan("both", "listed", "\"rep2\",\"rep1\""));
    /* The instance URL need not be among the nodes: it is one either way. */
    snprintf(body, sizeof body, "{\"name\":\"others\",\"url\":\"%s\",\"nodes\":[\"%s\",\"%s\"]}",
             c3.peer[0].url, c3.peer[1].url, c3.peer[2].url);
    TEST_ASSERT(call("POST", "/v1/instances", body, 201, &r));
    resp_free(&r);
    TEST_ASSERT(make_plan("others", "others", "\"rep2\""));
}

/* Peer 2 down (connection refused), listed as nodes[2]: before, the run
 * failed as a whole ("nodes[2] (...) does not answer as a Qdrant peer"),
 * with no result. */
static void test_listed_peer_down(void)
{
    TEST_ASSERT(emu_peer_kill(&c3, 2) == 0);
    char peer[48];
    snprintf(peer, sizeof peer, "peer %llu", c3.peer_id[2]);
    TEST_EXPECT(harness_wait_until(readyz_names_peer, peer, 15000));
    struct resp r;
    qbd_run_plan(&d, "rep2", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results.0.shards")), 6);
    TEST_EXPECT(mentions(&r, "results.0.warning", peer, c3.peer[2].url));
    TEST_EXPECT(mentions(&r, "results.0.warning", "did not answer", NULL));
    resp_free(&r);
    /* rf 1: some shards live only on peer 2, so rep1 fails naming a shard
     * and the peer (and the node's URL); rep2 of the same run carries on. */
    qbd_run_plan(&d, "both", 180, &r);
    TEST_EXPECT_INT(r.status, 424);
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "partial");
    TEST_EXPECT_STR(json_path_str(r.json, "run.results.0.collection"), "rep2");
    TEST_EXPECT_STR(json_path_str(r.json, "run.results.0.state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "run.results.1.collection"), "rep1");
    TEST_EXPECT_STR(json_path_str(r.json, "run.results.1.state"), "failed");
    TEST_EXPECT(mentions(&r, "run.results.1.error", "shard ", peer));
    TEST_EXPECT(mentions(&r, "run.results.1.error", c3.peer[2].url, "does not answer"));
    resp_free(&r);
    TEST_ASSERT(emu_peer_restart(&c3, 2) == 0);
}

/* The instance URL's peer down (it is nodes[0] too): before, the run
 * failed at once ("GET http://.../: Failed to connect"). */
static void test_instance_url_peer_down(void)
{
    TEST_ASSERT(emu_peer_kill(&c3, 0) == 0);
    char peer[48];
    snprintf(peer, sizeof peer, "peer %llu", c3.peer_id[0]);
    struct resp r;
    qbd_run_plan(&d, "rep2", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results.0.shards")), 6);
    TEST_EXPECT(mentions(&r, "results.0.warning", peer, c3.peer[0].url));
    resp_free(&r);
    /* Not listed in nodes, the instance URL still stands for its peer. */
    qbd_run_plan(&d, "others", 180, &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results.0.shards")), 6);
    TEST_EXPECT(mentions(&r, "results.0.warning", peer, c3.peer[0].url));
    resp_free(&r);
    TEST_ASSERT(emu_peer_restart(&c3, 0) == 0);
}

/* Registration keeps its strictness: a node that does not answer may be
 * a typo, and is not stored. */
static void test_register_with_node_down(void)
{
    TEST_ASSERT(emu_peer_kill(&c3, 1) == 0);
    struct resp r;
    char body[512];
    snprintf(body, sizeof body,
             "{\"name\":\"down\",\"url\":\"%s\",\"nodes\":[\"%s\",\"%s\",\"%s\"]}", c3.peer[0].url,
             c3.peer[0].url, c3.peer[1].url, c3.peer[2].url);
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/instances", body, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 422);
    TEST_EXPECT(strstr(r.body, "nodes[1]") && strstr(r.body, "does not answer"));
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/instances/down", NULL, 404, &r));
    resp_free(&r);
    TEST_ASSERT(emu_peer_restart(&c3, 1) == 0);
}

int main(void)
{
    if (emu_cluster_start(&c3, 3, NULL) != 0)
        return 1;
    const char *const args[] = {"--qdrant-url", c3.peer[0].url, NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_setup);
    TEST_RUN(test_listed_peer_down);
    TEST_RUN(test_instance_url_peer_down);
    TEST_RUN(test_register_with_node_down);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_cluster_stop(&c3), 0);
    emu_cluster_cleanup(&c3);
    return TEST_RESULT();
}
