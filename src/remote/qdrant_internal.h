/* SPDX-License-Identifier: Apache-2.0
 *
 * qdrant_internal.h -- what qdrant_client.c and qdrant_snapshots.c share:
 * the client struct and the call plumbing.  Nothing else includes this.
 */
#ifndef QB_QDRANT_INTERNAL_H
#define QB_QDRANT_INTERNAL_H

#include "remote/qdrant_client.h"

/* A JSON answer larger than this is refused (lists of thousands of
 * snapshots still fit). */
#define QDRANT_MAX_JSON (16u << 20)

struct qdrant_client {
    char *url;     /* base URL without a trailing slash */
    char *api_key; /* secret */
    struct qdrant_config cfg;
    /* Three handles because their time limits differ: `api` bounds the
     * whole call; `transfer` only aborts a stalled download; `slow` waits
     * as long as a snapshot may take, for calls during which Qdrant sends
     * nothing (create with wait=true, upload, recover). */
    struct http_client *api;
    struct http_client *transfer;
    struct http_client *slow;
    char *ca_file;
};

struct qdrant_call {
    struct http_client *via;
    const char *method;
    const char *path; /* with query string */
    const char *body; /* JSON text or NULL */
    const char *what; /* for messages: "create snapshot of products" */
    cJSON **result;   /* receives envelope.result (may be NULL) */
    long *status;     /* receives the HTTP status (may be NULL) */
};

/* Performs a JSON call through k->via and unwraps Qdrant's envelope. */
enum qb_err qdrant_call_json(struct qdrant_client *c, const struct qdrant_call *k, char *err,
                             size_t errlen) QB_MUSTCHECK;

/* Maps a non-2xx answer onto a message and an error class. */
enum qb_err qdrant_answer_error(const struct http_client_response *resp, const char *what,
                                char *err, size_t errlen);

/* Adds the "api-key: ..." header, or "Authorization: Bearer ..." for a
 * key that is a JWT (when c has a key) at headers[*n], which
 * must have room for it, and counts it.  Returns what the caller releases
 * with qdrant_free_key() once the request is done (NULL without a key). */
char *qdrant_add_key(const struct qdrant_client *c, const char **headers, size_t *n);
/* Wipes the header (it holds the secret) and frees it; NULL is a no-op. */
void qdrant_free_key(char *header);

/* Escapes one path segment; caller frees. */
char *qdrant_esc(const char *s);

/* QB_ERR_INVALID unless s (kind: "collection", "snapshot") can be one
 * path segment: NULL, "", "." and ".." cannot, since URL parsers (libcurl
 * included) drop dot segments, so DELETE .../snapshots/.. would delete the
 * collection itself. */
enum qb_err qdrant_check_segment(const char *kind, const char *s, char *err,
                                 size_t errlen) QB_MUSTCHECK;

/* "/snapshots", "/collections/{c}/snapshots" or
 * "/collections/{c}/shards/{id}/snapshots"; caller frees. */
char *qdrant_snapshots_path(const struct qdrant_target *t);

#endif /* QB_QDRANT_INTERNAL_H */
