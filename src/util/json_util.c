/* SPDX-License-Identifier: Apache-2.0
 *
 * json_util.c -- bounded parsing and typed field access over cJSON.
 */
#include "util/json_util.h"

#include <math.h>
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

static const cJSON *member(const cJSON *obj, const char *field)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, field);
    return (item && !cJSON_IsNull(item)) ? item : NULL;
}

enum qb_err json_get_string(const cJSON *obj, const char *field, const char **out, char *err,
                            size_t errlen)
{
    const cJSON *item = member(obj, field);
    if (!item)
        return QB_ERR_NOT_FOUND;
    if (!cJSON_IsString(item))
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: must be a string", field);
    *out = item->valuestring;
    return QB_OK;
}

enum qb_err json_get_bool(const cJSON *obj, const char *field, bool *out, char *err, size_t errlen)
{
    const cJSON *item = member(obj, field);
    if (!item)
        return QB_ERR_NOT_FOUND;
    if (!cJSON_IsBool(item))
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: must be true or false", field);
    *out = cJSON_IsTrue(item);
    return QB_OK;
}

enum qb_err json_get_int(const cJSON *obj, const char *field, int64_t min, int64_t max,
                         int64_t *out, char *err, size_t errlen)
{
    const cJSON *item = member(obj, field);
    if (!item)
        return QB_ERR_NOT_FOUND;
    double v = cJSON_IsNumber(item) ? item->valuedouble : NAN;
    if (!cJSON_IsNumber(item) || v != floor(v))
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
