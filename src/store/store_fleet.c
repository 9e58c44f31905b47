/* SPDX-License-Identifier: Apache-2.0
 *
 * store_fleet.c -- fleet_nodes and the ownership of running runs (see
 * store_fleet.h).
 */
#include "store/store_fleet.h"
#include "store/store_internal.h"

#include <stdlib.h>

#define STORE_ROW_T struct store_fleet_node
static const struct store_col node_cols[] = {STORE_COL(name), STORE_COL(version),
                                             STORE_COL(address), STORE_COL(started_at),
                                             STORE_COL(heartbeat_at)};
#undef STORE_ROW_T
static const struct store_rows node_rows = STORE_TABLE_ROWS(struct store_fleet_node, node_cols);

#define STORE_ROW_T struct store_fleet_run
static const struct store_col run_cols[] = {STORE_COL(id), STORE_COL(owner),
                                            STORE_COL_INT_OR(heartbeat_at, 0)};
#undef STORE_ROW_T
static const struct store_rows run_rows = STORE_TABLE_ROWS(struct store_fleet_run, run_cols);

void store_fleet_nodes_free(struct store_fleet_node **list, size_t n)
{
    store_rows_free(&node_rows, list, n);
}

void store_fleet_runs_free(struct store_fleet_run **list, size_t n)
{
    store_rows_free(&run_rows, list, n);
}

enum qb_err store_fleet_beat(struct store *s, const char *name, const char *version,
                             const char *address, int64_t started_at, int64_t now, int *runs,
                             char *err, size_t errlen)
{
    enum qb_err rc =
        store_execf(s,
                    "INSERT INTO fleet_nodes (name, version, address, started_at, heartbeat_at) "
                    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET "
                    "version = excluded.version, address = excluded.address, "
                    "started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at",
                    NULL, "recording this node's heartbeat", err, errlen, "tttii", name, version,
                    address, started_at, now);
    if (rc)
        return rc;
    /* The IN term repeats the WHERE of the partial index runs_running_owner. */
    int changes = 0;
    rc = store_execf(s, "UPDATE runs SET heartbeat_at = ?2 WHERE owner = ?1 AND state = 'running'",
                     &changes, "recording the heartbeat of this node's runs", err, errlen, "ti",
                     name, now);
    if (!rc && runs)
        *runs = changes;
    return rc;
}

enum qb_err store_fleet_nodes(struct store *s, struct store_fleet_node ***out, size_t *n, char *err,
                              size_t errlen)
{
    void *list = NULL;
    enum qb_err rc =
        store_list(s,
                   "SELECT name, version, address, started_at, heartbeat_at "
                   "FROM fleet_nodes ORDER BY name",
                   &node_rows, NULL, &list, n, "listing the fleet's nodes", err, errlen);
    *out = list;
    return rc;
}

enum qb_err store_fleet_runs(struct store *s, const char *owner, const char *except, int64_t before,
                             struct store_fleet_run ***out, size_t *n, char *err, size_t errlen)
{
    void *list = NULL;
    enum qb_err rc =
        store_listf(s,
                    owner ? "SELECT id, owner, heartbeat_at FROM runs WHERE state = 'running' "
                            "AND (owner = ?1 OR owner IS NULL) ORDER BY id"
                          : "SELECT id, owner, heartbeat_at FROM runs WHERE state = 'running' "
                            "AND owner IS NOT NULL AND owner <> ?2 "
                            "AND coalesce(heartbeat_at, started_at) < ?3 ORDER BY id",
                    &run_rows, NULL, &list, n, "listing running runs by owner", err, errlen, "tti",
                    owner, except ? except : "", before);
    *out = list;
    return rc;
}

enum qb_err store_fleet_adopt(struct store *s, const struct store_fleet_run *r, const char *self,
                              int64_t now, bool *adopted, char *err, size_t errlen)
{
    int changes = 0;
    *adopted = false;
    enum qb_err rc = store_execf(
        s,
        "UPDATE runs SET owner = ?2, heartbeat_at = ?3 WHERE id = ?1 AND state = 'running' "
        "AND owner IS NOT DISTINCT FROM ?4 AND coalesce(heartbeat_at, 0) = ?5",
        &changes, "adopting a run", err, errlen, "ititi", r->id, self, now, r->owner,
        r->heartbeat_at);
    if (!rc)
        *adopted = changes == 1;
    return rc;
}

enum qb_err store_fleet_end_session(struct store *s, int64_t pid, bool *ended, char *err,
                                    size_t errlen)
{
    int64_t v = 0;
    *ended = false;
    enum qb_err rc =
        store_queryf_int(s,
                         "SELECT CASE WHEN pg_terminate_backend(CAST(?1 AS integer)) "
                         "THEN 1 ELSE 0 END",
                         &v, NULL, "ending a silent leader's session", err, errlen, "i", pid);
    if (!rc)
        *ended = v == 1;
    return rc;
}

enum qb_err store_fleet_end_node_sessions(struct store *s, const char *node, int64_t *ended,
                                          char *err, size_t errlen)
{
    *ended = 0;
    char *pool = xasprintf(STORE_FLEET_SESSION_PREFIX "%s", node);
    char *lock = xasprintf("qbackupd:%s", node);
    enum qb_err rc = store_queryf_int(
        s,
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND application_name IN (?1, ?2)) t",
        ended, NULL, "ending a dead node's sessions", err, errlen, "tt", pool, lock);
    free(pool);
    free(lock);
    return rc;
}
