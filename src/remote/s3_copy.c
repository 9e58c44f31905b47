/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_copy.c -- CopyObject between two clients of one S3 account
 * (s3_copy.h).
 */
#include "remote/s3_copy.h"
#include "s3_internal.h"

#include <pthread.h>
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

/* x-amz-copy-source for src_key of src's bucket; caller frees. */
static char *copy_source(const struct s3_client *src, const char *src_key)
{
    char *enc = sigv4_uri_encode(src_key, strlen(src_key), true);
    char *source = xasprintf("/%s/%s", src->bucket, enc);
    free(enc);
    return source;
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
    char *source = copy_source(src, src_key);
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

/* One UploadPartCopy on hc: bytes [from, to] of the source as part number
 * n; [out] etag. */
static enum qb_err copy_part(struct s3_client *dst, struct http_client *hc, const char *source,
                             const char *key, const char *eid, unsigned n, uint64_t from,
                             uint64_t to, char etag[48], char *err, size_t errlen)
{
    struct hlist h = {0};
    struct http_client_response resp = {0};
    char range[64];
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)from,
             (unsigned long long)to);
    s3_hl_add(&h, "x-amz-copy-source", source);
    s3_hl_add(&h, "x-amz-copy-source-range", range);
    char *query = xasprintf("partNumber=%u&uploadId=%s", n, eid);
    struct s3_req r = {.method = "PUT", .key = key, .query = query, .hdrs = h.v, .n_hdrs = h.n};
    enum qb_err rc = s3_call(dst, hc, &r, &resp, err, errlen);
    if (!rc && resp.body && strstr(resp.body, "<Error>"))
        rc = s3_fail(&r, &resp, err, errlen);
    if (!rc) {
        result_etag(resp.body, etag);
        if (!etag[0])
            rc = qb_failf(QB_ERR_REMOTE, err, errlen, "s3: UploadPartCopy %u of %s: no ETag", n,
                          key);
    }
    http_client_response_free(&resp);
    s3_hl_free(&h);
    free(query);
    return rc;
}

/* The parts of one multipart copy, shared by the threads copying them.
 * The server moves the bytes, so a part costs us one request and a wait:
 * copying parts_in_flight of them at once is what keeps a 200 GB copy
 * (6,000 parts of 32 MiB) from being 6,000 waits in a row. */
struct part_copy {
    struct s3_client *dst;
    const char *source, *key, *eid;
    uint64_t size, part_size;
    unsigned nparts;
    char **etags;       /* [nparts], each set once its part is copied */
    pthread_mutex_t mu; /* guards next, rc and err */
    unsigned next;      /* the next part to take, 0-based */
    enum qb_err rc;     /* the first failure: no part is taken after it */
    char err[QB_ERRBUF_SIZE];
};

/* Takes parts until none is left or one failed, on hc (NULL: a client of
 * its own, as a thread beside the caller needs). */
static void copy_parts(struct part_copy *pc, struct http_client *hc)
{
    struct http_client *own = NULL;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = hc ? QB_OK : http_client_create(&pc->dst->http_opt, &own, err, sizeof err);
    hc = hc ? hc : own;
    for (;;) {
        pthread_mutex_lock(&pc->mu);
        if (rc && !pc->rc) {
            pc->rc = rc;
            snprintf(pc->err, sizeof pc->err, "%s", err);
        }
        unsigned i = pc->next;
        bool done = pc->rc || i >= pc->nparts;
        if (!done)
            pc->next++;
        pthread_mutex_unlock(&pc->mu);
        if (done)
            break;
        uint64_t from = (uint64_t)i * pc->part_size;
        uint64_t to = from + pc->part_size < pc->size ? from + pc->part_size - 1 : pc->size - 1;
        char etag[48];
        rc = copy_part(pc->dst, hc, pc->source, pc->key, pc->eid, i + 1, from, to, etag, err,
                       sizeof err);
        if (!rc)
            pc->etags[i] = xstrdup(etag); /* slot i is this thread's alone */
    }
    http_client_destroy(own);
}

static void *copy_parts_thread(void *arg)
{
    copy_parts(arg, NULL);
    return NULL;
}

/* Copies every part of pc: the caller's thread on the client's own
 * handle, and up to parts_in_flight - 1 threads beside it.  A thread that
 * cannot start leaves its share to the others. */
static enum qb_err copy_all_parts(struct part_copy *pc, char *err, size_t errlen)
{
    unsigned want = pc->dst->parts_in_flight < pc->nparts ? pc->dst->parts_in_flight : pc->nparts;
    pthread_t *threads = xcalloc(want ? want : 1, sizeof *threads);
    unsigned started = 0;
    pthread_mutex_init(&pc->mu, NULL);
    for (unsigned i = 1; i < want; i++)
        if (pthread_create(&threads[started], NULL, copy_parts_thread, pc) == 0)
            started++;
    copy_parts(pc, pc->dst->hc);
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&pc->mu);
    free(threads);
    return pc->rc ? qb_failf(pc->rc, err, errlen, "%s", pc->err) : QB_OK;
}

enum qb_err s3_copy_object_multipart(struct s3_client *dst, const struct s3_client *src,
                                     const char *src_key, const char *key, uint64_t size,
                                     uint64_t part_size, const char *sha, char etag[48], char *err,
                                     size_t errlen)
{
    struct hlist h = {0};
    struct http_client_response resp = {0};
    char *upload_id = NULL, *eid = NULL, *source = NULL, **part_etags = NULL;
    unsigned nparts = 0;
    enum qb_err rc = QB_OK;
    etag[0] = '\0';
    if (!s3_copy_possible(dst, src))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "s3: a server-side copy needs the same endpoint and account");
    if (size == 0 || part_size < (UINT64_C(5) << 20) || part_size > S3_COPY_MAX ||
        (size + part_size - 1) / part_size > 10000)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "s3: %llu bytes cannot be copied in parts of %llu bytes",
                        (unsigned long long)size, (unsigned long long)part_size);
    source = copy_source(src, src_key);
    /* The upload carries the copy's metadata, as CopyObject's REPLACE. */
    s3_object_headers(dst, NULL, &h);
    s3_hl_add(&h, "x-amz-meta-sha256", sha);
    rc = s3_initiate_multipart(dst, key, &h, &upload_id, err, errlen);
    s3_hl_free(&h);
    if (rc)
        goto out;
    eid = sigv4_uri_encode(upload_id, strlen(upload_id), false);
    nparts = (unsigned)((size + part_size - 1) / part_size);
    part_etags = xcalloc(nparts, sizeof *part_etags);
    rc = copy_all_parts(&(struct part_copy){.dst = dst,
                                            .source = source,
                                            .key = key,
                                            .eid = eid,
                                            .size = size,
                                            .part_size = part_size,
                                            .nparts = nparts,
                                            .etags = part_etags},
                        err, errlen);
    if (!rc) {
        rc = s3_complete_multipart(dst, key, upload_id, (const char *const *)part_etags, nparts,
                                   &resp, err, errlen);
        if (!rc)
            result_etag(resp.body, etag);
        /* Some servers (Ceph RGW) answer an empty <ETag>: the one S3 gives
         * such an object follows from the parts'. */
        char want[40]; /* 32 hex, '-', up to 5 digits */
        if (!rc && !etag[0] &&
            s3_multipart_etag((const char *const *)part_etags, nparts, want, sizeof want))
            snprintf(etag, 48, "\"%s\"", want);
        http_client_response_free(&resp);
    }
    if (rc) { /* nothing is left behind: the parts go with the upload */
        char aerr[QB_ERRBUF_SIZE];
        if (s3_abort_multipart(dst, key, upload_id, aerr, sizeof aerr)) {
            /* left for the janitor (storage/storage_janitor.h) */
        }
    }
out:
    for (unsigned i = 0; part_etags && i < nparts; i++)
        free(part_etags[i]);
    free(part_etags);
    free(source);
    free(eid);
    free(upload_id);
    return rc;
}
