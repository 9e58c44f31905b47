/* SPDX-License-Identifier: Apache-2.0 */
/* emu_topo.c -- the cluster state document (see emu_topo.h). */
#include "emu_topo.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "emu_util.h"

/* ---- replica states ---- */

static int one_of(const char *s, const char *const *names)
{
    for (; s && *names; names++)
        if (strcmp(s, *names) == 0)
            return 1;
    return 0;
}

int emu_state_valid(const char *s)
{
    static const char *const all[] = {"Active",       "Dead",           "Partial",
                                      "Initializing", "Listener",       "PartialSnapshot",
                                      "Recovery",     "Resharding",     "ReshardingScaleDown",
                                      "ActiveRead",   "ManualRecovery", NULL};
    return one_of(s, all);
}

int emu_state_readable(const char *s)
{
    static const char *const r[] = {"Active", "ReshardingScaleDown", "ActiveRead", NULL};
    return one_of(s, r);
}

int emu_state_updatable(const char *s)
{
    static const char *const u[] = {"Active",     "Partial",    "Initializing",
                                    "Listener",   "Resharding", "ReshardingScaleDown",
                                    "ActiveRead", NULL};
    return one_of(s, u);
}

int emu_state_active(const char *s)
{
    static const char *const a[] = {"Active", "ReshardingScaleDown", NULL};
    return one_of(s, a);
}

/* ---- peers ---- */

int emu_topo_npeers(const cJSON *state)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(state, "peers"));
}

const cJSON *emu_topo_peer_at(const cJSON *state, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(state, "peers"), i);
}

uint64_t emu_topo_peer_id(const cJSON *peer)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(peer, "id");
    uint64_t v = 0;
    if (!cJSON_IsString(id) || emu_u64_parse(id->valuestring, &v) != 0)
        return 0;
    return v;
}

const cJSON *emu_topo_peer(const cJSON *state, uint64_t id)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(state, "peers"))
    {
        if (emu_topo_peer_id(p) == id)
            return p;
    }
    return NULL;
}

const char *emu_topo_peer_url(const cJSON *state, uint64_t id)
{
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(emu_topo_peer(state, id), "url");
    return cJSON_IsString(url) ? url->valuestring : NULL;
}

uint64_t emu_topo_leader(const cJSON *state)
{
    return emu_topo_peer_id(emu_topo_peer_at(state, 0));
}

int emu_topo_peer_from_json(const cJSON *state, const cJSON *j, uint64_t *out)
{
    uint64_t v;
    if (cJSON_IsString(j)) {
        if (emu_u64_parse(j->valuestring, &v) != 0 || !emu_topo_peer(state, v))
            return -1;
        *out = v;
        return 0;
    }
    if (!cJSON_IsNumber(j) || j->valuedouble < 0)
        return -1;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(state, "peers"))
    {
        v = emu_topo_peer_id(p);
        if ((double)v == j->valuedouble) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* ---- collections, shards, replicas ---- */

cJSON *emu_topo_colls(const cJSON *state)
{
    return cJSON_GetObjectItemCaseSensitive(state, "collections");
}

cJSON *emu_topo_coll(const cJSON *state, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(emu_topo_colls(state), name);
}

const char *emu_topo_resolve(const cJSON *state, const char *name)
{
    if (emu_topo_coll(state, name))
        return name;
    const cJSON *a =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(state, "aliases"), name);
    return cJSON_IsString(a) ? a->valuestring : name;
}

cJSON *emu_topo_config(const cJSON *coll)
{
    return cJSON_GetObjectItemCaseSensitive(coll, "config");
}

cJSON *emu_topo_params(const cJSON *coll)
{
    return cJSON_GetObjectItemCaseSensitive(emu_topo_config(coll), "params");
}

int emu_topo_is_custom(const cJSON *coll)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(emu_topo_params(coll), "sharding_method");
    return cJSON_IsString(m) && strcmp(m->valuestring, "custom") == 0;
}

int emu_topo_param_int(const cJSON *coll, const char *key, int def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(emu_topo_params(coll), key);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : def;
}

cJSON *emu_topo_shards(const cJSON *coll)
{
    return cJSON_GetObjectItemCaseSensitive(coll, "shards");
}

unsigned emu_topo_shard_id(const cJSON *shard)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(shard, "id");
    return cJSON_IsNumber(id) ? (unsigned)id->valuedouble : 0;
}

cJSON *emu_topo_shard(const cJSON *coll, unsigned sid)
{
    cJSON *s;
    cJSON_ArrayForEach(s, emu_topo_shards(coll))
    {
        if (emu_topo_shard_id(s) == sid)
            return s;
    }
    return NULL;
}

const cJSON *emu_topo_shard_key(const cJSON *shard)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(shard, "key");
    return k && !cJSON_IsNull(k) ? k : NULL;
}

cJSON *emu_topo_replicas(const cJSON *shard)
{
    return cJSON_GetObjectItemCaseSensitive(shard, "replicas");
}

uint64_t emu_topo_replica_peer(const cJSON *replica)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(replica, "peer");
    uint64_t v = 0;
    if (!cJSON_IsString(p) || emu_u64_parse(p->valuestring, &v) != 0)
        return 0;
    return v;
}

cJSON *emu_topo_replica(const cJSON *shard, uint64_t peer)
{
    cJSON *r;
    cJSON_ArrayForEach(r, emu_topo_replicas(shard))
    {
        if (emu_topo_replica_peer(r) == peer)
            return r;
    }
    return NULL;
}

const char *emu_topo_replica_state(const cJSON *replica)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(replica, "state");
    return cJSON_IsString(s) ? s->valuestring : "Dead";
}

void emu_topo_set_state(cJSON *replica, const char *state)
{
    cJSON_DeleteItemFromObjectCaseSensitive(replica, "state");
    cJSON_DeleteItemFromObjectCaseSensitive(replica, "heal_at");
    cJSON_DeleteItemFromObjectCaseSensitive(replica, "heal_from");
    cJSON_AddStringToObject(replica, "state", state);
}

static cJSON *new_replica(uint64_t peer, const char *state)
{
    char id[24];
    emu_u64_str(peer, id, sizeof(id));
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "peer", id);
    cJSON_AddStringToObject(r, "state", state);
    return r;
}

cJSON *emu_topo_add_replica(cJSON *shard, uint64_t peer, const char *state)
{
    cJSON *r = emu_topo_replica(shard, peer);
    if (r) {
        emu_topo_set_state(r, state);
        return r;
    }
    cJSON *reps = emu_topo_replicas(shard);
    if (!reps)
        reps = cJSON_AddArrayToObject(shard, "replicas");
    r = new_replica(peer, state);
    cJSON_AddItemToArray(reps, r);
    return r;
}

long emu_topo_max_shard_id(const cJSON *coll)
{
    long max = -1;
    const cJSON *s;
    cJSON_ArrayForEach(s, emu_topo_shards(coll))
    {
        if ((long)emu_topo_shard_id(s) > max)
            max = (long)emu_topo_shard_id(s);
    }
    return max;
}

/* ---- shard keys ---- */

int emu_topo_key_equal(const cJSON *a, const cJSON *b)
{
    if (cJSON_IsString(a) && cJSON_IsString(b))
        return strcmp(a->valuestring, b->valuestring) == 0;
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
        return a->valuedouble == b->valuedouble;
    return 0;
}

void emu_topo_key_text(const cJSON *key, char *buf, size_t size)
{
    if (cJSON_IsString(key))
        snprintf(buf, size, "%s", key->valuestring);
    else if (cJSON_IsNumber(key))
        snprintf(buf, size, "%.0f", key->valuedouble);
    else
        snprintf(buf, size, "?");
}

int emu_topo_key_valid(const cJSON *key)
{
    if (cJSON_IsString(key))
        return 1;
    return cJSON_IsNumber(key) && key->valuedouble >= 0 &&
           key->valuedouble == floor(key->valuedouble);
}

cJSON *emu_topo_key_mapping(const cJSON *coll)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *s;
    cJSON_ArrayForEach(s, emu_topo_shards(coll))
    {
        const cJSON *key = emu_topo_shard_key(s);
        if (!key)
            continue;
        cJSON *pair = NULL, *p;
        cJSON_ArrayForEach(p, out)
        {
            if (emu_topo_key_equal(cJSON_GetObjectItemCaseSensitive(p, "key"), key))
                pair = p;
        }
        if (!pair) {
            pair = cJSON_CreateObject();
            cJSON_AddItemToObject(pair, "key", cJSON_Duplicate(key, 1));
            cJSON_AddArrayToObject(pair, "shard_ids");
            cJSON_AddItemToArray(out, pair);
        }
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(pair, "shard_ids"),
                             cJSON_CreateNumber(emu_topo_shard_id(s)));
    }
    return out;
}

/* ---- placement ---- */

cJSON *emu_topo_new_shard(const cJSON *state, unsigned sid, const cJSON *key, int rf,
                          const uint64_t *pool, int npool, const char *initial)
{
    int n = pool ? npool : emu_topo_npeers(state);
    if (n <= 0)
        return NULL;
    if (rf < 1)
        rf = 1;
    if (rf > n)
        rf = n; /* Qdrant cannot place two replicas on one peer either */
    cJSON *shard = cJSON_CreateObject();
    cJSON_AddNumberToObject(shard, "id", sid);
    cJSON_AddItemToObject(shard, "key", key ? cJSON_Duplicate(key, 1) : cJSON_CreateNull());
    cJSON *reps = cJSON_AddArrayToObject(shard, "replicas");
    for (int j = 0; j < rf; j++) {
        int i = (int)((sid + (unsigned)j) % (unsigned)n);
        uint64_t peer = pool ? pool[i] : emu_topo_peer_id(emu_topo_peer_at(state, i));
        cJSON_AddItemToArray(reps, new_replica(peer, initial));
    }
    return shard;
}

/* ---- transfers ---- */

cJSON *emu_topo_transfers(const cJSON *state)
{
    return cJSON_GetObjectItemCaseSensitive(state, "transfers");
}

static int transfer_is(const cJSON *t, const char *coll, long sid)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "collection");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "shard_id");
    return cJSON_IsString(c) && strcmp(c->valuestring, coll) == 0 &&
           (sid < 0 || (cJSON_IsNumber(s) && (long)s->valuedouble == sid));
}

cJSON *emu_topo_transfer(const cJSON *state, const char *coll, unsigned sid)
{
    cJSON *t;
    cJSON_ArrayForEach(t, emu_topo_transfers(state))
    {
        if (transfer_is(t, coll, (long)sid))
            return t;
    }
    return NULL;
}

void emu_topo_drop_transfers(cJSON *state, const char *coll, long sid)
{
    cJSON *ts = emu_topo_transfers(state);
    cJSON *t = ts ? ts->child : NULL;
    while (t) {
        cJSON *next = t->next;
        if (transfer_is(t, coll, sid))
            cJSON_Delete(cJSON_DetachItemViaPointer(ts, t));
        t = next;
    }
}
