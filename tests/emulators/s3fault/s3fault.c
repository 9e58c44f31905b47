/* SPDX-License-Identifier: Apache-2.0
 *
 * s3fault.c -- a fault-injecting proxy in front of a real S3 server, for
 * the fault-matrix tests (docs/internals/faults.md).  qbackupd's S3
 * endpoint points at the proxy; every request is forwarded byte for byte
 * (one header is added: "Connection: close", unsigned, so SigV4 still
 * holds, and each connection carries exactly one request the proxy can
 * classify), unless an armed rule matches it.
 *
 *     s3fault --upstream http://127.0.0.1:7480 [--port 0] [--host 127.0.0.1]
 *             [--conn-rate BYTES_PER_S]
 *
 * prints "listening on HOST:PORT" once bound.  --conn-rate caps every
 * connection's answer (S3 -> client) at that many bytes per second, paced
 * from its first byte: a model of a real network where one connection is
 * limited (latency x window, a per-connection cap of the store) while
 * several connections add up, which loopback alone does not have.  Requests
 * (client -> S3) are not capped, so uploads through the proxy keep their
 * speed.  Rules are armed over HTTP
 * on the proxy's own path prefix (no bucket name can start with "__"):
 *
 *     POST   /__s3fault/rules?op=part&part=2&action=error500&skip=0&count=1
 *     DELETE /__s3fault/rules            clears every rule
 *     GET    /__s3fault/stats            "create=N part=N ... fired=N held=N rules=N
 *                                         create_peak=N part_peak=N ..."
 *
 * (OP_peak: the most requests of that op forwarded at once so far, from
 * the request line read to S3's answer relayed: how parallel a client is.)
 *
 * op: create (POST ?uploads), part (PUT ?partNumber=), complete (POST
 * ?uploadId=), abort (DELETE ?uploadId=), put (PUT object), head, get,
 * delete, batchdelete (POST ?delete, DeleteObjects), any.  part: only that part number (0: any).
 * skip: let that many matching requests through first.  count: fire that many times (0: until
 * cleared).  action:
 *   slowdown     answer 503 SlowDown without forwarding
 *   error500     answer 500 InternalError without forwarding
 *   drop_mid     forward the headers and `after` body bytes (default half
 *                the Content-Length), then close both sides
 *   lose_answer  forward the whole request, let S3 act, then close the
 *                client's connection without any answer
 *   slow_answer  forward the request, then hold S3's answer for delay_ms
 *                (default 2000) before relaying it: S3 has acted, the
 *                client waits (a kill -9 in that window leaves S3's work
 *                behind, as a crash would)
 *   lose_answer_gone  as lose_answer, and from then on answer every
 *                Complete of that uploadId with 404 NoSuchUpload, as a
 *                server that forgets a completed upload does (Ceph RGW
 *                answers a repeated Complete with 200; AWS S3 need not)
 *   throttle     forward as usual, but relay S3's answer at rate= bytes per
 *                second (default 1000000) instead of --conn-rate
 *
 * DESIGN
 *   One thread per connection; a request is parsed only as far as its
 *   request line and headers.  A forwarded "Expect: 100-continue" is left
 *   to S3, except where the proxy must see the body itself (drop_mid,
 *   lose_answer): then it answers 100 Continue itself and strips the
 *   header, so the client's bytes flow.  Not a general proxy: no TLS, no
 *   pipelining (the Connection: close header rules it out).
 *
 * THREAD SAFETY NOTES
 *   g.mu guards the rules and the counters; it is never held across I/O.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX  65536
#define MAX_RULES 32

enum op {
    OP_CREATE,
    OP_PART,
    OP_COMPLETE,
    OP_ABORT,
    OP_PUT,
    OP_HEAD,
    OP_GET,
    OP_DELETE,
    OP_BATCHDELETE,
    OP_N
};
static const char *const op_names[OP_N] = {"create", "part", "complete", "abort",      "put",
                                           "head",   "get",  "delete",   "batchdelete"};

enum action {
    ACT_NONE,
    ACT_SLOWDOWN,
    ACT_ERROR500,
    ACT_DROP_MID,
    ACT_LOSE_ANSWER,
    ACT_LOSE_ANSWER_GONE,
    ACT_SLOW_ANSWER,
    ACT_THROTTLE,
    ACT_GONE /* not armable: the answer for a forgotten upload */
};

struct rule {
    int op; /* enum op, or -1 for any */
    unsigned part;
    unsigned skip, count; /* count 0: until cleared */
    enum action action;
    long long after; /* drop_mid: body bytes forwarded; -1: half */
    long delay_ms;   /* slow_answer */
    long long rate;  /* throttle: answer bytes per second */
};

static struct {
    pthread_mutex_t mu;
    struct rule rules[MAX_RULES];
    size_t n_rules;
    unsigned long seen[OP_N];
    unsigned long busy[OP_N]; /* forwarded requests of each op being served now */
    unsigned long peak[OP_N]; /* the most of them at once so far */
    unsigned long fired;
    unsigned long held;        /* slow_answer answers being held back now or before */
    char gone[MAX_RULES][256]; /* uploadIds lost by lose_answer_gone */
    size_t n_gone;
    char up_host[256], up_port[16];
    long long conn_rate; /* --conn-rate: answer bytes per second per connection, 0: none */
    atomic_int stop;     /* set by the signal handler, read by every thread: atomic, not volatile */
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* One parsed request head. */
struct req {
    char method[16];
    char target[4096];
    long long content_length; /* -1: none */
    bool expect;
    int op;
    unsigned part;
};

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

static const char *query_param(const char *target, const char *name, size_t *len)
{
    const char *q = strchr(target, '?');
    size_t nl = strlen(name);
    for (const char *p = q; p && *p; p = strchr(p + 1, '&')) {
        const char *k = p + 1;
        if (strncmp(k, name, nl) == 0 && (k[nl] == '=' || k[nl] == '&' || k[nl] == '\0')) {
            const char *v = k[nl] == '=' ? k + nl + 1 : k + nl;
            *len = strcspn(v, "&");
            return v;
        }
    }
    return NULL;
}

static long long query_num(const char *target, const char *name, long long dflt)
{
    size_t len;
    const char *v = query_param(target, name, &len);
    return v && len ? strtoll(v, NULL, 10) : dflt;
}

static void classify(struct req *r)
{
    size_t len;
    const char *m = r->method;
    bool upload_id = query_param(r->target, "uploadId", &len) != NULL;
    r->part = 0;
    if (!strcmp(m, "POST") && query_param(r->target, "uploads", &len))
        r->op = OP_CREATE;
    else if (!strcmp(m, "PUT") && query_param(r->target, "partNumber", &len)) {
        r->op = OP_PART;
        r->part = (unsigned)query_num(r->target, "partNumber", 0);
    } else if (!strcmp(m, "POST") && upload_id)
        r->op = OP_COMPLETE;
    else if (!strcmp(m, "POST") && query_param(r->target, "delete", &len))
        r->op = OP_BATCHDELETE;
    else if (!strcmp(m, "DELETE") && upload_id)
        r->op = OP_ABORT;
    else if (!strcmp(m, "PUT"))
        r->op = OP_PUT;
    else if (!strcmp(m, "HEAD"))
        r->op = OP_HEAD;
    else if (!strcmp(m, "DELETE"))
        r->op = OP_DELETE;
    else
        r->op = OP_GET;
}

/* Counts r and takes the first armed rule it triggers (copied to *out). */
static enum action take_rule(const struct req *r, struct rule *out)
{
    enum action a = ACT_NONE;
    pthread_mutex_lock(&g.mu);
    g.seen[r->op]++;
    size_t len;
    const char *id = query_param(r->target, "uploadId", &len);
    for (size_t i = 0; r->op == OP_COMPLETE && id && i < g.n_gone && a == ACT_NONE; i++)
        if (strlen(g.gone[i]) == len && !strncmp(g.gone[i], id, len))
            a = ACT_GONE;
    for (size_t i = 0; i < g.n_rules && a == ACT_NONE; i++) {
        struct rule *ru = &g.rules[i];
        if ((ru->op >= 0 && ru->op != r->op) || (ru->part && ru->part != r->part))
            continue;
        if (ru->skip) {
            ru->skip--;
            continue;
        }
        a = ru->action;
        *out = *ru;
        g.fired++;
        if (ru->count && --ru->count == 0)
            g.rules[i] = g.rules[--g.n_rules];
    }
    pthread_mutex_unlock(&g.mu);
    return a;
}

static void reply(int fd, int status, const char *reason, const char *ctype, const char *body)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, ctype, strlen(body));
    if (write_all(fd, head, (size_t)n))
        write_all(fd, body, strlen(body));
}

static void s3_error(int fd, int status, const char *reason, const char *code)
{
    char body[512];
    snprintf(body, sizeof body,
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
             "<Message>injected by s3fault</Message><RequestId>s3fault</RequestId></Error>",
             code);
    reply(fd, status, reason, "application/xml", body);
}

/* The admin routes; the request has no body worth reading. */
static void admin(int fd, const struct req *r)
{
    char body[1024];
    if (!strcmp(r->method, "DELETE")) {
        pthread_mutex_lock(&g.mu);
        g.n_rules = 0;
        g.n_gone = 0;
        pthread_mutex_unlock(&g.mu);
        reply(fd, 200, "OK", "text/plain", "cleared\n");
        return;
    }
    if (!strcmp(r->method, "GET")) {
        size_t n = 0;
        pthread_mutex_lock(&g.mu);
        for (int i = 0; i < OP_N; i++)
            n += (size_t)snprintf(body + n, sizeof body - n, "%s=%lu ", op_names[i], g.seen[i]);
        n += (size_t)snprintf(body + n, sizeof body - n, "fired=%lu held=%lu rules=%zu", g.fired,
                              g.held, g.n_rules);
        for (int i = 0; i < OP_N; i++)
            n +=
                (size_t)snprintf(body + n, sizeof body - n, " %s_peak=%lu", op_names[i], g.peak[i]);
        snprintf(body + n, sizeof body - n, "\n");
        pthread_mutex_unlock(&g.mu);
        reply(fd, 200, "OK", "text/plain", body);
        return;
    }
    struct rule ru = {.op = -1, .after = -1};
    size_t len;
    const char *v = query_param(r->target, "op", &len);
    if (v && !(len == 3 && !strncmp(v, "any", 3))) {
        ru.op = -2;
        for (int i = 0; i < OP_N; i++)
            if (strlen(op_names[i]) == len && !strncmp(v, op_names[i], len))
                ru.op = i;
    }
    static const char *const acts[] = {"",
                                       "slowdown",
                                       "error500",
                                       "drop_mid",
                                       "lose_answer",
                                       "lose_answer_gone",
                                       "slow_answer",
                                       "throttle"};
    v = query_param(r->target, "action", &len);
    for (size_t i = 1; v && i < sizeof acts / sizeof acts[0]; i++)
        if (strlen(acts[i]) == len && !strncmp(v, acts[i], len))
            ru.action = (enum action)i;
    ru.part = (unsigned)query_num(r->target, "part", 0);
    ru.skip = (unsigned)query_num(r->target, "skip", 0);
    ru.count = (unsigned)query_num(r->target, "count", 1);
    ru.after = query_num(r->target, "after", -1);
    ru.delay_ms = (long)query_num(r->target, "delay_ms", 2000);
    ru.rate = query_num(r->target, "rate", 1000000);
    if (ru.op == -2 || ru.action == ACT_NONE || ru.rate <= 0) {
        reply(fd, 400, "Bad Request", "text/plain", "bad op or action\n");
        return;
    }
    pthread_mutex_lock(&g.mu);
    bool room = g.n_rules < MAX_RULES;
    if (room)
        g.rules[g.n_rules++] = ru;
    pthread_mutex_unlock(&g.mu);
    reply(fd, room ? 200 : 507, room ? "OK" : "Insufficient Storage", "text/plain",
          room ? "armed\n" : "too many rules\n");
}

/* Reads the request head into buf (NUL-terminated); *head_len is its
 * length including the blank line, *have what was read (body bytes may
 * follow the head). */
static bool read_head(int fd, char *buf, size_t cap, size_t *head_len, size_t *have)
{
    size_t n = 0;
    for (;;) {
        ssize_t got = recv(fd, buf + n, cap - 1 - n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false;
        n += (size_t)got;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            *head_len = (size_t)(end - buf) + 4;
            *have = n;
            return true;
        }
        if (n + 1 >= cap)
            return false;
    }
}

/* Parses the request line and the headers the proxy acts on. */
static bool parse_head(const char *buf, struct req *r)
{
    memset(r, 0, sizeof *r);
    r->content_length = -1;
    if (sscanf(buf, "%15s %4095s", r->method, r->target) != 2)
        return false;
    for (const char *l = strstr(buf, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (!strncasecmp(h, "Content-Length:", 15))
            r->content_length = strtoll(h + 15, NULL, 10);
        else if (!strncasecmp(h, "Expect:", 7))
            r->expect = true;
    }
    classify(r);
    return true;
}

/* The head as forwarded, into out: Connection headers dropped, Expect
 * dropped when strip_expect, "Connection: close" added. */
static size_t rewrite_head(const char *buf, size_t head_len, bool strip_expect, char *out)
{
    size_t o = 0;
    const char *l = buf, *end = buf + head_len - 2; /* keep the final CRLF for last */
    while (l < end) {
        const char *nl = strstr(l, "\r\n");
        size_t n = (size_t)(nl - l) + 2;
        bool drop =
            !strncasecmp(l, "Connection:", 11) || (strip_expect && !strncasecmp(l, "Expect:", 7));
        if (!drop) {
            memcpy(out + o, l, n);
            o += n;
        }
        l = nl + 2;
    }
    memcpy(out + o, "Connection: close\r\n\r\n", 21);
    return o + 21;
}

static int connect_upstream(void)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(g.up_host, g.up_port, &hints, &ai) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *p = ai; p && fd < 0; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype, 0);
        if (fd >= 0 && connect(fd, p->ai_addr, p->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Answer pacing: after `sent` bytes since t0, sleeps until rate allows them
 * (a token bucket without burst: the average from the first byte on holds
 * the rate, and no read is larger than 20 ms of it). */
static void pace(double t0, long long sent, long long rate)
{
    double due = t0 + (double)sent / (double)rate;
    for (double left; !g.stop && (left = due - now_s()) > 0;)
        usleep(left > 0.05 ? 50000 : (useconds_t)(left * 1e6));
}

/* Relays both ways until upstream closes.  limit: client bytes still to
 * forward before both sides are cut (-1: no limit).  answer: relay the
 * upstream's bytes to the client (false: swallow them).  rate: answer bytes
 * per second (0: as fast as they come). */
static void pump(int cfd, int ufd, long long limit, bool answer, long hold_ms, long long rate)
{
    char buf[65536];
    bool client_open = true;
    size_t chunk = sizeof buf;
    if (rate > 0 && (unsigned long long)rate / 50 < chunk)
        chunk = rate / 50 > 0 ? (size_t)(rate / 50) : 1;
    double t0 = 0;
    long long sent = 0;
    for (;;) {
        struct pollfd p[2] = {{.fd = ufd, .events = POLLIN},
                              {.fd = client_open ? cfd : -1, .events = POLLIN}};
        if (poll(p, 2, 1000) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (p[0].revents) {
            ssize_t n = recv(ufd, buf, chunk, 0);
            if (n <= 0)
                return;
            if (hold_ms > 0) { /* once, before the first byte */
                pthread_mutex_lock(&g.mu);
                g.held++;
                pthread_mutex_unlock(&g.mu);
            }
            for (; hold_ms > 0 && !g.stop; hold_ms -= 50)
                usleep(50 * 1000);
            if (answer && !write_all(cfd, buf, (size_t)n))
                return;
            if (rate > 0) {
                if (sent == 0)
                    t0 = now_s();
                sent += n;
                pace(t0, sent, rate);
            }
        }
        if (client_open && p[1].revents) {
            size_t want = sizeof buf;
            if (limit >= 0 && (unsigned long long)limit < want)
                want = (size_t)limit;
            if (limit == 0)
                return;
            ssize_t n = recv(cfd, buf, want, 0);
            if (n <= 0) {
                client_open = false; /* half-closed: still wait for the answer */
                shutdown(ufd, SHUT_WR);
                continue;
            }
            if (!write_all(ufd, buf, (size_t)n))
                return;
            if (limit > 0 && (limit -= n) == 0)
                return;
        }
        if (g.stop)
            return;
    }
}

/* Reads and discards a known-length body so an early answer reaches a
 * client that sends without waiting for 100 Continue. */
static void drain(int fd, long long left)
{
    char buf[65536];
    while (left > 0) {
        ssize_t n = recv(fd, buf, left < (long long)sizeof buf ? (size_t)left : sizeof buf, 0);
        if (n <= 0)
            return;
        left -= n;
    }
}

static void remember_gone(const char *target)
{
    size_t len;
    const char *id = query_param(target, "uploadId", &len);
    pthread_mutex_lock(&g.mu);
    if (id && len < sizeof g.gone[0] && g.n_gone < MAX_RULES) {
        memcpy(g.gone[g.n_gone], id, len);
        g.gone[g.n_gone++][len] = '\0';
    }
    pthread_mutex_unlock(&g.mu);
}

static void serve(int cfd)
{
    char *buf = malloc(HEAD_MAX), *out = malloc(HEAD_MAX + 64);
    size_t head_len = 0, have = 0;
    struct req r;
    if (!buf || !out || !read_head(cfd, buf, HEAD_MAX, &head_len, &have) || !parse_head(buf, &r))
        goto out;
    if (!strncmp(r.target, "/__s3fault/", 11)) {
        admin(cfd, &r);
        goto out;
    }
    struct rule ru = {.op = -1,
                      .after = -1}; /* gcc -O2 cannot see match_rule sets it when it matters */
    enum action a = take_rule(&r, &ru);
    printf("%s %s part=%u action=%d\n", r.method, op_names[r.op], r.part, (int)a);
    fflush(stdout);
    size_t early = have - head_len; /* body bytes already read */
    if (a == ACT_SLOWDOWN || a == ACT_ERROR500) {
        if (!r.expect && r.content_length > 0)
            drain(cfd, r.content_length - (long long)early);
        if (a == ACT_SLOWDOWN)
            s3_error(cfd, 503, "Slow Down", "SlowDown");
        else
            s3_error(cfd, 500, "Internal Server Error", "InternalError");
        goto out;
    }
    if (a == ACT_GONE) {
        if (!r.expect && r.content_length > 0)
            drain(cfd, r.content_length - (long long)early);
        s3_error(cfd, 404, "Not Found", "NoSuchUpload");
        goto out;
    }
    bool lose = a == ACT_LOSE_ANSWER || a == ACT_LOSE_ANSWER_GONE;
    bool own_expect = r.expect && (a == ACT_DROP_MID || a == ACT_SLOW_ANSWER || lose);
    int ufd = connect_upstream();
    if (ufd < 0) {
        s3_error(cfd, 502, "Bad Gateway", "ServiceUnavailable");
        goto out;
    }
    pthread_mutex_lock(&g.mu);
    if (++g.busy[r.op] > g.peak[r.op])
        g.peak[r.op] = g.busy[r.op];
    pthread_mutex_unlock(&g.mu);
    size_t n = rewrite_head(buf, head_len, own_expect, out);
    long long limit = -1;
    if (a == ACT_DROP_MID)
        limit = ru.after >= 0 ? ru.after : (r.content_length > 0 ? r.content_length / 2 : 0);
    size_t first = early;
    if (limit >= 0 && (long long)first > limit)
        first = (size_t)limit;
    bool ok = write_all(ufd, out, n) && write_all(ufd, buf + head_len, first);
    if (limit >= 0)
        limit -= (long long)first;
    if (ok && own_expect)
        ok = write_all(cfd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    if (ok && limit != 0)
        pump(cfd, ufd, limit, !lose, a == ACT_SLOW_ANSWER ? ru.delay_ms : 0,
             a == ACT_THROTTLE ? ru.rate : g.conn_rate);
    close(ufd);
    pthread_mutex_lock(&g.mu);
    g.busy[r.op]--;
    pthread_mutex_unlock(&g.mu);
    if (a == ACT_LOSE_ANSWER_GONE)
        remember_gone(r.target);
out:
    free(buf);
    free(out);
    close(cfd);
}

static void *conn_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    serve(fd);
    return NULL;
}

static void on_term(int sig)
{
    (void)sig;
    g.stop = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: s3fault --upstream http://HOST:PORT [--port N] [--host ADDR]"
                    " [--conn-rate BYTES_PER_S]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *upstream = NULL, *host = "127.0.0.1";
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--upstream") && i + 1 < argc)
            upstream = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc)
            host = argv[++i];
        else if (!strcmp(argv[i], "--conn-rate") && i + 1 < argc) {
            g.conn_rate = strtoll(argv[++i], NULL, 10);
            if (g.conn_rate <= 0)
                return usage();
        } else
            return usage();
    }
    if (!upstream || strncmp(upstream, "http://", 7) != 0)
        return usage();
    const char *hp = upstream + 7;
    size_t hl = strcspn(hp, ":/");
    if (hl == 0 || hl >= sizeof g.up_host)
        return usage();
    memcpy(g.up_host, hp, hl);
    snprintf(g.up_port, sizeof g.up_port, "%ld",
             hp[hl] == ':' ? strtol(hp + hl + 1, NULL, 10) : 80L);

    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t al = sizeof a;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
        bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 128) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) != 0) {
        perror("s3fault: listen");
        return 1;
    }
    printf("listening on %s:%d\n", host, ntohs(a.sin_port));
    fflush(stdout);
    while (!g.stop) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        int cfd = accept(lfd, NULL, NULL);
        if (cfd < 0)
            continue;
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, conn_thread, (void *)(intptr_t)cfd) != 0)
            close(cfd);
        pthread_attr_destroy(&at);
    }
    close(lfd);
    return 0;
}
