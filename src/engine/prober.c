/* SPDX-License-Identifier: Apache-2.0
 *
 * prober.c -- reachability checks of instances and destinations.
 * Owns its thread and the latest results.
 */
#include "engine/prober.h"
#include "metrics.h"
#include "engine/topology.h"
#include "store/store_destinations.h"
#include "store/store_events.h"
#include "store/store_instances.h"
#include "remote/qdrant_client.h"
#include "util/log.h"
#include "util/threads.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct probe_result {
    char *kind; /* instances: NULL; destinations: "local", "s3" */
    char *name;
    char *target;    /* URL or path (no secrets) */
    int ok;          /* 1 reachable/writable, 0 not, -1 not checked */
    char *detail;    /* why not, or NULL */
    char *version;   /* Qdrant version, instances only */
    cJSON *topology; /* instances: topology_json(), NULL until probed */
    int64_t checked_at;
};

static void results_free(struct probe_result *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].kind);
        free(r[i].name);
        free(r[i].target);
        free(r[i].detail);
        free(r[i].version);
        cJSON_Delete(r[i].topology);
    }
    free(r);
}

struct prober {
    struct store *store;
    int interval_s;
    int timeout_s;
    pthread_t thread;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    bool stopping;
    bool completed_round;
    struct probe_result *instances;
    size_t ninstances;
    struct probe_result *destinations;
    size_t ndestinations;
};

void prober_stop(struct prober *p)
{
    if (!p)
        return;
    threads_stop_destroy(&p->lock, &p->wake, &p->stopping, &p->thread, 1);
    results_free(p->instances, p->ninstances);
    results_free(p->destinations, p->ndestinations);
    free(p);
}

static bool stopping(struct prober *p)
{
    pthread_mutex_lock(&p->lock);
    bool s = p->stopping;
    pthread_mutex_unlock(&p->lock);
    return s;
}

/* A cluster is ready only when every peer answers: a backup needs the
 * shards of all of them.  The detail names the first that does not. */
static void probe_topology(struct prober *p, const struct store_instance *inst,
                           struct probe_result *r)
{
    char err[QB_ERRBUF_SIZE];
    struct topology *t = NULL;
    if (topology_resolve(inst, (long)p->timeout_s * 1000, &t, err, sizeof err)) {
        r->ok = 0;
        r->detail = xasprintf("topology: %s", err);
        return;
    }
    r->topology = topology_json(t);
    if (topology_check_usable(t, inst->name, err, sizeof err)) {
        r->ok = 0;
        r->detail = xstrdup(err);
    }
    topology_free(t);
}

static void probe_instance(struct prober *p, const struct store_instance *inst,
                           struct probe_result *r)
{
    char err[QB_ERRBUF_SIZE];
    struct qdrant_client *qc = NULL;
    char *version = NULL;
    /* GET / through the Qdrant client every other call uses, so the probe
     * presents the key as they do (a JWT as a Bearer token, CONTRACT §8)
     * and a refusal reads as theirs: "Qdrant answered 401: ...". */
    enum qb_err rc =
        topology_probe_client(inst, inst->url, (long)p->timeout_s * 1000, &qc, err, sizeof err);
    if (!rc)
        rc = qdrant_server_version(qc, &version, err, sizeof err);
    qdrant_client_destroy(qc);
    r->ok = rc ? 0 : 1;
    if (rc) {
        r->detail = xstrdup(err);
        return;
    }
    r->version = version;
    probe_topology(p, inst, r);
}

/* A local folder is usable when a file can be created, synced and removed
 * in it: exactly what a backup will need. */
static void probe_local(const char *path, struct probe_result *r)
{
    char *tmp = xasprintf("%s/.qbackup-probe-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        r->ok = 0;
        r->detail = xasprintf("cannot create a file in %s: %s", path, strerror(errno));
    } else {
        bool ok = write(fd, "probe\n", 6) == 6 && fsync(fd) == 0;
        int saved = errno;
        close(fd);
        unlink(tmp);
        r->ok = ok ? 1 : 0;
        if (!ok)
            r->detail = xasprintf("cannot write to %s: %s", path, strerror(saved));
    }
    free(tmp);
}

static void probe_destination(const struct store_destination *d, struct probe_result *r)
{
    r->kind = xstrdup(d->kind);
    cJSON *settings = cJSON_Parse(d->settings);
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(settings, "path");
    if (strcmp(d->kind, "local") == 0 && cJSON_IsString(path)) {
        r->target = xstrdup(path->valuestring);
        probe_local(path->valuestring, r);
    } else {
        r->ok = -1;
        r->detail = xasprintf("%s destinations are not probed by this version", d->kind);
    }
    cJSON_Delete(settings);
}

/* The previous round's verdict on name (-1: not checked or not seen). */
static int previous_ok(const struct probe_result *prev, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (prev[i].name && strcmp(prev[i].name, name) == 0)
            return prev[i].ok;
    return -1;
}

/* Announces reachability changes (store_events.h): a target that stopped
 * answering, and one that answers again.  Without a previous verdict (the
 * first round after start, a new target) only a failure is announced, so
 * a restart repeats at most an "unreachable" still true. */
static void publish_changes(struct prober *p, const struct probe_result *prev, size_t nprev,
                            const struct probe_result *cur, size_t ncur, bool instance)
{
    for (size_t i = 0; i < ncur; i++) {
        if (!cur[i].name) /* a round that shutdown cut short: not probed */
            continue;
        int was = previous_ok(prev, nprev, cur[i].name);
        if (cur[i].ok < 0 || was == cur[i].ok || (was < 0 && cur[i].ok))
            continue;
        const char *type = instance
                               ? (cur[i].ok ? "instance.reachable" : "instance.unreachable")
                               : (cur[i].ok ? "destination.reachable" : "destination.unreachable");
        cJSON *data = cJSON_CreateObject();
        cJSON_AddStringToObject(data, instance ? "instance" : "destination", cur[i].name);
        if (cur[i].detail)
            cJSON_AddStringToObject(data, "detail", cur[i].detail);
        char err[QB_ERRBUF_SIZE];
        if (store_events_publish(p->store, type, NULL, instance ? cur[i].name : NULL, 0, data, NULL,
                                 err, sizeof err))
            log_warn("probe.event_failed", "type=%s error=%s", type, log_q(err));
        cJSON_Delete(data);
    }
}

static void run_round(struct prober *p)
{
    char err[QB_ERRBUF_SIZE];
    struct store_instance **insts = NULL;
    struct store_destination **dests = NULL;
    size_t ni = 0, nd = 0;
    if (store_instance_list(p->store, &insts, &ni, err, sizeof err) ||
        store_destination_list(p->store, &dests, &nd, err, sizeof err)) {
        log_warn("probe.catalogue_failed", "error=%s", log_q(err));
        goto out;
    }
    struct probe_result *ir = xcalloc(ni ? ni : 1, sizeof *ir);
    struct probe_result *dr = xcalloc(nd ? nd : 1, sizeof *dr);
    for (size_t i = 0; i < ni && !stopping(p); i++) {
        ir[i].name = xstrdup(insts[i]->name);
        ir[i].target = xstrdup(insts[i]->url);
        ir[i].checked_at = qb_now_ms() / 1000;
        probe_instance(p, insts[i], &ir[i]);
        if (!ir[i].ok)
            log_debug("probe.instance_unreachable", "instance=%s", insts[i]->name);
    }
    for (size_t i = 0; i < nd; i++) {
        dr[i].name = xstrdup(dests[i]->name);
        dr[i].checked_at = qb_now_ms() / 1000;
        probe_destination(dests[i], &dr[i]);
    }
    /* Only this thread replaces the arrays, so reading the previous ones
     * without the lock is safe here. */
    publish_changes(p, p->instances, p->ninstances, ir, ni, true);
    publish_changes(p, p->destinations, p->ndestinations, dr, nd, false);
    pthread_mutex_lock(&p->lock);
    results_free(p->instances, p->ninstances);
    results_free(p->destinations, p->ndestinations);
    p->instances = ir;
    p->ninstances = ni;
    p->destinations = dr;
    p->ndestinations = nd;
    p->completed_round = true;
    pthread_mutex_unlock(&p->lock);
out:
    store_instance_list_free(insts, ni);
    store_destination_list_free(dests, nd);
}

static void *prober_main(void *arg)
{
    struct prober *p = arg;
    while (!stopping(p)) {
        run_round(p);
        threads_wait(&p->lock, &p->wake, &p->stopping, p->interval_s * 1000L);
    }
    return NULL;
}

enum qb_err prober_start(struct store *store, int interval_s, int timeout_s, struct prober **out,
                         char *err, size_t errlen)
{
    struct prober *p = xcalloc(1, sizeof *p);
    p->store = store;
    p->interval_s = interval_s;
    p->timeout_s = timeout_s;
    enum qb_err rc = threads_start(&p->lock, &p->wake, &p->thread, prober_main, p,
                                   "the prober thread", err, errlen);
    if (rc)
        free(p);
    else
        *out = p;
    return rc;
}

static cJSON *result_json(const struct probe_result *r, bool instance)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", r->name);
    if (r->kind)
        cJSON_AddStringToObject(o, "kind", r->kind);
    if (r->target)
        cJSON_AddStringToObject(o, instance ? "url" : "path", r->target);
    const char *key = instance ? "reachable" : "writable";
    if (r->ok < 0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddBoolToObject(o, key, r->ok == 1);
    if (instance)
        cJSON_AddItemToObject(o, "version",
                              r->version ? cJSON_CreateString(r->version) : cJSON_CreateNull());
    if (r->detail)
        cJSON_AddStringToObject(o, "detail", r->detail);
    if (instance && r->topology)
        cJSON_AddItemToObject(o, "topology", cJSON_Duplicate(r->topology, true));
    char ts[32];
    qb_format_time(r->checked_at, ts, sizeof ts);
    cJSON_AddStringToObject(o, "checked_at", ts);
    return o;
}

cJSON *prober_topology(struct prober *p, const char *instance)
{
    cJSON *t = NULL;
    if (!p)
        return NULL;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->ninstances && !t; i++)
        if (p->instances[i].name && strcmp(p->instances[i].name, instance) == 0 &&
            p->instances[i].topology)
            t = cJSON_Duplicate(p->instances[i].topology, true);
    pthread_mutex_unlock(&p->lock);
    return t;
}

void prober_report(struct prober *p, cJSON *obj, bool *all_ok)
{
    cJSON *insts = cJSON_AddArrayToObject(obj, "instances");
    cJSON *dests = cJSON_AddArrayToObject(obj, "destinations");
    pthread_mutex_lock(&p->lock);
    bool ok = p->completed_round;
    for (size_t i = 0; i < p->ninstances; i++) {
        cJSON_AddItemToArray(insts, result_json(&p->instances[i], true));
        ok = ok && p->instances[i].ok == 1;
    }
    for (size_t i = 0; i < p->ndestinations; i++) {
        cJSON_AddItemToArray(dests, result_json(&p->destinations[i], false));
        ok = ok && p->destinations[i].ok != 0;
    }
    pthread_mutex_unlock(&p->lock);
    *all_ok = ok;
}

bool prober_metrics(struct prober *p, struct buf *out)
{
    bool ok = metrics_head(out, METRIC_INSTANCE_UP);
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; ok && i < p->ninstances; i++)
        if (p->instances[i].ok >= 0)
            ok = metrics_sample(out, METRIC_INSTANCE_UP, "{qdrant_instance=\"%s\"} %d\n",
                                p->instances[i].name, p->instances[i].ok);
    ok = ok && metrics_head(out, METRIC_DESTINATION_UP);
    for (size_t i = 0; ok && i < p->ndestinations; i++)
        if (p->destinations[i].ok >= 0)
            ok = metrics_sample(out, METRIC_DESTINATION_UP, "{destination=\"%s\"} %d\n",
                                p->destinations[i].name, p->destinations[i].ok);
    pthread_mutex_unlock(&p->lock);
    return ok;
}
