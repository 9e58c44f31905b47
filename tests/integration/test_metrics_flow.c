/* SPDX-License-Identifier: Apache-2.0
 *
 * test_metrics_flow.c -- /metrics moves with what the daemon does: backup
 * runs fill the run counters and the duration and bytes histograms and set
 * the plan's last run state; a queued run shows as queue depth; retention
 * deletions, a failed verification, a succeeded and a failed restore are
 * counted; per-destination objects and bytes follow the catalogue; the
 * prober's reachability is exposed; and requests held by ?wait= go to the
 * long-poll histogram, never the request-latency one.
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

static struct emu prod;
static struct qbd d;

/* The value of one exposition line "SERIES VALUE" (series with its labels
 * exactly as rendered), or -1 when absent. */
static double metric(const char *series)
{
    struct resp r;
    double v = -1;
    if (qbd_request(&d, "GET", "/metrics", NULL, NULL, &r) != 0 || r.status != 200) {
        resp_free(&r);
        return -1;
    }
    size_t n = strlen(series);
    for (const char *p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            v = strtod(p + n + 1, NULL);
            break;
        }
    }
    resp_free(&r);
    return v;
}

struct metric_wait {
    const char *series;
    double want;
};

static bool metric_is(void *ctx)
{
    const struct metric_wait *w = ctx;
    return metric(w->series) == w->want;
}

/* Polls until series == want (the prober and workers move on their own). */
static bool wait_metric(const char *series, double want)
{
    struct metric_wait w = {series, want};
    if (harness_wait_until(metric_is, &w, 20000))
        return true;
    fprintf(stderr, "%s is %g, want %g\n", series, metric(series), want);
    return false;
}

static bool call(const char *method, const char *path, const char *body, long want, struct resp *r)
{
    return qbd_call(&d, method, path, body, want, r);
}

static bool ok_call(const char *method, const char *path, const char *body, long want)
{
    struct resp r;
    bool ok = call(method, path, body, want, &r);
    resp_free(&r);
    return ok;
}

static void test_reachability(void)
{
    TEST_EXPECT(wait_metric("qbackup_instance_up{qdrant_instance=\"default\"}", 1));
    TEST_EXPECT(wait_metric("qbackup_destination_up{destination=\"local\"}", 1));
    TEST_EXPECT_INT(metric("qbackup_destination_snapshots{destination=\"local\"}"), 0);
    TEST_EXPECT_INT(metric("qbackup_restores_total{outcome=\"succeeded\"}"), 0);
    TEST_EXPECT_INT(metric("qbackup_verify_failures_total"), 0);
}

static void test_runs_and_retention(void)
{
    TEST_ASSERT(ok_call("POST", "/v1/plans",
                        "{\"name\":\"p\",\"collections\":[\"products\"],"
                        "\"retention\":{\"keep_last\":1}}",
                        201));
    TEST_ASSERT(ok_call("POST", "/v1/plans/p/runs?wait=120", NULL, 200));
    TEST_ASSERT(ok_call("POST", "/v1/plans/p/runs?wait=120", NULL, 200));
    TEST_EXPECT_INT(metric("qbackup_runs_total{plan=\"p\",outcome=\"succeeded\"}"), 2);
    TEST_EXPECT_INT(metric("qbackup_run_duration_seconds_count{plan=\"p\"}"), 2);
    TEST_EXPECT_INT(metric("qbackup_run_duration_seconds_bucket{plan=\"p\",le=\"+Inf\"}"), 2);
    TEST_EXPECT_INT(metric("qbackup_run_bytes_count{plan=\"p\"}"), 2);
    TEST_EXPECT(metric("qbackup_run_bytes_sum{plan=\"p\"}") > 0);
    TEST_EXPECT_INT(metric("qbackup_run_bytes_bucket{plan=\"p\",le=\"1048576\"}"), 2);
    TEST_EXPECT_INT(metric("qbackup_plan_last_run_state{plan=\"p\",state=\"succeeded\"}"), 1);
    TEST_EXPECT_INT(metric("qbackup_plan_last_run_state{plan=\"p\",state=\"failed\"}"), 0);
    /* keep_last 1: the second run's retention deleted the first snapshot. */
    TEST_EXPECT_INT(metric("qbackup_retention_deleted_snapshots_total"), 1);
    TEST_EXPECT_INT(metric("qbackup_destination_snapshots{destination=\"local\"}"), 1);
    TEST_EXPECT(metric("qbackup_destination_bytes{destination=\"local\"}") > 0);
    TEST_EXPECT_INT(metric("qbackup_runs_queued{kind=\"backup\"}"), 0);
}

/* The requests held by ?wait= are not latency; the ones answered at once
 * are. */
static void test_long_polls_not_latency(void)
{
    /* A request is counted once its response has been sent, which can be
     * just after the client read it: poll. */
    const char *route = "{route=\"/v1/plans/{name}/runs\"}";
    char series[200];
    snprintf(series, sizeof series, "qbackup_http_long_poll_duration_seconds_count%s", route);
    TEST_EXPECT(wait_metric(series, 2));
    snprintf(series, sizeof series, "qbackup_http_request_duration_seconds_count%s", route);
    TEST_EXPECT_INT(metric(series), -1); /* none answered at once yet */
    TEST_ASSERT(ok_call("POST", "/v1/plans/nope/runs?wait=5", NULL, 404)); /* refused at once */
    TEST_EXPECT(wait_metric(series, 1));
    TEST_EXPECT_INT(metric("qbackup_http_requests_total{route=\"/v1/plans/{name}/runs\","
                           "method=\"POST\",status=\"200\"}"),
                    2);
}

static void test_queue_depth(void)
{
    /* Qdrant slow to snapshot: the first run holds the instance's one
     * slot, the second waits in the queue. */
    TEST_ASSERT(emu_fault(&prod, "{\"kind\":\"delay\",\"delay_ms\":1500,\"count\":2,"
                                 "\"method\":\"POST\",\"path_prefix\":\"/collections/products/"
                                 "snapshots\"}") == 0);
    struct resp a, b;
    TEST_ASSERT(call("POST", "/v1/plans/p/runs", NULL, 202, &a));
    TEST_ASSERT(call("POST", "/v1/plans/p/runs", NULL, 202, &b));
    TEST_EXPECT(wait_metric("qbackup_runs_running{kind=\"backup\"}", 1));
    TEST_EXPECT(wait_metric("qbackup_runs_queued{kind=\"backup\"}", 1));
    char path[64];
    snprintf(path, sizeof path, "/v1/runs/%.0f?wait=60", json_path_num(b.json, "id"));
    TEST_EXPECT(ok_call("GET", path, NULL, 200));
    resp_free(&a);
    resp_free(&b);
    TEST_EXPECT_INT(metric("qbackup_runs_queued{kind=\"backup\"}"), 0);
    TEST_EXPECT_INT(metric("qbackup_runs_running{kind=\"backup\"}"), 0);
    TEST_EXPECT_INT(metric("qbackup_runs_total{plan=\"p\",outcome=\"succeeded\"}"), 4);
    TEST_EXPECT(emu_clear_faults(&prod) == 0);
}

static void test_restores_and_verify(void)
{
    TEST_ASSERT(ok_call("POST", "/v1/restores?wait=120",
                        "{\"plan\":\"p\",\"collection\":\"products\",\"snapshot\":\"latest\","
                        "\"target_collection\":\"copy\"}",
                        200));
    TEST_EXPECT_INT(metric("qbackup_restores_total{outcome=\"succeeded\"}"), 1);
    TEST_EXPECT_INT(metric("qbackup_restore_duration_seconds_count"), 1);
    TEST_EXPECT_INT(metric("qbackup_runs_total{plan=\"p\",outcome=\"succeeded\"}"), 4);

    /* Damage the stored object: verification fails and is counted, and a
     * restore of it fails. */
    struct resp r;
    TEST_ASSERT(call("GET", "/v1/snapshots?plan=p&limit=1", NULL, 200, &r));
    char id[32];
    snprintf(id, sizeof id, "%.0f", json_path_num(r.json, "items.0.id"));
    const char *location = json_path_str(r.json, "items.0.location");
    int fd = location ? open(location, O_WRONLY) : -1;
    resp_free(&r);
    TEST_ASSERT(fd >= 0);
    TEST_EXPECT(pwrite(fd, "XXXX", 4, 600) == 4);
    close(fd);
    char path[64], body[128];
    snprintf(body, sizeof body, "{\"snapshot_id\":%s,\"target_collection\":\"copy2\"}", id);
    TEST_EXPECT(ok_call("POST", "/v1/restores?wait=120", body, 424));
    TEST_EXPECT_INT(metric("qbackup_restores_total{outcome=\"failed\"}"), 1);
    TEST_EXPECT_INT(metric("qbackup_restore_duration_seconds_count"), 2);
    snprintf(path, sizeof path, "/v1/snapshots/%s/verify", id);
    TEST_EXPECT(ok_call("POST", path, NULL, 409));
    TEST_EXPECT_INT(metric("qbackup_verify_failures_total"), 1);
    TEST_EXPECT_INT(metric("qbackup_destination_snapshots_verify_failed{destination=\"local\"}"),
                    1);
}

/* With every family filled (histograms, labelled gauges, events), the
 * scrape is still valid exposition as Prometheus judges it. */
static void test_promtool_accepts_full_scrape(void)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        fprintf(stderr, "promtool missing (scripts/install-deps --test)\n");
        TEST_EXPECT(getenv("QB_REQUIRE_PROMTOOL") == NULL);
        return;
    }
    struct resp r;
    TEST_ASSERT(call("GET", "/metrics", NULL, 200, &r));
    char file[320], cmd[400];
    snprintf(file, sizeof file, "%s/metrics.txt", d.dir);
    FILE *f = fopen(file, "w");
    TEST_ASSERT(f != NULL);
    fputs(r.body, f);
    fclose(f);
    resp_free(&r);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", file);
    TEST_EXPECT_INT(system(cmd), 0);
}

static void test_unreachable_instance(void)
{
    TEST_ASSERT(emu_stop(&prod) == 0);
    TEST_EXPECT(wait_metric("qbackup_instance_up{qdrant_instance=\"default\"}", 0));
}

int main(void)
{
    if (emu_start(&prod, NULL) != 0)
        return 1;
    if (emu_create_collection(&prod, "products", 4) || emu_upsert(&prod, "products", 25, 1))
        return 1;
    const char *const args[] = {"--qdrant-url", prod.url, "--probe-interval", "1", NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    TEST_RUN(test_reachability);
    TEST_RUN(test_runs_and_retention);
    TEST_RUN(test_long_polls_not_latency);
    TEST_RUN(test_queue_depth);
    TEST_RUN(test_restores_and_verify);
    TEST_RUN(test_promtool_accepts_full_scrape);
    TEST_RUN(test_unreachable_instance);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    emu_cleanup(&prod);
    return TEST_RESULT();
}
