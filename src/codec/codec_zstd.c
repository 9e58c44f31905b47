/* SPDX-License-Identifier: Apache-2.0
 *
 * codec_zstd.c -- the zstd stages of a codec pipeline (codec_internal.h):
 * a compressor writing one standard frame with a content checksum, so that
 * `zstd -d` restores a stored object by hand, and a decompressor that
 * takes exactly one frame, refuses windows above CODEC_ZSTD_WINDOW_LOG_MAX
 * and anything after the frame's end.  Memory: zstd's context plus one
 * output buffer of ZSTD_{C,D}StreamOutSize(), whatever the object's size.
 */
#include "codec/codec_internal.h"

#include <stdlib.h>

#include <zstd.h>
#include <zstd_errors.h>

struct zenc {
    ZSTD_CCtx *cctx;
    codec_sink_fn next;
    void *ud;
    unsigned char *out;
    size_t outcap;
};

static void zenc_destroy(void *st)
{
    struct zenc *z = st;
    if (!z)
        return;
    ZSTD_freeCCtx(z->cctx);
    free(z->out);
    free(z);
}

struct zdec {
    ZSTD_DCtx *dctx;
    codec_sink_fn next;
    void *ud;
    unsigned char *out;
    size_t outcap;
    bool frame_done;   /* the frame's end (and checksum) was read */
    bool started;      /* any input seen */
    uint64_t consumed; /* bytes of the frame read so far, for messages */
};

static void zdec_destroy(void *st)
{
    struct zdec *z = st;
    if (!z)
        return;
    ZSTD_freeDCtx(z->dctx);
    free(z->out);
    free(z);
}

/* ---- compressor ------------------------------------------------------------ */

/* Runs the compressor over in with mode until zstd has taken all the input
 * (continue) or flushed the frame's end (end), passing output on. */
static enum qb_err zenc_run(struct zenc *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode, char *err,
                            size_t errlen)
{
    for (;;) {
        ZSTD_outBuffer out = {z->out, z->outcap, 0};
        size_t left = ZSTD_compressStream2(z->cctx, &out, in, mode);
        if (ZSTD_isError(left))
            return qb_failf(QB_ERR_INTERNAL, err, errlen, "zstd compression failed: %s",
                            ZSTD_getErrorName(left));
        if (out.pos > 0) {
            enum qb_err rc = z->next(z->ud, z->out, out.pos, err, errlen);
            if (rc)
                return rc;
        }
        bool done = mode == ZSTD_e_end ? left == 0 : in->pos == in->size;
        if (done)
            return QB_OK;
    }
}

static enum qb_err zenc_write(void *st, const void *data, size_t len, char *err, size_t errlen)
{
    struct zenc *z = st;
    if (len == 0)
        return QB_OK;
    ZSTD_inBuffer in = {data, len, 0};
    return zenc_run(z, &in, ZSTD_e_continue, err, errlen);
}

static enum qb_err zenc_finish(void *st, char *err, size_t errlen)
{
    struct zenc *z = st;
    ZSTD_inBuffer in = {NULL, 0, 0};
    return zenc_run(z, &in, ZSTD_e_end, err, errlen);
}

enum qb_err codec_zstd_enc_stage(int level, codec_sink_fn next, void *ud, struct codec_stage *stage,
                                 char *err, size_t errlen)
{
    struct zenc *z = xcalloc(1, sizeof *z);
    z->next = next;
    z->ud = ud;
    z->cctx = ZSTD_createCCtx();
    if (!z->cctx) {
        zenc_destroy(z);
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "zstd: cannot create a compressor");
    }
    /* The checksum lets `zstd -d` (and our decoder) notice a damaged frame
     * of an unencrypted object; 4 bytes per object. */
    size_t r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1);
    /* Compress on a worker thread of zstd's own: the thread that feeds us
     * receives Qdrant's bytes and hashes them, and compressing inline made
     * the download wait for every block (55-61% of the raw throughput).
     * One worker overlaps the two; the frame is the same standard frame,
     * and memory stays a few jobs of (4 x window) bytes. */
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_nbWorkers, CODEC_ZSTD_WORKERS);
    if (ZSTD_isError(r)) {
        zenc_destroy(z);
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "zstd: %s", ZSTD_getErrorName(r));
    }
    z->outcap = ZSTD_CStreamOutSize();
    z->out = xmalloc(z->outcap);
    *stage = (struct codec_stage){z, zenc_write, zenc_finish, zenc_destroy};
    return QB_OK;
}

/* ---- decompressor ---------------------------------------------------------- */

/* Why a frame could not be read, in words a restore's error can carry. */
static enum qb_err zdec_fail(const struct zdec *z, size_t code, char *err, size_t errlen)
{
    switch (ZSTD_getErrorCode(code)) {
    case ZSTD_error_prefix_unknown:
        if (z->consumed < 4)
            return qb_failf(QB_ERR_IO, err, errlen, "not a zstd frame (no zstd magic number)");
        break;
    case ZSTD_error_frameParameter_windowTooLarge:
        return qb_failf(QB_ERR_IO, err, errlen,
                        "zstd frame needs a window above %d MiB; refused to bound memory",
                        1 << (CODEC_ZSTD_WINDOW_LOG_MAX - 20));
    case ZSTD_error_checksum_wrong:
        return qb_failf(QB_ERR_IO, err, errlen, "zstd frame checksum mismatch (data altered)");
    default:
        break;
    }
    return qb_failf(QB_ERR_IO, err, errlen, "zstd frame corrupt near byte %llu: %s",
                    (unsigned long long)z->consumed, ZSTD_getErrorName(code));
}

/* Decompresses in (possibly empty) until zstd took all of it and has no
 * more output pending, passing output on. */
static enum qb_err zdec_run(struct zdec *z, ZSTD_inBuffer *in, char *err, size_t errlen)
{
    for (;;) {
        if (z->frame_done) {
            if (in->pos < in->size)
                return qb_failf(QB_ERR_IO, err, errlen,
                                "%zu unexpected byte(s) after the end of the zstd frame (byte "
                                "%llu on)",
                                in->size - in->pos, (unsigned long long)z->consumed);
            return QB_OK;
        }
        ZSTD_outBuffer out = {z->out, z->outcap, 0};
        size_t before = in->pos;
        size_t r = ZSTD_decompressStream(z->dctx, &out, in);
        z->consumed += in->pos - before;
        if (ZSTD_isError(r))
            return zdec_fail(z, r, err, errlen);
        if (out.pos > 0) {
            enum qb_err rc = z->next(z->ud, z->out, out.pos, err, errlen);
            if (rc)
                return rc;
        }
        if (r == 0)
            z->frame_done = true;
        /* A full output buffer may hide more output; otherwise zstd is
         * done with this input once it consumed all of it. */
        else if (in->pos == in->size && out.pos < out.size)
            return QB_OK;
    }
}

static enum qb_err zdec_write(void *st, const void *data, size_t len, char *err, size_t errlen)
{
    struct zdec *z = st;
    if (len == 0)
        return QB_OK;
    z->started = true;
    ZSTD_inBuffer in = {data, len, 0};
    return zdec_run(z, &in, err, errlen);
}

static enum qb_err zdec_finish(void *st, char *err, size_t errlen)
{
    struct zdec *z = st;
    ZSTD_inBuffer in = {NULL, 0, 0};
    enum qb_err rc = zdec_run(z, &in, err, errlen);
    if (rc)
        return rc;
    if (!z->started)
        return qb_failf(QB_ERR_IO, err, errlen, "not a zstd frame (empty object)");
    if (!z->frame_done)
        return qb_failf(QB_ERR_IO, err, errlen,
                        "zstd frame ends early after %llu bytes (truncated)",
                        (unsigned long long)z->consumed);
    return QB_OK;
}

enum qb_err codec_zstd_dec_stage(codec_sink_fn next, void *ud, struct codec_stage *stage, char *err,
                                 size_t errlen)
{
    struct zdec *z = xcalloc(1, sizeof *z);
    z->next = next;
    z->ud = ud;
    z->dctx = ZSTD_createDCtx();
    size_t r = z->dctx
                   ? ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax, CODEC_ZSTD_WINDOW_LOG_MAX)
                   : 0;
    if (!z->dctx || ZSTD_isError(r)) {
        zdec_destroy(z);
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "zstd: cannot create a decompressor");
    }
    z->outcap = ZSTD_DStreamOutSize();
    z->out = xmalloc(z->outcap);
    *stage = (struct codec_stage){z, zdec_write, zdec_finish, zdec_destroy};
    return QB_OK;
}
