/* SPDX-License-Identifier: Apache-2.0
 *
 * test_hardening_http.c -- hostile input at the HTTP layer, against the real
 * daemon: encoded NUL bytes in paths and queries, NUL characters and
 * duplicate keys in JSON bodies.
 */
#include "unit.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct qbd d;

static bool detail_has(const struct resp *r, const char *needle)
{
    const char *detail = json_path_str(r->json, "detail");
    return detail && strstr(detail, needle);
}

/* "1%00" decoded to "1" used to reach the handler: DELETE deleted snapshot
 * 1.  Now an encoded NUL anywhere in the path or query is a 400 naming the
 * parameter, before routing, authentication or any handler. */
static void test_nul_in_path_and_query(void)
{
    static const struct {
        const char *method, *path, *field;
    } cases[] = {
        {"DELETE", "/v1/snapshots/1%00", "id"},
        {"GET", "/v1/snapshots/1%00/download", "id"},
        {"GET", "/v1/plans/nightly%00x", "name"},
        {"DELETE", "/v1/instances/default%00", "name"},
        {"GET", "/v1/snapshots?plan=a%00b", "plan"},
        {"GET", "/v1/runs?limit=1&kind=backup%00", "kind"},
        {"GET", "/healthz?x%00y=1", "x"},
        {"GET", "/v1/pl%00ans", "path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp r;
        TEST_ASSERT(qbd_request(&d, cases[i].method, cases[i].path, NULL, NULL, &r) == 0);
        EXPECT_PROBLEM(r, 400, "invalid_parameter");
        if (!json_path_str(r.json, "field") ||
            strcmp(json_path_str(r.json, "field"), cases[i].field) != 0)
            TEST_FAIL_AT(__FILE__, __LINE__, "%s %s: field %s, want %s", cases[i].method,
                         cases[i].path, json_path_str(r.json, "field"), cases[i].field);
        resp_free(&r);
    }
    /* The configured instance is still there. */
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/instances/default", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
}

/* cJSON cuts "a\u0000b" to "a": every string of every body is checked. */
static void test_nul_in_json(void)
{
    static const struct {
        const char *path, *body, *field;
    } cases[] = {
        {"/v1/instances", "{\"name\":\"evil\\u0000x\",\"url\":\"http://127.0.0.1:9\"}", "name"},
        {"/v1/instances", "{\"name\":\"evil\",\"url\":\"http://127.0.0.1:9/\\u0000\"}", "url"},
        {"/v1/destinations",
         "{\"name\":\"d1\",\"kind\":\"local\",\"settings\":{\"path\":\"/tmp\\u0000/x\"}}",
         "settings.path"},
        {"/v1/plans", "{\"name\":\"p1\",\"collections\":[\"a\",\"b\\u0000\"]}", "collections[1]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp r;
        TEST_ASSERT(qbd_request(&d, "POST", cases[i].path, cases[i].body, NULL, &r) == 0);
        EXPECT_PROBLEM(r, 400, "invalid_field");
        TEST_EXPECT_STR(json_path_str(r.json, "field"), cases[i].field);
        TEST_EXPECT(detail_has(&r, "NUL"));
        resp_free(&r);
    }
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/instances/evil", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 404);
    resp_free(&r);
}

/* {"name":"a","name":"b"}: cJSON keeps both, lookups see the first, the
 * stored raw body says something else.  Refused at any depth. */
static void test_duplicate_keys(void)
{
    static const struct {
        const char *path, *body, *field;
    } cases[] = {
        {"/v1/instances", "{\"name\":\"dup\",\"url\":\"http://127.0.0.1:9\",\"name\":\"other\"}",
         "name"},
        {"/v1/destinations",
         "{\"name\":\"d2\",\"kind\":\"local\",\"settings\":{\"path\":\"/tmp\",\"path\":\"/etc\"}}",
         "settings.path"},
        {"/v1/plans",
         "{\"name\":\"p2\",\"collections\":\"*\",\"retention\":{\"keep_last\":1,"
         "\"keep_daily\":2,\"keep_last\":100}}",
         "retention.keep_last"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp r;
        TEST_ASSERT(qbd_request(&d, "POST", cases[i].path, cases[i].body, NULL, &r) == 0);
        EXPECT_PROBLEM(r, 400, "invalid_field");
        TEST_EXPECT_STR(json_path_str(r.json, "field"), cases[i].field);
        TEST_EXPECT(detail_has(&r, "duplicate key"));
        resp_free(&r);
    }
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/instances/dup", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 404);
    resp_free(&r);
}

/* Number of qbackup_http_requests_total and _duration_seconds series. */
static int http_series(void)
{
    struct resp r;
    if (qbd_request(&d, "GET", "/metrics", NULL, NULL, &r) != 0 || r.status != 200) {
        resp_free(&r);
        return -1;
    }
    int n = 0;
    for (const char *p = r.body; (p = strstr(p, "\nqbackup_http_")) != NULL; p++)
        n++;
    resp_free(&r);
    return n;
}

/* Unauthenticated requests with made-up methods and paths used to add a
 * series each (the method was a label as sent).  Label values now come
 * from fixed sets: 50 such requests add at most a handful of series (one
 * per route, normalised method and status they end in). */
static void test_metrics_cardinality(void)
{
    struct resp r;
    /* Warm up the series that the random traffic below may legitimately
     * create, then count. */
    int before = http_series();
    TEST_ASSERT(before > 0);
    srand(42);
    for (int i = 0; i < 50; i++) {
        char method[16], path[64];
        snprintf(method, sizeof method, "M%dX%d", rand() % 100000, i);
        static const char *const prefixes[] = {"/nope/", "/v1/plans/", "/v1/", "/healthz/"};
        snprintf(path, sizeof path, "%s%d-%d", prefixes[i % 4], rand(), i);
        TEST_ASSERT(qbd_request(&d, method, path, NULL, NULL, &r) == 0);
        TEST_EXPECT(r.status == 404 || r.status == 405 || r.status == 400 || r.status == 501);
        resp_free(&r);
    }
    /* The access log is written after the response: wait for the last. */
    TEST_EXPECT(qbd_wait_log(&d, "method=M", 5000));
    int after = http_series();
    /* unmatched/other/404 counter + histogram (~15 lines) and
     * /v1/plans/{name}/other/405 (+ its histogram): a fixed bound. */
    fprintf(stderr, "metrics: %d series before, %d after 50 random requests\n", before, after);
    if (after - before > 32)
        TEST_FAIL_AT(__FILE__, __LINE__, "series went from %d to %d", before, after);
}

int main(void)
{
    if (qbd_start(&d, NULL, NULL) != 0)
        return 1;
    TEST_RUN(test_nul_in_path_and_query);
    TEST_RUN(test_nul_in_json);
    TEST_RUN(test_duplicate_keys);
    TEST_RUN(test_metrics_cardinality);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    return TEST_RESULT();
}
