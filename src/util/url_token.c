/* SPDX-License-Identifier: Apache-2.0
 *
 * url_token.c -- HMAC tokens for download URLs.  Owns the process secret
 * (a lock-free singleton: written once before threads start).
 */
#include "util/url_token.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static unsigned char secret[32];
static bool have_secret;

enum qb_err url_token_init(char *err, size_t errlen)
{
    if (getrandom(secret, sizeof secret, 0) != (ssize_t)sizeof secret)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "no entropy for the URL token secret");
    have_secret = true;
    return QB_OK;
}

void url_token_make(int64_t snapshot_id, int64_t expires, char *out)
{
    char msg[64];
    unsigned char mac[32];
    unsigned int len = 0;
    int n = snprintf(msg, sizeof msg, "%lld:%lld", (long long)snapshot_id, (long long)expires);
    QB_ASSERT(have_secret);
    if (!HMAC(EVP_sha256(), secret, sizeof secret, (const unsigned char *)msg, (size_t)n, mac,
              &len))
        memset(mac, 0, sizeof mac);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

bool url_token_check(int64_t snapshot_id, int64_t expires, const char *token)
{
    char want[URL_TOKEN_HEX + 1];
    if (!have_secret || !token || strlen(token) != URL_TOKEN_HEX || expires < qb_now_ms() / 1000)
        return false;
    url_token_make(snapshot_id, expires, want);
    return qb_consttime_eq(want, token, URL_TOKEN_HEX);
}
