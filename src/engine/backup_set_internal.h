/* SPDX-License-Identifier: Apache-2.0
 *
 * backup_set_internal.h -- what the modules of a set backup share: the
 * run's shard table and its lock (backup_set.c builds it and catalogues
 * the set, backup_set_transfer.c moves the shards, backup_set_catalog.c
 * cleans up after a crash).  Nothing outside those three includes this.
 */
#ifndef QB_BACKUP_SET_INTERNAL_H
#define QB_BACKUP_SET_INTERNAL_H

#include "codec/codec.h"
#include "engine/backup_set.h"
#include "engine/jobs.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

enum shard_status { SHARD_PENDING, SHARD_RUNNING, SHARD_DONE, SHARD_FAILED };

struct holder {
    uint64_t peer;
    char state[32];
    int64_t points_count;
    bool local; /* its own peer listed it in local_shards */
};

/* Whether a shard may be taken from h: Active as its own peer reports it
 * (CONTRACT §7: a node listing it Active in local_shards); another peer's
 * remote_shards view alone is not enough. */
static inline bool holder_usable(const struct holder *h)
{
    return h->local && strcmp(h->state, "Active") == 0;
}

struct shard {
    unsigned id;
    char *key_json; /* shard key as JSON text, or NULL */
    struct holder *holders;
    size_t nholders;
    enum shard_status status;
    uint64_t peer; /* assigned (PENDING, RUNNING) or taken from (DONE) */
    char *tried;   /* per holder index: this peer failed for this shard */
    /* Results. */
    char *object_key;
    struct storage_write_result stored;
    struct codec_result raw; /* the shard archive and the codec used */
    char *qdrant_checksum;
    char *qdrant_snapshot;
    int64_t points_count;
    char *error;
};

struct peer_slot {
    const struct topo_peer *peer;
    bool down; /* failed a shard: take nothing more from it */
    pthread_t thread;
    bool started;
    struct set_run *sr;
};

/* THREAD SAFETY NOTES: `lock` guards the shard table, the inflight record
 * and every use of the job (progress, cancel checks) by the workers. */
struct set_run {
    struct job *job;
    const struct store_plan *plan;
    const struct store_instance *inst;
    const struct topology *topo;
    const char *collection;
    bool stream;
    struct codec_spec spec;    /* how shard objects are stored */
    struct seal_keyring *ring; /* spec's keys, or NULL */
    char *set_key;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct shard *shards;
    size_t nshards;
    struct peer_slot *slots;
    size_t nslots;
    cJSON *inflight; /* the run's inflight record */
    cJSON *snaps;    /* inflight "shard_snapshots" (borrowed from inflight) */
    cJSON *keys;     /* inflight "storage_keys" */
    bool stop;       /* cancelled, shutting down, or a shard failed for good */
    char first_error[QB_ERRBUF_SIZE];
    bool *silent; /* per topology peer: did not answer for the shard map */
};

/* backup_set_transfer.c: the inflight record (crash recovery's guide). */
void set_inflight_init(struct set_run *sr);
void set_inflight_key(struct set_run *sr, const char *key);

/* backup_set_transfer.c: one worker per peer holding an Active replica;
 * returns when every shard is stored or the set failed (err says which
 * shard, from which peers). */
enum qb_err set_transfer_all(struct set_run *sr, char *err, size_t errlen) QB_MUSTCHECK;

/* backup_set_catalog.c: removes a shard snapshot an inflight entry
 * describes (by name, or all the shard's snapshots since the intent). */
void set_recover_snapshot(struct store *store, const struct store_instance *inst,
                          const char *collection, const cJSON *e, int64_t run_id);

#endif /* QB_BACKUP_SET_INTERNAL_H */
