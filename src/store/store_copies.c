/* SPDX-License-Identifier: Apache-2.0
 *
 * store_copies.c -- rows of snapshot_copies: record, list, claim, settle,
 * delete, and link a copy found by a rescan.
 */
#include "store/store_copies.h"
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

#define COPY_SELECT                                                                                \
    "SELECT c.id, c.snapshot_id, c.position, c.destination_id, d.name, c.storage_key, c.state, "   \
    "c.sha256, c.size_bytes, c.verified_at, c.attempts, c.last_error, c.created_at "               \
    "FROM snapshot_copies c JOIN destinations d ON d.id = c.destination_id "

#define STORE_ROW_T struct store_copy
static const struct store_col copy_cols[] = {STORE_COL(id),
                                             STORE_COL(snapshot_id),
                                             STORE_COL(position),
                                             STORE_COL(destination_id),
                                             STORE_COL(destination_name),
                                             STORE_COL(storage_key),
                                             STORE_COL(state),
                                             STORE_COL(sha256),
                                             STORE_COL(size_bytes),
                                             STORE_COL(verified_at),
                                             STORE_COL(attempts),
                                             STORE_COL(last_error),
                                             STORE_COL(created_at)};
#undef STORE_ROW_T
static const struct store_rows copy_rows = STORE_TABLE_ROWS(struct store_copy, copy_cols);

void store_copy_list_free(struct store_copy **list, size_t n)
{
    store_rows_free(&copy_rows, list, n);
}

enum qb_err store_copy_insert(struct store *s, int64_t snapshot_id, int64_t position,
                              int64_t destination_id, const char *key, char *err, size_t errlen)
{
    return store_execf(s,
                       "INSERT INTO snapshot_copies (snapshot_id, position, "
                       "destination_id, storage_key, created_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                       NULL, "recording a copy", err, errlen, "iiiti", snapshot_id, position,
                       destination_id, key, qb_now_ms() / 1000);
}

static enum qb_err list_by(struct store *s, const char *sql, int64_t a, int64_t b,
                           struct store_copy ***out, size_t *n, char *err, size_t errlen)
{
    void *list;
    enum qb_err rc =
        store_listf(s, sql, &copy_rows, NULL, &list, n, "listing copies", err, errlen, "ii", a, b);
    *out = list;
    return rc;
}

enum qb_err store_copy_list(struct store *s, int64_t snapshot_id, struct store_copy ***out,
                            size_t *n, char *err, size_t errlen)
{
    return list_by(s, COPY_SELECT "WHERE c.snapshot_id = ?1 ORDER BY c.position, c.id", snapshot_id,
                   0, out, n, err, errlen);
}

enum qb_err store_copy_list_unfinished(struct store *s, int64_t plan_id, int64_t max_attempts,
                                       struct store_copy ***out, size_t *n, char *err,
                                       size_t errlen)
{
    /* Walks snapshot_copies_unfinished (few rows: copies not yet made)
     * and looks each snapshot up by its key. */
    return list_by(s,
                   COPY_SELECT "JOIN snapshots s ON s.id = c.snapshot_id "
                               "WHERE c.state <> 'stored' AND s.plan_id = ?1 "
                               "AND c.attempts < ?2 AND s.deleting_at IS NULL "
                               "ORDER BY c.snapshot_id, c.position",
                   plan_id, max_attempts, out, n, err, errlen);
}

static enum qb_err update_one(struct store *s, const char *sql, int64_t id, int64_t a, int64_t b,
                              const char *text, char *err, size_t errlen)
{
    return store_write_one(s, sql, id, a, b, text, "updating a copy", "copy", err, errlen);
}

enum qb_err store_copy_begin(struct store *s, int64_t id, char *err, size_t errlen)
{
    return update_one(s,
                      "UPDATE snapshot_copies SET state = 'copying', attempts = attempts + 1 "
                      "WHERE id = ?1",
                      id, 0, 0, NULL, err, errlen);
}

enum qb_err store_copy_finish(struct store *s, int64_t id, bool ok, const char *sha256,
                              int64_t size, const char *error, char *err, size_t errlen)
{
    if (ok)
        return update_one(s,
                          "UPDATE snapshot_copies SET state = 'stored', sha256 = ?4, "
                          "size_bytes = ?3, verified_at = ?2, last_error = NULL WHERE id = ?1",
                          id, qb_now_ms() / 1000, size, sha256, err, errlen);
    return update_one(s,
                      "UPDATE snapshot_copies SET state = 'failed', last_error = ?4 WHERE id = ?1",
                      id, 0, 0, error, err, errlen);
}

enum qb_err store_copy_delete(struct store *s, int64_t id, char *err, size_t errlen)
{
    return update_one(s, "DELETE FROM snapshot_copies WHERE id = ?1", id, 0, 0, NULL, err, errlen);
}

#define STORE_ROW_T struct store_copy_brief
static const struct store_col brief_cols[] = {STORE_COL(id),         STORE_COL(created_at),
                                              STORE_COL(pinned),     STORE_COL(verified_at),
                                              STORE_COL(keep_until), STORE_COL(copy_id)};
#undef STORE_ROW_T
static const struct store_rows brief_rows = STORE_VALUE_ROWS(struct store_copy_brief, brief_cols);

enum qb_err store_copy_list_retention(struct store *s, int64_t plan_id, const char *collection,
                                      int64_t destination_id, struct store_copy_brief **out,
                                      size_t *n, char *err, size_t errlen)
{
    void *list;
    /* The target's snapshots come from snapshots_plan_target in order,
     * each copy by the UNIQUE (snapshot_id, destination_id) index. */
    enum qb_err rc = store_listf(
        s,
        "SELECT s.id, s.created_at, s.pinned, c.verified_at, s.keep_until, c.id "
        "FROM snapshots s JOIN snapshot_copies c ON c.snapshot_id = s.id AND c.destination_id = ?3 "
        "WHERE s.plan_id = ?1 AND s.collection IS NOT DISTINCT FROM ?2 AND s.deleting_at IS NULL "
        "AND c.state = 'stored' ORDER BY s.created_at DESC, s.id DESC",
        &brief_rows, NULL, &list, n, "listing copies for retention", err, errlen, "iti", plan_id,
        collection, destination_id);
    *out = list;
    return rc;
}

enum qb_err store_copy_link(struct store *s, int64_t destination_id, const char *key,
                            const char *instance, const char *collection, const char *qdrant_name,
                            const char *sha256, int64_t size, bool *existed, int64_t *snapshot_id,
                            char *err, size_t errlen)
{
    struct store_stmt q;
    int64_t one = 0;
    *snapshot_id = 0;
    enum qb_err rc = store_queryf_int(
        s, "SELECT 1 FROM snapshot_copies WHERE destination_id = ?1 AND storage_key = ?2", &one,
        existed, "looking up a copy", err, errlen, "it", destination_id, key);
    if (rc || *existed)
        return rc;
    /* snapshots_qdrant_name (0011) finds the candidates; the checksum
     * proves the object is that snapshot's bytes (so the plan, which a
     * rebuilt catalogue may not have, need not match). */
    rc = store_stmt_openf(
        s,
        "INSERT INTO snapshot_copies (snapshot_id, position, destination_id, "
        "storage_key, state, sha256, size_bytes, created_at) "
        "SELECT s.id, (SELECT count(*) FROM snapshot_copies x WHERE x.snapshot_id = s.id), ?1, ?2, "
        "'stored', ?7, ?8, ?9 FROM snapshots s "
        "WHERE s.instance_name = ?4 AND s.qdrant_name = ?6 "
        "AND s.collection IS NOT DISTINCT FROM ?5 AND s.sha256 = ?7 AND s.destination_id <> ?1 "
        "AND s.deleting_at IS NULL LIMIT 1 ON CONFLICT DO NOTHING RETURNING snapshot_id",
        &q, err, errlen, "it_ttttii", destination_id, key, instance, collection, qdrant_name,
        sha256, size, qb_now_ms() / 1000);
    if (rc)
        return rc;
    bool found = false;
    rc = store_stmt_int(&q, snapshot_id, &found, "linking a copy", err, errlen);
    if (!found)
        *snapshot_id = 0;
    return rc;
}
