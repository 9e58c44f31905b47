/* SPDX-License-Identifier: Apache-2.0
 *
 * store_internal.h -- connection pool and error mapping shared by the
 * store_*.c files.  Nothing outside src/store/ includes this.
 */
#ifndef QB_STORE_INTERNAL_H
#define QB_STORE_INTERNAL_H

#include "store/store.h"

#include <sqlite3.h>

struct seal_keyring;

/* Takes a connection from the pool, waiting if all are in use. */
sqlite3 *store_acquire(struct store *s);
/* Returns a connection; rolls back any transaction left open by mistake. */
void store_release(struct store *s, sqlite3 *db);

/* Maps a SQLite result code to enum qb_err and writes "<what>: <sqlite
 * message>" into err: BUSY/LOCKED -> QB_ERR_BUSY, UNIQUE constraint ->
 * QB_ERR_CONFLICT, FOREIGN KEY constraint -> QB_ERR_CONFLICT (RESTRICT
 * reports plain SQLITE_CONSTRAINT, so every constraint but CHECK and NOT
 * NULL counts as a conflict), CHECK/NOT NULL -> QB_ERR_INVALID, others ->
 * QB_ERR_IO. */
enum qb_err store_sqlite_err(sqlite3 *db, int rc, const char *what, char *err, size_t errlen);

/* Runs a statement that returns no rows (BEGIN, COMMIT...). */
enum qb_err store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen) QB_MUSTCHECK;

/* Prepares sql on db; on failure *stmt is NULL and err says why. */
enum qb_err store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt, char *err,
                          size_t errlen) QB_MUSTCHECK;

/* Binds text, or NULL when value is NULL (SQLITE_TRANSIENT: copied). */
void store_bind_text(sqlite3_stmt *st, int idx, const char *value);

/* Copies a text column (NULL stays NULL); caller frees. */
char *store_column_text(sqlite3_stmt *st, int col);

/* The secrets key ring (borrowed; see store_secrets_init), or NULL before
 * it was set. */
const struct seal_keyring *store_keyring(struct store *s);
void store_set_keyring(struct store *s, const struct seal_keyring *kr);

/* The columns that hold secrets (store_secrets.c knows how each stores
 * its sealed form). */
enum store_secret_col {
    STORE_SECRET_INSTANCE_API_KEY, /* instances.api_key_secret */
    STORE_SECRET_DESTINATION,      /* destinations.secret (JSON credentials) */
};

/* *out: the column text that stores plain sealed under the current key;
 * NULL for NULL.  Caller frees.  Fails when no key ring is set: a secret
 * is never written in clear. */
enum qb_err store_secret_seal(struct store *s, enum store_secret_col col, const char *plain,
                              char **out, char *err, size_t errlen) QB_MUSTCHECK;

/* *out: the plaintext of a column value (NULL for NULL); caller frees with
 * seal_wipe_free.  A value from before sealing is returned as it is (the
 * next start seals it).  Fails when the ring cannot open it. */
enum qb_err store_secret_open(struct store *s, enum store_secret_col col, const char *stored,
                              char **out, char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_INTERNAL_H */
