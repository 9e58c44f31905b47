/* SPDX-License-Identifier: Apache-2.0
 *
 * rfc3339.h -- the one parser of RFC 3339 date-times ("2026-11-25T12:00:00Z")
 * in qbackup.  Each caller states which of the optional parts it accepts
 * (what its API promises), so one grammar serves the strict query
 * parameters and the lenient manifest reader alike.  Pure: no I/O, no
 * globals, no locale, so any thread may call it.  Formatting is
 * qb_format_time() in common.h.
 */
#ifndef QB_RFC3339_H
#define QB_RFC3339_H

#include <stdbool.h>
#include <stdint.h>

/* What rfc3339_parse accepts beyond "YYYY-MM-DDTHH:MM:SSZ" (upper-case T
 * and Z, always accepted). */
enum rfc3339_flags {
    RFC3339_PLUS_ZERO = 1 << 0, /* "+00:00" for Z */
    RFC3339_OFFSET = 1 << 1,    /* any "+hh:mm" / "-hh:mm" (implies PLUS_ZERO) */
    RFC3339_FRACTION = 1 << 2,  /* ".5", ".123456" after the seconds (dropped) */
    RFC3339_LOWER = 1 << 3,     /* "t" and "z" (RFC 3339 section 5.6, NOTE) */
    /* Everything RFC 3339 section 5.6 allows. */
    RFC3339_ANY = RFC3339_OFFSET | RFC3339_FRACTION | RFC3339_LOWER,
};

/* Parses the whole of s (nothing may follow) as seconds since the epoch in
 * *out, untouched on failure.  Years 0000-9999; exactly two digits per
 * field; impossible dates (February 30, 24:00) are refused rather than
 * normalised; a leap second (:60) counts as the second before it.
 * Returns false for NULL, anything else, or a part flags does not allow. */
bool rfc3339_parse(const char *s, unsigned flags, int64_t *out);

#endif /* QB_RFC3339_H */
