/* SPDX-License-Identifier: Apache-2.0
 *
 * restore_cover.c -- a collection snapshot recovered into a collection of
 * a cluster of several peers (see restore_cover.h).
 *
 * DESIGN
 * Qdrant recovers a collection snapshot on the peer it is sent to, and
 * only into the shards that peer hosts: "Shard is not on this node, skip"
 * (recover.rs).  A collection the recovery created (or recreated, with
 * overwrite) is placed by Qdrant on peers of its choosing, so a
 * single-node snapshot sent to one peer of three restored one shard in
 * three and reported success.  So the shard placement is read from the
 * peer the archive was sent to (GET /collections/{c}/cluster lists every
 * replica and its peer), and for each shard none of the peers recovered
 * so far hosts, the whole archive is recovered again on a peer that hosts
 * it, which takes all the shards it hosts.  With priority `snapshot` the
 * recovered replica wins: Qdrant marks the others Dead and heals them from
 * it, so the run then waits until every replica is Active before the
 * point count is read.  (`replica` and `no_sync` into such a cluster are
 * refused before anything changes, restore_job.c.)
 */
#include "engine/restore_cover.h"
#include "engine/engine.h"
#include "engine/topology.h"
#include "remote/qdrant_cluster.h"
#include "store/store_instances.h"
#include "util/json_u64.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COVER_MAX_PEERS 64
#define COVER_POLL_MS   250

static bool in(const uint64_t *ids, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* The first shard no peer in done[] hosts, and a replica of it to
 * recover on (Active first); false when every shard is covered. */
static bool uncovered(const struct qdrant_shard_view *v, const uint64_t *done, size_t ndone,
                      unsigned *shard, const struct qdrant_replica **on)
{
    for (size_t i = 0; i < v->nreplicas; i++) {
        unsigned sid = v->replicas[i].shard_id;
        bool covered = false;
        for (size_t k = 0; k < v->nreplicas && !covered; k++)
            covered = v->replicas[k].shard_id == sid && in(done, ndone, v->replicas[k].peer_id);
        if (covered)
            continue;
        *shard = sid;
        *on = &v->replicas[i];
        for (size_t k = 0; k < v->nreplicas; k++)
            if (v->replicas[k].shard_id == sid && strcmp(v->replicas[k].state, "Active") == 0) {
                *on = &v->replicas[k];
                break;
            }
        return true;
    }
    return false;
}

/* Waits until home reports every replica of the collection Active. */
static enum qb_err wait_active(const struct restore_cover *c, char *err, size_t errlen)
{
    int64_t deadline = qb_mono_ms() + c->active_timeout_ms;
    for (;;) {
        struct qdrant_shard_view v;
        enum qb_err rc = qdrant_shard_view_get(c->home, c->collection, &v, err, errlen);
        const struct qdrant_replica *bad = NULL;
        for (size_t i = 0; !rc && i < v.nreplicas && !bad; i++)
            if (strcmp(v.replicas[i].state, "Active") != 0)
                bad = &v.replicas[i];
        if (!rc && !bad) {
            qdrant_shard_view_clear(&v);
            return QB_OK;
        }
        if (!rc && qb_mono_ms() > deadline)
            rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                          "shard %u on peer %llu is still %s %ld s after the recovery; collection "
                          "%s is restored but not fully replicated",
                          bad->shard_id, (unsigned long long)bad->peer_id, bad->state,
                          c->active_timeout_ms / 1000, c->collection);
        qdrant_shard_view_clear(&v);
        if (rc && (rc != QB_ERR_TRANSIENT || qb_mono_ms() > deadline))
            return rc;
        rc = job_checkpoint(c->job, NULL, err, errlen);
        if (rc)
            return rc;
        if (engine_sleep(c->job->engine, COVER_POLL_MS))
            return qb_failf(QB_ERR_CANCELLED, err, errlen, "interrupted by shutdown");
    }
}

enum qb_err restore_cover_run(const struct restore_cover *c, cJSON *result, char *err,
                              size_t errlen)
{
    struct qdrant_shard_view v;
    struct store_instance *inst = NULL;
    struct topology *topo = NULL;
    uint64_t done[COVER_MAX_PEERS];
    size_t ndone = 0;
    enum qb_err rc = qdrant_shard_view_get(c->home, c->collection, &v, err, errlen);
    if (rc == QB_ERR_NOT_FOUND) {
        /* A server without the distributed-mode routes: one node. */
        qdrant_shard_view_clear(&v);
        return QB_OK;
    }
    if (rc)
        goto out;
    done[ndone++] = v.peer_id;
    unsigned shard;
    const struct qdrant_replica *on;
    if (!uncovered(&v, done, ndone, &shard, &on))
        goto out; /* the peer recovered every shard: a single node, or it hosts them all */
    rc = store_instance_get(c->job->store, c->instance, &inst, err, errlen);
    if (!rc)
        rc = topology_resolve(inst, (long)inst->timeout_s * 1000, &topo, err, errlen);
    while (!rc && uncovered(&v, done, ndone, &shard, &on)) {
        uint64_t peer = on->peer_id;
        const struct topo_peer *p = topology_peer(topo, peer);
        if (!p || !p->rest_url || ndone >= COVER_MAX_PEERS) {
            rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                          "shard %u of %s is placed on peer %llu, which qbackupd cannot reach "
                          "(%s), so its data was not restored; list the peers' REST URLs in the "
                          "instance's nodes and restore again",
                          shard, c->collection, (unsigned long long)peer,
                          p && p->error ? p->error : "no REST URL known");
            break;
        }
        struct qdrant_client *qc = NULL;
        rc = topology_client(inst, p->rest_url, c->snapshot_timeout_ms, &qc, err, errlen);
        if (!rc)
            rc = c->recover(c->ud, qc, err, errlen);
        qdrant_client_destroy(qc);
        if (rc) {
            char sub[QB_ERRBUF_SIZE];
            snprintf(sub, sizeof sub, "%s", err);
            rc = qb_failf(rc, err, errlen,
                          "recovering %s on peer %llu (%s), which hosts shard %u, failed: %s",
                          c->collection, (unsigned long long)peer, p->rest_url, shard, sub);
            break;
        }
        log_info("run.restore_peer", "run=%lld collection=%s peer=%llu shard=%u",
                 (long long)c->job->run->id, log_q(c->collection), (unsigned long long)peer, shard);
        done[ndone++] = peer;
    }
    if (!rc)
        rc = wait_active(c, err, errlen);
out:
    if (ndone > 1) {
        cJSON *a = cJSON_AddArrayToObject(result, "recovered_on");
        for (size_t i = 0; i < ndone; i++) {
            char id[24];
            snprintf(id, sizeof id, "%llu", (unsigned long long)done[i]);
            cJSON_AddItemToArray(a, cJSON_CreateRaw(id));
        }
    }
    qdrant_shard_view_clear(&v);
    topology_free(topo);
    store_instance_free(inst);
    return rc;
}
