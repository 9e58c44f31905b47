/* SPDX-License-Identifier: Apache-2.0
 *
 * test_s3_client.c -- s3_client (and under it http_client and sigv4)
 * against a real S3 server: Ceph RGW started by tests/s3/rgw-start.sh.
 * Reads S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_DEFAULT_REGION and QB_S3_BUCKET; without them it exits 77 (skipped)
 * unless QB_REQUIRE_S3=1.  Every key lives under a per-run prefix.
 */
#include "unit.h"

#include "common.h"
#include "remote/http_client.h"
#include "remote/s3_client.h"
#include "remote/sigv4.h"
#include "util/buf.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024u * 1024u)

static struct s3_config base_cfg;
static char prefix[64];

/* ----------------------------------------------------------------- helpers */

static char *k(const char *name) /* a key under this run's prefix; caller frees */
{
    return xasprintf("%s%s", prefix, name);
}

static struct s3_client *client_with(const struct s3_config *cfg)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_client *c = NULL;
    if (s3_client_create(cfg, &c, err, sizeof err) != QB_OK)
        fprintf(stderr, "s3_client_create: %s\n", err);
    return c;
}

/* Deterministic test bytes: byte i of the "object" is gen_byte(i). */
static unsigned char gen_byte(uint64_t i)
{
    uint64_t x = i * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    return (unsigned char)(x ^ (x >> 17) ^ (i >> 20));
}

static void gen_fill(unsigned char *p, uint64_t from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = gen_byte(from + i);
}

struct sink {
    struct buf *b;   /* collect bytes (small objects), or */
    EVP_MD_CTX *sha; /* hash them (large objects) */
    uint64_t n;
    uint64_t fail_at; /* return an error once this many bytes arrived (0: never) */
};

static enum qb_err sink_fn(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct sink *s = ud;
    if (s->fail_at && s->n + len >= s->fail_at)
        return qb_failf(QB_ERR_CANCELLED, err, errlen, "sink says stop");
    if (s->b && !buf_append(s->b, data, len))
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "sink full");
    if (s->sha)
        EVP_DigestUpdate(s->sha, data, len);
    s->n += len;
    return QB_OK;
}

static void sha_hex(EVP_MD_CTX *ctx, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    sigv4_hex(md, n, out);
}

static enum qb_err count_fn(void *ud, const struct s3_list_entry *e)
{
    (void)e;
    (*(size_t *)ud)++;
    return QB_OK;
}

static enum qb_err count_uploads(void *ud, const char *key, const char *id)
{
    (void)key;
    (void)id;
    (*(size_t *)ud)++;
    return QB_OK;
}

/* Keys that need encoding: space, '+', '=', non-ASCII, sub-delims, a literal
 * '%', a double slash. */
static const char *const odd_names[] = {
    "odd/with space.txt",       "odd/plus+and=equals.bin", "odd/ünïcødé-ключ-鍵.dat",
    "odd/sym !$&'()*,;:@~.txt", "odd/percent%41%2F.txt",   "odd/dir//double",
};

/* ------------------------------------------------------------------- tests */

static void test_bucket(void)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_client *c = client_with(&base_cfg);
    TEST_ASSERT(c != NULL);
    enum qb_err rc = s3_create_bucket(c, err, sizeof err);
    if (rc)
        fprintf(stderr, "create bucket: %s\n", err);
    TEST_EXPECT_INT(rc, QB_OK);
    /* Idempotent: we own it already. */
    TEST_EXPECT_INT(s3_create_bucket(c, err, sizeof err), QB_OK);
    s3_client_destroy(c);
}

static void test_put_get_head(void)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_client *c = client_with(&base_cfg);
    TEST_ASSERT(c != NULL);
    char *key = k("small/hello.txt");
    const char *body = "hello, qbackup\n";
    struct s3_meta meta[] = {{"Snapshot-Id", "snap-1"}};
    struct s3_put_options opt = {.content_type = "text/plain", .meta = meta, .n_meta = 1};
    enum qb_err rc = s3_put_object(c, key, body, strlen(body), &opt, err, sizeof err);
    if (rc)
        fprintf(stderr, "put: %s\n", err);
    TEST_EXPECT_INT(rc, QB_OK);

    struct buf b;
    buf_init(&b, 1024);
    struct sink s = {.b = &b};
    TEST_EXPECT_INT(s3_get_object(c, key, 0, 0, sink_fn, &s, err, sizeof err), QB_OK);
    TEST_EXPECT_STR(b.data, body);
    buf_free(&b);

    struct s3_object_info info = {0};
    TEST_EXPECT_INT(s3_head_object(c, key, &info, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(info.size, strlen(body));
    TEST_EXPECT_STR(info.content_type, "text/plain");
    TEST_EXPECT_STR(s3_object_info_meta(&info, "snapshot-id"), "snap-1");
    char sha[SIGV4_HEX_LEN + 1];
    sigv4_sha256_hex(body, strlen(body), sha);
    TEST_EXPECT_STR(s3_object_info_meta(&info, "sha256"), sha);
    s3_object_info_free(&info);

    /* Empty object. */
    char *empty = k("small/empty");
    TEST_EXPECT_INT(s3_put_object(c, empty, NULL, 0, NULL, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(s3_head_object(c, empty, &info, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(info.size, 0);
    s3_object_info_free(&info);
    free(empty);
    free(key);
    s3_client_destroy(c);
}

static double elapsed_s(int64_t t0)
{
    return (double)(qb_mono_ms() - t0) / 1000.0;
}

/* Writes size generated bytes through the multipart writer in uneven
 * chunks; returns the result via res. */
static enum qb_err write_object(struct s3_client *c, const char *key, uint64_t size,
                                const struct s3_put_options *opt, struct s3_upload_result *res,
                                char *err, size_t errlen)
{
    struct s3_upload *u = NULL;
    enum qb_err rc = s3_upload_begin(c, key, opt, &u, err, errlen);
    if (rc)
        return rc;
    size_t chunk = MIB + 4093; /* not a divisor of the part size */
    unsigned char *buf = xmalloc(chunk);
    for (uint64_t off = 0; off < size && !rc; off += chunk) {
        size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
        gen_fill(buf, off, n);
        rc = s3_upload_write(u, buf, n, err, errlen);
    }
    free(buf);
    if (rc) {
        s3_upload_abort(u);
        return rc;
    }
    return s3_upload_finish(u, res, err, errlen);
}

static char multipart_key[256];
static const uint64_t multipart_size = 70ull * MIB + 12345;

static void test_multipart(void)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_config cfg = base_cfg;
    cfg.part_size = 5 * MIB;
    cfg.parts_in_flight = 3;
    struct s3_client *c = client_with(&cfg);
    TEST_ASSERT(c != NULL);
    char *key = k("multi/70mib.bin");
    qb_strlcpy(multipart_key, key, sizeof multipart_key);
    struct s3_put_options opt = {.sha256_sidecar = true};
    struct s3_upload_result res = {0};
    int64_t t0 = qb_mono_ms();
    enum qb_err rc = write_object(c, key, multipart_size, &opt, &res, err, sizeof err);
    double up = elapsed_s(t0);
    if (rc)
        fprintf(stderr, "multipart: %s\n", err);
    TEST_ASSERT(rc == QB_OK);
    TEST_EXPECT_INT(res.size, multipart_size);
    TEST_EXPECT_INT(res.parts, 15); /* 14 full 5 MiB parts + the tail */

    /* Expected SHA-256, computed independently of the writer. */
    EVP_MD_CTX *want = EVP_MD_CTX_new();
    EVP_DigestInit_ex(want, EVP_sha256(), NULL);
    unsigned char *tmp = xmalloc(MIB);
    for (uint64_t off = 0; off < multipart_size; off += MIB) {
        size_t n = multipart_size - off < MIB ? (size_t)(multipart_size - off) : MIB;
        gen_fill(tmp, off, n);
        EVP_DigestUpdate(want, tmp, n);
    }
    free(tmp);
    char want_hex[SIGV4_HEX_LEN + 1], got_hex[SIGV4_HEX_LEN + 1];
    sha_hex(want, want_hex);
    EVP_MD_CTX_free(want);
    TEST_EXPECT_STR(res.sha256, want_hex);

    /* Read it back and hash what the server has. */
    struct sink s = {.sha = EVP_MD_CTX_new()};
    EVP_DigestInit_ex(s.sha, EVP_sha256(), NULL);
    t0 = qb_mono_ms();
    TEST_EXPECT_INT(s3_get_object(c, key, 0, 0, sink_fn, &s, err, sizeof err), QB_OK);
    double down = elapsed_s(t0);
    sha_hex(s.sha, got_hex);
    EVP_MD_CTX_free(s.sha);
    TEST_EXPECT_INT(s.n, multipart_size);
    TEST_EXPECT_STR(got_hex, want_hex);
    fprintf(stderr,
            "  multipart %.1f MiB: upload %.2f s (%.0f MiB/s, 5 MiB parts x3), "
            "download %.2f s (%.0f MiB/s)\n",
            (double)multipart_size / MIB, up, (double)multipart_size / MIB / up, down,
            (double)multipart_size / MIB / down);

    /* HEAD: a multipart ETag ends in "-<parts>". */
    struct s3_object_info info = {0};
    TEST_EXPECT_INT(s3_head_object(c, key, &info, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(info.size, multipart_size);
    TEST_EXPECT(info.etag && strstr(info.etag, "-15\"") != NULL);

    /* The sidecar, in sha256sum format. */
    char *side = xasprintf("%s.sha256", key);
    struct buf b;
    buf_init(&b, 4096);
    struct sink ss = {.b = &b};
    TEST_EXPECT_INT(s3_get_object(c, side, 0, 0, sink_fn, &ss, err, sizeof err), QB_OK);
    char *line = xasprintf("%s  70mib.bin\n", want_hex);
    TEST_EXPECT_STR(b.data, line);
    free(line);
    buf_free(&b);

    /* An independent client agrees on size and ETag, when awscli is here. */
    if (access("/usr/bin/aws", X_OK) == 0) {
        char *cmd = xasprintf("/usr/bin/aws --endpoint-url '%s' s3api head-object --bucket '%s' "
                              "--key '%s' --query '[ContentLength,ETag]' --output text 2>&1",
                              getenv("S3_ENDPOINT"), base_cfg.bucket, key);
        FILE *p = popen(cmd, "r");
        char out[512] = "";
        if (p) {
            if (!fgets(out, sizeof out, p))
                out[0] = '\0';
            pclose(p);
        }
        char *expect = xasprintf("%llu\t%s\n", (unsigned long long)multipart_size, info.etag);
        TEST_EXPECT_STR(out, expect);
        free(expect);
        free(cmd);
    }
    s3_object_info_free(&info);
    free(side);
    free(key);
    s3_client_destroy(c);
}

static void test_ranged_get(void)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_client *c = client_with(&base_cfg);
    TEST_ASSERT(c != NULL && multipart_key[0]);
    struct {
        uint64_t off, len;
    } ranges[] = {
        {1000, 1000},
        {5 * MIB - 100, 300},     /* across the boundary of parts 1 and 2 */
        {multipart_size - 10, 0}, /* the tail, open-ended */
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(ranges); i++) {
        struct buf b;
        buf_init(&b, MIB);
        struct sink s = {.b = &b};
        TEST_EXPECT_INT(s3_get_object(c, multipart_key, ranges[i].off, ranges[i].len, sink_fn, &s,
                                      err, sizeof err),
                        QB_OK);
        size_t want_len = ranges[i].len ? ranges[i].len : multipart_size - ranges[i].off;
        TEST_EXPECT_INT(b.len, want_len);
        unsigned char *want = xmalloc(want_len);
        gen_fill(want, ranges[i].off, want_len);
        TEST_EXPECT(b.len == want_len && memcmp(b.data, want, want_len) == 0);
        free(want);
        buf_free(&b);
    }
    /* A callback error stops the GET and comes back unchanged. */
    struct sink s = {.fail_at = 3 * MIB};
    TEST_EXPECT_INT(s3_get_object(c, multipart_key, 0, 0, sink_fn, &s, err, sizeof err),
                    QB_ERR_CANCELLED);
    s3_client_destroy(c);
}

static void test_list_and_delete(void)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_client *c = client_with(&base_cfg);
    TEST_ASSERT(c != NULL);
    char *keys[7];
    for (size_t i = 0; i < 7; i++) {
        char name[32];
        snprintf(name, sizeof name, "list/obj-%02zu", i);
        keys[i] = k(name);
        TEST_EXPECT_INT(s3_put_object(c, keys[i], name, strlen(name), NULL, err, sizeof err),
                        QB_OK);
    }
    char *lp = k("list/");
    size_t n = 0;
    /* Page size 3: three pages, continuation tokens followed. */
    TEST_EXPECT_INT(s3_list_objects(c, lp, 3, count_fn, &n, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(n, 7);

    /* Delete one. */
    TEST_EXPECT_INT(s3_delete_object(c, keys[0], err, sizeof err), QB_OK);
    struct s3_object_info info = {0};
    TEST_EXPECT_INT(s3_head_object(c, keys[0], &info, err, sizeof err), QB_ERR_NOT_FOUND);
    /* Deleting what is gone succeeds. */
    TEST_EXPECT_INT(s3_delete_object(c, keys[0], err, sizeof err), QB_OK);

    /* Delete many, across two DeleteObjects batches: 1200 names of which
     * the real ones sit in the second batch. */
    size_t total = 1200;
    char **many = xcalloc(total, sizeof *many);
    for (size_t i = 0; i < total; i++)
        many[i] = i >= 1194 ? xstrdup(keys[i - 1194 + 1]) : xasprintf("%snone/%zu", prefix, i);
    TEST_EXPECT_INT(s3_delete_objects(c, (const char *const *)many, total, err, sizeof err), QB_OK);
    n = 0;
    TEST_EXPECT_INT(s3_list_objects(c, lp, 0, count_fn, &n, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(n, 0);
    for (size_t i = 0; i < total; i++)
        free(many[i]);
    free(many);
    for (size_t i = 0; i < 7; i++)
        free(keys[i]);
    free(lp);
    s3_client_destroy(c);
}

static void test_errors(void)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_client *c = client_with(&base_cfg);
    TEST_ASSERT(c != NULL);
    char *missing = k("no/such/key");
    struct sink s = {0};
    TEST_EXPECT_INT(s3_get_object(c, missing, 0, 0, sink_fn, &s, err, sizeof err),
                    QB_ERR_NOT_FOUND);
    TEST_EXPECT(strstr(err, "NoSuchKey") != NULL);
    struct s3_object_info info = {0};
    TEST_EXPECT_INT(s3_head_object(c, missing, &info, err, sizeof err), QB_ERR_NOT_FOUND);
    s3_client_destroy(c);

    /* A wrong secret: permanent, with the S3 Code, and no secret in sight. */
    struct s3_config bad = base_cfg;
    bad.secret_key = "wrong-secret-wrong-secret-wrong-secret-00";
    c = client_with(&bad);
    TEST_ASSERT(c != NULL);
    TEST_EXPECT_INT(s3_put_object(c, missing, "x", 1, NULL, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT(strstr(err, "SignatureDoesNotMatch") != NULL);
    TEST_EXPECT(strstr(err, bad.secret_key) == NULL && strstr(err, base_cfg.secret_key) == NULL);
    TEST_EXPECT(strstr(err, "Authorization") == NULL);
    fprintf(stderr, "  wrong secret -> %s\n", err);
    s3_client_destroy(c);

    /* An unknown access key. */
    bad = base_cfg;
    bad.access_key = "NOSUCHACCESSKEY00000";
    c = client_with(&bad);
    TEST_ASSERT(c != NULL);
    TEST_EXPECT_INT(s3_head_object(c, missing, &info, err, sizeof err), QB_ERR_REMOTE);
    s3_client_destroy(c);

    /* A missing bucket is a configuration error, not a missing object. */
    bad = base_cfg;
    bad.bucket = "qb-no-such-bucket-here";
    c = client_with(&bad);
    TEST_ASSERT(c != NULL);
    TEST_EXPECT_INT(s3_get_object(c, "x", 0, 0, sink_fn, &s, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT(strstr(err, "NoSuchBucket") != NULL);
    s3_client_destroy(c);

    /* Nothing listening: retried, then final (util/retry.h: one layer), so
     * that no caller up the stack retries it again. */
    bad = base_cfg;
    bad.endpoint = "http://127.0.0.1:1";
    bad.retry = (struct retry_policy){.attempts = 3, .base_ms = 10, .max_ms = 20};
    c = client_with(&bad);
    TEST_ASSERT(c != NULL);
    TEST_EXPECT_INT(s3_head_object(c, "x", &info, err, sizeof err), QB_ERR_REMOTE);
    TEST_EXPECT(strstr(err, "(gave up after 3 tries)") != NULL);
    s3_client_destroy(c);
    free(missing);
}

static void test_abort_leaves_nothing(void)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_config cfg = base_cfg;
    cfg.part_size = 5 * MIB;
    cfg.parts_in_flight = 2;
    struct s3_client *c = client_with(&cfg);
    TEST_ASSERT(c != NULL);
    char *key = k("aborted/partial.bin");
    struct s3_upload *u = NULL;
    TEST_ASSERT(s3_upload_begin(c, key, NULL, &u, err, sizeof err) == QB_OK);
    unsigned char *data = xmalloc(MIB);
    gen_fill(data, 0, MIB);
    enum qb_err rc = QB_OK;
    for (int i = 0; i < 17 && !rc; i++) /* 3 parts started */
        rc = s3_upload_write(u, data, MIB, err, sizeof err);
    TEST_EXPECT_INT(rc, QB_OK);
    size_t n = 0;
    TEST_EXPECT_INT(s3_list_multipart_uploads(c, key, count_uploads, &n, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(n, 1); /* the upload really was in progress */
    s3_upload_abort(u);
    n = 0;
    TEST_EXPECT_INT(s3_list_multipart_uploads(c, key, count_uploads, &n, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(n, 0);
    struct s3_object_info info = {0};
    TEST_EXPECT_INT(s3_head_object(c, key, &info, err, sizeof err), QB_ERR_NOT_FOUND);

    s3_client_destroy(c);

    /* A refused upload (wrong secret): the write that starts the multipart
     * upload fails with the S3 Code, and abort leaves nothing. */
    cfg.secret_key = "wrong-secret-wrong-secret-wrong-secret-00";
    c = client_with(&cfg);
    TEST_ASSERT(c != NULL);
    TEST_ASSERT(s3_upload_begin(c, key, NULL, &u, err, sizeof err) == QB_OK);
    rc = QB_OK;
    for (int i = 0; i < 12 && !rc; i++)
        rc = s3_upload_write(u, data, MIB, err, sizeof err);
    TEST_EXPECT_INT(rc, QB_ERR_REMOTE);
    TEST_EXPECT(strstr(err, "SignatureDoesNotMatch") != NULL);
    s3_upload_abort(u);
    s3_client_destroy(c);
    c = client_with(&base_cfg);
    TEST_ASSERT(c != NULL);
    n = 0;
    TEST_EXPECT_INT(s3_list_multipart_uploads(c, key, count_uploads, &n, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(n, 0);
    free(data);
    free(key);
    s3_client_destroy(c);
}

/* botocore (the SigV4 of awscli/boto3) signs the same requests the same
 * way: odd keys in the path and in a listing prefix, a body, a token. */
static const char botocore_script[] =
    "import sys, json\n"
    "import awscli\n" /* Debian's awscli vendors botocore as awscli.botocore */
    "from botocore.auth import S3SigV4Auth\n"
    "from botocore.awsrequest import AWSRequest\n"
    "from botocore.credentials import Credentials\n"
    "for c in json.load(open(sys.argv[1])):\n"
    "    a = S3SigV4Auth(Credentials(c['ak'], c['sk'], c['token'] or None), 's3', c['region'])\n"
    "    r = AWSRequest(method=c['method'], url=c['url'], headers=c['headers'],\n"
    "                   data=c['body'].encode())\n"
    "    r.context['timestamp'] = c['date']\n"
    "    a._modify_request_before_signing(r)\n"
    "    print(a.signature(a.string_to_sign(r, a.canonical_request(r)), r))\n";

static void test_botocore_agrees(void)
{
    if (system("/usr/bin/python3 -c 'import awscli, botocore.auth' >/dev/null 2>&1") != 0) {
        fprintf(stderr, "  (botocore not available: comparison skipped)\n");
        return;
    }
    char dir[] = "/tmp/qb-botocore-XXXXXX";
    TEST_ASSERT(mkdtemp(dir) != NULL);
    char *json_path = xasprintf("%s/cases.json", dir), *py_path = xasprintf("%s/sign.py", dir);
    cJSON *cases = cJSON_CreateArray();
    char ours[2 * QB_ARRAY_LEN(odd_names)][SIGV4_HEX_LEN + 1];
    size_t n = 0;
    char err[QB_ERRBUF_SIZE], date[SIGV4_AMZ_DATE_LEN + 1];
    sigv4_format_amz_date(qb_now_ms() / 1000, date, sizeof date);
    for (size_t i = 0; i < QB_ARRAY_LEN(odd_names); i++) {
        for (int variant = 0; variant < 2; variant++) {
            const char *name = odd_names[i];
            char *ekey = sigv4_uri_encode(name, strlen(name), true);
            char *eq = sigv4_uri_encode(name, strlen(name), false);
            char *path = variant ? xstrdup("/bkt") : xasprintf("/bkt/%s", ekey);
            char *query = variant ? xasprintf("list-type=2&prefix=%s&max-keys=7", eq) : NULL;
            const char *body = variant ? "" : name;
            const char *token = variant ? "session/token+=" : NULL;
            char hash[SIGV4_HEX_LEN + 1];
            sigv4_sha256_hex(body, strlen(body), hash);
            struct sigv4_header h[] = {{"Host", "127.0.0.1:7480"},
                                       {"x-amz-meta-note", "  two   spaces "}};
            struct sigv4_config cfg = {"AKIDEXAMPLE", "secret/key+x",
                                       token,         "eu-west-3",
                                       "s3",          SIGV4_S3_PATH | SIGV4_CONTENT_SHA256};
            struct sigv4_request req = {variant ? "GET" : "PUT", path, query, h, 2, hash, date};
            struct sigv4_result res = {0};
            TEST_ASSERT(sigv4_sign_headers(&cfg, &req, &res, err, sizeof err) == QB_OK);
            qb_strlcpy(ours[n++], res.signature, sizeof ours[0]);
            sigv4_result_free(&res);

            cJSON *c = cJSON_CreateObject();
            char *url = xasprintf("http://127.0.0.1:7480%s%s%s", path, query ? "?" : "",
                                  query ? query : "");
            cJSON_AddStringToObject(c, "ak", "AKIDEXAMPLE");
            cJSON_AddStringToObject(c, "sk", "secret/key+x");
            cJSON_AddStringToObject(c, "token", token ? token : "");
            cJSON_AddStringToObject(c, "region", "eu-west-3");
            cJSON_AddStringToObject(c, "method", variant ? "GET" : "PUT");
            cJSON_AddStringToObject(c, "url", url);
            cJSON_AddStringToObject(c, "body", body);
            cJSON_AddStringToObject(c, "date", date);
            cJSON *hd = cJSON_AddObjectToObject(c, "headers");
            cJSON_AddStringToObject(hd, "x-amz-meta-note", "  two   spaces ");
            cJSON_AddStringToObject(hd, "x-amz-content-sha256", hash);
            cJSON_AddItemToArray(cases, c);
            free(url);
            free(ekey);
            free(eq);
            free(path);
            free(query);
        }
    }
    char *text = cJSON_PrintUnformatted(cases);
    FILE *f = fopen(json_path, "w");
    FILE *g = fopen(py_path, "w");
    TEST_ASSERT(f && g);
    fputs(text, f);
    fputs(botocore_script, g);
    fclose(f);
    fclose(g);
    char *cmd = xasprintf("/usr/bin/python3 %s %s", py_path, json_path);
    FILE *p = popen(cmd, "r");
    TEST_ASSERT(p != NULL);
    char line[256];
    size_t i = 0;
    while (fgets(line, sizeof line, p) && i < n) {
        line[strcspn(line, "\n")] = '\0';
        if (strcmp(line, ours[i]) != 0)
            fprintf(stderr, "  botocore case %zu (%s): %s vs ours %s\n", i, odd_names[i / 2], line,
                    ours[i]);
        TEST_EXPECT_STR(line, ours[i]);
        i++;
    }
    TEST_EXPECT_INT(pclose(p), 0);
    TEST_EXPECT_INT(i, n);
    unlink(json_path);
    unlink(py_path);
    rmdir(dir);
    free(cmd);
    free(text);
    free(json_path);
    free(py_path);
    cJSON_Delete(cases);
}

static void test_odd_keys(void)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_config cfg = base_cfg;
    cfg.part_size = 5 * MIB;
    struct s3_client *c = client_with(&cfg);
    TEST_ASSERT(c != NULL);
    for (size_t i = 0; i < QB_ARRAY_LEN(odd_names); i++) {
        char *key = k(odd_names[i]);
        enum qb_err rc =
            s3_put_object(c, key, odd_names[i], strlen(odd_names[i]), NULL, err, sizeof err);
        if (rc)
            fprintf(stderr, "put %s: %s\n", key, err);
        TEST_EXPECT_INT(rc, QB_OK);
        struct buf b;
        buf_init(&b, 1024);
        struct sink s = {.b = &b};
        TEST_EXPECT_INT(s3_get_object(c, key, 0, 0, sink_fn, &s, err, sizeof err), QB_OK);
        TEST_EXPECT_STR(b.data, odd_names[i]);
        buf_free(&b);

        /* Presigned GET, fetched without credentials. */
        char *url = NULL;
        TEST_EXPECT_INT(s3_presign_get(c, key, 300, &url, err, sizeof err), QB_OK);
        struct http_client *hc = NULL;
        TEST_ASSERT(http_client_create(NULL, &hc, err, sizeof err) == QB_OK);
        struct http_client_request req = {.method = "GET", .url = url};
        struct http_client_response resp = {0};
        TEST_EXPECT_INT(http_client_perform(hc, &req, &resp, err, sizeof err), QB_OK);
        TEST_EXPECT_INT(resp.status, 200);
        TEST_EXPECT_STR(resp.body, odd_names[i]);
        /* And the response cap holds. */
        req.max_body = 4;
        TEST_EXPECT_INT(http_client_perform(hc, &req, &resp, err, sizeof err), QB_ERR_REMOTE);
        http_client_response_free(&resp);
        http_client_destroy(hc);
        free(url);
        free(key);
    }
    /* Listing returns the keys byte for byte (XML entities decoded). */
    char *lp = k("odd/");
    size_t n = 0;
    TEST_EXPECT_INT(s3_list_objects(c, lp, 2, count_fn, &n, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(n, QB_ARRAY_LEN(odd_names));
    /* A multipart upload of an odd key: uploadId queries with that path. */
    char *mk = k("odd/multi part+ü.bin");
    struct s3_upload_result res = {0};
    TEST_EXPECT_INT(write_object(c, mk, 11 * MIB, NULL, &res, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(res.parts, 3);
    struct s3_object_info info = {0};
    TEST_EXPECT_INT(s3_head_object(c, mk, &info, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(info.size, 11 * MIB);
    s3_object_info_free(&info);
    free(mk);
    free(lp);
    s3_client_destroy(c);
}

/* With a size hint of several parts the upload is created by the first
 * write (its first parts are small), without one nothing is sent before a
 * whole part is buffered; either way the result's ETag is the one HEAD
 * reports for the completed object. */
static void test_ramp_and_etag(void)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_config cfg = base_cfg;
    cfg.part_size = 16 * MIB;
    cfg.parts_in_flight = 2;
    struct s3_client *c = client_with(&cfg);
    TEST_ASSERT(c != NULL);
    unsigned char *data = xmalloc(MIB);
    char *hinted = k("ramp/hinted.bin"), *plain = k("ramp/plain.bin");
    struct s3_put_options opt = {.size_hint = 40 * MIB};
    struct s3_upload *u = NULL, *v = NULL;
    TEST_ASSERT(s3_upload_begin(c, hinted, &opt, &u, err, sizeof err) == QB_OK);
    TEST_ASSERT(s3_upload_begin(c, plain, NULL, &v, err, sizeof err) == QB_OK);
    EVP_MD_CTX *want = EVP_MD_CTX_new();
    EVP_DigestInit_ex(want, EVP_sha256(), NULL);
    enum qb_err rc = QB_OK;
    for (uint64_t i = 0; i < 40 && !rc; i++) {
        gen_fill(data, i * MIB, MIB);
        EVP_DigestUpdate(want, data, MIB);
        rc = s3_upload_write(u, data, MIB, err, sizeof err);
        if (!rc && i < 9)
            rc = s3_upload_write(v, data, MIB, err, sizeof err);
        if (i == 0 || i == 8) {
            size_t n = 0;
            TEST_EXPECT_INT(
                s3_list_multipart_uploads(c, hinted, count_uploads, &n, err, sizeof err), QB_OK);
            TEST_EXPECT_INT(n, 1);
            n = 0;
            TEST_EXPECT_INT(s3_list_multipart_uploads(c, plain, count_uploads, &n, err, sizeof err),
                            QB_OK);
            TEST_EXPECT_INT(n, 0); /* 9 MiB < one 16 MiB part */
        }
    }
    TEST_EXPECT_INT(rc, QB_OK);
    s3_upload_abort(v);
    struct s3_upload_result res = {0};
    TEST_EXPECT_INT(s3_upload_finish(u, &res, err, sizeof err), QB_OK);
    char want_hex[SIGV4_HEX_LEN + 1];
    sha_hex(want, want_hex);
    TEST_EXPECT_STR(res.sha256, want_hex);
    TEST_EXPECT_INT(res.parts, 3); /* 8 + 16 + 16 MiB */
    TEST_EXPECT(res.drain_ms >= 0 && res.complete_ms >= 0);
    struct s3_object_info info = {0};
    TEST_EXPECT_INT(s3_head_object(c, hinted, &info, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(info.size, 40 * MIB);
    TEST_EXPECT(s3_etag_equal(info.etag, res.etag));
    TEST_EXPECT(!s3_etag_equal(info.etag, "\"00000000000000000000000000000000-3\""));
    TEST_EXPECT(!s3_etag_equal("", ""));
    s3_object_info_free(&info);
    EVP_MD_CTX_free(want);
    free(data);
    free(hinted);
    free(plain);
    s3_client_destroy(c);
}

static void test_unsigned_payload(void)
{
    char err[QB_ERRBUF_SIZE];
    struct s3_config cfg = base_cfg;
    cfg.unsigned_payload = true;
    cfg.part_size = 5 * MIB;
    struct s3_client *c = client_with(&cfg);
    TEST_ASSERT(c != NULL);
    char *key = k("unsigned/obj");
    struct s3_upload_result res = {0};
    TEST_EXPECT_INT(write_object(c, key, 6 * MIB, NULL, &res, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(res.parts, 2);
    TEST_EXPECT_INT(s3_put_object(c, key, "abc", 3, NULL, err, sizeof err), QB_OK);
    free(key);
    s3_client_destroy(c);
}

int main(void)
{
    const char *need[] = {"S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                          "AWS_DEFAULT_REGION", "QB_S3_BUCKET"};
    for (size_t i = 0; i < QB_ARRAY_LEN(need); i++) {
        if (!getenv(need[i]) || !*getenv(need[i])) {
            const char *req = getenv("QB_REQUIRE_S3");
            bool required = req && strcmp(req, "1") == 0;
            fprintf(stderr, "%s: %s is not set\n", required ? "FAIL" : "SKIP", need[i]);
            return required ? 1 : 77;
        }
    }
    char err[QB_ERRBUF_SIZE];
    if (http_client_global_init(err, sizeof err) != QB_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    base_cfg = (struct s3_config){
        .endpoint = getenv("S3_ENDPOINT"),
        .region = getenv("AWS_DEFAULT_REGION"),
        .bucket = getenv("QB_S3_BUCKET"),
        .access_key = getenv("AWS_ACCESS_KEY_ID"),
        .secret_key = getenv("AWS_SECRET_ACCESS_KEY"),
        .path_style = true,
        .retry = {.attempts = 4, .base_ms = 50},
    };
    snprintf(prefix, sizeof prefix, "t%lld-%d/", (long long)qb_now_ms(), (int)getpid());
    TEST_RUN(test_bucket);
    TEST_RUN(test_put_get_head);
    TEST_RUN(test_multipart);
    TEST_RUN(test_ranged_get);
    TEST_RUN(test_list_and_delete);
    TEST_RUN(test_errors);
    TEST_RUN(test_abort_leaves_nothing);
    TEST_RUN(test_odd_keys);
    TEST_RUN(test_unsigned_payload);
    TEST_RUN(test_ramp_and_etag);
    TEST_RUN(test_botocore_agrees);
    return TEST_RESULT();
}
