/* SPDX-License-Identifier: Apache-2.0
 *
 * bridge.h -- turns storage_read's push (a callback per chunk) into a pull
 * (read what you need when you need it), for consumers that pull: an
 * upload to Qdrant (libcurl read callback) or an HTTP download response.
 *
 * DESIGN
 * A producer thread runs storage_read into a bounded ring buffer; the
 * consumer takes bytes out.  Memory is the ring's capacity whatever the
 * object's size.  The SHA-256 of everything consumed is computed on the
 * way, so a consumer can check the bytes it passed on.
 *
 * THREAD SAFETY NOTES
 * `lock` guards the ring and the flags.  The storage handle belongs to the
 * producer thread from bridge_start until bridge_stop returns.
 */
#ifndef QB_BRIDGE_H
#define QB_BRIDGE_H

#include "common.h"
#include "storage/storage.h"
#include "util/seal.h"

struct bridge;

/* Starts streaming [offset, offset+length) (length 0: to the end) of key
 * through a ring of capacity bytes.  st is borrowed and must not be used by
 * anyone else until bridge_stop.  Caller frees with bridge_stop. */
enum qb_err bridge_start(struct storage *st, const char *key, uint64_t offset, uint64_t length,
                         size_t capacity, struct bridge **out, char *err,
                         size_t errlen) QB_MUSTCHECK;

/* Like bridge_start on the whole object (offset 0, length 0 only), but
 * the consumer reads the archive decoded from the stored object of the
 * given codec (codec/codec.h; NULL or "none": as stored), with ring's keys
 * (borrowed until bridge_stop; may be NULL).  A decoding failure (altered
 * or truncated object, wrong key) is the producer's error, and the end is
 * reported only after the whole object was found authentic. */
enum qb_err bridge_start_decoded(struct storage *st, const char *key, uint64_t offset,
                                 uint64_t length, const char *codec,
                                 const struct seal_keyring *ring, size_t capacity,
                                 struct bridge **out, char *err, size_t errlen) QB_MUSTCHECK;

/* Copies up to cap bytes into buf; blocks until some are there.  *n is 0
 * only at the end of the object.  Fails with the producer's error. */
enum qb_err bridge_read(struct bridge *b, void *buf, size_t cap, size_t *n, char *err,
                        size_t errlen) QB_MUSTCHECK;

/* Lower-case hex SHA-256 of every byte bridge_read returned so far. */
void bridge_sha256(struct bridge *b, char hex[65]);

/* Stops the producer if still running, joins it and frees b.  NULL: no-op. */
void bridge_stop(struct bridge *b);

#endif /* QB_BRIDGE_H */
