/* SPDX-License-Identifier: Apache-2.0
 *
 * metrics.c -- HTTP series and the exposition renderer.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Latency buckets in seconds: API calls are milliseconds; the long tail
 * covers ?wait= long polls. */
static const double http_buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,  0.5,   1,    2.5,   5,    10};
#define NBUCKETS       QB_ARRAY_LEN(http_buckets)
#define MAX_COLLECTORS 16

struct http_counter {
    const char *route; /* borrowed: route patterns are static strings */
    char method[8];
    unsigned status;
    uint64_t count;
};

struct http_histogram {
    const char *route;
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

struct metrics *metrics_create(const char *version)
{
    struct metrics *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->version = xstrdup(version);
    m->start_time = qb_now_ms() / 1000;
    return m;
}

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

static struct http_histogram *find_histogram(struct metrics *m, const char *route)
{
    for (size_t i = 0; i < m->nhistograms; i++) {
        if (strcmp(m->histograms[i].route, route) == 0)
            return &m->histograms[i];
    }
    m->histograms = xrealloc(m->histograms, (m->nhistograms + 1) * sizeof *m->histograms);
    struct http_histogram *h = &m->histograms[m->nhistograms++];
    memset(h, 0, sizeof *h);
    h->route = route;
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
                          double seconds)
{
    method = metrics_method_label(method);
    /* Statuses are ours or libmicrohttpd's, but keep the label a 3-digit
     * code whatever a caller passes. */
    if (status < 100 || status > 599)
        status = 0;
    pthread_mutex_lock(&m->lock);
    find_counter(m, route, method, status)->count++;
    struct http_histogram *h = find_histogram(m, route);
    size_t b = 0;
    while (b < NBUCKETS && seconds > http_buckets[b])
        b++;
    if (b < NBUCKETS)
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

static bool render_http(struct metrics *m, struct buf *out)
{
    bool ok = buf_appends(out, "# HELP qbackup_http_requests_total HTTP requests answered, by "
                               "route pattern, method and status.\n"
                               "# TYPE qbackup_http_requests_total counter\n");
    for (size_t i = 0; ok && i < m->ncounters; i++) {
        const struct http_counter *c = &m->counters[i];
        ok = buf_printf(out,
                        "qbackup_http_requests_total{route=\"%s\",method=\"%s\",status=\"%u\"} "
                        "%llu\n",
                        c->route, c->method, c->status, (unsigned long long)c->count);
    }
    ok = ok && buf_appends(out, "# HELP qbackup_http_request_duration_seconds Time from request "
                                "start to response, by route pattern.\n"
                                "# TYPE qbackup_http_request_duration_seconds histogram\n");
    for (size_t i = 0; ok && i < m->nhistograms; i++) {
        const struct http_histogram *h = &m->histograms[i];
        uint64_t cumulative = 0;
        for (size_t b = 0; ok && b < NBUCKETS; b++) {
            cumulative += h->buckets[b];
            ok = buf_printf(out,
                            "qbackup_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                            "%llu\n",
                            h->route, http_buckets[b], (unsigned long long)cumulative);
        }
        ok = ok &&
             buf_printf(out,
                        "qbackup_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"}"
                        " %llu\n"
                        "qbackup_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                        "qbackup_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                        h->route, (unsigned long long)h->count, h->route, h->sum, h->route,
                        (unsigned long long)h->count);
    }
    return ok;
}

bool metrics_render(struct metrics *m, struct buf *out)
{
    bool ok = buf_printf(out,
                         "# HELP qbackup_build_info Build information; the value is always 1.\n"
                         "# TYPE qbackup_build_info gauge\n"
                         "qbackup_build_info{version=\"%s\"} 1\n"
                         "# HELP qbackup_start_time_seconds Unix time qbackupd started.\n"
                         "# TYPE qbackup_start_time_seconds gauge\n"
                         "qbackup_start_time_seconds %lld\n",
                         m->version, (long long)m->start_time);
    /* Collectors may be added while the server already answers (the
     * server adds its own once started): copy the list under the lock,
     * call them without it. */
    struct {
        metrics_collector_fn fn;
        void *ctx;
    } collectors[MAX_COLLECTORS];
    pthread_mutex_lock(&m->lock);
    ok = ok && render_http(m, out);
    size_t n = m->ncollectors;
    memcpy(collectors, m->collectors, n * sizeof collectors[0]);
    pthread_mutex_unlock(&m->lock);
    for (size_t i = 0; ok && i < n; i++)
        ok = collectors[i].fn(out, collectors[i].ctx);
    return ok;
}
