/* SPDX-License-Identifier: Apache-2.0
 *
 * log.h -- structured (logfmt) log lines on stderr:
 *
 *     ts=2026-11-25T12:00:00.123Z level=info event=http.request request_id=ab12 status=200
 *
 * The level is checked before any argument is evaluated (the macros), and
 * one line is written with one write(2) so lines from concurrent threads
 * never interleave.  Secrets must never be passed in; values that may hold
 * spaces or quotes go through log_quote().
 */
#ifndef QB_LOG_H
#define QB_LOG_H

#include "common.h"

enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
};

/* The process-wide threshold.  Set once at start-up, before threads exist;
 * read without a lock afterwards. */
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
/* Parses "debug", "info", "warn"/"warning", "error". */
bool log_parse_level(const char *s, enum log_level *out) QB_MUSTCHECK;
const char *log_level_name(enum log_level level);

/* Writes one line.  request_id may be NULL.  fmt continues the line with
 * more key=value pairs (may be "" for none). */
void log_write(enum log_level level, const char *request_id, const char *event, const char *fmt,
               ...) QB_PRINTF(4, 5);

/* Renders s as a logfmt value into buf: bare if it has no space, quote, '='
 * or control character, else double-quoted with escapes.  Returns buf. */
const char *log_quote(char *buf, size_t buflen, const char *s);

/* log_quote into one of a few per-thread buffers (1 KiB each), for use as a
 * log_* argument: log_warn("x.failed", "error=%s", log_q(err)).  Up to four
 * log_q results may be used in one call. */
const char *log_q(const char *s);

#define QB_LOG_(level, rid, event, ...)                                                            \
    do {                                                                                           \
        if (log_enabled(level))                                                                    \
            log_write(level, rid, event, __VA_ARGS__);                                             \
    } while (0)

#define log_debug(event, ...) QB_LOG_(LOG_LEVEL_DEBUG, NULL, event, __VA_ARGS__)
#define log_info(event, ...)  QB_LOG_(LOG_LEVEL_INFO, NULL, event, __VA_ARGS__)
#define log_warn(event, ...)  QB_LOG_(LOG_LEVEL_WARN, NULL, event, __VA_ARGS__)
#define log_error(event, ...) QB_LOG_(LOG_LEVEL_ERROR, NULL, event, __VA_ARGS__)

/* Request-scoped variants: prefix the line with request_id. */
#define rlog_debug(rid, event, ...) QB_LOG_(LOG_LEVEL_DEBUG, rid, event, __VA_ARGS__)
#define rlog_info(rid, event, ...)  QB_LOG_(LOG_LEVEL_INFO, rid, event, __VA_ARGS__)
#define rlog_warn(rid, event, ...)  QB_LOG_(LOG_LEVEL_WARN, rid, event, __VA_ARGS__)
#define rlog_error(rid, event, ...) QB_LOG_(LOG_LEVEL_ERROR, rid, event, __VA_ARGS__)

#endif /* QB_LOG_H */
