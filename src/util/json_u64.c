/* SPDX-License-Identifier: Apache-2.0
 *
 * json_u64.c -- exact 64-bit integers through cJSON (see json_u64.h).
 */
#include "util/json_u64.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 15 digits are always exact in a double; 16 may not be. */
#define EXACT_DIGITS 15
/* Marks a long integer json_parse_exact() quoted: a raw control character
 * cannot open a string of valid JSON (it would have to be escaped). */
#define RAW_MARK '\x01'

static bool is_num_char(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

static bool is_integer(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Turns the marked strings back into numbers, as raw JSON text: printed,
 * they are the digits that came in, never a string or a rounded double. */
static void unmark(cJSON *item)
{
    for (; item; item = item->next) {
        if (cJSON_IsString(item) && item->valuestring && item->valuestring[0] == RAW_MARK &&
            is_integer(item->valuestring + 1)) {
            memmove(item->valuestring, item->valuestring + 1, strlen(item->valuestring));
            item->type = cJSON_Raw | (item->type & cJSON_StringIsConst);
        }
        unmark(item->child);
    }
}

cJSON *json_parse_exact(const char *text, size_t len)
{
    /* Quoting adds three bytes per long integer (of 16+ digits); 2 * len
     * + 1 bounds it. */
    char *out = xmalloc(2 * len + 1);
    size_t o = 0;
    bool in_string = false;
    for (size_t i = 0; i < len;) {
        char c = text[i];
        if (in_string) {
            out[o++] = c;
            i++;
            if (c == '\\' && i < len)
                out[o++] = text[i++];
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
            out[o++] = text[i++];
            continue;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i, digits = 0;
            bool integral = true;
            while (i < len && is_num_char(text[i])) {
                if (text[i] >= '0' && text[i] <= '9')
                    digits++;
                else if (text[i] != '-' || i != start)
                    integral = false;
                i++;
            }
            bool quote = integral && digits > EXACT_DIGITS;
            if (quote) {
                out[o++] = '"';
                out[o++] = RAW_MARK;
            }
            memcpy(out + o, text + start, i - start);
            o += i - start;
            if (quote)
                out[o++] = '"';
            continue;
        }
        out[o++] = text[i++];
    }
    cJSON *json = cJSON_ParseWithLength(out, o);
    free(out);
    unmark(json);
    return json;
}

bool json_u64(const cJSON *item, uint64_t *out)
{
    if ((cJSON_IsString(item) || cJSON_IsRaw(item)) && item->valuestring &&
        item->valuestring[0] >= '0' && item->valuestring[0] <= '9') {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(item->valuestring, &end, 10);
        if (errno || *end)
            return false;
        *out = (uint64_t)v;
        return true;
    }
    if (cJSON_IsNumber(item) && item->valuedouble >= 0 && item->valuedouble <= 9007199254740992.0 &&
        item->valuedouble == (double)(uint64_t)item->valuedouble) {
        *out = (uint64_t)item->valuedouble;
        return true;
    }
    return false;
}

void json_add_u64(cJSON *obj, const char *name, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    cJSON_AddRawToObject(obj, name, buf);
}
