/* SPDX-License-Identifier: Apache-2.0 */
/* emu_http.h -- the libmicrohttpd daemon and the per-request context every
 * handler receives.  One thread per connection, so handlers may block (slow
 * downloads, injected delays) without stalling other clients.
 *
 * Request life cycle (emu_http.c): route -> injected request faults -> api-key
 * check -> access class -> early query validation -> body (JSON, capped; or
 * multipart upload streamed to a temp file) -> handler -> response. */
#ifndef EMU_HTTP_H
#define EMU_HTTP_H

#include <stdint.h>
#include <microhttpd.h>
#include <cjson/cJSON.h>

#include "emu_common.h"
#include "emu_util.h"

struct emu_route;

enum emu_key_class {
    EMU_KEY_OPEN = 0, /* auth disabled or path whitelisted */
    EMU_KEY_FULL,     /* api_key: global manage */
    EMU_KEY_RO,       /* read_only_api_key: global read */
};

struct emu_req {
    struct MHD_Connection *conn;
    const char *method; /* borrowed from MHD for the request's life */
    char *path;         /* raw path, trailing slashes trimmed */
    char *params[4];    /* decoded {path} parameters */
    int nparams;
    const struct emu_route *route; /* NULL until matched */
    enum emu_key_class key;
    double t0;           /* emu_now() at arrival */
    uint64_t log_seq;    /* request-log entry, 0 = not logged */
    struct emu_buf body; /* JSON body (capped at json_limit) */
    int body_overflow;   /* body exceeded the cap (rest discarded) */
    cJSON *json;         /* parsed body, set before the handler runs */
    /* multipart upload (routes 6 and 17) */
    struct MHD_PostProcessor *pp;
    int up_fd;                  /* -1 when closed */
    char up_path[EMU_PATH_MAX]; /* temp file holding field `snapshot` */
    char *up_filename;          /* client's file name, may be NULL */
    int up_state;               /* 0 not seen, 1 receiving, 2 complete */
    int up_error;               /* write failure */
    uint64_t up_bytes;
    /* answer */
    struct MHD_Response *resp; /* queued once the handler returns */
    unsigned status;
    int drop;         /* close the connection without answering */
    char *qcache[16]; /* decoded query values handed out */
    int nq;
};

/* Binds cfg->host:cfg->port and records the bound port in cfg->port (so
 * the peer can register its address before serving). */
int emu_http_bind(void) EMU_MUSTCHECK;
/* Starts serving on the bound socket. */
int emu_http_start(void) EMU_MUSTCHECK;
/* Called before every handler (after body parsing); set before starting. */
void emu_http_set_prepare(void (*prepare)(struct emu_req *r));
/* Stops accepting, waits for connections and background jobs. */
void emu_http_stop(void);

/* Decoded query parameter or NULL; borrowed until the request ends. */
const char *emu_req_query(struct emu_req *r, const char *key);
/* Request header (case-insensitive name) or NULL; borrowed from MHD. */
const char *emu_req_header(struct emu_req *r, const char *name);
/* Query `wait`, default true (already validated by the HTTP layer). */
int emu_req_wait(struct emu_req *r);

/* Runs fn(arg) on a detached thread (wait=false operations).  fn owns arg.
 * emu_http_stop waits for running jobs. */
void emu_http_spawn(void (*fn)(void *), void *arg);

#endif
