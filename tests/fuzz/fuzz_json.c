/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_json.c -- libFuzzer target for the request-body validators: the
 * depth pre-scan, bounded parsing and the strict checks (NUL characters,
 * duplicate keys) that every JSON body goes through (json_util.h).
 *
 * Invariants checked beyond "no crash, no sanitizer report":
 *   - an accepted document nests no deeper than the limit;
 *   - a document the strict check accepts has no object with two members
 *     of one name (checked again here the slow, obvious way);
 *   - a refusal names its member in err, and field is a prefix of err.
 */
#include "util/json_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16

static void assert_no_duplicates(const cJSON *node)
{
    for (const cJSON *a = node ? node->child : NULL; a; a = a->next) {
        if (cJSON_IsObject(node)) {
            for (const cJSON *b = a->next; b; b = b->next) {
                if (strcmp(a->string, b->string) == 0)
                    abort();
            }
        }
        assert_no_duplicates(a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: reading past the body is an ASan report. */
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    cJSON *json = NULL;
    char err[QB_ERRBUF_SIZE], field[128];
    if (json_parse_bounded(text, size, MAX_DEPTH, &json, err, sizeof err) == QB_OK) {
        if (json_nesting_depth(text, size) > MAX_DEPTH)
            abort();
        enum qb_err rc = json_check_strict(text, size, json, field, sizeof field, err, sizeof err);
        if (rc == QB_OK)
            assert_no_duplicates(json);
        else if (rc != QB_ERR_INVALID || strncmp(err, field, strlen(field)) != 0)
            abort();
        cJSON_Delete(json);
    } else if (json) {
        abort();
    }
    free(text);
    return 0;
}
