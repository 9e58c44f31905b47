/* SPDX-License-Identifier: Apache-2.0
 *
 * copies.h -- second copies of snapshots (3-2-1): after a backup, each
 * catalogued object is copied, with its manifest, to every copy
 * destination of its plan (store/store_copies.h records each location and
 * its state); a failed copy is tried again by the next run of the plan;
 * each copy destination applies its own retention; deleting a snapshot
 * deletes every copy; a restore or a download reads the first healthy
 * location.  docs/internals/copies.md tells the whole story.
 *
 * THREADS: every function runs on the calling thread (an engine worker, or
 * an HTTP task) and opens its own destinations.
 */
#ifndef QB_COPIES_H
#define QB_COPIES_H

#include "common.h"
#include "storage/storage.h"
#include "store/store.h"
#include "store/store_plans.h"
#include "store/store_snapshots.h"

#include <cjson/cJSON.h>

struct job;

/* How many runs try one copy before it is left failed for good (a person
 * then looks at last_error; a rescan or the next change of the plan is the
 * way on). */
#define COPIES_MAX_ATTEMPTS 10

/* After snapshot_id (a single object, or a backup set: every shard
 * object) was catalogued in primary: records a pending copy per copy
 * destination of plan and makes them now.
 * Adds "copies": [{"destination", "state", "error"?}] to result.  Never
 * fails the backup: a copy that fails stays failed, for the next run. */
void copies_after_backup(struct job *j, const struct store_plan *plan, struct storage *primary,
                         int64_t snapshot_id, cJSON *result);

/* Makes the plan's copies still unfinished from earlier runs (failed, or
 * interrupted by a crash), COPIES_MAX_ATTEMPTS tries each.  Returns how
 * many are now stored; failures are logged and recorded on the copy. */
int copies_retry_unfinished(struct job *j, const struct store_plan *plan);

/* Applies each copy destination's retention to its copies of one target
 * (plan, collection; NULL: full instance): deletes the copy objects and
 * rows it drops.  *deleted (may be NULL) counts them. */
enum qb_err copies_apply_retention(struct store *store, const struct store_plan *plan,
                                   const char *collection, int *deleted, char *err,
                                   size_t errlen) QB_MUSTCHECK;

/* Deletes the objects (every shard object of a set) and manifests of
 * every copy of snapshot s; the
 * rows go with the snapshot row (ON DELETE CASCADE).  Stops at the first
 * failure. */
enum qb_err copies_delete_objects(struct store *store, const struct store_snapshot *s, char *err,
                                  size_t errlen) QB_MUSTCHECK;

/* Opens the first healthy location of snapshot s: the primary, then each
 * stored copy in order.  Healthy: the object (every shard object of a
 * backup set, and its manifest) is there with the catalogued size and the
 * recorded SHA-256.  A primary whose last verification failed comes after
 * the healthy copies (a HEAD cannot see an altered byte under an intact
 * checksum).  A set is read from one location whole.  [out] *st (caller
 * closes), *key (caller frees).  result (may be NULL) receives "source":
 * {"destination", "copy", "primary_error"?} when a copy was chosen.
 * Fails with the primary's error when no location is healthy. */
enum qb_err copies_open_source(struct store *store, const struct store_snapshot *s,
                               struct storage **st, char **key, cJSON *result, char *err,
                               size_t errlen) QB_MUSTCHECK;

/* Where each shard object of a backup set is read when no single location
 * holds the set whole (copies_open_source failed): per shard, the first
 * location holding that object as catalogued, in copies_open_source's
 * order (the primary, the stored copies, a primary whose last
 * verification failed last).  A restore then needs every shard in some
 * location, not the whole set in one.  Opaque; owns its destinations. */
struct copies_set_sources;

/* Builds the map for backup set s before anything is restored; fails
 * naming the first shard no location holds (QB_ERR_NOT_FOUND or
 * QB_ERR_IO).  why: what was wrong with the whole set in the primary (for
 * the result).  result (may be NULL) receives "source": {"destination"
 * (the first copy used), "copy": true, "primary_error": why, "shards":
 * {"<shard id>": "<destination>"}}.  [out] *out (copies_set_sources_close). */
enum qb_err copies_open_set_sources(struct store *store, const struct store_snapshot *s,
                                    const char *why, struct copies_set_sources **out, cJSON *result,
                                    char *err, size_t errlen) QB_MUSTCHECK;

/* The location to read the shard object key (as the set records it)
 * from; NULL for a key that is not one of the set's.  Borrowed. */
struct storage *copies_set_source_for(const struct copies_set_sources *src, const char *key);

/* Closes every destination the map opened; NULL is fine. */
void copies_set_sources_close(struct copies_set_sources *src);

/* Verifies every stored copy of s as its primary is verified
 * (snapshot_judge: size, SHA-256, decoding), in its own destination, and
 * records each outcome on the copy (store_set_copies.h): verified_at, or
 * failed with the reason (the next run of the plan makes it again).  The
 * snapshot's own row is not touched.  Returns how many copies failed;
 * *read (may be NULL) receives how many were read (the stored ones).
 * Blocking I/O: call from a task or background thread. */
int copies_verify(struct store *store, const struct store_snapshot *s, int *read);

/* The copies of snapshot_id as the API shows them: [{"destination",
 * "state", "verified_at", "error"}] (a new array, caller owns it). */
cJSON *copies_json(struct store *store, int64_t snapshot_id);

#endif /* QB_COPIES_H */
