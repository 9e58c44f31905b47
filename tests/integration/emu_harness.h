/* SPDX-License-Identifier: Apache-2.0
 *
 * emu_harness.h -- starts the Qdrant emulator (qdrant-emu, see
 * tests/emulators/qdrant/README.md) on a free loopback port with a
 * temporary data directory, and drives it over plain libcurl: collection
 * set-up, points, and its debug endpoints (fill, faults, request log).
 *
 *     struct emu e;
 *     TEST_ASSERT(emu_start(&e, NULL) == 0);
 *     ... point a qdrant_client at e.url ...
 *     TEST_EXPECT_INT(emu_stop(&e), 0);   // clean exit, sanitizers included
 *     emu_cleanup(&e);
 *
 * Waiting is by polling a condition with a deadline, never a bare sleep.
 */
#ifndef QB_EMU_HARNESS_H
#define QB_EMU_HARNESS_H

#include "harness.h"

#include <stdbool.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define EMU_MAX_ARGS 32

struct emu {
    pid_t pid; /* 0 when not running */
    int port;
    char url[64];             /* "http://HOST:PORT" (127.0.0.1 unless a cluster peer) */
    char dir[256];            /* temporary directory owned by this emulator */
    char data_dir[300];       /* dir/data: the emulator's --data-dir */
    char log_path[300];       /* the emulator's stdout and stderr */
    char api_key[128];        /* sent by emu_request when non-empty */
    char *args[EMU_MAX_ARGS]; /* argv given to the emulator */
};

/* Starts qdrant-emu with a fresh temporary directory; extra_args
 * (NULL-terminated, may be NULL) are added to --port 0 --data-dir.  When
 * they hold "--api-key K", K is remembered for emu_request.  Returns 0 once
 * the emulator printed "listening on 127.0.0.1:PORT"; on failure prints its
 * log and returns -1. */
int emu_start(struct emu *e, const char *const *extra_args);

/* SIGTERM, wait (up to 60 s, then SIGKILL); returns the exit status. */
int emu_stop(struct emu *e);

/* Stops if running, removes the temporary directory, frees the args. */
void emu_cleanup(struct emu *e);

/* Prints the emulator's log to stderr (for failing tests). */
void emu_print_log(const struct emu *e);

/* Sends one request (path already escaped).  body may be NULL (JSON when
 * not).  Sends e->api_key when set.  Returns 0 when a response arrived. */
int emu_request(struct emu *e, const char *method, const char *path, const char *body,
                struct resp *r);

/* Helpers returning 0 on the expected 200, else print the answer and -1.
 * Collection names are escaped here. */
int emu_create_collection(struct emu *e, const char *name, int dim);
/* Upserts n deterministic points (ids 1..n, payload {"i":id}) with seed. */
int emu_upsert(struct emu *e, const char *name, int n, int seed);
/* All points of a collection (scroll, with payload and vectors), as a
 * canonical JSON string the caller frees; NULL on failure. */
char *emu_points(struct emu *e, const char *name);
/* True when emu_points(e, name) is want (not NULL); else prints both to
 * stderr, so a failed comparison says what differed. */
bool emu_points_equal(struct emu *e, const char *name, const char *want);
int emu_fill(struct emu *e, const char *name, unsigned mb);
/* Like emu_fill, with realistic content instead of noise: unit float32
 * vectors of dimension dim and JSON payloads (content=embeddings), which
 * compress like a real collection's segment. */
int emu_fill_embeddings(struct emu *e, const char *name, unsigned mb, unsigned dim);
/* Arms fault rule(s) given as JSON text; emu_clear_faults removes all. */
int emu_fault(struct emu *e, const char *rule_json);
int emu_clear_faults(struct emu *e);
/* The request log (the "requests" array, caller cJSON_Deletes), and
 * clearing it. */
cJSON *emu_requests(struct emu *e);
int emu_clear_requests(struct emu *e);
/* Requests in the log that could change something on e (any method but
 * GET): 0 proves a refused operation touched nothing. */
int emu_changes(struct emu *e);
/* The URL qbackupd last gave e to recover a snapshot from (a restore by
 * URL) into url; false when the log has none. */
bool emu_last_recover_url(struct emu *e, char *url, size_t size);

/* Escapes one path segment (caller frees). */
char *emu_esc(const char *s);

/* Upserts ids first..first+n-1 (vectors of the collection's size from
 * seed, payload {"i":id}), with "shard_key": shard_key when non-NULL (a
 * string key).  Through any peer of a cluster. */
int emu_upsert_range(struct emu *e, const char *name, long first, int n, int seed,
                     const char *shard_key);

/* ---------------------------------------------------------------- cluster
 *
 * A cluster is n qdrant-emu processes sharing one --cluster-dir, peer i on
 * 127.0.0.<i+1> and all on one port (Linux routes 127.0.0.0/8 to lo), so a
 * peer's p2p URI "http://127.0.0.2:6335/" maps to its REST URL by "host of
 * the p2p URI + scheme and port of the known REST URL".  Peer 0 registers
 * first and is the leader.  See tests/emulators/qdrant/README.md.
 *
 *     struct emu_cluster c;
 *     TEST_ASSERT(emu_cluster_start(&c, 3, NULL) == 0);
 *     TEST_ASSERT(emu_cluster_create_collection(&c, "products", 4, 6, 2) == 0);
 *     TEST_ASSERT(emu_upsert_range(&c.peer[1], "products", 1, 500, 7, NULL) == 0);
 *     char *all = emu_points(&c.peer[2], "products");   // same text from any peer
 *     TEST_EXPECT_INT(emu_cluster_stop(&c), 0);
 *     emu_cluster_cleanup(&c);
 */
#define EMU_CLUSTER_MAX 6

struct emu_cluster {
    int n;
    char dir[256];                               /* temp dir holding the shared --cluster-dir */
    struct emu peer[EMU_CLUSTER_MAX];            /* peer[i].url = "http://127.0.0.<i+1>:PORT" */
    unsigned long long peer_id[EMU_CLUSTER_MAX]; /* as GET /cluster reports it */
    bool one_host; /* emu_cluster_start_one_host: every peer on 127.0.0.1 */
};

/* Starts n peers on 127.0.0.1..n with one common port; extra_args go to
 * every peer.  0 when all answer GET /cluster listing n peers. */
int emu_cluster_start(struct emu_cluster *c, int n, const char *const *extra_args);
/* The same cluster with every peer on 127.0.0.1, each on a port of its
 * own, as stand-ins on one machine run: a p2p URI's host then leads to
 * peer 0's REST port, not to the peer, and a client must be given every
 * peer's REST URL (an instance's nodes). */
int emu_cluster_start_one_host(struct emu_cluster *c, int n, const char *const *extra_args);
/* SIGTERM every running peer; 0 when all exited cleanly. */
int emu_cluster_stop(struct emu_cluster *c);
/* Stops what runs and removes the temporary directory. */
void emu_cluster_cleanup(struct emu_cluster *c);
/* SIGKILL peer i (the peer is down; its data stays). */
int emu_peer_kill(struct emu_cluster *c, int i);
/* Starts peer i again: same host, port, data dir and id.  0 once it serves. */
int emu_peer_restart(struct emu_cluster *c, int i);
/* Index of the peer with that id, -1 when none. */
int emu_peer_index(const struct emu_cluster *c, unsigned long long peer_id);
/* Whether any entry of a run result's shards array names peer_id as its
 * "peer_id" (compared as text: ids above 2^53 are not exact as doubles). */
bool emu_shards_name_peer(const cJSON *shards, unsigned long long peer_id);

/* PUT /collections/{name} via peer 0 (Dot vectors of size dim) with
 * shard_number and replication_factor (<= 0: Qdrant's default); waits until
 * every running peer sees it. */
int emu_cluster_create_collection(struct emu_cluster *c, const char *name, int dim,
                                  int shard_number, int replication_factor);
/* Custom sharding: the collection, then one shard key per keys[]
 * (NULL-terminated string keys) with shards_per_key shards each. */
int emu_cluster_create_custom(struct emu_cluster *c, const char *name, int dim,
                              const char *const *keys, int shards_per_key, int replication_factor);
/* POST /debug/cluster/replica: replica state of (coll, shard, peer); a
 * state set this way is final (never healed). */
int emu_set_replica_state(struct emu_cluster *c, const char *coll, int shard_id,
                          unsigned long long peer_id, const char *state);
/* Total number of snapshot files (collection + shard, every peer) on the
 * peers' disks, for leak checks. */
int emu_cluster_snapshot_files(struct emu_cluster *c, const char *coll);
/* Waits (up to timeout_ms) until peer 0 sees no shard transfer of coll and
 * every replica Active, e.g. after a recovery healed the others. */
int emu_cluster_wait_active(struct emu_cluster *c, const char *coll, int timeout_ms);

#endif /* QB_EMU_HARNESS_H */
