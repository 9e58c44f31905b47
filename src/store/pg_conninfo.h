/* SPDX-License-Identifier: Apache-2.0
 *
 * pg_conninfo.h -- a PostgreSQL connection string as it may appear in a
 * message: the server it names (host:port/dbname) and libpq's error text
 * with the password taken out.  Pure but for reading a PGconn's fields;
 * any thread.
 */
#ifndef QB_STORE_PG_CONNINFO_H
#define QB_STORE_PG_CONNINFO_H

#include <libpq-fe.h>
#include <stddef.h>

/* Writes "host:port/dbname" of conn (as libpq resolved the connection
 * string, defaults included) into buf; "" when conn knows none. */
void pg_conninfo_target(const PGconn *conn, char *buf, size_t len);

/* Replaces every occurrence in msg (in place) of the password that
 * conninfo carries (URL userinfo "user:password@" or a password=
 * parameter) with "***".  libpq's own messages do not echo passwords, but
 * a malformed URL's can echo parts of it. */
void pg_conninfo_redact(const char *conninfo, char *msg);

#endif /* QB_STORE_PG_CONNINFO_H */
