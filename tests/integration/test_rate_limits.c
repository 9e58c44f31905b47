/* SPDX-License-Identifier: Apache-2.0
 *
 * test_rate_limits.c -- byte-rate limits (issue 13 item 1), end to end
 * against the Qdrant emulator and the local-folder destination: a plan
 * capped at 2 MiB/s backing up a ~6 MiB collection takes at least
 * (size - burst) / rate (a lower bound only) and its result reports the
 * limit, who set it and an effective rate within 10% of it; an instance's
 * read limit applies to plans on it; a limit removed by a PUT while a run
 * is held back by it reaches that run (its effective rate ends far above
 * the old limit, with no timing bound), leaving the configured folder's
 * limit (backup_dir_max_write_bytes_per_second) in force; the limits
 * round-trip through the API; a run held back by a limit is still
 * cancelled promptly; 0, negative, fractional or absurd values are 400s naming the field
 * with nothing stored.
 */
#include "unit.h"
#include "common.h"
#include "emu_harness.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MIB (1024.0 * 1024.0)

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
    TEST_EXPECT_STR(json_path_str(r.json, "field"), field);
    resp_free(&r);
}

static void test_bad_values_refused(void)
{
    const char *bad[] = {"0", "-1", "1.5", "1023", "1099511627777", "\"fast\"", "true"};
    char body[512];
    for (size_t i = 0; i < QB_ARRAY_LEN(bad); i++) {
        snprintf(body, sizeof body,
                 "{\"name\":\"bad\",\"collections\":[\"big\"],\"max_bytes_per_second\":%s}",
                 bad[i]);
        expect_400("POST", "/v1/plans", body, "max_bytes_per_second");
        snprintf(body, sizeof body,
                 "{\"name\":\"bad\",\"url\":\"%s\",\"max_read_bytes_per_second\":%s}", prod.url,
                 bad[i]);
        expect_400("POST", "/v1/instances", body, "max_read_bytes_per_second");
        snprintf(body, sizeof body,
                 "{\"name\":\"bad\",\"kind\":\"local\",\"settings\":{\"path\":\"%s/var\"},"
                 "\"max_write_bytes_per_second\":%s}",
                 d.dir, bad[i]);
        expect_400("POST", "/v1/destinations", body, "max_write_bytes_per_second");
    }
    struct resp r;
    TEST_ASSERT(call("GET", "/v1/plans/bad", NULL, 404, &r));
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/instances/bad", NULL, 404, &r));
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/destinations/bad", NULL, 404, &r));
    resp_free(&r);
}

static void test_round_trip(void)
{
    char body[1024], dir[600];
    struct resp r;
    snprintf(dir, sizeof dir, "%s/var/slowdisk", d.dir);
    TEST_ASSERT(mkdir(dir, 0700) == 0);
    snprintf(body, sizeof body,
             "{\"name\":\"slowdisk\",\"kind\":\"local\",\"settings\":{\"path\":\"%s\"},"
             "\"max_write_bytes_per_second\":1048576}",
             dir);
    TEST_ASSERT(call("POST", "/v1/destinations", body, 201, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "max_write_bytes_per_second"), 1048576);
    resp_free(&r);
    snprintf(body, sizeof body, "{\"kind\":\"local\",\"settings\":{\"path\":\"%s\"}}", dir);
    TEST_ASSERT(call("PUT", "/v1/destinations/slowdisk", body, 200, &r));
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "max_write_bytes_per_second")));
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/destinations/local", NULL, 200, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "max_write_bytes_per_second"), 8388608);
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/instances/default", NULL, 200, &r));
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "max_read_bytes_per_second")));
    resp_free(&r);
}

/* Runs plan and waits for its end; r holds the finished run. */
static bool run_and_wait(const char *plan, struct resp *r)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/plans/%s/runs?wait=120", plan);
    return call("POST", path, NULL, 200, r);
}

static void test_plan_cap_holds(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"capped\",\"collections\":[\"big\"],"
                     "\"max_bytes_per_second\":2097152}",
                     201, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "max_bytes_per_second"), 2097152);
    resp_free(&r);
    int64_t t0 = qb_mono_ms();
    TEST_ASSERT(run_and_wait("capped", &r));
    int64_t took = qb_mono_ms() - t0;
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    double size = json_path_num(r.json, "results.0.size");
    double rate = json_path_num(r.json, "results.0.rate.bytes_per_second");
    fprintf(stderr, "capped: %.0f bytes in %lld ms, effective %.0f B/s\n", size, (long long)took,
            rate);
    TEST_EXPECT(size >= 4 * MIB);
    /* Lower bound only: the first burst (a tenth of a second of the rate)
     * passes at once. */
    TEST_EXPECT((double)took >= (size - 2097152 / 10) / 2097152 * 1000);
    TEST_EXPECT(rate > 0 && rate <= 2097152 * 1.1);
    TEST_EXPECT_INT(json_path_num(r.json, "results.0.rate.limit_bytes_per_second"), 2097152);
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.rate.limited_by"), "plan");
    resp_free(&r);
}

static void test_instance_limit_applies(void)
{
    char body[512];
    struct resp r;
    snprintf(body, sizeof body,
             "{\"name\":\"throttled\",\"url\":\"%s\",\"max_read_bytes_per_second\":3145728}",
             prod.url);
    TEST_ASSERT(call("POST", "/v1/instances", body, 201, &r));
    TEST_EXPECT_INT(json_path_num(r.json, "max_read_bytes_per_second"), 3145728);
    resp_free(&r);
    /* The plan's own cap is looser: the instance's rules. */
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"oninst\",\"instance\":\"throttled\",\"collections\":[\"big\"],"
                     "\"max_bytes_per_second\":10485760}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(run_and_wait("oninst", &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    TEST_EXPECT(json_path_num(r.json, "results.0.rate.bytes_per_second") <= 3145728 * 1.1);
    TEST_EXPECT_INT(json_path_num(r.json, "results.0.rate.limit_bytes_per_second"), 3145728);
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.rate.limited_by"), "instance");
    resp_free(&r);
}

struct running {
    char path[64];
};

/* The run is transferring: some bytes are done. */
static bool transferring(void *ctx)
{
    struct running *run = ctx;
    struct resp r;
    bool yes = qbd_request(&d, "GET", run->path, NULL, NULL, &r) == 0 && r.status == 200 &&
               json_path_num(r.json, "bytes_done") > 0;
    resp_free(&r);
    return yes;
}

/* 256 KiB/s would take ~24 s for the collection; the limit is lifted as
 * soon as bytes flow, and the finished run's effective rate (bytes over
 * its transfer time) is then far above what the old limit allows. */
static void test_live_change_reaches_running_run(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"live\",\"collections\":[\"big\"],"
                     "\"max_bytes_per_second\":262144}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/live/runs", NULL, 202, &r));
    struct running run;
    snprintf(run.path, sizeof run.path, "/v1/runs/%.0f", json_path_num(r.json, "id"));
    resp_free(&r);
    TEST_ASSERT(harness_wait_until(transferring, &run, 60000));
    TEST_ASSERT(call("PUT", "/v1/plans/live",
                     "{\"collections\":[\"big\"],\"max_bytes_per_second\":null}", 200, &r));
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "max_bytes_per_second")));
    resp_free(&r);
    char wait[96];
    snprintf(wait, sizeof wait, "%s?wait=120", run.path);
    TEST_ASSERT(call("GET", wait, NULL, 200, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "state"), "succeeded");
    double rate = json_path_num(r.json, "results.0.rate.bytes_per_second");
    fprintf(stderr, "live: effective %.0f B/s after lifting a 262144 B/s limit\n", rate);
    TEST_EXPECT(rate > 262144 * 2);
    /* What is left: the configured folder's 8 MiB/s. */
    TEST_EXPECT_STR(json_path_str(r.json, "results.0.rate.limited_by"), "destination");
    TEST_EXPECT_INT(json_path_num(r.json, "results.0.rate.limit_bytes_per_second"), 8388608);
    resp_free(&r);
}

/* At 1 KiB/s the collection would take well over an hour: a cancel still
 * ends the run (the wait on the limit asks for it between slices), and
 * nothing is catalogued. */
static void test_cancel_while_held_back(void)
{
    struct resp r;
    TEST_ASSERT(call("POST", "/v1/plans",
                     "{\"name\":\"crawl\",\"collections\":[\"big\"],"
                     "\"max_bytes_per_second\":1024}",
                     201, &r));
    resp_free(&r);
    TEST_ASSERT(call("POST", "/v1/plans/crawl/runs", NULL, 202, &r));
    struct running run;
    double id = json_path_num(r.json, "id");
    snprintf(run.path, sizeof run.path, "/v1/runs/%.0f", id);
    resp_free(&r);
    TEST_ASSERT(harness_wait_until(transferring, &run, 60000));
    char path[96];
    snprintf(path, sizeof path, "/v1/runs/%.0f/cancel?wait=60", id);
    TEST_ASSERT(call("POST", path, NULL, 424, &r));
    TEST_EXPECT_STR(json_path_str(r.json, "run.state"), "cancelled");
    resp_free(&r);
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=crawl", NULL, 200, &r));
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), 0);
    resp_free(&r);
}

int main(void)
{
    if (emu_start(&prod, NULL) != 0)
        return 1;
    if (emu_create_collection(&prod, "big", 4) || emu_fill(&prod, "big", 6))
        return 1;
    /* The configured folder's limit comes from the configuration. */
    const char *const args[] = {"--qdrant-url", prod.url, "--backup-dir-max-write-bytes-per-second",
                                "8388608", NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_bad_values_refused);
    TEST_RUN(test_round_trip);
    TEST_RUN(test_plan_cap_holds);
    TEST_RUN(test_instance_limit_applies);
    TEST_RUN(test_live_change_reaches_running_run);
    TEST_RUN(test_cancel_while_held_back);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&prod), 0);
    emu_cleanup(&prod);
    return TEST_RESULT();
}
