/* SPDX-License-Identifier: Apache-2.0
 *
 * test_webhooks.c -- outgoing webhooks and chat-ops against the real
 * qbackupd and the Qdrant emulator, with a receiver written here (a small
 * HTTP server thread) that records every request and checks signatures
 * itself, with OpenSSL, the way the README tells receivers to.
 *
 * Covered: bad webhook input refused naming the field with nothing stored;
 * the secret never echoed; a failed run's delivery answered 500, retried,
 * surviving a restart and delivered with the same delivery id; a succeeded
 * run's delivery; plan/instance filters; the Slack format and test-fire;
 * dead after max attempts (and on /metrics); a hanging receiver cut off
 * while runs go on; the slash command: unsigned, bad, stale and replayed
 * requests refused with nothing done, roles and plans enforced, a run and a
 * confirmed restore started from chat whose results are posted to the
 * response URL, a restore without "confirm" not done.
 */
#include "unit.h"
#include "emu_harness.h"
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/hmac.h>

#define SECRET       "whsec-0123456789abcdef"
#define SLACK_SECRET "slack-signing-secret-for-tests"
#define MAX_SEEN     256

static struct emu e;
static struct qbd d;

/* ---------------------------------------------------------------- receiver */

struct seen {
    char path[128];
    char event[64];
    char delivery[128];
    char timestamp[32];
    char signature[128];
    char *body;
    int answered; /* the status the receiver answered */
};

static struct {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    struct seen seen[MAX_SEEN];
    int n;
    atomic_int status; /* what to answer; -1: nothing (hang until the client gives up) */
    atomic_bool stop;
} rx = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void header_value(const char *head, const char *name, char *out, size_t outlen)
{
    out[0] = '\0';
    size_t nlen = strlen(name);
    for (const char *p = head; p && *p; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r\n");
            snprintf(out, outlen, "%.*s", (int)n, v);
            return;
        }
    }
}

/* Reads one request (headers, then Content-Length bytes), records it and
 * answers rx.status. */
static void serve_one(int c)
{
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (len < sizeof buf - 1 && !(end = strstr(buf, "\r\n\r\n"))) {
        ssize_t k = recv(c, buf + len, sizeof buf - 1 - len, 0);
        if (k <= 0)
            return;
        len += (size_t)k;
        buf[len] = '\0';
    }
    if (!end)
        return;
    char cl[32];
    *end = '\0';
    header_value(buf, "Content-Length", cl, sizeof cl);
    size_t body_len = (size_t)atol(cl), have = len - (size_t)(end + 4 - buf);
    char *body = malloc(body_len + 1);
    memcpy(body, end + 4, have < body_len ? have : body_len);
    while (have < body_len) {
        ssize_t k = recv(c, body + have, body_len - have, 0);
        if (k <= 0)
            break;
        have += (size_t)k;
    }
    body[body_len] = '\0';
    int status = atomic_load(&rx.status);
    if (status < 0) {
        /* "Hang": never answer; wait (up to 3 x SO_RCVTIMEO) for the
         * client to give up and close. */
        char sink[256];
        for (int i = 0; i < 3; i++) {
            ssize_t k = recv(c, sink, sizeof sink, 0);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                break;
        }
    }
    pthread_mutex_lock(&rx.lock);
    if (rx.n < MAX_SEEN) {
        struct seen *s = &rx.seen[rx.n++];
        sscanf(buf, "POST %127s", s->path);
        header_value(buf, "X-Qbackup-Event", s->event, sizeof s->event);
        header_value(buf, "X-Qbackup-Delivery", s->delivery, sizeof s->delivery);
        header_value(buf, "X-Qbackup-Timestamp", s->timestamp, sizeof s->timestamp);
        header_value(buf, "X-Qbackup-Signature", s->signature, sizeof s->signature);
        s->body = body;
        s->answered = status;
        body = NULL;
    }
    pthread_mutex_unlock(&rx.lock);
    free(body);
    if (status < 0)
        return;
    char reply[128];
    int n = snprintf(reply, sizeof reply,
                     "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status);
    (void)!send(c, reply, (size_t)n, MSG_NOSIGNAL);
}

static void *rx_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&rx.stop)) {
        int c = accept(rx.fd, NULL, NULL);
        if (c < 0)
            continue;
        struct timeval tv = {.tv_sec = 5};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        serve_one(c);
        close(c);
    }
    return NULL;
}

static int rx_start(void)
{
    rx.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    struct timeval tv = {.tv_usec = 200000}; /* accept wakes up to see rx.stop */
    setsockopt(rx.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (bind(rx.fd, (struct sockaddr *)&a, sizeof a) || listen(rx.fd, 16) ||
        getsockname(rx.fd, (struct sockaddr *)&a, &al))
        return -1;
    rx.port = ntohs(a.sin_port);
    atomic_store(&rx.status, 200);
    return pthread_create(&rx.thread, NULL, rx_main, NULL);
}

static void rx_stop(void)
{
    atomic_store(&rx.stop, true);
    pthread_join(rx.thread, NULL);
    close(rx.fd);
    for (int i = 0; i < rx.n; i++)
        free(rx.seen[i].body);
}

/* How many requests came for event on path (answered `answered`, or any
 * when 0). */
static int rx_count(const char *path, const char *event, int answered)
{
    int n = 0;
    pthread_mutex_lock(&rx.lock);
    for (int i = 0; i < rx.n; i++)
        if (!strcmp(rx.seen[i].path, path) && (!event || !strcmp(rx.seen[i].event, event)) &&
            (!answered || rx.seen[i].answered == answered))
            n++;
    pthread_mutex_unlock(&rx.lock);
    return n;
}

/* The newest request on path for event (a copy; body owned by rx). */
static bool rx_last(const char *path, const char *event, struct seen *out)
{
    bool found = false;
    pthread_mutex_lock(&rx.lock);
    for (int i = rx.n - 1; i >= 0 && !found; i--)
        if (!strcmp(rx.seen[i].path, path) && (!event || !strcmp(rx.seen[i].event, event))) {
            *out = rx.seen[i];
            found = true;
        }
    pthread_mutex_unlock(&rx.lock);
    return found;
}

struct wait_count {
    const char *path, *event;
    int answered, at_least;
};

static bool count_reached(void *ctx)
{
    struct wait_count *w = ctx;
    return rx_count(w->path, w->event, w->answered) >= w->at_least;
}

static bool rx_wait(const char *path, const char *event, int answered, int at_least)
{
    struct wait_count w = {path, event, answered, at_least};
    return harness_wait_until(count_reached, &w, 30000);
}

static void hmac_hex(const char *key, const char *msg, size_t len, char out[65])
{
    unsigned char mac[32];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, len, mac, &maclen);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* What a receiver does: v1=HMAC(secret, timestamp "." body), timestamp
 * within five minutes. */
static bool signature_ok(const struct seen *s)
{
    char msg[70000], want[65], sig[80];
    int n = snprintf(msg, sizeof msg, "%s.%s", s->timestamp, s->body);
    hmac_hex(SECRET, msg, (size_t)n, want);
    snprintf(sig, sizeof sig, "v1=%s", want);
    long long ts = atoll(s->timestamp);
    return strcmp(sig, s->signature) == 0 && llabs((long long)time(NULL) - ts) <= 300;
}

/* ---------------------------------------------------------------- helpers */

static char *hook_body(const char *path, const char *events, const char *extra)
{
    char *b = malloc(1024);
    snprintf(b, 1024, "{\"url\":\"http://127.0.0.1:%d%s\",\"events\":%s,\"secret\":\"%s\"%s}",
             rx.port, path, events, SECRET, extra ? extra : "");
    return b;
}

/* Creates a webhook and returns its id (0 on failure). */
static long create_hook(const char *path, const char *events, const char *extra)
{
    char *b = hook_body(path, events, extra);
    struct resp r;
    long id = 0;
    if (qbd_request(&d, "POST", "/v1/webhooks", b, NULL, &r) == 0 && r.status == 201)
        id = (long)json_path_num(r.json, "id");
    else
        fprintf(stderr, "webhook creation: %ld %s\n", r.status, r.body);
    resp_free(&r);
    free(b);
    return id;
}

static int count_items(const char *path)
{
    struct resp r;
    int n = -1;
    if (qbd_request(&d, "GET", path, NULL, NULL, &r) == 0 && r.status == 200)
        n = cJSON_GetArraySize(json_path(r.json, "items"));
    resp_free(&r);
    return n;
}

static void run_and_wait(const char *plan, const char *state)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/plans/%s/runs?wait=120", plan);
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "POST", path, NULL, NULL, &r) == 0);
    TEST_EXPECT_STR(json_path_str(r.json, "run.state") ? json_path_str(r.json, "run.state")
                                                       : json_path_str(r.json, "state"),
                    state);
    resp_free(&r);
}

/* --------------------------------------------------------------- webhooks */

struct state_wait {
    const char *path;  /* the deliveries of a webhook */
    const char *state; /* of every one listed */
};

static bool delivery_state_is(void *ctx)
{
    struct state_wait *w = ctx;
    struct resp r;
    bool is = qbd_request(&d, "GET", w->path, NULL, NULL, &r) == 0 &&
              cJSON_GetArraySize(json_path(r.json, "items")) > 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, json_path(r.json, "items"))
    {
        const char *st = json_path_str(it, "state");
        is = is && st && !strcmp(st, w->state);
    }
    resp_free(&r);
    return is;
}

/* The receiver answers before qbackupd records the attempt: poll. */
static bool wait_delivery_state(const char *path, const char *state)
{
    struct state_wait w = {path, state};
    return harness_wait_until(delivery_state_is, &w, 30000);
}

static void test_bad_webhooks_are_refused_and_nothing_stored(void)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{\"url\":\"http://127.0.0.1:1/x\",\"events\":[\"run.exploded\"],"
         "\"secret\":\"0123456789abcdef\"}",
         "events[0]"},
        {"{\"url\":\"ftp://127.0.0.1/x\",\"events\":[\"run.failed\"],"
         "\"secret\":\"0123456789abcdef\"}",
         "url"},
        {"{\"url\":\"http://127.0.0.1:1/x\",\"events\":[\"run.failed\"],\"secret\":\"short\"}",
         "secret"},
        {"{\"url\":\"http://127.0.0.1:1/x\",\"events\":[],\"secret\":\"0123456789abcdef\"}",
         "events"},
        {"{\"url\":\"http://127.0.0.1:1/x\",\"events\":[\"run.failed\"],"
         "\"secret\":\"0123456789abcdef\",\"format\":\"xml\"}",
         "format"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp r;
        TEST_ASSERT(qbd_request(&d, "POST", "/v1/webhooks", cases[i].body, NULL, &r) == 0);
        EXPECT_PROBLEM(r, 400, "invalid_field");
        TEST_EXPECT_STR(json_path_str(r.json, "field"), cases[i].field);
        TEST_EXPECT(!strstr(r.body, "short\"")); /* the secret is not echoed */
        resp_free(&r);
    }
    TEST_EXPECT_INT(count_items("/v1/webhooks"), 0);
}

static void test_secret_is_never_echoed(void)
{
    long id = create_hook("/never", "[\"plan.stale\"]", NULL);
    TEST_ASSERT(id > 0);
    char path[64];
    snprintf(path, sizeof path, "/v1/webhooks/%ld", id);
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT(!strstr(r.body, SECRET));
    TEST_EXPECT(cJSON_IsTrue(json_path(r.json, "secret_set")));
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "PUT", path,
                            "{\"url\":\"http://127.0.0.1:1/y\",\"events\":[\"verify.failed\"]}",
                            NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_STR(json_path_str(r.json, "url"), "http://127.0.0.1:1/y");
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "DELETE", path, NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 204);
    resp_free(&r);
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
    EXPECT_PROBLEM(r, 404, "not_found");
    resp_free(&r);
}

static void test_deliveries_survive_a_restart(void)
{
    long id = create_hook("/hook", "[\"run.failed\",\"run.succeeded\"]", NULL);
    TEST_ASSERT(id > 0);
    /* Only plan "good", and only its instance: "bad"'s failure is not sent. */
    TEST_ASSERT(create_hook("/filtered", "[\"run.failed\",\"run.succeeded\"]",
                            ",\"plans\":[\"good\"],\"instances\":[\"default\"]") > 0);
    /* The receiver is down (answers 500) when the run fails. */
    atomic_store(&rx.status, 500);
    run_and_wait("bad", "failed");
    TEST_ASSERT(rx_wait("/hook", "run.failed", 500, 1));
    /* qbackupd restarts at once (so at most one more try meets the 500s,
     * far from webhook_max_attempts); the receiver comes back. */
    TEST_ASSERT(qbd_stop(&d) == 0);
    atomic_store(&rx.status, 200);
    struct seen first;
    TEST_ASSERT(rx_last("/hook", "run.failed", &first));
    TEST_EXPECT(signature_ok(&first));
    char delivery[128];
    snprintf(delivery, sizeof delivery, "%s", first.delivery);
    TEST_EXPECT(strncmp(delivery, "wh", 2) == 0);
    TEST_ASSERT(qbd_restart(&d) == 0);
    TEST_ASSERT(rx_wait("/hook", "run.failed", 200, 1));
    struct seen ok;
    TEST_ASSERT(rx_last("/hook", "run.failed", &ok));
    TEST_EXPECT_STR(ok.delivery, delivery); /* the same delivery, not a new one */
    TEST_EXPECT(signature_ok(&ok));
    cJSON *p = cJSON_Parse(ok.body);
    TEST_EXPECT_STR(json_path_str(p, "id"), delivery);
    TEST_EXPECT_STR(json_path_str(p, "event"), "run.failed");
    TEST_EXPECT_STR(json_path_str(p, "plan"), "bad");
    TEST_EXPECT_STR(json_path_str(p, "data.state"), "failed");
    TEST_EXPECT(json_path_num(p, "run_id") > 0);
    TEST_EXPECT(json_path_num(p, "event_id") > 0);
    cJSON_Delete(p);
    char path[96];
    snprintf(path, sizeof path, "/v1/webhooks/%ld/deliveries", id);
    TEST_ASSERT(wait_delivery_state(path, "delivered"));
    /* The delivery log: the failed tries, then the one that got through. */
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_STR(json_path_str(r.json, "items.0.id"), delivery);
    TEST_EXPECT_STR(json_path_str(r.json, "items.0.state"), "delivered");
    TEST_EXPECT_INT(json_path_num(r.json, "items.0.last_status"), 200);
    int attempts = (int)json_path_num(r.json, "items.0.attempts");
    TEST_EXPECT(attempts >= 2);
    TEST_EXPECT_INT(json_path_num(r.json, "items.0.attempt_log.0.status"), 500);
    char last[64];
    snprintf(last, sizeof last, "items.0.attempt_log.%d.status", attempts - 1);
    TEST_EXPECT_INT(json_path_num(r.json, last), 200);
    resp_free(&r);

    /* A run that succeeds is delivered too, once, under its own id. */
    run_and_wait("good", "succeeded");
    TEST_ASSERT(rx_wait("/hook", "run.succeeded", 200, 1));
    struct seen s;
    TEST_ASSERT(rx_last("/hook", "run.succeeded", &s));
    TEST_EXPECT(signature_ok(&s));
    TEST_EXPECT(strcmp(s.delivery, delivery) != 0);
    p = cJSON_Parse(s.body);
    TEST_EXPECT_STR(json_path_str(p, "plan"), "good");
    TEST_EXPECT_STR(json_path_str(p, "data.state"), "succeeded");
    cJSON_Delete(p);
    /* Nothing was queued twice: every request on /hook carried one of the
     * two delivery ids. */
    pthread_mutex_lock(&rx.lock);
    for (int i = 0; i < rx.n; i++)
        if (!strcmp(rx.seen[i].path, "/hook"))
            TEST_EXPECT(!strcmp(rx.seen[i].delivery, delivery) ||
                        !strcmp(rx.seen[i].delivery, s.delivery));
    pthread_mutex_unlock(&rx.lock);
    TEST_EXPECT_INT(rx_count("/hook", "run.succeeded", 0), 1);
    TEST_ASSERT(rx_wait("/filtered", "run.succeeded", 200, 1));
    TEST_EXPECT_INT(rx_count("/filtered", "run.failed", 0), 0);
}

static void test_slack_format_and_test_fire(void)
{
    long id = create_hook("/slack", "[\"run.failed\"]", ",\"format\":\"slack\"");
    TEST_ASSERT(id > 0);
    char path[96];
    snprintf(path, sizeof path, "/v1/webhooks/%ld/test", id);
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "POST", path, NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 202);
    TEST_EXPECT(json_path_str(r.json, "delivery_id") != NULL);
    resp_free(&r);
    TEST_ASSERT(rx_wait("/slack", "webhook.test", 200, 1));
    struct seen s;
    TEST_ASSERT(rx_last("/slack", "webhook.test", &s));
    TEST_EXPECT(signature_ok(&s));
    cJSON *m = cJSON_Parse(s.body);
    TEST_EXPECT(json_path_str(m, "text") && strstr(json_path_str(m, "text"), "webhook.test"));
    TEST_EXPECT_STR(json_path_str(m, "blocks.0.type"), "section");
    TEST_EXPECT_STR(json_path_str(m, "blocks.0.text.type"), "mrkdwn");
    cJSON_Delete(m);
}

/* A webhook disabled while a delivery waits for its next try sends nothing
 * more: the delivery ends dead, saying why (an operator who disables a
 * hook during an incident must not get a burst of stale events later). */
static void test_disabled_hook_sends_nothing_more(void)
{
    long id = create_hook("/paused", "[\"run.failed\"]", NULL);
    TEST_ASSERT(id > 0);
    atomic_store(&rx.status, 500);
    run_and_wait("bad", "failed");
    TEST_ASSERT(rx_wait("/paused", "run.failed", 500, 1));
    char path[96];
    snprintf(path, sizeof path, "/v1/webhooks/%ld", id);
    char *b = hook_body("/paused", "[\"run.failed\"]", ",\"enabled\":false");
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "PUT", path, b, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 200);
    resp_free(&r);
    free(b);
    atomic_store(&rx.status, 200);
    snprintf(path, sizeof path, "/v1/webhooks/%ld/deliveries", id);
    TEST_ASSERT(wait_delivery_state(path, "dead"));
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
    const char *why = json_path_str(r.json, "items.0.last_error");
    TEST_EXPECT(why && strstr(why, "disabled") != NULL);
    resp_free(&r);
    TEST_EXPECT_INT(rx_count("/paused", NULL, 200), 0);
}

static void test_failing_receiver_ends_dead_and_runs_go_on(void)
{
    long id = create_hook("/down", "[\"run.succeeded\"]", NULL);
    TEST_ASSERT(id > 0);
    atomic_store(&rx.status, 503);
    char path[96];
    snprintf(path, sizeof path, "/v1/webhooks/%ld/test", id);
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "POST", path, NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(r.status, 202);
    resp_free(&r);
    /* Runs are not held up by a failing receiver. */
    run_and_wait("good", "succeeded");
    snprintf(path, sizeof path, "/v1/webhooks/%ld/deliveries", id);
    TEST_ASSERT(wait_delivery_state(path, "dead"));
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
    int attempts = (int)json_path_num(r.json, "items.0.attempts");
    TEST_EXPECT_INT(attempts, 4); /* --webhook-max-attempts */
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items.0.attempt_log")), 4);
    resp_free(&r);
    /* The outbox on /metrics, read from the catalogue. */
    TEST_ASSERT(qbd_request(&d, "GET", "/metrics", NULL, NULL, &r) == 0);
    const char *dead = strstr(r.body, "qbackup_webhook_deliveries{state=\"dead\"} ");
    TEST_EXPECT(dead && atoi(strchr(dead, '}') + 2) >= 1);
    TEST_EXPECT(strstr(r.body, "# TYPE qbackup_webhook_deliveries gauge") != NULL);
    resp_free(&r);
    atomic_store(&rx.status, 200);
}

static void delete_all_hooks(void)
{
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "GET", "/v1/webhooks", NULL, NULL, &r) == 0);
    const cJSON *it;
    cJSON_ArrayForEach(it, json_path(r.json, "items"))
    {
        char path[64];
        snprintf(path, sizeof path, "/v1/webhooks/%ld", (long)json_path_num(it, "id"));
        struct resp x;
        TEST_EXPECT(qbd_request(&d, "DELETE", path, NULL, NULL, &x) == 0 && x.status == 204);
        resp_free(&x);
    }
    resp_free(&r);
}

static void test_hanging_receiver_does_not_hold_runs(void)
{
    delete_all_hooks();
    long id = create_hook("/hang", "[\"run.succeeded\"]", NULL);
    TEST_ASSERT(id > 0);
    atomic_store(&rx.status, -1);
    run_and_wait("good", "succeeded");
    TEST_ASSERT(rx_wait("/hang", "run.succeeded", -1, 1));
    /* While an attempt hangs, another run starts, succeeds and is queued. */
    run_and_wait("good", "succeeded");
    atomic_store(&rx.status, 200);
    char path[96];
    snprintf(path, sizeof path, "/v1/webhooks/%ld/deliveries", id);
    TEST_ASSERT(wait_delivery_state(path, "delivered"));
    struct resp r;
    TEST_ASSERT(qbd_request(&d, "GET", path, NULL, NULL, &r) == 0);
    TEST_EXPECT_INT(cJSON_GetArraySize(json_path(r.json, "items")), 2);
    /* The older delivery's first attempt got no answer: cut off at
     * webhook_timeout_ms, then retried. */
    TEST_EXPECT(cJSON_IsNull(json_path(r.json, "items.1.attempt_log.0.status")));
    const char *why = json_path_str(r.json, "items.1.attempt_log.0.error");
    TEST_EXPECT(why && strstr(why, "no answer"));
    resp_free(&r);
    atomic_store(&rx.status, 200);
}

/* --------------------------------------------------------------- chat-ops */

/* Sends a slash command from user with text, signed at ts with secret
 * (NULL: unsigned). */
static void slash(const char *user, const char *text, long long ts, const char *secret,
                  struct resp *r, char *body_out, char *sig_out)
{
    char body[512], sig[80] = "", tsh[64], sigh[120];
    snprintf(body, sizeof body,
             "token=x&team_id=T1&user_id=%s&command=%%2Fqbackup&text=%s&response_url="
             "http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fresponse",
             user, text, rx.port);
    if (secret) {
        char msg[700], hex[65];
        int n = snprintf(msg, sizeof msg, "v0:%lld:%s", ts, body);
        hmac_hex(secret, msg, (size_t)n, hex);
        snprintf(sig, sizeof sig, "v0=%s", hex);
    }
    snprintf(tsh, sizeof tsh, "X-Slack-Request-Timestamp: %lld", ts);
    snprintf(sigh, sizeof sigh, "X-Slack-Signature: %s", sig);
    const char *h[] = {"Content-Type: application/x-www-form-urlencoded", tsh, secret ? sigh : NULL,
                       NULL};
    if (qbd_request(&d, "POST", "/v1/chatops/slack", body, h, r) != 0)
        r->status = -1;
    if (body_out)
        strcpy(body_out, body);
    if (sig_out)
        strcpy(sig_out, sig);
}

static void test_slash_command_refusals_do_nothing(void)
{
    int runs = count_items("/v1/runs?limit=200");
    long long now = (long long)time(NULL);
    struct resp r;
    slash("U1", "run+good", now, NULL, &r, NULL, NULL);
    EXPECT_PROBLEM(r, 401, "unauthenticated");
    resp_free(&r);
    slash("U1", "run+good", now, "not-the-secret", &r, NULL, NULL);
    EXPECT_PROBLEM(r, 401, "unauthenticated");
    resp_free(&r);
    slash("U1", "run+good", now - 600, SLACK_SECRET, &r, NULL, NULL);
    EXPECT_PROBLEM(r, 401, "unauthenticated");
    resp_free(&r);
    slash("U9", "run+good", now, SLACK_SECRET, &r, NULL, NULL);
    EXPECT_PROBLEM(r, 403, "forbidden"); /* not in slack_users */
    resp_free(&r);
    slash("U2", "run+good", now, SLACK_SECRET, &r, NULL, NULL);
    EXPECT_PROBLEM(r, 403, "forbidden"); /* a viewer */
    resp_free(&r);
    slash("U1", "run+bad", now, SLACK_SECRET, &r, NULL, NULL);
    EXPECT_PROBLEM(r, 403, "forbidden"); /* a plan U1 may not touch */
    resp_free(&r);
    slash("U1", "restore+good+products+latest", now, SLACK_SECRET, &r, NULL, NULL);
    TEST_EXPECT_INT(r.status, 200); /* no "confirm": explained, not done */
    TEST_EXPECT(strstr(json_path_str(r.json, "text"), "confirm") != NULL);
    resp_free(&r);
    TEST_EXPECT_INT(count_items("/v1/runs?limit=200"), runs);
}

static void test_slash_command_runs_and_reports_later(void)
{
    int runs = count_items("/v1/runs?limit=200");
    int before = rx_count("/response", NULL, 0);
    long long now = (long long)time(NULL);
    struct resp r;
    char body[512], sig[80];
    slash("U1", "run+good", now, SLACK_SECRET, &r, body, sig);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT_STR(json_path_str(r.json, "response_type"), "ephemeral");
    TEST_EXPECT(strstr(json_path_str(r.json, "text"), "queued") != NULL);
    resp_free(&r);
    TEST_EXPECT_INT(count_items("/v1/runs?limit=200"), runs + 1);
    /* The same signed request again is a replay. */
    slash("U1", "run+good", now, SLACK_SECRET, &r, NULL, NULL);
    EXPECT_PROBLEM(r, 401, "unauthenticated");
    resp_free(&r);
    TEST_EXPECT_INT(count_items("/v1/runs?limit=200"), runs + 1);
    /* The outcome arrives at the response URL. */
    TEST_ASSERT(rx_wait("/response", NULL, 0, before + 1));
    struct seen s;
    TEST_ASSERT(rx_last("/response", NULL, &s));
    cJSON *m = cJSON_Parse(s.body);
    TEST_EXPECT_STR(json_path_str(m, "response_type"), "in_channel");
    TEST_EXPECT(strstr(json_path_str(m, "text"), "run.succeeded") != NULL);
    cJSON_Delete(m);
    /* A restore from chat, confirmed: queued, and its outcome posted too. */
    slash("U1", "restore+good+products+latest+confirm", now + 2, SLACK_SECRET, &r, NULL, NULL);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT(strstr(json_path_str(r.json, "text"), "restore") != NULL);
    resp_free(&r);
    TEST_ASSERT(rx_wait("/response", NULL, 0, before + 2));
    TEST_ASSERT(rx_last("/response", NULL, &s));
    m = cJSON_Parse(s.body);
    TEST_EXPECT(strstr(json_path_str(m, "text"), "restore.succeeded") != NULL);
    cJSON_Delete(m);
    /* status and snapshots answer at once. */
    slash("U2", "status", now, SLACK_SECRET, &r, NULL, NULL);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT(strstr(json_path_str(r.json, "text"), "good") != NULL);
    resp_free(&r);
    slash("U2", "snapshots+good", now + 1, SLACK_SECRET, &r, NULL, NULL);
    TEST_EXPECT_INT(r.status, 200);
    TEST_EXPECT(strstr(json_path_str(r.json, "text"), "products") != NULL);
    resp_free(&r);
}

int main(void)
{
    if (rx_start() != 0 || emu_start(&e, NULL) != 0) {
        fprintf(stderr, "receiver or emulator did not start\n");
        return 1;
    }
    if (emu_create_collection(&e, "products", 4) || emu_upsert(&e, "products", 20, 1))
        return 1;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "http://127.0.0.1:%d/", rx.port);
    const char *const args[] = {"--qdrant-url",
                                e.url,
                                "--retry-base-ms",
                                "20",
                                "--webhook-retry-base-ms",
                                "1000",
                                "--webhook-retry-max-ms",
                                "2000",
                                "--webhook-max-attempts",
                                "4",
                                "--webhook-timeout-ms",
                                "3000",
                                "--slack-users",
                                "U1:operator:good,U2:viewer:*",
                                "--slack-response-url-prefix",
                                prefix,
                                NULL};
    const char *const env[] = {"QBACKUP_SLACK_SIGNING_SECRET=" SLACK_SECRET, NULL};
    if (qbd_start(&d, args, env) != 0) {
        fprintf(stderr, "qbackupd did not start\n");
        return 1;
    }
    struct resp r;
    const char *plans[] = {
        "{\"name\":\"good\",\"collections\":[\"products\"]}",
        "{\"name\":\"bad\",\"collections\":[\"nope\"],\"allow_missing_collections\":true}"};
    for (int i = 0; i < 2; i++) {
        if (qbd_request(&d, "POST", "/v1/plans", plans[i], NULL, &r) || r.status != 201) {
            fprintf(stderr, "plan creation: %ld %s\n", r.status, r.body ? r.body : "");
            resp_free(&r);
            return 1;
        }
        resp_free(&r);
    }
    TEST_RUN(test_bad_webhooks_are_refused_and_nothing_stored);
    TEST_RUN(test_secret_is_never_echoed);
    TEST_RUN(test_deliveries_survive_a_restart);
    TEST_RUN(test_slack_format_and_test_fire);
    TEST_RUN(test_disabled_hook_sends_nothing_more);
    TEST_RUN(test_failing_receiver_ends_dead_and_runs_go_on);
    TEST_RUN(test_hanging_receiver_does_not_hold_runs);
    TEST_RUN(test_slash_command_refusals_do_nothing);
    TEST_RUN(test_slash_command_runs_and_reports_later);
    TEST_EXPECT(!qbd_log_contains(&d, SECRET));
    TEST_EXPECT(!qbd_log_contains(&d, SLACK_SECRET));
    TEST_EXPECT_INT(qbd_stop(&d), 0);
    qbd_cleanup(&d);
    TEST_EXPECT_INT(emu_stop(&e), 0);
    emu_cleanup(&e);
    rx_stop();
    return TEST_RESULT();
}
