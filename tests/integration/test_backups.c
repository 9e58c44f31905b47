/* SPDX-License-Identifier: Apache-2.0
 *
 * test_backups.c -- the backup pipeline end to end: the real qbackupd
 * against the Qdrant emulator, storing into its local-folder destination.
 * On-demand runs with ?wait, idempotent retriggers, multi-collection, "*"
 * and full-instance plans, catalogue rows matching the stored objects,
 * Qdrant's snapshot deleted afterwards, a checksum mismatch keeping
 * nothing, retention (pinned and newest-verified kept), cancellation and
 * kill -9 mid-transfer cleaning up, staleness in /v1/status and /metrics,
 * the API answering during a transfer, and a scheduled run firing.
 */
#include "unit.h"
#include "emu_harness.h"
#include "harness.h"
#include "common.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

static struct emu e;
static struct qbd d;

/* ---------------------------------------------------------------- helpers */

static int post(const char *path, const char *body, const char *const *headers, struct resp *r)
{
    return qbd_request(&d, "POST", path, body, headers, r);
}

static bool create_plan(const char *json)
{
    struct resp r;
    bool ok = post("/v1/plans", json, NULL, &r) == 0 && r.status == 201;
    if (!ok)
        fprintf(stderr, "plan creation failed: %ld %s\n", r.status, r.body);
    resp_free(&r);
    return ok;
}

/* POST /v1/plans/{plan}/runs?wait=120; r holds the answer. */
static void run_and_wait(const char *plan, struct resp *r)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/plans/%s/runs?wait=120", plan);
    if (post(path, NULL, NULL, r) != 0)
        r->status = -1;
}

static bool sha256_file(const char *path, char hex[65], long long *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    unsigned char buf[65536], md[32];
    size_t n;
    *size = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        EVP_DigestUpdate(ctx, buf, n);
        *size += (long long)n;
    }
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    fclose(f);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return true;
}

/* Files under the backups folder of plan (recursively), counting temp files
 * separately. */
static void count_files(const char *dir, int *files, int *temps)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *ent;
    while ((ent = readdir(dp))) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            count_files(path, files, temps);
        } else if (strncmp(ent->d_name, ".qb-tmp.", 8) == 0) {
            (*temps)++;
        } else {
            (*files)++;
        }
    }
    closedir(dp);
}

static void plan_files(const char *plan, int *files, int *temps)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/var/backups/%s", d.dir, plan);
    *files = *temps = 0;
    count_files(dir, files, temps);
}

static int catalogued(const char *plan)
{
    struct resp r;
    char path[128];
    snprintf(path, sizeof path, "/v1/snapshots?plan=%s&limit=1000", plan);
    int n = -1;
    if (qbd_request(&d, "GET", path, NULL, NULL, &r) == 0 && r.status == 200)
        n = cJSON_GetArraySize(json_path(r.json, "items"));
    resp_free(&r);
    return n;
}

/* Snapshots the emulator still holds for a collection (NULL: full). */
static int emu_snapshots(const char *collection)
{
    struct resp r;
    char path[256];
    if (collection)
        snprintf(path, sizeof path, "/collections/%s/snapshots", collection);
    else
        snprintf(path, sizeof path, "/snapshots");
    int n = -1;
    if (emu_request(&e, "GET", path, NULL, &r) == 0 && r.status == 200)
        n = cJSON_GetArraySize(json_path(r.json, "result"));
    resp_free(&r);
    return n;
}

struct run_poll {
    long long id;
    long long min_bytes;
    const char *state;
    bool negate; /* with state: true once the run is NOT in that state */
};

/* True when the run moved at least min_bytes (or reached state). */
static bool run_progress(void *ctx)
{
    struct run_poll *p = ctx;
    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%lld", p->id);
    struct resp r;
    bool ok = false;
    if (qbd_request(&d, "GET", path, NULL, NULL, &r) == 0 && r.status == 200) {
        const char *state = json_path_str(r.json, "state");
        ok = p->state ? state && (strcmp(state, p->state) == 0) != p->negate
                      : json_path_num(r.json, "bytes_done") >= (double)p->min_bytes;
    }
    resp_free(&r);
    return ok;
}

/* ---------------------------------------------------------------- tests */

static void test_on_demand_run_catalogues_verified_object(void)
{
    TEST_ASSERT(create_plan("{\"name\":\"p1\",\"collections\":[\"products\"]}"));
    struct resp r;
    run_and_wait("p1", &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.state"), "succeeded");
    TEST_EXPECT(resp_header(&r, "Location") != NULL);
    double id = json_path_num(r.json, "results.0.snapshot_id");
    TEST_EXPECT(json_path_num(r.json, "bytes_done") > 0);
    /* Where the time went; a local folder always verifies in full, even
     * for a plan that asks for the quick check (the default). */
    TEST_EXPECT(harness_backup_phases_ok(json_path(r.json, "results.0")));
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.verify_mode"), "full");
    double run_id = json_path_num(r.json, "id");
    resp_free(&r);
    char rpath[64];
    snprintf(rpath, sizeof rpath, "/v1/runs/%.0f", run_id);
    TEST_ASSERT(qbd_request(&d, "GET", rpath, NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT(harness_backup_phases_ok(json_path(r.json, "results.0")));
    TEST_EXPECT(json_path_num(r.json, "results.0.phases.total_ms") <=
                json_path_num(r.json, "duration_s") * 1000 + 1000);
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/plans/p1", NULL, NULL, &r) == 0);
    TEST_EXPECT_STR(json_path_str(r.json, "verify_mode"), "quick");
    resp_free(&r);
    TEST_ASSERT(id > 0);

    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    const char *location = json_path_str(r.json, "location");
    const char *sha = json_path_str(r.json, "sha256");
    double size = json_path_num(r.json, "size");
    TEST_ASSERT(location && sha);
    char hex[65];
    long long fsize = 0;
    TEST_ASSERT(sha256_file(location, hex, &fsize));
    TEST_EXPECT_STR(hex, sha);
    TEST_EXPECT_INT(fsize, (long long)size);
    /* Qdrant's own checksum matched (the archive's: new plans store it
     * zstd-compressed), the object was read back, and the point count at
     * backup time is recorded. */
    TEST_EXPECT_STR(json_path_str(r.json, "codec"), "zstd");
    TEST_EXPECT_STR(json_path_str(r.json, "qdrant_checksum"), json_path_str(r.json, "raw_sha256"));
    TEST_EXPECT(json_path_str(r.json, "verified_at") != NULL);
    TEST_EXPECT_INT(json_path_num(r.json, "points_count"), 20);
    TEST_EXPECT(json_path_num(r.json, "age_s") >= 0);
    char manifest[1100];
    snprintf(manifest, sizeof manifest, "%s.manifest.json", location);
    TEST_EXPECT(access(manifest, R_OK) == 0);
    resp_free(&r);
    /* Qdrant keeps snapshots until told; the run removed its own. */
    TEST_EXPECT_INT(emu_snapshots("products"), 0);
}

/* verify_mode takes "quick" or "full"; anything else is refused, naming
 * the field, and nothing is stored. */
static void test_plan_verify_mode(void)
{
    struct resp r;
    TEST_ASSERT(post("/v1/plans",
                     "{\"name\":\"vm\",\"collections\":[\"products\"],"
                     "\"verify_mode\":\"sometimes\"}",
                     NULL, &r) == 0);
    EXPECT_PROBLEM(r, 400, "invalid_field");
    TEST_EXPECT_STR(json_path_str(r.json, "field"), "verify_mode");
    TEST_EXPECT_STR(json_path_str(r.json, "detail"), "verify_mode: must be \"quick\" or \"full\"");
    resp_free(&r);
    /* The other members of the same kind say what they take, in words. */
    static const char *const bad[][3] = {
        {"\"shard_method\":\"copy\"", "shard_method",
         "shard_method: must be \"snapshot\" or \"stream\""},
        {"\"compression\":\"zstd\"", "compression",
         "compression: must be an object {\"codec\", \"level\"} or null"},
        {"\"reverify\":[]", "reverify",
         "reverify: must be an object {\"schedule\", \"max_bytes\"} or null"},
        {"\"reverify\":{\"schedule\":\"0 3 * * *\",\"when\":1}", "reverify.when", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"name\":\"vm\",\"collections\":[\"products\"],%s}",
                 bad[i][0]);
        TEST_ASSERT(post("/v1/plans", body, NULL, &r) == 0);
        EXPECT_PROBLEM(r, 400, "invalid_field");
        TEST_EXPECT_STR(json_path_str(r.json, "field"), bad[i][1]);
        if (bad[i][2])
            TEST_EXPECT_STR(json_path_str(r.json, "detail"), bad[i][2]);
        resp_free(&r);
    }
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/plans/vm", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 404);
    resp_free(&r);
    TEST_ASSERT(
        create_plan("{\"name\":\"vm\",\"collections\":[\"products\"],\"verify_mode\":\"full\"}"));
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/plans/vm", NULL, NULL, &r) == 0);
    TEST_EXPECT_STR(json_path_str(r.json, "verify_mode"), "full");
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "DELETE", "/v1/plans/vm", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status / 100, 2);
    resp_free(&r);
}

/* A plan read with GET can be sent back with PUT unchanged. */
static void test_plan_get_put_round_trip(void)
{
    struct resp r, w;
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/plans/p1", NULL, NULL, &r) == 0);
    TEST_ASSERT(r.status == 200);
    TEST_ASSERT(qbd_request(&d, "PUT", "/v1/plans/p1", r.body, NULL, &w) == 0);
    TEST_EXPECT_INT(w.status, 200);
    TEST_EXPECT_STR(json_path_str(w.json, "name"), "p1");
    resp_free(&w);
    resp_free(&r);
}

static void test_idempotent_retrigger(void)
{
    TEST_ASSERT(create_plan("{\"name\":\"idem\",\"collections\":[\"users\"]}"));
    const char *const key[] = {"Idempotency-Key: deploy-4711", NULL};
    struct resp r1, r2, r3;
    TEST_ASSERT(post("/v1/plans/idem/runs", NULL, key, &r1) == 0);
    TEST_EXPECT_INT(r1.status, 202);
    TEST_ASSERT(post("/v1/plans/idem/runs", NULL, key, &r2) == 0);
    TEST_EXPECT_INT(r2.status, 200);
    TEST_EXPECT_STR(resp_header(&r2, "Idempotent-Replayed"), "true");
    TEST_EXPECT_INT(json_path_num(r1.json, "id"), json_path_num(r2.json, "id"));
    TEST_ASSERT(post("/v1/plans/idem/runs?wait=120", NULL, key, &r3) == 0);
    TEST_EXPECT_INT(r3.status, 200);
    TEST_EXPECT_STR(resp_header(&r3, "Idempotent-Replayed"), "true");
    TEST_EXPECT_INT(json_path_num(r3.json, "id"), json_path_num(r1.json, "id"));
    TEST_EXPECT_STR(json_path_str(r3.json, "state"), "succeeded");
    resp_free(&r1);
    resp_free(&r2);
    resp_free(&r3);
    TEST_EXPECT_INT(catalogued("idem"), 1);
}

static void test_multi_collection_and_star_plans(void)
{
    TEST_ASSERT(create_plan("{\"name\":\"multi\",\"collections\":[\"products\",\"users\"]}"));
    TEST_ASSERT(create_plan("{\"name\":\"star\",\"collections\":\"*\"}"));
    struct resp r;
    run_and_wait("multi", &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results")), 2);
    resp_free(&r);
    run_and_wait("star", &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results")), 2);
    resp_free(&r);
    TEST_EXPECT_INT(catalogued("multi"), 2);
    TEST_EXPECT_INT(catalogued("star"), 2);
}

/* Two plans backing up one collection at the same moment, on an instance
 * that allows two runs at once.  Qdrant names a snapshot by its second and
 * a second create in that second overwrites the first (CONTRACT §2): one
 * run downloaded the other's file, and the first to finish deleted it
 * under the other, which failed.  Both succeed, with snapshots of their
 * own, round after round. */
static void test_two_plans_one_collection_at_once(void)
{
    struct resp r;
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"twin\",\"url\":\"%s\",\"max_concurrent\":2}", e.url);
    TEST_ASSERT(post("/v1/instances", body, NULL, &r) == 0 && r.status == 201);
    resp_free(&r);
    TEST_ASSERT(
        create_plan("{\"name\":\"twin-a\",\"instance\":\"twin\",\"collections\":[\"products\"]}"));
    TEST_ASSERT(
        create_plan("{\"name\":\"twin-b\",\"instance\":\"twin\",\"collections\":[\"products\"]}"));
    for (int round = 0; round < 3; round++) {
        long long id[2] = {0, 0};
        const char *plans[2] = {"twin-a", "twin-b"};
        for (int i = 0; i < 2; i++) {
            char path[128];
            snprintf(path, sizeof path, "/v1/plans/%s/runs", plans[i]);
            TEST_ASSERT(post(path, NULL, NULL, &r) == 0 && r.status == 202);
            id[i] = (long long)json_path_num(r.json, "id");
            resp_free(&r);
        }
        for (int i = 0; i < 2; i++) {
            char path[128];
            snprintf(path, sizeof path, "/v1/runs/%lld?wait=120", id[i]);
            TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
            TEST_EXPECT_INT(r.status, 200);
            TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
            resp_free(&r);
        }
    }
    TEST_EXPECT_INT(catalogued("twin-a"), 3);
    TEST_EXPECT_INT(catalogued("twin-b"), 3);
    TEST_EXPECT_INT(emu_snapshots("products"), 0);
}

static void test_full_instance_plan(void)
{
    TEST_ASSERT(create_plan("{\"name\":\"full\",\"full_instance\":true}"));
    struct resp r;
    run_and_wait("full", &r);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "results.0.collection")));
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/snapshots?plan=full", NULL, NULL, &r) == 0);
    TEST_EXPECT_STR(json_path_str(r.json, "items.0.kind"), "full");
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "items.0.collection")));
    resp_free(&r);
    TEST_EXPECT_INT(emu_snapshots(NULL), 0);
}

static void test_checksum_mismatch_keeps_nothing(void)
{
    TEST_ASSERT(create_plan("{\"name\":\"bad\",\"collections\":[\"products\"]}"));
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"wrong_checksum\"}") == 0);
    struct resp r;
    run_and_wait("bad", &r);
    TEST_EXPECT_INT(r.status, 424);
    TEST_EXPECT_STR(json_path_str(r.json, "code"), "run_failed");
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "failed");
    const char *error = json_path_str(r.json, "run.error");
    TEST_EXPECT(error && strstr(error, "checksum mismatch"));
    resp_free(&r);
    TEST_EXPECT_INT(catalogued("bad"), 0);
    int files = 0, temps = 0;
    plan_files("bad", &files, &temps);
    TEST_EXPECT_INT(files, 0);
    TEST_EXPECT_INT(temps, 0);
    TEST_EXPECT_INT(emu_snapshots("products"), 0);
    TEST_ASSERT(emu_clear_faults(&e) == 0);
}

static void test_missing_collection_is_partial(void)
{
    TEST_ASSERT(create_plan("{\"name\":\"part\",\"collections\":[\"users\",\"nope\"],"
                            "\"allow_missing_collections\":true}"));
    struct resp r;
    run_and_wait("part", &r);
    TEST_EXPECT_INT(r.status, 424);
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "partial");
    TEST_EXPECT_STR(json_path_str(r.json, "run.results.0.state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "run.results.1.state"), "failed");
    const char *why = json_path_str(r.json, "run.results.1.error");
    TEST_EXPECT(why && strstr(why, "nope"));
    resp_free(&r);
    TEST_EXPECT_INT(catalogued("part"), 1);
}

static double snapshot_of_run(struct resp *r)
{
    return json_path_num(r->json, "results.0.snapshot_id");
}

static void test_retention_keeps_pinned_and_newest_verified(void)
{
    TEST_ASSERT(create_plan("{\"name\":\"ret\",\"collections\":[\"users\"],"
                            "\"retention\":{\"keep_last\":2}}"));
    double ids[4];
    for (int i = 0; i < 4; i++) {
        struct resp r;
        run_and_wait("ret", &r);
        TEST_EXPECT_INT(r.status, 200);
        ids[i] = snapshot_of_run(&r);
        resp_free(&r);
        if (i == 0) {
            char path[64];
            snprintf(path, sizeof path, "/v1/snapshots/%.0f/pin", ids[0]);
            TEST_ASSERT(post(path, NULL, NULL, &r) == 0);
            TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "pinned")));
            resp_free(&r);
        }
    }
    /* keep_last 2 of the unpinned (2, 3, 4) drops the second; the pinned
     * first is neither counted nor deleted. */
    TEST_EXPECT_INT(catalogued("ret"), 3);
    struct resp r;
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", ids[1]);
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 404);
    resp_free(&r);
    int files = 0, temps = 0;
    plan_files("ret", &files, &temps);
    /* three objects, each with its sidecar, manifest and manifest sidecar */
    TEST_EXPECT_INT(files, 3 * 4);

    /* Everything ten days old, max_age one day: only the pinned one and
     * the newest verified one survive. */
    TEST_ASSERT(create_plan("{\"name\":\"aged\",\"collections\":[\"users\"],"
                            "\"retention\":{\"max_age\":\"1d\"}}"));
    for (int i = 0; i < 3; i++) {
        run_and_wait("aged", &r);
        TEST_EXPECT_INT(r.status, 200);
        resp_free(&r);
    }
    TEST_ASSERT(qbd_sql(&d, "UPDATE snapshots SET created_at = created_at - 864000 WHERE plan_id = "
                            "(SELECT id FROM plans WHERE name = 'aged')"));
    TEST_ASSERT(post("/v1/plans/aged/retention?dry_run=true", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "targets.0.decisions")), 3);
    TEST_EXPECT_STR(json_path_str(r.json, "targets.0.decisions.0.reason"), "newest verified");
    TEST_EXPECT(cJSON_IsFalse(json_path(r.json, "targets.0.decisions.1.keep")));
    resp_free(&r);
    TEST_EXPECT_INT(catalogued("aged"), 3); /* dry run deleted nothing */
    TEST_ASSERT(post("/v1/plans/aged/retention", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_INT(json_path_num(r.json, "deleted"), 2);
    resp_free(&r);
    TEST_EXPECT_INT(catalogued("aged"), 1);
}

/* A plan moved to another destination: retention deletes its old
 * snapshots where they are, not through the new destination. */
static void test_retention_across_a_destination_change(void)
{
    char body[1024], dir[600];
    snprintf(dir, sizeof dir, "%s/var/second", d.dir);
    TEST_ASSERT(mkdir(dir, 0700) == 0);
    snprintf(body, sizeof body,
             "{\"name\":\"second\",\"kind\":\"local\",\"settings\":{\"path\":\"%s\"}}", dir);
    struct resp r;
    TEST_ASSERT(post("/v1/destinations", body, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 201);
    resp_free(&r);
    TEST_ASSERT(create_plan("{\"name\":\"mover\",\"collections\":[\"users\"],"
                            "\"retention\":{\"keep_last\":1}}"));
    run_and_wait("mover", &r);
    TEST_EXPECT_INT(r.status, 200);
    char first[1024];
    snprintf(first, sizeof first, "%s", json_path_str(r.json, "results.0.location"));
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "PUT", "/v1/plans/mover",
                            "{\"destination\":\"second\",\"collections\":[\"users\"],"
                            "\"key_prefix\":\"moved\",\"retention\":{\"keep_last\":1}}",
                            NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    run_and_wait("mover", &r);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    TEST_EXPECT_INT(catalogued("mover"), 1);
    TEST_EXPECT(access(first, F_OK) != 0); /* deleted where it was */
}

/* Starts a slow (throttled) backup of "big" for plan and returns its id
 * once bytes are flowing. */
static long long start_slow_run(const char *plan)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/plans/%s/runs", plan);
    struct resp r;
    long long id = 0;
    if (post(path, NULL, NULL, &r) == 0 && r.status == 202)
        id = (long long)json_path_num(r.json, "id");
    resp_free(&r);
    struct run_poll p = {.id = id, .min_bytes = 1};
    if (!id || !harness_wait_until(run_progress, &p, 60000))
        return 0;
    return id;
}

static void test_api_responsive_and_cancel_mid_transfer(void)
{
    TEST_ASSERT(create_plan("{\"name\":\"cancel\",\"collections\":[\"big\"]}"));
    TEST_ASSERT(emu_fault(&e, "{\"kind\":\"throttle\",\"bytes_per_sec\":1048576,\"count\":0,"
                              "\"path_prefix\":\"/collections/big/snapshots/\"}") == 0);
    long long id = start_slow_run("cancel");
    TEST_ASSERT(id > 0);

    /* A transfer is running: the API still answers at once. */
    int64_t t0 = qb_mono_ms();
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/snapshots", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    TEST_EXPECT(qb_mono_ms() - t0 < 2000);

    /* The default instance allows one snapshot at a time: another plan's
     * run on it waits in the queue while this transfer goes on. */
    TEST_ASSERT(post("/v1/plans/p1/runs", NULL, NULL, &r) == 0);
    long long waiting = (long long)json_path_num(r.json, "id");
    resp_free(&r);
    struct run_poll left_queue = {.id = waiting, .state = "queued", .negate = true};
    TEST_EXPECT(!harness_wait_until(run_progress, &left_queue, 1500));

    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%lld/cancel?wait=60", id);
    TEST_ASSERT(post(path, NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 424);
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "cancelled");
    resp_free(&r);
    TEST_EXPECT_INT(catalogued("cancel"), 0);
    struct run_poll done = {.id = waiting, .state = "succeeded"};
    TEST_EXPECT(harness_wait_until(run_progress, &done, 30000));
    int files = 0, temps = 0;
    plan_files("cancel", &files, &temps);
    TEST_EXPECT_INT(files, 0);
    TEST_EXPECT_INT(temps, 0);
    TEST_EXPECT_INT(emu_snapshots("big"), 0);
}

static void test_kill9_mid_transfer_then_restart(void)
{
    TEST_ASSERT(create_plan("{\"name\":\"k9\",\"collections\":[\"big\"],"
                            "\"requeue_interrupted\":true}"));
    long long id = start_slow_run("k9");
    TEST_ASSERT(id > 0);
    TEST_ASSERT(qbd_kill(&d, SIGKILL) == 0);
    int files = 0, temps = 0;
    plan_files("k9", &files, &temps);
    TEST_EXPECT_INT(temps, 1); /* the crash left a partial write behind */
    TEST_EXPECT_INT(emu_snapshots("big"), 1);
    TEST_ASSERT(emu_clear_faults(&e) == 0);

    TEST_ASSERT(qbd_restart(&d) == 0);
    struct run_poll p = {.id = id, .state = "failed"};
    TEST_ASSERT(harness_wait_until(run_progress, &p, 10000));
    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%lld", id);
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
    const char *error = json_path_str(r.json, "error");
    TEST_EXPECT(error && strstr(error, "interrupted by restart"));
    resp_free(&r);
    /* The interrupted leftovers are gone: the partial file and Qdrant's
     * snapshot; nothing of the interrupted run was catalogued. */
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/snapshots?plan=k9", NULL, NULL, &r) == 0);
    cJSON *it;
    cJSON_ArrayForEach(it, json_path(r.json, "items"))
    {
        TEST_EXPECT(json_path_num(it, "run_id") != (double)id);
    }
    resp_free(&r);

    /* The plan asked for it: a new run was queued at start and succeeds. */
    struct run_poll next = {.id = id + 1, .state = "succeeded"};
    TEST_ASSERT(harness_wait_until(run_progress, &next, 60000));
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/runs?plan=k9", NULL, NULL, &r) == 0);
    TEST_EXPECT_STR(json_path_str(r.json, "items.0.triggered_by"), "recovery");
    resp_free(&r);
    TEST_EXPECT_INT(catalogued("k9"), 1);
    plan_files("k9", &files, &temps);
    TEST_EXPECT_INT(files, 4); /* object, sidecar, manifest, manifest sidecar */
    TEST_EXPECT_INT(temps, 0);
    TEST_EXPECT_INT(emu_snapshots("big"), 0);
}

static void test_status_and_metrics_staleness(void)
{
    TEST_ASSERT(create_plan("{\"name\":\"watch\",\"collections\":[\"users\"],"
                            "\"schedule\":\"0 3 * * *\",\"alert_after\":3600}"));
    struct resp r;
    run_and_wait("watch", &r);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/status", NULL, NULL, &r) == 0);
    /* The only node of its catalogue: it is the one that schedules. */
    TEST_EXPECT_STR(json_path_str(r.json, "fleet.catalogue"),
                    d.catalogue[0] ? "postgres" : "sqlite");
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "fleet.leader")));
    TEST_EXPECT(json_path_str(r.json, "fleet.node") != NULL);
    /* It beat at start: it is listed, alive, under its own name. */
    const cJSON *node0 = cJSON_GetArrayItem(json_path(r.json, "fleet.nodes"), 0);
    TEST_EXPECT_STR(json_path_str(node0, "name"), json_path_str(r.json, "fleet.node"));
    TEST_EXPECT(cJSON_IsTrue(json_path(node0, "alive")));
    cJSON *plans =
        json_path(r.json, "plans") ? cJSON_Duplicate(json_path(r.json, "plans"), 1) : NULL;
    resp_free(&r);
    bool found = false;
    cJSON *it;
    cJSON_ArrayForEach(it, plans)
    {
        if (strcmp(json_path_str(it, "plan"), "watch") == 0) {
            found = true;
            TEST_EXPECT(cJSON_IsFalse(json_path(it, "stale")));
            TEST_EXPECT(json_path_str(it, "next_run_at") != NULL);
            TEST_EXPECT(json_path_num(it, "last_success.age_s") >= 0);
        }
    }
    cJSON_Delete(plans);
    TEST_EXPECT(found);

    /* Two hours pass without a success. */
    TEST_ASSERT(qbd_sql(&d, "UPDATE runs SET finished_at = finished_at - 7200, started_at = "
                            "started_at - 7200 WHERE plan_name = 'watch'"));
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/status", NULL, NULL, &r) == 0);
    TEST_EXPECT_STR(json_path_str(r.json, "status"), "stale");
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "GET", "/metrics", NULL, NULL, &r) == 0);
    TEST_EXPECT(strstr(r.body, "qbackup_plan_stale{plan=\"watch\"} 1") != NULL);
    TEST_EXPECT(strstr(r.body, "qbackup_plan_stale{plan=\"p1\"} 0") != NULL);
    TEST_EXPECT(strstr(r.body, "qbackup_plan_last_success_timestamp_seconds{plan=\"watch\"}"));
    TEST_EXPECT(strstr(r.body, "qbackup_runs_total{plan=\"bad\",outcome=\"failed\"} 1"));
    TEST_EXPECT(strstr(r.body, "qbackup_catalogue_snapshots "));
    TEST_EXPECT(strstr(r.body, "\nqbackup_fleet_leader 1\n"));
    TEST_EXPECT(strstr(r.body, "\nqbackup_scheduler_tick_seconds 0.") != NULL);
    resp_free(&r);
}

struct sched_poll {
    struct qbd *q;
    char trigger[16];
    bool has_slot;
};

static bool schedule_fired(void *ctx)
{
    struct sched_poll *p = ctx;
    struct resp r;
    bool fired = false;
    if (qbd_request(p->q, "GET", "/v1/runs?plan=cron&state=succeeded", NULL, NULL, &r) == 0)
        fired = cJSON_GetArraySize(json_path(r.json, "items")) > 0;
    if (fired) {
        snprintf(p->trigger, sizeof p->trigger, "%s", json_path_str(r.json, "items.0.trigger"));
        p->has_slot = json_path_str(r.json, "items.0.scheduled_for") != NULL;
    }
    resp_free(&r);
    return fired;
}

static void test_scheduled_run_fires_once_per_slot(void)
{
    /* A second daemon whose scheduler clock sits 15 seconds before a
     * minute boundary, so "* * * * *" comes due soon, but only once the
     * daemon is up and the plan exists: a start on a PostgreSQL catalogue
     * (a new database, every migration) can take seconds under load, and a
     * boundary passed before the plan was made would leave the next one a
     * minute away. */
    struct qbd s;
    int64_t now = qb_now_ms() / 1000;
    char offset[32];
    snprintf(offset, sizeof offset, "%lld", (long long)(60 - now % 60 - 15));
    const char *const args[] = {"--qdrant-url", e.url, "--scheduler-clock-offset", offset, NULL};
    TEST_ASSERT(qbd_start(&s, args, NULL) == 0);
    struct resp r;
    TEST_ASSERT(qbd_request(&s, "POST", "/v1/plans",
                            "{\"name\":\"cron\",\"collections\":[\"users\"],"
                            "\"schedule\":\"* * * * *\"}",
                            NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 201);
    resp_free(&r);
    struct sched_poll sp = {.q = &s};
    bool fired = harness_wait_until(schedule_fired, &sp, 60000);
    TEST_EXPECT_STR(sp.trigger, "schedule");
    TEST_EXPECT(sp.has_slot);
    TEST_EXPECT(fired);
    /* A restart within the same minute must not queue that slot again. */
    TEST_ASSERT(qbd_restart(&s) == 0);
    TEST_ASSERT(qbd_request(&s, "GET", "/v1/runs?plan=cron", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), 1);
    resp_free(&r);
    TEST_EXPECT_INT(qbd_stop(&s), 0);
    qbd_cleanup(&s);
}

int main(void)
{
    if (emu_start(&e, NULL) != 0)
        return 1;
    if (emu_create_collection(&e, "products", 4) || emu_upsert(&e, "products", 20, 1) ||
        emu_create_collection(&e, "users", 4) || emu_upsert(&e, "users", 10, 2))
        return 1;
    const char *const args[] = {"--qdrant-url", e.url, "--retry-base-ms", "20", NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_on_demand_run_catalogues_verified_object);
    TEST_RUN(test_plan_get_put_round_trip);
    TEST_RUN(test_plan_verify_mode);
    TEST_RUN(test_idempotent_retrigger);
    TEST_RUN(test_multi_collection_and_star_plans);
    TEST_RUN(test_full_instance_plan);
    TEST_RUN(test_two_plans_one_collection_at_once);
    TEST_RUN(test_checksum_mismatch_keeps_nothing);
    TEST_RUN(test_missing_collection_is_partial);
    TEST_RUN(test_retention_keeps_pinned_and_newest_verified);
    TEST_RUN(test_retention_across_a_destination_change);
    /* 24 MiB at 1 MiB/s: long enough to interrupt, short enough to test. */
    if (emu_create_collection(&e, "big", 4) || emu_fill(&e, "big", 24))
        return 1;
    TEST_RUN(test_api_responsive_and_cancel_mid_transfer);
    TEST_RUN(test_kill9_mid_transfer_then_restart);
    TEST_RUN(test_status_and_metrics_staleness);
    TEST_RUN(test_scheduled_run_fires_once_per_slot);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
    return TEST_RESULT();
}
