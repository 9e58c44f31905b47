/* SPDX-License-Identifier: Apache-2.0
 *
 * test_router.c -- route matching: parameters, 404 versus 405, Allow.
 */
#include "unit.h"
#include "http/http_router.h"

#include <stdio.h>
#include <string.h>

static void h(struct http_request *req)
{
    (void)req;
}

static const struct http_route routes[] = {
    {"GET", "/healthz", AUTH_ROLE_PUBLIC, h},
    {"GET", "/v1/plans", AUTH_ROLE_VIEWER, h},
    {"POST", "/v1/plans", AUTH_ROLE_ADMIN, h},
    {"GET", "/v1/plans/{name}", AUTH_ROLE_VIEWER, h},
    {"DELETE", "/v1/plans/{name}", AUTH_ROLE_ADMIN, h},
    {"POST", "/v1/plans/{name}/runs", AUTH_ROLE_OPERATOR, h},
    {"GET", "/v1/snapshots/{id}/files/{file}", AUTH_ROLE_VIEWER, h},
};
#define N (sizeof routes / sizeof routes[0])

struct match_case {
    const char *method;
    const char *path;
    enum http_router_result want;
    int route; /* index in routes when FOUND */
    const char *allow;
};

static void test_table(void)
{
    static const struct match_case cases[] = {
        {"GET", "/healthz", HTTP_ROUTER_FOUND, 0, ""},
        {"HEAD", "/healthz", HTTP_ROUTER_FOUND, 0, ""},
        {"GET", "/v1/plans", HTTP_ROUTER_FOUND, 1, ""},
        {"GET", "/v1/plans/", HTTP_ROUTER_FOUND, 1, ""},
        {"POST", "/v1/plans", HTTP_ROUTER_FOUND, 2, ""},
        {"GET", "/v1/plans/nightly", HTTP_ROUTER_FOUND, 3, ""},
        {"DELETE", "/v1/plans/nightly", HTTP_ROUTER_FOUND, 4, ""},
        {"POST", "/v1/plans/nightly/runs", HTTP_ROUTER_FOUND, 5, ""},
        {"PUT", "/v1/plans", HTTP_ROUTER_METHOD_NOT_ALLOWED, -1, "GET, HEAD, POST"},
        {"POST", "/healthz", HTTP_ROUTER_METHOD_NOT_ALLOWED, -1, "GET, HEAD"},
        {"PATCH", "/v1/plans/x", HTTP_ROUTER_METHOD_NOT_ALLOWED, -1, "GET, HEAD, DELETE"},
        {"GET", "/v1/plans/x/runs", HTTP_ROUTER_METHOD_NOT_ALLOWED, -1, "POST"},
        {"GET", "/v1/plan", HTTP_ROUTER_NOT_FOUND, -1, ""},
        {"GET", "/v1/plans/x/y", HTTP_ROUTER_NOT_FOUND, -1, ""},
        {"GET", "/", HTTP_ROUTER_NOT_FOUND, -1, ""},
        {"GET", "", HTTP_ROUTER_NOT_FOUND, -1, ""},
        {"GET", "/healthz/extra", HTTP_ROUTER_NOT_FOUND, -1, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_route_match m;
        char allow[64];
        enum http_router_result r =
            http_router_match(routes, N, cases[i].method, cases[i].path, &m, allow, sizeof allow);
        if (r != cases[i].want)
            TEST_FAIL_AT(__FILE__, __LINE__, "case %zu (%s %s): result %d, want %d", i,
                         cases[i].method, cases[i].path, r, cases[i].want);
        if (r == HTTP_ROUTER_FOUND)
            TEST_EXPECT(m.route == &routes[cases[i].route]);
        if (r == HTTP_ROUTER_METHOD_NOT_ALLOWED)
            TEST_EXPECT_STR(allow, cases[i].allow);
    }
}

static void test_params(void)
{
    struct http_route_match m;
    char allow[64];
    TEST_ASSERT(http_router_match(routes, N, "GET", "/v1/snapshots/42/files/a.tar", &m, allow,
                                  sizeof allow) == HTTP_ROUTER_FOUND);
    TEST_EXPECT_INT(m.nparams, 2);
    TEST_EXPECT_STR(http_route_param(&m, "id"), "42");
    TEST_EXPECT_STR(http_route_param(&m, "file"), "a.tar");
    TEST_EXPECT(http_route_param(&m, "name") == NULL);
}

static void test_overlong_param_does_not_match(void)
{
    char path[600] = "/v1/plans/";
    for (int i = 0; i < 300; i++)
        path[10 + i] = 'a';
    path[310] = '\0';
    struct http_route_match m;
    char allow[64];
    TEST_EXPECT_INT(http_router_match(routes, N, "GET", path, &m, allow, sizeof allow),
                    HTTP_ROUTER_NOT_FOUND);
}

static void test_unescape(void)
{
    static const struct {
        const char *in, *out;
        size_t len;
    } cases[] = {
        {"/a%20b", "/a b", 4}, {"/%2Fx", "//x", 3},  {"/%zz%4", "/%zz%4", 6}, {"/%4a%4A", "/JJ", 3},
        {"%", "%", 1},         {"/1%00", "/1\0", 3}, {"/%00%00", "/\0\0", 3}, {"", "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%s", cases[i].in);
        size_t n = http_url_unescape(buf);
        TEST_EXPECT_INT(n, cases[i].len);
        TEST_EXPECT(memcmp(buf, cases[i].out, cases[i].len + 1) == 0);
    }
}

/* An encoded NUL in the path is found and named by the route's {param}:
 * "/v1/plans/x%00" must never be routed as "/v1/plans/x". */
static void test_path_nul(void)
{
    static const struct {
        const char *target;
        bool nul;
        const char *name;
    } cases[] = {
        {"/v1/plans/nightly", false, NULL},
        {"/v1/plans/night%20ly?x=%00", false, NULL}, /* the query is not the path */
        {"/v1/plans/1%00", true, "name"},
        {"/v1/plans/%001/runs", true, "name"},
        {"/v1/snapshots/3/files/a%00b", true, "file"},
        {"/v1/snapshots/3%00/files/a", true, "id"},
        {"/v1/pl%00ans", true, "path"},
        {"/v1/plans/x%2F%00", true, "path"}, /* %2F splits the segment: no route */
        {"/%00", true, "path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[HTTP_PARAM_NAME_MAX] = "";
        bool nul = http_router_path_nul(routes, N, cases[i].target, name, sizeof name);
        if (nul != cases[i].nul)
            TEST_FAIL_AT(__FILE__, __LINE__, "case %zu (%s): nul %d", i, cases[i].target, nul);
        if (cases[i].name)
            TEST_EXPECT_STR(name, cases[i].name);
    }
}

int main(void)
{
    TEST_RUN(test_unescape);
    TEST_RUN(test_path_nul);
    TEST_RUN(test_table);
    TEST_RUN(test_params);
    TEST_RUN(test_overlong_param_does_not_match);
    return TEST_RESULT();
}
