/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_internal.h -- what s3_client.c shares with s3_upload.c (the multipart
 * writer) and s3_download.c (the ranged reader): the client struct, the request description and the
 * signed-call helper.  Not for use outside src/remote/s3_*.c.
 */
#ifndef QB_S3_INTERNAL_H
#define QB_S3_INTERNAL_H

#include "common.h"
#include "http_client.h"
#include "s3_client.h"
#include "remote/s3_xml.h"
#include "sigv4.h"
#include "util/buf.h"
#include "util/retry.h"

#include <stdatomic.h>

#define XML_MAX_BODY (16u * 1024 * 1024) /* a 1000-key listing is ~0.5 MB */

struct s3_client {
    char *scheme, *host; /* "http", "127.0.0.1:7480" */
    char *bucket, *region;
    char *access_key, *secret_key, *session_token;
    bool path_style, unsigned_payload;
    enum s3_sse sse;
    char *kms_key_id, *storage_class;
    uint64_t part_size;
    unsigned parts_in_flight;
    uint64_t download_part_size;         /* s3_download's range size */
    unsigned download_parts_in_flight;   /* s3_download's workers */
    struct retry_policy retry;           /* resolved: no zero field */
    struct http_client_options http_opt; /* ca_file points into ca_file below */
    char *ca_file;
    struct http_client *hc; /* for the owning thread */
};

/* A list of signed request headers that owns its strings. */
struct hlist {
    struct sigv4_header v[24];
    char *own[48];
    size_t n, nown;
};

/* Adds a header (both strings copied). */
void s3_hl_add(struct hlist *l, const char *name, const char *value);
void s3_hl_free(struct hlist *l);

struct s3_req {
    const char *method;
    const char *key;   /* NULL: the bucket itself */
    const char *query; /* wire form, already encoded; NULL for none */
    const struct sigv4_header *hdrs;
    size_t n_hdrs;
    const void *body;
    size_t body_len;
    const char *payload_hash; /* NULL: computed from body (or unsigned) */
    http_write_fn write_fn;
    void *write_ud;
    size_t max_body;
    const atomic_bool *cancel; /* stop retrying once set; may be NULL */
};

/* Signs and sends r on hc, retrying transient failures under c->retry
 * (util/retry.h: spent tries come back as QB_ERR_REMOTE); a non-2xx
 * answer becomes an error carrying the S3 Code.  resp is the
 * caller's (free with http_client_response_free).  The thread must own hc. */
enum qb_err s3_call(struct s3_client *c, struct http_client *hc, const struct s3_req *r,
                    struct http_client_response *resp, char *err, size_t errlen) QB_MUSTCHECK;
/* The error an S3 error Code stands for (status: the HTTP status it came
 * with): QB_ERR_TRANSIENT for those that deserve another attempt,
 * QB_ERR_NOT_FOUND for "no such thing", else what the HTTP status means. */
enum qb_err s3_map_code(const char *code, long status);
/* Error for an answer whose body is an S3 <Error> document. */
enum qb_err s3_fail(const struct s3_req *r, const struct http_client_response *resp, char *err,
                    size_t errlen);

/* Base64 of the MD5 of data (Content-MD5) into out[32]. */
void s3_md5_base64(const void *data, size_t len, char out[32]);
uint64_t s3_clamp_part(uint64_t v);

/* Content-Type, x-amz-meta-*, SSE and storage-class headers from opt and
 * the configuration, added to h. */
void s3_object_headers(const struct s3_client *c, const struct s3_put_options *opt,
                       struct hlist *h);
/* True when h carries an Object Lock retention (x-amz-object-lock-mode). */
bool s3_headers_locked(const struct hlist *h);
/* PUT data with the object headers objh and x-amz-meta-sha256 = sha.
 * [out] etag (may be NULL): the ETag S3 answered, quotes included, "" if
 * none or too long for etaglen. */
enum qb_err s3_put_with_sha(struct s3_client *c, const char *key, const void *data, size_t len,
                            const char *sha, const struct hlist *objh, char *etag, size_t etaglen,
                            char *err, size_t errlen) QB_MUSTCHECK;
/* The multipart upload protocol's two ends, shared by the streaming writer
 * (s3_upload.c) and the server-side copy (s3_copy.c).
 * s3_initiate_multipart: POST ?uploads with the object headers h; [out]
 * upload_id, caller frees (NULL on failure).
 * s3_complete_multipart: POST ?uploadId= with the document listing the part
 * ETags etags[0..nparts) in order; an <Error> document in a 200 answer is a
 * failure.  resp is the caller's (free with http_client_response_free),
 * kept for the ETag of the completed object. */
enum qb_err s3_initiate_multipart(struct s3_client *c, const char *key, const struct hlist *h,
                                  char **upload_id, char *err, size_t errlen) QB_MUSTCHECK;
enum qb_err s3_complete_multipart(struct s3_client *c, const char *key, const char *upload_id,
                                  const char *const *etags, unsigned nparts,
                                  struct http_client_response *resp, char *err,
                                  size_t errlen) QB_MUSTCHECK;
/* The ETag S3 gives an object completed from parts whose ETags are
 * etags[0..nparts): hex MD5 of the concatenated binary part MD5s, "-",
 * nparts.  False when a part ETag is not an MD5 (SSE-KMS, SSE-C). */
bool s3_multipart_etag(const char *const *etags, unsigned nparts, char *out, size_t outlen);

#endif /* QB_S3_INTERNAL_H */
