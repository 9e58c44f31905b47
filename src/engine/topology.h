/* SPDX-License-Identifier: Apache-2.0
 *
 * topology.h -- what a Qdrant instance is made of: one node, or a cluster
 * of peers, each with its peer id, the REST URL qbackupd reaches it at,
 * whether it answers and its version.
 *
 * A cluster peer is known to qbackupd by its REST URL, but Qdrant's GET
 * /cluster lists only p2p URIs (port 6335 by default).  So an instance may
 * list every peer's REST URL in `nodes` (each node's GET /cluster says
 * which peer it is); without `nodes`, a peer's REST URL is its p2p host
 * with the scheme and port of the instance's URL, which is right for the
 * usual deployments (every peer serving REST on the same port).
 *
 * A listed node (or the instance URL) that does not answer does not stop
 * a resolution: the members come from the first URL that answers GET
 * /cluster (the instance URL, then the nodes in order), and each URL that
 * did not answer stands for a peer that no answer accounts for, which
 * then counts as not answering (its error names the URL and why).  A
 * backup takes such a peer for down, as any silent peer; registration,
 * which must not store a typo, refuses it (topology.unanswered).
 *
 * THREADS: the functions are reentrant; a struct topology belongs to its
 * caller.
 */
#ifndef QB_TOPOLOGY_H
#define QB_TOPOLOGY_H

#include "common.h"
#include "remote/qdrant_client.h"
#include "store/store_instances.h"

#include <cjson/cJSON.h>

struct topo_peer {
    uint64_t id;
    char *uri;      /* p2p URI as Qdrant reports it */
    char *rest_url; /* REST base URL, NULL when none could be found */
    bool reachable; /* GET / answered as Qdrant */
    char *version;  /* Qdrant version, or NULL */
    char *error;    /* why not reachable / no REST URL, or NULL */
    bool paired;    /* rest_url is a URL that did not answer GET /cluster, given to this
                       peer because no answer accounts for it: never reachable, never
                       used (only a later GET /cluster there can prove which peer it is) */
};

struct topology {
    bool cluster;            /* distributed mode enabled */
    uint64_t leader;         /* 0: unknown */
    uint64_t self;           /* peer id of the entry's node (cluster only) */
    char *entry;             /* URL whose GET /cluster was read: the instance URL, or the
                                first listed node that answered when it did not; owned */
    char *unanswered;        /* the first URL (instance URL, then nodes) that did not answer
                                GET /cluster, and why; NULL when every one did; owned */
    struct topo_peer *peers; /* cluster: every peer; single node: one entry, id 0 */
    size_t npeers;
    /* Not NULL: GET /cluster was refused (403) or unknown (404), so the
     * instance was taken for one node without proof; why, owned.  Callers
     * that would read one peer's data as a whole collection check the
     * collection's own view first (topology_check_local). */
    char *hidden;
};

/* Opens a Qdrant client for inst at url (NULL: inst->url), with inst's
 * key and TLS settings.  Caller destroys. */
enum qb_err topology_client(const struct store_instance *inst, const char *url,
                            long snapshot_timeout_ms, struct qdrant_client **out, char *err,
                            size_t errlen) QB_MUSTCHECK;

/* A client for a quick question to one peer at url (version, cluster
 * state): the instance's key and TLS settings, and timeout_ms for both
 * the connection and the answer, so one dead peer cannot hold up a probe.
 * Caller destroys. */
enum qb_err topology_probe_client(const struct store_instance *inst, const char *url,
                                  long timeout_ms, struct qdrant_client **out, char *err,
                                  size_t errlen) QB_MUSTCHECK;

/* Learns inst's topology (GET /cluster on the instance URL and on every
 * listed node, GET / on every peer).  Fails when neither the instance URL
 * nor any listed node answers, or when an answering node belongs to
 * another cluster, runs without distributed mode or is listed twice; the
 * message names the node.  A URL that does not answer is reported in the
 * peer it stands for and in t->unanswered, not as a failure; so is a peer
 * without a REST URL or that does not answer GET / (see
 * topology_check_usable).  [out] *out: topology_free. */
enum qb_err topology_resolve(const struct store_instance *inst, long timeout_ms,
                             struct topology **out, char *err, size_t errlen) QB_MUSTCHECK;
void topology_free(struct topology *t); /* NULL is a no-op */

/* With t->hidden: QB_OK when the instance URL's peer holds every shard
 * of collection (its GET /collections/{c}/cluster lists no replica on
 * another peer, or the server has no such route), else QB_ERR_REMOTE
 * naming the other peers and the key's missing access.  QB_OK at once
 * without t->hidden. */
enum qb_err topology_check_local(const struct topology *t, struct qdrant_client *qc,
                                 const char *collection, char *err, size_t errlen) QB_MUSTCHECK;

/* QB_ERR_REMOTE naming the first peer that has no REST URL (a setting to
 * fix, whatever the peers hold). */
enum qb_err topology_check_mapped(const struct topology *t, const char *instance, char *err,
                                  size_t errlen) QB_MUSTCHECK;

/* topology_check_mapped, then QB_ERR_TRANSIENT naming the first peer that
 * does not answer, and how to fix it: for what needs every peer (a set
 * restore places replicas on all of them; readiness). */
enum qb_err topology_check_usable(const struct topology *t, const char *instance, char *err,
                                  size_t errlen) QB_MUSTCHECK;

/* The peer with id, or NULL. */
const struct topo_peer *topology_peer(const struct topology *t, uint64_t id);

/* {"cluster":bool,"leader":id|null,"peers":[{"peer_id","uri","rest_url",
 * "reachable","version","error","leader"}]} (new tree). */
cJSON *topology_json(const struct topology *t);

/* Maps a p2p URI to a REST URL: the URI's host with base_url's scheme and
 * port.  NULL when the URI has no host.  Caller frees. */
char *topology_rest_from_p2p(const char *p2p_uri, const char *base_url);

/* Whether a and b are the same URL but for trailing '/': one node listed
 * twice, or the instance URL among the nodes. */
bool topology_same_url(const char *a, const char *b);

/* The p2p URI as a REST base URL (scheme, host and port, no path): the
 * second guess for a peer whose first does not lead to it.  NULL when the
 * URI has no host.  Caller frees. */
char *topology_rest_as_p2p(const char *p2p_uri);

#endif /* QB_TOPOLOGY_H */
