/* SPDX-License-Identifier: Apache-2.0
 *
 * common.c -- aborting allocators, error formatting and small portable
 * helpers shared by every module.  Owns no state.
 */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>

void qb_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "qbackup: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

static void oom(size_t n)
{
    fprintf(stderr, "qbackup: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        oom(count * n);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

enum qb_err qb_failf(enum qb_err rc, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

const char *qb_err_name(enum qb_err rc)
{
    switch (rc) {
    case QB_OK:
        return "ok";
    case QB_ERR_INTERNAL:
        return "internal";
    case QB_ERR_INVALID:
        return "invalid";
    case QB_ERR_NOT_FOUND:
        return "not_found";
    case QB_ERR_CONFLICT:
        return "conflict";
    case QB_ERR_IO:
        return "io";
    case QB_ERR_TRANSIENT:
        return "transient";
    case QB_ERR_REMOTE:
        return "remote";
    case QB_ERR_BUSY:
        return "busy";
    case QB_ERR_TOO_NEW:
        return "too_new";
    case QB_ERR_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

bool qb_strlcpy(char *dst, const char *src, size_t dstlen)
{
    if (dstlen == 0)
        return false;
    size_t n = strlen(src);
    bool fits = n < dstlen;
    if (!fits)
        n = dstlen - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return fits;
}

bool qb_consttime_eq(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a;
    const volatile unsigned char *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}

int64_t qb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t qb_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t qb_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void qb_sleep_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int qb_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void qb_format_time(int64_t t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

enum qb_err qb_mkdirs(const char *path, unsigned mode, char *err, size_t errlen)
{
    char *p = xstrdup(path);
    enum qb_err rc = QB_OK;
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
            rc = qb_failf(QB_ERR_IO, err, errlen, "cannot create directory %s: %s", p,
                          strerror(errno));
            break;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (!rc && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = qb_failf(QB_ERR_IO, err, errlen, "%s exists but is not a directory", path);
    free(p);
    return rc;
}

void qb_redact_url(const char *url, char *out, size_t outlen)
{
    const char *s = url ? url : "";
    const char *sep = strstr(s, "://");
    const char *auth = sep ? sep + 3 : s; /* start of [userinfo@]host[:port] */
    size_t auth_len = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', auth_len); /* drop "user:password@" */
    const char *host = at ? at + 1 : auth;
    const char *path = auth + auth_len;
    snprintf(out, outlen, "%.*s%.*s%.*s", (int)(auth - s), s, (int)(path - host), host,
             (int)strcspn(path, "?#"), path);
}
