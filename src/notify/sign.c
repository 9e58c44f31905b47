/* SPDX-License-Identifier: Apache-2.0
 *
 * sign.c -- HMAC-SHA256 signatures of webhook deliveries and Slack
 * requests (OpenSSL's one-shot HMAC).
 */
#include "notify/sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* hex(HMAC-SHA256(secret, a || b)) into out (SIGN_HEX_LEN + NUL). */
static void hmac_hex(const char *secret, const char *a, size_t alen, const char *b, size_t blen,
                     char out[SIGN_HEX_LEN + 1])
{
    /* One-shot HMAC over a joined copy: bodies are bounded (the API's
     * body limit, or a payload we built), and HMAC_CTX is deprecated. */
    unsigned char mac[EVP_MAX_MD_SIZE] = {0};
    unsigned int maclen = 0;
    unsigned char *msg = xmalloc(alen + blen + 1);
    memcpy(msg, a, alen);
    memcpy(msg + alen, b, blen);
    unsigned char *r =
        HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, alen + blen, mac, &maclen);
    free(msg);
    QB_ASSERT(r && maclen == 32);
    (void)r;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[SIGN_HEX_LEN] = '\0';
}

void sign_webhook(const char *secret, int64_t ts, const char *body, size_t len,
                  char out[3 + SIGN_HEX_LEN + 1])
{
    char prefix[32];
    int n = snprintf(prefix, sizeof prefix, "%lld.", (long long)ts);
    memcpy(out, "v1=", 3);
    hmac_hex(secret, prefix, (size_t)n, body, len, out + 3);
}

enum qb_err sign_slack_check(const char *secret, const char *ts_text, const char *signature,
                             const char *body, size_t len, int64_t now, char *err, size_t errlen)
{
    if (!ts_text || !signature)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "X-Slack-Request-Timestamp and X-Slack-Signature are required");
    char *end = NULL;
    long long ts = strtoll(ts_text, &end, 10);
    if (end == ts_text || *end || ts <= 0)
        return qb_failf(QB_ERR_INVALID, err, errlen, "X-Slack-Request-Timestamp is not a number");
    if (ts < now - SIGN_WINDOW_S || ts > now + SIGN_WINDOW_S)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "X-Slack-Request-Timestamp is more than %d s away from now", SIGN_WINDOW_S);
    if (strlen(signature) != 3 + SIGN_HEX_LEN || strncmp(signature, "v0=", 3) != 0)
        return qb_failf(QB_ERR_INVALID, err, errlen, "X-Slack-Signature is not v0=<hex>");
    char prefix[40], want[SIGN_HEX_LEN + 1];
    int n = snprintf(prefix, sizeof prefix, "v0:%lld:", ts);
    hmac_hex(secret, prefix, (size_t)n, body, len, want);
    if (CRYPTO_memcmp(want, signature + 3, SIGN_HEX_LEN) != 0)
        return qb_failf(QB_ERR_INVALID, err, errlen, "X-Slack-Signature does not match");
    return QB_OK;
}
