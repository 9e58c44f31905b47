/* SPDX-License-Identifier: Apache-2.0
 *
 * test_sigv4.c -- the SigV4 signer against (1) every case of the aws-c-auth
 * SigV4 test suite in tests/data/aws-sigv4-test-suite (header and query
 * signing: canonical request, string to sign, signature, Authorization and
 * presigned query), (2) the S3 examples from AWS's "Signature Calculations
 * for the Authorization Header" and "Query String Authentication" pages, and
 * (3) botocore, when /usr/bin/python3 has it, on awkward S3 keys.
 */
#include "unit.h"

#include "common.h"
#include "remote/sigv4.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SUITE_DIR QB_TEST_DATA_DIR "/aws-sigv4-test-suite"
#define MAX_HDRS  16

/* ------------------------------------------------------------- file helpers */

/* Returns the file's contents (caller frees) or NULL if it does not exist. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* ------------------------------------------------------- request.txt parser */

struct parsed {
    char *method, *path, *query;
    char *names[MAX_HDRS], *values[MAX_HDRS];
    size_t n;
    char *body;
    size_t body_len;
};

static void parsed_free(struct parsed *p)
{
    free(p->method);
    free(p->path);
    free(p->query);
    for (size_t i = 0; i < p->n; i++) {
        free(p->names[i]);
        free(p->values[i]);
    }
    free(p->body);
    memset(p, 0, sizeof *p);
}

/* "METHOD PATH[?QUERY] HTTP/1.1", then "Name:value" lines (a line starting
 * with a blank continues the previous value), a blank line and the body.
 * The path may contain spaces (get-space-*), so the version is cut from the
 * end of the line. */
static bool parse_request(const char *text, size_t len, struct parsed *p)
{
    const char *end = text + len;
    const char *eol = memchr(text, '\n', len);
    if (!eol)
        eol = end;
    const char *sp = memchr(text, ' ', (size_t)(eol - text));
    const char *ver = eol;
    while (ver > text && ver[-1] == '\r')
        ver--;
    const char *v = ver;
    while (v > sp && v[-1] != ' ')
        v--;
    if (!sp || v <= sp + 1)
        return false;
    p->method = xstrndup(text, (size_t)(sp - text));
    const char *target = sp + 1, *tend = v - 1;
    const char *qm = memchr(target, '?', (size_t)(tend - target));
    p->path = xstrndup(target, (size_t)((qm ? qm : tend) - target));
    p->query = qm ? xstrndup(qm + 1, (size_t)(tend - qm - 1)) : NULL;

    const char *s = eol < end ? eol + 1 : end;
    while (s < end) {
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e)
            e = end;
        size_t l = (size_t)(e - s);
        if (l && s[l - 1] == '\r')
            l--;
        if (l == 0) { /* blank line: the body follows */
            s = e < end ? e + 1 : end;
            break;
        }
        if ((s[0] == ' ' || s[0] == '\t') && p->n) {
            char *joined = xasprintf("%s %.*s", p->values[p->n - 1], (int)l, s);
            free(p->values[p->n - 1]);
            p->values[p->n - 1] = joined;
        } else {
            const char *colon = memchr(s, ':', l);
            if (!colon || p->n == MAX_HDRS)
                return false;
            p->names[p->n] = xstrndup(s, (size_t)(colon - s));
            p->values[p->n] = xstrndup(colon + 1, l - (size_t)(colon + 1 - s));
            p->n++;
        }
        s = e < end ? e + 1 : end;
    }
    p->body_len = (size_t)(end - s);
    p->body = xstrndup(s, p->body_len);
    return true;
}

/* ------------------------------------------------------- query set compare */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Decodes every parameter and sorts them, so two query strings with the
 * same parameters in another order or encoding compare equal. */
static char *query_fingerprint(const char *q)
{
    char *parts[64];
    size_t n = 0;
    char *copy = xstrdup(q ? q : "");
    for (char *s = copy; s && *s && n < 64;) {
        char *amp = strchr(s, '&');
        if (amp)
            *amp = '\0';
        char *d = xmalloc(strlen(s) + 1), *o = d;
        for (const char *c = s; *c; c++) {
            if (c[0] == '%' && qb_hexval(c[1]) >= 0 && qb_hexval(c[2]) >= 0) {
                *o++ = (char)(qb_hexval(c[1]) * 16 + qb_hexval(c[2]));
                c += 2;
            } else {
                *o++ = *c;
            }
        }
        *o = '\0';
        parts[n++] = d;
        s = amp ? amp + 1 : NULL;
    }
    qsort(parts, n, sizeof *parts, cmp_str);
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(parts[i]) + 1;
    char *out = xcalloc(1, total);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(parts[i]);
        memcpy(out + o, parts[i], l);
        out[o + l] = '\n';
        o += l + 1;
        free(parts[i]);
    }
    free(copy);
    return out;
}

/* ------------------------------------------------------------- suite cases */

static int suite_cases;

static void expect_file(const char *dir, const char *file, const char *got)
{
    char *want = slurp(dir, file, NULL);
    TEST_EXPECT(want != NULL);
    if (!want)
        return;
    if (strstr(file, "signature"))
        chomp(want);
    if (!got || strcmp(got, want) != 0) {
        TEST_FAIL_AT(__FILE__, __LINE__, "%s/%s:\n--- want\n%s\n--- got\n%s", dir, file, want,
                     got ? got : "(null)");
    }
    unit_checks++;
    free(want);
}

/* The Authorization line of header-signed-request.txt, or NULL. */
static char *signed_request_line(const char *dir, const char *file, const char *prefix)
{
    char *t = slurp(dir, file, NULL);
    if (!t)
        return NULL;
    char *r = NULL;
    char *p = strstr(t, prefix);
    if (p) {
        p += strlen(prefix);
        size_t l = strcspn(p, "\r\n");
        r = xstrndup(p, l);
    }
    free(t);
    return r;
}

static void run_case(const char *name)
{
    char dir[1024], err[QB_ERRBUF_SIZE];
    snprintf(dir, sizeof dir, "%s/%s", SUITE_DIR, name);
    char *ctx_text = slurp(dir, "context.json", NULL);
    size_t req_len = 0;
    char *req_text = slurp(dir, "request.txt", &req_len);
    cJSON *ctx = ctx_text ? cJSON_Parse(ctx_text) : NULL;
    struct parsed p = {0};
    struct sigv4_result hr = {0}, qr = {0};
    TEST_EXPECT(ctx != NULL && req_text != NULL);
    if (!ctx || !req_text)
        goto out;
    TEST_EXPECT(parse_request(req_text, req_len, &p));

    const cJSON *cred = cJSON_GetObjectItem(ctx, "credentials");
    const char *ts = cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "timestamp"));
    char date[SIGV4_AMZ_DATE_LEN + 1] = {0};
    for (size_t i = 0, o = 0; ts && ts[i] && o < SIGV4_AMZ_DATE_LEN; i++)
        if (ts[i] != '-' && ts[i] != ':')
            date[o++] = ts[i];
    unsigned flags = 0;
    if (!cJSON_IsTrue(cJSON_GetObjectItem(ctx, "normalize")))
        flags |= SIGV4_NO_NORMALIZE_PATH;
    if (cJSON_IsTrue(cJSON_GetObjectItem(ctx, "sign_body")))
        flags |= SIGV4_CONTENT_SHA256;
    if (cJSON_IsTrue(cJSON_GetObjectItem(ctx, "omit_session_token")))
        flags |= SIGV4_UNSIGNED_TOKEN;
    struct sigv4_config cfg = {
        .access_key = cJSON_GetStringValue(cJSON_GetObjectItem(cred, "access_key_id")),
        .secret_key = cJSON_GetStringValue(cJSON_GetObjectItem(cred, "secret_access_key")),
        .session_token = cJSON_GetStringValue(cJSON_GetObjectItem(cred, "token")),
        .region = cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "region")),
        .service = cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "service")),
        .flags = flags,
    };
    struct sigv4_header h[MAX_HDRS];
    for (size_t i = 0; i < p.n; i++)
        h[i] = (struct sigv4_header){p.names[i], p.values[i]};
    char body_hash[SIGV4_HEX_LEN + 1];
    sigv4_sha256_hex(p.body, p.body_len, body_hash);
    struct sigv4_request req = {
        .method = p.method,
        .path = p.path,
        .query = p.query,
        .headers = h,
        .n_headers = p.n,
        .payload_hash = body_hash,
        .amz_date = date,
    };

    /* Header signing. */
    enum qb_err rc = sigv4_sign_headers(&cfg, &req, &hr, err, sizeof err);
    TEST_EXPECT_INT(rc, QB_OK);
    if (rc)
        goto out;
    expect_file(dir, "header-canonical-request.txt", hr.canonical_request);
    expect_file(dir, "header-string-to-sign.txt", hr.string_to_sign);
    expect_file(dir, "header-signature.txt", hr.signature);
    char *authz = signed_request_line(dir, "header-signed-request.txt", "Authorization:");
    TEST_EXPECT(authz != NULL);
    TEST_EXPECT_STR(hr.authorization, authz);
    free(authz);

    /* Query signing (presigned URL). */
    int64_t expires =
        (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(ctx, "expiration_in_seconds"));
    rc = sigv4_presign(&cfg, &req, expires, &qr, err, sizeof err);
    TEST_EXPECT_INT(rc, QB_OK);
    if (rc)
        goto out;
    expect_file(dir, "query-canonical-request.txt", qr.canonical_request);
    expect_file(dir, "query-string-to-sign.txt", qr.string_to_sign);
    expect_file(dir, "query-signature.txt", qr.signature);
    /* The whole presigned query must carry the same parameters as the
     * suite's signed request (order and encoding aside). */
    char *line = signed_request_line(dir, "query-signed-request.txt", "?");
    TEST_EXPECT(line != NULL);
    if (line) {
        char *sp = strrchr(line, ' ');
        if (sp)
            *sp = '\0';
        char *want = query_fingerprint(line), *got = query_fingerprint(qr.query);
        TEST_EXPECT_STR(got, want);
        free(want);
        free(got);
        free(line);
    }
    suite_cases++;
out:
    sigv4_result_free(&hr);
    sigv4_result_free(&qr);
    parsed_free(&p);
    cJSON_Delete(ctx);
    free(ctx_text);
    free(req_text);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_aws_suite(void)
{
    DIR *d = opendir(SUITE_DIR);
    TEST_ASSERT(d != NULL);
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < QB_ARRAY_LEN(names)) {
        if (e->d_name[0] == '.')
            continue;
        char probe[1024];
        snprintf(probe, sizeof probe, "%s/%s/context.json", SUITE_DIR, e->d_name);
        if (access(probe, R_OK) == 0)
            names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 0; i < n; i++) {
        int before = unit_failures;
        run_case(names[i]);
        if (unit_failures != before)
            fprintf(stderr, "  case %s failed\n", names[i]);
        free(names[i]);
    }
    /* The suite as shipped has 38 cases; fewer means a broken copy. */
    TEST_EXPECT_INT(n, 38);
    TEST_EXPECT_INT(suite_cases, 38);
}

/* --------------------------------------------------------------- S3 examples */

static const struct sigv4_config s3_example_cfg = {
    .access_key = "AKIAIOSFODNN7EXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "s3",
    .flags = SIGV4_S3_PATH | SIGV4_CONTENT_SHA256,
};
#define S3_HOST "examplebucket.s3.amazonaws.com"
#define S3_DATE "20130524T000000Z"

static void sign_s3(const char *method, const char *path, const char *query,
                    const struct sigv4_header *h, size_t n, const char *hash,
                    struct sigv4_result *res)
{
    char err[QB_ERRBUF_SIZE];
    struct sigv4_request req = {method, path, query, h, n, hash, S3_DATE};
    enum qb_err rc = sigv4_sign_headers(&s3_example_cfg, &req, res, err, sizeof err);
    TEST_EXPECT_INT(rc, QB_OK);
}

static void test_s3_get_object(void)
{
    struct sigv4_header h[] = {{"Host", S3_HOST}, {"Range", "bytes=0-9"}};
    struct sigv4_result r = {0};
    sign_s3("GET", "/test.txt", NULL, h, 2, SIGV4_EMPTY_SHA256, &r);
    TEST_EXPECT_STR(r.canonical_request,
                    "GET\n/test.txt\n\nhost:" S3_HOST "\nrange:bytes=0-9\n"
                    "x-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\nx-amz-date:" S3_DATE "\n\n"
                    "host;range;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_SHA256);
    TEST_EXPECT_STR(r.string_to_sign,
                    "AWS4-HMAC-SHA256\n" S3_DATE "\n20130524/us-east-1/s3/aws4_request\n"
                    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    TEST_EXPECT_STR(r.signature,
                    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    TEST_EXPECT_STR(r.authorization,
                    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                    "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    sigv4_result_free(&r);
}

static void test_s3_put_object(void)
{
    const char *body = "Welcome to Amazon S3.";
    char hash[SIGV4_HEX_LEN + 1];
    sigv4_sha256_hex(body, strlen(body), hash);
    TEST_EXPECT_STR(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    struct sigv4_header h[] = {{"Host", S3_HOST},
                               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                               {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    /* The key "test$file.text" as the wire carries it, and raw: S3 rules
     * decode and re-encode, so both sign the same. */
    const char *paths[] = {"/test%24file.text", "/test$file.text"};
    for (size_t i = 0; i < 2; i++) {
        struct sigv4_result r = {0};
        sign_s3("PUT", paths[i], NULL, h, 3, hash, &r);
        TEST_EXPECT(r.canonical_request &&
                    strncmp(r.canonical_request, "PUT\n/test%24file.text\n", 22) == 0);
        TEST_EXPECT_STR(r.signed_headers,
                        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
        TEST_EXPECT_STR(r.signature,
                        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
        sigv4_result_free(&r);
    }
}

static void test_s3_bucket_queries(void)
{
    struct sigv4_header h[] = {{"Host", S3_HOST}};
    struct sigv4_result r = {0};
    /* GET Bucket lifecycle: a parameter without a value becomes "lifecycle=". */
    sign_s3("GET", "/", "lifecycle", h, 1, SIGV4_EMPTY_SHA256, &r);
    TEST_EXPECT(r.canonical_request && strstr(r.canonical_request, "\n/\nlifecycle=\n"));
    TEST_EXPECT_STR(r.signature,
                    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    /* GET Bucket (List Objects), given in the opposite order to the sorted one. */
    sign_s3("GET", "/", "prefix=J&max-keys=2", h, 1, SIGV4_EMPTY_SHA256, &r);
    TEST_EXPECT(r.canonical_request && strstr(r.canonical_request, "\n/\nmax-keys=2&prefix=J\n"));
    TEST_EXPECT_STR(r.signature,
                    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    sigv4_result_free(&r);
}

static void test_s3_presign(void)
{
    char err[QB_ERRBUF_SIZE];
    struct sigv4_header h[] = {{"Host", S3_HOST}};
    struct sigv4_request req = {"GET", "/test.txt", NULL, h, 1, SIGV4_UNSIGNED_PAYLOAD, S3_DATE};
    struct sigv4_result r = {0};
    TEST_ASSERT(sigv4_presign(&s3_example_cfg, &req, 86400, &r, err, sizeof err) == QB_OK);
    TEST_EXPECT_STR(r.signature,
                    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    TEST_EXPECT_STR(r.query,
                    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F"
                    "20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&"
                    "X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
                    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    /* A session token is signed into the URL. */
    struct sigv4_config with_token = s3_example_cfg;
    with_token.session_token = "tok/en+=";
    TEST_ASSERT(sigv4_presign(&with_token, &req, 60, &r, err, sizeof err) == QB_OK);
    TEST_EXPECT(strstr(r.canonical_request, "X-Amz-Security-Token=tok%2Fen%2B%3D&") != NULL);
    TEST_EXPECT(strstr(r.query, "X-Amz-Security-Token=tok%2Fen%2B%3D") != NULL);
    sigv4_result_free(&r);
    /* Out-of-range expiry. */
    TEST_EXPECT_INT(sigv4_presign(&s3_example_cfg, &req, 604801, &r, err, sizeof err),
                    QB_ERR_INVALID);
}

/* ------------------------------------------------------------ encoding rules */

static void test_encoding_and_paths(void)
{
    char *e = sigv4_uri_encode("a b+c=d/é~._-", strlen("a b+c=d/é~._-"), true);
    TEST_EXPECT_STR(e, "a%20b%2Bc%3Dd/%C3%A9~._-");
    free(e);
    e = sigv4_uri_encode("a/b", 3, false);
    TEST_EXPECT_STR(e, "a%2Fb");
    free(e);

    struct sigv4_header h[] = {{"Host", "h"}};
    struct sigv4_config cfg = s3_example_cfg;
    struct sigv4_result r = {0};
    char err[QB_ERRBUF_SIZE];
    struct {
        unsigned flags;
        const char *path, *want;
    } cases[] = {
        /* S3: no normalisation, single encoding, "%20" and " " the same. */
        {SIGV4_S3_PATH, "/b/a%20b/../c//d", "GET\n/b/a%20b/../c//d\n"},
        {SIGV4_S3_PATH, "/b/a b+c", "GET\n/b/a%20b%2Bc\n"},
        {SIGV4_S3_PATH, "/b/%e2%82%ac", "GET\n/b/%E2%82%AC\n"},
        {SIGV4_S3_PATH, "", "GET\n/\n"},
        /* Other services: normalised and double-encoded. */
        {0, "/a%20b/./c/../d/", "GET\n/a%2520b/d/\n"},
        {0, "/a/b/..", "GET\n/a/\n"},
        {0, "/..", "GET\n/\n"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        cfg.flags = cases[i].flags;
        struct sigv4_request req = {"GET", cases[i].path, NULL, h, 1, SIGV4_EMPTY_SHA256, S3_DATE};
        TEST_ASSERT(sigv4_sign_headers(&cfg, &req, &r, err, sizeof err) == QB_OK);
        if (strncmp(r.canonical_request, cases[i].want, strlen(cases[i].want)) != 0)
            TEST_FAIL_AT(__FILE__, __LINE__, "path %s: got %s", cases[i].path, r.canonical_request);
        unit_checks++;
    }
    /* Query values: '+' is literal, "=" inside a value encoded, sorted by key then value. */
    cfg.flags = SIGV4_S3_PATH;
    struct sigv4_request q = {"GET", "/", "b=2&a=x%2By&a=+&c", h, 1, SIGV4_EMPTY_SHA256, S3_DATE};
    TEST_ASSERT(sigv4_sign_headers(&cfg, &q, &r, err, sizeof err) == QB_OK);
    TEST_EXPECT(strstr(r.canonical_request, "\na=%2B&a=x%2By&b=2&c=\n") != NULL);
    sigv4_result_free(&r);
}

static void test_invalid_inputs(void)
{
    char err[QB_ERRBUF_SIZE] = "";
    struct sigv4_header h[] = {{"Range", "bytes=0-1"}};
    struct sigv4_result r = {0};
    struct sigv4_request req = {"GET", "/", NULL, h, 1, SIGV4_EMPTY_SHA256, S3_DATE};
    TEST_EXPECT_INT(sigv4_sign_headers(&s3_example_cfg, &req, &r, err, sizeof err), QB_ERR_INVALID);
    TEST_EXPECT(strstr(err, "Host") != NULL);
    /* The secret must never appear in an error message. */
    TEST_EXPECT(strstr(err, s3_example_cfg.secret_key) == NULL);
    struct sigv4_header hh[] = {{"host", "x"}};
    struct sigv4_request bad_date = {"GET", "/", NULL, hh, 1, SIGV4_EMPTY_SHA256, "2013-05-24"};
    TEST_EXPECT_INT(sigv4_sign_headers(&s3_example_cfg, &bad_date, &r, err, sizeof err),
                    QB_ERR_INVALID);
    char d[SIGV4_AMZ_DATE_LEN + 1];
    sigv4_format_amz_date(1369353600, d, sizeof d);
    TEST_EXPECT_STR(d, "20130524T000000Z");
    sigv4_result_free(&r);
}

int main(void)
{
    TEST_RUN(test_aws_suite);
    TEST_RUN(test_s3_get_object);
    TEST_RUN(test_s3_put_object);
    TEST_RUN(test_s3_bucket_queries);
    TEST_RUN(test_s3_presign);
    TEST_RUN(test_encoding_and_paths);
    TEST_RUN(test_invalid_inputs);
    return TEST_RESULT();
}
