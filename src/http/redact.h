/* SPDX-License-Identifier: Apache-2.0
 *
 * redact.h -- keeps token-looking values out of what qbackupd echoes back
 * (problem details, echoed request ids) and out of access-log paths.
 *
 * Error messages quote client input ("unknown time zone \"...\"", "got
 * <Content-Type>"), so a bearer token pasted into the wrong field or
 * header would come back in a response body that proxies, CI logs and
 * browser consoles keep.  A word is treated as a secret when it is:
 *   - the credential of the request's own Authorization header, anywhere;
 *   - a word the token table recognises (its SHA-256 matches);
 *   - the word after "Bearer ";
 *   - a run of 32+ characters of [A-Za-z0-9+=_-] mixing upper case, lower
 *     case and digits (random API keys; hex digests and our request ids,
 *     which are lower case, and the parts of object keys are not caught).
 * Words are separated by blanks, quotes and ,;:=&?/()<>[]{}\ characters.
 * Pure functions: no state, any thread.
 */
#ifndef QB_REDACT_H
#define QB_REDACT_H

#include "common.h"
#include "http/auth.h"

#define HTTP_REDACTED "[redacted]"

/* Copies text into out (at most outlen - 1 bytes, always terminated) with
 * every secret-looking word replaced by HTTP_REDACTED.  bearer (the
 * request's Authorization header value, may be NULL) and auth (may be
 * NULL) are borrowed for the call. */
void http_redact(const char *text, const char *bearer, const struct auth *auth, char *out,
                 size_t outlen);

/* True when s, as a whole, would be redacted by http_redact. */
bool http_secret_like(const char *s, const char *bearer, const struct auth *auth);

#endif /* QB_REDACT_H */
