/* SPDX-License-Identifier: Apache-2.0
 *
 * codec_internal.h -- the stages codec.c chains into an encoder or a
 * decoder, shared only inside src/codec/.  A stage is a push filter: bytes
 * go in through write, come out of it through the next stage's write (or
 * the final sink), and finish flushes what it holds and checks the stream
 * ended where it should.  Every stage's write has codec_sink_fn's shape,
 * so a stage is the sink of the one before it.
 *
 * zstd (codec_zstd.c): one standard frame out; in, one frame and nothing
 * after it, with a bounded window.
 * QBE1 (codec_aead.c): the AES-256-GCM chunk container of
 * docs/internals/codec.md, sealing and opening.
 */
#ifndef QB_CODEC_INTERNAL_H
#define QB_CODEC_INTERNAL_H

#include "codec/codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One stage: state plus its three operations.  finish does not free. */
struct codec_stage {
    void *st;
    enum qb_err (*write)(void *st, const void *data, size_t len, char *err, size_t errlen);
    enum qb_err (*finish)(void *st, char *err, size_t errlen);
    void (*destroy)(void *st);
};

/* ---- zstd ---------------------------------------------------------------- */

/* The largest window a stored frame may ask the decoder for (2^27 = 128
 * MiB): compression levels up to CODEC_LEVEL_MAX use far less, and a
 * hostile frame cannot make a restore allocate more. */
#define CODEC_ZSTD_WINDOW_LOG_MAX 27
/* zstd worker threads per compressing encoder (0: compress inline).  A
 * build may override it (-DCODEC_ZSTD_WORKERS=0) to measure the inline
 * encoder against the threaded one (docs/benchmarks.md). */
#ifndef CODEC_ZSTD_WORKERS
#define CODEC_ZSTD_WORKERS 1
#endif

/* A zstd compressor at level (1..CODEC_LEVEL_MAX) whose frame goes to
 * next(ud, ...).  [out] stage. */
enum qb_err codec_zstd_enc_stage(int level, codec_sink_fn next, void *ud, struct codec_stage *stage,
                                 char *err, size_t errlen) QB_MUSTCHECK;

/* A zstd decompressor taking exactly one frame, whose content goes to
 * next(ud, ...).  [out] stage. */
enum qb_err codec_zstd_dec_stage(codec_sink_fn next, void *ud, struct codec_stage *stage, char *err,
                                 size_t errlen) QB_MUSTCHECK;

/* ---- QBE1 ---------------------------------------------------------------- */

#define QBE1_MAGIC           "QBE1"
#define QBE1_VERSION         1
#define QBE1_FLAG_COMPRESSED 0x01u
#define QBE1_SALT_LEN        32
#define QBE1_HEADER_LEN      52
#define QBE1_CHUNK_DEFAULT   (1u << 20)  /* 1 MiB of plaintext per chunk */
#define QBE1_CHUNK_MAX       (16u << 20) /* a reader's cap: bounds its buffer */

/* A parsed QBE1 header. */
struct qbe1_header {
    bool compressed;                  /* the payload is a zstd frame */
    char key_id[SEAL_KEY_ID_LEN + 1]; /* the ring key the object key derives from */
    uint32_t chunk_size;              /* plaintext bytes in every chunk but the last */
    unsigned char salt[QBE1_SALT_LEN];
};

/* Parses QBE1_HEADER_LEN bytes at p.  QB_ERR_INVALID naming the field for
 * a wrong magic, unknown version or flags, or a malformed key id or chunk
 * size. */
enum qb_err qbe1_header_parse(const unsigned char *p, struct qbe1_header *h, char *err,
                              size_t errlen) QB_MUSTCHECK;

/* Seals under ring's current key (ring borrowed for the stage's life);
 * compressed is recorded in the header.  The container goes to next(ud,
 * ...).  QB_ERR_INVALID for an empty ring.  [out] stage, key_id (the
 * current key's id). */
enum qb_err codec_qbe1_seal_stage(const struct seal_keyring *ring, bool compressed,
                                  uint32_t chunk_size, codec_sink_fn next, void *ud,
                                  struct codec_stage *stage, char key_id[SEAL_KEY_ID_LEN + 1],
                                  char *err, size_t errlen) QB_MUSTCHECK;

/* Opens a container whose header must say compressed == expect_compressed
 * (QB_ERR_INVALID "... is not a <codec> object" otherwise); the payload
 * goes to next(ud, ...).  key_id (SEAL_KEY_ID_LEN + 1 bytes, owned by the
 * caller, alive as long as the stage) receives the header's key id once
 * read.  [out] stage. */
enum qb_err codec_qbe1_open_stage(const struct seal_keyring *ring, bool expect_compressed,
                                  const char *codec, codec_sink_fn next, void *ud, char *key_id,
                                  struct codec_stage *stage, char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_CODEC_INTERNAL_H */
