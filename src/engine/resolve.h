/* SPDX-License-Identifier: Apache-2.0
 *
 * resolve.h -- turning the references a request or a run carries (an
 * instance name, a destination id, a plan name, a snapshot id) into the
 * objects that do the work: a Qdrant client with the instance's key and
 * TLS settings, an open storage handle with the destination's
 * credentials, the catalogue row.  The API and the engine both open
 * instances and destinations only through here, so there is one place
 * that knows how a row becomes a client, and the API needs no engine
 * internals to do it.
 *
 * Each function reads the catalogue (store_*) and opens a handle; it does
 * no remote I/O (a client or storage handle connects on first use), so a
 * request thread may call it.  Any thread may call these.
 */
#ifndef QB_RESOLVE_H
#define QB_RESOLVE_H

#include "common.h"
#include "remote/qdrant_client.h"
#include "storage/storage.h"
#include "util/seal.h"
#include "store/store.h"
#include "store/store_plans.h"
#include "store/store_snapshots.h"

/* Opens a Qdrant client for the instance named `instance` (its URL, API
 * key, TLS settings and request timeout); snapshot_timeout_ms bounds
 * snapshot creation and recovery.  QB_ERR_NOT_FOUND when no instance has
 * that name.  On success the caller owns *out (qdrant_client_destroy). */
enum qb_err resolve_qdrant(struct store *store, const char *instance, long snapshot_timeout_ms,
                           struct qdrant_client **out, char *err, size_t errlen) QB_MUSTCHECK;

/* Opens the destination with id destination_id, with its credentials.
 * The parsed copy of the credentials is wiped before it is freed.
 * QB_ERR_NOT_FOUND when there is none.  On success the caller owns *out
 * (storage_close). */
enum qb_err resolve_storage(struct store *store, int64_t destination_id, struct storage **out,
                            char *err, size_t errlen) QB_MUSTCHECK;

/* The plan named `plan`, and (when st is not NULL) its destination opened.
 * QB_ERR_NOT_FOUND when there is no such plan.  On success the caller owns
 * *p (store_plan_free) and *st (storage_close); on failure both are NULL. */
enum qb_err resolve_plan(struct store *store, const char *plan, struct store_plan **p,
                         struct storage **st, char *err, size_t errlen) QB_MUSTCHECK;

/* The catalogued snapshot with id snapshot_id, and (when st is not NULL)
 * the destination holding it opened.  QB_ERR_NOT_FOUND when there is no
 * such snapshot.  On success the caller owns *s (store_snapshot_free) and
 * *st (storage_close); on failure both are NULL. */
enum qb_err resolve_snapshot(struct store *store, int64_t snapshot_id, struct store_snapshot **s,
                             struct storage **st, char *err, size_t errlen) QB_MUSTCHECK;

/* The keys that may decrypt snap: its plan's encryption ring (while the
 * plan exists) and its destination's (engine/keyref.h), read now.  *out:
 * NULL when snap is not encrypted; else the caller destroys it.  An
 * encrypted snapshot whose key id no configured key has is
 * QB_ERR_NOT_FOUND naming the id ("needs key <id>"), so a restore fails
 * before it touches Qdrant. */
enum qb_err resolve_keyring(struct store *store, const struct store_snapshot *snap,
                            struct seal_keyring **out, char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_RESOLVE_H */
