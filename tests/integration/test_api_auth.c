/* SPDX-License-Identifier: Apache-2.0
 *
 * test_auth.c -- bearer tokens and roles against the real daemon: 401
 * without or with a wrong token, 403 for a role too low, success for the
 * right role, public /healthz, the /metrics and /readyz settings, tokens
 * from a file with only a hash on disk, and no token in any log line.
 */
#include "unit.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VIEWER_TOKEN     "viewer-token-0123456789abcdef"
#define OPERATOR_TOKEN   "operator-token-0123456789abcdef"
#define ADMIN_TOKEN      "admin-token-0123456789abcdef"
#define FILE_ADMIN_TOKEN "file-admin-token-0123456789"
/* sha256 of FILE_ADMIN_TOKEN (echo -n ... | sha256sum) */
#define FILE_ADMIN_SHA256 "3f95882d80d4b63a964d0e72bb9d6f1cce999c7fac95f6bebdf1bf5b8f729451"

static struct qbd d;

static void as(const char *token)
{
    snprintf(d.token, sizeof d.token, "%s", token ? token : "");
}

static void test_no_token_is_401(void)
{
    struct resp r;
    as(NULL);
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/instances", NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 401, "unauthenticated");
    TEST_EXPECT_STR(resp_header(&r, "WWW-Authenticate"), "Bearer realm=\"qbackup\"");
    resp_free(&r);

    as("not-a-real-token-at-all");
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/instances", NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 401, "unauthenticated");
    TEST_EXPECT(strstr(resp_header(&r, "WWW-Authenticate"), "invalid_token") != NULL);
    resp_free(&r);

    /* 401 comes before the body is read or parsed. */
    as(NULL);
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/instances", "{not json", NULL, &r) == 0);
    EXPECT_PROBLEM(r, 401, "unauthenticated");
    resp_free(&r);
}

static void test_viewer_reads_but_cannot_write(void)
{
    struct resp r;
    as(VIEWER_TOKEN);
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/instances", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);

    TEST_ASSERT(qbd_request(&d, "POST", "/v1/instances", "{\"name\":\"v\",\"url\":\"http://a:1\"}",
                            NULL, &r) == 0);
    EXPECT_PROBLEM(r, 403, "forbidden");
    TEST_EXPECT(strstr(json_path_str(r.json, "detail"), "role viewer") != NULL);
    resp_free(&r);
}

static void test_operator_cannot_manage_instances(void)
{
    struct resp r;
    as(OPERATOR_TOKEN);
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/instances", "{\"name\":\"o\",\"url\":\"http://a:1\"}",
                            NULL, &r) == 0);
    EXPECT_PROBLEM(r, 403, "forbidden");
    resp_free(&r);
}

static void test_admin_is_allowed(void)
{
    struct resp r;
    as(ADMIN_TOKEN);
    TEST_ASSERT(qbd_request(&d, "POST", "/v1/instances",
                            "{\"name\":\"adm\",\"url\":\"http://a:1\"}", NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 201);
    resp_free(&r);

    /* The file's token, configured only by its SHA-256, works too. */
    as(FILE_ADMIN_TOKEN);
    TEST_ASSERT(qbd_request(&d, "DELETE", "/v1/instances/adm", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 204);
    resp_free(&r);
    TEST_EXPECT(qbd_wait_log(&d, "principal=file-admin", 5000));
}

static void test_public_and_configurable_routes(void)
{
    struct resp r;
    as(NULL);
    TEST_ASSERT(qbd_request(&d, "GET", "/healthz", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    /* readyz_public defaults to true, metrics_public to false. */
    TEST_ASSERT(qbd_request(&d, "GET", "/readyz", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "GET", "/metrics", NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 401, "unauthenticated");
    resp_free(&r);
    as(VIEWER_TOKEN);
    TEST_ASSERT(qbd_request(&d, "GET", "/metrics", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT(strstr(r.body, "qbackup_http_requests_total{route=\"/v1/instances\"") != NULL);
    resp_free(&r);
}

static void test_no_token_in_logs(void)
{
    TEST_EXPECT(!qbd_log_contains(&d, VIEWER_TOKEN));
    TEST_EXPECT(!qbd_log_contains(&d, OPERATOR_TOKEN));
    TEST_EXPECT(!qbd_log_contains(&d, ADMIN_TOKEN));
    TEST_EXPECT(!qbd_log_contains(&d, FILE_ADMIN_TOKEN));
}

static void test_settings_flip_public_routes(void)
{
    struct qbd d2;
    const char *const args[] = {"--metrics-public", "--readyz-public=false", NULL};
    const char *const env[] = {"QBACKUP_TOKENS=ci:operator:" OPERATOR_TOKEN, NULL};
    TEST_ASSERT(qbd_start(&d2, args, env) == 0);
    struct resp r;
    TEST_ASSERT(qbd_request(&d2, "GET", "/metrics", NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d2, "GET", "/readyz", NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 401, "unauthenticated");
    resp_free(&r);
    TEST_EXPECT_INT(qbd_stop(&d2), 0);
    qbd_cleanup(&d2);
}

static void test_open_api_refused_off_loopback(void)
{
    /* No tokens and a non-loopback address: refuse to start, naming why. */
    struct qbd d3;
    memset(&d3, 0, sizeof d3);
    snprintf(d3.dir, sizeof d3.dir, "/tmp/qbackup-test-XXXXXX");
    TEST_ASSERT(mkdtemp(d3.dir) != NULL);
    snprintf(d3.log_path, sizeof d3.log_path, "%s/qbackupd.log", d3.dir);
    const char *const args[] = {"serve", "--listen", "0.0.0.0:0", "--data-dir", "var", NULL};
    int rc = qbd_run(&d3, args, NULL);
    TEST_EXPECT(rc != 0);
    TEST_EXPECT(qbd_log_contains(&d3, "not a loopback address and no API tokens"));
    TEST_EXPECT(qbd_log_contains(&d3, "--insecure-no-auth"));
    qbd_cleanup(&d3);
}

static void test_bad_token_config_fails_start(void)
{
    struct qbd d4;
    memset(&d4, 0, sizeof d4);
    snprintf(d4.dir, sizeof d4.dir, "/tmp/qbackup-test-XXXXXX");
    TEST_ASSERT(mkdtemp(d4.dir) != NULL);
    snprintf(d4.log_path, sizeof d4.log_path, "%s/qbackupd.log", d4.dir);
    const char *const args[] = {"serve", "--data-dir", "var", NULL};
    const char *const env[] = {"QBACKUP_TOKENS=bob:superuser:0123456789abcdef0123", NULL};
    TEST_EXPECT(qbd_run(&d4, args, env) != 0);
    TEST_EXPECT(qbd_log_contains(&d4, "role \"superuser\" is not one of viewer, operator, admin"));
    TEST_EXPECT(!qbd_log_contains(&d4, "0123456789abcdef0123"));
    qbd_cleanup(&d4);
}

int main(void)
{
    /* A token file holding one token only as its SHA-256. */
    char tokens[64];
    snprintf(tokens, sizeof tokens, "/tmp/qbackup-tokens-XXXXXX");
    int fd = mkstemp(tokens);
    if (fd < 0)
        return 1;
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# name role token\n"
               "file-admin admin sha256:" FILE_ADMIN_SHA256 "\n");
    fclose(f);

    const char *const args[] = {"--tokens-file", tokens, NULL};
    const char *const env[] = {"QBACKUP_TOKENS=dash:viewer:" VIEWER_TOKEN
                               ",ci:operator:" OPERATOR_TOKEN ",root:admin:" ADMIN_TOKEN,
                               NULL};
    if (qbd_start(&d, args, env) != 0)
        return 1;
    TEST_RUN(test_no_token_is_401);
    TEST_RUN(test_viewer_reads_but_cannot_write);
    TEST_RUN(test_operator_cannot_manage_instances);
    TEST_RUN(test_admin_is_allowed);
    TEST_RUN(test_public_and_configurable_routes);
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    TEST_RUN(test_no_token_in_logs); /* after exit: every line is written */
    qbd_cleanup(&d);
    remove(tokens);
    TEST_RUN(test_settings_flip_public_routes);
    TEST_RUN(test_open_api_refused_off_loopback);
    TEST_RUN(test_bad_token_config_fails_start);
    return TEST_RESULT();
}
