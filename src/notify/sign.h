/* SPDX-License-Identifier: Apache-2.0
 *
 * sign.h -- the two HMAC-SHA256 signature schemes of notify/: the one
 * qbackupd puts on its webhook deliveries and Slack's v0 scheme it checks
 * on incoming slash commands.  Pure: no I/O, no state, any thread.
 *
 * Outgoing (receivers verify it; README "Verifying a delivery"):
 *
 *     X-Qbackup-Timestamp: <Unix seconds>
 *     X-Qbackup-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 *
 * Incoming (Slack's documented scheme):
 *
 *     X-Slack-Request-Timestamp: <Unix seconds>
 *     X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:<timestamp>:<body>")>
 *
 * Both sign the timestamp with the body, so a captured request cannot be
 * re-dated; the receiver's window bounds how long it can be replayed, and
 * the delivery id (ours) or a seen-signature record (chat-ops) closes it.
 */
#ifndef QB_NOTIFY_SIGN_H
#define QB_NOTIFY_SIGN_H

#include "common.h"

#define SIGN_HEX_LEN 64 /* hex digits of a SHA-256 MAC */
/* Slack's and our replay window, in seconds. */
#define SIGN_WINDOW_S 300

/* Writes "v1=<hex>" (3 + SIGN_HEX_LEN + NUL) for a delivery sent at ts. */
void sign_webhook(const char *secret, int64_t ts, const char *body, size_t len,
                  char out[3 + SIGN_HEX_LEN + 1]);

/* Checks a Slack v0 signature of body sent at ts_text against secret at
 * time now: QB_OK, or QB_ERR_INVALID with the reason in err (missing or
 * malformed header, timestamp outside SIGN_WINDOW_S of now, signature
 * mismatch).  The comparison takes the same time wherever the first
 * differing byte is. */
enum qb_err sign_slack_check(const char *secret, const char *ts_text, const char *signature,
                             const char *body, size_t len, int64_t now, char *err,
                             size_t errlen) QB_MUSTCHECK;

#endif /* QB_NOTIFY_SIGN_H */
