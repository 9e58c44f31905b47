/* SPDX-License-Identifier: Apache-2.0
 *
 * store_instances.c -- CRUD on the instances table.
 */
#include "store/store_instances.h"
#include "store/store_internal.h"
#include "util/seal.h"

#include <stdlib.h>
#include <string.h>

#define INSTANCE_COLUMNS                                                                           \
    "id, name, url, api_key_secret, tls_verify, ca_file, max_concurrent, timeout_s, managed_by, "  \
    "created_at, updated_at, nodes"

void store_instance_free(struct store_instance *inst)
{
    if (!inst)
        return;
    free(inst->name);
    free(inst->url);
    seal_wipe_free(inst->api_key);
    free(inst->ca_file);
    free(inst->managed_by);
    free(inst->nodes);
    free(inst);
}

void store_instance_list_free(struct store_instance **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_instance_free(list[i]);
    free(list);
}

/* *out: the row as a new instance, its API key opened. */
static enum qb_err row_to_instance(struct store *s, sqlite3_stmt *st, struct store_instance **out,
                                   char *err, size_t errlen)
{
    *out = NULL;
    char *key = NULL;
    enum qb_err rc = store_secret_open(s, STORE_SECRET_INSTANCE_API_KEY,
                                       (const char *)sqlite3_column_text(st, 3), &key, err, errlen);
    if (rc)
        return rc;
    struct store_instance *inst = xcalloc(1, sizeof *inst);
    inst->id = sqlite3_column_int64(st, 0);
    inst->name = store_column_text(st, 1);
    inst->url = store_column_text(st, 2);
    inst->api_key = key;
    inst->tls_verify = sqlite3_column_int(st, 4) != 0;
    inst->ca_file = store_column_text(st, 5);
    inst->max_concurrent = sqlite3_column_int(st, 6);
    inst->timeout_s = sqlite3_column_int(st, 7);
    inst->managed_by = store_column_text(st, 8);
    inst->created_at = sqlite3_column_int64(st, 9);
    inst->updated_at = sqlite3_column_int64(st, 10);
    inst->nodes = store_column_text(st, 11);
    if (!inst->nodes)
        inst->nodes = xstrdup("[]");
    *out = inst;
    return QB_OK;
}

/* Runs a single-statement write prepared on db; returns the change count
 * through *changes (may be NULL). */
static enum qb_err step_write(sqlite3 *db, sqlite3_stmt *st, const char *what, int *changes,
                              char *err, size_t errlen)
{
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        return store_sqlite_err(db, src, what, err, errlen);
    if (changes)
        *changes = sqlite3_changes(db);
    return QB_OK;
}

enum qb_err store_instance_insert(struct store *s, const struct store_instance *inst, char *err,
                                  size_t errlen)
{
    char *sealed = NULL;
    enum qb_err rc =
        store_secret_seal(s, STORE_SECRET_INSTANCE_API_KEY, inst->api_key, &sealed, err, errlen);
    if (rc)
        return rc;
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    int64_t now = qb_now_ms() / 1000;
    rc = store_prepare(
        db,
        "INSERT INTO instances (name, url, api_key_secret, tls_verify, ca_file, max_concurrent, "
        "timeout_s, managed_by, created_at, updated_at, nodes) "
        "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?9,?10)",
        &st, err, errlen);
    if (rc)
        goto out;
    store_bind_text(st, 1, inst->name);
    store_bind_text(st, 2, inst->url);
    store_bind_text(st, 3, sealed);
    sqlite3_bind_int(st, 4, inst->tls_verify);
    store_bind_text(st, 5, inst->ca_file);
    sqlite3_bind_int(st, 6, inst->max_concurrent);
    sqlite3_bind_int(st, 7, inst->timeout_s);
    store_bind_text(st, 8, inst->managed_by ? inst->managed_by : "api");
    sqlite3_bind_int64(st, 9, now);
    store_bind_text(st, 10, inst->nodes ? inst->nodes : "[]");
    rc = step_write(db, st, "inserting instance", NULL, err, errlen);
    if (rc == QB_ERR_CONFLICT)
        qb_failf(rc, err, errlen, "instance \"%s\" already exists", inst->name);
out:
    sqlite3_finalize(st);
    store_release(s, db);
    free(sealed);
    return rc;
}

enum qb_err store_instance_update(struct store *s, const struct store_instance *inst,
                                  bool keep_api_key, char *err, size_t errlen)
{
    char *sealed = NULL;
    enum qb_err rc = keep_api_key ? QB_OK
                                  : store_secret_seal(s, STORE_SECRET_INSTANCE_API_KEY,
                                                      inst->api_key, &sealed, err, errlen);
    if (rc)
        return rc;
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    int changes = 0;
    rc = store_prepare(
        db,
        "UPDATE instances SET url = ?2, api_key_secret = CASE WHEN ?10 THEN api_key_secret "
        "ELSE ?3 END, tls_verify = ?4, ca_file = ?5, max_concurrent = ?6, timeout_s = ?7, "
        "managed_by = ?8, updated_at = ?9, nodes = ?11 WHERE name = ?1",
        &st, err, errlen);
    if (rc)
        goto out;
    store_bind_text(st, 1, inst->name);
    store_bind_text(st, 2, inst->url);
    store_bind_text(st, 3, sealed);
    sqlite3_bind_int(st, 4, inst->tls_verify);
    store_bind_text(st, 5, inst->ca_file);
    sqlite3_bind_int(st, 6, inst->max_concurrent);
    sqlite3_bind_int(st, 7, inst->timeout_s);
    store_bind_text(st, 8, inst->managed_by ? inst->managed_by : "api");
    sqlite3_bind_int64(st, 9, qb_now_ms() / 1000);
    sqlite3_bind_int(st, 10, keep_api_key);
    store_bind_text(st, 11, inst->nodes ? inst->nodes : "[]");
    rc = step_write(db, st, "updating instance", &changes, err, errlen);
    if (!rc && changes == 0)
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "instance \"%s\" does not exist", inst->name);
out:
    sqlite3_finalize(st);
    store_release(s, db);
    free(sealed);
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
    if (rc)
        return rc;
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    rc = store_prepare(
        db,
        "INSERT INTO instances (name, url, api_key_secret, managed_by, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, 'config', ?4, ?4) ON CONFLICT (name) DO UPDATE SET url = ?2, "
        "api_key_secret = ?3, managed_by = 'config', updated_at = ?4",
        &st, err, errlen);
    if (rc)
        goto out;
    store_bind_text(st, 1, name);
    store_bind_text(st, 2, url);
    store_bind_text(st, 3, sealed);
    sqlite3_bind_int64(st, 4, qb_now_ms() / 1000);
    rc = step_write(db, st, "syncing configured instance", NULL, err, errlen);
out:
    sqlite3_finalize(st);
    store_release(s, db);
    free(sealed);
    return rc;
}

enum qb_err store_instance_get(struct store *s, const char *name, struct store_instance **out,
                               char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    enum qb_err rc = store_prepare(db, "SELECT " INSTANCE_COLUMNS " FROM instances WHERE name = ?1",
                                   &st, err, errlen);
    if (rc)
        goto out;
    store_bind_text(st, 1, name);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        rc = row_to_instance(s, st, out, err, errlen);
    else if (src == SQLITE_DONE)
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "instance \"%s\" does not exist", name);
    else
        rc = store_sqlite_err(db, src, "reading instance", err, errlen);
out:
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}

enum qb_err store_instance_list(struct store *s, struct store_instance ***out, size_t *n, char *err,
                                size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    struct store_instance **list = NULL;
    size_t count = 0;
    enum qb_err rc = store_prepare(db, "SELECT " INSTANCE_COLUMNS " FROM instances ORDER BY name",
                                   &st, err, errlen);
    if (rc)
        goto out;
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        list = xrealloc(list, (count + 1) * sizeof *list);
        rc = row_to_instance(s, st, &list[count], err, errlen);
        if (!rc)
            count++;
    }
    if (!rc && src != SQLITE_DONE)
        rc = store_sqlite_err(db, src, "listing instances", err, errlen);
    if (rc) {
        store_instance_list_free(list, count);
        list = NULL;
        count = 0;
    }
out:
    sqlite3_finalize(st);
    store_release(s, db);
    *out = list;
    *n = count;
    return rc;
}

enum qb_err store_instance_delete(struct store *s, const char *name, char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    int changes = 0;
    enum qb_err rc = store_prepare(db, "DELETE FROM instances WHERE name = ?1", &st, err, errlen);
    if (rc)
        goto out;
    store_bind_text(st, 1, name);
    rc = step_write(db, st, "deleting instance", &changes, err, errlen);
    if (rc == QB_ERR_CONFLICT)
        qb_failf(rc, err, errlen,
                 "instance \"%s\" is used by a backup plan; delete or change "
                 "the plan first",
                 name);
    else if (!rc && changes == 0)
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "instance \"%s\" does not exist", name);
out:
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}
