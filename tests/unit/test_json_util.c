/* SPDX-License-Identifier: Apache-2.0
 *
 * test_json_util.c -- bounded parsing, typed getters and the bounded buffer.
 */
#include "unit.h"
#include "util/buf.h"
#include "util/json_util.h"

#include <stdlib.h>
#include <string.h>

struct parse_case {
    const char *text;
    int max_depth;
    enum qb_err want;
    const char *msg_part;
};

static void test_parse_bounded(void)
{
    static const struct parse_case cases[] = {
        {"{}", 4, QB_OK, NULL},
        {"{\"a\":[1,{\"b\":2}]}", 3, QB_OK, NULL},
        {"{\"a\":[1,{\"b\":2}]}", 2, QB_ERR_INVALID, "nests 3 levels deep; the limit is 2"},
        {"{\"s\":\"[[[[[[\"}", 1, QB_OK, NULL}, /* brackets inside strings do not count */
        {"{\"s\":\"\\\"[[[\"}", 1, QB_OK, NULL},
        {"", 4, QB_ERR_INVALID, "empty"},
        {"{\"a\":", 4, QB_ERR_INVALID, "malformed JSON near byte"},
        {"{} {}", 4, QB_ERR_INVALID, "unexpected data after the document at byte 3"},
        {"  {}  \n", 4, QB_OK, NULL},
        {"nul", 4, QB_ERR_INVALID, "malformed JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *json = NULL;
        char err[QB_ERRBUF_SIZE] = "";
        enum qb_err rc = json_parse_bounded(cases[i].text, strlen(cases[i].text),
                                            cases[i].max_depth, &json, err, sizeof err);
        if (rc != cases[i].want)
            TEST_FAIL_AT(__FILE__, __LINE__, "case %zu: rc %d want %d (%s)", i, rc, cases[i].want,
                         err);
        if (cases[i].msg_part && !strstr(err, cases[i].msg_part))
            TEST_FAIL_AT(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, err,
                         cases[i].msg_part);
        TEST_EXPECT((rc == QB_OK) == (json != NULL));
        cJSON_Delete(json);
    }
}

static void test_getters(void)
{
    cJSON *o = cJSON_Parse("{\"s\":\"x\",\"b\":true,\"i\":7,\"f\":1.5,\"n\":null,\"big\":1e30}");
    TEST_ASSERT(o != NULL);
    char err[QB_ERRBUF_SIZE];
    const char *s = NULL;
    bool b = false;
    int64_t i = 0;
    TEST_EXPECT_INT(json_get_string(o, "s", &s, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(s, "x");
    TEST_EXPECT_INT(json_get_string(o, "b", &s, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_STR(err, "b: must be a string");
    TEST_EXPECT_INT(json_get_string(o, "n", &s, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_INT(json_get_string(o, "missing", &s, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_INT(json_get_bool(o, "b", &b, err, sizeof err), QB_OK);
    TEST_EXPECT(b);
    TEST_EXPECT_INT(json_get_int(o, "i", 0, 10, &i, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(i, 7);
    TEST_EXPECT_INT(json_get_int(o, "i", 8, 10, &i, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_STR(err, "i: must be between 8 and 10");
    TEST_EXPECT_INT(json_get_int(o, "f", 0, 10, &i, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_STR(err, "f: must be an integer");
    TEST_EXPECT_INT(json_get_int(o, "big", 0, INT64_MAX, &i, err, sizeof err), QB_ERR_INVALID);

    static const char *const allowed[] = {"s", "b", "i", "f", "n", "big", NULL};
    static const char *const fewer[] = {"s", "b", NULL};
    TEST_EXPECT_INT(json_reject_unknown(o, allowed, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(json_reject_unknown(o, fewer, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT_STR(err, "i: unknown field");
    cJSON_Delete(o);
}

/* NULs in strings and duplicate keys are refused with the member's path;
 * cJSON alone would cut "a\u0000b" to "a" and keep the first of two keys. */
static void test_check_strict(void)
{
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        enum qb_err want;
        const char *field;
        const char *msg_part;
    } cases[] = {
        {"{\"name\":\"a\",\"url\":\"b\"}", 0, QB_OK, "", NULL},
        {"{\"name\":\"a\\u0000b\"}", 0, QB_ERR_INVALID, "name", "NUL character"},
        {"{\"n\":\"\\\\u0000\"}", 0, QB_OK, "", NULL}, /* an escaped backslash, then text */
        {"{\"s\":{\"bucket\":\"x\\u0000\"}}", 0, QB_ERR_INVALID, "s.bucket", "the value"},
        {"{\"c\":[\"a\",\"b\",\"\\u0000\"]}", 0, QB_ERR_INVALID, "c[2]", NULL},
        {"{\"c\":[{\"k\":1},{\"k\":\"\\u0000\"}]}", 0, QB_ERR_INVALID, "c[1].k", NULL},
        {"{\"a\\u0000b\":1}", 0, QB_ERR_INVALID, "a\\u0000b", "the key"},
        {"\"\\u0000\"", 0, QB_ERR_INVALID, "", "the body contains"},
        {"{\"raw\":\"a\0b\"}", 13, QB_ERR_INVALID, "raw", NULL}, /* a raw NUL byte */
        {"{\"a\":1,\"a\":2}", 0, QB_ERR_INVALID, "a", "duplicate key"},
        {"{\"x\":{\"b\":1,\"c\":2,\"b\":3}}", 0, QB_ERR_INVALID, "x.b", "x.b: duplicate key"},
        {"{\"l\":[{\"k\":1},{\"k\":1,\"k\":2}]}", 0, QB_ERR_INVALID, "l[1].k", NULL},
        {"{\"a\":{\"k\":1},\"b\":{\"k\":1}}", 0, QB_OK, "", NULL}, /* same key, two objects */
        {"[{\"a\":1},{\"a\":1}]", 0, QB_OK, "", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        cJSON *json = NULL;
        char err[QB_ERRBUF_SIZE] = "", field[64] = "?";
        if (json_parse_bounded(cases[i].text, len, 8, &json, err, sizeof err) != QB_OK) {
            TEST_FAIL_AT(__FILE__, __LINE__, "case %zu does not parse: %s", i, err);
            continue;
        }
        enum qb_err rc =
            json_check_strict(cases[i].text, len, json, field, sizeof field, err, sizeof err);
        if (rc != cases[i].want)
            TEST_FAIL_AT(__FILE__, __LINE__, "case %zu: rc %d want %d (%s)", i, rc, cases[i].want,
                         err);
        if (strcmp(field, cases[i].field) != 0)
            TEST_FAIL_AT(__FILE__, __LINE__, "case %zu: field \"%s\" want \"%s\"", i, field,
                         cases[i].field);
        if (cases[i].msg_part && !strstr(err, cases[i].msg_part))
            TEST_FAIL_AT(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, err,
                         cases[i].msg_part);
        cJSON_Delete(json);
    }
}

static void test_buf_cap(void)
{
    struct buf b;
    buf_init(&b, 8);
    TEST_EXPECT(buf_appends(&b, "1234"));
    TEST_EXPECT(buf_printf(&b, "%d", 5678));
    TEST_EXPECT_INT(b.len, 8);
    TEST_EXPECT(!buf_appends(&b, "9"));
    TEST_EXPECT_STR(b.data, "12345678");
    size_t len = 0;
    char *p = buf_steal(&b, &len);
    TEST_EXPECT_STR(p, "12345678");
    TEST_EXPECT_INT(len, 8);
    TEST_EXPECT(b.data == NULL);
    free(p);
    buf_free(&b);
}

int main(void)
{
    TEST_RUN(test_parse_bounded);
    TEST_RUN(test_getters);
    TEST_RUN(test_check_strict);
    TEST_RUN(test_buf_cap);
    return TEST_RESULT();
}
