/* SPDX-License-Identifier: Apache-2.0 */
/* emu_meta.h -- the cluster's shared state, qdrant-emu's stand-in for
 * Qdrant's Raft consensus: registered peers, collections (config, shards,
 * replicas and their states, shard keys, payload indexes), aliases and shard
 * transfers.  It lives in META/cluster.json, where META is --cluster-dir (one
 * directory shared by every peer process) or, on a single node, the data
 * directory.  Changes are read-modify-write cycles under
 * flock(META/cluster.lock); the file is replaced by an atomic rename, so a
 * reader without the lock always sees one whole version, and a reader
 * re-reads it only when the file changed (inode, size, mtime).
 *
 * The document (peer ids are decimal strings here, because cJSON keeps
 * numbers as doubles and ids go above 2^53):
 *
 *   {"version":N, "epoch":E,                       E: bumped by /debug/reset
 *    "peers":[{"id":"…","uri":"http://h:6335/","url":"http://h:6333"}],
 *    "collections":{"c":{"uuid":"…","config":{…config.json…},
 *        "payload_schema":{"field":<PayloadFieldSchema>},
 *        "shards":[{"id":0,"key":null|"k"|7,
 *                   "replicas":[{"peer":"…","state":"Active",
 *                                "heal_at":ms?,"heal_from":"…"?}]}]}},
 *    "aliases":{"alias":"c"},
 *    "transfers":[{"collection":"c","shard_id":0,"from":"…","to":"…",
 *                  "sync":true,"method":"wal_delta","heal":true?}]}
 *
 * Peers are listed in registration order; the first is the leader.  A
 * replica with heal_at is healed (emu_sync.c) once that wall-clock time
 * (ms) has passed, like Qdrant's automatic recovery of Dead replicas.
 *
 * THREAD SAFETY: all functions may be called from any thread; a process
 * mutex guards the cache and serialises updates within the process, the
 * file lock serialises them between processes. */
#ifndef EMU_META_H
#define EMU_META_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "emu_common.h"

/* Sets the paths (emu_cfg()->meta_dir) and creates an empty state when there
 * is none.  Main thread, before any other call. */
int emu_meta_init(void) EMU_MUSTCHECK;

/* Registers this peer (id, p2p uri, REST url), keeping its place when it is
 * known already.  Called once the HTTP port is bound. */
int emu_meta_register(void) EMU_MUSTCHECK;

/* A deep copy of the current state, re-read when the file changed; never
 * NULL.  Caller frees with cJSON_Delete. */
cJSON *emu_meta_get(void);

/* The current state's version (re-read when the file changed). */
uint64_t emu_meta_version(void);

/* Runs fn on a fresh copy of the state under the cluster lock.  fn returns 0
 * to commit its changes (written only when something changed) or -1 with st
 * to abandon them; that is also what emu_meta_update returns. */
typedef int (*emu_meta_fn)(cJSON *state, void *arg, struct emu_status *st);
int emu_meta_update(emu_meta_fn fn, void *arg, struct emu_status *st) EMU_MUSTCHECK;

/* Wall-clock milliseconds (shared by every peer process on the machine). */
int64_t emu_wall_ms(void);

#endif
