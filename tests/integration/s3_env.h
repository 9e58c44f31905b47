/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_env.h -- the real S3 server the needs:s3 integration tests use
 * (scripts/test starts Ceph RGW and exports its environment), seen
 * directly, not through qbackupd: the environment, a client, the bucket,
 * a storage handle on a prefix, and the multipart uploads left in
 * progress.  Shared by the *_s3.c integration tests.
 */
#ifndef QB_TEST_S3_ENV_H
#define QB_TEST_S3_ENV_H

#include "common.h"
#include "remote/s3_client.h"
#include "storage/storage.h"

/* Borrowed from the process environment. */
struct s3_env {
    const char *endpoint, *access_key, *secret_key, *bucket, *region;
};

/* Reads S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * QB_S3_BUCKET and AWS_DEFAULT_REGION (default us-east-1).  0 when all are
 * set; otherwise what main should return: 77 (skipped), or 1 when
 * QB_REQUIRE_S3=1 says the server must be there. */
int s3_env_load(struct s3_env *env);

/* A path-style client on the bucket, or NULL (the reason printed).
 * Free with s3_client_destroy. */
struct s3_client *s3_env_client(const struct s3_env *env);

/* Creates the bucket (an existing one is fine); 0, or -1 printed. */
int s3_env_create_bucket(const struct s3_env *env);

/* A storage handle on <bucket>/<prefix>, opened as qbackupd opens an S3
 * destination.  Close with storage_close. */
enum qb_err s3_env_storage(const struct s3_env *env, const char *prefix, struct storage **out,
                           char *err, size_t errlen);

/* Multipart uploads in progress under prefix (each printed), -1 on
 * failure. */
int s3_env_uploads(const struct s3_env *env, const char *prefix);

/* The body of POST (or PUT) /v1/destinations for an S3 destination name
 * on <bucket>/<prefix> at endpoint (env's, or another to make it
 * unreachable), path style, 5 MiB parts, env's credentials, into
 * body[size]. */
void s3_env_destination_body(const struct s3_env *env, const char *name, const char *prefix,
                             const char *endpoint, char *body, size_t size);

/* Objects under prefix, -1 on failure (the reason printed). */
int s3_env_objects(const struct s3_env *env, const char *prefix);

#endif /* QB_TEST_S3_ENV_H */
