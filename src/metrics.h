/* SPDX-License-Identifier: Apache-2.0
 *
 * metrics.h -- Prometheus text exposition for /metrics.
 *
 * Owns the HTTP request counters and latency histograms.  Other modules
 * contribute their own series through collectors called at render time,
 * so the numbers they expose are read from their source of truth (the
 * catalogue, the worker pool) instead of being mirrored here.
 *
 * THREAD SAFETY: one mutex guards the HTTP series and the collector list;
 * every function may be called from any thread.  Collectors are called
 * with no metrics lock held.
 */
#ifndef QB_METRICS_H
#define QB_METRICS_H

#include "common.h"
#include "util/buf.h"

struct metrics;

/* Appends exposition text to out; returns false if out's cap was hit. */
typedef bool (*metrics_collector_fn)(struct buf *out, void *ctx);

/* Caller frees with metrics_destroy. */
struct metrics *metrics_create(const char *version);
void metrics_destroy(struct metrics *m);

/* Records one finished HTTP request.  route must be a route pattern (a
 * static string) or "unmatched", never a raw path; method is reduced to
 * the standard methods or "other": label values come from fixed sets, so
 * no client can create series. */
void metrics_http_observe(struct metrics *m, const char *route, const char *method, unsigned status,
                          double seconds);

/* The method label: one of the methods HTTP defines (GET HEAD POST PUT
 * DELETE OPTIONS PATCH TRACE) or "other", as a static string.  Anything a
 * client types would otherwise become a new series for good. */
const char *metrics_method_label(const char *method);

/* Adds a collector; at most 16.  ctx is borrowed for the metrics' life. */
void metrics_add_collector(struct metrics *m, metrics_collector_fn fn, void *ctx);

/* Renders everything into out. */
bool metrics_render(struct metrics *m, struct buf *out) QB_MUSTCHECK;

#endif /* QB_METRICS_H */
