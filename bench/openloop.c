/* SPDX-License-Identifier: Apache-2.0
 *
 * openloop.c -- an open-loop HTTP load generator for bench/api-load.sh.
 *
 * wrk is closed-loop: each connection sends its next request as soon as the
 * last answer arrives, so it takes every CPU cycle the server leaves and a
 * slow answer delays the requests behind it without counting them as late
 * ("coordinated omission").  A dashboard is not like that: it polls at a
 * rate, whatever the server does.  This tool sends GET requests at a fixed
 * rate (request i is due at start + i/rate), over a pool of keep-alive
 * connections, and measures each latency from the moment the request was
 * due, not from when a connection became free to send it.  When every
 * connection is busy, due requests wait in a backlog and their waiting
 * counts.  So "p99 at 1,000 req/s" means what a poller at that rate sees.
 *
 * Usage: openloop -u http://127.0.0.1:PORT/path -r RATE -d SECONDS
 *                 [-c CONNECTIONS] [-H "Header: value"]
 * Prints one line of key=value pairs on stdout:
 *   due sent ok non2xx errors late rps p50 p90 p99 p999 max (ms)
 * "late" counts requests still unanswered when the run ended (counted as
 * errors too); rps is answered requests per second of the run.
 * SIGINT or SIGTERM ends the run early and reports it (api-load.sh stops
 * the load that way when the backup it measures ends).
 * Exit status 0 when the run completed, 2 on bad usage or no connection.
 *
 * HTTP/1.1 only, plain TCP, answers with Content-Length or chunked bodies;
 * that is what qbackupd speaks.  Built by hand (see api-load.sh); it is a
 * benchmark tool, not part of the daemon or its tests.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define RBUF_SIZE (4 * 1024 * 1024)

struct conn {
    int fd;
    bool busy;  /* a request is outstanding */
    double due; /* when the outstanding request was due (s) */
    char *rbuf; /* what has arrived of the current answer */
    size_t rlen;
};

static struct sockaddr_in g_addr;
static char g_request[4096];
static size_t g_request_len;
static double *g_lat; /* latencies in ms of answered requests */
static size_t g_nlat, g_caplat;
static uint64_t g_ok, g_non2xx, g_errors, g_sent;
static volatile sig_atomic_t g_stop; /* SIGINT/SIGTERM: end the run now and report */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg)
{
    fprintf(stderr, "openloop: %s\n", msg);
    exit(2);
}

static int conn_open(struct conn *c, int ep)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Blocking connect on loopback is immediate; then non-blocking I/O. */
    if (connect(c->fd, (struct sockaddr *)&g_addr, sizeof g_addr) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    c->busy = false;
    c->rlen = 0;
    return 0;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->busy = false;
    c->rlen = 0;
}

static void record(double due, int status)
{
    if (g_nlat == g_caplat) {
        g_caplat = g_caplat ? g_caplat * 2 : 65536;
        g_lat = realloc(g_lat, g_caplat * sizeof *g_lat);
        if (!g_lat)
            die("out of memory");
    }
    g_lat[g_nlat++] = (now_s() - due) * 1000.0;
    if (status >= 200 && status < 300)
        g_ok++;
    else
        g_non2xx++;
}

/* Length of a complete chunked body at b (n bytes), or 0 if incomplete. */
static size_t chunked_len(const char *b, size_t n)
{
    size_t off = 0;
    for (;;) {
        const char *eol = memmem(b + off, n - off, "\r\n", 2);
        if (!eol)
            return 0;
        unsigned long sz = strtoul(b + off, NULL, 16);
        off = (size_t)(eol - b) + 2;
        if (sz == 0) { /* no trailers from qbackupd: just the final CRLF */
            return n - off >= 2 ? off + 2 : 0;
        }
        if (n - off < sz + 2)
            return 0;
        off += sz + 2;
    }
}

/* If c->rbuf holds a complete answer: its status, and *used its length.
 * 0 when more bytes are needed, -1 when the answer cannot be parsed. */
static int parse_answer(struct conn *c, size_t *used, bool *close_after)
{
    const char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!end)
        return c->rlen >= RBUF_SIZE ? -1 : 0;
    size_t hlen = (size_t)(end - c->rbuf) + 4;
    int status = 0;
    if (sscanf(c->rbuf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    long clen = -1;
    bool chunked = false;
    *close_after = false;
    for (const char *p = c->rbuf; p < end;) {
        const char *eol = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
        if (!eol)
            break;
        if (strncasecmp(p, "content-length:", 15) == 0)
            clen = strtol(p + 15, NULL, 10);
        else if (strncasecmp(p, "transfer-encoding:", 18) == 0 && strcasestr(p, "chunked") &&
                 strcasestr(p, "chunked") < eol)
            chunked = true;
        else if (strncasecmp(p, "connection:", 11) == 0 && strcasestr(p, "close") &&
                 strcasestr(p, "close") < eol)
            *close_after = true;
        p = eol + 2;
    }
    size_t blen;
    if (chunked) {
        blen = chunked_len(c->rbuf + hlen, c->rlen - hlen);
        if (!blen)
            return c->rlen >= RBUF_SIZE ? -1 : 0;
    } else if (clen >= 0) {
        if (c->rlen - hlen < (size_t)clen)
            return c->rlen >= RBUF_SIZE ? -1 : 0;
        blen = (size_t)clen;
    } else {
        return -1; /* read-to-close bodies are not used by qbackupd */
    }
    *used = hlen + blen;
    return status;
}

/* Reads what arrived; when a whole answer is there, records it.  An answer
 * larger than the buffer counts as an error (RBUF_SIZE is far above what
 * qbackupd's read routes send). */
static int on_readable(struct conn *c, int ep)
{
    for (;;) {
        if (c->rlen == RBUF_SIZE)
            return -1;
        ssize_t n = read(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen);
        if (n > 0) {
            c->rlen += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        /* closed or failed */
        if (c->busy)
            g_errors++;
        conn_close(c);
        return conn_open(c, ep);
    }
    size_t used = 0;
    bool close_after = false;
    int st = parse_answer(c, &used, &close_after);
    if (st == 0)
        return 0;
    if (st < 0 || !c->busy) {
        if (c->busy)
            g_errors++;
        conn_close(c);
        return conn_open(c, ep);
    }
    record(c->due, st);
    c->busy = false;
    memmove(c->rbuf, c->rbuf + used, c->rlen - used);
    c->rlen -= used;
    if (close_after) {
        conn_close(c);
        return conn_open(c, ep);
    }
    return 0;
}

static int send_request(struct conn *c, double due)
{
    size_t off = 0;
    while (off < g_request_len) {
        ssize_t n = write(c->fd, g_request + off, g_request_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1; /* a request this small fits in an empty socket buffer */
        off += (size_t)n;
    }
    c->busy = true;
    c->due = due;
    g_sent++;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double p)
{
    if (!g_nlat)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(g_nlat - 1) + 0.5);
    return g_lat[i];
}

int main(int argc, char **argv)
{
    const char *url = NULL, *header = NULL;
    double rate = 0, duration = 0;
    int nconns = 16, opt;
    while ((opt = getopt(argc, argv, "u:r:d:c:H:")) != -1) {
        switch (opt) {
        case 'u':
            url = optarg;
            break;
        case 'r':
            rate = atof(optarg);
            break;
        case 'd':
            duration = atof(optarg);
            break;
        case 'c':
            nconns = atoi(optarg);
            break;
        case 'H':
            header = optarg;
            break;
        default:
            die("usage: openloop -u URL -r RATE -d SECONDS [-c CONNS] [-H HEADER]");
        }
    }
    if (!url || rate <= 0 || duration <= 0 || nconns < 1 || nconns > MAX_CONNS)
        die("usage: openloop -u URL -r RATE -d SECONDS [-c CONNS] [-H HEADER]");
    char host[256];
    int port = 80;
    const char *path;
    if (strncmp(url, "http://", 7) != 0)
        die("only http:// URLs");
    const char *hp = url + 7;
    const char *slash = strchr(hp, '/');
    path = slash ? slash : "/";
    size_t hl = slash ? (size_t)(slash - hp) : strlen(hp);
    if (hl >= sizeof host)
        die("host too long");
    memcpy(host, hp, hl);
    host[hl] = '\0';
    char *colon = strchr(host, ':');
    if (colon) {
        *colon = '\0';
        port = atoi(colon + 1);
    }
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &g_addr.sin_addr) != 1)
        die("host must be an IPv4 address");
    int len = snprintf(g_request, sizeof g_request,
                       "GET %s HTTP/1.1\r\nHost: %s:%d\r\n%s%s"
                       "User-Agent: qbackup-openloop\r\n\r\n",
                       path, host, port, header ? header : "", header ? "\r\n" : "");
    if (len < 0 || (size_t)len >= sizeof g_request)
        die("request too long");
    g_request_len = (size_t)len;

    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: epoll_wait returns */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct conn *conns = calloc((size_t)nconns, sizeof *conns);
    for (int i = 0; i < nconns; i++) {
        conns[i].rbuf = malloc(RBUF_SIZE);
        if (conn_open(&conns[i], ep) != 0)
            die("cannot connect");
    }

    double start = now_s(), end = start + duration, interval = 1.0 / rate;
    uint64_t due_count = 0; /* requests whose due time has come */
    uint64_t next = 0;      /* next request to send (index into the schedule) */
    int rr = 0;
    struct epoll_event evs[64];
    for (;;) {
        double t = now_s();
        if (t >= end || g_stop)
            break;
        uint64_t due_now = (uint64_t)((t - start) / interval) + 1;
        due_count = due_now;
        /* Send every due request an idle connection can take. */
        while (next < due_count) {
            int k = -1;
            for (int j = 0; j < nconns; j++) {
                int i = (rr + j) % nconns;
                if (conns[i].fd >= 0 && !conns[i].busy) {
                    k = i;
                    break;
                }
            }
            if (k < 0)
                break;
            rr = (k + 1) % nconns;
            if (send_request(&conns[k], start + (double)next * interval) != 0) {
                g_errors++;
                conn_close(&conns[k]);
                conn_open(&conns[k], ep);
            }
            next++;
        }
        double wait = start + (double)due_count * interval - now_s();
        int ms = wait > 0 ? (int)(wait * 1000.0) : 0;
        int n = epoll_wait(ep, evs, 64, ms);
        for (int i = 0; i < n; i++)
            on_readable(evs[i].data.ptr, ep);
    }
    double elapsed = now_s() - start;
    uint64_t late = 0;
    for (int i = 0; i < nconns; i++)
        if (conns[i].busy)
            late++;
    late += due_count - next; /* never sent: still in the backlog */
    g_errors += late;
    qsort(g_lat, g_nlat, sizeof *g_lat, cmp_double);
    printf("due=%llu sent=%llu ok=%llu non2xx=%llu errors=%llu late=%llu rps=%.0f "
           "p50=%.1f p90=%.1f p99=%.1f p999=%.1f max=%.1f\n",
           (unsigned long long)due_count, (unsigned long long)g_sent, (unsigned long long)g_ok,
           (unsigned long long)g_non2xx, (unsigned long long)g_errors, (unsigned long long)late,
           (double)(g_ok + g_non2xx) / elapsed, pct(50), pct(90), pct(99), pct(99.9),
           g_nlat ? g_lat[g_nlat - 1] : 0.0);
    for (int i = 0; i < nconns; i++) {
        conn_close(&conns[i]);
        free(conns[i].rbuf);
    }
    free(conns);
    free(g_lat);
    close(ep);
    return 0;
}
