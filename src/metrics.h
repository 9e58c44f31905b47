/* SPDX-License-Identifier: Apache-2.0
 *
 * metrics.h -- Prometheus text exposition for /metrics.
 *
 * Owns the registry of metric families (metrics.def: every name, type and
 * HELP text, in one place) and the HTTP request counters and latency
 * histograms.  Other modules contribute their own samples through
 * collectors called at render time, so the numbers they expose are read
 * from their source of truth (the catalogue, the connection table) instead
 * of being mirrored here; they name their families by id, never by string.
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

/* The families of metrics.def, by id: METRIC_BUILD_INFO, METRIC_RUNS, ... */
enum metric_family {
#define QB_METRIC(id, name, type, help) METRIC_##id,
#include "metrics.def"
#undef QB_METRIC
    METRIC_FAMILIES_
};

/* The family's name ("qbackup_runs_total") and type ("counter"), static. */
const char *metrics_family_name(enum metric_family f);
const char *metrics_family_type(enum metric_family f);

/* Appends the family's HELP and TYPE comment lines.  A collector calls it
 * once per family, before that family's samples (even when it has none:
 * a declared family with no sample is valid exposition text). */
bool metrics_head(struct buf *out, enum metric_family f) QB_MUSTCHECK;

/* Appends one sample: the family's name, then fmt expanded -- fmt starts
 * with the labels or a space and ends with the value and "\n", e.g.
 * metrics_sample(out, METRIC_RUNS, "{plan=\"%s\"} %lld\n", ...).  For a
 * histogram, fmt starts with the suffix ("_bucket{...").  Returns false if
 * out's cap was hit. */
bool metrics_sample(struct buf *out, enum metric_family f, const char *fmt, ...)
    QB_PRINTF(3, 4) QB_MUSTCHECK;

/* Appends exposition text to out; returns false if out's cap was hit. */
typedef bool (*metrics_collector_fn)(struct buf *out, void *ctx);

/* Caller frees with metrics_destroy. */
struct metrics *metrics_create(const char *version);
void metrics_destroy(struct metrics *m);

/* Records one finished HTTP request.  route must be a route pattern (a
 * static string) or "unmatched", never a raw path; method is reduced to
 * the standard methods or "other": label values come from fixed sets, so
 * no client can create series.  long_poll: the request was held waiting
 * for a run (?wait=); its time goes to the long-poll histogram, not
 * the latency one (it still counts in qbackup_http_requests_total). */
void metrics_http_observe(struct metrics *m, const char *route, const char *method, unsigned status,
                          double seconds, bool long_poll);

/* Adds n to an event counter of metrics.def (METRIC_VERIFY_FAILURES,
 * METRIC_RETENTION_DELETED): events since start that leave nothing in the
 * catalogue to count at scrape time.  Any thread; no lock, no allocation. */
void metrics_event_add(enum metric_family f, uint64_t n);

/* Appends the samples of one histogram series: the cumulative bucket
 * counts for bounds (nbounds of them, ascending), +Inf (= count), _sum and
 * _count.  labels is "" or label pairs without braces ("plan=\"x\"").
 * The caller wrote the family's head. */
bool metrics_histogram(struct buf *out, enum metric_family f, const char *labels,
                       const double *bounds, const uint64_t *cumulative, size_t nbounds,
                       uint64_t count, double sum) QB_MUSTCHECK;

/* The method label: one of the methods HTTP defines (GET HEAD POST PUT
 * DELETE OPTIONS PATCH TRACE) or "other", as a static string.  Anything a
 * client types would otherwise become a new series for good. */
const char *metrics_method_label(const char *method);

/* Adds a collector; at most 16.  ctx is borrowed for the metrics' life. */
void metrics_add_collector(struct metrics *m, metrics_collector_fn fn, void *ctx);

/* Renders everything into out. */
bool metrics_render(struct metrics *m, struct buf *out) QB_MUSTCHECK;

#endif /* QB_METRICS_H */
