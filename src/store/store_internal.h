/* SPDX-License-Identifier: Apache-2.0
 *
 * store_internal.h -- what the store_*.c files share: the connection pool
 * (store.c), the statement helpers and row readers (store_stmt.c) and
 * secret sealing (store_secrets.c).  Nothing outside src/store/ includes
 * this.
 *
 * DESIGN
 * The store speaks to its engine only through db.h (SQLite or
 * PostgreSQL; the pool holds struct db_conn), so no store_*.c file
 * includes an engine's header.  Most store calls are one statement on a
 * pooled connection: open it with store_stmt_open (connection + prepare),
 * bind with store_bindf (or store_stmt_openf: both at once), and finish
 * with one of store_stmt_done / _int / _one / _rows, which step, report
 * db.h's error classes, finalize and give the connection back.  The
 * usual shapes are one call each (store_execf, store_queryf_int,
 * store_listf, store_get_by_key, store_write...).  Calls that run several
 * statements on one connection (transactions: db_begin, db_lock where the
 * section relies on being the only writer, db_commit) use the store_step_*
 * forms on their own connection.  The SQL text stays at each call site,
 * written once in the form both engines accept; where none exists the
 * call site switches on db_dialect() with both texts side by side.
 *
 * Rows become structs through a column table (struct store_col, in SELECT
 * order): the same table reads a row and frees the struct, so a new column
 * is one line.  Lists are arrays grown by store_collect_rows through a
 * struct store_rows reader: of pointers to table structs, of the structs
 * themselves (value rows, read through the same column tables), or of
 * texts.
 */
#ifndef QB_STORE_INTERNAL_H
#define QB_STORE_INTERNAL_H

#include "store/db.h"
#include "store/store.h"

#include <stddef.h>

struct seal_keyring;

/* Takes a connection from the pool, waiting if all are in use. */
struct db_conn *store_acquire(struct store *s);
/* Returns a connection; rolls back any transaction left open by mistake,
 * and wakes the event waiters when it wrote to `events`. */
void store_release(struct store *s, struct db_conn *c);

/* The engine of every connection of s (for the call sites that switch
 * their SQL text on it). */
enum db_dialect store_dialect(struct store *s);

/* The keys of db_lock: the sections that read, then write, relying on
 * being the only writer (docs/internals/fleet.md).  ASCII "qbkp" and a
 * number, in the space of src/fleet/leader.h's LEADER_KEY_SCHEDULER (a
 * session lock there, transaction locks here: the numbers stay apart).
 * (The webhook cursor needs none: it moves by one monotonic UPDATE.) */
#define STORE_LOCK_MIGRATE    INT64_C(0x71626b7000000101) /* migrate.c: one migrator */
#define STORE_LOCK_RUN_CREATE INT64_C(0x71626b7000000102) /* run creation: find, then insert */
#define STORE_LOCK_SECRETS    INT64_C(0x71626b7000000104) /* re-sealing every secret */
#define STORE_LOCK_RUN_CLAIM  INT64_C(0x71626b7000000108) /* claims: count running, then take */
/* Taken by migrations/postgres/0021_events_commit_order.sql's trigger on every insert into events
 * (ids in commit order); the store never takes it itself. */
#define STORE_LOCK_EVENTS INT64_C(0x71626b7000000110)

/* ------------------------------------------- statements (store_stmt.c) */

/* QB_ERR_NOT_FOUND with "<noun> \"<name>\" does not exist", or "<noun>
 * <id> does not exist" when name is NULL. */
enum qb_err store_not_found(const char *noun, const char *name, int64_t id, char *err,
                            size_t errlen);

/* Binds v, or NULL when v == none (an optional reference or count). */
void store_bind_int_or_null(struct db_stmt *st, int idx, int64_t v, int64_t none);

/* Binds ?idx to name, or to id when name is NULL (lookups by either). */
void store_bind_key(struct db_stmt *st, int idx, const char *name, int64_t id);

/* Binds ?1, ?2, ... in order, one letter of fmt per parameter: 'i' an
 * int64_t, 't' a const char * (NULL binds NULL), 'z' an int64_t where 0
 * binds NULL (an optional reference), 'm' an int64_t where -1 binds NULL
 * (no shard, an unknown count), '_' nothing (the parameter is bound
 * otherwise, or unused; it takes no argument).  Integers are read as
 * int64_t: cast anything narrower, (int64_t)n. */
void store_bindf(struct db_stmt *st, const char *fmt, ...);

/* Binds ?1 i1, ?2 i2, ?3 i3 and ?4 t4 (text or NULL): the parameters of
 * store_write; a statement may use a subset (db.h ignores binding a
 * parameter it lacks). */
void store_bind_args(struct db_stmt *st, int64_t i1, int64_t i2, int64_t i3, const char *t4);

/* Copies a text column (NULL stays NULL); caller frees. */
char *store_column_text(struct db_stmt *st, int col);

/* Steps st, which must return no row; *changes (may be NULL) receives
 * db_changes.  Errors are db_step's, naming what. */
enum qb_err store_step_done(struct db_stmt *st, int *changes, const char *what, char *err,
                            size_t errlen) QB_MUSTCHECK;

/* Steps st once and reads column 0 of its row into *v.  *found says
 * whether there was a row; with found NULL a row is required (aggregates),
 * and its absence is QB_ERR_IO.  *v is left alone without a row. */
enum qb_err store_step_int(struct db_stmt *st, int64_t *v, bool *found, const char *what, char *err,
                           size_t errlen) QB_MUSTCHECK;

/* Prepares sql (no parameters), reads the integer of its one row into *v
 * (store_step_int with a row required) and finalizes. */
enum qb_err store_query_int(struct db_conn *c, const char *sql, int64_t *v, const char *what,
                            char *err, size_t errlen) QB_MUSTCHECK;

/* A WHERE clause built from the filters a list call was given.  A
 * filter that is absent leaves no term, rather than a term like
 * "(?2 IS NULL OR col = ?2)": SQLite plans a statement once for every
 * binding, so such a term can never pick an index, and a keyset cursor
 * written that way scans every row before it.  Terms are SQL text from
 * the caller's source (never input; values are bound), at most
 * STORE_WHERE_MAX bytes in all. */
#define STORE_WHERE_MAX 768
struct store_where {
    char sql[STORE_WHERE_MAX]; /* "" or " WHERE a AND b ..." */
    size_t len;
};
/* Adds term (ANDed) when on. */
void store_where_add(struct store_where *w, bool on, const char *term);

/* ------------------------------------------------------------ row readers */

struct store_col;

/* A struct read from rows: its size and its columns in SELECT order. */
struct store_table {
    size_t size;
    const struct store_col *cols;
    size_t ncols;
};
/* How rows become array elements.  A reader of table rows (below) makes
 * each element a pointer to a new struct; a reader of value rows makes
 * each element a struct of `size` bytes. */
struct store_rows {
    size_t size; /* bytes of one array element */
    /* Fills elem (zeroed) from the current row of st.  On failure it
     * leaves nothing in elem to free.  ctx is the caller's. */
    enum qb_err (*read)(const struct store_rows *r, void *ctx, struct db_stmt *st, void *elem,
                        char *err, size_t errlen);
    /* Frees what read put in elem; NULL when there is nothing to free. */
    void (*clear)(const struct store_rows *r, void *elem);
    struct store_table table; /* table rows: the struct each element points to */
};

/* Steps st to the end, appending one element per row through r.  *out is
 * NULL when there is no row; on failure it is NULL, *n is 0 and the rows
 * read so far are freed.  Caller frees *out with store_rows_free. */
enum qb_err store_collect_rows(struct db_stmt *st, const struct store_rows *r, void *ctx,
                               void **out, size_t *n, const char *what, char *err,
                               size_t errlen) QB_MUSTCHECK;

/* Clears n elements of list through r and frees list; NULL is a no-op. */
void store_rows_free(const struct store_rows *r, void *list, size_t n);

/* ---------------------------------------------------------- column tables */

enum store_col_kind {
    STORE_KIND_INT64,
    STORE_KIND_INT,
    STORE_KIND_BOOL,
    STORE_KIND_TEXT,   /* copied; freed with free() */
    STORE_KIND_SECRET, /* opened by the row reader, or left NULL; freed with seal_wipe_free */
};

/* One column of a SELECT list and the struct field it fills. */
struct store_col {
    enum store_col_kind kind;
    size_t offset;            /* of the field in its struct */
    int64_t int_if_null;      /* integers: what NULL reads as; secrets: enum store_secret_col */
    const char *text_if_null; /* text: copied when the column is NULL (NULL: stays NULL) */
};

/* Table lines.  A file defines STORE_ROW_T as the struct its table fills
 * just before the table (and undefines it after), so that a line names
 * only the field, as the SELECT list does.  The column type follows the
 * field's C type, and a type the reader does not know does not compile.
 * (Macros: a function cannot take a field name.) */
/* (clang-format 14 breaks brace initializers in macros apart.) */
/* clang-format off */
#define STORE_COL_KIND(f)                                                                          \
    _Generic(((STORE_ROW_T *)0)->f, int64_t: STORE_KIND_INT64, int: STORE_KIND_INT,               \
             bool: STORE_KIND_BOOL, char *: STORE_KIND_TEXT)
#define STORE_COL(f) {STORE_COL_KIND(f), offsetof(STORE_ROW_T, f), 0, NULL}
/* An int64_t whose NULL reads as v. */
#define STORE_COL_INT_OR(f, v)                                                                     \
    {_Generic(((STORE_ROW_T *)0)->f, int64_t: STORE_KIND_INT64), offsetof(STORE_ROW_T, f), v, NULL}
/* A text whose NULL reads as a copy of the string v. */
#define STORE_COL_TEXT_OR(f, v)                                                                    \
    {_Generic(((STORE_ROW_T *)0)->f, char *: STORE_KIND_TEXT), offsetof(STORE_ROW_T, f), 0, v}
/* A sealed secret; which: its enum store_secret_col.  The table-row
 * reader opens it when given the store. */
#define STORE_COL_SECRET(f, which)                                                                 \
    {_Generic(((STORE_ROW_T *)0)->f, char *: STORE_KIND_SECRET), offsetof(STORE_ROW_T, f),        \
     which, NULL}

/* The reader of rows of a table of struct T whose columns are cols:
 * elements are pointers to new structs. */
#define STORE_TABLE_ROWS(T, cols)                                                                  \
    {sizeof(void *), store_table_read_row, store_table_clear_row,                                  \
     {sizeof(T), cols, QB_ARRAY_LEN(cols)}}
/* The reader of value rows of struct T whose columns are cols (no
 * secrets): elements are the structs themselves, filled in place. */
#define STORE_VALUE_ROWS(T, cols)                                                                  \
    {sizeof(T), store_value_read_row, store_value_clear_row,                                       \
     {sizeof(T), cols, QB_ARRAY_LEN(cols)}}
/* clang-format on */

/* Defines a table file's reader, rows (a static const struct store_rows,
 * STORE_TABLE_ROWS(T, cols)), and the two public destructors its header
 * declares: free_one(T *obj), store_table_free on one struct (NULL is a
 * no-op), and free_list(T **list, size_t n), store_rows_free on a list of
 * them.  One line, so that the destructors cannot free through other rows
 * than the ones that read the structs.  (A macro, as the functions differ
 * only in names.) */
/* clang-format off */
#define STORE_TABLE_DEFINE(T, cols, rows, free_one, free_list)                                     \
    static const struct store_rows rows = STORE_TABLE_ROWS(T, cols);                               \
    void free_one(T *obj) { store_table_free(&(rows).table, obj); }                                \
    void free_list(T **list, size_t n) { store_rows_free(&(rows), list, n); }
/* clang-format on */

/* A new struct filled from the current row (secret fields left NULL);
 * caller frees with store_table_free. */
void *store_table_read(const struct store_table *t, struct db_stmt *st);
/* Frees the text and secret fields of obj and zeroes it (obj itself stays). */
void store_table_clear(const struct store_table *t, void *obj);
/* store_table_clear, then frees obj; NULL is a no-op. */
void store_table_free(const struct store_table *t, void *obj);

/* store_rows callbacks for r->table: elem is a pointer to the struct.
 * With ctx the store, the read opens the secret columns (without, they
 * stay NULL); a secret that does not open fails the read. */
enum qb_err store_table_read_row(const struct store_rows *r, void *ctx, struct db_stmt *st,
                                 void *elem, char *err, size_t errlen);
void store_table_clear_row(const struct store_rows *r, void *elem);

/* store_rows callbacks for value rows (STORE_VALUE_ROWS): elem is the
 * struct, filled from r->table (secret columns are not read); the clear
 * frees its text fields. */
enum qb_err store_value_read_row(const struct store_rows *r, void *ctx, struct db_stmt *st,
                                 void *elem, char *err, size_t errlen);
void store_value_clear_row(const struct store_rows *r, void *elem);

/* Rows of one text column: each element is a char * (NULL for NULL), a
 * copy the array owns; free the array with store_rows_free. */
extern const struct store_rows store_text_rows;

/* ---------------------------------------- one statement, one connection */

/* A statement on a connection taken from the pool. */
struct store_stmt {
    struct store *s;
    struct db_conn *c;
    struct db_stmt *st; /* bind to this */
};

/* Takes a connection and prepares sql on it.  On failure nothing is held. */
enum qb_err store_stmt_open(struct store *s, const char *sql, struct store_stmt *q, char *err,
                            size_t errlen) QB_MUSTCHECK;
/* store_stmt_open, then binds sql's parameters from fmt and the
 * arguments after it (store_bindf).  On failure nothing is held. */
enum qb_err store_stmt_openf(struct store *s, const char *sql, struct store_stmt *q, char *err,
                             size_t errlen, const char *fmt, ...) QB_MUSTCHECK;
/* Finalizes and gives the connection back. */
void store_stmt_close(struct store_stmt *q);

/* The finishing calls: each is the store_step_* / store_collect_rows of
 * the same name, then store_stmt_close. */
enum qb_err store_stmt_done(struct store_stmt *q, int *changes, const char *what, char *err,
                            size_t errlen) QB_MUSTCHECK;
enum qb_err store_stmt_int(struct store_stmt *q, int64_t *v, bool *found, const char *what,
                           char *err, size_t errlen) QB_MUSTCHECK;
enum qb_err store_stmt_rows(struct store_stmt *q, const struct store_rows *r, void *ctx, void **out,
                            size_t *n, const char *what, char *err, size_t errlen) QB_MUSTCHECK;
/* Steps once: a row is read through r into elem (zeroed first) and *found
 * (may be NULL) says whether there was one. */
enum qb_err store_stmt_one(struct store_stmt *q, const struct store_rows *r, void *ctx, void *elem,
                           bool *found, const char *what, char *err, size_t errlen) QB_MUSTCHECK;

/* The usual list: sql has no parameters; its rows are collected through
 * r (store_collect_rows). */
enum qb_err store_list(struct store *s, const char *sql, const struct store_rows *r, void *ctx,
                       void **out, size_t *n, const char *what, char *err,
                       size_t errlen) QB_MUSTCHECK;

/* One statement that returns no row, its parameters bound from fmt and
 * the arguments after it (store_bindf); *changes: as store_step_done. */
enum qb_err store_execf(struct store *s, const char *sql, int *changes, const char *what, char *err,
                        size_t errlen, const char *fmt, ...) QB_MUSTCHECK;

/* One statement that reads an integer (store_stmt_int: *found may be NULL
 * when a row is required), its parameters bound as store_execf's. */
enum qb_err store_queryf_int(struct store *s, const char *sql, int64_t *v, bool *found,
                             const char *what, char *err, size_t errlen, const char *fmt,
                             ...) QB_MUSTCHECK;

/* The usual parameterised list: store_list with sql's parameters bound as
 * store_execf's. */
enum qb_err store_listf(struct store *s, const char *sql, const struct store_rows *r, void *ctx,
                        void **out, size_t *n, const char *what, char *err, size_t errlen,
                        const char *fmt, ...) QB_MUSTCHECK;

/* The usual write: sql takes ?1 id, ?2 a, ?3 b and ?4 text, or a subset
 * (store_bind_args).  *changes: as store_step_done. */
enum qb_err store_write(struct store *s, const char *sql, int64_t id, int64_t a, int64_t b,
                        const char *text, int *changes, const char *what, char *err,
                        size_t errlen) QB_MUSTCHECK;

/* store_write on the row whose id is ?1: no row changed is
 * store_not_found(noun, NULL, id). */
enum qb_err store_write_one(struct store *s, const char *sql, int64_t id, int64_t a, int64_t b,
                            const char *text, const char *what, const char *noun, char *err,
                            size_t errlen) QB_MUSTCHECK;

/* A write whose only parameter, ?1, is a key bound with store_bind_key. */
enum qb_err store_write_key(struct store *s, const char *sql, const char *name, int64_t id,
                            int *changes, const char *what, char *err, size_t errlen) QB_MUSTCHECK;

/* The usual delete: sql deletes by ?1, bound with store_bind_key.  No
 * row deleted is store_not_found(noun); with in_use, a conflict (a row
 * still referring to it) says "<noun> \"<name>\" <in_use>". */
enum qb_err store_delete_key(struct store *s, const char *sql, const char *name, int64_t id,
                             const char *noun, const char *in_use, char *err,
                             size_t errlen) QB_MUSTCHECK;

/* The usual lookup: sql selects by ?1, bound with store_bind_key; the row
 * is read through r into elem, and no row is store_not_found(noun). */
enum qb_err store_get_by_key(struct store *s, const char *sql, const char *name, int64_t id,
                             const struct store_rows *r, void *ctx, void *elem, const char *noun,
                             char *err, size_t errlen) QB_MUSTCHECK;

/* The secrets key ring (borrowed; see store_secrets_init), or NULL before
 * it was set. */
const struct seal_keyring *store_keyring(struct store *s);
void store_set_keyring(struct store *s, const struct seal_keyring *kr);

/* The columns that hold secrets (store_secrets.c knows how each stores
 * its sealed form). */
enum store_secret_col {
    STORE_SECRET_INSTANCE_API_KEY, /* instances.api_key_secret */
    STORE_SECRET_DESTINATION,      /* destinations.secret (JSON credentials) */
    STORE_SECRET_WEBHOOK,          /* webhooks.secret (HMAC signing key) */
};

/* *out: the column text that stores plain sealed under the current key;
 * NULL for NULL.  Caller frees.  Fails when no key ring is set: a secret
 * is never written in clear. */
enum qb_err store_secret_seal(struct store *s, enum store_secret_col col, const char *plain,
                              char **out, char *err, size_t errlen) QB_MUSTCHECK;

/* Binds the parameters of a row write: obj is the caller's struct, sealed
 * its secret in sealed form (NULL when kept or absent), keep whether the
 * row keeps the secret it stores. */
typedef void store_bind_sealed_fn(struct db_stmt *st, const void *obj, const char *sealed,
                                  bool keep);

/* The write of a row with a secret column: seals plain for col (unless
 * keep: the statement keeps the stored one), prepares sql, binds through
 * bind and steps it.  With id, sql returns one row whose integer goes to
 * *id (RETURNING id); without, it returns none and *changes (may be NULL)
 * is as store_step_done's.  The sealed text is freed before return. */
enum qb_err store_write_sealed(struct store *s, const char *sql, enum store_secret_col col,
                               const char *plain, bool keep, store_bind_sealed_fn *bind,
                               const void *obj, int64_t *id, int *changes, const char *what,
                               char *err, size_t errlen) QB_MUSTCHECK;

/* *out: the plaintext of a column value (NULL for NULL); caller frees with
 * seal_wipe_free.  A value from before sealing is returned as it is (the
 * next start seals it).  Fails when the ring cannot open it. */
enum qb_err store_secret_open(struct store *s, enum store_secret_col col, const char *stored,
                              char **out, char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_INTERNAL_H */
