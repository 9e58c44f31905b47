/* SPDX-License-Identifier: Apache-2.0
 *
 * test_codec_e2e.c -- compression and client-side encryption (issue 13 items 2
 * and 3), end to end against the Qdrant emulator and a local folder: a
 * compressed + encrypted backup restores identical points by upload and by
 * URL (served decoded by qbackupd), as a single object and as a streamed
 * backup set; bad compression and key references
 * are 400s naming the field, and the key never shows in a response; a key
 * that cannot be read fails a backup before Qdrant is asked for anything;
 * a wrong key fails a restore before Qdrant is touched; rotation (new key
 * first, old one in read_keys) restores old backups; a safety snapshot
 * taken before an overwrite is encrypted too; a tampered chunk
 * fails verify and restore naming the chunk; a truncated object fails
 * cleanly; a rescan of a lost catalogue rebuilds the codec columns from
 * the manifests, and an encrypted object whose manifest is lost is
 * reported with the key it needs, not catalogued.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"
#include "util/seal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct emu prod;
static struct qbd d;
static char *original;              /* points of "items" as backed up */
static char key_a[600], key_b[600]; /* key files */
static char key_a_b64[64];          /* to check it never appears anywhere */
static char enc_dir[600];           /* the encrypted destination's folder */

static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

static void expect_400(const char *method, const char *path, const char *body, const char *field)
{
    struct resp r;
    TEST_ASSERT(qbd_request(&d, method, path, body, NULL, &r) == 0);
    if (r.status != 400)
        fprintf(stderr, "%s %s %s: %ld %s\n", method, path, body, r.status, r.body);
    TEST_EXPECT_INT(r.status, 400);
    TEST_EXPECT_STR(json_path_str(r.json, "field"), field);
    TEST_EXPECT(strstr(r.body, key_a_b64) == NULL);
    resp_free(&r);
}

static void set_destination_encryption(const char *encryption)
{
    char body[2048];
    struct resp r;
    snprintf(body, sizeof body,
             "{\"kind\":\"local\",\"settings\":{\"path\":\"%s\"},\"encryption\":%s}", enc_dir,
             encryption);
    TEST_ASSERT(call("PUT", "/v1/destinations/enc", body, 200, &r));
    TEST_EXPECT(strstr(r.body, key_a_b64) == NULL);
    resp_free(&r);
}

static void test_bad_configuration_refused(void)
{
    char body[2048], bad_key[700];
    expect_400("POST", "/v1/plans",
               "{\"name\":\"bad\",\"collections\":[\"items\"],\"compression\":{\"codec\":\"lz4\"}}",
               "compression.codec");
    expect_400("POST", "/v1/plans",
               "{\"name\":\"bad\",\"collections\":[\"items\"],"
               "\"compression\":{\"codec\":\"zstd\",\"level\":20}}",
               "compression.level");
    expect_400("POST", "/v1/plans",
               "{\"name\":\"bad\",\"collections\":[\"items\"],"
               "\"compression\":{\"codec\":\"aes256gcm\"}}",
               "compression.codec");
    expect_400("POST", "/v1/plans",
               "{\"name\":\"bad\",\"collections\":[\"items\"],"
               "\"encryption\":{\"key_file\":\"/nonexistent/key\"}}",
               "encryption.key_file");
    expect_400("POST", "/v1/plans",
               "{\"name\":\"bad\",\"collections\":[\"items\"],"
               "\"encryption\":{\"key_env\":\"QB_TEST_NO_SUCH_KEY\"}}",
               "encryption.key_env");
    snprintf(body, sizeof body,
             "{\"name\":\"bad\",\"collections\":[\"items\"],"
             "\"encryption\":{\"key_file\":\"%s\",\"key_env\":\"X\"}}",
             key_a);
    expect_400("POST", "/v1/plans", body, "encryption");
    /* A cipher this build lacks, on a plan and on a destination. */
    snprintf(body, sizeof body,
             "{\"name\":\"bad\",\"collections\":[\"items\"],"
             "\"encryption\":{\"key_file\":\"%s\",\"cipher\":\"chacha20-poly1305\"}}",
             key_a);
    expect_400("POST", "/v1/plans", body, "encryption.cipher");
    snprintf(body, sizeof body,
             "{\"name\":\"bad\",\"kind\":\"local\",\"settings\":{\"path\":\"%s\"},"
             "\"encryption\":{\"key_file\":\"%s\",\"cipher\":\"aes128gcm\"}}",
             enc_dir, key_a);
    expect_400("POST", "/v1/destinations", body, "encryption.cipher");
    /* A malformed key file: named, its text never echoed. */
    snprintf(bad_key, sizeof bad_key, "%s/var/bad.key", d.dir);
    FILE *f = fopen(bad_key, "w");
    TEST_ASSERT(f && fprintf(f, "%s-not-base64\n", key_a_b64) > 0 && fclose(f) == 0);
    snprintf(body, sizeof body,
             "{\"name\":\"bad\",\"kind\":\"local\",\"settings\":{\"path\":\"%s\"},"
             "\"encryption\":{\"key_file\":\"%s\"}}",
             enc_dir, bad_key);
    expect_400("POST", "/v1/destinations", body, "encryption.key_file");
    snprintf(body, sizeof body,
             "{\"name\":\"bad\",\"kind\":\"local\",\"settings\":{\"path\":\"%s\"},"
             "\"encryption\":{\"key_file\":\"%s\",\"read_keys\":[{\"key_file\":\"%s\"}]}}",
             enc_dir, key_a, bad_key);
    expect_400("POST", "/v1/destinations", body, "encryption.read_keys[0].key_file");
    struct resp r;
    TEST_ASSERT(call("GET", "/v1/plans/bad", NULL, 404, &r));
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/destinations/bad", NULL, 404, &r));
    resp_free(&r);
}

/* The plans of this test: "sec" (zstd, the destination's key) and
 * "plain" (no compression, no encryption, on the configured folder). */
static void test_configuration_round_trip(void)
{
    char body[2048];
    struct resp r;
    TEST_ASSERT(mkdir(enc_dir, 0700) == 0);
    snprintf(body, sizeof body,
             "{\"name\":\"enc\",\"kind\":\"local\",\"settings\":{\"path\":\"%s\"},"
             "\"encryption\":{\"key_file\":\"%s\"}}",
             enc_dir, key_a);
    TEST_ASSERT(call("POST", "/v1/destinations", body, 201, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "encryption.key_file"), key_a);
    TEST_EXPECT(strstr(r.body, key_a_b64) == NULL);
    resp_free(&r);
    /* Naming the one cipher is accepted and kept. */
    snprintf(body, sizeof body,
             "{\"name\":\"named\",\"collections\":[\"items\"],"
             "\"encryption\":{\"key_file\":\"%s\",\"cipher\":\"aes256gcm\"}}",
             key_a);
    TEST_ASSERT(call("POST", "/v1/plans", body, 201, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "encryption.cipher"), "aes256gcm");
    resp_free(&r);
    TEST_ASSERT(call("DELETE", "/v1/plans/named", NULL, 204, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"sec\",\"destination\":\"enc\",\"collections\":[\"items\"]}", 201,
                     &r));
    /* New plans compress by default. */
    TEST_EXPECT_STR(json_path_str(r.json, "compression.codec"), "zstd");
    TEST_EXPECT_INT(json_path_num(r.json, "compression.level"), 3);
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "encryption")));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"plain\",\"collections\":[\"items\"],"
                     "\"compression\":{\"codec\":\"none\"}}",
                     201, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "compression.codec"), "none");
    resp_free(&r);
}

/* The plan's newest snapshot: its id, and the listing in r. */
static double latest_snapshot(const char *plan, struct resp *r)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/snapshots?plan=%s&limit=1", plan);
    if (!call("GET", path, NULL, 200, r))
        return 0;
    return json_path_num(r->json, "items.0.id");
}

static void test_encrypted_backup_restores_both_ways(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans/sec/runs?wait=120", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.codec"), "zstd+aes256gcm");
    const char *kid = json_path_str(r.json, "results.0.key_id");
    TEST_EXPECT(kid && strlen(kid) == 8);
    double raw = json_path_num(r.json, "results.0.raw_size");
    double ratio = json_path_num(r.json, "results.0.ratio");
    fprintf(stderr, "encrypted backup: raw %.0f bytes, ratio %.3f\n", raw, ratio);
    TEST_EXPECT(raw > 0 && ratio > 0);
    resp_free(&r);

    double id = latest_snapshot("sec", &r);
    TEST_EXPECT_STR(json_path_str(r.json, "items.0.codec"), "zstd+aes256gcm");
    TEST_EXPECT_STR(json_path_str(r.json, "items.0.raw_sha256"),
                    json_path_str(r.json, "items.0.qdrant_checksum"));
    TEST_EXPECT(strcmp(json_path_str(r.json, "items.0.raw_sha256"),
                       json_path_str(r.json, "items.0.sha256")) != 0);
    TEST_EXPECT(json_path_str(r.json, "items.0.key_id") != NULL);
    /* What is stored is the container, not the archive. */
    char head[4] = "";
    int fd = open(json_path_str(r.json, "items.0.location"), O_RDONLY);
    TEST_ASSERT(fd >= 0 && read(fd, head, 4) == 4);
    close(fd);
    TEST_EXPECT(memcmp(head, "QBE1", 4) == 0);
    resp_free(&r);

    char body[256];
    TEST_ASSERT(emu_request(&prod, "DELETE", "/collections/items", NULL, &r) == 0);
    resp_free(&r);
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "items", original));

    TEST_ASSERT(emu_request(&prod, "DELETE", "/collections/items", NULL, &r) == 0);
    resp_free(&r);
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"method\":\"url\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.method"), "url");
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "items", original));
    /* Qdrant was given qbackupd's endpoint (decoded), not the file. */
    char url[1024];
    TEST_ASSERT(emu_last_recover_url(&prod, url, sizeof url));
    TEST_EXPECT(strstr(url, "/download?") != NULL);

    /* A full verify decodes it. */
    char path[96];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/verify", id);
    TEST_ASSERT(call("POST", path, NULL, 200, &r));
    resp_free(&r);
}

/* A backup set (shard_method "stream") stores its shards encoded too,
 * and restores by upload and by url (decoded by qbackupd either way). */
static void test_streamed_set_encrypted(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"sets\",\"destination\":\"enc\",\"collections\":[\"items\"],"
                     "\"shard_method\":\"stream\"}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/sets/runs?wait=120", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.layout"), "shards");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.codec"), "zstd+aes256gcm");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.shards.0.codec"), "zstd+aes256gcm");
    double id = json_path_num(r.json, "results.0.snapshot_id");
    /* Each shard object is the container, not an archive. */
    char shard[1200], head[4] = "";
    snprintf(shard, sizeof shard, "%s/%s", enc_dir,
             json_path_str(r.json, "results.0.shards.0.key"));
    resp_free(&r);
    int fd = open(shard, O_RDONLY);
    TEST_ASSERT(fd >= 0 && read(fd, head, 4) == 4);
    close(fd);
    TEST_EXPECT(memcmp(head, "QBE1", 4) == 0);
    char path[96], body[256];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "codec"), "zstd+aes256gcm");
    TEST_EXPECT(json_path_str(r.json, "key_id") != NULL);
    resp_free(&r);
    static const char *const methods[] = {"upload", "url"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(body, sizeof body,
                 "{\"snapshot_id\":%.0f,\"target_collection\":\"set_%s\",\"method\":\"%s\"}", id,
                 methods[i], methods[i]);
        TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
        TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
        resp_free(&r);
        char coll[32];
        snprintf(coll, sizeof coll, "set_%s", methods[i]);
        TEST_EXPECT(emu_points_equal(&prod, coll, original));
    }
}

static void test_plain_plan_stays_raw(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans/plain/runs?wait=120", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.codec"), "none");
    TEST_EXPECT(json_path(r.json, "results.0.key_id") == NULL);
    resp_free(&r);
    latest_snapshot("plain", &r);
    TEST_EXPECT_STR(json_path_str(r.json, "items.0.codec"), "none");
    TEST_EXPECT_STR(json_path_str(r.json, "items.0.raw_sha256"),
                    json_path_str(r.json, "items.0.sha256"));
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "items.0.key_id")));
    resp_free(&r);
}

static void test_wrong_key_touches_nothing(void)
{
    struct resp r;
    double id = latest_snapshot("sec", &r);
    resp_free(&r);
    char enc[1024], body[256];
    snprintf(enc, sizeof enc, "{\"key_file\":\"%s\"}", key_b);
    set_destination_encryption(enc);
    TEST_ASSERT(emu_clear_requests(&prod) == 0);
    snprintf(body, sizeof body,
             "{\"snapshot_id\":%.0f,\"target_collection\":\"wrongkey\",\"overwrite\":true}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 424, &r));
    const char *error = json_path_str(r.json, "run.error");
    TEST_EXPECT(error && strstr(error, "needs key") != NULL);
    resp_free(&r);
    TEST_EXPECT_INT(emu_changes(&prod), 0);
    /* The download endpoint says the same. */
    char path[96];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/download", id);
    TEST_ASSERT(call("GET", path, NULL, 409, &r));
    TEST_EXPECT(strstr(r.body, "needs key") != NULL);
    resp_free(&r);
}

static void test_rotation_reads_old_backups(void)
{
    struct resp r;
    double old_id = latest_snapshot("sec", &r);
    char old_kid[16];
    snprintf(old_kid, sizeof old_kid, "%s", json_path_str(r.json, "items.0.key_id"));
    resp_free(&r);
    char enc[1400], body[256];
    snprintf(enc, sizeof enc, "{\"key_file\":\"%s\",\"read_keys\":[{\"key_file\":\"%s\"}]}", key_b,
             key_a);
    set_destination_encryption(enc);
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"rotated\"}", old_id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "rotated", original));
    /* New backups use the new key. */
    TEST_ASSERT(call("POST", "/v1/plans/sec/runs?wait=120", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    const char *kid = json_path_str(r.json, "results.0.key_id");
    TEST_EXPECT(kid && strcmp(kid, old_kid) != 0);
    resp_free(&r);
}

/* A safety snapshot taken before overwriting is encrypted like
 * everything else in the destination, and restores. */
static void test_safety_snapshot_is_encrypted(void)
{
    struct resp r;
    double id = latest_snapshot("sec", &r);
    resp_free(&r);
    char body[256], path[96];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"overwrite\":true}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    double safety = json_path_num(r.json, "results.0.safety_snapshot_id");
    resp_free(&r);
    TEST_ASSERT(safety > 0);
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", safety);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "codec"), "aes256gcm");
    TEST_EXPECT(json_path_str(r.json, "key_id") != NULL);
    resp_free(&r);
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"undo\"}", safety);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 200, &r));
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "undo", original));
}

static void test_unreadable_key_fails_before_qdrant(void)
{
    char moved[700], enc[1024];
    struct resp r;
    snprintf(enc, sizeof enc, "{\"key_file\":\"%s\"}", key_b);
    set_destination_encryption(enc);
    snprintf(moved, sizeof moved, "%s.away", key_b);
    TEST_ASSERT(rename(key_b, moved) == 0);
    TEST_ASSERT(emu_clear_requests(&prod) == 0);
    TEST_ASSERT(call("POST", "/v1/plans/sec/runs?wait=120", NULL, 424, &r));
    const char *error = json_path_str(r.json, "run.error");
    TEST_EXPECT(error && strstr(error, "encryption") != NULL);
    resp_free(&r);
    TEST_EXPECT_INT(emu_changes(&prod), 0);
    TEST_ASSERT(rename(moved, key_b) == 0);
}

/* Flips one byte in the middle of the stored object (and keeps its
 * sidecar, so only decoding can tell where). */
static void tamper(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    unsigned char c = 0;
    TEST_ASSERT(fd >= 0 && pread(fd, &c, 1, at) == 1);
    c ^= 0x5a;
    TEST_ASSERT(pwrite(fd, &c, 1, at) == 1);
    close(fd);
}

static void test_tampered_chunk_fails_verify_and_restore(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans/sec/runs?wait=120", NULL, 200, &r));
    resp_free(&r);
    double id = latest_snapshot("sec", &r);
    char location[1024];
    snprintf(location, sizeof location, "%s", json_path_str(r.json, "items.0.location"));
    double size = json_path_num(r.json, "items.0.size");
    resp_free(&r);
    tamper(location, (off_t)(size / 2));
    char path[96], body[256];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/verify", id);
    TEST_ASSERT(call("POST", path, NULL, 409, &r));
    TEST_EXPECT(strstr(r.body, "chunk") != NULL);
    resp_free(&r);
    TEST_ASSERT(emu_clear_requests(&prod) == 0);
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"tampered\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 424, &r));
    const char *error = json_path_str(r.json, "run.error");
    fprintf(stderr, "tampered restore: %s\n", error ? error : "(none)");
    TEST_EXPECT(error && strstr(error, "chunk") != NULL);
    resp_free(&r);
    /* Nothing half-restored is presented as good. */
    TEST_ASSERT(emu_request(&prod, "GET", "/collections/tampered", NULL, &r) == 0);
    TEST_EXPECT(r.status == 404);
    resp_free(&r);
}

static void test_truncated_object_fails_cleanly(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans/sec/runs?wait=120", NULL, 200, &r));
    resp_free(&r);
    double id = latest_snapshot("sec", &r);
    char location[1024];
    snprintf(location, sizeof location, "%s", json_path_str(r.json, "items.0.location"));
    double size = json_path_num(r.json, "items.0.size");
    resp_free(&r);
    TEST_ASSERT(truncate(location, (off_t)(size - 100)) == 0);
    char path[96], body[256];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/verify", id);
    TEST_ASSERT(call("POST", path, NULL, 409, &r));
    resp_free(&r);
    TEST_ASSERT(emu_clear_requests(&prod) == 0);
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"truncated\"}", id);
    TEST_ASSERT(call("POST", "/v1/restores?wait=120", body, 424, &r));
    const char *error = json_path_str(r.json, "run.error");
    TEST_EXPECT(error && strstr(error, "truncated") != NULL);
    resp_free(&r);
    TEST_EXPECT_INT(emu_changes(&prod), 0);
}

/* The catalogue is lost; a rescan rebuilds the codec columns from the
 * manifests, and an encrypted object whose manifest is lost too is
 * reported with the key it needs. */
static void test_rescan_rebuilds_codec_rows(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans/sec/runs?wait=120", NULL, 200, &r));
    char location[1024], kid[16], raw_sha[80];
    snprintf(location, sizeof location, "%s", json_path_str(r.json, "results.0.location"));
    snprintf(kid, sizeof kid, "%s", json_path_str(r.json, "results.0.key_id"));
    resp_free(&r);
    latest_snapshot("sec", &r);
    snprintf(raw_sha, sizeof raw_sha, "%s", json_path_str(r.json, "items.0.raw_sha256"));
    resp_free(&r);
    /* A second object loses its manifest. */
    TEST_ASSERT(call("POST", "/v1/plans/sec/runs?wait=120", NULL, 200, &r));
    char orphan[1024], manifest[1100];
    snprintf(orphan, sizeof orphan, "%s", json_path_str(r.json, "results.0.location"));
    snprintf(manifest, sizeof manifest, "%s.manifest.json", orphan);
    resp_free(&r);
    TEST_ASSERT(unlink(manifest) == 0);

    TEST_ASSERT(qbd_lose_catalogue(&d) == 0);
    char body[2048];
    /* The destination is made again without its key: the report says
     * which key the orphan needs. */
    snprintf(body, sizeof body,
             "{\"name\":\"enc\",\"kind\":\"local\",\"settings\":{\"path\":\"%s\"}}", enc_dir);
    TEST_ASSERT(call("POST", "/v1/destinations", body, 201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/destinations/enc/rescan", NULL, 200, &r));
    TEST_EXPECT(json_path_num(r.json, "imported") >= 1);
    bool reported = false;
    const cJSON *note;
    cJSON_ArrayForEach(note, json_path(r.json, "notes"))
    {
        const char *reason = json_path_str(note, "reason");
        if (reason && strstr(reason, "no manifest") && strstr(reason, "needs key"))
            reported = true;
    }
    if (!reported)
        fprintf(stderr, "rescan: %s\n", r.body);
    TEST_EXPECT(reported);
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/snapshots?limit=1000", NULL, 200, &r));
    bool found = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, json_path(r.json, "items"))
    {
        const char *loc = json_path_str(it, "location");
        TEST_EXPECT(!loc || strcmp(loc, orphan) != 0); /* never catalogued from a guess */
        if (loc && strcmp(loc, location) == 0) {
            found = true;
            TEST_EXPECT_STR(json_path_str(it, "codec"), "zstd+aes256gcm");
            TEST_EXPECT_STR(json_path_str(it, "key_id"), kid);
            TEST_EXPECT_STR(json_path_str(it, "raw_sha256"), raw_sha);
        }
    }
    TEST_EXPECT(found);
    resp_free(&r);
}

int main(void)
{
    if (emu_start(&prod, NULL) != 0)
        return 1;
    if (emu_create_collection(&prod, "items", 4) || emu_upsert(&prod, "items", 300, 3))
        return 1;
    original = emu_points(&prod, "items");
    const char *const args[] = {"--qdrant-url", prod.url, NULL};
    if (!original || qbd_start(&d, args, NULL) != 0)
        return 1;
    snprintf(key_a, sizeof key_a, "%s/var/a.key", d.dir);
    snprintf(key_b, sizeof key_b, "%s/var/b.key", d.dir);
    snprintf(enc_dir, sizeof enc_dir, "%s/var/enc", d.dir);
    if (!qbd_write_key_file(key_a, key_a_b64, sizeof key_a_b64) ||
        !qbd_write_key_file(key_b, NULL, 0))
        return 1;
    TEST_RUN(test_bad_configuration_refused);
    TEST_RUN(test_configuration_round_trip);
    TEST_RUN(test_encrypted_backup_restores_both_ways);
    TEST_RUN(test_streamed_set_encrypted);
    TEST_RUN(test_plain_plan_stays_raw);
    TEST_RUN(test_wrong_key_touches_nothing);
    TEST_RUN(test_rotation_reads_old_backups);
    TEST_RUN(test_safety_snapshot_is_encrypted);
    TEST_RUN(test_unreadable_key_fails_before_qdrant);
    TEST_RUN(test_tampered_chunk_fails_verify_and_restore);
    TEST_RUN(test_truncated_object_fails_cleanly);
    TEST_RUN(test_rescan_rebuilds_codec_rows);
    /* The key never reached the daemon's log. */
    FILE *log = fopen(d.log_path, "r");
    char line[4096];
    bool leaked = false;
    while (log && fgets(line, sizeof line, log))
        leaked |= strstr(line, key_a_b64) != NULL;
    if (log)
        fclose(log);
    TEST_EXPECT(!leaked);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&prod), 0);
    emu_cleanup(&prod);
    free(original);
    return TEST_RESULT();
}
