/* SPDX-License-Identifier: Apache-2.0
 *
 * test_keyref.c -- encryption key references (engine/keyref.h): a key
 * file and an environment variable name a ring, the writing key first and
 * read_keys after; malformed and unreadable references are refused naming
 * the member and never echoing a key.
 */
#include "unit.h"
#include "codec/codec.h"
#include "engine/keyref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/qb-keyref-XXXXXX";
static char file_a[128], file_b[128], b64_a[64], b64_b[64], id_a[16], id_b[16];

/* Writes a one-key file; its text and id to b64 / id. */
static bool make_key(const char *path, char *b64, char *id)
{
    unsigned char key[SEAL_KEY_LEN];
    char err[QB_ERRBUF_SIZE];
    if (seal_key_generate(key, err, sizeof err))
        return false;
    char *text = seal_key_to_base64(key);
    snprintf(b64, 64, "%s", text);
    FILE *f = fopen(path, "w");
    bool ok = f && fprintf(f, "# a comment\n%s\n", text) > 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    struct seal_keyring *r = seal_keyring_create();
    seal_keyring_add(r, key);
    char cur[SEAL_KEY_ID_LEN + 1];
    seal_keyring_current_id(r, cur);
    snprintf(id, 16, "%s", cur);
    seal_keyring_destroy(r);
    free(text);
    return ok;
}

/* keyref_parse of text; reason (may be NULL) must occur in the error. */
static enum qb_err parse(const char *text, const char *reason)
{
    cJSON *v = cJSON_Parse(text);
    char *stored = NULL, err[QB_ERRBUF_SIZE] = "";
    enum qb_err rc = keyref_parse(v, "encryption", &stored, err, sizeof err);
    if (reason && !strstr(err, reason))
        fprintf(stderr, "%s: %s\n", text, err);
    if (reason)
        TEST_EXPECT(strstr(err, reason) != NULL);
    TEST_EXPECT(strstr(err, b64_a) == NULL && strstr(err, b64_b) == NULL);
    TEST_EXPECT(!stored || !strstr(stored, b64_a));
    free(stored);
    cJSON_Delete(v);
    return rc;
}

static void test_sources_and_rotation(void)
{
    char text[512], err[QB_ERRBUF_SIZE];
    snprintf(text, sizeof text, "{\"key_file\":\"%s\",\"read_keys\":[{\"key_env\":\"QB_KR_B\"}]}",
             file_a);
    TEST_EXPECT_INT(parse(text, NULL), QB_OK);
    struct seal_keyring *ring = NULL;
    TEST_ASSERT(keyref_ring(text, NULL, &ring, err, sizeof err) == QB_OK);
    char cur[SEAL_KEY_ID_LEN + 1];
    seal_keyring_current_id(ring, cur);
    TEST_EXPECT_STR(cur, id_a); /* the source writes */
    TEST_EXPECT(codec_keyring_has(ring, id_b));
    TEST_EXPECT_INT(seal_keyring_count(ring), 2);
    seal_keyring_destroy(ring);

    /* A plan's reference first, its destination's after. */
    char plan[256], dest[256];
    snprintf(plan, sizeof plan, "{\"key_env\":\"QB_KR_B\"}");
    snprintf(dest, sizeof dest, "{\"key_file\":\"%s\"}", file_a);
    TEST_ASSERT(keyref_ring(plan, dest, &ring, err, sizeof err) == QB_OK);
    seal_keyring_current_id(ring, cur);
    TEST_EXPECT_STR(cur, id_b);
    TEST_EXPECT(codec_keyring_has(ring, id_a));
    seal_keyring_destroy(ring);

    TEST_ASSERT(keyref_ring(NULL, NULL, &ring, err, sizeof err) == QB_OK);
    TEST_EXPECT(ring == NULL);
    TEST_EXPECT_INT(parse("null", NULL), QB_OK);
}

static void test_refused(void)
{
    char text[512];
    TEST_EXPECT_INT(parse("\"k\"", "encryption: must be an object"), QB_ERR_INVALID);
    TEST_EXPECT_INT(parse("{}", "exactly one"), QB_ERR_INVALID);
    snprintf(text, sizeof text, "{\"key_file\":\"%s\",\"key_env\":\"QB_KR_B\"}", file_a);
    TEST_EXPECT_INT(parse(text, "exactly one"), QB_ERR_INVALID);
    TEST_EXPECT_INT(
        parse("{\"key_file\":\"relative\"}", "encryption.key_file: must be an absolute path"),
        QB_ERR_INVALID);
    TEST_EXPECT_INT(parse("{\"key_file\":\"/nonexistent/k\"}", "encryption.key_file: "),
                    QB_ERR_INVALID);
    TEST_EXPECT_INT(parse("{\"key_env\":\"QB_KR_UNSET\"}", "is not set"), QB_ERR_INVALID);
    TEST_EXPECT_INT(parse("{\"key_env\":\"1BAD\"}", "encryption.key_env"), QB_ERR_INVALID);
    TEST_EXPECT_INT(parse("{\"key_env\":\"QB_KR_BAD\"}", "encryption.key_env"), QB_ERR_INVALID);
    snprintf(text, sizeof text, "{\"key_file\":\"%s\",\"extra\":1}", file_a);
    TEST_EXPECT_INT(parse(text, "encryption.extra"), QB_ERR_INVALID);
    snprintf(text, sizeof text, "{\"key_file\":\"%s\",\"read_keys\":[{\"key_env\":\"QB_KR_BAD\"}]}",
             file_a);
    TEST_EXPECT_INT(parse(text, "encryption.read_keys[0].key_env"), QB_ERR_INVALID);
    /* read_keys nest one level only. */
    snprintf(text, sizeof text,
             "{\"key_file\":\"%s\",\"read_keys\":[{\"key_file\":\"%s\",\"read_keys\":[]}]}", file_a,
             file_b);
    TEST_EXPECT_INT(parse(text, "encryption.read_keys[0].read_keys"), QB_ERR_INVALID);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(file_a, sizeof file_a, "%s/a.key", dir);
    snprintf(file_b, sizeof file_b, "%s/b.key", dir);
    if (!make_key(file_a, b64_a, id_a) || !make_key(file_b, b64_b, id_b))
        return 1;
    setenv("QB_KR_B", b64_b, 1);
    char bad[80];
    snprintf(bad, sizeof bad, "%s!", b64_a); /* malformed, holding key text */
    setenv("QB_KR_BAD", bad, 1);
    unsetenv("QB_KR_UNSET");
    TEST_RUN(test_sources_and_rotation);
    TEST_RUN(test_refused);
    unlink(file_a);
    unlink(file_b);
    rmdir(dir);
    return TEST_RESULT();
}
