/* SPDX-License-Identifier: Apache-2.0
 *
 * storage_urls.c -- fetchable URLs for stored objects.
 */
#include "storage/storage_urls.h"
#include "storage/storage_internal.h"
#include "util/url_token.h"

#include <stdio.h>
#include <string.h>

enum qb_err storage_fetch_url(struct storage *st, const char *key, int64_t snapshot_id,
                              const char *download_base, int64_t ttl_s, char **url, char *err,
                              size_t errlen)
{
    *url = NULL;
    enum qb_err rc = storage_key_check(key, err, errlen);
    if (rc)
        return rc;
    if (st->kind == STORAGE_S3)
        return storage_s3_presign(st, key, ttl_s, url, err, errlen);
    return storage_served_url(key, snapshot_id, download_base, ttl_s, url, err, errlen);
}

enum qb_err storage_served_url(const char *key, int64_t snapshot_id, const char *download_base,
                               int64_t ttl_s, char **url, char *err, size_t errlen)
{
    *url = NULL;
    enum qb_err rc = storage_key_check(key, err, errlen);
    if (rc)
        return rc;
    if (!download_base || !*download_base)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "method \"url\" from a local-folder destination, or of a compressed or "
                        "encrypted snapshot, needs public_url (how Qdrant reaches this "
                        "qbackupd); use method \"upload\" instead");
    int64_t expires = qb_now_ms() / 1000 + ttl_s;
    char token[URL_TOKEN_HEX + 1];
    url_token_make(snapshot_id, expires, key, token);
    *url = xasprintf("%s/v1/snapshots/%lld/download?expires=%lld&token=%s", download_base,
                     (long long)snapshot_id, (long long)expires, token);
    return QB_OK;
}
