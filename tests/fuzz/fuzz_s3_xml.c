/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_s3_xml.c -- libFuzzer target for the S3 response parsers: the tag
 * scanner and entity decoding used for ListObjectsV2, DeleteObjects,
 * ListMultipartUploads, InitiateMultipartUpload and error documents
 * (s3_xml_next, s3_xml_text in src/remote/s3_client.c).
 *
 * The body is handed over in an exact-size buffer without a terminator, as
 * libcurl delivers it.  Invariants: a found element lies inside the body
 * and the scan position only moves forward; decoded text is never longer
 * than the raw text.
 */
#include "remote/s3_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size ? size : 1);
    memcpy(body, data, size);
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
    free(body);
    return 0;
}
