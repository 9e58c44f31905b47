/* SPDX-License-Identifier: Apache-2.0
 *
 * backup_internal.h -- what the two halves of a backup run share: the run
 * (backup_job.c: which targets, in what order, retention after) and one
 * target's pipeline (backup_target.c: snapshot, stream, check, manifest,
 * verify, catalogue).  Nothing outside src/engine/backup_*.c includes it.
 */
#ifndef QB_BACKUP_INTERNAL_H
#define QB_BACKUP_INTERNAL_H

#include "codec/codec.h"
#include "engine/jobs.h"
#include "engine/topology.h"
#include "remote/qdrant_client.h"
#include "storage/storage.h"
#include "store/store_instances.h"
#include "store/store_plans.h"
#include "util/log.h"

#include <cjson/cJSON.h>

/* Everything a run's targets share. */
struct backup {
    struct job *job;
    struct store_plan *plan;
    struct qdrant_client *qdrant;
    struct storage *storage;
    char *qdrant_version;
    struct store_instance *inst;
    struct topology *topo;     /* a cluster: per-shard sets */
    struct topology *unproven; /* one node taken without proof (topology.hidden) */
    size_t ntargets;           /* targets of this run, for crash recovery */
    struct codec_spec spec;    /* how objects are stored (codec/codec.h) */
    struct seal_keyring *ring; /* spec's keys, or NULL: not encrypted */
};

/* One target's progress through the pipeline. */
struct target {
    struct qdrant_target qt;
    char *collection;  /* borrowed; NULL for the full instance */
    const char *label; /* collection name or "(full)" */
    struct qdrant_snapshot snap;
    char *key; /* object key in the destination */
    struct storage_write_result stored;
    struct codec_result raw; /* the archive (raw_*) and the codec used */
    int64_t points_count;
    int64_t since;  /* when creation of its Qdrant snapshot was requested */
    struct phases { /* milliseconds, see the DESIGN note */
        int64_t snapshot, first_byte, download, upload, complete, verify;
    } ph;
};

/* Retries fn while it fails transiently, up to max_attempts. */
#define WITH_RETRIES(job, rc, call)                                                                \
    do {                                                                                           \
        for (unsigned attempt_ = 1;; attempt_++) {                                                 \
            rc = (call);                                                                           \
            if (rc != QB_ERR_TRANSIENT || attempt_ >= engine_config((job)->engine)->max_attempts)  \
                break;                                                                             \
            log_warn("run.retry", "run=%lld attempt=%u error=%s", (long long)(job)->run->id,       \
                     attempt_, log_q(err));                                                        \
            if (job_backoff((job), attempt_)) {                                                    \
                rc = job_checkpoint((job), NULL, err, errlen);                                     \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* Backs up one single-snapshot target of b (a collection, or the full
 * instance) through the whole pipeline; on success result holds its
 * snapshot_id, size, phases and codec.  Nothing is catalogued unless all
 * of it succeeded; whatever it created outside the catalogue is removed
 * on failure (or left to crash recovery through the run's inflight). */
enum qb_err backup_target(struct backup *b, struct target *t, cJSON *result, char *err,
                          size_t errlen) QB_MUSTCHECK;

/* Frees what backup_target() left in t and zeroes it. */
void backup_target_clear(struct target *t);

#endif /* QB_BACKUP_INTERNAL_H */
