/* SPDX-License-Identifier: Apache-2.0 */
/* emu_common.h -- the few things every qdrant-emu module shares: the process
 * configuration (set once in main() before any thread starts, read-only
 * afterwards) and the error status a handler hands back to the HTTP layer. */
#ifndef EMU_COMMON_H
#define EMU_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define EMU_PATH_MAX 4096
#define EMU_MSG_MAX  2048

#define EMU_MUSTCHECK    __attribute__((warn_unused_result))
#define EMU_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Process-wide configuration.  Written only by main() before the HTTP daemon
 * starts; every other thread treats it as immutable, so it needs no lock. */
struct emu_config {
    const char *host;                    /* bind address, default 127.0.0.1 */
    unsigned port;                       /* 0 = ephemeral */
    const char *data_dir;                /* root of everything on disk */
    const char *api_key;                 /* full (manage) key, NULL = auth disabled */
    const char *ro_key;                  /* read-only key, may be NULL */
    int ver_major, ver_minor, ver_patch; /* emulated Qdrant version */
    char version[32];                    /* same, as text */
    uint64_t peer_id;                    /* persisted in DATA/emu_state.json, or --peer-id */
    int peer_id_given;                   /* --peer-id was passed */
    int cluster_enabled;                 /* --cluster or --cluster-dir: distributed mode */
    const char *cluster_dir;             /* --cluster-dir: state shared by every peer */
    unsigned p2p_port;                   /* --p2p-port: only shown in the peer's uri */
    long heal_ms;                        /* --heal-ms: delay before a Dead replica heals */
    char meta_dir[EMU_PATH_MAX];         /* holds cluster.json: cluster dir, else DATA */
    char p2p_uri[256];                   /* "http://HOST:P2P/" as GET /cluster shows it */
    char rest_url[256];                  /* "http://HOST:PORT", how peers reach us */
    int url_recovery_enabled;            /* service.enable_snapshot_url_recovery */
    char storage_dir[EMU_PATH_MAX];      /* DATA/storage/collections */
    char snapshots_dir[EMU_PATH_MAX];    /* DATA/snapshots (Qdrant's snapshots_path) */
    char tmp_dir[EMU_PATH_MAX];          /* DATA/snapshots/tmp */
    size_t json_limit;                   /* max JSON body (Qdrant max_request_size_mb = 32) */
};

/* Returns the single configuration; see struct emu_config for the rules. */
struct emu_config *emu_cfg(void);

/* True when the emulated version is >= major.minor. */
int emu_version_at_least(int major, int minor);

/* An error on its way to the client.  http == 0 means success.  msg is the
 * complete Qdrant error text, e.g. "Not found: Collection `x` doesn't exist!". */
struct emu_status {
    unsigned http;
    char msg[EMU_MSG_MAX];
};

/* Fills st and returns -1, so callers can write `return emu_fail(st, …)`. */
int emu_fail(struct emu_status *st, unsigned http, const char *fmt, ...) EMU_PRINTF(3, 4);

/* Diagnostics on stderr with a level tag; never carries a key. */
void emu_log(const char *level, const char *fmt, ...) EMU_PRINTF(2, 3);

#endif
