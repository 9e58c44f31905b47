/* SPDX-License-Identifier: Apache-2.0
 *
 * manifest.h -- the manifest format: "<key>.manifest.json", written next
 * to every stored snapshot object (and every backup set) so that a
 * catalogue can be rebuilt from the destination alone (rescan.h).  Owns
 * the manifest's name, its fields, its version, and both directions:
 * encoding (the backup pipeline) and parsing with validation (rescan).
 * Nothing else spells a manifest key or a manifest member.
 *
 * FORMAT (version 1; docs/internals/manifest.md has the table)
 * A JSON object, pretty-printed by cJSON:
 *   format           "qbackup-manifest-v1" (required; the version)
 *   plan             plan name, or null for plan-less snapshots (safety
 *                    snapshots), so a rescan never links them to a plan
 *   instance         instance name (required)
 *   kind             "collection", "full" or "shard" (required)
 *   layout           absent or "snapshot": one object at key; "shards": a
 *                    backup set, key is a prefix and "set" lists the shards
 *   collection       required except for kind full, which has none
 *   qdrant_snapshot  Qdrant's snapshot name (required; a set: the collection)
 *   qdrant_version   optional
 *   key              the object's storage key: the manifest's own key
 *                    minus ".manifest.json" (required)
 *   size             bytes, integer in [0, 2^53] (a set: all shards)
 *   sha256           64 hex digits of the object (required unless a set)
 *   qdrant_checksum  optional; 64 hex digits, equal to sha256
 *   points_count     optional integer >= 0
 *   shard_id         optional integer >= 0; never in a set
 *   created_at       RFC 3339 time (required)
 *   run_id, qbackup_version   written for people; not read
 *   set              a set's shards and layout (rescan_set.h checks it)
 * Version 2 ("qbackup-manifest-v2") is written for an object stored with a
 * codec other than "none" (codec/codec.h) and adds:
 *   codec            "zstd", "aes256gcm" or "zstd+aes256gcm" (required)
 *   raw_size         bytes of the archive Qdrant made (required)
 *   raw_sha256       64 hex digits of that archive (required); in v2
 *                    qdrant_checksum equals raw_sha256, and size / sha256
 *                    stay those of the stored object
 *   key_id           8 hex digits, the key that encrypted it (required
 *                    when encrypted, absent otherwise)
 * A backup set whose shards were stored with a codec has a version-2
 * manifest with "codec" and "key_id" only; each shard of "set" records its
 * own codec, raw_size, raw_sha256 and key_id.
 * A raw object keeps version 1, so older qbackupd read it as before; an
 * encoded one takes version 2 because a version-1 reader ignoring "codec"
 * would catalogue compressed or encrypted bytes as an archive and later
 * hand them to Qdrant: it refuses v2 as too new instead.
 * Readers ignore members they do not know, so a writer may add optional
 * ones within a version.  A change that an old reader would misread takes
 * a new version, "qbackup-manifest-v2"; a reader refuses versions it does
 * not know, and says when the manifest is newer than itself.
 *
 * Pure functions: no I/O except manifest_write (one storage_put), no
 * state; any thread.
 */
#ifndef QB_MANIFEST_H
#define QB_MANIFEST_H

#include "common.h"
#include "storage/storage.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#define MANIFEST_SUFFIX        ".manifest.json"
#define MANIFEST_FORMAT_PREFIX "qbackup-manifest-v"
#define MANIFEST_VERSION       2
#define MANIFEST_FORMAT        "qbackup-manifest-v1" /* raw objects and sets */
#define MANIFEST_FORMAT_V2     "qbackup-manifest-v2" /* objects with a codec */

/* What a manifest says.  For manifest_encode the caller fills it (strings
 * borrowed); manifest_parse fills it with strings borrowed from its own
 * parsed tree (freed by manifest_free). */
struct manifest {
    const char *plan; /* NULL: none (written as null; parsed "" too) */
    const char *instance;
    const char *kind;       /* "collection", "full" or "shard" */
    const char *collection; /* NULL for full */
    const char *qdrant_snapshot;
    const char *qdrant_version;  /* or NULL */
    const char *qdrant_checksum; /* or NULL; parsed: lower-case, in checksum[] */
    const char *key;             /* the object's storage key */
    bool set;                    /* layout "shards": a backup set (key is a prefix) */
    int64_t shard_id;            /* -1: none */
    int64_t size;
    int64_t points_count; /* -1: absent */
    int64_t created_at;   /* Unix seconds */
    int64_t run_id;       /* written only */
    char sha256[65];      /* lower-case; unused for a set when encoding */
    char checksum[65];    /* parse's storage for qdrant_checksum */
    /* v2: the object's codec; NULL or "none" is a raw archive (v1, and
     * then raw_size / raw_sha256 are size / sha256). */
    const char *codec;
    int64_t raw_size;    /* v2 */
    char raw_sha256[65]; /* v2, lower-case */
    const char *key_id;  /* v2 encrypted: 8 hex digits; else NULL */
    cJSON *tree;         /* parse: the document the strings point into */
};

/* Whether mf describes an object stored with a codec (a v2 manifest). */
bool manifest_coded(const struct manifest *mf);

/* The manifest's key for object key: "<key>.manifest.json".  Caller frees. */
char *manifest_key(const char *object_key);

/* Whether key is a manifest's (ends in ".manifest.json"). */
bool manifest_is_key(const char *key);

/* The object key a manifest key names, or NULL when manifest_key does not
 * end in ".manifest.json".  Caller frees. */
char *manifest_object_key(const char *manifest_key);

/* Encodes mf (and, for a set, set: the "set" member, borrowed and copied)
 * as the manifest text.  Caller frees *out with free(). */
enum qb_err manifest_encode(const struct manifest *mf, const cJSON *set, char **out, char *err,
                            size_t errlen) QB_MUSTCHECK;

/* Encodes mf and stores it at manifest_key(mf->key) in st; sha (may be
 * NULL) receives the SHA-256 of the bytes stored (a set's row records
 * it).  Errors: those of storage_put, QB_ERR_INTERNAL if encoding fails. */
enum qb_err manifest_write(struct storage *st, const struct manifest *mf, const cJSON *set,
                           char sha[65], char *err, size_t errlen) QB_MUSTCHECK;

/* Parses and validates len bytes of text as the manifest of object key
 * (depth at most MANIFEST_MAX_DEPTH).  On success fills *mf, which owns
 * the parsed tree: free it with manifest_free.  The checks mirror what
 * manifest_encode writes and the snapshots table's CHECK constraints, so
 * a manifest that passes always makes an insertable row; a set's "set"
 * member is not checked here (rescan_set_parse does that).
 * Errors (reason says which member and why, for a person to read):
 * QB_ERR_INVALID malformed (not JSON, not an object, a member missing or
 * wrong, another key); QB_ERR_TOO_NEW a qbackup manifest of a later
 * version than MANIFEST_VERSION. */
enum qb_err manifest_parse(const char *text, size_t len, const char *key, struct manifest *mf,
                           char *reason, size_t reasonlen) QB_MUSTCHECK;

/* Frees what manifest_parse left in mf.  NULL is a no-op. */
void manifest_free(struct manifest *mf);

/* A snapshot's manifest is flat; a set's holds the collection's
 * configuration (set.config.vectors.<name>.quantization_config.scalar is
 * 7 levels) and payload schema.  Room for that and future nesting, while
 * still bounding the parser's recursion. */
#define MANIFEST_MAX_DEPTH 16

#endif /* QB_MANIFEST_H */
