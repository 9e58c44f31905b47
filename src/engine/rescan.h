/* SPDX-License-Identifier: Apache-2.0
 *
 * rescan.h -- rebuilding the catalogue from a destination: list it, read
 * the "<key>.manifest.json" that the backup pipeline writes next to every
 * stored snapshot, and catalogue each snapshot the catalogue does not know
 * yet (after the qbackupd host and its SQLite file were lost, say).  An
 * object is imported only if it exists and its size and recorded SHA-256
 * match its manifest; a backup set (one object per shard under its key)
 * only if every shard object does.  Snapshots already catalogued are never
 * duplicated, so a rescan can be repeated at will.  See
 * docs/internals/rescan.md, and docs/internals/cluster.md for sets.
 */
#ifndef QB_RESCAN_H
#define QB_RESCAN_H

#include "common.h"
#include "storage/storage.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdint.h>

/* Manifests larger than this are skipped unread: the whole manifest is held
 * in memory to parse it.  A snapshot's manifest is a few hundred bytes; a
 * backup set's lists every shard (about 500 bytes each) next to the
 * collection's configuration, so this admits sets of thousands of shards.
 * The buffer grows only as far as the largest manifest read needs. */
#define RESCAN_MANIFEST_MAX (4 * 1024 * 1024)
/* At most this many per-object notes are kept (notes_dropped counts the
 * rest), so a destination of millions of objects cannot grow the report
 * without bound. */
#define RESCAN_NOTES_MAX 1000

/* What a rescan did.  Counts are filled in even when it fails part-way
 * (the rows imported until then stay: each is a complete, checked row). */
struct rescan_report {
    int64_t objects;   /* listed keys that are not manifests (not imported by themselves) */
    int64_t manifests; /* listed keys ending in ".manifest.json" */
    int64_t imported;  /* rows added to the catalogue */
    int64_t known;     /* manifests whose snapshot was already catalogued */
    int64_t skipped;   /* manifests refused; a note gives each reason */
    /* Array of {"key", "result": "imported"|"skipped", "snapshot_id" or
     * "reason", optional "warning"}, one per imported or skipped manifest
     * (key: the snapshot object's key), in listing order; at most
     * RESCAN_NOTES_MAX.  Owned by the report: rescan_report_free(). */
    cJSON *notes;
    int64_t notes_dropped; /* notes not kept because of RESCAN_NOTES_MAX */
};

/* Frees what the report owns (notes) and zeroes it.  NULL is a no-op. */
void rescan_report_free(struct rescan_report *report);

/* Imports into the catalogue every snapshot of destination destination_id
 * that st (an open handle on that same destination, e.g. from
 * resolve_storage) holds a valid manifest for and the catalogue does not
 * list yet (by destination and storage key).
 *
 * Each imported row takes its fields from the manifest: plan_id is the
 * plan of that name when it exists and stores to this destination (else
 * NULL: retention would delete through the plan's own destination), the
 * instance likewise by name (instance_name is always the manifest's),
 * run_id NULL (runs are not rebuilt), verified_at NULL (nothing is
 * verified until someone verifies it), location as storage_write_finish()
 * reports it.  A backup set's row (manifest "layout": "shards") is as
 * backup_set_collection() catalogues it: layout "shards", backup_set the
 * manifest's "set" member (rescan_set.h), storage_key the set key K,
 * location storage_url() + "/" + K, sha256 that of the manifest's bytes,
 * size_bytes the shards' total, qdrant_name "shards", shard_id NULL.  A
 * manifest is skipped, with its reason in the notes, when it is too large,
 * not JSON, not "qbackup-manifest-v1", names another key, misses or has a
 * malformed field, or when its object (for a set: any shard object) is
 * missing or differs in size or recorded SHA-256, and so is a manifest
 * that names a set's shard object as a snapshot of its own.
 *
 * cancel (may be NULL) is polled between objects.  report (required) is
 * zeroed first; the caller frees it with rescan_report_free() whatever
 * the result.
 *
 * Errors: QB_ERR_NOT_FOUND (no destination destination_id), QB_ERR_CANCELLED,
 * the catalogue's errors (QB_ERR_BUSY, QB_ERR_IO), and the destination's
 * errors from listing or from a failing read (QB_ERR_TRANSIENT,
 * QB_ERR_REMOTE, ...; see storage.h).  A problem with one object is a
 * skip, not an error.
 *
 * THREADS: any thread, but st is used throughout (one thread at a time,
 * see storage.h) and the call takes as long as listing the destination and
 * reading every manifest: run it off the request threads. */
enum qb_err rescan_destination(struct store *store, int64_t destination_id, struct storage *st,
                               const atomic_bool *cancel, struct rescan_report *report, char *err,
                               size_t errlen) QB_MUSTCHECK;

#endif /* QB_RESCAN_H */
