/* SPDX-License-Identifier: Apache-2.0
 *
 * url_token.h -- short-lived capability tokens for snapshot download URLs
 * that qbackupd hands to Qdrant (restore method "url" from a local-folder
 * destination).  A token is HMAC-SHA256(process secret, "<id>:<expires>"):
 * it names one snapshot, expires, and dies with the process, whose secret
 * is random and never stored.
 *
 * THREAD SAFETY: url_token_init runs once at start-up before threads;
 * the rest only read the secret.
 */
#ifndef QB_URL_TOKEN_H
#define QB_URL_TOKEN_H

#include "common.h"

#define URL_TOKEN_HEX 64

/* Draws the process secret.  Fails only when the system has no entropy. */
enum qb_err url_token_init(char *err, size_t errlen) QB_MUSTCHECK;

/* Writes the token for (snapshot_id, expires) into out[URL_TOKEN_HEX + 1]. */
void url_token_make(int64_t snapshot_id, int64_t expires, char *out);

/* True when token is valid for snapshot_id and expires is in the future. */
bool url_token_check(int64_t snapshot_id, int64_t expires, const char *token);

#endif /* QB_URL_TOKEN_H */
