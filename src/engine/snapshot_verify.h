/* SPDX-License-Identifier: Apache-2.0
 *
 * snapshot_verify.h -- reads a catalogued snapshot back from its
 * destination and checks it against the catalogue (size and SHA-256 of
 * the object, or of every shard object of a backup set, decoded when it
 * was stored compressed or encrypted), then records the
 * outcome on the row.  One routine for POST /v1/snapshots/{id}/verify and
 * a plan's scheduled re-verification (reverify.h), so both judge alike.
 * Public to api/, whose verify endpoint calls it on a task thread.
 */
#ifndef QB_SNAPSHOT_VERIFY_H
#define QB_SNAPSHOT_VERIFY_H

#include "common.h"
#include "storage/storage.h"
#include "store/store.h"
#include "store/store_snapshots.h"

#include <stdbool.h>
#include <stdint.h>

/* What a verification found, for the answer (a failed one is an error a
 * CI script must see: 409 with both checksums). */
struct snapshot_verdict {
    bool failed;          /* the object is missing or is not the catalogued one */
    bool unreadable;      /* it could not be read to the end (502) */
    bool found;           /* single snapshot: the object exists */
    uint64_t size;        /* single snapshot: bytes read */
    char sha256[65];      /* single snapshot: SHA-256 of the bytes read */
    int64_t want_size;    /* the catalogue's */
    char want_sha256[65]; /* the catalogue's */
    bool set;             /* a backup set: err names the shard and both checksums */
    bool decoded;         /* compressed/encrypted: the archive was decoded and checked */
    enum qb_err stopped;  /* QB_OK, or the check's error that stopped the read (no verdict) */
};

/* Called for every chunk read (snapshot_judge_checked): a failure, e.g. a
 * cancelled run's, stops the read, and err keeps its message. */
typedef enum qb_err (*snapshot_judge_check_fn)(void *ud, char *err, size_t errlen);

/* Reads s back from storage (borrowed) and fills *v, recording nothing:
 * the judge snapshot_verify uses, and the one a second copy is judged by
 * (copies_verify, with s's key in that copy).  A compressed or encrypted
 * object (every shard object of such a set) is decoded when its key is at
 * hand and checked against its raw_sha256; err names the shard of a set,
 * and the chunk a decoder refused.  Blocking I/O. */
void snapshot_judge(struct store *store, struct storage *storage, const struct store_snapshot *s,
                    struct snapshot_verdict *v, char *err, size_t errlen);

/* snapshot_judge, with check (may be NULL) called before every chunk: a
 * run that reads a large object first (an overwrite restore) stays
 * cancellable.  A check's failure leaves v->stopped set to it, err its
 * message, and no verdict (failed and unreadable false). */
void snapshot_judge_checked(struct store *store, struct storage *storage,
                            const struct store_snapshot *s, snapshot_judge_check_fn check, void *ud,
                            struct snapshot_verdict *v, char *err, size_t errlen);

/* Reads s back from storage (borrowed) and fills *v (snapshot_judge); when it failed or
 * could not be read, err says why.  The outcome is recorded either way: a
 * failure clears verified_at (so "latest" restores and retention stop
 * trusting the snapshot), sets verify_error (the catalogue then logs the
 * verify.failed event) and counts in qbackup_verify_failures_total; a
 * success does the reverse; checked_at is set in both cases.  Returns the
 * catalogue write's error (err then says so), else QB_OK whatever the
 * verdict.  Blocking I/O: call from a task or background thread. */
enum qb_err snapshot_verify(struct store *store, struct storage *storage,
                            const struct store_snapshot *s, struct snapshot_verdict *v, char *err,
                            size_t errlen) QB_MUSTCHECK;

#endif /* QB_SNAPSHOT_VERIFY_H */
