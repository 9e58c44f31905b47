/* SPDX-License-Identifier: Apache-2.0
 *
 * metrics.c -- the family registry, the HTTP series and the exposition
 * renderer.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Latency buckets in seconds: API calls are milliseconds.  Long polls
 * (held up to an hour by design) have their own family and buckets, so a
 * CI job waiting 20 minutes for its backup never reads as a slow API. */
static const double http_buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,  0.5,   1,    2.5,   5,    10};
static const double poll_buckets[] = {0.1, 1, 5, 10, 30, 60, 300, 900, 1800, 3600};
#define NBUCKETS       QB_ARRAY_LEN(http_buckets)
#define MAX_COLLECTORS 16
_Static_assert(QB_ARRAY_LEN(poll_buckets) <= NBUCKETS, "struct http_histogram holds both");

/* Event counters (metrics_event_add): counts since start of things that
 * leave no trace in the catalogue to count later.  A process-wide array of
 * atomics, written from any thread without a lock; the one mutable static
 * of this module. */
static _Atomic uint64_t event_counts[METRIC_FAMILIES_];
static const enum metric_family event_families[] = {METRIC_VERIFY_FAILURES,
                                                    METRIC_RETENTION_DELETED};

struct http_counter {
    const char *route; /* borrowed: route patterns are static strings */
    char method[8];
    unsigned status;
    uint64_t count;
};

struct http_histogram {
    const char *route;
    bool long_poll;             /* buckets are poll_buckets, family HTTP_LONG_POLL_DURATION */
    uint64_t buckets[NBUCKETS]; /* non-cumulative; summed at render */
    uint64_t count;
    double sum;
};

struct metrics {
    pthread_mutex_t lock; /* guards counters and histograms */
    char *version;
    int64_t start_time;
    struct http_counter *counters;
    size_t ncounters;
    struct http_histogram *histograms;
    size_t nhistograms;
    struct {
        metrics_collector_fn fn;
        void *ctx;
    } collectors[MAX_COLLECTORS];
    size_t ncollectors;
};

void metrics_destroy(struct metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m->version);
    free(m->counters);
    free(m->histograms);
    free(m);
}

static const struct {
    const char *name, *type, *help;
} families[] = {
#define QB_METRIC(id, name, type, help) [METRIC_##id] = {name, type, help},
#include "metrics.def"
#undef QB_METRIC
};

const char *metrics_family_name(enum metric_family f)
{
    QB_ASSERT(f < METRIC_FAMILIES_);
    return families[f].name;
}

const char *metrics_family_type(enum metric_family f)
{
    QB_ASSERT(f < METRIC_FAMILIES_);
    return families[f].type;
}

bool metrics_head(struct buf *out, enum metric_family f)
{
    QB_ASSERT(f < METRIC_FAMILIES_);
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
                      families[f].name, families[f].type);
}

bool metrics_sample(struct buf *out, enum metric_family f, const char *fmt, ...)
{
    QB_ASSERT(f < METRIC_FAMILIES_);
    if (!buf_appends(out, families[f].name))
        return false;
    va_list ap;
    va_start(ap, fmt);
    bool ok = buf_vprintf(out, fmt, ap);
    va_end(ap);
    return ok;
}

struct metrics *metrics_create(const char *version)
{
    struct metrics *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->version = xstrdup(version);
    m->start_time = qb_now_ms() / 1000;
    return m;
}

static struct http_counter *find_counter(struct metrics *m, const char *route, const char *method,
                                         unsigned status)
{
    for (size_t i = 0; i < m->ncounters; i++) {
        struct http_counter *c = &m->counters[i];
        if (c->status == status && strcmp(c->route, route) == 0 && strcmp(c->method, method) == 0)
            return c;
    }
    m->counters = xrealloc(m->counters, (m->ncounters + 1) * sizeof *m->counters);
    struct http_counter *c = &m->counters[m->ncounters++];
    memset(c, 0, sizeof *c);
    c->route = route;
    qb_strlcpy(c->method, method, sizeof c->method);
    c->status = status;
    return c;
}

static struct http_histogram *find_histogram(struct metrics *m, const char *route, bool long_poll)
{
    for (size_t i = 0; i < m->nhistograms; i++) {
        if (m->histograms[i].long_poll == long_poll && strcmp(m->histograms[i].route, route) == 0)
            return &m->histograms[i];
    }
    m->histograms = xrealloc(m->histograms, (m->nhistograms + 1) * sizeof *m->histograms);
    struct http_histogram *h = &m->histograms[m->nhistograms++];
    memset(h, 0, sizeof *h);
    h->route = route;
    h->long_poll = long_poll;
    return h;
}

const char *metrics_method_label(const char *method)
{
    static const char *const known[] = {"GET",    "HEAD",    "POST",  "PUT",
                                        "DELETE", "OPTIONS", "PATCH", "TRACE"};
    for (size_t i = 0; i < QB_ARRAY_LEN(known); i++) {
        if (strcmp(method, known[i]) == 0)
            return known[i];
    }
    return "other";
}

void metrics_http_observe(struct metrics *m, const char *route, const char *method, unsigned status,
                          double seconds, bool long_poll)
{
    method = metrics_method_label(method);
    /* Statuses are ours or libmicrohttpd's, but keep the label a 3-digit
     * code whatever a caller passes. */
    if (status < 100 || status > 599)
        status = 0;
    pthread_mutex_lock(&m->lock);
    find_counter(m, route, method, status)->count++;
    struct http_histogram *h = find_histogram(m, route, long_poll);
    const double *bounds = long_poll ? poll_buckets : http_buckets;
    size_t nb = long_poll ? QB_ARRAY_LEN(poll_buckets) : NBUCKETS;
    size_t b = 0;
    while (b < nb && seconds > bounds[b])
        b++;
    if (b < nb)
        h->buckets[b]++;
    h->count++;
    h->sum += seconds;
    pthread_mutex_unlock(&m->lock);
}

void metrics_add_collector(struct metrics *m, metrics_collector_fn fn, void *ctx)
{
    pthread_mutex_lock(&m->lock);
    QB_ASSERT(m->ncollectors < MAX_COLLECTORS);
    m->collectors[m->ncollectors].fn = fn;
    m->collectors[m->ncollectors].ctx = ctx;
    m->ncollectors++;
    pthread_mutex_unlock(&m->lock);
}

bool metrics_histogram(struct buf *out, enum metric_family f, const char *labels,
                       const double *bounds, const uint64_t *cumulative, size_t nbounds,
                       uint64_t count, double sum)
{
    const char *sep = *labels ? "," : "";
    bool ok = true;
    for (size_t b = 0; ok && b < nbounds; b++) {
        /* Whole bounds in full (bytes: "1048576", not %g's "1.04858e+06"),
         * so le values are exact and stable for queries. */
        char le[40];
        if (bounds[b] == (double)(long long)bounds[b])
            snprintf(le, sizeof le, "%lld", (long long)bounds[b]);
        else
            snprintf(le, sizeof le, "%g", bounds[b]);
        ok = metrics_sample(out, f, "_bucket{%s%sle=\"%s\"} %llu\n", labels, sep, le,
                            (unsigned long long)cumulative[b]);
    }
    return ok &&
           metrics_sample(out, f, "_bucket{%s%sle=\"+Inf\"} %llu\n", labels, sep,
                          (unsigned long long)count) &&
           metrics_sample(out, f, "_sum%s%s%s %.6f\n", *labels ? "{" : "", labels,
                          *labels ? "}" : "", sum) &&
           metrics_sample(out, f, "_count%s%s%s %llu\n", *labels ? "{" : "", labels,
                          *labels ? "}" : "", (unsigned long long)count);
}

static bool render_latency(struct metrics *m, struct buf *out, bool long_poll)
{
    enum metric_family f = long_poll ? METRIC_HTTP_LONG_POLL_DURATION : METRIC_HTTP_DURATION;
    const double *bounds = long_poll ? poll_buckets : http_buckets;
    size_t nb = long_poll ? QB_ARRAY_LEN(poll_buckets) : NBUCKETS;
    bool ok = metrics_head(out, f);
    for (size_t i = 0; ok && i < m->nhistograms; i++) {
        const struct http_histogram *h = &m->histograms[i];
        if (h->long_poll != long_poll)
            continue;
        uint64_t cumulative[NBUCKETS], sum = 0;
        for (size_t b = 0; b < nb; b++)
            cumulative[b] = sum += h->buckets[b];
        char labels[300];
        snprintf(labels, sizeof labels, "route=\"%s\"", h->route);
        ok = metrics_histogram(out, f, labels, bounds, cumulative, nb, h->count, h->sum);
    }
    return ok;
}

static bool render_http(struct metrics *m, struct buf *out)
{
    bool ok = metrics_head(out, METRIC_HTTP_REQUESTS);
    for (size_t i = 0; ok && i < m->ncounters; i++) {
        const struct http_counter *c = &m->counters[i];
        ok = metrics_sample(out, METRIC_HTTP_REQUESTS,
                            "{route=\"%s\",method=\"%s\",status=\"%u\"} %llu\n", c->route,
                            c->method, c->status, (unsigned long long)c->count);
    }
    return ok && render_latency(m, out, false) && render_latency(m, out, true);
}

void metrics_event_add(enum metric_family f, uint64_t n)
{
    QB_ASSERT(f < METRIC_FAMILIES_);
    event_counts[f] += n;
}

static bool render_events(struct buf *out)
{
    bool ok = true;
    for (size_t i = 0; ok && i < QB_ARRAY_LEN(event_families); i++) {
        enum metric_family f = event_families[i];
        ok = metrics_head(out, f) &&
             metrics_sample(out, f, " %llu\n", (unsigned long long)event_counts[f]);
    }
    return ok;
}

bool metrics_render(struct metrics *m, struct buf *out)
{
    bool ok = metrics_head(out, METRIC_BUILD_INFO) &&
              metrics_sample(out, METRIC_BUILD_INFO, "{version=\"%s\"} 1\n", m->version) &&
              metrics_head(out, METRIC_START_TIME) &&
              metrics_sample(out, METRIC_START_TIME, " %lld\n", (long long)m->start_time);
    /* Collectors may be added while the server already answers (the
     * server adds its own once started): copy the list under the lock,
     * call them without it. */
    struct {
        metrics_collector_fn fn;
        void *ctx;
    } collectors[MAX_COLLECTORS];
    pthread_mutex_lock(&m->lock);
    ok = ok && render_http(m, out) && render_events(out);
    size_t n = m->ncollectors;
    memcpy(collectors, m->collectors, n * sizeof collectors[0]);
    pthread_mutex_unlock(&m->lock);
    for (size_t i = 0; ok && i < n; i++)
        ok = collectors[i].fn(out, collectors[i].ctx);
    return ok;
}
