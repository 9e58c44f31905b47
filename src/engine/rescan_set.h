/* SPDX-License-Identifier: Apache-2.0
 *
 * rescan_set.h -- the backup-set half of a rescan (rescan.h): reading the
 * "set" member of a set manifest ("layout": "shards", manifest.h, written
 * by write_manifest() in backup_set.c) into what the catalogue row needs:
 * the shard objects to check against the destination, their total size,
 * and the set JSON for snapshots.backup_set.  A function of the manifest's
 * bytes only: no I/O and no state, so any thread may call it; rescan.c
 * heads the objects and inserts the row.
 */
#ifndef QB_RESCAN_SET_H
#define QB_RESCAN_SET_H

#include "common.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* One shard object of a set, as its manifest records it. */
struct rescan_shard {
    int64_t shard_id;
    const char *key;    /* "<set key>/shard-<shard_id>.snapshot"; borrowed from the tree */
    int64_t size;       /* bytes */
    const char *sha256; /* 64 lower-case hex digits; borrowed from the tree */
};

/* A checked set manifest.  Owns everything; rescan_set_free(). */
struct rescan_set {
    cJSON *tree;                 /* the manifest, parsed by json_parse_exact */
    char *text;                  /* the "set" member as compact JSON (snapshots.backup_set) */
    struct rescan_shard *shards; /* in manifest order, shard ids distinct */
    size_t nshards;              /* at least 1 */
    int64_t size;                /* sum of the shard sizes, equal to the manifest's "size" */
};

/* Reads the set of the manifest text (len bytes, as stored; already known
 * to be one JSON object) of set key key, whose top-level "size" is size.
 *
 * backup_set becomes the "set" member's own text with the whitespace that
 * cJSON_Print put outside strings removed, i.e. byte for byte what the
 * pipeline catalogued (cJSON_PrintUnformatted of the same tree): peer ids
 * (u64, beyond a double's 53 bits) and every other number keep their
 * digits, and a shard key that is a string of digits stays a string.  The
 * shards are read from a json_parse_exact() tree for the same reason.
 *
 * Each shard must have an integer shard_id (distinct), an exact integer
 * peer_id, a string peer_url, key "<key>/shard-<shard_id>.snapshot" (so a
 * manifest cannot hand other objects to the set's retention and delete),
 * an integer size, a lower-case hex sha256, and when present a
 * qdrant_checksum equal to it and an integer points_count; "format" must
 * be 1, "config" an object, and the sizes must add up to size.
 *
 * Returns true with *set filled (caller frees with rescan_set_free), or
 * false with the reason ("set.shards[2].key: ...") and *set zeroed. */
bool rescan_set_parse(const char *text, size_t len, const char *key, int64_t size,
                      struct rescan_set *set, char *reason, size_t reasonlen) QB_MUSTCHECK;

/* Frees what set owns and zeroes it.  NULL is a no-op. */
void rescan_set_free(struct rescan_set *set);

/* True when key has the shape of a shard object of a set,
 * ".../run-<n>-set-<n>/shard-<n>.snapshot" (backup_set_collection() names
 * them so): such an object belongs to its set's row and is never
 * catalogued on its own. */
bool rescan_set_is_shard_key(const char *key);

#endif /* QB_RESCAN_SET_H */
