/* SPDX-License-Identifier: Apache-2.0
 *
 * http_router.h -- matches a method and path against a route table of
 * {method, pattern, role, handler}.  Patterns are literal segments and
 * {param} segments: "/v1/plans/{name}/runs".  Pure: no I/O, no state, so
 * 404-versus-405 logic is unit-tested directly.
 */
#ifndef QB_HTTP_ROUTER_H
#define QB_HTTP_ROUTER_H

#include "common.h"
#include "http/auth.h"

struct http_request;
typedef void (*http_handler_fn)(struct http_request *req);

struct http_route {
    const char *method;  /* "GET", "POST", "PUT", "DELETE", "PATCH" */
    const char *pattern; /* "/v1/plans/{name}"; also the metrics label */
    enum auth_role role; /* minimum role needed; AUTH_ROLE_PUBLIC: none */
    http_handler_fn handler;
};

#define HTTP_ROUTE_MAX_PARAMS 4
#define HTTP_PARAM_NAME_MAX   32
#define HTTP_PARAM_VALUE_MAX  256 /* longer segments never match: 404 */

struct http_route_match {
    const struct http_route *route;
    int nparams;
    struct {
        char name[HTTP_PARAM_NAME_MAX];
        char value[HTTP_PARAM_VALUE_MAX];
    } params[HTTP_ROUTE_MAX_PARAMS];
};

enum http_router_result {
    HTTP_ROUTER_FOUND,
    HTTP_ROUTER_NOT_FOUND,          /* no pattern matches the path */
    HTTP_ROUTER_METHOD_NOT_ALLOWED, /* a pattern matches, not for this method */
};

/* Looks path up in routes[0..n).  HEAD matches GET routes.  A trailing slash
 * is ignored ("/v1/plans/" is "/v1/plans").  On FOUND, *m is filled.  On
 * METHOD_NOT_ALLOWED, allow receives the comma-separated methods the path
 * supports, for the Allow header. */
enum http_router_result http_router_match(const struct http_route *routes, size_t n,
                                          const char *method, const char *path,
                                          struct http_route_match *m, char *allow, size_t allowlen);

/* Percent-decodes s in place as libmicrohttpd does for request paths
 * ("%HH" with two hex digits becomes that byte, anything else is kept) and
 * returns the decoded length.  A "%00" leaves a NUL inside the result, so
 * the length, not strlen, tells where it ends. */
size_t http_url_unescape(char *s);

/* Checks the path of a raw request target (as sent, before decoding; the
 * query is ignored) for an encoded NUL byte, which decoding turns into a
 * string terminator: "/v1/snapshots/1%00" must never reach a handler as
 * "/v1/snapshots/1".  Returns false when there is none.  Otherwise returns
 * true with name set to the {param} that holds it, taken from the first
 * route whose pattern matches the path (with the NUL in place), or to
 * "path" when no route names that segment. */
bool http_router_path_nul(const struct http_route *routes, size_t n, const char *raw_target,
                          char *name, size_t namelen);

/* Value of a {name} parameter in m, or NULL. */
const char *http_route_param(const struct http_route_match *m, const char *name);

#endif /* QB_HTTP_ROUTER_H */
