/* SPDX-License-Identifier: Apache-2.0
 *
 * test_oneoff.c -- one-off labelled snapshots and collection selection,
 * end to end against the Qdrant emulator and the local-folder
 * destination: a plan selecting "prod_*" minus "prod_tmp*" resolves at
 * each run's start and records the list on the run (a collection created
 * later is picked up); a pre-deploy run with labels and keep_until, and a
 * pinned one, survive retention (keep_last 1) while plain runs come and
 * go, and the pinned one goes once unpinned; bad input (a bad glob, an
 * exclusion of everything, keep_until in the past, pinned not boolean, an
 * unknown field, labels not strings) is a 400 naming the field with
 * nothing stored.  Scheduled re-verification: with a budget of one
 * snapshot per pass, passes take the snapshots checked longest ago first
 * and find a stored object tampered with behind qbackupd's back
 * (verify_error, the verify.failed event, qbackup_verify_failures_total);
 * a pass reads the snapshots' second copies too, records a tampered copy as
 * failed on the copy, and the plan's next run makes it again.
 * The scheduler's clock runs an hour ahead (--scheduler-clock-offset, as
 * in test_backups), so a reverify schedule written now is due at once.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static struct emu prod;
static struct qbd d;

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
    TEST_EXPECT_STR(resp_header(&r, "Content-Type"), "application/problem+json");
    TEST_EXPECT_STR(json_path_str(r.json, "field"), field);
    resp_free(&r);
}

static bool has_string(const cJSON *arr, const char *s)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, arr)
    {
        if (cJSON_IsString(item) && strcmp(item->valuestring, s) == 0)
            return true;
    }
    return false;
}

/* The number of catalogued snapshots of plan sel. */
static int snapshot_count(void)
{
    struct resp r;
    if (!call("GET", "/v1/snapshots?plan=sel&limit=500", NULL, 200, &r))
        return -1;
    int n = cJSON_GetArraySize(json_path(r.json, "items"));
    resp_free(&r);
    return n;
}

static bool snapshot_exists(double id)
{
    char path[64];
    struct resp r;
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    bool found = qbd_request(&d, "GET", path, NULL, NULL, &r) == 0 && r.status == 200;
    resp_free(&r);
    return found;
}

static void test_patterns_resolved_per_run(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"sel\",\"collections\":[\"prod_*\"],\"exclude\":[\"prod_tmp*\"],"
                     "\"retention\":{\"keep_last\":1}}",
                     201, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "collections.0"), "prod_*");
    TEST_EXPECT_STR(json_path_str(r.json, "exclude.0"), "prod_tmp*");
    resp_free(&r);

    TEST_ASSERT(call("POST", "/v1/plans/sel/runs?wait=120", NULL, 200, &r));
    const cJSON *cols = json_path(r.json, "collections");
    TEST_EXPECT_INT(cJSON_GetArraySize(cols), 2);
    TEST_EXPECT(has_string(cols, "prod_users"));
    TEST_EXPECT(has_string(cols, "prod_orders"));
    TEST_EXPECT(!has_string(cols, "prod_tmp1"));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results")), 2);
    resp_free(&r);

    /* Evaluated at run time: a collection created since is picked up. */
    TEST_ASSERT(emu_create_collection(&prod, "prod_new", 4) == 0);
    TEST_ASSERT(emu_upsert(&prod, "prod_new", 3, 7) == 0);
    TEST_ASSERT(call("POST", "/v1/plans/sel/runs?wait=120", NULL, 200, &r));
    cols = json_path(r.json, "collections");
    TEST_EXPECT_INT(cJSON_GetArraySize(cols), 3);
    TEST_EXPECT(has_string(cols, "prod_new"));
    double id = json_path_num(r.json, "id");
    resp_free(&r);
    /* And the run keeps showing what it resolved. */
    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%.0f", id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "collections")), 3);
    resp_free(&r);
}

static void test_bad_input_stores_nothing(void)
{
    struct resp r;
    TEST_ASSERT(call("GET", "/v1/runs?plan=sel&limit=500", NULL, 200, &r));
    int runs_before = cJSON_GetArraySize(json_path(r.json, "items"));
    resp_free(&r);

    expect_400("POST", "/v1/plans", "{\"name\":\"bad\",\"collections\":[\"prod_**\"]}",
               "collections[0]");
    expect_400("POST", "/v1/plans", "{\"name\":\"bad\",\"collections\":[\"a\",\"p/*\"]}",
               "collections[1]");
    expect_400("POST", "/v1/plans", "{\"name\":\"bad\",\"collections\":\"*\",\"exclude\":[\"*\"]}",
               "exclude[0]");
    expect_400("POST", "/v1/plans", "{\"name\":\"bad\",\"collections\":\"*\",\"exclude\":\"x\"}",
               "exclude");
    expect_400("POST", "/v1/plans",
               "{\"name\":\"bad\",\"full_instance\":true,\"exclude\":[\"prod_tmp*\"]}", "exclude");
    TEST_ASSERT(call("GET", "/v1/plans/bad", NULL, 404, &r));
    resp_free(&r);
    /* A replace with a bad glob leaves the plan as it was. */
    expect_400("PUT", "/v1/plans/sel", "{\"collections\":[\"prod_*\"],\"exclude\":[\"tmp**\"]}",
               "exclude[0]");
    TEST_ASSERT(call("GET", "/v1/plans/sel", NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "exclude.0"), "prod_tmp*");
    resp_free(&r);

    const char *const path = "/v1/plans/sel/runs";
    expect_400("POST", path, "{\"keep_until\":\"2020-01-01T00:00:00Z\"}", "keep_until");
    expect_400("POST", path, "{\"keep_until\":\"next tuesday\"}", "keep_until");
    expect_400("POST", path, "{\"keep_until\":1893456000}", "keep_until");
    expect_400("POST", path, "{\"pinned\":\"yes\"}", "pinned");
    expect_400("POST", path, "{\"pinned\":true,\"colour\":\"red\"}", "colour");
    expect_400("POST", path, "{\"labels\":{\"reason\":1}}", "labels");
    expect_400("POST", path, "{\"labels\":[\"pre-deploy\"]}", "labels");
    TEST_ASSERT(call("GET", "/v1/runs?plan=sel&limit=500", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), runs_before);
    resp_free(&r);
}

static void test_held_and_pinned_survive_retention(void)
{
    struct resp r;
    char body[256], until[32];
    qb_format_time((int64_t)time(NULL) + 86400, until, sizeof until);
    snprintf(body, sizeof body,
             "{\"labels\":{\"reason\":\"pre-deploy\",\"ticket\":\"OPS-12\"},\"keep_until\":\"%s\"}",
             until);
    TEST_ASSERT(call("POST", "/v1/plans/sel/runs?wait=120", body, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "request.labels.reason"), "pre-deploy");
    TEST_EXPECT_STR(json_path_str(r.json, "request.keep_until"), until);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "results")), 3);
    double held = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    char spath[64];
    snprintf(spath, sizeof spath, "/v1/snapshots/%.0f", held);
    TEST_ASSERT(call("GET", spath, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "keep_until"), until);
    TEST_EXPECT_STR(json_path_str(r.json, "labels.ticket"), "OPS-12");
    TEST_EXPECT(cJSON_IsFalse(json_path(r.json, "pinned")));
    resp_free(&r);

    TEST_ASSERT(call("POST", "/v1/plans/sel/runs?wait=120", "{\"pinned\":true}", 200, &r));
    double pinned = json_path_num(r.json, "results.0.snapshot_id");
    resp_free(&r);
    snprintf(spath, sizeof spath, "/v1/snapshots/%.0f", pinned);
    TEST_ASSERT(call("GET", spath, NULL, 200, &r));
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "pinned")));
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "keep_until")));
    resp_free(&r);

    /* Two plain runs: keep_last 1 keeps one plain snapshot per collection
     * besides the held and the pinned ones (3 collections each). */
    for (int i = 0; i < 2; i++) {
        TEST_ASSERT(call("POST", "/v1/plans/sel/runs?wait=120", NULL, 200, &r));
        resp_free(&r);
    }
    TEST_EXPECT(snapshot_exists(held));
    TEST_EXPECT(snapshot_exists(pinned));
    TEST_EXPECT_INT(snapshot_count(), 9);
    TEST_ASSERT(call("POST", "/v1/plans/sel/retention?dry_run=true", NULL, 200, &r));
    char *report = cJSON_PrintUnformatted(r.json);
    TEST_EXPECT(report && strstr(report, "\"reason\":\"held until ") != NULL);
    TEST_EXPECT(report && strstr(report, "\"reason\":\"pinned\"") != NULL);
    free(report);
    resp_free(&r);

    /* Unpinned, one snapshot is an ordinary one: the next run's retention
     * takes it; the held one stays. */
    char upath[80];
    snprintf(upath, sizeof upath, "/v1/snapshots/%.0f/unpin", pinned);
    TEST_ASSERT(call("POST", upath, NULL, 200, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/sel/runs?wait=120", NULL, 200, &r));
    resp_free(&r);
    TEST_EXPECT(!snapshot_exists(pinned));
    TEST_EXPECT(snapshot_exists(held));
    /* held 3 + the pinned run's other two, still pinned + plain 3 */
    TEST_EXPECT_INT(snapshot_count(), 8);
}

/* ---------------------------------------------------------------- reverify */

struct snap_state {
    double id;
    char location[1024];
    char checked_at[32]; /* "" when null */
    char verify_error[256];
};

static bool read_snap(struct snap_state *s)
{
    char path[64];
    struct resp r;
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", s->id);
    if (!call("GET", path, NULL, 200, &r))
        return false;
    const char *loc = json_path_str(r.json, "location");
    const char *checked = json_path_str(r.json, "checked_at");
    const char *verr = json_path_str(r.json, "verify_error");
    snprintf(s->location, sizeof s->location, "%s", loc ? loc : "");
    snprintf(s->checked_at, sizeof s->checked_at, "%s", checked ? checked : "");
    snprintf(s->verify_error, sizeof s->verify_error, "%s", verr ? verr : "");
    resp_free(&r);
    return true;
}

/* Poll target: snapshot *ctx's checked_at moved away from what it was. */
struct checked_wait {
    struct snap_state *s;
    char before[32];
};

static bool checked_moved(void *ctx)
{
    struct checked_wait *w = ctx;
    return read_snap(w->s) && strcmp(w->s->checked_at, w->before) != 0;
}

static bool second_passed(void *ctx)
{
    return (int64_t)time(NULL) > *(int64_t *)ctx;
}

/* A changed reverify counts from its write: the scheduler (an hour ahead)
 * runs one pass at once.  max_bytes differs each time so that it is a
 * change; 1..3 bytes all mean "one snapshot per pass". */
static void reverify_pass(int max_bytes, struct snap_state *expect)
{
    struct checked_wait w = {.s = expect};
    TEST_ASSERT(read_snap(expect));
    snprintf(w.before, sizeof w.before, "%s", expect->checked_at);
    char body[256];
    snprintf(body, sizeof body,
             "{\"collections\":[\"prod_users\"],\"reverify\":{\"schedule\":\"* * * * *\","
             "\"max_bytes\":%d}}",
             max_bytes);
    struct resp r;
    TEST_ASSERT(call("PUT", "/v1/plans/rv", body, 200, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "reverify.max_bytes"), max_bytes);
    resp_free(&r);
    TEST_EXPECT(harness_wait_until(checked_moved, &w, 30000));
}

static double verify_failures_metric(void)
{
    struct resp r;
    double v = -1;
    if (qbd_request(&d, "GET", "/metrics", NULL, NULL, &r) == 0 && r.body) {
        const char *line = strstr(r.body, "\nqbackup_verify_failures_total ");
        if (line)
            v = strtod(line + strlen("\nqbackup_verify_failures_total "), NULL);
    }
    resp_free(&r);
    return v;
}

static void test_scheduled_reverify_finds_tampering(void)
{
    struct resp r;
    TEST_ASSERT(
        call("POST", "/v1/plans", "{\"name\":\"rv\",\"collections\":[\"prod_users\"]}", 201, &r));
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "reverify")));
    resp_free(&r);
    struct snap_state s[3];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 3; i++) {
        TEST_ASSERT(call("POST", "/v1/plans/rv/runs?wait=120", NULL, 200, &r));
        s[i].id = json_path_num(r.json, "results.0.snapshot_id");
        resp_free(&r);
        TEST_ASSERT(read_snap(&s[i]));
        TEST_EXPECT(s[i].checked_at[0] != '\0'); /* verified when taken */
    }
    /* Checks land in a later second than the backups' own, so the order
     * "checked longest ago first" is not a tie broken by id alone. */
    int64_t now = (int64_t)time(NULL);
    TEST_ASSERT(harness_wait_until(second_passed, &now, 5000));
    TEST_ASSERT(harness_flip_byte(s[1].location));
    double failures = verify_failures_metric();
    int events = (int)qbd_sql_int(&d, "SELECT count(*) FROM events WHERE type = 'verify.failed'");

    /* One snapshot per pass, oldest check first: s[0], then s[1] (the
     * tampered one), then s[2]. */
    reverify_pass(1, &s[0]);
    TEST_EXPECT_STR(s[0].verify_error, "");
    TEST_ASSERT(read_snap(&s[1]));
    TEST_EXPECT_STR(s[1].verify_error, ""); /* not read yet: over the budget */
    reverify_pass(2, &s[1]);
    TEST_EXPECT(strstr(s[1].verify_error, "not the catalogued one") != NULL);
    TEST_ASSERT(call("GET", "/v1/snapshots/0", NULL, 404, &r));
    resp_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", s[1].id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "verified_at")));
    resp_free(&r);
    TEST_EXPECT(verify_failures_metric() >= failures + 1);
    TEST_EXPECT((int)qbd_sql_int(&d, "SELECT count(*) FROM events WHERE type = 'verify.failed'") ==
                events + 1);
    reverify_pass(3, &s[2]);
    TEST_EXPECT_STR(s[2].verify_error, "");

    /* Bad input: 400 naming the member, the plan unchanged. */
    expect_400("PUT", "/v1/plans/rv",
               "{\"collections\":[\"prod_users\"],\"reverify\":{\"schedule\":\"61 * * * *\"}}",
               "reverify.schedule");
    expect_400("PUT", "/v1/plans/rv",
               "{\"collections\":[\"prod_users\"],\"reverify\":{\"schedule\":\"@daily\","
               "\"max_bytes\":0}}",
               "reverify.max_bytes");
    expect_400("PUT", "/v1/plans/rv",
               "{\"collections\":[\"prod_users\"],\"reverify\":{\"schedule\":\"@daily\","
               "\"every\":1}}",
               "reverify.every");
    expect_400("PUT", "/v1/plans/rv", "{\"collections\":[\"prod_users\"],\"reverify\":{}}",
               "reverify.schedule");
    TEST_ASSERT(call("GET", "/v1/plans/rv", NULL, 200, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "reverify.max_bytes"), 3);
    resp_free(&r);
}

/* Poll target: snapshot *ctx's first copy is in state "failed". */
static bool copy_failed(void *ctx)
{
    char path[64];
    struct resp r;
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", *(double *)ctx);
    if (!call("GET", path, NULL, 200, &r))
        return false;
    const char *state = json_path_str(r.json, "copies.0.state");
    bool failed = state && strcmp(state, "failed") == 0;
    resp_free(&r);
    return failed;
}

/* A pass reads a snapshot's second copies too: a copy altered behind
 * qbackupd's back is found by the schedule alone, recorded on the copy
 * (the primary stays verified), and made again by the plan's next run. */
static void test_scheduled_reverify_reads_copies(void)
{
    struct resp r;
    char copy_dir[600], body[1024];
    snprintf(copy_dir, sizeof copy_dir, "%s/var/copy2", d.dir);
    TEST_ASSERT(mkdir(copy_dir, 0700) == 0);
    snprintf(body, sizeof body,
             "{\"name\":\"copy2\",\"kind\":\"local\",\"settings\":{\"path\":\"%s\"}}", copy_dir);
    TEST_ASSERT(call("POST", "/v1/destinations", body, 201, &r));
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/destinations/local", NULL, 200, &r));
    char primary[600];
    snprintf(primary, sizeof primary, "%s", json_path_str(r.json, "settings.path"));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"rvc\",\"collections\":[\"prod_orders\"],"
                     "\"copies\":[{\"destination\":\"copy2\"}]}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/rvc/runs?wait=120", NULL, 200, &r));
    double id = json_path_num(r.json, "results.0.snapshot_id");
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.copies.0.state"), "stored");
    resp_free(&r);
    struct snap_state s = {.id = id};
    TEST_ASSERT(read_snap(&s));
    size_t plen = strlen(primary);
    TEST_ASSERT(strncmp(s.location, primary, plen) == 0 && s.location[plen] == '/');
    char copy_path[2048];
    snprintf(copy_path, sizeof copy_path, "%s/%s", copy_dir, s.location + plen + 1);
    TEST_ASSERT(harness_flip_byte(copy_path));

    TEST_ASSERT(call("PUT", "/v1/plans/rvc",
                     "{\"collections\":[\"prod_orders\"],\"copies\":[{\"destination\":"
                     "\"copy2\"}],\"reverify\":{\"schedule\":\"* * * * *\"}}",
                     200, &r));
    resp_free(&r);
    TEST_EXPECT(harness_wait_until(copy_failed, &id, 30000));
    char path[64];
    snprintf(path, sizeof path, "/v1/snapshots/%.0f", id);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT(json_path_str(r.json, "copies.0.error") != NULL);
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "copies.0.verified_at")));
    TEST_EXPECT(json_path_str(r.json, "verified_at") != NULL); /* the primary is intact */
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "verify_error")));
    resp_free(&r);
    TEST_EXPECT(qbd_wait_log(&d, "copies_failed=1", 10000));

    /* The next run makes the failed copy again from the healthy primary. */
    TEST_ASSERT(call("POST", "/v1/plans/rvc/runs?wait=120", NULL, 200, &r));
    resp_free(&r);
    TEST_ASSERT(call("GET", path, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "copies.0.state"), "stored");
    resp_free(&r);
}

int main(void)
{
    if (emu_start(&prod, NULL) != 0)
        return 1;
    const char *const names[] = {"prod_users", "prod_orders", "prod_tmp1", "stage_users"};
    for (size_t i = 0; i < QB_ARRAY_LEN(names); i++)
        if (emu_create_collection(&prod, names[i], 4) || emu_upsert(&prod, names[i], 5, (int)i))
            return 1;
    const char *const args[] = {"--qdrant-url", prod.url, "--scheduler-clock-offset", "3600", NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_patterns_resolved_per_run);
    TEST_RUN(test_bad_input_stores_nothing);
    TEST_RUN(test_held_and_pinned_survive_retention);
    TEST_RUN(test_scheduled_reverify_finds_tampering);
    TEST_RUN(test_scheduled_reverify_reads_copies);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&prod), 0);
    emu_cleanup(&prod);
    return TEST_RESULT();
}
