/* SPDX-License-Identifier: Apache-2.0
 *
 * create_gate.h -- keeps snapshot creations of one collection on one
 * Qdrant node apart in time.
 *
 * Qdrant names a snapshot by the whole second it was made
 * (`{c}-{peer}-{YYYY-MM-DD-HH-MM-SS}.snapshot`, `{c}-shard-{id}-{ts}`,
 * `full-snapshot-{ts}`; CONTRACT §2), and a second creation of the same
 * collection in that second silently overwrites the first.  Two runs
 * backing up one collection at once (two plans, a safety snapshot during a
 * backup) then download one file under two names, and the first to finish
 * deletes the other's snapshot.  So a run holds the gate of (node,
 * collection) from before it creates its snapshot until that snapshot is
 * deleted from Qdrant again; a full snapshot, which snapshots every
 * collection, holds the whole node.  Another run of the same collection
 * waits meanwhile.  A snapshot that stays behind (its delete failed and is
 * left to the janitor, which deletes by name, or a create whose answer was
 * lost) keeps the gate closed CREATE_GATE_SPACING_MS longer, so the next
 * name is a later second, also outside a failed creation's look-back
 * (qdrant_snapshot_delete_since allows one second of rounding).  Runs one
 * after the other do not wait: the earlier snapshot is gone.
 *
 * The gate is this process's: several qbackupd of a fleet backing up one
 * collection at once are not kept apart (a run then fails on the checksum
 * or a missing file, and nothing wrong is catalogued).
 */
#ifndef QB_CREATE_GATE_H
#define QB_CREATE_GATE_H

#include "common.h"

#include <stdbool.h>
#include <stdint.h>

/* Time the gate stays closed after a run whose snapshot stayed behind. */
#define CREATE_GATE_SPACING_MS 2000

/* Called while waiting, at least every 200 ms: a failure (a cancelled
 * run) ends the wait and is returned with its message. */
typedef enum qb_err (*create_gate_check_fn)(void *ud, char *err, size_t errlen);

/* Waits until node (a Qdrant REST URL) may create a snapshot of collection
 * (NULL: the full instance), then holds the gate for it.  Every success is
 * paired with create_gate_leave(node, collection, gone) once that snapshot
 * is deleted from Qdrant, or given up. */
enum qb_err create_gate_enter(const char *node, const char *collection, create_gate_check_fn check,
                              void *ud, char *err, size_t errlen) QB_MUSTCHECK;

/* Ends the hold.  gone: the snapshot the holder created is deleted (or
 * none was made); else the next creation waits CREATE_GATE_SPACING_MS. */
void create_gate_leave(const char *node, const char *collection, bool gone);

#endif
