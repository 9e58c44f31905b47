/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_env.c -- the tests' direct view of the real S3 server (s3_env.h).
 */
#include "s3_env.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int s3_env_load(struct s3_env *env)
{
    env->endpoint = getenv("S3_ENDPOINT");
    env->access_key = getenv("AWS_ACCESS_KEY_ID");
    env->secret_key = getenv("AWS_SECRET_ACCESS_KEY");
    env->bucket = getenv("QB_S3_BUCKET");
    env->region = getenv("AWS_DEFAULT_REGION") ? getenv("AWS_DEFAULT_REGION") : "us-east-1";
    if (env->endpoint && env->access_key && env->secret_key && env->bucket)
        return 0;
    const char *req = getenv("QB_REQUIRE_S3");
    fprintf(stderr, "S3 environment missing (S3_ENDPOINT, AWS_*, QB_S3_BUCKET)\n");
    return req && strcmp(req, "1") == 0 ? 1 : 77;
}

struct s3_client *s3_env_client(const struct s3_env *env)
{
    struct s3_config cfg = {.endpoint = env->endpoint,
                            .region = env->region,
                            .bucket = env->bucket,
                            .access_key = env->access_key,
                            .secret_key = env->secret_key,
                            .path_style = true};
    struct s3_client *c = NULL;
    char err[QB_ERRBUF_SIZE];
    if (s3_client_create(&cfg, &c, err, sizeof err))
        fprintf(stderr, "s3_client_create: %s\n", err);
    return c;
}

int s3_env_create_bucket(const struct s3_env *env)
{
    struct s3_client *c = s3_env_client(env);
    char err[QB_ERRBUF_SIZE] = "";
    int rc = 0;
    if (!c || s3_create_bucket(c, err, sizeof err)) {
        fprintf(stderr, "bucket: %s\n", err);
        rc = -1;
    }
    s3_client_destroy(c);
    return rc;
}

enum qb_err s3_env_storage(const struct s3_env *env, const char *prefix, struct storage **out,
                           char *err, size_t errlen)
{
    cJSON *settings = cJSON_CreateObject(), *secret = cJSON_CreateObject();
    cJSON_AddStringToObject(settings, "bucket", env->bucket);
    cJSON_AddStringToObject(settings, "prefix", prefix);
    cJSON_AddStringToObject(settings, "endpoint", env->endpoint);
    cJSON_AddStringToObject(settings, "region", env->region);
    cJSON_AddBoolToObject(settings, "path_style", true);
    cJSON_AddStringToObject(secret, "access_key", env->access_key);
    cJSON_AddStringToObject(secret, "secret_key", env->secret_key);
    enum qb_err rc = storage_open_json("s3", settings, secret, false, out, err, errlen);
    cJSON_Delete(settings);
    cJSON_Delete(secret);
    return rc;
}

static enum qb_err count_upload(void *ud, const char *key, const char *id)
{
    fprintf(stderr, "multipart upload in progress: %s (%s)\n", key, id);
    (*(int *)ud)++;
    return QB_OK;
}

int s3_env_uploads(const struct s3_env *env, const char *prefix)
{
    struct s3_client *c = s3_env_client(env);
    char err[QB_ERRBUF_SIZE];
    int n = 0;
    if (!c || s3_list_multipart_uploads(c, prefix, count_upload, &n, err, sizeof err))
        n = -1;
    s3_client_destroy(c);
    return n;
}

void s3_env_destination_body(const struct s3_env *env, const char *name, const char *prefix,
                             const char *endpoint, char *body, size_t size)
{
    snprintf(body, size,
             "{\"name\":\"%s\",\"kind\":\"s3\",\"settings\":{\"bucket\":\"%s\",\"prefix\":\"%s\","
             "\"endpoint\":\"%s\",\"region\":\"%s\",\"path_style\":true,"
             "\"part_size\":5242880},"
             "\"credentials\":{\"access_key\":\"%s\",\"secret_key\":\"%s\"}}",
             name, env->bucket, prefix, endpoint, env->region, env->access_key, env->secret_key);
}

static enum qb_err count_object(void *ud, const struct s3_list_entry *ent)
{
    (void)ent;
    (*(int *)ud)++;
    return QB_OK;
}

int s3_env_objects(const struct s3_env *env, const char *prefix)
{
    struct s3_client *c = s3_env_client(env);
    char err[QB_ERRBUF_SIZE];
    int n = 0;
    if (!c || s3_list_objects(c, prefix, 0, count_object, &n, err, sizeof err)) {
        if (c)
            fprintf(stderr, "listing %s: %s\n", prefix, err);
        n = -1;
    }
    s3_client_destroy(c);
    return n;
}
