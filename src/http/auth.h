/* SPDX-License-Identifier: Apache-2.0
 *
 * auth.h -- bearer-token authentication with three roles.
 *
 * Tokens come from a file and/or the QBACKUP_TOKENS environment variable.
 * Only each token's SHA-256 is kept in memory, and a presented token is
 * hashed and compared against every stored hash in constant time, so
 * neither a memory dump nor response timing reveals a token.
 *
 * Token file format, one token per line ('#' starts a comment):
 *     <name> <role> <token>            e.g.  grafana viewer 3f9c...
 *     <name> <role> sha256:<64 hex>    the token's SHA-256, if you prefer
 *                                      not to keep the token itself on disk
 * QBACKUP_TOKENS: "name:role:token,name:role:token" (same meaning).
 *
 * THREAD SAFETY: built once at start-up, read-only afterwards; auth_check
 * may be called from any thread.
 */
#ifndef QB_AUTH_H
#define QB_AUTH_H

#include "common.h"

/* Ordered: a higher role can do everything a lower one can. */
enum auth_role {
    AUTH_ROLE_PUBLIC = 0, /* route needs no token */
    AUTH_ROLE_VIEWER,     /* read-only: dashboards */
    AUTH_ROLE_OPERATOR,   /* trigger runs and restores: CI/CD, chat-ops */
    AUTH_ROLE_ADMIN,      /* manage plans, instances, destinations */
};

enum auth_result {
    AUTH_OK = 0,
    AUTH_MISSING, /* no Authorization header, or not "Bearer ..." */
    AUTH_INVALID, /* a bearer token that matches no configured token */
};

struct auth;

/* Creates an empty token set; caller frees with auth_destroy. */
struct auth *auth_create(void);
void auth_destroy(struct auth *a);

const char *auth_role_name(enum auth_role role);
bool auth_parse_role(const char *s, enum auth_role *out) QB_MUSTCHECK;

/* Adds one token.  secret is the token itself or "sha256:<hex>".  Fails with
 * QB_ERR_INVALID for a bad name, role or secret, or a duplicate name. */
enum qb_err auth_add(struct auth *a, const char *name, const char *role, const char *secret,
                     char *err, size_t errlen) QB_MUSTCHECK;
/* Adds every token of a token file (format above). */
enum qb_err auth_load_file(struct auth *a, const char *path, char *err, size_t errlen) QB_MUSTCHECK;
/* Adds every token of a "name:role:token,..." list. */
enum qb_err auth_load_list(struct auth *a, const char *list, char *err, size_t errlen) QB_MUSTCHECK;

size_t auth_count(const struct auth *a);

/* Checks an Authorization header value (may be NULL).  On AUTH_OK, *role and
 * *name (borrowed from a, valid until auth_destroy) say who is calling. */
enum auth_result auth_check(const struct auth *a, const char *authorization, enum auth_role *role,
                            const char **name);

/* Browsers.  A page (the status page at /) cannot send a bearer token, so
 * "Basic base64(user:token)" -- what a browser sends after its login
 * prompt, any user name, the token as password -- is checked like a
 * bearer token, with the role capped at viewer: a browser replays these
 * credentials on any request to the origin, including one another site
 * makes it send (CSRF), so they must never allow a change.  Callers accept
 * them on GET and HEAD only.  AUTH_MISSING when the header is not Basic
 * or does not decode. */
enum auth_result auth_check_basic(const struct auth *a, const char *authorization,
                                  enum auth_role *role, const char **name);

/* True when s[0..len) is one of the configured tokens (for redaction:
 * see redact.h). */
bool auth_is_token(const struct auth *a, const char *s, size_t len);

#endif /* QB_AUTH_H */
