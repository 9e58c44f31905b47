/* SPDX-License-Identifier: Apache-2.0
 *
 * log.c -- logfmt lines to stderr.  Owns the process-wide level threshold.
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Written once at start-up before threads start; only read afterwards. */
static enum log_level log_threshold = LOG_LEVEL_INFO;

void log_set_level(enum log_level level)
{
    log_threshold = level;
}

bool log_enabled(enum log_level level)
{
    return level >= log_threshold;
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *log_level_name(enum log_level level)
{
    return level_names[level];
}

bool log_parse_level(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(level_names); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_LEVEL_WARN;
        return true;
    }
    return false;
}

const char *log_quote(char *buf, size_t buflen, const char *s)
{
    if (!s)
        s = "";
    bool bare = *s != '\0';
    for (const char *p = s; *p && bare; p++)
        bare = !(*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20);
    if (bare) {
        qb_strlcpy(buf, s, buflen);
        return buf;
    }
    size_t o = 0;
    if (buflen < 3) {
        if (buflen)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (const char *p = s; *p && o + 3 < buflen; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else if (c < 0x20) {
            buf[o++] = '?';
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

const char *log_q(const char *s)
{
    /* Thread-local, so no lock: each thread cycles through its own four
     * buffers, enough for the arguments of one log call. */
    static _Thread_local char bufs[4][1024];
    static _Thread_local unsigned next;
    char *b = bufs[next++ % 4];
    return log_quote(b, sizeof bufs[0], s);
}

void log_write(enum log_level level, const char *request_id, const char *event, const char *fmt,
               ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);

    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], event);
    if (request_id && n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, " request_id=%s", request_id);
    if (fmt && *fmt && n > 0 && (size_t)n + 1 < sizeof line) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    if (n < 0)
        return;
    /* Truncated lines keep their newline so the next line starts clean. */
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* One write(2) per line: concurrent threads never interleave. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
