/* SPDX-License-Identifier: Apache-2.0
 *
 * json_u64.h -- exact 64-bit integers through cJSON.
 *
 * cJSON keeps every number as a double, which is exact only up to 2^53.
 * Qdrant's peer ids are u64 values that may be larger, and a peer id that
 * comes back rounded matches no peer.  json_parse_exact() therefore keeps
 * every integer literal too long to be exact as raw text (cJSON_Raw: its
 * digits, printed back as the same number, never as a string or a rounded
 * double, so a u64 shard key stays a number), and json_u64() reads an id
 * from either form.
 */
#ifndef QB_JSON_U64_H
#define QB_JSON_U64_H

#include "common.h"

#include <cjson/cJSON.h>

/* Parses len bytes of JSON like cJSON_ParseWithLength, except that integer
 * literals of more than 15 digits arrive as cJSON_Raw items holding their
 * digits (cJSON_IsNumber is false for them: read them with json_u64).
 * Returns NULL when the text is not JSON. */
cJSON *json_parse_exact(const char *text, size_t len);

/* Reads a non-negative integer: a raw one from json_parse_exact, a string
 * of digits, or a number small enough to be an exact double.  Returns
 * false when item is none of them. */
bool json_u64(const cJSON *item, uint64_t *out);

/* Adds a u64 to obj as an exact JSON integer (never in exponent form). */
void json_add_u64(cJSON *obj, const char *name, uint64_t v);

#endif /* QB_JSON_U64_H */
