/* SPDX-License-Identifier: Apache-2.0
 *
 * api_events.c -- GET /v1/events: the event log (store/store_events.h) as
 * a live Server-Sent Events stream, resumable with Last-Event-ID.
 *
 * Each event is one SSE message: `id:` the event id, `event:` its type,
 * `data:` the Event object (api/openapi.yaml) on one line.  A stream
 * starts after the id in Last-Event-ID (what a reconnecting EventSource
 * sends), else after ?after=, else at the newest event (live only).  When
 * events after that id were already pruned from the ring, the stream opens
 * with a `reset` message (no id) naming the id asked for and the oldest
 * kept, then serves what is kept: a client that must not miss anything
 * re-reads state (GET /v1/status, /v1/runs) instead of trusting a gap.
 * Comment lines keep idle connections (and proxies) open.
 *
 * The stream is a feed (http_feed.h): it holds no server thread, is
 * filled from the feed thread when the client took what was sent, and
 * asks the catalogue only when store_events_seq says something was
 * committed.
 */
#include "api/api.h"
#include "api/app.h"
#include "http/http_reply.h"
#include "store/store_events.h"
#include "util/buf.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Events one fill reads: bounded memory per stream; a client behind by
 * more gets the rest in the following fills, as fast as it reads. */
#define EVENTS_PER_FILL 200
/* Seconds between heartbeats of an idle stream (at most half the idle
 * connection timeout, so the server never closes a quiet stream). */
#define EVENTS_HEARTBEAT_S 15
/* What EventSource waits before reconnecting, in ms. */
#define EVENTS_RETRY_MS 2000

struct events_stream {
    struct store *store;
    int64_t cursor;       /* the last id sent */
    uint64_t seq;         /* store_events_seq when last read */
    bool primed;          /* read once: until then seq means nothing */
    bool opened;          /* the retry line went out */
    bool behind;          /* the last read was full: read again at once */
    int64_t last_sent_ms; /* monotonic: heartbeat pacing */
    long heartbeat_ms;
    char req_id[72]; /* for log lines */
};

cJSON *api_event_json(const struct store_event *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)e->id);
    char ts[32];
    qb_format_time(e->at, ts, sizeof ts);
    cJSON_AddStringToObject(o, "at", ts);
    cJSON_AddStringToObject(o, "type", e->type);
    cJSON_AddItemToObject(o, "plan", e->plan ? cJSON_CreateString(e->plan) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "instance",
                          e->instance ? cJSON_CreateString(e->instance) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "run_id",
                          e->run_id ? cJSON_CreateNumber((double)e->run_id) : cJSON_CreateNull());
    cJSON *data = cJSON_Parse(e->data);
    cJSON_AddItemToObject(o, "data", cJSON_IsObject(data) ? data : cJSON_CreateObject());
    if (!cJSON_IsObject(data))
        cJSON_Delete(data);
    return o;
}

/* One SSE message; data is JSON on one line (cJSON escapes newlines).
 * When out is full nothing of the message stays in it. */
static bool append_message(struct buf *out, int64_t id, const char *type, cJSON *data)
{
    size_t mark = out->len;
    char *text = cJSON_PrintUnformatted(data);
    bool ok = text != NULL;
    if (ok && id > 0)
        ok = buf_printf(out, "id: %lld\n", (long long)id);
    ok = ok && buf_printf(out, "event: %s\ndata: %s\n\n", type, text);
    cJSON_free(text);
    if (!ok && out->data) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return ok;
}

static bool events_fill(void *ctx, struct buf *out, bool closing)
{
    struct events_stream *es = ctx;
    int64_t now = qb_mono_ms();
    if (!es->opened) {
        es->opened = true;
        if (!buf_printf(out, "retry: %d\n\n", EVENTS_RETRY_MS))
            return false;
    }
    if (closing) {
        bool ok = buf_appends(out, ": qbackupd is shutting down; reconnect to resume\n\n");
        (void)ok; /* ending either way */
        return false;
    }
    uint64_t seq = store_events_seq(es->store);
    /* The first fill always reads: a resumed stream has history to send
     * even when nothing was committed since qbackupd started. */
    if (!es->primed || es->seq != seq || es->behind) {
        char err[QB_ERRBUF_SIZE];
        struct store_event **ev = NULL;
        size_t n = 0;
        bool lost = false;
        if (store_events_after(es->store, es->cursor, EVENTS_PER_FILL, &ev, &n, &lost, err,
                               sizeof err)) {
            /* Try again next round; the stream stays open. */
            log_warn("events.read_failed", "request=%s error=%s", es->req_id, log_q(err));
            return true;
        }
        es->seq = seq;
        es->primed = true;
        if (lost) {
            cJSON *r = cJSON_CreateObject();
            /* Also mid-stream: a reader slower than the ring loses too. */
            cJSON_AddNumberToObject(r, "after", (double)es->cursor);
            cJSON_AddNumberToObject(r, "oldest", n ? (double)ev[0]->id : 0);
            bool ok = append_message(out, 0, "reset", r);
            cJSON_Delete(r);
            if (!ok) {
                store_event_list_free(ev, n);
                return false;
            }
        }
        for (size_t i = 0; i < n; i++) {
            cJSON *o = api_event_json(ev[i]);
            bool ok = append_message(out, ev[i]->id, ev[i]->type, o);
            cJSON_Delete(o);
            if (!ok)
                break; /* the rest next time, from the cursor */
            es->cursor = ev[i]->id;
        }
        es->behind = n == EVENTS_PER_FILL;
        store_event_list_free(ev, n);
    }
    if (out->len) {
        es->last_sent_ms = now;
    } else if (now - es->last_sent_ms >= es->heartbeat_ms) {
        es->last_sent_ms = now;
        return buf_appends(out, ": heartbeat\n\n");
    }
    return true;
}

/* A non-negative event id from a header or query value; false if bad. */
static bool parse_event_id(const char *s, int64_t *id)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return false;
    *id = v;
    return true;
}

void api_events_stream(struct http_request *req)
{
    struct app *app = http_req_app(req);
    const char *last = http_req_header(req, "Last-Event-ID");
    const char *after = http_req_query(req, "after");
    char err[QB_ERRBUF_SIZE];
    int64_t from = 0;
    bool resume = false;
    /* A reconnecting EventSource keeps the URL (and its ?after=) and sends
     * the last id it saw: the header is the newer position. */
    if (last && *last) {
        if (!parse_event_id(last, &from)) {
            http_reply_problem_field(req, API_ERR_INVALID_PARAMETER, "Last-Event-ID",
                                     "Last-Event-ID: an event id (a non-negative integer)");
            return;
        }
        resume = true;
    } else if (after) {
        if (!parse_event_id(after, &from)) {
            http_reply_problem_field(req, API_ERR_INVALID_PARAMETER, "after",
                                     "after: an event id (a non-negative integer)");
            return;
        }
        resume = true;
    }
    struct events_stream *es = xcalloc(1, sizeof *es);
    es->store = app->store;
    enum qb_err rc = QB_OK;
    if (!resume)
        rc = store_events_newest(app->store, &from, err, sizeof err);
    if (rc) {
        free(es);
        http_reply_error(req, rc, err);
        return;
    }
    es->cursor = from;
    long timeout_ms = (long)app->cfg->connection_timeout * 1000;
    es->heartbeat_ms = EVENTS_HEARTBEAT_S * 1000L;
    if (timeout_ms > 0 && es->heartbeat_ms > timeout_ms / 2)
        es->heartbeat_ms = timeout_ms / 2 > 0 ? timeout_ms / 2 : 500;
    es->last_sent_ms = qb_mono_ms();
    snprintf(es->req_id, sizeof es->req_id, "%s", http_req_id(req));
    if (http_reply_feed(req, "text/event-stream", events_fill, es, free) != QB_OK) {
        free(es);
        http_reply_problem(req, API_ERR_UNAVAILABLE,
                           "qbackupd serves its limit of %lld event streams; retry shortly",
                           (long long)app->cfg->events_max_clients);
        http_reply_header(req, "Retry-After", "5");
    }
}
