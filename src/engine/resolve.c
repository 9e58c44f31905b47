/* SPDX-License-Identifier: Apache-2.0
 *
 * resolve.c -- catalogue rows to clients and storage handles (resolve.h).
 */
#include "engine/resolve.h"
#include "codec/codec.h"
#include "engine/keyref.h"
#include "engine/topology.h"
#include "store/store_destinations.h"
#include "store/store_instances.h"

#include <string.h>

enum qb_err resolve_qdrant(struct store *store, const char *instance, long snapshot_timeout_ms,
                           struct qdrant_client **out, char *err, size_t errlen)
{
    struct store_instance *inst = NULL;
    enum qb_err rc = store_instance_get(store, instance, &inst, err, errlen);
    if (rc)
        return rc;
    rc = topology_client(inst, NULL, snapshot_timeout_ms, out, err, errlen);
    store_instance_free(inst);
    return rc;
}

enum qb_err resolve_storage(struct store *store, int64_t destination_id, struct storage **out,
                            char *err, size_t errlen)
{
    struct store_destination *d = NULL;
    enum qb_err rc = store_destination_get_by_id(store, destination_id, true, &d, err, errlen);
    if (rc)
        return rc;
    cJSON *settings = cJSON_Parse(d->settings);
    cJSON *secret = d->secret ? cJSON_Parse(d->secret) : NULL;
    rc = storage_open_json(d->kind, settings, secret, false, out, err, errlen);
    cJSON_Delete(settings);
    if (secret) {
        /* The parsed copy holds credentials too. */
        cJSON *item;
        cJSON_ArrayForEach(item, secret)
        {
            if (cJSON_IsString(item))
                memset(item->valuestring, 0, strlen(item->valuestring));
        }
        cJSON_Delete(secret);
    }
    store_destination_free(d);
    return rc;
}

enum qb_err resolve_plan(struct store *store, const char *plan, struct store_plan **p,
                         struct storage **st, char *err, size_t errlen)
{
    *p = NULL;
    if (st)
        *st = NULL;
    enum qb_err rc = store_plan_get(store, plan, p, err, errlen);
    if (!rc && st)
        rc = resolve_storage(store, (*p)->destination_id, st, err, errlen);
    if (rc) {
        store_plan_free(*p);
        *p = NULL;
    }
    return rc;
}

enum qb_err resolve_snapshot(struct store *store, int64_t snapshot_id, struct store_snapshot **s,
                             struct storage **st, char *err, size_t errlen)
{
    *s = NULL;
    if (st)
        *st = NULL;
    enum qb_err rc = store_snapshot_get(store, snapshot_id, s, err, errlen);
    if (!rc && st)
        rc = resolve_storage(store, (*s)->destination_id, st, err, errlen);
    if (rc) {
        store_snapshot_free(*s);
        *s = NULL;
    }
    return rc;
}

enum qb_err resolve_keyring(struct store *store, const struct store_snapshot *snap,
                            struct seal_keyring **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!snap->key_id || !*snap->key_id)
        return QB_OK;
    struct store_destination *d = NULL;
    struct store_plan *p = NULL;
    enum qb_err rc =
        store_destination_get_by_id(store, snap->destination_id, false, &d, err, errlen);
    if (!rc && snap->plan_id && store_plan_get_by_id(store, snap->plan_id, &p, err, errlen))
        p = NULL; /* a plan deleted meanwhile: its destination's keys remain */
    if (!rc)
        rc = keyref_ring(p ? p->encryption : NULL, d->encryption, out, err, errlen);
    if (!rc && (!*out || !codec_keyring_has(*out, snap->key_id))) {
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen,
                      "snapshot %lld is encrypted and needs key %s, which is not in the key ring "
                      "of destination %s%s%s (add it to \"read_keys\")",
                      (long long)snap->id, snap->key_id, d->name, p ? " or plan " : "",
                      p ? p->name : "");
    }
    if (rc) {
        seal_keyring_destroy(*out);
        *out = NULL;
    }
    store_plan_free(p);
    store_destination_free(d);
    return rc;
}
