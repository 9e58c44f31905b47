/* SPDX-License-Identifier: Apache-2.0
 *
 * codec.h -- what a stored snapshot's bytes are: the archive Qdrant made,
 * as is, or compressed (zstd) and/or encrypted (AES-256-GCM in numbered,
 * authenticated chunks).  Owns both stored formats, the streaming encoder
 * (raw archive in, stored bytes out) and decoder (stored bytes in, raw
 * archive out), and recognising a stored object's format from its first
 * bytes (rescan, when the manifest is lost).  Knows nothing of storage,
 * Qdrant or the catalogue: bytes in, bytes out, through a sink callback.
 *
 * FORMATS (docs/internals/codec.md has the byte layout)
 *   "none"            the raw archive.
 *   "zstd"            one standard zstd frame: `zstd -d` restores it by
 *                     hand, no qbackup needed.
 *   "aes256gcm"       the "QBE1" container: a header (magic, version,
 *   "zstd+aes256gcm"  flags, key id, chunk size, per-object salt) and then
 *                     chunks, each sealed with AES-256-GCM under a key
 *                     derived from the ring's key and the salt; each
 *                     chunk's nonce is its number and its associated data
 *                     binds the header and a last-chunk flag, so a chunk
 *                     altered, dropped, reordered or cut off -- or an object
 *                     cut at a chunk boundary -- fails to open, naming the
 *                     chunk.  With "zstd+", the sealed payload is a zstd
 *                     frame (compress, then encrypt).
 *
 * KEYS come from a struct seal_keyring (util/seal.h): the ring's current
 * key encrypts and its id (8 hex digits derived from the key) is written
 * in the header; every key of the ring may decrypt (rotation).  A key never
 * appears in an error message.
 *
 * Memory is bounded by the chunk size and zstd's window, whatever the
 * object's size.  Encoder and decoder are used by one thread at a time;
 * distinct ones are independent.  Errors follow common.h; the sink's own
 * failure is returned unchanged.
 */
#ifndef QB_CODEC_H
#define QB_CODEC_H

#include "common.h"
#include "util/seal.h"

#include <stdbool.h>
#include <stdint.h>

enum codec_compression {
    CODEC_COMPRESSION_NONE = 0,
    CODEC_COMPRESSION_ZSTD,
};

#define CODEC_LEVEL_DEFAULT 3
#define CODEC_LEVEL_MAX     19
#define CODEC_NAME_MAX      32 /* longest codec name + NUL */

/* How to encode.  keyring is borrowed for the encoder's lifetime. */
struct codec_spec {
    enum codec_compression compression;
    int level;                          /* zstd level 1..CODEC_LEVEL_MAX; 0: default */
    const struct seal_keyring *keyring; /* NULL: not encrypted; else its current key */
};

/* The codec's name as recorded in the catalogue and the manifest: "none",
 * "zstd", "aes256gcm" or "zstd+aes256gcm".  Static string. */
const char *codec_spec_name(const struct codec_spec *spec);

/* Parses a recorded name.  QB_ERR_INVALID naming it when unknown (a newer
 * writer's codec, or garbage). */
enum qb_err codec_name_parse(const char *name, enum codec_compression *compression, bool *encrypted,
                             char *err, size_t errlen) QB_MUSTCHECK;

/* Receives bytes in order (data borrowed for the call); anything but QB_OK
 * stops the stream and is returned by the write or finish that called it. */
typedef enum qb_err (*codec_sink_fn)(void *ud, const void *data, size_t len, char *err,
                                     size_t errlen);

/* What a finished encode or decode saw. */
struct codec_result {
    uint64_t raw_size;                /* bytes of the archive */
    char raw_sha256[65];              /* lower-case hex SHA-256 of the archive */
    uint64_t stored_size;             /* bytes of the stored form */
    char key_id[SEAL_KEY_ID_LEN + 1]; /* "" when not encrypted */
    char codec[CODEC_NAME_MAX];       /* codec_spec_name() of what was done */
};

/* ---- encoding: raw archive -> stored bytes ----------------------------- */

struct codec_encoder;

/* Starts encoding; stored bytes go to sink(ud, ...).  QB_ERR_INVALID for a
 * level out of range or an empty ring.  [out] *out: consume with
 * codec_encoder_finish() or codec_encoder_abort(). */
enum qb_err codec_encoder_create(const struct codec_spec *spec, codec_sink_fn sink, void *ud,
                                 struct codec_encoder **out, char *err, size_t errlen) QB_MUSTCHECK;

/* Encodes data[0..len) (borrowed).  After a failure every further call
 * fails; the encoder must still be finished or aborted. */
enum qb_err codec_encoder_write(struct codec_encoder *e, const void *data, size_t len, char *err,
                                size_t errlen) QB_MUSTCHECK;

/* Flushes the rest (the last chunk, the end of the zstd frame) to the sink
 * and frees e (always consumed).  [out] res (may be NULL). */
enum qb_err codec_encoder_finish(struct codec_encoder *e, struct codec_result *res, char *err,
                                 size_t errlen) QB_MUSTCHECK;

/* Frees e without flushing.  NULL is a no-op. */
void codec_encoder_abort(struct codec_encoder *e);

/* ---- decoding: stored bytes -> raw archive ----------------------------- */

struct codec_decoder;

/* Starts decoding an object recorded with codec name `codec` (the stored
 * header must agree: QB_ERR_INVALID "... is not a <codec> object"
 * otherwise).  keyring (borrowed, may be NULL) holds the keys that may
 * decrypt.  Raw bytes go to sink(ud, ...).
 * Decoding failures are QB_ERR_IO with what and where: "chunk 12 failed
 * authentication (altered, reordered or wrong key)", "object ends after
 * chunk 7 without its last chunk (truncated)", "not a zstd frame", ...;
 * no key of the ring with the object's key id is QB_ERR_NOT_FOUND naming
 * the id.  Bytes already passed to the sink before a failure are not
 * authenticated as a whole: a consumer must not treat them as good until
 * codec_decoder_finish() succeeds. */
enum qb_err codec_decoder_create(const char *codec, const struct seal_keyring *keyring,
                                 codec_sink_fn sink, void *ud, struct codec_decoder **out,
                                 char *err, size_t errlen) QB_MUSTCHECK;

/* Feeds stored bytes data[0..len) (borrowed), in any split. */
enum qb_err codec_decoder_write(struct codec_decoder *d, const void *data, size_t len, char *err,
                                size_t errlen) QB_MUSTCHECK;

/* Checks the stream ended where it should (the last chunk, the end of the
 * zstd frame, nothing after it) and frees d (always consumed).
 * [out] res (may be NULL). */
enum qb_err codec_decoder_finish(struct codec_decoder *d, struct codec_result *res, char *err,
                                 size_t errlen) QB_MUSTCHECK;

/* Frees d.  NULL is a no-op. */
void codec_decoder_abort(struct codec_decoder *d);

/* ---- recognising a stored object --------------------------------------- */

/* Bytes of an object's start that codec_detect() needs (fewer if the
 * object is shorter). */
#define CODEC_DETECT_BYTES 64

struct codec_detected {
    char codec[CODEC_NAME_MAX];       /* "none" when no known header */
    char key_id[SEAL_KEY_ID_LEN + 1]; /* the key an encrypted object needs */
};

/* Names the format of an object from its first n bytes: the QBE1 header
 * (with its key id and whether the payload is compressed), a zstd frame's
 * magic, or "none" (a tar archive, or anything else).  QB_ERR_INVALID for a
 * QBE1 header of an unknown version or malformed fields. */
enum qb_err codec_detect(const void *head, size_t n, struct codec_detected *out, char *err,
                         size_t errlen) QB_MUSTCHECK;

/* True when ring holds a key whose id is key_id (8 hex digits). */
bool codec_keyring_has(const struct seal_keyring *ring, const char *key_id);

#endif /* QB_CODEC_H */
