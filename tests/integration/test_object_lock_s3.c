/* SPDX-License-Identifier: Apache-2.0
 *
 * test_object_lock_s3.c -- immutable backups on the real S3 server (Ceph
 * RGW, started by scripts/test): the destination check reports Object
 * Lock on a bucket created with it and its absence on one without; a plan
 * asking for a lock on the latter fails its run and stores nothing; a plan
 * with retention.object_lock writes every object (snapshot, manifest)
 * locked until the date the catalogue records, which HEAD shows; retention
 * keeps a locked snapshot ("locked until ...") and an API delete is refused
 * (409) with the object and row staying; when the catalogue thinks the
 * date has passed but S3 does not, retention's delete is refused once
 * (502 AccessDenied, reported per snapshot) and the row stays; a rescan
 * rebuilds the rows with their lock; a cluster backup set's shard objects
 * and manifest are locked too; S3 itself refuses an early
 * delete of the locked version (AccessDenied) and accepts it once the
 * date has passed (a lock a few seconds long, written through the storage
 * layer, multipart with its sidecar).  Needs S3_ENDPOINT, AWS_* and
 * QB_S3_BUCKET; exits 77 without them unless QB_REQUIRE_S3=1.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"
#include "remote/http_client.h"
#include "remote/s3_client.h"
#include "s3_env.h"
#include "storage/storage.h"
#include "util/rfc3339.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct emu e;
static struct emu_cluster cl;
static struct qbd d;
static struct s3_env plain, locked; /* QB_S3_BUCKET, and "<it>-lock" with Object Lock */
static char lock_bucket[80];
static char prefix[64];

static bool request_ok(const char *method, const char *path, const char *body, long want,
                       struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

static void add_destination(const char *name, const struct s3_env *env)
{
    char body[1024];
    struct resp r;
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"kind\":\"s3\",\"settings\":{\"bucket\":\"%s\",\"prefix\":\"%s\","
             "\"endpoint\":\"%s\",\"region\":\"%s\",\"path_style\":true},"
             "\"credentials\":{\"access_key\":\"%s\",\"secret_key\":\"%s\"}}",
             name, env->bucket, prefix, env->endpoint, env->region, env->access_key,
             env->secret_key);
    TEST_ASSERT(request_ok("POST", "/v1/destinations", body, 201, &r));
    resp_free(&r);
}

static void test_check_reports_object_lock(void)
{
    struct resp r;
    add_destination("locked", &locked);
    add_destination("plain", &plain);
    TEST_ASSERT(request_ok("POST", "/v1/destinations/locked/check", NULL, 200, &r));
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "ok")));
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "object_lock.enabled")));
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "object_lock.default_mode")));
    resp_free(&r);
    TEST_ASSERT(request_ok("POST", "/v1/destinations/plain/check", NULL, 200, &r));
    TEST_EXPECT(cJSON_IsFalse(json_path(r.json, "object_lock.enabled")));
    resp_free(&r);
    TEST_ASSERT(request_ok("POST", "/v1/destinations/local/check", NULL, 200, &r));
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "object_lock")));
    resp_free(&r);
}

static void test_plan_body_refused(void)
{
    static const struct {
        const char *retention, *detail;
    } cases[] = {
        {"{\"keep_last\":2,\"object_lock\":{\"mode\":\"governance\"}}",
         "retention.object_lock.days: required when retention has no max_age"},
        {"{\"object_lock\":{\"mode\":\"legal-hold\",\"days\":1}}",
         "retention.object_lock.mode: must be"},
        {"{\"object_lock\":{\"mode\":\"compliance\",\"days\":40000}}",
         "retention.object_lock.days: must be between 1 and 36500"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        char body[512];
        struct resp r;
        snprintf(body, sizeof body,
                 "{\"name\":\"bad\",\"destination\":\"locked\",\"collections\":[\"docs\"],"
                 "\"retention\":%s}",
                 cases[i].retention);
        TEST_ASSERT(qbd_request(&d, "POST", "/v1/plans", body, NULL, &r) == 0);
        EXPECT_PROBLEM(r, 400, "invalid_field");
        const char *detail = json_path_str(r.json, "detail");
        TEST_EXPECT(detail && strstr(detail, cases[i].detail));
        resp_free(&r);
    }
    /* A folder cannot lock: refused when the plan is written. */
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/plans",
                            "{\"name\":\"bad\",\"destination\":\"local\",\"collections\":"
                            "[\"docs\"],\"retention\":{\"object_lock\":{\"mode\":\"governance\","
                            "\"days\":1}}}",
                            NULL, &r) == 0);
    EXPECT_PROBLEM(r, 400, "invalid_field");
    TEST_EXPECT_STR(json_path_str(r.json, "field"), "retention.object_lock");
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/plans/bad", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 404);
    resp_free(&r);
}

/* Never silently unlocked: the run fails before anything is stored. */
static void test_lock_on_plain_bucket_fails_the_run(void)
{
    struct resp r;
    TEST_ASSERT(request_ok("POST", "/v1/plans",
                           "{\"name\":\"nolock\",\"destination\":\"plain\",\"collections\":"
                           "[\"docs\"],\"key_prefix\":\"nolock\",\"retention\":{\"keep_last\":1,"
                           "\"object_lock\":{\"mode\":\"governance\",\"days\":1}}}",
                           201, &r));
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/plans/nolock/runs?wait=120", NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 424, "run_failed");
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "failed");
    const char *error = json_path_str(r.json, "run.error");
    TEST_EXPECT(error && strstr(error, "without S3 Object Lock enabled"));
    resp_free(&r);
    /* Nothing under the plan's key prefix. */
    char p[128];
    snprintf(p, sizeof p, "%snolock/", prefix);
    TEST_EXPECT_INT(s3_env_objects(&plain, p), 0);
}

static double snapshot_of_run(struct resp *r)
{
    TEST_EXPECT_STR(json_path_str(r->json, "state"), "succeeded");
    return json_path_num(r->json, "results.0.snapshot_id");
}

static void test_locked_backup_kept_and_refused(void)
{
    struct resp r;
    char path[96], key[512], want[256];
    TEST_ASSERT(
        request_ok("POST", "/v1/plans",
                   "{\"name\":\"lp\",\"destination\":\"locked\",\"collections\":[\"docs\"],"
                   "\"retention\":{\"keep_last\":1,\"object_lock\":{\"mode\":\"governance\","
                   "\"days\":1}}}",
                   201, &r));
    resp_free(&r);
    int64_t before = qb_now_ms() / 1000;
    TEST_ASSERT(request_ok("POST", "/v1/plans/lp/runs?wait=120", NULL, 200, &r));
    double first = snapshot_of_run(&r);
    resp_free(&r);

    /* The catalogue records the date, a day from the run's start. */
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", first);
    TEST_ASSERT(request_ok("GET", path, NULL, 200, &r));
    int64_t until = 0;
    char lu[32];
    snprintf(lu, sizeof lu, "%s",
             json_path_str(r.json, "locked_until") ? json_path_str(r.json, "locked_until") : "");
    TEST_ASSERT(rfc3339_parse(lu, RFC3339_ANY, &until));
    TEST_EXPECT(until >= before + 86400 && until <= qb_now_ms() / 1000 + 86400);
    snprintf(want, sizeof want, "s3://%s/%s", locked.bucket, prefix);
    const char *location = json_path_str(r.json, "location");
    TEST_ASSERT(location && strncmp(location, want, strlen(want)) == 0);
    snprintf(key, sizeof key, "%s", location + strlen("s3://") + strlen(locked.bucket) + 1);
    resp_free(&r);

    /* What S3 holds, read directly: the object and its manifest locked in
     * GOVERNANCE mode until exactly that date. */
    struct s3_client *c = s3_env_client(&locked);
    TEST_ASSERT(c != NULL);
    char err[QB_ERRBUF_SIZE];
    char manifest[600];
    snprintf(manifest, sizeof manifest, "%s.manifest.json", key);
    const char *keys[] = {key, manifest};
    for (int i = 0; i < 2; i++) {
        struct s3_object_info info;
        TEST_ASSERT(s3_head_object(c, keys[i], &info, err, sizeof err) == QB_OK);
        int64_t t = 0;
        TEST_EXPECT_STR(info.lock_mode ? info.lock_mode : "", "GOVERNANCE");
        TEST_EXPECT(info.lock_until && rfc3339_parse(info.lock_until, RFC3339_ANY, &t));
        TEST_EXPECT_INT(t, until);
        TEST_EXPECT(info.version_id != NULL);
        s3_object_info_free(&info);
    }

    /* A second run: keep_last 1 would drop the first, but it is locked. */
    TEST_ASSERT(request_ok("POST", "/v1/plans/lp/runs?wait=120", NULL, 200, &r));
    double second = snapshot_of_run(&r);
    TEST_EXPECT(second > first);
    TEST_EXPECT_INT(json_path_num(r.json, "results.0.retention_deleted"), 0);
    resp_free(&r);
    TEST_ASSERT(request_ok("POST", "/v1/plans/lp/retention", NULL, 200, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "deleted"), 0);
    const cJSON *dec = json_path(r.json, "targets.0.decisions");
    char reason[64];
    snprintf(reason, sizeof reason, "locked until %s", lu);
    bool reported = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, dec)
    {
        if (json_path_num(it, "snapshot_id") == first) {
            TEST_EXPECT(cJSON_IsTrue(json_path(it, "keep")));
            TEST_EXPECT_STR(json_path_str(it, "reason"), reason);
            reported = true;
        }
    }
    TEST_EXPECT(reported);
    resp_free(&r);

    /* An early delete through the API: 409 naming the date; row and
     * object stay. */
    TEST_ASSERT(qbd_request(&d, "DELETE", path, NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 409, "conflict");
    const char *detail = json_path_str(r.json, "detail");
    TEST_EXPECT(detail && strstr(detail, "locked until") && strstr(detail, "Object Lock"));
    resp_free(&r);
    TEST_ASSERT(request_ok("GET", path, NULL, 200, &r));
    resp_free(&r);
    struct s3_object_info info;
    TEST_EXPECT_INT(s3_head_object(c, key, &info, err, sizeof err), QB_OK);
    s3_object_info_free(&info);

    /* S3 itself refuses to delete the locked version (the path retention
     * takes once the catalogue says the date has passed, e.g. with a
     * clock ahead of S3's): AccessDenied, at once, not retried. */
    int64_t t0 = qb_mono_ms();
    TEST_EXPECT_INT(s3_delete_versions(c, key, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT(strstr(err, "AccessDenied") != NULL);
    TEST_EXPECT(strstr(err, "gave up") == NULL);
    TEST_EXPECT(qb_mono_ms() - t0 < 5000);
    TEST_EXPECT_INT(s3_head_object(c, key, &info, err, sizeof err), QB_OK);
    s3_object_info_free(&info);
    s3_client_destroy(c);
}

/* The catalogue says the lock has passed but S3 disagrees (a clock ahead
 * of S3's): retention tries once, S3 refuses with AccessDenied, and the
 * row and object stay, the refusal reported. */
static void test_s3_refusal_keeps_the_row(void)
{
    struct resp r;
    char sql[160], path[64];
    TEST_ASSERT(request_ok("GET", "/v1/snapshots?plan=lp", NULL, 200, &r));
    double oldest = json_path_num(r.json, "items.1.id");
    char location[512];
    snprintf(location, sizeof location, "%s",
             json_path_str(r.json, "items.1.location") ? json_path_str(r.json, "items.1.location")
                                                       : "");
    resp_free(&r);
    TEST_ASSERT(oldest > 0);
    snprintf(sql, sizeof sql, "UPDATE snapshots SET locked_until = 1 WHERE id = %.0f", oldest);
    TEST_ASSERT(qbd_sql(&d, sql));
    snprintf(sql, sizeof sql, "SELECT count(*) FROM snapshots WHERE id = %.0f AND locked_until = 1",
             oldest);
    TEST_ASSERT(qbd_sql_int(&d, sql) == 1);
    int64_t t0 = qb_mono_ms();
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/plans/lp/retention", NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 502, "remote_failed");
    const char *detail = json_path_str(r.json, "detail");
    TEST_EXPECT(detail && strstr(detail, "AccessDenied"));
    /* The report says which snapshot and why, with what was decided. */
    bool reported = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, json_path(r.json, "report.targets.0.decisions"))
    {
        if (json_path_num(it, "snapshot_id") != oldest)
            continue;
        reported = true;
        TEST_EXPECT(cJSON_IsFalse(json_path(it, "keep")));
        TEST_EXPECT(cJSON_IsFalse(json_path(it, "deleted")));
        const char *why = json_path_str(it, "error");
        TEST_EXPECT(why && strstr(why, "AccessDenied"));
    }
    TEST_EXPECT(reported);
    TEST_EXPECT(qb_mono_ms() - t0 < 10000); /* one refusal, no retry storm */
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", oldest);
    TEST_ASSERT(request_ok("GET", path, NULL, 200, &r));
    resp_free(&r);
    struct s3_client *c = s3_env_client(&locked);
    struct s3_object_info info;
    char err[QB_ERRBUF_SIZE];
    const char *key = location + strlen("s3://") + strlen(locked.bucket) + 1;
    TEST_ASSERT(c != NULL && strlen(location) > strlen(key));
    TEST_EXPECT_INT(s3_head_object(c, key, &info, err, sizeof err), QB_OK);
    s3_object_info_free(&info);
    s3_client_destroy(c);
}

/* A cluster backup set: every shard object (each written by its own
 * transfer thread's storage handle) and the set's manifest are locked
 * until the date its row records. */
static void test_cluster_set_locked(void)
{
    struct resp r;
    char body[256], path[64];
    snprintf(body, sizeof body, "{\"name\":\"cl\",\"url\":\"%s\"}", cl.peer[0].url);
    TEST_ASSERT(request_ok("POST", "/v1/instances", body, 201, &r));
    resp_free(&r);
    TEST_ASSERT(request_ok("POST", "/v1/plans",
                           "{\"name\":\"lpc\",\"instance\":\"cl\",\"destination\":\"locked\","
                           "\"collections\":[\"sharded\"],\"retention\":{\"object_lock\":"
                           "{\"mode\":\"compliance\",\"days\":1}}}",
                           201, &r));
    resp_free(&r);
    TEST_ASSERT(request_ok("POST", "/v1/plans/lpc/runs?wait=180", NULL, 200, &r));
    double id = snapshot_of_run(&r);
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(request_ok("GET", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "layout"), "shards");
    int64_t until = 0;
    const char *lu = json_path_str(r.json, "locked_until");
    TEST_ASSERT(lu && rfc3339_parse(lu, RFC3339_ANY, &until));
    struct s3_client *c = s3_env_client(&locked);
    TEST_ASSERT(c != NULL);
    char err[QB_ERRBUF_SIZE], key[600];
    int shards = 0;
    const cJSON *sh;
    cJSON_ArrayForEach(sh, json_path(r.json, "backup_set.shards"))
    {
        struct s3_object_info info;
        snprintf(key, sizeof key, "%s%s", prefix, json_path_str(sh, "key"));
        TEST_ASSERT(s3_head_object(c, key, &info, err, sizeof err) == QB_OK);
        int64_t t = 0;
        TEST_EXPECT_STR(info.lock_mode ? info.lock_mode : "", "COMPLIANCE");
        TEST_EXPECT(info.lock_until && rfc3339_parse(info.lock_until, RFC3339_ANY, &t));
        TEST_EXPECT_INT(t, until);
        s3_object_info_free(&info);
        shards++;
    }
    TEST_EXPECT_INT(shards, 2);
    /* The set's manifest: "<set key>.manifest.json", next to the shards. */
    const char *first = json_path_str(r.json, "backup_set.shards.0.key");
    const char *slash = first ? strrchr(first, '/') : NULL;
    TEST_ASSERT(slash != NULL);
    snprintf(key, sizeof key, "%s%.*s.manifest.json", prefix, (int)(slash - first), first);
    struct s3_object_info info;
    TEST_EXPECT_INT(s3_head_object(c, key, &info, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(info.lock_mode ? info.lock_mode : "", "COMPLIANCE");
    s3_object_info_free(&info);
    s3_client_destroy(c);
    resp_free(&r);
}

/* A catalogue rebuilt from the bucket keeps the lock: rescanning a second
 * destination on the same bucket and prefix imports lp's snapshots with
 * the date S3 reports, so retention keeps them and a delete is refused. */
static void test_rescan_keeps_lock(void)
{
    struct resp r;
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\":\"again\",\"kind\":\"s3\",\"settings\":{\"bucket\":\"%s\","
             "\"prefix\":\"%s\",\"endpoint\":\"%s\",\"region\":\"%s\",\"path_style\":true},"
             "\"credentials\":{\"access_key\":\"%s\",\"secret_key\":\"%s\"}}",
             locked.bucket, prefix, locked.endpoint, locked.region, locked.access_key,
             locked.secret_key);
    TEST_ASSERT(request_ok("POST", "/v1/destinations", body, 201, &r));
    resp_free(&r);
    TEST_ASSERT(request_ok("POST", "/v1/destinations/again/rescan", NULL, 200, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "imported"), 2);
    /* lp's snapshots are still catalogued in the first destination, so
     * rescan links an object whose snapshot it recognises (instance,
     * collection, Qdrant snapshot name, SHA-256) as a second copy of it
     * (engine/copies.h) instead of cataloguing it twice.  Two backups of
     * the same data in the same second have the same name and checksum,
     * and only one of them can take the link: how many rows are rebuilt
     * depends on timing, rows plus links do not. */
    int links = 0;
    const cJSON *note;
    cJSON_ArrayForEach(note, json_path(r.json, "notes"))
    {
        const char *w = json_path_str(note, "warning");
        links += w && strstr(w, "linked to it as a copy") != NULL;
    }
    resp_free(&r);
    TEST_ASSERT(request_ok("GET", "/v1/snapshots", NULL, 200, &r));
    int rebuilt = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, json_path(r.json, "items"))
    {
        const char *dest = json_path_str(it, "destination");
        if (!dest || strcmp(dest, "again") != 0)
            continue;
        rebuilt++;
        int64_t until = 0;
        const char *lu = json_path_str(it, "locked_until");
        TEST_EXPECT(lu && rfc3339_parse(lu, RFC3339_ANY, &until));
        TEST_EXPECT(until > qb_now_ms() / 1000 + 86000);
        if (rebuilt == 1) {
            char path[64];
            struct resp del;
            snprintf(path, sizeof path, "/v1/snapshots/%.0f", json_path_num(it, "id"));
            TEST_ASSERT(qbd_request(&d, "DELETE", path, NULL, NULL, &del) == 0);
            EXPECT_PROBLEM(del, 409, "conflict");
            resp_free(&del);
        }
    }
    TEST_EXPECT_INT(rebuilt + links, 2);
    resp_free(&r);
}

/* Written through the storage layer with a lock ten seconds long: a
 * multipart object and its sidecar are both locked, deleting their
 * versions is refused before the date and succeeds once it has passed. */
static enum qb_err try_delete(struct storage *st, const char *key, char *err, size_t errlen)
{
    return storage_delete_versions(st, (const char *const[]){key}, 1, err, errlen);
}

struct expiry {
    struct storage *st;
    const char *key;
    enum qb_err rc;
    char err[QB_ERRBUF_SIZE];
};

static bool deleted(void *ctx)
{
    struct expiry *x = ctx;
    x->rc = try_delete(x->st, x->key, x->err, sizeof x->err);
    return x->rc == QB_OK;
}

static void test_short_lock_expires(void)
{
    cJSON *settings = cJSON_CreateObject(), *secret = cJSON_CreateObject();
    cJSON_AddStringToObject(settings, "bucket", locked.bucket);
    cJSON_AddStringToObject(settings, "prefix", prefix);
    cJSON_AddStringToObject(settings, "endpoint", locked.endpoint);
    cJSON_AddStringToObject(settings, "region", locked.region);
    cJSON_AddBoolToObject(settings, "path_style", true);
    cJSON_AddNumberToObject(settings, "part_size", 5 * 1024 * 1024);
    cJSON_AddStringToObject(secret, "access_key", locked.access_key);
    cJSON_AddStringToObject(secret, "secret_key", locked.secret_key);
    struct storage *st = NULL;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = storage_open_json("s3", settings, secret, false, &st, err, sizeof err);
    cJSON_Delete(settings);
    cJSON_Delete(secret);
    TEST_ASSERT(rc == QB_OK);

    /* Long enough for the write and the checks below under sanitizers,
     * short enough to poll for. */
    int64_t until = qb_now_ms() / 1000 + 10;
    TEST_EXPECT_INT(storage_set_lock(st, "GOVERNANCE", until, err, sizeof err), QB_OK);
    struct storage_writer *w = NULL;
    size_t len = 11u * 1024 * 1024; /* three parts */
    char *data = xmalloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 131 + (i >> 12));
    TEST_ASSERT(storage_write_begin(st, "short/lock.bin", len, &w, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(storage_write(w, data, len, err, sizeof err), QB_OK);
    struct storage_write_result res = {0};
    TEST_EXPECT_INT(storage_write_finish(w, &res, err, sizeof err), QB_OK);
    free(res.location);
    free(data);

    struct storage_object_info info;
    TEST_ASSERT(storage_head(st, "short/lock.bin", &info, err, sizeof err) == QB_OK);
    TEST_EXPECT_STR(info.lock_mode, "GOVERNANCE");
    TEST_EXPECT_INT(info.locked_until, until);
    TEST_EXPECT_INT(info.size, len);
    struct s3_client *c = s3_env_client(&locked);
    char side[160];
    snprintf(side, sizeof side, "%sshort/lock.bin.sha256", prefix);
    struct s3_object_info si;
    TEST_ASSERT(c && s3_head_object(c, side, &si, err, sizeof err) == QB_OK);
    TEST_EXPECT_STR(si.lock_mode ? si.lock_mode : "", "GOVERNANCE");
    s3_object_info_free(&si);

    TEST_EXPECT(qb_now_ms() / 1000 < until); /* still locked: the refusal is the lock's */
    TEST_EXPECT_INT(try_delete(st, "short/lock.bin", err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT(strstr(err, "AccessDenied") != NULL);
    /* Polled: S3 accepts once its clock has passed the date. */
    struct expiry x = {.st = st, .key = "short/lock.bin"};
    TEST_EXPECT(harness_wait_until(deleted, &x, 40000));
    TEST_EXPECT_INT(x.rc, QB_OK);
    TEST_EXPECT_INT(storage_head(st, "short/lock.bin", &info, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_INT(s3_head_object(c, side, &si, err, sizeof err), QB_ERR_NOT_FOUND);
    s3_client_destroy(c);
    storage_close(st);
}

int main(void)
{
    int skip = s3_env_load(&plain);
    if (skip)
        return skip;
    char err[QB_ERRBUF_SIZE];
    if (http_client_global_init(err, sizeof err))
        return 1;
    snprintf(prefix, sizeof prefix, "objlock-%d/", (int)getpid());
    snprintf(lock_bucket, sizeof lock_bucket, "%.60s-lock", plain.bucket);
    locked = plain;
    locked.bucket = lock_bucket;
    if (s3_env_create_bucket(&plain) != 0)
        return 1;
    struct s3_client *c = s3_env_client(&locked);
    if (!c || s3_create_bucket_locked(c, err, sizeof err)) {
        fprintf(stderr, "lock bucket: %s\n", err);
        return 1;
    }
    s3_client_destroy(c);
    if (emu_start(&e, NULL) != 0 || emu_create_collection(&e, "docs", 4) ||
        emu_upsert(&e, "docs", 10, 3))
        return 1;
    if (emu_cluster_start(&cl, 2, NULL) != 0 ||
        emu_cluster_create_collection(&cl, "sharded", 4, 2, 1) != 0 ||
        emu_upsert_range(&cl.peer[0], "sharded", 1, 40, 5, NULL) != 0)
        return 1;
    const char *const args[] = {"--qdrant-url", e.url, NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_check_reports_object_lock);
    TEST_RUN(test_plan_body_refused);
    TEST_RUN(test_lock_on_plain_bucket_fails_the_run);
    TEST_RUN(test_locked_backup_kept_and_refused);
    TEST_RUN(test_s3_refusal_keeps_the_row);
    TEST_RUN(test_rescan_keeps_lock);
    TEST_RUN(test_cluster_set_locked);
    TEST_RUN(test_short_lock_expires);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    TEST_EXPECT(!qbd_log_contains(&d, plain.secret_key));
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
    TEST_EXPECT_INT(emu_cluster_stop(&cl), 0);
    emu_cluster_cleanup(&cl);
    return TEST_RESULT();
}
