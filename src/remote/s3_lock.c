/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_lock.c -- deleting S3 objects, and the Object Lock that decides what
 * a delete may do (s3_client.h): one key, batches of DeleteObjects, every
 * version of a key (a plain DELETE on a versioned, locked bucket only hides
 * an object behind a delete marker), a bucket's Object Lock configuration
 * and an object's retention.  Requests go
 * through s3_call() like every other operation (s3_client.c); the XML is
 * read by s3_xml.c.
 *
 * THREAD SAFETY NOTES
 *   As s3_client.c: one thread at a time per struct s3_client.
 */
#include "s3_client.h"

#include "http_client.h"
#include "s3_internal.h"
#include "sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DELETE_BATCH 1000 /* S3's DeleteObjects limit */

enum qb_err s3_get_object_lock(struct s3_client *c, struct s3_object_lock *out, char *err,
                               size_t errlen)
{
    struct http_client_response resp = {0};
    struct s3_req r = {.method = "GET", .query = "object-lock"};
    memset(out, 0, sizeof *out);
    enum qb_err rc = s3_call(c, c->hc, &r, &resp, err, errlen);
    if (!rc)
        s3_xml_object_lock(resp.body, resp.body_len, out);
    else if (resp.body && strstr(resp.body, "<Code>ObjectLockConfigurationNotFoundError</Code>"))
        rc = QB_OK; /* the answer for a bucket created without Object Lock */
    http_client_response_free(&resp);
    return rc;
}

enum qb_err s3_put_object_retention(struct s3_client *c, const char *key, const char *mode,
                                    const char *until, char *err, size_t errlen)
{
    struct http_client_response resp = {0};
    struct hlist h = {0};
    char md5[32];
    char *body = xasprintf("<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>%s"
                           "</Mode><RetainUntilDate>%s</RetainUntilDate></Retention>",
                           mode, until);
    s3_md5_base64(body, strlen(body), md5); /* required by AWS for this call */
    s3_hl_add(&h, "Content-MD5", md5);
    s3_hl_add(&h, "Content-Type", "application/xml");
    struct s3_req r = {.method = "PUT",
                       .key = key,
                       .query = "retention",
                       .hdrs = h.v,
                       .n_hdrs = h.n,
                       .body = body,
                       .body_len = strlen(body)};
    enum qb_err rc = s3_call(c, c->hc, &r, &resp, err, errlen);
    http_client_response_free(&resp);
    s3_hl_free(&h);
    free(body);
    return rc;
}

struct version_ids {
    const char *key; /* only this exact key: the listing is by prefix */
    char **ids;
    size_t n;
};

static enum qb_err collect_version(void *ud, const char *key, const char *version_id)
{
    struct version_ids *v = ud;
    if (strcmp(key, v->key) != 0 || !*version_id)
        return QB_OK;
    if (v->n >= 100000) /* a runaway listing must not exhaust memory */
        return QB_ERR_REMOTE;
    v->ids = xrealloc(v->ids, (v->n + 1) * sizeof *v->ids);
    v->ids[v->n++] = xstrdup(version_id);
    return QB_OK;
}

/* The version ids of key, every page of ListObjectVersions?prefix=key. */
static enum qb_err list_versions(struct s3_client *c, const char *key, struct version_ids *v,
                                 char *err, size_t errlen)
{
    struct http_client_response resp = {0};
    char *kmark = NULL, *vmark = NULL;
    char *eprefix = sigv4_uri_encode(key, strlen(key), false);
    enum qb_err rc;
    bool more = false;
    do {
        char *ek = kmark ? sigv4_uri_encode(kmark, strlen(kmark), false) : NULL;
        char *ev = vmark ? sigv4_uri_encode(vmark, strlen(vmark), false) : NULL;
        /* Parameters in byte order: the signer wants the canonical query. */
        char *query =
            xasprintf("%s%s%sprefix=%s%s%s&versions", ek ? "key-marker=" : "", ek ? ek : "",
                      ek ? "&" : "", eprefix, ev ? "&version-id-marker=" : "", ev ? ev : "");
        struct s3_req r = {.method = "GET", .query = query};
        http_client_response_free(&resp);
        rc = s3_call(c, c->hc, &r, &resp, err, errlen);
        free(query);
        free(ek);
        free(ev);
        QB_FREE(kmark);
        QB_FREE(vmark);
        if (!rc) {
            rc = s3_xml_versions_page(resp.body, resp.body_len, collect_version, v, &more, &kmark,
                                      &vmark);
            if (rc)
                qb_failf(rc, err, errlen, "S3 ListObjectVersions %s: too many versions", key);
        }
    } while (!rc && more && kmark);
    free(kmark);
    free(vmark);
    free(eprefix);
    http_client_response_free(&resp);
    return rc;
}

enum qb_err s3_delete_versions(struct s3_client *c, const char *key, char *err, size_t errlen)
{
    struct version_ids v = {.key = key};
    enum qb_err rc = list_versions(c, key, &v, err, errlen);
    for (size_t i = 0; !rc && i < v.n; i++) {
        struct http_client_response resp = {0};
        char *eid = sigv4_uri_encode(v.ids[i], strlen(v.ids[i]), false);
        char *query = xasprintf("versionId=%s", eid);
        struct s3_req r = {.method = "DELETE", .key = key, .query = query};
        rc = s3_call(c, c->hc, &r, &resp, err, errlen);
        if (rc == QB_ERR_NOT_FOUND) /* gone meanwhile */
            rc = QB_OK;
        http_client_response_free(&resp);
        free(query);
        free(eid);
    }
    for (size_t i = 0; i < v.n; i++)
        free(v.ids[i]);
    free(v.ids);
    return rc;
}

enum qb_err s3_delete_object(struct s3_client *c, const char *key, char *err, size_t errlen)
{
    struct http_client_response resp = {0};
    struct s3_req r = {.method = "DELETE", .key = key};
    enum qb_err rc = s3_call(c, c->hc, &r, &resp, err, errlen);
    if (rc == QB_ERR_NOT_FOUND) /* already gone is what the caller wanted */
        rc = QB_OK;
    http_client_response_free(&resp);
    return rc;
}

static enum qb_err delete_batch(struct s3_client *c, const char *const *keys, size_t n, char *err,
                                size_t errlen)
{
    struct buf b;
    struct hlist h = {0};
    struct http_client_response resp = {0};
    enum qb_err rc = QB_OK;
    char md5[32];
    /* 1000 keys of at most 1024 bytes, escaped: well under 8 MiB. */
    buf_init(&b, 8u * 1024 * 1024);
    if (!s3_xml_delete_doc(&b, keys, n)) {
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "s3: delete batch too large");
        goto out;
    }
    s3_md5_base64(b.data, b.len, md5); /* DeleteObjects requires Content-MD5 */
    s3_hl_add(&h, "Content-MD5", md5);
    s3_hl_add(&h, "Content-Type", "application/xml");
    struct s3_req r = {.method = "POST",
                       .query = "delete",
                       .hdrs = h.v,
                       .n_hdrs = h.n,
                       .body = b.data,
                       .body_len = b.len};
    rc = s3_call(c, c->hc, &r, &resp, err, errlen);
    if (rc)
        goto out;
    char *k, *code;
    if (s3_xml_delete_error(resp.body, resp.body_len, &k, &code)) {
        rc = qb_failf(s3_map_code(code, 500) == QB_ERR_TRANSIENT ? QB_ERR_TRANSIENT : QB_ERR_REMOTE,
                      err, errlen, "S3 DeleteObjects: %s not deleted: %s", k ? k : "?",
                      code ? code : "?");
    }
    free(k);
    free(code);
out:
    http_client_response_free(&resp);
    s3_hl_free(&h);
    buf_free(&b);
    return rc;
}

enum qb_err s3_delete_objects(struct s3_client *c, const char *const *keys, size_t n, char *err,
                              size_t errlen)
{
    for (size_t i = 0; i < n; i += DELETE_BATCH) {
        enum qb_err rc =
            delete_batch(c, keys + i, n - i < DELETE_BATCH ? n - i : DELETE_BATCH, err, errlen);
        if (rc)
            return rc;
    }
    return QB_OK;
}
