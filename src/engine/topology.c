/* SPDX-License-Identifier: Apache-2.0
 *
 * topology.c -- learning an instance's peers (see topology.h).
 */
#include "engine/topology.h"
#include "remote/qdrant_cluster.h"
#include "util/json_u64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void topology_free(struct topology *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->npeers; i++) {
        free(t->peers[i].uri);
        free(t->peers[i].rest_url);
        free(t->peers[i].version);
        free(t->peers[i].error);
    }
    free(t->peers);
    free(t->hidden);
    free(t->entry);
    free(t->unanswered);
    free(t);
}

enum qb_err topology_client(const struct store_instance *inst, const char *url,
                            long snapshot_timeout_ms, struct qdrant_client **out, char *err,
                            size_t errlen)
{
    struct qdrant_config qc = {
        .url = url ? url : inst->url,
        .api_key = inst->api_key,
        .insecure = !inst->tls_verify,
        .ca_file = inst->ca_file,
        .timeout_ms = (long)inst->timeout_s * 1000,
        .snapshot_timeout_ms = snapshot_timeout_ms,
    };
    return qdrant_client_create(&qc, out, err, errlen);
}

enum qb_err topology_probe_client(const struct store_instance *inst, const char *url,
                                  long timeout_ms, struct qdrant_client **out, char *err,
                                  size_t errlen)
{
    struct qdrant_config cfg = {
        .url = url,
        .api_key = inst->api_key,
        .insecure = !inst->tls_verify,
        .ca_file = inst->ca_file,
        .timeout_ms = timeout_ms,
        .connect_timeout_ms = timeout_ms,
    };
    return qdrant_client_create(&cfg, out, err, errlen);
}

/* Splits "scheme://host[:port]/..." into its parts (pointers into url). */
static bool split_url(const char *url, const char **host, size_t *hostlen, const char **port,
                      size_t *portlen, size_t *schemelen)
{
    const char *p = strstr(url, "://");
    if (!p)
        return false;
    *schemelen = (size_t)(p - url);
    const char *h = p + 3;
    const char *end = h + strcspn(h, "/?#");
    const char *colon = NULL;
    if (*h == '[') { /* IPv6 literal */
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close)
            return false;
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
    }
    *host = h;
    *hostlen = (size_t)((colon ? colon : end) - h);
    *port = colon ? colon + 1 : end;
    *portlen = colon ? (size_t)(end - colon - 1) : 0;
    return *hostlen > 0;
}

char *topology_rest_as_p2p(const char *p2p_uri)
{
    const char *h, *pp;
    size_t hl, ppl, sl;
    if (!p2p_uri || !split_url(p2p_uri, &h, &hl, &pp, &ppl, &sl))
        return NULL;
    /* scheme://host[:port], without the path (Qdrant shows "/") */
    return xasprintf("%.*s", (int)(pp + ppl - p2p_uri), p2p_uri);
}

char *topology_rest_from_p2p(const char *p2p_uri, const char *base_url)
{
    const char *h, *bp, *ph, *pp;
    size_t hl, bpl, phl, ppl, sl, bsl;
    if (!split_url(p2p_uri, &h, &hl, &pp, &ppl, &sl) ||
        !split_url(base_url, &ph, &phl, &bp, &bpl, &bsl))
        return NULL;
    if (bpl)
        return xasprintf("%.*s://%.*s:%.*s", (int)bsl, base_url, (int)hl, h, (int)bpl, bp);
    return xasprintf("%.*s://%.*s", (int)bsl, base_url, (int)hl, h);
}

/* GET /cluster at url with inst's key and TLS (qdrant_cluster_get); *cl
 * is cleared by the caller. */
static enum qb_err cluster_at(const struct store_instance *inst, const char *url, long timeout_ms,
                              struct qdrant_cluster *cl, char *err, size_t errlen)
{
    struct qdrant_client *qc = NULL;
    enum qb_err rc = topology_probe_client(inst, url, timeout_ms, &qc, err, errlen);
    if (!rc)
        rc = qdrant_cluster_get(qc, cl, err, errlen);
    qdrant_client_destroy(qc);
    return rc;
}

/* Why url is not the REST URL of a peer, or NULL when it is: it answers
 * GET / (its version into *version).  With want_id (a guessed URL) it is
 * also asked which peer it is (GET /cluster) and must not answer as
 * another (then *other is set); strict (a second guess) wants that answer
 * given. */
static char *probe_url(const struct store_instance *inst, const char *url, uint64_t want_id,
                       bool strict, long timeout_ms, char **version, bool *other)
{
    char err[QB_ERRBUF_SIZE];
    char *why = NULL;
    struct qdrant_client *qc = NULL;
    struct qdrant_cluster cl = {0};
    enum qb_err rc = topology_probe_client(inst, url, timeout_ms, &qc, err, sizeof err);
    if (!rc)
        rc = qdrant_server_version(qc, version, err, sizeof err);
    if (rc) {
        why = xstrdup(err);
    } else if (want_id) {
        rc = qdrant_cluster_get(qc, &cl, err, sizeof err);
        *other = !rc && cl.enabled && cl.peer_id != want_id;
        if (*other)
            why = xasprintf("%s answers as peer %llu", url, (unsigned long long)cl.peer_id);
        else if (strict && (rc || !cl.enabled))
            why = xasprintf("%s does not say it is peer %llu", url, (unsigned long long)want_id);
    }
    if (why) {
        free(*version);
        *version = NULL;
    }
    qdrant_cluster_clear(&cl);
    qdrant_client_destroy(qc);
    return why;
}

/* GET / on p's REST URL: reachable and version.  With guessed, the URL
 * was guessed from a p2p URI (its host, the instance URL's port), which
 * leads to the right peer only where every peer serves REST on the same
 * port; peers on one host with ports of their own all lead to one of
 * them.  So the guess is asked which peer it is, and when it is not p, the
 * p2p URI itself is tried as a REST URL (a stand-in, or a proxy, that
 * serves REST where it says it is), taken only if it names p.  Failing
 * both, p counts as not answering, saying why, so its shards are taken
 * from other replicas or the collection fails naming it, never read from
 * the wrong node. */
static void probe_peer(const struct store_instance *inst, struct topo_peer *p, bool guessed,
                       long timeout_ms)
{
    /* A paired URL did not answer GET /cluster a moment ago: asking it
     * again would cost a hung node its timeout twice, and an answer to GET
     * / would not prove it is this peer (the pairing is by elimination).
     * It is used only once a later resolution maps it by its own GET
     * /cluster (map_nodes). */
    if (!p->rest_url || p->paired)
        return;
    bool other = false, ignored = false;
    char *why =
        probe_url(inst, p->rest_url, guessed ? p->id : 0, false, timeout_ms, &p->version, &other);
    if (why && guessed) {
        char *alt = topology_rest_as_p2p(p->uri);
        char *why_alt = alt && strcmp(alt, p->rest_url) != 0
                            ? probe_url(inst, alt, p->id, true, timeout_ms, &p->version, &ignored)
                            : xstrdup("the same URL");
        if (!why_alt) {
            free(p->rest_url);
            p->rest_url = alt;
            alt = NULL;
            free(why);
            why = NULL;
        } else {
            /* A guess that answers as another peer is the one-host
             * layout: say what to do.  One that does not answer may be a
             * peer that is down, and readiness adds the hint. */
            char *msg =
                xasprintf("%s, guessed from p2p URI %s (nor is the p2p URI itself its "
                          "REST URL: %s)%s",
                          why, p->uri, why_alt,
                          other ? ": list every peer's REST URL in the instance's nodes" : "");
            free(why);
            why = msg;
        }
        free(why_alt);
        free(alt);
    }
    p->reachable = why == NULL;
    p->error = why;
}

static struct topo_peer *find_peer(struct topology *t, uint64_t id)
{
    for (size_t i = 0; i < t->npeers; i++)
        if (t->peers[i].id == id)
            return &t->peers[i];
    return NULL;
}

/* One URL's answer to GET /cluster.  Each URL is asked once per
 * resolution: a hung node would otherwise cost its timeout twice. */
struct node_answer {
    bool asked;
    enum qb_err rc;
    struct qdrant_cluster cl;
    char err[QB_ERRBUF_SIZE];
};

static struct node_answer *ask(const struct store_instance *inst, const char *url,
                               struct node_answer *a, long timeout_ms)
{
    if (!a->asked) {
        a->asked = true;
        a->rc = cluster_at(inst, url, timeout_ms, &a->cl, a->err, sizeof a->err);
    }
    return a;
}

bool topology_same_url(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la && a[la - 1] == '/')
        la--;
    while (lb && b[lb - 1] == '/')
        lb--;
    return la == lb && strncmp(a, b, la) == 0;
}

/* The URLs a resolution may ask: [0] the instance URL, [i + 1] nodes[i],
 * with ans[] alongside.  A node that is the instance URL shares ans[0]. */
struct node_urls {
    const char **url;
    struct node_answer *ans;
    size_t n; /* 1 + number of nodes */
};

static struct node_answer *answer_of(const struct node_urls *u, size_t i)
{
    return i > 0 && topology_same_url(u->url[i], u->url[0]) ? &u->ans[0] : &u->ans[i];
}

/* "nodes[i] (url)" or "the instance URL (url)", for messages; caller frees. */
static char *node_label(const struct node_urls *u, size_t i)
{
    return i ? xasprintf("nodes[%zu] (%s)", i - 1, u->url[i])
             : xasprintf("the instance URL (%s)", u->url[0]);
}

/* Assigns the listed nodes that answer to peers by asking each which peer
 * it is.  One that does not answer is left for pair_silent: down now, it
 * says nothing about the cluster.  One that answers wrongly (hidden,
 * not distributed, another cluster's peer, a peer listed twice) is a
 * setting to fix and fails the resolution. */
static enum qb_err map_nodes(const struct store_instance *inst, const struct node_urls *u,
                             struct topology *t, long timeout_ms, char *err, size_t errlen)
{
    for (size_t k = 1; k < u->n; k++) {
        int i = (int)k - 1;
        const char *url = u->url[k];
        const struct node_answer *a = ask(inst, url, answer_of(u, k), timeout_ms);
        if (a->rc == QB_ERR_INVALID)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "nodes[%d] (%s) does not answer as a Qdrant peer: %s", i, url, a->err);
        if (a->rc)
            continue;
        const struct qdrant_cluster *cl = &a->cl;
        struct topo_peer *p = cl->enabled ? find_peer(t, cl->peer_id) : NULL;
        if (cl->hidden)
            return qb_failf(QB_ERR_REMOTE, err, errlen,
                            "nodes[%d] (%s) will not say which peer it is (%s): give qbackup a "
                            "key with global read access",
                            i, url, cl->hidden);
        if (!cl->enabled)
            return qb_failf(QB_ERR_REMOTE, err, errlen,
                            "nodes[%d] (%s) runs without distributed mode; list nodes only for "
                            "a cluster",
                            i, url);
        if (!p)
            return qb_failf(QB_ERR_REMOTE, err, errlen,
                            "nodes[%d] (%s) is peer %llu, which is not a member of the cluster "
                            "of %s: it belongs to another cluster",
                            i, url, (unsigned long long)cl->peer_id, t->entry);
        if (p->rest_url)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "nodes[%d] (%s) is peer %llu, already listed as %s", i, url,
                            (unsigned long long)cl->peer_id, p->rest_url);
        p->rest_url = xstrdup(url);
    }
    return QB_OK;
}

/* Gives each URL that did not answer GET /cluster (the instance URL
 * first, then the nodes in order) to the next peer that no answer
 * accounts for.  With one such peer left the pairing is certain (every
 * other peer answered for itself); with more it follows the list's order
 * and says so.  Either way the peer counts as not answering, its error
 * naming the URL and why, so a backup takes its shards from other
 * replicas or fails the collection naming it, as for any silent peer;
 * the URL is never used for it (probe_peer).  The first such URL is also
 * kept in t->unanswered, for registration to refuse. */
static void pair_silent(const struct node_urls *u, struct topology *t)
{
    size_t left = 0;
    for (size_t i = 0; i < t->npeers; i++)
        left += t->peers[i].rest_url == NULL;
    size_t next = 0;
    for (size_t k = 0; k < u->n; k++) {
        const struct node_answer *a = answer_of(u, k);
        if ((k > 0 && a == &u->ans[0]) || !a->asked || !a->rc)
            continue; /* answered, or the instance URL again */
        char *label = node_label(u, k);
        if (!t->unanswered)
            t->unanswered = xasprintf("%s does not answer as a Qdrant peer: %s", label, a->err);
        while (next < t->npeers && t->peers[next].rest_url)
            next++;
        if (next < t->npeers) {
            struct topo_peer *p = &t->peers[next];
            p->rest_url = xstrdup(u->url[k]);
            p->paired = true;
            p->reachable = false;
            p->error = xasprintf("%s does not answer: %s%s", label, a->err,
                                 left == 1 ? ""
                                           : " (taken for this peer by the order of the "
                                             "instance's nodes: unconfirmed)");
        }
        free(label);
    }
}

enum qb_err topology_resolve(const struct store_instance *inst, long timeout_ms,
                             struct topology **out, char *err, size_t errlen)
{
    *out = NULL;
    struct topology *t = xcalloc(1, sizeof *t);
    cJSON *nodes = cJSON_Parse(inst->nodes ? inst->nodes : "[]");
    int nnodes = cJSON_GetArraySize(nodes);
    struct node_urls u = {.n = 1 + (size_t)nnodes};
    u.url = xcalloc(u.n, sizeof *u.url);
    u.ans = xcalloc(u.n, sizeof *u.ans);
    u.url[0] = inst->url;
    enum qb_err rc = QB_OK;
    const cJSON *n;
    size_t k = 1;
    cJSON_ArrayForEach(n, nodes)
    {
        u.url[k] = cJSON_GetStringValue(n);
        if (!u.url[k]) {
            rc = qb_failf(QB_ERR_INVALID, err, errlen, "nodes[%zu]: must be a URL", k - 1);
            goto out;
        }
        k++;
    }
    /* The members come from the first URL that answers: a peer down must
     * not hide the others, whichever it is. */
    size_t entry = 0;
    while (entry < u.n && ask(inst, u.url[entry], answer_of(&u, entry), timeout_ms)->rc)
        entry++;
    if (entry == u.n) {
        rc = qb_failf(u.ans[0].rc, err, errlen, "%s%s", u.ans[0].err,
                      nnodes ? " (nor does any of the instance's nodes answer)" : "");
        goto out;
    }
    const struct qdrant_cluster *cl = &answer_of(&u, entry)->cl;
    t->entry = xstrdup(u.url[entry]);
    t->cluster = cl->enabled;
    if (!cl->enabled) {
        t->peers = xcalloc(1, sizeof *t->peers);
        t->npeers = 1;
        t->peers[0].rest_url = xstrdup(t->entry);
        t->hidden = cl->hidden ? xstrdup(cl->hidden) : NULL;
        if (nnodes > 0 && cl->hidden)
            rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                          "the instance lists nodes but %s will not say which peers it has (%s): "
                          "give qbackup a key with global read access",
                          t->entry, cl->hidden);
        else if (nnodes > 0)
            rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                          "%s runs without distributed mode but the instance lists nodes; "
                          "remove them",
                          t->entry);
    } else {
        t->leader = cl->leader;
        t->self = cl->peer_id;
        t->peers = xcalloc(cl->npeers, sizeof *t->peers);
        t->npeers = cl->npeers;
        for (size_t i = 0; i < cl->npeers; i++) {
            t->peers[i].id = cl->peers[i].id;
            t->peers[i].uri = xstrdup(cl->peers[i].uri);
        }
        if (nnodes > 0) {
            rc = map_nodes(inst, &u, t, timeout_ms, err, errlen);
            /* The instance URL is a node too, even when not listed. */
            struct topo_peer *self = u.ans[0].rc ? NULL : find_peer(t, u.ans[0].cl.peer_id);
            if (!rc && self && !self->rest_url)
                self->rest_url = xstrdup(inst->url);
            if (!rc)
                pair_silent(&u, t);
            /* With a URL unanswered the pairing was by order, and a peer
             * left over may be the one that URL stands for: say so. */
            char *unless = t->unanswered ? xasprintf(" (unless it is the peer of a listed URL "
                                                     "that does not answer: %s)",
                                                     t->unanswered)
                                         : xstrdup("");
            for (size_t i = 0; !rc && i < t->npeers; i++)
                if (!t->peers[i].rest_url)
                    t->peers[i].error = xasprintf(
                        "peer %llu (%s) is not in the instance's nodes: add its REST URL%s",
                        (unsigned long long)t->peers[i].id, t->peers[i].uri, unless);
            free(unless);
        } else {
            for (size_t i = 0; i < t->npeers; i++) {
                struct topo_peer *p = &t->peers[i];
                p->rest_url = p->id == cl->peer_id ? xstrdup(inst->url)
                                                   : topology_rest_from_p2p(p->uri, inst->url);
                if (!p->rest_url)
                    p->error = xasprintf("peer %llu reports p2p URI \"%s\" with no host: list "
                                         "every peer's REST URL in the instance's nodes",
                                         (unsigned long long)p->id, p->uri);
            }
        }
    }
    bool guessed = t->cluster && nnodes == 0;
    for (size_t i = 0; !rc && i < t->npeers; i++)
        probe_peer(inst, &t->peers[i], guessed && t->peers[i].id != t->self, timeout_ms);
out:
    for (size_t i = 0; i < u.n; i++)
        qdrant_cluster_clear(&u.ans[i].cl);
    free(u.ans);
    free(u.url);
    cJSON_Delete(nodes);
    if (rc)
        topology_free(t);
    else
        *out = t;
    return rc;
}

enum qb_err topology_check_local(const struct topology *t, struct qdrant_client *qc,
                                 const char *collection, char *err, size_t errlen)
{
    if (!t->hidden)
        return QB_OK;
    struct qdrant_shard_view v = {0};
    enum qb_err rc = qdrant_shard_view_get(qc, collection, &v, err, errlen);
    if (rc == QB_ERR_NOT_FOUND)
        return QB_OK; /* no such route (or collection): the snapshot call will tell */
    if (rc)
        return rc;
    size_t remote = 0;
    uint64_t other = 0;
    for (size_t i = 0; i < v.nreplicas; i++) {
        if (!v.replicas[i].local) {
            remote++;
            other = v.replicas[i].peer_id;
        }
    }
    if (remote)
        rc = qb_failf(QB_ERR_REMOTE, err, errlen,
                      "collection %s has %zu replica(s) on other peers (peer %llu among them), "
                      "and the instance will not list its peers (%s): one peer's snapshot "
                      "would miss their shards; give qbackup a key with global read access "
                      "(GET /cluster)",
                      collection, remote, (unsigned long long)other, t->hidden);
    qdrant_shard_view_clear(&v);
    return rc;
}

enum qb_err topology_check_mapped(const struct topology *t, const char *instance, char *err,
                                  size_t errlen)
{
    for (size_t i = 0; i < t->npeers; i++)
        if (!t->peers[i].rest_url)
            return qb_failf(QB_ERR_REMOTE, err, errlen, "instance %s: %s", instance,
                            t->peers[i].error);
    return QB_OK;
}

enum qb_err topology_check_usable(const struct topology *t, const char *instance, char *err,
                                  size_t errlen)
{
    enum qb_err rc = topology_check_mapped(t, instance, err, errlen);
    for (size_t i = 0; !rc && i < t->npeers; i++) {
        const struct topo_peer *p = &t->peers[i];
        if (!p->reachable && p->paired) /* the error names the URL and why */
            return qb_failf(QB_ERR_TRANSIENT, err, errlen, "instance %s: peer %llu: %s", instance,
                            (unsigned long long)p->id, p->error);
        if (!p->reachable)
            return qb_failf(QB_ERR_TRANSIENT, err, errlen,
                            "instance %s: peer %llu at %s does not answer: %s; if that is not "
                            "its REST URL, list every peer in the instance's nodes",
                            instance, (unsigned long long)p->id, p->rest_url,
                            p->error ? p->error : "unknown error");
    }
    return rc;
}

const struct topo_peer *topology_peer(const struct topology *t, uint64_t id)
{
    return find_peer((struct topology *)(uintptr_t)t, id);
}

cJSON *topology_json(const struct topology *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "cluster", t->cluster);
    if (t->cluster && t->leader)
        json_add_u64(o, "leader", t->leader);
    else
        cJSON_AddNullToObject(o, "leader");
    cJSON *peers = cJSON_AddArrayToObject(o, "peers");
    for (size_t i = 0; i < t->npeers; i++) {
        const struct topo_peer *p = &t->peers[i];
        cJSON *po = cJSON_CreateObject();
        if (t->cluster)
            json_add_u64(po, "peer_id", p->id);
        else
            cJSON_AddNullToObject(po, "peer_id");
        cJSON_AddItemToObject(po, "uri", p->uri ? cJSON_CreateString(p->uri) : cJSON_CreateNull());
        cJSON_AddItemToObject(po, "rest_url",
                              p->rest_url ? cJSON_CreateString(p->rest_url) : cJSON_CreateNull());
        cJSON_AddBoolToObject(po, "reachable", p->reachable);
        cJSON_AddItemToObject(po, "version",
                              p->version ? cJSON_CreateString(p->version) : cJSON_CreateNull());
        cJSON_AddBoolToObject(po, "leader", t->cluster && p->id == t->leader);
        if (p->error)
            cJSON_AddStringToObject(po, "error", p->error);
        cJSON_AddItemToArray(peers, po);
    }
    return o;
}
