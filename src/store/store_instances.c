/* SPDX-License-Identifier: Apache-2.0
 *
 * store_instances.c -- CRUD on the instances table.
 */
#include "store/store_instances.h"
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

#define INSTANCE_COLUMNS                                                                           \
    "id, name, url, api_key_secret, tls_verify, ca_file, max_concurrent, timeout_s, managed_by, "  \
    "created_at, updated_at, nodes, max_read_bytes_per_second"

/* The columns of INSTANCE_COLUMNS, in order. */
#define STORE_ROW_T struct store_instance
static const struct store_col instance_cols[] = {
    STORE_COL(id),
    STORE_COL(name),
    STORE_COL(url),
    STORE_COL_SECRET(api_key, STORE_SECRET_INSTANCE_API_KEY),
    STORE_COL(tls_verify),
    STORE_COL(ca_file),
    STORE_COL(max_concurrent),
    STORE_COL(timeout_s),
    STORE_COL(managed_by),
    STORE_COL(created_at),
    STORE_COL(updated_at),
    STORE_COL_TEXT_OR(nodes, "[]"),
    STORE_COL(max_read_bytes_per_second)};
#undef STORE_ROW_T

/* ctx: the store, which opens the API key. */
STORE_TABLE_DEFINE(struct store_instance, instance_cols, instance_rows, store_instance_free,
                   store_instance_list_free)

/* Binds what insert and update share: ?1 name, ?2 url, ?3 the sealed
 * key, ?4..?8 settings, ?9 now, ?10 keep the stored key (update only),
 * ?11 nodes, ?12 the read limit (NULL: none).  Every number is bound,
 * also where the insert does not use it: PostgreSQL cannot type a
 * parameter number that is neither used nor bound. */
static void bind_instance(struct db_stmt *st, const void *obj, const char *sealed,
                          bool keep_api_key)
{
    const struct store_instance *inst = obj;
    db_bind_text(st, 1, inst->name);
    db_bind_text(st, 2, inst->url);
    db_bind_text(st, 3, sealed);
    db_bind_int64(st, 4, inst->tls_verify);
    db_bind_text(st, 5, inst->ca_file);
    db_bind_int64(st, 6, inst->max_concurrent);
    db_bind_int64(st, 7, inst->timeout_s);
    db_bind_text(st, 8, inst->managed_by ? inst->managed_by : "api");
    db_bind_int64(st, 9, qb_now_ms() / 1000);
    db_bind_int64(st, 10, keep_api_key);
    db_bind_text(st, 11, inst->nodes ? inst->nodes : "[]");
    store_bind_int_or_null(st, 12, inst->max_read_bytes_per_second, 0);
}

/* Seals inst's API key (unless keep_api_key) and runs sql with
 * bind_instance's parameters (store_write_sealed). */
static enum qb_err write_instance(struct store *s, const char *sql,
                                  const struct store_instance *inst, bool keep_api_key,
                                  const char *what, int *changes, char *err, size_t errlen)
{
    return store_write_sealed(s, sql, STORE_SECRET_INSTANCE_API_KEY, inst->api_key, keep_api_key,
                              bind_instance, inst, NULL, changes, what, err, errlen);
}

enum qb_err store_instance_insert(struct store *s, const struct store_instance *inst, char *err,
                                  size_t errlen)
{
    enum qb_err rc =
        write_instance(s,
                       "INSERT INTO instances (name, url, api_key_secret, tls_verify, ca_file, "
                       "max_concurrent, timeout_s, managed_by, created_at, updated_at, nodes, "
                       "max_read_bytes_per_second) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?9,?11,?12)",
                       inst, false, "inserting instance", NULL, err, errlen);
    if (rc == QB_ERR_CONFLICT)
        qb_failf(rc, err, errlen, "instance \"%s\" already exists", inst->name);
    return rc;
}

enum qb_err store_instance_update(struct store *s, const struct store_instance *inst,
                                  bool keep_api_key, char *err, size_t errlen)
{
    int changes = 0;
    enum qb_err rc = write_instance(
        s,
        "UPDATE instances SET url = ?2, api_key_secret = CASE WHEN ?10 <> 0 THEN "
        "api_key_secret "
        "ELSE ?3 END, tls_verify = ?4, ca_file = ?5, max_concurrent = ?6, timeout_s = ?7, "
        "managed_by = ?8, updated_at = ?9, nodes = ?11, max_read_bytes_per_second = ?12 "
        "WHERE name = ?1",
        inst, keep_api_key, "updating instance", &changes, err, errlen);
    if (!rc && changes == 0)
        rc = store_not_found("instance", inst->name, 0, err, errlen);
    return rc;
}

/* True when the stored instance already is what the configuration says. */
static bool config_current(const struct store_instance *cur, const char *url, const char *api_key)
{
    bool same_key =
        cur->api_key && api_key ? strcmp(cur->api_key, api_key) == 0 : cur->api_key == api_key;
    return same_key && strcmp(cur->url, url) == 0 && strcmp(cur->managed_by, "config") == 0;
}

enum qb_err store_instance_sync_config(struct store *s, const char *name, const char *url,
                                       const char *api_key, char *err, size_t errlen)
{
    /* Compared in clear: a sealed value differs at every seal (fresh
     * nonce), and rewriting the row at every start would be churn. */
    struct store_instance *cur = NULL;
    enum qb_err rc = store_instance_get(s, name, &cur, err, errlen);
    if (rc != QB_OK && rc != QB_ERR_NOT_FOUND)
        return rc;
    bool current = cur && config_current(cur, url, api_key);
    store_instance_free(cur);
    if (current)
        return QB_OK;
    char *sealed = NULL;
    rc = store_secret_seal(s, STORE_SECRET_INSTANCE_API_KEY, api_key, &sealed, err, errlen);
    if (!rc)
        rc = store_execf(
            s,
            "INSERT INTO instances (name, url, api_key_secret, managed_by, created_at, "
            "updated_at) VALUES (?1, ?2, ?3, 'config', ?4, ?4) ON CONFLICT (name) DO UPDATE SET "
            "url = ?2, api_key_secret = ?3, managed_by = 'config', updated_at = ?4",
            NULL, "syncing configured instance", err, errlen, "ttti", name, url, sealed,
            qb_now_ms() / 1000);
    free(sealed);
    return rc;
}

enum qb_err store_instance_set_read_limit(struct store *s, const char *name, int64_t rate,
                                          char *err, size_t errlen)
{
    int changes = 0;
    enum qb_err rc =
        store_execf(s, "UPDATE instances SET max_read_bytes_per_second = ?2 WHERE name = ?1",
                    &changes, "setting the read limit", err, errlen, "tz", name, rate);
    if (!rc && changes == 0)
        rc = store_not_found("instance", name, 0, err, errlen);
    return rc;
}

enum qb_err store_instance_get(struct store *s, const char *name, struct store_instance **out,
                               char *err, size_t errlen)
{
    return store_get_by_key(s, "SELECT " INSTANCE_COLUMNS " FROM instances WHERE name = ?1", name,
                            0, &instance_rows, s, out, "instance", err, errlen);
}

enum qb_err store_instance_list(struct store *s, struct store_instance ***out, size_t *n, char *err,
                                size_t errlen)
{
    void *list;
    enum qb_err rc = store_list(s, "SELECT " INSTANCE_COLUMNS " FROM instances ORDER BY name",
                                &instance_rows, s, &list, n, "listing instances", err, errlen);
    *out = list;
    return rc;
}

enum qb_err store_instance_delete(struct store *s, const char *name, char *err, size_t errlen)
{
    return store_delete_key(s, "DELETE FROM instances WHERE name = ?1", name, 0, "instance",
                            "is used by a backup plan; delete or change the plan first", err,
                            errlen);
}
