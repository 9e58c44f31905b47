/* SPDX-License-Identifier: Apache-2.0
 *
 * storage_s3.c -- the S3 backend of storage.h (s3://bucket/prefix), a thin
 * layer over s3_client: key mapping under the destination prefix, checksum
 * metadata that reads the same for single-PUT and multipart objects, and
 * listings and deletes that treat an object and its sidecar as one.
 *
 * DESIGN
 *   Every object is written with s3_upload's sha256_sidecar option, so
 *   "<key>.sha256" (sha256sum format) exists for single-PUT and multipart
 *   objects alike; single PUTs also carry x-amz-meta-sha256.  storage_head
 *   prefers the metadata (no second request) and falls back to the sidecar
 *   (multipart objects cannot carry it: metadata is fixed when the upload
 *   is created, before the hash is known; see docs/internals/s3.md).
 *   S3 makes an object visible only when its PUT or CompleteMultipartUpload
 *   succeeds, and s3_upload aborts the multipart upload on every failure,
 *   so nothing partial is ever visible under a key.
 *
 * Caveats
 *   Between CompleteMultipartUpload and the sidecar PUT a multipart object
 *   is visible without a recorded checksum (head reports "").  A writer
 *   killed mid-upload leaves an incomplete multipart upload (invisible,
 *   but billed) until a janitor aborts it or a bucket lifecycle rule
 *   (AbortIncompleteMultipartUpload) expires it.
 */
#include "storage/storage_internal.h"

#include "remote/s3_client.h"
#include "remote/s3_copy.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/rfc3339.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct s3st {
    struct storage base;
    struct s3_client *c;
    char *bucket;
    char *prefix;  /* "" or "a/b/" */
    unsigned page; /* keys per ListObjectsV2 page */
    /* Object Lock of what is written from now on (storage_set_lock):
     * mode "" = none; until as ISO 8601 UTC. */
    char lock_mode[16];
    char lock_until[32];
};

struct s3_writer {
    struct storage_writer base;
    struct s3st *s;
    char *full; /* prefix + key */
    struct s3_upload *u;
};

static const struct storage_ops s3_ops;

/* S3 reports a missing bucket like any refusal; say plainly what is wrong,
 * keeping the original message (it has the request id). */
static enum qb_err explain(const struct s3st *s, enum qb_err rc, char *err, size_t errlen)
{
    if (rc && err && errlen && strstr(err, "NoSuchBucket")) {
        char orig[QB_ERRBUF_SIZE];
        qb_strlcpy(orig, err, sizeof orig);
        qb_failf(rc, err, errlen, "storage: S3 bucket \"%s\" does not exist (%s)", s->bucket, orig);
    }
    return rc;
}

/* prefix + key; QB_ERR_INVALID when it and its sidecar exceed S3's limit. */
static enum qb_err full_key(const struct s3st *s, const char *key, char **out, char *err,
                            size_t errlen)
{
    *out = xasprintf("%s%s", s->prefix, key);
    if (strlen(*out) + strlen(STORAGE_SIDECAR_SUFFIX) > STORAGE_KEY_MAX) {
        QB_FREE(*out);
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "storage: key too long with the destination prefix (max %d bytes)",
                        STORAGE_KEY_MAX - (int)strlen(STORAGE_SIDECAR_SUFFIX));
    }
    return QB_OK;
}

/* ------------------------------------------------------------------ open */

static void s3st_close(struct storage *st)
{
    struct s3st *s = (struct s3st *)st;
    s3_client_destroy(s->c);
    free(s->bucket);
    free(s->prefix);
    free(s->base.url);
    free(s);
}

enum qb_err storage_s3_open(const struct storage_config *cfg, const char *bucket,
                            const char *prefix, struct storage **out, char *err, size_t errlen)
{
    struct s3_config sc = {
        .endpoint = cfg->endpoint,
        .region = cfg->region,
        .bucket = bucket,
        .access_key = cfg->access_key,
        .secret_key = cfg->secret_key,
        .session_token = cfg->session_token,
        .path_style = cfg->path_style,
        .insecure = cfg->insecure,
        .ca_file = cfg->ca_file,
        .sse_kms_key_id = cfg->sse_kms_key_id,
        .storage_class = cfg->storage_class,
        .part_size = cfg->part_size,
        .parts_in_flight = cfg->parts_in_flight,
        .download_part_size = cfg->download_part_size,
        .download_parts_in_flight = cfg->download_parts_in_flight,
    };
    if (!cfg->sse || !*cfg->sse)
        sc.sse = S3_SSE_NONE;
    else if (strcmp(cfg->sse, "AES256") == 0)
        sc.sse = S3_SSE_AES256;
    else if (strcmp(cfg->sse, "aws:kms") == 0)
        sc.sse = S3_SSE_KMS;
    else
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "storage: sse must be \"AES256\" or \"aws:kms\"");
    struct s3st *s = xcalloc(1, sizeof *s);
    s->base.ops = &s3_ops;
    s->base.kind = STORAGE_S3;
    s->bucket = xstrdup(bucket);
    s->prefix = xstrdup(prefix);
    s->page = cfg->list_page_size;
    size_t plen = strlen(prefix);
    s->base.url =
        xasprintf("s3://%s%s%.*s", bucket, plen ? "/" : "", (int)(plen ? plen - 1 : 0), prefix);
    enum qb_err rc = s3_client_create(&sc, &s->c, err, errlen);
    if (!rc && cfg->create)
        rc = explain(s, s3_create_bucket(s->c, err, errlen), err, errlen);
    if (rc) {
        s3st_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return QB_OK;
}

static enum qb_err stop_at_first(void *ud, const struct s3_list_entry *e)
{
    (void)ud;
    (void)e;
    return QB_ERR_CANCELLED;
}

static enum qb_err s3st_check(struct storage *st, char *err, size_t errlen)
{
    struct s3st *s = (struct s3st *)st;
    /* One page of one key: proves endpoint, credentials and bucket with
     * the cheapest request that needs all three. */
    enum qb_err rc = s3_list_objects(s->c, s->prefix, 1, stop_at_first, NULL, err, errlen);
    return rc == QB_ERR_CANCELLED ? QB_OK : explain(s, rc, err, errlen);
}

/* --------------------------------------------------------------- writing */

static enum qb_err s3st_write_begin(struct storage *st, const char *key, uint64_t size_hint,
                                    struct storage_writer **out, char *err, size_t errlen)
{
    struct s3st *s = (struct s3st *)st;
    struct s3_writer *w = xcalloc(1, sizeof *w);
    w->s = s;
    enum qb_err rc = full_key(s, key, &w->full, err, errlen);
    struct s3_put_options opt = {.size_hint = size_hint, .sha256_sidecar = true};
    if (s->lock_mode[0]) {
        opt.lock_mode = s->lock_mode;
        opt.lock_until = s->lock_until;
    }
    if (!rc)
        rc = s3_upload_begin(s->c, w->full, &opt, &w->u, err, errlen);
    if (rc) {
        free(w->full);
        free(w);
        return rc;
    }
    *out = &w->base;
    return QB_OK;
}

static enum qb_err s3st_write(struct storage_writer *base, const void *data, size_t len, char *err,
                              size_t errlen)
{
    struct s3_writer *w = (struct s3_writer *)base;
    return explain(w->s, s3_upload_write(w->u, data, len, err, errlen), err, errlen);
}

static enum qb_err s3st_write_finish(struct storage_writer *base, struct storage_write_result *res,
                                     char *err, size_t errlen)
{
    struct s3_writer *w = (struct s3_writer *)base;
    struct s3_upload_result r = {0};
    /* Consumes the upload whatever happens, aborting it on failure. */
    enum qb_err rc = explain(w->s, s3_upload_finish(w->u, &r, err, errlen), err, errlen);
    if (!rc && res) {
        res->size = r.size;
        memcpy(res->sha256, r.sha256, sizeof res->sha256);
        memcpy(res->etag, r.etag, sizeof res->etag);
        res->drain_ms = r.drain_ms;
        res->complete_ms = r.complete_ms;
        res->location = xasprintf("s3://%s/%s", w->s->bucket, w->full);
    }
    free(w->full);
    free(w);
    return rc;
}

static void s3st_write_abort(struct storage_writer *base)
{
    struct s3_writer *w = (struct s3_writer *)base;
    s3_upload_abort(w->u);
    free(w->full);
    free(w);
}

/* --------------------------------------------------------------- reading */

static enum qb_err s3st_read(struct storage *st, const char *key, uint64_t offset, uint64_t length,
                             storage_read_fn fn, void *ud, char *err, size_t errlen)
{
    struct s3st *s = (struct s3st *)st;
    char *full = NULL;
    enum qb_err rc = full_key(s, key, &full, err, errlen);
    if (!rc)
        rc = explain(s, s3_download(s->c, full, offset, length, fn, ud, err, errlen), err, errlen);
    free(full);
    return rc;
}

/* "Tue, 03 Mar 2026 10:00:00 GMT" (HEAD) or "2026-03-03T10:00:00.000Z"
 * (listings) as seconds since the epoch; 0 if neither. */
static int64_t parse_time(const char *s)
{
    int64_t t = 0;
    if (!s || rfc3339_parse(s, RFC3339_ANY, &t))
        return t;
    /* An HTTP date (RFC 9110 IMF-fixdate), not RFC 3339: strptime's job. */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
    return end ? (int64_t)timegm(&tm) : 0;
}

static enum qb_err collect_fn(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    if (!buf_append(ud, data, len))
        return qb_failf(QB_ERR_IO, err, errlen, "storage: checksum file too large");
    return QB_OK;
}

static enum qb_err s3st_head(struct storage *st, const char *key, struct storage_object_info *out,
                             char *err, size_t errlen)
{
    struct s3st *s = (struct s3st *)st;
    struct s3_object_info info = {0};
    char *full = NULL, *side = NULL;
    struct buf b;
    buf_init(&b, STORAGE_SIDECAR_MAX);
    enum qb_err rc = full_key(s, key, &full, err, errlen);
    if (!rc)
        rc = explain(s, s3_head_object(s->c, full, &info, err, errlen), err, errlen);
    if (rc)
        goto out;
    out->size = info.size;
    out->mtime = parse_time(info.last_modified);
    if (info.etag && strlen(info.etag) < sizeof out->etag)
        qb_strlcpy(out->etag, info.etag, sizeof out->etag);
    if (info.lock_mode && info.lock_until && strlen(info.lock_mode) < sizeof out->lock_mode) {
        qb_strlcpy(out->lock_mode, info.lock_mode, sizeof out->lock_mode);
        out->locked_until = parse_time(info.lock_until);
    }
    const char *meta = s3_object_info_meta(&info, "sha256");
    if (meta && strlen(meta) == 64) { /* single PUT: recorded in the object itself */
        char line[80];
        snprintf(line, sizeof line, "%s  -", meta);
        rc = storage_sidecar_parse(line, strlen(line), "x-amz-meta-sha256", out->sha256, err,
                                   errlen);
        goto out;
    }
    side = xasprintf("%s%s", full, STORAGE_SIDECAR_SUFFIX);
    rc = s3_get_object(s->c, side, 0, 0, collect_fn, &b, err, errlen);
    if (rc == QB_ERR_NOT_FOUND) { /* none recorded (yet) */
        rc = QB_OK;
        goto out;
    }
    if (!rc)
        rc = storage_sidecar_parse(b.data ? b.data : "", b.len, side, out->sha256, err, errlen);
out:
    buf_free(&b);
    s3_object_info_free(&info);
    free(side);
    free(full);
    return rc;
}

/* --------------------------------------------------------------- listing */

struct list_ctx {
    const struct s3st *s;
    storage_list_fn fn;
    void *ud;
};

static enum qb_err list_cb(void *ud, const struct s3_list_entry *e)
{
    struct list_ctx *ctx = ud;
    size_t plen = strlen(ctx->s->prefix);
    if (strncmp(e->key, ctx->s->prefix, plen) != 0)
        return QB_OK; /* cannot happen: S3 filtered by this prefix */
    const char *rel = e->key + plen;
    /* Sidecars belong to their object; keys our rules reject (written by
     * someone else) could not be read, deleted or moved through this API. */
    if (storage_key_check(rel, NULL, 0) != QB_OK)
        return QB_OK;
    struct storage_list_entry se = {rel, e->size, parse_time(e->last_modified)};
    return ctx->fn(ctx->ud, &se);
}

static enum qb_err s3st_list(struct storage *st, const char *prefix, storage_list_fn fn, void *ud,
                             char *err, size_t errlen)
{
    struct s3st *s = (struct s3st *)st;
    struct list_ctx ctx = {s, fn, ud};
    char *full = xasprintf("%s%s", s->prefix, prefix);
    enum qb_err rc = s3_list_objects(s->c, full, s->page, list_cb, &ctx, err, errlen);
    free(full);
    return explain(s, rc, err, errlen);
}

/* -------------------------------------------------------------- deleting */

static enum qb_err s3st_delete_many(struct storage *st, const char *const *keys, size_t n,
                                    char *err, size_t errlen)
{
    struct s3st *s = (struct s3st *)st;
    char **full = xcalloc(2 * n, sizeof *full);
    enum qb_err rc = QB_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = full_key(s, keys[i], &full[2 * i], err, errlen);
        if (!rc) /* a pair never straddles a 1,000-key batch: 1,000 is even */
            full[2 * i + 1] = xasprintf("%s%s", full[2 * i], STORAGE_SIDECAR_SUFFIX);
    }
    if (!rc)
        rc = explain(s, s3_delete_objects(s->c, (const char *const *)full, 2 * n, err, errlen), err,
                     errlen);
    for (size_t i = 0; i < 2 * n; i++)
        free(full[i]);
    free(full);
    return rc;
}

/* ----------------------------------------------------------- Object Lock */

enum qb_err storage_s3_object_lock(struct storage *st, struct storage_lock_info *out, char *err,
                                   size_t errlen)
{
    struct s3st *s = (struct s3st *)st;
    struct s3_object_lock ol;
    memset(out, 0, sizeof *out);
    out->supported = true;
    enum qb_err rc = explain(s, s3_get_object_lock(s->c, &ol, err, errlen), err, errlen);
    if (rc)
        return rc;
    out->enabled = ol.enabled;
    qb_strlcpy(out->mode, ol.mode, sizeof out->mode);
    out->days = ol.days;
    out->years = ol.years;
    return QB_OK;
}

void storage_s3_set_lock(struct storage *st, const char *mode, int64_t until)
{
    struct s3st *s = (struct s3st *)st;
    s->lock_mode[0] = s->lock_until[0] = '\0';
    if (!mode)
        return;
    qb_strlcpy(s->lock_mode, mode, sizeof s->lock_mode);
    qb_format_time(until, s->lock_until, sizeof s->lock_until);
}

enum qb_err storage_s3_delete_versions(struct storage *st, const char *const *keys, size_t n,
                                       char *err, size_t errlen)
{
    struct s3st *s = (struct s3st *)st;
    enum qb_err rc = QB_OK;
    /* The object before its sidecar: when S3 refuses the object (still
     * locked) its checksum stays with it. */
    for (size_t i = 0; i < n && !rc; i++) {
        char *full = NULL;
        rc = full_key(s, keys[i], &full, err, errlen);
        if (!rc) {
            char *side = xasprintf("%s%s", full, STORAGE_SIDECAR_SUFFIX);
            rc = s3_delete_versions(s->c, full, err, errlen);
            if (!rc)
                rc = s3_delete_versions(s->c, side, err, errlen);
            free(side);
        }
        free(full);
    }
    return explain(s, rc, err, errlen);
}

static const struct storage_ops s3_ops = {
    .close = s3st_close,
    .check = s3st_check,
    .write_begin = s3st_write_begin,
    .write = s3st_write,
    .write_finish = s3st_write_finish,
    .write_abort = s3st_write_abort,
    .read = s3st_read,
    .head = s3st_head,
    .list = s3st_list,
    .delete_many = s3st_delete_many,
};

/* ---- janitor (storage_janitor.c) -------------------------------------- */

struct upload_ids {
    const char *key;
    char **ids;
    size_t n;
};

static enum qb_err collect_upload(void *ud, const char *key, const char *upload_id)
{
    struct upload_ids *u = ud;
    /* The listing is by prefix; only uploads of exactly this key count. */
    if (strcmp(key, u->key) != 0)
        return QB_OK;
    u->ids = xrealloc(u->ids, (u->n + 1) * sizeof *u->ids);
    u->ids[u->n++] = xstrdup(upload_id);
    return QB_OK;
}

enum qb_err storage_s3_discard_uploads(struct storage *st, const char *key, char *err,
                                       size_t errlen)
{
    struct s3st *s = (struct s3st *)st;
    char *full = NULL;
    enum qb_err rc = full_key(s, key, &full, err, errlen);
    if (rc)
        return rc;
    struct upload_ids u = {.key = full};
    rc = s3_list_multipart_uploads(s->c, full, collect_upload, &u, err, errlen);
    for (size_t i = 0; i < u.n; i++) {
        if (!rc)
            rc = s3_abort_multipart(s->c, full, u.ids[i], err, errlen);
        free(u.ids[i]);
    }
    free(u.ids);
    free(full);
    return rc;
}

/* ---- presigned URLs (storage_urls.c) ---------------------------------- */

enum qb_err storage_s3_presign(struct storage *st, const char *key, int64_t ttl_s, char **url,
                               char *err, size_t errlen)
{
    struct s3st *s = (struct s3st *)st;
    char *full = NULL;
    enum qb_err rc = full_key(s, key, &full, err, errlen);
    if (!rc)
        rc = s3_presign_get(s->c, full, ttl_s, url, err, errlen);
    free(full);
    return rc;
}

/* ------------------------------------------------------- server-side copy */

bool storage_s3_can_copy(const struct storage *dst, const struct storage *src, uint64_t size)
{
    (void)size; /* any size: CopyObject, or UploadPartCopy beyond 5 GiB */
    return dst->kind == STORAGE_S3 && src->kind == STORAGE_S3 &&
           s3_copy_possible(((const struct s3st *)dst)->c, ((const struct s3st *)src)->c);
}

/* The object first, then its sidecar, as a multipart write does: until
 * the sidecar exists HEAD finds the SHA-256 in the copy's metadata. */
enum qb_err storage_s3_copy(struct storage *dst, const char *key, struct storage *src,
                            const char *src_key, uint64_t size, const char *sha256,
                            struct storage_write_result *res, char *err, size_t errlen)
{
    struct s3st *d = (struct s3st *)dst, *s = (struct s3st *)src;
    char *full = NULL, *from = NULL, *side = NULL, *body = NULL;
    memset(res, 0, sizeof *res);
    enum qb_err rc = full_key(d, key, &full, err, errlen);
    if (!rc)
        rc = full_key(s, src_key, &from, err, errlen);
    if (!rc && size <= S3_COPY_MAX) {
        rc = s3_copy_object(d->c, s->c, from, full, sha256, res->etag, err, errlen);
    } else if (!rc) {
        /* The destination's part size, grown to stay within 10,000 parts. */
        uint64_t part = s3_client_part_size(d->c), min = (size + 9999) / 10000;
        part = part > min ? part : (min + (1u << 20) - 1) / (1u << 20) * (1u << 20);
        rc = s3_copy_object_multipart(d->c, s->c, from, full, size, part, sha256, res->etag, err,
                                      errlen);
    }
    rc = explain(d, rc, err, errlen);
    if (!rc) {
        const char *base = strrchr(full, '/');
        side = xasprintf("%s%s", full, STORAGE_SIDECAR_SUFFIX);
        body = xasprintf("%s  %s\n", sha256, base ? base + 1 : full);
        rc = s3_put_object(d->c, side, body, strlen(body), NULL, err, errlen);
        if (rc) { /* nothing half-done stays: the object goes too */
            char derr[QB_ERRBUF_SIZE];
            if (s3_delete_object(d->c, full, derr, sizeof derr))
                log_warn("storage.copy_cleanup_failed", "key=%s error=%s", log_q(full),
                         log_q(derr));
        }
    }
    if (!rc) {
        res->size = size;
        qb_strlcpy(res->sha256, sha256, sizeof res->sha256);
        res->location = xasprintf("s3://%s/%s", d->bucket, full);
    }
    free(full);
    free(from);
    free(side);
    free(body);
    return rc;
}
