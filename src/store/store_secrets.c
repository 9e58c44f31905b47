/* SPDX-License-Identifier: Apache-2.0
 *
 * store_secrets.c -- sealing of the secret columns and the start-up pass
 * that seals values in clear and re-seals values under old keys.
 */
#include "store/store_secrets.h"
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

struct secret_column {
    const char *table;
    const char *column;
    const char *what;  /* for messages: "API key of instance" */
    bool json_string;  /* stored as a JSON string (the column must hold valid JSON) */
    const char *label; /* SQL naming the row in messages */
};

/* Indexed by enum store_secret_col.  The table.column text is also the
 * seal's context, so a value copied into another column does not open. */
static const struct secret_column columns[] = {
    [STORE_SECRET_INSTANCE_API_KEY] = {"instances", "api_key_secret", "API key of instance", false,
                                       "name"},
    [STORE_SECRET_DESTINATION] = {"destinations", "secret", "credentials of destination", true,
                                  "name"},
    [STORE_SECRET_WEBHOOK] = {"webhooks", "secret", "secret of webhook", false, "id"},
};

static char *context_of(const struct secret_column *c)
{
    return xasprintf("%s.%s", c->table, c->column);
}

/* The sealed text inside a stored value, copied, or NULL when the value
 * is not in sealed form (a value in clear). */
static char *unwrap(const struct secret_column *c, const char *stored)
{
    if (!c->json_string)
        return seal_is_sealed(stored) ? xstrdup(stored) : NULL;
    size_t len = strlen(stored);
    if (len < 2 || stored[0] != '"' || stored[len - 1] != '"' || !seal_is_sealed(stored + 1))
        return NULL;
    return xstrndup(stored + 1, len - 2);
}

enum qb_err store_secret_seal(struct store *s, enum store_secret_col col, const char *plain,
                              char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!plain)
        return QB_OK;
    const struct seal_keyring *kr = store_keyring(s);
    if (!kr)
        return qb_failf(QB_ERR_INTERNAL, err, errlen,
                        "no secrets key is loaded; refusing to store a secret in clear");
    const struct secret_column *c = &columns[col];
    char *ctx = context_of(c), *sealed = NULL;
    enum qb_err rc = seal_seal(kr, ctx, plain, &sealed, err, errlen);
    free(ctx);
    if (rc)
        return rc;
    if (c->json_string) {
        /* Base64 and ':' need no JSON escaping. */
        *out = xasprintf("\"%s\"", sealed);
        free(sealed);
    } else {
        *out = sealed;
    }
    return QB_OK;
}

/* Opens stored; *stale when an older key sealed it, *was_plain when it
 * was in clear. */
static enum qb_err open_value(const struct seal_keyring *kr, const struct secret_column *c,
                              const char *stored, char **out, bool *stale, bool *was_plain,
                              char *err, size_t errlen)
{
    *stale = *was_plain = false;
    char *sealed = unwrap(c, stored);
    if (!sealed) {
        *was_plain = true;
        *out = xstrdup(stored);
        return QB_OK;
    }
    enum qb_err rc;
    if (!kr) {
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen, "no secrets key is loaded");
    } else {
        char *ctx = context_of(c);
        rc = seal_open(kr, ctx, sealed, out, stale, err, errlen);
        free(ctx);
    }
    free(sealed);
    return rc;
}

enum qb_err store_secret_open(struct store *s, enum store_secret_col col, const char *stored,
                              char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!stored)
        return QB_OK;
    bool stale, was_plain;
    return open_value(store_keyring(s), &columns[col], stored, out, &stale, &was_plain, err,
                      errlen);
}

enum qb_err store_secrets_count_sealed(struct store *s, int *n, char *err, size_t errlen)
{
    int64_t v = 0;
    enum qb_err rc = store_queryf_int(s,
                                      "SELECT (SELECT count(*) FROM instances WHERE "
                                      "substr(api_key_secret, 1, 5) = 'qbs1:') + (SELECT count(*) "
                                      "FROM destinations WHERE substr(secret, 1, 6) = '\"qbs1:') + "
                                      "(SELECT count(*) FROM webhooks WHERE substr(secret, 1, 5) "
                                      "= 'qbs1:')",
                                      &v, NULL, "counting sealed secrets", err, errlen, "");
    if (!rc)
        *n = (int)v;
    return rc;
}

/* Re-seals what needs it in one column; db is inside a transaction. */
static enum qb_err pass_column(struct store *s, struct db_conn *db, enum store_secret_col col,
                               struct store_secrets_report *rep, char *err, size_t errlen)
{
    const struct secret_column *c = &columns[col];
    char *select = xasprintf("SELECT id, %s, %s FROM %s WHERE %s IS NOT NULL ORDER BY id", c->label,
                             c->column, c->table, c->column);
    char *update = xasprintf("UPDATE %s SET %s = ?1 WHERE id = ?2", c->table, c->column);
    struct db_stmt *st = NULL, *up = NULL;
    char *plain = NULL, *resealed = NULL, *name = NULL;
    enum qb_err rc = db_prepare(db, select, &st, err, errlen);
    if (!rc)
        rc = db_prepare(db, update, &up, err, errlen);
    if (rc)
        goto out;
    /* Rows are updated while the SELECT steps: the column is not indexed
     * and the scan is by id, so an update never moves a row into the
     * scan's path again. */
    bool row = false;
    while (!rc && !(rc = db_step(st, &row, "reading secrets", err, errlen)) && row) {
        int64_t id = db_column_int64(st, 0);
        QB_FREE(name);
        name = store_column_text(st, 1);
        const char *stored = db_column_text(st, 2);
        bool stale = false, was_plain = false;
        char sub[QB_ERRBUF_SIZE];
        rc = open_value(store_keyring(s), c, stored, &plain, &stale, &was_plain, sub, sizeof sub);
        if (rc) {
            qb_failf(rc, err, errlen, "the %s \"%s\" cannot be opened: %s", c->what, name, sub);
            break;
        }
        if (!stale && !was_plain) {
            rep->sealed++;
            seal_wipe_free(plain);
            plain = NULL;
            continue;
        }
        rc = store_secret_seal(s, col, plain, &resealed, err, errlen);
        if (rc)
            break;
        db_reset(up);
        db_bind_text(up, 1, resealed);
        db_bind_int64(up, 2, id);
        rc = store_step_done(up, NULL, "re-sealing a secret", err, errlen);
        if (was_plain)
            rep->plain++;
        else
            rep->rotated++;
        seal_wipe_free(plain);
        plain = NULL;
        QB_FREE(resealed);
    }
out:
    seal_wipe_free(plain);
    free(resealed);
    free(name);
    db_finalize(st);
    db_finalize(up);
    free(select);
    free(update);
    return rc;
}

enum qb_err store_write_sealed(struct store *s, const char *sql, enum store_secret_col col,
                               const char *plain, bool keep, store_bind_sealed_fn *bind,
                               const void *obj, int64_t *id, int *changes, const char *what,
                               char *err, size_t errlen)
{
    char *sealed = NULL;
    enum qb_err rc = keep ? QB_OK : store_secret_seal(s, col, plain, &sealed, err, errlen);
    if (rc)
        return rc;
    struct store_stmt q;
    rc = store_stmt_open(s, sql, &q, err, errlen);
    if (!rc) {
        bind(q.st, obj, sealed, keep);
        rc = id ? store_stmt_int(&q, id, NULL, what, err, errlen)
                : store_stmt_done(&q, changes, what, err, errlen);
    }
    free(sealed);
    return rc;
}

enum qb_err store_secrets_init(struct store *s, const struct seal_keyring *kr,
                               struct store_secrets_report *rep, char *err, size_t errlen)
{
    struct store_secrets_report local = {0};
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    store_set_keyring(s, kr);
    struct db_conn *db = store_acquire(s);
    enum qb_err rc = db_begin(db, DB_TX_WRITE, err, errlen);
    if (!rc) /* instances starting at once re-seal one after the other */
        rc = db_lock(db, STORE_LOCK_SECRETS, err, errlen);
    if (!rc)
        rc = pass_column(s, db, STORE_SECRET_INSTANCE_API_KEY, rep, err, errlen);
    if (!rc)
        rc = pass_column(s, db, STORE_SECRET_DESTINATION, rep, err, errlen);
    if (!rc)
        rc = pass_column(s, db, STORE_SECRET_WEBHOOK, rep, err, errlen);
    if (!rc)
        rc = db_commit(db, err, errlen);
    /* On SQLite the old text is still in the pages the updates freed and
     * in the WAL: rebuild the file and empty the log.  Only after a
     * rewrite, as VACUUM copies the whole catalogue.  (PostgreSQL's old
     * row versions go with its own vacuum.) */
    bool rewrote = rep->plain + rep->rotated > 0 && db_dialect(db) == DB_SQLITE;
    if (!rc && rewrote)
        rc = db_exec(db, "VACUUM", err, errlen);
    if (!rc && rewrote)
        rc = db_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", err, errlen);
    store_release(s, db); /* rolls back when a step failed */
    return rc;
}
