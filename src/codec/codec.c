/* SPDX-License-Identifier: Apache-2.0
 *
 * codec.c -- codec names, and the encoder and decoder of codec.h as a
 * pipeline of at most two stages (codec_internal.h): zstd, then QBE1
 * sealing, on the way out; QBE1 opening, then zstd, on the way in.  Owns
 * what is measured at the ends of the pipeline (raw size and SHA-256 on
 * the archive side, stored size on the other), the latch that makes every
 * call after a failure fail, and recognising a stored object's format.
 */
#include "codec/codec.h"
#include "codec/codec_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define ZSTD_MAGIC "\x28\xb5\x2f\xfd" /* 0xFD2FB528, little-endian */

static const struct {
    const char *name;
    enum codec_compression compression;
    bool encrypted;
} codecs[] = {
    {"none", CODEC_COMPRESSION_NONE, false},
    {"zstd", CODEC_COMPRESSION_ZSTD, false},
    {"aes256gcm", CODEC_COMPRESSION_NONE, true},
    {"zstd+aes256gcm", CODEC_COMPRESSION_ZSTD, true},
};

static const char *codec_name(enum codec_compression compression, bool encrypted)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(codecs); i++)
        if (codecs[i].compression == compression && codecs[i].encrypted == encrypted)
            return codecs[i].name;
    return "none";
}

const char *codec_spec_name(const struct codec_spec *spec)
{
    return codec_name(spec->compression, spec->keyring != NULL);
}

enum qb_err codec_name_parse(const char *name, enum codec_compression *compression, bool *encrypted,
                             char *err, size_t errlen)
{
    for (size_t i = 0; name && i < QB_ARRAY_LEN(codecs); i++) {
        if (strcmp(name, codecs[i].name) == 0) {
            *compression = codecs[i].compression;
            *encrypted = codecs[i].encrypted;
            return QB_OK;
        }
    }
    return qb_failf(QB_ERR_INVALID, err, errlen,
                    "unknown codec \"%.40s\" (known: none, zstd, aes256gcm, zstd+aes256gcm)",
                    name ? name : "");
}

bool codec_keyring_has(const struct seal_keyring *ring, const char *key_id)
{
    return seal_keyring_has(ring, key_id);
}

/* What both ends of a pipeline share: the stages in the order bytes flow,
 * the caller's sink, and the measures. */
struct pipe {
    struct codec_stage stages[2];
    size_t n;
    codec_sink_fn end; /* after the stages: enc_out or dec_out, into sink */
    codec_sink_fn sink;
    void *ud;
    EVP_MD_CTX *sha; /* of the raw archive */
    uint64_t raw_size;
    uint64_t stored_size;
    char key_id[SEAL_KEY_ID_LEN + 1];
    const char *codec;
    enum qb_err failed; /* QB_OK until a call failed */
};

static void pipe_free(struct pipe *p)
{
    for (size_t i = 0; i < p->n; i++)
        p->stages[i].destroy(p->stages[i].st);
    EVP_MD_CTX_free(p->sha);
}

static void pipe_init(struct pipe *p, codec_sink_fn end, codec_sink_fn sink, void *ud,
                      const char *codec)
{
    p->end = end;
    p->sink = sink;
    p->ud = ud;
    p->codec = codec;
    p->sha = EVP_MD_CTX_new();
    if (!p->sha || EVP_DigestInit_ex(p->sha, EVP_sha256(), NULL) != 1)
        abort(); /* out of memory in OpenSSL: like xmalloc */
}

/* Adds a stage in front of the ones already there (pipelines are built
 * from the sink backwards). */
static void pipe_push_front(struct pipe *p, struct codec_stage s)
{
    memmove(&p->stages[1], &p->stages[0], p->n * sizeof s);
    p->stages[0] = s;
    p->n++;
}

/* Passes bytes to the first stage, or to the end when there is none
 * (codec "none"). */
static enum qb_err pipe_write(struct pipe *p, const void *data, size_t len, char *err,
                              size_t errlen)
{
    if (p->n)
        return p->stages[0].write(p->stages[0].st, data, len, err, errlen);
    return p->end(p, data, len, err, errlen);
}

static void raw_account(struct pipe *p, const void *data, size_t len)
{
    EVP_DigestUpdate(p->sha, data, len);
    p->raw_size += len;
}

/* The answer to any call after a failure (p->failed, the first failure's
 * code): a stream that lost bytes must not be finished as if whole. */
static enum qb_err pipe_latched(struct pipe *p, const char *what, char *err, size_t errlen)
{
    return qb_failf(p->failed, err, errlen, "%s after an earlier failure", what);
}

static enum qb_err pipe_finish(struct pipe *p, struct codec_result *res, char *err, size_t errlen)
{
    for (size_t i = 0; i < p->n; i++) {
        enum qb_err rc = p->stages[i].finish(p->stages[i].st, err, errlen);
        if (rc)
            return rc;
    }
    if (res) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        memset(res, 0, sizeof *res);
        EVP_DigestFinal_ex(p->sha, md, &mdlen);
        for (unsigned int i = 0; i < mdlen && i < 32; i++)
            snprintf(res->raw_sha256 + 2 * i, 3, "%02x", md[i]);
        res->raw_size = p->raw_size;
        res->stored_size = p->stored_size;
        memcpy(res->key_id, p->key_id, sizeof p->key_id);
        qb_strlcpy(res->codec, p->codec, sizeof res->codec);
    }
    return QB_OK;
}

/* ---- encoder ------------------------------------------------------------- */

struct codec_encoder {
    struct pipe p;
};

void codec_encoder_abort(struct codec_encoder *e)
{
    if (!e)
        return;
    pipe_free(&e->p);
    free(e);
}

/* The end of an encoder: stored bytes, counted, to the caller. */
static enum qb_err enc_out(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct pipe *p = ud;
    p->stored_size += len;
    return p->sink(p->ud, data, len, err, errlen);
}

enum qb_err codec_encoder_create(const struct codec_spec *spec, codec_sink_fn sink, void *ud,
                                 struct codec_encoder **out, char *err, size_t errlen)
{
    *out = NULL;
    int level = spec->level ? spec->level : CODEC_LEVEL_DEFAULT;
    if (spec->compression == CODEC_COMPRESSION_ZSTD && (level < 1 || level > CODEC_LEVEL_MAX))
        return qb_failf(QB_ERR_INVALID, err, errlen, "zstd level %d is outside 1..%d", spec->level,
                        CODEC_LEVEL_MAX);
    if (spec->compression != CODEC_COMPRESSION_NONE && spec->compression != CODEC_COMPRESSION_ZSTD)
        return qb_failf(QB_ERR_INVALID, err, errlen, "unknown compression %d",
                        (int)spec->compression);
    if (spec->keyring && seal_keyring_count(spec->keyring) == 0)
        return qb_failf(QB_ERR_INVALID, err, errlen, "encryption asked for with no key");
    struct codec_encoder *e = xcalloc(1, sizeof *e);
    pipe_init(&e->p, enc_out, sink, ud, codec_spec_name(spec));
    codec_sink_fn next = enc_out;
    void *nud = &e->p;
    struct codec_stage s;
    enum qb_err rc = QB_OK;
    if (spec->keyring) {
        rc = codec_qbe1_seal_stage(spec->keyring, spec->compression == CODEC_COMPRESSION_ZSTD,
                                   QBE1_CHUNK_DEFAULT, next, nud, &s, e->p.key_id, err, errlen);
        if (rc)
            goto out;
        pipe_push_front(&e->p, s);
        next = s.write;
        nud = s.st;
    }
    if (spec->compression == CODEC_COMPRESSION_ZSTD) {
        rc = codec_zstd_enc_stage(level, next, nud, &s, err, errlen);
        if (rc)
            goto out;
        pipe_push_front(&e->p, s);
    }
out:
    if (rc) {
        codec_encoder_abort(e);
        return rc;
    }
    *out = e;
    return QB_OK;
}

enum qb_err codec_encoder_write(struct codec_encoder *e, const void *data, size_t len, char *err,
                                size_t errlen)
{
    struct pipe *p = &e->p;
    if (p->failed)
        return pipe_latched(p, "write", err, errlen);
    if (len == 0)
        return QB_OK;
    raw_account(p, data, len);
    enum qb_err rc = pipe_write(p, data, len, err, errlen);
    p->failed = rc;
    return rc;
}

enum qb_err codec_encoder_finish(struct codec_encoder *e, struct codec_result *res, char *err,
                                 size_t errlen)
{
    enum qb_err rc = e->p.failed ? pipe_latched(&e->p, "finish", err, errlen)
                                 : pipe_finish(&e->p, res, err, errlen);
    codec_encoder_abort(e);
    return rc;
}

/* ---- decoder ------------------------------------------------------------- */

struct codec_decoder {
    struct pipe p;
    bool sniff; /* holding the first bytes to check the zstd magic */
    unsigned char head[4];
    size_t headn;
};

void codec_decoder_abort(struct codec_decoder *d)
{
    if (!d)
        return;
    pipe_free(&d->p);
    free(d);
}

/* The end of a decoder: raw bytes, measured, to the caller. */
static enum qb_err dec_out(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct pipe *p = ud;
    raw_account(p, data, len);
    return p->sink(p->ud, data, len, err, errlen);
}

enum qb_err codec_decoder_create(const char *codec, const struct seal_keyring *keyring,
                                 codec_sink_fn sink, void *ud, struct codec_decoder **out,
                                 char *err, size_t errlen)
{
    *out = NULL;
    enum codec_compression compression;
    bool encrypted;
    enum qb_err rc = codec_name_parse(codec, &compression, &encrypted, err, errlen);
    if (rc)
        return rc;
    struct codec_decoder *d = xcalloc(1, sizeof *d);
    pipe_init(&d->p, dec_out, sink, ud, codec_name(compression, encrypted));
    codec_sink_fn next = dec_out;
    void *nud = &d->p;
    struct codec_stage s;
    if (compression == CODEC_COMPRESSION_ZSTD) {
        rc = codec_zstd_dec_stage(next, nud, &s, err, errlen);
        if (rc)
            goto out;
        pipe_push_front(&d->p, s);
        next = s.write;
        nud = s.st;
        d->sniff = !encrypted;
    }
    if (encrypted) {
        rc = codec_qbe1_open_stage(keyring, compression == CODEC_COMPRESSION_ZSTD, d->p.codec, next,
                                   nud, d->p.key_id, &s, err, errlen);
        if (rc)
            goto out;
        pipe_push_front(&d->p, s);
    }
out:
    if (rc) {
        codec_decoder_abort(d);
        return rc;
    }
    *out = d;
    return QB_OK;
}

/* Passes stored bytes into the pipeline. */
static enum qb_err dec_feed(struct codec_decoder *d, const void *data, size_t len, char *err,
                            size_t errlen)
{
    if (len == 0)
        return QB_OK;
    return pipe_write(&d->p, data, len, err, errlen);
}

/* Releases the held first bytes once they are known to start a zstd
 * frame; a QBE1 header is named as such (the wrong codec recorded), not
 * as a damaged frame. */
static enum qb_err dec_unsniff(struct codec_decoder *d, char *err, size_t errlen)
{
    d->sniff = false;
    if (d->headn == 4 && memcmp(d->head, QBE1_MAGIC, 4) == 0)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "stored object is not a %s object (it is a QBE1 encrypted container)",
                        d->p.codec);
    if (d->headn == 4 && memcmp(d->head, ZSTD_MAGIC, 4) != 0)
        return qb_failf(QB_ERR_IO, err, errlen, "not a zstd frame (no zstd magic number)");
    return dec_feed(d, d->head, d->headn, err, errlen);
}

enum qb_err codec_decoder_write(struct codec_decoder *d, const void *data, size_t len, char *err,
                                size_t errlen)
{
    struct pipe *p = &d->p;
    if (p->failed)
        return pipe_latched(p, "write", err, errlen);
    p->stored_size += len;
    enum qb_err rc = QB_OK;
    if (d->sniff) {
        size_t take = sizeof d->head - d->headn < len ? sizeof d->head - d->headn : len;
        memcpy(d->head + d->headn, data, take);
        d->headn += take;
        data = (const unsigned char *)data + take;
        len -= take;
        if (d->headn == sizeof d->head)
            rc = dec_unsniff(d, err, errlen);
    }
    if (!rc)
        rc = dec_feed(d, data, len, err, errlen);
    p->failed = rc;
    return rc;
}

enum qb_err codec_decoder_finish(struct codec_decoder *d, struct codec_result *res, char *err,
                                 size_t errlen)
{
    enum qb_err rc;
    if (d->p.failed)
        rc = pipe_latched(&d->p, "finish", err, errlen);
    else {
        rc = d->sniff ? dec_unsniff(d, err, errlen) : QB_OK;
        if (!rc)
            rc = pipe_finish(&d->p, res, err, errlen);
    }
    codec_decoder_abort(d);
    return rc;
}

/* ---- detection ----------------------------------------------------------- */

enum qb_err codec_detect(const void *head, size_t n, struct codec_detected *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof *out);
    qb_strlcpy(out->codec, "none", sizeof out->codec);
    if (n >= 4 && memcmp(head, QBE1_MAGIC, 4) == 0) {
        if (n < QBE1_HEADER_LEN)
            return qb_failf(QB_ERR_INVALID, err, errlen, "QBE1 header cut short: %zu of %d bytes",
                            n, QBE1_HEADER_LEN);
        struct qbe1_header h;
        enum qb_err rc = qbe1_header_parse(head, &h, err, errlen);
        if (rc)
            return rc;
        qb_strlcpy(out->codec,
                   codec_name(h.compressed ? CODEC_COMPRESSION_ZSTD : CODEC_COMPRESSION_NONE, true),
                   sizeof out->codec);
        memcpy(out->key_id, h.key_id, sizeof h.key_id);
    } else if (n >= 4 && memcmp(head, ZSTD_MAGIC, 4) == 0) {
        qb_strlcpy(out->codec, "zstd", sizeof out->codec);
    }
    return QB_OK;
}
