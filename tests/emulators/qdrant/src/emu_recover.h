/* SPDX-License-Identifier: Apache-2.0 */
/* emu_recover.h -- snapshot recovery (CONTRACT.md §4-5): from a location
 * (routes 5, 16: http(s) via libcurl, file:// inside the snapshots
 * directory, or a bare shard snapshot name) and from a multipart upload
 * (routes 6, 17).  The archive is unpacked into a temp directory, its
 * segments converted back into the storage layout, checked, and swapped in
 * for the collection's (or shard's) data. */
#ifndef EMU_RECOVER_H
#define EMU_RECOVER_H

#include "emu_http.h"

void emu_recover_location(struct emu_req *r);
void emu_recover_upload(struct emu_req *r);
void emu_recover_shard_location(struct emu_req *r);
void emu_recover_shard_upload(struct emu_req *r);

/* Restores collection `coll` from a collection archive on disk (also used for
 * --snapshot at startup).  Returns 0 or -1 with st. */
int emu_recover_collection_file(const char *coll, const char *archive,
                                struct emu_status *st) EMU_MUSTCHECK;

#endif
