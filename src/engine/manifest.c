/* SPDX-License-Identifier: Apache-2.0
 *
 * manifest.c -- the manifest format (manifest.h): the key next to an
 * object, encoding, and parsing with validation and the version check.
 */
#include "engine/manifest.h"
#include "codec/codec.h"
#include "remote/sigv4.h"
#include "util/json_util.h"
#include "util/rfc3339.h"
#include "version.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* JSON numbers are doubles: integers are exact up to 2^53. */
#define JSON_INT_MAX ((int64_t)1 << 53)

void manifest_free(struct manifest *mf)
{
    if (!mf)
        return;
    cJSON_Delete(mf->tree);
    memset(mf, 0, sizeof *mf);
}

/* ---------------------------------------------------------------- keys */

char *manifest_key(const char *object_key)
{
    return xasprintf("%s" MANIFEST_SUFFIX, object_key);
}

bool manifest_is_key(const char *key)
{
    size_t n = strlen(key), m = strlen(MANIFEST_SUFFIX);
    return n >= m && memcmp(key + n - m, MANIFEST_SUFFIX, m) == 0;
}

char *manifest_object_key(const char *manifest_key)
{
    if (!manifest_is_key(manifest_key))
        return NULL;
    return xstrndup(manifest_key, strlen(manifest_key) - strlen(MANIFEST_SUFFIX));
}

/* ---------------------------------------------------------------- writing */

bool manifest_coded(const struct manifest *mf)
{
    return mf->codec && strcmp(mf->codec, "none") != 0;
}

enum qb_err manifest_encode(const struct manifest *mf, const cJSON *set, char **out, char *err,
                            size_t errlen)
{
    /* Members in the order both writers have always used, so manifests
     * written before and after this module are alike. */
    cJSON *m = cJSON_CreateObject();
    bool coded = manifest_coded(mf);
    cJSON_AddStringToObject(m, "format", coded ? MANIFEST_FORMAT_V2 : MANIFEST_FORMAT);
    /* Plan-less snapshots (safety snapshots) say so, so that a rescan never
     * hands them to a plan that happens to share the name. */
    if (mf->plan)
        cJSON_AddStringToObject(m, "plan", mf->plan);
    else
        cJSON_AddNullToObject(m, "plan");
    cJSON_AddStringToObject(m, "instance", mf->instance);
    cJSON_AddStringToObject(m, "kind", mf->kind);
    if (mf->set)
        cJSON_AddStringToObject(m, "layout", "shards");
    if (mf->collection)
        cJSON_AddStringToObject(m, "collection", mf->collection);
    cJSON_AddStringToObject(m, "qdrant_snapshot", mf->qdrant_snapshot);
    if (mf->qdrant_version)
        cJSON_AddStringToObject(m, "qdrant_version", mf->qdrant_version);
    cJSON_AddStringToObject(m, "key", mf->key);
    cJSON_AddNumberToObject(m, "size", (double)mf->size);
    if (!mf->set)
        cJSON_AddStringToObject(m, "sha256", mf->sha256);
    if (mf->qdrant_checksum)
        cJSON_AddStringToObject(m, "qdrant_checksum", mf->qdrant_checksum);
    if (coded) {
        cJSON_AddStringToObject(m, "codec", mf->codec);
    }
    if (coded && !mf->set) { /* a set's shards say so each, in "set" */
        cJSON_AddNumberToObject(m, "raw_size", (double)mf->raw_size);
        cJSON_AddStringToObject(m, "raw_sha256", mf->raw_sha256);
    }
    if (coded) {
        if (mf->key_id && *mf->key_id)
            cJSON_AddStringToObject(m, "key_id", mf->key_id);
    }
    if (mf->points_count >= 0)
        cJSON_AddNumberToObject(m, "points_count", (double)mf->points_count);
    if (mf->shard_id >= 0)
        cJSON_AddNumberToObject(m, "shard_id", (double)mf->shard_id);
    char ts[32];
    qb_format_time(mf->created_at, ts, sizeof ts);
    cJSON_AddStringToObject(m, "created_at", ts);
    cJSON_AddNumberToObject(m, "run_id", (double)mf->run_id);
    cJSON_AddStringToObject(m, "qbackup_version", QB_VERSION);
    if (mf->set)
        cJSON_AddItemToObject(m, "set", cJSON_Duplicate(set, true));
    *out = cJSON_Print(m);
    cJSON_Delete(m);
    if (!*out)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "encoding the manifest");
    return QB_OK;
}

enum qb_err manifest_write(struct storage *st, const struct manifest *mf, const cJSON *set,
                           char sha[65], char *err, size_t errlen)
{
    char *text = NULL, *key = NULL;
    enum qb_err rc = manifest_encode(mf, set, &text, err, errlen);
    if (rc)
        goto out;
    if (sha)
        sigv4_sha256_hex(text, strlen(text), sha);
    key = manifest_key(mf->key);
    rc = storage_put(st, key, text, strlen(text), err, errlen);
out:
    free(key);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- reading */

/* Copies 64 hex digits of s into out[65] in lower case; false otherwise. */
static bool hex64(const char *s, char out[65])
{
    if (strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[64] = '\0';
    return true;
}

/* Required non-empty string member; reason names the field otherwise. */
static bool need_string(const cJSON *m, const char *field, const char **out, char *reason,
                        size_t reasonlen)
{
    enum qb_err rc = json_get_string(m, field, out, reason, reasonlen);
    if (rc == QB_ERR_NOT_FOUND || (!rc && !**out)) {
        snprintf(reason, reasonlen, "%s: missing", field);
        return false;
    }
    return rc == QB_OK;
}

/* Optional string member: *out NULL when absent or null. */
static bool opt_string(const cJSON *m, const char *field, const char **out, char *reason,
                       size_t reasonlen)
{
    *out = NULL;
    enum qb_err rc = json_get_string(m, field, out, reason, reasonlen);
    if (rc == QB_ERR_NOT_FOUND)
        *out = NULL;
    return rc == QB_OK || rc == QB_ERR_NOT_FOUND;
}

/* Optional integer member in [0, 2^53]: *out is dflt when absent. */
static bool opt_int(const cJSON *m, const char *field, int64_t dflt, int64_t *out, char *reason,
                    size_t reasonlen)
{
    enum qb_err rc = json_get_int(m, field, 0, JSON_INT_MAX, out, reason, reasonlen);
    if (rc == QB_ERR_NOT_FOUND)
        *out = dflt;
    return rc == QB_OK || rc == QB_ERR_NOT_FOUND;
}

/* Version 2's members: the codec and (not for a set, whose shards say
 * it each) what the archive was. */
static bool validate_codec(const cJSON *m, struct manifest *mf, char *reason, size_t reasonlen)
{
    const char *raw_sha = NULL;
    enum codec_compression comp;
    bool encrypted = false;
    char sub[QB_ERRBUF_SIZE / 2];
    if (!need_string(m, "codec", &mf->codec, reason, reasonlen) ||
        (!mf->set && !need_string(m, "raw_sha256", &raw_sha, reason, reasonlen)) ||
        !opt_string(m, "key_id", &mf->key_id, reason, reasonlen))
        return false;
    if (codec_name_parse(mf->codec, &comp, &encrypted, sub, sizeof sub)) {
        snprintf(reason, reasonlen, "codec: %s", sub);
        return false;
    }
    if (strcmp(mf->codec, "none") == 0) {
        snprintf(reason, reasonlen, "codec: a raw object has a version 1 manifest");
        return false;
    }
    if (!mf->set && !hex64(raw_sha, mf->raw_sha256)) {
        snprintf(reason, reasonlen, "raw_sha256: must be 64 hexadecimal digits");
        return false;
    }
    enum qb_err rc =
        mf->set ? QB_OK
                : json_get_int(m, "raw_size", 0, JSON_INT_MAX, &mf->raw_size, reason, reasonlen);
    if (rc == QB_ERR_NOT_FOUND)
        snprintf(reason, reasonlen, "raw_size: missing");
    if (rc)
        return false;
    if (mf->set)
        mf->raw_size = -1;
    bool id_ok = mf->key_id && strlen(mf->key_id) == SEAL_KEY_ID_LEN &&
                 strspn(mf->key_id, "0123456789abcdef") == SEAL_KEY_ID_LEN;
    if (encrypted != (mf->key_id != NULL) || (mf->key_id && !id_ok)) {
        snprintf(reason, reasonlen,
                 encrypted ? "key_id: an encrypted object needs 8 lower-case hex digits"
                           : "key_id: only an encrypted object has one");
        return false;
    }
    return true;
}

/* The members only a single snapshot's manifest has: its object's SHA-256
 * and Qdrant's checksum, and the Qdrant snapshot name. */
static bool validate_object(const cJSON *m, struct manifest *mf, bool v2, char *reason,
                            size_t reasonlen)
{
    const char *sha = NULL;
    if (!need_string(m, "qdrant_snapshot", &mf->qdrant_snapshot, reason, reasonlen) ||
        !need_string(m, "sha256", &sha, reason, reasonlen) ||
        !opt_string(m, "qdrant_checksum", &mf->qdrant_checksum, reason, reasonlen))
        return false;
    if (!hex64(sha, mf->sha256)) {
        snprintf(reason, reasonlen, "sha256: must be 64 hexadecimal digits");
        return false;
    }
    if (v2 && !validate_codec(m, mf, reason, reasonlen))
        return false;
    if (!v2) {
        mf->codec = NULL;
        mf->raw_size = -1;
        memcpy(mf->raw_sha256, mf->sha256, sizeof mf->raw_sha256);
    }
    if (mf->qdrant_checksum) {
        if (!hex64(mf->qdrant_checksum, mf->checksum)) {
            snprintf(reason, reasonlen, "qdrant_checksum: must be 64 hexadecimal digits");
            return false;
        }
        /* The pipeline keeps nothing whose bytes differ from Qdrant's
         * checksum; a manifest saying otherwise was not written by it. */
        if (strcmp(mf->checksum, mf->raw_sha256) != 0) {
            snprintf(reason, reasonlen,
                     v2 ? "qdrant_checksum differs from raw_sha256"
                        : "qdrant_checksum differs from sha256");
            return false;
        }
        mf->qdrant_checksum = mf->checksum;
    }
    return true;
}

/* "layout": absent or "snapshot" (one object at key), or "shards" (a
 * backup set: the shards and the manifest's SHA-256 stand in for the
 * object's, see rescan_set.h). */
static bool validate_layout(const cJSON *m, struct manifest *mf, char *reason, size_t reasonlen)
{
    const char *layout = NULL;
    if (!opt_string(m, "layout", &layout, reason, reasonlen))
        return false;
    mf->set = layout && strcmp(layout, "shards") == 0;
    if (layout && !mf->set && strcmp(layout, "snapshot") != 0) {
        snprintf(reason, reasonlen, "layout: \"%.64s\" is not snapshot or shards", layout);
        return false;
    }
    return true;
}
/* "format": this version, a later one (refused with QB_ERR_TOO_NEW: an
 * older qbackupd must not guess at what a newer one meant), or not ours. */
static enum qb_err check_format(const cJSON *m, bool *v2, char *reason, size_t reasonlen)
{
    const char *format = NULL;
    if (!need_string(m, "format", &format, reason, reasonlen))
        return QB_ERR_INVALID;
    *v2 = strcmp(format, MANIFEST_FORMAT_V2) == 0;
    if (*v2 || strcmp(format, MANIFEST_FORMAT) == 0)
        return QB_OK;
    size_t n = strlen(MANIFEST_FORMAT_PREFIX);
    const char *v = format + n;
    if (strncmp(format, MANIFEST_FORMAT_PREFIX, n) == 0 && isdigit((unsigned char)*v) &&
        *v != '0') {
        char *end = NULL;
        errno = 0;
        unsigned long long version = strtoull(v, &end, 10);
        if (!*end && (errno == ERANGE || version > MANIFEST_VERSION)) {
            snprintf(reason, reasonlen,
                     "format: \"%.64s\" is a newer manifest version than this qbackupd reads "
                     "(up to " MANIFEST_FORMAT_V2 "); upgrade qbackupd to import it",
                     format);
            return QB_ERR_TOO_NEW;
        }
    }
    snprintf(reason, reasonlen,
             "format: \"%.64s\" is not " MANIFEST_FORMAT " or " MANIFEST_FORMAT_V2, format);
    return QB_ERR_INVALID;
}

/* Checks the members of m, the manifest of key, and fills mf (borrowing
 * from m); false with the reason otherwise. */
static bool validate(const cJSON *m, const char *key, bool v2, struct manifest *mf, char *reason,
                     size_t reasonlen)
{
    const char *mkey = NULL, *created = NULL;
    if (!need_string(m, "key", &mkey, reason, reasonlen))
        return false;
    if (strcmp(mkey, key) != 0) {
        /* A manifest copied or renamed would describe another object. */
        snprintf(reason, reasonlen, "key: the manifest describes \"%.200s\", not this object",
                 mkey);
        return false;
    }
    mf->key = mkey;
    if (!validate_layout(m, mf, reason, reasonlen) ||
        !opt_string(m, "plan", &mf->plan, reason, reasonlen) ||
        !need_string(m, "instance", &mf->instance, reason, reasonlen) ||
        !need_string(m, "kind", &mf->kind, reason, reasonlen) ||
        !need_string(m, "created_at", &created, reason, reasonlen) ||
        !opt_string(m, "collection", &mf->collection, reason, reasonlen) ||
        !opt_string(m, "qdrant_version", &mf->qdrant_version, reason, reasonlen))
        return false;
    if (mf->set && v2 && !validate_codec(m, mf, reason, reasonlen))
        return false;
    if (!mf->set && !validate_object(m, mf, v2, reason, reasonlen))
        return false;
    if (mf->plan && !*mf->plan)
        mf->plan = NULL;
    bool full = strcmp(mf->kind, "full") == 0;
    bool shard = strcmp(mf->kind, "shard") == 0;
    if (!full && !shard && strcmp(mf->kind, "collection") != 0) {
        snprintf(reason, reasonlen, "kind: \"%.64s\" is not collection, full or shard", mf->kind);
        return false;
    }
    if (mf->set && (full || shard)) {
        snprintf(reason, reasonlen, "kind: a backup set is of kind collection");
        return false;
    }
    if (full && mf->collection) {
        snprintf(reason, reasonlen, "collection: a full snapshot has none");
        return false;
    }
    if (!full && (!mf->collection || !*mf->collection)) {
        snprintf(reason, reasonlen, "collection: missing");
        return false;
    }
    enum qb_err rc = json_get_int(m, "size", 0, JSON_INT_MAX, &mf->size, reason, reasonlen);
    if (rc == QB_ERR_NOT_FOUND)
        snprintf(reason, reasonlen, "size: missing");
    if (rc)
        return false;
    if (!opt_int(m, "points_count", -1, &mf->points_count, reason, reasonlen) ||
        !opt_int(m, "shard_id", -1, &mf->shard_id, reason, reasonlen))
        return false;
    if (mf->set && mf->shard_id >= 0) {
        snprintf(reason, reasonlen, "shard_id: a backup set has none (its shards are in set)");
        return false;
    }
    if (!rfc3339_parse(created, RFC3339_ANY, &mf->created_at) || mf->created_at <= 0) {
        snprintf(reason, reasonlen, "created_at: \"%.64s\" is not an RFC 3339 time", created);
        return false;
    }
    return true;
}

enum qb_err manifest_parse(const char *text, size_t len, const char *key, struct manifest *mf,
                           char *reason, size_t reasonlen)
{
    cJSON *m = NULL;
    memset(mf, 0, sizeof *mf);
    enum qb_err rc = json_parse_bounded(text, len, MANIFEST_MAX_DEPTH, &m, reason, reasonlen);
    if (rc) {
        char detail[QB_ERRBUF_SIZE];
        qb_strlcpy(detail, reason, sizeof detail);
        snprintf(reason, reasonlen, "not valid JSON: %s", detail);
        return QB_ERR_INVALID;
    }
    reason[0] = '\0';
    if (!cJSON_IsObject(m)) {
        snprintf(reason, reasonlen, "not a JSON object");
        rc = QB_ERR_INVALID;
        goto out;
    }
    bool v2 = false;
    rc = check_format(m, &v2, reason, reasonlen);
    if (rc)
        goto out;
    if (!validate(m, key, v2, mf, reason, reasonlen)) {
        rc = QB_ERR_INVALID;
        goto out;
    }
    mf->tree = m;
    m = NULL;
out:
    if (rc) /* its strings point into m */
        memset(mf, 0, sizeof *mf);
    cJSON_Delete(m);
    return rc;
}
