/* SPDX-License-Identifier: Apache-2.0
 *
 * store_destinations.c -- CRUD and configuration sync of destinations.
 */
#include "store/store_destinations.h"
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define DEST_COLUMNS                                                                               \
    "id, name, kind, settings, managed_by, created_at, updated_at, secret, "                       \
    "max_write_bytes_per_second, encryption"

/* The columns of DEST_COLUMNS, in order. */
#define STORE_ROW_T struct store_destination
static const struct store_col destination_cols[] = {
    STORE_COL(id),
    STORE_COL(name),
    STORE_COL(kind),
    STORE_COL(settings),
    STORE_COL(managed_by),
    STORE_COL(created_at),
    STORE_COL(updated_at),
    STORE_COL_SECRET(secret, STORE_SECRET_DESTINATION),
    STORE_COL(max_write_bytes_per_second),
    STORE_COL(encryption)};
#undef STORE_ROW_T

/* ctx: the store, to open the secret; lists pass NULL and leave it out. */
STORE_TABLE_DEFINE(struct store_destination, destination_cols, destination_rows,
                   store_destination_free, store_destination_list_free)

/* ?1 name ?2 kind ?3 settings ?4 sealed secret ?5 managed_by ?6 now
 * ?7 keep the stored secret ?8 write limit (NULL: none) ?9 encryption */
static void bind_destination(struct db_stmt *st, const void *obj, const char *sealed,
                             bool keep_secret)
{
    const struct store_destination *d = obj;
    db_bind_text(st, 1, d->name);
    db_bind_text(st, 2, d->kind);
    db_bind_text(st, 3, d->settings ? d->settings : "{}");
    db_bind_text(st, 4, sealed);
    db_bind_text(st, 5, d->managed_by ? d->managed_by : "api");
    db_bind_int64(st, 6, qb_now_ms() / 1000);
    /* Statements without ?7 ignore it (db.h ignores such a bind). */
    db_bind_int64(st, 7, keep_secret);
    store_bind_int_or_null(st, 8, d->max_write_bytes_per_second, 0);
    db_bind_text(st, 9, d->encryption);
}

static enum qb_err write_one(struct store *s, const char *sql, const struct store_destination *d,
                             bool keep_secret, const char *what, int *changes, char *err,
                             size_t errlen)
{
    return store_write_sealed(s, sql, STORE_SECRET_DESTINATION, d->secret, keep_secret,
                              bind_destination, d, NULL, changes, what, err, errlen);
}

enum qb_err store_destination_insert(struct store *s, const struct store_destination *d, char *err,
                                     size_t errlen)
{
    enum qb_err rc = write_one(s,
                               "INSERT INTO destinations (name, kind, settings, secret, "
                               "managed_by, created_at, updated_at, max_write_bytes_per_second, "
                               "encryption) VALUES (?1,?2,?3,?4,?5,?6,?6,?8,?9)",
                               d, false, "inserting destination", NULL, err, errlen);
    if (rc == QB_ERR_CONFLICT)
        qb_failf(rc, err, errlen, "destination \"%s\" already exists", d->name);
    return rc;
}

enum qb_err store_destination_update(struct store *s, const struct store_destination *d,
                                     bool keep_secret, char *err, size_t errlen)
{
    int changes = 0;
    enum qb_err rc =
        write_one(s,
                  "UPDATE destinations SET kind = ?2, settings = ?3, secret = CASE "
                  "WHEN ?7 <> 0 THEN secret ELSE ?4 END, managed_by = ?5, updated_at = ?6, "
                  "max_write_bytes_per_second = ?8, encryption = ?9 "
                  "WHERE name = ?1",
                  d, keep_secret, "updating destination", &changes, err, errlen);
    if (!rc && changes == 0)
        rc = store_not_found("destination", d->name, 0, err, errlen);
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
        "WHERE destinations.kind IS DISTINCT FROM ?2 "
        "OR destinations.settings IS DISTINCT FROM ?3 "
        "OR destinations.managed_by IS DISTINCT FROM ?5",
        &d, false, "syncing configured destination", NULL, err, errlen);
    free(owned_name);
    free(text);
    return rc;
}

enum qb_err store_destination_set_write_limit(struct store *s, const char *name, int64_t rate,
                                              char *err, size_t errlen)
{
    int changes = 0;
    enum qb_err rc =
        store_execf(s, "UPDATE destinations SET max_write_bytes_per_second = ?2 WHERE name = ?1",
                    &changes, "setting the write limit", err, errlen, "tz", name, rate);
    if (!rc && changes == 0)
        rc = store_not_found("destination", name, 0, err, errlen);
    return rc;
}

enum qb_err store_destination_get(struct store *s, const char *name, bool with_secret,
                                  struct store_destination **out, char *err, size_t errlen)
{
    return store_get_by_key(s, "SELECT " DEST_COLUMNS " FROM destinations WHERE name = ?1", name, 0,
                            &destination_rows, with_secret ? s : NULL, out, "destination", err,
                            errlen);
}

enum qb_err store_destination_get_by_id(struct store *s, int64_t id, bool with_secret,
                                        struct store_destination **out, char *err, size_t errlen)
{
    return store_get_by_key(s, "SELECT " DEST_COLUMNS " FROM destinations WHERE id = ?1", NULL, id,
                            &destination_rows, with_secret ? s : NULL, out, "destination", err,
                            errlen);
}

enum qb_err store_destination_list(struct store *s, struct store_destination ***out, size_t *n,
                                   char *err, size_t errlen)
{
    void *list;
    enum qb_err rc =
        store_list(s, "SELECT " DEST_COLUMNS " FROM destinations ORDER BY name", &destination_rows,
                   NULL, &list, n, "listing destinations", err, errlen);
    *out = list;
    return rc;
}

enum qb_err store_destination_delete(struct store *s, const char *name, char *err, size_t errlen)
{
    return store_delete_key(s, "DELETE FROM destinations WHERE name = ?1", name, 0, "destination",
                            "is used by a plan or holds catalogued snapshots", err, errlen);
}
