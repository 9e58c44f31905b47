/* SPDX-License-Identifier: Apache-2.0
 *
 * test_s3_download.c -- s3_download, the parallel ranged reader, against a
 * real S3 server (Ceph RGW), directly and through the s3fault proxy
 * (tests/emulators/s3fault) to count GETs and inject failures: byte-exact
 * reads of objects around part boundaries with 1..8 workers and odd part
 * sizes, sub-ranges, a callback that stops early, an object replaced
 * mid-read, and ranges failing transiently and for good.
 * Reads S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_DEFAULT_REGION and QB_S3_BUCKET; without them it exits 77 (skipped)
 * unless QB_REQUIRE_S3=1.  Every key lives under a per-run prefix.
 */
#include "unit.h"

#include "common.h"
#include "fault_matrix.h"
#include "remote/http_client.h"
#include "remote/s3_client.h"
#include "s3_env.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KIB 1024u
#define MIB (1024u * 1024u)

static struct s3_config base_cfg;
static char prefix[64];
static struct s3fault proxy;
static char proxy_dir[] = "/tmp/qb-s3dl-XXXXXX";

static char *k(const char *name) /* a key under this run's prefix; caller frees */
{
    return xasprintf("%s%s", prefix, name);
}

static struct s3_client *client(uint64_t part, unsigned workers, bool via_proxy)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_config cfg = base_cfg;
    cfg.download_part_size = part;
    cfg.download_parts_in_flight = workers;
    if (via_proxy)
        cfg.endpoint = proxy.url;
    struct s3_client *c = NULL;
    if (s3_client_create(&cfg, &c, err, sizeof err) != QB_OK)
        fprintf(stderr, "s3_client_create: %s\n", err);
    return c;
}

/* Byte i of every test object of generation gen. */
static unsigned char gen_byte(uint64_t i, unsigned gen)
{
    uint64_t x = (i + gen * 7919u) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    return (unsigned char)(x ^ (x >> 17) ^ (i >> 20));
}

static bool put_object(const char *key, uint64_t size, unsigned gen)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_client *c = client(0, 0, false);
    unsigned char *data = xmalloc(size ? size : 1);
    for (uint64_t i = 0; i < size; i++)
        data[i] = gen_byte(i, gen);
    enum qb_err rc = c ? s3_put_object(c, key, data, size, NULL, err, sizeof err) : QB_ERR_INTERNAL;
    if (rc)
        fprintf(stderr, "put %s: %s\n", key, err);
    free(data);
    s3_client_destroy(c);
    return rc == QB_OK;
}

struct sink {
    struct buf b;
    uint64_t calls;
    uint64_t fail_after;     /* fail the call after this many bytes arrived (0: never) */
    const char *replace_key; /* replace this object during the first call */
};

static enum qb_err sink_fn(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct sink *s = ud;
    s->calls++;
    if (s->replace_key && s->calls == 1 && !put_object(s->replace_key, s->b.max / 2, 2))
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "could not replace the object");
    if (s->fail_after && s->b.len >= s->fail_after)
        return qb_failf(QB_ERR_CANCELLED, err, errlen, "sink says stop");
    if (!buf_append(&s->b, data, len))
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "sink full");
    return QB_OK;
}

/* Reads [off, off+len) of key with the given shape; true when the bytes
 * are exactly those of generation 1, clipped to size. */
static bool read_exact(struct s3_client *c, const char *key, uint64_t size, uint64_t off,
                       uint64_t len)
{
    char err[QB_ERRBUF_SIZE];
    struct sink s = {0};
    buf_init(&s.b, size + 1);
    enum qb_err rc = s3_download(c, key, off, len, sink_fn, &s, err, sizeof err);
    uint64_t want = len && off + len < size ? len : size - off;
    bool ok = rc == QB_OK && s.b.len == want;
    for (uint64_t i = 0; ok && i < want; i++)
        ok = (unsigned char)s.b.data[i] == gen_byte(off + i, 1);
    if (!ok)
        fprintf(stderr, "read %s [%llu,+%llu) of %llu: rc=%d len=%zu want=%llu %s\n", key,
                (unsigned long long)off, (unsigned long long)len, (unsigned long long)size, rc,
                s.b.len, (unsigned long long)want, rc ? err : "(bytes differ)");
    buf_free(&s.b);
    return ok;
}

/* ------------------------------------------------------------------- tests */

static void test_bucket(void)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_client *c = client(0, 0, false);
    TEST_ASSERT(c != NULL);
    TEST_EXPECT_INT(s3_create_bucket(c, err, sizeof err), QB_OK);
    s3_client_destroy(c);
}

/* Sizes around the boundaries of an odd part size, 1..8 workers. */
static void test_boundaries(void)
{
    const uint64_t p = 64 * KIB + 7;
    const uint64_t sizes[] = {0,     1,         p - 1,         p,         p + 1, 2 * p - 1,
                              2 * p, 2 * p + 1, 3 * p + p / 2, 11 * p + 3};
    const unsigned workers[] = {1, 2, 3, 8};
    for (size_t i = 0; i < QB_ARRAY_LEN(sizes); i++) {
        char name[64];
        snprintf(name, sizeof name, "bounds/%llu", (unsigned long long)sizes[i]);
        char *key = k(name);
        TEST_ASSERT(put_object(key, sizes[i], 1));
        for (size_t w = 0; w < QB_ARRAY_LEN(workers); w++) {
            struct s3_client *c = client(p, workers[w], false);
            TEST_ASSERT(c != NULL);
            TEST_EXPECT(read_exact(c, key, sizes[i], 0, 0));
            s3_client_destroy(c);
        }
        free(key);
    }
}

/* Larger parts, many of them, buffers reused many times. */
static void test_many_parts(void)
{
    const uint64_t p = MIB + 3, size = 37 * p + p / 2;
    char *key = k("many");
    TEST_ASSERT(put_object(key, size, 1));
    struct s3_client *c = client(p, 3, false);
    TEST_ASSERT(c != NULL);
    TEST_EXPECT(read_exact(c, key, size, 0, 0));
    s3_client_destroy(c);
    free(key);
}

static void test_sub_ranges(void)
{
    char err[QB_ERRBUF_SIZE];
    const uint64_t p = 64 * KIB + 13, size = 9 * p + 100;
    const struct {
        uint64_t off, len;
    } ranges[] = {
        {0, 1},         {p - 1, 2},     {p + 5, 3 * p},
        {3 * p, 0},     {1, size - 1},  {10, 100 * p},
        {size - 1, 0},  {2 * p, 2 * p}, {2 * p - 1, 2 * p + 2},
        {7, 5 * p + 1},
    };
    char *key = k("ranges");
    TEST_ASSERT(put_object(key, size, 1));
    for (unsigned w = 1; w <= 4; w += 3) {
        struct s3_client *c = client(p, w, false);
        TEST_ASSERT(c != NULL);
        for (size_t i = 0; i < QB_ARRAY_LEN(ranges); i++)
            TEST_EXPECT(read_exact(c, key, size, ranges[i].off, ranges[i].len));
        /* An offset past the end fails as S3 says (InvalidRange). */
        struct sink s = {0};
        buf_init(&s.b, 16);
        TEST_EXPECT(s3_download(c, key, size + 10, 0, sink_fn, &s, err, sizeof err) != QB_OK);
        TEST_EXPECT(strstr(err, "InvalidRange") != NULL);
        buf_free(&s.b);
        s3_client_destroy(c);
    }
    free(key);
}

/* An object of up to two parts is one GET; more starts workers. */
static void test_get_counts(void)
{
    const uint64_t p = 64 * KIB;
    char *two = k("count/two"), *more = k("count/more");
    TEST_ASSERT(put_object(two, 2 * p, 1));
    TEST_ASSERT(put_object(more, 6 * p + 1, 1));
    struct s3_client *c = client(p, 4, true);
    TEST_ASSERT(c != NULL);
    long before = s3fault_stat(&proxy, "get");
    TEST_EXPECT(read_exact(c, two, 2 * p, 0, 0));
    TEST_EXPECT_INT(s3fault_stat(&proxy, "get") - before, 1);
    before = s3fault_stat(&proxy, "get");
    TEST_EXPECT(read_exact(c, more, 6 * p + 1, 0, 0));
    TEST_EXPECT_INT(s3fault_stat(&proxy, "get") - before, 1 + 5); /* head (2 parts) + 5 */
    s3_client_destroy(c);
    free(two);
    free(more);
}

/* The callback's error comes back as it is, and the read stops: far fewer
 * GETs than parts, every worker joined (ASan/TSan see the rest). */
static void test_callback_stops(void)
{
    char err[QB_ERRBUF_SIZE];
    const uint64_t p = 64 * KIB, size = 60 * p;
    char *key = k("stop");
    TEST_ASSERT(put_object(key, size, 1));
    const uint64_t fail_after[] = {1, 2 * p, 3 * p + 5};
    for (size_t i = 0; i < QB_ARRAY_LEN(fail_after); i++) {
        struct s3_client *c = client(p, 2, true);
        TEST_ASSERT(c != NULL);
        struct sink s = {.fail_after = fail_after[i]};
        buf_init(&s.b, size);
        long before = s3fault_stat(&proxy, "get");
        TEST_EXPECT_INT(s3_download(c, key, 0, 0, sink_fn, &s, err, sizeof err), QB_ERR_CANCELLED);
        TEST_EXPECT(strstr(err, "sink says stop") != NULL);
        TEST_EXPECT(s.b.len < size);
        long gets = s3fault_stat(&proxy, "get") - before;
        /* The head, and parts up to the failing one (at most 2) plus a
         * buffer's worth (3).  The proxy counts a request when its thread
         * reads it, so a GET a worker of the previous round sent just
         * before it was cancelled may be counted in this round: up to 2
         * (the workers) more.  CI saw that once. */
        TEST_EXPECT(gets >= 1 && gets <= 1 + 2 + 3 + 2);
        buf_free(&s.b);
        s3_client_destroy(c);
    }
    free(key);
}

/* Replaced between its ranges: the read fails naming the change. */
static void test_replaced_mid_read(void)
{
    char err[QB_ERRBUF_SIZE];
    const uint64_t p = 64 * KIB, size = 40 * p;
    char *key = k("replaced");
    TEST_ASSERT(put_object(key, size, 1));
    struct s3_client *c = client(p, 2, false);
    TEST_ASSERT(c != NULL);
    struct sink s = {.replace_key = key};
    buf_init(&s.b, size);
    enum qb_err rc = s3_download(c, key, 0, 0, sink_fn, &s, err, sizeof err);
    TEST_EXPECT_INT(rc, QB_ERR_CONFLICT);
    TEST_EXPECT(rc && strstr(err, "changed while it was read") != NULL);
    if (rc != QB_ERR_CONFLICT)
        fprintf(stderr, "replaced: rc=%d %s\n", rc, rc ? err : "");
    TEST_EXPECT(s.b.len < size);
    buf_free(&s.b);
    s3_client_destroy(c);
    free(key);
}

/* A range failing transiently is retried (and resumed) on its own; one
 * failing for good fails the read once its tries are spent. */
static void test_faults(void)
{
    /* Each rule fires fewer times than the policy's 3 tries, so even when
     * every firing hits the same range it still succeeds. */
    char err[QB_ERRBUF_SIZE];
    const uint64_t p = 64 * KIB, size = 20 * p + 11;
    char *key = k("faults");
    TEST_ASSERT(put_object(key, size, 1));
    const char *transient[] = {
        "op=get&action=error500&skip=3&count=2", "op=get&action=slowdown&skip=1&count=2",
        "op=get&action=drop_mid&skip=5&count=1",
        "op=get&action=error500&skip=0&count=1", /* the head itself */
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(transient); i++) {
        struct s3_client *c = client(p, 3, true);
        TEST_ASSERT(c != NULL);
        TEST_ASSERT(s3fault_clear(&proxy) == 0);
        long fired = s3fault_stat(&proxy, "fired");
        TEST_ASSERT(s3fault_arm(&proxy, transient[i]) == 0);
        TEST_EXPECT(read_exact(c, key, size, 0, 0));
        TEST_EXPECT(s3fault_stat(&proxy, "fired") > fired); /* the fault happened */
        s3_client_destroy(c);
    }
    /* Every range after the head fails: given up after the policy's tries. */
    struct s3_client *c = client(p, 3, true);
    TEST_ASSERT(c != NULL);
    TEST_ASSERT(s3fault_clear(&proxy) == 0);
    TEST_ASSERT(s3fault_arm(&proxy, "op=get&action=error500&skip=1&count=0") == 0);
    struct sink s = {0};
    buf_init(&s.b, size);
    TEST_EXPECT_INT(s3_download(c, key, 0, 0, sink_fn, &s, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT(strstr(err, "gave up after") != NULL);
    TEST_EXPECT(s.b.len == 2 * p); /* the head, and nothing after it */
    buf_free(&s.b);
    TEST_ASSERT(s3fault_clear(&proxy) == 0);
    s3_client_destroy(c);
    free(key);
}

int main(void)
{
    struct s3_env env;
    int skip = s3_env_load(&env);
    if (skip)
        return skip;
    char err[QB_ERRBUF_SIZE];
    if (http_client_global_init(err, sizeof err) != QB_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    base_cfg = (struct s3_config){
        .endpoint = env.endpoint,
        .region = env.region,
        .bucket = env.bucket,
        .access_key = env.access_key,
        .secret_key = env.secret_key,
        .path_style = true,
        .retry = {.attempts = 3, .base_ms = 5, .max_ms = 50},
    };
    snprintf(prefix, sizeof prefix, "dl%lld-%d/", (long long)qb_now_ms(), (int)getpid());
    if (!mkdtemp(proxy_dir) || s3fault_start(&proxy, env.endpoint, proxy_dir) != 0) {
        fprintf(stderr, "cannot start s3fault\n");
        return 1;
    }
    TEST_RUN(test_bucket);
    TEST_RUN(test_boundaries);
    TEST_RUN(test_many_parts);
    TEST_RUN(test_sub_ranges);
    TEST_RUN(test_get_counts);
    TEST_RUN(test_callback_stops);
    TEST_RUN(test_replaced_mid_read);
    TEST_RUN(test_faults);
    TEST_EXPECT_INT(s3fault_stop(&proxy), 0);
    char *log = xasprintf("%s/s3fault.log", proxy_dir);
    unlink(log);
    free(log);
    rmdir(proxy_dir);
    return TEST_RESULT();
}
