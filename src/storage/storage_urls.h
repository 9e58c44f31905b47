/* SPDX-License-Identifier: Apache-2.0
 *
 * storage_urls.h -- a URL from which someone else (Qdrant, recovering a
 * snapshot by URL) can fetch a stored object: a presigned GET for S3, or
 * qbackupd's own download endpoint with a short-lived token for a local
 * folder (which Qdrant usually cannot read directly).
 */
#ifndef QB_STORAGE_URLS_H
#define QB_STORAGE_URLS_H

#include "storage/storage.h"

/* *url (caller frees; it is a capability, wipe it) fetches key, valid for
 * ttl_s.  For local destinations download_base ("http://host:port" of this
 * qbackupd as Qdrant reaches it) is required; snapshot_id names the
 * catalogued snapshot the download endpoint serves, and key must be that
 * snapshot's storage_key: the token is bound to both (util/url_token.h),
 * so it never opens another snapshot that later holds the id. */
enum qb_err storage_fetch_url(struct storage *st, const char *key, int64_t snapshot_id,
                              const char *download_base, int64_t ttl_s, char **url, char *err,
                              size_t errlen) QB_MUSTCHECK;

/* Like storage_fetch_url, but always qbackupd's own download endpoint,
 * whatever the destination: what Qdrant is given for a compressed or
 * encrypted snapshot, which the endpoint serves decoded (a presigned S3
 * URL would hand Qdrant the stored bytes). */
enum qb_err storage_served_url(const char *key, int64_t snapshot_id, const char *download_base,
                               int64_t ttl_s, char **url, char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORAGE_URLS_H */
