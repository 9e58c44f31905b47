/* SPDX-License-Identifier: Apache-2.0 */
/* emu_ops.c -- collection meta operations on the cluster state (see
 * emu_ops.h).  Each public function packs its arguments, runs one
 * emu_meta_update and reconciles local storage. */
#include "emu_ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_meta.h"
#include "emu_sync.h"
#include "emu_topo.h"
#include "emu_util.h"

static int update(emu_meta_fn fn, void *arg, struct emu_status *st)
{
    int rc = emu_meta_update(fn, arg, st);
    emu_sync_now();
    return rc;
}

static cJSON *coll_or_404(cJSON *state, const char *name, struct emu_status *st)
{
    cJSON *c = emu_topo_coll(state, name);
    if (!c)
        emu_fail(st, 404, "Not found: Collection `%s` doesn't exist!", name);
    return c;
}

static cJSON *shard_or_404(cJSON *coll, unsigned sid, struct emu_status *st)
{
    cJSON *s = emu_topo_shard(coll, sid);
    if (!s)
        emu_fail(st, 404, "Not found: shard %u not found", sid);
    return s;
}

/* ---- collections (lib/storage/src/content_manager/toc/create_collection.rs) ---- */

struct create_args {
    const char *name;
    cJSON *config;
    const cJSON *mapping;
};

static int add_shard(cJSON *state, cJSON *coll, unsigned sid, const cJSON *key, int rf,
                     const uint64_t *pool, int npool, const char *initial, struct emu_status *st)
{
    cJSON *shard = emu_topo_new_shard(state, sid, key, rf, pool, npool, initial);
    if (!shard)
        return emu_fail(st, 500, "Service internal error: no peer to place shard %u on", sid);
    cJSON_AddItemToArray(emu_topo_shards(coll), shard);
    return 0;
}

static int create_fn(cJSON *state, void *arg, struct emu_status *st)
{
    struct create_args *a = arg;
    if (emu_topo_coll(state, a->name))
        return emu_fail(st, 409, "Wrong input: Collection `%s` already exists!", a->name);
    if (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(state, "aliases"),
                                         a->name))
        return emu_fail(st, 400,
                        "Wrong input: Can't create collection with name %s. Alias with the same "
                        "name already exists",
                        a->name);
    cJSON *coll = cJSON_CreateObject();
    cJSON_AddItemToObject(coll, "config", cJSON_Duplicate(a->config, 1));
    cJSON_AddObjectToObject(coll, "payload_schema");
    cJSON_AddArrayToObject(coll, "shards");
    int rf = emu_topo_param_int(coll, "replication_factor", 1);
    int rc = 0;
    if (!emu_topo_is_custom(coll)) {
        int n = emu_topo_param_int(coll, "shard_number", 1);
        for (int sid = 0; rc == 0 && sid < n; sid++)
            rc = add_shard(state, coll, (unsigned)sid, NULL, rf, NULL, 0, "Active", st);
    } else {
        const cJSON *pair;
        cJSON_ArrayForEach(pair, a->mapping)
        {
            const cJSON *key = cJSON_GetObjectItemCaseSensitive(pair, "key");
            const cJSON *id;
            cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(pair, "shard_ids"))
            {
                if (rc == 0 && cJSON_IsNumber(id) && emu_topo_key_valid(key))
                    rc = add_shard(state, coll, (unsigned)id->valuedouble, key, rf, NULL, 0,
                                   "Active", st);
            }
        }
    }
    if (rc != 0) {
        cJSON_Delete(coll);
        return -1;
    }
    cJSON_AddItemToObject(emu_topo_colls(state), a->name, coll);
    return 0;
}

int emu_ops_create(const char *name, cJSON *config, const cJSON *mapping, struct emu_status *st)
{
    struct create_args a = {name, config, mapping};
    int rc = update(create_fn, &a, st);
    cJSON_Delete(config);
    return rc;
}

static void remove_aliases_of(cJSON *state, const char *coll)
{
    cJSON *aliases = cJSON_GetObjectItemCaseSensitive(state, "aliases");
    cJSON *a = aliases ? aliases->child : NULL;
    while (a) {
        cJSON *next = a->next;
        if (cJSON_IsString(a) && strcmp(a->valuestring, coll) == 0)
            cJSON_Delete(cJSON_DetachItemViaPointer(aliases, a));
        a = next;
    }
}

static int delete_fn(cJSON *state, void *arg, struct emu_status *st)
{
    (void)st;
    const char *name = *(const char **)arg;
    cJSON *colls = emu_topo_colls(state);
    int existed = emu_topo_coll(state, name) != NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(colls, name);
    remove_aliases_of(state, name);
    emu_topo_drop_transfers(state, name, -1);
    *(const char **)arg = existed ? name : NULL;
    return 0;
}

int emu_ops_delete(const char *name)
{
    const char *arg = name;
    struct emu_status st;
    if (update(delete_fn, &arg, &st) != 0)
        return 0;
    return arg != NULL;
}

/* ---- shard keys (lib/collection/src/collection/sharding_keys.rs) ---- */

struct key_args {
    const char *coll;
    const cJSON *body;
};

/* Peer ids of a placement list; 400 naming unknown ones like Qdrant. */
static int placement_pool(const cJSON *state, const cJSON *placement, const char *key_text,
                          uint64_t *pool, int *npool, struct emu_status *st)
{
    char unknown[512] = "";
    size_t used = 0;
    *npool = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, placement)
    {
        uint64_t id;
        if (emu_topo_peer_from_json(state, p, &id) == 0) {
            if (*npool < 64)
                pool[(*npool)++] = id;
            continue;
        }
        int w = cJSON_IsString(p)
                    ? snprintf(unknown + used, sizeof(unknown) - used, "%s%s", used ? ", " : "",
                               p->valuestring)
                    : snprintf(unknown + used, sizeof(unknown) - used, "%s%.0f", used ? ", " : "",
                               cJSON_IsNumber(p) ? p->valuedouble : 0);
        if (w > 0 && (size_t)w < sizeof(unknown) - used)
            used += (size_t)w;
    }
    if (used)
        return emu_fail(st, 400, "Bad request: Shard Key %s placement contains unknown peers: [%s]",
                        key_text, unknown);
    if (placement && !*npool)
        return emu_fail(st, 400, "Bad request: Shard key %s placement cannot be empty", key_text);
    return 0;
}

/* A positive integer member or def (0 when absent); -1 + 400/422 when bad. */
static long opt_positive(const cJSON *body, const char *key, long def, struct emu_status *st)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!v || cJSON_IsNull(v))
        return def;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0)
        return emu_fail(st, 400, "Format error in JSON body: invalid type for `%s`", key);
    if (v->valuedouble < 1)
        return emu_fail(st, 422,
                        "Validation error in JSON body: [%s: value 0 invalid, must be 1 or larger]",
                        key);
    return (long)v->valuedouble;
}

static int key_create_fn(cJSON *state, void *arg, struct emu_status *st)
{
    struct key_args *a = arg;
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(a->body, "shard_key");
    const cJSON *init = cJSON_GetObjectItemCaseSensitive(a->body, "initial_state");
    if (!key)
        return emu_fail(st, 400, "Format error in JSON body: missing field `shard_key`");
    if (!emu_topo_key_valid(key))
        return emu_fail(st, 400,
                        "Format error in JSON body: data did not match any variant of untagged "
                        "enum ShardKey");
    if (init && !cJSON_IsNull(init) &&
        !(cJSON_IsString(init) && emu_state_valid(init->valuestring)))
        return emu_fail(st, 400, "Format error in JSON body: unknown variant of `initial_state`");
    cJSON *coll = coll_or_404(state, a->coll, st);
    if (!coll)
        return -1;
    char text[256];
    emu_topo_key_text(key, text, sizeof(text));
    if (!emu_topo_is_custom(coll))
        return emu_fail(
            st, 400, "Bad request: Shard Key %s cannot be created with Auto sharding method", text);
    const cJSON *s;
    cJSON_ArrayForEach(s, emu_topo_shards(coll))
    {
        if (emu_topo_key_equal(emu_topo_shard_key(s), key))
            return emu_fail(st, 400, "Bad request: Shard key %s already exists", text);
    }
    long n =
        opt_positive(a->body, "shards_number", emu_topo_param_int(coll, "shard_number", 1), st);
    long rf = n < 0 ? -1
                    : opt_positive(a->body, "replication_factor",
                                   emu_topo_param_int(coll, "replication_factor", 1), st);
    if (rf < 0)
        return -1;
    uint64_t pool[64];
    int npool = 0;
    const cJSON *placement = cJSON_GetObjectItemCaseSensitive(a->body, "placement");
    if (cJSON_IsArray(placement) && placement_pool(state, placement, text, pool, &npool, st) != 0)
        return -1;
    long max = emu_topo_max_shard_id(coll);
    unsigned base = (unsigned)(max < 0 ? 0 : max) + 1; /* Qdrant: max_shard_id() + 1 */
    for (long i = 0; i < n; i++) {
        if (add_shard(state, coll, base + (unsigned)i, key, (int)rf, npool ? pool : NULL, npool,
                      cJSON_IsString(init) ? init->valuestring : "Active", st) != 0)
            return -1;
    }
    return 0;
}

int emu_ops_shard_key_create(const char *coll, const cJSON *body, struct emu_status *st)
{
    struct key_args a = {coll, body};
    return update(key_create_fn, &a, st);
}

static int key_delete_fn(cJSON *state, void *arg, struct emu_status *st)
{
    struct key_args *a = arg;
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(a->body, "shard_key");
    if (!key)
        return emu_fail(st, 400, "Format error in JSON body: missing field `shard_key`");
    if (!emu_topo_key_valid(key))
        return emu_fail(st, 400,
                        "Format error in JSON body: data did not match any variant of untagged "
                        "enum ShardKey");
    cJSON *coll = coll_or_404(state, a->coll, st);
    if (!coll)
        return -1;
    char text[256];
    emu_topo_key_text(key, text, sizeof(text));
    if (!emu_topo_is_custom(coll))
        return emu_fail(
            st, 400, "Bad request: shard key %s cannot be removed with Auto sharding method", text);
    cJSON *shards = emu_topo_shards(coll);
    cJSON *s = shards ? shards->child : NULL;
    while (s) {
        cJSON *next = s->next;
        if (emu_topo_key_equal(emu_topo_shard_key(s), key)) {
            emu_topo_drop_transfers(state, a->coll, (long)emu_topo_shard_id(s));
            cJSON_Delete(cJSON_DetachItemViaPointer(shards, s));
        }
        s = next;
    }
    return 0; /* an unknown key is no error (ShardHolder::remove_shard_key) */
}

int emu_ops_shard_key_delete(const char *coll, const cJSON *body, struct emu_status *st)
{
    struct key_args a = {coll, body};
    return update(key_delete_fn, &a, st);
}

/* ---- payload indexes ---- */

struct index_args {
    const char *coll;
    const char *field;
    const cJSON *schema;
};

static int index_fn(cJSON *state, void *arg, struct emu_status *st)
{
    struct index_args *a = arg;
    cJSON *coll = coll_or_404(state, a->coll, st);
    if (!coll)
        return -1;
    cJSON *schema = cJSON_GetObjectItemCaseSensitive(coll, "payload_schema");
    if (!schema)
        schema = cJSON_AddObjectToObject(coll, "payload_schema");
    cJSON_DeleteItemFromObjectCaseSensitive(schema, a->field);
    if (a->schema)
        cJSON_AddItemToObject(schema, a->field, cJSON_Duplicate(a->schema, 1));
    return 0;
}

int emu_ops_index(const char *coll, const char *field, const cJSON *schema, struct emu_status *st)
{
    struct index_args a = {coll, field, schema};
    return update(index_fn, &a, st);
}

/* ---- aliases (lib/storage/src/content_manager/toc/collection_meta_ops.rs) ---- */

static const char *str_member(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

struct alias_args {
    const cJSON *actions;
};

static int aliases_fn(cJSON *state, void *arg, struct emu_status *st)
{
    cJSON *aliases = cJSON_GetObjectItemCaseSensitive(state, "aliases");
    const struct alias_args *a = arg;
    const cJSON *act;
    cJSON_ArrayForEach(act, a->actions)
    {
        const cJSON *ca = cJSON_GetObjectItemCaseSensitive(act, "create_alias");
        const cJSON *da = cJSON_GetObjectItemCaseSensitive(act, "delete_alias");
        const cJSON *ra = cJSON_GetObjectItemCaseSensitive(act, "rename_alias");
        if (ca) {
            const char *c = str_member(ca, "collection_name"), *al = str_member(ca, "alias_name");
            if (!c || !al)
                return emu_fail(st, 400,
                                "Format error in JSON body: data did not match any variant of "
                                "untagged enum AliasOperations");
            if (!coll_or_404(state, c, st))
                return -1;
            if (emu_topo_coll(state, al))
                return emu_fail(st, 409, "Wrong input: Collection `%s` already exists!", al);
            cJSON_DeleteItemFromObjectCaseSensitive(aliases, al);
            cJSON_AddStringToObject(aliases, al, c);
        } else if (da) {
            const char *al = str_member(da, "alias_name");
            if (!al)
                return emu_fail(st, 400, "Format error in JSON body: missing field `alias_name`");
            cJSON_DeleteItemFromObjectCaseSensitive(aliases, al);
        } else if (ra) {
            const char *old = str_member(ra, "old_alias_name");
            const char *nu = str_member(ra, "new_alias_name");
            if (!old || !nu)
                return emu_fail(st, 400,
                                "Format error in JSON body: data did not match any variant of "
                                "untagged enum AliasOperations");
            const cJSON *target = cJSON_GetObjectItemCaseSensitive(aliases, old);
            if (!cJSON_IsString(target))
                return emu_fail(st, 404, "Not found: Alias %s does not exists!", old);
            char *coll = strdup(target->valuestring);
            if (!coll)
                abort();
            cJSON_DeleteItemFromObjectCaseSensitive(aliases, old);
            cJSON_DeleteItemFromObjectCaseSensitive(aliases, nu);
            cJSON_AddStringToObject(aliases, nu, coll);
            free(coll);
        } else {
            return emu_fail(st, 400,
                            "Format error in JSON body: data did not match any variant of "
                            "untagged enum AliasOperations");
        }
    }
    return 0;
}

int emu_ops_aliases(const cJSON *actions, struct emu_status *st)
{
    if (!cJSON_IsArray(actions))
        return emu_fail(st, 400, "Format error in JSON body: missing field `actions`");
    struct alias_args a = {actions};
    return update(aliases_fn, &a, st);
}

/* ---- debug ---- */

struct replica_args {
    const char *coll;
    unsigned sid;
    uint64_t peer, to;
    const char *state;
    int sync;
    const char *method;
};

static int set_replica_fn(cJSON *state, void *arg, struct emu_status *st)
{
    struct replica_args *a = arg;
    cJSON *coll = coll_or_404(state, a->coll, st);
    cJSON *shard = coll ? shard_or_404(coll, a->sid, st) : NULL;
    if (!shard)
        return -1;
    cJSON *r = emu_topo_replica(shard, a->peer);
    if (!r)
        return emu_fail(st, 400, "Wrong input: peer %llu holds no replica of shard %u",
                        (unsigned long long)a->peer, a->sid);
    emu_topo_set_state(r, a->state);
    return 0;
}

int emu_ops_set_replica(const char *coll, unsigned sid, uint64_t peer, const char *state,
                        struct emu_status *st)
{
    if (!emu_state_valid(state))
        return emu_fail(st, 400, "Wrong input: unknown replica state %s", state);
    struct replica_args a = {.coll = coll, .sid = sid, .peer = peer, .state = state};
    return update(set_replica_fn, &a, st);
}

static int add_transfer_fn(cJSON *state, void *arg, struct emu_status *st)
{
    struct replica_args *a = arg;
    cJSON *coll = coll_or_404(state, a->coll, st);
    if (!coll || !shard_or_404(coll, a->sid, st))
        return -1;
    char from[24], to[24];
    emu_u64_str(a->peer, from, sizeof(from));
    emu_u64_str(a->to, to, sizeof(to));
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "collection", a->coll);
    cJSON_AddNumberToObject(t, "shard_id", a->sid);
    cJSON_AddStringToObject(t, "from", from);
    cJSON_AddStringToObject(t, "to", to);
    cJSON_AddBoolToObject(t, "sync", a->sync);
    if (a->method)
        cJSON_AddStringToObject(t, "method", a->method);
    cJSON_AddItemToArray(emu_topo_transfers(state), t);
    return 0;
}

int emu_ops_add_transfer(const char *coll, unsigned sid, uint64_t from, uint64_t to, int sync,
                         const char *method, struct emu_status *st)
{
    static const char *const methods[] = {"stream_records", "snapshot", "wal_delta",
                                          "resharding_stream_records"};
    int ok = !method;
    for (size_t i = 0; method && i < sizeof(methods) / sizeof(methods[0]); i++)
        ok |= strcmp(method, methods[i]) == 0;
    if (!ok)
        return emu_fail(st, 400, "Wrong input: unknown transfer method %s", method);
    struct replica_args a = {
        .coll = coll, .sid = sid, .peer = from, .to = to, .sync = sync, .method = method};
    return update(add_transfer_fn, &a, st);
}

static int clear_transfers_fn(cJSON *state, void *arg, struct emu_status *st)
{
    (void)arg;
    (void)st;
    cJSON_DeleteItemFromObjectCaseSensitive(state, "transfers");
    cJSON_AddArrayToObject(state, "transfers");
    return 0;
}

int emu_ops_clear_transfers(struct emu_status *st)
{
    return update(clear_transfers_fn, NULL, st);
}

static int reset_fn(cJSON *state, void *arg, struct emu_status *st)
{
    (void)arg;
    (void)st;
    static const char *const objs[] = {"collections", "aliases"};
    for (size_t i = 0; i < 2; i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(state, objs[i]);
        cJSON_AddObjectToObject(state, objs[i]);
    }
    cJSON *e = cJSON_GetObjectItemCaseSensitive(state, "epoch");
    cJSON_SetNumberValue(e, (cJSON_IsNumber(e) ? e->valuedouble : 0) + 1);
    return clear_transfers_fn(state, NULL, st);
}

int emu_ops_reset(struct emu_status *st)
{
    return update(reset_fn, NULL, st);
}
