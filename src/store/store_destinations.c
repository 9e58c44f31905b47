/* SPDX-License-Identifier: Apache-2.0
 *
 * store_destinations.c -- CRUD and configuration sync of destinations.
 */
#include "store/store_destinations.h"
#include "store/store_internal.h"
#include "util/seal.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define DEST_COLUMNS "id, name, kind, settings, managed_by, created_at, updated_at, secret"

void store_destination_free(struct store_destination *d)
{
    if (!d)
        return;
    free(d->name);
    free(d->kind);
    free(d->settings);
    seal_wipe_free(d->secret);
    free(d->managed_by);
    free(d);
}

void store_destination_list_free(struct store_destination **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_destination_free(list[i]);
    free(list);
}

/* *out: the row as a new destination, its secret opened when with_secret. */
static enum qb_err row_to_destination(struct store *s, sqlite3_stmt *st, bool with_secret,
                                      struct store_destination **out, char *err, size_t errlen)
{
    *out = NULL;
    char *secret = NULL;
    if (with_secret) {
        enum qb_err rc =
            store_secret_open(s, STORE_SECRET_DESTINATION, (const char *)sqlite3_column_text(st, 7),
                              &secret, err, errlen);
        if (rc)
            return rc;
    }
    struct store_destination *d = xcalloc(1, sizeof *d);
    d->id = sqlite3_column_int64(st, 0);
    d->name = store_column_text(st, 1);
    d->kind = store_column_text(st, 2);
    d->settings = store_column_text(st, 3);
    d->managed_by = store_column_text(st, 4);
    d->created_at = sqlite3_column_int64(st, 5);
    d->updated_at = sqlite3_column_int64(st, 6);
    d->secret = secret;
    *out = d;
    return QB_OK;
}

static enum qb_err write_one(struct store *s, const char *sql, const struct store_destination *d,
                             bool keep_secret, const char *what, int *changes, char *err,
                             size_t errlen)
{
    char *sealed = NULL;
    enum qb_err rc = keep_secret ? QB_OK
                                 : store_secret_seal(s, STORE_SECRET_DESTINATION, d->secret,
                                                     &sealed, err, errlen);
    if (rc)
        return rc;
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    rc = store_prepare(db, sql, &st, err, errlen);
    if (rc)
        goto out;
    store_bind_text(st, 1, d->name);
    store_bind_text(st, 2, d->kind);
    store_bind_text(st, 3, d->settings ? d->settings : "{}");
    store_bind_text(st, 4, sealed);
    store_bind_text(st, 5, d->managed_by ? d->managed_by : "api");
    sqlite3_bind_int64(st, 6, qb_now_ms() / 1000);
    /* Statements without ?7 ignore it (SQLITE_RANGE is harmless here). */
    sqlite3_bind_int(st, 7, keep_secret);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = store_sqlite_err(db, src, what, err, errlen);
    else if (changes)
        *changes = sqlite3_changes(db);
out:
    sqlite3_finalize(st);
    store_release(s, db);
    free(sealed);
    return rc;
}

enum qb_err store_destination_insert(struct store *s, const struct store_destination *d, char *err,
                                     size_t errlen)
{
    enum qb_err rc = write_one(s,
                               "INSERT INTO destinations (name, kind, settings, secret, "
                               "managed_by, created_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?6)",
                               d, false, "inserting destination", NULL, err, errlen);
    if (rc == QB_ERR_CONFLICT)
        qb_failf(rc, err, errlen, "destination \"%s\" already exists", d->name);
    return rc;
}

enum qb_err store_destination_update(struct store *s, const struct store_destination *d,
                                     bool keep_secret, char *err, size_t errlen)
{
    int changes = 0;
    enum qb_err rc = write_one(s,
                               "UPDATE destinations SET kind = ?2, settings = ?3, secret = CASE "
                               "WHEN ?7 THEN secret ELSE ?4 END, managed_by = ?5, updated_at = ?6 "
                               "WHERE name = ?1",
                               d, keep_secret, "updating destination", &changes, err, errlen);
    if (!rc && changes == 0)
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "destination \"%s\" does not exist", d->name);
    return rc;
}

enum qb_err store_destination_sync_local(struct store *s, const char *name, const char *path,
                                         char *err, size_t errlen)
{
    cJSON *settings = cJSON_CreateObject();
    cJSON_AddStringToObject(settings, "path", path);
    char *text = cJSON_PrintUnformatted(settings);
    cJSON_Delete(settings);
    if (!text)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "encoding destination settings");
    char kind[] = "local", managed[] = "config";
    char *owned_name = xstrdup(name);
    struct store_destination d = {
        .name = owned_name, .kind = kind, .settings = text, .managed_by = managed};
    enum qb_err rc = write_one(
        s,
        "INSERT INTO destinations (name, kind, settings, secret, managed_by, created_at, "
        "updated_at) VALUES (?1, ?2, ?3, NULL, ?5, ?6, ?6) ON CONFLICT (name) DO UPDATE SET "
        "kind = ?2, settings = ?3, secret = NULL, managed_by = ?5, updated_at = ?6 "
        "WHERE kind IS NOT ?2 OR settings IS NOT ?3 OR managed_by IS NOT ?5",
        &d, false, "syncing configured destination", NULL, err, errlen);
    free(owned_name);
    free(text);
    return rc;
}

static enum qb_err get_where(struct store *s, const char *where, const char *name, int64_t id,
                             bool with_secret, struct store_destination **out, char *err,
                             size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    char *sql = xasprintf("SELECT " DEST_COLUMNS " FROM destinations WHERE %s", where);
    enum qb_err rc = store_prepare(db, sql, &st, err, errlen);
    if (rc)
        goto out;
    if (name)
        store_bind_text(st, 1, name);
    else
        sqlite3_bind_int64(st, 1, id);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        rc = row_to_destination(s, st, with_secret, out, err, errlen);
    else if (src == SQLITE_DONE && name)
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "destination \"%s\" does not exist", name);
    else if (src == SQLITE_DONE)
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "destination %lld does not exist",
                      (long long)id);
    else
        rc = store_sqlite_err(db, src, "reading destination", err, errlen);
out:
    sqlite3_finalize(st);
    store_release(s, db);
    free(sql);
    return rc;
}

enum qb_err store_destination_get(struct store *s, const char *name, bool with_secret,
                                  struct store_destination **out, char *err, size_t errlen)
{
    return get_where(s, "name = ?1", name, 0, with_secret, out, err, errlen);
}

enum qb_err store_destination_get_by_id(struct store *s, int64_t id, bool with_secret,
                                        struct store_destination **out, char *err, size_t errlen)
{
    return get_where(s, "id = ?1", NULL, id, with_secret, out, err, errlen);
}

enum qb_err store_destination_list(struct store *s, struct store_destination ***out, size_t *n,
                                   char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    struct store_destination **list = NULL;
    size_t count = 0;
    enum qb_err rc = store_prepare(db, "SELECT " DEST_COLUMNS " FROM destinations ORDER BY name",
                                   &st, err, errlen);
    if (rc)
        goto out;
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        list = xrealloc(list, (count + 1) * sizeof *list);
        rc = row_to_destination(s, st, false, &list[count], err, errlen);
        if (!rc)
            count++;
    }
    if (!rc && src != SQLITE_DONE)
        rc = store_sqlite_err(db, src, "listing destinations", err, errlen);
    if (rc) {
        store_destination_list_free(list, count);
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

enum qb_err store_destination_delete(struct store *s, const char *name, char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    enum qb_err rc =
        store_prepare(db, "DELETE FROM destinations WHERE name = ?1", &st, err, errlen);
    if (rc)
        goto out;
    store_bind_text(st, 1, name);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) {
        rc = store_sqlite_err(db, src, "deleting destination", err, errlen);
        if (rc == QB_ERR_CONFLICT)
            qb_failf(rc, err, errlen,
                     "destination \"%s\" is used by a plan or holds catalogued snapshots", name);
    } else if (sqlite3_changes(db) == 0) {
        rc = qb_failf(QB_ERR_NOT_FOUND, err, errlen, "destination \"%s\" does not exist", name);
    }
out:
    sqlite3_finalize(st);
    store_release(s, db);
    return rc;
}
