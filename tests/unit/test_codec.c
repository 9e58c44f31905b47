/* SPDX-License-Identifier: Apache-2.0
 *
 * test_codec.c -- the stored-object codecs (src/codec/): round trips of
 * every codec at the sizes around a chunk boundary with writes split at
 * random places; every way a QBE1 container can be damaged (each failure
 * names the chunk); zstd frames truncated, followed by garbage, or asking
 * for too large a window; key rotation and a missing key; a decoder given
 * another codec's object; a failing sink; format detection; and `zstd -d`
 * restoring a "zstd" object when the zstd program is installed.
 */
#include "codec/codec.h"
#include "codec/codec_internal.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#define CHUNK QBE1_CHUNK_DEFAULT
#define FRAME (5 + CHUNK + 16) /* a full chunk's frame: head, payload, tag */

/* ---- fixtures ------------------------------------------------------------- */

/* A growable byte buffer used as a sink; fail_at (when > 0) makes the sink
 * fail once it holds that many bytes. */
struct mem {
    unsigned char *p;
    size_t len, cap;
    size_t fail_at;
};

static enum qb_err mem_sink(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct mem *m = ud;
    if (m->fail_at && m->len + len >= m->fail_at)
        return qb_failf(QB_ERR_CANCELLED, err, errlen, "sink says stop");
    if (m->len + len > m->cap) {
        m->cap = (m->len + len) * 2;
        m->p = xrealloc(m->p, m->cap);
    }
    if (len)
        memcpy(m->p + m->len, data, len);
    m->len += len;
    return QB_OK;
}

static void mem_free(struct mem *m)
{
    free(m->p);
    memset(m, 0, sizeof *m);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* n bytes: random (incompressible) or text-like (compressible). */
static unsigned char *make_data(size_t n, bool random)
{
    unsigned char *p = xmalloc(n ? n : 1);
    static const char words[] = "vector payload point collection segment shard index ";
    for (size_t i = 0; i < n; i++)
        p[i] =
            random ? (unsigned char)rng() : (unsigned char)words[(i + i / 97) % (sizeof words - 1)];
    return p;
}

/* Next write size: mostly small, sometimes large, sometimes zero. */
static size_t split_len(size_t left)
{
    size_t r = (size_t)(rng() % 8);
    size_t n = r == 0 ? 0 : r < 5 ? (size_t)(rng() % 4096) : (size_t)(rng() % (3 * CHUNK / 2));
    return n < left ? n : left;
}

static struct seal_keyring *ring_of(unsigned char fill)
{
    unsigned char key[SEAL_KEY_LEN];
    memset(key, fill, sizeof key);
    struct seal_keyring *kr = seal_keyring_create();
    seal_keyring_add(kr, key);
    return kr;
}

static enum qb_err encode(const struct codec_spec *spec, const unsigned char *data, size_t n,
                          struct mem *out, struct codec_result *res, char *err, size_t errlen)
{
    struct codec_encoder *e = NULL;
    enum qb_err rc = codec_encoder_create(spec, mem_sink, out, &e, err, errlen);
    if (rc)
        return rc;
    for (size_t off = 0; off < n;) {
        size_t k = split_len(n - off);
        rc = codec_encoder_write(e, data + off, k, err, errlen);
        if (rc) {
            codec_encoder_abort(e);
            return rc;
        }
        off += k;
    }
    return codec_encoder_finish(e, res, err, errlen);
}

static enum qb_err decode(const char *codec, const struct seal_keyring *kr,
                          const unsigned char *data, size_t n, struct mem *out,
                          struct codec_result *res, char *err, size_t errlen)
{
    struct codec_decoder *d = NULL;
    enum qb_err rc = codec_decoder_create(codec, kr, mem_sink, out, &d, err, errlen);
    if (rc)
        return rc;
    for (size_t off = 0; off < n;) {
        size_t k = split_len(n - off);
        rc = codec_decoder_write(d, data + off, k, err, errlen);
        if (rc) {
            codec_decoder_abort(d);
            return rc;
        }
        off += k;
    }
    return codec_decoder_finish(d, res, err, errlen);
}

static void sha256_hex(const unsigned char *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Encodes data with spec into *stored (caller frees). */
static bool sealed(const struct codec_spec *spec, const unsigned char *data, size_t n,
                   struct mem *stored)
{
    char err[QB_ERRBUF_SIZE] = "";
    enum qb_err rc = encode(spec, data, n, stored, NULL, err, sizeof err);
    if (rc)
        fprintf(stderr, "encode: %s\n", err);
    return rc == QB_OK;
}

/* Decoding stored (damaged) must fail with rc and a message holding want. */
static void expect_fail(const char *codec, const struct seal_keyring *kr, const struct mem *stored,
                        enum qb_err want_rc, const char *want)
{
    char err[QB_ERRBUF_SIZE] = "";
    struct mem out = {0};
    enum qb_err rc = decode(codec, kr, stored->p, stored->len, &out, NULL, err, sizeof err);
    TEST_EXPECT_INT(rc, want_rc);
    if (!strstr(err, want))
        TEST_FAIL_AT(__FILE__, __LINE__, "error \"%s\" does not say \"%s\"", err, want);
    mem_free(&out);
}

/* ---- round trips ------------------------------------------------------------ */

static void test_names(void)
{
    struct seal_keyring *kr = ring_of(1);
    struct codec_spec s = {CODEC_COMPRESSION_NONE, 0, NULL};
    TEST_EXPECT_STR(codec_spec_name(&s), "none");
    s.compression = CODEC_COMPRESSION_ZSTD;
    TEST_EXPECT_STR(codec_spec_name(&s), "zstd");
    s.keyring = kr;
    TEST_EXPECT_STR(codec_spec_name(&s), "zstd+aes256gcm");
    s.compression = CODEC_COMPRESSION_NONE;
    TEST_EXPECT_STR(codec_spec_name(&s), "aes256gcm");
    enum codec_compression c;
    bool enc;
    char err[QB_ERRBUF_SIZE];
    TEST_EXPECT_INT(codec_name_parse("zstd+aes256gcm", &c, &enc, err, sizeof err), QB_OK);
    TEST_EXPECT(c == CODEC_COMPRESSION_ZSTD && enc);
    TEST_EXPECT_INT(codec_name_parse("none", &c, &enc, err, sizeof err), QB_OK);
    TEST_EXPECT(c == CODEC_COMPRESSION_NONE && !enc);
    TEST_EXPECT_INT(codec_name_parse("lz4", &c, &enc, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT(strstr(err, "lz4") != NULL);
    TEST_EXPECT_INT(codec_name_parse("", &c, &enc, err, sizeof err), QB_ERR_INVALID);
    seal_keyring_destroy(kr);
}

static void test_roundtrip(void)
{
    struct seal_keyring *kr = ring_of(7);
    char id[SEAL_KEY_ID_LEN + 1];
    seal_keyring_current_id(kr, id);
    const size_t sizes[] = {0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 12345};
    const struct codec_spec specs[] = {
        {CODEC_COMPRESSION_NONE, 0, NULL},
        {CODEC_COMPRESSION_ZSTD, 0, NULL},
        {CODEC_COMPRESSION_NONE, 0, kr},
        {CODEC_COMPRESSION_ZSTD, 1, kr},
    };
    rng_state = 0x9e3779b97f4a7c15ull;
    for (size_t s = 0; s < QB_ARRAY_LEN(specs); s++) {
        for (size_t i = 0; i < QB_ARRAY_LEN(sizes); i++) {
            for (int random = 0; random < 2; random++) {
                const char *name = codec_spec_name(&specs[s]);
                size_t n = sizes[i];
                unsigned char *data = make_data(n, random);
                char err[QB_ERRBUF_SIZE] = "", want[65];
                struct mem stored = {0}, back = {0};
                struct codec_result er, dr;
                sha256_hex(data, n, want);
                enum qb_err rc = encode(&specs[s], data, n, &stored, &er, err, sizeof err);
                if (rc)
                    fprintf(stderr, "%s %zu: encode: %s\n", name, n, err);
                TEST_EXPECT_INT(rc, QB_OK);
                rc = decode(name, kr, stored.p, stored.len, &back, &dr, err, sizeof err);
                if (rc)
                    fprintf(stderr, "%s %zu: decode: %s\n", name, n, err);
                TEST_EXPECT_INT(rc, QB_OK);
                TEST_EXPECT_INT(back.len, n);
                TEST_EXPECT(back.len == n && (n == 0 || memcmp(back.p, data, n) == 0));
                TEST_EXPECT_STR(er.raw_sha256, want);
                TEST_EXPECT_STR(dr.raw_sha256, want);
                TEST_EXPECT_INT(er.raw_size, n);
                TEST_EXPECT_INT(dr.raw_size, n);
                TEST_EXPECT_INT(er.stored_size, stored.len);
                TEST_EXPECT_INT(dr.stored_size, stored.len);
                TEST_EXPECT_STR(er.codec, name);
                TEST_EXPECT_STR(dr.codec, name);
                TEST_EXPECT_STR(er.key_id, specs[s].keyring ? id : "");
                TEST_EXPECT_STR(dr.key_id, specs[s].keyring ? id : "");
                if (specs[s].compression == CODEC_COMPRESSION_ZSTD && !random && n > 4096)
                    TEST_EXPECT(stored.len < n / 4);
                if (strcmp(name, "none") != 0) {
                    struct codec_detected det;
                    TEST_EXPECT_INT(codec_detect(stored.p,
                                                 stored.len < CODEC_DETECT_BYTES
                                                     ? stored.len
                                                     : CODEC_DETECT_BYTES,
                                                 &det, err, sizeof err),
                                    QB_OK);
                    TEST_EXPECT_STR(det.codec, name);
                    TEST_EXPECT_STR(det.key_id, specs[s].keyring ? id : "");
                }
                free(data);
                mem_free(&stored);
                mem_free(&back);
            }
        }
    }
    seal_keyring_destroy(kr);
}

/* Every level encodes a standard frame that the decoder reads back. */
static void test_levels(void)
{
    unsigned char *data = make_data(200000, false);
    for (int level = 1; level <= CODEC_LEVEL_MAX; level += 6) {
        struct codec_spec spec = {CODEC_COMPRESSION_ZSTD, level, NULL};
        struct mem stored = {0}, back = {0};
        char err[QB_ERRBUF_SIZE];
        TEST_EXPECT(sealed(&spec, data, 200000, &stored));
        TEST_EXPECT_INT(decode("zstd", NULL, stored.p, stored.len, &back, NULL, err, sizeof err),
                        QB_OK);
        TEST_EXPECT(back.len == 200000 && memcmp(back.p, data, 200000) == 0);
        mem_free(&stored);
        mem_free(&back);
    }
    struct codec_encoder *e = NULL;
    char err[QB_ERRBUF_SIZE];
    struct codec_spec bad = {CODEC_COMPRESSION_ZSTD, CODEC_LEVEL_MAX + 1, NULL};
    TEST_EXPECT_INT(codec_encoder_create(&bad, mem_sink, NULL, &e, err, sizeof err),
                    QB_ERR_INVALID);
    bad.level = -1;
    TEST_EXPECT_INT(codec_encoder_create(&bad, mem_sink, NULL, &e, err, sizeof err),
                    QB_ERR_INVALID);
    struct seal_keyring *empty = seal_keyring_create();
    struct codec_spec none = {CODEC_COMPRESSION_NONE, 0, empty};
    TEST_EXPECT_INT(codec_encoder_create(&none, mem_sink, NULL, &e, err, sizeof err),
                    QB_ERR_INVALID);
    TEST_EXPECT(e == NULL);
    seal_keyring_destroy(empty);
    free(data);
}

/* The zstd program restores a "zstd" object by hand, and the decoder reads
 * what the zstd program wrote. */
static void test_zstd_cli(void)
{
    if (system("command -v zstd >/dev/null 2>&1") != 0) {
        fprintf(stderr, "skip test_zstd_cli: no zstd program on PATH\n");
        TEST_EXPECT(true);
        return;
    }
    size_t n = 2 * CHUNK + 777;
    unsigned char *data = make_data(n, false);
    struct codec_spec spec = {CODEC_COMPRESSION_ZSTD, 0, NULL};
    struct mem stored = {0};
    char in[] = "/tmp/qb-codec-XXXXXX";
    int fd = mkstemp(in);
    TEST_ASSERT(fd >= 0);
    char outpath[64];
    snprintf(outpath, sizeof outpath, "%s.out", in);
    TEST_EXPECT(sealed(&spec, data, n, &stored));
    TEST_EXPECT(write(fd, stored.p, stored.len) == (ssize_t)stored.len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "zstd -q -d -c %s > %s", in, outpath);
    TEST_EXPECT_INT(system(cmd), 0);
    FILE *f = fopen(outpath, "rb");
    TEST_EXPECT(f != NULL);
    if (f) {
        unsigned char *back = xmalloc(n + 1);
        size_t got = fread(back, 1, n + 1, f);
        fclose(f);
        TEST_EXPECT_INT(got, n);
        TEST_EXPECT(got == n && memcmp(back, data, n) == 0);
        free(back);
    }
    /* And the other way: a frame the zstd program made (with its content
     * size in the header) decodes here. */
    snprintf(cmd, sizeof cmd, "zstd -q -f -19 -c %s > %s", outpath, in);
    TEST_EXPECT_INT(system(cmd), 0);
    f = fopen(in, "rb");
    TEST_EXPECT(f != NULL);
    if (f) {
        struct mem cli = {0}, back = {0};
        unsigned char buf[65536];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, f)) > 0)
            TEST_EXPECT(mem_sink(&cli, buf, got, NULL, 0) == QB_OK);
        fclose(f);
        char err[QB_ERRBUF_SIZE] = "";
        TEST_EXPECT_INT(decode("zstd", NULL, cli.p, cli.len, &back, NULL, err, sizeof err), QB_OK);
        TEST_EXPECT(back.len == n && memcmp(back.p, data, n) == 0);
        mem_free(&cli);
        mem_free(&back);
    }
    unlink(in);
    unlink(outpath);
    mem_free(&stored);
    free(data);
}

/* ---- damage to a QBE1 container ------------------------------------------ */

/* A copy of src with [off, off+len) removed and `insert` spliced in. */
static struct mem edited(const struct mem *src, size_t off, size_t len, const void *insert,
                         size_t ilen)
{
    struct mem m = {0};
    TEST_EXPECT(mem_sink(&m, src->p, off, NULL, 0) == QB_OK);
    TEST_EXPECT(mem_sink(&m, insert, ilen, NULL, 0) == QB_OK);
    TEST_EXPECT(mem_sink(&m, src->p + off + len, src->len - off - len, NULL, 0) == QB_OK);
    return m;
}

static void expect_flip(const char *codec, const struct seal_keyring *kr, const struct mem *stored,
                        size_t off, const char *want)
{
    unsigned char b = stored->p[off] ^ 0x10;
    struct mem m = edited(stored, off, 1, &b, 1);
    expect_fail(codec, kr, &m, QB_ERR_IO, want);
    mem_free(&m);
}

static void test_tamper_qbe1(void)
{
    struct seal_keyring *kr = ring_of(3);
    rng_state = 42;
    size_t n = 3 * CHUNK + CHUNK / 2; /* four chunks, the last half full */
    unsigned char *data = make_data(n, true);
    struct codec_spec spec = {CODEC_COMPRESSION_NONE, 0, kr};
    struct mem st = {0};
    TEST_ASSERT(sealed(&spec, data, n, &st));
    size_t h = QBE1_HEADER_LEN;
    TEST_ASSERT(st.len == h + 3 * FRAME + 5 + CHUNK / 2 + 16);
    const char *c = "aes256gcm";

    /* A bit flipped in each chunk's payload, a tag, the last frame's flag
     * of chunk 0, and the salt in the header. */
    expect_flip(c, kr, &st, h + 5 + 100, "chunk 0 failed authentication");
    expect_flip(c, kr, &st, h + FRAME + 5 + 100, "chunk 1 failed authentication");
    expect_flip(c, kr, &st, h + 2 * FRAME + 5 + CHUNK - 1, "chunk 2 failed authentication");
    expect_flip(c, kr, &st, h + 3 * FRAME + 5 + 7, "chunk 3 failed authentication");
    expect_flip(c, kr, &st, st.len - 1, "chunk 3 failed authentication");
    expect_flip(c, kr, &st, h + 30, "chunk 0 failed authentication");
    unsigned char last = 1;
    struct mem m = edited(&st, h + FRAME, 1, &last, 1);
    expect_fail(c, kr, &m, QB_ERR_IO, "chunk 1 failed authentication");
    mem_free(&m);
    /* A length changed: framing, named. */
    expect_flip(c, kr, &st, h + FRAME + 3, "chunk 1 has a malformed frame");

    /* Chunks 1 and 2 swapped. */
    m = edited(&st, 0, 0, NULL, 0);
    memcpy(m.p + h + FRAME, st.p + h + 2 * FRAME, FRAME);
    memcpy(m.p + h + 2 * FRAME, st.p + h + FRAME, FRAME);
    expect_fail(c, kr, &m, QB_ERR_IO, "chunk 1 failed authentication");
    mem_free(&m);
    /* Chunk 2 dropped. */
    m = edited(&st, h + 2 * FRAME, FRAME, NULL, 0);
    expect_fail(c, kr, &m, QB_ERR_IO, "chunk 2 failed authentication");
    mem_free(&m);

    /* Cut at chunk boundaries, inside a chunk, inside the header. */
    struct mem cut = {st.p, h + 2 * FRAME, 0, 0};
    expect_fail(c, kr, &cut, QB_ERR_IO, "ends after chunk 1 without its last chunk (truncated)");
    cut.len = h;
    expect_fail(c, kr, &cut, QB_ERR_IO, "without any chunk (truncated)");
    cut.len = h + 2 * FRAME + 3;
    expect_fail(c, kr, &cut, QB_ERR_IO, "inside chunk 2 (truncated)");
    cut.len = h + 2 * FRAME + 500;
    expect_fail(c, kr, &cut, QB_ERR_IO, "inside chunk 2 (truncated)");
    cut.len = st.len - 1;
    expect_fail(c, kr, &cut, QB_ERR_IO, "inside chunk 3 (truncated)");
    cut.len = 20;
    expect_fail(c, kr, &cut, QB_ERR_IO, "inside its QBE1 header");
    cut.len = 0;
    expect_fail(c, kr, &cut, QB_ERR_IO, "inside its QBE1 header");

    /* Anything after the last chunk. */
    m = edited(&st, st.len, 0, "x", 1);
    expect_fail(c, kr, &m, QB_ERR_IO, "1 unexpected byte(s) after the last chunk (chunk 3)");
    mem_free(&m);
    struct mem twice = edited(&st, st.len, 0, st.p, st.len);
    expect_fail(c, kr, &twice, QB_ERR_IO, "after the last chunk");
    mem_free(&twice);

    /* The header's version, flags, chunk size. */
    unsigned char v2 = 2;
    m = edited(&st, 4, 1, &v2, 1);
    expect_fail(c, kr, &m, QB_ERR_INVALID, "version 2");
    mem_free(&m);
    unsigned char big[4] = {0x7f, 0, 0, 0};
    m = edited(&st, 16, 4, big, 4);
    expect_fail(c, kr, &m, QB_ERR_INVALID, "chunk size");
    mem_free(&m);
    m = edited(&st, 5, 1, &last, 1); /* now claims a zstd payload */
    expect_fail(c, kr, &m, QB_ERR_INVALID, "is not a aes256gcm object");
    expect_fail("zstd+aes256gcm", kr, &m, QB_ERR_IO, "chunk 0 failed authentication");
    mem_free(&m);

    /* With compression the damage is found and named the same way. */
    struct codec_spec zspec = {CODEC_COMPRESSION_ZSTD, 1, kr};
    struct mem zst = {0};
    TEST_ASSERT(sealed(&zspec, data, n, &zst));
    TEST_EXPECT(zst.len > h + 2 * FRAME); /* random data: still several chunks */
    expect_flip("zstd+aes256gcm", kr, &zst, h + FRAME + 5 + 9, "chunk 1 failed authentication");
    cut = (struct mem){zst.p, h + 2 * FRAME, 0, 0};
    expect_fail("zstd+aes256gcm", kr, &cut, QB_ERR_IO, "after chunk 1 without its last chunk");
    mem_free(&zst);

    mem_free(&st);
    free(data);
    seal_keyring_destroy(kr);
}

static void test_tamper_zstd(void)
{
    size_t n = CHUNK + 99;
    unsigned char *data = make_data(n, false);
    struct codec_spec spec = {CODEC_COMPRESSION_ZSTD, 0, NULL};
    struct mem st = {0};
    TEST_ASSERT(sealed(&spec, data, n, &st));
    struct mem cut = {st.p, st.len - 1, 0, 0};
    expect_fail("zstd", NULL, &cut, QB_ERR_IO, "truncated");
    cut.len = st.len / 2;
    expect_fail("zstd", NULL, &cut, QB_ERR_IO, "truncated");
    cut.len = 0;
    expect_fail("zstd", NULL, &cut, QB_ERR_IO, "not a zstd frame");
    cut.len = 2;
    expect_fail("zstd", NULL, &cut, QB_ERR_IO, "truncated");
    struct mem m = edited(&st, st.len, 0, "junk", 4);
    expect_fail("zstd", NULL, &m, QB_ERR_IO, "unexpected byte(s) after the end of the zstd frame");
    mem_free(&m);
    m = edited(&st, st.len, 0, st.p, st.len);
    expect_fail("zstd", NULL, &m, QB_ERR_IO, "after the end of the zstd frame");
    mem_free(&m);
    m = edited(&st, 0, 4, "\x00\x01\x02\x03", 4);
    expect_fail("zstd", NULL, &m, QB_ERR_IO, "not a zstd frame");
    mem_free(&m);
    /* A flipped bit inside the frame: corrupt block or checksum. */
    unsigned char b = st.p[st.len / 2] ^ 0x01;
    m = edited(&st, st.len / 2, 1, &b, 1);
    expect_fail("zstd", NULL, &m, QB_ERR_IO, "zstd frame");
    mem_free(&m);
    mem_free(&st);
    free(data);

    /* A frame asking for a 256 MiB window is refused before any
     * allocation of that size. */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    TEST_ASSERT(cc != NULL);
    TEST_EXPECT(!ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, 28)));
    TEST_EXPECT(!ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)));
    unsigned char buf[4096];
    ZSTD_outBuffer out = {buf, sizeof buf, 0};
    ZSTD_inBuffer in = {"hello hello hello", 17, 0};
    TEST_EXPECT(!ZSTD_isError(ZSTD_compressStream2(cc, &out, &in, ZSTD_e_continue)));
    TEST_EXPECT(ZSTD_compressStream2(cc, &out, &in, ZSTD_e_end) == 0);
    ZSTD_freeCCtx(cc);
    struct mem wide = {buf, out.pos, 0, 0};
    expect_fail("zstd", NULL, &wide, QB_ERR_IO, "window above 128 MiB");
}

/* ---- keys, codecs, sinks ------------------------------------------------- */

static void test_rotation(void)
{
    struct seal_keyring *old = ring_of(1), *both = ring_of(2), *other = ring_of(9);
    unsigned char k1[SEAL_KEY_LEN];
    memset(k1, 1, sizeof k1);
    seal_keyring_add(both, k1); /* new key first, old key kept */
    char old_id[SEAL_KEY_ID_LEN + 1], new_id[SEAL_KEY_ID_LEN + 1];
    seal_keyring_current_id(old, old_id);
    seal_keyring_current_id(both, new_id);
    unsigned char *data = make_data(5000, false);
    for (int z = 0; z < 2; z++) {
        const char *name = z ? "zstd+aes256gcm" : "aes256gcm";
        struct codec_spec spec = {z ? CODEC_COMPRESSION_ZSTD : CODEC_COMPRESSION_NONE, 0, old};
        struct mem st = {0}, back = {0};
        struct codec_result res;
        char err[QB_ERRBUF_SIZE] = "";
        TEST_ASSERT(sealed(&spec, data, 5000, &st));
        TEST_EXPECT_INT(decode(name, both, st.p, st.len, &back, &res, err, sizeof err), QB_OK);
        TEST_EXPECT(back.len == 5000 && memcmp(back.p, data, 5000) == 0);
        TEST_EXPECT_STR(res.key_id, old_id);
        mem_free(&back);
        /* No key with the object's id: not found, naming the id. */
        expect_fail(name, other, &st, QB_ERR_NOT_FOUND, old_id);
        expect_fail(name, NULL, &st, QB_ERR_NOT_FOUND, old_id);
        mem_free(&st);
        /* The rotated ring seals with its first key. */
        spec.keyring = both;
        TEST_ASSERT(sealed(&spec, data, 5000, &st));
        struct codec_detected det;
        TEST_EXPECT_INT(codec_detect(st.p, st.len, &det, err, sizeof err), QB_OK);
        TEST_EXPECT_STR(det.key_id, new_id);
        TEST_EXPECT(codec_keyring_has(both, det.key_id));
        TEST_EXPECT(!codec_keyring_has(old, det.key_id));
        expect_fail(name, old, &st, QB_ERR_NOT_FOUND, new_id);
        mem_free(&st);
    }
    free(data);
    seal_keyring_destroy(old);
    seal_keyring_destroy(both);
    seal_keyring_destroy(other);
}

/* A decoder refuses an object of another codec with QB_ERR_INVALID. */
static void test_codec_mismatch(void)
{
    struct seal_keyring *kr = ring_of(5);
    unsigned char *data = make_data(3000, false);
    struct codec_spec aes = {CODEC_COMPRESSION_NONE, 0, kr};
    struct codec_spec zaes = {CODEC_COMPRESSION_ZSTD, 0, kr};
    struct codec_spec z = {CODEC_COMPRESSION_ZSTD, 0, NULL};
    struct mem a = {0}, za = {0}, zs = {0};
    TEST_ASSERT(sealed(&aes, data, 3000, &a) && sealed(&zaes, data, 3000, &za) &&
                sealed(&z, data, 3000, &zs));
    expect_fail("zstd", kr, &a, QB_ERR_INVALID, "is not a zstd object");
    expect_fail("zstd", kr, &za, QB_ERR_INVALID, "is not a zstd object");
    expect_fail("aes256gcm", kr, &za, QB_ERR_INVALID, "is not a aes256gcm object");
    expect_fail("zstd+aes256gcm", kr, &a, QB_ERR_INVALID, "is not a zstd+aes256gcm object");
    expect_fail("aes256gcm", kr, &zs, QB_ERR_INVALID, "is not a aes256gcm object");
    char err[QB_ERRBUF_SIZE];
    struct codec_decoder *d = NULL;
    TEST_EXPECT_INT(codec_decoder_create("rot13", kr, mem_sink, NULL, &d, err, sizeof err),
                    QB_ERR_INVALID);
    TEST_EXPECT(d == NULL);
    mem_free(&a);
    mem_free(&za);
    mem_free(&zs);
    free(data);
    seal_keyring_destroy(kr);
}

/* The sink's failure comes back unchanged, and latches. */
static void test_sink_failure(void)
{
    struct seal_keyring *kr = ring_of(6);
    rng_state = 7;
    size_t n = 2 * CHUNK + 5;
    unsigned char *data = make_data(n, true);
    const struct codec_spec specs[] = {
        {CODEC_COMPRESSION_NONE, 0, NULL},
        {CODEC_COMPRESSION_ZSTD, 0, NULL},
        {CODEC_COMPRESSION_NONE, 0, kr},
        {CODEC_COMPRESSION_ZSTD, 0, kr},
    };
    for (size_t s = 0; s < QB_ARRAY_LEN(specs); s++) {
        char err[QB_ERRBUF_SIZE] = "";
        /* Encoding: the failure surfaces in a write or in finish. */
        struct mem out = {.fail_at = CHUNK + 10};
        TEST_EXPECT_INT(encode(&specs[s], data, n, &out, NULL, err, sizeof err), QB_ERR_CANCELLED);
        TEST_EXPECT_STR(err, "sink says stop");
        mem_free(&out);
        struct codec_encoder *e = NULL;
        out = (struct mem){.fail_at = 1};
        enum qb_err rc = codec_encoder_create(&specs[s], mem_sink, &out, &e, err, sizeof err);
        if (specs[s].keyring) {
            /* QBE1 writes its header at once. */
            TEST_EXPECT_INT(rc, QB_ERR_CANCELLED);
            TEST_EXPECT(e == NULL);
        } else {
            TEST_EXPECT_INT(rc, QB_OK);
            TEST_ASSERT(e != NULL);
            TEST_EXPECT_INT(codec_encoder_write(e, data, n, err, sizeof err), QB_ERR_CANCELLED);
            TEST_EXPECT_INT(codec_encoder_write(e, data, 1, err, sizeof err), QB_ERR_CANCELLED);
            TEST_EXPECT_INT(codec_encoder_finish(e, NULL, err, sizeof err), QB_ERR_CANCELLED);
        }
        mem_free(&out);
        /* Decoding. */
        struct mem st = {0};
        TEST_ASSERT(sealed(&specs[s], data, n, &st));
        struct mem back = {.fail_at = CHUNK / 2};
        TEST_EXPECT_INT(
            decode(codec_spec_name(&specs[s]), kr, st.p, st.len, &back, NULL, err, sizeof err),
            QB_ERR_CANCELLED);
        TEST_EXPECT_STR(err, "sink says stop");
        mem_free(&back);
        mem_free(&st);
    }
    free(data);
    seal_keyring_destroy(kr);
}

static void test_detect(void)
{
    struct codec_detected det;
    char err[QB_ERRBUF_SIZE];
    TEST_EXPECT_INT(codec_detect("", 0, &det, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(det.codec, "none");
    TEST_EXPECT_INT(codec_detect("collection/x", 12, &det, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(det.codec, "none");
    TEST_EXPECT_STR(det.key_id, "");
    TEST_EXPECT_INT(codec_detect("\x28\xb5\x2f\xfd\x04", 5, &det, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(det.codec, "zstd");
    unsigned char h[QBE1_HEADER_LEN] = "QBE1\x01\x01\x00\x00"
                                       "0a1b2c3d"
                                       "\x00\x10\x00\x00";
    TEST_EXPECT_INT(codec_detect(h, sizeof h, &det, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(det.codec, "zstd+aes256gcm");
    TEST_EXPECT_STR(det.key_id, "0a1b2c3d");
    h[5] = 0;
    TEST_EXPECT_INT(codec_detect(h, sizeof h, &det, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(det.codec, "aes256gcm");
    TEST_EXPECT_INT(codec_detect(h, 20, &det, err, sizeof err), QB_ERR_INVALID);
    h[4] = 9;
    TEST_EXPECT_INT(codec_detect(h, sizeof h, &det, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT(strstr(err, "version 9") != NULL);
    h[4] = 1;
    h[5] = 0x80;
    TEST_EXPECT_INT(codec_detect(h, sizeof h, &det, err, sizeof err), QB_ERR_INVALID);
    h[5] = 0;
    h[9] = 'G';
    TEST_EXPECT_INT(codec_detect(h, sizeof h, &det, err, sizeof err), QB_ERR_INVALID);
    h[9] = 'a';
    memset(h + 16, 0, 4);
    TEST_EXPECT_INT(codec_detect(h, sizeof h, &det, err, sizeof err), QB_ERR_INVALID);
}

int main(void)
{
    TEST_RUN(test_names);
    TEST_RUN(test_roundtrip);
    TEST_RUN(test_levels);
    TEST_RUN(test_zstd_cli);
    TEST_RUN(test_tamper_qbe1);
    TEST_RUN(test_tamper_zstd);
    TEST_RUN(test_rotation);
    TEST_RUN(test_codec_mismatch);
    TEST_RUN(test_sink_failure);
    TEST_RUN(test_detect);
    return TEST_RESULT();
}
