/* SPDX-License-Identifier: Apache-2.0
 *
 * test_copies.c -- second copies (3-2-1) end to end with a local-folder
 * primary and a local-folder copy: the plan's "copies" refused when it
 * names the primary, an unknown destination or a bad retention; a backup
 * copied, with its manifest, and verified; the primary object deleted
 * behind qbackupd's back and the restore (upload and url) and download
 * served from the copy; a copy destination that is gone leaving the
 * primary catalogued and the copy failed, then made by the next run once
 * it is back; per-copy retention; deleting a snapshot deleting its copy;
 * and a rescan of the copy destination linking its objects as copies.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct emu prod;
static struct qbd d;
static char *original;      /* points of "products" as backed up */
static char primary[600];   /* the local destination's folder */
static char second[600];    /* the copy destination's folder */
static char second_off[64]; /* ... while it is "down" */

static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

static bool exists(const char *dir, const char *key, const char *suffix)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s%s", dir, key, suffix);
    return access(path, F_OK) == 0;
}

/* The snapshot's key: its location without the primary folder. */
static void snapshot_key(double id, char *key, size_t keylen)
{
    struct resp r;
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    key[0] = '\0';
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    const char *loc = json_path_str(r.json, "location");
    if (loc && strncmp(loc, primary, strlen(primary)) == 0)
        snprintf(key, keylen, "%s", loc + strlen(primary) + 1);
    resp_free(&r);
}

/* GET /v1/snapshots/{id}, for its "copies". */
static void get_snapshot(double id, struct resp *r)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("GET", path, NULL, 200, r));
}

static double run_plan(struct resp *r)
{
    bool ok = call("POST", "/v1/plans/p/runs?wait=120", NULL, 200, r);
    TEST_EXPECT(ok);
    TEST_EXPECT_STR(json_path_str(r->json, "state"), "succeeded");
    return json_path_num(r->json, "results.0.snapshot_id");
}

static void test_bad_copies_refused(void)
{
    static const struct {
        const char *copies;
        long status;
        const char *field;
    } cases[] = {
        {"[{\"destination\":\"local\"}]", 400, "copies[0].destination"},
        {"[{\"destination\":\"second\"},{\"destination\":\"second\"}]", 400,
         "copies[1].destination"},
        {"[{\"destination\":\"nowhere\"}]", 422, "copies[0].destination"},
        {"[{\"destination\":\"second\",\"retention\":{\"keep_last\":-1}}]", 400, NULL},
        {"[{\"destination\":\"second\",\"colour\":\"red\"}]", 400, NULL},
        {"{\"destination\":\"second\"}", 400, "copies"},
        {"[{\"destination\":true}]", 400, "copies[0].destination"},
        {"[{\"destination\":7}]", 400, "copies[0].destination"},
        {"[{\"destination\":\"second\"},{\"destination\":\"a\"},{\"destination\":\"b\"},"
         "{\"destination\":\"c\"},{\"destination\":\"d\"}]",
         400, "copies"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"name\":\"bad\",\"collections\":[\"products\"],\"copies\":%s}",
                 cases[i].copies);
        struct resp r;
        TEST_ASSERT(call("POST", "/v1/plans", body, cases[i].status, &r));
        TEST_EXPECT_STR(resp_header(&r, "Content-Type"), "application/problem+json");
        if (cases[i].field)
            TEST_EXPECT_STR(json_path_str(r.json, "field"), cases[i].field);
        resp_free(&r);
    }
    /* Nothing was created. */
    struct resp r;
    TEST_ASSERT(call("GET", "/v1/plans/bad", NULL, 404, &r));
    resp_free(&r);
}

static void test_copy_made_and_verified(void)
{
    struct resp r;
    const char *body =
        "{\"name\":\"p\",\"collections\":[\"products\"],\"retention\":{\"keep_last\":3},"
        "\"verify_mode\":\"full\",\"copies\":[{\"destination\":\"second\","
        "\"retention\":{\"keep_last\":1}}]}";
    TEST_ASSERT(call("POST", "/v1/plans", body, 201, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.destination"), "second");
    TEST_EXPECT_INT(json_path_num(r.json, "copies.0.retention.keep_last"), 1);
    resp_free(&r);

    double id = run_plan(&r);
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.copies.0.destination"), "second");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.copies.0.state"), "stored");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.copies.0.method"), "stream");
    resp_free(&r);
    get_snapshot(id, &r);
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.destination"), "second");
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    TEST_EXPECT(json_path_str(r.json, "copies.0.verified_at") != NULL);
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "copies.0.error")));
    resp_free(&r);
    char key[1024];
    snapshot_key(id, key, sizeof key);
    TEST_ASSERT(key[0] != '\0');
    TEST_EXPECT(exists(second, key, ""));
    TEST_EXPECT(exists(second, key, ".sha256"));
    TEST_EXPECT(exists(second, key, ".manifest.json"));
    /* A destination a plan copies to is in use, as a plan's own is. */
    TEST_ASSERT(call("DELETE", "/v1/destinations/second", NULL, 409, &r));
    resp_free(&r);
}

/* The seed's done-when: the primary is deleted, the restore succeeds from
 * the copy, by both methods, and the download is served from it. */
static void test_restore_falls_back_to_copy(void)
{
    struct resp r;
    double id = run_plan(&r);
    resp_free(&r);
    char key[1024], path[2048];
    snapshot_key(id, key, sizeof key);
    snprintf(path, sizeof path, "%s/%s", primary, key);
    TEST_ASSERT(unlink(path) == 0);

    char body[256];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"from_copy\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.source.destination"), "second");
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.source.copy")));
    const char *why = json_path_str(r.json, "results.0.source.primary_error");
    TEST_EXPECT(why && strstr(why, "missing") != NULL);
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "from_copy", original));

    snprintf(body, sizeof body,
             "{\"snapshot_id\":%.0f,\"target_collection\":\"from_copy_url\",\"method\":\"url\"}",
             id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.source.destination"), "second");
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "from_copy_url", original));

    char dl[64];
    snprintf(dl, sizeof dl, "/v1/snapshots/%.0f/download", id);
    TEST_ASSERT(call("GET", dl, NULL, 200, &r));
    size_t got = r.len;
    resp_free(&r);
    get_snapshot(id, &r);
    /* A compressed snapshot (the default) is served decoded: the archive. */
    TEST_EXPECT_INT((long long)got, (long long)json_path_num(r.json, "raw_size"));
    resp_free(&r);
}

/* A copy destination that is down: the backup succeeds, catalogued on
 * the primary, the copy failed and visible; the next run makes it. */
static void test_failed_copy_retried_next_run(void)
{
    struct resp r;
    char off[700];
    snprintf(off, sizeof off, "%s/%s", d.dir, second_off);
    TEST_ASSERT(rename(second, off) == 0);
    double id = run_plan(&r);
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.copies.0.state"), "failed");
    TEST_EXPECT(json_path_str(r.json, "results.0.copies.0.error") != NULL);
    resp_free(&r);
    get_snapshot(id, &r);
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "failed");
    TEST_EXPECT(json_path_str(r.json, "copies.0.error") != NULL);
    TEST_EXPECT_INT(json_path_num(r.json, "copies.0.attempts"), 1);
    resp_free(&r);
    /* An operator's alert sees it too. */
    TEST_ASSERT(qbd_request(&d, "GET", "/metrics", NULL, NULL, &r) == 0);
    TEST_EXPECT(strstr(r.body, "qbackup_snapshot_copies_unfinished{destination=\"second\","
                               "state=\"failed\"} 1\n") != NULL);
    TEST_EXPECT(strstr(r.body, "qbackup_snapshot_copies_unfinished{destination=\"second\","
                               "state=\"pending\"} 0\n") != NULL);
    resp_free(&r);

    TEST_ASSERT(rename(off, second) == 0);
    double next = run_plan(&r);
    resp_free(&r);
    TEST_EXPECT(next > id);
    TEST_ASSERT(qbd_request(&d, "GET", "/metrics", NULL, NULL, &r) == 0);
    TEST_EXPECT(strstr(r.body, "qbackup_snapshot_copies_unfinished{destination=\"second\","
                               "state=\"failed\"} 0\n") != NULL);
    resp_free(&r);
    get_snapshot(next, &r);
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    resp_free(&r);
    /* The retried copy was made (attempt 2), then pruned by the copy's
     * keep_last 1 after the newer one: its row is gone, its primary kept. */
    get_snapshot(id, &r);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "copies")), 0);
    resp_free(&r);
    TEST_EXPECT(qbd_log_contains(&d, "copy.stored") && qbd_log_contains(&d, "attempt=1"));
}

/* Per-copy retention: the copy keeps one, the primary three. */
static void test_retention_per_copy(void)
{
    struct resp r;
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=p&limit=100", NULL, 200, &r));
    int n = cJSON_GetArraySize(json_path(r.json, "items"));
    TEST_EXPECT_INT(n, 3);
    int with_copy = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, json_path(r.json, "items"))
    {
        struct resp g;
        double id = json_path_num(it, "id");
        get_snapshot(id, &g);
        int copies = cJSON_GetArraySize(json_path(g.json, "copies"));
        with_copy += copies;
        char key[1024];
        snapshot_key(id, key, sizeof key);
        TEST_EXPECT(exists(second, key, "") == (copies == 1));
        resp_free(&g);
    }
    resp_free(&r);
    TEST_EXPECT_INT(with_copy, 1);
}

/* Deleting a snapshot deletes its copy too. */
static void test_delete_removes_copy(void)
{
    struct resp r;
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=p&limit=1", NULL, 200, &r));
    double id = json_path_num(r.json, "items.0.id");
    resp_free(&r);
    char key[1024];
    snapshot_key(id, key, sizeof key);
    TEST_ASSERT(exists(second, key, ""));
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("DELETE", path, NULL, 204, &r));
    resp_free(&r);
    TEST_EXPECT(!exists(second, key, ""));
    TEST_EXPECT(!exists(second, key, ".manifest.json"));
    TEST_EXPECT(!exists(primary, key, ""));
}

/* A rescan of the copy destination links what it finds to the snapshots
 * catalogued on the primary: copies, never a second row. */
static void test_rescan_links_copies(void)
{
    struct resp r;
    double id = run_plan(&r);
    resp_free(&r);
    /* The catalogue forgets the copy: delete its row only (a copy row
     * lost with an old catalogue backup), by pruning nothing else. */
    TEST_ASSERT(call("GET", "/v1/snapshots?limit=100", NULL, 200, &r));
    int before = cJSON_GetArraySize(json_path(r.json, "items"));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/destinations/second/rescan", NULL, 200, &r));
    /* Every object there is a known copy already. */
    TEST_EXPECT_INT(json_path_num(r.json, "imported"), 0);
    TEST_EXPECT(json_path_num(r.json, "known") >= 1);
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/snapshots?limit=100", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), before);
    resp_free(&r);

    /* The catalogue is lost; both destinations survive.  Rescanning the
     * primary, then the copy, gives one row per snapshot with its copy. */
    TEST_ASSERT(qbd_lose_catalogue(&d) == 0);
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\":\"second\",\"kind\":\"local\",\"settings\":{\"path\":\"%s\"}}", second);
    TEST_ASSERT(call("POST", "/v1/destinations", body, 201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"p\",\"collections\":[\"products\"],"
                     "\"copies\":[{\"destination\":\"second\"}]}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/destinations/local/rescan", NULL, 200, &r));
    int primaries = (int)json_path_num(r.json, "imported");
    resp_free(&r);
    TEST_EXPECT(primaries >= 1);
    /* p's newest and c's two snapshots have copies there; c's plan is
     * gone (not re-created), and its copies are linked all the same. */
    TEST_ASSERT(call("POST", "/v1/destinations/second/rescan", NULL, 200, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "imported"), 3);
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/snapshots?limit=100", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), primaries);
    double newest = json_path_num(r.json, "items.0.id");
    resp_free(&r);
    get_snapshot(newest, &r);
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.destination"), "second");
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    resp_free(&r);
    (void)id;
}

/* Whether plan c's snapshot is catalogued and its copy being made; *id
 * (a double) receives the snapshot's id. */
static bool copying(void *ctx)
{
    struct resp r;
    bool yes = false;
    if (qbd_request(&d, "GET", "/v1/snapshots?plan=c&limit=1", NULL, NULL, &r) == 0 &&
        r.status == 200 && json_path(r.json, "items.0.id")) {
        *(double *)ctx = json_path_num(r.json, "items.0.id");
        resp_free(&r);
        char path[64];
        snprintf(path, sizeof path, "/v1/snapshots/%.0f", *(double *)ctx);
        if (qbd_request(&d, "GET", path, NULL, NULL, &r) == 0 && r.status == 200) {
            const char *state = json_path_str(r.json, "copies.0.state");
            yes = state && strcmp(state, "copying") == 0;
        }
    }
    resp_free(&r);
    return yes;
}

/* kill -9 in the middle of a copy: the snapshot stays catalogued on the
 * primary, nothing is under the copy's key, the copy row says copying,
 * and the next run makes it. */
static void test_kill9_during_copy(void)
{
    struct resp r;
    TEST_ASSERT(emu_create_collection(&prod, "big", 4) == 0 && emu_fill(&prod, "big", 1) == 0);
    /* Slow enough (a 1 MB object at 256 KiB/s) to be killed mid-copy. */
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"c\",\"collections\":[\"big\"],\"max_bytes_per_second\":262144,"
                     "\"copies\":[{\"destination\":\"second\"}]}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/c/runs", NULL, 202, &r));
    resp_free(&r);
    double id = 0;
    TEST_ASSERT(harness_wait_until(copying, &id, 60000));
    TEST_ASSERT(qbd_kill(&d, SIGKILL) == 0);
    TEST_ASSERT(qbd_restart(&d) == 0);
    char key[1024];
    snapshot_key(id, key, sizeof key);
    TEST_EXPECT(exists(primary, key, ""));
    TEST_EXPECT(!exists(second, key, "")); /* nothing half-written under the key */
    get_snapshot(id, &r);
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "copying");
    resp_free(&r);

    TEST_ASSERT(call("POST", "/v1/plans/c/runs?wait=120", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    resp_free(&r);
    get_snapshot(id, &r);
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    TEST_EXPECT_INT(json_path_num(r.json, "copies.0.attempts"), 2);
    resp_free(&r);
    TEST_EXPECT(exists(second, key, ""));
    TEST_EXPECT(exists(second, key, ".manifest.json"));
}

int main(void)
{
    if (emu_start(&prod, NULL) != 0)
        return 1;
    if (emu_create_collection(&prod, "products", 4) || emu_upsert(&prod, "products", 25, 1))
        return 1;
    original = emu_points(&prod, "products");
    const char *const args[] = {"--qdrant-url", prod.url, NULL};
    if (!original || qbd_start(&d, args, NULL) != 0)
        return 1;
    struct resp r;
    if (!call("GET", "/v1/destinations/local", NULL, 200, &r))
        return 1;
    snprintf(primary, sizeof primary, "%s", json_path_str(r.json, "settings.path"));
    resp_free(&r);
    snprintf(second, sizeof second, "%s/var/second", d.dir);
    snprintf(second_off, sizeof second_off, "var/second-off");
    if (mkdir(second, 0700) != 0)
        return 1;
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\":\"second\",\"kind\":\"local\",\"settings\":{\"path\":\"%s\"}}", second);
    if (!call("POST", "/v1/destinations", body, 201, &r))
        return 1;
    resp_free(&r);

    TEST_RUN(test_bad_copies_refused);
    TEST_RUN(test_copy_made_and_verified);
    TEST_RUN(test_restore_falls_back_to_copy);
    TEST_RUN(test_failed_copy_retried_next_run);
    TEST_RUN(test_retention_per_copy);
    TEST_RUN(test_delete_removes_copy);
    TEST_RUN(test_kill9_during_copy);
    TEST_RUN(test_rescan_links_copies);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&prod), 0);
    emu_cleanup(&prod);
    free(original);
    return TEST_RESULT();
}
