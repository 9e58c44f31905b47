/* SPDX-License-Identifier: Apache-2.0
 *
 * storage.c -- the backend-independent half of storage.h: destination URLs
 * and their catalogue (JSON) form, the key rules, argument checks, the
 * sticky-failure writer state, checksum verification, and dispatch to
 * storage_local.c or storage_s3.c through struct storage_ops.
 *
 * DESIGN
 *   Keys are validated here, once, for both backends; a backend may then
 *   rely on a key being a clean relative path ("a/b/c", no "." or "..", no
 *   empty segment), which is what makes a local path built from it safe.
 */
#include "storage/storage.h"

#include "storage/storage_internal.h"
#include "remote/s3_client.h"
#include "util/json_util.h"

#include <openssl/evp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ key rules */

/* true if s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF): S3 rejects anything else, and a key that one
 * backend accepts must be accepted by the other. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (i + n >= len) /* truncated sequence */
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

/* The shared rules; a prefix may be empty, end in '/', and is not subject
 * to the reserved-suffix rule (it may be a partial name). */
static enum qb_err check_path(const char *s, bool is_prefix, char *err, size_t errlen)
{
    const char *what = is_prefix ? "prefix" : "key";
    if (!s)
        return qb_failf(QB_ERR_INVALID, err, errlen, "storage: no %s", what);
    size_t len = strlen(s);
    if (!len && !is_prefix)
        return qb_failf(QB_ERR_INVALID, err, errlen, "storage: empty key");
    if (len > STORAGE_KEY_MAX)
        return qb_failf(QB_ERR_INVALID, err, errlen, "storage: %s longer than %d bytes", what,
                        STORAGE_KEY_MAX);
    if (s[0] == '/')
        return qb_failf(QB_ERR_INVALID, err, errlen, "storage: %s must be relative (no leading /)",
                        what);
    if (!utf8_valid((const unsigned char *)s, len))
        return qb_failf(QB_ERR_INVALID, err, errlen, "storage: %s is not valid UTF-8", what);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F || c == '\\')
            return qb_failf(QB_ERR_INVALID, err, errlen, "storage: %s has a %s at byte %zu", what,
                            c == '\\' ? "backslash" : "control character", i);
    }
    const char *seg = s;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n == 0) {
            if (is_prefix && !slash) /* "" or a trailing '/' */
                break;
            return qb_failf(QB_ERR_INVALID, err, errlen, "storage: %s \"%s\" has an empty segment",
                            what, s);
        }
        if (n > STORAGE_SEGMENT_MAX)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "storage: %s has a segment longer than %d bytes", what,
                            STORAGE_SEGMENT_MAX);
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "storage: %s \"%s\" has a \".\" or \"..\" segment", what, s);
        size_t tl = strlen(STORAGE_TMP_PREFIX);
        if (n >= tl && memcmp(seg, STORAGE_TMP_PREFIX, tl) == 0)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "storage: %s \"%s\": names starting with %s are reserved", what, s,
                            STORAGE_TMP_PREFIX);
        if (!slash)
            break;
        seg = slash + 1;
    }
    if (!is_prefix && storage_is_sidecar(s))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "storage: key \"%s\": the suffix %s is reserved for checksums", s,
                        STORAGE_SIDECAR_SUFFIX);
    return QB_OK;
}

enum qb_err storage_key_check(const char *key, char *err, size_t errlen)
{
    return check_path(key, false, err, errlen);
}

enum qb_err storage_prefix_check(const char *prefix, char *err, size_t errlen)
{
    return check_path(prefix, true, err, errlen);
}

bool storage_is_sidecar(const char *name)
{
    size_t n = strlen(name), sl = strlen(STORAGE_SIDECAR_SUFFIX);
    return n >= sl && strcmp(name + n - sl, STORAGE_SIDECAR_SUFFIX) == 0;
}

enum qb_err storage_sidecar_parse(const char *text, size_t len, const char *what, char hex[65],
                                  char *err, size_t errlen)
{
    /* sha256sum writes "<hex>  <name>" ("<hex> *<name>" in binary mode). */
    bool ok = len >= 66 && (text[64] == ' ' || text[64] == '\t');
    for (size_t i = 0; ok && i < 64; i++) {
        char c = text[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        hex[i] = c;
    }
    if (!ok) {
        hex[0] = '\0';
        return qb_failf(QB_ERR_IO, err, errlen, "storage: malformed checksum file %s", what);
    }
    hex[64] = '\0';
    return QB_OK;
}

/* ------------------------------------------------------------------ open */

/* Bucket names as S3 allows them (3..63 of [a-z0-9.-]), plus upper case and
 * '_' which older buckets and RGW accept; a '/' would change the URL. */
static bool bucket_valid(const char *b, size_t n)
{
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static enum qb_err open_local_url(const char *path, bool create, struct storage **out, char *err,
                                  size_t errlen)
{
    if (path[0] != '/')
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "storage: file URL needs an absolute path (file:///dir)");
    char *root = xstrdup(path);
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        root[--n] = '\0';
    enum qb_err rc = QB_OK;
    /* The root is the administrator's; still refuse "..", which would make
     * the reported locations misleading, and control characters. */
    if (n > 1 && (rc = check_path(root + 1, true, err, errlen)) != QB_OK)
        goto out;
    rc = storage_local_open(root, create, out, err, errlen);
out:
    free(root);
    return rc;
}

static enum qb_err open_s3_url(const struct storage_config *cfg, const char *rest,
                               struct storage **out, char *err, size_t errlen)
{
    const char *slash = strchr(rest, '/');
    size_t blen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (!bucket_valid(rest, blen))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "storage: s3 URL needs a bucket name of 3 to 63 letters, digits, '.', "
                        "'-' or '_' (s3://bucket/prefix)");
    char *bucket = xstrndup(rest, blen);
    char *prefix = xstrdup(slash ? slash + 1 : "");
    size_t n = strlen(prefix);
    while (n && prefix[n - 1] == '/')
        prefix[--n] = '\0';
    enum qb_err rc = n ? check_path(prefix, false, err, errlen) : QB_OK;
    if (!rc) {
        char *norm = n ? xasprintf("%s/", prefix) : xstrdup("");
        rc = storage_s3_open(cfg, bucket, norm, out, err, errlen);
        free(norm);
    }
    free(prefix);
    free(bucket);
    return rc;
}

void storage_close(struct storage *st)
{
    if (st)
        st->ops->close(st);
}

enum qb_err storage_open(const struct storage_config *cfg, struct storage **out, char *err,
                         size_t errlen)
{
    *out = NULL;
    const char *url = cfg ? cfg->url : NULL;
    if (!url || !*url)
        return qb_failf(QB_ERR_INVALID, err, errlen, "storage: no destination URL");
    if (strncmp(url, "file://", 7) == 0)
        return open_local_url(url + 7, cfg->create, out, err, errlen);
    if (strncmp(url, "s3://", 5) == 0)
        return open_s3_url(cfg, url + 5, out, err, errlen);
    return qb_failf(
        QB_ERR_INVALID, err, errlen,
        "storage: unsupported destination URL (want file:///dir or s3://bucket/prefix)");
}

enum storage_kind storage_kind(const struct storage *st)
{
    return st->kind;
}

const char *storage_url(const struct storage *st)
{
    return st->url;
}

enum qb_err storage_check(struct storage *st, char *err, size_t errlen)
{
    return st->ops->check(st, err, errlen);
}

/* --------------------------------------------------------- catalogue form */

static enum qb_err opt_string(const cJSON *obj, const char *field, const char **out, char *err,
                              size_t errlen)
{
    enum qb_err rc = obj ? json_get_string(obj, field, out, err, errlen) : QB_ERR_NOT_FOUND;
    return rc == QB_ERR_NOT_FOUND ? QB_OK : rc;
}

static enum qb_err opt_bool(const cJSON *obj, const char *field, bool *out, char *err,
                            size_t errlen)
{
    enum qb_err rc = json_get_bool(obj, field, out, err, errlen);
    return rc == QB_ERR_NOT_FOUND ? QB_OK : rc;
}

static enum qb_err opt_int(const cJSON *obj, const char *field, int64_t min, int64_t max,
                           int64_t *out, char *err, size_t errlen)
{
    enum qb_err rc = json_get_int(obj, field, min, max, out, err, errlen);
    return rc == QB_ERR_NOT_FOUND ? QB_OK : rc;
}

/* The optional S3 members copied as they are into struct storage_config,
 * in the order their errors are reported. */
struct s3_member {
    const char *name;
    bool is_bool;  /* a bool member, else a string */
    size_t offset; /* of the const char * or bool in struct storage_config */
};

#define S3_STR(m)                                                                                  \
    {                                                                                              \
#m, false, offsetof(struct storage_config, m)                                              \
    }
#define S3_BOOL(m)                                                                                 \
    {                                                                                              \
#m, true, offsetof(struct storage_config, m)                                               \
    }

static const struct s3_member s3_settings[] = {
    S3_STR(endpoint),  S3_STR(region), S3_BOOL(path_style),    S3_STR(ca_file),
    S3_BOOL(insecure), S3_STR(sse),    S3_STR(sse_kms_key_id), S3_STR(storage_class),
};

static const struct s3_member s3_secrets[] = {
    S3_STR(access_key),
    S3_STR(secret_key),
    S3_STR(session_token),
};

static enum qb_err s3_members(const cJSON *obj, const struct s3_member *m, size_t n,
                              struct storage_config *cfg, char *err, size_t errlen)
{
    enum qb_err rc = QB_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        char *field = (char *)cfg + m[i].offset;
        if (m[i].is_bool)
            rc = opt_bool(obj, m[i].name, (bool *)field, err, errlen);
        else
            rc = opt_string(obj, m[i].name, (const char **)field, err, errlen);
    }
    return rc;
}

static enum qb_err s3_from_json(const cJSON *s, const cJSON *secret, struct storage_config *cfg,
                                char **url, char *err, size_t errlen)
{
    static const char *const allowed[] = {"bucket",
                                          "prefix",
                                          "endpoint",
                                          "region",
                                          "path_style",
                                          "ca_file",
                                          "insecure",
                                          "sse",
                                          "sse_kms_key_id",
                                          "storage_class",
                                          "part_size",
                                          "parts_in_flight",
                                          "download_part_size",
                                          "download_parts_in_flight",
                                          NULL};
    static const char *const allowed_secret[] = {"access_key", "secret_key", "session_token", NULL};
    const char *bucket = NULL, *prefix = "";
    int64_t part = 0, inflight = 0, dpart = 0, dinflight = 0;
    enum qb_err rc = json_reject_unknown(s, allowed, err, errlen);
    if (!rc && secret)
        rc = json_reject_unknown(secret, allowed_secret, err, errlen);
    if (!rc)
        rc = json_get_string(s, "bucket", &bucket, err, errlen);
    if (rc == QB_ERR_NOT_FOUND)
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "bucket: required");
    if (!rc)
        rc = opt_string(s, "prefix", &prefix, err, errlen);
    if (!rc)
        rc = s3_members(s, s3_settings, QB_ARRAY_LEN(s3_settings), cfg, err, errlen);
    if (!rc)
        rc = opt_int(s, "part_size", 5ll << 20, 5ll << 30, &part, err, errlen);
    if (!rc)
        rc = opt_int(s, "parts_in_flight", 1, 64, &inflight, err, errlen);
    /* Reading holds download_part_size * (download_parts_in_flight + 1)
     * bytes: 1 GiB parts are already more memory than a restore deserves. */
    if (!rc)
        rc = opt_int(s, "download_part_size", 1ll << 20, 1ll << 30, &dpart, err, errlen);
    if (!rc)
        rc = opt_int(s, "download_parts_in_flight", 1, 64, &dinflight, err, errlen);
    if (!rc)
        rc = s3_members(secret, s3_secrets, QB_ARRAY_LEN(s3_secrets), cfg, err, errlen);
    if (rc)
        return rc;
    cfg->part_size = (uint64_t)part;
    cfg->parts_in_flight = (unsigned)inflight;
    cfg->download_part_size = (uint64_t)dpart;
    cfg->download_parts_in_flight = (unsigned)dinflight;
    while (*prefix == '/')
        prefix++;
    *url = xasprintf("s3://%s/%s", bucket, prefix);
    return QB_OK;
}

enum qb_err storage_open_json(const char *kind, const cJSON *settings, const cJSON *secret,
                              bool create, struct storage **out, char *err, size_t errlen)
{
    struct storage_config cfg = {.create = create};
    char *url = NULL;
    enum qb_err rc;
    *out = NULL;
    if (!cJSON_IsObject(settings) || (secret && !cJSON_IsObject(secret)))
        return qb_failf(QB_ERR_INVALID, err, errlen, "settings: must be an object");
    if (kind && strcmp(kind, "local") == 0) {
        static const char *const allowed[] = {"path", NULL};
        const char *path = NULL;
        rc = json_reject_unknown(settings, allowed, err, errlen);
        if (!rc && (rc = json_get_string(settings, "path", &path, err, errlen)) == QB_ERR_NOT_FOUND)
            rc = qb_failf(QB_ERR_INVALID, err, errlen, "path: required");
        if (!rc && path[0] != '/')
            rc = qb_failf(QB_ERR_INVALID, err, errlen, "path: must be absolute");
        if (!rc)
            url = xasprintf("file://%s", path);
    } else if (kind && strcmp(kind, "s3") == 0) {
        rc = s3_from_json(settings, secret, &cfg, &url, err, errlen);
    } else {
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "kind: must be \"local\" or \"s3\"");
    }
    if (!rc) {
        cfg.url = url;
        rc = storage_open(&cfg, out, err, errlen);
    }
    free(url);
    return rc;
}

/* --------------------------------------------------------------- writing */

enum qb_err storage_write_begin(struct storage *st, const char *key, uint64_t size_hint,
                                struct storage_writer **out, char *err, size_t errlen)
{
    *out = NULL;
    enum qb_err rc = storage_key_check(key, err, errlen);
    if (rc)
        return rc;
    rc = st->ops->write_begin(st, key, size_hint, out, err, errlen);
    if (!rc)
        (*out)->ops = st->ops;
    return rc;
}

enum qb_err storage_write(struct storage_writer *w, const void *data, size_t len, char *err,
                          size_t errlen)
{
    if (w->failed)
        return qb_failf(w->failed, err, errlen, "%s", w->failed_err);
    if (!len)
        return QB_OK;
    enum qb_err rc = w->ops->write(w, data, len, err, errlen);
    if (rc) { /* sticky: a gap in the middle of an object must not be papered over */
        w->failed = rc;
        qb_strlcpy(w->failed_err, err ? err : "write failed", sizeof w->failed_err);
    }
    return rc;
}

enum qb_err storage_write_finish(struct storage_writer *w, struct storage_write_result *res,
                                 char *err, size_t errlen)
{
    if (res)
        memset(res, 0, sizeof *res);
    if (w->failed) {
        enum qb_err rc = qb_failf(w->failed, err, errlen, "%s", w->failed_err);
        w->ops->write_abort(w);
        return rc;
    }
    int64_t t0 = qb_mono_ms();
    enum qb_err rc = w->ops->write_finish(w, res, err, errlen);
    if (!rc && res && !res->drain_ms && !res->complete_ms) /* a backend that does not say */
        res->complete_ms = qb_mono_ms() - t0;
    return rc;
}

void storage_write_abort(struct storage_writer *w)
{
    if (w)
        w->ops->write_abort(w);
}

enum qb_err storage_put(struct storage *st, const char *key, const void *data, size_t len,
                        char *err, size_t errlen)
{
    struct storage_writer *w = NULL;
    enum qb_err rc = storage_write_begin(st, key, len, &w, err, errlen);
    if (rc)
        return rc;
    rc = storage_write(w, data, len, err, errlen);
    if (rc) {
        storage_write_abort(w);
        return rc;
    }
    return storage_write_finish(w, NULL, err, errlen);
}

/* --------------------------------------------------------------- reading */

enum qb_err storage_read(struct storage *st, const char *key, uint64_t offset, uint64_t length,
                         storage_read_fn fn, void *ud, char *err, size_t errlen)
{
    enum qb_err rc = storage_key_check(key, err, errlen);
    return rc ? rc : st->ops->read(st, key, offset, length, fn, ud, err, errlen);
}

enum qb_err storage_head(struct storage *st, const char *key, struct storage_object_info *out,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    enum qb_err rc = storage_key_check(key, err, errlen);
    return rc ? rc : st->ops->head(st, key, out, err, errlen);
}

static enum qb_err hash_fn(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    if (!EVP_DigestUpdate(ud, data, len))
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "storage: SHA-256 failed");
    return QB_OK;
}

enum qb_err storage_verify(struct storage *st, const char *key, struct storage_object_info *out,
                           char *err, size_t errlen)
{
    struct storage_object_info info;
    EVP_MD_CTX *ctx = NULL;
    enum qb_err rc = storage_head(st, key, &info, err, errlen);
    if (rc)
        goto out;
    if (!info.sha256[0]) {
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "storage: %s has no recorded checksum", key);
        goto out;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen, "storage: cannot start SHA-256");
        goto out;
    }
    rc = storage_read(st, key, 0, 0, hash_fn, ctx, err, errlen);
    if (rc)
        goto out;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[65];
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    for (unsigned i = 0; i < mdlen && i < 32; i++) {
        static const char digits[] = "0123456789abcdef";
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    if (strcmp(hex, info.sha256) != 0)
        rc = qb_failf(QB_ERR_IO, err, errlen,
                      "storage: checksum mismatch for %s: recorded %s, read %s", key, info.sha256,
                      hex);
out:
    EVP_MD_CTX_free(ctx);
    if (out && !rc)
        *out = info;
    return rc;
}

enum qb_err storage_verify_written(struct storage *st, const char *key,
                                   const struct storage_write_result *wrote,
                                   enum storage_verify_mode mode, struct storage_object_info *out,
                                   const char **how, char *err, size_t errlen)
{
    struct storage_object_info info;
    enum qb_err rc;
    bool quick = mode == STORAGE_VERIFY_QUICK && st->kind == STORAGE_S3 && wrote->etag[0];
    if (how)
        *how = quick ? "quick" : "full";
    if (!quick)
        rc = storage_verify(st, key, &info, err, errlen);
    else
        rc = storage_head(st, key, &info, err, errlen);
    if (rc)
        return rc;
    if (info.size != wrote->size)
        return qb_failf(QB_ERR_IO, err, errlen,
                        "storage: size mismatch for %s: wrote %llu, found %llu", key,
                        (unsigned long long)wrote->size, (unsigned long long)info.size);
    if (strcmp(info.sha256, wrote->sha256) != 0)
        return qb_failf(QB_ERR_IO, err, errlen,
                        "storage: checksum mismatch for %s: wrote %s, recorded %s", key,
                        wrote->sha256, info.sha256[0] ? info.sha256 : "none");
    if (quick && !s3_etag_equal(info.etag, wrote->etag))
        return qb_failf(QB_ERR_IO, err, errlen,
                        "storage: ETag mismatch for %s: wrote %s, found %s: the stored object is "
                        "not the uploaded one",
                        key, wrote->etag, info.etag[0] ? info.etag : "none");
    if (out)
        *out = info;
    return QB_OK;
}

enum qb_err storage_list(struct storage *st, const char *prefix, storage_list_fn fn, void *ud,
                         char *err, size_t errlen)
{
    if (!prefix)
        prefix = "";
    enum qb_err rc = storage_prefix_check(prefix, err, errlen);
    return rc ? rc : st->ops->list(st, prefix, fn, ud, err, errlen);
}

/* -------------------------------------------------------------- deleting */

enum qb_err storage_delete(struct storage *st, const char *key, char *err, size_t errlen)
{
    return storage_delete_many(st, &key, 1, err, errlen);
}

enum qb_err storage_delete_many(struct storage *st, const char *const *keys, size_t n, char *err,
                                size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        enum qb_err rc = storage_key_check(keys[i], err, errlen);
        if (rc)
            return rc;
    }
    return n ? st->ops->delete_many(st, keys, n, err, errlen) : QB_OK;
}

/* ------------------------------------------------------------ Object Lock */

enum qb_err storage_object_lock(struct storage *st, struct storage_lock_info *out, char *err,
                                size_t errlen)
{
    if (st->kind == STORAGE_S3)
        return storage_s3_object_lock(st, out, err, errlen);
    memset(out, 0, sizeof *out); /* a folder has nothing like it */
    return QB_OK;
}

enum qb_err storage_set_lock(struct storage *st, const char *mode, int64_t until, char *err,
                             size_t errlen)
{
    if (st->kind != STORAGE_S3)
        return mode ? qb_failf(QB_ERR_INVALID, err, errlen,
                               "storage: %s cannot lock objects (S3 Object Lock only)", st->url)
                    : QB_OK;
    if (mode && strcmp(mode, "GOVERNANCE") != 0 && strcmp(mode, "COMPLIANCE") != 0)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "storage: lock mode must be GOVERNANCE or COMPLIANCE");
    storage_s3_set_lock(st, mode, until);
    return QB_OK;
}

enum qb_err storage_delete_versions(struct storage *st, const char *const *keys, size_t n,
                                    char *err, size_t errlen)
{
    if (st->kind != STORAGE_S3)
        return storage_delete_many(st, keys, n, err, errlen);
    for (size_t i = 0; i < n; i++) {
        enum qb_err rc = storage_key_check(keys[i], err, errlen);
        if (rc)
            return rc;
    }
    return storage_s3_delete_versions(st, keys, n, err, errlen);
}

bool storage_can_copy(const struct storage *dst, const struct storage *src, uint64_t size)
{
    return storage_s3_can_copy(dst, src, size);
}

enum qb_err storage_copy(struct storage *dst, const char *key, struct storage *src,
                         const char *src_key, uint64_t size, const char *sha256,
                         struct storage_write_result *res, char *err, size_t errlen)
{
    enum qb_err rc = storage_key_check(key, err, errlen);
    if (!rc)
        rc = storage_key_check(src_key, err, errlen);
    if (!rc && !storage_can_copy(dst, src, size))
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "storage: %s cannot copy from %s on the server",
                      dst->url, src->url);
    return rc ? rc : storage_s3_copy(dst, key, src, src_key, size, sha256, res, err, errlen);
}
