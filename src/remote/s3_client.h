/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_client.h -- the S3 API qbackup needs, over http_client and our own
 * SigV4 signer (sigv4.h): single PUT, a streaming multipart writer with
 * parallel part uploads, streamed ranged GET, HEAD, ListObjectsV2, single
 * and batch delete, presigned GET URLs, and bucket creation (for tests).
 * Owns the S3 configuration, request signing, the one retry layer of every
 * S3 request (util/retry.h), and the mapping of S3 error documents onto
 * enum qb_err.
 *
 * Errors: QB_ERR_NOT_FOUND (NoSuchKey, NoSuchUpload, 404 on HEAD),
 * QB_ERR_TRANSIENT (5xx, SlowDown, RequestTimeout, connection failures)
 * only when the retries were cut short (an upload cancelled, a streamed
 * GET's sink failing), QB_ERR_REMOTE (AccessDenied, NoSuchBucket,
 * SignatureDoesNotMatch and every other refusal, and a transient failure
 * that outlived the retries: the message ends "(gave up after N tries)"),
 * QB_ERR_INVALID (bad configuration or arguments).  Messages carry the S3 error Code and the
 * request id, never a credential.
 *
 * THREADS: a struct s3_client is used by one thread at a time (it holds one
 * libcurl handle).  A multipart upload additionally runs parts_in_flight
 * worker threads, each with its own handle.  http_client_global_init()
 * must have run before any client is created.
 */
#ifndef QB_S3_CLIENT_H
#define QB_S3_CLIENT_H

#include "common.h"
#include "util/retry.h"

#include <stdint.h>

#define S3_MIN_PART_SIZE     (5ull * 1024 * 1024)        /* S3 minimum, except the last */
#define S3_MAX_PART_SIZE     (5ull * 1024 * 1024 * 1024) /* S3 maximum part size */
#define S3_MAX_PARTS         10000
#define S3_DEFAULT_PART_SIZE (32ull * 1024 * 1024)
/* Ranged reads (s3_download): the default range size and the smallest the
 * client accepts (smaller ones only multiply requests). */
#define S3_DEFAULT_DOWNLOAD_PART_SIZE (16ull * 1024 * 1024)
#define S3_MIN_DOWNLOAD_PART_SIZE     (64ull * 1024)
#define S3_DEFAULT_DOWNLOAD_PARTS     4

enum s3_sse {
    S3_SSE_NONE = 0,
    S3_SSE_AES256, /* x-amz-server-side-encryption: AES256 (SSE-S3) */
    S3_SSE_KMS,    /* aws:kms with sse_kms_key_id (or the bucket's default key) */
};

/* Configuration; strings are copied by s3_client_create().  NULL or 0
 * fields take the documented default. */
struct s3_config {
    const char *endpoint; /* "http://127.0.0.1:7480"; NULL: $AWS_ENDPOINT_URL_S3,
                             $AWS_ENDPOINT_URL, else https://s3.<region>.amazonaws.com */
    const char *region;   /* NULL: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1 */
    const char *bucket;   /* required */
    /* NULL access_key: all three come from AWS_ACCESS_KEY_ID,
     * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. */
    const char *access_key;
    const char *secret_key;
    const char *session_token;
    bool path_style; /* http://host/bucket/key, else http://bucket.host/key */
    bool insecure;   /* skip TLS verification (tests only) */
    const char *ca_file;
    enum s3_sse sse;
    const char *sse_kms_key_id;
    const char *storage_class; /* "STANDARD_IA", ...; NULL: the bucket's default */
    uint64_t part_size;        /* 0: 32 MiB; clamped to [5 MiB, 5 GiB] */
    unsigned parts_in_flight;  /* 0: 4 parts uploading at once; memory used is
                                  part_size * (parts_in_flight + 1) */
    /* s3_download: range size, 0: 16 MiB, clamped to [64 KiB, 5 GiB]; and
     * ranges fetched at once, 0: 4, at most 64.  Memory used is
     * download_part_size * (download_parts_in_flight + 1). */
    uint64_t download_part_size;
    unsigned download_parts_in_flight;
    bool unsigned_payload;     /* sign UNSIGNED-PAYLOAD (and send Content-MD5 on parts)
                                  instead of hashing each body */
    struct retry_policy retry; /* zero fields: retry_policy_default() */
    long connect_timeout_ms;   /* 0: 10 s */
    long low_speed_time_s;     /* abort a stalled transfer after this; 0: 30 s */
};

struct s3_client;
struct http_client_header; /* remote/http_client.h */

/* User metadata, sent as x-amz-meta-<name>: <value>. */
struct s3_meta {
    const char *name;
    const char *value;
};

struct s3_put_options {
    const char *content_type; /* NULL: application/octet-stream */
    const struct s3_meta *meta;
    size_t n_meta;
    /* Multipart writer only: the expected object size, when known.  The
     * part size is raised so that it fits in 10,000 parts.  0: unknown, and
     * the part size then doubles every 1,000 parts (see docs). */
    uint64_t size_hint;
    /* Multipart writer only: also store "<key>.sha256" holding
     * "<hex>  <basename>\n" (sha256sum format), see docs/internals/s3.md. */
    bool sha256_sidecar;
    /* S3 Object Lock: lock_mode "GOVERNANCE" or "COMPLIANCE" and
     * lock_until, the retain-until date (ISO 8601 UTC), both or neither.
     * The bucket must have Object Lock enabled.  A locked PUT or part also
     * carries Content-MD5 (AWS requires it; RGW accepts either).  The
     * multipart writer's sidecar gets the same lock, and its object gets
     * it again with PutObjectRetention after completing: Ceph RGW 16
     * ignores these headers on CreateMultipartUpload. */
    const char *lock_mode;
    const char *lock_until;
};

/* Creates a client.  [out] *out: destroy with s3_client_destroy().
 * Returns QB_ERR_INVALID for a missing bucket/credentials or a bad
 * endpoint, QB_ERR_INTERNAL if libcurl cannot start. */
enum qb_err s3_client_create(const struct s3_config *cfg, struct s3_client **out, char *err,
                             size_t errlen) QB_MUSTCHECK;
void s3_client_destroy(struct s3_client *c); /* NULL is a no-op */

/* The effective part size and parallelism after defaults and clamping. */
uint64_t s3_client_part_size(const struct s3_client *c);

/* Creates the configured bucket; succeeds if we own it already. */
enum qb_err s3_create_bucket(struct s3_client *c, char *err, size_t errlen) QB_MUSTCHECK;
/* The same, with Object Lock enabled (x-amz-bucket-object-lock-enabled,
 * which also turns versioning on); for tests.  An existing bucket is left
 * as it is. */
enum qb_err s3_create_bucket_locked(struct s3_client *c, char *err, size_t errlen) QB_MUSTCHECK;

/* The bucket's Object Lock configuration (GET /?object-lock). */
struct s3_object_lock {
    bool enabled;  /* ObjectLockEnabled=Enabled */
    char mode[16]; /* default retention "GOVERNANCE"/"COMPLIANCE", "" when none */
    int days;      /* default retention in days, 0 when none (or given in years) */
    int years;     /* ... in years, 0 when none */
};
/* A bucket without Object Lock is enabled=false and QB_OK (S3 answers
 * ObjectLockConfigurationNotFoundError); any other refusal is an error. */
enum qb_err s3_get_object_lock(struct s3_client *c, struct s3_object_lock *out, char *err,
                               size_t errlen) QB_MUSTCHECK;

/* Stores data[0..len) as key with one PUT (len up to 5 GiB).  Sets
 * x-amz-meta-sha256 to the body's SHA-256.  opt may be NULL. */
enum qb_err s3_put_object(struct s3_client *c, const char *key, const void *data, size_t len,
                          const struct s3_put_options *opt, char *err, size_t errlen) QB_MUSTCHECK;

/* Receives the object's bytes in order; anything but QB_OK stops the GET
 * and is returned by s3_get_object(). */
typedef enum qb_err (*s3_write_fn)(void *ud, const void *data, size_t len, char *err,
                                   size_t errlen);

/* Streams key (or the range [offset, offset+length), length 0 = to the
 * end) to fn.  A transient failure after some bytes were delivered resumes
 * from the next byte (If-Match on the ETag guards against a replaced
 * object), so fn sees every byte exactly once. */
enum qb_err s3_get_object(struct s3_client *c, const char *key, uint64_t offset, uint64_t length,
                          s3_write_fn fn, void *ud, char *err, size_t errlen) QB_MUSTCHECK;

/* Streams key (or the range [offset, offset+length), length 0 = to the
 * end; a range past the end is clipped to it) to fn in order, like
 * s3_get_object, with parallel ranged GETs: the first GET (on this thread,
 * straight to fn) asks for two download parts; if more is wanted, up to
 * download_parts_in_flight worker threads, each with its own connection,
 * fetch the rest part by part into buffers that fn then gets in order, so
 * memory stays download_part_size * (download_parts_in_flight + 1).  Every
 * range carries If-Match on the first answer's ETag: a replaced object
 * fails with QB_ERR_CONFLICT "the object changed while it was read".  Each
 * range is retried and resumed on its own (util/retry.h); fn's failure, or
 * any range's, stops and joins every worker before this returns.
 * Errors as s3_get_object. */
enum qb_err s3_download(struct s3_client *c, const char *key, uint64_t offset, uint64_t length,
                        s3_write_fn fn, void *ud, char *err, size_t errlen) QB_MUSTCHECK;

/* HEAD result.  Owned by the caller: release with s3_object_info_free(). */
struct s3_object_info {
    uint64_t size;
    char *etag;          /* with the quotes S3 sends, e.g. "\"9b2c...-3\"" */
    char *last_modified; /* as sent (RFC 1123 date) */
    char *content_type;
    /* x-amz-meta-* (names lower-case, without prefix); read it with
     * s3_object_info_meta() */
    struct http_client_header *meta;
    size_t n_meta;
    char *version_id; /* x-amz-version-id, NULL on an unversioned bucket */
    char *lock_mode;  /* x-amz-object-lock-mode, NULL when not locked */
    char *lock_until; /* x-amz-object-lock-retain-until-date as sent, or NULL */
};
enum qb_err s3_head_object(struct s3_client *c, const char *key, struct s3_object_info *out,
                           char *err, size_t errlen) QB_MUSTCHECK;
void s3_object_info_free(struct s3_object_info *info);
/* The value of user metadata name, or NULL; borrowed from info. */
const char *s3_object_info_meta(const struct s3_object_info *info, const char *name);

/* One listed object; every pointer is borrowed for the callback only. */
struct s3_list_entry {
    const char *key;
    uint64_t size;
    const char *etag;
    const char *last_modified; /* ISO 8601 */
};
typedef enum qb_err (*s3_list_fn)(void *ud, const struct s3_list_entry *e);

/* Lists every object under prefix (NULL = all), following continuation
 * tokens, page_size keys per request (0 = 1000).  fn returning non-QB_OK
 * stops the listing with that result. */
enum qb_err s3_list_objects(struct s3_client *c, const char *prefix, unsigned page_size,
                            s3_list_fn fn, void *ud, char *err, size_t errlen) QB_MUSTCHECK;

/* Deletes key.  Deleting a missing key succeeds (S3 semantics). */
enum qb_err s3_delete_object(struct s3_client *c, const char *key, char *err,
                             size_t errlen) QB_MUSTCHECK;

/* Sets key's Object Lock retention (PutObjectRetention, PUT ?retention):
 * mode "GOVERNANCE"/"COMPLIANCE" until `until` (ISO 8601 UTC).  S3 only
 * lengthens a lock; it refuses to shorten one (AccessDenied). */
enum qb_err s3_put_object_retention(struct s3_client *c, const char *key, const char *mode,
                                    const char *until, char *err, size_t errlen) QB_MUSTCHECK;

/* Deletes every version of key (and its delete markers), one DELETE
 * ?versionId= each, after ListObjectVersions: on a versioned bucket (every
 * Object Lock bucket) a plain DELETE only hides the object behind a delete
 * marker.  A version still under Object Lock is refused by S3
 * (QB_ERR_REMOTE, "AccessDenied", not retried); the versions deleted
 * before it stay deleted.  A key without versions succeeds.  Never sends
 * x-amz-bypass-governance-retention. */
enum qb_err s3_delete_versions(struct s3_client *c, const char *key, char *err,
                               size_t errlen) QB_MUSTCHECK;

/* Deletes keys[0..n) with DeleteObjects, 1000 per request.  Fails on the
 * first key S3 reports as not deleted (naming it and its Code). */
enum qb_err s3_delete_objects(struct s3_client *c, const char *const *keys, size_t n, char *err,
                              size_t errlen) QB_MUSTCHECK;

/* A presigned GET URL for key valid expires_s seconds (max 7 days).
 * [out] *url: caller frees.  Offline: sends no request. */
enum qb_err s3_presign_get(struct s3_client *c, const char *key, int64_t expires_s, char **url,
                           char *err, size_t errlen) QB_MUSTCHECK;

/* Multipart uploads in progress under prefix: fn gets key and upload id
 * (borrowed for the call).  For janitors and tests. */
typedef enum qb_err (*s3_upload_list_fn)(void *ud, const char *key, const char *upload_id);
enum qb_err s3_list_multipart_uploads(struct s3_client *c, const char *prefix, s3_upload_list_fn fn,
                                      void *ud, char *err, size_t errlen) QB_MUSTCHECK;
/* Aborts one multipart upload by id (a janitor's tool). */
enum qb_err s3_abort_multipart(struct s3_client *c, const char *key, const char *upload_id,
                               char *err, size_t errlen) QB_MUSTCHECK;

/* ---- streaming writer -------------------------------------------------- */

struct s3_upload;

struct s3_upload_result {
    uint64_t size;
    char sha256[65]; /* lower-case hex SHA-256 of the whole object */
    unsigned parts;  /* 0 when a single PUT was used */
    /* The ETag the object must have, quotes included: a single PUT's as
     * S3 answered it, a multipart object's computed from the part ETags S3
     * answered ("<md5 of part md5s>-<parts>").  S3 checked every body
     * against its signed SHA-256 (or Content-MD5) before answering, so a
     * HEAD showing this ETag and size proves the object holds the bytes
     * hashed here (s3_upload_etag_matches).  "" when the part ETags are not
     * MD5s (SSE-KMS, SSE-C): nothing can be proven that way then. */
    char etag[48];
    /* Where finish spent its time: uploading what was still buffered or in
     * flight when it was called (a single PUT: all of it), and completing
     * (CompleteMultipartUpload and the sidecar PUT). */
    int64_t drain_ms, complete_ms;
};

/* True when etag (as HEAD reports it) names the same object as want (an
 * s3_upload_result etag); quotes and hex case are ignored.  False if either
 * is empty. */
bool s3_etag_equal(const char *etag, const char *want);

/* Starts writing key.  Nothing is sent until a part's worth of data is
 * buffered: objects smaller than one part become a single PUT.
 * [out] *out: finish it with s3_upload_finish() or s3_upload_abort().
 * c must outlive the upload and not be used by another thread meanwhile. */
enum qb_err s3_upload_begin(struct s3_client *c, const char *key, const struct s3_put_options *opt,
                            struct s3_upload **out, char *err, size_t errlen) QB_MUSTCHECK;

/* Appends bytes.  Blocks while parts_in_flight parts are uploading and the
 * next one is full.  On
 * failure (a part failed after its retries) the caller must still call
 * s3_upload_abort(). */
enum qb_err s3_upload_write(struct s3_upload *u, const void *data, size_t len, char *err,
                            size_t errlen) QB_MUSTCHECK;

/* Uploads what is left and completes the object.  Always consumes u: on
 * failure the multipart upload is aborted, so nothing is left behind.
 * [out] res (may be NULL): size, SHA-256 and part count. */
enum qb_err s3_upload_finish(struct s3_upload *u, struct s3_upload_result *res, char *err,
                             size_t errlen) QB_MUSTCHECK;

/* Stops the workers, aborts the multipart upload (if one was started) and
 * frees u.  NULL is a no-op. */
void s3_upload_abort(struct s3_upload *u);

#endif /* QB_S3_CLIENT_H */
