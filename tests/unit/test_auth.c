/* SPDX-License-Identifier: Apache-2.0
 *
 * test_auth.c -- token parsing, roles, hashed tokens and checks.
 */
#include "unit.h"
#include "http/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_list_and_check(void)
{
    char err[QB_ERRBUF_SIZE];
    struct auth *a = auth_create();
    TEST_ASSERT(auth_load_list(a,
                               "dash:viewer:aaaaaaaaaaaaaaaa, ci:operator:bbbbbbbbbbbbbbbb,"
                               "root:admin:cccccccccccccccc",
                               err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(auth_count(a), 3);
    enum auth_role role = AUTH_ROLE_PUBLIC;
    const char *name = NULL;
    TEST_EXPECT_INT(auth_check(a, "Bearer bbbbbbbbbbbbbbbb", &role, &name), AUTH_OK);
    TEST_EXPECT_INT(role, AUTH_ROLE_OPERATOR);
    TEST_EXPECT_STR(name, "ci");
    TEST_EXPECT_INT(auth_check(a, "bearer cccccccccccccccc", &role, &name), AUTH_OK);
    TEST_EXPECT_INT(role, AUTH_ROLE_ADMIN);
    TEST_EXPECT_INT(auth_check(a, NULL, &role, &name), AUTH_MISSING);
    TEST_EXPECT_INT(auth_check(a, "Basic dXNlcjpwdw==", &role, &name), AUTH_MISSING);
    TEST_EXPECT_INT(auth_check(a, "Bearer ", &role, &name), AUTH_MISSING);
    TEST_EXPECT_INT(auth_check(a, "Bearer bbbbbbbbbbbbbbb", &role, &name), AUTH_INVALID);
    TEST_EXPECT_INT(auth_check(a, "Bearer bbbbbbbbbbbbbbbbb", &role, &name), AUTH_INVALID);
    auth_destroy(a);
}

/* Browsers' Basic credentials: the password is the token, the role is
 * capped at viewer, anything malformed is "missing". */
static void test_basic(void)
{
    char err[QB_ERRBUF_SIZE];
    struct auth *a = auth_create();
    TEST_ASSERT(auth_load_list(a, "dash:viewer:aaaaaaaaaaaaaaaa,root:admin:cccccccccccccccc", err,
                               sizeof err) == QB_OK);
    enum auth_role role = AUTH_ROLE_PUBLIC;
    const char *name = NULL;
    TEST_EXPECT_INT(auth_check_basic(a, "Basic bWU6Y2NjY2NjY2NjY2NjY2NjYw==", &role, &name),
                    AUTH_OK);
    TEST_EXPECT_INT(role, AUTH_ROLE_VIEWER);
    TEST_EXPECT_STR(name, "root");
    TEST_EXPECT_INT(auth_check_basic(a, "Basic OmFhYWFhYWFhYWFhYWFhYWE=", &role, &name), AUTH_OK);
    TEST_EXPECT_INT(role, AUTH_ROLE_VIEWER);
    TEST_EXPECT_STR(name, "dash");
    TEST_EXPECT_INT(auth_check_basic(a, "Basic bWU6YWFhYWFhYWFhYWFhYWFh", &role, &name),
                    AUTH_INVALID);
    TEST_EXPECT_INT(auth_check_basic(a, "Basic bWU6Y2NjY2NjY2NjY2NjY2NjYwB4", &role, &name),
                    AUTH_MISSING);
    TEST_EXPECT_INT(auth_check_basic(a, "Basic bWVjY2NjY2NjY2NjY2NjY2Nj", &role, &name),
                    AUTH_MISSING);
    TEST_EXPECT_INT(auth_check_basic(a, "Basic not-base64!", &role, &name), AUTH_MISSING);
    TEST_EXPECT_INT(auth_check_basic(a, "Bearer cccccccccccccccc", &role, &name), AUTH_MISSING);
    TEST_EXPECT_INT(auth_check_basic(a, NULL, &role, &name), AUTH_MISSING);
    auth_destroy(a);
}

struct bad_case {
    const char *list;
    const char *msg_part;
};

static void test_bad_lists(void)
{
    static const struct bad_case cases[] = {
        {"x:viewer", "name:role:token"},
        {"x:root:aaaaaaaaaaaaaaaa", "role \"root\" is not one of viewer, operator, admin"},
        {"x:viewer:short", "at least 16 characters"},
        {"x y:viewer:aaaaaaaaaaaaaaaa", "must be 1-64 characters"},
        {"x:viewer:aaaaaaaaaaaaaaaa,x:admin:bbbbbbbbbbbbbbbb", "defined twice"},
        {"x:viewer:sha256:abc", "64 hex digits"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[QB_ERRBUF_SIZE] = "";
        struct auth *a = auth_create();
        TEST_EXPECT_INT(auth_load_list(a, cases[i].list, err, sizeof err), QB_ERR_INVALID);
        if (!strstr(err, cases[i].msg_part))
            TEST_FAIL_AT(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, err,
                         cases[i].msg_part);
        auth_destroy(a);
    }
}

static void test_file_with_hash(void)
{
    char path[] = "/tmp/qbackup-unit-tokens-XXXXXX";
    int fd = mkstemp(path);
    TEST_ASSERT(fd >= 0);
    FILE *f = fdopen(fd, "w");
    /* sha256("correct horse battery staple") */
    fprintf(f, "# comment line\n\n"
               "grafana viewer sha256:"
               "c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a  # trailing\n"
               "deploy operator plain-token-0123456789\n");
    fclose(f);
    char err[QB_ERRBUF_SIZE];
    struct auth *a = auth_create();
    TEST_EXPECT_INT(auth_load_file(a, path, err, sizeof err), QB_OK);
    enum auth_role role;
    const char *name;
    TEST_EXPECT_INT(auth_check(a, "Bearer correct horse battery staple", &role, &name), AUTH_OK);
    TEST_EXPECT_STR(name, "grafana");
    TEST_EXPECT_INT(auth_check(a, "Bearer plain-token-0123456789", &role, &name), AUTH_OK);
    TEST_EXPECT_STR(name, "deploy");
    auth_destroy(a);

    f = fopen(path, "w");
    fprintf(f, "lonely viewer\n");
    fclose(f);
    a = auth_create();
    TEST_EXPECT_INT(auth_load_file(a, path, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT(strstr(err, "line 1") != NULL);
    auth_destroy(a);
    unlink(path);
}

int main(void)
{
    TEST_RUN(test_list_and_check);
    TEST_RUN(test_basic);
    TEST_RUN(test_bad_lists);
    TEST_RUN(test_file_with_hash);
    return TEST_RESULT();
}
