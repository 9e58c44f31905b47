/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_copy.h -- server-side copies between buckets (or prefixes) of one S3
 * endpoint and account (CopyObject): the bytes never leave the server.
 * Used for second copies of snapshots (engine/copies.h) through
 * storage_copy (storage.h).
 */
#ifndef QB_S3_COPY_H
#define QB_S3_COPY_H

#include "common.h"
#include "remote/s3_client.h"

/* Largest source CopyObject takes in one request, and largest part of an
 * UploadPartCopy (S3's limits). */
#define S3_COPY_MAX (UINT64_C(5) << 30)

/* True when an object readable with src can be copied by dst in one
 * request: the same scheme, host, region and access key (the copy request
 * is signed by dst and must be allowed to read the source).  Pure. */
bool s3_copy_possible(const struct s3_client *dst, const struct s3_client *src);

/* Copies src_key of src's bucket to key in dst's bucket with dst's object
 * headers (SSE, storage class) and x-amz-meta-sha256 = sha (the object's
 * known SHA-256, 64 hex), replacing the source's metadata.  Both keys are
 * full (prefix included).  [out] etag (48 bytes): the new object's ETag,
 * quotes included, "" when the answer had none.  A 200 whose body is an
 * <Error> (S3 may fail a long copy after its header was sent) is an
 * error.  Errors: as s3_put_object. */
enum qb_err s3_copy_object(struct s3_client *dst, const struct s3_client *src, const char *src_key,
                           const char *key, const char *sha, char etag[48], char *err,
                           size_t errlen) QB_MUSTCHECK;

/* The same copy for an object of size bytes in parts of part_size bytes
 * (UploadPartCopy; at least 5 MiB and at most 5 GiB, at most 10,000
 * parts), for sources CopyObject cannot take.  Parts are copied one after
 * the other by the server; a failure aborts the upload, so nothing is left
 * under key.  [out] etag: the completed object's ETag. */
enum qb_err s3_copy_object_multipart(struct s3_client *dst, const struct s3_client *src,
                                     const char *src_key, const char *key, uint64_t size,
                                     uint64_t part_size, const char *sha, char etag[48], char *err,
                                     size_t errlen) QB_MUSTCHECK;

#endif /* QB_S3_COPY_H */
