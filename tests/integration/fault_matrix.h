/* SPDX-License-Identifier: Apache-2.0
 *
 * fault_matrix.h -- the truth checks every cell of the fault matrix ends
 * with (tests/integration/test_fault_matrix.c for Qdrant's faults,
 * test_fault_matrix_s3.c for S3's; docs/internals/faults.md), whichever
 * side the fault was on:
 *
 *   - the run is settled, and succeeded only if its snapshot is
 *     catalogued, stored in full and reads back with the catalogued
 *     SHA-256; otherwise failed with an error naming the cause;
 *   - every catalogued snapshot of the plan is in the destination, intact;
 *   - every name the destination holds under <plan>/ (objects, manifests,
 *     sidecars, temp files) belongs to a catalogued snapshot;
 *   - Qdrant holds no snapshot of the collection (polled: a janitor may be
 *     the one deleting it).
 *
 * The caller lists the destination raw (a folder walk, or ListObjectsV2),
 * since storage_list() hides exactly the debris looked for here.
 */
#ifndef QB_FAULT_MATRIX_H
#define QB_FAULT_MATRIX_H

#include "emu_harness.h"
#include "harness.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct fm_run {
    long long id;
    char state[16];            /* "succeeded", "failed", ... */
    char error[1024];          /* the run's error, "" when none */
    double snapshot_id;        /* results.0.snapshot_id, 0 when none */
    char warning[512];         /* results.0.warning, "" when none */
    char retention_error[512]; /* results.0.retention_error, "" when none */
};

/* Every name under a destination's <plan>/ prefix, relative to the
 * destination's root. */
struct fm_keys {
    char **v;
    size_t n;
};
void fm_keys_add(struct fm_keys *k, const char *key);
void fm_keys_free(struct fm_keys *k);

/* Every regular file below root/plan (temp files and sidecars included),
 * as keys relative to root.  False when the walk failed. */
bool fm_keys_local(const char *root, const char *plan, struct fm_keys *out);

/* Sends one request to qbackupd; true when it answered want (else the
 * answer is printed). */
bool fm_call(struct qbd *d, const char *method, const char *path, const char *body, long want);

/* POST /v1/plans/{plan}/runs; the run id, 0 on failure (printed). */
long long fm_start_run(struct qbd *d, const char *plan);

/* Polls GET /v1/runs/{id} until the run is settled (neither queued nor
 * running) or timeout_ms passes; fills out.  True when settled. */
bool fm_wait_settled(struct qbd *d, long long id, int timeout_ms, struct fm_run *out);

/* Polls the emulator's request log until method + path prefix arrived
 * (the fault has been reached and holds).  True when it did. */
bool fm_wait_request(struct emu *e, const char *method, const char *prefix, int timeout_ms);

/* Polls the request log until every request of method + path prefix has
 * been answered (a held request, e.g. a delayed create, has done its work
 * on Qdrant).  Dropped requests are never answered: not for those. */
bool fm_wait_answered(struct emu *e, const char *method, const char *prefix, int timeout_ms);

/* Polls until Qdrant lists no snapshot of collection; true when so. */
bool fm_wait_no_qdrant_snapshot(struct emu *e, const char *collection, int timeout_ms);

/* The checks above for a settled run of plan: state want_state (and, when
 * failed, an error containing want_error), catalogue == destination
 * (raw: every name under <plan>/ in st).  Prints each violation; true when
 * everything holds. */
bool fm_check_truth(struct qbd *d, struct storage *st, const struct fm_keys *raw, const char *plan,
                    const struct fm_run *run, const char *want_state, const char *want_error);

/* ---------------------------------------------------------------- s3fault
 *
 * The fault proxy of tests/emulators/s3fault/ (rules and stats are
 * described at the top of s3fault.c), started in front of a real S3
 * endpoint; qbackupd's destination points at f->url.
 */
struct s3fault {
    pid_t pid; /* 0 when not running */
    int port;
    char url[64];       /* "http://127.0.0.1:PORT" */
    char log_path[300]; /* its stdout: one line per request */
};

/* Starts the proxy in front of upstream ("http://host:port"); its log goes
 * to dir/s3fault.log.  0 once it listens. */
int s3fault_start(struct s3fault *f, const char *upstream, const char *dir);
/* SIGTERM and wait; its exit status. */
int s3fault_stop(struct s3fault *f);
/* Arms a rule: query is the rule's query string ("op=part&part=2&action=
 * error500&count=0").  0 when armed. */
int s3fault_arm(struct s3fault *f, const char *query);
/* Clears every rule (and forgotten uploads).  0 when done. */
int s3fault_clear(struct s3fault *f);
/* A counter of GET /__s3fault/stats ("fired", "held", "part", ...), -1 on
 * failure. */
long s3fault_stat(struct s3fault *f, const char *name);
/* Polls until the counter reaches at least min; true when it did. */
bool s3fault_wait_stat(struct s3fault *f, const char *name, long min, int timeout_ms);

#endif /* QB_FAULT_MATRIX_H */
