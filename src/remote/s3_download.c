/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_download.c -- the parallel ranged reader of s3_client.h (s3_download):
 * one object, or a range of it, fetched as part-sized ranges by several
 * workers and handed to the caller's callback in order.  Owns the part
 * buffers, the worker threads that fill them, and the checks that every
 * range belongs to the same object.
 *
 * DESIGN
 *   The calling thread sends the first GET itself, for the first two parts
 *   of the wanted range (the "head"), and streams its body straight to the
 *   callback, so an object (or range) of up to two parts is one GET with no
 *   thread and no buffer, as a plain s3_get_object.  Its answer names the
 *   object's size (Content-Range) and ETag; if more is wanted, the caller
 *   starts min(download_parts_in_flight, parts left) workers right there,
 *   while the head is still streaming.  Each worker takes the next part
 *   (download_part_size bytes) and a free buffer, GETs that range with
 *   If-Match on the head's ETag, and marks it done; once the head has
 *   ended, the caller delivers the done parts in order and frees their
 *   buffers.  A part may only be taken when its buffer is free: parts_in_
 *   flight + 1 buffers, so every worker can be fetching while the caller
 *   delivers, which bounds memory to download_part_size * (parts_in_flight
 *   + 1) whatever the object size.  The buffer of a part is allocated when
 *   first needed and reused by part + slots.
 *   Retries: each range is its own retry loop under the client's policy
 *   (util/retry.h, the one layer): a transient failure resumes the range
 *   from its next byte, and progress restores the budget, as s3_get_object
 *   does.  Every answer is checked before its bytes are used: a 206 whose
 *   Content-Range is exactly the asked range of an object of the head's
 *   size, with the head's ETag.  S3 answers a replaced object with 412
 *   (If-Match), reported as "the object changed while it was read".
 *   Stopping: the first failure (a range out of retries, a mismatch, the
 *   callback's own error) sets `cancel`; every worker's body callback
 *   checks it, so a transfer in progress ends at its next chunk, and a
 *   waiting worker is woken.  All workers are joined before s3_download
 *   returns, their http_clients destroyed with them.
 *
 * THREAD SAFETY NOTES
 *   d->mu guards the part counters, the slots' part/len/done fields and the
 *   failure; it is never held across a network call or the callback.  A
 *   slot's bytes belong to the worker that took it until it is marked done
 *   under mu, then to the caller until it advances `delivering` under mu.
 *   The head's results (size, ETag, end) are written before any worker is
 *   started and only read afterwards.  `cancel` is atomic so transfers and
 *   retry loops read it unlocked.
 *
 * Caveats
 *   A worker sleeping out a retry backoff when the read is cancelled
 *   finishes that sleep (at most s3_retry_max_ms) before it is joined; one
 *   whose server stops sending is ended by the stall timeout
 *   (low_speed_time_s).
 */
#include "s3_client.h"

#include "s3_internal.h"
#include "util/log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes handed to the callback per call from a buffered part: small enough
 * that a rate limit or a ring downstream sees a steady flow. */
#define DELIVER_CHUNK (1u << 20)

struct dl_slot {
    uint64_t part; /* buffered part held (1-based; 0: none yet) */
    char *data;    /* part_size bytes, allocated on first use */
    size_t len;    /* bytes of the part, once done */
    bool done;
};

struct dl {
    struct s3_client *c;
    const char *key;
    uint64_t part_size;
    uint64_t start;      /* first wanted byte */
    uint64_t end;        /* one past the last wanted byte (clipped by the head's answer) */
    uint64_t body_start; /* first byte after the head */
    uint64_t n_parts;    /* buffered parts in [body_start, end) */
    uint64_t total;      /* the object's size, from the head's answer */
    char etag[128];      /* the head's ETag; every range must match it */
    atomic_bool cancel;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Guarded by mu. */
    uint64_t next_part;  /* next buffered part a worker takes (1-based) */
    uint64_t delivering; /* the part the caller delivers next (1-based) */
    struct dl_slot *slots;
    unsigned n_slots;
    enum qb_err failed;
    char failed_err[QB_ERRBUF_SIZE];

    pthread_t *threads;
    unsigned n_threads;
};

/* One range GET in progress: [from, to) of the object. */
struct range_get {
    struct dl *d;
    const struct http_client_response *resp; /* of the try in progress */
    bool head;                               /* the first GET: learns size and ETag */
    uint64_t from, to;
    uint64_t got; /* bytes of the range received so far */
    bool checked; /* this try's answer passed check_answer */
    char *buf;    /* a worker's: the part buffer; NULL: to the callback */
    s3_write_fn fn;
    void *ud;
    bool user_failed; /* the callback said stop */
};

static enum qb_err start_workers(struct dl *d, char *err, size_t errlen);

/* Records the first failure and stops everyone.  Caller holds mu. */
static void set_failed(struct dl *d, enum qb_err rc, const char *msg)
{
    if (!d->failed) {
        d->failed = rc;
        qb_strlcpy(d->failed_err, msg, sizeof d->failed_err);
    }
    atomic_store(&d->cancel, true);
    pthread_cond_broadcast(&d->cv);
}

/* "bytes A-B/T" into a, b, t. */
static bool parse_content_range(const char *v, uint64_t *a, uint64_t *b, uint64_t *t)
{
    unsigned long long x, y, z;
    int used = 0;
    if (!v || sscanf(v, "bytes %llu-%llu/%llu%n", &x, &y, &z, &used) != 3 || v[used] || y < x ||
        y >= z)
        return false;
    *a = x;
    *b = y;
    *t = z;
    return true;
}

/* Checks a try's answer before its first byte is used: the asked range
 * exactly, of the object the head saw.  The head's answer fixes size,
 * ETag and the end of the read, and starts the workers. */
static enum qb_err check_answer(struct range_get *g, char *err, size_t errlen)
{
    struct dl *d = g->d;
    const char *cr = http_client_response_header(g->resp, "Content-Range");
    const char *etag = http_client_response_header(g->resp, "ETag");
    const char *cl = http_client_response_header(g->resp, "Content-Length");
    uint64_t a, b, t = cl ? strtoull(cl, NULL, 10) : 0;
    if (!cr && g->head && !d->etag[0] && g->from == 0 && d->end == UINT64_MAX && t > 0) {
        /* A server may ignore Range (RFC 9110) and send the whole object
         * with 200: when all of it was wanted, read it as one stream. */
        a = 0;
        b = t - 1;
        g->to = t;
    } else if (!cr) {
        return qb_failf(QB_ERR_REMOTE, err, errlen, "S3 GET %s: range ignored (no Content-Range)",
                        d->key);
    } else if (!parse_content_range(cr, &a, &b, &t)) {
        return qb_failf(QB_ERR_REMOTE, err, errlen, "S3 GET %s: bad Content-Range \"%s\"", d->key,
                        cr);
    }
    if (g->head && !d->etag[0]) {
        if (!etag || !*etag || strlen(etag) >= sizeof d->etag)
            return qb_failf(QB_ERR_REMOTE, err, errlen, "S3 GET %s: answer without an ETag",
                            d->key);
        qb_strlcpy(d->etag, etag, sizeof d->etag);
        d->total = t;
        if (d->end > t)
            d->end = t; /* a range past the end is clipped to it */
        if (g->to > d->end)
            g->to = d->end;
        d->body_start = g->to;
        d->n_parts = (d->end - d->body_start + d->part_size - 1) / d->part_size;
    } else if (!s3_etag_equal(etag, d->etag) || t != d->total) {
        return qb_failf(QB_ERR_CONFLICT, err, errlen,
                        "S3 GET %s: the object changed while it was read (ETag %s, size %" PRIu64
                        "; was %s, %" PRIu64 ")",
                        d->key, etag ? etag : "none", t, d->etag, d->total);
    }
    if (a != g->from + g->got || b + 1 != g->to)
        return qb_failf(QB_ERR_REMOTE, err, errlen,
                        "S3 GET %s: asked bytes %" PRIu64 "-%" PRIu64 ", got %" PRIu64 "-%" PRIu64,
                        d->key, g->from + g->got, g->to - 1, a, b);
    g->checked = true;
    if (g->head && d->n_parts && !d->slots) /* once: a resumed head checks again */
        return start_workers(d, err, errlen);
    return QB_OK;
}

static enum qb_err range_sink(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct range_get *g = ud;
    enum qb_err rc;
    if (atomic_load(&g->d->cancel))
        return qb_failf(QB_ERR_CANCELLED, err, errlen, "S3 GET %s: read stopped", g->d->key);
    if (!g->checked) {
        rc = check_answer(g, err, errlen);
        if (rc)
            return rc;
    }
    if (len > g->to - g->from - g->got)
        return qb_failf(QB_ERR_REMOTE, err, errlen, "S3 GET %s: more bytes than the range asked",
                        g->d->key);
    if (g->buf) {
        memcpy(g->buf + g->got, data, len);
    } else {
        rc = g->fn(g->ud, data, len, err, errlen);
        if (rc) {
            g->user_failed = true;
            return rc;
        }
    }
    g->got += len;
    return QB_OK;
}

/* GETs [g->from, g->to) on hc under the client's retry policy, resuming
 * from the next byte after a transient failure. */
static enum qb_err get_range(struct range_get *g, struct http_client *hc, char *err, size_t errlen)
{
    struct dl *d = g->d;
    struct http_client_response resp = {0};
    struct retry rt;
    enum qb_err rc;
    g->resp = &resp;
    retry_start(&rt, &d->c->retry);
    for (;;) {
        struct hlist h = {0};
        char range[64];
        snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, g->from + g->got, g->to - 1);
        s3_hl_add(&h, "Range", range);
        if (d->etag[0]) /* only the very same object */
            s3_hl_add(&h, "If-Match", d->etag);
        struct s3_req r = {.method = "GET",
                           .key = d->key,
                           .hdrs = h.v,
                           .n_hdrs = h.n,
                           .write_fn = range_sink,
                           .write_ud = g,
                           .cancel = &d->cancel};
        uint64_t before = g->got;
        g->checked = false;
        rc = s3_call(d->c, hc, &r, &resp, err, errlen); /* one try: it streams */
        s3_hl_free(&h);
        if (rc == QB_ERR_CONFLICT && resp.status == 412)
            rc = qb_failf(QB_ERR_CONFLICT, err, errlen,
                          "S3 GET %s: the object changed while it was read (ETag no longer %s)",
                          d->key, d->etag);
        if (!rc && g->got != g->to - g->from) /* a 2xx without the bytes asked */
            rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                          "S3 GET %s: short range: %" PRIu64 " of %" PRIu64 " bytes", d->key,
                          g->got, g->to - g->from);
        if (g->user_failed || atomic_load(&d->cancel))
            break;
        if (g->got > before) /* progress: the budget starts over */
            retry_progress(&rt);
        if (!retry_wait(&rt, rc, &d->cancel, "s3.retry", err))
            break;
    }
    rc = retry_give_up(&rt, rc, err, errlen);
    http_client_response_free(&resp);
    return rc;
}

/* ------------------------------------------------------------------ workers */

static void *worker_main(void *arg)
{
    struct dl *d = arg;
    struct http_client *hc = NULL;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = http_client_create(&d->c->http_opt, &hc, err, sizeof err);
    pthread_mutex_lock(&d->mu);
    if (rc)
        set_failed(d, rc, err);
    for (;;) {
        while (!atomic_load(&d->cancel) && d->next_part <= d->n_parts &&
               d->next_part >= d->delivering + d->n_slots)
            pthread_cond_wait(&d->cv, &d->mu);
        if (atomic_load(&d->cancel) || d->next_part > d->n_parts)
            break;
        uint64_t k = d->next_part++;
        struct dl_slot *s = &d->slots[k % d->n_slots];
        s->part = k;
        s->done = false;
        pthread_mutex_unlock(&d->mu);

        if (!s->data)
            s->data = xmalloc(d->part_size);
        struct range_get g = {
            .d = d, .from = d->body_start + (k - 1) * d->part_size, .buf = s->data};
        g.to = d->end - g.from > d->part_size ? g.from + d->part_size : d->end;
        rc = get_range(&g, hc, err, sizeof err);

        pthread_mutex_lock(&d->mu);
        if (rc) {
            set_failed(d, rc, err);
            break;
        }
        s->len = (size_t)g.got;
        s->done = true;
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    http_client_destroy(hc);
    return NULL;
}

/* Called on the caller's thread from the head's first chunk. */
static enum qb_err start_workers(struct dl *d, char *err, size_t errlen)
{
    unsigned want = d->c->download_parts_in_flight;
    if (want > d->n_parts)
        want = (unsigned)d->n_parts;
    d->n_slots = want + 1;
    d->slots = xcalloc(d->n_slots, sizeof *d->slots);
    d->threads = xcalloc(want, sizeof *d->threads);
    for (unsigned i = 0; i < want; i++) {
        int e = pthread_create(&d->threads[i], NULL, worker_main, d);
        if (e) {
            if (d->n_threads) /* fewer workers still finish the read */
                break;
            return qb_failf(QB_ERR_INTERNAL, err, errlen, "s3: starting a download worker: %s",
                            strerror(e));
        }
        d->n_threads++;
    }
    return QB_OK;
}

/* Hands the buffered parts to the callback in order. */
static enum qb_err deliver(struct dl *d, s3_write_fn fn, void *ud, char *err, size_t errlen)
{
    enum qb_err rc = QB_OK;
    for (uint64_t k = 1; k <= d->n_parts && !rc; k++) {
        struct dl_slot *s = &d->slots[k % d->n_slots];
        pthread_mutex_lock(&d->mu);
        while (!d->failed && !(s->part == k && s->done))
            pthread_cond_wait(&d->cv, &d->mu);
        if (d->failed)
            rc = qb_failf(d->failed, err, errlen, "%s", d->failed_err);
        pthread_mutex_unlock(&d->mu);
        for (size_t off = 0; !rc && off < s->len; off += DELIVER_CHUNK)
            rc = fn(ud, s->data + off, s->len - off < DELIVER_CHUNK ? s->len - off : DELIVER_CHUNK,
                    err, errlen);
        pthread_mutex_lock(&d->mu);
        d->delivering = k + 1; /* the buffer is free for part k + slots */
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
    }
    return rc;
}

enum qb_err s3_download(struct s3_client *c, const char *key, uint64_t offset, uint64_t length,
                        s3_write_fn fn, void *ud, char *err, size_t errlen)
{
    struct dl d = {.c = c, .key = key, .part_size = c->download_part_size, .start = offset};
    d.end = length ? offset + length : UINT64_MAX;
    d.next_part = d.delivering = 1;
    atomic_init(&d.cancel, false);
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);

    /* The head: up to two parts, streamed to fn on this thread (with the
     * client's own connection); its answer starts the workers. */
    struct range_get head = {.d = &d, .head = true, .from = offset, .fn = fn, .ud = ud};
    head.to = d.end - offset > 2 * d.part_size ? offset + 2 * d.part_size : d.end;
    enum qb_err rc = get_range(&head, c->hc, err, errlen);
    if (rc && !head.checked && !d.etag[0] && offset == 0 && strstr(err, "InvalidRange")) {
        /* Only an empty object has no byte 0: S3 refuses any range of it. */
        rc = s3_get_object(c, key, 0, length, fn, ud, err, errlen);
    } else if (!rc && d.n_parts) {
        rc = deliver(&d, fn, ud, err, errlen);
    }
    if (rc && d.n_threads) { /* stop the workers first, keeping this failure's message */
        pthread_mutex_lock(&d.mu);
        set_failed(&d, rc, err);
        pthread_mutex_unlock(&d.mu);
    }
    for (unsigned i = 0; i < d.n_threads; i++)
        pthread_join(d.threads[i], NULL);
    for (unsigned i = 0; i < d.n_slots; i++)
        free(d.slots[i].data);
    free(d.slots);
    free(d.threads);
    pthread_cond_destroy(&d.cv);
    pthread_mutex_destroy(&d.mu);
    return rc;
}
