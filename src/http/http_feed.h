/* SPDX-License-Identifier: Apache-2.0
 *
 * http_feed.h -- feeds: replies whose body is written as things happen
 * (Server-Sent Events), served without holding a server thread.  Owns the
 * list of open feeds, their pending bytes and the thread that fills them.
 * Internal to src/http/; handlers open a feed with http_reply_feed
 * (http_reply.h).
 *
 * DESIGN
 * A feed's reply is an MHD callback response of unknown length (chunked).
 * When MHD asks for bytes and the feed has none pending, the callback
 * suspends the connection and returns 0, which MHD allows from a content
 * reader: the connection then holds no thread and is not polled.  The
 * feed thread, when kicked (http_feeds_kick: the application says something
 * happened; a feed ran dry) and at least every 100 ms, calls
 * each drained feed's fill function, which appends what is new (or a
 * heartbeat); a feed that got bytes, or ended, is resumed.  Fill is
 * called only once the previous bytes were handed to MHD, so a slow
 * client costs one fill's worth of memory, never a growing queue: the
 * producer catches up from its own cursor.  At most max_feeds are open;
 * more are refused (the handler answers 503).
 *
 * A client that goes away is noticed when its connection is next written
 * (a heartbeat), so a dead feed holds its slot until then.  At shutdown
 * (http_feeds_close) every feed gets a last fill with closing set and
 * ends, so in-flight counting drains.
 *
 * THREAD SAFETY NOTES
 * `lock` guards the list and every feed's pending bytes and flags.  Fill
 * functions run on the feed thread without the lock (a feed being filled
 * is marked busy; its free waits for that).  MHD_suspend_connection and
 * MHD_resume_connection are called under `lock`, so a feed is never
 * resumed before it is suspended.  No other lock is taken under `lock`;
 * http_feeds_kick may be called under another module's lock (the store's
 * event wake-up lock), which is fine because fill, the one place that
 * calls out, runs without `lock`.
 */
#ifndef QB_HTTP_FEED_H
#define QB_HTTP_FEED_H

#include "common.h"

struct http_feeds;

/* Starts the feed thread, serving at most max_feeds at once (0: none).
 * Caller frees with http_feeds_destroy. */
enum qb_err http_feeds_start(unsigned max_feeds, struct http_feeds **out, char *err,
                             size_t errlen) QB_MUSTCHECK;

/* Ends every feed (a last fill with closing set, then end of stream),
 * refuses new ones and stops the thread.  Call after MHD stopped
 * accepting and before waiting for in-flight requests.  NULL: no-op. */
void http_feeds_close(struct http_feeds *f);

/* Frees f once MHD has stopped (no feed left).  NULL is a no-op. */
void http_feeds_destroy(struct http_feeds *f);

/* Feeds open now. */
unsigned http_feeds_open(struct http_feeds *f);

/* Something new may be there: run a round now rather than at the next
 * tick.  Any thread; takes only the feeds' lock. */
void http_feeds_kick(struct http_feeds *f);

#endif /* QB_HTTP_FEED_H */
