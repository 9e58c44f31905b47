/* SPDX-License-Identifier: Apache-2.0
 *
 * http_router.c -- segment-by-segment pattern matching.
 */
#include "http/http_router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Next '/'-separated segment of s starting at *pos; returns its length and
 * advances *pos past it, or returns -1 at the end. */
static long next_segment(const char *s, size_t *pos, const char **seg)
{
    while (s[*pos] == '/')
        (*pos)++;
    if (!s[*pos])
        return -1;
    *seg = s + *pos;
    size_t start = *pos;
    while (s[*pos] && s[*pos] != '/')
        (*pos)++;
    return (long)(*pos - start);
}

/* Matches path against one pattern; fills m's params when m is non-NULL. */
static bool pattern_matches(const char *pattern, const char *path, struct http_route_match *m)
{
    size_t ppos = 0, upos = 0;
    int nparams = 0;
    for (;;) {
        const char *pseg = NULL, *useg = NULL;
        long plen = next_segment(pattern, &ppos, &pseg);
        long ulen = next_segment(path, &upos, &useg);
        if (plen < 0 || ulen < 0)
            return plen < 0 && ulen < 0;
        if (pseg[0] == '{') {
            if (ulen >= HTTP_PARAM_VALUE_MAX || nparams >= HTTP_ROUTE_MAX_PARAMS)
                return false;
            if (m) {
                size_t nlen = (size_t)plen - 2;
                if (nlen >= HTTP_PARAM_NAME_MAX)
                    nlen = HTTP_PARAM_NAME_MAX - 1;
                memcpy(m->params[nparams].name, pseg + 1, nlen);
                m->params[nparams].name[nlen] = '\0';
                memcpy(m->params[nparams].value, useg, (size_t)ulen);
                m->params[nparams].value[ulen] = '\0';
                m->nparams = nparams + 1;
            }
            nparams++;
        } else if (plen != ulen || memcmp(pseg, useg, (size_t)plen) != 0) {
            return false;
        }
    }
}

static bool method_matches(const char *route_method, const char *method)
{
    if (strcmp(route_method, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

static void allow_add(char *allow, size_t allowlen, const char *method)
{
    if (strstr(allow, method))
        return;
    size_t used = strlen(allow);
    snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", method);
}

enum http_router_result http_router_match(const struct http_route *routes, size_t n,
                                          const char *method, const char *path,
                                          struct http_route_match *m, char *allow, size_t allowlen)
{
    bool path_known = false;
    if (allowlen)
        allow[0] = '\0';
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < n; i++) {
        if (!pattern_matches(routes[i].pattern, path, NULL))
            continue;
        path_known = true;
        if (allowlen) {
            allow_add(allow, allowlen, routes[i].method);
            if (strcmp(routes[i].method, "GET") == 0)
                allow_add(allow, allowlen, "HEAD");
        }
        if (!m->route && method_matches(routes[i].method, method)) {
            m->route = &routes[i];
            pattern_matches(routes[i].pattern, path, m);
        }
    }
    if (m->route)
        return HTTP_ROUTER_FOUND;
    return path_known ? HTTP_ROUTER_METHOD_NOT_ALLOWED : HTTP_ROUTER_NOT_FOUND;
}

const char *http_route_param(const struct http_route_match *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++) {
        if (strcmp(m->params[i].name, name) == 0)
            return m->params[i].value;
    }
    return NULL;
}

size_t http_url_unescape(char *s)
{
    size_t r = 0, w = 0;
    while (s[r]) {
        int hi = s[r] == '%' ? qb_hexval(s[r + 1]) : -1;
        int lo = hi >= 0 ? qb_hexval(s[r + 2]) : -1;
        if (lo >= 0) {
            s[w++] = (char)(hi * 16 + lo);
            r += 3;
        } else {
            s[w++] = s[r++];
        }
    }
    s[w] = '\0';
    return w;
}

/* Index of the segment (as next_segment counts them) holding byte pos. */
static int segment_of(const char *s, size_t len, size_t pos)
{
    int seg = -1;
    bool in_segment = false;
    for (size_t i = 0; i <= pos && i < len; i++) {
        if (s[i] == '/') {
            in_segment = false;
        } else if (!in_segment) {
            in_segment = true;
            seg++;
        }
    }
    return seg;
}

/* The k-th segment of pattern when it is a {param}: its name into name. */
static bool pattern_param_at(const char *pattern, int k, char *name, size_t namelen)
{
    size_t pos = 0;
    const char *seg = NULL;
    long len = -1;
    for (int i = 0; i <= k; i++) {
        len = next_segment(pattern, &pos, &seg);
        if (len < 0)
            return false;
    }
    if (len < 2 || seg[0] != '{' || namelen == 0)
        return false;
    snprintf(name, namelen, "%.*s", (int)(len - 2), seg + 1);
    return true;
}

bool http_router_path_nul(const struct http_route *routes, size_t n, const char *raw_target,
                          char *name, size_t namelen)
{
    size_t rawlen = strcspn(raw_target, "?");
    if (!memchr(raw_target, '%', rawlen))
        return false;
    char *path = xmalloc(rawlen + 1);
    memcpy(path, raw_target, rawlen);
    path[rawlen] = '\0';
    size_t len = http_url_unescape(path);
    const char *nul = memchr(path, '\0', len);
    if (!nul) {
        free(path);
        return false;
    }
    int k = segment_of(path, len, (size_t)(nul - path));
    /* A placeholder byte lets the patterns match the rest of the path. */
    for (size_t i = 0; i < len; i++) {
        if (path[i] == '\0')
            path[i] = '\x01';
    }
    bool named = false;
    for (size_t i = 0; i < n && !named; i++) {
        if (pattern_matches(routes[i].pattern, path, NULL))
            named = pattern_param_at(routes[i].pattern, k, name, namelen);
    }
    if (!named && namelen)
        snprintf(name, namelen, "path");
    free(path);
    return true;
}
