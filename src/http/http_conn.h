/* SPDX-License-Identifier: Apache-2.0
 *
 * http_conn.h -- connection admission: the table of open client
 * connections, their phases and deadlines, and the max_connections rule.
 * Owns every struct http_conn, from MHD's STARTED notification to its
 * CLOSED one.  Internal to src/http/.
 *
 * DESIGN
 * MHD's connection timeout is an idle timer that every received byte
 * resets, and at its connection limit MHD stops accepting, leaving new
 * clients hanging in the listen backlog.  So 200 clients sending a request
 * line one byte at a time took the API down.  Now each connection has a
 * phase:
 *   WAITING  accepted, or its previous response sent; the request line and
 *            headers must arrive within header_timeout;
 *   BODY     headers in, the body must arrive within body_timeout;
 *   BUSY     being handled, suspended in a long poll or sending: no
 *            deadline of ours (MHD's idle timeout still applies).
 * http_conns_sweep shuts down connections past their deadline.  MHD itself
 * gets twice max_connections as its hard limit and enforces
 * max_connections_per_ip (it closes the excess at accept).  When a
 * connection arrives past max_connections, the oldest WAITING connection
 * is shut down to make room; when none is WAITING (every slot is doing
 * real work) the newcomer is marked over the limit and its request is
 * answered 503 with Connection: close.  So half-sent requests can delay
 * nobody for long, and real work is never cut to make room.
 *
 * THREAD SAFETY NOTES
 * One mutex inside struct http_conns guards the list, every struct
 * http_conn in it and the counters; it is never held while calling out.
 * http_conns_sweep may shutdown(2) a connection's socket under it: MHD
 * reports the connection closed (removing it from the list, under the
 * mutex) before it closes the descriptor, so the descriptor cannot have
 * been reused by then.  Every function may be called from any thread.
 */
#ifndef QB_HTTP_CONN_H
#define QB_HTTP_CONN_H

#include "util/buf.h"

#include <microhttpd.h>
#include <stdbool.h>

enum http_conn_phase { HTTP_CONN_WAITING, HTTP_CONN_BODY, HTTP_CONN_BUSY };

struct http_conns; /* the table of open connections */
struct http_conn;  /* one connection's record */

/* A table for the given limits (see struct http_server_config); caller
 * frees with http_conns_destroy, after MHD stopped calling
 * http_conns_notify. */
struct http_conns *http_conns_create(unsigned max_connections, unsigned header_timeout_s,
                                     unsigned body_timeout_s);
/* NULL is a no-op.  Frees records MHD never reported closed. */
void http_conns_destroy(struct http_conns *t);

/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the struct http_conns.
 * STARTED adds a record (evicting an idle connection or marking this one
 * over the limit) and stores it as the socket context; CLOSED removes and
 * frees it. */
void http_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode code);

/* Moves c to a phase, restarting its deadline.  c NULL is a no-op. */
void http_conns_set_phase(struct http_conns *t, struct http_conn *c, enum http_conn_phase phase);

/* Whether c arrived past max_connections with no idle connection to give
 * way: its request must be answered 503.  Read by the connection's own
 * thread, after STARTED set it. */
bool http_conn_over_limit(const struct http_conn *c);

/* Counts one request answered 503 for the limit (for the metrics). */
void http_conns_count_refused(struct http_conns *t);

/* Shuts down connections past their header or body deadline and logs one
 * line if any; called about four times a second. */
void http_conns_sweep(struct http_conns *t);

/* Appends the connection gauges and counters in the Prometheus text
 * format; false when out does not have room. */
bool http_conns_render(struct http_conns *t, struct buf *out);

#endif /* QB_HTTP_CONN_H */
