/* SPDX-License-Identifier: Apache-2.0
 *
 * api_metrics.c -- the /metrics families about runs, restores, the queue,
 * what each destination holds and what the prober reaches.  Every value
 * is read at scrape time from its source of truth: the runs table (through
 * the fingerprint-cached counts of store_run_summary.h, so a scrape costs
 * the same whatever the number of runs), the snapshots table
 * (store_totals.h) and the prober's last round.  Labels are plan,
 * destination and instance names (created by an admin) and fixed states.
 */
#include "api/api.h"
#include "api/app.h"
#include "metrics.h"
#include "store/store_run_summary.h"
#include "store/store_totals.h"

#include <stdio.h>
#include <string.h>

/* The terminal states a restore can end in: always exposed (0 included),
 * so increase() has a series from the first scrape. */
static const char *const restore_outcomes[] = {"succeeded", "failed", "partial", "cancelled"};

static bool is_kind(const struct store_run_count *c, const char *kind)
{
    return strcmp(c->kind, kind) == 0;
}

/* One histogram summed over rows [from, to) of v. */
struct hist {
    uint64_t le[STORE_RUN_NDURATION > STORE_RUN_NBYTES ? STORE_RUN_NDURATION : STORE_RUN_NBYTES];
    uint64_t count;
    double sum;
};

static void add_duration(struct hist *h, const struct store_run_count *c)
{
    for (size_t b = 0; b < STORE_RUN_NDURATION; b++)
        h->le[b] += (uint64_t)c->duration_le[b];
    h->count += (uint64_t)c->timed;
    h->sum += (double)c->duration_sum;
}

static bool render_plan_histograms(struct buf *out, const struct store_run_count *v, size_t n,
                                   bool bytes)
{
    enum metric_family f = bytes ? METRIC_RUN_BYTES : METRIC_RUN_DURATION;
    bool ok = metrics_head(out, f);
    /* Rows come ordered by plan, then kind: one plan's backup rows are
     * contiguous. */
    for (size_t i = 0; ok && i < n;) {
        if (!is_kind(&v[i], "backup")) {
            i++;
            continue;
        }
        struct hist h = {0};
        size_t j = i;
        for (; j < n && is_kind(&v[j], "backup") && strcmp(v[j].plan, v[i].plan) == 0; j++) {
            if (!bytes) {
                add_duration(&h, &v[j]);
            } else if (strcmp(v[j].state, "succeeded") == 0) {
                for (size_t b = 0; b < STORE_RUN_NBYTES; b++)
                    h.le[b] += (uint64_t)v[j].bytes_le[b];
                h.count += (uint64_t)v[j].runs;
                h.sum += (double)v[j].bytes;
            }
        }
        char labels[300];
        snprintf(labels, sizeof labels, "plan=\"%s\"", v[i].plan);
        ok = metrics_histogram(out, f, labels,
                               bytes ? store_run_bytes_bounds : store_run_duration_bounds, h.le,
                               bytes ? STORE_RUN_NBYTES : STORE_RUN_NDURATION, h.count, h.sum);
        i = j;
    }
    return ok;
}

static bool render_restores(struct buf *out, const struct store_run_count *v, size_t n)
{
    bool ok = metrics_head(out, METRIC_RESTORES);
    for (size_t k = 0; ok && k < QB_ARRAY_LEN(restore_outcomes); k++) {
        long long runs = 0;
        for (size_t i = 0; i < n; i++)
            if (is_kind(&v[i], "restore") && strcmp(v[i].state, restore_outcomes[k]) == 0)
                runs += v[i].runs;
        ok = metrics_sample(out, METRIC_RESTORES, "{outcome=\"%s\"} %lld\n", restore_outcomes[k],
                            runs);
    }
    struct hist h = {0};
    for (size_t i = 0; i < n; i++)
        if (is_kind(&v[i], "restore"))
            add_duration(&h, &v[i]);
    return ok && metrics_head(out, METRIC_RESTORE_DURATION) &&
           metrics_histogram(out, METRIC_RESTORE_DURATION, "", store_run_duration_bounds, h.le,
                             STORE_RUN_NDURATION, h.count, h.sum);
}

/* Queued and running runs, by kind. */
static bool render_queue(struct buf *out, const struct store_run_count *v, size_t n)
{
    static const char *const kinds[] = {"backup", "restore"};
    static const enum metric_family fams[] = {METRIC_RUNS_QUEUED, METRIC_RUNS_RUNNING};
    static const char *const states[] = {"queued", "running"};
    bool ok = true;
    for (size_t s = 0; ok && s < QB_ARRAY_LEN(fams); s++) {
        ok = metrics_head(out, fams[s]);
        for (size_t k = 0; ok && k < QB_ARRAY_LEN(kinds); k++) {
            long long runs = 0;
            for (size_t i = 0; i < n; i++)
                if (is_kind(&v[i], kinds[k]) && strcmp(v[i].state, states[s]) == 0)
                    runs += v[i].runs;
            ok = metrics_sample(out, fams[s], "{kind=\"%s\"} %lld\n", kinds[k], runs);
        }
    }
    return ok;
}

bool api_metrics_runs(struct buf *out, const struct store_run_count *v, size_t n)
{
    bool ok = metrics_head(out, METRIC_RUNS);
    for (size_t i = 0; ok && i < n; i++)
        if (is_kind(&v[i], "backup"))
            ok = metrics_sample(out, METRIC_RUNS, "{plan=\"%s\",outcome=\"%s\"} %lld\n", v[i].plan,
                                v[i].state, (long long)v[i].runs);
    ok = ok && metrics_head(out, METRIC_BACKUP_BYTES);
    for (size_t i = 0; ok && i < n; i++)
        if (is_kind(&v[i], "backup") && strcmp(v[i].state, "succeeded") == 0)
            ok = metrics_sample(out, METRIC_BACKUP_BYTES, "{plan=\"%s\"} %lld\n", v[i].plan,
                                (long long)v[i].bytes);
    return ok && render_plan_histograms(out, v, n, false) &&
           render_plan_histograms(out, v, n, true) && render_restores(out, v, n) &&
           render_queue(out, v, n);
}

/* Every destination gets all three states, zeros included, so an alert on
 * state="failed" has a series to watch before the first failure. */
static bool render_copies(struct buf *out, struct store *store,
                          const struct store_destination_total *dest, size_t ndest)
{
    static const char *const states[] = {"pending", "copying", "failed"};
    char err[QB_ERRBUF_SIZE];
    struct store_copy_total *c = NULL;
    size_t n = 0;
    if (store_copy_totals(store, &c, &n, err, sizeof err) != QB_OK)
        return buf_appends(out, "# copy totals unavailable\n");
    bool ok = metrics_head(out, METRIC_COPIES_UNFINISHED);
    for (size_t i = 0; ok && i < ndest; i++)
        for (size_t k = 0; ok && k < QB_ARRAY_LEN(states); k++) {
            long long copies = 0;
            for (size_t j = 0; j < n; j++)
                if (strcmp(c[j].destination, dest[i].destination) == 0 &&
                    strcmp(c[j].state, states[k]) == 0)
                    copies = (long long)c[j].copies;
            ok = metrics_sample(out, METRIC_COPIES_UNFINISHED,
                                "{destination=\"%s\",state=\"%s\"} %lld\n", dest[i].destination,
                                states[k], copies);
        }
    store_copy_totals_free(c, n);
    return ok;
}

bool api_metrics_storage(struct buf *out, void *ctx)
{
    struct app *app = ctx;
    char err[QB_ERRBUF_SIZE];
    struct store_destination_total *t = NULL;
    size_t n = 0;
    bool ok = true;
    if (store_destination_totals(app->store, &t, &n, err, sizeof err) == QB_OK) {
        static const enum metric_family fams[] = {METRIC_DEST_SNAPSHOTS, METRIC_DEST_BYTES,
                                                  METRIC_DEST_VERIFY_FAILED};
        for (size_t k = 0; ok && k < QB_ARRAY_LEN(fams); k++) {
            ok = metrics_head(out, fams[k]);
            for (size_t i = 0; ok && i < n; i++) {
                int64_t v = k == 0 ? t[i].snapshots : k == 1 ? t[i].bytes : t[i].verify_failed;
                ok = metrics_sample(out, fams[k], "{destination=\"%s\"} %lld\n", t[i].destination,
                                    (long long)v);
            }
        }
        ok = ok && render_copies(out, app->store, t, n);
        store_destination_totals_free(t, n);
    } else {
        ok = buf_appends(out, "# destination totals unavailable\n");
    }
    /* The prober runs while the server serves (main.c); tests may render
     * without one. */
    return ok && (!app->prober || prober_metrics(app->prober, out));
}
