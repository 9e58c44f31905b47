/* SPDX-License-Identifier: Apache-2.0 */
/* emu_store.h -- this peer's local storage: the collections the cluster
 * state (emu_meta.h) knows, each laid out like a Qdrant collection directory
 * with a folder per shard (replica_state.json + shard_config.json for every
 * shard; wal/, segments/ and clocks only for the replicas this peer hosts),
 * points kept in memory and mirrored to disk after every change, so that
 * snapshots are archives of real files (see DESIGN in emu_store.c).
 *
 * Which collections and shards exist is decided by the cluster state;
 * emu_sync.c calls emu_store_apply/emu_store_drop to follow it.  Point
 * operations here act on ONE local shard; routing a request to shards and
 * peers is emu_dist.c's job.
 *
 * THREAD SAFETY NOTES: a global mutex guards the collection list and the
 * reference counts; each collection has a rwlock guarding its shards and its
 * directory.  Order: global mutex, then a collection lock -- never the
 * reverse.  All functions may be called from any thread. */
#ifndef EMU_STORE_H
#define EMU_STORE_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "emu_common.h"
#include "emu_fill.h"

struct emu_coll; /* opaque */

/* Loads every collection under emu_cfg()->storage_dir. */
int emu_store_init(void) EMU_MUSTCHECK;
void emu_store_shutdown(void);

/* ---- lifecycle (emu_sync.c) ---- */

/* Brings local collection `name` in line with its cluster-state entry
 * `coll` (see emu_meta.h) for this peer: creates it -- or recreates it when
 * the state's uuid differs, i.e. it was deleted and created again --,
 * rewrites config.json, payload_index.json, shard_key_mapping.json and each
 * shard's replica_state.json when they differ, opens the local shards this
 * peer hosts (creating empty ones) and clears those it no longer hosts. */
int emu_store_apply(const char *name, const cJSON *coll, struct emu_status *st) EMU_MUSTCHECK;
/* Removes a local collection and its directory.  Returns 1 when it existed. */
int emu_store_drop(const char *name);
/* Local collection names, sorted.  Caller frees with cJSON_Delete. */
cJSON *emu_store_names(void);
int emu_store_exists(const char *name);

/* ---- points of one local shard (emu_points.c) ----
 * A collection that is not local answers 404 "Collection `x` doesn't
 * exist!", a shard without local data 500 "Local shard N not found". */

/* Parses PointsList or PointsBatch into a PointsList array of
 * {"id","vector","payload"} (input values, ids checked).  Caller frees. */
cJSON *emu_points_list(const cJSON *body, struct emu_status *st);
/* Checks every point's vector against the collection config (400). */
int emu_store_check_points(const char *name, const cJSON *list,
                           struct emu_status *st) EMU_MUSTCHECK;
/* Upserts a PointsList array into shard sid. */
int emu_store_upsert(const char *name, unsigned sid, const cJSON *list, uint64_t *op_id,
                     struct emu_status *st) EMU_MUSTCHECK;
/* Deletes ids (an array) from shard sid. */
int emu_store_delete_points(const char *name, unsigned sid, const cJSON *ids, uint64_t *op_id,
                            struct emu_status *st) EMU_MUSTCHECK;
/* Up to limit records with id >= offset (NULL: from the start), in id
 * order: an array of {"id","payload","vector"} (with_payload/with_vector
 * as in Qdrant's ScrollRequest).  Caller frees. */
cJSON *emu_store_scroll(const char *name, unsigned sid, const cJSON *offset, size_t limit,
                        const cJSON *with_payload, const cJSON *with_vector, struct emu_status *st);
/* Records of the given ids that shard sid holds.  Caller frees. */
cJSON *emu_store_retrieve(const char *name, unsigned sid, const cJSON *ids,
                          const cJSON *with_payload, const cJSON *with_vector,
                          struct emu_status *st);
int emu_store_count(const char *name, unsigned sid, uint64_t *count,
                    struct emu_status *st) EMU_MUSTCHECK;
/* How many points of shard sid have each payload field (object of counts
 * keyed like `fields`, an object whose keys are field paths). */
cJSON *emu_store_field_counts(const char *name, unsigned sid, const cJSON *fields,
                              struct emu_status *st);
/* Replaces shard sid's points with records exactly as another replica
 * stores them (a shard transfer). */
int emu_store_replace(const char *name, unsigned sid, const cJSON *records,
                      struct emu_status *st) EMU_MUSTCHECK;
/* Writes mb MiB of deterministic `content` (emu_fill.h; dim for
 * embeddings) into the first local shard's segment (debug fill). */
int emu_store_fill(const char *name, uint64_t mb, enum emu_fill_content content, unsigned dim,
                   struct emu_status *st) EMU_MUSTCHECK;

/* ---- point ids and requests (emu_points.c) ---- */

/* 400 for a non-null `filter`: the emulator does not evaluate filters. */
int emu_points_reject_filter(const cJSON *body, struct emu_status *st) EMU_MUSTCHECK;
/* Orders ids (u64 number or UUID string) like Qdrant: integers first. */
int emu_points_id_cmp(const cJSON *a, const cJSON *b);
/* A well-mixed hash of an id, to pick its shard. */
uint64_t emu_points_id_hash(const cJSON *id);
/* The id in a path (GET /points/{id}) as JSON; NULL + 400 when bad. */
cJSON *emu_points_id_from_text(const char *text, struct emu_status *st);
/* Display text of an id (decimal or UUID). */
void emu_points_id_text(const cJSON *id, char *buf, size_t size);

/* ---- snapshots and recovery ---- */

/* Pins a collection and takes its lock (shared unless exclusive) so its
 * directory can be archived.  Release with emu_store_release.  404 if missing. */
struct emu_coll *emu_store_acquire(const char *name, int exclusive, struct emu_status *st);
void emu_store_release(struct emu_coll *c);
/* Borrowed while acquired: the collection directory. */
const char *emu_coll_dir(const struct emu_coll *c);
/* 1 when shard sid has local data on this peer (acquired). */
int emu_coll_has_shard(struct emu_coll *c, unsigned sid);

/* Replaces (or creates) local shard sid with `prepared`, a shard folder in
 * storage layout (segments/<uuid>/…, wal/).  The folder is moved away. */
int emu_store_install_shard(const char *name, unsigned sid, const char *prepared,
                            struct emu_status *st) EMU_MUSTCHECK;
/* 1 when a shard folder holds data (wal/ and segments/, Qdrant's
 * check_data), not only another peer's replica state. */
int emu_store_folder_has_data(const char *shard_dir);
/* Checks that a shard folder holds loadable points (0 = fine). */
int emu_store_validate_dir(const char *dir, struct emu_status *st) EMU_MUSTCHECK;

#endif
