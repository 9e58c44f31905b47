/* SPDX-License-Identifier: Apache-2.0
 *
 * bridge.c -- a producer thread and a bounded ring between storage_read
 * and a pulling consumer.
 */
#include "storage/bridge.h"
#include "codec/codec.h"
#include "util/threads.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct bridge {
    struct storage *st;
    char *key;
    uint64_t offset, length;
    pthread_t thread;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;
    unsigned char *ring;
    size_t cap, head, used;
    bool eof;       /* producer finished successfully */
    bool stop;      /* consumer gave up */
    enum qb_err rc; /* producer's failure */
    char err[QB_ERRBUF_SIZE];
    EVP_MD_CTX *sha; /* consumer side only */
    /* Producer side only: decodes the stored bytes (NULL: passed as is). */
    struct codec_decoder *dec;
};

void bridge_stop(struct bridge *b)
{
    if (!b)
        return;
    threads_stop_destroy(&b->lock, &b->cond, &b->stop, &b->thread, 1);
    EVP_MD_CTX_free(b->sha);
    free(b->ring);
    free(b->key);
    free(b);
}

static enum qb_err produce(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct bridge *b = ud;
    const unsigned char *p = data;
    pthread_mutex_lock(&b->lock);
    while (len > 0) {
        while (b->used == b->cap && !b->stop)
            pthread_cond_wait(&b->cond, &b->lock);
        if (b->stop) {
            pthread_mutex_unlock(&b->lock);
            return qb_failf(QB_ERR_CANCELLED, err, errlen, "the reader went away");
        }
        size_t tail = (b->head + b->used) % b->cap;
        size_t room = b->cap - b->used;
        size_t chunk = b->cap - tail < room ? b->cap - tail : room;
        if (chunk > len)
            chunk = len;
        memcpy(b->ring + tail, p, chunk);
        b->used += chunk;
        p += chunk;
        len -= chunk;
        pthread_cond_broadcast(&b->cond);
    }
    pthread_mutex_unlock(&b->lock);
    return QB_OK;
}

/* Stored bytes into the decoder, whose output goes to produce(). */
static enum qb_err decode(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct bridge *b = ud;
    return codec_decoder_write(b->dec, data, len, err, errlen);
}

static void *producer_main(void *arg)
{
    struct bridge *b = arg;
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = storage_read(b->st, b->key, b->offset, b->length, b->dec ? decode : produce, b,
                                  err, sizeof err);
    /* The end is signalled only once the decoder found the whole object
     * authentic: a consumer never sees a clean end of a cut-off stream. */
    if (b->dec) {
        if (!rc)
            rc = codec_decoder_finish(b->dec, NULL, err, sizeof err);
        else
            codec_decoder_abort(b->dec);
        b->dec = NULL;
    }
    pthread_mutex_lock(&b->lock);
    if (rc) {
        b->rc = rc;
        snprintf(b->err, sizeof b->err, "%s", err);
    } else {
        b->eof = true;
    }
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

enum qb_err bridge_start(struct storage *st, const char *key, uint64_t offset, uint64_t length,
                         size_t capacity, struct bridge **out, char *err, size_t errlen)
{
    return bridge_start_decoded(st, key, offset, length, NULL, NULL, capacity, out, err, errlen);
}

enum qb_err bridge_start_decoded(struct storage *st, const char *key, uint64_t offset,
                                 uint64_t length, const char *codec,
                                 const struct seal_keyring *ring, size_t capacity,
                                 struct bridge **out, char *err, size_t errlen)
{
    struct bridge *b = xcalloc(1, sizeof *b);
    if (codec && strcmp(codec, "none") != 0) {
        enum qb_err rc = codec_decoder_create(codec, ring, produce, b, &b->dec, err, errlen);
        if (rc) {
            free(b);
            return rc;
        }
    }
    b->st = st;
    b->key = xstrdup(key);
    b->offset = offset;
    b->length = length;
    b->cap = capacity ? capacity : (4u << 20);
    b->ring = xmalloc(b->cap);
    b->sha = EVP_MD_CTX_new();
    if (!b->sha || !EVP_DigestInit_ex(b->sha, EVP_sha256(), NULL))
        abort();
    enum qb_err rc =
        threads_start(&b->lock, &b->cond, &b->thread, producer_main, b, "the reader", err, errlen);
    if (rc) {
        codec_decoder_abort(b->dec);
        EVP_MD_CTX_free(b->sha);
        free(b->ring);
        free(b->key);
        free(b);
        return rc;
    }
    *out = b;
    return QB_OK;
}

enum qb_err bridge_read(struct bridge *b, void *buf, size_t cap, size_t *n, char *err,
                        size_t errlen)
{
    *n = 0;
    pthread_mutex_lock(&b->lock);
    while (b->used == 0 && !b->eof && !b->rc)
        pthread_cond_wait(&b->cond, &b->lock);
    if (b->used == 0 && b->rc) {
        enum qb_err rc = b->rc;
        qb_failf(rc, err, errlen, "%s", b->err);
        pthread_mutex_unlock(&b->lock);
        return rc;
    }
    size_t take = b->used < cap ? b->used : cap;
    size_t first = b->cap - b->head < take ? b->cap - b->head : take;
    memcpy(buf, b->ring + b->head, first);
    memcpy((unsigned char *)buf + first, b->ring, take - first);
    b->head = (b->head + take) % b->cap;
    b->used -= take;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    EVP_DigestUpdate(b->sha, buf, take);
    *n = take;
    return QB_OK;
}

void bridge_sha256(struct bridge *b, char hex[65])
{
    EVP_MD_CTX *copy = EVP_MD_CTX_new();
    unsigned char md[32];
    unsigned int len = 0;
    if (!copy || !EVP_MD_CTX_copy_ex(copy, b->sha) || !EVP_DigestFinal_ex(copy, md, &len))
        abort();
    EVP_MD_CTX_free(copy);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}
