/* SPDX-License-Identifier: Apache-2.0
 *
 * json_util.h -- bounded JSON parsing and typed field access over cJSON.
 *
 * Request bodies are parsed only after a nesting-depth pre-scan, because
 * cJSON's own limit (1000) is far above what our API needs and deep nesting
 * costs stack.  Field getters report which field is wrong and why, in words
 * an API client can act on ("name: must be a string").
 */
#ifndef QB_JSON_UTIL_H
#define QB_JSON_UTIL_H

#include "common.h"

#include <cjson/cJSON.h>

/* Parses len bytes of text.  On success *out is a new tree (caller frees
 * with cJSON_Delete).  Fails with QB_ERR_INVALID and a message naming the
 * problem and its byte offset when the text is not JSON, nests deeper than
 * max_depth, or has trailing garbage. */
enum qb_err json_parse_bounded(const char *text, size_t len, int max_depth, cJSON **out, char *err,
                               size_t errlen) QB_MUSTCHECK;

/* Maximum nesting depth of arrays/objects in text (strings are skipped). */
int json_nesting_depth(const char *text, size_t len);

/* The checks cJSON does not make, for a document json_parse_bounded
 * accepted (text, len) and parsed into json.  cJSON cuts a string at a
 * NUL ("\u0000" or a raw 0 byte), so "a\u0000b" would reach a handler as
 * "a", and it keeps both members of {"a":1,"a":2} while lookups see only
 * the first, so what a handler validates and what a stored raw body says
 * could differ.  Fails with QB_ERR_INVALID for the first NUL in a string
 * or key, else for a duplicate key at any depth; [out] field receives the
 * member's path ("settings.bucket", "collections[2]", "" for the root;
 * truncated to fieldlen) and err "<path>: <reason>". */
enum qb_err json_check_strict(const char *text, size_t len, const cJSON *json, char *field,
                              size_t fieldlen, char *err, size_t errlen) QB_MUSTCHECK;

/* Typed getters for an object member.  They return QB_OK and set *out when
 * the member has the right type, QB_ERR_NOT_FOUND (no message) when absent
 * or null, and QB_ERR_INVALID with "<field>: <reason>" otherwise. */
enum qb_err json_get_string(const cJSON *obj, const char *field, const char **out, char *err,
                            size_t errlen) QB_MUSTCHECK;
enum qb_err json_get_bool(const cJSON *obj, const char *field, bool *out, char *err,
                          size_t errlen) QB_MUSTCHECK;
/* Accepts only integral numbers within [min, max]. */
enum qb_err json_get_int(const cJSON *obj, const char *field, int64_t min, int64_t max,
                         int64_t *out, char *err, size_t errlen) QB_MUSTCHECK;

/* Fails with QB_ERR_INVALID naming the first member of obj that is not in
 * the NULL-terminated list allowed: a typo in a field name must not be
 * silently ignored by a backup tool. */
enum qb_err json_reject_unknown(const cJSON *obj, const char *const *allowed, char *err,
                                size_t errlen) QB_MUSTCHECK;

/* Adds "name": RFC 3339 time, or null when t <= 0. */
void json_add_time(cJSON *obj, const char *name, int64_t t);

#endif /* QB_JSON_UTIL_H */
