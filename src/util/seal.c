/* SPDX-License-Identifier: Apache-2.0
 *
 * seal.c -- AES-256-GCM sealing of small secrets and the key ring (see
 * seal.h for the format).  Owns the key bytes; wipes them on destroy.
 */
#include "util/seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#define NONCE_LEN 12 /* GCM's native nonce size: no extra GHASH pass */
#define TAG_LEN   16 /* full tag: truncated tags weaken forgery resistance */

/* Secrets sealed here are API keys and credential objects; anything far
 * larger is not what this is for and is refused rather than processed. */
#define SEAL_MAX_PLAIN 65536

struct seal_key {
    unsigned char key[SEAL_KEY_LEN];
    char id[SEAL_KEY_ID_LEN + 1];
};

struct seal_keyring {
    struct seal_key *keys; /* keys[0] is current */
    size_t n;
};

void seal_keyring_destroy(struct seal_keyring *kr)
{
    if (!kr)
        return;
    if (kr->keys)
        OPENSSL_cleanse(kr->keys, kr->n * sizeof *kr->keys);
    free(kr->keys);
    free(kr);
}

struct seal_keyring *seal_keyring_create(void)
{
    return xcalloc(1, sizeof(struct seal_keyring));
}

/* The id is a hash of the key under a fixed label, so it names the key
 * without revealing anything usable about it. */
static void key_id(const unsigned char key[SEAL_KEY_LEN], char out[SEAL_KEY_ID_LEN + 1])
{
    static const char label[] = "qbackup seal key id v1";
    unsigned char buf[sizeof label + SEAL_KEY_LEN], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    memcpy(buf, label, sizeof label);
    memcpy(buf + sizeof label, key, SEAL_KEY_LEN);
    EVP_Digest(buf, sizeof buf, md, &mdlen, EVP_sha256(), NULL);
    OPENSSL_cleanse(buf, sizeof buf);
    for (int i = 0; i < SEAL_KEY_ID_LEN / 2; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static const struct seal_key *find_key(const struct seal_keyring *kr, const char *id)
{
    for (size_t i = 0; i < kr->n; i++)
        if (strcmp(kr->keys[i].id, id) == 0)
            return &kr->keys[i];
    return NULL;
}

void seal_keyring_add(struct seal_keyring *kr, const unsigned char key[SEAL_KEY_LEN])
{
    char id[SEAL_KEY_ID_LEN + 1];
    key_id(key, id);
    if (find_key(kr, id))
        return;
    /* Grown by copy so the old array can be wiped, not just freed. */
    struct seal_key *grown = xcalloc(kr->n + 1, sizeof *grown);
    if (kr->n)
        memcpy(grown, kr->keys, kr->n * sizeof *grown);
    if (kr->keys)
        OPENSSL_cleanse(kr->keys, kr->n * sizeof *kr->keys);
    free(kr->keys);
    kr->keys = grown;
    memcpy(kr->keys[kr->n].key, key, SEAL_KEY_LEN);
    memcpy(kr->keys[kr->n].id, id, sizeof id);
    kr->n++;
}

size_t seal_keyring_count(const struct seal_keyring *kr)
{
    return kr->n;
}

void seal_keyring_current_id(const struct seal_keyring *kr, char out[SEAL_KEY_ID_LEN + 1])
{
    if (kr->n)
        memcpy(out, kr->keys[0].id, SEAL_KEY_ID_LEN + 1);
    else
        out[0] = '\0';
}

bool seal_keyring_has(const struct seal_keyring *kr, const char *key_id)
{
    return kr && key_id && find_key(kr, key_id) != NULL;
}

enum qb_err seal_keyring_derive(const struct seal_keyring *kr, const char *key_id,
                                const unsigned char *salt, size_t saltlen, const char *info,
                                unsigned char *out, size_t outlen, char *err, size_t errlen)
{
    const struct seal_key *k = find_key(kr, key_id);
    if (!k)
        return qb_failf(QB_ERR_NOT_FOUND, err, errlen,
                        "key %s is not among the %zu configured secrets key(s)", key_id, kr->n);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t n = outlen;
    bool ok =
        ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1 &&
        EVP_PKEY_CTX_set1_hkdf_key(ctx, k->key, SEAL_KEY_LEN) == 1 &&
        EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt, (int)saltlen) == 1 &&
        EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *)info, (int)strlen(info)) == 1 &&
        EVP_PKEY_derive(ctx, out, &n) == 1 && n == outlen;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        OPENSSL_cleanse(out, outlen);
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "HKDF-SHA256 key derivation failed");
    }
    return QB_OK;
}

static char *b64_encode(const unsigned char *data, size_t len);

/* Strict base64 decode of text[0..len) into out (room for 3*len/4 bytes):
 * only the canonical encoding is accepted (the unused bits of the last
 * character must be zero), so a sealed value has exactly one spelling and
 * any changed character is refused.  Returns the decoded length, or -1. */
static long b64_decode(const char *text, size_t len, unsigned char *out)
{
    if (len % 4 != 0)
        return -1;
    if (len == 0)
        return 0;
    size_t pad = 0;
    if (text[len - 1] == '=')
        pad++;
    if (len >= 2 && text[len - 2] == '=')
        pad++;
    for (size_t i = 0; i < len - pad; i++) {
        char c = text[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/';
        if (!ok)
            return -1;
    }
    int n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)len);
    if (n < 0 || (size_t)n < pad)
        return -1;
    size_t got = (size_t)n - pad;
    char *again = b64_encode(out, got);
    bool canonical = strlen(again) == len && memcmp(again, text, len) == 0;
    OPENSSL_cleanse(again, strlen(again)); /* may spell a key */
    free(again);
    return canonical ? (long)got : -1;
}

/* Base64 of data[0..len); caller frees. */
static char *b64_encode(const unsigned char *data, size_t len)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

enum qb_err seal_keyring_add_base64(struct seal_keyring *kr, const char *text, const char *source,
                                    char *err, size_t errlen)
{
    while (*text == ' ' || *text == '\t')
        text++;
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\n' ||
                       text[len - 1] == '\r'))
        len--;
    unsigned char buf[SEAL_KEY_LEN + 3];
    long n = len <= 4 * ((SEAL_KEY_LEN + 2) / 3) ? b64_decode(text, len, buf) : -1;
    enum qb_err rc = QB_OK;
    if (n != SEAL_KEY_LEN)
        rc = qb_failf(QB_ERR_INVALID, err, errlen,
                      "%s: a secrets key is the base64 text of %d random bytes (make one with "
                      "`openssl rand -base64 %d`)",
                      source, SEAL_KEY_LEN, SEAL_KEY_LEN);
    else
        seal_keyring_add(kr, buf);
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

enum qb_err seal_key_generate(unsigned char key[SEAL_KEY_LEN], char *err, size_t errlen)
{
    if (RAND_bytes(key, SEAL_KEY_LEN) != 1)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "no entropy for a secrets key");
    return QB_OK;
}

char *seal_key_to_base64(const unsigned char key[SEAL_KEY_LEN])
{
    return b64_encode(key, SEAL_KEY_LEN);
}

bool seal_is_sealed(const char *text)
{
    return text && strncmp(text, SEAL_PREFIX, strlen(SEAL_PREFIX)) == 0;
}

void seal_wipe_free(char *secret)
{
    if (!secret)
        return;
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
}

/* One GCM pass.  enc: seal in[0..len) into out and write tag; otherwise
 * open in into out and check tag.  Returns false on any failure, which
 * for opening means "not authentic". */
static bool gcm(bool enc, const unsigned char *key, const unsigned char *nonce, const char *context,
                const unsigned char *in, size_t len, unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    bool ok =
        ctx && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) == 1 &&
        EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)context, (int)strlen(context)) == 1;
    if (ok && len > 0)
        ok = EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1;
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1;
    if (ok)
        ok = EVP_CipherFinal_ex(ctx, out + (len > 0 ? n : 0), &n) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

enum qb_err seal_seal(const struct seal_keyring *kr, const char *context, const char *plain,
                      char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (kr->n == 0)
        return qb_failf(QB_ERR_INVALID, err, errlen, "no secrets key to seal with");
    size_t len = strlen(plain);
    if (len > SEAL_MAX_PLAIN)
        return qb_failf(QB_ERR_INVALID, err, errlen, "secret longer than %d bytes", SEAL_MAX_PLAIN);
    unsigned char nonce[NONCE_LEN], tag[TAG_LEN];
    unsigned char *ct = xmalloc(len + 1);
    enum qb_err rc = QB_OK;
    if (RAND_bytes(nonce, sizeof nonce) != 1) {
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen, "no entropy for a nonce");
        goto out;
    }
    if (!gcm(true, kr->keys[0].key, nonce, context, (const unsigned char *)plain, len, ct, tag)) {
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen, "AES-256-GCM sealing failed");
        goto out;
    }
    char *n64 = b64_encode(nonce, sizeof nonce);
    char *c64 = b64_encode(ct, len);
    char *t64 = b64_encode(tag, sizeof tag);
    *out = xasprintf(SEAL_PREFIX "%s:%s:%s:%s", kr->keys[0].id, n64, c64, t64);
    free(n64);
    free(c64);
    free(t64);
out:
    free(ct);
    return rc;
}

/* Splits sealed text after the prefix into its four fields, in place in
 * copy; returns false when there are not exactly four. */
static bool split_fields(char *copy, char *field[4])
{
    char *p = copy + strlen(SEAL_PREFIX);
    for (int i = 0; i < 4; i++) {
        field[i] = p;
        char *colon = strchr(p, ':');
        if (i < 3) {
            if (!colon)
                return false;
            *colon = '\0';
            p = colon + 1;
        } else if (colon) {
            return false;
        }
    }
    return true;
}

enum qb_err seal_open(const struct seal_keyring *kr, const char *context, const char *sealed,
                      char **out, bool *stale, char *err, size_t errlen)
{
    *out = NULL;
    if (!seal_is_sealed(sealed))
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: not a sealed value", context);
    char *copy = xstrdup(sealed);
    char *field[4];
    unsigned char nonce[NONCE_LEN + 3], tag[TAG_LEN + 3], *ct = NULL;
    char *plain = NULL;
    enum qb_err rc = QB_OK;
    long clen = 0;
    size_t ctmax = strlen(sealed); /* base64 only shrinks */
    if (!split_fields(copy, field) || strlen(field[0]) != SEAL_KEY_ID_LEN ||
        strlen(field[1]) != 4 * ((NONCE_LEN + 2) / 3) ||
        strlen(field[3]) != 4 * ((TAG_LEN + 2) / 3)) {
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "%s: malformed sealed value", context);
        goto out;
    }
    const struct seal_key *k = find_key(kr, field[0]);
    if (!k) {
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen,
                      "%s: sealed with key %s, which is not among the %zu configured secrets "
                      "key(s)",
                      context, field[0], kr->n);
        goto out;
    }
    ct = xmalloc(ctmax + 1);
    clen = b64_decode(field[2], strlen(field[2]), ct);
    if (b64_decode(field[1], strlen(field[1]), nonce) != NONCE_LEN || clen < 0 ||
        clen > SEAL_MAX_PLAIN || b64_decode(field[3], strlen(field[3]), tag) != TAG_LEN) {
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "%s: malformed sealed value", context);
        goto out;
    }
    plain = xmalloc((size_t)clen + 1);
    if (!gcm(false, k->key, nonce, context, ct, (size_t)clen, (unsigned char *)plain, tag)) {
        rc = qb_failf(QB_ERR_INVALID, err, errlen,
                      "%s: sealed value fails authentication (altered, truncated, or sealed for "
                      "another place)",
                      context);
        goto out;
    }
    plain[clen] = '\0';
    if (strlen(plain) != (size_t)clen) {
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "%s: sealed value holds a NUL byte", context);
        goto out;
    }
    if (stale)
        *stale = k != &kr->keys[0];
    *out = plain;
    plain = NULL;
out:
    if (plain) {
        OPENSSL_cleanse(plain, (size_t)clen);
        free(plain);
    }
    if (ct) {
        OPENSSL_cleanse(ct, ctmax);
        free(ct);
    }
    free(copy);
    return rc;
}
