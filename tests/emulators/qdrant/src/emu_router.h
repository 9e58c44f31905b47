/* SPDX-License-Identifier: Apache-2.0 */
/* emu_router.h -- the {method, pattern, access, flags, handler} table of every
 * route qdrant-emu answers, and the matcher.  Like actix (Qdrant's router), a
 * path that matches no pattern with that method is a plain 404. */
#ifndef EMU_ROUTER_H
#define EMU_ROUTER_H

#include <stddef.h>

#include "emu_http.h"

/* Access classes of CONTRACT.md §8. */
enum emu_access {
    EMU_ACC_PUBLIC,      /* whitelisted: no key needed (/, /healthz, …) */
    EMU_ACC_COLL_READ,   /* read-only key allowed */
    EMU_ACC_GLOBAL_READ, /* read-only key allowed */
    EMU_ACC_COLL_WRITE,  /* full key only */
    EMU_ACC_MANAGE,      /* full key only */
    EMU_ACC_DEBUG,       /* /debug/…: no key, not logged, no faults */
};

enum {
    EMU_RF_JSON = 1 << 0,       /* takes a JSON body */
    EMU_RF_UPLOAD = 1 << 1,     /* multipart/form-data, field `snapshot` */
    EMU_RF_WAIT = 1 << 2,       /* has `wait`; wait=false answers 202, hides errors */
    EMU_RF_PLAIN_ERR = 1 << 3,  /* download route: errors are text/plain */
    EMU_RF_CHECKSUM_Q = 1 << 4, /* query `checksum` validated as SHA-256 (422) */
    EMU_RF_JSON_OPT = 1 << 5,   /* JSON body optional (debug routes) */
    EMU_RF_ALIAS = 1 << 6,      /* {collection_name} may be an alias */
};

struct emu_route {
    const char *method;
    const char *pattern; /* "/collections/{collection_name}/…" (OpenAPI names) */
    enum emu_access access;
    unsigned flags;
    void (*handler)(struct emu_req *r);
};

/* Finds the route for method+path and fills r->params (decoded).  Returns NULL
 * when nothing matches. */
const struct emu_route *emu_router_match(struct emu_req *r, const char *method, const char *path);
/* The whole table, for GET /debug/routes. */
const struct emu_route *emu_router_table(size_t *n);

#endif
