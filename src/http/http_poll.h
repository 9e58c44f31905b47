/* SPDX-License-Identifier: Apache-2.0
 *
 * http_poll.h -- the long-poll thread.  Owns the list of suspended
 * requests (http_req_defer) and the thread that drives them: it calls
 * each request's poll function about ten times a second until it leaves a
 * reply or its deadline passes, then resumes the connection.  The same
 * thread runs a housekeeping tick (the connection deadline sweep) about
 * four times a second.  Internal to src/http/.
 *
 * THREAD SAFETY NOTES
 * One mutex inside struct http_poller guards the deferred list and the
 * stop flag; a condition variable wakes the thread early for a new long
 * poll or for stop.  MHD_suspend_connection and MHD_resume_connection are
 * called under that mutex, so a request is never resumed before it is
 * suspended.  A deferred request is touched only by the poll thread while
 * its connection is suspended, and by MHD again once resumed.
 */
#ifndef QB_HTTP_POLL_H
#define QB_HTTP_POLL_H

#include "common.h"

struct http_request;
struct http_poller;

/* Starts the thread; tick(tick_ctx) runs on it about every 250 ms.
 * tick_ctx is borrowed until http_poller_stop.  On success *out runs;
 * stop it with http_poller_stop. */
enum qb_err http_poller_start(void (*tick)(void *ctx), void *tick_ctx, struct http_poller **out,
                              char *err, size_t errlen) QB_MUSTCHECK;

/* Suspends req's connection (call from the access handler, after the
 * handler called http_req_defer and left no reply) and hands req to the
 * thread until its poll function is done. */
void http_poller_suspend(struct http_poller *p, struct http_request *req);

/* Stops and joins the thread, then answers every waiting request with its
 * expired poll (their "still running" reply) and resumes it, so clients
 * get an answer rather than a dropped connection.  Call before MHD stops.
 * Frees p; NULL is a no-op. */
void http_poller_stop(struct http_poller *p);

#endif /* QB_HTTP_POLL_H */
