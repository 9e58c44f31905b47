/* SPDX-License-Identifier: Apache-2.0
 *
 * store_fleet.h -- the catalogue's record of a fleet (migration 0020):
 * the `fleet_nodes` table (each qbackupd's heartbeat) and which node owns
 * each running run (`runs.owner`, `runs.heartbeat_at`).  A node beats for
 * itself and its runs; the leader adopts the runs of a node that stopped
 * beating (engine/recovery.h).  Alone on a SQLite catalogue the same rows
 * are written and simply never go stale.  docs/internals/fleet.md.
 */
#ifndef QB_STORE_FLEET_H
#define QB_STORE_FLEET_H

#include "common.h"
#include "store/store.h"

struct store_fleet_node {
    char *name;
    char *version;
    char *address; /* its public URL; NULL when not known */
    int64_t started_at;
    int64_t heartbeat_at;
};

/* A running run and its owner's last beat for it. */
struct store_fleet_run {
    int64_t id;
    char *owner;          /* node_name; NULL: claimed before fleets, or by nobody */
    int64_t heartbeat_at; /* 0: never beaten (started_at is the last sign) */
};

/* Records that node `name` is alive at now: its fleet_nodes row (created
 * with started_at, else its heartbeat, version and address updated) and
 * heartbeat_at of every run it owns that is still running.  *runs (may
 * be NULL) receives how many runs it still owns: fewer than its workers
 * run means another node adopted some (the caller stops those). */
enum qb_err store_fleet_beat(struct store *s, const char *name, const char *version,
                             const char *address, int64_t started_at, int64_t now, int *runs,
                             char *err, size_t errlen) QB_MUSTCHECK;

/* Every node that ever served this catalogue, by name.  Caller frees with
 * store_fleet_nodes_free. */
enum qb_err store_fleet_nodes(struct store *s, struct store_fleet_node ***out, size_t *n, char *err,
                              size_t errlen) QB_MUSTCHECK;
void store_fleet_nodes_free(struct store_fleet_node **list, size_t n);

/* Running runs by owner: with owner NULL, those whose owner is not
 * `except` and whose last sign of life (heartbeat_at, else started_at) is
 * before `before` (the leader's takeover); with owner set, that node's own
 * running runs and the unowned ones (a restarted node's recovery).  Oldest
 * first.  Caller frees with store_fleet_runs_free. */
enum qb_err store_fleet_runs(struct store *s, const char *owner, const char *except, int64_t before,
                             struct store_fleet_run ***out, size_t *n, char *err,
                             size_t errlen) QB_MUSTCHECK;
void store_fleet_runs_free(struct store_fleet_run **list, size_t n);

/* Makes `self` the owner of running run r->id if it is still as r says
 * (same owner, no newer beat): *adopted tells whether it was, so of two
 * nodes adopting at once, or an owner beating again in that moment, one
 * only wins. */
enum qb_err store_fleet_adopt(struct store *s, const struct store_fleet_run *r, const char *self,
                              int64_t now, bool *adopted, char *err, size_t errlen) QB_MUSTCHECK;

/* Ends the catalogue server's session pid (PostgreSQL's
 * pg_terminate_backend): a follower ends the leadership session of a
 * leader that stopped beating without dying, so its lock is freed.  *ended
 * tells whether the server ended one.  PostgreSQL only (a fleet). */
enum qb_err store_fleet_end_session(struct store *s, int64_t pid, bool *ended, char *err,
                                    size_t errlen) QB_MUSTCHECK;

/* The application_name of node's catalogue sessions (main.c names them
 * so in a fleet): "qbackupd-pool:<node>". */
#define STORE_FLEET_SESSION_PREFIX "qbackupd-pool:"

/* Ends every catalogue session of node (its pool and its leadership lock),
 * so that a node found dead, or only stopped, holds no lock or row any
 * more that the live ones wait on.  *ended: how many.  PostgreSQL only. */
enum qb_err store_fleet_end_node_sessions(struct store *s, const char *node, int64_t *ended,
                                          char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_FLEET_H */
