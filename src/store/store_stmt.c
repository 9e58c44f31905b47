/* SPDX-License-Identifier: Apache-2.0
 *
 * store_stmt.c -- the statement helpers every store_<table>.c file uses:
 * prepare, bind, step once or to the end, read rows into structs through
 * column tables, and the one-statement-on-a-pooled-connection calls (see
 * the DESIGN note of store_internal.h).  Owns no state.
 */
#include "store/store_internal.h"
#include "util/seal.h"

#include <stdarg.h>
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

void store_bind_int_or_null(struct db_stmt *st, int idx, int64_t v, int64_t none)
{
    if (v == none)
        db_bind_null(st, idx);
    else
        db_bind_int64(st, idx, v);
}

void store_bind_key(struct db_stmt *st, int idx, const char *name, int64_t id)
{
    if (name)
        db_bind_text(st, idx, name);
    else
        db_bind_int64(st, idx, id);
}

static void vbindf(struct db_stmt *st, const char *fmt, va_list ap)
{
    for (int idx = 1; *fmt; fmt++, idx++) {
        int64_t v;
        switch (*fmt) {
        case 'i':
            db_bind_int64(st, idx, va_arg(ap, int64_t));
            break;
        case 'z':
            v = va_arg(ap, int64_t);
            store_bind_int_or_null(st, idx, v, 0);
            break;
        case 'm':
            v = va_arg(ap, int64_t);
            store_bind_int_or_null(st, idx, v, -1);
            break;
        case 't':
            db_bind_text(st, idx, va_arg(ap, const char *));
            break;
        case '_':
            break;
        default:
            QB_ASSERT(!"store_bindf: unknown letter");
        }
    }
}

void store_bindf(struct db_stmt *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbindf(st, fmt, ap);
    va_end(ap);
}

void store_bind_args(struct db_stmt *st, int64_t i1, int64_t i2, int64_t i3, const char *t4)
{
    db_bind_int64(st, 1, i1);
    db_bind_int64(st, 2, i2);
    db_bind_int64(st, 3, i3);
    db_bind_text(st, 4, t4);
}

char *store_column_text(struct db_stmt *st, int col)
{
    const char *t = db_column_text(st, col);
    return t ? xstrdup(t) : NULL;
}

enum qb_err store_step_done(struct db_stmt *st, int *changes, const char *what, char *err,
                            size_t errlen)
{
    bool row = false;
    enum qb_err rc = db_step(st, &row, what, err, errlen);
    if (!rc && row)
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen, "%s: returned a row", what);
    if (!rc && changes)
        *changes = (int)db_changes(st);
    return rc;
}

enum qb_err store_step_int(struct db_stmt *st, int64_t *v, bool *found, const char *what, char *err,
                           size_t errlen)
{
    bool row = false;
    enum qb_err rc = db_step(st, &row, what, err, errlen);
    if (rc)
        return rc;
    if (found)
        *found = row;
    if (row)
        *v = db_column_int64(st, 0);
    else if (!found)
        return qb_failf(QB_ERR_IO, err, errlen, "%s: no row", what);
    return QB_OK;
}

enum qb_err store_query_int(struct db_conn *c, const char *sql, int64_t *v, const char *what,
                            char *err, size_t errlen)
{
    struct db_stmt *st = NULL;
    enum qb_err rc = db_prepare(c, sql, &st, err, errlen);
    if (!rc)
        rc = store_step_int(st, v, NULL, what, err, errlen);
    db_finalize(st);
    return rc;
}

/* ------------------------------------------------------------ row readers */

enum qb_err store_collect_rows(struct db_stmt *st, const struct store_rows *r, void *ctx,
                               void **out, size_t *n, const char *what, char *err, size_t errlen)
{
    char *list = NULL;
    size_t count = 0, cap = 0;
    bool row = false;
    enum qb_err rc;
    while (!(rc = db_step(st, &row, what, err, errlen)) && row) {
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

/* Fills the fields of obj (zeroed) from the current row; secrets stay NULL. */
static void table_fill(const struct store_table *t, struct db_stmt *st, char *obj)
{
    for (size_t i = 0; i < t->ncols; i++) {
        const struct store_col *c = &t->cols[i];
        void *field = obj + c->offset;
        int col = (int)i;
        bool null = db_column_is_null(st, col);
        switch (c->kind) {
        case STORE_KIND_INT64:
            *(int64_t *)field = null ? c->int_if_null : db_column_int64(st, col);
            break;
        case STORE_KIND_INT:
            *(int *)field = (int)db_column_int64(st, col);
            break;
        case STORE_KIND_BOOL:
            *(bool *)field = db_column_int64(st, col) != 0;
            break;
        case STORE_KIND_TEXT:
            *(char **)field =
                null && c->text_if_null ? xstrdup(c->text_if_null) : store_column_text(st, col);
            break;
        case STORE_KIND_SECRET:
            break;
        }
    }
}

void *store_table_read(const struct store_table *t, struct db_stmt *st)
{
    char *obj = xcalloc(1, t->size);
    table_fill(t, st, obj);
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

enum qb_err store_table_read_row(const struct store_rows *r, void *ctx, struct db_stmt *st,
                                 void *elem, char *err, size_t errlen)
{
    const struct store_table *t = &r->table;
    char *obj = store_table_read(t, st);
    for (size_t i = 0; ctx && i < t->ncols; i++) {
        const struct store_col *c = &t->cols[i];
        if (c->kind != STORE_KIND_SECRET)
            continue;
        enum qb_err rc =
            store_secret_open(ctx, (enum store_secret_col)c->int_if_null,
                              db_column_text(st, (int)i), (char **)(obj + c->offset), err, errlen);
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

enum qb_err store_value_read_row(const struct store_rows *r, void *ctx, struct db_stmt *st,
                                 void *elem, char *err, size_t errlen)
{
    (void)ctx;
    (void)err;
    (void)errlen;
    table_fill(&r->table, st, elem);
    return QB_OK;
}

void store_value_clear_row(const struct store_rows *r, void *elem)
{
    store_table_clear(&r->table, elem);
}

/* A row of one text column: the element is the copied text. */
static const struct store_col text_col = {STORE_KIND_TEXT, 0, 0, NULL};
const struct store_rows store_text_rows = {
    sizeof(char *), store_value_read_row, store_value_clear_row, {sizeof(char *), &text_col, 1}};

/* ---------------------------------------- one statement, one connection */

void store_stmt_close(struct store_stmt *q)
{
    db_finalize(q->st);
    q->st = NULL;
    if (q->c)
        store_release(q->s, q->c);
    q->c = NULL;
}

enum qb_err store_stmt_open(struct store *s, const char *sql, struct store_stmt *q, char *err,
                            size_t errlen)
{
    q->s = s;
    q->c = store_acquire(s);
    enum qb_err rc = db_prepare(q->c, sql, &q->st, err, errlen);
    if (rc) {
        store_release(s, q->c);
        q->c = NULL;
    }
    return rc;
}

enum qb_err store_stmt_done(struct store_stmt *q, int *changes, const char *what, char *err,
                            size_t errlen)
{
    enum qb_err rc = store_step_done(q->st, changes, what, err, errlen);
    store_stmt_close(q);
    return rc;
}

enum qb_err store_stmt_int(struct store_stmt *q, int64_t *v, bool *found, const char *what,
                           char *err, size_t errlen)
{
    enum qb_err rc = store_step_int(q->st, v, found, what, err, errlen);
    store_stmt_close(q);
    return rc;
}

enum qb_err store_stmt_rows(struct store_stmt *q, const struct store_rows *r, void *ctx, void **out,
                            size_t *n, const char *what, char *err, size_t errlen)
{
    enum qb_err rc = store_collect_rows(q->st, r, ctx, out, n, what, err, errlen);
    store_stmt_close(q);
    return rc;
}

enum qb_err store_stmt_one(struct store_stmt *q, const struct store_rows *r, void *ctx, void *elem,
                           bool *found, const char *what, char *err, size_t errlen)
{
    bool row = false;
    memset(elem, 0, r->size);
    enum qb_err rc = db_step(q->st, &row, what, err, errlen);
    if (found)
        *found = !rc && row;
    if (!rc && row)
        rc = r->read(r, ctx, q->st, elem, err, errlen);
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
    return store_listf(s, sql, r, ctx, out, n, what, err, errlen, "");
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

enum qb_err store_write_one(struct store *s, const char *sql, int64_t id, int64_t a, int64_t b,
                            const char *text, const char *what, const char *noun, char *err,
                            size_t errlen)
{
    int changes = 0;
    enum qb_err rc = store_write(s, sql, id, a, b, text, &changes, what, err, errlen);
    if (!rc && changes == 0)
        rc = store_not_found(noun, NULL, id, err, errlen);
    return rc;
}

/* store_stmt_open, then store_bindf's binds. */
static enum qb_err open_bound(struct store *s, const char *sql, struct store_stmt *q, char *err,
                              size_t errlen, const char *fmt, va_list ap)
{
    enum qb_err rc = store_stmt_open(s, sql, q, err, errlen);
    if (!rc)
        vbindf(q->st, fmt, ap);
    return rc;
}

enum qb_err store_stmt_openf(struct store *s, const char *sql, struct store_stmt *q, char *err,
                             size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum qb_err rc = open_bound(s, sql, q, err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

enum qb_err store_execf(struct store *s, const char *sql, int *changes, const char *what, char *err,
                        size_t errlen, const char *fmt, ...)
{
    struct store_stmt q;
    va_list ap;
    va_start(ap, fmt);
    enum qb_err rc = open_bound(s, sql, &q, err, errlen, fmt, ap);
    va_end(ap);
    return rc ? rc : store_stmt_done(&q, changes, what, err, errlen);
}

enum qb_err store_queryf_int(struct store *s, const char *sql, int64_t *v, bool *found,
                             const char *what, char *err, size_t errlen, const char *fmt, ...)
{
    struct store_stmt q;
    va_list ap;
    va_start(ap, fmt);
    enum qb_err rc = open_bound(s, sql, &q, err, errlen, fmt, ap);
    va_end(ap);
    return rc ? rc : store_stmt_int(&q, v, found, what, err, errlen);
}

enum qb_err store_listf(struct store *s, const char *sql, const struct store_rows *r, void *ctx,
                        void **out, size_t *n, const char *what, char *err, size_t errlen,
                        const char *fmt, ...)
{
    struct store_stmt q;
    *out = NULL;
    *n = 0;
    va_list ap;
    va_start(ap, fmt);
    enum qb_err rc = open_bound(s, sql, &q, err, errlen, fmt, ap);
    va_end(ap);
    return rc ? rc : store_stmt_rows(&q, r, ctx, out, n, what, err, errlen);
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

enum qb_err store_delete_key(struct store *s, const char *sql, const char *name, int64_t id,
                             const char *noun, const char *in_use, char *err, size_t errlen)
{
    int changes = 0;
    char what[64];
    snprintf(what, sizeof what, "deleting %s", noun);
    enum qb_err rc = store_write_key(s, sql, name, id, &changes, what, err, errlen);
    if (rc == QB_ERR_CONFLICT && in_use)
        qb_failf(rc, err, errlen, "%s \"%s\" %s", noun, name, in_use);
    else if (!rc && changes == 0)
        rc = store_not_found(noun, name, id, err, errlen);
    return rc;
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
