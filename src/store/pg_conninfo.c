/* SPDX-License-Identifier: Apache-2.0
 *
 * pg_conninfo.c -- a connection string fit for messages (pg_conninfo.h).
 */
#include "store/pg_conninfo.h"

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pg_conninfo_target(const PGconn *conn, char *buf, size_t len)
{
    const char *host = conn ? PQhost(conn) : NULL;
    const char *port = conn ? PQport(conn) : NULL;
    const char *db = conn ? PQdb(conn) : NULL;
    if (!host || !*host) {
        qb_strlcpy(buf, "", len);
        return;
    }
    snprintf(buf, len, "%s:%s/%s", host, port && *port ? port : "5432", db ? db : "");
}

/* Replaces each occurrence of secret (n bytes) in msg with "***" (with
 * as many stars as it has bytes when shorter). */
static void redact_span(char *msg, const char *secret, size_t n)
{
    if (n == 0)
        return;
    char *from = msg, *p;
    while ((p = memmem(from, strlen(from), secret, n))) {
        size_t mask = n < 3 ? n : 3;
        memset(p, '*', mask);
        memmove(p + mask, p + n, strlen(p + n) + 1);
        from = p + mask;
    }
}

void pg_conninfo_redact(const char *conninfo, char *msg)
{
    /* URL userinfo: scheme://user:password@host... */
    const char *s = strstr(conninfo, "://");
    if (s) {
        s += 3;
        size_t auth = strcspn(s, "/?");
        const char *at = memchr(s, '@', auth);
        const char *colon = at ? memchr(s, ':', (size_t)(at - s)) : NULL;
        if (colon)
            redact_span(msg, colon + 1, (size_t)(at - colon - 1));
    }
    /* password=... as a URL query parameter or a keyword=value pair, as
     * written (a malformed one is echoed raw) ... */
    for (const char *p = strstr(conninfo, "password="); p; p = strstr(p + 1, "password=")) {
        const char *v = p + strlen("password=");
        size_t n = *v == '\'' ? strcspn(++v, "'") : strcspn(v, "& \t\n");
        redact_span(msg, v, n);
    }
    /* ... and as libpq decoded it. */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (perr)
        PQfreemem(perr);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val)
            redact_span(msg, o->val, strlen(o->val));
    PQconninfoFree(opts);
}
