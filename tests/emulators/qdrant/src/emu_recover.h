/* SPDX-License-Identifier: Apache-2.0 */
/* emu_recover.h -- snapshot recovery (CONTRACT.md §4-5): from a location
 * (routes 5, 16: http(s) via libcurl, file:// inside the snapshots
 * directory, or a bare shard snapshot name) and from a multipart upload
 * (routes 6, 17).  The archive is unpacked into a temp directory, its
 * segments converted back into the storage layout, checked, and swapped in
 * for this peer's replica of each shard (created when this peer did not
 * host it, as Qdrant does); replica states then follow the priority
 * (emu_ops_recover.c). */
#ifndef EMU_RECOVER_H
#define EMU_RECOVER_H

#include "emu_http.h"
#include "emu_ops.h"

void emu_recover_location(struct emu_req *r);
void emu_recover_upload(struct emu_req *r);
void emu_recover_shard_location(struct emu_req *r);
void emu_recover_shard_upload(struct emu_req *r);

/* Restores collection `coll` from a collection archive on disk: creates it
 * from the archive's config.json when missing, then installs every shard
 * the archive holds data for as this peer's replica (others keep their
 * state) and settles replica states by prio.  startup (--snapshot): a
 * custom-sharded collection keeps the archive's shard keys.  Returns 0 or
 * -1 with st. */
int emu_recover_collection_file(const char *coll, const char *archive, enum emu_priority prio,
                                int startup, struct emu_status *st) EMU_MUSTCHECK;

#endif
