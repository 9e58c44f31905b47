/* SPDX-License-Identifier: Apache-2.0
 *
 * keyref.h -- where the keys of client-side encryption come from.  A
 * destination or plan names its key ring by reference in its
 * "encryption" member:
 *
 *     {"key_file": "/abs/path"}  or  {"key_env": "NAME"}   (exactly one)
 *     optional "read_keys": [{"key_file": ...} | {"key_env": ...}, ...]
 *     optional "cipher": "aes256gcm" (the only one; another is refused)
 *
 * A key file has the secrets key file's format (util/seal_keyfile.h:
 * base64 AES-256 keys, one per line, the first one writes); an
 * environment variable holds the same text.  "read_keys" name old keys
 * that may still decrypt (rotation).  Only the reference is stored (the
 * catalogue's plans.encryption / destinations.encryption); the keys are
 * read when a run needs them, and never appear in a message.
 */
#ifndef QB_KEYREF_H
#define QB_KEYREF_H

#include "codec/codec.h"
#include "common.h"
#include "store/store_plans.h"
#include "util/seal.h"

#include <cjson/cJSON.h>

/* The cipher of every encrypted object (codec_aead.c), as "cipher" names it. */
#define KEYREF_CIPHER "aes256gcm"

/* Checks the member v (an object, or null for none) and reads the keys it
 * names once, so a reference that cannot be read is refused when it is
 * set, not at the first run.  *text: the reference to store (caller
 * frees), NULL for null.  QB_ERR_INVALID with "<field>.<member>: why"
 * (never the key). */
enum qb_err keyref_parse(const cJSON *v, const char *field, char **text, char *err,
                         size_t errlen) QB_MUSTCHECK;

/* Adds the keys a stored reference names to ring: its writing source
 * first (in file order), then read_keys.  text NULL: nothing. */
enum qb_err keyref_load(const char *text, struct seal_keyring *ring, char *err,
                        size_t errlen) QB_MUSTCHECK;

/* The ring of a plan's objects: first's keys (the plan's reference, which
 * writes when set), then second's (its destination's).  *out: NULL when
 * both are NULL (not encrypted); else caller destroys. */
enum qb_err keyref_ring(const char *first, const char *second, struct seal_keyring **out, char *err,
                        size_t errlen) QB_MUSTCHECK;

/* How plan's new objects are stored: its compression, and the ring of
 * its (or its destination's) encryption, read now (keyref_ring).  *ring:
 * NULL when not encrypted, else the caller destroys it (spec borrows it).
 * A ring that cannot be read fails with a message saying nothing was
 * backed up: callers check this before anything on Qdrant is touched. */
enum qb_err keyref_plan_codec(const struct store_plan *plan, struct codec_spec *spec,
                              struct seal_keyring **ring, char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_KEYREF_H */
