/* SPDX-License-Identifier: Apache-2.0
 *
 * url_token.h -- short-lived capability tokens for snapshot download URLs
 * that qbackupd hands to Qdrant (restore method "url" from a local-folder
 * destination).  A token names one snapshot *and what it is*: its id, the
 * expiry, and the snapshot's identity (its storage key, which no other
 * snapshot of the catalogue has).  Alone on its catalogue, a token dies
 * with the process, whose secret is random and never stored.  In a fleet
 * (several qbackupd on one PostgreSQL catalogue) any node may mint the URL
 * and any other serve the download, so the secret is derived from the
 * secrets key the fleet shares (url_token_use_secret), never stored
 * either.
 *
 * DESIGN
 * A token is two truncated HMAC-SHA256 tags (128 bits each, hex):
 *   mint = HMAC(secret, "mint:<id>:<expires>")
 *   bind = HMAC(secret, "bind:<id>:<expires>:<identity>")
 * `mint` proves that qbackupd made the token for this id and expiry;
 * `bind` that the snapshot now under the id is the one it was made for.
 * Checking them apart lets the download tell a forged or expired token
 * (403) from a genuine one whose snapshot was deleted and whose id now
 * names another (404): ids are not reused since migration 0007, but a
 * token must never open a different snapshot even where one was.
 *
 * THREAD SAFETY: url_token_init runs once at start-up before threads;
 * the rest only read the secret.
 */
#ifndef QB_URL_TOKEN_H
#define QB_URL_TOKEN_H

#include "common.h"

#define URL_TOKEN_HEX 64

enum url_token_verdict {
    URL_TOKEN_OK,      /* made by us for this id and identity, not expired */
    URL_TOKEN_INVALID, /* malformed, forged, for another id, or expired */
    URL_TOKEN_STALE,   /* made by us for this id, but for another snapshot */
};

/* Draws the process secret.  Fails only when the system has no entropy. */
enum qb_err url_token_init(char *err, size_t errlen) QB_MUSTCHECK;

/* Replaces the secret with secret[0..32), which every node of a fleet
 * derives alike.  At start-up, before threads, like url_token_init. */
void url_token_use_secret(const unsigned char secret[32]);

/* Writes the token for (snapshot_id, expires, identity) into
 * out[URL_TOKEN_HEX + 1].  identity is the snapshot's storage key. */
void url_token_make(int64_t snapshot_id, int64_t expires, const char *identity, char *out);

/* True when token is one we made for snapshot_id and expires, and it has
 * not expired: the first half of url_token_check, for a caller that does
 * not know the identity yet. */
bool url_token_minted(int64_t snapshot_id, int64_t expires, const char *token);

/* Judges token for snapshot_id and expires (from the URL) against the
 * identity of the snapshot that id names now.  Compares in constant
 * time. */
enum url_token_verdict url_token_check(int64_t snapshot_id, int64_t expires, const char *identity,
                                       const char *token);

#endif /* QB_URL_TOKEN_H */
