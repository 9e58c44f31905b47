/* SPDX-License-Identifier: Apache-2.0
 *
 * keyref.c -- encryption key references: checking them, and reading the
 * ring they name.
 */
#include "engine/keyref.h"
#include "util/json_util.h"
#include "util/seal_keyfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* Environment variable names as a shell writes them. */
static bool env_name_ok(const char *s)
{
    if (!*s || strlen(s) > 128 || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

/* The keys of an environment variable: base64 keys, one per line. */
static enum qb_err load_env(const char *name, struct seal_keyring *ring, char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return qb_failf(QB_ERR_NOT_FOUND, err, errlen, "environment variable %s is not set", name);
    char *copy = xstrdup(v), *save = NULL, source[200];
    enum qb_err rc = QB_OK;
    int line = 0, keys = 0;
    for (char *tok = strtok_r(copy, "\n", &save); tok && !rc; tok = strtok_r(NULL, "\n", &save)) {
        line++;
        while (*tok == ' ' || *tok == '\t' || *tok == '\r')
            tok++;
        if (!*tok || *tok == '#')
            continue;
        snprintf(source, sizeof source, "environment variable %s line %d", name, line);
        rc = seal_keyring_add_base64(ring, tok, source, err, errlen);
        keys++;
    }
    OPENSSL_cleanse(copy, strlen(v));
    free(copy);
    if (!rc && !keys)
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "environment variable %s holds no key", name);
    return rc;
}

/* One source object: exactly one of key_file / key_env, its keys added to
 * ring; read_keys only at the top.  The message starts with the member
 * (".key_file: ...") for the caller to prefix with the field. */
static enum qb_err load_source(const cJSON *o, struct seal_keyring *ring, bool allow_read_keys,
                               char *err, size_t errlen)
{
    static const char *const fields[] = {"key_file", "key_env", "read_keys", "cipher", NULL};
    static const char *const fields_no_read[] = {"key_file", "key_env", NULL};
    if (!cJSON_IsObject(o))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        ": must be an object {\"key_file\": path} or {\"key_env\": name}");
    char sub[QB_ERRBUF_SIZE / 2];
    if (json_reject_unknown(o, allow_read_keys ? fields : fields_no_read, sub, sizeof sub))
        return qb_failf(QB_ERR_INVALID, err, errlen, ".%s", sub);
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(o, "key_file");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(o, "key_env");
    if (!!file == !!env)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        ": must name exactly one of \"key_file\" and \"key_env\"");
    enum qb_err rc = QB_OK;
    if (file) {
        if (!cJSON_IsString(file) || file->valuestring[0] != '/')
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            ".key_file: must be an absolute path (a string starting with /)");
        rc = seal_keyfile_read(file->valuestring, ring, sub, sizeof sub);
        if (rc)
            return qb_failf(rc, err, errlen, ".key_file: %s", sub);
    } else {
        if (!cJSON_IsString(env) || !env_name_ok(env->valuestring))
            return qb_failf(
                QB_ERR_INVALID, err, errlen,
                ".key_env: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
        rc = load_env(env->valuestring, ring, sub, sizeof sub);
        if (rc)
            return qb_failf(rc, err, errlen, ".key_env: %s", sub);
    }
    /* Naming the cipher is optional: this build has one, and a request
     * asking for another must hear so rather than get it silently. */
    const cJSON *cipher = cJSON_GetObjectItemCaseSensitive(o, "cipher");
    if (cipher && !cJSON_IsNull(cipher) &&
        (!cJSON_IsString(cipher) || strcmp(cipher->valuestring, KEYREF_CIPHER) != 0))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        ".cipher: %s%s%s is not a cipher this build has (only \"" KEYREF_CIPHER
                        "\")",
                        cJSON_IsString(cipher) ? "\"" : "",
                        cJSON_IsString(cipher) ? cipher->valuestring : "a non-string",
                        cJSON_IsString(cipher) ? "\"" : "");
    const cJSON *rk = cJSON_GetObjectItemCaseSensitive(o, "read_keys");
    if (!rk || cJSON_IsNull(rk))
        return QB_OK;
    if (!cJSON_IsArray(rk) || cJSON_GetArraySize(rk) > 16)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        ".read_keys: must be an array of at most 16 key sources");
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, rk)
    {
        rc = load_source(item, ring, false, sub, sizeof sub);
        if (rc)
            return qb_failf(rc, err, errlen, ".read_keys[%d]%s", i, sub);
        i++;
    }
    return QB_OK;
}

enum qb_err keyref_parse(const cJSON *v, const char *field, char **text, char *err, size_t errlen)
{
    *text = NULL;
    if (!v || cJSON_IsNull(v))
        return QB_OK;
    struct seal_keyring *ring = seal_keyring_create();
    char sub[QB_ERRBUF_SIZE / 2];
    enum qb_err rc = load_source(v, ring, true, sub, sizeof sub);
    seal_keyring_destroy(ring);
    if (rc)
        /* Unreadable or malformed alike: the request named a ring that
         * cannot be used, which is the request's fault. */
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s%s", field, sub);
    *text = cJSON_PrintUnformatted(v);
    return QB_OK;
}

enum qb_err keyref_load(const char *text, struct seal_keyring *ring, char *err, size_t errlen)
{
    if (!text)
        return QB_OK;
    cJSON *o = cJSON_Parse(text);
    char sub[QB_ERRBUF_SIZE / 2];
    enum qb_err rc = load_source(o, ring, true, sub, sizeof sub);
    cJSON_Delete(o);
    if (rc)
        return qb_failf(rc, err, errlen, "encryption%s", sub);
    return QB_OK;
}

enum qb_err keyref_plan_codec(const struct store_plan *plan, struct codec_spec *spec,
                              struct seal_keyring **ring, char *err, size_t errlen)
{
    memset(spec, 0, sizeof *spec);
    *ring = NULL;
    if (plan->compression && strcmp(plan->compression, "zstd") == 0) {
        spec->compression = CODEC_COMPRESSION_ZSTD;
        spec->level = (int)plan->compression_level;
    }
    char sub[QB_ERRBUF_SIZE];
    enum qb_err rc =
        keyref_ring(plan->encryption, plan->destination_encryption, ring, sub, sizeof sub);
    if (rc)
        return qb_failf(rc, err, errlen,
                        "the encryption key cannot be read, so nothing was backed up: %s", sub);
    spec->keyring = *ring;
    return QB_OK;
}

enum qb_err keyref_ring(const char *first, const char *second, struct seal_keyring **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    if (!first && !second)
        return QB_OK;
    struct seal_keyring *ring = seal_keyring_create();
    enum qb_err rc = keyref_load(first, ring, err, errlen);
    if (!rc)
        rc = keyref_load(second, ring, err, errlen);
    if (rc) {
        seal_keyring_destroy(ring);
        return rc;
    }
    *out = ring;
    return QB_OK;
}
