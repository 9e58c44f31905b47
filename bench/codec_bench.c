/* SPDX-License-Identifier: Apache-2.0
 *
 * codec_bench.c -- times the stored-object codecs (src/codec/) on one
 * archive, the way a backup (encode) and a restore (decode) stream it, so
 * bench/codec-bench.sh can tabulate throughput, CPU time and ratio.  Not a
 * test: it checks only that every decode gives back the archive's SHA-256.
 *
 *   codec_bench FILE CODEC [LEVEL]     CODEC: none zstd aes256gcm zstd+aes256gcm
 *
 * The archive is read in 8 MiB pieces (what a snapshot download hands
 * over), encoded into a temporary file next to nothing else (TMPDIR), then
 * that file decoded into a sink that only counts.  Prints one line:
 *   codec level raw_bytes stored_bytes enc_wall_s enc_cpu_s dec_wall_s dec_cpu_s
 * The key is random (one ring, one key).
 */
#include "codec/codec.h"
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PIECE (8u << 20)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static enum qb_err fd_sink(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    int fd = *(int *)ud;
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return qb_failf(QB_ERR_IO, err, errlen, "write: %s", strerror(errno));
        p += w;
        len -= (size_t)w;
    }
    return QB_OK;
}

static enum qb_err null_sink(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    (void)ud;
    (void)data;
    (void)len;
    (void)err;
    (void)errlen;
    return QB_OK;
}

/* Feeds the file at fd to write(ctx, ...) in PIECE-sized reads. */
static enum qb_err pump(int fd, char *buf,
                        enum qb_err (*fn)(void *, const void *, size_t, char *, size_t), void *ctx,
                        char *err, size_t errlen)
{
    for (;;) {
        ssize_t n = read(fd, buf, PIECE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return qb_failf(QB_ERR_IO, err, errlen, "read: %s", strerror(errno));
        if (n == 0)
            return QB_OK;
        enum qb_err rc = fn(ctx, buf, (size_t)n, err, errlen);
        if (rc)
            return rc;
    }
}

static enum qb_err enc_write(void *e, const void *d, size_t n, char *err, size_t errlen)
{
    return codec_encoder_write(e, d, n, err, errlen);
}

static enum qb_err dec_write(void *d, const void *p, size_t n, char *err, size_t errlen)
{
    return codec_decoder_write(d, p, n, err, errlen);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: codec_bench FILE CODEC [LEVEL]\n");
        return 2;
    }
    char err[QB_ERRBUF_SIZE] = "";
    struct codec_spec spec = {0};
    bool encrypted = false;
    if (codec_name_parse(argv[2], &spec.compression, &encrypted, err, sizeof err) != QB_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    spec.level = argc > 3 ? atoi(argv[3]) : 0;
    struct seal_keyring *ring = seal_keyring_create();
    unsigned char key[SEAL_KEY_LEN];
    if (seal_key_generate(key, err, sizeof err) != QB_OK)
        goto fail;
    seal_keyring_add(ring, key);
    if (encrypted)
        spec.keyring = ring;

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/codec-bench.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int out = mkstemp(tmp);
    int in = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (out < 0 || in < 0) {
        snprintf(err, sizeof err, "%s: %s", in < 0 ? argv[1] : tmp, strerror(errno));
        goto fail;
    }
    unlink(tmp);
    char *buf = xmalloc(PIECE);

    struct codec_encoder *e = NULL;
    struct codec_result er, dr;
    double t0 = now_s(), c0 = cpu_s();
    if (codec_encoder_create(&spec, fd_sink, &out, &e, err, sizeof err) != QB_OK)
        goto fail;
    if (pump(in, buf, enc_write, e, err, sizeof err) != QB_OK) {
        codec_encoder_abort(e);
        goto fail;
    }
    if (codec_encoder_finish(e, &er, err, sizeof err) != QB_OK)
        goto fail;
    double enc_wall = now_s() - t0, enc_cpu = cpu_s() - c0;

    struct codec_decoder *d = NULL;
    lseek(out, 0, SEEK_SET);
    t0 = now_s();
    c0 = cpu_s();
    if (codec_decoder_create(er.codec, ring, null_sink, NULL, &d, err, sizeof err) != QB_OK)
        goto fail;
    if (pump(out, buf, dec_write, d, err, sizeof err) != QB_OK) {
        codec_decoder_abort(d);
        goto fail;
    }
    if (codec_decoder_finish(d, &dr, err, sizeof err) != QB_OK)
        goto fail;
    double dec_wall = now_s() - t0, dec_cpu = cpu_s() - c0;
    if (strcmp(er.raw_sha256, dr.raw_sha256) != 0 || er.raw_size != dr.raw_size) {
        snprintf(err, sizeof err, "decoded archive differs from the original");
        goto fail;
    }
    printf("%s %d %llu %llu %.3f %.3f %.3f %.3f\n", er.codec,
           spec.compression == CODEC_COMPRESSION_ZSTD
               ? (spec.level ? spec.level : CODEC_LEVEL_DEFAULT)
               : 0,
           (unsigned long long)er.raw_size, (unsigned long long)er.stored_size, enc_wall, enc_cpu,
           dec_wall, dec_cpu);
    free(buf);
    close(in);
    close(out);
    seal_keyring_destroy(ring);
    return 0;
fail:
    fprintf(stderr, "codec_bench: %s\n", err);
    return 1;
}
