/* SPDX-License-Identifier: Apache-2.0
 *
 * http_client.h -- a small wrapper over one libcurl easy handle, shared by
 * the S3 and Qdrant clients.  Owns the handle (and so its connection and
 * DNS cache), the timeouts and TLS policy, response capture with a hard
 * cap, and the mapping of failures onto enum qb_err: QB_ERR_TRANSIENT for
 * what is worth retrying (refused/reset connections, timeouts, 5xx),
 * something permanent for the rest.
 *
 * THREADS: a struct http_client belongs to one thread at a time (libcurl
 * easy handles must not be shared).  curl_global_init() must have run
 * before the first http_client_create(); http_client_global_init() does it
 * and must be called before any thread starts.
 *
 * SECRETS: error messages name the method and the URL without its query
 * string (which may carry a presigned signature or token); request
 * headers, including Authorization, never appear in them.
 */
#ifndef QB_HTTP_CLIENT_H
#define QB_HTTP_CLIENT_H

#include "common.h"

#include <stdint.h>

struct http_client;

struct http_client_options {
    long connect_timeout_ms; /* TCP+TLS connect; 0 = 10 s */
    /* A transfer slower than low_speed_bytes per second for low_speed_time_s
     * seconds is aborted as a (transient) timeout: a stalled connection is
     * caught without capping how long a large, healthy upload may take. */
    long low_speed_time_s; /* 0 = 30 s */
    long low_speed_bytes;  /* 0 = 1 byte/s */
    long total_timeout_ms; /* whole request; 0 = none */
    bool insecure;         /* disable TLS peer and host verification (tests only) */
    const char *ca_file;   /* PEM bundle to verify against; NULL = system store */
    const char *user_agent;
};

/* Called with each chunk of a 2xx response body; the response's headers
 * are already in the http_client_response being filled, so the first call
 * may check them.  Return QB_OK to go on;
 * anything else aborts the transfer and becomes http_client_perform()'s
 * result, with the message written into err. */
typedef enum qb_err (*http_write_fn)(void *ud, const void *data, size_t len, char *err,
                                     size_t errlen);
/* Fills buf with up to cap bytes of request body; sets *n (0 only at the
 * end of the body).  Anything but QB_OK aborts the transfer. */
typedef enum qb_err (*http_read_fn)(void *ud, void *buf, size_t cap, size_t *n, char *err,
                                    size_t errlen);

struct http_client_request {
    const char *method; /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *url;
    const char *const *headers; /* "Name: value" lines; borrowed */
    size_t n_headers;
    /* Request body, either from memory ... */
    const void *body;
    size_t body_len;
    /* ... or from a callback that yields exactly read_len bytes. */
    http_read_fn read_fn;
    void *read_ud;
    uint64_t read_len;
    /* Response body: a 2xx body goes to write_fn when set, otherwise into
     * http_response.body; a non-2xx body is always captured so that the
     * caller can parse an error document.  Capture stops with an error
     * past max_body bytes (0 = 1 MiB). */
    http_write_fn write_fn;
    void *write_ud;
    size_t max_body;
};

struct http_client_header {
    char *name; /* as received */
    char *value;
};

/* Filled by http_client_perform(); owned by the caller, who releases it
 * with http_client_response_free().  Zero-initialise before the first use. */
struct http_client_response {
    long status;                        /* HTTP status, 0 if no response arrived */
    char *body;                         /* captured body, NUL-terminated (may be NULL) */
    size_t body_len;                    /* bytes in body */
    uint64_t body_seen;                 /* body bytes received, streamed or captured */
    struct http_client_header *headers; /* of the final response */
    size_t n_headers;
};

/* Initialises libcurl process-wide.  Call once from main() before any
 * thread exists.  Returns QB_ERR_INTERNAL if libcurl cannot start. */
enum qb_err http_client_global_init(char *err, size_t errlen) QB_MUSTCHECK;

/* Creates a client.  opt may be NULL for defaults; its strings are copied.
 * [out] *out: caller destroys with http_client_destroy().
 * Returns QB_OK, or QB_ERR_INTERNAL when libcurl cannot make a handle. */
enum qb_err http_client_create(const struct http_client_options *opt, struct http_client **out,
                               char *err, size_t errlen) QB_MUSTCHECK;

/* Frees the client and closes its connections.  NULL is a no-op. */
void http_client_destroy(struct http_client *c);

/* Performs req and fills resp (previous contents are freed first).
 * Returns QB_OK whenever an HTTP response arrived, whatever its status:
 * use http_client_status_err() or the caller's own error document parsing.
 * Otherwise QB_ERR_TRANSIENT (connect failure, reset, timeout, truncated
 * reply), QB_ERR_INVALID (bad URL or request), QB_ERR_REMOTE (TLS failure,
 * response over max_body, other permanent failures), or whatever a
 * callback returned.  The calling thread must own c. */
enum qb_err http_client_perform(struct http_client *c, const struct http_client_request *req,
                                struct http_client_response *resp, char *err,
                                size_t errlen) QB_MUSTCHECK;

/* Maps a status onto the error convention: 2xx QB_OK, 404 QB_ERR_NOT_FOUND,
 * QB_ERR_TRANSIENT when retry_status_retryable() (408/429/500/502/503/504),
 * 409/412 QB_ERR_CONFLICT, any other QB_ERR_REMOTE.  The client itself never
 * retries: the layer above applies util/retry.h once. */
enum qb_err http_client_status_err(long status);

/* Value of the first response header called name (case-insensitive), or
 * NULL.  Borrowed from resp until http_client_response_free(). */
const char *http_client_response_header(const struct http_client_response *resp, const char *name);

/* An owned list of name/value pairs (a response's headers, or what a caller
 * keeps of them, like S3 user metadata):
 * http_headers_find() gives the value of the first pair called name
 * (case-insensitive) or NULL, borrowed from h;
 * http_headers_free() frees every name and value, then h.  NULL is a no-op. */
const char *http_headers_find(const struct http_client_header *h, size_t n, const char *name);
void http_headers_free(struct http_client_header *h, size_t n);

/* Frees what resp owns and zeroes it.  NULL is a no-op. */
void http_client_response_free(struct http_client_response *resp);

/* Copies url into out without its query string or userinfo, for messages. */
void http_client_redact_url(const char *url, char *out, size_t outlen);

#endif /* QB_HTTP_CLIENT_H */
