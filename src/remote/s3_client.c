/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_client.c -- S3 over http_client, signed by sigv4.  Owns the client
 * configuration, URL/Host construction (path-style or virtual-hosted), the
 * retry loop, S3 error documents, and the simple operations.  The streaming
 * multipart writer is in s3_upload.c, the parallel ranged reader in
 * s3_download.c, deletes and the Object Lock operations in s3_lock.c.
 *
 * DESIGN
 *   Every request goes through s3_call(): build URL and Host, sign with the
 *   current time (a retry is re-signed, so a long backoff cannot outlive
 *   the 15-minute signature window), send, map the answer, and retry
 *   QB_ERR_TRANSIENT under the client's policy (util/retry.h): this is the
 *   one retry layer of an S3 request; spent tries come back permanent.
 *   S3's XML documents are read and written by s3_xml.c.
 *
 * THREAD SAFETY NOTES
 *   struct s3_client: one thread at a time, no locks.  s3_call() may run
 *   on any thread with that thread's own http_client: it only reads the
 *   client's configuration, which is immutable after s3_client_create().
 */
#include "s3_client.h"

#include "http_client.h"
#include "s3_internal.h"
#include "sigv4.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/retry.h"
#include "util/seal.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------- small helpers */

void s3_hl_add(struct hlist *l, const char *name, const char *value)
{
    QB_ASSERT(l->n < QB_ARRAY_LEN(l->v));
    char *n = xstrdup(name), *v = xstrdup(value);
    l->own[l->nown++] = n;
    l->own[l->nown++] = v;
    l->v[l->n++] = (struct sigv4_header){n, v};
}

void s3_hl_free(struct hlist *l)
{
    for (size_t i = 0; i < l->nown; i++)
        free(l->own[i]);
    memset(l, 0, sizeof *l);
}

void s3_md5_base64(const void *data, size_t len, char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)out, md, (int)n);
}

static char *env_or(const char *v, const char *a, const char *b)
{
    if (v && *v)
        return xstrdup(v);
    const char *e = a ? getenv(a) : NULL;
    if ((!e || !*e) && b)
        e = getenv(b);
    return e && *e ? xstrdup(e) : NULL;
}

/* ----------------------------------------------------------- client set-up */

static enum qb_err parse_endpoint(struct s3_client *c, const char *ep, char *err, size_t errlen)
{
    const char *sep = strstr(ep, "://");
    if (!sep || (strncmp(ep, "http", 4) != 0) || (sep - ep != 4 && sep - ep != 5) ||
        (sep - ep == 5 && ep[4] != 's'))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "s3: endpoint must start with http:// or https://");
    const char *host = sep + 3;
    size_t hl = strcspn(host, "/?#");
    if (hl == 0 || strchr(host, '@') || (host[hl] && strcmp(host + hl, "/") != 0))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "s3: endpoint must be scheme://host[:port] without a path");
    c->scheme = xstrndup(ep, (size_t)(sep - ep));
    c->host = xstrndup(host, hl);
    for (char *p = c->host; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return QB_OK;
}

uint64_t s3_clamp_part(uint64_t v)
{
    if (v < S3_MIN_PART_SIZE)
        return S3_MIN_PART_SIZE;
    return v > S3_MAX_PART_SIZE ? S3_MAX_PART_SIZE : v;
}

void s3_client_destroy(struct s3_client *c)
{
    if (!c)
        return;
    http_client_destroy(c->hc);
    free(c->scheme);
    free(c->host);
    free(c->bucket);
    free(c->region);
    free(c->access_key);
    seal_wipe_free(c->secret_key); /* do not leave the secret in freed heap memory */
    free(c->session_token);
    free(c->kms_key_id);
    free(c->storage_class);
    free(c->ca_file);
    free(c);
}

enum qb_err s3_client_create(const struct s3_config *cfg, struct s3_client **out, char *err,
                             size_t errlen)
{
    enum qb_err rc = QB_OK;
    char *endpoint = NULL;
    struct s3_client *c = xcalloc(1, sizeof *c);
    if (!cfg->bucket || !*cfg->bucket || strchr(cfg->bucket, '/')) {
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "s3: a bucket name is required");
        goto out;
    }
    c->bucket = xstrdup(cfg->bucket);
    c->region = env_or(cfg->region, "AWS_REGION", "AWS_DEFAULT_REGION");
    if (!c->region)
        c->region = xstrdup("us-east-1");
    /* Credentials come as a set: never mix a configured key with an
     * environment secret. */
    bool from_env = !cfg->access_key || !*cfg->access_key;
    c->access_key =
        env_or(from_env ? NULL : cfg->access_key, from_env ? "AWS_ACCESS_KEY_ID" : NULL, NULL);
    c->secret_key =
        env_or(from_env ? NULL : cfg->secret_key, from_env ? "AWS_SECRET_ACCESS_KEY" : NULL, NULL);
    c->session_token =
        env_or(from_env ? NULL : cfg->session_token, from_env ? "AWS_SESSION_TOKEN" : NULL, NULL);
    if (!c->access_key || !c->secret_key) {
        rc = qb_failf(QB_ERR_INVALID, err, errlen,
                      "s3: no credentials (configure them or set AWS_ACCESS_KEY_ID and "
                      "AWS_SECRET_ACCESS_KEY)");
        goto out;
    }
    endpoint = env_or(cfg->endpoint, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
    if (!endpoint)
        endpoint = xasprintf("https://s3.%s.amazonaws.com", c->region);
    rc = parse_endpoint(c, endpoint, err, errlen);
    if (rc)
        goto out;
    c->path_style = cfg->path_style;
    c->unsigned_payload = cfg->unsigned_payload;
    c->sse = cfg->sse;
    c->kms_key_id =
        cfg->sse_kms_key_id && *cfg->sse_kms_key_id ? xstrdup(cfg->sse_kms_key_id) : NULL;
    c->storage_class =
        cfg->storage_class && *cfg->storage_class ? xstrdup(cfg->storage_class) : NULL;
    c->part_size = s3_clamp_part(cfg->part_size ? cfg->part_size : S3_DEFAULT_PART_SIZE);
    c->parts_in_flight = cfg->parts_in_flight ? cfg->parts_in_flight : 4;
    if (c->parts_in_flight > 64)
        c->parts_in_flight = 64;
    c->download_part_size =
        cfg->download_part_size ? cfg->download_part_size : S3_DEFAULT_DOWNLOAD_PART_SIZE;
    if (c->download_part_size < S3_MIN_DOWNLOAD_PART_SIZE)
        c->download_part_size = S3_MIN_DOWNLOAD_PART_SIZE;
    if (c->download_part_size > S3_MAX_PART_SIZE)
        c->download_part_size = S3_MAX_PART_SIZE;
    c->download_parts_in_flight =
        cfg->download_parts_in_flight ? cfg->download_parts_in_flight : S3_DEFAULT_DOWNLOAD_PARTS;
    if (c->download_parts_in_flight > 64)
        c->download_parts_in_flight = 64;
    c->retry = retry_policy_resolve(&cfg->retry);
    c->ca_file = cfg->ca_file ? xstrdup(cfg->ca_file) : NULL;
    c->http_opt = (struct http_client_options){
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .low_speed_time_s = cfg->low_speed_time_s,
        .insecure = cfg->insecure,
        .ca_file = c->ca_file,
        .user_agent = "qbackup-s3",
    };
    rc = http_client_create(&c->http_opt, &c->hc, err, errlen);
out:
    free(endpoint);
    if (rc) {
        s3_client_destroy(c);
        return rc;
    }
    *out = c;
    return QB_OK;
}

uint64_t s3_client_part_size(const struct s3_client *c)
{
    return c->part_size;
}

/* --------------------------------------------------------------- requests */

/* Builds "scheme://host/path" and the Host header value for r. */
static void s3_target(const struct s3_client *c, const char *key, char **host, char **path)
{
    char *ekey = key ? sigv4_uri_encode(key, strlen(key), true) : NULL;
    if (c->path_style) {
        *host = xstrdup(c->host);
        *path = key ? xasprintf("/%s/%s", c->bucket, ekey) : xasprintf("/%s", c->bucket);
    } else {
        *host = xasprintf("%s.%s", c->bucket, c->host);
        *path = xasprintf("/%s", key ? ekey : "");
    }
    free(ekey);
}

enum qb_err s3_map_code(const char *code, long status)
{
    static const char *const transient[] = {
        "SlowDown",         "RequestTimeout",       "InternalError", "ServiceUnavailable",
        "OperationAborted", "RequestTimeTooSkewed", "Throttling",    "ThrottlingException"};
    static const char *const missing[] = {"NoSuchKey", "NoSuchUpload", "NoSuchVersion"};
    if (code) {
        for (size_t i = 0; i < QB_ARRAY_LEN(transient); i++)
            if (strcmp(code, transient[i]) == 0)
                return QB_ERR_TRANSIENT;
        for (size_t i = 0; i < QB_ARRAY_LEN(missing); i++)
            if (strcmp(code, missing[i]) == 0)
                return QB_ERR_NOT_FOUND;
        if (strcmp(code, "NoSuchBucket") == 0) /* a configuration error, not a missing object */
            return QB_ERR_REMOTE;
    }
    return http_client_status_err(status);
}

/* Turns a non-2xx answer (or a 200 carrying <Error>) into rc + message. */
enum qb_err s3_fail(const struct s3_req *r, const struct http_client_response *resp, char *err,
                    size_t errlen)
{
    struct s3_xml_error e;
    s3_xml_error_parse(resp->body, resp->body_len, &e);
    const char *code = e.code, *msg = e.message;
    const char *rid = http_client_response_header(resp, "x-amz-request-id");
    enum qb_err rc = s3_map_code(code, resp->status);
    if (rc == QB_OK) /* a 200 whose body is an <Error> (CompleteMultipartUpload) */
        rc = QB_ERR_TRANSIENT;
    const char *fallback = resp->status == 404 ? "not found" : "no error document";
    /* RGW sends an empty <Message>: the Code alone must be readable. */
    qb_failf(rc, err, errlen, "S3 %s %s: HTTP %ld %s%s%s%s%s", r->method,
             r->key ? r->key : "(bucket)", resp->status, code ? code : fallback,
             msg && *msg ? ": " : "", msg && *msg ? msg : "", rid ? " request-id=" : "",
             rid ? rid : "");
    s3_xml_error_free(&e);
    return rc;
}

/* One attempt: sign with the current time and send. */
static enum qb_err s3_send(struct s3_client *c, struct http_client *hc, const struct s3_req *r,
                           struct http_client_response *resp, char *err, size_t errlen)
{
    char *host = NULL, *path = NULL, *url = NULL;
    char date[SIGV4_AMZ_DATE_LEN + 1], hash[SIGV4_HEX_LEN + 1];
    const char *lines[40];
    char *own[40];
    size_t nl = 0, nown = 0;
    struct sigv4_result sig = {0};
    struct sigv4_header sh[32];
    enum qb_err rc;

    s3_target(c, r->key, &host, &path);
    url = xasprintf("%s://%s%s%s%s", c->scheme, host, path, r->query ? "?" : "",
                    r->query ? r->query : "");
    sigv4_format_amz_date(qb_now_ms() / 1000, date, sizeof date);
    if (r->payload_hash)
        qb_strlcpy(hash, r->payload_hash, sizeof hash);
    else if (c->unsigned_payload)
        qb_strlcpy(hash, SIGV4_UNSIGNED_PAYLOAD, sizeof hash);
    else
        sigv4_sha256_hex(r->body ? r->body : "", r->body_len, hash);

    QB_ASSERT(r->n_hdrs + 1 <= QB_ARRAY_LEN(sh));
    sh[0] = (struct sigv4_header){"Host", host};
    for (size_t i = 0; i < r->n_hdrs; i++)
        sh[i + 1] = r->hdrs[i];
    struct sigv4_config sc = {c->access_key, c->secret_key, c->session_token,
                              c->region,     "s3",          SIGV4_S3_PATH | SIGV4_CONTENT_SHA256};
    struct sigv4_request sr = {r->method, path, r->query, sh, r->n_hdrs + 1, hash, date};
    rc = sigv4_sign_headers(&sc, &sr, &sig, err, errlen);
    if (rc)
        goto out;

    own[nown++] = xasprintf("Host: %s", host);
    own[nown++] = xasprintf("x-amz-date: %s", date);
    own[nown++] = xasprintf("x-amz-content-sha256: %s", hash);
    if (c->session_token)
        own[nown++] = xasprintf("x-amz-security-token: %s", c->session_token);
    own[nown++] = xasprintf("Authorization: %s", sig.authorization);
    for (size_t i = 0; i < r->n_hdrs; i++)
        own[nown++] = xasprintf("%s: %s", r->hdrs[i].name, r->hdrs[i].value);
    for (size_t i = 0; i < nown; i++)
        lines[nl++] = own[i];

    struct http_client_request hr = {
        .method = r->method,
        .url = url,
        .headers = lines,
        .n_headers = nl,
        .body = r->body,
        .body_len = r->body_len,
        .write_fn = r->write_fn,
        .write_ud = r->write_ud,
        .max_body = r->max_body ? r->max_body : XML_MAX_BODY,
    };
    rc = http_client_perform(hc, &hr, resp, err, errlen);
    if (!rc && (resp->status < 200 || resp->status >= 300))
        rc = s3_fail(r, resp, err, errlen);
out:
    for (size_t i = 0; i < nown; i++)
        free(own[i]);
    sigv4_result_free(&sig);
    free(host);
    free(path);
    free(url);
    return rc;
}

/* s3_send under the client's retry policy (not for streamed GETs, whose
 * partial output s3_get_object resumes itself). */
enum qb_err s3_call(struct s3_client *c, struct http_client *hc, const struct s3_req *r,
                    struct http_client_response *resp, char *err, size_t errlen)
{
    if (r->write_fn)
        return s3_send(c, hc, r, resp, err, errlen);
    struct retry rt;
    enum qb_err rc;
    retry_start(&rt, &c->retry);
    do
        rc = s3_send(c, hc, r, resp, err, errlen);
    while (retry_wait(&rt, rc, r->cancel, "s3.retry", err));
    return retry_give_up(&rt, rc, err, errlen);
}

/* --------------------------------------------------------- simple operations */

static enum qb_err create_bucket(struct s3_client *c, bool object_lock, char *err, size_t errlen)
{
    struct http_client_response resp = {0};
    struct hlist h = {0};
    if (object_lock)
        s3_hl_add(&h, "x-amz-bucket-object-lock-enabled", "true");
    char *body = NULL;
    /* us-east-1 is the default location and refuses an explicit constraint. */
    if (strcmp(c->region, "us-east-1") != 0)
        body = xasprintf("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
                         "2006-03-01/\"><LocationConstraint>%s</LocationConstraint>"
                         "</CreateBucketConfiguration>",
                         c->region);
    struct s3_req r = {.method = "PUT",
                       .hdrs = h.v,
                       .n_hdrs = h.n,
                       .body = body,
                       .body_len = body ? strlen(body) : 0};
    enum qb_err rc = s3_call(c, c->hc, &r, &resp, err, errlen);
    if (rc == QB_ERR_CONFLICT && resp.body && strstr(resp.body, "BucketAlreadyOwnedByYou"))
        rc = QB_OK;
    http_client_response_free(&resp);
    s3_hl_free(&h);
    free(body);
    return rc;
}

enum qb_err s3_create_bucket(struct s3_client *c, char *err, size_t errlen)
{
    return create_bucket(c, false, err, errlen);
}

enum qb_err s3_create_bucket_locked(struct s3_client *c, char *err, size_t errlen)
{
    return create_bucket(c, true, err, errlen);
}

/* Headers that describe the object: sent by PUT and by multipart initiate. */
void s3_object_headers(const struct s3_client *c, const struct s3_put_options *opt, struct hlist *h)
{
    s3_hl_add(h, "Content-Type",
              opt && opt->content_type ? opt->content_type : "application/octet-stream");
    for (size_t i = 0; opt && i < opt->n_meta; i++) {
        char *n = xasprintf("x-amz-meta-%s", opt->meta[i].name);
        s3_hl_add(h, n, opt->meta[i].value);
        free(n);
    }
    if (c->sse == S3_SSE_AES256)
        s3_hl_add(h, "x-amz-server-side-encryption", "AES256");
    if (c->sse == S3_SSE_KMS) {
        s3_hl_add(h, "x-amz-server-side-encryption", "aws:kms");
        if (c->kms_key_id)
            s3_hl_add(h, "x-amz-server-side-encryption-aws-kms-key-id", c->kms_key_id);
    }
    if (c->storage_class)
        s3_hl_add(h, "x-amz-storage-class", c->storage_class);
    if (opt && opt->lock_mode && opt->lock_until) {
        s3_hl_add(h, "x-amz-object-lock-mode", opt->lock_mode);
        s3_hl_add(h, "x-amz-object-lock-retain-until-date", opt->lock_until);
    }
}

bool s3_headers_locked(const struct hlist *h)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->v[i].name, "x-amz-object-lock-mode") == 0)
            return true;
    return false;
}

/* PUT with the object headers objh and a known body SHA-256, which is
 * recorded as x-amz-meta-sha256. */
enum qb_err s3_put_with_sha(struct s3_client *c, const char *key, const void *data, size_t len,
                            const char *sha, const struct hlist *objh, char *etag, size_t etaglen,
                            char *err, size_t errlen)
{
    struct hlist h = {0};
    struct http_client_response resp = {0};
    char md5[32];
    for (size_t i = 0; i < objh->n; i++)
        s3_hl_add(&h, objh->v[i].name, objh->v[i].value);
    s3_hl_add(&h, "x-amz-meta-sha256", sha);
    /* No payload signature: let S3 check an MD5.  AWS also wants one on
     * every upload with an Object Lock retention. */
    if (c->unsigned_payload || s3_headers_locked(objh)) {
        s3_md5_base64(data, len, md5);
        s3_hl_add(&h, "Content-MD5", md5);
    }
    struct s3_req r = {.method = "PUT",
                       .key = key,
                       .hdrs = h.v,
                       .n_hdrs = h.n,
                       .body = data,
                       .body_len = len,
                       .payload_hash = c->unsigned_payload ? SIGV4_UNSIGNED_PAYLOAD : sha};
    enum qb_err rc = s3_call(c, c->hc, &r, &resp, err, errlen);
    if (etag && etaglen) {
        const char *e = rc ? NULL : http_client_response_header(&resp, "ETag");
        etag[0] = '\0';
        if (e && strlen(e) < etaglen)
            qb_strlcpy(etag, e, etaglen);
    }
    http_client_response_free(&resp);
    s3_hl_free(&h);
    return rc;
}

enum qb_err s3_put_object(struct s3_client *c, const char *key, const void *data, size_t len,
                          const struct s3_put_options *opt, char *err, size_t errlen)
{
    char sha[SIGV4_HEX_LEN + 1];
    struct hlist objh = {0};
    if (!key || !*key)
        return qb_failf(QB_ERR_INVALID, err, errlen, "s3: empty object key");
    if (len > S3_MAX_PART_SIZE)
        return qb_failf(QB_ERR_INVALID, err, errlen, "s3: single PUT is limited to 5 GiB");
    sigv4_sha256_hex(data ? data : "", len, sha);
    s3_object_headers(c, opt, &objh);
    enum qb_err rc =
        s3_put_with_sha(c, key, data ? data : "", len, sha, &objh, NULL, 0, err, errlen);
    s3_hl_free(&objh);
    return rc;
}

struct get_state {
    s3_write_fn fn;
    void *ud;
    uint64_t delivered;
    bool user_failed;
};

static enum qb_err get_sink(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct get_state *g = ud;
    enum qb_err rc = g->fn(g->ud, data, len, err, errlen);
    if (rc)
        g->user_failed = true;
    else
        g->delivered += len;
    return rc;
}

enum qb_err s3_get_object(struct s3_client *c, const char *key, uint64_t offset, uint64_t length,
                          s3_write_fn fn, void *ud, char *err, size_t errlen)
{
    struct get_state g = {fn, ud, 0, false};
    struct http_client_response resp = {0};
    char *etag = NULL;
    enum qb_err rc;
    struct retry rt;
    retry_start(&rt, &c->retry);
    for (;;) {
        struct hlist h = {0};
        uint64_t from = offset + g.delivered;
        bool ranged = from > 0 || length > 0;
        if (ranged) {
            char range[64];
            if (length)
                snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)from,
                         (unsigned long long)(offset + length - 1));
            else
                snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)from);
            s3_hl_add(&h, "Range", range);
        }
        if (etag && g.delivered) /* resume only from the very same object */
            s3_hl_add(&h, "If-Match", etag);
        struct s3_req r = {.method = "GET",
                           .key = key,
                           .hdrs = h.v,
                           .n_hdrs = h.n,
                           .write_fn = get_sink,
                           .write_ud = &g};
        uint64_t before = g.delivered;
        rc = s3_send(c, c->hc, &r, &resp, err, errlen);
        s3_hl_free(&h);
        if (!etag && http_client_response_header(&resp, "ETag"))
            etag = xstrdup(http_client_response_header(&resp, "ETag"));
        if (!rc && ranged && resp.status != 206)
            rc = qb_failf(QB_ERR_REMOTE, err, errlen, "S3 GET %s: range ignored (HTTP %ld)", key,
                          resp.status);
        if (g.user_failed) /* the sink's own failure: not S3's to retry */
            break;
        if (g.delivered > before) /* progress made: the retry budget starts over */
            retry_progress(&rt);
        if (!retry_wait(&rt, rc, NULL, "s3.retry", err))
            break;
    }
    rc = retry_give_up(&rt, rc, err, errlen);
    http_client_response_free(&resp);
    free(etag);
    return rc;
}

void s3_object_info_free(struct s3_object_info *info)
{
    if (!info)
        return;
    http_headers_free(info->meta, info->n_meta);
    free(info->etag);
    free(info->last_modified);
    free(info->content_type);
    free(info->version_id);
    free(info->lock_mode);
    free(info->lock_until);
    memset(info, 0, sizeof *info);
}

const char *s3_object_info_meta(const struct s3_object_info *info, const char *name)
{
    return info ? http_headers_find(info->meta, info->n_meta, name) : NULL;
}

static char *dup_header(const struct http_client_response *resp, const char *name)
{
    const char *v = http_client_response_header(resp, name);
    return v ? xstrdup(v) : NULL;
}

enum qb_err s3_head_object(struct s3_client *c, const char *key, struct s3_object_info *out,
                           char *err, size_t errlen)
{
    struct http_client_response resp = {0};
    struct s3_req r = {.method = "HEAD", .key = key};
    memset(out, 0, sizeof *out);
    enum qb_err rc = s3_call(c, c->hc, &r, &resp, err, errlen);
    if (rc)
        goto out;
    const char *cl = http_client_response_header(&resp, "Content-Length");
    out->size = cl ? strtoull(cl, NULL, 10) : 0;
    out->etag = dup_header(&resp, "ETag");
    out->last_modified = dup_header(&resp, "Last-Modified");
    out->content_type = dup_header(&resp, "Content-Type");
    out->version_id = dup_header(&resp, "x-amz-version-id");
    out->lock_mode = dup_header(&resp, "x-amz-object-lock-mode");
    out->lock_until = dup_header(&resp, "x-amz-object-lock-retain-until-date");
    for (size_t i = 0; i < resp.n_headers; i++) {
        const char *n = resp.headers[i].name;
        if (strncasecmp(n, "x-amz-meta-", 11) != 0)
            continue;
        out->meta = xrealloc(out->meta, (out->n_meta + 1) * sizeof *out->meta);
        char *name = xstrdup(n + 11);
        for (char *p = name; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        out->meta[out->n_meta].name = name;
        out->meta[out->n_meta].value = xstrdup(resp.headers[i].value);
        out->n_meta++;
    }
out:
    http_client_response_free(&resp);
    return rc;
}

enum qb_err s3_list_objects(struct s3_client *c, const char *prefix, unsigned page_size,
                            s3_list_fn fn, void *ud, char *err, size_t errlen)
{
    struct http_client_response resp = {0};
    char *token = NULL;
    enum qb_err rc = QB_OK;
    char *eprefix = sigv4_uri_encode(prefix ? prefix : "", prefix ? strlen(prefix) : 0, false);
    do {
        char *etoken = token ? sigv4_uri_encode(token, strlen(token), false) : NULL;
        char *query =
            xasprintf("list-type=2&max-keys=%u&prefix=%s%s%s", page_size ? page_size : 1000,
                      eprefix, etoken ? "&continuation-token=" : "", etoken ? etoken : "");
        struct s3_req r = {.method = "GET", .query = query};
        rc = s3_call(c, c->hc, &r, &resp, err, errlen);
        free(query);
        free(etoken);
        QB_FREE(token);
        if (rc)
            break;
        rc = s3_xml_list_page(resp.body, resp.body_len, fn, ud, &token, err, errlen);
    } while (!rc && token);
    free(token);
    free(eprefix);
    http_client_response_free(&resp);
    return rc;
}

enum qb_err s3_presign_get(struct s3_client *c, const char *key, int64_t expires_s, char **url,
                           char *err, size_t errlen)
{
    char *host = NULL, *path = NULL;
    char date[SIGV4_AMZ_DATE_LEN + 1];
    struct sigv4_result sig = {0};
    s3_target(c, key, &host, &path);
    sigv4_format_amz_date(qb_now_ms() / 1000, date, sizeof date);
    struct sigv4_header h[] = {{"Host", host}};
    struct sigv4_config sc = {c->access_key, c->secret_key, c->session_token,
                              c->region,     "s3",          SIGV4_S3_PATH};
    struct sigv4_request sr = {"GET", path, NULL, h, 1, SIGV4_UNSIGNED_PAYLOAD, date};
    enum qb_err rc = sigv4_presign(&sc, &sr, expires_s, &sig, err, errlen);
    if (!rc)
        *url = xasprintf("%s://%s%s?%s", c->scheme, host, path, sig.query);
    sigv4_result_free(&sig);
    free(host);
    free(path);
    return rc;
}
