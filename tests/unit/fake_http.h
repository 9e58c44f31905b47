/* SPDX-License-Identifier: Apache-2.0
 *
 * fake_http.h -- a tiny HTTP server on loopback for tests of the wire
 * clients' retries: it answers each request with a scripted status (S3
 * error documents at hand), closes the connection, and counts the requests
 * by method.  Header-only (static functions) so that unit and integration
 * tests can both include it.
 */
#ifndef QB_FAKE_HTTP_H
#define QB_FAKE_HTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Answers the i-th request with statuses[i] (the last one repeating),
 * then closes the connection.  Counts the requests, and the PUTs apart. */
struct fake_http {
    int fd;
    int port;
    pthread_t thread;
    atomic_int requests;
    atomic_int puts;
    atomic_bool stop;
    long statuses[8];
    size_t n_statuses;
    const char *body; /* sent with every non-2xx answer */
};

#define FAKE_HTTP_SLOWDOWN                                                                         \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"                       \
    "<Message>Please reduce your request rate.</Message></Error>"
#define FAKE_HTTP_DENIED                                                                           \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"                   \
    "<Message>Access Denied</Message></Error>"

/* Reads one request (headers and a Content-Length body) from c; true when
 * it was a PUT. */
static bool fake_http_read(int c)
{
    char buf[8192];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(c, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            return false;
        have += (size_t)n;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        /* curl waits up to a second for this before sending a PUT body. */
        if (strcasestr(buf, "\r\nexpect: 100-continue") &&
            write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
            return false;
        const char *cl = strcasestr(buf, "\r\ncontent-length:");
        size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
        size_t body = have - (size_t)(end + 4 - buf);
        while (body < want) { /* drain the body; its content does not matter */
            ssize_t m = read(c, end, (size_t)(buf + sizeof buf - end));
            if (m <= 0)
                return false;
            body += (size_t)m;
        }
        return strncmp(buf, "PUT ", 4) == 0;
    }
}

static void *fake_http_main(void *ud)
{
    struct fake_http *f = ud;
    while (!atomic_load(&f->stop)) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        if (atomic_load(&f->stop)) {
            close(c);
            break;
        }
        if (fake_http_read(c))
            atomic_fetch_add(&f->puts, 1);
        int i = atomic_fetch_add(&f->requests, 1);
        long st = f->statuses[(size_t)i < f->n_statuses ? (size_t)i : f->n_statuses - 1];
        const char *body = st >= 200 && st < 300 ? "" : f->body ? f->body : "";
        char head[256];
        int hn = snprintf(head, sizeof head,
                          "HTTP/1.1 %ld X\r\nContent-Type: application/xml\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          st, strlen(body));
        if (write(c, head, (size_t)hn) < 0 || write(c, body, strlen(body)) < 0)
            perror("fake write");
        close(c);
    }
    return NULL;
}

static bool fake_http_start(struct fake_http *f, const long *statuses, size_t n, const char *body)
{
    memset(f, 0, sizeof *f);
    memcpy(f->statuses, statuses, n * sizeof *statuses);
    f->n_statuses = n;
    f->body = body;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(f->fd, 16) != 0 ||
        getsockname(f->fd, (struct sockaddr *)&a, &al) != 0)
        return false;
    f->port = ntohs(a.sin_port);
    return pthread_create(&f->thread, NULL, fake_http_main, f) == 0;
}

static void fake_http_stop(struct fake_http *f)
{
    atomic_store(&f->stop, true);
    /* Wake the accept() with one last connection. */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)f->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (c >= 0 && connect(c, (struct sockaddr *)&a, sizeof a) != 0)
        perror("fake wake");
    if (c >= 0)
        close(c);
    pthread_join(f->thread, NULL);
    close(f->fd);
}

#endif /* QB_FAKE_HTTP_H */
