/* SPDX-License-Identifier: Apache-2.0
 *
 * test_restores.c -- restores end to end against two emulated Qdrant
 * instances and the local-folder destination: the seed's disaster (delete
 * the collection, restore "latest") by upload and by URL with identical
 * points; a staging refresh into another instance under another name
 * leaving the source untouched; 409 without overwrite changing nothing;
 * the safety snapshot taken and restorable; a corrupted stored object
 * failing before Qdrant's data is replaced; the download endpoint, and its
 * 502 for a stored object lost behind qbackupd's back; and a catalogue
 * rebuilt by rescan after the SQLite file is lost; an overwrite restore
 * recreating the collection as backed up (configuration, payload indexes,
 * aliases), also over one with another vector size.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct emu prod, staging;
static struct qbd d;
static char *original; /* points of "products" as backed up */

static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

static bool restore(const char *body, long want, struct resp *r)
{
    return call("POST", "/v1/restores?wait=120", body, want, r);
}

static void test_disaster_by_upload_and_url(void)
{
    struct resp r;
    /* Stored raw: these tests tamper with, range-read and hand out the
     * archive itself (test_codec_e2e covers compressed and encrypted). */
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"prod\",\"collections\":[\"products\"],"
                     "\"compression\":{\"codec\":\"none\"}}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/prod/runs?wait=120", NULL, 200, &r));
    resp_free(&r);

    /* The colleague's script runs against production. */
    TEST_ASSERT(emu_request(&prod, "DELETE", "/collections/products", NULL, &r) == 0);
    resp_free(&r);
    TEST_ASSERT(restore("{\"plan\":\"prod\",\"collection\":\"products\",\"snapshot\":\"latest\"}",
                        200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "kind"), "restore");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.method"), "upload");
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "products", original));
    /* Qdrant keeps an uploaded file among the collection's snapshots
     * (CONTRACT §4): the restore removed it, nothing is left on its disk. */
    TEST_ASSERT(emu_request(&prod, "GET", "/collections/products/snapshots", NULL, &r) == 0);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "result")), 0);
    resp_free(&r);

    TEST_ASSERT(emu_request(&prod, "DELETE", "/collections/products", NULL, &r) == 0);
    resp_free(&r);
    TEST_ASSERT(restore("{\"plan\":\"prod\",\"collection\":\"products\",\"snapshot\":\"latest\","
                        "\"method\":\"url\"}",
                        200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.method"), "url");
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "products", original));
}

static void test_staging_refresh_leaves_source_untouched(void)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"staging\",\"url\":\"%s\"}", staging.url);
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/instances", body, 201, &r));
    resp_free(&r);
    const char *refresh = "{\"plan\":\"prod\",\"collection\":\"products\",\"snapshot\":"
                          "\"latest\",\"target_instance\":\"staging\","
                          "\"target_collection\":\"products_copy\"}";
    const char *const key[] = {"Idempotency-Key: refresh-2026-11-25", NULL};
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/restores?wait=120", refresh, key, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.target_instance"), "staging");
    /* The stored request says what was asked, by name: no internal ids. */
    TEST_EXPECT_STR(json_path_str(r.json, "request.target_instance"), "staging");
    TEST_EXPECT_STR(json_path_str(r.json, "request.target_collection"), "products_copy");
    TEST_EXPECT(json_path(r.json, "request.target_instance_id") == NULL);
    double id = json_path_num(r.json, "id");
    resp_free(&r);
    /* A CI retry replays the run: no second restore, and no 409 although
     * the target exists now. */
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/restores", refresh, key, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_STR(resp_header(&r, "Idempotent-Replayed"), "true");
    TEST_EXPECT_INT(json_path_num(r.json, "id"), id);
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/restores?wait=60", refresh, key, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_STR(resp_header(&r, "Idempotent-Replayed"), "true");
    TEST_EXPECT_INT(json_path_num(r.json, "id"), id);
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&staging, "products_copy", original));
    TEST_EXPECT(emu_points_equal(&prod, "products", original));
}

static void test_overwrite_refused_without_flag(void)
{
    struct resp r;
    TEST_ASSERT(emu_upsert(&prod, "products", 5, 99) == 0); /* the live data moved on */
    char *live = emu_points(&prod, "products");
    TEST_ASSERT(live != NULL);
    TEST_ASSERT(restore("{\"plan\":\"prod\",\"collection\":\"products\",\"snapshot\":\"latest\"}",
                        409, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "code"), "conflict");
    TEST_EXPECT_STR(json_path_str(r.json, "field"), "overwrite");
    TEST_EXPECT(strstr(json_path_str(r.json, "detail"), "\"overwrite\": true") != NULL);
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "products", live));
    /* No restore run was queued. */
    TEST_ASSERT(call("GET", "/v1/runs?kind=restore", NULL, 200, &r));
    int runs = cJSON_GetArraySize(json_path(r.json, "items"));
    resp_free(&r);
    TEST_EXPECT_INT(runs, 3);
    free(live);
}

static void test_safety_snapshot_taken_and_restorable(void)
{
    struct resp r;
    char *live = emu_points(&prod, "products");
    TEST_ASSERT(live != NULL);
    TEST_ASSERT(restore("{\"plan\":\"prod\",\"collection\":\"products\",\"snapshot\":\"latest\","
                        "\"overwrite\":true}",
                        200, &r));
    double safety = json_path_num(r.json, "results.0.safety_snapshot_id");
    resp_free(&r);
    TEST_ASSERT(safety > 0);
    TEST_EXPECT(emu_points_equal(&prod, "products", original));

    /* The replaced data is one restore away. */
    char body[200];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"undo\"}", safety);
    TEST_ASSERT(restore(body, 200, &r));
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "undo", live));
    free(live);
}

static void test_corrupted_object_fails_before_replacing(void)
{
    struct resp r;
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=prod&limit=1", NULL, 200, &r));
    char location[1024];
    snprintf(location, sizeof location, "%s", json_path_str(r.json, "items.0.location"));
    double id = json_path_num(r.json, "items.0.id");
    resp_free(&r);
    TEST_ASSERT(emu_upsert(&prod, "products", 3, 7) == 0);
    char *live = emu_points(&prod, "products");

    /* Flip one byte in the middle of the stored object. */
    int fd = open(location, O_RDWR);
    TEST_ASSERT(fd >= 0);
    off_t mid = lseek(fd, 0, SEEK_END) / 2;
    unsigned char byte = 0;
    TEST_ASSERT(pread(fd, &byte, 1, mid) == 1);
    byte ^= 0xff;
    TEST_ASSERT(pwrite(fd, &byte, 1, mid) == 1);
    close(fd);

    char body[200];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"overwrite\":true}", id);
    const char *const key[] = {"Idempotency-Key: rollback-corrupt", NULL};
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/restores?wait=120", body, key, &r) == 0);
    TEST_EXPECT_INT(r.status, 424);
    const char *error = json_path_str(r.json, "run.error");
    TEST_EXPECT(error && strstr(error, "hecksum") != NULL);
    double failed_id = json_path_num(r.json, "run.id");
    resp_free(&r);
    /* Replayed without wait: the original outcome, a failure (424), never
     * a bare 200 a rollback script would take for success. */
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/restores", body, key, &r) == 0);
    TEST_EXPECT_INT(r.status, 424);
    TEST_EXPECT_INT(json_path_num(r.json, "run.id"), failed_id);
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "failed");
    TEST_EXPECT_STR(resp_header(&r, "Idempotent-Replayed"), "true");
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "products", live));
    /* verify reports the damage too: 409, and recorded on the snapshot */
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/verify", id);
    TEST_ASSERT(call("POST", path, NULL, 409, &r));
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT(json_path_str(r.json, "verify_error") != NULL);
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "verified_at")));
    resp_free(&r);
    free(live);
}

static void test_download_endpoint(void)
{
    struct resp r;
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=prod&limit=1", NULL, 200, &r));
    double id = json_path_num(r.json, "items.0.id");
    double size = json_path_num(r.json, "items.0.size");
    char sha[65];
    snprintf(sha, sizeof sha, "%s", json_path_str(r.json, "items.0.sha256"));
    resp_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/download", id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_INT((long long)r.len, (long long)size);
    TEST_EXPECT_STR(resp_header(&r, "X-Checksum-SHA256"), sha);
    resp_free(&r);
    const char *const range[] = {"Range: bytes=10-19", NULL};
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, range, &r) == 0);
    TEST_EXPECT_INT(r.status, 206);
    TEST_EXPECT_INT((long long)r.len, 10);
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/download?expires=9999999999&token=00", id);
    TEST_ASSERT(call("GET", path, NULL, 403, &r));
    resp_free(&r);
}

/* GET path (a bearer route) and url (a download token) both answer 502
 * remote_failed, before the first byte: no 200 cut short, no 404. */
static void expect_download_502(const char *path, const char *url)
{
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 502, "remote_failed");
    resp_free(&r);
    TEST_ASSERT(harness_http("GET", url, NULL, NULL, 30, &r) == 0);
    EXPECT_PROBLEM(r, 502, "remote_failed");
    resp_free(&r);
}

/* A stored object lost or cut short behind qbackupd's back: the download
 * says so with a 502 before sending anything, for a viewer and for the
 * token Qdrant fetches with, rather than a 200 and a cut stream or a 404
 * as if the catalogue had no such snapshot. */
static void test_download_of_missing_object_is_502(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans/prod/runs?wait=120", NULL, 200, &r));
    char location[1024];
    snprintf(location, sizeof location, "%s", json_path_str(r.json, "results.0.location"));
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=prod&limit=1", NULL, 200, &r));
    double id = json_path_num(r.json, "items.0.id");
    TEST_EXPECT_STR(json_path_str(r.json, "items.0.location"), location);
    resp_free(&r);
    TEST_ASSERT(emu_clear_requests(&prod) == 0);
    char body[200];
    snprintf(body, sizeof body,
             "{\"snapshot_id\":%.0f,\"target_collection\":\"by_token\",\"method\":\"url\"}", id);
    TEST_ASSERT(restore(body, 200, &r));
    resp_free(&r);
    char url[1024];
    TEST_ASSERT(emu_last_recover_url(&prod, url, sizeof url));
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f/download", id);

    /* Cut short: the first half is still there. */
    int fd = open(location, O_RDWR);
    TEST_ASSERT(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    TEST_ASSERT(size > 2 && ftruncate(fd, size / 2) == 0);
    close(fd);
    expect_download_502(path, url);

    /* Gone. */
    TEST_ASSERT(unlink(location) == 0);
    expect_download_502(path, url);
    const char *const range[] = {"Range: bytes=0-9", NULL};
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, range, &r) == 0);
    EXPECT_PROBLEM(r, 502, "remote_failed");
    resp_free(&r);
    /* Deleting what is left works, and leaves the rescan below nothing
     * to import twice. */
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("DELETE", path, NULL, 204, &r));
    resp_free(&r);
}

static void test_rescan_rebuilds_lost_catalogue(void)
{
    struct resp r;
    /* A fresh backup (the newest one was corrupted on purpose above). */
    TEST_ASSERT(call("POST", "/v1/plans/prod/runs?wait=120", NULL, 200, &r));
    char location[1024];
    snprintf(location, sizeof location, "%s", json_path_str(r.json, "results.0.location"));
    resp_free(&r);
    char *backed_up = emu_points(&prod, "products");
    TEST_ASSERT(backed_up != NULL);
    TEST_ASSERT(call("GET", "/v1/snapshots?limit=1000", NULL, 200, &r));
    int before = cJSON_GetArraySize(json_path(r.json, "items"));
    resp_free(&r);

    /* The host's disk dies with the catalogue; the backups survive. */
    TEST_ASSERT(qbd_lose_catalogue(&d) == 0);
    TEST_ASSERT(call("GET", "/v1/snapshots", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), 0);
    resp_free(&r);

    TEST_ASSERT(call("POST", "/v1/destinations/local/rescan", NULL, 200, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "imported"), before);
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/destinations/local/rescan", NULL, 200, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "imported"), 0);
    TEST_EXPECT_INT(json_path_num(r.json, "known"), before);
    resp_free(&r);

    TEST_ASSERT(call("GET", "/v1/snapshots?limit=1000", NULL, 200, &r));
    double id = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, json_path(r.json, "items"))
    {
        const char *loc = json_path_str(it, "location");
        if (loc && strcmp(loc, location) == 0)
            id = json_path_num(it, "id");
    }
    resp_free(&r);
    TEST_ASSERT(id > 0);
    char body[200];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"target_collection\":\"rebuilt\"}", id);
    TEST_ASSERT(restore(body, 200, &r));
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "rebuilt", backed_up));
    free(backed_up);
}

/* Backs up collection coll of prod under plan `plan`; the snapshot id. */
static double backup(const char *plan, const char *coll)
{
    struct resp r;
    char body[256], path[128];
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"collections\":[\"%s\"],\"compression\":{\"codec\":\"none\"}}",
             plan, coll);
    if (!call("POST", "/v1/plans", body, 201, &r))
        return -1;
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/plans/%s/runs?wait=120", plan);
    if (!call("POST", path, NULL, 200, &r))
        return -1;
    double id = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    return id;
}

/* Stand-in scenario y: the collection lost a payload index and got another
 * HNSW `m` (same vectors; the emulator has no PATCH, so it is recreated
 * that way), and an alias points to it.  An overwrite restore brings the
 * collection back as backed up: its index, its HNSW settings, its points,
 * and the alias, which Qdrant drops with the collection.  Before, qbackupd
 * recovered on top of the existing collection, which Qdrant does not
 * reconfigure: the run succeeded with the index missing and the new m. */
static void test_overwrite_restores_config_and_indexes(void)
{
    struct resp r;
    TEST_ASSERT(emu_create_collection(&prod, "catalog", 4) == 0);
    TEST_ASSERT(emu_upsert(&prod, "catalog", 30, 5) == 0);
    TEST_ASSERT(emu_request(&prod, "PUT", "/collections/catalog/index?wait=true",
                            "{\"field_name\":\"seed\",\"field_schema\":\"integer\"}", &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    char *backed_up = emu_points(&prod, "catalog");
    TEST_ASSERT(backed_up != NULL);
    double id = backup("cat", "catalog");
    TEST_ASSERT(id > 0);

    TEST_ASSERT(emu_request(&prod, "DELETE", "/collections/catalog", NULL, &r) == 0);
    resp_free(&r);
    TEST_ASSERT(emu_request(&prod, "PUT", "/collections/catalog",
                            "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                            "\"hnsw_config\":{\"m\":48}}",
                            &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    TEST_ASSERT(emu_upsert(&prod, "catalog", 3, 8) == 0);
    TEST_ASSERT(emu_request(&prod, "POST", "/collections/aliases",
                            "{\"actions\":[{\"create_alias\":{\"collection_name\":\"catalog\","
                            "\"alias_name\":\"catalog_live\"}}]}",
                            &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);

    char body[200];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"overwrite\":true}", id);
    TEST_ASSERT(restore(body, 200, &r));
    TEST_EXPECT(json_path_num(r.json, "results.0.safety_snapshot_id") > 0);
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.aliases.0"), "catalog_live");
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "catalog", backed_up));
    TEST_ASSERT(emu_request(&prod, "GET", "/collections/catalog", NULL, &r) == 0);
    TEST_EXPECT_INT(json_path_num(r.json, "result.config.hnsw_config.m"), 16);
    TEST_EXPECT(json_path(r.json, "result.payload_schema.seed") != NULL);
    resp_free(&r);
    TEST_ASSERT(emu_request(&prod, "GET", "/collections/catalog/aliases", NULL, &r) == 0);
    TEST_EXPECT_STR(json_path_str(r.json, "result.aliases.0.alias_name"), "catalog_live");
    resp_free(&r);
    free(backed_up);
}

/* Stand-in scenario v: the collection was recreated with another vector
 * size.  Qdrant refuses to recover an archive over a collection whose
 * vectors differ (400 "Snapshot is not compatible with existing
 * collection"), so the overwrite restore failed; it replaces it now. */
static void test_overwrite_replaces_other_vector_size(void)
{
    struct resp r;
    TEST_ASSERT(emu_create_collection(&prod, "vsize", 4) == 0);
    TEST_ASSERT(emu_upsert(&prod, "vsize", 20, 6) == 0);
    char *backed_up = emu_points(&prod, "vsize");
    TEST_ASSERT(backed_up != NULL);
    double id = backup("vs", "vsize");
    TEST_ASSERT(id > 0);
    TEST_ASSERT(emu_request(&prod, "DELETE", "/collections/vsize", NULL, &r) == 0);
    resp_free(&r);
    TEST_ASSERT(emu_create_collection(&prod, "vsize", 8) == 0);

    char body[200];
    snprintf(body, sizeof body, "{\"snapshot_id\":%.0f,\"overwrite\":true,\"method\":\"url\"}", id);
    TEST_ASSERT(restore(body, 200, &r));
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "results.0.points_match")));
    resp_free(&r);
    TEST_EXPECT(emu_points_equal(&prod, "vsize", backed_up));
    TEST_ASSERT(emu_request(&prod, "GET", "/collections/vsize", NULL, &r) == 0);
    TEST_EXPECT_INT(json_path_num(r.json, "result.config.params.vectors.size"), 4);
    resp_free(&r);
    free(backed_up);
}

int main(void)
{
    if (emu_start(&prod, NULL) != 0 || emu_start(&staging, NULL) != 0)
        return 1;
    if (emu_create_collection(&prod, "products", 4) || emu_upsert(&prod, "products", 25, 1))
        return 1;
    original = emu_points(&prod, "products");
    const char *const args[] = {"--qdrant-url", prod.url, NULL};
    if (!original || qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_disaster_by_upload_and_url);
    TEST_RUN(test_staging_refresh_leaves_source_untouched);
    TEST_RUN(test_overwrite_refused_without_flag);
    TEST_RUN(test_safety_snapshot_taken_and_restorable);
    TEST_RUN(test_corrupted_object_fails_before_replacing);
    TEST_RUN(test_download_endpoint);
    TEST_RUN(test_download_of_missing_object_is_502);
    TEST_RUN(test_rescan_rebuilds_lost_catalogue);
    TEST_RUN(test_overwrite_restores_config_and_indexes);
    TEST_RUN(test_overwrite_replaces_other_vector_size);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&prod), 0);
    TEST_EXPECT_INT(emu_stop(&staging), 0);
    emu_cleanup(&prod);
    emu_cleanup(&staging);
    free(original);
    return TEST_RESULT();
}
