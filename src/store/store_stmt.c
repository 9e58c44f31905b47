/* SPDX-License-Identifier: Apache-2.0
 *
 * store_stmt.c -- the statement helpers every store_<table>.c file uses:
 * prepare, bind, step once or to the end, read rows into structs through
 * column tables, and the one-statement-on-a-pooled-connection calls (see
 * the DESIGN note of store_internal.h).  Owns no state.
 */
#include "store/store_internal.h"
#include "util/seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum qb_err store_not_found(const char *noun, const char *name, int64_t id, char *err,
                            size_t errlen)
{
    if (name)
        return qb_failf(QB_ERR_NOT_FOUND, err, errlen, "%s \"%s\" does not exist", noun, name);
    return qb_failf(QB_ERR_NOT_FOUND, err, errlen, "%s %lld does not exist", noun, (long long)id);
}

enum qb_err store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return store_sqlite_err(db, rc, sql, err, errlen);
    return QB_OK;
}

enum qb_err store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt, char *err,
                          size_t errlen)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, stmt, NULL);
    if (rc != SQLITE_OK) {
        *stmt = NULL;
        return store_sqlite_err(db, rc, "prepare", err, errlen);
    }
    return QB_OK;
}

void store_bind_text(sqlite3_stmt *st, int idx, const char *value)
{
    if (value)
        sqlite3_bind_text(st, idx, value, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, idx);
}

void store_bind_int_or_null(sqlite3_stmt *st, int idx, int64_t v, int64_t none)
{
    if (v == none)
        sqlite3_bind_null(st, idx);
    else
        sqlite3_bind_int64(st, idx, v);
}

void store_bind_key(sqlite3_stmt *st, int idx, const char *name, int64_t id)
{
    if (name)
        store_bind_text(st, idx, name);
    else
        sqlite3_bind_int64(st, idx, id);
}

void store_bind_args(sqlite3_stmt *st, int64_t i1, int64_t i2, int64_t i3, const char *t4)
{
    sqlite3_bind_int64(st, 1, i1);
    sqlite3_bind_int64(st, 2, i2);
    sqlite3_bind_int64(st, 3, i3);
    store_bind_text(st, 4, t4);
}

char *store_column_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? xstrdup((const char *)t) : NULL;
}

enum qb_err store_step_done(sqlite3 *db, sqlite3_stmt *st, int *changes, const char *what,
                            char *err, size_t errlen)
{
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        return store_sqlite_err(db, src, what, err, errlen);
    if (changes)
        *changes = sqlite3_changes(db);
    return QB_OK;
}

enum qb_err store_step_int(sqlite3 *db, sqlite3_stmt *st, int64_t *v, bool *found, const char *what,
                           char *err, size_t errlen)
{
    int src = sqlite3_step(st);
    if (found)
        *found = src == SQLITE_ROW;
    if (src == SQLITE_ROW)
        *v = sqlite3_column_int64(st, 0);
    else if (src != SQLITE_DONE || !found)
        return store_sqlite_err(db, src, what, err, errlen);
    return QB_OK;
}

enum qb_err store_query_int(sqlite3 *db, const char *sql, int64_t *v, const char *what, char *err,
                            size_t errlen)
{
    sqlite3_stmt *st = NULL;
    enum qb_err rc = store_prepare(db, sql, &st, err, errlen);
    if (!rc)
        rc = store_step_int(db, st, v, NULL, what, err, errlen);
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------ row readers */

enum qb_err store_collect_rows(sqlite3 *db, sqlite3_stmt *st, const struct store_rows *r, void *ctx,
                               void **out, size_t *n, const char *what, char *err, size_t errlen)
{
    char *list = NULL;
    size_t count = 0, cap = 0;
    enum qb_err rc = QB_OK;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? 2 * cap : 8;
            list = xrealloc(list, cap * r->size);
        }
        void *elem = list + count * r->size;
        memset(elem, 0, r->size);
        rc = r->read(r, ctx, st, elem, err, errlen);
        if (rc)
            break;
        count++;
    }
    if (!rc && src != SQLITE_DONE)
        rc = store_sqlite_err(db, src, what, err, errlen);
    if (rc) {
        store_rows_free(r, list, count);
        list = NULL;
        count = 0;
    }
    *out = list;
    *n = count;
    return rc;
}

void store_rows_free(const struct store_rows *r, void *list, size_t n)
{
    for (size_t i = 0; list && r->clear && i < n; i++)
        r->clear(r, (char *)list + i * r->size);
    free(list);
}

/* ---------------------------------------------------------- column tables */

void *store_table_read(const struct store_table *t, sqlite3_stmt *st)
{
    char *obj = xcalloc(1, t->size);
    for (size_t i = 0; i < t->ncols; i++) {
        const struct store_col *c = &t->cols[i];
        void *field = obj + c->offset;
        int col = (int)i;
        bool null = sqlite3_column_type(st, col) == SQLITE_NULL;
        switch (c->kind) {
        case STORE_KIND_INT64:
            *(int64_t *)field = null ? c->int_if_null : sqlite3_column_int64(st, col);
            break;
        case STORE_KIND_INT:
            *(int *)field = sqlite3_column_int(st, col);
            break;
        case STORE_KIND_BOOL:
            *(bool *)field = sqlite3_column_int(st, col) != 0;
            break;
        case STORE_KIND_TEXT:
            *(char **)field =
                null && c->text_if_null ? xstrdup(c->text_if_null) : store_column_text(st, col);
            break;
        case STORE_KIND_SECRET:
            break;
        }
    }
    return obj;
}

void store_table_clear(const struct store_table *t, void *obj)
{
    for (size_t i = 0; i < t->ncols; i++) {
        char **field = (char **)((char *)obj + t->cols[i].offset);
        if (t->cols[i].kind == STORE_KIND_TEXT)
            free(*field);
        else if (t->cols[i].kind == STORE_KIND_SECRET)
            seal_wipe_free(*field);
    }
    memset(obj, 0, t->size);
}

void store_table_free(const struct store_table *t, void *obj)
{
    if (!obj)
        return;
    store_table_clear(t, obj);
    free(obj);
}

enum qb_err store_table_read_row(const struct store_rows *r, void *ctx, sqlite3_stmt *st,
                                 void *elem, char *err, size_t errlen)
{
    const struct store_table *t = &r->table;
    char *obj = store_table_read(t, st);
    for (size_t i = 0; ctx && i < t->ncols; i++) {
        const struct store_col *c = &t->cols[i];
        if (c->kind != STORE_KIND_SECRET)
            continue;
        enum qb_err rc = store_secret_open(ctx, (enum store_secret_col)c->int_if_null,
                                           (const char *)sqlite3_column_text(st, (int)i),
                                           (char **)(obj + c->offset), err, errlen);
        if (rc) {
            store_table_free(t, obj);
            return rc;
        }
    }
    *(void **)elem = obj;
    return QB_OK;
}

void store_table_clear_row(const struct store_rows *r, void *elem)
{
    store_table_free(&r->table, *(void **)elem);
}

/* ---------------------------------------- one statement, one connection */

enum qb_err store_stmt_open(struct store *s, const char *sql, struct store_stmt *q, char *err,
                            size_t errlen)
{
    q->s = s;
    q->db = store_acquire(s);
    enum qb_err rc = store_prepare(q->db, sql, &q->st, err, errlen);
    if (rc) {
        store_release(s, q->db);
        q->db = NULL;
    }
    return rc;
}

void store_stmt_close(struct store_stmt *q)
{
    sqlite3_finalize(q->st);
    q->st = NULL;
    if (q->db)
        store_release(q->s, q->db);
    q->db = NULL;
}

enum qb_err store_stmt_done(struct store_stmt *q, int *changes, const char *what, char *err,
                            size_t errlen)
{
    enum qb_err rc = store_step_done(q->db, q->st, changes, what, err, errlen);
    store_stmt_close(q);
    return rc;
}

enum qb_err store_stmt_int(struct store_stmt *q, int64_t *v, bool *found, const char *what,
                           char *err, size_t errlen)
{
    enum qb_err rc = store_step_int(q->db, q->st, v, found, what, err, errlen);
    store_stmt_close(q);
    return rc;
}

enum qb_err store_stmt_rows(struct store_stmt *q, const struct store_rows *r, void *ctx, void **out,
                            size_t *n, const char *what, char *err, size_t errlen)
{
    enum qb_err rc = store_collect_rows(q->db, q->st, r, ctx, out, n, what, err, errlen);
    store_stmt_close(q);
    return rc;
}

enum qb_err store_stmt_one(struct store_stmt *q, const struct store_rows *r, void *ctx, void *elem,
                           bool *found, const char *what, char *err, size_t errlen)
{
    enum qb_err rc = QB_OK;
    memset(elem, 0, r->size);
    int src = sqlite3_step(q->st);
    if (found)
        *found = src == SQLITE_ROW;
    if (src == SQLITE_ROW)
        rc = r->read(r, ctx, q->st, elem, err, errlen);
    else if (src != SQLITE_DONE)
        rc = store_sqlite_err(q->db, src, what, err, errlen);
    store_stmt_close(q);
    return rc;
}

enum qb_err store_get_by_key(struct store *s, const char *sql, const char *name, int64_t id,
                             const struct store_rows *r, void *ctx, void *elem, const char *noun,
                             char *err, size_t errlen)
{
    struct store_stmt q;
    bool found = false;
    char what[64];
    snprintf(what, sizeof what, "reading %s", noun);
    enum qb_err rc = store_stmt_open(s, sql, &q, err, errlen);
    if (rc)
        return rc;
    store_bind_key(q.st, 1, name, id);
    rc = store_stmt_one(&q, r, ctx, elem, &found, what, err, errlen);
    if (!rc && !found)
        rc = store_not_found(noun, name, id, err, errlen);
    return rc;
}

enum qb_err store_list(struct store *s, const char *sql, const struct store_rows *r, void *ctx,
                       void **out, size_t *n, const char *what, char *err, size_t errlen)
{
    struct store_stmt q;
    *out = NULL;
    *n = 0;
    enum qb_err rc = store_stmt_open(s, sql, &q, err, errlen);
    if (rc)
        return rc;
    return store_stmt_rows(&q, r, ctx, out, n, what, err, errlen);
}

enum qb_err store_write(struct store *s, const char *sql, int64_t id, int64_t a, int64_t b,
                        const char *text, int *changes, const char *what, char *err, size_t errlen)
{
    struct store_stmt q;
    enum qb_err rc = store_stmt_open(s, sql, &q, err, errlen);
    if (rc)
        return rc;
    store_bind_args(q.st, id, a, b, text);
    return store_stmt_done(&q, changes, what, err, errlen);
}

enum qb_err store_write_key(struct store *s, const char *sql, const char *name, int64_t id,
                            int *changes, const char *what, char *err, size_t errlen)
{
    struct store_stmt q;
    enum qb_err rc = store_stmt_open(s, sql, &q, err, errlen);
    if (rc)
        return rc;
    store_bind_key(q.st, 1, name, id);
    return store_stmt_done(&q, changes, what, err, errlen);
}

void store_where_add(struct store_where *w, bool on, const char *term)
{
    if (!on)
        return;
    int k = snprintf(w->sql + w->len, sizeof w->sql - w->len, "%s%s", w->len ? " AND " : " WHERE ",
                     term);
    QB_ASSERT(k > 0 && (size_t)k < sizeof w->sql - w->len); /* the terms are ours: size them */
    w->len += (size_t)k;
}
