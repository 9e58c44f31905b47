/* SPDX-License-Identifier: Apache-2.0 */
/* emu_ops_recover.c -- the replica-state side of snapshot recovery (see
 * emu_ops.h), after Qdrant's _do_recover_from_snapshot
 * (lib/storage/src/content_manager/snapshots/recover.rs) and
 * recover_shard_snapshot_impl (src/common/snapshots.rs):
 *
 *   other active replicas | priority  | this replica | the others
 *   ----------------------+-----------+--------------+-------------------------
 *   none                  | any       | Active       | -
 *   some                  | no_sync   | Active       | unchanged
 *   some                  | snapshot  | Active       | Dead, healed from us (5/6:
 *                         |           |              | beyond replication_factor
 *                         |           |              | - 1 removed instead)
 *   some                  | replica   | Dead, healed | unchanged
 *                         |           | from them    |
 *
 * "Healed" = Qdrant's automatic recovery (5/6 with `replica` request the
 * transfer at once), see emu_sync.c. */
#include "emu_ops.h"

#include <stdio.h>
#include <string.h>

#include "emu_meta.h"
#include "emu_sync.h"
#include "emu_topo.h"
#include "emu_util.h"

struct rec_args {
    const char *coll;
    unsigned sid;
    enum emu_priority prio;
    int collection_level;
    cJSON *previous;      /* begin: built here */
    const cJSON *restore; /* revert: as begin built it */
};

static cJSON *my_shard(cJSON *state, const char *coll, unsigned sid, struct emu_status *st)
{
    cJSON *c = emu_topo_coll(state, coll);
    if (!c) {
        emu_fail(st, 404, "Not found: Collection `%s` doesn't exist!", coll);
        return NULL;
    }
    cJSON *s = emu_topo_shard(c, sid);
    if (!s)
        emu_fail(st, 404, "Not found: shard %u not found", sid);
    return s;
}

static int begin_fn(cJSON *state, void *arg, struct emu_status *st)
{
    struct rec_args *a = arg;
    cJSON *coll = emu_topo_coll(state, a->coll);
    if (!coll)
        return emu_fail(st, 404, "Not found: Collection `%s` doesn't exist!", a->coll);
    cJSON_Delete(a->previous);
    a->previous = cJSON_CreateObject();
    cJSON *s;
    cJSON_ArrayForEach(s, emu_topo_shards(coll))
    {
        cJSON *r = emu_topo_replica(s, emu_cfg()->peer_id);
        const char *now = r ? emu_topo_replica_state(r) : NULL;
        if (!r || strcmp(now, "ManualRecovery") == 0)
            continue;
        char key[16];
        snprintf(key, sizeof(key), "%u", emu_topo_shard_id(s));
        cJSON_AddStringToObject(a->previous, key, now);
        emu_topo_set_state(r, "ManualRecovery");
    }
    return 0;
}

int emu_ops_recover_begin(const char *coll, cJSON **previous, struct emu_status *st)
{
    struct rec_args a = {.coll = coll};
    int rc = emu_meta_update(begin_fn, &a, st);
    emu_sync_now();
    if (rc != 0) {
        cJSON_Delete(a.previous);
        a.previous = NULL;
    }
    *previous = a.previous;
    return rc;
}

static int revert_fn(cJSON *state, void *arg, struct emu_status *st)
{
    struct rec_args *a = arg;
    (void)st;
    char key[16];
    snprintf(key, sizeof(key), "%u", a->sid);
    const cJSON *prev = cJSON_GetObjectItemCaseSensitive(a->restore, key);
    cJSON *r =
        emu_topo_replica(emu_topo_shard(emu_topo_coll(state, a->coll), a->sid), emu_cfg()->peer_id);
    if (cJSON_IsString(prev) && r && strcmp(emu_topo_replica_state(r), "ManualRecovery") == 0)
        emu_topo_set_state(r, prev->valuestring);
    return 0;
}

void emu_ops_recover_revert(const char *coll, unsigned sid, const cJSON *previous)
{
    struct rec_args a = {.coll = coll, .sid = sid, .restore = previous};
    struct emu_status st;
    if (emu_meta_update(revert_fn, &a, &st) != 0)
        emu_log("WARN", "can't restore the state of %s/%u: %s", coll, sid, st.msg);
    emu_sync_now();
}

static int adopt_fn(cJSON *state, void *arg, struct emu_status *st)
{
    struct rec_args *a = arg;
    cJSON *shard = my_shard(state, a->coll, a->sid, st);
    if (!shard)
        return -1;
    if (!emu_topo_replica(shard, emu_cfg()->peer_id))
        emu_topo_add_replica(shard, emu_cfg()->peer_id, "ManualRecovery");
    return 0;
}

int emu_ops_recover_adopt(const char *coll, unsigned sid, struct emu_status *st)
{
    struct rec_args a = {.coll = coll, .sid = sid};
    int rc = emu_meta_update(adopt_fn, &a, st);
    emu_sync_now();
    return rc;
}

static void heal_later(cJSON *replica, uint64_t from, long delay_ms)
{
    char src[24];
    emu_u64_str(from, src, sizeof(src));
    emu_topo_set_state(replica, "Dead");
    cJSON_AddNumberToObject(replica, "heal_at", (double)(emu_wall_ms() + delay_ms));
    cJSON_AddStringToObject(replica, "heal_from", src);
}

static int activate_fn(cJSON *state, void *arg, struct emu_status *st)
{
    struct rec_args *a = arg;
    uint64_t me = emu_cfg()->peer_id;
    cJSON *shard = my_shard(state, a->coll, a->sid, st);
    if (!shard)
        return -1;
    cJSON *mine = emu_topo_add_replica(shard, me, "ManualRecovery");
    cJSON *others[64];
    int n = 0;
    cJSON *r;
    cJSON_ArrayForEach(r, emu_topo_replicas(shard))
    {
        if (r != mine && n < 64 && emu_state_active(emu_topo_replica_state(r)))
            others[n++] = r;
    }
    if (n == 0 || a->prio == EMU_PRIO_NO_SYNC) {
        emu_topo_set_state(mine, "Active");
        return 0;
    }
    if (a->prio == EMU_PRIO_REPLICA) {
        /* 5/6 request a transfer from the other replica right away; 16/17
         * mark ours Dead and automatic recovery heals it. */
        heal_later(mine, emu_topo_replica_peer(others[0]),
                   a->collection_level ? 0 : emu_cfg()->heal_ms);
        return 0;
    }
    emu_topo_set_state(mine, "Active");
    int remove = 0;
    if (a->collection_level) {
        int keep = emu_topo_param_int(emu_topo_coll(state, a->coll), "replication_factor", 1) - 1;
        remove = n > keep ? n - keep : 0;
    }
    for (int i = 0; i < n; i++) {
        if (i < remove)
            cJSON_Delete(cJSON_DetachItemViaPointer(emu_topo_replicas(shard), others[i]));
        else
            heal_later(others[i], me, emu_cfg()->heal_ms);
    }
    return 0;
}

int emu_ops_recover_activate(const char *coll, unsigned sid, enum emu_priority prio,
                             int collection_level, struct emu_status *st)
{
    struct rec_args a = {
        .coll = coll, .sid = sid, .prio = prio, .collection_level = collection_level};
    int rc = emu_meta_update(activate_fn, &a, st);
    emu_sync_now();
    return rc;
}
