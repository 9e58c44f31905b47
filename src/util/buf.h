/* SPDX-License-Identifier: Apache-2.0
 *
 * buf.h -- a growable byte buffer with a hard cap (curl's dynbuf idea):
 * every buffer that grows with remote or client input has a limit, and
 * exceeding it is an error the caller must handle, never a silent realloc
 * of unbounded size.  The content is always NUL-terminated.
 */
#ifndef QB_BUF_H
#define QB_BUF_H

#include "common.h"

#include <stdarg.h>

struct buf {
    char *data; /* owned; NUL-terminated; NULL until the first append */
    size_t len; /* bytes used, excluding the terminator */
    size_t cap; /* bytes allocated */
    size_t max; /* hard limit on len */
};

/* Initialises an empty buffer that may hold at most max bytes. */
void buf_init(struct buf *b, size_t max);
/* Frees the contents; the buffer may be reused after buf_init. */
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Appends n bytes; returns false (and appends nothing) past the cap. */
bool buf_append(struct buf *b, const void *data, size_t n) QB_MUSTCHECK;
bool buf_appends(struct buf *b, const char *s) QB_MUSTCHECK;
/* Appends s (NULL: nothing) with &, <, >, " and ' as the entities &amp;
 * &lt; &gt; &quot; &apos;: safe in XML and in HTML5, in text and in quoted
 * attribute values.  False past b's cap. */
bool buf_append_escaped(struct buf *b, const char *s) QB_MUSTCHECK;
bool buf_printf(struct buf *b, const char *fmt, ...) QB_PRINTF(2, 3) QB_MUSTCHECK;
bool buf_vprintf(struct buf *b, const char *fmt, va_list ap) QB_PRINTF(2, 0) QB_MUSTCHECK;
/* Hands the contents to the caller (free with free()); b is left empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif /* QB_BUF_H */
