/* SPDX-License-Identifier: Apache-2.0
 *
 * test_hardening_http.c -- hostile input at the HTTP layer, against the real
 * daemon: encoded NUL bytes in paths and queries, NUL characters and
 * duplicate keys in JSON bodies, label values in /metrics, and slow
 * clients (half-sent requests from one address and from many, slow
 * bodies) that must neither hold slots past their deadline nor keep
 * /healthz from answering, oversize requests answered as problem+json, and
 * tokens never echoed back.
 */
#include "unit.h"
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

/* ---------------------------------------------------------------- slow clients */

#define SLOW_CONNS 200

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* A connection from src (a loopback address) that sends only the start of
 * a request; -1 when it cannot even connect. */
static int open_partial(const char *src, int port, const char *start)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
        close(fd);
        return -1;
    }
    if (send(fd, start, strlen(start), MSG_NOSIGNAL) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* True once the server has closed fd (EOF or reset); reads and drops any
 * answer it sent first. */
static bool peer_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0)
        return false;
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0)
            return true;
        if (n < 0)
            return errno != EAGAIN && errno != EWOULDBLOCK;
    }
}

/* Drips one byte every 200 ms into every socket still open and waits up to
 * timeout_ms for the server to close them all; returns how many are still
 * open.  Dripping resets MHD's idle timer: only the header deadline ends
 * these connections. */
static int drip_until_closed(int *fds, int n, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms, next_drip = 0;
    int open = n;
    while (open > 0 && now_ms() < deadline) {
        bool drip = now_ms() >= next_drip;
        open = 0;
        for (int i = 0; i < n; i++) {
            if (fds[i] < 0)
                continue;
            if (peer_closed(fds[i])) {
                close(fds[i]);
                fds[i] = -1;
                continue;
            }
            if (drip)
                (void)send(fds[i], "a", 1, MSG_NOSIGNAL);
            open++;
        }
        if (drip)
            next_drip = now_ms() + 200;
        pause_ms(20);
    }
    return open;
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1;
    }
}

/* /healthz answers 200, and within bound_ms. */
static void expect_healthz_fast(struct qbd *q, int bound_ms)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", q->port);
    struct resp r;
    int64_t t0 = now_ms();
    int rc = harness_http("GET", url, NULL, NULL, 10, &r);
    int64_t took = now_ms() - t0;
    TEST_EXPECT_INT(rc, 0);
    TEST_EXPECT_INT(r.status, 200);
    fprintf(stderr, "healthz answered %ld in %lld ms\n", r.status, (long long)took);
    if (took > bound_ms)
        TEST_FAIL_AT(__FILE__, __LINE__, "/healthz took %lld ms (bound %d)", (long long)took,
                     bound_ms);
    resp_free(&r);
}

/* 200 half-sent request lines from one address: past max_connections_per_ip
 * (32) they are closed at once; /healthz from another address answers at
 * once; the 32 admitted ones are closed at the header deadline although
 * they keep dripping bytes (which reset MHD's idle timer). */
static void test_slowloris_one_address(void)
{
    const char *const args[] = {"--header-timeout", "2", NULL};
    struct qbd q;
    TEST_ASSERT(qbd_start(&q, args, NULL) == 0);
    int fds[SLOW_CONNS];
    int opened = 0;
    for (int i = 0; i < SLOW_CONNS; i++) {
        fds[i] = open_partial("127.0.0.2", q.port, "GET /v1/plans HTT");
        opened += fds[i] >= 0;
    }
    TEST_EXPECT_INT(opened, SLOW_CONNS);
    expect_healthz_fast(&q, 2000);
    int64_t t0 = now_ms();
    int still_open = drip_until_closed(fds, SLOW_CONNS, 2000 + 4000);
    fprintf(stderr, "one address: all closed after %lld ms, %d still open\n",
            (long long)(now_ms() - t0), still_open);
    TEST_EXPECT_INT(still_open, 0);
    close_all(fds, SLOW_CONNS);
    TEST_EXPECT(qbd_wait_log(&q, "event=http.deadline", 5000));
    expect_healthz_fast(&q, 2000);
    TEST_EXPECT_INT(qbd_stop(&q), 0);
    qbd_cleanup(&q);
}

/* The same from 200 addresses (what a per-address cap cannot stop): past
 * max_connections (128) the oldest half-sent request gives way, so
 * /healthz still answers at once; all are closed at the deadline. */
static void test_slowloris_many_addresses(void)
{
    const char *const args[] = {"--header-timeout", "2", "--metrics-public", NULL};
    struct qbd q;
    TEST_ASSERT(qbd_start(&q, args, NULL) == 0);
    int fds[SLOW_CONNS];
    int opened = 0;
    for (int i = 0; i < SLOW_CONNS; i++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.%d.%d", 1 + i / 250, 1 + i % 250);
        fds[i] = open_partial(src, q.port, "POST /v1/instances HTTP/1.1\r\nHost: x\r\nX-A: ");
        opened += fds[i] >= 0;
    }
    TEST_EXPECT_INT(opened, SLOW_CONNS);
    expect_healthz_fast(&q, 2000);
    int still_open = drip_until_closed(fds, SLOW_CONNS, 2000 + 4000);
    TEST_EXPECT_INT(still_open, 0);
    close_all(fds, SLOW_CONNS);
    struct resp r;
    TEST_ASSERT(qbd_request(&q, "GET", "/metrics", NULL, NULL, &r) == 0);
    TEST_EXPECT(strstr(r.body, "qbackup_http_connections_closed_total{reason=\"evicted\"} 0") ==
                NULL);
    TEST_EXPECT(
        strstr(r.body, "qbackup_http_connections_closed_total{reason=\"header_timeout\"} 0") ==
        NULL);
    resp_free(&r);
    TEST_EXPECT_INT(qbd_stop(&q), 0);
    qbd_cleanup(&q);
}

/* Every slot busy with a slow body (real requests, so nothing gives way):
 * a newcomer is answered 503 problem+json at once instead of hanging, and
 * once the body deadline closes them /healthz answers again. */
static void test_full_server_answers_503(void)
{
    const char *const args[] = {"--max-connections", "8", "--body-timeout", "2", NULL};
    struct qbd q;
    TEST_ASSERT(qbd_start(&q, args, NULL) == 0);
    int fds[8];
    for (int i = 0; i < 8; i++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.2.%d", i + 1);
        fds[i] = open_partial(src, q.port,
                              "POST /v1/instances HTTP/1.1\r\nHost: x\r\nContent-Type: "
                              "application/json\r\nContent-Length: 100\r\nExpect: "
                              "100-continue\r\n\r\n");
        TEST_ASSERT(fds[i] >= 0);
        /* "100 Continue" means the server has the headers and waits for
         * the body: the connection is in its body phase. */
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        char buf[64] = "";
        TEST_ASSERT(poll(&p, 1, 5000) == 1);
        TEST_ASSERT(recv(fds[i], buf, sizeof buf - 1, 0) > 0);
        TEST_EXPECT(strstr(buf, " 100 ") != NULL);
        TEST_ASSERT(send(fds[i], "{\"na", 4, MSG_NOSIGNAL) == 4);
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/version", q.port);
    struct resp r;
    int64_t t0 = now_ms();
    TEST_ASSERT(harness_http("GET", url, NULL, NULL, 10, &r) == 0);
    EXPECT_PROBLEM(r, 503, "unavailable");
    TEST_EXPECT_STR(resp_header(&r, "Retry-After"), "1");
    TEST_EXPECT(now_ms() - t0 < 2000);
    resp_free(&r);
    int still_open = drip_until_closed(fds, 8, 2000 + 4000);
    TEST_EXPECT_INT(still_open, 0);
    close_all(fds, 8);
    expect_healthz_fast(&q, 2000);
    TEST_EXPECT_INT(qbd_stop(&q), 0);
    qbd_cleanup(&q);
}

/* ---------------------------------------------------------------- error pages */

static char *repeat(char c, size_t n, const char *prefix)
{
    size_t p = strlen(prefix);
    char *s = malloc(p + n + 1);
    memcpy(s, prefix, p);
    memset(s + p, c, n);
    s[p + n] = '\0';
    return s;
}

/* Oversize header blocks and request targets used to get libmicrohttpd's
 * HTML pages (the daemon's memory pool was the limit).  Up to four times
 * max_header_bytes they are now problem+json 431 / 414. */
static void test_oversize_requests_are_problems(void)
{
    struct resp r;
    char *big = repeat('a', 40000, "X-Big: ");
    const char *const hdrs[] = {big, NULL};
    TEST_ASSERT(qbd_request(&d, "GET", "/healthz", NULL, hdrs, &r) == 0);
    EXPECT_PROBLEM(r, 431, "header_too_large");
    resp_free(&r);
    free(big);

    char prefix[64];
    snprintf(prefix, sizeof prefix, "http://127.0.0.1:%d/v1/plans/", d.port);
    char *url = repeat('a', 20000, prefix);
    TEST_ASSERT(harness_http("GET", url, NULL, NULL, 30, &r) == 0);
    EXPECT_PROBLEM(r, 414, "uri_too_long");
    resp_free(&r);
    free(url);

    /* Within the limits nothing changes. */
    big = repeat('a', 8000, "X-Big: ");
    const char *const ok_hdrs[] = {big, NULL};
    TEST_ASSERT(qbd_request(&d, "GET", "/healthz", NULL, ok_hdrs, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    free(big);
}

#define TOKEN_CI    "hardening-ci-token-0123456789abcdef"
#define TOKEN_OTHER "hardening-viewer-token-fedcba9876543210"
#define RANDOM_KEY  "Zx9Kq2Lm8Np4Rt6Vw1Yb3Cd5Fg7Hj0Ks"

static void expect_not_echoed(const struct resp *r, const char *what)
{
    static const char *const secrets[] = {TOKEN_CI, TOKEN_OTHER, RANDOM_KEY};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        if (strstr(r->body, secrets[i]) || strstr(r->headers, secrets[i]))
            TEST_FAIL_AT(__FILE__, __LINE__, "%s: the answer echoes %s: %s", what, secrets[i],
                         r->body);
        unit_checks++;
    }
}

/* Error details quote client input; a token (ours or any random-looking
 * key) put in the wrong field, header or path must not come back, nor be
 * logged. */
static void test_tokens_never_echoed(void)
{
    const char *const env[] = {"QBACKUP_TOKENS=ci:admin:" TOKEN_CI ",dash:viewer:" TOKEN_OTHER,
                               NULL};
    struct qbd t;
    TEST_ASSERT(qbd_start(&t, NULL, env) == 0);
    snprintf(t.token, sizeof t.token, "%s", TOKEN_CI);
    static const char *const values[] = {TOKEN_CI, TOKEN_OTHER, RANDOM_KEY,
                                         ("Bearer " TOKEN_OTHER)};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char body[512];
        struct resp r;
        snprintf(body, sizeof body,
                 "{\"name\":\"p%zu\",\"collections\":\"*\",\"schedule\":\"0 3 * * *\","
                 "\"timezone\":\"%s\"}",
                 i, values[i]);
        TEST_ASSERT(qbd_request(&t, "POST", "/v1/plans", body, NULL, &r) == 0);
        EXPECT_PROBLEM(r, 400, "invalid_field");
        expect_not_echoed(&r, "timezone");
        resp_free(&r);

        snprintf(body, sizeof body, "{\"name\":\"i%zu\",\"url\":\"http://127.0.0.1:9\",\"%s\":1}",
                 i, values[i]);
        TEST_ASSERT(qbd_request(&t, "POST", "/v1/instances", body, NULL, &r) == 0);
        EXPECT_PROBLEM(r, 400, "invalid_field");
        expect_not_echoed(&r, "unknown field");
        resp_free(&r);

        char hdr[256];
        snprintf(hdr, sizeof hdr, "Content-Type: %s", values[i]);
        const char *const ct[] = {hdr, NULL};
        TEST_ASSERT(qbd_request(&t, "POST", "/v1/instances", "{}", ct, &r) == 0);
        EXPECT_PROBLEM(r, 415, "unsupported_media_type");
        expect_not_echoed(&r, "Content-Type");
        resp_free(&r);

        char path[256];
        snprintf(path, sizeof path, "/v1/plans/%s?x=%s", values[i] + (i == 3 ? 7 : 0),
                 values[i] + (i == 3 ? 7 : 0));
        TEST_ASSERT(qbd_request(&t, "GET", path, NULL, NULL, &r) == 0);
        TEST_EXPECT_INT(r.status, 404);
        expect_not_echoed(&r, "path");
        resp_free(&r);
    }
    /* A token-looking X-Request-Id is replaced, an ordinary one kept. */
    struct resp r;
    const char *const rid[] = {"X-Request-Id: " TOKEN_OTHER, NULL};
    TEST_ASSERT(qbd_request(&t, "GET", "/v1/version", NULL, rid, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    expect_not_echoed(&r, "X-Request-Id");
    TEST_EXPECT(resp_header(&r, "X-Request-Id") != NULL);
    resp_free(&r);
    const char *const rid_ok[] = {"X-Request-Id: ci-job-42", NULL};
    TEST_ASSERT(qbd_request(&t, "GET", "/v1/version", NULL, rid_ok, &r) == 0);
    TEST_EXPECT_STR(resp_header(&r, "X-Request-Id"), "ci-job-42");
    resp_free(&r);
    /* A made-up method is not named back either. */
    TEST_ASSERT(qbd_request(&t, "Zx9Kq2Lm8Np4Rt6", "/v1/plans", NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 405, "method_not_allowed");
    TEST_EXPECT(strstr(r.body, "Zx9Kq2") == NULL);
    resp_free(&r);

    TEST_EXPECT(qbd_wait_log(&t, "method=GET path=/v1/version", 5000));
    TEST_EXPECT_INT(qbd_stop(&t), 0);
    TEST_EXPECT(!qbd_log_contains(&t, TOKEN_CI));
    TEST_EXPECT(!qbd_log_contains(&t, TOKEN_OTHER));
    TEST_EXPECT(!qbd_log_contains(&t, RANDOM_KEY));
    qbd_cleanup(&t);
}

int main(void)
{
    if (qbd_start(&d, NULL, NULL) != 0)
        return 1;
    TEST_RUN(test_nul_in_path_and_query);
    TEST_RUN(test_nul_in_json);
    TEST_RUN(test_duplicate_keys);
    TEST_RUN(test_metrics_cardinality);
    TEST_RUN(test_oversize_requests_are_problems);
    TEST_RUN(test_tokens_never_echoed);
    TEST_RUN(test_slowloris_one_address);
    TEST_RUN(test_slowloris_many_addresses);
    TEST_RUN(test_full_server_answers_503);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    return TEST_RESULT();
}
