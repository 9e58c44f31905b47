/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_codec.c -- libFuzzer target for the stored-object decoder
 * (src/codec/): the QBE1 header and chunk framing, the zstd frame reader
 * and format detection, on hostile bytes, with a fixed key ring.
 *
 * Input: byte 0 picks the codec (mod 4: none, zstd, aes256gcm,
 * zstd+aes256gcm), byte 1 how the rest is split into writes, then the
 * stored object.  The seeds in corpus/codec/ are real objects sealed with
 * the ring's key (some with tiny chunks), so mutations reach the chunk
 * loop and the authentication check.
 *
 * Invariants beyond "no crash, no sanitizer report, no leak": a decode
 * that succeeds reports the raw size the sink saw and the stored size it
 * was given; a failure is IO, INVALID, or NOT_FOUND with a message; a
 * failed call latches (the next write fails too); codec_detect on any
 * input is INVALID or names a known codec.
 */
#include "codec/codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"none", "zstd", "aes256gcm", "zstd+aes256gcm"};

static enum qb_err count_sink(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    (void)data;
    (void)err;
    (void)errlen;
    *(uint64_t *)ud += len;
    return QB_OK;
}

static struct seal_keyring *fixed_ring(void)
{
    static struct seal_keyring *ring; /* built once, never changed: the fuzzer's key */
    if (!ring) {
        unsigned char key[SEAL_KEY_LEN];
        memset(key, 0x42, sizeof key);
        ring = seal_keyring_create();
        seal_keyring_add(ring, key);
    }
    return ring;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > (1u << 20))
        return 0;
    const char *codec = names[data[0] % 4];
    size_t step = 1 + (size_t)data[1] * 37;
    const uint8_t *obj = data + 2;
    size_t n = size - 2;

    char err[QB_ERRBUF_SIZE] = "";
    struct codec_detected det;
    enum qb_err drc =
        codec_detect(obj, n < CODEC_DETECT_BYTES ? n : CODEC_DETECT_BYTES, &det, err, sizeof err);
    if (drc != QB_OK && drc != QB_ERR_INVALID)
        abort();
    if (drc == QB_OK && strcmp(det.codec, "none") != 0 && strcmp(det.codec, "zstd") != 0 &&
        strcmp(det.codec, "aes256gcm") != 0 && strcmp(det.codec, "zstd+aes256gcm") != 0)
        abort();

    uint64_t raw = 0;
    struct codec_decoder *d = NULL;
    if (codec_decoder_create(codec, fixed_ring(), count_sink, &raw, &d, err, sizeof err) != QB_OK)
        abort();
    enum qb_err rc = QB_OK;
    for (size_t off = 0; off < n && rc == QB_OK; off += step) {
        /* An exact-size copy per write: reading past it is an ASan report. */
        size_t k = n - off < step ? n - off : step;
        uint8_t *piece = malloc(k);
        memcpy(piece, obj + off, k);
        rc = codec_decoder_write(d, piece, k, err, sizeof err);
        free(piece);
    }
    if (rc != QB_OK) {
        if (codec_decoder_write(d, "x", 1, err, sizeof err) != rc)
            abort();
        codec_decoder_abort(d);
    } else {
        struct codec_result res;
        rc = codec_decoder_finish(d, &res, err, sizeof err);
        if (rc == QB_OK && (res.raw_size != raw || res.stored_size != n ||
                            strcmp(res.codec, codec) != 0 || strlen(res.raw_sha256) != 64))
            abort();
    }
    if (rc != QB_OK &&
        ((rc != QB_ERR_IO && rc != QB_ERR_INVALID && rc != QB_ERR_NOT_FOUND) || err[0] == '\0'))
        abort();
    return 0;
}
