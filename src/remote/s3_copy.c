/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_copy.c -- CopyObject between two clients of one S3 account
 * (s3_copy.h).
 */
#include "remote/s3_copy.h"
#include "s3_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool s3_copy_possible(const struct s3_client *dst, const struct s3_client *src)
{
    return dst && src && same(dst->scheme, src->scheme) && same(dst->host, src->host) &&
           same(dst->region, src->region) && same(dst->access_key, src->access_key) &&
           dst->path_style == src->path_style;
}

/* The text of <ETag> in a CopyObjectResult, unescaped &quot; to '"'. */
static void result_etag(const char *body, char etag[48])
{
    etag[0] = '\0';
    const char *s = body ? strstr(body, "<ETag>") : NULL;
    const char *e = s ? strstr(s, "</ETag>") : NULL;
    if (!s || !e)
        return;
    s += strlen("<ETag>");
    size_t n = 0;
    while (s < e && n + 1 < 48) {
        if (strncmp(s, "&quot;", 6) == 0) {
            etag[n++] = '"';
            s += 6;
        } else if (strncmp(s, "&#34;", 5) == 0) {
            etag[n++] = '"';
            s += 5;
        } else {
            etag[n++] = *s++;
        }
    }
    etag[s < e ? 0 : n] = '\0';
}

enum qb_err s3_copy_object(struct s3_client *dst, const struct s3_client *src, const char *src_key,
                           const char *key, const char *sha, char etag[48], char *err,
                           size_t errlen)
{
    struct hlist h = {0};
    struct http_client_response resp = {0};
    etag[0] = '\0';
    if (!s3_copy_possible(dst, src))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "s3: a server-side copy needs the same endpoint and account");
    char *enc = sigv4_uri_encode(src_key, strlen(src_key), true);
    char *source = xasprintf("/%s/%s", src->bucket, enc);
    free(enc);
    s3_object_headers(dst, NULL, &h);
    s3_hl_add(&h, "x-amz-copy-source", source);
    /* The metadata is the copy's own: its SHA-256 (so a HEAD finds it) and
     * the destination's encryption and storage class. */
    s3_hl_add(&h, "x-amz-metadata-directive", "REPLACE");
    s3_hl_add(&h, "x-amz-meta-sha256", sha);
    struct s3_req r = {.method = "PUT", .key = key, .hdrs = h.v, .n_hdrs = h.n};
    enum qb_err rc = s3_call(dst, dst->hc, &r, &resp, err, errlen);
    if (!rc && resp.body && strstr(resp.body, "<Error>"))
        rc = qb_failf(QB_ERR_TRANSIENT, err, errlen,
                      "s3: CopyObject of %s failed after 200: %.200s", src_key, resp.body);
    if (!rc)
        result_etag(resp.body, etag);
    http_client_response_free(&resp);
    s3_hl_free(&h);
    free(source);
    return rc;
}
