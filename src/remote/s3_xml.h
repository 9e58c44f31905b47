/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_xml.h -- S3's XML documents, read and written: the ListObjectsV2,
 * ListObjectVersions and ListMultipartUploads pages, a bucket's Object
 * Lock configuration, the CreateMultipartUpload answer, the
 * DeleteObjects request and answer, and <Error> bodies.  A function of the
 * bytes alone: no I/O, no state, so any thread may call any of it.
 *
 * DESIGN
 *   S3's answers are flat and machine-written, so a tiny tag scanner
 *   (s3_xml_next) is enough: it finds <tag>...</tag> (or <tag/>) by exact
 *   name, without a DOM, attributes or namespaces.  Text is entity-decoded
 *   (the five named entities and numeric ones, as UTF-8), which keys need:
 *   S3 escapes '&', '<' and control characters in them.
 *
 * Caveats
 *   Bodies arrive as libcurl gives them: an exact length, possibly without
 *   a terminator, possibly cut short.  Every reader takes (s, len) and never
 *   reads past len; a missing element is "not there", never an error here
 *   -- the caller decides what an absent UploadId or token means.
 *   Fuzzed by tests/fuzz/fuzz_s3_xml.c, unit-tested by
 *   tests/unit/test_s3_xml.c.
 */
#ifndef QB_S3_XML_H
#define QB_S3_XML_H

#include "common.h"
#include "remote/s3_client.h"
#include "util/buf.h"

/* ---- the scanner ------------------------------------------------------ */

/* Finds the next <tag>...</tag> at or after *pos in s[0..len): sets the
 * content span [*val, *val + *vlen) (borrowed from s) and moves *pos past
 * the closing tag.  "<tag/>" is empty.  false when there is none (or its
 * closing tag is missing). */
bool s3_xml_next(const char *s, size_t len, size_t *pos, const char *tag, const char **val,
                 size_t *vlen);

/* The entity-decoded text of the first <tag> in s[0..len) (s may be NULL),
 * or NULL if there is none; caller frees. */
char *s3_xml_text(const char *s, size_t len, const char *tag);

/* ---- answers ---------------------------------------------------------- */

/* One ListObjectsV2 page: calls fn for each <Contents> in order (the
 * entry's strings are borrowed for the call; absent fields are "" / 0) and
 * stops at the first non-QB_OK, which it returns.  [out] *next_token: the
 * NextContinuationToken when the page says IsTruncated=true, else NULL;
 * caller frees.  A truncated page without a token is QB_ERR_REMOTE. */
enum qb_err s3_xml_list_page(const char *s, size_t len, s3_list_fn fn, void *ud, char **next_token,
                             char *err, size_t errlen) QB_MUSTCHECK;

/* One ListMultipartUploads page: calls fn(ud, key, upload_id) per <Upload>
 * (both borrowed for the call) and stops at the first non-QB_OK, which it
 * returns.  [out] *more: IsTruncated=true; then *key_marker and
 * *upload_id_marker are the page's Next*Marker values (NULL if absent),
 * else both NULL.  Caller frees both. */
enum qb_err s3_xml_uploads_page(const char *s, size_t len, s3_upload_list_fn fn, void *ud,
                                bool *more, char **key_marker,
                                char **upload_id_marker) QB_MUSTCHECK;

/* One ListObjectVersions page: calls fn(ud, key, version_id) for each
 * <Version> and then each <DeleteMarker> (both borrowed for the call) and
 * stops at the first non-QB_OK, which it returns.  [out] *more:
 * IsTruncated=true; then *key_marker and *version_marker are the page's
 * NextKeyMarker and NextVersionIdMarker (NULL if absent), else both NULL.
 * Caller frees both. */
typedef enum qb_err (*s3_version_fn)(void *ud, const char *key, const char *version_id);
enum qb_err s3_xml_versions_page(const char *s, size_t len, s3_version_fn fn, void *ud, bool *more,
                                 char **key_marker, char **version_marker) QB_MUSTCHECK;

/* An ObjectLockConfiguration document into out (zeroed first): enabled,
 * and the default retention rule when there is one. */
void s3_xml_object_lock(const char *s, size_t len, struct s3_object_lock *out);

/* The S3 error document's <Code> and <Message>, each NULL when absent;
 * caller frees both (s3_xml_error_free). */
struct s3_xml_error {
    char *code;
    char *message;
};
void s3_xml_error_parse(const char *s, size_t len, struct s3_xml_error *out);
void s3_xml_error_free(struct s3_xml_error *e); /* NULL is a no-op; zeroes e */

/* The first <Error> of a DeleteObjects answer (a key S3 did not delete):
 * true and its <Key> and <Code> (NULL when absent; caller frees both), or
 * false and both NULL when every key was deleted. */
bool s3_xml_delete_error(const char *s, size_t len, char **key, char **code);

/* ---- requests --------------------------------------------------------- */

/* Appends the DeleteObjects document for keys[0..n) (Quiet: the answer
 * lists failures only).  false past b's cap. */
bool s3_xml_delete_doc(struct buf *b, const char *const *keys, size_t n) QB_MUSTCHECK;

#endif /* QB_S3_XML_H */
