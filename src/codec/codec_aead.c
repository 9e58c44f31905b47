/* SPDX-License-Identifier: Apache-2.0
 *
 * codec_aead.c -- the QBE1 container (docs/internals/codec.md): sealing a
 * payload into AES-256-GCM chunks under a per-object key, and opening such
 * a container with any key of a ring.  Owns the header's byte layout, the
 * chunk framing, the nonce and associated-data rules, and the derived key
 * (wiped when the stage is destroyed).
 *
 * DESIGN
 * The per-object key is HKDF-SHA256(ring key, salt, QBE1_INFO) with a fresh
 * random salt, so the 96-bit nonce can simply be the chunk number: a
 * (key, nonce) pair is never reused however many objects one ring key
 * seals.  Each chunk's associated data is the whole header, the chunk
 * number and the last-chunk flag, so a chunk moved to another place or
 * object, a header edited, or an object cut after a full chunk fails to
 * open.  A sealer holds one chunk until it knows whether more follows
 * (the last chunk may be full, or empty for an empty payload).
 *
 * Memory: one frame buffer of chunk size + QBE1_FRAME_OVERHEAD; a reader
 * refuses headers whose chunk size is above QBE1_CHUNK_MAX.
 */
#include "codec/codec_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define QBE1_INFO           "qbackup QBE1 chunk key"
#define QBE1_KEY_LEN        32
#define QBE1_NONCE_LEN      12
#define QBE1_TAG_LEN        16
#define QBE1_FRAME_HEAD     5 /* last flag (1) + plaintext length (4, big-endian) */
#define QBE1_FRAME_OVERHEAD (QBE1_FRAME_HEAD + QBE1_TAG_LEN)
#define QBE1_AAD_LEN        (QBE1_HEADER_LEN + 8 + 1)

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

enum qb_err qbe1_header_parse(const unsigned char *p, struct qbe1_header *h, char *err,
                              size_t errlen)
{
    if (memcmp(p, QBE1_MAGIC, 4) != 0)
        return qb_failf(QB_ERR_INVALID, err, errlen, "not a QBE1 container (no QBE1 magic)");
    if (p[4] != QBE1_VERSION)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "QBE1 container of version %u, this build reads version %d", p[4],
                        QBE1_VERSION);
    if ((p[5] & ~QBE1_FLAG_COMPRESSED) != 0 || p[6] != 0 || p[7] != 0)
        return qb_failf(QB_ERR_INVALID, err, errlen, "QBE1 header has unknown flags 0x%02x%02x%02x",
                        p[5], p[6], p[7]);
    for (int i = 0; i < SEAL_KEY_ID_LEN; i++) {
        unsigned char c = p[8 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return qb_failf(QB_ERR_INVALID, err, errlen, "QBE1 header's key id is not hex");
    }
    uint32_t chunk = get_be32(p + 16);
    if (chunk == 0 || chunk > QBE1_CHUNK_MAX)
        return qb_failf(QB_ERR_INVALID, err, errlen, "QBE1 header's chunk size %u is outside 1..%u",
                        chunk, QBE1_CHUNK_MAX);
    h->compressed = (p[5] & QBE1_FLAG_COMPRESSED) != 0;
    memcpy(h->key_id, p + 8, SEAL_KEY_ID_LEN);
    h->key_id[SEAL_KEY_ID_LEN] = '\0';
    h->chunk_size = chunk;
    memcpy(h->salt, p + 20, QBE1_SALT_LEN);
    return QB_OK;
}

static void header_write(const struct qbe1_header *h, unsigned char p[QBE1_HEADER_LEN])
{
    memcpy(p, QBE1_MAGIC, 4);
    p[4] = QBE1_VERSION;
    p[5] = h->compressed ? QBE1_FLAG_COMPRESSED : 0;
    p[6] = p[7] = 0;
    memcpy(p + 8, h->key_id, SEAL_KEY_ID_LEN);
    put_be32(p + 16, h->chunk_size);
    memcpy(p + 20, h->salt, QBE1_SALT_LEN);
}

/* State shared by sealer and opener: the cipher under the object key and
 * the associated data, whose first QBE1_HEADER_LEN bytes are the header. */
struct qbe1 {
    EVP_CIPHER_CTX *ctx;
    unsigned char aad[QBE1_AAD_LEN];
    uint32_t chunk_size;
    uint64_t chunk_no;  /* number of the chunk being built or read */
    unsigned char *buf; /* one frame: head, payload, tag */
    size_t fill;        /* bytes of buf in use */
    codec_sink_fn next;
    void *ud;
};

/* Sets up ctx under the object key derived from ring key key_id and the
 * header's salt (in aad), for encrypting or decrypting. */
static enum qb_err qbe1_keyed(struct qbe1 *q, const struct seal_keyring *ring, const char *key_id,
                              bool enc, char *err, size_t errlen)
{
    unsigned char key[QBE1_KEY_LEN];
    enum qb_err rc = seal_keyring_derive(ring, key_id, q->aad + 20, QBE1_SALT_LEN, QBE1_INFO, key,
                                         sizeof key, err, errlen);
    if (rc)
        return rc;
    q->ctx = EVP_CIPHER_CTX_new();
    bool ok = q->ctx && EVP_CipherInit_ex(q->ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
              EVP_CIPHER_CTX_ctrl(q->ctx, EVP_CTRL_GCM_SET_IVLEN, QBE1_NONCE_LEN, NULL) == 1 &&
              EVP_CipherInit_ex(q->ctx, NULL, NULL, key, NULL, enc) == 1;
    OPENSSL_cleanse(key, sizeof key);
    if (!ok)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "AES-256-GCM setup failed");
    return QB_OK;
}

/* One GCM pass over the frame in q->buf (payload len bytes after the frame
 * head, tag after it), in place.  For opening, false means "not
 * authentic". */
static bool qbe1_gcm(struct qbe1 *q, bool enc, bool last, size_t len)
{
    unsigned char nonce[QBE1_NONCE_LEN] = {0};
    put_be64(nonce + 4, q->chunk_no);
    put_be64(q->aad + QBE1_HEADER_LEN, q->chunk_no);
    q->aad[QBE1_HEADER_LEN + 8] = last ? 1 : 0;
    unsigned char *data = q->buf + QBE1_FRAME_HEAD, *tag = data + len;
    int n = 0;
    bool ok = EVP_CipherInit_ex(q->ctx, NULL, NULL, NULL, nonce, enc) == 1 &&
              EVP_CipherUpdate(q->ctx, NULL, &n, q->aad, QBE1_AAD_LEN) == 1;
    if (ok && len > 0)
        ok = EVP_CipherUpdate(q->ctx, data, &n, data, (int)len) == 1;
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(q->ctx, EVP_CTRL_GCM_SET_TAG, QBE1_TAG_LEN, tag) == 1;
    if (ok)
        ok = EVP_CipherFinal_ex(q->ctx, data + len, &n) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(q->ctx, EVP_CTRL_GCM_GET_TAG, QBE1_TAG_LEN, tag) == 1;
    return ok;
}

static void qbe1_destroy(void *st)
{
    struct qbe1 *q = st;
    if (!q)
        return;
    EVP_CIPHER_CTX_free(q->ctx); /* cleanses the key schedule */
    if (q->buf) {
        OPENSSL_cleanse(q->buf, q->chunk_size + QBE1_FRAME_OVERHEAD);
        free(q->buf);
    }
    free(q);
}

/* ---- sealing ----------------------------------------------------------------- */

/* Seals the payload held in the frame buffer as chunk q->chunk_no and
 * passes the frame on. */
static enum qb_err seal_chunk(struct qbe1 *q, bool last, char *err, size_t errlen)
{
    size_t len = q->fill - QBE1_FRAME_HEAD;
    q->buf[0] = last ? 1 : 0;
    put_be32(q->buf + 1, (uint32_t)len);
    if (!qbe1_gcm(q, true, last, len))
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "AES-256-GCM sealing of chunk %llu failed",
                        (unsigned long long)q->chunk_no);
    enum qb_err rc = q->next(q->ud, q->buf, len + QBE1_FRAME_OVERHEAD, err, errlen);
    if (rc)
        return rc;
    q->chunk_no++;
    q->fill = QBE1_FRAME_HEAD;
    return QB_OK;
}

static enum qb_err seal_write(void *st, const void *data, size_t len, char *err, size_t errlen)
{
    struct qbe1 *q = st;
    const unsigned char *p = data;
    size_t cap = QBE1_FRAME_HEAD + q->chunk_size;
    while (len > 0) {
        /* A full chunk is sealed only now that more bytes prove it is not
         * the last. */
        if (q->fill == cap) {
            enum qb_err rc = seal_chunk(q, false, err, errlen);
            if (rc)
                return rc;
        }
        size_t take = cap - q->fill < len ? cap - q->fill : len;
        memcpy(q->buf + q->fill, p, take);
        q->fill += take;
        p += take;
        len -= take;
    }
    return QB_OK;
}

static enum qb_err seal_finish(void *st, char *err, size_t errlen)
{
    return seal_chunk(st, true, err, errlen);
}

enum qb_err codec_qbe1_seal_stage(const struct seal_keyring *ring, bool compressed,
                                  uint32_t chunk_size, codec_sink_fn next, void *ud,
                                  struct codec_stage *stage, char key_id[SEAL_KEY_ID_LEN + 1],
                                  char *err, size_t errlen)
{
    if (!ring || seal_keyring_count(ring) == 0)
        return qb_failf(QB_ERR_INVALID, err, errlen, "no encryption key to seal with");
    if (chunk_size == 0 || chunk_size > QBE1_CHUNK_MAX)
        return qb_failf(QB_ERR_INVALID, err, errlen, "chunk size %u outside 1..%u", chunk_size,
                        QBE1_CHUNK_MAX);
    struct qbe1_header h = {.compressed = compressed, .chunk_size = chunk_size};
    seal_keyring_current_id(ring, h.key_id);
    if (RAND_bytes(h.salt, sizeof h.salt) != 1)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "no entropy for a QBE1 salt");
    struct qbe1 *q = xcalloc(1, sizeof *q);
    q->next = next;
    q->ud = ud;
    q->chunk_size = chunk_size;
    header_write(&h, q->aad);
    enum qb_err rc = qbe1_keyed(q, ring, h.key_id, true, err, errlen);
    if (!rc)
        rc = next(ud, q->aad, QBE1_HEADER_LEN, err, errlen);
    if (rc) {
        qbe1_destroy(q);
        return rc;
    }
    q->buf = xmalloc(chunk_size + QBE1_FRAME_OVERHEAD);
    q->fill = QBE1_FRAME_HEAD;
    memcpy(key_id, h.key_id, sizeof h.key_id);
    *stage = (struct codec_stage){q, seal_write, seal_finish, qbe1_destroy};
    return QB_OK;
}

/* ---- opening ----------------------------------------------------------------- */

enum open_state { OPEN_HEADER, OPEN_FRAME_HEAD, OPEN_FRAME_BODY, OPEN_DONE };

struct qbe1_open {
    struct qbe1 q; /* first: the stage's destroy frees it as a struct qbe1 */
    enum open_state state;
    const struct seal_keyring *ring;
    bool expect_compressed;
    const char *codec; /* for "is not a <codec> object" */
    char *key_id;      /* the caller's buffer */
    size_t need;       /* bytes of buf wanted before the next step */
    bool last;         /* the frame being read is the last */
};

/* The header is complete in q.aad: check it matches what the caller
 * recorded, find the key, and size the frame buffer. */
static enum qb_err open_header(struct qbe1_open *o, char *err, size_t errlen)
{
    struct qbe1_header h;
    char why[QB_ERRBUF_SIZE];
    enum qb_err rc = qbe1_header_parse(o->q.aad, &h, why, sizeof why);
    if (rc)
        return qb_failf(QB_ERR_INVALID, err, errlen, "stored object is not a %s object: %s",
                        o->codec, why);
    if (h.compressed != o->expect_compressed)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "stored object is not a %s object (its QBE1 header says %s)", o->codec,
                        h.compressed ? "zstd+aes256gcm" : "aes256gcm");
    memcpy(o->key_id, h.key_id, sizeof h.key_id);
    if (!o->ring || !seal_keyring_has(o->ring, h.key_id))
        return qb_failf(QB_ERR_NOT_FOUND, err, errlen,
                        "object is encrypted with key %s, which is not among the %zu configured "
                        "key(s)",
                        h.key_id, o->ring ? seal_keyring_count(o->ring) : (size_t)0);
    rc = qbe1_keyed(&o->q, o->ring, h.key_id, false, err, errlen);
    if (rc)
        return rc;
    o->q.chunk_size = h.chunk_size;
    o->q.buf = xmalloc(h.chunk_size + QBE1_FRAME_OVERHEAD);
    o->state = OPEN_FRAME_HEAD;
    o->need = QBE1_FRAME_HEAD;
    o->q.fill = 0;
    return QB_OK;
}

/* The frame head is in buf: check the flag and length. */
static enum qb_err open_frame_head(struct qbe1_open *o, char *err, size_t errlen)
{
    unsigned char flag = o->q.buf[0];
    uint32_t len = get_be32(o->q.buf + 1);
    unsigned long long no = (unsigned long long)o->q.chunk_no;
    if (flag > 1)
        return qb_failf(QB_ERR_IO, err, errlen, "chunk %llu has a malformed frame (flag 0x%02x)",
                        no, flag);
    o->last = flag == 1;
    if ((!o->last && len != o->q.chunk_size) || len > o->q.chunk_size)
        return qb_failf(QB_ERR_IO, err, errlen,
                        "chunk %llu has a malformed frame (length %u, chunk size %u)", no, len,
                        o->q.chunk_size);
    o->need = QBE1_FRAME_OVERHEAD + len;
    o->state = OPEN_FRAME_BODY;
    return QB_OK;
}

/* A whole frame is in buf: authenticate, decrypt, pass the payload on. */
static enum qb_err open_frame_body(struct qbe1_open *o, char *err, size_t errlen)
{
    size_t len = o->need - QBE1_FRAME_OVERHEAD;
    if (!qbe1_gcm(&o->q, false, o->last, len))
        return qb_failf(QB_ERR_IO, err, errlen,
                        "chunk %llu failed authentication (altered, reordered or wrong key)",
                        (unsigned long long)o->q.chunk_no);
    if (len > 0) {
        enum qb_err rc = o->q.next(o->q.ud, o->q.buf + QBE1_FRAME_HEAD, len, err, errlen);
        if (rc)
            return rc;
    }
    o->q.fill = 0;
    if (o->last) {
        o->state = OPEN_DONE;
        return QB_OK;
    }
    o->q.chunk_no++;
    o->need = QBE1_FRAME_HEAD;
    o->state = OPEN_FRAME_HEAD;
    return QB_OK;
}

static enum qb_err open_write(void *st, const void *data, size_t len, char *err, size_t errlen)
{
    struct qbe1_open *o = st;
    const unsigned char *p = data;
    while (len > 0) {
        if (o->state == OPEN_DONE)
            return qb_failf(QB_ERR_IO, err, errlen,
                            "%zu unexpected byte(s) after the last chunk (chunk %llu)", len,
                            (unsigned long long)o->q.chunk_no);
        unsigned char *dst = o->state == OPEN_HEADER ? o->q.aad : o->q.buf;
        size_t take = o->need - o->q.fill < len ? o->need - o->q.fill : len;
        memcpy(dst + o->q.fill, p, take);
        o->q.fill += take;
        p += take;
        len -= take;
        if (o->q.fill < o->need)
            break;
        enum qb_err rc;
        if (o->state == OPEN_HEADER)
            rc = open_header(o, err, errlen);
        else if (o->state == OPEN_FRAME_HEAD)
            rc = open_frame_head(o, err, errlen);
        else
            rc = open_frame_body(o, err, errlen);
        if (rc)
            return rc;
    }
    return QB_OK;
}

static enum qb_err open_finish(void *st, char *err, size_t errlen)
{
    struct qbe1_open *o = st;
    unsigned long long no = (unsigned long long)o->q.chunk_no;
    switch (o->state) {
    case OPEN_DONE:
        return QB_OK;
    case OPEN_HEADER:
        if (o->q.fill >= 4 && memcmp(o->q.aad, QBE1_MAGIC, 4) != 0)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "stored object is not a %s object: no QBE1 magic", o->codec);
        return qb_failf(QB_ERR_IO, err, errlen,
                        "object ends inside its QBE1 header after %zu of %d bytes (truncated)",
                        o->q.fill, QBE1_HEADER_LEN);
    case OPEN_FRAME_HEAD:
        if (o->q.fill == 0) {
            if (no == 0)
                return qb_failf(QB_ERR_IO, err, errlen,
                                "object ends after its header without any chunk (truncated)");
            return qb_failf(QB_ERR_IO, err, errlen,
                            "object ends after chunk %llu without its last chunk (truncated)",
                            no - 1);
        }
        break;
    case OPEN_FRAME_BODY:
        break;
    }
    return qb_failf(QB_ERR_IO, err, errlen, "object ends inside chunk %llu (truncated)", no);
}

enum qb_err codec_qbe1_open_stage(const struct seal_keyring *ring, bool expect_compressed,
                                  const char *codec, codec_sink_fn next, void *ud, char *key_id,
                                  struct codec_stage *stage, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct qbe1_open *o = xcalloc(1, sizeof *o);
    o->q.next = next;
    o->q.ud = ud;
    o->ring = ring;
    o->expect_compressed = expect_compressed;
    o->codec = codec;
    o->key_id = key_id;
    o->state = OPEN_HEADER;
    o->need = QBE1_HEADER_LEN;
    *stage = (struct codec_stage){o, open_write, open_finish, qbe1_destroy};
    return QB_OK;
}
