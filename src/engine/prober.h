/* SPDX-License-Identifier: Apache-2.0
 *
 * prober.h -- a background thread that checks, every probe_interval, that
 * each Qdrant instance answers and each destination is writable, and keeps
 * the latest result for /readyz.
 *
 * Readiness is answered from these cached results rather than by probing
 * inline, so a flood of /readyz calls never turns into a flood of requests
 * against production Qdrant, and a slow Qdrant never makes /readyz slow.
 *
 * THREAD SAFETY NOTES
 * `lock` guards the result arrays and the stop flag; it is never held
 * during a network call.  prober_report may be called from any thread.
 */
#ifndef QB_PROBER_H
#define QB_PROBER_H

#include "common.h"
#include "util/buf.h"
#include "store/store.h"

#include <cjson/cJSON.h>

struct prober;

/* Starts the thread; the first round runs at once.  store is borrowed and
 * must outlive the prober.  Caller stops with prober_stop. */
enum qb_err prober_start(struct store *store, int interval_s, int timeout_s, struct prober **out,
                         char *err, size_t errlen) QB_MUSTCHECK;

/* Stops the thread (waiting for a probe in flight, at most probe_timeout),
 * joins it and frees p.  NULL is a no-op. */
void prober_stop(struct prober *p);

/* Adds "instances" and "destinations" arrays describing the latest round to
 * obj.  *all_ok is false when any instance is unreachable or any
 * destination unusable, or no round has completed yet. */
void prober_report(struct prober *p, cJSON *obj, bool *all_ok);

/* Appends the qbackup_instance_up and qbackup_destination_up families
 * (metrics.def): per instance and destination of the last round, 1 when
 * reachable / writable, 0 when not; nothing for one not checked yet.
 * Returns false if out's cap was hit.  Any thread. */
bool prober_metrics(struct prober *p, struct buf *out) QB_MUSTCHECK;

/* The instance's topology from the latest round (topology_json shape), or
 * NULL when not probed yet or unreachable.  Caller cJSON_Deletes. */
cJSON *prober_topology(struct prober *p, const char *instance);

#endif /* QB_PROBER_H */
