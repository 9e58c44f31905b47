/* SPDX-License-Identifier: Apache-2.0
 *
 * copies_internal.h -- what the modules of second copies share
 * (copies.c makes, prunes and deletes them, copies_read.c picks the
 * location a restore reads, copies_verify.c judges them): the objects
 * a snapshot is made of.  Nothing outside those files includes this.
 */
#ifndef QB_COPIES_INTERNAL_H
#define QB_COPIES_INTERNAL_H

#include "store/store_snapshots.h"

#include <cjson/cJSON.h>

/* One object of a snapshot: the object itself, or one shard object of a
 * backup set (layout "shards"), with what the catalogue recorded of it. */
struct member {
    const char *key; /* in the primary (borrowed from the snapshot) */
    int64_t size;
    const char *sha256;
    int shard_id; /* -1: the snapshot's own object */
};

/* The objects of s, manifest aside.  A set's shards come from its
 * backup_set JSON, which *set keeps alive (caller cJSON_Deletes it; NULL
 * for a single object).  Caller frees *out; 0 members: a set whose
 * catalogue entry is incomplete. */
size_t members_of(const struct store_snapshot *s, cJSON **set, struct member **out);

/* A member's key in a location whose key for the snapshot is base (a
 * set's shard objects live under the set's key in every location).
 * Caller frees. */
char *member_key(const struct store_snapshot *s, const struct member *m, const char *base);

#endif /* QB_COPIES_INTERNAL_H */
