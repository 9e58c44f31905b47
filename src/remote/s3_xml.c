/* SPDX-License-Identifier: Apache-2.0
 *
 * s3_xml.c -- S3's XML documents: the tag scanner, entity decoding, and the
 * readers and writers of each document s3_client.c and s3_upload.c
 * exchange.  See s3_xml.h for the design.
 */
#include "remote/s3_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- the scanner */

static void put_utf8(char **o, unsigned long cp)
{
    char *p = *o;
    if (cp < 0x80) {
        *p++ = (char)cp;
    } else if (cp < 0x800) {
        *p++ = (char)(0xC0 | (cp >> 6));
        *p++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *p++ = (char)(0xE0 | (cp >> 12));
        *p++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *p++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *p++ = (char)(0xF0 | (cp >> 18));
        *p++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *p++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *p++ = (char)(0x80 | (cp & 0x3F));
    }
    *o = p;
}

/* Returns a new string with entities (named and numeric) decoded. */
static char *xml_unescape(const char *s, size_t n)
{
    static const struct {
        const char *ent;
        char c;
    } named[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    char *out = xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n;) {
        if (s[i] == '&') {
            const char *semi = memchr(s + i, ';', n - i);
            size_t el = semi ? (size_t)(semi - (s + i)) + 1 : 0;
            bool done = false;
            for (size_t k = 0; semi && k < QB_ARRAY_LEN(named) && !done; k++) {
                if (el == strlen(named[k].ent) && memcmp(s + i, named[k].ent, el) == 0) {
                    *o++ = named[k].c;
                    done = true;
                }
            }
            if (!done && semi && el > 3 && s[i + 1] == '#') {
                bool hexa = s[i + 2] == 'x' || s[i + 2] == 'X';
                unsigned long cp = strtoul(s + i + (hexa ? 3 : 2), NULL, hexa ? 16 : 10);
                if (cp > 0 && cp <= 0x10FFFF) {
                    put_utf8(&o, cp); /* at most 4 bytes for >= 4 input bytes */
                    done = true;
                }
            }
            if (done) {
                i += el;
                continue;
            }
        }
        *o++ = s[i++];
    }
    *o = '\0';
    return out;
}

/* Finds the next <tag>...</tag> at or after *pos in s[0..len); sets the
 * content span and moves *pos past the closing tag.  "<tag/>" is empty. */
bool s3_xml_next(const char *s, size_t len, size_t *pos, const char *tag, const char **val,
                 size_t *vlen)
{
    char open[64], close[64], empty[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    snprintf(empty, sizeof empty, "<%s/>", tag);
    size_t ol = strlen(open), cl = strlen(close), el = strlen(empty);
    for (size_t i = *pos; i < len; i++) {
        if (s[i] != '<')
            continue;
        if (len - i >= el && memcmp(s + i, empty, el) == 0) {
            *val = s + i;
            *vlen = 0;
            *pos = i + el;
            return true;
        }
        if (len - i < ol || memcmp(s + i, open, ol) != 0)
            continue;
        for (size_t j = i + ol; j + cl <= len; j++) {
            if (s[j] == '<' && memcmp(s + j, close, cl) == 0) {
                *val = s + i + ol;
                *vlen = j - (i + ol);
                *pos = j + cl;
                return true;
            }
        }
        return false;
    }
    return false;
}

/* The unescaped text of the first <tag> in s[0..len), or NULL; caller frees. */
char *s3_xml_text(const char *s, size_t len, const char *tag)
{
    size_t pos = 0, vl;
    const char *v;
    if (!s || !s3_xml_next(s, len, &pos, tag, &v, &vl))
        return NULL;
    return xml_unescape(v, vl);
}

/* ----------------------------------------------------------------- answers */

enum qb_err s3_xml_list_page(const char *s, size_t len, s3_list_fn fn, void *ud, char **next_token,
                             char *err, size_t errlen)
{
    enum qb_err rc = QB_OK;
    const char *v;
    size_t vl, pos = 0;
    *next_token = NULL;
    while (!rc && s && s3_xml_next(s, len, &pos, "Contents", &v, &vl)) {
        char *k = s3_xml_text(v, vl, "Key"), *sz = s3_xml_text(v, vl, "Size");
        char *et = s3_xml_text(v, vl, "ETag"), *lm = s3_xml_text(v, vl, "LastModified");
        struct s3_list_entry e = {k ? k : "", sz ? strtoull(sz, NULL, 10) : 0, et ? et : "",
                                  lm ? lm : ""};
        rc = fn(ud, &e);
        free(k);
        free(sz);
        free(et);
        free(lm);
    }
    char *trunc = s3_xml_text(s, len, "IsTruncated");
    if (!rc && trunc && strcmp(trunc, "true") == 0) {
        *next_token = s3_xml_text(s, len, "NextContinuationToken");
        if (!*next_token || !**next_token) {
            QB_FREE(*next_token);
            rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                          "S3 list: truncated page without a continuation token");
        }
    }
    free(trunc);
    return rc;
}

enum qb_err s3_xml_uploads_page(const char *s, size_t len, s3_upload_list_fn fn, void *ud,
                                bool *more, char **key_marker, char **upload_id_marker)
{
    enum qb_err rc = QB_OK;
    const char *v;
    size_t vl, pos = 0;
    *more = false;
    *key_marker = *upload_id_marker = NULL;
    while (!rc && s && s3_xml_next(s, len, &pos, "Upload", &v, &vl)) {
        char *k = s3_xml_text(v, vl, "Key"), *id = s3_xml_text(v, vl, "UploadId");
        rc = fn(ud, k ? k : "", id ? id : "");
        free(k);
        free(id);
    }
    char *trunc = s3_xml_text(s, len, "IsTruncated");
    *more = !rc && trunc && strcmp(trunc, "true") == 0;
    free(trunc);
    if (*more) {
        *key_marker = s3_xml_text(s, len, "NextKeyMarker");
        *upload_id_marker = s3_xml_text(s, len, "NextUploadIdMarker");
    }
    return rc;
}

static enum qb_err versions_of(const char *s, size_t len, const char *tag, s3_version_fn fn,
                               void *ud)
{
    enum qb_err rc = QB_OK;
    const char *v;
    size_t vl, pos = 0;
    while (!rc && s3_xml_next(s, len, &pos, tag, &v, &vl)) {
        char *k = s3_xml_text(v, vl, "Key"), *id = s3_xml_text(v, vl, "VersionId");
        rc = fn(ud, k ? k : "", id ? id : "");
        free(k);
        free(id);
    }
    return rc;
}

enum qb_err s3_xml_versions_page(const char *s, size_t len, s3_version_fn fn, void *ud, bool *more,
                                 char **key_marker, char **version_marker)
{
    enum qb_err rc = QB_OK;
    *more = false;
    *key_marker = *version_marker = NULL;
    if (s)
        rc = versions_of(s, len, "Version", fn, ud);
    if (s && !rc)
        rc = versions_of(s, len, "DeleteMarker", fn, ud);
    char *trunc = s3_xml_text(s, len, "IsTruncated");
    *more = !rc && trunc && strcmp(trunc, "true") == 0;
    free(trunc);
    if (*more) {
        *key_marker = s3_xml_text(s, len, "NextKeyMarker");
        *version_marker = s3_xml_text(s, len, "NextVersionIdMarker");
    }
    return rc;
}

void s3_xml_object_lock(const char *s, size_t len, struct s3_object_lock *out)
{
    memset(out, 0, sizeof *out);
    char *en = s3_xml_text(s, len, "ObjectLockEnabled");
    out->enabled = en && strcmp(en, "Enabled") == 0;
    free(en);
    const char *v;
    size_t vl, pos = 0;
    if (!s || !s3_xml_next(s, len, &pos, "DefaultRetention", &v, &vl))
        return;
    char *mode = s3_xml_text(v, vl, "Mode"), *days = s3_xml_text(v, vl, "Days");
    char *years = s3_xml_text(v, vl, "Years");
    if (mode && strlen(mode) < sizeof out->mode)
        qb_strlcpy(out->mode, mode, sizeof out->mode);
    long d = days ? strtol(days, NULL, 10) : 0, y = years ? strtol(years, NULL, 10) : 0;
    out->days = d > 0 && d <= 365000 ? (int)d : 0;
    out->years = y > 0 && y <= 1000 ? (int)y : 0;
    free(mode);
    free(days);
    free(years);
}

void s3_xml_error_parse(const char *s, size_t len, struct s3_xml_error *out)
{
    out->code = s3_xml_text(s, len, "Code");
    out->message = s3_xml_text(s, len, "Message");
}

void s3_xml_error_free(struct s3_xml_error *e)
{
    if (!e)
        return;
    QB_FREE(e->code);
    QB_FREE(e->message);
}

bool s3_xml_delete_error(const char *s, size_t len, char **key, char **code)
{
    const char *v;
    size_t vl, pos = 0;
    *key = *code = NULL;
    if (!s || !s3_xml_next(s, len, &pos, "Error", &v, &vl))
        return false;
    *key = s3_xml_text(v, vl, "Key");
    *code = s3_xml_text(v, vl, "Code");
    return true;
}

/* ---------------------------------------------------------------- requests */

bool s3_xml_delete_doc(struct buf *b, const char *const *keys, size_t n)
{
    bool ok = buf_appends(b, "<Delete><Quiet>true</Quiet>");
    for (size_t i = 0; ok && i < n; i++)
        ok = buf_appends(b, "<Object><Key>") && buf_append_escaped(b, keys[i]) &&
             buf_appends(b, "</Key></Object>");
    return ok && buf_appends(b, "</Delete>");
}
