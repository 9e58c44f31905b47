/* SPDX-License-Identifier: Apache-2.0
 *
 * auth.c -- token set: names, roles and SHA-256 digests of bearer tokens.
 */
#include "http/auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define AUTH_NAME_MAX      64
#define AUTH_MIN_TOKEN_LEN 16 /* shorter tokens are guessable; refuse them */

struct auth_token {
    char name[AUTH_NAME_MAX + 1];
    enum auth_role role;
    unsigned char digest[32]; /* SHA-256 of the token; the token is never kept */
};

struct auth {
    struct auth_token *tokens; /* owned array */
    size_t count;
};

void auth_destroy(struct auth *a)
{
    if (!a)
        return;
    free(a->tokens);
    free(a);
}

struct auth *auth_create(void)
{
    return xcalloc(1, sizeof(struct auth));
}

static const char *const role_names[] = {"public", "viewer", "operator", "admin"};

const char *auth_role_name(enum auth_role role)
{
    return role_names[role];
}

bool auth_parse_role(const char *s, enum auth_role *out)
{
    for (size_t i = AUTH_ROLE_VIEWER; i < QB_ARRAY_LEN(role_names); i++) {
        if (strcmp(s, role_names[i]) == 0) {
            *out = (enum auth_role)i;
            return true;
        }
    }
    return false;
}

static void sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL))
        abort(); /* cannot happen with a built-in digest; never accept on failure */
}

static bool parse_hex_digest(const char *hex, unsigned char out[32])
{
    if (strlen(hex) != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = qb_hexval(hex[2 * i]), lo = qb_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

static bool valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > AUTH_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    }
    return true;
}

enum qb_err auth_add(struct auth *a, const char *name, const char *role, const char *secret,
                     char *err, size_t errlen)
{
    struct auth_token t;
    memset(&t, 0, sizeof t);
    if (!valid_name(name))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "token name \"%.64s\" must be 1-64 characters of [A-Za-z0-9._-]", name);
    if (!auth_parse_role(role, &t.role))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "token \"%s\": role \"%.32s\" is not one of viewer, operator, admin", name,
                        role);
    if (strncmp(secret, "sha256:", 7) == 0) {
        if (!parse_hex_digest(secret + 7, t.digest))
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "token \"%s\": sha256: must be followed by 64 hex digits", name);
    } else {
        if (strlen(secret) < AUTH_MIN_TOKEN_LEN)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "token \"%s\": tokens must be at least %d characters", name,
                            AUTH_MIN_TOKEN_LEN);
        sha256(secret, strlen(secret), t.digest);
    }
    for (size_t i = 0; i < a->count; i++) {
        if (strcmp(a->tokens[i].name, name) == 0)
            return qb_failf(QB_ERR_INVALID, err, errlen, "token \"%s\" is defined twice", name);
    }
    qb_strlcpy(t.name, name, sizeof t.name);
    a->tokens = xrealloc(a->tokens, (a->count + 1) * sizeof *a->tokens);
    a->tokens[a->count++] = t;
    return QB_OK;
}

enum qb_err auth_load_file(struct auth *a, const char *path, char *err, size_t errlen)
{
    enum qb_err rc = QB_OK;
    char line[1024];
    int lineno = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return qb_failf(QB_ERR_INVALID, err, errlen, "tokens_file %s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *save = NULL;
        char *name = strtok_r(line, " \t\r\n", &save);
        if (!name)
            continue;
        char *role = strtok_r(NULL, " \t\r\n", &save);
        char *secret = role ? strtok_r(NULL, " \t\r\n", &save) : NULL;
        if (!secret || strtok_r(NULL, " \t\r\n", &save)) {
            rc = qb_failf(QB_ERR_INVALID, err, errlen,
                          "tokens_file %s line %d: expected \"<name> <role> <token>\"", path,
                          lineno);
            goto out;
        }
        char sub[QB_ERRBUF_SIZE];
        rc = auth_add(a, name, role, secret, sub, sizeof sub);
        if (rc) {
            qb_failf(rc, err, errlen, "tokens_file %s line %d: %s", path, lineno, sub);
            goto out;
        }
    }
out:
    /* The line buffer held a token: do not leave it on the stack. */
    memset(line, 0, sizeof line);
    fclose(f);
    return rc;
}

enum qb_err auth_load_list(struct auth *a, const char *list, char *err, size_t errlen)
{
    enum qb_err rc = QB_OK;
    char *copy = xstrdup(list);
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*item))
            item++;
        if (!*item)
            continue;
        char *role = strchr(item, ':');
        char *secret = role ? strchr(role + 1, ':') : NULL;
        if (!secret) {
            rc = qb_failf(QB_ERR_INVALID, err, errlen,
                          "QBACKUP_TOKENS: each entry must be name:role:token");
            goto out;
        }
        *role++ = '\0';
        *secret++ = '\0';
        rc = auth_add(a, item, role, secret, err, errlen);
        if (rc)
            goto out;
    }
out:
    memset(copy, 0, strlen(list));
    free(copy);
    return rc;
}

size_t auth_count(const struct auth *a)
{
    return a->count;
}

static enum auth_result check_token(const struct auth *a, const char *token, enum auth_role *role,
                                    const char **name);

enum auth_result auth_check(const struct auth *a, const char *authorization, enum auth_role *role,
                            const char **name)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return AUTH_MISSING;
    const char *token = authorization + 7;
    while (*token == ' ')
        token++;
    if (!*token)
        return AUTH_MISSING;
    return check_token(a, token, role, name);
}

enum auth_result auth_check_basic(const struct auth *a, const char *authorization,
                                  enum auth_role *role, const char **name)
{
    if (!authorization || strncasecmp(authorization, "Basic ", 6) != 0)
        return AUTH_MISSING;
    const char *b64 = authorization + 6;
    while (*b64 == ' ')
        b64++;
    size_t len = strlen(b64);
    /* Tokens are short; a longer header is not one of ours. */
    unsigned char plain[768];
    if (len == 0 || len % 4 || len / 4 * 3 >= sizeof plain)
        return AUTH_MISSING;
    int n = EVP_DecodeBlock(plain, (const unsigned char *)b64, (int)len);
    if (n < 0)
        return AUTH_MISSING;
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    for (size_t i = len; i > 0 && b64[i - 1] == '='; i--)
        n--;
    plain[n] = '\0';
    char *colon = memchr(plain, ':', (size_t)n);
    enum auth_result r = AUTH_MISSING;
    if (colon && colon[1] && strlen(colon + 1) == (size_t)(n - (colon + 1 - (char *)plain)))
        r = check_token(a, colon + 1, role, name);
    OPENSSL_cleanse(plain, sizeof plain);
    if (r == AUTH_OK && *role > AUTH_ROLE_VIEWER)
        *role = AUTH_ROLE_VIEWER;
    return r;
}

/* The configured token equal to token, compared in constant time. */
static enum auth_result check_token(const struct auth *a, const char *token, enum auth_role *role,
                                    const char **name)
{
    unsigned char digest[32];
    sha256(token, strlen(token), digest);
    /* Compare against every token without stopping at a match, so timing
     * does not reveal which entry (or whether any) matched. */
    const struct auth_token *found = NULL;
    for (size_t i = 0; i < a->count; i++) {
        bool eq = qb_consttime_eq(digest, a->tokens[i].digest, sizeof digest);
        if (eq && !found)
            found = &a->tokens[i];
    }
    if (!found)
        return AUTH_INVALID;
    *role = found->role;
    *name = found->name;
    return AUTH_OK;
}

bool auth_is_token(const struct auth *a, const char *s, size_t len)
{
    unsigned char digest[32];
    sha256(s, len, digest);
    bool found = false;
    for (size_t i = 0; i < a->count; i++)
        found = qb_consttime_eq(digest, a->tokens[i].digest, sizeof digest) || found;
    return found;
}
