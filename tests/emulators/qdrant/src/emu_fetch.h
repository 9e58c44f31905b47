/* SPDX-License-Identifier: Apache-2.0 */
/* emu_fetch.h -- turns the `location` of a recovery request into a local
 * file, with Qdrant's rules and messages (CONTRACT.md §1, §5): http(s) via
 * libcurl (api_key sent as header `api-key`; 403 when URL recovery is
 * disabled), file:// only absolute and inside the snapshots directory
 * (route 5), a bare snapshot name in the shard's snapshot directory
 * (route 16, where file:// is refused). */
#ifndef EMU_FETCH_H
#define EMU_FETCH_H

#include <stddef.h>

#include "emu_common.h"

/* Resolves loc to a file path.  shard_dir non-NULL selects route 16's
 * rules.  [out] *is_temp: path is a download the caller unlinks. */
int emu_fetch(const char *loc, const char *api_key, const char *shard_dir, char *path, size_t size,
              int *is_temp, struct emu_status *st) EMU_MUSTCHECK;

/* 1 when loc is a bare name (route 16), not a URL. */
int emu_fetch_is_name(const char *loc);

#endif
