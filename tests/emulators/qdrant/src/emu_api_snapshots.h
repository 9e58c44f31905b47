/* SPDX-License-Identifier: Apache-2.0 */
/* emu_api_snapshots.h -- snapshot list/create/download/delete handlers for
 * collection, full and shard snapshots (CONTRACT.md §1 routes 1-4, 7-15). */
#ifndef EMU_API_SNAPSHOTS_H
#define EMU_API_SNAPSHOTS_H

#include "emu_http.h"

void emu_api_snap_list(struct emu_req *r);
void emu_api_snap_create(struct emu_req *r);
void emu_api_snap_download(struct emu_req *r);
void emu_api_snap_delete(struct emu_req *r);
void emu_api_full_list(struct emu_req *r);
void emu_api_full_create(struct emu_req *r);
void emu_api_full_download(struct emu_req *r);
void emu_api_full_delete(struct emu_req *r);
void emu_api_shard_list(struct emu_req *r);
void emu_api_shard_create(struct emu_req *r);
void emu_api_shard_download(struct emu_req *r);
void emu_api_shard_delete(struct emu_req *r);
void emu_api_shard_stream(struct emu_req *r);

/* Parses {shard_id} (params[idx]); on failure answers 404 like actix's path
 * extractor and returns -1. */
int emu_api_shard_param(struct emu_req *r, int idx, unsigned *shard) EMU_MUSTCHECK;

#endif
