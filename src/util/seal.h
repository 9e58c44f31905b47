/* SPDX-License-Identifier: Apache-2.0
 *
 * seal.h -- authenticated encryption of small secrets (API keys, S3
 * credentials) for storage at rest, and the key ring that does it.
 *
 * DESIGN
 * AES-256-GCM (OpenSSL EVP) with a fresh random 96-bit nonce per seal.  A
 * sealed value is self-describing printable text:
 *
 *     qbs1:<key id>:<nonce>:<ciphertext>:<tag>
 *
 * `qbs1` is the format version; the key id is 8 hex digits derived from
 * the key (SHA-256 of a label and the key, first 4 bytes), so opening
 * picks the right key of a ring without trying each and a rotation can
 * tell which values still use an old key; nonce, ciphertext and tag are
 * standard base64.  None of the characters needs escaping in JSON or SQL.
 * The caller's context string (e.g. "instances.api_key_secret") is the
 * GCM associated data: a value copied into another column does not open.
 *
 * A ring holds one or more 256-bit keys; the first seals, all open
 * (rotation: put the new key first and keep the old one until every value
 * was re-sealed).  Keys never appear in error messages.
 *
 * THREAD SAFETY: a ring is immutable once built; seal_seal and seal_open
 * may then be called from any thread at once.
 */
#ifndef QB_SEAL_H
#define QB_SEAL_H

#include "common.h"

#define SEAL_KEY_LEN    32 /* AES-256 */
#define SEAL_KEY_ID_LEN 8  /* hex digits */
#define SEAL_PREFIX     "qbs1:"

struct seal_keyring;

/* A new empty ring; caller frees with seal_keyring_destroy. */
struct seal_keyring *seal_keyring_create(void);
/* Wipes the keys and frees the ring.  NULL is a no-op. */
void seal_keyring_destroy(struct seal_keyring *kr);

/* Appends a key (copied); the first one added is the current key.  A key
 * already in the ring is ignored. */
void seal_keyring_add(struct seal_keyring *kr, const unsigned char key[SEAL_KEY_LEN]);

/* Decodes a base64 key (surrounding blanks ignored) and appends it.
 * QB_ERR_INVALID (naming `source`, never echoing the text) when it is not
 * base64 of exactly SEAL_KEY_LEN bytes. */
enum qb_err seal_keyring_add_base64(struct seal_keyring *kr, const char *text, const char *source,
                                    char *err, size_t errlen) QB_MUSTCHECK;

/* Number of keys in the ring. */
size_t seal_keyring_count(const struct seal_keyring *kr);

/* Writes the current key's id (SEAL_KEY_ID_LEN hex digits + NUL) to out;
 * "" for an empty ring. */
void seal_keyring_current_id(const struct seal_keyring *kr, char out[SEAL_KEY_ID_LEN + 1]);

/* True when kr holds a key whose id is key_id. */
bool seal_keyring_has(const struct seal_keyring *kr, const char *key_id);

/* Derives out[0..outlen) = HKDF-SHA256(key `key_id` of kr, salt, info), so
 * a per-object key can be made without the ring's key leaving this module
 * (codec/ seals stored objects this way).  QB_ERR_NOT_FOUND naming the id
 * when the ring has no such key; QB_ERR_INTERNAL if OpenSSL fails. */
enum qb_err seal_keyring_derive(const struct seal_keyring *kr, const char *key_id,
                                const unsigned char *salt, size_t saltlen, const char *info,
                                unsigned char *out, size_t outlen, char *err,
                                size_t errlen) QB_MUSTCHECK;

/* Fills key with SEAL_KEY_LEN random bytes from the OS. */
enum qb_err seal_key_generate(unsigned char key[SEAL_KEY_LEN], char *err,
                              size_t errlen) QB_MUSTCHECK;

/* Base64 text of a key; caller frees (wipe it first: it is a key). */
char *seal_key_to_base64(const unsigned char key[SEAL_KEY_LEN]);

/* True when text has the sealed form's version prefix. */
bool seal_is_sealed(const char *text);

/* Seals plain under the ring's current key with context as associated
 * data.  *out: the sealed text, caller frees.  QB_ERR_INVALID for an empty
 * ring. */
enum qb_err seal_seal(const struct seal_keyring *kr, const char *context, const char *plain,
                      char **out, char *err, size_t errlen) QB_MUSTCHECK;

/* Opens sealed text made with the same context.  *out: the plaintext,
 * caller wipes and frees.  *stale (may be NULL): sealed with a key of the
 * ring other than the current one.  QB_ERR_NOT_FOUND when no key of the
 * ring has the value's key id; QB_ERR_INVALID when the text is malformed,
 * truncated, altered or made for another context. */
enum qb_err seal_open(const struct seal_keyring *kr, const char *context, const char *sealed,
                      char **out, bool *stale, char *err, size_t errlen) QB_MUSTCHECK;

/* Overwrites a NUL-terminated secret with zeros and frees it.  NULL is a
 * no-op. */
void seal_wipe_free(char *secret);

#endif /* QB_SEAL_H */
