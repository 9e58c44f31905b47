/* SPDX-License-Identifier: Apache-2.0
 *
 * unit_catalogue.h -- a fresh catalogue for a unit test of the store, on
 * the engine the run asks for: a temporary SQLite file by default, or with
 * QB_TEST_CATALOGUE=postgres (and QB_PG_URL) a fresh database on that
 * server, so the store's unit tests prove both engines (issue 16).  Tests
 * of one engine's own behaviour (SQLite's pragmas and query plans) keep
 * their SQLite files.
 */
#ifndef QB_UNIT_CATALOGUE_H
#define QB_UNIT_CATALOGUE_H

#include <stdbool.h>
#include <stddef.h>

/* Writes into target[len] what store_open takes for a new, empty
 * catalogue named after name; false (reason printed) on failure. */
bool unit_catalogue_new(const char *name, char *target, size_t len);

/* Removes it (the database, or the file and its WAL). */
void unit_catalogue_drop(const char *target);

/* SQL behind the store's back: unit_sql true when it ran; unit_sql_int the
 * first column of the first row, -1 when none or failed. */
bool unit_sql(const char *target, const char *sql);
long long unit_sql_int(const char *target, const char *sql);

#endif /* QB_UNIT_CATALOGUE_H */
