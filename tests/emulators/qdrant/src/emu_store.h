/* SPDX-License-Identifier: Apache-2.0 */
/* emu_store.h -- the emulated Qdrant storage: collections with points, kept
 * in memory and mirrored to disk after every change, laid out like a
 * single-shard Qdrant collection so that snapshots are archives of real
 * files (see DESIGN in emu_store.c).
 *
 * THREAD SAFETY NOTES: a global mutex guards the collection list and the
 * reference counts; each collection has a rwlock guarding its points and its
 * directory.  Order: global mutex, then a collection lock -- never the
 * reverse.  All functions may be called from any thread. */
#ifndef EMU_STORE_H
#define EMU_STORE_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "emu_common.h"

struct emu_coll; /* opaque */

/* Loads every collection under emu_cfg()->storage_dir. */
int emu_store_init(void) EMU_MUSTCHECK;
void emu_store_shutdown(void);

/* Validates a collection name like Qdrant (422 on failure). */
int emu_store_check_name(const char *name, struct emu_status *st) EMU_MUSTCHECK;

/* PUT /collections/{name}: body is borrowed. */
int emu_store_create(const char *name, const cJSON *body, struct emu_status *st) EMU_MUSTCHECK;
/* Returns 1 when deleted, 0 when it did not exist. */
int emu_store_delete(const char *name);
int emu_store_exists(const char *name);
/* Caller frees with cJSON_Delete.  Sorted by name. */
cJSON *emu_store_names(void);

/* Read operations; results are new JSON the caller frees (NULL + st on error). */
cJSON *emu_store_info(const char *name, struct emu_status *st);
cJSON *emu_store_scroll(const char *name, const cJSON *body, struct emu_status *st);
cJSON *emu_store_retrieve(const char *name, const cJSON *body, struct emu_status *st);
cJSON *emu_store_get_point(const char *name, const char *id, struct emu_status *st);
int emu_store_count(const char *name, const cJSON *body, uint64_t *count,
                    struct emu_status *st) EMU_MUSTCHECK;
/* Number of points, or -1 when the collection is missing. */
long long emu_store_points_count(const char *name);

/* Write operations; *op_id receives the operation number. */
int emu_store_upsert(const char *name, const cJSON *body, uint64_t *op_id,
                     struct emu_status *st) EMU_MUSTCHECK;
int emu_store_delete_points(const char *name, const cJSON *body, uint64_t *op_id,
                            struct emu_status *st) EMU_MUSTCHECK;
/* Writes mb MiB of deterministic bytes into the segment (debug fill). */
int emu_store_fill(const char *name, uint64_t mb, struct emu_status *st) EMU_MUSTCHECK;

/* Pins a collection and takes its lock (shared unless exclusive) so its
 * directory can be archived.  Release with emu_store_release.  404 if missing. */
struct emu_coll *emu_store_acquire(const char *name, int exclusive, struct emu_status *st);
void emu_store_release(struct emu_coll *c);
/* Borrowed while acquired: collection directory and its one segment uuid. */
const char *emu_coll_dir(const struct emu_coll *c);
const char *emu_coll_segment(const struct emu_coll *c);

/* Recovery: `prepared` is a directory in collection layout (config.json,
 * 0/segments/…).  Checks it against an existing collection (400 when the
 * vectors or shard count differ), then swaps it in, replacing all data.
 * shard_only != 0 keeps the existing config and replaces only shard 0. */
int emu_store_install(const char *name, const char *prepared, int shard_only,
                      struct emu_status *st) EMU_MUSTCHECK;
/* Checks that `dir` holds loadable points (0 = fine). */
int emu_store_validate_dir(const char *dir, struct emu_status *st) EMU_MUSTCHECK;

/* Writes the shard-level metadata files (replica_state.json, …) into dir. */
int emu_store_write_shard_meta(const char *shard_dir) EMU_MUSTCHECK;

#endif
