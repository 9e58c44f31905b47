/* SPDX-License-Identifier: Apache-2.0
 *
 * store_cleanup.c -- the qdrant_cleanup table (see store_cleanup.h).
 */
#include "store/store_cleanup.h"
#include "store/store_internal.h"

#include <stdlib.h>

/* The columns store_cleanup_due selects, in order. */
#define STORE_ROW_T struct store_cleanup
static const struct store_col cleanup_cols[] = {
    STORE_COL(id),         STORE_COL(instance_name), STORE_COL(url),
    STORE_COL(scope),      STORE_COL(collection),    STORE_COL_INT_OR(shard_id, -1),
    STORE_COL(snapshot),   STORE_COL(attempts),      STORE_COL(next_at),
    STORE_COL(last_error), STORE_COL(sweep_since),   STORE_COL(sweep_until)};
#undef STORE_ROW_T
static const struct store_rows cleanup_rows = STORE_TABLE_ROWS(struct store_cleanup, cleanup_cols);

void store_cleanup_list_free(struct store_cleanup **list, size_t n)
{
    store_rows_free(&cleanup_rows, list, n);
}

enum qb_err store_cleanup_add(struct store *s, const struct store_cleanup *c, char *err,
                              size_t errlen)
{
    return store_execf(
        s,
        "INSERT INTO qdrant_cleanup (instance_name, url, scope, collection, shard_id, snapshot, "
        "attempts, next_at, last_error, created_at, sweep_since, sweep_until) "
        "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
        NULL, "recording a Qdrant snapshot to delete", err, errlen, "ttttmtiitizz",
        c->instance_name, c->url, c->scope, c->collection, c->shard_id >= 0 ? c->shard_id : -1,
        c->snapshot, c->attempts, c->next_at, c->last_error, qb_now_ms() / 1000, c->sweep_since,
        c->sweep_until);
}

enum qb_err store_cleanup_due(struct store *s, int64_t now, int limit, struct store_cleanup ***out,
                              size_t *n, char *err, size_t errlen)
{
    void *list;
    enum qb_err rc =
        store_listf(s,
                    "SELECT id, instance_name, url, scope, collection, shard_id, "
                    "snapshot, attempts, next_at, last_error, sweep_since, "
                    "sweep_until FROM qdrant_cleanup "
                    "WHERE next_at <= ?1 ORDER BY next_at, id LIMIT ?2",
                    &cleanup_rows, NULL, &list, n, "listing Qdrant snapshots to delete", err,
                    errlen, "ii", now, (int64_t)limit);
    *out = list;
    return rc;
}

enum qb_err store_cleanup_done(struct store *s, int64_t id, char *err, size_t errlen)
{
    return store_write(s, "DELETE FROM qdrant_cleanup WHERE id = ?1", id, 0, 0, NULL, NULL,
                       "updating qdrant_cleanup", err, errlen);
}

enum qb_err store_cleanup_retry(struct store *s, int64_t id, int64_t next_at, const char *error,
                                char *err, size_t errlen)
{
    return store_write(s,
                       "UPDATE qdrant_cleanup SET attempts = attempts + 1, next_at = ?2, "
                       "last_error = ?4 WHERE id = ?1",
                       id, next_at, 0, error, NULL, "updating qdrant_cleanup", err, errlen);
}

enum qb_err store_cleanup_has(struct store *s, const char *instance, const char *name, bool *found,
                              char *err, size_t errlen)
{
    int64_t one = 0;
    *found = false;
    return store_queryf_int(
        s, "SELECT 1 FROM qdrant_cleanup WHERE instance_name = ?1 AND snapshot = ?2", &one, found,
        "looking up a Qdrant snapshot to delete", err, errlen, "tt", instance, name);
}

enum qb_err store_cleanup_count(struct store *s, int64_t *n, char *err, size_t errlen)
{
    *n = 0;
    return store_queryf_int(s, "SELECT count(*) FROM qdrant_cleanup WHERE sweep_since IS NULL", n,
                            NULL, "counting Qdrant snapshots to delete", err, errlen, "");
}
