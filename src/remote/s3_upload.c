/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_upload.c -- the streaming multipart writer of s3_client.h
 * (s3_upload_begin / write / finish / abort).  Owns the part buffers, the
 * worker threads that upload them, and the whole-object SHA-256.  The
 * protocol's requests (initiate, complete, abort) are s3_multipart.c's.
 *
 * DESIGN
 *   The writer fills one part buffer at a time; a full buffer is queued
 *   only when more bytes arrive, so an object that fits in one part is sent
 *   with a single PUT at finish.  Queued parts are uploaded by
 *   parts_in_flight workers, each with its own http_client.  At most
 *   parts_in_flight + 1 buffers ever exist: every worker can be sending a
 *   part while the writer fills the next, and the writer blocks for a free
 *   buffer, which bounds memory to part_size * (parts_in_flight + 1)
 *   whatever the object size.
 *   Part size: with a size hint, max(configured, hint / 9000), so the hint
 *   fits with room to spare; either way it doubles every 1,000 parts past
 *   the expected count (1,000 without a hint, 9,000 with), so any object up
 *   to 5 TiB fits in 10,000 parts and memory only grows for huge objects.
 *   Ramp: when the hint says the object needs several parts, the upload is
 *   created with the first write and the first parts are small (8 MiB,
 *   doubling up to the part size), so parts go out after 8 MiB rather than
 *   after a whole part, and every worker is busy sooner.  The ramp's
 *   parts hold less than full ones, which costs at most a few of the 1,000
 *   spare parts; it does not apply without a hint, so small objects of
 *   unknown size stay single PUTs.
 *   The whole-object SHA-256 is computed by the writer as bytes arrive.
 *
 * THREAD SAFETY NOTES
 *   The writer thread and its workers share u->mu, which guards the part
 *   queue, the free-buffer pool, the ETag table and the failure state; it
 *   is never held across a network call, and no other lock is taken under
 *   it.  u->cancel is atomic so a worker's retry loop can read it unlocked.
 */
#include "s3_client.h"

#include "s3_internal.h"
#include "util/log.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct s3_part {
    unsigned number; /* 1-based S3 part number */
    char *data;
    size_t len, cap;
};

struct s3_upload {
    struct s3_client *c;
    char *key;
    struct s3_put_options opt; /* content_type and meta point into hdrs */
    struct hlist hdrs;         /* object headers for PUT / initiate */
    bool sidecar;
    bool locked;                  /* Object Lock headers: parts carry Content-MD5 */
    char *lock_mode, *lock_until; /* copies, for the sidecar's PUT */
    bool ramp;                    /* small first parts: the hint says multipart */
    uint64_t base_part, grow_after;
    EVP_MD_CTX *sha;
    uint64_t total;
    struct s3_part *cur; /* being filled by the writer */
    unsigned next_number;
    char *upload_id;
    atomic_bool cancel; /* workers: stop retrying, drop queued parts */

    /* Guarded by mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct s3_part **pool; /* free buffers */
    size_t n_pool;
    struct s3_part **queue; /* FIFO of full parts */
    size_t q_head, q_len;
    unsigned n_bufs;   /* buffers allocated, <= max_bufs */
    unsigned max_bufs; /* parts_in_flight + 1 */
    char **etags;      /* [number - 1] */
    size_t n_etags;
    bool closing; /* no more parts will be queued */
    enum qb_err failed;
    char failed_err[QB_ERRBUF_SIZE];

    pthread_t *threads;
    unsigned n_threads;
};

/* ------------------------------------------------------------------ writer */

/* First part of the ramp: S3's 5 MiB minimum would do, but 8 MiB keeps
 * the request count down at no cost in start-up time worth measuring. */
#define RAMP_FIRST_PART (8ull * 1024 * 1024)

static uint64_t part_size_for(const struct s3_upload *u, unsigned number)
{
    uint64_t sz = u->base_part;
    if (number > u->grow_after)
        for (uint64_t s = (number - 1 - u->grow_after) / 1000 + 1; s && sz < S3_MAX_PART_SIZE; s--)
            sz *= 2;
    if (u->ramp && number <= 16 && (RAMP_FIRST_PART << (number - 1)) < sz)
        sz = RAMP_FIRST_PART << (number - 1);
    return sz > S3_MAX_PART_SIZE ? S3_MAX_PART_SIZE : sz;
}

/* Records the first failure; later ones are consequences.  Caller holds mu. */
static void set_failed(struct s3_upload *u, enum qb_err rc, const char *msg)
{
    if (u->failed)
        return;
    u->failed = rc;
    qb_strlcpy(u->failed_err, msg, sizeof u->failed_err);
    atomic_store(&u->cancel, true);
    pthread_cond_broadcast(&u->cv);
}

static enum qb_err upload_part(struct s3_upload *u, struct http_client *hc, struct s3_part *p,
                               char **etag, char *err, size_t errlen)
{
    struct s3_client *c = u->c;
    struct hlist h = {0};
    struct http_client_response resp = {0};
    char hash[SIGV4_HEX_LEN + 1], md5[32];
    char *eid = sigv4_uri_encode(u->upload_id, strlen(u->upload_id), false);
    char *query = xasprintf("partNumber=%u&uploadId=%s", p->number, eid);
    if (c->unsigned_payload)
        qb_strlcpy(hash, SIGV4_UNSIGNED_PAYLOAD, sizeof hash);
    else
        sigv4_sha256_hex(p->data, p->len, hash); /* S3 verifies it */
    if (c->unsigned_payload || u->locked) {      /* AWS wants an MD5 on locked uploads */
        s3_md5_base64(p->data, p->len, md5);
        s3_hl_add(&h, "Content-MD5", md5);
    }
    struct s3_req r = {.method = "PUT",
                       .key = u->key,
                       .query = query,
                       .hdrs = h.v,
                       .n_hdrs = h.n,
                       .body = p->data,
                       .body_len = p->len,
                       .payload_hash = hash,
                       .cancel = &u->cancel};
    enum qb_err rc = s3_call(c, hc, &r, &resp, err, errlen);
    if (!rc) {
        const char *e = http_client_response_header(&resp, "ETag");
        if (e && *e)
            *etag = xstrdup(e);
        else
            rc = qb_failf(QB_ERR_REMOTE, err, errlen, "S3 UploadPart %s #%u: no ETag", u->key,
                          p->number);
    }
    http_client_response_free(&resp);
    s3_hl_free(&h);
    free(query);
    free(eid);
    return rc;
}

static void *upload_worker(void *arg)
{
    struct s3_upload *u = arg;
    struct http_client *hc = NULL;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = http_client_create(&u->c->http_opt, &hc, err, sizeof err);
    pthread_mutex_lock(&u->mu);
    if (rc)
        set_failed(u, rc, err);
    for (;;) {
        while (!u->q_len && !u->closing && !u->failed)
            pthread_cond_wait(&u->cv, &u->mu);
        if (!u->q_len && (u->closing || u->failed))
            break;
        struct s3_part *p = u->queue[u->q_head];
        u->q_head = (u->q_head + 1) % u->max_bufs;
        u->q_len--;
        if (!u->failed) {
            pthread_mutex_unlock(&u->mu);
            char *etag = NULL;
            rc = upload_part(u, hc, p, &etag, err, sizeof err);
            pthread_mutex_lock(&u->mu);
            if (rc) {
                set_failed(u, rc, err);
            } else {
                if (p->number > u->n_etags) {
                    size_t n = u->n_etags ? u->n_etags : 64;
                    while (n < p->number)
                        n *= 2;
                    u->etags = xrealloc(u->etags, n * sizeof *u->etags);
                    memset(u->etags + u->n_etags, 0, (n - u->n_etags) * sizeof *u->etags);
                    u->n_etags = n;
                }
                u->etags[p->number - 1] = etag;
            }
        }
        u->pool[u->n_pool++] = p; /* back to the writer, uploaded or dropped */
        pthread_cond_broadcast(&u->cv);
    }
    pthread_mutex_unlock(&u->mu);
    http_client_destroy(hc);
    return NULL;
}

enum qb_err s3_upload_begin(struct s3_client *c, const char *key, const struct s3_put_options *opt,
                            struct s3_upload **out, char *err, size_t errlen)
{
    if (!key || !*key)
        return qb_failf(QB_ERR_INVALID, err, errlen, "s3: empty object key");
    struct s3_upload *u = xcalloc(1, sizeof *u);
    u->c = c;
    u->key = xstrdup(key);
    s3_object_headers(c, opt, &u->hdrs);
    u->sidecar = opt && opt->sha256_sidecar;
    u->locked = s3_headers_locked(&u->hdrs);
    if (u->locked) {
        u->lock_mode = xstrdup(opt->lock_mode);
        u->lock_until = xstrdup(opt->lock_until);
    }
    uint64_t hint = opt ? opt->size_hint : 0;
    u->base_part = c->part_size;
    u->grow_after = hint ? 9000 : 1000;
    if (hint && (hint + 8999) / 9000 > u->base_part)
        u->base_part =
            s3_clamp_part(((hint + 8999) / 9000 + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1));
    /* Two full parts or more: surely multipart, so start it at once. */
    u->ramp = hint / 2 >= u->base_part && u->base_part > RAMP_FIRST_PART;
    u->next_number = 1;
    u->max_bufs = c->parts_in_flight + 1;
    u->sha = EVP_MD_CTX_new();
    if (!u->sha || !EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(u->sha);
        s3_hl_free(&u->hdrs);
        free(u->lock_mode);
        free(u->lock_until);
        free(u->key);
        free(u);
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "s3: cannot start SHA-256");
    }
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, NULL);
    u->pool = xcalloc(u->max_bufs, sizeof *u->pool);
    u->queue = xcalloc(u->max_bufs, sizeof *u->queue);
    *out = u;
    return QB_OK;
}

/* POST ?uploads, then start the workers. */
static enum qb_err initiate(struct s3_upload *u, char *err, size_t errlen)
{
    struct s3_client *c = u->c;
    enum qb_err rc = s3_initiate_multipart(c, u->key, &u->hdrs, &u->upload_id, err, errlen);
    if (rc)
        return rc;
    u->threads = xcalloc(c->parts_in_flight, sizeof *u->threads);
    for (unsigned i = 0; i < c->parts_in_flight; i++) {
        if (pthread_create(&u->threads[i], NULL, upload_worker, u) != 0)
            return qb_failf(QB_ERR_INTERNAL, err, errlen, "s3: cannot start upload thread");
        u->n_threads++;
    }
    return QB_OK;
}

static enum qb_err queue_part(struct s3_upload *u, struct s3_part *p, char *err, size_t errlen)
{
    if (!u->upload_id) {
        enum qb_err rc = initiate(u, err, errlen);
        if (rc) {
            pthread_mutex_lock(&u->mu); /* some workers may have started */
            u->pool[u->n_pool++] = p;
            pthread_mutex_unlock(&u->mu);
            return rc;
        }
    }
    pthread_mutex_lock(&u->mu);
    /* Cannot be full: there are only max_bufs buffers. */
    QB_ASSERT(u->q_len < u->max_bufs);
    u->queue[(u->q_head + u->q_len) % u->max_bufs] = p;
    u->q_len++;
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    return QB_OK;
}

/* Hands the writer a free buffer sized for the next part, waiting if all
 * max_bufs buffers are queued or uploading. */
static enum qb_err take_buffer(struct s3_upload *u, char *err, size_t errlen)
{
    struct s3_part *p = NULL;
    if (u->next_number > S3_MAX_PARTS) /* only reachable past 5 TiB */
        return qb_failf(QB_ERR_INVALID, err, errlen, "s3: %s exceeds %d parts", u->key,
                        S3_MAX_PARTS);
    pthread_mutex_lock(&u->mu);
    while (!u->failed && !u->n_pool && u->n_bufs >= u->max_bufs)
        pthread_cond_wait(&u->cv, &u->mu);
    enum qb_err rc = u->failed;
    if (rc) {
        qb_failf(rc, err, errlen, "%s", u->failed_err);
    } else if (u->n_pool) {
        p = u->pool[--u->n_pool];
    } else {
        p = xcalloc(1, sizeof *p);
        u->n_bufs++;
    }
    pthread_mutex_unlock(&u->mu);
    if (rc)
        return rc;
    size_t need = (size_t)part_size_for(u, u->next_number);
    /* A ramp part gets a whole part's buffer: pages it does not touch cost
     * no memory, and the buffer need not be freed and allocated again when
     * it comes back for a full part. */
    if (need < u->base_part)
        need = (size_t)u->base_part;
    if (p->cap < need) { /* free + malloc: the old contents are not needed */
        free(p->data);
        p->data = xmalloc(need);
        p->cap = need;
    }
    p->len = 0;
    p->number = u->next_number++;
    u->cur = p;
    return QB_OK;
}

enum qb_err s3_upload_write(struct s3_upload *u, const void *data, size_t len, char *err,
                            size_t errlen)
{
    const char *d = data;
    enum qb_err rc = QB_OK;
    if (u->ramp && !u->upload_id && len > 0) {
        rc = initiate(u, err, errlen);
        if (rc)
            return rc;
    }
    while (len > 0) {
        if (u->cur && u->cur->len == part_size_for(u, u->cur->number)) {
            struct s3_part *full = u->cur;
            u->cur = NULL;
            rc = queue_part(u, full, err, errlen);
            if (rc)
                return rc;
        }
        if (!u->cur) {
            rc = take_buffer(u, err, errlen);
            if (rc)
                return rc;
        }
        size_t room = (size_t)part_size_for(u, u->cur->number) - u->cur->len;
        size_t n = len < room ? len : room;
        memcpy(u->cur->data + u->cur->len, d, n);
        EVP_DigestUpdate(u->sha, d, n);
        u->cur->len += n;
        u->total += n;
        d += n;
        len -= n;
    }
    return QB_OK;
}

/* Stops and joins the workers: closing lets them drain the queue, a
 * failure (or cancel) makes them drop what is queued. */
static void join_workers(struct s3_upload *u, bool cancel)
{
    pthread_mutex_lock(&u->mu);
    u->closing = true;
    if (cancel)
        set_failed(u, QB_ERR_CANCELLED, "upload aborted");
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    for (unsigned i = 0; i < u->n_threads; i++)
        pthread_join(u->threads[i], NULL);
    u->n_threads = 0;
}

static void upload_free(struct s3_upload *u)
{
    if (u->cur)
        u->pool[u->n_pool++] = u->cur;
    for (size_t i = 0; i < u->n_pool; i++) {
        free(u->pool[i]->data);
        free(u->pool[i]);
    }
    for (size_t i = 0; i < u->n_etags; i++)
        free(u->etags[i]);
    free(u->etags);
    free(u->pool);
    free(u->queue);
    free(u->threads);
    EVP_MD_CTX_free(u->sha);
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->cv);
    s3_hl_free(&u->hdrs);
    free(u->lock_mode);
    free(u->lock_until);
    free(u->upload_id);
    free(u->key);
    free(u);
}

void s3_upload_abort(struct s3_upload *u)
{
    if (!u)
        return;
    join_workers(u, true);
    if (u->upload_id) {
        char err[QB_ERRBUF_SIZE], q[QB_ERRBUF_SIZE + 8];
        /* All workers are joined, so no part can land after the abort. */
        enum qb_err rc = s3_abort_multipart(u->c, u->key, u->upload_id, err, sizeof err);
        if (rc && rc != QB_ERR_NOT_FOUND)
            log_warn("s3.abort_failed", "error=%s", log_quote(q, sizeof q, err));
    }
    upload_free(u);
}

static enum qb_err complete(struct s3_upload *u, unsigned nparts, char *err, size_t errlen)
{
    struct http_client_response resp = {0};
    for (unsigned i = 0; i < nparts; i++)
        if (i >= u->n_etags || !u->etags[i])
            return qb_failf(QB_ERR_INTERNAL, err, errlen, "s3: part %u of %s has no ETag", i + 1,
                            u->key);
    enum qb_err rc = s3_complete_multipart(
        u->c, u->key, u->upload_id, (const char *const *)u->etags, nparts, &resp, err, errlen);
    http_client_response_free(&resp);
    return rc;
}

/* The ETag S3 gives an object completed from the first nparts parts:
 * hex MD5 of the concatenated binary part MD5s, "-", nparts (the part
 * ETags are those MD5s in hex, unless SSE-KMS or SSE-C made them opaque).
 * False when a part ETag is not an MD5: then nothing can be proven. */
static bool multipart_etag(const struct s3_upload *u, unsigned nparts, char *out, size_t outlen)
{
    return nparts <= u->n_etags &&
           s3_multipart_etag((const char *const *)u->etags, nparts, out, outlen);
}

/* A CompleteMultipartUpload whose answer was lost (the connection dropped
 * after S3 had assembled the object) is retried by s3_call, and the retry
 * finds no such upload: the first attempt did the work.  It also covers a
 * Complete whose every answer was lost.  True only when the object at the
 * key is provably this upload: its size and its multipart ETag, computed
 * from the part ETags S3 returned, match.  Anything else (no object, an
 * object another writer put there, opaque ETags) stays a failure. */
static bool completed_anyway(struct s3_upload *u, unsigned nparts)
{
    char want[48], err[QB_ERRBUF_SIZE];
    struct s3_object_info info;
    if (!multipart_etag(u, nparts, want, sizeof want))
        return false;
    if (s3_head_object(u->c, u->key, &info, err, sizeof err))
        return false;
    bool same = info.size == u->total && s3_etag_equal(info.etag, want);
    if (same)
        log_info("s3.complete_confirmed", "parts=%u size=%llu", nparts,
                 (unsigned long long)u->total);
    else
        log_warn("s3.complete_unconfirmed", "size=%llu want_size=%llu",
                 (unsigned long long)info.size, (unsigned long long)u->total);
    s3_object_info_free(&info);
    return same;
}

/* s without surrounding quotes, as (pointer, length). */
static const char *unquote(const char *s, size_t *len)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
        return *len = n - 2, s + 1;
    return *len = n, s ? s : "";
}

bool s3_etag_equal(const char *etag, const char *want)
{
    size_t gl, wl;
    const char *g = unquote(etag, &gl), *w = unquote(want, &wl);
    return gl > 0 && gl == wl && strncasecmp(g, w, gl) == 0;
}

static enum qb_err write_sidecar(struct s3_upload *u, const char *sha, char *err, size_t errlen)
{
    const char *base = strrchr(u->key, '/');
    char *key = xasprintf("%s.sha256", u->key);
    char *body = xasprintf("%s  %s\n", sha, base ? base + 1 : u->key);
    /* Locked like its object: deleting the checksum would make a locked
     * object unverifiable. */
    struct s3_put_options opt = {.lock_mode = u->lock_mode, .lock_until = u->lock_until};
    enum qb_err rc = s3_put_object(u->c, key, body, strlen(body), &opt, err, errlen);
    free(key);
    free(body);
    return rc;
}

/* Locks the completed multipart object again, explicitly: Ceph RGW 16
 * ignores the Object Lock headers of CreateMultipartUpload (AWS honours
 * them; setting the same retention again is allowed).  If that fails the
 * object is unlocked, so it is removed and the write fails: never an
 * unlocked object where a locked one was asked for. */
static enum qb_err lock_completed(struct s3_upload *u, char *err, size_t errlen)
{
    enum qb_err rc =
        s3_put_object_retention(u->c, u->key, u->lock_mode, u->lock_until, err, errlen);
    if (rc) {
        char e2[QB_ERRBUF_SIZE];
        if (s3_delete_versions(u->c, u->key, e2, sizeof e2))
            log_warn("s3.cleanup_failed", "what=unlocked_object");
    }
    return rc;
}

enum qb_err s3_upload_finish(struct s3_upload *u, struct s3_upload_result *res, char *err,
                             size_t errlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char sha[SIGV4_HEX_LEN + 1];
    enum qb_err rc = QB_OK;
    EVP_DigestFinal_ex(u->sha, md, &mdlen);
    sigv4_hex(md, mdlen, sha);
    unsigned parts = 0;
    char etag[48] = "";
    int64_t t0 = qb_mono_ms(), t1;
    if (!u->upload_id) {
        /* Smaller than one part: one PUT, which can carry the SHA-256 as
         * metadata because it is known before the request starts. */
        rc = s3_put_with_sha(u->c, u->key, u->cur ? u->cur->data : "", u->cur ? u->cur->len : 0,
                             sha, &u->hdrs, etag, sizeof etag, err, errlen);
        t1 = qb_mono_ms();
    } else {
        if (u->cur && u->cur->len) {
            struct s3_part *last = u->cur;
            u->cur = NULL;
            rc = queue_part(u, last, err, errlen);
        }
        parts = u->next_number - 1;
        join_workers(u, rc != QB_OK);
        t1 = qb_mono_ms();
        if (!rc && u->failed)
            rc = qb_failf(u->failed, err, errlen, "%s", u->failed_err);
        if (!rc) {
            rc = complete(u, parts, err, errlen);
            if (rc && completed_anyway(u, parts))
                rc = QB_OK;
        }
        char want[40]; /* 32 hex digits, "-", up to 5 digits */
        if (!rc && multipart_etag(u, parts, want, sizeof want))
            snprintf(etag, sizeof etag, "\"%s\"", want);
        if (!rc && u->locked)
            rc = lock_completed(u, err, errlen);
    }
    if (!rc && u->sidecar) {
        rc = write_sidecar(u, sha, err, errlen);
        if (rc) { /* an object without its checksum must not look complete */
            char e2[QB_ERRBUF_SIZE];
            if (s3_delete_object(u->c, u->key, e2, sizeof e2))
                log_warn("s3.cleanup_failed", "what=object_without_sidecar");
        }
    }
    if (rc) {
        s3_upload_abort(u);
        return rc;
    }
    if (res) {
        res->size = u->total;
        qb_strlcpy(res->sha256, sha, sizeof res->sha256);
        res->parts = parts;
        qb_strlcpy(res->etag, etag, sizeof res->etag);
        res->drain_ms = t1 - t0;
        res->complete_ms = qb_mono_ms() - t1;
    }
    upload_free(u);
    return QB_OK;
}
