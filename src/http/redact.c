/* SPDX-License-Identifier: Apache-2.0
 *
 * redact.c -- replacing token-looking words in echoed text.
 */
#include "http/redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIN_TOKEN_LEN  16 /* auth refuses shorter tokens */
#define MIN_RANDOM_LEN 32
#define MIN_BEARER_LEN 8

static bool is_delim(char c)
{
    return isspace((unsigned char)c) || c == '\0' || strchr("\"',;:=&?/()<>[]{}\\", c);
}

static bool is_key_char(char c)
{
    return isalnum((unsigned char)c) || c == '+' || c == '=' || c == '_' || c == '-';
}

/* A long run of key characters that mixes upper case, lower case and digits. */
static bool random_looking(const char *s, size_t len)
{
    bool upper = false, lower = false, digit = false;
    size_t run = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && is_key_char(s[i])) {
            upper = upper || isupper((unsigned char)s[i]);
            lower = lower || islower((unsigned char)s[i]);
            digit = digit || isdigit((unsigned char)s[i]);
            run++;
            continue;
        }
        if (run >= MIN_RANDOM_LEN && upper && lower && digit)
            return true;
        upper = lower = digit = false;
        run = 0;
    }
    return false;
}

/* The credential in an Authorization header value, or NULL. */
static const char *bearer_credential(const char *bearer, size_t *len)
{
    if (!bearer)
        return NULL;
    if (strncasecmp(bearer, "Bearer ", 7) == 0)
        bearer += 7;
    while (*bearer == ' ')
        bearer++;
    *len = strlen(bearer);
    while (*len > 0 && isspace((unsigned char)bearer[*len - 1]))
        (*len)--;
    return *len >= MIN_BEARER_LEN ? bearer : NULL;
}

static bool word_is_secret(const char *w, size_t len, const char *cred, size_t credlen,
                           const struct auth *auth)
{
    if (cred && len == credlen && memcmp(w, cred, len) == 0)
        return true;
    if (auth && len >= MIN_TOKEN_LEN && auth_is_token(auth, w, len))
        return true;
    return random_looking(w, len);
}

static size_t put(char *out, size_t outlen, size_t o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && o + 1 < outlen; i++)
        out[o++] = s[i];
    return o;
}

void http_redact(const char *text, const char *bearer, const struct auth *auth, char *out,
                 size_t outlen)
{
    if (outlen == 0)
        return;
    size_t credlen = 0;
    const char *cred = bearer_credential(bearer, &credlen);
    /* First the caller's own credential wherever it is (it may contain
     * word separators), then word by word. */
    size_t tlen = strlen(text);
    char *copy = xmalloc(tlen + tlen / MIN_BEARER_LEN * strlen(HTTP_REDACTED) + 1);
    size_t c = 0;
    for (const char *t = text; *t;) {
        if (cred && strncmp(t, cred, credlen) == 0) {
            memcpy(copy + c, HTTP_REDACTED, strlen(HTTP_REDACTED));
            c += strlen(HTTP_REDACTED);
            t += credlen;
        } else {
            copy[c++] = *t++;
        }
    }
    copy[c] = '\0';
    size_t o = 0;
    bool after_bearer = false;
    const char *p = copy;
    while (*p) {
        if (is_delim(*p)) {
            o = put(out, outlen, o, p, 1);
            if (!isspace((unsigned char)*p))
                after_bearer = false;
            p++;
            continue;
        }
        size_t n = 0;
        while (p[n] && !is_delim(p[n]))
            n++;
        bool secret = after_bearer || word_is_secret(p, n, cred, credlen, auth);
        after_bearer = n == 6 && strncasecmp(p, "Bearer", 6) == 0;
        if (secret)
            o = put(out, outlen, o, HTTP_REDACTED, strlen(HTTP_REDACTED));
        else
            o = put(out, outlen, o, p, n);
        p += n;
    }
    out[o] = '\0';
    free(copy);
}

bool http_secret_like(const char *s, const char *bearer, const struct auth *auth)
{
    size_t credlen = 0;
    const char *cred = bearer_credential(bearer, &credlen);
    return word_is_secret(s, strlen(s), cred, credlen, auth);
}
