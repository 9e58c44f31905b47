/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_s3_xml.c -- libFuzzer target for src/remote/s3_xml.c, the S3
 * document readers: the tag scanner and entity decoding, and the page and
 * answer parsers built on them (ListObjectsV2, ListObjectVersions,
 * ListMultipartUploads, DeleteObjects, the Object Lock configuration,
 * error documents).
 *
 * The body is handed over in an exact-size buffer without a terminator, as
 * libcurl delivers it.  Invariants: a found element lies inside the body
 * and the scan position only moves forward; decoded text is never longer
 * than the raw text; a listed key is never longer than the body.
 */
#include "remote/s3_xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t body_len; /* the current input's size, for the callbacks */

static void walk(const char *body, size_t len, const char *outer, const char *const *inner)
{
    size_t pos = 0, vl = 0;
    const char *v = NULL;
    while (pos < len && s3_xml_next(body, len, &pos, outer, &v, &vl)) {
        if (v < body || v + vl > body + len || pos > len)
            abort();
        for (const char *const *t = inner; *t; t++) {
            char *text = s3_xml_text(v, vl, *t);
            if (text && strlen(text) > vl)
                abort();
            free(text);
        }
    }
}

static enum qb_err on_object(void *ud, const struct s3_list_entry *e)
{
    (void)ud;
    if (strlen(e->key) > body_len || strlen(e->etag) > body_len)
        abort();
    return QB_OK;
}

static enum qb_err on_upload(void *ud, const char *key, const char *upload_id)
{
    (void)ud;
    if (strlen(key) > body_len || strlen(upload_id) > body_len)
        abort();
    return QB_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size ? size : 1);
    memcpy(body, data, size);
    body_len = size;
    static const char *const contents[] = {"Key", "Size", "ETag", "LastModified", NULL};
    static const char *const errors[] = {"Key", "Code", "Message", NULL};
    static const char *const uploads[] = {"Key", "UploadId", NULL};
    walk(body, size, "Contents", contents);
    walk(body, size, "Error", errors);
    walk(body, size, "Upload", uploads);
    static const char *const top[] = {"Code",      "Message",     "IsTruncated",
                                      "UploadId",  "ETag",        "NextContinuationToken",
                                      "RequestId", "BucketRegion"};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        free(s3_xml_text(body, size, top[i]));

    char err[QB_ERRBUF_SIZE], *token = NULL, *km = NULL, *um = NULL, *k = NULL, *code = NULL;
    bool more = false;
    if (s3_xml_list_page(body, size, on_object, NULL, &token, err, sizeof err) == QB_OK && token &&
        !*token)
        abort(); /* a token, when given, is never empty */
    free(token);
    if (s3_xml_uploads_page(body, size, on_upload, NULL, &more, &km, &um) != QB_OK ||
        (!more && (km || um)))
        abort();
    free(km);
    free(um);
    km = um = NULL;
    if (s3_xml_versions_page(body, size, on_upload, NULL, &more, &km, &um) != QB_OK ||
        (!more && (km || um)))
        abort();
    free(km);
    free(um);
    struct s3_object_lock ol;
    s3_xml_object_lock(body, size, &ol);
    if (memchr(ol.mode, '\0', sizeof ol.mode) == NULL || ol.days < 0 || ol.years < 0)
        abort(); /* always terminated, never a negative period */
    if (!s3_xml_delete_error(body, size, &k, &code) && (k || code))
        abort();
    free(k);
    free(code);
    struct s3_xml_error e;
    s3_xml_error_parse(body, size, &e);
    s3_xml_error_free(&e);
    free(body);
    return 0;
}
