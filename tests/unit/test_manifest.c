/* SPDX-License-Identifier: Apache-2.0
 *
 * test_manifest.c -- the manifest format (engine/manifest.h) without any
 * storage: what manifest_encode writes, manifest_parse reads back field
 * for field (a snapshot and a backup set); a later version is refused as
 * too new with a message that says so; malformed manifests are refused
 * with a reason naming the member; a compressed or encrypted object's
 * version-2 manifest round-trips and its members are checked.  test_rescan.c covers the same parser
 * behind a real destination.
 */
#include "unit.h"
#include "engine/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHA_A       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA_A_UPPER "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"

/* A snapshot's manifest as backup_job.c describes it. */
static struct manifest snapshot_manifest(void)
{
    struct manifest mf = {
        .plan = "nightly",
        .instance = "prod",
        .kind = "collection",
        .collection = "c1",
        .qdrant_snapshot = "c1-2026-11-25-12-00-00.snapshot",
        .qdrant_version = "1.12.4",
        .qdrant_checksum = SHA_A,
        .key = "nightly/c1/run-7.snapshot",
        .shard_id = -1,
        .size = 123456789,
        .points_count = 42,
        .created_at = 1795608000, /* 2026-11-25T12:00:00Z */
        .run_id = 7,
    };
    memcpy(mf.sha256, SHA_A, sizeof mf.sha256);
    return mf;
}

/* Encodes mf, then parses the text as the manifest of key. */
static enum qb_err round_trip(const struct manifest *mf, const cJSON *set, const char *key,
                              struct manifest *out, char *reason, size_t reasonlen)
{
    char *text = NULL, err[256];
    memset(out, 0, sizeof *out);
    if (manifest_encode(mf, set, &text, err, sizeof err) != QB_OK)
        return QB_ERR_INTERNAL;
    enum qb_err rc = manifest_parse(text, strlen(text), key, out, reason, reasonlen);
    free(text);
    return rc;
}

static void test_keys(void)
{
    char *k = manifest_key("a/b.snapshot");
    TEST_EXPECT_STR(k, "a/b.snapshot.manifest.json");
    char *o = manifest_object_key(k);
    TEST_EXPECT_STR(o, "a/b.snapshot");
    TEST_EXPECT(manifest_is_key(k));
    TEST_EXPECT(!manifest_is_key("a/b.snapshot"));
    TEST_EXPECT(manifest_object_key("a/b.snapshot") == NULL);
    TEST_EXPECT(manifest_object_key("manifest.json") == NULL);
    free(k);
    free(o);
}

static void test_round_trip_snapshot(void)
{
    struct manifest in = snapshot_manifest(), out;
    char reason[256] = "";
    TEST_ASSERT(round_trip(&in, NULL, in.key, &out, reason, sizeof reason) == QB_OK);
    TEST_EXPECT_STR(out.plan, "nightly");
    TEST_EXPECT_STR(out.instance, "prod");
    TEST_EXPECT_STR(out.kind, "collection");
    TEST_EXPECT_STR(out.collection, "c1");
    TEST_EXPECT_STR(out.qdrant_snapshot, in.qdrant_snapshot);
    TEST_EXPECT_STR(out.qdrant_version, "1.12.4");
    TEST_EXPECT_STR(out.qdrant_checksum, SHA_A);
    TEST_EXPECT_STR(out.key, in.key);
    TEST_EXPECT_STR(out.sha256, SHA_A);
    TEST_EXPECT(!out.set);
    TEST_EXPECT_INT(out.shard_id, -1);
    TEST_EXPECT_INT(out.size, 123456789);
    TEST_EXPECT_INT(out.points_count, 42);
    TEST_EXPECT_INT(out.created_at, 1795608000);
    manifest_free(&out);
    TEST_EXPECT(out.tree == NULL);
    manifest_free(NULL);

    /* Optional members absent; plan-less (safety snapshot): "plan": null. */
    in.plan = NULL;
    in.qdrant_version = NULL;
    in.qdrant_checksum = NULL;
    in.points_count = -1;
    in.kind = "shard";
    in.shard_id = 3;
    TEST_ASSERT(round_trip(&in, NULL, in.key, &out, reason, sizeof reason) == QB_OK);
    TEST_EXPECT(out.plan == NULL);
    TEST_EXPECT(out.qdrant_version == NULL);
    TEST_EXPECT(out.qdrant_checksum == NULL);
    TEST_EXPECT_INT(out.points_count, -1);
    TEST_EXPECT_STR(out.kind, "shard");
    TEST_EXPECT_INT(out.shard_id, 3);
    manifest_free(&out);

    /* A full snapshot has no collection, and says so by its absence. */
    in.kind = "full";
    in.collection = NULL;
    in.shard_id = -1;
    TEST_ASSERT(round_trip(&in, NULL, in.key, &out, reason, sizeof reason) == QB_OK);
    TEST_EXPECT(out.collection == NULL);
    TEST_EXPECT_STR(out.kind, "full");
    manifest_free(&out);
}

static void test_round_trip_set(void)
{
    struct manifest in = snapshot_manifest(), out;
    in.set = true;
    in.qdrant_snapshot = "c1";
    in.qdrant_checksum = NULL;
    in.key = "nightly/c1/set-7";
    cJSON *set = cJSON_Parse("{\"format\":1,\"shards\":[{\"shard_id\":0}]}");
    TEST_ASSERT(set);
    char *text = NULL, err[256], reason[256] = "";
    TEST_ASSERT(manifest_encode(&in, set, &text, err, sizeof err) == QB_OK);
    /* A set's object SHA-256 is not written: its manifest's own stands in. */
    TEST_EXPECT(strstr(text, "\"sha256\"") == NULL);
    TEST_EXPECT(strstr(text, "\"layout\":\t\"shards\"") != NULL);
    TEST_ASSERT(manifest_parse(text, strlen(text), in.key, &out, reason, sizeof reason) == QB_OK);
    TEST_EXPECT(out.set);
    TEST_EXPECT_STR(out.kind, "collection");
    TEST_EXPECT_STR(out.key, "nightly/c1/set-7");
    TEST_EXPECT_INT(out.size, 123456789);
    TEST_EXPECT_INT(out.points_count, 42);
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(out.tree, "set"), "shards");
    TEST_EXPECT_INT(cJSON_GetArraySize(shards), 1);
    manifest_free(&out);
    free(text);
    cJSON_Delete(set);
}

#define SHA_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

/* An encrypted, compressed object: version 2, the archive's size and hash
 * apart from the stored ones, Qdrant's checksum equal to the archive's. */
static struct manifest coded_manifest(void)
{
    struct manifest mf = snapshot_manifest();
    mf.codec = "zstd+aes256gcm";
    mf.raw_size = 987654321;
    mf.key_id = "0a1b2c3d";
    mf.qdrant_checksum = SHA_B;
    memcpy(mf.raw_sha256, SHA_B, sizeof mf.raw_sha256);
    return mf;
}

/* Encodes the coded manifest with member replaced (NULL value: removed)
 * and parses it. */
static enum qb_err parse_coded_with(const char *member, const char *value, char *reason,
                                    size_t reasonlen)
{
    struct manifest in = coded_manifest(), out;
    char *text = NULL, err[256];
    if (manifest_encode(&in, NULL, &text, err, sizeof err) != QB_OK)
        return QB_ERR_INTERNAL;
    cJSON *m = cJSON_Parse(text);
    free(text);
    cJSON_DeleteItemFromObjectCaseSensitive(m, member);
    if (value)
        cJSON_AddItemToObject(m, member, cJSON_Parse(value));
    text = cJSON_Print(m);
    cJSON_Delete(m);
    enum qb_err rc = manifest_parse(text, strlen(text), in.key, &out, reason, reasonlen);
    free(text);
    manifest_free(&out);
    return rc;
}

static void test_round_trip_coded(void)
{
    struct manifest in = coded_manifest(), out;
    char *text = NULL, err[256], reason[256] = "";
    TEST_ASSERT(manifest_encode(&in, NULL, &text, err, sizeof err) == QB_OK);
    TEST_EXPECT(strstr(text, "qbackup-manifest-v2") != NULL);
    TEST_ASSERT(manifest_parse(text, strlen(text), in.key, &out, reason, sizeof reason) == QB_OK);
    TEST_EXPECT(manifest_coded(&out));
    TEST_EXPECT_STR(out.codec, "zstd+aes256gcm");
    TEST_EXPECT_INT(out.raw_size, 987654321);
    TEST_EXPECT_STR(out.raw_sha256, SHA_B);
    TEST_EXPECT_STR(out.sha256, SHA_A);
    TEST_EXPECT_STR(out.key_id, "0a1b2c3d");
    TEST_EXPECT_STR(out.qdrant_checksum, SHA_B);
    TEST_EXPECT_INT(out.size, 123456789);
    manifest_free(&out);
    free(text);

    /* Compressed only: no key id. */
    in.codec = "zstd";
    in.key_id = NULL;
    TEST_ASSERT(round_trip(&in, NULL, in.key, &out, reason, sizeof reason) == QB_OK);
    TEST_EXPECT_STR(out.codec, "zstd");
    TEST_EXPECT(out.key_id == NULL);
    manifest_free(&out);

    /* A raw object keeps version 1, read as raw (its archive is itself). */
    struct manifest raw = snapshot_manifest();
    TEST_ASSERT(manifest_encode(&raw, NULL, &text, err, sizeof err) == QB_OK);
    TEST_EXPECT(strstr(text, "qbackup-manifest-v1") != NULL);
    TEST_EXPECT(strstr(text, "\"codec\"") == NULL);
    TEST_ASSERT(manifest_parse(text, strlen(text), raw.key, &out, reason, sizeof reason) == QB_OK);
    TEST_EXPECT(!manifest_coded(&out));
    TEST_EXPECT_STR(out.raw_sha256, SHA_A);
    manifest_free(&out);
    free(text);
}

static void test_malformed_coded(void)
{
    static const struct {
        const char *member, *value, *reason;
    } cases[] = {
        {"codec", NULL, "codec: missing"},
        {"codec", "\"none\"", "codec"},
        {"codec", "\"lz4\"", "codec"},
        {"raw_sha256", NULL, "raw_sha256: missing"},
        {"raw_sha256", "\"xyz\"", "raw_sha256"},
        {"raw_size", NULL, "raw_size: missing"},
        {"raw_size", "-1", "raw_size"},
        {"key_id", NULL, "key_id"},
        {"key_id", "\"0A1B2C3D\"", "key_id"},
        {"qdrant_checksum", "\"" SHA_A "\"", "qdrant_checksum differs from raw_sha256"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        char reason[256] = "";
        TEST_EXPECT_INT(parse_coded_with(cases[i].member, cases[i].value, reason, sizeof reason),
                        QB_ERR_INVALID);
        if (!strstr(reason, cases[i].reason))
            fprintf(stderr, "case %zu: %s\n", i, reason);
        TEST_EXPECT(strstr(reason, cases[i].reason) != NULL);
    }
    /* A compressed-only object has no key id. */
    char reason[256] = "";
    struct manifest in = coded_manifest(), out;
    in.codec = "zstd";
    TEST_EXPECT_INT(round_trip(&in, NULL, in.key, &out, reason, sizeof reason), QB_ERR_INVALID);
    TEST_EXPECT(strstr(reason, "key_id") != NULL);
}

/* Replaces member (NULL value: removes it) in the encoded snapshot
 * manifest and parses the result; returns the code, reason filled. */
static enum qb_err parse_with(const char *member, const char *value, char *reason, size_t reasonlen)
{
    struct manifest in = snapshot_manifest(), out;
    char *text = NULL, err[256];
    if (manifest_encode(&in, NULL, &text, err, sizeof err) != QB_OK)
        return QB_ERR_INTERNAL;
    cJSON *m = cJSON_Parse(text);
    free(text);
    cJSON_DeleteItemFromObjectCaseSensitive(m, member);
    if (value)
        cJSON_AddItemToObject(m, member, cJSON_Parse(value));
    text = cJSON_Print(m);
    cJSON_Delete(m);
    enum qb_err rc = manifest_parse(text, strlen(text), in.key, &out, reason, reasonlen);
    free(text);
    manifest_free(&out);
    return rc;
}

static void test_versions(void)
{
    char reason[256] = "";
    TEST_EXPECT_INT(parse_with("format", "\"qbackup-manifest-v1\"", reason, sizeof reason), QB_OK);

    /* Later versions: refused as too new, and the reason says what to do. */
    const char *newer[] = {"\"qbackup-manifest-v3\"", "\"qbackup-manifest-v10\"",
                           "\"qbackup-manifest-v99999999999999999999999\""};
    for (size_t i = 0; i < QB_ARRAY_LEN(newer); i++) {
        reason[0] = '\0';
        TEST_EXPECT_INT(parse_with("format", newer[i], reason, sizeof reason), QB_ERR_TOO_NEW);
        TEST_EXPECT(strstr(reason, "newer manifest version") != NULL);
        TEST_EXPECT(strstr(reason, "qbackup-manifest-v2") != NULL);
        TEST_EXPECT(strstr(reason, "upgrade qbackupd") != NULL);
    }

    /* Not a version of ours at all: malformed, not "too new". */
    const char *foreign[] = {"\"qbackup-manifest-v0\"",
                             "\"qbackup-manifest-v01\"",
                             "\"qbackup-manifest-v2x\"",
                             "\"qbackup-manifest-v\"",
                             "\"other-manifest-v1\"",
                             "\"QBACKUP-MANIFEST-V1\"",
                             "1",
                             "\"\""};
    for (size_t i = 0; i < QB_ARRAY_LEN(foreign); i++) {
        reason[0] = '\0';
        TEST_EXPECT_INT(parse_with("format", foreign[i], reason, sizeof reason), QB_ERR_INVALID);
        TEST_EXPECT(strncmp(reason, "format", 6) == 0);
    }
    reason[0] = '\0';
    TEST_EXPECT_INT(parse_with("format", NULL, reason, sizeof reason), QB_ERR_INVALID);
    TEST_EXPECT_STR(reason, "format: missing");
}

static void test_malformed(void)
{
    const struct {
        const char *member; /* NULL: value is the whole text */
        const char *value;  /* JSON; NULL removes the member */
        const char *reason; /* the reason starts with this */
    } bad[] = {
        {NULL, "this is { not json", "not valid JSON"},
        {NULL, "", "not valid JSON"},
        {NULL, "[1, 2, 3]", "not a JSON object"},
        {NULL, "\"manifest\"", "not a JSON object"},
        {NULL,
         "{\"format\": \"qbackup-manifest-v1\", \"a\": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}",
         "not valid JSON"},
        {"key", "\"nightly/c1/run-8.snapshot\"", "key: the manifest describes"},
        {"key", NULL, "key: missing"},
        {"instance", NULL, "instance: missing"},
        {"instance", "\"\"", "instance: missing"},
        {"kind", "\"incremental\"", "kind:"},
        {"layout", "\"tiles\"", "layout:"},
        {"collection", NULL, "collection: missing"},
        {"qdrant_snapshot", NULL, "qdrant_snapshot: missing"},
        {"sha256", "\"not-hex\"", "sha256: must be 64 hexadecimal digits"},
        {"sha256", NULL, "sha256: missing"},
        {"qdrant_checksum", "\"" SHA_A_UPPER "0\"", "qdrant_checksum: must be"},
        {"qdrant_checksum", "\"0000000000000000000000000000000000000000000000000000000000000000\"",
         "qdrant_checksum differs from sha256"},
        {"size", NULL, "size: missing"},
        {"size", "-1", "size"},
        {"size", "1.5", "size"},
        {"size", "\"12\"", "size"},
        {"size", "18014398509481984", "size"}, /* 2^54: past exact doubles */
        {"points_count", "\"12\"", "points_count"},
        {"shard_id", "-2", "shard_id"},
        {"created_at", "\"yesterday\"", "created_at:"},
        {"created_at", "\"2026-02-30T00:00:00Z\"", "created_at:"},
        {"created_at", NULL, "created_at: missing"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(bad); i++) {
        char reason[256] = "";
        enum qb_err rc;
        if (bad[i].member) {
            rc = parse_with(bad[i].member, bad[i].value, reason, sizeof reason);
        } else {
            struct manifest out;
            rc = manifest_parse(bad[i].value, strlen(bad[i].value), "k", &out, reason,
                                sizeof reason);
            /* A refused manifest leaves nothing to free and nothing set. */
            TEST_EXPECT(out.tree == NULL && out.key == NULL);
        }
        TEST_EXPECT_INT(rc, QB_ERR_INVALID);
        if (strncmp(reason, bad[i].reason, strlen(bad[i].reason)) != 0)
            TEST_FAIL_AT(__FILE__, __LINE__, "case %zu: reason \"%s\", expected \"%s...\"", i,
                         reason, bad[i].reason);
    }

    /* Upper-case hex is read as lower-case, and unknown members are
     * ignored (a newer writer of the same version may add some). */
    char reason[256] = "";
    TEST_EXPECT_INT(parse_with("sha256", "\"" SHA_A_UPPER "\"", reason, sizeof reason), QB_OK);
    TEST_EXPECT_INT(parse_with("future_member", "{\"x\": 1}", reason, sizeof reason), QB_OK);
}

int main(void)
{
    TEST_RUN(test_keys);
    TEST_RUN(test_round_trip_snapshot);
    TEST_RUN(test_round_trip_set);
    TEST_RUN(test_versions);
    TEST_RUN(test_malformed);
    TEST_RUN(test_round_trip_coded);
    TEST_RUN(test_malformed_coded);
    return TEST_RESULT();
}
