/* SPDX-License-Identifier: Apache-2.0
 *
 * common.h -- the few things every qbackup module shares: the error
 * convention (enum qb_err), the aborting allocators, and QB_ASSERT.
 *
 * Error convention (used everywhere): a fallible function returns enum
 * qb_err, QB_OK (0) on success, and writes a human-readable reason into a
 * caller-supplied buffer of QB_ERRBUF_SIZE bytes when it fails.  Callers write
 *
 *     rc = f(..., err, sizeof err);
 *     if (rc)
 *         goto out;
 *
 * with one `out:` label that frees whatever is non-NULL.
 */
#ifndef QB_COMMON_H
#define QB_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define QB_ERRBUF_SIZE 512

enum qb_err {
    QB_OK = 0,
    QB_ERR_INTERNAL,  /* our own bug or an unexpected library failure */
    QB_ERR_INVALID,   /* bad input: configuration, arguments, request body */
    QB_ERR_NOT_FOUND, /* the named thing does not exist */
    QB_ERR_CONFLICT,  /* exists already, or state forbids the change */
    QB_ERR_IO,        /* file system or database I/O failed */
    QB_ERR_TRANSIENT, /* worth retrying: timeouts, 5xx, connection resets */
    QB_ERR_REMOTE,    /* a remote service refused permanently */
    QB_ERR_BUSY,      /* SQLite BUSY/LOCKED after the busy timeout */
    QB_ERR_TOO_NEW,   /* the database schema is newer than this binary */
    QB_ERR_CANCELLED, /* the operation was cancelled on request */
};

#if defined(__GNUC__)
#define QB_MUSTCHECK         __attribute__((warn_unused_result))
#define QB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define QB_NORETURN          __attribute__((noreturn))
#else
#define QB_MUSTCHECK
#define QB_PRINTF(fmt, args)
#define QB_NORETURN
#endif

#define QB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Frees and forgets, so a later `goto out` cannot free twice. */
#define QB_FREE(p)                                                                                 \
    do {                                                                                           \
        free(p);                                                                                   \
        (p) = NULL;                                                                                \
    } while (0)

/* Live in debug and sanitizer builds (NDEBUG unset), compiled out otherwise. */
#ifndef NDEBUG
#define QB_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            qb_assert_fail(#cond, __FILE__, __LINE__);                                             \
    } while (0)
#else
#define QB_ASSERT(cond) ((void)sizeof(cond)) /* not evaluated; keeps operands "used" */
#endif

QB_NORETURN void qb_assert_fail(const char *expr, const char *file, int line);

/* Allocators that abort on out-of-memory (Redis zmalloc style): a backup
 * daemon that cannot allocate a few bytes cannot make progress safely.
 * Failures of cJSON, libcurl and SQLite allocations are still checked. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; caller frees. */
char *xasprintf(const char *fmt, ...) QB_PRINTF(1, 2);

/* Writes a formatted reason into err (may be NULL) and returns rc, so that
 * `return qb_failf(QB_ERR_INVALID, err, errlen, "...")` reads as one step. */
enum qb_err qb_failf(enum qb_err rc, char *err, size_t errlen, const char *fmt, ...)
    QB_PRINTF(4, 5);

/* Stable lower-case name of an error code, for logs ("not_found"). */
const char *qb_err_name(enum qb_err rc);

/* Bounded copy that always terminates dst; returns false if truncated. */
bool qb_strlcpy(char *dst, const char *src, size_t dstlen);

/* Constant-time comparison of two equal-length buffers. */
bool qb_consttime_eq(const void *a, const void *b, size_t n);

/* Wall clock in milliseconds since the epoch, and a monotonic clock in ms. */
int64_t qb_now_ms(void);
int64_t qb_mono_ms(void);
int64_t qb_mono_us(void);

/* Sleeps ms milliseconds (<= 0: not at all), resuming after a signal, on
 * the calling thread only.  Callers that must notice a cancel or a stop
 * sleep in slices or on a condition variable instead. */
void qb_sleep_ms(long ms);

/* Value of one hex digit (either case), or -1 for anything else. */
int qb_hexval(char c);

/* Formats t (seconds since epoch, UTC) as RFC 3339 "2026-11-25T12:00:00Z". */
void qb_format_time(int64_t t, char *out, size_t outlen);

/* Creates path and its missing parents with mode (like mkdir -p). */
/* Copies url into out without its userinfo ("user:password@") and query
 * string, for messages and logs: what is left names the server, never a
 * credential. */
void qb_redact_url(const char *url, char *out, size_t outlen);

enum qb_err qb_mkdirs(const char *path, unsigned mode, char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_COMMON_H */
