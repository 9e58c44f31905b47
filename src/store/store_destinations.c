/* SPDX-License-Identifier: Apache-2.0
 *
 * store_destinations.c -- reads and configuration sync of destinations.
 */
#include "store/store_destinations.h"
#include "store/store_internal.h"

#include <stdlib.h>

#include <cjson/cJSON.h>

void store_destination_free(struct store_destination *d)
{
    if (!d)
        return;
    free(d->name);
    free(d->kind);
    free(d->settings);
    free(d->managed_by);
    free(d);
}

void store_destination_list_free(struct store_destination **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_destination_free(list[i]);
    free(list);
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

    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    enum qb_err rc = store_prepare(
        db,
        "INSERT INTO destinations (name, kind, settings, managed_by, created_at, updated_at) "
        "VALUES (?1, 'local', ?2, 'config', ?3, ?3) ON CONFLICT (name) DO UPDATE SET "
        "kind = 'local', settings = ?2, secret = NULL, managed_by = 'config', updated_at = ?3 "
        "WHERE kind IS NOT 'local' OR settings IS NOT ?2 OR managed_by IS NOT 'config'",
        &st, err, errlen);
    if (rc)
        goto out;
    store_bind_text(st, 1, name);
    store_bind_text(st, 2, text);
    sqlite3_bind_int64(st, 3, qb_now_ms() / 1000);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = store_sqlite_err(db, src, "syncing configured destination", err, errlen);
out:
    sqlite3_finalize(st);
    store_release(s, db);
    free(text);
    return rc;
}

enum qb_err store_destination_list(struct store *s, struct store_destination ***out, size_t *n,
                                   char *err, size_t errlen)
{
    sqlite3 *db = store_acquire(s);
    sqlite3_stmt *st = NULL;
    struct store_destination **list = NULL;
    size_t count = 0;
    enum qb_err rc = store_prepare(db,
                                   "SELECT id, name, kind, settings, managed_by, created_at, "
                                   "updated_at FROM destinations ORDER BY name",
                                   &st, err, errlen);
    if (rc)
        goto out;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_destination *d = xcalloc(1, sizeof *d);
        d->id = sqlite3_column_int64(st, 0);
        d->name = store_column_text(st, 1);
        d->kind = store_column_text(st, 2);
        d->settings = store_column_text(st, 3);
        d->managed_by = store_column_text(st, 4);
        d->created_at = sqlite3_column_int64(st, 5);
        d->updated_at = sqlite3_column_int64(st, 6);
        list = xrealloc(list, (count + 1) * sizeof *list);
        list[count++] = d;
    }
    if (src != SQLITE_DONE) {
        rc = store_sqlite_err(db, src, "listing destinations", err, errlen);
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
