/* SPDX-License-Identifier: Apache-2.0
 *
 * test_events_stream.c -- GET /v1/events against the real daemon and the Qdrant
 * emulator: a live client sees a run's states in order (queued, started,
 * succeeded); a client that drops mid-run resumes with Last-Event-ID and
 * gets every later event once; a cursor older than the ring opens with
 * `reset`; a bad cursor is a 400; the stream limit answers 503; a Qdrant
 * that stops answering is announced; and a SIGTERM ends open streams so
 * the daemon exits cleanly and at once.
 */
#include "unit.h"
#include "emu_harness.h"
#include "harness.h"
#include "common.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct emu e;
static struct qbd d;

#define MAX_MSGS 256

struct msg {
    long long id; /* 0: none */
    char type[48];
    cJSON *data;
};

/* One SSE client: reads until a message of type `until` (about run_id
 * when > 0), or `stop_after` messages, or the server ends the stream. */
struct sse {
    const char *last_event_id; /* sent as Last-Event-ID when set */
    const char *query;         /* e.g. "?after=3", or "" */
    const char *until;
    long long until_run;
    int stop_after; /* 0: no limit */
    /* filled */
    bool connected; /* the retry preamble arrived */
    bool ended;     /* the server closed the stream (not us) */
    long status;
    char line[65536];
    size_t linelen;
    struct msg cur;
    char curdata[65536];
    struct msg msgs[MAX_MSGS];
    int n;
    bool done;     /* stop reading (this attempt) */
    bool finished; /* sse_main returned */
    pthread_mutex_t lock;
};

static void sse_line(struct sse *s, const char *line)
{
    if (strncmp(line, "retry:", 6) == 0) {
        s->connected = true;
    } else if (strncmp(line, "id: ", 4) == 0) {
        s->cur.id = atoll(line + 4);
    } else if (strncmp(line, "event: ", 7) == 0) {
        snprintf(s->cur.type, sizeof s->cur.type, "%s", line + 7);
    } else if (strncmp(line, "data: ", 6) == 0) {
        snprintf(s->curdata, sizeof s->curdata, "%s", line + 6);
    } else if (!*line && s->cur.type[0]) {
        s->cur.data = cJSON_Parse(s->curdata);
        if (s->n < MAX_MSGS)
            s->msgs[s->n++] = s->cur;
        else
            cJSON_Delete(s->cur.data);
        const cJSON *run = cJSON_GetObjectItem(s->cur.data, "run_id");
        if ((s->until && strcmp(s->cur.type, s->until) == 0 &&
             (s->until_run <= 0 || (cJSON_IsNumber(run) && run->valuedouble == s->until_run))) ||
            (s->stop_after && s->n >= s->stop_after))
            s->done = true;
        memset(&s->cur, 0, sizeof s->cur);
        s->curdata[0] = '\0';
    }
}

static size_t sse_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct sse *s = ud;
    size_t n = size * nmemb;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n && !s->done; i++) {
        if (ptr[i] == '\n') {
            s->line[s->linelen] = '\0';
            sse_line(s, s->line);
            s->linelen = 0;
        } else if (s->linelen + 1 < sizeof s->line) {
            s->line[s->linelen++] = ptr[i];
        }
    }
    bool done = s->done;
    pthread_mutex_unlock(&s->lock);
    return done ? 0 : n; /* 0 aborts the transfer: the client hangs up */
}

static void sse_once(struct sse *s)
{
    char url[256], hdr[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/events%s", d.port, s->query ? s->query : "");
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    if (s->last_event_id) {
        snprintf(hdr, sizeof hdr, "Last-Event-ID: %s", s->last_event_id);
        hl = curl_slist_append(hl, hdr);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 90L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s->status);
    pthread_mutex_lock(&s->lock);
    s->ended = cc == CURLE_OK;
    pthread_mutex_unlock(&s->lock);
    if (cc != CURLE_OK && cc != CURLE_WRITE_ERROR)
        fprintf(stderr, "sse: %s\n", curl_easy_strerror(cc));
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

static bool slot_free(void *ctx)
{
    struct sse *s = ctx;
    s->done = s->ended = false;
    s->linelen = 0; /* a 503's body does not end in a newline */
    sse_once(s);
    return s->status != 503;
}

/* A client that just hung up holds its stream slot until the server
 * notices (within a feed round): a new client meanwhile gets 503 with
 * Retry-After, and retries, as EventSource does. */
static void *sse_main(void *arg)
{
    struct sse *s = arg;
    if (!harness_wait_until(slot_free, s, 10000))
        fprintf(stderr, "sse: still 503 after 10 s\n");
    pthread_mutex_lock(&s->lock);
    s->finished = true;
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static struct sse *sse_new(void)
{
    struct sse *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->query = "";
    return s;
}

static void sse_free(struct sse *s)
{
    for (int i = 0; i < s->n; i++)
        cJSON_Delete(s->msgs[i].data);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static bool sse_flag(struct sse *s, const bool *flag)
{
    pthread_mutex_lock(&s->lock);
    bool v = *flag;
    pthread_mutex_unlock(&s->lock);
    return v;
}

static bool is_connected(void *ctx)
{
    struct sse *s = ctx;
    return sse_flag(s, &s->connected) || sse_flag(s, &s->finished);
}

static bool is_done(void *ctx)
{
    struct sse *s = ctx;
    return sse_flag(s, &s->finished);
}

/* Runs plan to the end (?wait); returns the run id, or -1. */
static long long run_plan(const char *plan)
{
    char path[128];
    struct resp r;
    snprintf(path, sizeof path, "/v1/plans/%s/runs?wait=120", plan);
    long long id = -1;
    if (qbd_request(&d, "POST", path, NULL, NULL, &r) == 0 && r.status == 200)
        id = (long long)json_path_num(r.json, "id");
    else
        fprintf(stderr, "run: %ld %s\n", r.status, r.body ? r.body : "");
    resp_free(&r);
    return id;
}

/* The types of the messages about run id, in order, space-separated
 * (progress left out: how many there are depends on timing). */
static void run_types(const struct sse *s, long long run, char *out, size_t outlen)
{
    *out = '\0';
    for (int i = 0; i < s->n; i++) {
        const cJSON *rid = cJSON_GetObjectItem(s->msgs[i].data, "run_id");
        if (!cJSON_IsNumber(rid) || rid->valuedouble != run || strstr(s->msgs[i].type, "progress"))
            continue;
        size_t len = strlen(out);
        snprintf(out + len, outlen - len, "%s%s", *out ? " " : "", s->msgs[i].type);
    }
}

static long long last_run_id;

static void test_live_client_sees_run_states_in_order(void)
{
    struct sse *s = sse_new();
    s->until = "run.succeeded";
    pthread_t t;
    TEST_ASSERT(pthread_create(&t, NULL, sse_main, s) == 0);
    TEST_EXPECT(harness_wait_until(is_connected, s, 10000));

    /* The limit is one stream (--events-max-clients 1): a second is 503. */
    struct resp r;
    TEST_EXPECT(qbd_request(&d, "GET", "/v1/events", NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 503, "unavailable");
    TEST_EXPECT(resp_header(&r, "Retry-After") != NULL);
    resp_free(&r);

    long long id = run_plan("ev");
    TEST_EXPECT(id > 0);
    TEST_EXPECT(harness_wait_until(is_done, s, 30000));
    pthread_join(t, NULL);
    TEST_EXPECT_INT(s->status, 200);
    char types[512];
    run_types(s, id, types, sizeof types);
    TEST_EXPECT_STR(types, "run.queued run.started run.succeeded");
    /* Ids increase; every data is the Event object. */
    for (int i = 0; i < s->n; i++) {
        TEST_EXPECT(s->msgs[i].id > 0);
        if (i)
            TEST_EXPECT(s->msgs[i].id > s->msgs[i - 1].id);
        TEST_EXPECT_INT(json_path_num(s->msgs[i].data, "id"), s->msgs[i].id);
        TEST_EXPECT_STR(json_path_str(s->msgs[i].data, "type"), s->msgs[i].type);
    }
    const cJSON *last = s->n ? s->msgs[s->n - 1].data : NULL;
    TEST_EXPECT_STR(json_path_str(last, "plan"), "ev");
    TEST_EXPECT_STR(json_path_str(last, "instance"), "default");
    TEST_EXPECT_STR(json_path_str(last, "data.state"), "succeeded");
    TEST_EXPECT(json_path_str(last, "at") != NULL);
    last_run_id = id;
    sse_free(s);
}

static void test_resume_with_last_event_id(void)
{
    /* Client A replays from before the last run and hangs up right after
     * that run's run.started. */
    struct sse *a = sse_new(), *b = sse_new();
    a->query = "?after=0";
    a->until = "run.started";
    a->until_run = last_run_id;
    sse_main(a);
    TEST_EXPECT_INT(a->status, 200);
    TEST_EXPECT(a->n > 0);
    if (a->n == 0)
        goto out;
    TEST_EXPECT_STR(a->msgs[a->n - 1].type, "run.started");
    long long cut = a->msgs[a->n - 1].id;

    /* Another run happens while nobody listens. */
    long long id = run_plan("ev");
    TEST_EXPECT(id > 0);

    /* Client B resumes: the very next id, nothing twice, through the new
     * run's success. */
    char cursor[32];
    snprintf(cursor, sizeof cursor, "%lld", cut);
    b->last_event_id = cursor;
    b->query = "?after=0"; /* the header wins, as for a reconnecting EventSource */
    b->until = "run.succeeded";
    b->until_run = id;
    sse_main(b);
    TEST_EXPECT_INT(b->status, 200);
    TEST_EXPECT(b->n > 0);
    if (b->n == 0)
        goto out;
    TEST_EXPECT_INT(b->msgs[0].id, cut + 1);
    for (int i = 1; i < b->n; i++)
        TEST_EXPECT_INT(b->msgs[i].id, b->msgs[i - 1].id + 1);
    char types[512];
    run_types(b, last_run_id, types, sizeof types);
    TEST_EXPECT_STR(types, "run.succeeded");
    run_types(b, id, types, sizeof types);
    TEST_EXPECT_STR(types, "run.queued run.started run.succeeded");
out:
    sse_free(a);
    sse_free(b);
}

static void test_cursor_out_of_the_ring_says_reset(void)
{
    /* The ring keeps 12 events (--events-keep 12): a few more runs push
     * the first ones out. */
    for (int i = 0; i < 3; i++)
        TEST_ASSERT(run_plan("ev") > 0);
    struct sse *s = sse_new();
    s->query = "?after=1";
    s->stop_after = 2;
    sse_main(s);
    TEST_EXPECT_INT(s->n, 2);
    if (s->n != 2) {
        sse_free(s);
        return;
    }
    TEST_EXPECT_STR(s->msgs[0].type, "reset");
    TEST_EXPECT_INT(s->msgs[0].id, 0);
    TEST_EXPECT_INT(json_path_num(s->msgs[0].data, "after"), 1);
    TEST_EXPECT_INT(json_path_num(s->msgs[0].data, "oldest"), s->msgs[1].id);
    TEST_EXPECT(s->msgs[1].id > 2);
    sse_free(s);

    /* Bad cursors are refused, naming where they came from. */
    struct resp r;
    TEST_EXPECT(qbd_request(&d, "GET", "/v1/events?after=x", NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 400, "invalid_parameter");
    TEST_EXPECT_STR(json_path_str(r.json, "field"), "after");
    resp_free(&r);
    const char *const hdr[] = {"Last-Event-ID: -4", NULL};
    TEST_EXPECT(qbd_request(&d, "GET", "/v1/events", NULL, hdr, &r) == 0);
    EXPECT_PROBLEM(r, 400, "invalid_parameter");
    TEST_EXPECT_STR(json_path_str(r.json, "field"), "Last-Event-ID");
    resp_free(&r);
}

/* After a restart, before anything new happened, a resumed stream still
 * gets the history it asks for. */
static void test_resume_after_restart(void)
{
    TEST_ASSERT(qbd_restart(&d) == 0);
    struct sse *s = sse_new();
    s->query = "?after=0";
    s->stop_after = 1;
    int64_t t0 = qb_mono_ms();
    sse_main(s);
    TEST_EXPECT_INT(s->n, 1);
    TEST_EXPECT(qb_mono_ms() - t0 < 5000); /* not the next heartbeat */
    sse_free(s);
}

/* The prober announces a Qdrant that stopped answering (probe_interval
 * is 1 s in the harness). */
static void test_unreachable_instance_is_announced(void)
{
    TEST_EXPECT_INT(emu_stop(&e), 0);
    struct sse *s = sse_new();
    s->query = "?after=0";
    s->until = "instance.unreachable";
    sse_main(s);
    TEST_EXPECT(s->n > 0);
    if (s->n > 0) {
        const struct msg *m = &s->msgs[s->n - 1];
        TEST_EXPECT_STR(m->type, "instance.unreachable");
        TEST_EXPECT_STR(json_path_str(m->data, "instance"), "default");
        TEST_EXPECT_STR(json_path_str(m->data, "data.instance"), "default");
        TEST_EXPECT(json_path_str(m->data, "data.detail") != NULL);
    }
    sse_free(s);
}

static void test_shutdown_ends_open_streams(void)
{
    struct sse *s = sse_new();
    pthread_t t;
    TEST_ASSERT(pthread_create(&t, NULL, sse_main, s) == 0);
    TEST_EXPECT(harness_wait_until(is_connected, s, 10000));
    int64_t t0 = qb_mono_ms();
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    /* Not the 10 s shutdown grace: the stream ended at once. */
    TEST_EXPECT(qb_mono_ms() - t0 < 8000);
    pthread_join(t, NULL);
    TEST_EXPECT(s->ended);
    if (!s->ended)
        harness_print_file(d.log_path, "qbackupd log");
    sse_free(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (emu_start(&e, NULL) != 0)
        return 1;
    if (emu_create_collection(&e, "products", 4) || emu_upsert(&e, "products", 20, 1))
        return 1;
    const char *const args[] = {"--qdrant-url",
                                e.url,
                                "--retry-base-ms",
                                "20",
                                "--events-keep",
                                "12",
                                "--events-max-clients",
                                "1",
                                NULL};
    if (qbd_start(&d, args, NULL) != 0)
        return 1;
    struct resp r;
    if (qbd_request(&d, "POST", "/v1/plans",
                    "{\"name\":\"ev\",\"instance\":\"default\",\"destination\":\"local\","
                    "\"collections\":[\"products\"]}",
                    NULL, &r) != 0 ||
        r.status != 201) {
        fprintf(stderr, "plan: %ld %s\n", r.status, r.body ? r.body : "");
        return 1;
    }
    resp_free(&r);
    TEST_RUN(test_live_client_sees_run_states_in_order);
    TEST_RUN(test_resume_with_last_event_id);
    TEST_RUN(test_cursor_out_of_the_ring_says_reset);
    TEST_RUN(test_resume_after_restart);
    TEST_RUN(test_unreachable_instance_is_announced);
    TEST_RUN(test_shutdown_ends_open_streams);
    qbd_cleanup(&d);
    emu_cleanup(&e);
    curl_global_cleanup();
    return TEST_RESULT();
}
