/* SPDX-License-Identifier: Apache-2.0
 *
 * store_events.c -- the events table (see store_events.h; the wake-up
 * half lives in store.c, next to the connection pool it hooks into).
 */
#include "store/store_events.h"
#include "store/store_internal.h"

#include <stdlib.h>

#define STORE_ROW_T struct store_event
static const struct store_col event_cols[] = {STORE_COL(id),
                                              STORE_COL(at),
                                              STORE_COL(type),
                                              STORE_COL(plan),
                                              STORE_COL(instance),
                                              STORE_COL(run_id),
                                              STORE_COL_TEXT_OR(data, "{}")};
#undef STORE_ROW_T
static const struct store_rows event_rows = STORE_TABLE_ROWS(struct store_event, event_cols);

void store_event_list_free(struct store_event **list, size_t n)
{
    store_rows_free(&event_rows, list, n);
}

enum qb_err store_events_publish(struct store *s, const char *type, const char *plan,
                                 const char *instance, int64_t run_id, const cJSON *data,
                                 int64_t *id, char *err, size_t errlen)
{
    char *text = data ? cJSON_PrintUnformatted(data) : NULL;
    if (data && !text)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "event %s: cannot encode its data", type);
    int64_t newid = 0;
    enum qb_err rc =
        store_queryf_int(s,
                         "INSERT INTO events (at, type, plan, instance, run_id, data) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                         &newid, NULL, "recording an event", err, errlen, "itttzt",
                         qb_now_ms() / 1000, type, plan, instance, run_id, text ? text : "{}");
    if (!rc && id)
        *id = newid;
    cJSON_free(text);
    return rc;
}

enum qb_err store_events_newest(struct store *s, int64_t *id, char *err, size_t errlen)
{
    *id = 0;
    /* The id sequence holds the high-water mark even when the ring is
     * empty; it has none before the first event. */
    static const char *const sql[] = {
        [DB_SQLITE] = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
        [DB_POSTGRES] = "SELECT coalesce(pg_sequence_last_value("
                        "pg_get_serial_sequence('events', 'id')::regclass), 0)",
    };
    return store_queryf_int(s, sql[store_dialect(s)], id, NULL, "reading the newest event id", err,
                            errlen, "");
}

/* The oldest id left (0 when the ring is empty). */
static enum qb_err oldest_id(struct store *s, int64_t *id, char *err, size_t errlen)
{
    *id = 0;
    return store_queryf_int(s, "SELECT coalesce(min(id), 0) FROM events", id, NULL,
                            "reading the oldest event id", err, errlen, "");
}

enum qb_err store_events_after(struct store *s, int64_t after, int limit, struct store_event ***out,
                               size_t *n, bool *lost, char *err, size_t errlen)
{
    void *list = NULL;
    int64_t oldest = 0, newest = 0;
    *out = NULL;
    *n = 0;
    *lost = false;
    if (after < 0)
        after = 0;
    /* The bounds first.  Rows pruned between these reads and the list
     * below were older than every row listed, so a reader that is told
     * nothing was lost has a gapless view of what it reads. */
    enum qb_err rc = store_events_newest(s, &newest, err, errlen);
    if (!rc)
        rc = oldest_id(s, &oldest, err, errlen);
    if (rc)
        return rc;
    if (after > newest) {
        *lost = true; /* a cursor from elsewhere: everything we have is news */
        after = 0;
    } else if (after > 0 && after < newest && oldest > after + 1) {
        *lost = true; /* after + 1 .. oldest - 1 were pruned unread */
    }
    rc = store_listf(s,
                     "SELECT id, at, type, plan, instance, run_id, data FROM events "
                     "WHERE id > ?1 ORDER BY id LIMIT ?2",
                     &event_rows, NULL, &list, n, "reading events", err, errlen, "ii", after,
                     (int64_t)limit);
    *out = list;
    return rc;
}

enum qb_err store_events_last(struct store *s, const char *type, const char *plan, int64_t after_at,
                              int64_t *id, char *err, size_t errlen)
{
    *id = 0;
    return store_queryf_int(s,
                            "SELECT coalesce(max(id), 0) FROM events "
                            "WHERE plan = ?1 AND type = ?2 AND at > ?3",
                            id, NULL, "looking up an event", err, errlen, "tti", plan, type,
                            after_at);
}

enum qb_err store_events_set_keep(struct store *s, int64_t keep, char *err, size_t errlen)
{
    if (keep < 1)
        return qb_failf(QB_ERR_INVALID, err, errlen, "events_keep: must be at least 1");
    enum qb_err rc = store_write(s, "UPDATE event_log SET keep = ?1 WHERE id = 1", keep, 0, 0, NULL,
                                 NULL, "setting the event log's size", err, errlen);
    if (rc)
        return rc;
    /* The trigger prunes on insert; a smaller ring takes effect now. */
    return store_write(s,
                       "DELETE FROM events WHERE id <= "
                       "(SELECT coalesce(max(id), 0) FROM events) - ?1",
                       keep, 0, 0, NULL, NULL, "pruning the event log", err, errlen);
}
