/* SPDX-License-Identifier: Apache-2.0
 *
 * store_events.h -- the event log: the `events` table, a bounded ring of
 * state changes that live streams (GET /v1/events), webhooks and the
 * status page read, and the wake-up of threads waiting for a new event.
 *
 * DESIGN
 * An event is a row: a monotonic id (never reused, also once pruned), the
 * time, a type from a fixed list (api/openapi.yaml, schema Event), the
 * plan, instance and run it is about, and a JSON object of details.
 * Run and restore state changes (queued, started, succeeded, failed,
 * partial, cancelled) are written by triggers on `runs` in the same
 * transaction as the change (migrations/0013_events.sql), so no code path
 * can move a run without announcing it; a failed verification (a
 * snapshot's verify_error set) likewise.  The daemon adds the rest with
 * store_events_publish: progress, plan staleness and reachability.  The ring keeps the newest
 * `keep` rows; a trigger drops older ones as new ones arrive.
 *
 * Readers keep a cursor (the last id they handled) and ask for what came
 * after it.  A cursor below the oldest id left minus one lost events: the
 * reader is told (store_events_after's *lost) rather than served a silent
 * gap.  Waiting is in memory: every connection notes when it inserted an
 * event (an SQLite update hook), and returning it to the pool after the
 * commit bumps a sequence number and wakes store_events_wait.
 *
 * THREAD SAFETY NOTES
 * Every function may be called from any thread.  The wake-up lock is
 * private to the store and never held during an SQLite call.
 */
#ifndef QB_STORE_EVENTS_H
#define QB_STORE_EVENTS_H

#include "common.h"
#include "store/store.h"

#include <cjson/cJSON.h>

/* How many events the ring keeps unless configured (events_keep). */
#define STORE_EVENTS_KEEP_DEFAULT 10000

struct store_event {
    int64_t id;
    int64_t at; /* unix seconds */
    char *type;
    char *plan;     /* or NULL */
    char *instance; /* or NULL */
    int64_t run_id; /* 0: none */
    char *data;     /* JSON object text */
};

void store_event_list_free(struct store_event **list, size_t n);

/* Appends an event.  plan, instance and data may be NULL (data: {});
 * data is borrowed.  *id (may be NULL) receives the new id.  Waiters are
 * woken once the row is committed. */
enum qb_err store_events_publish(struct store *s, const char *type, const char *plan,
                                 const char *instance, int64_t run_id, const cJSON *data,
                                 int64_t *id, char *err, size_t errlen) QB_MUSTCHECK;

/* Events with id > after, oldest first, at most limit.  *lost is true when
 * events after `after` were pruned before they were read (after is older
 * than the ring), or when after is beyond the newest id ever written (a
 * cursor from another catalogue): the reader should start over from the
 * events returned.  Caller frees the list with store_event_list_free. */
enum qb_err store_events_after(struct store *s, int64_t after, int limit, struct store_event ***out,
                               size_t *n, bool *lost, char *err, size_t errlen) QB_MUSTCHECK;

/* The newest event id ever written (0: none yet), pruned or not. */
enum qb_err store_events_newest(struct store *s, int64_t *id, char *err,
                                size_t errlen) QB_MUSTCHECK;

/* The newest event of type about plan logged after after_at (unix
 * seconds, strictly: an event of the same second as a plan's success
 * came before it): *id receives its id, or 0 when there is none. */
enum qb_err store_events_last(struct store *s, const char *type, const char *plan, int64_t after_at,
                              int64_t *id, char *err, size_t errlen) QB_MUSTCHECK;

/* Sets how many events the ring keeps (>= 1); the excess goes at once. */
enum qb_err store_events_set_keep(struct store *s, int64_t keep, char *err,
                                  size_t errlen) QB_MUSTCHECK;

/* A counter bumped each time events were committed.  Read it before
 * reading the log, then store_events_wait(s, seq, ...) when nothing was
 * new: an event committed in between is not missed. */
uint64_t store_events_seq(struct store *s);

/* Waits up to timeout_ms for store_events_seq to move past seen; returns
 * true when it did. */
bool store_events_wait(struct store *s, uint64_t seen, long timeout_ms);

/* Calls fn(ctx) each time events were committed, on the committing
 * thread, under the wake-up lock: fn must be quick and must not call
 * into the store (the HTTP server kicks its event streams with it).  fn
 * NULL removes it; once this returns, the old fn is no longer running. */
void store_events_set_listener(struct store *s, void (*fn)(void *ctx), void *ctx);

#endif /* QB_STORE_EVENTS_H */
