/* SPDX-License-Identifier: Apache-2.0
 *
 * sigv4.h -- AWS Signature Version 4 (AWS4-HMAC-SHA256), as a pure
 * function of a request description: canonical request, string to sign,
 * signing key, Authorization header, and presigned (query-string) URLs.
 * It performs no I/O and keeps no state, so any thread may call it.
 *
 * Paths and queries are given as they travel on the wire.  Two encoding
 * regimes exist (see docs/internals/s3.md):
 *   - most AWS services normalise the path (remove "." and "..", collapse
 *     "//") and URI-encode it once more ("double encoding");
 *   - S3 does neither: the canonical URI is the object key's single
 *     RFC 3986 encoding.  Pass SIGV4_S3_PATH for S3.
 */
#ifndef QB_SIGV4_H
#define QB_SIGV4_H

#include "common.h"

#include <stdint.h>

/* "UNSIGNED-PAYLOAD": S3 accepts it in place of the body hash. */
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* SHA-256 of the empty string, the payload hash of a body-less request. */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define SIGV4_HEX_LEN      64 /* a SHA-256 / HMAC-SHA256 in lower-case hex */
#define SIGV4_AMZ_DATE_LEN 16 /* "20150830T123600Z" */

enum sigv4_flags {
    /* Do not remove dot segments nor collapse repeated slashes. */
    SIGV4_NO_NORMALIZE_PATH = 1u << 0,
    /* Canonical URI = decode-then-encode of the wire path, not a second
     * encoding of it (so "%20" stays "%20" instead of becoming "%2520"). */
    SIGV4_NO_DOUBLE_ENCODE = 1u << 1,
    /* The S3 rules: both of the above. */
    SIGV4_S3_PATH = SIGV4_NO_NORMALIZE_PATH | SIGV4_NO_DOUBLE_ENCODE,
    /* Header signing: add and sign x-amz-content-sha256 (S3 requires it). */
    SIGV4_CONTENT_SHA256 = 1u << 2,
    /* Leave the session token out of the signature; the caller adds the
     * X-Amz-Security-Token header / parameter after signing (some services,
     * e.g. IoT, want this). */
    SIGV4_UNSIGNED_TOKEN = 1u << 3,
};

struct sigv4_header {
    const char *name;  /* any case; surrounding blanks are ignored */
    const char *value; /* surrounding blanks trimmed, inner runs collapsed */
};

/* Who signs, for which service.  All strings are borrowed for the call. */
struct sigv4_config {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" when none */
    const char *region;        /* "us-east-1" */
    const char *service;       /* "s3" */
    unsigned flags;            /* enum sigv4_flags */
};

/* The request being signed.  All strings are borrowed for the call. */
struct sigv4_request {
    const char *method;                 /* "GET" */
    const char *path;                   /* wire path, e.g. "/bucket/a%20b"; "" means "/" */
    const char *query;                  /* wire query without '?', or NULL */
    const struct sigv4_header *headers; /* must include Host */
    size_t n_headers;
    const char *payload_hash; /* hex SHA-256 of the body, or SIGV4_UNSIGNED_PAYLOAD */
    const char *amz_date;     /* "YYYYMMDDTHHMMSSZ", see sigv4_format_amz_date */
};

/* The result of signing.  Every pointer is owned by the struct; release
 * with sigv4_result_free().  Zero-initialise before the first use. */
struct sigv4_result {
    char *canonical_request;
    char *string_to_sign;
    char *signed_headers; /* "host;x-amz-date" */
    char signature[SIGV4_HEX_LEN + 1];
    /* sigv4_sign_headers: the Authorization header value.  The caller must
     * also send X-Amz-Date (= amz_date), and, unless already among its
     * headers, x-amz-content-sha256 (with SIGV4_CONTENT_SHA256) and
     * X-Amz-Security-Token (when a token is set). */
    char *authorization;
    /* sigv4_presign: the complete query string to put after '?', with the
     * request's own parameters, the X-Amz-* ones and X-Amz-Signature. */
    char *query;
};

/* Signs req for the Authorization header.
 * [out] res: filled on success (free with sigv4_result_free); untouched-
 * but-freeable on failure.
 * Returns QB_OK, QB_ERR_INVALID (missing method, Host, date, key...) or
 * QB_ERR_INTERNAL (OpenSSL failure).  Thread-safe. */
enum qb_err sigv4_sign_headers(const struct sigv4_config *cfg, const struct sigv4_request *req,
                               struct sigv4_result *res, char *err, size_t errlen) QB_MUSTCHECK;

/* Signs req with query-string authentication (a presigned URL) valid for
 * expires_s seconds (1..604800).  Only req->headers are signed (at least
 * Host); req->payload_hash is normally SIGV4_UNSIGNED_PAYLOAD for S3.
 * [out] res->query: what goes after '?'.  Errors as sigv4_sign_headers. */
enum qb_err sigv4_presign(const struct sigv4_config *cfg, const struct sigv4_request *req,
                          int64_t expires_s, struct sigv4_result *res, char *err,
                          size_t errlen) QB_MUSTCHECK;

/* Frees what res owns and zeroes it; NULL and zeroed structs are fine. */
void sigv4_result_free(struct sigv4_result *res);

/* Formats t (seconds since the epoch, UTC) as "YYYYMMDDTHHMMSSZ" into out
 * (at least SIGV4_AMZ_DATE_LEN + 1 bytes). */
void sigv4_format_amz_date(int64_t t, char *out, size_t outlen);

/* RFC 3986 encoding with upper-case hex: every byte except A-Z a-z 0-9
 * - . _ ~ is %XX-encoded; '/' is kept when keep_slash.  Returns a new
 * string; caller frees. */
char *sigv4_uri_encode(const char *s, size_t len, bool keep_slash);

/* Lower-case hex of bytes; out must hold 2*len+1 bytes. */
void sigv4_hex(const unsigned char *bytes, size_t len, char *out);

/* Lower-case hex SHA-256 of data into out[SIGV4_HEX_LEN + 1]. */
void sigv4_sha256_hex(const void *data, size_t len, char *out);

#endif /* QB_SIGV4_H */
