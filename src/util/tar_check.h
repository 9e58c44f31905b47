/* SPDX-License-Identifier: Apache-2.0
 *
 * tar_check.h -- checks, as the bytes stream past, that a tar archive is
 * whole.
 *
 * Qdrant's streaming shard snapshot (GET .../shards/{id}/snapshot) has no
 * length and no checksum, and when Qdrant fails half-way the stream may
 * simply end: a truncated archive looks like a clean EOF.  The only proof
 * that everything arrived is the archive's own structure: every header's
 * checksum, every entry's announced size, and the two zero blocks that end
 * a tar.  This module follows that structure with O(1) memory (one 512-byte
 * block), understanding ustar, GNU (long names, old-style sparse entries
 * with extension headers) and pax headers.
 */
#ifndef QB_TAR_CHECK_H
#define QB_TAR_CHECK_H

#include "common.h"

struct tar_check;

/* A new checker; free with tar_check_free (NULL is a no-op). */
struct tar_check *tar_check_new(void);
void tar_check_free(struct tar_check *t);

/* Feeds the next len bytes.  QB_ERR_REMOTE with the offset and reason
 * when they cannot be part of a valid archive (a bad header checksum,
 * data after the end). */
enum qb_err tar_check_feed(struct tar_check *t, const void *data, size_t len, char *err,
                           size_t errlen) QB_MUSTCHECK;

/* Call at end of stream: QB_ERR_REMOTE unless the archive ended with its
 * end-of-archive marker, naming where it was cut. */
enum qb_err tar_check_finish(struct tar_check *t, char *err, size_t errlen) QB_MUSTCHECK;

/* Entries seen so far (headers of files, directories, links). */
uint64_t tar_check_entries(const struct tar_check *t);

#endif /* QB_TAR_CHECK_H */
