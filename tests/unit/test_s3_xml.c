/* SPDX-License-Identifier: Apache-2.0
 *
 * test_s3_xml.c -- S3's XML documents (src/remote/s3_xml.c): the tag
 * scanner on exact-length, unterminated bodies; entity decoding; the
 * ListObjectsV2, ListObjectVersions and ListMultipartUploads pages (as RGW
 * and AWS write them), the Object Lock configuration, error documents, the DeleteObjects answer and
 * request.
 */
#include "unit.h"
#include "remote/s3_xml.h"

#include <stdlib.h>
#include <string.h>

/* A heap copy of s without its terminator, as libcurl delivers a body, so
 * ASan catches any read past len. */
static char *body(const char *s, size_t *len)
{
    *len = strlen(s);
    char *b = malloc(*len ? *len : 1);
    memcpy(b, s, *len);
    return b;
}

static void test_scanner(void)
{
    static const struct {
        const char *doc, *tag, *want; /* want NULL: not found */
    } cases[] = {
        {"<A><Key>k1</Key></A>", "Key", "k1"},
        {"<KeyCount>3</KeyCount><Key>k</Key>", "Key", "k"}, /* exact names only */
        {"<Key/><Key>x</Key>", "Key", ""},                  /* self-closed is empty */
        {"<Key>open but never closed", "Key", NULL},
        {"<Key>cut</Ke", "Key", NULL},
        {"", "Key", NULL},
        {"<Key>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;</Key>", "Key",
         "a & b <c> \"d\" 'e'"},
        {"<Key>&#65;&#x42;&#x1F600;</Key>", "Key", "AB\xF0\x9F\x98\x80"},
        {"<Key>&#0;&bogus;&#x110000;&amp</Key>", "Key", "&#0;&bogus;&#x110000;&amp"},
        {"<Message></Message>", "Message", ""},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        size_t len;
        char *b = body(cases[i].doc, &len);
        char *t = s3_xml_text(b, len, cases[i].tag);
        if (cases[i].want)
            TEST_EXPECT_STR(t, cases[i].want);
        else
            TEST_EXPECT(t == NULL);
        free(t);
        free(b);
    }
    TEST_EXPECT(s3_xml_text(NULL, 0, "Key") == NULL);

    /* Successive elements, the position moving forward past each. */
    size_t len, pos = 0, vl;
    const char *v;
    char *b = body("<U>1</U><X/><U>22</U><U/>", &len);
    TEST_ASSERT(s3_xml_next(b, len, &pos, "U", &v, &vl));
    TEST_EXPECT_INT(vl, 1);
    TEST_EXPECT(memcmp(v, "1", 1) == 0);
    TEST_ASSERT(s3_xml_next(b, len, &pos, "U", &v, &vl));
    TEST_EXPECT_INT(vl, 2);
    TEST_EXPECT(memcmp(v, "22", 2) == 0);
    TEST_ASSERT(s3_xml_next(b, len, &pos, "U", &v, &vl));
    TEST_EXPECT_INT(vl, 0);
    TEST_EXPECT_INT(pos, len);
    TEST_EXPECT(!s3_xml_next(b, len, &pos, "U", &v, &vl));
    free(b);
}

static void test_escape(void)
{
    struct buf b;
    buf_init(&b, 1024);
    TEST_ASSERT(buf_append_escaped(&b, "a&b<c>d\"e'f"));
    TEST_EXPECT_STR(b.data, "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    buf_free(&b);
    buf_init(&b, 8); /* the cap is honoured */
    TEST_EXPECT(!buf_append_escaped(&b, "&&&"));
    buf_free(&b);

    /* The DeleteObjects request: quiet, keys escaped, in order. */
    const char *keys[] = {"a&b", "dir/<x>"};
    buf_init(&b, 1024);
    TEST_ASSERT(s3_xml_delete_doc(&b, keys, 2));
    TEST_EXPECT_STR(b.data, "<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object>"
                            "<Object><Key>dir/&lt;x&gt;</Key></Object></Delete>");
    buf_free(&b);
    buf_init(&b, 40);
    TEST_EXPECT(!s3_xml_delete_doc(&b, keys, 2));
    buf_free(&b);
}

struct seen {
    char keys[4][64];
    uint64_t sizes[4];
    char etag0[64], lm0[64];
    size_t n;
    size_t stop_after; /* 0: never */
};

static enum qb_err on_object(void *ud, const struct s3_list_entry *e)
{
    struct seen *s = ud;
    if (s->n < 4) {
        snprintf(s->keys[s->n], sizeof s->keys[0], "%s", e->key);
        s->sizes[s->n] = e->size;
        if (s->n == 0) {
            snprintf(s->etag0, sizeof s->etag0, "%s", e->etag);
            snprintf(s->lm0, sizeof s->lm0, "%s", e->last_modified);
        }
    }
    s->n++;
    return s->stop_after && s->n >= s->stop_after ? QB_ERR_CANCELLED : QB_OK;
}

static void test_list_page(void)
{
    static const char page[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
        "<IsTruncated>true</IsTruncated>"
        "<Contents><Key>p/a&amp;1</Key><LastModified>2026-11-25T12:00:00.000Z</LastModified>"
        "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>12345</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>p/b</Key><Size>0</Size></Contents>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</"
        "NextContinuationToken>"
        "</ListBucketResult>";
    size_t len;
    char *b = body(page, &len);
    char err[QB_ERRBUF_SIZE], *token = NULL;
    struct seen s = {0};
    TEST_EXPECT_INT(s3_xml_list_page(b, len, on_object, &s, &token, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(s.n, 2);
    TEST_EXPECT_STR(s.keys[0], "p/a&1");
    TEST_EXPECT_INT(s.sizes[0], 12345);
    TEST_EXPECT_STR(s.etag0, "\"9b2cf535f27731c974343645a3985328\"");
    TEST_EXPECT_STR(s.lm0, "2026-11-25T12:00:00.000Z");
    TEST_EXPECT_STR(s.keys[1], "p/b");
    TEST_EXPECT_INT(s.sizes[1], 0);
    TEST_EXPECT_STR(token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    free(token);

    /* The callback's verdict stops the page and is returned. */
    struct seen stop = {.stop_after = 1};
    TEST_EXPECT_INT(s3_xml_list_page(b, len, on_object, &stop, &token, err, sizeof err),
                    QB_ERR_CANCELLED);
    TEST_EXPECT_INT(stop.n, 1);
    TEST_EXPECT(token == NULL);
    free(b);

    /* Last page: no token.  Truncated without one: an error, not a loop. */
    static const struct {
        const char *doc;
        enum qb_err rc;
    } ends[] = {
        {"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>", QB_OK},
        {"<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>", QB_OK},
        {"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", QB_ERR_REMOTE},
        {"<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>"
         "</NextContinuationToken></ListBucketResult>",
         QB_ERR_REMOTE},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(ends); i++) {
        b = body(ends[i].doc, &len);
        struct seen none = {0};
        TEST_EXPECT_INT(s3_xml_list_page(b, len, on_object, &none, &token, err, sizeof err),
                        ends[i].rc);
        TEST_EXPECT(token == NULL);
        TEST_EXPECT_INT(none.n, 0);
        free(b);
    }
    TEST_EXPECT(strstr(err, "continuation token") != NULL);
}

static enum qb_err on_upload(void *ud, const char *key, const char *upload_id)
{
    struct seen *s = ud;
    if (s->n < 4)
        snprintf(s->keys[s->n], sizeof s->keys[0], "%s=%s", key, upload_id);
    s->n++;
    return QB_OK;
}

static void test_uploads_page(void)
{
    static const char page[] =
        "<ListMultipartUploadsResult><Bucket>b</Bucket><KeyMarker></KeyMarker>"
        "<NextKeyMarker>k/2</NextKeyMarker><NextUploadIdMarker>2~xyz</NextUploadIdMarker>"
        "<IsTruncated>true</IsTruncated>"
        "<Upload><Key>k/1</Key><UploadId>2~abc</UploadId><Initiated>x</Initiated></Upload>"
        "<Upload><Key>k/2</Key><UploadId>2~xyz</UploadId></Upload>"
        "</ListMultipartUploadsResult>";
    size_t len;
    char *b = body(page, &len), *km = NULL, *um = NULL;
    bool more = false;
    struct seen s = {0};
    TEST_EXPECT_INT(s3_xml_uploads_page(b, len, on_upload, &s, &more, &km, &um), QB_OK);
    TEST_EXPECT_INT(s.n, 2);
    TEST_EXPECT_STR(s.keys[0], "k/1=2~abc");
    TEST_EXPECT_STR(s.keys[1], "k/2=2~xyz");
    TEST_EXPECT(more);
    TEST_EXPECT_STR(km, "k/2");
    TEST_EXPECT_STR(um, "2~xyz");
    free(km);
    free(um);
    free(b);

    b = body("<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
             "<NextKeyMarker>k</NextKeyMarker></ListMultipartUploadsResult>",
             &len);
    struct seen none = {0};
    TEST_EXPECT_INT(s3_xml_uploads_page(b, len, on_upload, &none, &more, &km, &um), QB_OK);
    TEST_EXPECT(!more);
    TEST_EXPECT(km == NULL && um == NULL);
    TEST_EXPECT_INT(none.n, 0);
    free(b);
}

/* ListObjectVersions as RGW writes it: versions, then delete markers. */
static void test_versions_page(void)
{
    static const char page[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListVersionsResult>"
        "<Name>b</Name><Prefix>p/a</Prefix><KeyMarker></KeyMarker><VersionIdMarker>"
        "</VersionIdMarker><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
        "<NextKeyMarker>p/a.sha256</NextKeyMarker><NextVersionIdMarker>v3</NextVersionIdMarker>"
        "<Version><Key>p/a</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest>"
        "<Size>6</Size></Version>"
        "<DeleteMarker><Key>p/a</Key><VersionId>m2</VersionId><IsLatest>true</IsLatest>"
        "</DeleteMarker>"
        "<Version><Key>p/a.sha256</Key><VersionId>v3</VersionId></Version>"
        "</ListVersionsResult>";
    size_t len;
    char *b = body(page, &len), *km = NULL, *vm = NULL;
    bool more = false;
    struct seen s = {0};
    TEST_EXPECT_INT(s3_xml_versions_page(b, len, on_upload, &s, &more, &km, &vm), QB_OK);
    TEST_EXPECT_INT(s.n, 3);
    TEST_EXPECT_STR(s.keys[0], "p/a=v1");
    TEST_EXPECT_STR(s.keys[1], "p/a.sha256=v3");
    TEST_EXPECT_STR(s.keys[2], "p/a=m2");
    TEST_EXPECT(more);
    TEST_EXPECT_STR(km, "p/a.sha256");
    TEST_EXPECT_STR(vm, "v3");
    free(km);
    free(vm);
    free(b);

    b = body("<ListVersionsResult><IsTruncated>false</IsTruncated></ListVersionsResult>", &len);
    struct seen none = {0};
    TEST_EXPECT_INT(s3_xml_versions_page(b, len, on_upload, &none, &more, &km, &vm), QB_OK);
    TEST_EXPECT(!more);
    TEST_EXPECT(km == NULL && vm == NULL);
    TEST_EXPECT_INT(none.n, 0);
    free(b);
}

/* GET /?object-lock: enabled with and without a default retention rule. */
static void test_object_lock(void)
{
    struct s3_object_lock ol;
    size_t len;
    char *b = body("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ObjectLockConfiguration "
                   "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ObjectLockEnabled>Enabled"
                   "</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1"
                   "</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
                   &len);
    s3_xml_object_lock(b, len, &ol);
    TEST_EXPECT(ol.enabled);
    TEST_EXPECT_STR(ol.mode, "GOVERNANCE");
    TEST_EXPECT_INT(ol.days, 1);
    TEST_EXPECT_INT(ol.years, 0);
    free(b);

    b = body("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
             "<Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>2</Years>"
             "</DefaultRetention></Rule></ObjectLockConfiguration>",
             &len);
    s3_xml_object_lock(b, len, &ol);
    TEST_EXPECT(ol.enabled);
    TEST_EXPECT_STR(ol.mode, "COMPLIANCE");
    TEST_EXPECT_INT(ol.days, 0);
    TEST_EXPECT_INT(ol.years, 2);
    free(b);

    b = body("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
             "</ObjectLockConfiguration>",
             &len);
    s3_xml_object_lock(b, len, &ol);
    TEST_EXPECT(ol.enabled);
    TEST_EXPECT_STR(ol.mode, "");
    free(b);

    /* Cut short, absurd or missing: nothing is read past len, nothing enabled. */
    b = body("<ObjectLockConfiguration><ObjectLockEnabled>Enab", &len);
    s3_xml_object_lock(b, len, &ol);
    TEST_EXPECT(!ol.enabled);
    free(b);
    b = body("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule>"
             "<DefaultRetention><Mode>GOVERNANCE_AND_MORE_THAN_16</Mode><Days>-5</Days>"
             "</DefaultRetention></Rule></ObjectLockConfiguration>",
             &len);
    s3_xml_object_lock(b, len, &ol);
    TEST_EXPECT_STR(ol.mode, "");
    TEST_EXPECT_INT(ol.days, 0);
    free(b);
    s3_xml_object_lock(NULL, 0, &ol);
    TEST_EXPECT(!ol.enabled);
}

static void test_errors(void)
{
    size_t len;
    /* RGW: an empty <Message>.  AWS: a Message and a RequestId. */
    char *b = body("<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message></Message>"
                   "<BucketName>b</BucketName><RequestId>tx0</RequestId></Error>",
                   &len);
    struct s3_xml_error e;
    s3_xml_error_parse(b, len, &e);
    TEST_EXPECT_STR(e.code, "NoSuchKey");
    TEST_EXPECT_STR(e.message, "");
    s3_xml_error_free(&e);
    TEST_EXPECT(e.code == NULL && e.message == NULL);
    free(b);
    s3_xml_error_parse(NULL, 0, &e); /* a 404 to HEAD has no body */
    TEST_EXPECT(e.code == NULL && e.message == NULL);
    s3_xml_error_free(&e);
    s3_xml_error_free(NULL);

    /* DeleteObjects: quiet success, then a key S3 would not delete. */
    char *k = NULL, *code = NULL;
    b = body("<DeleteResult></DeleteResult>", &len);
    TEST_EXPECT(!s3_xml_delete_error(b, len, &k, &code));
    TEST_EXPECT(k == NULL && code == NULL);
    free(b);
    b = body("<DeleteResult><Error><Key>a&amp;b</Key><Code>AccessDenied</Code>"
             "<Message>Access Denied</Message></Error></DeleteResult>",
             &len);
    TEST_EXPECT(s3_xml_delete_error(b, len, &k, &code));
    TEST_EXPECT_STR(k, "a&b");
    TEST_EXPECT_STR(code, "AccessDenied");
    free(k);
    free(code);
    free(b);
}

int main(void)
{
    TEST_RUN(test_scanner);
    TEST_RUN(test_escape);
    TEST_RUN(test_list_page);
    TEST_RUN(test_uploads_page);
    TEST_RUN(test_errors);
    TEST_RUN(test_versions_page);
    TEST_RUN(test_object_lock);
    return TEST_RESULT();
}
