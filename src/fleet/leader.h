/* SPDX-License-Identifier: Apache-2.0
 *
 * leader.h -- which qbackupd of a fleet is the leader: the one that fires
 * schedules and runs retention and the janitor (issue 16 item 3;
 * docs/internals/fleet.md).  Leadership is a PostgreSQL session-level
 * advisory lock (pg_try_advisory_lock) held on a connection of its own:
 * the server drops the lock with the session, so an instance that dies, or
 * whose connection dies, stops being leader without anyone's help.
 *
 * DESIGN
 * leader_poll() is the whole protocol, called by its owner (the scheduler
 * loop) once per tick:
 *   - not leader: (re)connect if needed, then try the lock; won -> leader.
 *   - leader: one round trip that asks the server whether this session
 *     still holds the lock (pg_locks, by pg_backend_pid()).  An error, a
 *     closed connection, a missing lock or no answer within the timeout
 *     ends leadership AT ONCE: the connection is closed (so the server
 *     frees the lock if it still has it) and the poll says "not leader".
 * Every round trip is bounded by the timeout on the client's side (an
 * asynchronous query waited for with poll()), not by a server setting
 * such as statement_timeout: a network that silently drops packets makes
 * the server unable to answer at all, and a blocking PQexec would then
 * wait for TCP to give up (minutes).  TCP keepalives and tcp_user_timeout bound what
 * the kernel keeps of such a connection.
 *
 * What leadership does NOT guarantee: between two polls the lock may have
 * passed to another instance (this one's session was terminated a moment
 * after the last poll).  A leader therefore never relies on being alone
 * for correctness: every fire carries a unique key in the catalogue
 * (runs_plan_slot), so a second fire of the same slot fails; leadership
 * only keeps the fleet from doing the work N times.  The lock also needs
 * a real session: through a transaction-pooling proxy (PgBouncer's
 * transaction mode) session locks are meaningless, which the aliveness
 * check notices (the lock is not on its backend) as a lost leadership
 * every tick.
 *
 * THREAD SAFETY
 * One owner thread calls leader_poll() and leader_destroy(); the
 * connection is touched by no one else.  leader_info() may be called from
 * any thread (the /v1/status handler): it copies a snapshot of the state
 * kept under the leader's own mutex, which guards nothing else and is
 * held only for the copy.
 */
#ifndef QB_FLEET_LEADER_H
#define QB_FLEET_LEADER_H

#include "common.h"

#include <stdbool.h>
#include <stdint.h>

struct leader;

/* The advisory lock key of the scheduler's leadership: ASCII "qbkp" and
 * 1 (the first lock qbackup takes), so that it stands out in pg_locks and
 * does not collide with another application's small integers. */
#define LEADER_KEY_SCHEDULER INT64_C(0x71626b7000000001)

struct leader_config {
    const char *conninfo; /* libpq URL or key=value string; borrowed for the call */
    int64_t key;          /* the advisory lock: LEADER_KEY_SCHEDULER */
    const char *identity; /* this instance, shown to the others as application_name
                           * "qbackupd:<identity>" (<= 48 bytes kept) */
    int timeout_ms;       /* bound of a connect and of each round trip; <= 0: 5000 */
};

/* What leader_info() reports. */
struct leader_info {
    bool leader;          /* this instance holds the lock */
    int64_t since;        /* unix seconds: when it became leader, or follower */
    bool connected;       /* the lock's connection is up */
    int64_t holder_pid;   /* the server backend holding the lock; 0: nobody / unknown */
    char holder[64];      /* its application_name ("qbackupd:<identity>"); "" unknown */
    char last_error[256]; /* why the last poll failed or leadership was lost; "" */
};

/* Makes a follower with the given configuration; no connection is made
 * until the first leader_poll().  Caller frees with leader_destroy. */
enum qb_err leader_create(const struct leader_config *cfg, struct leader **out, char *err,
                          size_t errlen) QB_MUSTCHECK;

/* Releases the lock when leading (so a follower's next poll takes over),
 * closes the connection and frees l; NULL is a no-op.  Blocks at most
 * about timeout_ms.  Owner thread. */
void leader_destroy(struct leader *l);

/* One step of the protocol (DESIGN).  *is_leader says whether this
 * instance is the leader when the call returns, also when it fails: a
 * failure (unreachable server, lost connection) is QB_ERR_TRANSIENT with
 * the reason in err and *is_leader false; the next poll reconnects.
 * Blocks at most a connect (timeout_ms, but at least 2 s: libpq counts
 * connect_timeout in whole seconds) and two round trips of timeout_ms
 * each.  Owner thread. */
enum qb_err leader_poll(struct leader *l, bool *is_leader, char *err, size_t errlen) QB_MUSTCHECK;

/* Copies the current state into *out.  The holder is refreshed by each
 * poll (a follower asks the server who holds the lock).  Any thread. */
void leader_info(struct leader *l, struct leader_info *out);

#endif /* QB_FLEET_LEADER_H */
