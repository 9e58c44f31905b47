/* SPDX-License-Identifier: Apache-2.0
 *
 * test_seal.c -- AES-256-GCM sealing (util/seal.h) and the key file
 * (util/seal_keyfile.h): round trips, tampering, truncation, wrong key,
 * wrong context, rotation, and key file parsing and creation.
 */
#include "unit.h"
#include "util/seal.h"
#include "util/seal_keyfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Two fixed keys (base64 of 32 bytes) so failures are reproducible. */
#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
#define CTX   "instances.api_key_secret"

static struct seal_keyring *ring(const char *first, const char *second)
{
    char err[QB_ERRBUF_SIZE];
    struct seal_keyring *kr = seal_keyring_create();
    if (first && seal_keyring_add_base64(kr, first, "test", err, sizeof err) != QB_OK)
        TEST_FAIL_AT(__FILE__, __LINE__, "%s", err);
    if (second && seal_keyring_add_base64(kr, second, "test", err, sizeof err) != QB_OK)
        TEST_FAIL_AT(__FILE__, __LINE__, "%s", err);
    return kr;
}

static void test_round_trip(void)
{
    static const char *const plains[] = {"k", "", "a-qdrant-api-key-0123456789",
                                         "{\"access_key\":\"AKIA\",\"secret_key\":\"s/+=\"}"};
    struct seal_keyring *kr = ring(KEY_A, NULL);
    char err[QB_ERRBUF_SIZE];
    for (size_t i = 0; i < QB_ARRAY_LEN(plains); i++) {
        char *sealed = NULL, *sealed2 = NULL, *plain = NULL;
        bool stale = true;
        TEST_ASSERT(seal_seal(kr, CTX, plains[i], &sealed, err, sizeof err) == QB_OK);
        TEST_EXPECT(seal_is_sealed(sealed));
        TEST_EXPECT(strncmp(sealed, SEAL_PREFIX, strlen(SEAL_PREFIX)) == 0);
        /* A secret never shows through. Only checked for secrets long
         * enough that base64 of random bytes cannot contain them by chance
         * ("k" appears in most sealed strings). */
        TEST_EXPECT(strlen(plains[i]) < 8 || strstr(sealed, plains[i]) == NULL);
        TEST_EXPECT(strpbrk(sealed, "\"\\ \n") == NULL); /* JSON and SQL safe as is */
        /* A fresh nonce each time: the same secret never seals the same. */
        TEST_ASSERT(seal_seal(kr, CTX, plains[i], &sealed2, err, sizeof err) == QB_OK);
        TEST_EXPECT(strcmp(sealed, sealed2) != 0);
        TEST_ASSERT(seal_open(kr, CTX, sealed, &plain, &stale, err, sizeof err) == QB_OK);
        TEST_EXPECT_STR(plain, plains[i]);
        TEST_EXPECT(!stale);
        seal_wipe_free(plain);
        free(sealed);
        free(sealed2);
    }
    seal_keyring_destroy(kr);
}

/* Every single-character change anywhere is refused, never opened to
 * something else. */
static void test_tamper_and_truncate(void)
{
    struct seal_keyring *kr = ring(KEY_A, NULL);
    char err[QB_ERRBUF_SIZE];
    char *sealed = NULL, *plain = NULL;
    TEST_ASSERT(seal_seal(kr, CTX, "top-secret-key", &sealed, err, sizeof err) == QB_OK);
    size_t len = strlen(sealed);
    for (size_t i = strlen(SEAL_PREFIX); i < len; i++) {
        char *bad = strdup(sealed);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        enum qb_err rc = seal_open(kr, CTX, bad, &plain, NULL, err, sizeof err);
        if (rc == QB_OK)
            TEST_FAIL_AT(__FILE__, __LINE__, "altered byte %zu opened: %s", i, bad);
        TEST_EXPECT(plain == NULL);
        TEST_EXPECT(strstr(err, "top-secret-key") == NULL);
        free(bad);
    }
    for (size_t cut = 0; cut < len; cut++) {
        char *bad = strndup(sealed, cut);
        TEST_EXPECT(seal_open(kr, CTX, bad, &plain, NULL, err, sizeof err) != QB_OK);
        TEST_EXPECT(plain == NULL);
        free(bad);
    }
    /* An extra field. */
    char *extra = malloc(len + 3);
    snprintf(extra, len + 3, "%s:A", sealed);
    TEST_EXPECT_INT(seal_open(kr, CTX, extra, &plain, NULL, err, sizeof err), QB_ERR_INVALID);
    free(extra);
    /* Another context: same key, but made for another column. */
    TEST_EXPECT_INT(seal_open(kr, "destinations.secret", sealed, &plain, NULL, err, sizeof err),
                    QB_ERR_INVALID);
    TEST_EXPECT(strstr(err, "authentication") != NULL);
    TEST_EXPECT_INT(seal_open(kr, CTX, "top-secret-key", &plain, NULL, err, sizeof err),
                    QB_ERR_INVALID);
    free(sealed);
    seal_keyring_destroy(kr);
}

static void test_wrong_key_and_rotation(void)
{
    struct seal_keyring *a = ring(KEY_A, NULL), *b = ring(KEY_B, NULL);
    struct seal_keyring *rotated = ring(KEY_B, KEY_A);
    char err[QB_ERRBUF_SIZE], ida[SEAL_KEY_ID_LEN + 1], idb[SEAL_KEY_ID_LEN + 1];
    char *sealed = NULL, *plain = NULL, *resealed = NULL;
    bool stale = false;
    seal_keyring_current_id(a, ida);
    seal_keyring_current_id(b, idb);
    TEST_EXPECT_INT((int)strlen(ida), SEAL_KEY_ID_LEN);
    TEST_EXPECT(strcmp(ida, idb) != 0);
    TEST_ASSERT(seal_seal(a, CTX, "old-secret", &sealed, err, sizeof err) == QB_OK);
    TEST_EXPECT(strstr(sealed, ida) != NULL);
    /* Only key B: the value's key is unknown, and the message says which. */
    TEST_EXPECT_INT(seal_open(b, CTX, sealed, &plain, NULL, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT(strstr(err, ida) != NULL);
    TEST_EXPECT(plain == NULL);
    /* B current, A second: opens, reports stale, re-seals under B. */
    TEST_ASSERT(seal_open(rotated, CTX, sealed, &plain, &stale, err, sizeof err) == QB_OK);
    TEST_EXPECT_STR(plain, "old-secret");
    TEST_EXPECT(stale);
    TEST_ASSERT(seal_seal(rotated, CTX, plain, &resealed, err, sizeof err) == QB_OK);
    TEST_EXPECT(strstr(resealed, idb) != NULL);
    seal_wipe_free(plain);
    plain = NULL;
    TEST_ASSERT(seal_open(b, CTX, resealed, &plain, &stale, err, sizeof err) == QB_OK);
    TEST_EXPECT(!stale);
    TEST_EXPECT_STR(plain, "old-secret");
    seal_wipe_free(plain);
    /* A key id that matches but a different key behind it cannot happen
     * by accident; a forged id with the wrong key still fails the tag. */
    char *forged = strdup(sealed);
    memcpy(forged + strlen(SEAL_PREFIX), idb, SEAL_KEY_ID_LEN);
    plain = NULL;
    TEST_EXPECT_INT(seal_open(b, CTX, forged, &plain, NULL, err, sizeof err), QB_ERR_INVALID);
    free(forged);
    /* An empty ring seals nothing. */
    struct seal_keyring *none = seal_keyring_create();
    TEST_EXPECT_INT(seal_seal(none, CTX, "x", &plain, err, sizeof err), QB_ERR_INVALID);
    seal_keyring_destroy(none);
    /* Adding a key twice keeps one copy. */
    TEST_EXPECT_INT(seal_keyring_add_base64(rotated, KEY_A, "t", err, sizeof err), QB_OK);
    TEST_EXPECT_INT((int)seal_keyring_count(rotated), 2);
    free(sealed);
    free(resealed);
    seal_keyring_destroy(a);
    seal_keyring_destroy(b);
    seal_keyring_destroy(rotated);
}

static void test_bad_keys(void)
{
    static const char *const bad[] = {"", "short",
                                      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", KEY_A "AAAA",
                                      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"};
    char err[QB_ERRBUF_SIZE];
    for (size_t i = 0; i < QB_ARRAY_LEN(bad); i++) {
        struct seal_keyring *kr = seal_keyring_create();
        TEST_EXPECT_INT(seal_keyring_add_base64(kr, bad[i], "where", err, sizeof err),
                        QB_ERR_INVALID);
        TEST_EXPECT(strstr(err, "where") != NULL);
        TEST_EXPECT(!*bad[i] || strstr(err, bad[i]) == NULL);
        TEST_EXPECT_INT((int)seal_keyring_count(kr), 0);
        seal_keyring_destroy(kr);
    }
}

static void test_keyfile(void)
{
    char dir[] = "/tmp/qbackup-seal-XXXXXX", path[128], err[QB_ERRBUF_SIZE];
    TEST_ASSERT(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/secrets.key", dir);
    struct seal_keyring *kr = seal_keyring_create();
    TEST_EXPECT_INT(seal_keyfile_read(path, kr, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_ASSERT(seal_keyfile_create(path, kr, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((int)seal_keyring_count(kr), 1);
    struct stat st;
    TEST_ASSERT(stat(path, &st) == 0);
    TEST_EXPECT_INT((int)(st.st_mode & 0777), 0600);
    /* Never replaced. */
    TEST_EXPECT_INT(seal_keyfile_create(path, kr, err, sizeof err), QB_ERR_CONFLICT);
    struct seal_keyring *again = seal_keyring_create();
    TEST_ASSERT(seal_keyfile_read(path, again, err, sizeof err) == QB_OK);
    char id1[SEAL_KEY_ID_LEN + 1], id2[SEAL_KEY_ID_LEN + 1];
    seal_keyring_current_id(kr, id1);
    seal_keyring_current_id(again, id2);
    TEST_EXPECT_STR(id1, id2);
    seal_keyring_destroy(again);
    seal_keyring_destroy(kr);

    /* Rotation layout: comments, blank lines, new key first, old second. */
    FILE *f = fopen(path, "w");
    TEST_ASSERT(f != NULL);
    fprintf(f,
            "# rotated 2026-12-06\n\n  " KEY_B "  \n# old key, remove once re-sealed\n" KEY_A "\n");
    fclose(f);
    kr = seal_keyring_create();
    TEST_ASSERT(seal_keyfile_read(path, kr, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((int)seal_keyring_count(kr), 2);
    struct seal_keyring *b = ring(KEY_B, NULL);
    seal_keyring_current_id(kr, id1);
    seal_keyring_current_id(b, id2);
    TEST_EXPECT_STR(id1, id2);
    seal_keyring_destroy(b);
    seal_keyring_destroy(kr);

    /* A bad line names the file and line, not the text. */
    f = fopen(path, "w");
    TEST_ASSERT(f != NULL);
    fprintf(f, KEY_A "\nnot-a-key-at-all\n");
    fclose(f);
    kr = seal_keyring_create();
    TEST_EXPECT_INT(seal_keyfile_read(path, kr, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT(strstr(err, "line 2") != NULL);
    TEST_EXPECT(strstr(err, "not-a-key") == NULL);
    seal_keyring_destroy(kr);
    f = fopen(path, "w");
    TEST_ASSERT(f != NULL);
    fprintf(f, "# nothing here\n");
    fclose(f);
    kr = seal_keyring_create();
    TEST_EXPECT_INT(seal_keyfile_read(path, kr, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT(strstr(err, "holds no key") != NULL);
    seal_keyring_destroy(kr);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    TEST_RUN(test_round_trip);
    TEST_RUN(test_tamper_and_truncate);
    TEST_RUN(test_wrong_key_and_rotation);
    TEST_RUN(test_bad_keys);
    TEST_RUN(test_keyfile);
    return TEST_RESULT();
}
