/* SPDX-License-Identifier: Apache-2.0
 *
 * url_token.c -- HMAC tokens for download URLs.  Owns the process secret
 * (a lock-free singleton: written once before threads start).
 */
#include "util/url_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Each half of a token: 16 bytes of the HMAC (128 bits), in hex. */
#define TAG_HEX (URL_TOKEN_HEX / 2)

static unsigned char secret[32];
static bool have_secret;

enum qb_err url_token_init(char *err, size_t errlen)
{
    if (getrandom(secret, sizeof secret, 0) != (ssize_t)sizeof secret)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "no entropy for the URL token secret");
    have_secret = true;
    return QB_OK;
}

void url_token_use_secret(const unsigned char s[32])
{
    memcpy(secret, s, sizeof secret);
    have_secret = true;
}

/* Writes hex(HMAC(secret, msg))[0..TAG_HEX) to out (TAG_HEX + 1 bytes). */
static void tag(const char *msg, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    QB_ASSERT(have_secret);
    if (!HMAC(EVP_sha256(), secret, sizeof secret, (const unsigned char *)msg, strlen(msg), mac,
              &len))
        memset(mac, 0, sizeof mac);
    for (int i = 0; i < TAG_HEX / 2; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

static void mint_tag(int64_t snapshot_id, int64_t expires, char *out)
{
    char msg[64];
    snprintf(msg, sizeof msg, "mint:%lld:%lld", (long long)snapshot_id, (long long)expires);
    tag(msg, out);
}

static void bind_tag(int64_t snapshot_id, int64_t expires, const char *identity, char *out)
{
    char *msg = xasprintf("bind:%lld:%lld:%s", (long long)snapshot_id, (long long)expires,
                          identity ? identity : "");
    tag(msg, out);
    free(msg);
}

void url_token_make(int64_t snapshot_id, int64_t expires, const char *identity, char *out)
{
    mint_tag(snapshot_id, expires, out);
    bind_tag(snapshot_id, expires, identity, out + TAG_HEX);
}

bool url_token_minted(int64_t snapshot_id, int64_t expires, const char *token)
{
    char want[TAG_HEX + 1];
    if (!have_secret || !token || strlen(token) != URL_TOKEN_HEX || expires < qb_now_ms() / 1000)
        return false;
    mint_tag(snapshot_id, expires, want);
    return qb_consttime_eq(want, token, TAG_HEX);
}

enum url_token_verdict url_token_check(int64_t snapshot_id, int64_t expires, const char *identity,
                                       const char *token)
{
    char want[TAG_HEX + 1];
    if (!url_token_minted(snapshot_id, expires, token))
        return URL_TOKEN_INVALID;
    bind_tag(snapshot_id, expires, identity, want);
    return qb_consttime_eq(want, token + TAG_HEX, TAG_HEX) ? URL_TOKEN_OK : URL_TOKEN_STALE;
}
