/* SPDX-License-Identifier: Apache-2.0
 *
 * rescan_set.c -- reads a backup set's manifest for a rescan (see
 * rescan_set.h): checks the "set" member against what
 * backup_set_collection() writes and lifts its text out unchanged.
 *
 * DESIGN
 *   The manifest is parsed twice over: json_parse_exact() gives a tree in
 *   which peer ids are exact (cJSON alone keeps numbers as doubles), and
 *   the column snapshots.backup_set is not printed from any tree but cut
 *   from the manifest's bytes (member_span) and compacted.  Printing a
 *   tree back could respell a value (cJSON reprints every double); cutting
 *   keeps each value exactly as the pipeline wrote it.  Both the tree and
 *   the cut read the first "set" member, as cJSON's lookups do, so what is
 *   checked is what is stored.
 */
#include "engine/rescan_set.h"
#include "util/json_u64.h"
#include "util/json_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* JSON numbers are doubles: integers are exact up to 2^53. */
#define JSON_INT_MAX ((int64_t)1 << 53)
/* Shard ids are u32 in Qdrant (shard_json() writes them unsigned). */
#define SHARD_ID_MAX ((int64_t)UINT32_MAX)

void rescan_set_free(struct rescan_set *set)
{
    if (!set)
        return;
    cJSON_Delete(set->tree);
    free(set->text);
    free(set->shards);
    memset(set, 0, sizeof *set);
}

/* ---------------------------------------------------------------- raw text */

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/* Past the closing quote of the string whose opening quote is at p. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\' && p + 1 < end)
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return end;
}

/* Past the value that starts at p (the text is known to be valid JSON). */
static const char *skip_value(const char *p, const char *end)
{
    if (p < end && *p == '"')
        return skip_string(p, end);
    if (p < end && (*p == '{' || *p == '[')) {
        int depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = skip_string(p, end);
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && !is_ws(*p))
        p++;
    return p;
}

/* The bytes [*start, *stop) of the value of the first member called name
 * (written without escapes) of the object text is. */
static bool member_span(const char *text, size_t len, const char *name, const char **start,
                        const char **stop)
{
    const char *end = text + len, *p = skip_ws(text, end);
    size_t nlen = strlen(name);
    if (p >= end || *p != '{')
        return false;
    for (p++;;) {
        p = skip_ws(p, end);
        if (p >= end || *p != '"')
            return false;
        const char *k = p + 1;
        p = skip_string(p, end);
        bool match = (size_t)(p - 1 - k) == nlen && memcmp(k, name, nlen) == 0;
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return false;
        p = skip_ws(p + 1, end);
        const char *v = p;
        p = skip_value(p, end);
        if (match) {
            *start = v;
            *stop = p;
            return true;
        }
        p = skip_ws(p, end);
        if (p >= end || *p != ',')
            return false;
        p++;
    }
}

/* [p, end) without the whitespace outside strings: for what cJSON_Print
 * wrote, exactly what cJSON_PrintUnformatted writes for the same tree. */
static char *compact(const char *p, const char *end)
{
    char *out = xmalloc((size_t)(end - p) + 1), *o = out;
    while (p < end) {
        if (*p == '"') {
            const char *q = skip_string(p, end);
            memcpy(o, p, (size_t)(q - p));
            o += q - p;
            p = q;
        } else if (is_ws(*p)) {
            p++;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* ---------------------------------------------------------------- members */

/* Integer member in [min, max]; optional ones are -1 when absent.  The
 * reason is "<where>.<field>: ...". */
static bool get_int(const cJSON *o, const char *where, const char *field, int64_t min, int64_t max,
                    bool optional, int64_t *out, char *reason, size_t reasonlen)
{
    char sub[QB_ERRBUF_SIZE] = "";
    enum qb_err rc = json_get_int(o, field, min, max, out, sub, sizeof sub);
    if (rc == QB_ERR_NOT_FOUND && optional) {
        *out = -1;
        return true;
    }
    if (rc == QB_ERR_NOT_FOUND)
        snprintf(sub, sizeof sub, "%s: missing", field);
    if (rc)
        snprintf(reason, reasonlen, "%s.%s", where, sub);
    return rc == QB_OK;
}

/* String member; optional ones are NULL when absent, required ones must
 * not be empty. */
static bool get_string(const cJSON *o, const char *where, const char *field, bool optional,
                       const char **out, char *reason, size_t reasonlen)
{
    char sub[QB_ERRBUF_SIZE] = "";
    *out = NULL;
    enum qb_err rc = json_get_string(o, field, out, sub, sizeof sub);
    if (rc == QB_ERR_NOT_FOUND && optional) {
        *out = NULL;
        return true;
    }
    if (rc == QB_ERR_NOT_FOUND || (!rc && !optional && !**out)) {
        snprintf(sub, sizeof sub, "%s: missing", field);
        rc = QB_ERR_INVALID;
    }
    if (rc)
        snprintf(reason, reasonlen, "%s.%s", where, sub);
    return rc == QB_OK;
}

/* 64 lower-case hex digits: the form storage records and verify compares
 * with strcmp(). */
static bool lower_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!isdigit((unsigned char)s[i]) && (s[i] < 'a' || s[i] > 'f'))
            return false;
    return true;
}

/* Checks shard i of the set of set key key into out. */
static bool read_shard(const cJSON *sh, size_t i, const char *key, struct rescan_shard *out,
                       char *reason, size_t reasonlen)
{
    char where[48];
    const char *peer_url = NULL, *checksum = NULL, *snapshot = NULL, *raw_sha = NULL;
    int64_t points = 0;
    uint64_t peer = 0;
    snprintf(where, sizeof where, "set.shards[%zu]", i);
    if (!cJSON_IsObject(sh)) {
        snprintf(reason, reasonlen, "%s: not an object", where);
        return false;
    }
    if (!get_int(sh, where, "shard_id", 0, SHARD_ID_MAX, false, &out->shard_id, reason,
                 reasonlen) ||
        !get_string(sh, where, "key", false, &out->key, reason, reasonlen) ||
        !get_int(sh, where, "size", 0, JSON_INT_MAX, false, &out->size, reason, reasonlen) ||
        !get_string(sh, where, "sha256", false, &out->sha256, reason, reasonlen) ||
        !get_string(sh, where, "peer_url", true, &peer_url, reason, reasonlen) ||
        !get_string(sh, where, "qdrant_checksum", true, &checksum, reason, reasonlen) ||
        !get_string(sh, where, "qdrant_snapshot", true, &snapshot, reason, reasonlen) ||
        !get_string(sh, where, "raw_sha256", true, &raw_sha, reason, reasonlen) ||
        !get_int(sh, where, "points_count", 0, JSON_INT_MAX, true, &points, reason, reasonlen))
        return false;
    if (!json_u64(cJSON_GetObjectItemCaseSensitive(sh, "peer_id"), &peer)) {
        snprintf(reason, reasonlen, "%s.peer_id: must be a non-negative integer", where);
        return false;
    }
    if (!peer_url) {
        snprintf(reason, reasonlen, "%s.peer_url: missing", where);
        return false;
    }
    /* Deleting or expiring the set deletes every shard key it lists
     * (backup_set_keys): only its own objects may be listed. */
    char *want = xasprintf("%s/shard-%lld.snapshot", key, (long long)out->shard_id);
    bool own = strcmp(out->key, want) == 0;
    if (!own)
        snprintf(reason, reasonlen, "%s.key: \"%.200s\" is not %.300s", where, out->key, want);
    free(want);
    if (!own)
        return false;
    if (!lower_hex64(out->sha256)) {
        snprintf(reason, reasonlen, "%s.sha256: must be 64 lower-case hexadecimal digits", where);
        return false;
    }
    /* take_shard() keeps no shard whose archive differs from Qdrant's
     * checksum (the stored bytes, unless the shard has a codec). */
    if (raw_sha && !lower_hex64(raw_sha)) {
        snprintf(reason, reasonlen, "%s.raw_sha256: must be 64 lower-case hexadecimal digits",
                 where);
        return false;
    }
    if (checksum && strcmp(checksum, raw_sha ? raw_sha : out->sha256) != 0) {
        snprintf(reason, reasonlen, "%s.qdrant_checksum differs from its %s", where,
                 raw_sha ? "raw_sha256" : "sha256");
        return false;
    }
    return true;
}

static int id_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The shards of set (an object), checked, into out. */
static bool read_shards(const cJSON *set, const char *key, int64_t size, struct rescan_set *out,
                        char *reason, size_t reasonlen)
{
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(set, "shards");
    int n = cJSON_GetArraySize(shards);
    if (!cJSON_IsArray(shards) || n == 0) {
        snprintf(reason, reasonlen, "set.shards: %s",
                 cJSON_IsArray(shards) ? "empty" : "missing or not an array");
        return false;
    }
    out->shards = xcalloc((size_t)n, sizeof *out->shards);
    int64_t *ids = xcalloc((size_t)n, sizeof *ids);
    bool ok = true;
    const cJSON *sh;
    cJSON_ArrayForEach(sh, shards)
    {
        struct rescan_shard *s = &out->shards[out->nshards];
        ok = read_shard(sh, out->nshards, key, s, reason, reasonlen);
        if (ok && s->size > JSON_INT_MAX - out->size) {
            snprintf(reason, reasonlen, "set.shards: the sizes add up to more than 2^53 bytes");
            ok = false;
        }
        if (!ok)
            break;
        out->size += s->size;
        ids[out->nshards++] = s->shard_id;
    }
    if (ok) {
        qsort(ids, out->nshards, sizeof *ids, id_cmp);
        for (size_t i = 1; ok && i < out->nshards; i++) {
            if (ids[i] == ids[i - 1]) {
                snprintf(reason, reasonlen, "set.shards: shard %lld is listed twice",
                         (long long)ids[i]);
                ok = false;
            }
        }
    }
    free(ids);
    if (ok && out->size != size) {
        snprintf(reason, reasonlen, "size: %lld, but the shards add up to %lld", (long long)size,
                 (long long)out->size);
        ok = false;
    }
    return ok;
}

/* ---------------------------------------------------------------- entry */

static bool parse(const char *text, size_t len, const char *key, int64_t size,
                  struct rescan_set *out, char *reason, size_t reasonlen)
{
    int64_t format = 0;
    const char *start = NULL, *stop = NULL;
    out->tree = json_parse_exact(text, len);
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(out->tree, "set");
    if (!cJSON_IsObject(set)) {
        snprintf(reason, reasonlen, "set: %s", set ? "not an object" : "missing");
        return false;
    }
    if (!get_int(set, "set", "format", 0, JSON_INT_MAX, false, &format, reason, reasonlen))
        return false;
    if (format != 1) {
        snprintf(reason, reasonlen, "set.format: %lld is not 1", (long long)format);
        return false;
    }
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(set, "config"))) {
        /* A restore recreates the collection from it. */
        snprintf(reason, reasonlen, "set.config: missing or not an object");
        return false;
    }
    if (!read_shards(set, key, size, out, reason, reasonlen))
        return false;
    if (!member_span(text, len, "set", &start, &stop)) {
        /* The tree has it, so its name is spelled with escapes. */
        snprintf(reason, reasonlen, "set: its name must be written plainly");
        return false;
    }
    out->text = compact(start, stop);
    return true;
}

bool rescan_set_parse(const char *text, size_t len, const char *key, int64_t size,
                      struct rescan_set *set, char *reason, size_t reasonlen)
{
    memset(set, 0, sizeof *set);
    if (parse(text, len, key, size, set, reason, reasonlen))
        return true;
    rescan_set_free(set);
    return false;
}

/* "run-<digits>-set-<digits>" exactly, n bytes at s. */
static bool is_set_dir(const char *s, size_t n)
{
    const char *end = s + n;
    if (n < 4 || memcmp(s, "run-", 4) != 0)
        return false;
    const char *p = s + 4, *d = p;
    while (p < end && isdigit((unsigned char)*p))
        p++;
    if (p == d || (size_t)(end - p) < 5 || memcmp(p, "-set-", 5) != 0)
        return false;
    p += 5;
    d = p;
    while (p < end && isdigit((unsigned char)*p))
        p++;
    return p > d && p == end;
}

bool rescan_set_is_shard_key(const char *key)
{
    const char *slash = strrchr(key, '/');
    if (!slash || strncmp(slash + 1, "shard-", 6) != 0)
        return false;
    const char *p = slash + 7, *d = p;
    while (isdigit((unsigned char)*p))
        p++;
    if (p == d || strcmp(p, ".snapshot") != 0)
        return false;
    const char *dir = slash;
    while (dir > key && dir[-1] != '/')
        dir--;
    return is_set_dir(dir, (size_t)(slash - dir));
}
