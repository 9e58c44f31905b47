/* SPDX-License-Identifier: Apache-2.0
 *
 * test_metrics.c -- the metric family registry (src/metrics.def via
 * metrics.h): naming rules Prometheus and dashboards rely on, the HELP/TYPE
 * lines and samples it renders, and that no module writes a family's HELP
 * or TYPE itself (the registry is the one place a family is defined).
 */
#include "unit.h"
#include "metrics.h"
#include "util/buf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool valid_name(const char *s)
{
    if (strncmp(s, "qbackup_", 8) != 0)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void test_registry_rules(void)
{
    TEST_ASSERT(METRIC_FAMILIES_ > 0);
    for (int f = 0; f < METRIC_FAMILIES_; f++) {
        const char *name = metrics_family_name((enum metric_family)f);
        const char *type = metrics_family_type((enum metric_family)f);
        if (!valid_name(name))
            TEST_FAIL_AT(__FILE__, __LINE__, "bad family name %s", name);
        TEST_EXPECT(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                    strcmp(type, "histogram") == 0);
        /* Prometheus conventions promtool enforces on a scrape. */
        if (strcmp(type, "counter") == 0 && !ends_with(name, "_total"))
            TEST_FAIL_AT(__FILE__, __LINE__, "counter %s must end in _total", name);
        if (strcmp(type, "counter") != 0 && ends_with(name, "_total"))
            TEST_FAIL_AT(__FILE__, __LINE__, "%s %s must not end in _total", type, name);
        for (int g = 0; g < f; g++)
            if (strcmp(name, metrics_family_name((enum metric_family)g)) == 0)
                TEST_FAIL_AT(__FILE__, __LINE__, "family %s defined twice", name);
    }
}

static bool runs_collector(struct buf *out, void *ctx)
{
    (void)ctx;
    return metrics_head(out, METRIC_RUNS) &&
           metrics_sample(out, METRIC_RUNS, "{plan=\"%s\",outcome=\"%s\"} %d\n", "p1", "failed", 3);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_render(void)
{
    struct metrics *m = metrics_create("9.9.9");
    metrics_http_observe(m, "/v1/plans", "GET", 200, 0.002, false);
    metrics_http_observe(m, "/v1/plans", "BREW", 405, 0.02, false);
    metrics_add_collector(m, runs_collector, NULL);
    struct buf out;
    buf_init(&out, 1 << 20);
    TEST_ASSERT(metrics_render(m, &out));
    const char *t = out.data;
    TEST_EXPECT_INT(count(t, "# HELP qbackup_build_info Build information"), 1);
    TEST_EXPECT_INT(count(t, "# TYPE qbackup_build_info gauge\n"), 1);
    TEST_EXPECT(strstr(t, "\nqbackup_build_info{version=\"9.9.9\"} 1\n") != NULL);
    TEST_EXPECT(strstr(t, "# TYPE qbackup_http_requests_total counter\n") != NULL);
    TEST_EXPECT(strstr(t, "qbackup_http_requests_total{route=\"/v1/plans\",method=\"GET\","
                          "status=\"200\"} 1\n") != NULL);
    /* An unknown method is one fixed label value, never a new series. */
    TEST_EXPECT(strstr(t, "method=\"other\",status=\"405\"} 1\n") != NULL);
    TEST_EXPECT(strstr(t, "BREW") == NULL);
    TEST_EXPECT(strstr(t, "# TYPE qbackup_http_request_duration_seconds histogram\n") != NULL);
    TEST_EXPECT(strstr(t, "qbackup_http_request_duration_seconds_bucket{route=\"/v1/plans\","
                          "le=\"0.005\"} 1\n") != NULL);
    TEST_EXPECT(strstr(t, "qbackup_http_request_duration_seconds_bucket{route=\"/v1/plans\","
                          "le=\"+Inf\"} 2\n") != NULL);
    TEST_EXPECT(strstr(t, "qbackup_http_request_duration_seconds_count{route=\"/v1/plans\"} 2\n") !=
                NULL);
    TEST_EXPECT(strstr(t, "# HELP qbackup_runs_total Backup runs by plan and outcome (state).\n"
                          "# TYPE qbackup_runs_total counter\n"
                          "qbackup_runs_total{plan=\"p1\",outcome=\"failed\"} 3\n") != NULL);
    buf_free(&out);
    metrics_destroy(m);
}

/* Fails the test if a source file under dir writes "# HELP" or "# TYPE":
 * a family defined outside metrics.def would escape the rules above. */
/* A ?wait= long poll held for minutes must not read as API latency: its
 * time goes to its own histogram (with buckets up to an hour), while the
 * request still counts. */
static void test_long_polls_kept_out_of_latency(void)
{
    struct metrics *m = metrics_create("9.9.9");
    metrics_http_observe(m, "/v1/runs/{id}", "GET", 200, 0.003, false);
    metrics_http_observe(m, "/v1/runs/{id}", "GET", 200, 600, true);
    metrics_http_observe(m, "/v1/runs/{id}", "GET", 424, 7200, true);
    struct buf out;
    buf_init(&out, 1 << 20);
    TEST_ASSERT(metrics_render(m, &out));
    const char *t = out.data;
    TEST_EXPECT(strstr(t, "qbackup_http_requests_total{route=\"/v1/runs/{id}\",method=\"GET\","
                          "status=\"200\"} 2\n") != NULL);
    TEST_EXPECT(strstr(t, "qbackup_http_request_duration_seconds_count{route=\"/v1/runs/{id}\"} "
                          "1\n") != NULL);
    TEST_EXPECT(strstr(t, "qbackup_http_request_duration_seconds_sum{route=\"/v1/runs/{id}\"} "
                          "0.003000\n") != NULL);
    TEST_EXPECT(strstr(t, "# TYPE qbackup_http_long_poll_duration_seconds histogram\n") != NULL);
    TEST_EXPECT(strstr(t, "qbackup_http_long_poll_duration_seconds_bucket{route=\"/v1/runs/{id}\","
                          "le=\"900\"} 1\n") != NULL);
    TEST_EXPECT(strstr(t, "qbackup_http_long_poll_duration_seconds_bucket{route=\"/v1/runs/{id}\","
                          "le=\"3600\"} 1\n") != NULL);
    TEST_EXPECT(strstr(t, "qbackup_http_long_poll_duration_seconds_bucket{route=\"/v1/runs/{id}\","
                          "le=\"+Inf\"} 2\n") != NULL);
    TEST_EXPECT(strstr(t, "qbackup_http_long_poll_duration_seconds_count{route=\"/v1/runs/{id}\"} "
                          "2\n") != NULL);
    buf_free(&out);
    metrics_destroy(m);
}

/* Event counters are process-wide and always exposed, 0 included. */
static void test_event_counters(void)
{
    struct metrics *m = metrics_create("9.9.9");
    struct buf out;
    buf_init(&out, 1 << 20);
    TEST_ASSERT(metrics_render(m, &out));
    TEST_EXPECT(strstr(out.data, "\nqbackup_verify_failures_total 0\n") != NULL);
    TEST_EXPECT(strstr(out.data, "\nqbackup_retention_deleted_snapshots_total 0\n") != NULL);
    buf_reset(&out);
    metrics_event_add(METRIC_RETENTION_DELETED, 3);
    metrics_event_add(METRIC_VERIFY_FAILURES, 1);
    TEST_ASSERT(metrics_render(m, &out));
    TEST_EXPECT(strstr(out.data, "# TYPE qbackup_verify_failures_total counter\n"
                                 "qbackup_verify_failures_total 1\n") != NULL);
    TEST_EXPECT(strstr(out.data, "\nqbackup_retention_deleted_snapshots_total 3\n") != NULL);
    buf_free(&out);
    metrics_destroy(m);
}

/* metrics_histogram: cumulative buckets, +Inf, sum and count, with and
 * without labels. */
static void test_histogram_helper(void)
{
    static const double bounds[] = {10, 60};
    static const uint64_t le[] = {1, 3};
    struct buf out;
    buf_init(&out, 4096);
    TEST_ASSERT(metrics_histogram(&out, METRIC_RESTORE_DURATION, "", bounds, le, 2, 4, 250));
    TEST_EXPECT_STR(out.data, "qbackup_restore_duration_seconds_bucket{le=\"10\"} 1\n"
                              "qbackup_restore_duration_seconds_bucket{le=\"60\"} 3\n"
                              "qbackup_restore_duration_seconds_bucket{le=\"+Inf\"} 4\n"
                              "qbackup_restore_duration_seconds_sum 250.000000\n"
                              "qbackup_restore_duration_seconds_count 4\n");
    buf_reset(&out);
    TEST_ASSERT(metrics_histogram(&out, METRIC_RUN_DURATION, "plan=\"p\"", bounds, le, 2, 4, 250));
    TEST_EXPECT(strstr(out.data, "qbackup_run_duration_seconds_bucket{plan=\"p\",le=\"10\"} 1\n") !=
                NULL);
    TEST_EXPECT(strstr(out.data, "qbackup_run_duration_seconds_count{plan=\"p\"} 4\n") != NULL);
    buf_free(&out);
}

static void scan_sources(const char *dir)
{
    DIR *d = opendir(dir);
    TEST_ASSERT(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR) {
            scan_sources(path);
            continue;
        }
        if (!ends_with(e->d_name, ".c") && !ends_with(e->d_name, ".h"))
            continue;
        if (strcmp(e->d_name, "metrics.c") == 0)
            continue; /* renders the registry's own HELP/TYPE lines */
        FILE *f = fopen(path, "r");
        TEST_ASSERT(f != NULL);
        char line[4096];
        int lineno = 0;
        while (fgets(line, sizeof line, f)) {
            lineno++;
            if (strstr(line, "\"# HELP") || strstr(line, "\"# TYPE"))
                TEST_FAIL_AT(path, lineno, "metric family defined outside src/metrics.def");
        }
        fclose(f);
    }
    closedir(d);
}

static void test_one_place(void)
{
    scan_sources(QB_SOURCE_DIR "/src");
}

int main(void)
{
    TEST_RUN(test_registry_rules);
    TEST_RUN(test_render);
    TEST_RUN(test_long_polls_kept_out_of_latency);
    TEST_RUN(test_event_counters);
    TEST_RUN(test_histogram_helper);
    TEST_RUN(test_one_place);
    return TEST_RESULT();
}
