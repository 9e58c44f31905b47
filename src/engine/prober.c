/* SPDX-License-Identifier: Apache-2.0
 *
 * prober.c -- reachability checks of instances and destinations.
 * Owns its thread, its curl handle and the latest results.
 */
#include "engine/prober.h"
#include "store/store_destinations.h"
#include "store/store_instances.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

/* Qdrant's GET / answer is tiny; anything bigger is not Qdrant. */
#define PROBE_MAX_BODY 16384

struct probe_result {
    char *kind; /* instances: NULL; destinations: "local", "s3" */
    char *name;
    char *target;  /* URL or path (no secrets) */
    int ok;        /* 1 reachable/writable, 0 not, -1 not checked */
    char *detail;  /* why not, or NULL */
    char *version; /* Qdrant version, instances only */
    int64_t checked_at;
};

struct prober {
    struct store *store;
    int interval_s;
    int timeout_s;
    pthread_t thread;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    atomic_bool stopping; /* also read by curl's progress callback */
    bool completed_round;
    struct probe_result *instances;
    size_t ninstances;
    struct probe_result *destinations;
    size_t ndestinations;
};

static void results_free(struct probe_result *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].kind);
        free(r[i].name);
        free(r[i].target);
        free(r[i].detail);
        free(r[i].version);
    }
    free(r);
}

struct body {
    char data[PROBE_MAX_BODY + 1];
    size_t len;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct body *b = userdata;
    size_t n = size * nmemb;
    if (n > PROBE_MAX_BODY - b->len)
        return 0; /* aborts the transfer: too big to be Qdrant's answer */
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static int on_progress(void *clientp, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct prober *p = clientp;
    (void)dt, (void)dn, (void)ut, (void)un;
    return atomic_load(&p->stopping) ? 1 : 0;
}

static void probe_instance(struct prober *p, const struct store_instance *inst,
                           struct probe_result *r)
{
    struct body *body = xcalloc(1, sizeof *body);
    struct curl_slist *headers = NULL;
    char *url = xasprintf("%s/", inst->url);
    CURL *c = curl_easy_init();
    r->ok = 0;
    if (!c) {
        r->detail = xstrdup("cannot create an HTTP handle");
        goto out;
    }
    if (inst->api_key && *inst->api_key) {
        char *h = xasprintf("api-key: %s", inst->api_key);
        headers = curl_slist_append(headers, h);
        memset(h, 0, strlen(h));
        free(h);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)p->timeout_s);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)p->timeout_s);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, p);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, inst->tls_verify ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, inst->tls_verify ? 2L : 0L);
    if (inst->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, inst->ca_file);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        r->detail = xstrdup(curl_easy_strerror(cc));
    } else if (status == 401 || status == 403) {
        r->detail = xasprintf("Qdrant refused the API key (HTTP %ld)", status);
    } else if (status != 200) {
        r->detail = xasprintf("unexpected HTTP status %ld", status);
    } else {
        cJSON *json = cJSON_Parse(body->data);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, "version");
        if (cJSON_IsString(v)) {
            r->ok = 1;
            r->version = xstrdup(v->valuestring);
        } else {
            r->detail = xstrdup("the answer to GET / is not Qdrant's (no version)");
        }
        cJSON_Delete(json);
    }
out:
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    free(url);
    free(body);
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

static void run_round(struct prober *p)
{
    char err[QB_ERRBUF_SIZE];
    struct store_instance **insts = NULL;
    struct store_destination **dests = NULL;
    size_t ni = 0, nd = 0;
    if (store_instance_list(p->store, &insts, &ni, err, sizeof err) ||
        store_destination_list(p->store, &dests, &nd, err, sizeof err)) {
        log_warn("probe.catalogue_failed", "error=\"%s\"", err);
        goto out;
    }
    struct probe_result *ir = xcalloc(ni ? ni : 1, sizeof *ir);
    struct probe_result *dr = xcalloc(nd ? nd : 1, sizeof *dr);
    for (size_t i = 0; i < ni && !atomic_load(&p->stopping); i++) {
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
    while (!atomic_load(&p->stopping)) {
        run_round(p);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += p->interval_s;
        pthread_mutex_lock(&p->lock);
        while (!atomic_load(&p->stopping)) {
            if (pthread_cond_timedwait(&p->wake, &p->lock, &until) == ETIMEDOUT)
                break;
        }
        pthread_mutex_unlock(&p->lock);
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
    atomic_init(&p->stopping, false);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    int e = pthread_create(&p->thread, NULL, prober_main, p);
    if (e) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "starting the prober thread: %s",
                        strerror(e));
    }
    *out = p;
    return QB_OK;
}

void prober_stop(struct prober *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stopping, true);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    results_free(p->instances, p->ninstances);
    results_free(p->destinations, p->ndestinations);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
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
    char ts[32];
    qb_format_time(r->checked_at, ts, sizeof ts);
    cJSON_AddStringToObject(o, "checked_at", ts);
    return o;
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
