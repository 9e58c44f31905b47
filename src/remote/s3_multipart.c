/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_multipart.c -- the requests of S3's multipart upload protocol:
 * initiate, complete, abort, list those in progress, and the ETag S3 gives
 * a completed upload.  The streaming writer (s3_upload.c), the server-side
 * copy (s3_copy.c) and the janitors (storage/storage_janitor.h) drive an
 * upload through these; none of them keeps state here.
 */
#include "s3_client.h"

#include "s3_internal.h"
#include "s3_xml.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------- in-progress uploads (janitors) */

enum qb_err s3_list_multipart_uploads(struct s3_client *c, const char *prefix, s3_upload_list_fn fn,
                                      void *ud, char *err, size_t errlen)
{
    struct http_client_response resp = {0};
    char *kmark = NULL, *umark = NULL;
    enum qb_err rc;
    char *eprefix = sigv4_uri_encode(prefix ? prefix : "", prefix ? strlen(prefix) : 0, false);
    for (;;) {
        char *ek = kmark ? sigv4_uri_encode(kmark, strlen(kmark), false) : xstrdup("");
        char *eu = umark ? sigv4_uri_encode(umark, strlen(umark), false) : xstrdup("");
        char *query = xasprintf("uploads&prefix=%s%s%s%s%s", eprefix, kmark ? "&key-marker=" : "",
                                ek, umark ? "&upload-id-marker=" : "", eu);
        struct s3_req r = {.method = "GET", .query = query};
        rc = s3_call(c, c->hc, &r, &resp, err, errlen);
        free(query);
        free(ek);
        free(eu);
        QB_FREE(kmark);
        QB_FREE(umark);
        if (rc)
            break;
        bool more;
        rc = s3_xml_uploads_page(resp.body, resp.body_len, fn, ud, &more, &kmark, &umark);
        if (rc || !more)
            break;
    }
    free(eprefix);
    http_client_response_free(&resp);
    return rc;
}

static enum qb_err abort_upload_id(struct s3_client *c, struct http_client *hc, const char *key,
                                   const char *upload_id, char *err, size_t errlen)
{
    struct http_client_response resp = {0};
    char *eid = sigv4_uri_encode(upload_id, strlen(upload_id), false);
    char *query = xasprintf("uploadId=%s", eid);
    struct s3_req r = {.method = "DELETE", .key = key, .query = query};
    enum qb_err rc = s3_call(c, hc, &r, &resp, err, errlen);
    http_client_response_free(&resp);
    free(query);
    free(eid);
    return rc;
}

enum qb_err s3_abort_multipart(struct s3_client *c, const char *key, const char *upload_id,
                               char *err, size_t errlen)
{
    return abort_upload_id(c, c->hc, key, upload_id, err, errlen);
}

/* ----------------------------------------------------------- an upload's ends */

enum qb_err s3_initiate_multipart(struct s3_client *c, const char *key, const struct hlist *h,
                                  char **upload_id, char *err, size_t errlen)
{
    struct http_client_response resp = {0};
    struct s3_req r = {
        .method = "POST", .key = key, .query = "uploads", .hdrs = h->v, .n_hdrs = h->n};
    *upload_id = NULL;
    enum qb_err rc = s3_call(c, c->hc, &r, &resp, err, errlen);
    if (!rc) {
        *upload_id = s3_xml_text(resp.body, resp.body_len, "UploadId");
        if (!*upload_id || !**upload_id) {
            QB_FREE(*upload_id);
            rc = qb_failf(QB_ERR_REMOTE, err, errlen, "S3 CreateMultipartUpload %s: no UploadId",
                          key);
        }
    }
    http_client_response_free(&resp);
    return rc;
}

enum qb_err s3_complete_multipart(struct s3_client *c, const char *key, const char *upload_id,
                                  const char *const *etags, unsigned nparts,
                                  struct http_client_response *resp, char *err, size_t errlen)
{
    struct buf b;
    enum qb_err rc = QB_OK;
    /* ~100 bytes per part: 10,000 parts stay far below 4 MiB. */
    buf_init(&b, 4u * 1024 * 1024);
    bool ok = buf_appends(&b, "<CompleteMultipartUpload>");
    for (unsigned i = 0; ok && i < nparts; i++) {
        if (!etags[i]) {
            rc =
                qb_failf(QB_ERR_INTERNAL, err, errlen, "s3: part %u of %s has no ETag", i + 1, key);
            goto out;
        }
        ok = buf_printf(&b, "<Part><PartNumber>%u</PartNumber><ETag>", i + 1) &&
             buf_append_escaped(&b, etags[i]) && buf_appends(&b, "</ETag></Part>");
    }
    if (!ok || !buf_appends(&b, "</CompleteMultipartUpload>")) {
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen, "s3: completion document too large");
        goto out;
    }
    char *eid = sigv4_uri_encode(upload_id, strlen(upload_id), false);
    char *query = xasprintf("uploadId=%s", eid);
    struct hlist h = {0};
    s3_hl_add(&h, "Content-Type", "application/xml");
    struct s3_req r = {.method = "POST",
                       .key = key,
                       .query = query,
                       .hdrs = h.v,
                       .n_hdrs = h.n,
                       .body = b.data,
                       .body_len = b.len};
    rc = s3_call(c, c->hc, &r, resp, err, errlen);
    /* S3 may answer 200 and still fail: the error is in the body. */
    if (!rc && resp->body && strstr(resp->body, "<Error>"))
        rc = s3_fail(&r, resp, err, errlen);
    s3_hl_free(&h);
    free(query);
    free(eid);
out:
    buf_free(&b);
    return rc;
}

bool s3_multipart_etag(const char *const *etags, unsigned nparts, char *out, size_t outlen)
{
    unsigned char *bin = xmalloc((size_t)nparts * 16 + 1), md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    bool ok = nparts > 0;
    for (unsigned i = 0; ok && i < nparts; i++) {
        const char *e = etags[i];
        size_t n = e ? strlen(e) : 0;
        if (n == 34 && e[0] == '"' && e[33] == '"')
            e++, n = 32;
        ok = n == 32;
        for (size_t j = 0; ok && j < 16; j++) {
            int hi = qb_hexval(e[2 * j]), lo = qb_hexval(e[2 * j + 1]);
            ok = hi >= 0 && lo >= 0;
            if (ok)
                bin[16 * (size_t)i + j] = (unsigned char)(hi << 4 | lo);
        }
    }
    if (ok)
        ok = EVP_Digest(bin, (size_t)nparts * 16, md, &mdlen, EVP_md5(), NULL) == 1 && mdlen == 16;
    if (ok) {
        char hex[33];
        sigv4_hex(md, mdlen, hex);
        ok = (size_t)snprintf(out, outlen, "%s-%u", hex, nparts) < outlen;
    }
    free(bin);
    return ok;
}
