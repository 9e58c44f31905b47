/* SPDX-License-Identifier: Apache-2.0
 *
 * webhooks.c -- the dispatcher and sender threads of outgoing webhooks
 * (see webhooks.h for the design).
 */
#include "notify/webhooks.h"
#include "metrics.h"
#include "notify/payload.h"
#include "notify/sign.h"
#include "remote/http_client.h"
#include "store/store_events.h"
#include "util/buf.h"
#include "util/json_util.h"
#include "util/log.h"
#include "util/retry.h"
#include "util/threads.h"
#include "version.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs looked at per dispatcher round; the rest wait for the next one. */
#define DISPATCH_BATCH 200
/* A receiver's answer is not read, only its status: keep little of it. */
#define SENDER_MAX_BODY 4096
#define MAX_SENDERS     16
/* Delivered and dead deliveries stay in the delivery log this long, so the
 * outbox does not grow without bound; pending ones stay until settled. */
#define KEEP_FINISHED_MS (7LL * 24 * 3600 * 1000)
#define PRUNE_EVERY_MS   (3600LL * 1000)

struct webhooks {
    struct store *store;
    struct webhooks_config cfg;
    pthread_mutex_t lock; /* guards stopping and kicks */
    pthread_cond_t cond;
    bool stopping;
    unsigned kicks; /* webhooks_wake calls: a waiter that sees it change looks at once */
    pthread_t threads[1 + MAX_SENDERS];
    size_t nthreads;
};

void webhooks_stop(struct webhooks *w)
{
    if (!w)
        return;
    threads_stop_destroy(&w->lock, &w->cond, &w->stopping, w->threads, w->nthreads);
    free(w);
}

/* Waits up to ms for a stop or a wake; true when stopping. */
static bool wait_round(struct webhooks *w, long ms)
{
    struct timespec ts;
    threads_deadline(&ts, ms);
    pthread_mutex_lock(&w->lock);
    unsigned seen = w->kicks;
    while (!w->stopping && w->kicks == seen)
        if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) != 0)
            break;
    bool stop = w->stopping;
    pthread_mutex_unlock(&w->lock);
    return stop;
}

void webhooks_wake(struct webhooks *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->kicks++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* ------------------------------------------------------------- dispatcher */

/* Whether the JSON array text list is empty or holds value. */
static bool filter_allows(const char *list, const char *value)
{
    cJSON *a = cJSON_Parse(list ? list : "[]");
    bool ok = !cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (!ok && value && cJSON_IsString(e) && strcmp(e->valuestring, value) == 0)
            ok = true;
    }
    cJSON_Delete(a);
    return ok;
}

static bool hook_wants(const struct store_webhook *h, const char *event, const char *plan,
                       const char *instance)
{
    cJSON *a = cJSON_Parse(h->events);
    bool want = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (cJSON_IsString(e) && strcmp(e->valuestring, event) == 0)
            want = true;
    }
    cJSON_Delete(a);
    return want && h->enabled && filter_allows(h->plans, plan) &&
           filter_allows(h->instances, instance);
}

static void log_failure(const char *event, const char *err)
{
    char quoted[QB_ERRBUF_SIZE + 16];
    log_warn(event, "error=%s", log_quote(quoted, sizeof quoted, err));
}

static struct payload_event payload_of(const struct store_event *ev)
{
    return (struct payload_event){.id = ev->id,
                                  .type = ev->type,
                                  .at = ev->at,
                                  .plan = ev->plan,
                                  .instance = ev->instance,
                                  .run_id = ev->run_id,
                                  .data = ev->data};
}

/* The outcome of a run started from chat, owed to its response URL. */
static enum qb_err queue_followup(struct webhooks *w, const struct store_event *ev, char *err,
                                  size_t errlen)
{
    char *url = NULL, *cmd = NULL;
    enum qb_err rc = store_chatops_followup_get(w->store, ev->run_id, &url, &cmd, err, errlen);
    if (rc || !url)
        return rc;
    struct payload_event pe = payload_of(ev);
    char *text = payload_summary(&pe);
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "response_type", "in_channel");
    char *full = xasprintf("%s (/%s)", text, cmd);
    cJSON_AddStringToObject(msg, "text", full);
    char *body = cJSON_PrintUnformatted(msg);
    char *key = xasprintf("ev:%lld", (long long)ev->id);
    char *id = xasprintf("chat-ev%lld", (long long)ev->id);
    struct store_delivery_new d = {
        .delivery_id = id, .url = url, .event = ev->type, .event_key = key, .body = body};
    rc = store_delivery_add(w->store, &d, NULL, err, errlen);
    if (!rc)
        rc = store_chatops_followup_done(w->store, ev->run_id, err, errlen);
    cJSON_Delete(msg);
    free(text);
    free(full);
    free(body);
    free(key);
    free(id);
    free(url);
    free(cmd);
    return rc;
}

/* One event of the log: a delivery per webhook that wants it. */
static enum qb_err dispatch_event(struct webhooks *w, const struct store_event *ev,
                                  struct store_webhook **hooks, size_t nhooks, char *err,
                                  size_t errlen)
{
    enum qb_err rc = QB_OK;
    struct payload_event pe = payload_of(ev);
    char *key = xasprintf("ev:%lld", (long long)ev->id);
    for (size_t i = 0; !rc && i < nhooks; i++) {
        if (!hook_wants(hooks[i], ev->type, ev->plan, ev->instance))
            continue;
        /* Stable: the same webhook and event always give the same id. */
        char *id = xasprintf("wh%lld-ev%lld", (long long)hooks[i]->id, (long long)ev->id);
        char *body = payload_body(hooks[i]->format, id, &pe);
        struct store_delivery_new d = {.delivery_id = id,
                                       .webhook_id = hooks[i]->id,
                                       .event = ev->type,
                                       .event_key = key,
                                       .body = body};
        rc = store_delivery_add(w->store, &d, NULL, err, errlen);
        free(id);
        free(body);
    }
    free(key);
    if (!rc && ev->run_id && payload_event_final(ev->type))
        rc = queue_followup(w, ev, err, errlen);
    return rc;
}

/* One round: events after the cursor into the outbox, then the cursor
 * forward.  Idempotent, so a crash anywhere only repeats work.  Returns
 * whether there may be more right away. */
static bool dispatch_round(struct webhooks *w)
{
    char err[QB_ERRBUF_SIZE];
    struct store_event **evs = NULL;
    struct store_webhook **hooks = NULL;
    size_t nevs = 0, nhooks = 0;
    int64_t after = 0;
    bool lost = false;
    enum qb_err rc = store_webhook_cursor(w->store, &after, err, sizeof err);
    if (!rc)
        rc = store_events_after(w->store, after, DISPATCH_BATCH, &evs, &nevs, &lost, err,
                                sizeof err);
    if (!rc && lost)
        log_warn("webhooks.events_lost", "after=%lld", (long long)after);
    if (!rc && nevs)
        rc = store_webhook_list(w->store, &hooks, &nhooks, err, sizeof err);
    int64_t last = after;
    for (size_t i = 0; !rc && i < nevs; i++) {
        rc = dispatch_event(w, evs[i], hooks, nhooks, err, sizeof err);
        if (!rc)
            last = evs[i]->id;
    }
    /* Forward past what was handled, even when a later event failed: the
     * failed one is tried again next round. */
    char sub[QB_ERRBUF_SIZE];
    if (last != after && store_webhook_cursor_set(w->store, last, sub, sizeof sub))
        log_failure("webhooks.dispatch_failed", sub);
    if (rc)
        log_failure("webhooks.dispatch_failed", err);
    if (nevs)
        webhooks_wake(w); /* senders: new rows may be due */
    store_event_list_free(evs, nevs);
    store_webhook_list_free(hooks, nhooks);
    return !rc && nevs == DISPATCH_BATCH;
}

/* Forgets finished deliveries past KEEP_FINISHED_MS. */
static void prune(struct webhooks *w)
{
    char err[QB_ERRBUF_SIZE];
    int removed = 0;
    if (store_delivery_prune(w->store, qb_now_ms() - KEEP_FINISHED_MS, &removed, err, sizeof err))
        log_failure("webhooks.prune_failed", err);
    else if (removed)
        log_info("webhooks.pruned", "deliveries=%d", removed);
}

static void *dispatcher_main(void *arg)
{
    struct webhooks *w = arg;
    int64_t next_prune = 0;
    for (;;) {
        if (qb_mono_ms() >= next_prune) {
            prune(w);
            next_prune = qb_mono_ms() + PRUNE_EVERY_MS;
        }
        /* Read the sequence first: an event committed while the round
         * runs ends the wait at once. */
        uint64_t seq = store_events_seq(w->store);
        if (dispatch_round(w))
            continue;
        store_events_wait(w->store, seq, w->cfg.poll_ms);
        pthread_mutex_lock(&w->lock);
        bool stop = w->stopping;
        pthread_mutex_unlock(&w->lock);
        if (stop)
            break;
    }
    return NULL;
}

/* ----------------------------------------------------------------- senders */

static enum qb_err discard_body(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    (void)ud, (void)data, (void)len, (void)err, (void)errlen;
    return QB_OK;
}

/* POSTs d to url (signed with secret when not NULL); *status: the HTTP
 * status, 0 without an answer.  Messages never name the URL: a Slack
 * webhook URL is itself a credential. */
static void post(struct http_client *c, const struct store_delivery *d, const char *url,
                 const char *secret, long *status, char *err, size_t errlen)
{
    char ts_h[64], sig_h[128], ev_h[128], id_h[256];
    int64_t now = qb_now_ms() / 1000;
    size_t len = strlen(d->body);
    const char *headers[6] = {"Content-Type: application/json"};
    size_t n = 1;
    snprintf(ev_h, sizeof ev_h, "X-Qbackup-Event: %s", d->event);
    snprintf(id_h, sizeof id_h, "X-Qbackup-Delivery: %s", d->delivery_id);
    headers[n++] = ev_h;
    headers[n++] = id_h;
    if (secret) {
        char sig[3 + SIGN_HEX_LEN + 1];
        sign_webhook(secret, now, d->body, len, sig);
        snprintf(ts_h, sizeof ts_h, "X-Qbackup-Timestamp: %lld", (long long)now);
        snprintf(sig_h, sizeof sig_h, "X-Qbackup-Signature: %s", sig);
        headers[n++] = ts_h;
        headers[n++] = sig_h;
    }
    struct http_client_request req = {.method = "POST",
                                      .url = url,
                                      .headers = headers,
                                      .n_headers = n,
                                      .body = d->body,
                                      .body_len = len,
                                      .write_fn = discard_body,
                                      .max_body = SENDER_MAX_BODY};
    struct http_client_response resp = {0};
    char sub[QB_ERRBUF_SIZE];
    enum qb_err rc = http_client_perform(c, &req, &resp, sub, sizeof sub);
    *status = rc ? 0 : resp.status;
    if (rc == QB_ERR_TRANSIENT)
        qb_failf(rc, err, errlen, "no answer (connection failed, reset or timed out)");
    else if (rc)
        qb_failf(rc, err, errlen, "the request failed (%s)", qb_err_name(rc));
    else if (resp.status < 200 || resp.status > 299)
        qb_failf(QB_ERR_REMOTE, err, errlen, "the receiver answered HTTP %ld", resp.status);
    else
        err[0] = '\0';
    http_client_response_free(&resp);
}

/* One attempt of d, recorded. */
static void send_one(struct webhooks *w, struct http_client *c, const struct store_delivery *d,
                     unsigned *seed)
{
    char err[QB_ERRBUF_SIZE] = "", sub[QB_ERRBUF_SIZE];
    struct store_webhook *hook = NULL;
    const char *url = d->url, *secret = NULL;
    long status = 0;
    int64_t start = qb_now_ms();
    if (d->webhook_id) {
        enum qb_err rc = store_webhook_get(w->store, d->webhook_id, &hook, sub, sizeof sub);
        if (rc) {
            /* Deleted meanwhile (its deliveries go with it) or unreadable. */
            log_failure("webhooks.lookup_failed", sub);
            return;
        }
        if (!hook->enabled) {
            /* Disabled after this delivery was queued: settle it unsent
             * rather than keep it pending, so enabling the hook again does
             * not replay a backlog of stale events. */
            if (store_delivery_record(w->store, d->id, start, 0,
                                      "not sent: the webhook was disabled", 0, "dead", start, sub,
                                      sizeof sub))
                log_failure("webhooks.record_failed", sub);
            store_webhook_free(hook);
            return;
        }
        url = hook->url;
        secret = hook->secret;
    }
    post(c, d, url, secret, &status, err, sizeof err);
    int64_t end = qb_now_ms();
    bool ok = status >= 200 && status <= 299;
    unsigned failures = (unsigned)d->attempts + 1;
    const char *state = ok ? "delivered" : failures >= w->cfg.max_attempts ? "dead" : "pending";
    struct retry_policy p = {.attempts = w->cfg.max_attempts,
                             .base_ms = w->cfg.retry_base_ms,
                             .max_ms = w->cfg.retry_max_ms};
    int64_t retry_at = end + retry_delay_ms(&p, failures, seed);
    if (store_delivery_record(w->store, d->id, start, (int)status, ok ? NULL : err, end - start,
                              state, retry_at, sub, sizeof sub))
        log_failure("webhooks.record_failed", sub);
    if (!ok)
        log_warn("webhooks.attempt_failed", "delivery=%s webhook=%lld attempt=%u state=%s",
                 d->delivery_id, (long long)d->webhook_id, failures, state);
    store_webhook_free(hook);
}

static void *sender_main(void *arg)
{
    struct webhooks *w = arg;
    char err[QB_ERRBUF_SIZE];
    struct http_client *c = NULL;
    unsigned seed = (unsigned)qb_now_ms() ^ (unsigned)(uintptr_t)&c;
    struct http_client_options opt = {.connect_timeout_ms = w->cfg.timeout_ms,
                                      .total_timeout_ms = w->cfg.timeout_ms,
                                      .user_agent = "qbackupd/" QB_VERSION};
    if (http_client_create(&opt, &c, err, sizeof err)) {
        log_failure("webhooks.sender_failed", err);
        return NULL;
    }
    /* The lease outlives the attempt: no other sender takes it meanwhile. */
    int64_t lease = w->cfg.timeout_ms + 10000;
    for (;;) {
        struct store_delivery *d = NULL;
        if (store_delivery_claim(w->store, qb_now_ms(), lease, &d, err, sizeof err))
            log_failure("webhooks.claim_failed", err);
        if (d) {
            send_one(w, c, d, &seed);
            store_delivery_free(d);
            pthread_mutex_lock(&w->lock);
            bool stop = w->stopping;
            pthread_mutex_unlock(&w->lock);
            if (stop)
                break;
            continue;
        }
        if (wait_round(w, w->cfg.poll_ms))
            break;
    }
    http_client_destroy(c);
    return NULL;
}

/* ----------------------------------------------------------------- metrics */

bool webhooks_metrics(struct buf *out, void *store)
{
    char err[QB_ERRBUF_SIZE];
    struct store_delivery_counts c;
    if (store_delivery_counts(store, &c, err, sizeof err))
        return buf_appends(out, "# webhook outbox unavailable\n");
    return metrics_head(out, METRIC_WEBHOOK_DELIVERIES) &&
           metrics_sample(out, METRIC_WEBHOOK_DELIVERIES, "{state=\"pending\"} %lld\n",
                          (long long)c.pending) &&
           metrics_sample(out, METRIC_WEBHOOK_DELIVERIES, "{state=\"delivered\"} %lld\n",
                          (long long)c.delivered) &&
           metrics_sample(out, METRIC_WEBHOOK_DELIVERIES, "{state=\"dead\"} %lld\n",
                          (long long)c.dead);
}

/* --------------------------------------------------------------- lifecycle */

enum qb_err webhooks_start(struct store *store, const struct webhooks_config *cfg,
                           struct webhooks **out, char *err, size_t errlen)
{
    struct webhooks *w = xcalloc(1, sizeof *w);
    w->store = store;
    w->cfg = *cfg;
    if (w->cfg.senders < 1)
        w->cfg.senders = 1;
    if (w->cfg.senders > MAX_SENDERS)
        w->cfg.senders = MAX_SENDERS;
    if (w->cfg.max_attempts < 1)
        w->cfg.max_attempts = 1;
    if (w->cfg.poll_ms <= 0)
        w->cfg.poll_ms = 1000;
    enum qb_err rc = threads_start(&w->lock, &w->cond, &w->threads[0], dispatcher_main, w,
                                   "the webhook dispatcher", err, errlen);
    if (rc) {
        free(w);
        return rc;
    }
    w->nthreads = 1;
    for (unsigned i = 0; i < w->cfg.senders; i++) {
        if (pthread_create(&w->threads[w->nthreads], NULL, sender_main, w) != 0) {
            webhooks_stop(w);
            return qb_failf(QB_ERR_INTERNAL, err, errlen, "starting a webhook sender failed");
        }
        w->nthreads++;
    }
    *out = w;
    return QB_OK;
}

enum qb_err webhooks_test_fire(struct store *store, const struct store_webhook *hook,
                               char **delivery_id, char *err, size_t errlen)
{
    int64_t now_ms = qb_now_ms();
    enum qb_err rc = QB_OK;
    char *id = NULL;
    bool added = false;
    /* Each test-fire is its own event: a key taken in the same millisecond
     * moves on to the next suffix. */
    for (unsigned k = 0; !rc && !added && k < 1000; k++) {
        free(id);
        char *key = xasprintf("test:%lld.%u", (long long)now_ms, k);
        id = xasprintf("wh%lld-test-%lld.%u", (long long)hook->id, (long long)now_ms, k);
        char *data = xasprintf("{\"webhook_id\":%lld,\"message\":\"a test delivery from "
                               "qbackupd\"}",
                               (long long)hook->id);
        struct payload_event pe = {.type = "webhook.test", .at = now_ms / 1000, .data = data};
        char *body = payload_body(hook->format, id, &pe);
        free(data);
        struct store_delivery_new d = {.delivery_id = id,
                                       .webhook_id = hook->id,
                                       .event = "webhook.test",
                                       .event_key = key,
                                       .body = body};
        rc = store_delivery_add(store, &d, &added, err, errlen);
        free(key);
        free(body);
    }
    if (!rc && !added)
        rc = qb_failf(QB_ERR_BUSY, err, errlen, "too many test deliveries at once");
    if (rc)
        free(id);
    else
        *delivery_id = id;
    return rc;
}
