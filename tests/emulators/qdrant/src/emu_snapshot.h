/* SPDX-License-Identifier: Apache-2.0 */
/* emu_snapshot.h -- snapshot files: naming (CONTRACT.md §2), archive layout
 * (§9), SHA-256 `.checksum` sidecars, descriptions, listing and deletion for
 * collection, shard and full snapshots.  Archives are written while the
 * collection is held under its shared lock, hashing as they are written,
 * then renamed into place; the sidecar is written after the rename. */
#ifndef EMU_SNAPSHOT_H
#define EMU_SNAPSHOT_H

#include <cjson/cJSON.h>

#include "emu_common.h"

enum emu_snap_kind { EMU_SNAP_COLLECTION, EMU_SNAP_SHARD, EMU_SNAP_FULL };

/* Directory of a kind's snapshots (coll/shard ignored where unused). */
int emu_snap_dir(enum emu_snap_kind kind, const char *coll, unsigned shard, char *buf,
                 size_t size) EMU_MUSTCHECK;

/* Create; [out] *desc is the SnapshotDescription (caller frees). */
int emu_snap_create_collection(const char *coll, cJSON **desc, struct emu_status *st) EMU_MUSTCHECK;
int emu_snap_create_shard(const char *coll, unsigned shard, cJSON **desc,
                          struct emu_status *st) EMU_MUSTCHECK;
int emu_snap_create_full(cJSON **desc, struct emu_status *st) EMU_MUSTCHECK;

/* List as an array of descriptions (404 if the collection is missing). */
cJSON *emu_snap_list(enum emu_snap_kind kind, const char *coll, unsigned shard,
                     struct emu_status *st);
/* Resolves an existing snapshot's path; 404 "Snapshot N not found" else. */
int emu_snap_path(enum emu_snap_kind kind, const char *coll, unsigned shard, const char *name,
                  char *buf, size_t size, struct emu_status *st) EMU_MUSTCHECK;
/* Deletes a snapshot and its sidecar. */
int emu_snap_delete(enum emu_snap_kind kind, const char *coll, unsigned shard, const char *name,
                    struct emu_status *st) EMU_MUSTCHECK;

/* Route 15: checks the shard (404/400 come before any byte, as in Qdrant),
 * pins the collection and starts a background job writing the streamable
 * shard archive (segments as directories) into a pipe, whose read end it
 * returns: the answer starts at once and nothing is staged on disk.  name
 * receives "{c}-shard-{id}-{ts}.snapshot".  A failure while writing ends
 * the archive early, without its end-of-archive blocks, and is only
 * logged; a reader idle for EMU_STREAM_IDLE_MS fails the writer (Qdrant's
 * SNAPSHOT_STREAM_WRITE_IDLE_TIMEOUT).  -1 + st on failure. */
#define EMU_STREAM_IDLE_MS (5L * 60 * 1000)
int emu_snap_stream_shard(const char *coll, unsigned shard, char *name, size_t name_size,
                          struct emu_status *st);

/* What a shard route needs of shard `shard` of `coll`: 404 when the
 * collection or the shard does not exist, else 400 when this peer holds no
 * replica of it, in Qdrant's words for that route. */
enum emu_shard_check {
    EMU_SHARD_EXISTS,         /* routes 16 (URL), 17: recovering makes it local */
    EMU_SHARD_LOCAL,          /* route 11: "is not a local shard" */
    EMU_SHARD_LOCAL_OR_PROXY, /* 12-15, 16 by name: "is not a local or queue proxy shard" */
};
int emu_snap_check_shard(const char *coll, unsigned shard, enum emu_shard_check check,
                         struct emu_status *st) EMU_MUSTCHECK;

#endif
