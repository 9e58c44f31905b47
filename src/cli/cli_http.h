/* SPDX-License-Identifier: Apache-2.0
 *
 * cli_http.h -- the CLI's one connection to qbackupd: libcurl requests
 * against the base URL with the bearer token, answers read into a capped
 * buffer and parsed when they are JSON.  It only transports; what a status
 * means for the user is the commands' business.  Single-threaded (the CLI
 * is).
 */
#ifndef QB_CLI_HTTP_H
#define QB_CLI_HTTP_H
#include "common.h"
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct cli_http;

struct cli_reply {
    long status;          /* HTTP status */
    char *body;           /* owned, NUL-terminated ("" when empty) */
    size_t len;           /* bytes of body */
    cJSON *json;          /* owned: the parsed body when it is JSON, else NULL */
    bool problem;         /* Content-Type was application/problem+json */
    bool replayed;        /* Idempotent-Replayed: true */
    char request_id[128]; /* X-Request-Id, "" when absent */
};

/* base_url is "http[s]://host:port" (a trailing "/" is dropped); token may
 * be NULL.  Both are copied.  Caller frees with cli_http_destroy. */
enum qb_err cli_http_create(const char *base_url, const char *token, struct cli_http **out,
                            char *err, size_t errlen) QB_MUSTCHECK;
void cli_http_destroy(struct cli_http *h);

/* Sends method path_and_query (already escaped) with an optional JSON body
 * and Idempotency-Key, waiting up to timeout_s for the whole answer.
 * Returns QB_OK when any HTTP answer arrived (r filled; free it with
 * cli_reply_free), QB_ERR_TRANSIENT when qbackupd could not be reached or
 * did not answer in time, QB_ERR_REMOTE for an answer too large or not
 * HTTP; err says which. */
enum qb_err cli_http_call(struct cli_http *h, const char *method, const char *path_and_query,
                          const char *body, const char *idempotency_key, long timeout_s,
                          struct cli_reply *r, char *err, size_t errlen) QB_MUSTCHECK;
void cli_reply_free(struct cli_reply *r);

/* One path segment or query value percent-escaped; caller frees with free(). */
char *cli_http_escape(const char *s);

#endif /* QB_CLI_HTTP_H */
