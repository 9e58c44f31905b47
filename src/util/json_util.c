/* SPDX-License-Identifier: Apache-2.0
 *
 * json_util.c -- bounded parsing and typed field access over cJSON.
 */
#include "util/json_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int json_nesting_depth(const char *text, size_t len)
{
    int depth = 0, max = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

enum qb_err json_parse_bounded(const char *text, size_t len, int max_depth, cJSON **out, char *err,
                               size_t errlen)
{
    *out = NULL;
    if (len == 0)
        return qb_failf(QB_ERR_INVALID, err, errlen, "request body is empty; expected JSON");
    int depth = json_nesting_depth(text, len);
    if (depth > max_depth)
        return qb_failf(QB_ERR_INVALID, err, errlen, "JSON nests %d levels deep; the limit is %d",
                        depth, max_depth);
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!json) {
        size_t off = end ? (size_t)(end - text) : 0;
        const char *at = cJSON_GetErrorPtr();
        if (at && at >= text && at <= text + len)
            off = (size_t)(at - text);
        return qb_failf(QB_ERR_INVALID, err, errlen, "malformed JSON near byte %zu", off);
    }
    /* cJSON stops after the first value; anything but whitespace after it
     * means the client sent something other than one JSON document. */
    for (const char *p = end; p && p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '\0') {
            size_t off = (size_t)(p - text);
            cJSON_Delete(json);
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "malformed JSON: unexpected data after the document at byte %zu", off);
        }
    }
    *out = json;
    return QB_OK;
}

/* ---------------------------------------------------------------- strict checks */

/* Frames deeper than this are not named in paths (the path ends in "..."):
 * bodies deeper than max_json_depth never get here, and no API body nests
 * this deep. */
#define PATH_MAX_FRAMES 64

struct path_frame {
    bool object;     /* else array */
    long index;      /* array: current element */
    const char *key; /* object: current member's key as written (escapes kept) */
    size_t keylen;
};

/* Appends one path step: ".key" (no dot at the root) or "[i]".  Bytes a
 * problem document should not carry are shown as '?'. */
static size_t path_append(char *out, size_t outlen, size_t used, const char *key, size_t keylen,
                          long index)
{
    if (outlen == 0 || used + 1 >= outlen)
        return used;
    if (!key) {
        int n = snprintf(out + used, outlen - used, "[%ld]", index);
        if (n < 0 || (size_t)n >= outlen - used)
            return outlen - 1;
        return used + (size_t)n;
    }
    if (used > 0 && used + 1 < outlen)
        out[used++] = '.';
    for (size_t i = 0; i < keylen && used + 1 < outlen; i++) {
        unsigned char c = (unsigned char)key[i];
        out[used++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[used] = '\0';
    return used;
}

static void path_render(const struct path_frame *frames, int depth, char *out, size_t outlen)
{
    size_t used = 0;
    if (outlen)
        out[0] = '\0';
    int shown = depth < PATH_MAX_FRAMES ? depth : PATH_MAX_FRAMES;
    for (int i = 0; i < shown; i++) {
        const struct path_frame *f = &frames[i];
        if (f->object && !f->key)
            break; /* NUL in the first key of an object not yet named */
        used = f->object ? path_append(out, outlen, used, f->key, f->keylen, 0)
                         : path_append(out, outlen, used, NULL, 0, f->index);
    }
    if (depth > PATH_MAX_FRAMES)
        path_append(out, outlen, used, "...", 3, 0);
}

/* True when the string starting at text[i] == '"' holds a NUL, as a raw
 * byte or as a \u0000 escape; *end is set to its closing quote. */
static bool string_has_nul(const char *text, size_t len, size_t i, size_t *end)
{
    bool nul = false;
    size_t j = i + 1;
    while (j < len && text[j] != '"') {
        if (text[j] == '\0') {
            nul = true;
        } else if (text[j] == '\\') {
            if (j + 5 < len && text[j + 1] == 'u' && memcmp(text + j + 2, "0000", 4) == 0)
                nul = true;
            j++; /* the escaped character: never a closing quote */
        }
        j++;
    }
    *end = j;
    return nul;
}

/* Finds the first NUL in a string or key of a valid JSON text and names
 * its path. */
static enum qb_err check_nul(const char *text, size_t len, char *field, size_t fieldlen, char *err,
                             size_t errlen)
{
    struct path_frame frames[PATH_MAX_FRAMES];
    int depth = 0;
    bool expect_key = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        struct path_frame *top = depth > 0 && depth <= PATH_MAX_FRAMES ? &frames[depth - 1] : NULL;
        if (c == '{' || c == '[') {
            if (depth < PATH_MAX_FRAMES)
                frames[depth] = (struct path_frame){c == '{', 0, NULL, 0};
            depth++;
            expect_key = c == '{';
        } else if (c == '}' || c == ']') {
            depth--;
            expect_key = false;
        } else if (c == ',' && top) {
            expect_key = top->object;
            top->index++;
        } else if (c == '"') {
            size_t end = i;
            bool nul = string_has_nul(text, len, i, &end);
            if (expect_key && top) {
                top->key = text + i + 1;
                top->keylen = end - i - 1;
            }
            if (nul) {
                path_render(frames, depth, field, fieldlen);
                if (!*field)
                    return qb_failf(QB_ERR_INVALID, err, errlen,
                                    "the body contains a NUL character (\\u0000) in a string");
                return qb_failf(QB_ERR_INVALID, err, errlen,
                                "%s: %s contains a NUL character (\\u0000), which is not allowed",
                                field, expect_key ? "the key" : "the value");
            }
            expect_key = false;
            i = end;
        }
    }
    return QB_OK;
}

static int compare_keys(const void *a, const void *b)
{
    const cJSON *const *x = a, *const *y = b;
    return strcmp((*x)->string, (*y)->string);
}

/* Walks the tree for an object with two members of one name; path holds
 * the current node's path (used bytes). */
static enum qb_err check_duplicates(const cJSON *node, char *path, size_t pathlen, size_t used,
                                    char *err, size_t errlen)
{
    if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
        return QB_OK;
    size_t n = 0;
    const cJSON *child;
    for (child = node->child; child; child = child->next)
        n++;
    if (cJSON_IsObject(node) && n > 1) {
        const cJSON **sorted = xmalloc(n * sizeof *sorted);
        size_t k = 0;
        for (child = node->child; child; child = child->next)
            sorted[k++] = child;
        qsort(sorted, n, sizeof *sorted, compare_keys);
        const cJSON *dup = NULL;
        for (k = 1; k < n && !dup; k++) {
            if (strcmp(sorted[k - 1]->string, sorted[k]->string) == 0)
                dup = sorted[k];
        }
        free(sorted);
        if (dup) {
            path_append(path, pathlen, used, dup->string, strlen(dup->string), 0);
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "%s: duplicate key; each member may appear once", path);
        }
    }
    long index = 0;
    for (child = node->child; child; child = child->next, index++) {
        size_t u = cJSON_IsObject(node)
                       ? path_append(path, pathlen, used, child->string, strlen(child->string), 0)
                       : path_append(path, pathlen, used, NULL, 0, index);
        enum qb_err rc = check_duplicates(child, path, pathlen, u, err, errlen);
        if (rc)
            return rc;
        path[used] = '\0';
    }
    return QB_OK;
}

enum qb_err json_check_strict(const char *text, size_t len, const cJSON *json, char *field,
                              size_t fieldlen, char *err, size_t errlen)
{
    char path[256] = "";
    if (fieldlen)
        field[0] = '\0';
    enum qb_err rc = check_nul(text, len, path, sizeof path, err, errlen);
    if (!rc) {
        path[0] = '\0';
        rc = check_duplicates(json, path, sizeof path, 0, err, errlen);
    }
    if (rc && fieldlen)
        qb_strlcpy(field, path, fieldlen);
    return rc;
}

/* The member called field when it is present, not null, and of the type
 * is() accepts: QB_OK with *item set; QB_ERR_NOT_FOUND when absent or null;
 * QB_ERR_INVALID ("<field>: must be <must>") for any other type. */
static enum qb_err typed_member(const cJSON *obj, const char *field,
                                cJSON_bool (*is)(const cJSON *const), const char *must,
                                const cJSON **item, char *err, size_t errlen)
{
    *item = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!*item || cJSON_IsNull(*item))
        return QB_ERR_NOT_FOUND;
    if (!is(*item))
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: must be %s", field, must);
    return QB_OK;
}

enum qb_err json_get_string(const cJSON *obj, const char *field, const char **out, char *err,
                            size_t errlen)
{
    const cJSON *item;
    enum qb_err rc = typed_member(obj, field, cJSON_IsString, "a string", &item, err, errlen);
    if (!rc)
        *out = item->valuestring;
    return rc;
}

enum qb_err json_get_bool(const cJSON *obj, const char *field, bool *out, char *err, size_t errlen)
{
    const cJSON *item;
    enum qb_err rc = typed_member(obj, field, cJSON_IsBool, "true or false", &item, err, errlen);
    if (!rc)
        *out = cJSON_IsTrue(item);
    return rc;
}

enum qb_err json_get_int(const cJSON *obj, const char *field, int64_t min, int64_t max,
                         int64_t *out, char *err, size_t errlen)
{
    const cJSON *item;
    enum qb_err rc = typed_member(obj, field, cJSON_IsNumber, "an integer", &item, err, errlen);
    if (rc)
        return rc;
    double v = item->valuedouble;
    if (v != floor(v))
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: must be an integer", field);
    if (v < (double)min || v > (double)max)
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: must be between %lld and %lld", field,
                        (long long)min, (long long)max);
    *out = (int64_t)v;
    return QB_OK;
}

enum qb_err json_reject_unknown(const cJSON *obj, const char *const *allowed, char *err,
                                size_t errlen)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, obj)
    {
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strcmp(*a, item->string) == 0;
        if (!known)
            return qb_failf(QB_ERR_INVALID, err, errlen, "%s: unknown field", item->string);
    }
    return QB_OK;
}

void json_add_time(cJSON *obj, const char *name, int64_t t)
{
    if (t <= 0) {
        cJSON_AddNullToObject(obj, name);
        return;
    }
    char ts[32];
    qb_format_time(t, ts, sizeof ts);
    cJSON_AddStringToObject(obj, name, ts);
}
