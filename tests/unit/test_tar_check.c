/* SPDX-License-Identifier: Apache-2.0
 *
 * test_tar_check.c -- the streamed tar completeness check (tar_check.c)
 * on archives made by GNU tar (regular, long-name, sparse and empty
 * entries), fed in every chunking, and cut at every block boundary; and
 * the exact-integer JSON reader (json_u64.c) used for Qdrant peer ids.
 */
#include "unit.h"
#include "util/json_u64.h"
#include "util/tar_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Builds a tar with GNU tar in a temporary directory; caller frees. */
static unsigned char *make_tar(size_t *len)
{
    char dir[] = "/tmp/qb-tar-XXXXXX";
    if (!mkdtemp(dir))
        return NULL;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && mkdir -p src/segments/a && head -c 70000 /dev/urandom > src/segments/a/data "
             "&& printf x > src/one && : > src/empty "
             "&& touch src/segments/a/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
             "&& truncate -s 5M src/sparse && printf y | dd of=src/sparse bs=1 seek=3000000 "
             "conv=notrunc 2>/dev/null "
             "&& tar --sparse -cf out.tar -C src . && cat out.tar",
             dir);
    FILE *f = popen(cmd, "r");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (!r)
            break;
        n += r;
    }
    int st = pclose(f);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0 || st != 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static enum qb_err check(const unsigned char *p, size_t len, size_t chunk, char *err, size_t errlen)
{
    struct tar_check *t = tar_check_new();
    enum qb_err rc = QB_OK;
    for (size_t off = 0; off < len && !rc; off += chunk)
        rc = tar_check_feed(t, p + off, len - off < chunk ? len - off : chunk, err, errlen);
    if (!rc)
        rc = tar_check_finish(t, err, errlen);
    tar_check_free(t);
    return rc;
}

static void test_whole_archive(void)
{
    size_t len = 0;
    unsigned char *tar = make_tar(&len);
    TEST_ASSERT(tar && len > 70000);
    static const size_t chunks[] = {1, 7, 511, 512, 513, 4096, 65536, 1 << 22};
    for (size_t i = 0; i < QB_ARRAY_LEN(chunks); i++) {
        char err[QB_ERRBUF_SIZE] = "";
        enum qb_err rc = check(tar, len, chunks[i], err, sizeof err);
        if (rc)
            TEST_FAIL_AT(__FILE__, __LINE__, "chunk %zu: %s", chunks[i], err);
    }
    struct tar_check *t = tar_check_new();
    char err[QB_ERRBUF_SIZE];
    TEST_EXPECT_INT(tar_check_feed(t, tar, len, err, sizeof err), QB_OK);
    TEST_EXPECT(tar_check_entries(t) >= 6);
    tar_check_free(t);
    free(tar);
}

/* Every cut before the end-of-archive marker is detected, wherever it
 * falls: on a block boundary (looks like a clean end) or inside one. */
static void test_every_truncation(void)
{
    size_t len = 0;
    unsigned char *tar = make_tar(&len);
    TEST_ASSERT(tar);
    /* Where the end marker starts: the last non-zero byte's block + 1. */
    size_t last = len;
    while (last > 0 && tar[last - 1] == 0)
        last--;
    size_t end_marker = (last + 511) / 512 * 512;
    int missed = 0;
    for (size_t cut = 0; cut < end_marker + 1024; cut += 512) {
        char err[QB_ERRBUF_SIZE] = "";
        if (check(tar, cut, 4096, err, sizeof err) == QB_OK)
            missed++;
        else
            TEST_EXPECT(strstr(err, "truncated") != NULL);
    }
    TEST_EXPECT_INT(missed, 0);
    for (size_t cut = 100; cut < len; cut += 9973) {
        char err[QB_ERRBUF_SIZE] = "";
        TEST_EXPECT_INT(check(tar, cut, 1000, err, sizeof err), QB_ERR_REMOTE);
    }
    free(tar);
}

static void test_garbage(void)
{
    size_t len = 0;
    unsigned char *tar = make_tar(&len);
    TEST_ASSERT(tar);
    char err[QB_ERRBUF_SIZE] = "";
    tar[10] ^= 0x55; /* first header's name: checksum no longer matches */
    TEST_EXPECT_INT(check(tar, len, 512, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT(strstr(err, "wrong checksum") != NULL);
    tar[10] ^= 0x55;
    /* Data after the end-of-archive marker. */
    unsigned char *more = malloc(len + 512);
    memcpy(more, tar, len);
    memset(more + len, 'x', 512);
    TEST_EXPECT_INT(check(more, len + 512, 512, err, sizeof err), QB_ERR_REMOTE);
    unsigned char html[] = "<html>500 Internal Server Error</html>";
    TEST_EXPECT_INT(check(html, sizeof html, 512, err, sizeof err), QB_ERR_REMOTE);
    free(more);
    free(tar);
}

static void test_json_u64(void)
{
    const char *text = "{\"peer_id\":9223372036854775807,\"small\":42,\"f\":1.5e300,"
                       "\"s\":\"12345678901234567890\",\"neg\":-12345678901234567,"
                       "\"arr\":[18446744073709551615,1]}";
    cJSON *j = json_parse_exact(text, strlen(text));
    TEST_ASSERT(j);
    uint64_t v = 0;
    TEST_EXPECT(json_u64(cJSON_GetObjectItem(j, "peer_id"), &v));
    TEST_EXPECT(v == 9223372036854775807ULL);
    TEST_EXPECT(json_u64(cJSON_GetObjectItem(j, "small"), &v) && v == 42);
    TEST_EXPECT(cJSON_IsNumber(cJSON_GetObjectItem(j, "f")));
    TEST_EXPECT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "s")), "12345678901234567890");
    TEST_EXPECT(!json_u64(cJSON_GetObjectItem(j, "neg"), &v));
    TEST_EXPECT(json_u64(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "arr"), 0), &v));
    TEST_EXPECT(v == 18446744073709551615ULL);
    cJSON *o = cJSON_CreateObject();
    json_add_u64(o, "id", 18446744073709551615ULL);
    char *out = cJSON_PrintUnformatted(o);
    TEST_EXPECT_STR(out, "{\"id\":18446744073709551615}");
    free(out);
    cJSON_Delete(o);
    cJSON_Delete(j);
    /* A tree printed back keeps long integers numbers (a shard key may be
     * a u64) and strings of digits strings. */
    const char *mixed = "{\"shard_key\":12345678901234567890,\"s\":\"12345678901234567890\","
                        "\"n\":-12345678901234567,\"k\":[1234567890123456,{\"x\":7}]}";
    j = json_parse_exact(mixed, strlen(mixed));
    TEST_ASSERT(j);
    out = cJSON_PrintUnformatted(j);
    TEST_EXPECT_STR(out, mixed);
    free(out);
    cJSON *dup = cJSON_Duplicate(cJSON_GetObjectItem(j, "k"), true);
    out = cJSON_PrintUnformatted(dup);
    TEST_EXPECT_STR(out, "[1234567890123456,{\"x\":7}]");
    free(out);
    cJSON_Delete(dup);
    cJSON_Delete(j);
}

int main(void)
{
    TEST_RUN(test_whole_archive);
    TEST_RUN(test_every_truncation);
    TEST_RUN(test_garbage);
    TEST_RUN(test_json_u64);
    return TEST_RESULT();
}
