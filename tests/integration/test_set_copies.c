/* SPDX-License-Identifier: Apache-2.0
 *
 * test_set_copies.c -- the data safety of backup sets (cluster collections
 * backed up shard by shard) end to end on the emulator in distributed
 * mode (and a single node's streamed sets), with local-folder
 * destinations: a set is copied (every shard
 * object and the manifest) to the plan's copy destination and each copy
 * destination's retention prunes its copies; a manual verify judges the
 * copy too, marks a corrupt copy failed without touching the primary's
 * state, and the next run makes the copy again; with a shard object of
 * the primary deleted, or altered under an intact checksum (caught by
 * verify), the restore reads the copy and gives identical points; with
 * one shard lost from the primary and another from the copy, each shard
 * is read from the location holding it; a
 * compressed and encrypted set's verify decodes its shards and names the
 * shard and the chunk of a tampered one; the safety set taken before an
 * overwrite in an encrypted destination is encrypted; deleting a set
 * deletes its copy; and after the catalogue is lost, a rescan of the copy
 * destination links its set to the rescanned primary as a copy.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct emu peer, node; /* node: a single node (streamed sets) */
static struct qbd d;
static char *original;    /* points of "products" as backed up */
static char primary[600]; /* the "local" destination's folder */
static char second[600];  /* the copy destination's folder */
static char enc_dir[600]; /* the encrypted destination's folder */
static char key_file[600];

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

/* Flips one byte in the middle of a stored file, keeping its sidecar (so
 * only a full read can tell). */
static void tamper(const char *dir, const char *key)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, key);
    struct stat sb;
    TEST_ASSERT(stat(path, &sb) == 0 && sb.st_size > 2);
    int fd = open(path, O_RDWR);
    unsigned char c = 0;
    off_t at = sb.st_size / 2;
    TEST_ASSERT(fd >= 0 && pread(fd, &c, 1, at) == 1);
    c ^= 0x5a;
    TEST_ASSERT(pwrite(fd, &c, 1, at) == 1);
    close(fd);
}

/* The set's shard 0 object key and the set's own key (the shard key
 * without "/shard-0.snapshot"). */
static void set_keys(double id, char *shard, size_t shardlen, char *set, size_t setlen)
{
    struct resp r;
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    shard[0] = set[0] = '\0';
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    const char *k = json_path_str(r.json, "backup_set.shards.0.key");
    if (k) {
        snprintf(shard, shardlen, "%s", k);
        const char *slash = strrchr(k, '/');
        snprintf(set, setlen, "%.*s", slash ? (int)(slash - k) : 0, k);
    }
    resp_free(&r);
    TEST_ASSERT(shard[0] && set[0]);
}

static void get_snapshot(double id, struct resp *r)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("GET", path, NULL, 200, r));
}

/* Runs plan; *id: the set it made (0 when it failed). */
static void run(const char *plan, double *id)
{
    struct resp r;
    *id = 0;
    char path[96];
    snprintf(path, sizeof path, "/v1/plans/%s/runs?wait=120", plan);
    TEST_ASSERT(call("POST", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.layout"), "shards");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.copies.0.state"), "stored");
    *id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
}

/* Restores snapshot id into collection (which must not exist); *copy says
 * whether the result named a copy as its source. */
static void restore(double id, const char *collection, bool *copy)
{
    struct resp r;
    char body[256];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"%s\"}", id,
             collection);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.layout"), "shards");
    *copy = cJSON_IsTrue(json_path(r.json, "results.0.source.copy"));
    if (*copy)
        TEST_EXPECT_STR(json_path_str(r.json, "results.0.source.destination"), "second");
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&peer, collection, original));
}

static double set_id; /* the "clu" set the tests below share */

static void test_set_copied_with_manifest(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"clu\",\"collections\":[\"products\"],"
                     "\"copies\":[{\"destination\":\"second\",\"retention\":{\"keep_last\":2}}]}",
                     201, &r));
    resp_free(&r);
    double first = 0, id = 0;
    run("clu", &first);
    char shard[1024], set[1024];
    set_keys(first, shard, sizeof shard, set, sizeof set);
    TEST_EXPECT(exists(second, shard, ""));
    TEST_EXPECT(exists(second, set, ".manifest.json"));

    /* The copy destination keeps two: the third run's copy prunes the
     * first's there, the primary keeps all three. */
    run("clu", &id);
    TEST_EXPECT(id > first);
    TEST_EXPECT(exists(second, shard, ""));
    run("clu", &set_id);
    TEST_EXPECT(!exists(second, shard, ""));
    TEST_EXPECT(!exists(second, set, ".manifest.json"));
    TEST_EXPECT(exists(primary, shard, ""));
    get_snapshot(first, &r);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "copies")), 0);
    resp_free(&r);
    get_snapshot(set_id, &r);
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.destination"), "second");
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    TEST_EXPECT(json_path_str(r.json, "copies.0.verified_at") != NULL);
    resp_free(&r);
    set_keys(set_id, shard, sizeof shard, set, sizeof set);
    TEST_EXPECT(exists(second, shard, ""));
    TEST_EXPECT(exists(second, set, ".manifest.json"));

    /* The primary intact: the restore reads it. */
    bool copy = true;
    restore(set_id, "from-primary", &copy);
    TEST_EXPECT(!copy);
}

/* A corrupt copy is found by the snapshot's verify, marked failed and
 * made again by the next run; the primary's state stays verified. */
static void test_verify_judges_the_copy(void)
{
    struct resp r;
    char shard[1024], set[1024], path[96];
    set_keys(set_id, shard, sizeof shard, set, sizeof set);
    tamper(second, shard);
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/verify", set_id);
    TEST_ASSERT(call("POST", path, NULL, 200, &r));
    TEST_EXPECT(json_path_str(r.json, "verified_at") != NULL);
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "verify_error")));
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "failed");
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "copies.0.verified_at")));
    const char *error = json_path_str(r.json, "copies.0.error");
    TEST_EXPECT(error && strstr(error, "shard 0"));
    resp_free(&r);
    get_snapshot(set_id, &r);
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "failed");
    resp_free(&r);

    /* The next run of the plan copies it again, whole (its own copy then
     * prunes the older one of the two kept). */
    double newer = 0;
    run("clu", &newer);
    TEST_EXPECT(newer > set_id);
    get_snapshot(set_id, &r);
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    resp_free(&r);
    TEST_ASSERT(call("POST", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    TEST_EXPECT(json_path_str(r.json, "copies.0.verified_at") != NULL);
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "copies.0.error")));
    resp_free(&r);
    TEST_EXPECT(exists(second, shard, ""));
}

static void test_missing_shard_restored_from_copy(void)
{
    struct resp r;
    char shard[1024], set[1024];
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=clu&limit=1", NULL, 200, &r));
    double id = json_path_num(r.json, "items.0.id");
    resp_free(&r);
    set_keys(id, shard, sizeof shard, set, sizeof set);
    TEST_ASSERT(exists(second, shard, ""));
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", primary, shard);
    TEST_ASSERT(unlink(p) == 0);
    bool copy = false;
    restore(id, "from-copy", &copy);
    TEST_EXPECT(copy);

    /* Deleting the set deletes its copy (and the rest of the primary). */
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("DELETE", path, NULL, 204, &r));
    resp_free(&r);
    TEST_EXPECT(!exists(second, shard, ""));
    TEST_EXPECT(!exists(second, set, ".manifest.json"));
    TEST_EXPECT(!exists(primary, set, ".manifest.json"));
}

/* The primary lost one shard object and the copy another: together they
 * hold the set, so the restore reads each shard from the first location
 * holding it and gives identical points.  With a shard in neither, the
 * restore fails naming it, with nothing created. */
static void test_set_restored_from_two_locations(void)
{
    struct resp r;
    TEST_ASSERT(emu_request(&peer, "PUT", "/collections/multi",
                            "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                            "\"shard_number\":3}",
                            &r) == 0 &&
                r.status == 200);
    resp_free(&r);
    TEST_ASSERT(emu_upsert(&peer, "multi", 40, 3) == 0);
    char *points = emu_points(&peer, "multi");
    TEST_ASSERT(points != NULL);
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"mix\",\"collections\":[\"multi\"],"
                     "\"copies\":[{\"destination\":\"second\"}]}",
                     201, &r));
    resp_free(&r);
    double id = 0;
    run("mix", &id);
    char path[64], key[3][1024];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_ASSERT(cJSON_GetArraySize(json_path(r.json, "backup_set.shards")) == 3);
    for (int i = 0; i < 3; i++) {
        char sel[48];
        snprintf(sel, sizeof sel, "backup_set.shards.%d.key", i);
        const char *k = json_path_str(r.json, sel);
        snprintf(key[i], sizeof key[i], "%s", k ? k : "");
        TEST_ASSERT(key[i][0] && exists(primary, key[i], "") && exists(second, key[i], ""));
    }
    resp_free(&r);
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", primary, key[0]);
    TEST_ASSERT(unlink(p) == 0);
    snprintf(p, sizeof p, "%s/%s", second, key[1]);
    TEST_ASSERT(unlink(p) == 0);

    char body[256];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"mixed\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.source.copy")));
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.source.destination"), "second");
    const char *why = json_path_str(r.json, "results.0.source.primary_error");
    TEST_EXPECT(why && strstr(why, "missing"));
    const cJSON *by = json_path(r.json, "results.0.source.shards");
    TEST_EXPECT_INT(cJSON_GetArraySize(by), 3);
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&peer, "mixed", points));

    /* Shard 1 gone from the primary too: in no location. */
    snprintf(p, sizeof p, "%s/%s", primary, key[1]);
    TEST_ASSERT(unlink(p) == 0);
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"none\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 424, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "failed");
    const char *error = json_path_str(r.json, "run.error");
    TEST_EXPECT(error && strstr(error, "nothing was changed") && strstr(error, "shard 1"));
    resp_free(&r);
    TEST_ASSERT(emu_request(&peer, "GET", "/collections/none", NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 404);
    resp_free(&r);
    free(points);
}

/* A single node in streamed mode backs up sets too: copied the same way,
 * and restored from the copy when the primary lost a shard object. */
static void test_streamed_set_copied(void)
{
    struct resp r;
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"node\",\"url\":\"%s\"}", node.url);
    TEST_ASSERT(call("POST", "/v1/instances", body, 201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"str\",\"instance\":\"node\",\"collections\":[\"products\"],"
                     "\"shard_method\":\"stream\",\"copies\":[{\"destination\":\"second\"}]}",
                     201, &r));
    resp_free(&r);
    double id = 0;
    run("str", &id);
    char shard[1024], set[1024], p[2048];
    set_keys(id, shard, sizeof shard, set, sizeof set);
    TEST_EXPECT(exists(second, shard, ""));
    TEST_EXPECT(exists(second, set, ".manifest.json"));
    snprintf(p, sizeof p, "%s/%s", primary, shard);
    TEST_ASSERT(unlink(p) == 0);
    snprintf(body, sizeof body,
             "{\"snapshot_id\":%.0f,\"target_instance\":\"node\",\"target_collection\":"
             "\"streamed-from-copy\"}",
             id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.source.copy")));
    resp_free(&r);
    char *now = emu_points(&node, "streamed-from-copy");
    TEST_EXPECT(now && strcmp(now, original) == 0);
    free(now);
}

/* Compressed and encrypted: verify decodes every shard and names the
 * shard and the chunk of a tampered one; the restore then prefers the
 * copy, and the safety set before an overwrite is encrypted too. */
static void test_encoded_set(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"sec\",\"destination\":\"enc\",\"collections\":[\"products\"],"
                     "\"copies\":[{\"destination\":\"second\"}]}",
                     201, &r));
    resp_free(&r);
    double id = 0;
    run("sec", &id);
    get_snapshot(id, &r);
    const char *codec = json_path_str(r.json, "codec");
    TEST_EXPECT(codec && strstr(codec, "zstd") && strcmp(codec, "zstd") != 0);
    TEST_EXPECT(json_path_str(r.json, "key_id") != NULL);
    resp_free(&r);
    char shard[1024], set[1024], path[96];
    set_keys(id, shard, sizeof shard, set, sizeof set);
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/verify", id);
    /* Intact: verified, the copy too. */
    TEST_ASSERT(call("POST", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    resp_free(&r);

    tamper(enc_dir, shard);
    TEST_ASSERT(call("POST", path, NULL, 409, &r));
    const char *detail = json_path_str(r.json, "detail");
    fprintf(stderr, "tampered shard: %s\n", detail ? detail : "(none)");
    TEST_EXPECT(detail && strstr(detail, "shard 0") && strstr(detail, "chunk"));
    TEST_EXPECT_STR(json_path_str(r.json, "verification.layout"), "shards");
    resp_free(&r);
    get_snapshot(id, &r);
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "verified_at")));
    /* The copy is still good, and judged so. */
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    resp_free(&r);

    /* The primary's sidecar is intact, but its verify failed: the copy
     * is read. */
    bool copy = false;
    restore(id, "enc-from-copy", &copy);
    TEST_EXPECT(copy);

    /* Overwrite: the safety set of what is replaced is encrypted in the
     * encrypted destination. */
    char body[256];
    snprintf(body, sizeof body,
             "{\"snapshot_id\":%.0f,\"target_collection\":\"enc-from-copy\",\"overwrite\":true}",
             id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    double safety = json_path_num(r.json, "results.0.safety_snapshot_id");
    resp_free(&r);
    TEST_ASSERT(safety > 0);
    get_snapshot(safety, &r);
    TEST_EXPECT_STR(json_path_str(r.json, "layout"), "shards");
    TEST_EXPECT_STR(json_path_str(r.json, "destination"), "enc");
    TEST_EXPECT(json_path_str(r.json, "key_id") != NULL);
    TEST_EXPECT(json_path_str(r.json, "codec") && strcmp(json_path_str(r.json, "codec"), "none"));
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&peer, "enc-from-copy", original));
    char spath[96];
    snprintf(spath, sizeof spath, "/v1/snapshots/%.0f/verify", safety);
    TEST_ASSERT(call("POST", spath, NULL, 200, &r));
    resp_free(&r);
}

/* The host loses its catalogue: rescanning the primary, then the copy
 * destination, links the copy's set to the primary's as its copy. */
static void test_rescan_links_set_copy(void)
{
    struct resp r;
    double id = 0;
    run("clu", &id);
    char shard[1024], set[1024];
    set_keys(id, shard, sizeof shard, set, sizeof set);
    TEST_ASSERT(qbd_lose_catalogue(&d) == 0);
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\":\"second\",\"kind\":\"local\",\"settings\":{\"path\":\"%s\"}}", second);
    TEST_ASSERT(call("POST", "/v1/destinations", body, 201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/destinations/local/rescan", NULL, 200, &r));
    TEST_EXPECT(json_path_num(r.json, "imported") >= 1);
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/destinations/second/rescan", NULL, 200, &r));
    TEST_EXPECT(json_path_num(r.json, "imported") >= 1);
    resp_free(&r);
    /* The set in the primary, with its copy in second. */
    TEST_ASSERT(call("GET", "/v1/snapshots?limit=1000", NULL, 200, &r));
    double found = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, json_path(r.json, "items"))
    {
        const char *loc = json_path_str(it, "location");
        /* Locations are file:// URLs of the folders. */
        if (loc && strstr(loc, set) && strstr(loc, primary))
            found = json_path_num(it, "id");
        /* Not catalogued twice ("sec"'s copy, whose primary destination
         * is not rescanned here, is a snapshot of its own in second). */
        TEST_EXPECT(!loc || !strstr(loc, set) || !strstr(loc, second));
    }
    resp_free(&r);
    TEST_ASSERT(found > 0);
    get_snapshot(found, &r);
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.destination"), "second");
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    resp_free(&r);
}

int main(void)
{
    const char *const cluster[] = {"--cluster", NULL};
    if (emu_start(&peer, cluster) != 0 || emu_start(&node, NULL) != 0)
        return 1;
    if (emu_create_collection(&peer, "products", 4) || emu_upsert(&peer, "products", 25, 1) ||
        emu_create_collection(&node, "products", 4) || emu_upsert(&node, "products", 25, 1))
        return 1;
    original = emu_points(&peer, "products");
    const char *const args[] = {"--qdrant-url", peer.url, NULL};
    if (!original || qbd_start(&d, args, NULL) != 0)
        return 1;
    struct resp r;
    if (!call("GET", "/v1/destinations/local", NULL, 200, &r))
        return 1;
    snprintf(primary, sizeof primary, "%s", json_path_str(r.json, "settings.path"));
    resp_free(&r);
    snprintf(second, sizeof second, "%s/var/second", d.dir);
    snprintf(enc_dir, sizeof enc_dir, "%s/var/enc", d.dir);
    snprintf(key_file, sizeof key_file, "%s/key", d.dir);
    if (mkdir(second, 0700) != 0 || mkdir(enc_dir, 0700) != 0 ||
        !qbd_write_key_file(key_file, NULL, 0))
        return 1;
    char body[2048];
    snprintf(body, sizeof body,
             "{\"name\":\"second\",\"kind\":\"local\",\"settings\":{\"path\":\"%s\"}}", second);
    if (!call("POST", "/v1/destinations", body, 201, &r))
        return 1;
    resp_free(&r);
    snprintf(body, sizeof body,
             "{\"name\":\"enc\",\"kind\":\"local\",\"settings\":{\"path\":\"%s\"},"
             "\"encryption\":{\"key_file\":\"%s\"}}",
             enc_dir, key_file);
    if (!call("POST", "/v1/destinations", body, 201, &r))
        return 1;
    resp_free(&r);

    TEST_RUN(test_set_copied_with_manifest);
    TEST_RUN(test_verify_judges_the_copy);
    TEST_RUN(test_missing_shard_restored_from_copy);
    TEST_RUN(test_set_restored_from_two_locations);
    TEST_RUN(test_streamed_set_copied);
    TEST_RUN(test_encoded_set);
    TEST_RUN(test_rescan_links_set_copy); /* last: it drops the catalogue */
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&peer), 0);
    TEST_EXPECT_INT(emu_stop(&node), 0);
    emu_cleanup(&peer);
    emu_cleanup(&node);
    free(original);
    return TEST_RESULT();
}
